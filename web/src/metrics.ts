// Prometheus text format (0.0.4) → samples, and the request rate / error rate / latency quantiles
// between two scrapes.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l: RegExpExecArray | null;
      while ((l = re.exec(m[3]))) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    const v = m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : Number(m[4]);
    out.push({ name: m[1], labels, value: v });
  }
  return out;
}

export interface Snapshot {
  t: number; // seconds
  requests: number;
  errors5xx: number;
  errors4xx: number;
  buckets: Map<number, number>; // le → cumulative count (all routes)
}

export function snapshot(samples: Sample[], t: number): Snapshot {
  const s: Snapshot = { t, requests: 0, errors5xx: 0, errors4xx: 0, buckets: new Map() };
  for (const x of samples) {
    if (x.name === "http_requests_total") {
      s.requests += x.value;
      if (x.labels.status?.startsWith("5")) s.errors5xx += x.value;
      else if (x.labels.status?.startsWith("4")) s.errors4xx += x.value;
    } else if (x.name === "http_request_duration_seconds_bucket") {
      const le = x.labels.le === "+Inf" ? Infinity : Number(x.labels.le);
      s.buckets.set(le, (s.buckets.get(le) || 0) + x.value);
    }
  }
  return s;
}

/** Quantile q of the requests between two snapshots (linear inside the bucket), in seconds. */
export function quantile(a: Snapshot, b: Snapshot, q: number): number | null {
  const les = [...b.buckets.keys()].sort((x, y) => x - y);
  const d = les.map((le) => (b.buckets.get(le) || 0) - (a.buckets.get(le) || 0));
  const total = d[d.length - 1] || 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prev = 0;
  for (let i = 0; i < les.length; i++) {
    if (d[i] >= rank) {
      if (!isFinite(les[i])) return prevLe;
      const inBucket = d[i] - prev;
      return inBucket > 0 ? prevLe + ((les[i] - prevLe) * (rank - prev)) / inBucket : les[i];
    }
    prevLe = les[i];
    prev = d[i];
  }
  return prevLe;
}
