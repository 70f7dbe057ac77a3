// Line diff (longest common subsequence) for the revision view.
export interface DiffLine {
  op: " " | "+" | "-";
  text: string;
}

export function diffLines(a: string, b: string): DiffLine[] {
  const x = a.split("\n");
  const y = b.split("\n");
  // trim common prefix and suffix so the quadratic part stays small
  let pre = 0;
  while (pre < x.length && pre < y.length && x[pre] === y[pre]) pre++;
  let suf = 0;
  while (suf < x.length - pre && suf < y.length - pre && x[x.length - 1 - suf] === y[y.length - 1 - suf]) suf++;
  const xs = x.slice(pre, x.length - suf);
  const ys = y.slice(pre, y.length - suf);
  const out: DiffLine[] = x.slice(0, pre).map((t) => ({ op: " ", text: t }));
  if (xs.length * ys.length > 4_000_000) {
    // too big for LCS: show it as a replacement
    xs.forEach((t) => out.push({ op: "-", text: t }));
    ys.forEach((t) => out.push({ op: "+", text: t }));
  } else {
    const n = xs.length;
    const m = ys.length;
    const L: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--) L[i][j] = xs[i] === ys[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (xs[i] === ys[j]) {
        out.push({ op: " ", text: xs[i] });
        i++;
        j++;
      } else if (L[i + 1][j] >= L[i][j + 1]) out.push({ op: "-", text: xs[i++] });
      else out.push({ op: "+", text: ys[j++] });
    }
    while (i < n) out.push({ op: "-", text: xs[i++] });
    while (j < m) out.push({ op: "+", text: ys[j++] });
  }
  x.slice(x.length - suf).forEach((t) => out.push({ op: " ", text: t }));
  return out;
}
