/* PostgreSQL implementation of store/privacy.h (GDPR export, erasure steps, consent, ledger).
 * Writes that touch capsules take the writers' lock first (the order every writer follows). */
#include <stdlib.h>
#include <string.h>

#include "store/pg/pg_int.h"
#include "store/privacy.h"
#include "util/mem.h"

#define ISO(x)                                                                                     \
    "to_char(to_timestamp((" x ") / 1000.0) AT TIME ZONE 'UTC', "                                  \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Each query: $1 user id, $2 the last key seen, $3 limit; columns: key, JSON text. */
// clang-format off
static const char *const export_sql[STORE_EXPORT_NKINDS] = {
    [STORE_EXPORT_CAPSULES] =
        "SELECT c.id, json_build_object('id', c.id, 'type', c.type, 'content', c.content, "
        "'metadata', c.metadata::json, 'version', c.version, 'trust_level', c.trust_level, "
        "'parent_id', c.parent_id, 'created_at', " ISO("c.created_at") ", "
        "'updated_at', " ISO("c.updated_at") ", 'deleted', c.is_deleted <> 0, "
        "'deleted_at', " ISO("c.deleted_at") ", "
        "'revisions', (SELECT coalesce(json_agg(json_build_object('version', r.version, "
        "'content', r.content, 'metadata', r.metadata::json, 'created_at', "
        ISO("r.created_at") ", 'superseded_at', " ISO("r.superseded_at") ") ORDER BY r.seq), "
        "'[]'::json) FROM capsule_revisions r WHERE r.capsule_id = c.id))::text "
        "FROM capsules c WHERE c.owner_id = $1 AND c.id > $2 AND c.erased_at IS NULL "
        "ORDER BY c.id LIMIT $3::bigint",
    [STORE_EXPORT_VOTES] =
        "SELECT v.proposal_id, json_build_object('proposal_id', v.proposal_id, 'vote', v.vote, "
        "'weight', v.weight2 / 2.0, 'voter_trust', v.voter_trust, 'reasoning', v.reasoning, "
        "'created_at', " ISO("v.created_at") ", 'updated_at', " ISO("v.updated_at") ")::text "
        "FROM votes v WHERE v.voter_id = $1 AND v.proposal_id > $2 "
        "ORDER BY v.proposal_id LIMIT $3::bigint",
    [STORE_EXPORT_PROPOSALS] =
        "SELECT p.id, json_build_object('id', p.id, 'title', p.title, 'description', "
        "p.description, 'type', p.type, 'payload', p.payload::json, 'status', p.status, "
        "'created_at', " ISO("p.created_at") ", 'closed_at', " ISO("p.closed_at") ")::text "
        "FROM proposals p WHERE p.proposer_id = $1 AND p.id > $2 ORDER BY p.id LIMIT $3::bigint",
    [STORE_EXPORT_SESSIONS] =
        "SELECT s.id, json_build_object('id', s.id, 'created_at', " ISO("s.created_at") ", "
        "'last_used_at', " ISO("s.last_used_at") ", 'expires_at', " ISO("s.expires_at") ", "
        "'revoked_at', " ISO("s.revoked_at") ", 'revoke_reason', s.revoke_reason)::text "
        "FROM sessions s WHERE s.user_id = $1 AND s.id > $2 ORDER BY s.id LIMIT $3::bigint",
    [STORE_EXPORT_CONSENTS] =
        "SELECT k.seq, json_build_object('purpose', k.purpose, 'granted', k.granted <> 0, "
        "'policy_version', k.policy_version, 'at', " ISO("k.at") ")::text FROM consents k "
        "WHERE k.user_id = $1 AND k.seq > $2::bigint ORDER BY k.seq LIMIT $3::bigint",
    [STORE_EXPORT_AUDIT] =
        "SELECT a.seq, json_build_object('seq', a.seq, 'id', a.id, 'at', " ISO("a.at") ", "
        "'actor_id', a.actor_id, 'action', a.action, 'resource_type', a.resource_type, "
        "'resource_id', a.resource_id, 'client_ip', a.client_ip, 'outcome', a.outcome, "
        "'details', a.details::json)::text FROM audit_log a WHERE a.seq IN ("
        " SELECT seq FROM (SELECT seq FROM audit_log WHERE actor_id = $1"
        "  AND seq > $2::bigint ORDER BY seq LIMIT $3::bigint) x"
        " UNION SELECT seq FROM (SELECT seq FROM audit_log WHERE resource_type = 'user'"
        "  AND resource_id = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3::bigint) y)"
        " ORDER BY a.seq LIMIT $3::bigint",
};
// clang-format on

