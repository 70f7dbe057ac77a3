// Lineage drawn as an SVG graph: ancestors (deepest at the top), the capsule, its children in a
// row below. Every node is an SVG link (keyboard-focusable) to that capsule's page.
export interface GraphNode {
  id: string;
  label: string;
  sub: string;
}

const W = 210;
const H = 50;
const GAP_Y = 34;
const GAP_X = 16;

function trim(s: string, n: number) {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

function Node({ n, x, y, current }: { n: GraphNode; x: number; y: number; current?: boolean }) {
  const body = (
    <g class={"node" + (current ? " current" : "")}>
      <rect x={x} y={y} width={W} height={H} rx="8" />
      <text x={x + 10} y={y + 20} class="node-label">
        {trim(n.label, 27)}
      </text>
      <text x={x + 10} y={y + 38} class="node-sub">
        {trim(n.sub, 32)}
      </text>
    </g>
  );
  if (current)
    return (
      <g role="img" aria-label={`This capsule: ${n.label}`}>
        {body}
      </g>
    );
  return (
    <a href={`/capsules/${n.id}`} data-node-id={n.id}>
      {body}
    </a>
  );
}

export function LineageGraph({ ancestors, self, children, truncated }: { ancestors: GraphNode[]; self: GraphNode; children: GraphNode[]; truncated: boolean }) {
  // ancestors arrive nearest first; draw the deepest at the top
  const chain = [...ancestors].reverse();
  const cols = Math.max(1, children.length);
  const width = Math.max(W, cols * W + (cols - 1) * GAP_X) + 20;
  const cx = (width - W) / 2;
  const rows = chain.length + 1 + (children.length ? 1 : 0) + (truncated ? 0.6 : 0);
  const height = rows * (H + GAP_Y) - GAP_Y + 20;
  let y = 10 + (truncated ? 0.6 * (H + GAP_Y) : 0);
  const parts = [];
  if (truncated)
    parts.push(
      <text x={width / 2} y={10 + 14} text-anchor="middle" class="node-sub">
        ⋮ older ancestors
      </text>,
    );
  for (const a of chain) {
    parts.push(<line x1={width / 2} y1={y + H} x2={width / 2} y2={y + H + GAP_Y} class="edge" marker-end="url(#arrow)" />);
    parts.push(<Node n={a} x={cx} y={y} />);
    y += H + GAP_Y;
  }
  const selfY = y;
  parts.push(<Node n={self} x={cx} y={selfY} current />);
  if (children.length) {
    const cy = selfY + H + GAP_Y;
    const total = children.length * W + (children.length - 1) * GAP_X;
    let x = (width - total) / 2;
    for (const c of children) {
      parts.push(<line x1={width / 2} y1={selfY + H} x2={x + W / 2} y2={cy} class="edge" marker-end="url(#arrow)" />);
      parts.push(<Node n={c} x={x} y={cy} />);
      x += W + GAP_X;
    }
  }
  return (
    <div class="graph-wrap">
      <svg class="graph" viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="group" aria-label="Lineage: ancestors above, children below" data-testid="lineage-graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
          </marker>
        </defs>
        {parts}
      </svg>
    </div>
  );
}

export interface RelatedItem {
  node: GraphNode;
  type: string;
  outgoing: boolean; // the edge leaves the capsule of the page
}

/** Typed edges as a graph: the capsule on top, related capsules in rows below, each line
 * carrying its edge type and pointing the edge's way. */
export function RelatedGraph({ self, items }: { self: GraphNode; items: RelatedItem[] }) {
  const cols = Math.max(1, Math.min(3, items.length));
  const gapY = 70;
  const width = cols * W + (cols - 1) * GAP_X + 20;
  const rows = Math.ceil(items.length / cols);
  const height = 10 + H + rows * (gapY + H) + (rows - 1) * 20 + 10;
  const sx = (width - W) / 2;
  const parts = [];
  items.forEach((it, i) => {
    const r = Math.floor(i / cols);
    const inRow = Math.min(cols, items.length - r * cols);
    const rowW = inRow * W + (inRow - 1) * GAP_X;
    const x = (width - rowW) / 2 + (i % cols) * (W + GAP_X);
    const y = 10 + H + gapY + r * (H + gapY + 20);
    const a = { x: width / 2, y: 10 + H };
    const b = { x: x + W / 2, y };
    const [p, q] = it.outgoing ? [a, b] : [b, a];
    parts.push(<line x1={p.x} y1={p.y} x2={q.x} y2={q.y} class={"edge edge-" + it.type} marker-end="url(#arrow-rel)" />);
    const mx = a.x + (b.x - a.x) * 0.62;
    const my = a.y + (b.y - a.y) * 0.62;
    parts.push(
      <text x={mx} y={my} text-anchor="middle" class="edge-label" data-edge-type={it.type}>
        {it.type}
      </text>,
    );
    parts.push(<Node n={it.node} x={x} y={y} />);
  });
  parts.push(<Node n={self} x={sx} y={10} current />);
  return (
    <div class="graph-wrap">
      <svg class="graph" viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="group" aria-label="Related capsules: typed edges from and to this capsule" data-testid="related-graph">
        <defs>
          <marker id="arrow-rel" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
          </marker>
        </defs>
        {parts}
      </svg>
    </div>
  );
}
