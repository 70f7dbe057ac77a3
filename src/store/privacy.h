/*
 * Store area: GDPR rights (issue 14 item 3, docs/privacy.md) — the rows of a user's export,
 * the steps of an erasure job, consent records and the erasure ledger. Implemented per backend
 * (store/sqlite/privacy.c, store/pg/privacy.c).
 *
 * Export rows come as JSON text built by the database (one object per row), in key order, a page
 * at a time (keyset: `after` is the last key seen, "" for the first page), so an export of any
 * size is streamed without holding it in memory.
 *
 * The erasure steps are idempotent and each works inside the caller's write transaction on a
 * bounded amount of rows, so an erasure is a series of short transactions that can stop anywhere
 * (kill -9) and be run again.
 *
 * The ledger (user ids and times only) is kept apart from the data: SQLite: "erasures.db" beside
 * the data file; PostgreSQL: schema forge_ledger, left out of `forge backup`. Its functions take
 * the store, not a connection, and commit on their own.
 */
#ifndef STORE_PRIVACY_H
#define STORE_PRIVACY_H

#include <stdint.h>

#include "util/err.h"

struct store;
struct store_conn;

enum store_export_kind {
    STORE_EXPORT_CAPSULES = 0, /* owned capsules, each with its "revisions" array; key: id */
    STORE_EXPORT_VOTES,        /* votes cast; key: proposal id */
    STORE_EXPORT_PROPOSALS,    /* proposals made; key: id */
    STORE_EXPORT_SESSIONS,     /* logins (no token material); key: id */
    STORE_EXPORT_CONSENTS,     /* consent history, oldest first; key: seq */
    STORE_EXPORT_AUDIT,        /* audit entries by or about the user; key: seq */
    STORE_EXPORT_NKINDS
};

/** One export row: its key (for the next page) and the row as a JSON object (text). */
typedef int (*store_export_cb)(const char *key, const char *json, void *ctx);

struct store_erasure_job {
    char user_id[37];
    char state[16];       /* capsules | votes | account | done */
    char requested_by[8]; /* self | admin | ledger */
    int64_t started_at, updated_at, finished_at;
    long long capsules_removed, capsules_tombstoned, votes_anonymised;
};

struct store_consent {
    long long seq;
    const char *purpose;
    int granted;
    const char *policy_version;
    int64_t at;
};
typedef int (*store_consent_cb)(const struct store_consent *c, void *ctx);
typedef int (*store_ledger_cb)(const char *user_id, int64_t erased_at, void *ctx);

struct store_privacy_ops {
    /** Up to `limit` rows of `kind` for `user_id` with key > `after`, in key order. */
    enum fg_err (*export_rows)(struct store_conn *c, enum store_export_kind kind,
                               const char *user_id, const char *after, long long limit,
                               store_export_cb cb, void *ctx);

    /** Creates the job of `user_id` in state 'capsules' unless one exists (*created = 0 then). */
    enum fg_err (*job_start)(struct store_conn *c, const char *user_id, const char *requested_by,
                             int64_t now, int *created);
    /** FG_ENOTFOUND when the user has no job. */
    enum fg_err (*job_get)(struct store_conn *c, const char *user_id,
                           struct store_erasure_job *out);
    /** Moves the job to `state` and adds the counters. */
    enum fg_err (*job_advance)(struct store_conn *c, const char *user_id, const char *state,
                               long long removed, long long tombstoned, long long votes,
                               int64_t now);
    /** Ids of the jobs not done, oldest first (at most `limit`). */
    enum fg_err (*jobs_pending)(struct store_conn *c, long long limit,
                                int (*cb)(const char *user_id, void *ctx), void *ctx);

    /** One batch: removes up to `limit` capsules owned by `user_id` that have no children (with
     * their revisions, edges and links); when there is no such capsule left, turns up to `limit`
     * owned capsules that still have children into tombstones (content, metadata, revisions,
     * links and embedding gone, content "[erased]", is_deleted = 1, deleted_at = created_at so
     * that no as-of read ever shows it, erased_at set; id and parent kept). Both 0: the
     * user owns nothing left to erase. */
    enum fg_err (*erase_capsules)(struct store_conn *c, const char *user_id, int64_t now,
                                  long long limit, long long *removed, long long *tombstoned);
    /** Clears the free-text reasoning of the user's votes (choice and weight stay, so tallies are
     * unchanged; the voter id is the anonymised account). *n = votes touched. */
    enum fg_err (*anonymise_votes)(struct store_conn *c, const char *user_id, long long *n);
    /** Anonymises the account: email → "erased+<id>@erased.invalid", display name, MFA and
     * password hash cleared (login impossible), disabled, erased_at set; sessions and consent
     * records deleted. */
    enum fg_err (*anonymise_account)(struct store_conn *c, const char *user_id, int64_t now);
    /** *erased = 1 when the account is anonymised; FG_ENOTFOUND for no such user. */
    enum fg_err (*user_erased)(struct store_conn *c, const char *user_id, int *erased);

    /** Appends a consent record. */
    enum fg_err (*consent_add)(struct store_conn *c, const char *user_id, const char *purpose,
                               int granted, const char *policy_version, int64_t now);
    /** The newest record of each purpose (purpose order). */
    enum fg_err (*consent_current)(struct store_conn *c, const char *user_id, store_consent_cb cb,
                                   void *ctx);
    /** The history, newest first: rows [offset, offset+limit); *total = all rows. */
    enum fg_err (*consent_history)(struct store_conn *c, const char *user_id, long long offset,
                                   long long limit, store_consent_cb cb, void *ctx,
                                   long long *total);

    /** Records an erasure in the ledger (idempotent; keeps the first time). */
    enum fg_err (*ledger_append)(struct store *s, const char *user_id, int64_t at);
    /** Every ledger entry, oldest first. */
    enum fg_err (*ledger_list)(struct store *s, store_ledger_cb cb, void *ctx);
};

#endif