static enum fg_err p_export(struct store_conn *c, enum store_export_kind kind, const char *uid,
                            const char *after, long long limit, store_export_cb cb, void *ctx)
{
    if ((int)kind < 0 || kind >= STORE_EXPORT_NKINDS)
        return FG_EINVAL;
    int seq_key = kind == STORE_EXPORT_CONSENTS || kind == STORE_EXPORT_AUDIT;
    struct pg_num l = pg_num(limit);
    const char *p[] = {uid, after && *after ? after : (seq_key ? "0" : ""), l.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, export_sql[kind], 3, p, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++)
        if (cb(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), ctx))
            break;
    PQclear(r);
    return FG_OK;
}

static enum fg_err p_job_start(struct store_conn *c, const char *uid, const char *by, int64_t now,
                               int *created)
{
    static const char sql[] = "INSERT INTO erasure_jobs (user_id, state, requested_by, "
                              "started_at, updated_at) VALUES ($1, 'capsules', $2, $3, $3) "
                              "ON CONFLICT (user_id) DO NOTHING";
    struct pg_num t = pg_num(now);
    const char *p[] = {uid, by, t.s};
    long long n = 0;
    enum fg_err e = pg_run(c, sql, 3, p, &n);
    *created = n > 0;
    return e;
}

static enum fg_err p_job_get(struct store_conn *c, const char *uid, struct store_erasure_job *o)
{
    static const char sql[] =
        "SELECT user_id, state, requested_by, started_at, updated_at, finished_at, "
        "capsules_removed, capsules_tombstoned, votes_anonymised FROM erasure_jobs "
        "WHERE user_id = $1";
    const char *p[] = {uid};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 1, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return FG_ENOTFOUND;
    }
    memset(o, 0, sizeof *o);
    pg_get_text(r, 0, 0, o->user_id, sizeof o->user_id);
    pg_get_text(r, 0, 1, o->state, sizeof o->state);
    pg_get_text(r, 0, 2, o->requested_by, sizeof o->requested_by);
    o->started_at = pg_get_i64(r, 0, 3);
    o->updated_at = pg_get_i64(r, 0, 4);
    o->finished_at = pg_get_i64(r, 0, 5);
    o->capsules_removed = pg_get_i64(r, 0, 6);
    o->capsules_tombstoned = pg_get_i64(r, 0, 7);
    o->votes_anonymised = pg_get_i64(r, 0, 8);
    PQclear(r);
    return FG_OK;
}

static enum fg_err p_job_advance(struct store_conn *c, const char *uid, const char *state,
                                 long long removed, long long tomb, long long votes, int64_t now)
{
    static const char sql[] =
        "UPDATE erasure_jobs SET state = $2, updated_at = $3, capsules_removed = "
        "capsules_removed + $4, capsules_tombstoned = capsules_tombstoned + $5, "
        "votes_anonymised = votes_anonymised + $6, finished_at = CASE WHEN $2 = 'done' "
        "THEN $3::bigint ELSE finished_at END WHERE user_id = $1";
    struct pg_num t = pg_num(now), a = pg_num(removed), b = pg_num(tomb), v = pg_num(votes);
    const char *p[] = {uid, state, t.s, a.s, b.s, v.s};
    long long n = 0;
    enum fg_err e = pg_run(c, sql, 6, p, &n);
    return e == FG_OK && n == 0 ? FG_ENOTFOUND : e;
}

static enum fg_err p_jobs_pending(struct store_conn *c, long long limit,
                                  int (*cb)(const char *, void *), void *ctx)
{
    static const char sql[] = "SELECT user_id FROM erasure_jobs WHERE state <> 'done' "
                              "ORDER BY started_at, user_id LIMIT $1::bigint";
    struct pg_num l = pg_num(limit);
    const char *p[] = {l.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 1, p, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++)
        if (cb(PQgetvalue(r, i, 0), ctx))
            break;
    PQclear(r);
    return FG_OK;
}

