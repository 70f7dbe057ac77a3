/* SQLite implementation of store/governance.h (proposals, votes, quarantines, settings). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/governance.h"
#include "store/sqlite/sqlite_int.h"
#include "util/mem.h"

const char *const store_proposal_statuses[] = {
    "draft", "active", "approved", "rejected", "executed", "failed", "cancelled", NULL,
};

/* The tallies are summed from the vote rows of the proposal on every read. */
#define TALLY(kind)                                                                                \
    "(SELECT coalesce(sum(weight2), 0) FROM votes v WHERE v.proposal_id = p.id AND v.vote = "      \
    "'" kind "')"
#define PROPOSAL_COLS                                                                              \
    "p.id, p.title, p.description, p.type, p.payload, p.proposer_id, p.status, "                   \
    "p.voting_duration_hours, p.quorum_ppm, p.threshold_ppm, coalesce(p.eligible_weight2, -1), "   \
    "p.review, p.execution_result, p.created_at, p.updated_at, coalesce(p.activated_at, 0), "      \
    "coalesce(p.voting_ends_at, 0), coalesce(p.closed_at, 0), coalesce(p.executed_at, 0), "        \
    "coalesce(p.cancelled_at, 0), " TALLY("for") ", " TALLY("against") ", " TALLY(                 \
        "abstain") ", (SELECT count(*) FROM votes v WHERE v.proposal_id = p.id)"

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? fg_xstrdup((const char *)s) : NULL;
}

static void row_proposal(sqlite3_stmt *st, struct store_proposal *p)
{
    memset(p, 0, sizeof *p);
    sq_col_text(st, 0, p->id, sizeof p->id);
    p->title = col_dup(st, 1);
    p->description = col_dup(st, 2);
    sq_col_text(st, 3, p->type, sizeof p->type);
    p->payload = col_dup(st, 4);
    sq_col_text(st, 5, p->proposer_id, sizeof p->proposer_id);
    sq_col_text(st, 6, p->status, sizeof p->status);
    p->voting_duration_hours = sqlite3_column_double(st, 7);
    p->quorum_ppm = sqlite3_column_int(st, 8);
    p->threshold_ppm = sqlite3_column_int(st, 9);
    p->eligible_weight2 = sqlite3_column_int64(st, 10);
    p->review = col_dup(st, 11);
    p->execution_result = col_dup(st, 12);
    p->created_at = sqlite3_column_int64(st, 13);
    p->updated_at = sqlite3_column_int64(st, 14);
    p->activated_at = sqlite3_column_int64(st, 15);
    p->voting_ends_at = sqlite3_column_int64(st, 16);
    p->closed_at = sqlite3_column_int64(st, 17);
    p->executed_at = sqlite3_column_int64(st, 18);
    p->cancelled_at = sqlite3_column_int64(st, 19);
    p->for2 = sqlite3_column_int64(st, 20);
    p->against2 = sqlite3_column_int64(st, 21);
    p->abstain2 = sqlite3_column_int64(st, 22);
    p->voters = sqlite3_column_int64(st, 23);
}

/* A conditional transition: no row changed means the proposal was not in the expected state. */
static enum fg_err step_transition(struct store_conn *c, sqlite3_stmt *st, const char *what)
{
    int n = 0;
    enum fg_err e = sq_step_done(c, st, what, &n);
    if (e == FG_OK && n == 0)
        e = FG_ECONFLICT;
    return e;
}

static enum fg_err g_create(struct store_conn *c, const struct store_proposal *p)
{
    static const char sql[] =
        "INSERT INTO proposals (id, title, description, type, payload, proposer_id, status, "
        "voting_duration_hours, quorum_ppm, threshold_ppm, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, p->id);
    sq_bind_text(st, 2, p->title);
    sq_bind_text(st, 3, p->description);
    sq_bind_text(st, 4, p->type);
    sq_bind_text(st, 5, p->payload ? p->payload : "{}");
    sq_bind_text(st, 6, p->proposer_id);
    sqlite3_bind_double(st, 7, p->voting_duration_hours);
    sqlite3_bind_int(st, 8, p->quorum_ppm);
    sqlite3_bind_int(st, 9, p->threshold_ppm);
    sqlite3_bind_int64(st, 10, p->created_at);
    sqlite3_bind_int64(st, 11, p->updated_at);
    return sq_step_done(c, st, "proposals.create", NULL);
}

