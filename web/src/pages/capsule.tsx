import { useState } from "preact/hooks";
import { api, currentUser, isAdmin, qs } from "../api";
import { capsuleLabels, EDGE_TYPES } from "../edges";
import type { Edge } from "../edges";
import { LineageGraph, RelatedGraph } from "../graph";
import type { GraphNode, RelatedItem } from "../graph";
import { navigate, useLocation } from "../router";
import { ErrorBox, Field, fieldError, formError, Markdown, Notice, shortId, Title, TRUSTS, useLoad, when } from "../ui";
import { CapsuleForm } from "./capsules";
import type { Capsule } from "./capsules";

interface Revision {
  version: string;
  content: string;
  metadata: Record<string, unknown>;
  author_id: string;
  created_at: string;
  superseded_at: string | null;
  current: boolean;
}

function label(c: Capsule): string {
  // lineage answers summaries (content_preview, no content) since issue 11 #3
  const text = c.content ?? (c as Capsule & { content_preview?: string }).content_preview ?? "";
  return text.split("\n")[0].replace(/^#+\s*/, "") || "(empty)";
}
function node(c: Capsule): GraphNode {
  return { id: c.id, label: label(c), sub: `${c.type} · v${c.version} · ${c.trust_level}` };
}

interface DiffData {
  from: Revision;
  to: Revision;
  hunks: { old_start: number; old_lines: number; new_start: number; new_lines: number; lines: string[] }[];
  lines_added: number;
  lines_removed: number;
  coarse: boolean;
  metadata_changes: { key: string; change: string; from?: unknown; to?: unknown }[];
}

/** The server's diff (GET /capsules/{id}/diff) between two chosen versions. */
function Diff({ id, from, to }: { id: string; from: string; to: string }) {
  const d = useLoad(() => api<DiffData>("GET", `capsules/${id}/diff${qs({ from, to, context: 3 })}`), [id, from, to]);
  if (d.error) return <ErrorBox error={d.error} />;
  if (!d.data) return <p>Loading the changes…</p>;
  const x = d.data.data;
  const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  return (
    <>
      <p class="muted small" data-testid="diff-summary">
        {x.hunks.length === 0 && x.metadata_changes.length === 0
          ? "No differences."
          : `${x.lines_added} line${x.lines_added === 1 ? "" : "s"} added, ${x.lines_removed} removed${x.coarse ? " (coarse diff: too many changes)" : ""}.`}
      </p>
      {x.hunks.length > 0 && (
        <pre class="diff" data-testid="diff" aria-label={`Changes from v${from} to v${to}`}>
          {x.hunks.map((h) => (
            <>
              <span class="hunk">{`@@ -${h.old_start},${h.old_lines} +${h.new_start},${h.new_lines} @@\n`}</span>
              {h.lines.map((l) =>
                l[0] === "+" ? <ins class="add">{"+ " + l.slice(1) + "\n"}</ins> : l[0] === "-" ? <del class="del">{"- " + l.slice(1) + "\n"}</del> : <span>{"  " + l.slice(1) + "\n"}</span>,
              )}
            </>
          ))}
        </pre>
      )}
      {x.metadata_changes.length > 0 && (
        <ul class="plain small" data-testid="metadata-changes">
          {x.metadata_changes.map((m) => (
            <li>
              metadata <code>{m.key}</code> {m.change}
              {m.change === "changed" ? `: ${show(m.from)} → ${show(m.to)}` : m.change === "added" ? `: ${show(m.to)}` : ""}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function Revisions({ id }: { id: string }) {
  const revs = useLoad(() => api<Revision[]>("GET", `capsules/${id}/revisions${qs({ per_page: 100 })}`), [id]);
  const [from, setFrom] = useState<string | null>(null);
  const [to, setTo] = useState<string | null>(null);
  if (revs.error) return <ErrorBox error={revs.error} />;
  if (!revs.data) return <p>Loading revisions…</p>;
  const list = revs.data.data;
  const a = list.find((r) => r.version === (from ?? list[1]?.version));
  const b = list.find((r) => r.version === (to ?? list[0]?.version));
  return (
    <div>
      <ol class="revisions">
        {list.map((r) => (
          <li>
            <strong>v{r.version}</strong> {r.current ? "(current)" : ""} · {when(r.created_at)} · by {shortId(r.author_id)} ·{" "}
            <a href={`/capsules/${id}${qs({ as_of: r.created_at })}`} aria-label={`as it was then: v${r.version}, ${when(r.created_at)}`}>
              as it was then
            </a>
          </li>
        ))}
      </ol>
      {list.length > 1 && a && b && (
        <div class="diff-box">
          <div class="diff-pick">
            <label>
              From{" "}
              <select value={a.version} onChange={(e) => setFrom(e.currentTarget.value)}>
                {list.map((r) => (
                  <option value={r.version}>v{r.version}</option>
                ))}
              </select>
            </label>
            <label>
              To{" "}
              <select value={b.version} onChange={(e) => setTo(e.currentTarget.value)}>
                {list.map((r) => (
                  <option value={r.version}>v{r.version}</option>
                ))}
              </select>
            </label>
          </div>
          <Diff id={id} from={a.version} to={b.version} />
        </div>
      )}
    </div>
  );
}

/** Typed edges of the capsule: drawn as a graph, listed with delete buttons, and a form to add
 * one (the API's validation message next to the field at fault). */
function Related({ id, self, mayEdit }: { id: string; self: GraphNode; mayEdit: boolean }) {
  const rel = useLoad(async () => {
    const r = await api<Edge[]>("GET", `capsules/${id}/edges${qs({ type: EDGE_TYPES.join(","), per_page: 100 })}`);
    const labels = await capsuleLabels(r.data.map((e) => (e.source_id === id ? e.target_id : e.source_id)));
    return { edges: r.data, total: r.meta.total as number, labels };
  }, [id]);
  const [target, setTarget] = useState("");
  const [type, setType] = useState("related_to");
  const [note, setNote] = useState("");
  const [err, setErr] = useState<unknown>(null);
  const [msg, setMsg] = useState("");
  if (rel.error) return <ErrorBox error={rel.error} />;
  if (!rel.data) return <p>Loading related capsules…</p>;
  const { edges, total, labels } = rel.data;
  const other = (e: Edge) => (e.source_id === id ? e.target_id : e.source_id);
  const items: RelatedItem[] = edges.map((e) => ({
    node: { id: other(e), label: labels[other(e)] || shortId(other(e)), sub: `${e.source_id === id ? "target" : "source"} · ${shortId(other(e))}` },
    type: e.type,
    outgoing: e.source_id === id,
  }));
  return (
    <div>
      {msg && <Notice>{msg}</Notice>}
      {edges.length === 0 ? (
        <p class="muted">No typed links yet.</p>
      ) : (
        <>
          <RelatedGraph self={self} items={items.slice(0, 12)} />
          {total > edges.length && <p class="muted small">First {edges.length} of {total} links.</p>}
          <ul class="plain edges" data-testid="edge-list">
            {edges.map((e) => (
              <li data-edge-id={e.id || ""}>
                <span>{e.source_id === id ? "This capsule" : <a href={`/capsules/${e.source_id}`}>{labels[e.source_id] || shortId(e.source_id)}</a>}</span>
                <span class="badge">{e.type}</span>
                <span>{e.target_id === id ? "this capsule" : <a href={`/capsules/${e.target_id}`}>{labels[e.target_id] || shortId(e.target_id)}</a>}</span>
                {e.note && <span class="muted small">“{e.note}”</span>}
                {mayEdit && e.source_id === id && e.id && (
                  <button
                    type="button"
                    class="danger small"
                    aria-label={`Delete link: ${e.type} to ${labels[e.target_id] || e.target_id}`}
                    onClick={async () => {
                      setErr(null);
                      setMsg("");
                      try {
                        await api("DELETE", `capsules/${id}/edges/${e.id}`);
                        setMsg("Link deleted.");
                        rel.reload();
                      } catch (x) {
                        setErr(x);
                      }
                    }}
                  >
                    Delete link
                  </button>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
      {mayEdit && (
        <form
          class="card"
          aria-label="Add a link"
          onSubmit={async (ev) => {
            ev.preventDefault();
            setErr(null);
            setMsg("");
            try {
              await api("POST", `capsules/${id}/edges`, { target_id: target.trim(), type, ...(note.trim() ? { note: note.trim() } : {}) });
              setTarget("");
              setNote("");
              setMsg("Link added.");
              rel.reload();
            } catch (x) {
              setErr(x);
            }
          }}
          noValidate
        >
          <h3>Add a link</h3>
          <ErrorBox error={formError(err, ["target_id", "type", "note"])} />
          <div class="row wrap">
            <Field label="Link type" error={fieldError(err, "type")}>
              {(fid, by) => (
                <select id={fid} aria-describedby={by} value={type} onChange={(e) => setType(e.currentTarget.value)}>
                  {EDGE_TYPES.map((t) => (
                    <option value={t}>{t}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Target capsule ID" error={fieldError(err, "target_id")}>
              {(fid, by) => <input id={fid} aria-describedby={by} class="mono" value={target} onInput={(e) => setTarget(e.currentTarget.value)} />}
            </Field>
          </div>
          <Field label="Note (optional)" error={fieldError(err, "note")}>
            {(fid, by) => <input id={fid} aria-describedby={by} value={note} onInput={(e) => setNote(e.currentTarget.value)} />}
          </Field>
          <button type="submit" class="primary">
            Add link
          </button>
        </form>
      )}
    </div>
  );
}

function AsOfPicker({ id }: { id: string }) {
  const [v, setV] = useState("");
  return (
    <form
      class="row wrap as-of-pick"
      onSubmit={(ev) => {
        ev.preventDefault();
        const d = new Date(v);
        if (!v || isNaN(d.getTime())) return;
        navigate(`/capsules/${id}${qs({ as_of: d.toISOString() })}`);
      }}
    >
      <div class="field">
        <label for="as-of-input">Show as it was on</label>
        <input id="as-of-input" type="datetime-local" step="1" value={v} onInput={(e) => setV(e.currentTarget.value)} />
      </div>
      <button type="submit">Show</button>
    </form>
  );
}

export function CapsulePage({ id }: { id: string }) {
  const asOf = useLocation().query.get("as_of");
  const cap = useLoad(async () => {
    const [c, lin, kids] = await Promise.all([
      api<Capsule>("GET", `capsules/${id}${qs({ as_of: asOf })}`),
      api<{ ancestors: (Capsule & { depth: number; reason: string | null })[]; truncated: boolean }>("GET", `capsules/${id}/lineage${qs({ max_depth: 10 })}`),
      api<Capsule[]>("GET", `capsules/${id}/children${qs({ per_page: 12 })}`),
    ]);
    return { c: c.data, lin: lin.data, kids: kids.data, kidsTotal: kids.meta.total as number };
  }, [id, asOf]);
  const [mode, setMode] = useState<"" | "edit" | "derive" | "delete" | "trust">("");
  const [trust, setTrust] = useState("");
  const [cascade, setCascade] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const [msg, setMsg] = useState("");

  if (cap.error)
    return (
      <section>
        <Title text="Capsule" />
        {asOf && (
          <p>
            As it was on {when(asOf)}: <a href={`/capsules/${id}`}>show the current version</a>
          </p>
        )}
        <ErrorBox error={cap.error} />
      </section>
    );
  if (!cap.data) return <p>Loading…</p>;
  const { c, lin, kids, kidsTotal } = cap.data;
  const me = currentUser();
  const mayLink = !!me && (me.id === c.owner_id || isAdmin(me));
  const mayEdit = mayLink && !asOf;
  const mayDelete = mayEdit && !!me && me.roles.some((r) => ["trusted", "operator", "admin"].includes(r));

  return (
    <section>
      <div class="page-head">
        <Title text={label(c).slice(0, 80)} />
      </div>
      {msg && <Notice>{msg}</Notice>}
      {asOf && (
        <div class="card as-of" role="status" data-testid="as-of-banner">
          As it was on <strong>{when(asOf)}</strong> (version {c.version}). Type and trust are today's. <a href={`/capsules/${id}`}>Show the current version</a>
        </div>
      )}
      <dl class="kv meta-strip">
        <dt>Type</dt>
        <dd>{c.type}</dd>
        <dt>Trust</dt>
        <dd data-testid="capsule-trust">{c.trust_level}</dd>
        <dt>Version</dt>
        <dd data-testid="capsule-version">{c.version}</dd>
        <dt>Owner</dt>
        <dd>{c.owner_id === me?.id ? "you" : shortId(c.owner_id)}</dd>
        <dt>Created</dt>
        <dd>{when(c.created_at)}</dd>
        <dt>Updated</dt>
        <dd>{when(c.updated_at)}</dd>
        <dt>Parent</dt>
        <dd>{c.parent_id ? <a href={`/capsules/${c.parent_id}`}>{shortId(c.parent_id)}</a> : "—"}</dd>
      </dl>
      {!asOf && <AsOfPicker id={id} />}
      {!asOf && (
      <div class="actions" role="group" aria-label="Capsule actions">
        {mayEdit && (
          <button type="button" aria-expanded={mode === "edit"} onClick={() => setMode(mode === "edit" ? "" : "edit")}>
            Edit
          </button>
        )}
        <button type="button" aria-expanded={mode === "derive"} onClick={() => setMode(mode === "derive" ? "" : "derive")}>
          Derive
        </button>
        {isAdmin(me) && (
          <button type="button" aria-expanded={mode === "trust"} onClick={() => (setTrust(c.trust_level), setErr(null), setMode(mode === "trust" ? "" : "trust"))}>
            Change trust
          </button>
        )}
        {mayDelete && (
          <button type="button" class="danger" aria-expanded={mode === "delete"} onClick={() => setMode(mode === "delete" ? "" : "delete")}>
            Delete
          </button>
        )}
      </div>
      )}
      {mode === "edit" && (
        <CapsuleForm
          initial={c}
          submitLabel="Save"
          onCancel={() => setMode("")}
          onSubmit={async (body) => {
            await api("PATCH", `capsules/${id}`, body);
            setMode("");
            setMsg("Saved.");
            cap.reload();
          }}
        />
      )}
      {mode === "derive" && (
        <CapsuleForm
          initial={{ content: c.content, type: c.type }}
          withReason
          submitLabel="Create derived capsule"
          onCancel={() => setMode("")}
          onSubmit={async (body) => {
            const r = await api<Capsule>("POST", "capsules", { ...body, parent_id: id });
            setMode("");
            navigate(`/capsules/${r.data.id}`);
          }}
        />
      )}
      {mode === "trust" && (
        <form
          class="card row wrap"
          onSubmit={async (ev) => {
            ev.preventDefault();
            setErr(null);
            try {
              await api("PUT", `admin/capsules/${id}/trust`, { trust_level: trust });
              setMode("");
              setMsg(`Trust set to ${trust}.`);
              cap.reload();
            } catch (e) {
              setErr(e);
            }
          }}
        >
          <div class="field">
            <label for="capsule-trust">Trust level (admin)</label>
            <select id="capsule-trust" value={trust} onChange={(e) => setTrust(e.currentTarget.value)}>
              {TRUSTS.map((t) => (
                <option value={t}>{t}</option>
              ))}
            </select>
          </div>
          <button type="submit" class="primary">
            Set trust
          </button>
          <ErrorBox error={err} />
        </form>
      )}
      {mode === "delete" && (
        <form
          class="card"
          onSubmit={async (ev) => {
            ev.preventDefault();
            setErr(null);
            try {
              await api("DELETE", `capsules/${id}${cascade ? "?cascade=true" : ""}`);
              navigate("/capsules");
            } catch (e) {
              setErr(e);
            }
          }}
        >
          <p>Delete this capsule? It disappears from lists and search (a soft delete; the audit log keeps the record).</p>
          <label class="check">
            <input type="checkbox" checked={cascade} onChange={(e) => setCascade(e.currentTarget.checked)} /> Also delete everything derived from it
          </label>
          <ErrorBox error={err} />
          <div class="actions">
            <button type="submit" class="danger">
              Delete
            </button>
            <button type="button" onClick={() => setMode("")}>
              Cancel
            </button>
          </div>
        </form>
      )}
      <h2>Content</h2>
      <Markdown src={c.content} class="content" />
      <h2>Metadata</h2>
      {Object.keys(c.metadata || {}).length ? (
        <dl class="kv">
          {Object.entries(c.metadata).map(([k, v]) => (
            <>
              <dt>{k}</dt>
              <dd>
                <code>{typeof v === "string" ? v : JSON.stringify(v)}</code>
              </dd>
            </>
          ))}
        </dl>
      ) : (
        <p class="muted">None.</p>
      )}
      <h2>Lineage</h2>
      <LineageGraph ancestors={lin.ancestors.map(node)} self={node(c)} children={kids.map(node)} truncated={lin.truncated} />
      <p class="muted small">
        {lin.ancestors.length} ancestor{lin.ancestors.length === 1 ? "" : "s"}, {kidsTotal} child{kidsTotal === 1 ? "" : "ren"}
        {kidsTotal > kids.length ? ` (first ${kids.length} shown)` : ""}.
      </p>
      {kids.length > 0 && (
        <>
          <h3>Children</h3>
          <ul class="plain">
            {kids.map((k) => (
              <li>
                <a href={`/capsules/${k.id}`}>{label(k)}</a> <span class="muted">v{k.version}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      <h2>Related capsules</h2>
      {asOf ? <p class="muted">Links are shown for the current version.</p> : <Related id={id} self={node(c)} mayEdit={mayLink} />}
      <h2>Revisions</h2>
      <Revisions id={id} key={c.version} />
    </section>
  );
}