static enum fg_err p_erase_capsules(struct store_conn *c, const char *uid, int64_t now,
                                    long long limit, long long *removed, long long *tombstoned)
{
    static const char leaves[] =
        "WITH doomed AS (SELECT id FROM capsules c WHERE owner_id = $1 AND erased_at IS NULL "
        "  AND NOT EXISTS (SELECT 1 FROM capsules ch WHERE ch.parent_id = c.id) "
        "  AND NOT EXISTS (SELECT 1 FROM capsule_edges e WHERE e.parent_id = c.id) "
        "  LIMIT $2::bigint), "
        "r AS (DELETE FROM capsule_revisions WHERE capsule_id IN (SELECT id FROM doomed)), "
        "l AS (DELETE FROM capsule_links WHERE source_id IN (SELECT id FROM doomed) "
        "      OR target_id IN (SELECT id FROM doomed)), "
        "e AS (DELETE FROM capsule_edges WHERE child_id IN (SELECT id FROM doomed)) "
        "DELETE FROM capsules WHERE id IN (SELECT id FROM doomed)";
    static const char tomb[] =
        "WITH t AS (SELECT id FROM capsules WHERE owner_id = $1 AND erased_at IS NULL "
        "  LIMIT $2::bigint), "
        "r AS (DELETE FROM capsule_revisions WHERE capsule_id IN (SELECT id FROM t)), "
        "l AS (DELETE FROM capsule_links WHERE source_id IN (SELECT id FROM t) "
        "      OR target_id IN (SELECT id FROM t)), "
        "e AS (UPDATE capsule_edges SET reason = NULL WHERE child_id IN (SELECT id FROM t)) "
        "UPDATE capsules SET content = '[erased]', metadata = '{}', embedding = NULL, is_deleted = "
        "1, "
        "deleted_at = created_at, erased_at = $3::bigint, "
        "updated_at = $3::bigint, "
        "content_hash = '774971fa368a7f694e7546f7e9865ddd68cbbb53f3ea4e78e9e50dd9b58b3201', "
        "version_author_id = '' WHERE id IN (SELECT id FROM t)";
    *removed = *tombstoned = 0;
    struct pg_num l = pg_num(limit), t = pg_num(now);
    const char *p[] = {uid, l.s, t.s};
    enum fg_err e = pg_run_locked(c, leaves, 2, p, removed);
    if (e != FG_OK || *removed > 0)
        return e;
    return pg_run_locked(c, tomb, 3, p, tombstoned);
}

static enum fg_err p_anonymise_votes(struct store_conn *c, const char *uid, long long *n)
{
    const char *p[] = {uid};
    return pg_run(c, "UPDATE votes SET reasoning = '' WHERE voter_id = $1", 1, p, n);
}

static enum fg_err p_anonymise_account(struct store_conn *c, const char *uid, int64_t now)
{
    static const char upd[] =
        "UPDATE users SET email = 'erased+' || id || '@erased.invalid', email_enc = '', "
        "display_name = '', "
        "password_hash = '!erased', mfa_enabled = 0, mfa_secret = NULL, mfa_last_step = 0, "
        "is_disabled = 1, locked_until = 0, last_login_at = NULL, updated_at = $2, "
        "erased_at = coalesce(erased_at, $2::bigint) WHERE id = $1";
    struct pg_num t = pg_num(now);
    const char *p[] = {uid, t.s};
    long long n = 0;
    enum fg_err e = pg_run(c, upd, 2, p, &n);
    if (e == FG_OK && n == 0)
        return FG_ENOTFOUND;
    if (e == FG_OK)
        e = pg_run(c, "DELETE FROM sessions WHERE user_id = $1", 1, p, NULL);
    if (e == FG_OK)
        e = pg_run(c, "DELETE FROM consents WHERE user_id = $1", 1, p, NULL);
    return e;
}

static enum fg_err p_user_erased(struct store_conn *c, const char *uid, int *erased)
{
    const char *p[] = {uid};
    enum fg_err e;
    PGresult *r = pg_exec(c, "SELECT erased_at IS NOT NULL FROM users WHERE id = $1", 1, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) == 0)
        e = FG_ENOTFOUND;
    else
        *erased = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return e;
}

static enum fg_err p_consent_add(struct store_conn *c, const char *uid, const char *purpose,
                                 int granted, const char *pv, int64_t now)
{
    static const char sql[] = "INSERT INTO consents (user_id, purpose, granted, policy_version, "
                              "at) VALUES ($1, $2, $3, $4, $5)";
    struct pg_num t = pg_num(now);
    const char *p[] = {uid, purpose, granted ? "1" : "0", pv, t.s};
    return pg_run(c, sql, 5, p, NULL);
}

