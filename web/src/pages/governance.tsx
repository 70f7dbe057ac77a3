import { useState } from "preact/hooks";
import { api, canPropose, qs } from "../api";
import { navigate, useLocation } from "../router";
import { ErrorBox, Field, fieldError, formError, Pager, Title, useLoad, when } from "../ui";

export interface Proposal {
  id: string;
  title: string;
  description: string;
  type: string;
  payload: Record<string, unknown>;
  proposer_id: string;
  status: string;
  voting_duration_hours: number;
  quorum: number;
  approval_threshold: number;
  eligible_weight: number | null;
  votes_for: number;
  votes_against: number;
  votes_abstain: number;
  votes_cast: number;
  cast_weight: number;
  participation: number | null;
  approval: number;
  quorum_reached: boolean;
  threshold_reached: boolean;
  result: string | null;
  review: unknown;
  execution_result: unknown;
  created_at: string;
  activated_at: string | null;
  voting_ends_at: string | null;
  closed_at: string | null;
}

export const STATUSES = ["active", "draft", "approved", "executed", "rejected", "failed", "cancelled"];
export const PTYPES = ["policy", "configuration", "trust_adjustment", "overlay_registration", "overlay_update", "emergency"];

export function pct(x: number | null | undefined): string {
  return x === null || x === undefined ? "—" : `${Math.round(x * 1000) / 10}%`;
}

export function Governance() {
  const loc = useLocation();
  const status = loc.query.get("status") || "active";
  const page = Number(loc.query.get("page") || "1") || 1;
  const list = useLoad(() => api<Proposal[]>("GET", `governance/proposals${qs({ status, page, per_page: 20 })}`), [status, page]);
  return (
    <section>
      <div class="page-head">
        <Title text="Governance" />
        {canPropose() && (
          <a class="button primary" href="/governance/new">
            New proposal
          </a>
        )}
      </div>
      <nav class="tabs" aria-label="Proposals by status">
        {STATUSES.map((s) => (
          <a href={`/governance?status=${s}`} aria-current={s === status ? "page" : undefined}>
            {s}
          </a>
        ))}
      </nav>
      <ErrorBox error={list.error} />
      {list.data && (
        <>
          {list.data.data.length === 0 && <p class="muted">No {status} proposals.</p>}
          <ul class="proposals" data-testid="proposal-list">
            {list.data.data.map((p) => (
              <li>
                <a href={`/governance/${p.id}`} class="proposal-link">
                  <span class="item-title">{p.title}</span>
                  <span class="muted small">
                    {p.type} · {p.status}
                    {p.status === "active" && p.voting_ends_at ? ` · ends ${when(p.voting_ends_at)}` : ""} · {p.votes_cast} vote{p.votes_cast === 1 ? "" : "s"}, participation {pct(p.participation)}, approval {pct(p.approval)}
                  </span>
                </a>
              </li>
            ))}
          </ul>
          <Pager meta={list.data.meta} onPage={(n) => navigate(`/governance${qs({ status, page: n })}`)} />
        </>
      )}
    </section>
  );
}

export function ProposalNew() {
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [type, setType] = useState("policy");
  const [payload, setPayload] = useState('{\n  "title": "",\n  "content": ""\n}');
  const [hours, setHours] = useState("72");
  const [quorum, setQuorum] = useState("0.3");
  const [threshold, setThreshold] = useState("0.5");
  const [err, setErr] = useState<unknown>(null);
  const [payloadErr, setPayloadErr] = useState<string | null>(null);

  async function submit(ev: Event) {
    ev.preventDefault();
    setErr(null);
    setPayloadErr(null);
    let p: unknown;
    try {
      p = JSON.parse(payload);
    } catch (e) {
      setPayloadErr("payload is not valid JSON: " + (e as Error).message);
      return;
    }
    try {
      const r = await api<Proposal>("POST", "governance/proposals", {
        title,
        description,
        type,
        payload: p,
        voting_duration_hours: Number(hours),
        quorum: Number(quorum),
        approval_threshold: Number(threshold),
      });
      navigate(`/governance/${r.data.id}`);
    } catch (e) {
      setErr(e);
    }
  }
  const fields = ["title", "description", "type", "payload", "voting_duration_hours", "quorum", "approval_threshold"];
  return (
    <section>
      <Title text="New proposal" />
      <form class="card" onSubmit={submit} noValidate>
        <ErrorBox error={formError(err, fields)} />
        <Field label="Title" error={fieldError(err, "title")}>
          {(id, by) => <input id={id} aria-describedby={by} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />}
        </Field>
        <Field label="Description (Markdown)" error={fieldError(err, "description")}>
          {(id, by) => <textarea id={id} aria-describedby={by} rows={5} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}
        </Field>
        <Field label="Type" error={fieldError(err, "type")}>
          {(id, by) => (
            <select id={id} aria-describedby={by} value={type} onChange={(e) => setType(e.currentTarget.value)}>
              {PTYPES.map((t) => (
                <option value={t}>{t}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Payload (JSON, fields depend on the type)" error={payloadErr || fieldError(err, "payload")} hint="policy: title, content · configuration: key, value · trust_adjustment: target_type, target_id, proposed_trust, reason">
          {(id, by) => <textarea id={id} aria-describedby={by} rows={5} class="mono" value={payload} onInput={(e) => setPayload(e.currentTarget.value)} />}
        </Field>
        <div class="row">
          <Field label="Voting hours" error={fieldError(err, "voting_duration_hours")}>
            {(id, by) => <input id={id} aria-describedby={by} inputMode="decimal" value={hours} onInput={(e) => setHours(e.currentTarget.value)} />}
          </Field>
          <Field label="Quorum (0–1)" error={fieldError(err, "quorum")}>
            {(id, by) => <input id={id} aria-describedby={by} inputMode="decimal" value={quorum} onInput={(e) => setQuorum(e.currentTarget.value)} />}
          </Field>
          <Field label="Approval threshold (0–1)" error={fieldError(err, "approval_threshold")}>
            {(id, by) => <input id={id} aria-describedby={by} inputMode="decimal" value={threshold} onInput={(e) => setThreshold(e.currentTarget.value)} />}
          </Field>
        </div>
        <button type="submit" class="primary">
          Create draft
        </button>
      </form>
    </section>
  );
}
