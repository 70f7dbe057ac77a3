import { useEffect, useState } from "preact/hooks";
import { api, currentUser, qs } from "../api";
import { navigate, useLocation } from "../router";
import { ErrorBox, Field, fieldError, formError, Markdown, Pager, Title, TRUSTS, TYPES, useLoad, when } from "../ui";

export interface Capsule {
  id: string;
  content: string;
  type: string;
  metadata: Record<string, unknown>;
  version: string;
  owner_id: string;
  trust_level: string;
  parent_id: string | null;
  created_at: string;
  updated_at: string;
  is_deleted?: boolean;
}

interface Hit {
  capsule: Capsule;
  score: number;
  semantic_score?: number;
  semantic_rank?: number | null;
  keyword_rank?: number | null;
  bm25?: number;
  hops?: number | null;
}

/** The start of the content for a list, without a leading heading (it is the item's title). */
export function preview(text: string, n = 360): string {
  const body = /^#{1,6}\s/.test(text) ? text.slice(text.indexOf("\n") + 1 || text.length).trimStart() : text;
  return body.length > n ? body.slice(0, n) + "…" : body;
}

function fmt(x: number | null | undefined, d = 3): string {
  return x === null || x === undefined ? "—" : x.toFixed(d);
}

function Scores({ h, mode }: { h: Hit; mode: string }) {
  return (
    <dl class="scores" aria-label="Scores">
      <dt>score</dt>
      <dd data-testid="score">{fmt(h.score)}</dd>
      {mode === "keyword" && (
        <>
          <dt>keyword rank</dt>
          <dd>{h.keyword_rank ?? "—"}</dd>
          <dt>BM25</dt>
          <dd>{fmt(h.bm25, 2)}</dd>
        </>
      )}
      {mode === "hybrid" && (
        <>
          <dt>semantic</dt>
          <dd>{fmt(h.semantic_score)}</dd>
          <dt>semantic rank</dt>
          <dd>{h.semantic_rank ?? "—"}</dd>
          <dt>keyword rank</dt>
          <dd>{h.keyword_rank ?? "—"}</dd>
          {h.hops !== undefined && h.hops !== null && (
            <>
              <dt>hops</dt>
              <dd>{h.hops}</dd>
            </>
          )}
        </>
      )}
    </dl>
  );
}