static enum fg_err consent_rows(PGresult *r, store_consent_cb cb, void *ctx)
{
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_consent k = {
            .seq = pg_get_i64(r, i, 0),
            .purpose = PQgetvalue(r, i, 1),
            .granted = (int)pg_get_i64(r, i, 2),
            .policy_version = PQgetvalue(r, i, 3),
            .at = pg_get_i64(r, i, 4),
        };
        if (cb(&k, ctx))
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err p_consent_current(struct store_conn *c, const char *uid, store_consent_cb cb,
                                     void *ctx)
{
    static const char sql[] =
        "SELECT DISTINCT ON (purpose) seq, purpose, granted, policy_version, at FROM consents "
        "WHERE user_id = $1 ORDER BY purpose, seq DESC";
    const char *p[] = {uid};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 1, p, &e);
    return r ? consent_rows(r, cb, ctx) : e;
}

static enum fg_err p_consent_history(struct store_conn *c, const char *uid, long long offset,
                                     long long limit, store_consent_cb cb, void *ctx,
                                     long long *total)
{
    const char *p1[] = {uid};
    enum fg_err e;
    PGresult *r = pg_exec(c, "SELECT count(*) FROM consents WHERE user_id = $1", 1, p1, &e);
    if (!r)
        return e;
    *total = pg_get_i64(r, 0, 0);
    PQclear(r);
    struct pg_num l = pg_num(limit), o = pg_num(offset);
    const char *p[] = {uid, l.s, o.s};
    r = pg_exec(c,
                "SELECT seq, purpose, granted, policy_version, at FROM consents "
                "WHERE user_id = $1 ORDER BY seq DESC LIMIT $2::bigint OFFSET $3::bigint",
                3, p, &e);
    return r ? consent_rows(r, cb, ctx) : e;
}

/* ---- ledger: schema forge_ledger (left out of forge backup) ----------------------------- */

static struct store_conn *ledger_conn(struct store *s, enum fg_err *e)
{
    struct store_conn *c = store_acquire(s, e);
    if (!c)
        return NULL;
    /* a database restored from a dump (which leaves the schema out) may not have it yet */
    *e = pg_run(c, "CREATE SCHEMA IF NOT EXISTS forge_ledger", 0, NULL, NULL);
    if (*e == FG_OK)
        *e = pg_run(c,
                    "CREATE TABLE IF NOT EXISTS forge_ledger.erasures (user_id TEXT COLLATE \"C\" "
                    "PRIMARY KEY, erased_at BIGINT NOT NULL)",
                    0, NULL, NULL);
    if (*e != FG_OK) {
        store_release(s, c);
        return NULL;
    }
    return c;
}

static enum fg_err p_ledger_append(struct store *s, const char *uid, int64_t at)
{
    enum fg_err e;
    struct store_conn *c = ledger_conn(s, &e);
    if (!c)
        return e;
    struct pg_num t = pg_num(at);
    const char *p[] = {uid, t.s};
    e = pg_run(c,
               "INSERT INTO forge_ledger.erasures (user_id, erased_at) VALUES ($1, $2) "
               "ON CONFLICT (user_id) DO NOTHING",
               2, p, NULL);
    store_release(s, c);
    return e;
}

static enum fg_err p_ledger_list(struct store *s, store_ledger_cb cb, void *ctx)
{
    enum fg_err e;
    struct store_conn *c = ledger_conn(s, &e);
    if (!c)
        return e;
    PGresult *r = pg_exec(
        c, "SELECT user_id, erased_at FROM forge_ledger.erasures ORDER BY erased_at, user_id", 0,
        NULL, &e);
    /* copy first: the callback may need a connection of its own */
    size_t n = r ? (size_t)PQntuples(r) : 0;
    char(*ids)[37] = fg_xcalloc(n ? n : 1, sizeof *ids);
    int64_t *at = fg_xcalloc(n ? n : 1, sizeof *at);
    for (size_t i = 0; i < n; i++) {
        pg_get_text(r, (int)i, 0, ids[i], sizeof ids[i]);
        at[i] = pg_get_i64(r, (int)i, 1);
    }
    PQclear(r);
    store_release(s, c);
    for (size_t i = 0; i < n; i++)
        if (cb(ids[i], at[i], ctx))
            break;
    free(ids);
    free(at);
    return e;
}

const struct store_privacy_ops pg_privacy_ops = {
    .export_rows = p_export,
    .job_start = p_job_start,
    .job_get = p_job_get,
    .job_advance = p_job_advance,
    .jobs_pending = p_jobs_pending,
    .erase_capsules = p_erase_capsules,
    .anonymise_votes = p_anonymise_votes,
    .anonymise_account = p_anonymise_account,
    .user_erased = p_user_erased,
    .consent_add = p_consent_add,
    .consent_current = p_consent_current,
    .consent_history = p_consent_history,
    .ledger_append = p_ledger_append,
    .ledger_list = p_ledger_list,
};