static enum fg_err g_get(struct store_conn *c, const char *id, struct store_proposal *out)
{
    static const char sql[] = "SELECT " PROPOSAL_COLS " FROM proposals p WHERE p.id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW)
        row_proposal(st, out);
    else if (rc == SQLITE_DONE)
        e = FG_ENOTFOUND;
    else
        e = sq_err(c, rc, "proposals.get");
    sqlite3_reset(st);
    return e;
}

static enum fg_err g_list(struct store_conn *c, const struct store_proposal_filter *f,
                          long long offset, long long limit, store_proposal_cb cb, void *ctx,
                          long long *total)
{
#define WHERE                                                                                      \
    " WHERE (?1 IS NULL OR p.status = ?1) AND (?2 IS NULL OR p.type = ?2) AND "                    \
    "(?3 IS NULL OR p.proposer_id = ?3)"
    static const char count_sql[] = "SELECT count(*) FROM proposals p" WHERE;
    static const char sql[] = "SELECT " PROPOSAL_COLS " FROM proposals p" WHERE
                              " ORDER BY p.created_at DESC, p.id DESC LIMIT ?4 OFFSET ?5";
#undef WHERE
    *total = 0;
    sqlite3_stmt *st = sq_prepare(c, count_sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, f->status);
    sq_bind_text(st, 2, f->type);
    sq_bind_text(st, 3, f->proposer_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_err(c, rc, "proposals.count");
    if (limit <= 0)
        return FG_OK;
    st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, f->status);
    sq_bind_text(st, 2, f->type);
    sq_bind_text(st, 3, f->proposer_id);
    sqlite3_bind_int64(st, 4, limit);
    sqlite3_bind_int64(st, 5, offset);
    struct store_proposal p;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_proposal(st, &p);
        int stop = cb(&p, ctx);
        store_proposal_clear(&p);
        if (stop) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "proposals.list");
}

static enum fg_err g_activate(struct store_conn *c, const char *id, int64_t eligible_weight2,
                              int64_t at, int64_t ends_at, const char *review)
{
    static const char sql[] =
        "UPDATE proposals SET status = 'active', eligible_weight2 = ?, activated_at = ?, "
        "voting_ends_at = ?, review = ?, updated_at = ? WHERE id = ? AND status = 'draft'";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, eligible_weight2);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_int64(st, 3, ends_at);
    sq_bind_text(st, 4, review);
    sqlite3_bind_int64(st, 5, at);
    sq_bind_text(st, 6, id);
    return step_transition(c, st, "proposals.activate");
}

static enum fg_err g_cancel(struct store_conn *c, const char *id, int64_t at)
{
    static const char sql[] =
        "UPDATE proposals SET status = 'cancelled', cancelled_at = ?1, updated_at = ?1 "
        "WHERE id = ?2 AND status IN ('draft', 'active')";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, at);
    sq_bind_text(st, 2, id);
    return step_transition(c, st, "proposals.cancel");
}

static enum fg_err g_close(struct store_conn *c, const char *id, const char *status, int64_t at)
{
    static const char sql[] =
        "UPDATE proposals SET status = ?1, closed_at = ?2, updated_at = ?2 "
        "WHERE id = ?3 AND status = 'active' AND ?1 IN ('approved', 'rejected')";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, status);
    sqlite3_bind_int64(st, 2, at);
    sq_bind_text(st, 3, id);
    return step_transition(c, st, "proposals.close");
}

static enum fg_err g_finish(struct store_conn *c, const char *id, const char *status,
                            const char *result, int64_t at)
{
    static const char sql[] =
        "UPDATE proposals SET status = ?1, execution_result = ?2, executed_at = ?3, "
        "updated_at = ?3 WHERE id = ?4 AND status = 'approved' AND ?1 IN ('executed', 'failed')";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, status);
    sq_bind_text(st, 2, result ? result : "{}");
    sqlite3_bind_int64(st, 3, at);
    sq_bind_text(st, 4, id);
    return step_transition(c, st, "proposals.finish");
}

static enum fg_err g_due(struct store_conn *c, int64_t now, long long limit,
                         int (*cb)(const char *id, void *ctx), void *ctx)
{
    static const char sql[] = "SELECT id FROM proposals WHERE status = 'active' AND "
                              "voting_ends_at <= ? ORDER BY voting_ends_at, id LIMIT ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, limit);
    /* Collect first: the callback may write on this connection. */
    size_t n = 0, cap = 0;
    char(*ids)[37] = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = fg_xrealloc(ids, cap * sizeof *ids);
        }
        sq_col_text(st, 0, ids[n], sizeof ids[0]);
        n++;
    }
    sqlite3_reset(st);
    enum fg_err e = rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "proposals.due");
    for (size_t i = 0; e == FG_OK && i < n; i++)
        if (cb(ids[i], ctx))
            break;
    free(ids);
    return e;
}

