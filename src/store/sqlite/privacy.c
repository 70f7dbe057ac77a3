/* SQLite implementation of store/privacy.h (GDPR export, erasure steps, consent, ledger). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/privacy.h"
#include "store/sqlite/sqlite_int.h"
#include "util/mem.h"

#define ISO(x)     "strftime('%Y-%m-%dT%H:%M:%fZ', (" x ") / 1000.0, 'unixepoch')"
#define ISO_OPT(x) "CASE WHEN (" x ") IS NULL THEN NULL ELSE " ISO(x) " END"

/* Each query: ?1 user id, ?2 the last key seen ("" first), ?3 limit; columns: key, JSON text. */
// clang-format off
static const char *const export_sql[STORE_EXPORT_NKINDS] = {
    [STORE_EXPORT_CAPSULES] =
        "SELECT c.id, json_object('id', c.id, 'type', c.type, 'content', c.content, "
        "'metadata', json(c.metadata), 'version', c.version, 'trust_level', c.trust_level, "
        "'parent_id', c.parent_id, 'created_at', " ISO("c.created_at") ", "
        "'updated_at', " ISO("c.updated_at") ", 'deleted', json(CASE WHEN c.is_deleted "
        "THEN 'true' ELSE 'false' END), 'deleted_at', " ISO_OPT("c.deleted_at") ", "
        "'revisions', json((SELECT json_group_array(json_object('version', r.version, "
        "'content', r.content, 'metadata', json(r.metadata), 'created_at', "
        ISO("r.created_at") ", 'superseded_at', " ISO("r.superseded_at") ")) "
        "FROM (SELECT * FROM capsule_revisions WHERE capsule_id = c.id ORDER BY seq) r))) "
        "FROM capsules c WHERE c.owner_id = ?1 AND c.id > ?2 AND c.erased_at IS NULL "
        "ORDER BY c.id LIMIT ?3",
    [STORE_EXPORT_VOTES] =
        "SELECT v.proposal_id, json_object('proposal_id', v.proposal_id, 'vote', v.vote, "
        "'weight', v.weight2 / 2.0, 'voter_trust', v.voter_trust, 'reasoning', v.reasoning, "
        "'created_at', " ISO("v.created_at") ", 'updated_at', " ISO("v.updated_at") ") "
        "FROM votes v WHERE v.voter_id = ?1 AND v.proposal_id > ?2 "
        "ORDER BY v.proposal_id LIMIT ?3",
    [STORE_EXPORT_PROPOSALS] =
        "SELECT p.id, json_object('id', p.id, 'title', p.title, 'description', p.description, "
        "'type', p.type, 'payload', json(p.payload), 'status', p.status, "
        "'created_at', " ISO("p.created_at") ", 'closed_at', " ISO_OPT("p.closed_at") ") "
        "FROM proposals p WHERE p.proposer_id = ?1 AND p.id > ?2 ORDER BY p.id LIMIT ?3",
    [STORE_EXPORT_SESSIONS] =
        "SELECT s.id, json_object('id', s.id, 'created_at', " ISO("s.created_at") ", "
        "'last_used_at', " ISO("s.last_used_at") ", 'expires_at', " ISO("s.expires_at") ", "
        "'revoked_at', " ISO_OPT("s.revoked_at") ", 'revoke_reason', s.revoke_reason) "
        "FROM sessions s WHERE s.user_id = ?1 AND s.id > ?2 ORDER BY s.id LIMIT ?3",
    [STORE_EXPORT_CONSENTS] =
        "SELECT k.seq, json_object('purpose', k.purpose, 'granted', json(CASE WHEN k.granted "
        "THEN 'true' ELSE 'false' END), 'policy_version', k.policy_version, "
        "'at', " ISO("k.at") ") FROM consents k WHERE k.user_id = ?1 "
        "AND k.seq > CAST(?2 AS INTEGER) ORDER BY k.seq LIMIT ?3",
    [STORE_EXPORT_AUDIT] =
        "SELECT a.seq, json_object('seq', a.seq, 'id', a.id, 'at', " ISO("a.at") ", "
        "'actor_id', a.actor_id, 'action', a.action, 'resource_type', a.resource_type, "
        "'resource_id', a.resource_id, 'client_ip', a.client_ip, 'outcome', a.outcome, "
        "'details', json(a.details)) FROM audit_log a WHERE a.seq IN ("
        " SELECT seq FROM (SELECT seq FROM audit_log WHERE actor_id = ?1"
        "  AND seq > CAST(?2 AS INTEGER) ORDER BY seq LIMIT ?3)"
        " UNION SELECT seq FROM (SELECT seq FROM audit_log WHERE resource_type = 'user'"
        "  AND resource_id = ?1 AND seq > CAST(?2 AS INTEGER) ORDER BY seq LIMIT ?3))"
        " ORDER BY a.seq LIMIT ?3",
};
// clang-format on

