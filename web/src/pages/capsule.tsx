import { useState } from "preact/hooks";
import { api, currentUser, isAdmin, qs } from "../api";
import { diffLines } from "../diff";
import { LineageGraph } from "../graph";
import type { GraphNode } from "../graph";
import { navigate } from "../router";
import { ErrorBox, Markdown, Notice, shortId, Title, TRUSTS, useLoad, when } from "../ui";
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
            <strong>v{r.version}</strong> {r.current ? "(current)" : ""} · {when(r.created_at)} · by {shortId(r.author_id)}
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
          <pre class="diff" data-testid="diff" aria-label={`Changes from v${a.version} to v${b.version}`}>
            {diffLines(a.content, b.content).map((l) =>
              l.op === "+" ? (
                <ins class="add">{"+ " + l.text + "\n"}</ins>
              ) : l.op === "-" ? (
                <del class="del">{"- " + l.text + "\n"}</del>
              ) : (
                <span>{"  " + l.text + "\n"}</span>
              ),
            )}
          </pre>
        </div>
      )}
    </div>
  );
}

export function CapsulePage({ id }: { id: string }) {
  const cap = useLoad(async () => {
    const [c, lin, kids] = await Promise.all([
      api<Capsule>("GET", `capsules/${id}`),
      api<{ ancestors: (Capsule & { depth: number; reason: string | null })[]; truncated: boolean }>("GET", `capsules/${id}/lineage${qs({ max_depth: 10 })}`),
      api<Capsule[]>("GET", `capsules/${id}/children${qs({ per_page: 12 })}`),
    ]);
    return { c: c.data, lin: lin.data, kids: kids.data, kidsTotal: kids.meta.total as number };
  }, [id]);
  const [mode, setMode] = useState<"" | "edit" | "derive" | "delete" | "trust">("");
  const [trust, setTrust] = useState("");
  const [cascade, setCascade] = useState(false);
  const [err, setErr] = useState<unknown>(null);
  const [msg, setMsg] = useState("");

  if (cap.error)
    return (
      <section>
        <Title text="Capsule" />
        <ErrorBox error={cap.error} />
      </section>
    );
  if (!cap.data) return <p>Loading…</p>;
  const { c, lin, kids, kidsTotal } = cap.data;
  const me = currentUser();
  const mayEdit = !!me && (me.id === c.owner_id || isAdmin(me));
  const mayDelete = mayEdit && !!me && me.roles.some((r) => ["trusted", "operator", "admin"].includes(r));

  return (
    <section>
      <div class="page-head">
        <Title text={label(c).slice(0, 80)} />
      </div>
      {msg && <Notice>{msg}</Notice>}
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
      <h2>Revisions</h2>
      <Revisions id={id} key={c.version} />
    </section>
  );
}
