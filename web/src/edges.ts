// Typed edges of the knowledge graph (docs/knowledge-graph.md) and the capsule titles used to
// label them.
import { api } from "./api";

export interface Edge {
  id: string | null;
  source_id: string;
  target_id: string;
  type: string;
  note: string | null;
  weight: number;
  creator_id: string | null;
  created_at: string;
}

export const EDGE_TYPES = ["supports", "contradicts", "supersedes", "related_to", "references"];

/** First line of a capsule's content. */
export function firstLine(text: string | undefined | null): string {
  return (text || "").split("\n")[0].replace(/^#+\s*/, "") || "(empty)";
}

/** Titles of up to 24 capsules (one GET each, in parallel); unreadable ones are left out. */
export async function capsuleLabels(ids: string[]): Promise<Record<string, string>> {
  const uniq = [...new Set(ids)].slice(0, 24);
  const out: Record<string, string> = {};
  await Promise.all(
    uniq.map((id) =>
      api<{ content: string }>("GET", `capsules/${id}`).then(
        (r) => void (out[id] = firstLine(r.data.content)),
        () => undefined,
      ),
    ),
  );
  return out;
}
