/*
 * Retention purges (SPEC §9; RETENTION_* settings, run by core/retention.c). Each call works on
 * a connection inside the caller's write transaction and removes at most a bounded amount, so a
 * large backlog is purged in several short transactions that never hold the writers for long.
 */
#ifndef STORE_RETENTION_H
#define STORE_RETENTION_H

#include <stdint.h>

#include "util/err.h"

struct store_conn;

struct store_retention_ops {
    /** Hard-deletes up to `limit` soft-deleted capsules whose deleted_at < before, with their
     * revisions and DERIVED_FROM edges. A capsule that still has children (deleted or not) waits
     * until they are purged, so lineage never points at a missing row. *n = capsules removed.
     * The change feed records each removal as op 'purge' (trigger). */
    enum fg_err (*capsules)(struct store_conn *c, int64_t before, long long limit, long long *n);
    /** Removes the oldest audit entries: the contiguous prefix of the chain up to the newest
     * entry with at < before, at most `limit` entries. The chain's base moves to the last entry
     * removed (seq and hash), so verification starts there. *n = entries removed; *base_seq and
     * base_hash (65 bytes) = the new base when *n > 0. */
    enum fg_err (*audit)(struct store_conn *c, int64_t before, long long limit, long long *n,
                         long long *base_seq, char *base_hash);
};

#endif