function Item({ c, hit, mode }: { c: Capsule; hit?: Hit; mode?: string }) {
  return (
    <li class="capsule-item">
      <div class="item-head">
        <a href={`/capsules/${c.id}`} class="item-title">
          {c.content.split("\n")[0].replace(/^#+\s*/, "").slice(0, 90) || "(empty)"}
        </a>
        <span class={"badge t-" + c.type}>{c.type}</span>
        <span class="badge">{c.trust_level}</span>
        <span class="muted">v{c.version}</span>
      </div>
      <Markdown src={preview(c.content)} class="preview" />
      {hit && mode && <Scores h={hit} mode={mode} />}
      <div class="muted small">created {when(c.created_at)}</div>
    </li>
  );
}

export function CapsuleList() {
  const loc = useLocation();
  const q = loc.query.get("q") || "";
  const mode = loc.query.get("mode") || "hybrid";
  const type = loc.query.get("type") || "";
  const trust = loc.query.get("trust_level") || "";
  const mine = loc.query.get("mine") === "1";
  const page = Number(loc.query.get("page") || "1") || 1;
  const [text, setText] = useState(q);
  const [m, setM] = useState(mode);
  useEffect(() => {
    setText(q);
    setM(mode);
  }, [q, mode]);

  const go = (over: Record<string, string | number | undefined>) => {
    const cur: Record<string, string | number | undefined> = { q, mode: q ? mode : undefined, type, trust_level: trust, mine: mine ? "1" : undefined, page: page > 1 ? page : undefined };
    navigate("/capsules" + qs({ ...cur, page: undefined, ...over }));
  };

  const res = useLoad(async () => {
    if (q) {
      const body: Record<string, unknown> = { query: q, mode, limit: 20 };
      if (type) body.type = type;
      const r = await api<Hit[]>("POST", "capsules/search", body);
      return { hits: r.data, meta: r.meta, items: null as Capsule[] | null };
    }
    const r = await api<Capsule[]>("GET", "capsules" + qs({ page, per_page: 20, type, trust_level: trust, owner_id: mine ? currentUser()?.id : undefined }));
    return { hits: null as Hit[] | null, meta: r.meta, items: r.data };
  }, [q, mode, type, trust, mine, page]);

  useEffect(() => {
    if (res.data && !res.loading) performance.mark("capsules-interactive");
  }, [res.data, res.loading]);

  return (
    <section>
      <div class="page-head">
        <Title text={q ? "Search capsules" : "Capsules"} />
        <a class="button" href="/contradictions">
          Contradictions
        </a>
        <a class="button primary" href="/capsules/new">
          New capsule
        </a>
      </div>
      <form
        role="search"
        class="search"
        onSubmit={(ev) => {
          ev.preventDefault();
          go({ q: text.trim() || undefined, mode: text.trim() ? m : undefined });
        }}
      >
        <div class="field grow">
          <label for="q">Search</label>
          <input id="q" type="search" value={text} placeholder="What do we know about…" onInput={(e) => setText(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="mode">Mode</label>
          <select id="mode" value={m} onChange={(e) => setM(e.currentTarget.value)}>
            <option value="hybrid">Hybrid</option>
            <option value="semantic">Semantic</option>
            <option value="keyword">Keyword</option>
          </select>
        </div>
        <button type="submit" class="primary">
          Search
        </button>
        {q && (
          <button type="button" onClick={() => go({ q: undefined, mode: undefined })}>
            Clear
          </button>
        )}
      </form>
      <div class="filters" role="group" aria-label="Filters">
        <div class="field">
          <label for="f-type">Type</label>
          <select id="f-type" value={type} onChange={(e) => go({ type: e.currentTarget.value || undefined })}>
            <option value="">Any</option>
            {TYPES.map((t) => (
              <option value={t}>{t}</option>
            ))}
          </select>
        </div>
        {!q && (
          <>
            <div class="field">
              <label for="f-trust">Trust</label>
              <select id="f-trust" value={trust} onChange={(e) => go({ trust_level: e.currentTarget.value || undefined })}>
                <option value="">Any</option>
                {TRUSTS.map((t) => (
                  <option value={t}>{t}</option>
                ))}
              </select>
            </div>
            <label class="check">
              <input type="checkbox" checked={mine} onChange={(e) => go({ mine: e.currentTarget.checked ? "1" : undefined })} /> Only mine
            </label>
          </>
        )}
      </div>
      <ErrorBox error={res.error} />
      {res.loading && !res.data && <p aria-live="polite">Loading…</p>}
      {res.data && (
        <>
          <p class="muted" aria-live="polite" data-testid="result-count">
            {q
              ? `${res.data.hits!.length} result${res.data.hits!.length === 1 ? "" : "s"} (${res.data.meta.mode}, ${res.data.meta.took_ms} ms${res.data.meta.min_score != null ? `, min score ${res.data.meta.min_score}` : ""})`
              : `${res.data.meta.total} capsule${res.data.meta.total === 1 ? "" : "s"}`}
          </p>
          <ul class="capsules" data-testid="capsule-list">
            {q ? res.data.hits!.map((h) => <Item c={h.capsule} hit={h} mode={mode} />) : res.data.items!.map((c) => <Item c={c} />)}
          </ul>
          {!q && <Pager meta={res.data.meta} onPage={(p) => go({ page: p })} />}
        </>
      )}
    </section>
  );
}

/** Content, type, metadata (+ reason when deriving): shared by new, edit and derive. */
export function CapsuleForm({
  initial,
  withReason,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  initial?: Partial<Capsule>;
  withReason?: boolean;
  submitLabel: string;
  onSubmit: (body: Record<string, unknown>) => Promise<void>;
  onCancel?: () => void;
}) {
  const [content, setContent] = useState(initial?.content || "");
  const [type, setType] = useState(initial?.type || "knowledge");
  const [meta, setMeta] = useState(initial?.metadata ? JSON.stringify(initial.metadata, null, 2) : "{}");
  const [reason, setReason] = useState("");
  const [err, setErr] = useState<unknown>(null);
  const [metaErr, setMetaErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(ev: Event) {
    ev.preventDefault();
    setErr(null);
    setMetaErr(null);
    let metadata: unknown;
    try {
      metadata = JSON.parse(meta || "{}");
    } catch (e) {
      setMetaErr("metadata is not valid JSON: " + (e as Error).message);
      return;
    }
    const body: Record<string, unknown> = { content, type, metadata };
    if (withReason && reason) body.reason = reason;
    setBusy(true);
    try {
      await onSubmit(body);
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  }
  const fields = ["content", "type", "metadata", "reason", "parent_id"];
  return (
    <form onSubmit={submit} class="card" noValidate>
      <ErrorBox error={formError(err, fields)} />
      <Field label="Content (Markdown)" error={fieldError(err, "content")}>
        {(id, by) => <textarea id={id} aria-describedby={by} rows={8} value={content} onInput={(e) => setContent(e.currentTarget.value)} />}
      </Field>
      <Field label="Type" error={fieldError(err, "type")}>
        {(id, by) => (
          <select id={id} aria-describedby={by} value={type} onChange={(e) => setType(e.currentTarget.value)}>
            {TYPES.map((t) => (
              <option value={t}>{t}</option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Metadata (JSON object)" error={metaErr || fieldError(err, "metadata")}>
        {(id, by) => <textarea id={id} aria-describedby={by} rows={3} class="mono" value={meta} onInput={(e) => setMeta(e.currentTarget.value)} />}
      </Field>
      {withReason && (
        <Field label="Reason for deriving" error={fieldError(err, "reason")}>
          {(id, by) => <input id={id} aria-describedby={by} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}
        </Field>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {submitLabel}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

export function CapsuleNew() {
  return (
    <section>
      <Title text="New capsule" />
      <CapsuleForm
        submitLabel="Create"
        onSubmit={async (body) => {
          const r = await api<Capsule>("POST", "capsules", body);
          navigate(`/capsules/${r.data.id}`);
        }}
      />
    </section>
  );
}