static enum fg_err g_stats(struct store_conn *c, struct store_governance_stats *out)
{
    static const char by_status[] = "SELECT status, count(*) FROM proposals GROUP BY status";
    static const char votes[] = "SELECT count(*) FROM votes";
    static const char mean[] =
        "SELECT avg(CASE WHEN p.eligible_weight2 > 0 THEN CAST((SELECT coalesce(sum(weight2), 0) "
        "FROM votes v WHERE v.proposal_id = p.id) AS REAL) / p.eligible_weight2 ELSE 0.0 END) "
        "FROM proposals p WHERE p.status IN ('approved', 'rejected', 'executed', 'failed')";
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = sq_prepare(c, by_status);
    if (!st)
        return FG_EDB;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        long long n = sqlite3_column_int64(st, 1);
        for (size_t i = 0; s && store_proposal_statuses[i]; i++)
            if (strcmp(s, store_proposal_statuses[i]) == 0)
                out->by_status[i] = n;
        out->total += n;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_err(c, rc, "proposals.stats");
    if (!(st = sq_prepare(c, votes)))
        return FG_EDB;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        out->votes = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_err(c, rc, "votes.count");
    if (!(st = sq_prepare(c, mean)))
        return FG_EDB;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        out->has_mean = 1;
        out->mean_participation = sqlite3_column_double(st, 0);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? FG_OK : sq_err(c, rc, "proposals.mean");
}

/* ---- votes ----------------------------------------------------------------------------- */

#define VOTE_COLS                                                                                  \
    "proposal_id, voter_id, vote, weight2, voter_trust, reasoning, created_at, updated_at"

static void row_vote(sqlite3_stmt *st, struct store_vote *v, int with_reasoning)
{
    memset(v, 0, sizeof *v);
    sq_col_text(st, 0, v->proposal_id, sizeof v->proposal_id);
    sq_col_text(st, 1, v->voter_id, sizeof v->voter_id);
    sq_col_text(st, 2, v->vote, sizeof v->vote);
    v->weight2 = sqlite3_column_int(st, 3);
    v->voter_trust = sqlite3_column_int(st, 4);
    v->reasoning = with_reasoning ? (const char *)sqlite3_column_text(st, 5) : NULL;
    v->created_at = sqlite3_column_int64(st, 6);
    v->updated_at = sqlite3_column_int64(st, 7);
}

static enum fg_err g_vote_get(struct store_conn *c, const char *proposal_id, const char *voter_id,
                              struct store_vote *out)
{
    static const char sql[] =
        "SELECT " VOTE_COLS " FROM votes WHERE proposal_id = ? AND voter_id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, proposal_id);
    sq_bind_text(st, 2, voter_id);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW)
        row_vote(st, out, 0);
    else if (rc == SQLITE_DONE)
        e = FG_ENOTFOUND;
    else
        e = sq_err(c, rc, "votes.get");
    sqlite3_reset(st);
    return e;
}

static enum fg_err g_vote_put(struct store_conn *c, const struct store_vote *v, int insert)
{
    static const char ins[] = "INSERT INTO votes (" VOTE_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    static const char upd[] =
        "UPDATE votes SET vote = ?3, weight2 = ?4, voter_trust = ?5, reasoning = ?6, "
        "updated_at = ?8 WHERE proposal_id = ?1 AND voter_id = ?2";
    sqlite3_stmt *st = sq_prepare(c, insert ? ins : upd);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, v->proposal_id);
    sq_bind_text(st, 2, v->voter_id);
    sq_bind_text(st, 3, v->vote);
    sqlite3_bind_int(st, 4, v->weight2);
    sqlite3_bind_int(st, 5, v->voter_trust);
    sq_bind_text(st, 6, v->reasoning ? v->reasoning : "");
    sqlite3_bind_int64(st, 7, v->created_at);
    sqlite3_bind_int64(st, 8, v->updated_at);
    if (insert)
        return sq_step_done(c, st, "votes.insert", NULL);
    int n = 0;
    enum fg_err e = sq_step_done(c, st, "votes.update", &n);
    return e == FG_OK && n == 0 ? FG_ENOTFOUND : e;
}