static enum fg_err p_export(struct store_conn *c, enum store_export_kind kind, const char *uid,
                            const char *after, long long limit, store_export_cb cb, void *ctx)
{
    if ((int)kind < 0 || kind >= STORE_EXPORT_NKINDS)
        return FG_EINVAL;
    sqlite3_stmt *st = sq_prepare(c, export_sql[kind]);
    if (!st)
        return FG_EDB;
    int seq_key = kind == STORE_EXPORT_CONSENTS || kind == STORE_EXPORT_AUDIT;
    sq_bind_text(st, 1, uid);
    sq_bind_text(st, 2, after && *after ? after : (seq_key ? "0" : ""));
    sqlite3_bind_int64(st, 3, limit);
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
        stop = cb((const char *)sqlite3_column_text(st, 0),
                  (const char *)sqlite3_column_text(st, 1), ctx);
    enum fg_err e = stop || rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "privacy export");
    sqlite3_reset(st);
    return e;
}

static enum fg_err run1(struct store_conn *c, const char *sql, const char *id, const char *what,
                        int *changes)
{
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, id);
    return sq_step_done(c, st, what, changes);
}

static enum fg_err p_job_start(struct store_conn *c, const char *uid, const char *by, int64_t now,
                               int *created)
{
    static const char sql[] = "INSERT INTO erasure_jobs (user_id, state, requested_by, "
                              "started_at, updated_at) VALUES (?1, 'capsules', ?2, ?3, ?3) "
                              "ON CONFLICT (user_id) DO NOTHING";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, uid);
    sq_bind_text(st, 2, by);
    sqlite3_bind_int64(st, 3, now);
    int ch = 0;
    enum fg_err e = sq_step_done(c, st, "erasure job", &ch);
    *created = ch > 0;
    return e;
}

static enum fg_err p_job_get(struct store_conn *c, const char *uid, struct store_erasure_job *o)
{
    static const char sql[] =
        "SELECT user_id, state, requested_by, started_at, updated_at, finished_at, "
        "capsules_removed, capsules_tombstoned, votes_anonymised FROM erasure_jobs "
        "WHERE user_id = ?1";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, uid);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW) {
        memset(o, 0, sizeof *o);
        sq_col_text(st, 0, o->user_id, sizeof o->user_id);
        sq_col_text(st, 1, o->state, sizeof o->state);
        sq_col_text(st, 2, o->requested_by, sizeof o->requested_by);
        o->started_at = sqlite3_column_int64(st, 3);
        o->updated_at = sqlite3_column_int64(st, 4);
        o->finished_at = sqlite3_column_int64(st, 5);
        o->capsules_removed = sqlite3_column_int64(st, 6);
        o->capsules_tombstoned = sqlite3_column_int64(st, 7);
        o->votes_anonymised = sqlite3_column_int64(st, 8);
    } else {
        e = rc == SQLITE_DONE ? FG_ENOTFOUND : sq_err(c, rc, "erasure job");
    }
    sqlite3_reset(st);
    return e;
}

