// Contradictions (docs/knowledge-graph.md): every live `contradicts` edge whose both ends the
// reader can see, newest first, each end linked to its capsule.
import { useState } from "preact/hooks";
import { api, qs } from "../api";
import { capsuleLabels } from "../edges";
import type { Edge } from "../edges";
import { ErrorBox, Pager, shortId, Title, useLoad, when } from "../ui";

interface Summary {
  id: string;
  type: string;
  version: string;
  trust_level: string;
}

export function Contradictions() {
  const [page, setPage] = useState(1);
  const list = useLoad(async () => {
    const r = await api<(Edge & { source: Summary; target: Summary })[]>("GET", `graph/contradictions${qs({ page, per_page: 20 })}`);
    const labels = await capsuleLabels(r.data.flatMap((e) => [e.source_id, e.target_id]));
    return { r, labels };
  }, [page]);
  return (
    <section>
      <Title text="Contradictions" />
      <p class="muted">Capsules linked by a “contradicts” edge: knowledge that disagrees and may need a decision.</p>
      <ErrorBox error={list.error} />
      {list.data && (
        <>
          {list.data.r.data.length === 0 && <p class="muted">No contradictions recorded.</p>}
          <ul class="plain contradictions" data-testid="contradictions">
            {list.data.r.data.map((e) => (
              <li class="card">
                <a href={`/capsules/${e.source_id}`}>{list.data!.labels[e.source_id] || shortId(e.source_id)}</a>
                <span class="muted small">
                  {" "}
                  ({e.source?.type}) <strong>contradicts</strong>{" "}
                </span>
                <a href={`/capsules/${e.target_id}`}>{list.data!.labels[e.target_id] || shortId(e.target_id)}</a>
                <span class="muted small"> ({e.target?.type})</span>
                <div class="muted small">
                  {e.note ? `“${e.note}” · ` : ""}
                  {when(e.created_at)}
                </div>
              </li>
            ))}
          </ul>
          <Pager meta={list.data.r.meta} onPage={setPage} />
        </>
      )}
    </section>
  );
}