static enum fg_err g_votes_list(struct store_conn *c, const char *proposal_id, long long offset,
                                long long limit, store_vote_cb cb, void *ctx, long long *total)
{
    static const char count_sql[] = "SELECT count(*) FROM votes WHERE proposal_id = ?";
    static const char sql[] = "SELECT " VOTE_COLS " FROM votes WHERE proposal_id = ? "
                              "ORDER BY created_at, voter_id LIMIT ? OFFSET ?";
    *total = 0;
    sqlite3_stmt *st = sq_prepare(c, count_sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, proposal_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_err(c, rc, "votes.count");
    if (limit <= 0)
        return FG_OK;
    if (!(st = sq_prepare(c, sql)))
        return FG_EDB;
    sq_bind_text(st, 1, proposal_id);
    sqlite3_bind_int64(st, 2, limit);
    sqlite3_bind_int64(st, 3, offset);
    struct store_vote v;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_vote(st, &v, 1);
        if (cb(&v, ctx)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "votes.list");
}

static enum fg_err g_trust_counts(struct store_conn *c, store_trust_count_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT trust_level, count(*) FROM users WHERE is_disabled = 0 GROUP BY trust_level";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ctx, sqlite3_column_int(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "users.trust_counts");
}

/* ---- savepoints ------------------------------------------------------------------------ */

static enum fg_err sp_exec(struct store_conn *c, const char *sql, const char *what)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? FG_OK : sq_err(c, rc, what);
}

static enum fg_err g_savepoint(struct store_conn *c)
{
    return sp_exec(c, "SAVEPOINT gov_exec", "savepoint");
}

static enum fg_err g_savepoint_release(struct store_conn *c)
{
    return sp_exec(c, "RELEASE gov_exec", "savepoint release");
}

static enum fg_err g_savepoint_rollback(struct store_conn *c)
{
    enum fg_err e = sp_exec(c, "ROLLBACK TO gov_exec", "savepoint rollback");
    if (e == FG_OK)
        e = sp_exec(c, "RELEASE gov_exec", "savepoint release");
    return e;
}

/* ---- settings -------------------------------------------------------------------------- */

static enum fg_err g_setting_put(struct store_conn *c, const char *key, const char *value)
{
    static const char sql[] =
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET "
        "value = excluded.value, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, key);
    sq_bind_text(st, 2, value);
    return sq_step_done(c, st, "settings.put", NULL);
}

static enum fg_err g_settings_list(struct store_conn *c, const char *prefix, store_setting_cb cb,
                                   void *ctx)
{
    static const char sql[] = "SELECT key, value FROM settings WHERE substr(key, 1, length(?1)) "
                              "= ?1 ORDER BY key";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, prefix);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const char *v = (const char *)sqlite3_column_text(st, 1);
        cb(ctx, k ? k : "", v ? v : "");
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FG_OK : sq_err(c, rc, "settings.list");
}

/* ---- quarantines ----------------------------------------------------------------------- */

static enum fg_err g_quarantine_open(struct store_conn *c, const struct store_quarantine *q)
{
    static const char sql[] =
        "INSERT INTO quarantines (id, target_type, target_id, previous_trust, reason, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, q->id);
    sq_bind_text(st, 2, q->target_type);
    sq_bind_text(st, 3, q->target_id);
    sqlite3_bind_int(st, 4, q->previous_trust);
    sq_bind_text(st, 5, q->reason ? q->reason : "");
    sqlite3_bind_int64(st, 6, q->created_at);
    return sq_step_done(c, st, "quarantines.open", NULL);
}

static enum fg_err g_quarantine_get_open(struct store_conn *c, const char *target_type,
                                         const char *target_id, struct store_quarantine *out)
{
    static const char sql[] =
        "SELECT id, target_type, target_id, previous_trust, created_at FROM quarantines "
        "WHERE target_type = ? AND target_id = ? AND released_at IS NULL";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, target_type);
    sq_bind_text(st, 2, target_id);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        sq_col_text(st, 0, out->id, sizeof out->id);
        sq_col_text(st, 1, out->target_type, sizeof out->target_type);
        sq_col_text(st, 2, out->target_id, sizeof out->target_id);
        out->previous_trust = sqlite3_column_int(st, 3);
        out->created_at = sqlite3_column_int64(st, 4);
    } else if (rc == SQLITE_DONE) {
        e = FG_ENOTFOUND;
    } else {
        e = sq_err(c, rc, "quarantines.get");
    }
    sqlite3_reset(st);
    return e;
}

