/*
 * Embedding cache in the shared state (Redis with REDIS_URL), so replicas share embeddings of the
 * same text (SPEC §5: keyed by SHA-256 of model, dims and text; 7 days). Values are the float32
 * vector, little-endian, base64-encoded; a value whose length does not match `dims` is a miss.
 * Errors of the shared state are misses (the embedder then calls the provider).
 */
#ifndef CORE_EMBED_CACHE_SHARED_H
#define CORE_EMBED_CACHE_SHARED_H

#include "embed/embedder.h"

struct fg_shared_state;

/** Cache ops over `ss` (borrowed; must outlive the embedder's use). */
struct embed_cache_ops fg_embed_cache_shared_ops(struct fg_shared_state *ss);

#endif
