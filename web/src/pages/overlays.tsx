// Overlays (docs/overlays.md): list with statistics, one overlay with its versions, invocations
// and an invoke form, lifecycle buttons for those allowed, and the registration form that shows
// the API's validation messages next to the field at fault (manifest.<field> or source).
import { useState } from "preact/hooks";
import { api, currentUser, isAdmin, qs } from "../api";
import type { User } from "../api";
import { navigate, useLocation } from "../router";
import { ErrorBox, Field, fieldError, formError, Notice, Pager, shortId, Title, useLoad, when } from "../ui";

export interface Overlay {
  id: string;
  name: string;
  version: string;
  status: string;
  trust_level: string;
  sha256: string;
  owner_id: string | null;
  created_at: string;
  updated_at: string;
  source?: string;
  manifest: {
    description?: string;
    author?: string;
    capabilities?: string[];
    entry_points?: string[];
    events?: string[];
    validates?: string[];
    max_memory_mb?: number;
    max_execution_ms?: number;
    max_fuel?: number;
    failure_policy?: string;
  };
  stats: {
    invocations: number;
    failures: number;
    mean_ms: number;
    failure_rate: number;
    last_error: string | null;
    window_invocations: number;
    window_failures: number;
  };
}

interface InvokeResult {
  success: boolean;
  result: unknown;
  error: { kind: string; message: string } | null;
  execution_time_ms: number;
  fuel_consumed: number;
  memory_peak_bytes: number;
  logs?: string[];
}

const OV_STATUSES = ["all", "active", "pending", "suspended", "quarantined", "deprecated"];
const CAPABILITIES = ["capsule:read", "capsule:write", "capsule:search", "log"];

function hasRole(u: User | null, roles: string[]): boolean {
  return !!u && u.roles.some((r) => roles.includes(r));
}
const mayRegister = (u: User | null) => hasRole(u, ["trusted", "operator", "admin"]);
const mayManage = (u: User | null) => hasRole(u, ["operator", "admin"]);

function rate(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}

function StatusBadge({ s }: { s: string }) {
  const cls = s === "active" ? "good" : s === "quarantined" || s === "suspended" ? "bad" : "";
  return <span class={"badge " + cls}>{s}</span>;
}