static enum fg_err p_job_advance(struct store_conn *c, const char *uid, const char *state,
                                 long long removed, long long tomb, long long votes, int64_t now)
{
    static const char sql[] =
        "UPDATE erasure_jobs SET state = ?2, updated_at = ?3, capsules_removed = "
        "capsules_removed + ?4, capsules_tombstoned = capsules_tombstoned + ?5, "
        "votes_anonymised = votes_anonymised + ?6, finished_at = CASE WHEN ?2 = 'done' "
        "THEN ?3 ELSE finished_at END WHERE user_id = ?1";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, uid);
    sq_bind_text(st, 2, state);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, removed);
    sqlite3_bind_int64(st, 5, tomb);
    sqlite3_bind_int64(st, 6, votes);
    int ch = 0;
    enum fg_err e = sq_step_done(c, st, "erasure job", &ch);
    return e == FG_OK && ch == 0 ? FG_ENOTFOUND : e;
}

static enum fg_err p_jobs_pending(struct store_conn *c, long long limit,
                                  int (*cb)(const char *, void *), void *ctx)
{
    static const char sql[] = "SELECT user_id FROM erasure_jobs WHERE state <> 'done' "
                              "ORDER BY started_at, user_id LIMIT ?1";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, limit);
    /* copy the ids first: the callback may use the connection */
    size_t n = 0, cap = 16;
    char(*ids)[37] = fg_xmalloc(cap * sizeof *ids);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap *= 2;
            ids = fg_xrealloc(ids, cap * sizeof *ids);
        }
        sq_col_text(st, 0, ids[n++], sizeof ids[0]);
    }
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "erasure jobs");
    sqlite3_reset(st);
    for (size_t i = 0; i < n && e == FG_OK; i++)
        if (cb(ids[i], ctx))
            break;
    free(ids);
    return e;
}

/* Ids of up to `limit` rows of `sql` (?1 user, ?2 limit). */
static enum fg_err pick_ids(struct store_conn *c, const char *sql, const char *uid, long long limit,
                            char (**ids)[37], size_t *n)
{
    sqlite3_stmt *st = sq_prepare(c, sql);
    *n = 0;
    *ids = NULL;
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, uid);
    sqlite3_bind_int64(st, 2, limit);
    size_t cap = 64;
    *ids = fg_xmalloc(cap * sizeof **ids);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap *= 2;
            *ids = fg_xrealloc(*ids, cap * sizeof **ids);
        }
        sq_col_text(st, 0, (*ids)[(*n)++], sizeof **ids);
    }
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "erasure pick");
    sqlite3_reset(st);
    return e;
}

static enum fg_err p_erase_capsules(struct store_conn *c, const char *uid, int64_t now,
                                    long long limit, long long *removed, long long *tombstoned)
{
    static const char leaves[] =
        "SELECT id FROM capsules c WHERE owner_id = ?1 AND erased_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM capsules ch WHERE ch.parent_id = c.id) "
        "AND NOT EXISTS (SELECT 1 FROM capsule_edges e WHERE e.parent_id = c.id) LIMIT ?2";
    static const char inner[] =
        "SELECT id FROM capsules WHERE owner_id = ?1 AND erased_at IS NULL LIMIT ?2";
    static const char *const del[] = {
        "DELETE FROM capsule_revisions WHERE capsule_id = ?1",
        "DELETE FROM capsule_links WHERE source_id = ?1 OR target_id = ?1",
        "DELETE FROM capsule_edges WHERE child_id = ?1",
        "DELETE FROM capsules WHERE id = ?1",
    };
    static const char *const tomb[] = {
        "DELETE FROM capsule_revisions WHERE capsule_id = ?1",
        "DELETE FROM capsule_links WHERE source_id = ?1 OR target_id = ?1",
        "UPDATE capsule_edges SET reason = NULL WHERE child_id = ?1",
    };
    static const char hollow[] =
        "UPDATE capsules SET content = '[erased]', metadata = '{}', embedding = NULL, is_deleted = "
        "1, "
        "deleted_at = created_at, erased_at = ?2, updated_at = ?2, "
        "content_hash = '774971fa368a7f694e7546f7e9865ddd68cbbb53f3ea4e78e9e50dd9b58b3201', "
        "version_author_id = '' WHERE id = ?1";
    *removed = *tombstoned = 0;
    char(*ids)[37] = NULL;
    size_t n = 0;
    enum fg_err e = pick_ids(c, leaves, uid, limit, &ids, &n);
    for (size_t i = 0; i < n && e == FG_OK; i++) {
        for (size_t k = 0; k < sizeof del / sizeof del[0] && e == FG_OK; k++)
            e = run1(c, del[k], ids[i], "erase capsule", NULL);
        if (e == FG_OK)
            (*removed)++;
    }
    free(ids);
    if (e != FG_OK || *removed > 0)
        return e;
    if ((e = pick_ids(c, inner, uid, limit, &ids, &n)) != FG_OK) {
        free(ids);
        return e;
    }
    for (size_t i = 0; i < n && e == FG_OK; i++) {
        for (size_t k = 0; k < sizeof tomb / sizeof tomb[0] && e == FG_OK; k++)
            e = run1(c, tomb[k], ids[i], "tombstone capsule", NULL);
        if (e == FG_OK) {
            sqlite3_stmt *st = sq_prepare(c, hollow);
            if (!st) {
                e = FG_EDB;
                break;
            }
            sq_bind_text(st, 1, ids[i]);
            sqlite3_bind_int64(st, 2, now);
            e = sq_step_done(c, st, "tombstone capsule", NULL);
        }
        if (e == FG_OK)
            (*tombstoned)++;
    }
    free(ids);
    return e;
}

