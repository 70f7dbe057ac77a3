import uPlot from "uplot";
import { useEffect, useRef, useState } from "preact/hooks";
import { ErrorBox, Title } from "../ui";
import { parseProm, quantile, snapshot } from "../metrics";
import type { Sample, Snapshot } from "../metrics";

interface Point {
  t: number;
  rate: number;
  err5: number;
  err4: number;
  p50: number | null;
  p95: number | null;
}

const POLL_MS = 3000;
const KEEP = 100;

function Chart({ title, series, data }: { title: string; series: { label: string; cls: string }[]; data: (number | null)[][] }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!el.current) return;
    const dark = matchMedia("(prefers-color-scheme: dark)").matches;
    const axis = { stroke: dark ? "#cbd5e1" : "#334155", grid: { stroke: dark ? "#334155" : "#e2e8f0" } };
    const colors = ["#2563eb", "#dc2626", "#d97706"];
    const width = () => Math.max(260, el.current!.clientWidth);
    plot.current = new uPlot(
      {
        width: width(),
        height: 180,
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colors[i], width: 2, spanGaps: true }))],
        axes: [axis, axis],
        legend: { show: true },
      },
      data as uPlot.AlignedData,
      el.current,
    );
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 180 }));
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
    };
  }, []);
  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={el} role="img" aria-label={`${title} chart`} />
    </figure>
  );
}

export function System() {
  const [health, setHealth] = useState<any>(null);
  const [ready, setReady] = useState<any>(null);
  const [gauges, setGauges] = useState<Sample[]>([]);
  const [points, setPoints] = useState<Point[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const last = useRef<Snapshot | null>(null);

  useEffect(() => {
    let live = true;
    async function poll() {
      try {
        const [h, r, m] = await Promise.all([
          fetch("/health", { cache: "no-store" }).then((x) => x.json()),
          fetch("/health/ready", { cache: "no-store" }).then((x) => x.json()),
          fetch("/metrics", { cache: "no-store" }).then((x) => x.text()),
        ]);
        if (!live) return;
        setHealth(h);
        setReady(r);
        const samples = parseProm(m);
        setGauges(samples.filter((s) => /^forge_(index|vector|embed|ready|capsules_total|store_size|build_info)/.test(s.name)));
        const snap = snapshot(samples, Date.now() / 1000);
        const prev = last.current;
        last.current = snap;
        if (prev && snap.t > prev.t) {
          const dt = snap.t - prev.t;
          const p50 = quantile(prev, snap, 0.5);
          const p95 = quantile(prev, snap, 0.95);
          const pt: Point = {
            t: snap.t,
            rate: (snap.requests - prev.requests) / dt,
            err5: (snap.errors5xx - prev.errors5xx) / dt,
            err4: (snap.errors4xx - prev.errors4xx) / dt,
            p50: p50 === null ? null : p50 * 1000,
            p95: p95 === null ? null : p95 * 1000,
          };
          setPoints((ps) => [...ps.slice(-KEEP + 1), pt]);
        }
        setErr(null);
      } catch (e) {
        if (live) setErr(e);
      }
    }
    poll();
    const t = window.setInterval(poll, POLL_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);

  const ts = points.map((p) => p.t);
  return (
    <section>
      <Title text="System" />
      <ErrorBox error={err} />
      <div class="grid2">
        <div class="card">
          <h2>Health</h2>
          <p data-testid="health">{health ? `${health.status} · version ${health.version}` : "…"}</p>
        </div>
        <div class="card">
          <h2>Readiness</h2>
          <p data-testid="ready">{ready ? ready.status : "…"}</p>
          {ready && (
            <dl class="kv">
              {Object.entries(ready.checks || {}).map(([k, v]) => (
                <>
                  <dt>{k}</dt>
                  <dd>{typeof v === "object" ? JSON.stringify(v) : String(v)}</dd>
                </>
              ))}
            </dl>
          )}
        </div>
      </div>
      <h2>Index and store</h2>
      <div class="table-wrap">
        <table data-testid="index-state">
          <caption class="sr-only">Index and store gauges from /metrics</caption>
          <thead>
            <tr>
              <th scope="col">Metric</th>
              <th scope="col">Labels</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {gauges.map((g) => (
              <tr>
                <td>{g.name}</td>
                <td>{Object.entries(g.labels).map(([k, v]) => `${k}=${v}`).join(", ")}</td>
                <td>{Number.isInteger(g.value) ? g.value : g.value.toFixed(3)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Traffic (this server, every {POLL_MS / 1000} s)</h2>
      <p class="muted small" aria-live="polite" data-testid="samples">
        {points.length} sample{points.length === 1 ? "" : "s"}
        {points.length ? ` · now ${points[points.length - 1].rate.toFixed(2)} req/s` : " (the first point needs two scrapes)"}
      </p>
      <div class="grid2">
        <Chart title="Requests per second" series={[{ label: "req/s", cls: "a" }]} data={[ts, points.map((p) => p.rate)]} />
        <Chart title="Errors per second" series={[{ label: "5xx/s", cls: "b" }, { label: "4xx/s", cls: "c" }]} data={[ts, points.map((p) => p.err5), points.map((p) => p.err4)]} />
        <Chart title="Latency (ms)" series={[{ label: "p50", cls: "a" }, { label: "p95", cls: "b" }]} data={[ts, points.map((p) => p.p50), points.map((p) => p.p95)]} />
      </div>
    </section>
  );
}