function OverlayTable({ items, caption, testid }: { items: Overlay[]; caption: string; testid?: string }) {
  return (
    <div class="table-wrap">
      <table data-testid={testid}>
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Calls</th>
            <th scope="col">Failures</th>
            <th scope="col">Mean</th>
            <th scope="col">Trust</th>
          </tr>
        </thead>
        <tbody>
          {items.map((o) => (
            <tr>
              <td>
                <a href={`/overlays/${o.id}`}>{o.name}</a>
              </td>
              <td>{o.version}</td>
              <td>
                <StatusBadge s={o.status} />
              </td>
              <td>{o.stats.invocations}</td>
              <td>
                {o.stats.failures} ({rate(o.stats.failure_rate)})
              </td>
              <td>{o.stats.mean_ms.toFixed(1)} ms</td>
              <td>{o.trust_level}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function OverlayList() {
  const loc = useLocation();
  const status = loc.query.get("status") || "all";
  const page = Number(loc.query.get("page") || "1") || 1;
  const list = useLoad(() => api<Overlay[]>("GET", `overlays${qs({ status: status === "all" ? undefined : status, page, per_page: 20 })}`), [status, page]);
  return (
    <section>
      <div class="page-head">
        <Title text="Overlays" />
        {mayRegister(currentUser()) && (
          <a class="button primary" href="/overlays/new">
            Register overlay
          </a>
        )}
      </div>
      <nav class="tabs" aria-label="Overlays by status">
        {OV_STATUSES.map((s) => (
          <a href={s === "all" ? "/overlays" : `/overlays?status=${s}`} aria-current={s === status ? "page" : undefined}>
            {s}
          </a>
        ))}
      </nav>
      <ErrorBox error={list.error} />
      {list.data && (
        <>
          <p class="muted small" data-testid="overlay-count">
            {list.data.meta.total} overlay{list.data.meta.total === 1 ? "" : "s"}
          </p>
          {list.data.data.length > 0 && <OverlayTable items={list.data.data} caption="Overlays with their statistics" testid="overlay-list" />}
          <Pager meta={list.data.meta} onPage={(n) => navigate(`/overlays${qs({ status: status === "all" ? undefined : status, page: n })}`)} />
        </>
      )}
    </section>
  );
}

function InvokeForm({ ov, onDone }: { ov: Overlay; onDone: () => void }) {
  const entries = ov.manifest.entry_points || ["process"];
  const [fn, setFn] = useState(entries.includes("process") ? "process" : entries[0]);
  const [input, setInput] = useState("null");
  const [res, setRes] = useState<InvokeResult | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [inputErr, setInputErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="card"
      onSubmit={async (ev) => {
        ev.preventDefault();
        setErr(null);
        setInputErr(null);
        setRes(null);
        let value: unknown;
        try {
          value = JSON.parse(input);
        } catch (e) {
          setInputErr("input is not valid JSON: " + (e as Error).message);
          return;
        }
        setBusy(true);
        try {
          const r = await api<InvokeResult>("POST", `overlays/${ov.id}/invoke`, { function: fn, input: value });
          setRes(r.data);
          onDone();
        } catch (e) {
          setErr(e);
        } finally {
          setBusy(false);
        }
      }}
    >
      <div class="row wrap">
        <Field label="Entry point" error={fieldError(err, "function")}>
          {(id, by) => (
            <select id={id} aria-describedby={by} value={fn} onChange={(e) => setFn(e.currentTarget.value)}>
              {entries.map((e) => (
                <option value={e}>{e}</option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <Field label="Input (JSON)" error={inputErr || fieldError(err, "input")}>
        {(id, by) => <textarea id={id} aria-describedby={by} rows={3} class="mono" value={input} onInput={(e) => setInput(e.currentTarget.value)} />}
      </Field>
      <ErrorBox error={formError(err, ["function", "input"])} />
      <button type="submit" class="primary" disabled={busy}>
        {busy ? "Running…" : "Invoke"}
      </button>
      {res && (
        <div class={"invoke-result " + (res.success ? "good" : "bad")} data-testid="invoke-result" role="status">
          <p>
            <strong>{res.success ? "Success" : `Failed: ${res.error?.kind}`}</strong>
            {!res.success && res.error ? ` — ${res.error.message}` : ""}
          </p>
          {res.success && <pre class="mono">{JSON.stringify(res.result, null, 2)}</pre>}
          <p class="muted small" data-testid="invoke-cost">
            {res.execution_time_ms.toFixed(1)} ms · fuel {res.fuel_consumed} · memory peak {res.memory_peak_bytes} bytes
          </p>
          {res.logs && res.logs.length > 0 && (
            <ul class="plain small">
              {res.logs.map((l) => (
                <li>log: {l}</li>
              ))}
            </ul>
          )}
        </div>
      )}
    </form>
  );
}

interface Invocation {
  id: string;
  event_type: string;
  attempt: number;
  outcome: string;
  error: string | null;
  elapsed_ms: number;
  created_at: string;
}

function Invocations({ id, n }: { id: string; n: number }) {
  const [page, setPage] = useState(1);
  const inv = useLoad(() => api<Invocation[]>("GET", `overlays/${id}/invocations${qs({ page, per_page: 20 })}`), [id, page, n]);
  if (inv.error) return <ErrorBox error={inv.error} />;
  if (!inv.data) return <p>Loading invocations…</p>;
  if (!inv.data.data.length) return <p class="muted">No event-hook invocations yet.</p>;
  return (
    <>
      <div class="table-wrap">
        <table data-testid="invocations">
          <caption class="sr-only">Event-hook invocations, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Event</th>
              <th scope="col">Attempt</th>
              <th scope="col">Outcome</th>
              <th scope="col">Time</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {inv.data.data.map((v) => (
              <tr>
                <td>{when(v.created_at)}</td>
                <td>{v.event_type}</td>
                <td>{v.attempt}</td>
                <td>{v.outcome}</td>
                <td>{v.elapsed_ms.toFixed(1)} ms</td>
                <td>{v.error || ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pager meta={inv.data.meta} onPage={setPage} />
    </>
  );
}

export function OverlayPage({ id }: { id: string }) {
  const ov = useLoad(async () => {
    const [o, v] = await Promise.all([api<Overlay>("GET", `overlays/${id}`), api<Overlay[]>("GET", `overlays/${id}/versions${qs({ per_page: 50 })}`)]);
    return { o: o.data, versions: v.data };
  }, [id]);
  const [err, setErr] = useState<unknown>(null);
  const [msg, setMsg] = useState("");
  const [n, setN] = useState(0);
  if (ov.error)
    return (
      <section>
        <Title text="Overlay" />
        <ErrorBox error={ov.error} />
      </section>
    );
  if (!ov.data) return <p>Loading…</p>;
  const { o, versions } = ov.data;
  const me = currentUser();
  async function act(action: string) {
    setErr(null);
    setMsg("");
    try {
      const r = await api<Overlay>("POST", `overlays/${id}/${action}`);
      setMsg(`Status: ${r.data.status}.`);
      ov.reload();
    } catch (e) {
      setErr(e);
    }
  }
  const m = o.manifest;
  return (
    <section>
      <div class="page-head">
        <Title text={`${o.name} ${o.version}`} />
      </div>
      {msg && <Notice>{msg}</Notice>}
      <ErrorBox error={err} />
      <dl class="kv meta-strip">
        <dt>Status</dt>
        <dd data-testid="overlay-status">{o.status}</dd>
        <dt>Trust</dt>
        <dd>{o.trust_level}</dd>
        <dt>Calls</dt>
        <dd data-testid="overlay-calls">{o.stats.invocations}</dd>
        <dt>Failures</dt>
        <dd>
          {o.stats.failures} ({rate(o.stats.failure_rate)})
        </dd>
        <dt>Mean time</dt>
        <dd>{o.stats.mean_ms.toFixed(1)} ms</dd>
        <dt>Window</dt>
        <dd>
          {o.stats.window_failures}/{o.stats.window_invocations} failed
        </dd>
        <dt>Registered</dt>
        <dd>
          {when(o.created_at)} by {o.owner_id === me?.id ? "you" : shortId(o.owner_id)}
        </dd>
      </dl>
      {o.stats.last_error && (
        <p class="small">
          Last error: <code>{o.stats.last_error}</code>
        </p>
      )}
      {mayManage(me) && (
        <div class="actions" role="group" aria-label="Overlay lifecycle">
          {isAdmin(me) && (o.status === "pending" || o.status === "suspended") && (
            <button type="button" class="primary" onClick={() => act("activate")}>
              Activate
            </button>
          )}
          {(o.status === "pending" || o.status === "active") && (
            <button type="button" onClick={() => act("suspend")}>
              Suspend
            </button>
          )}
        </div>
      )}
      <h2>Invoke</h2>
      <InvokeForm ov={o} onDone={() => (ov.reload(), setN((x) => x + 1))} />
      <h2>Manifest</h2>
      {m.description && <p>{m.description}</p>}
      <dl class="kv">
        <dt>Capabilities</dt>
        <dd>{(m.capabilities || []).join(", ") || "none"}</dd>
        <dt>Entry points</dt>
        <dd>{(m.entry_points || []).join(", ")}</dd>
        <dt>Events</dt>
        <dd>{(m.events || []).join(", ") || "none"}</dd>
        <dt>Validates</dt>
        <dd>{(m.validates || []).join(", ") || "none"}</dd>
        <dt>Limits</dt>
        <dd>
          {m.max_memory_mb} MB · {m.max_execution_ms} ms · fuel {m.max_fuel}
        </dd>
        <dt>SHA-256</dt>
        <dd>
          <code class="break">{o.sha256}</code>
        </dd>
      </dl>
      {o.source !== undefined && (
        <details>
          <summary>Source</summary>
          <pre class="mono">{o.source}</pre>
        </details>
      )}
      <h2>Versions</h2>
      <ul class="plain" data-testid="overlay-versions">
        {versions.map((v) => (
          <li>
            {v.id === o.id ? <strong>{v.version} (this one)</strong> : <a href={`/overlays/${v.id}`}>{v.version}</a>} <StatusBadge s={v.status} />
          </li>
        ))}
      </ul>
      <h2>Invocations (event hooks)</h2>
      <Invocations id={id} n={n} />
    </section>
  );
}

function list(s: string): string[] {
  return s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
}

export function OverlayNew() {
  const [name, setName] = useState("");
  const [version, setVersion] = useState("1.0.0");
  const [description, setDescription] = useState("");
  const [caps, setCaps] = useState<string[]>([]);
  const [entries, setEntries] = useState("process");
  const [events, setEvents] = useState("");
  const [memory, setMemory] = useState("64");
  const [ms, setMs] = useState("5000");
  const [fuel, setFuel] = useState("1000000");
  const [source, setSource] = useState("function process(input)\n  return input\nend\n");
  const [err, setErr] = useState<unknown>(null);
  const [numErr, setNumErr] = useState<string | null>(null);

  async function submit(ev: Event) {
    ev.preventDefault();
    setErr(null);
    setNumErr(null);
    const nums = [memory, ms, fuel].map(Number);
    if (nums.some((x) => !Number.isFinite(x))) {
      setNumErr("limits must be numbers");
      return;
    }
    const manifest: Record<string, unknown> = {
      name,
      version,
      description,
      capabilities: caps,
      entry_points: list(entries),
      events: list(events),
      max_memory_mb: nums[0],
      max_execution_ms: nums[1],
      max_fuel: nums[2],
    };
    try {
      const r = await api<Overlay>("POST", "overlays", { manifest, source });
      navigate(`/overlays/${r.data.id}`);
    } catch (e) {
      setErr(e);
    }
  }
  const f = (k: string) => fieldError(err, "manifest." + k);
  const fields = ["name", "version", "description", "capabilities", "entry_points", "events", "max_memory_mb", "max_execution_ms", "max_fuel"].map((k) => "manifest." + k).concat("source");
  return (
    <section>
      <Title text="Register overlay" />
      <form class="card" onSubmit={submit} noValidate>
        <ErrorBox error={formError(err, fields)} />
        <div class="row wrap">
          <Field label="Name" error={f("name")} hint="lower case letters, digits and '-'">
            {(id, by) => <input id={id} aria-describedby={by} value={name} onInput={(e) => setName(e.currentTarget.value)} />}
          </Field>
          <Field label="Version" error={f("version")} hint="MAJOR.MINOR.PATCH">
            {(id, by) => <input id={id} aria-describedby={by} value={version} onInput={(e) => setVersion(e.currentTarget.value)} />}
          </Field>
        </div>
        <Field label="Description" error={f("description")}>
          {(id, by) => <input id={id} aria-describedby={by} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}
        </Field>
        <fieldset class={"field" + (f("capabilities") ? " invalid" : "")}>
          <legend>Capabilities</legend>
          {CAPABILITIES.map((c) => (
            <label class="check">
              <input type="checkbox" checked={caps.includes(c)} onChange={(e) => setCaps(e.currentTarget.checked ? [...caps, c] : caps.filter((x) => x !== c))} /> {c}
            </label>
          ))}
          {f("capabilities") && (
            <div class="field-error" role="alert">
              {f("capabilities")}
            </div>
          )}
        </fieldset>
        <div class="row wrap">
          <Field label="Entry points (comma list)" error={f("entry_points")}>
            {(id, by) => <input id={id} aria-describedby={by} value={entries} onInput={(e) => setEntries(e.currentTarget.value)} />}
          </Field>
          <Field label="Events (comma list)" error={f("events")} hint="e.g. capsule.created; needs entry point on_event">
            {(id, by) => <input id={id} aria-describedby={by} value={events} onInput={(e) => setEvents(e.currentTarget.value)} />}
          </Field>
        </div>
        <div class="row wrap">
          <Field label="Memory (MB)" error={numErr || f("max_memory_mb")}>
            {(id, by) => <input id={id} aria-describedby={by} inputMode="numeric" value={memory} onInput={(e) => setMemory(e.currentTarget.value)} />}
          </Field>
          <Field label="Time limit (ms)" error={f("max_execution_ms")}>
            {(id, by) => <input id={id} aria-describedby={by} inputMode="numeric" value={ms} onInput={(e) => setMs(e.currentTarget.value)} />}
          </Field>
          <Field label="Fuel (VM instructions)" error={f("max_fuel")}>
            {(id, by) => <input id={id} aria-describedby={by} inputMode="numeric" value={fuel} onInput={(e) => setFuel(e.currentTarget.value)} />}
          </Field>
        </div>
        <Field label="Lua source" error={fieldError(err, "source")}>
          {(id, by) => <textarea id={id} aria-describedby={by} rows={10} class="mono" value={source} onInput={(e) => setSource(e.currentTarget.value)} />}
        </Field>
        <button type="submit" class="primary">
          Register
        </button>
      </form>
    </section>
  );
}