static enum fg_err p_anonymise_votes(struct store_conn *c, const char *uid, long long *n)
{
    int ch = 0;
    enum fg_err e =
        run1(c, "UPDATE votes SET reasoning = '' WHERE voter_id = ?1", uid, "anonymise votes", &ch);
    *n = ch;
    return e;
}

static enum fg_err p_anonymise_account(struct store_conn *c, const char *uid, int64_t now)
{
    static const char upd[] =
        "UPDATE users SET email = 'erased+' || id || '@erased.invalid', email_enc = '', "
        "display_name = '', "
        "password_hash = '!erased', mfa_enabled = 0, mfa_secret = NULL, mfa_last_step = 0, "
        "is_disabled = 1, locked_until = 0, last_login_at = NULL, updated_at = ?2, "
        "erased_at = coalesce(erased_at, ?2) WHERE id = ?1";
    sqlite3_stmt *st = sq_prepare(c, upd);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, uid);
    sqlite3_bind_int64(st, 2, now);
    int ch = 0;
    enum fg_err e = sq_step_done(c, st, "anonymise account", &ch);
    if (e == FG_OK && ch == 0)
        return FG_ENOTFOUND;
    if (e == FG_OK)
        e = run1(c, "DELETE FROM sessions WHERE user_id = ?1", uid, "anonymise account", NULL);
    if (e == FG_OK)
        e = run1(c, "DELETE FROM consents WHERE user_id = ?1", uid, "anonymise account", NULL);
    return e;
}

static enum fg_err p_user_erased(struct store_conn *c, const char *uid, int *erased)
{
    sqlite3_stmt *st = sq_prepare(c, "SELECT erased_at IS NOT NULL FROM users WHERE id = ?1");
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, uid);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW)
        *erased = sqlite3_column_int(st, 0);
    else
        e = rc == SQLITE_DONE ? FG_ENOTFOUND : sq_err(c, rc, "user erased");
    sqlite3_reset(st);
    return e;
}

static enum fg_err p_consent_add(struct store_conn *c, const char *uid, const char *purpose,
                                 int granted, const char *pv, int64_t now)
{
    static const char sql[] = "INSERT INTO consents (user_id, purpose, granted, policy_version, "
                              "at) VALUES (?1, ?2, ?3, ?4, ?5)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, uid);
    sq_bind_text(st, 2, purpose);
    sqlite3_bind_int(st, 3, granted ? 1 : 0);
    sq_bind_text(st, 4, pv);
    sqlite3_bind_int64(st, 5, now);
    return sq_step_done(c, st, "consent", NULL);
}

