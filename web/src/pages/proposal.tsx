import { useEffect, useState } from "preact/hooks";
import { api, currentUser, isAdmin, qs } from "../api";
import { ErrorBox, Markdown, Notice, shortId, Title, useLoad, when } from "../ui";
import { pct } from "./governance";
import type { Proposal } from "./governance";

/** One horizontal bar (0 … max(1, value)) with the bar the proposal must reach drawn across it. */
function Bar({ label, value, mark, markLabel, ok }: { label: string; value: number; mark: number; markLabel: string; ok: boolean }) {
  const W = 300;
  const scale = Math.max(1, value, mark);
  const vx = (Math.min(value, scale) / scale) * W;
  const mx = (mark / scale) * W;
  return (
    <figure class="bar">
      <figcaption>
        <span>{label}</span>{" "}
        <strong>{pct(value)}</strong>{" "}
        <span class={ok ? "good" : "bad"}>
          ({ok ? "reached" : "not reached"} {markLabel} {pct(mark)})
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} 28`} preserveAspectRatio="none" role="img" aria-label={`${label} ${pct(value)}, ${markLabel} ${pct(mark)}`}>
        <rect x="0" y="6" width={W} height="16" class="track" />
        <rect x="0" y="6" width={vx} height="16" class={ok ? "fill good" : "fill"} />
        <line x1={mx} x2={mx} y1="0" y2="28" class="mark" />
      </svg>
    </figure>
  );
}

export function Tallies({ p }: { p: Proposal }) {
  const total = p.votes_for + p.votes_against + p.votes_abstain;
  return (
    <div class="tallies" data-testid="tallies" aria-live="polite">
      <Bar label="Participation" value={p.participation ?? 0} mark={p.quorum} markLabel="quorum" ok={p.quorum_reached} />
      <Bar label="Approval" value={p.approval} mark={p.approval_threshold} markLabel="threshold" ok={p.threshold_reached} />
      <p class="small">
        For <strong data-testid="votes-for">{p.votes_for}</strong> · Against <strong data-testid="votes-against">{p.votes_against}</strong> · Abstain{" "}
        <strong>{p.votes_abstain}</strong> (weights; {p.votes_cast} voter{p.votes_cast === 1 ? "" : "s"}, {total} of {p.eligible_weight ?? "—"} eligible)
      </p>
    </div>
  );
}

/** The constitution's advisory review: recommendation, risks, benefits (raw JSON if unknown). */
function Review({ review }: { review: any }) {
  const items = (xs: any) => (Array.isArray(xs) ? xs : []);
  if (!review || typeof review.recommendation !== "string")
    return (
      <>
        <h2>Advisory review</h2>
        <pre class="json">{JSON.stringify(review, null, 2)}</pre>
      </>
    );
  return (
    <>
      <h2>Advisory review</h2>
      <p>
        Recommendation: <strong>{review.recommendation}</strong> <span class="muted small">(advisory only)</span>
      </p>
      {review.explanation && <p>{String(review.explanation)}</p>}
      {items(review.risks).length > 0 && (
        <>
          <h3>Risks</h3>
          <ul>
            {items(review.risks).map((r: any) => (
              <li>
                <span class="badge">{String(r.severity || "")}</span> {String(r.message || r.rule || "")}
              </li>
            ))}
          </ul>
        </>
      )}
      {items(review.benefits).length > 0 && (
        <>
          <h3>Benefits</h3>
          <ul>
            {items(review.benefits).map((b: any) => (
              <li>{String(b.message || b.rule || "")}</li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

async function findMyVote(id: string): Promise<string | null> {
  const me = currentUser();
  if (!me) return null;
  for (let page = 1; page <= 5; page++) {
    const r = await api<{ voter_id: string; vote: string }[]>("GET", `governance/proposals/${id}/votes${qs({ page, per_page: 100 })}`);
    const v = r.data.find((x) => x.voter_id === me.id);
    if (v) return v.vote;
    if (page >= (r.meta.pages || 1)) break;
  }
  return null;
}

export function ProposalPage({ id }: { id: string }) {
  const res = useLoad(async () => {
    const [p, mine] = await Promise.all([api<Proposal>("GET", `governance/proposals/${id}`), findMyVote(id)]);
    return { p: p.data, mine };
  }, [id]);
  const [live, setLive] = useState<Proposal | null>(null);
  const [mine, setMine] = useState<string | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [msg, setMsg] = useState("");
  const [busy, setBusy] = useState(false);
  const [reasoning, setReasoning] = useState("");

  useEffect(() => {
    if (res.data) {
      setLive(res.data.p);
      setMine(res.data.mine);
    }
  }, [res.data]);

  // live tallies while voting is open
  useEffect(() => {
    if (!live || live.status !== "active") return;
    const t = window.setInterval(async () => {
      try {
        setLive((await api<Proposal>("GET", `governance/proposals/${id}`)).data);
      } catch {
        /* keep the last numbers */
      }
    }, 5000);
    return () => clearInterval(t);
  }, [id, live?.status]);

  const p = live;
  if (res.error)
    return (
      <section>
        <Title text="Proposal" />
        <ErrorBox error={res.error} />
      </section>
    );
  if (!p) return <p>Loading…</p>;
  const me = currentUser();

  async function act(fn: () => Promise<void>) {
    setErr(null);
    setMsg("");
    setBusy(true);
    try {
      await fn();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  }
  const vote = (v: string) =>
    act(async () => {
      const body: Record<string, string> = { vote: v };
      if (reasoning.trim()) body.reasoning = reasoning.trim();
      const r = await api("POST", `governance/proposals/${id}/votes`, body);
      const fresh = (await api<Proposal>("GET", `governance/proposals/${id}`)).data;
      setLive(fresh);
      setMine(v);
      setMsg(r.meta.created ? `Vote recorded: ${v}.` : `Vote changed to ${v}.`);
    });

  return (
    <section>
      <Title text={p.title} />
      <p class="muted">
        <span class="badge">{p.status}</span> {p.type} · proposed by {p.proposer_id === me?.id ? "you" : shortId(p.proposer_id)}
        {p.voting_ends_at ? ` · voting ${p.status === "active" ? "ends" : "ended"} ${when(p.voting_ends_at)}` : ""}
      </p>
      {msg && <Notice>{msg}</Notice>}
      <ErrorBox error={err} />
      {p.status === "active" && (
        <fieldset class="vote" disabled={busy}>
          <legend>Your vote{mine ? `: ${mine}` : ""}</legend>
          <div class="vote-buttons">
            {["for", "against", "abstain"].map((v) => (
              <button type="button" class={"vote-" + v + (mine === v ? " chosen" : "")} aria-pressed={mine === v} onClick={() => vote(v)}>
                {v === "for" ? "For" : v === "against" ? "Against" : "Abstain"}
              </button>
            ))}
          </div>
          <details>
            <summary>Add reasoning</summary>
            <label for="reasoning">Reasoning (optional, sent with your vote)</label>
            <textarea id="reasoning" rows={2} value={reasoning} onInput={(e) => setReasoning(e.currentTarget.value)} />
          </details>
        </fieldset>
      )}
      {p.status !== "draft" && <Tallies p={p} />}
      {p.result && (
        <p>
          Result: <strong>{p.result}</strong> (closed {when(p.closed_at)})
        </p>
      )}
      <div class="actions">
        {p.status === "draft" && me && (me.id === p.proposer_id || isAdmin(me)) && (
          <button
            type="button"
            class="primary"
            disabled={busy}
            onClick={() =>
              act(async () => {
                setLive((await api<Proposal>("POST", `governance/proposals/${id}/activate`, {})).data);
                setMsg("Voting is open.");
              })
            }
          >
            Activate voting
          </button>
        )}
        {(p.status === "draft" || p.status === "active") && me && me.id === p.proposer_id && (
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={() =>
              act(async () => {
                setLive((await api<Proposal>("POST", `governance/proposals/${id}/cancel`, {})).data);
                setMsg("Proposal cancelled.");
              })
            }
          >
            Cancel proposal
          </button>
        )}
      </div>
      <h2>Description</h2>
      <Markdown src={p.description} />
      <h2>Change proposed</h2>
      <pre class="json">{JSON.stringify(p.payload, null, 2)}</pre>
      <dl class="kv">
        <dt>Quorum</dt>
        <dd>{pct(p.quorum)}</dd>
        <dt>Approval threshold</dt>
        <dd>{pct(p.approval_threshold)}</dd>
        <dt>Voting period</dt>
        <dd>{p.voting_duration_hours} h</dd>
        <dt>Created</dt>
        <dd>{when(p.created_at)}</dd>
      </dl>
      {p.review ? <Review review={p.review as any} /> : null}
    </section>
  );
}
