/*
 * Store area: the hash-chained audit log and the event outbox (SPEC §9).
 *
 * The store keeps rows and the two ends of the chain; the hash itself (what is hashed and how) is
 * defined in src/core/audit.c and handed in as a callback, so every backend chains identically.
 * Rows passed to callbacks are borrowed for the duration of the callback. Times are ms since the
 * epoch.
 */
#ifndef STORE_AUDIT_H
#define STORE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct store_conn;

#define STORE_HASH_HEX 64

struct store_audit_row {
    long long seq;
    const char *id;
    int64_t at;
    const char *actor_id; /* may be NULL */
    const char *action;
    const char *resource_type;
    const char *resource_id;    /* may be NULL */
    const char *client_ip;      /* may be NULL */
    const char *correlation_id; /* may be NULL */
    const char *outcome;
    const char *details; /* JSON object text */
    const char *prev_hash;
    const char *hash;
};

/** The ends of the chain: verification starts after `base` and must end at `head`. */
struct store_audit_chain {
    long long base_seq;
    char base_hash[STORE_HASH_HEX + 1];
    long long head_seq;
    char head_hash[STORE_HASH_HEX + 1];
};

struct store_audit_filter {
    const char *actor_id;
    const char *action;
    const char *resource_type;
    const char *resource_id;
    int64_t since; /* inclusive; 0: none */
    int64_t until; /* inclusive; 0: none */
};

/** Computes row->hash (hex, into out) for a row whose seq and prev_hash are set. */
typedef void (*store_audit_seal_fn)(const struct store_audit_row *row,
                                    char out[STORE_HASH_HEX + 1]);
typedef int (*store_audit_cb)(const struct store_audit_row *row, void *ctx);

struct store_outbox_event {
    long long seq; /* set by the store */
    const char *id;
    const char *type;
    const char *resource_id; /* may be NULL */
    const char *payload;     /* JSON text */
    int64_t created_at;
    int64_t delivered_at; /* 0 while pending */
    int attempts;
    const char *last_error; /* may be NULL */
};
typedef int (*store_outbox_cb)(const struct store_outbox_event *ev, void *ctx);

struct store_audit_ops {
    /**
     * Appends `row` (seq, prev_hash and hash are ignored): takes seq = head + 1 and prev_hash =
     * head hash, lets `seal` compute the hash, inserts the row and moves the head — atomically,
     * inside the caller's transaction or, when none is open on `c`, in one of its own.
     * *seq_out (may be NULL) receives the new seq.
     */
    enum fg_err (*append)(struct store_conn *c, const struct store_audit_row *row,
                          store_audit_seal_fn seal, long long *seq_out);
    /** Entries matching `f`, newest first, rows [offset, offset+limit); *total = all matches. */
    enum fg_err (*list)(struct store_conn *c, const struct store_audit_filter *f, long long offset,
                        long long limit, store_audit_cb cb, void *ctx, long long *total);
    /** Reads the chain ends and then every row in seq order, from one consistent snapshot. */
    enum fg_err (*scan)(struct store_conn *c, struct store_audit_chain *chain, store_audit_cb cb,
                        void *ctx);

    /** Appends an event (inside the caller's transaction or, when none is open, on its own). */
    enum fg_err (*outbox_add)(struct store_conn *c, const struct store_outbox_event *ev);
    /** Undelivered events with seq > after_seq in seq order, at most `limit`. */
    enum fg_err (*outbox_pending)(struct store_conn *c, long long after_seq, long long limit,
                                  store_outbox_cb cb, void *ctx);
    enum fg_err (*outbox_mark_delivered)(struct store_conn *c, long long seq, int64_t at);
    /** Counts a failed delivery attempt and records the error (no secrets). */
    enum fg_err (*outbox_mark_failed)(struct store_conn *c, long long seq, const char *error);
    /** Number of undelivered events. */
    enum fg_err (*outbox_backlog)(struct store_conn *c, long long *n);
    /** Deletes delivered events older than `before`; *n = rows removed. */
    enum fg_err (*outbox_purge)(struct store_conn *c, int64_t before, long long *n);
};

#endif