static enum fg_err g_quarantine_release(struct store_conn *c, const char *id,
                                        const char *release_id, int64_t at)
{
    static const char sql[] = "UPDATE quarantines SET released_at = ?, release_id = ? "
                              "WHERE id = ? AND released_at IS NULL";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int64(st, 1, at);
    sq_bind_text(st, 2, release_id);
    sq_bind_text(st, 3, id);
    return step_transition(c, st, "quarantines.release");
}

/* ---- rules and electorate (issue 11) --------------------------------------------------- */

static enum fg_err g_set_rules(struct store_conn *c, const char *id, int quorum_ppm,
                               int threshold_ppm, double voting_hours)
{
    static const char sql[] =
        "UPDATE proposals SET quorum_ppm = ?, threshold_ppm = ?, voting_duration_hours = ? "
        "WHERE id = ? AND status = 'draft'";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sqlite3_bind_int(st, 1, quorum_ppm);
    sqlite3_bind_int(st, 2, threshold_ppm);
    sqlite3_bind_double(st, 3, voting_hours);
    sq_bind_text(st, 4, id);
    return step_transition(c, st, "proposals.set_rules");
}

/* The weights of fg_gov_weight2 (core/governance.c) in SQL; the API test of the eligible weight
 * checks that both agree. */
#define WEIGHT2_SQL                                                                                \
    "CASE WHEN trust_level >= 100 THEN 10 WHEN trust_level >= 80 THEN 6 WHEN trust_level >= 60 "   \
    "THEN 2 ELSE 1 END"

static enum fg_err g_electorate_snapshot(struct store_conn *c, const char *id, int64_t *eligible2)
{
    static const char ins[] =
        "INSERT INTO proposal_electorate (proposal_id, user_id, weight2, trust) "
        "SELECT ?1, id, " WEIGHT2_SQL ", trust_level FROM users "
        "WHERE is_disabled = 0 AND trust_level >= 40";
    static const char sum[] =
        "SELECT coalesce(sum(weight2), 0) FROM proposal_electorate WHERE proposal_id = ?";
    *eligible2 = 0;
    sqlite3_stmt *st = sq_prepare(c, ins);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, id);
    enum fg_err e = sq_step_done(c, st, "electorate.snapshot", NULL);
    if (e != FG_OK)
        return e;
    if (!(st = sq_prepare(c, sum)))
        return FG_EDB;
    sq_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *eligible2 = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? FG_OK : sq_err(c, rc, "electorate.sum");
}

static enum fg_err g_electorate_get(struct store_conn *c, const char *id, const char *user_id,
                                    int *weight2, int *trust)
{
    static const char sql[] = "SELECT weight2, trust FROM proposal_electorate "
                              "WHERE proposal_id = ? AND user_id = ?";
    sqlite3_stmt *st = sq_prepare(c, sql);
    if (!st)
        return FG_EDB;
    sq_bind_text(st, 1, id);
    sq_bind_text(st, 2, user_id);
    int rc = sqlite3_step(st);
    enum fg_err e = FG_OK;
    if (rc == SQLITE_ROW) {
        *weight2 = sqlite3_column_int(st, 0);
        *trust = sqlite3_column_int(st, 1);
    } else if (rc == SQLITE_DONE) {
        e = FG_ENOTFOUND;
    } else {
        e = sq_err(c, rc, "electorate.get");
    }
    sqlite3_reset(st);
    return e;
}

const struct store_governance_ops sqlite_governance_ops = {
    .create = g_create,
    .get = g_get,
    .list = g_list,
    .activate = g_activate,
    .cancel = g_cancel,
    .close = g_close,
    .finish = g_finish,
    .due = g_due,
    .stats = g_stats,
    .vote_get = g_vote_get,
    .vote_put = g_vote_put,
    .votes_list = g_votes_list,
    .trust_counts = g_trust_counts,
    .savepoint = g_savepoint,
    .savepoint_release = g_savepoint_release,
    .savepoint_rollback = g_savepoint_rollback,
    .setting_put = g_setting_put,
    .settings_list = g_settings_list,
    .quarantine_open = g_quarantine_open,
    .quarantine_get_open = g_quarantine_get_open,
    .quarantine_release = g_quarantine_release,
    .set_rules = g_set_rules,
    .electorate_snapshot = g_electorate_snapshot,
    .electorate_get = g_electorate_get,
};