static enum fg_err consent_rows(struct store_conn *c, sqlite3_stmt *st, store_consent_cb cb,
                                void *ctx)
{
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_consent k = {
            .seq = sqlite3_column_int64(st, 0),
            .purpose = (const char *)sqlite3_column_text(st, 1),
            .granted = sqlite3_column_int(st, 2),
            .policy_version = (const char *)sqlite3_column_text(st, 3),
            .at = sqlite3_column_int64(st, 4),
        };
        stop = cb(&k, ctx);
    }
    enum fg_err e = stop || rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "consents");
    sqlite3_reset(st);
    return e;
}

static enum fg_err p_consent_current(struct store_conn *c, const char *uid, store_consent_cb cb,
                                     void *ctx)
{
    static const char sql[] =
        "SELECT seq, purpose, granted, policy_version, at FROM consents k WHERE user_id = ?1 "
        "AND seq = (SELECT max(seq) FROM consents k2 WHERE k2.user_id = ?1 "
        "AND k2.purpose = k.purpose) ORDER BY purpose";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, uid);
    return consent_rows(c, st, cb, ctx);
}

static enum fg_err p_consent_history(struct store_conn *c, const char *uid, long long offset,
                                     long long limit, store_consent_cb cb, void *ctx,
                                     long long *total)
{
    sqlite3_stmt *st = sq_prepare(c, "SELECT count(*) FROM consents WHERE user_id = ?1");
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, uid);
    int rc = sqlite3_step(st);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_err(c, rc, "consents");
    st = sq_prepare(c, "SELECT seq, purpose, granted, policy_version, at FROM consents "
                       "WHERE user_id = ?1 ORDER BY seq DESC LIMIT ?2 OFFSET ?3");
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, uid);
    sqlite3_bind_int64(st, 2, limit);
    sqlite3_bind_int64(st, 3, offset);
    return consent_rows(c, st, cb, ctx);
}

/* ---- ledger: erasures.db beside the data file ------------------------------------------ */

static sqlite3 *ledger_open(struct store *s, enum fg_err *err)
{
    char path[4096];
    struct store_conn *c = store_acquire(s, err);
    if (!c)
        return NULL;
    const char *main_path = sqlite3_db_filename(c->db, "main");
    snprintf(path, sizeof path, "%s", main_path ? main_path : "");
    store_release(s, c);
    char *slash = strrchr(path, '/');
    if (!path[0] || !slash) {
        *err = FG_EINVAL;
        return NULL;
    }
    snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "%s", "erasures.db");
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA synchronous=FULL; CREATE TABLE IF NOT EXISTS erasures ("
                     "user_id TEXT PRIMARY KEY NOT NULL, erased_at INTEGER NOT NULL) STRICT",
                     NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        *err = FG_EIO;
        return NULL;
    }
    return db;
}

static enum fg_err p_ledger_append(struct store *s, const char *uid, int64_t at)
{
    enum fg_err e = FG_OK;
    sqlite3 *db = ledger_open(s, &e);
    if (!db)
        return e;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO erasures (user_id, erased_at) VALUES (?1, ?2) "
                                "ON CONFLICT (user_id) DO NOTHING",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sq_bind_text(st, 1, uid);
        sqlite3_bind_int64(st, 2, at);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc == SQLITE_DONE ? FG_OK : FG_EIO;
}

static enum fg_err p_ledger_list(struct store *s, store_ledger_cb cb, void *ctx)
{
    enum fg_err e = FG_OK;
    sqlite3 *db = ledger_open(s, &e);
    if (!db)
        return e;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db, "SELECT user_id, erased_at FROM erasures ORDER BY erased_at, user_id", -1, &st, NULL);
    int stop = 0;
    while (rc == SQLITE_OK && !stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        stop = cb((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), ctx);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return stop || rc == SQLITE_DONE || rc == SQLITE_OK ? FG_OK : FG_EIO;
}

const struct store_privacy_ops sqlite_privacy_ops = {
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
