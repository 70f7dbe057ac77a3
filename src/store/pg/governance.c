/*
 * PostgreSQL implementation of store/governance.h (proposals, votes, quarantines, settings);
 * mirrors store/sqlite/governance.c (store_proposal_statuses is defined there, once).
 *
 * Serialisation: SQLite runs one write transaction at a time, so a vote (read status, insert vote)
 * and a close (read tallies, change status) never interleave. Here, inside a transaction, every
 * write and get() first take forge_write_lock() (pg_write_lock: the writers' lock, always before
 * row locks, so transactions cannot deadlock); get() then locks the proposal row (FOR NO KEY
 * UPDATE: inserting votes that reference it is not blocked) and reads it with a fresh statement,
 * so the tallies include every vote committed before the locks were granted. A vote and a close
 * of the same proposal thus run one after the other, as on SQLite. Transitions are conditional
 * updates as on SQLite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/governance.h"
#include "store/pg/pg_int.h"
#include "util/mem.h"

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

static char *col_dup(const PGresult *r, int i, int col)
{
    return PQgetisnull(r, i, col) ? NULL : fg_xstrdup(PQgetvalue(r, i, col));
}

static void row_proposal(const PGresult *r, int i, struct store_proposal *p)
{
    memset(p, 0, sizeof *p);
    pg_get_text(r, i, 0, p->id, sizeof p->id);
    p->title = col_dup(r, i, 1);
    p->description = col_dup(r, i, 2);
    pg_get_text(r, i, 3, p->type, sizeof p->type);
    p->payload = col_dup(r, i, 4);
    pg_get_text(r, i, 5, p->proposer_id, sizeof p->proposer_id);
    pg_get_text(r, i, 6, p->status, sizeof p->status);
    p->voting_duration_hours = strtod(PQgetvalue(r, i, 7), NULL);
    p->quorum_ppm = (int)pg_get_i64(r, i, 8);
    p->threshold_ppm = (int)pg_get_i64(r, i, 9);
    p->eligible_weight2 = pg_get_i64(r, i, 10);
    p->review = col_dup(r, i, 11);
    p->execution_result = col_dup(r, i, 12);
    p->created_at = pg_get_i64(r, i, 13);
    p->updated_at = pg_get_i64(r, i, 14);
    p->activated_at = pg_get_i64(r, i, 15);
    p->voting_ends_at = pg_get_i64(r, i, 16);
    p->closed_at = pg_get_i64(r, i, 17);
    p->executed_at = pg_get_i64(r, i, 18);
    p->cancelled_at = pg_get_i64(r, i, 19);
    p->for2 = pg_get_i64(r, i, 20);
    p->against2 = pg_get_i64(r, i, 21);
    p->abstain2 = pg_get_i64(r, i, 22);
    p->voters = pg_get_i64(r, i, 23);
}

/* A conditional transition: no row changed means the row was not in the expected state. */
static enum fg_err run_transition(struct store_conn *c, const char *sql, int n,
                                  const char *const *p)
{
    long long changes = 0;
    enum fg_err e = pg_run_locked(c, sql, n, p, &changes);
    if (e == FG_OK && changes == 0)
        e = FG_ECONFLICT;
    return e;
}

static enum fg_err g_create(struct store_conn *c, const struct store_proposal *p)
{
    static const char sql[] =
        "INSERT INTO proposals (id, title, description, type, payload, proposer_id, status, "
        "voting_duration_hours, quorum_ppm, threshold_ppm, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7::double precision, $8::integer, "
        "$9::integer, $10::bigint, $11::bigint)";
    char hours[40];
    snprintf(hours, sizeof hours, "%.17g", p->voting_duration_hours);
    struct pg_num q = pg_num(p->quorum_ppm), t = pg_num(p->threshold_ppm),
                  ca = pg_num(p->created_at), ua = pg_num(p->updated_at);
    const char *prm[] = {p->id,
                         p->title,
                         p->description,
                         p->type,
                         p->payload ? p->payload : "{}",
                         p->proposer_id,
                         hours,
                         q.s,
                         t.s,
                         ca.s,
                         ua.s};
    return pg_run_locked(c, sql, 11, prm, NULL);
}

static enum fg_err g_get(struct store_conn *c, const char *id, struct store_proposal *out)
{
    static const char lock[] = "SELECT 1 FROM proposals WHERE id = $1 FOR NO KEY UPDATE";
    static const char sql[] = "SELECT " PROPOSAL_COLS " FROM proposals p WHERE p.id = $1";
    const char *p[] = {id};
    enum fg_err e;
    PGresult *r;
    if (pg_conn_of(c)->in_tx) {
        /* lock first, then read in a new statement (a new snapshot under READ COMMITTED) */
        if ((e = pg_tx_write_lock(c)) != FG_OK)
            return e;
        if (!(r = pg_exec(c, lock, 1, p, &e)))
            return e;
        int found = PQntuples(r) > 0;
        PQclear(r);
        if (!found)
            return FG_ENOTFOUND;
    }
    if (!(r = pg_exec(c, sql, 1, p, &e)))
        return e;
    if (PQntuples(r) > 0)
        row_proposal(r, 0, out);
    else
        e = FG_ENOTFOUND;
    PQclear(r);
    return e;
}

static enum fg_err g_list(struct store_conn *c, const struct store_proposal_filter *f,
                          long long offset, long long limit, store_proposal_cb cb, void *ctx,
                          long long *total)
{
#define WHERE                                                                                      \
    " WHERE ($1::text IS NULL OR p.status = $1::text) AND ($2::text IS NULL OR p.type = "          \
    "$2::text) AND ($3::text IS NULL OR p.proposer_id = $3::text)"
    static const char count_sql[] = "SELECT count(*) FROM proposals p" WHERE;
    static const char sql[] = "SELECT " PROPOSAL_COLS " FROM proposals p" WHERE
                              " ORDER BY p.created_at DESC, p.id DESC LIMIT $4::bigint "
                              "OFFSET $5::bigint";
#undef WHERE
    *total = 0;
    struct pg_num l = pg_num(limit), o = pg_num(offset < 0 ? 0 : offset);
    const char *p[] = {f->status, f->type, f->proposer_id, l.s, o.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, count_sql, 3, p, &e);
    if (!r)
        return e;
    *total = PQntuples(r) ? pg_get_i64(r, 0, 0) : 0;
    PQclear(r);
    if (limit <= 0)
        return FG_OK;
    if (!(r = pg_exec(c, sql, 5, p, &e)))
        return e;
    struct store_proposal prop;
    for (int i = 0; i < PQntuples(r); i++) {
        row_proposal(r, i, &prop);
        int stop = cb(&prop, ctx);
        store_proposal_clear(&prop);
        if (stop)
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err g_activate(struct store_conn *c, const char *id, int64_t eligible_weight2,
                              int64_t at, int64_t ends_at, const char *review)
{
    static const char sql[] =
        "UPDATE proposals SET status = 'active', eligible_weight2 = $1::bigint, activated_at = "
        "$2::bigint, voting_ends_at = $3::bigint, review = $4, updated_at = $2::bigint "
        "WHERE id = $5 AND status = 'draft'";
    struct pg_num w = pg_num(eligible_weight2), a = pg_num(at), en = pg_num(ends_at);
    const char *p[] = {w.s, a.s, en.s, review, id};
    return run_transition(c, sql, 5, p);
}

static enum fg_err g_cancel(struct store_conn *c, const char *id, int64_t at)
{
    static const char sql[] =
        "UPDATE proposals SET status = 'cancelled', cancelled_at = $1::bigint, updated_at = "
        "$1::bigint WHERE id = $2 AND status IN ('draft', 'active')";
    struct pg_num a = pg_num(at);
    const char *p[] = {a.s, id};
    return run_transition(c, sql, 2, p);
}

static enum fg_err g_close(struct store_conn *c, const char *id, const char *status, int64_t at)
{
    static const char sql[] =
        "UPDATE proposals SET status = $1::text, closed_at = $2::bigint, updated_at = $2::bigint "
        "WHERE id = $3 AND status = 'active' AND $1::text IN ('approved', 'rejected')";
    struct pg_num a = pg_num(at);
    const char *p[] = {status, a.s, id};
    return run_transition(c, sql, 3, p);
}

static enum fg_err g_finish(struct store_conn *c, const char *id, const char *status,
                            const char *result, int64_t at)
{
    static const char sql[] =
        "UPDATE proposals SET status = $1::text, execution_result = $2, executed_at = $3::bigint, "
        "updated_at = $3::bigint WHERE id = $4 AND status = 'approved' AND "
        "$1::text IN ('executed', 'failed')";
    struct pg_num a = pg_num(at);
    const char *p[] = {status, result ? result : "{}", a.s, id};
    return run_transition(c, sql, 4, p);
}

static enum fg_err g_due(struct store_conn *c, int64_t now, long long limit,
                         int (*cb)(const char *id, void *ctx), void *ctx)
{
    static const char sql[] = "SELECT id FROM proposals WHERE status = 'active' AND "
                              "voting_ends_at <= $1::bigint ORDER BY voting_ends_at, id "
                              "LIMIT $2::bigint";
    struct pg_num t = pg_num(now), l = pg_num(limit < 0 ? 0 : limit);
    const char *p[] = {t.s, l.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 2, p, &e);
    if (!r)
        return e;
    /* the result is held client-side: the callback may use this connection */
    for (int i = 0; i < PQntuples(r); i++) {
        char id[37];
        pg_get_text(r, i, 0, id, sizeof id);
        if (cb(id, ctx))
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err g_stats(struct store_conn *c, struct store_governance_stats *out)
{
    static const char by_status[] = "SELECT status, count(*) FROM proposals GROUP BY status";
    static const char votes[] = "SELECT count(*) FROM votes";
    static const char mean[] =
        "SELECT avg(CASE WHEN p.eligible_weight2 > 0 THEN CAST((SELECT coalesce(sum(weight2), 0) "
        "FROM votes v WHERE v.proposal_id = p.id) AS DOUBLE PRECISION) / p.eligible_weight2 "
        "ELSE 0.0 END) FROM proposals p "
        "WHERE p.status IN ('approved', 'rejected', 'executed', 'failed')";
    memset(out, 0, sizeof *out);
    enum fg_err e;
    PGresult *r = pg_exec(c, by_status, 0, NULL, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *s = PQgetvalue(r, i, 0);
        long long n = pg_get_i64(r, i, 1);
        for (size_t k = 0; store_proposal_statuses[k]; k++)
            if (strcmp(s, store_proposal_statuses[k]) == 0)
                out->by_status[k] = n;
        out->total += n;
    }
    PQclear(r);
    if (!(r = pg_exec(c, votes, 0, NULL, &e)))
        return e;
    out->votes = PQntuples(r) ? pg_get_i64(r, 0, 0) : 0;
    PQclear(r);
    if (!(r = pg_exec(c, mean, 0, NULL, &e)))
        return e;
    if (PQntuples(r) && !PQgetisnull(r, 0, 0)) {
        out->has_mean = 1;
        out->mean_participation = strtod(PQgetvalue(r, 0, 0), NULL);
    }
    PQclear(r);
    return FG_OK;
}

/* ---- votes ----------------------------------------------------------------------------- */

#define VOTE_COLS                                                                                  \
    "proposal_id, voter_id, vote, weight2, voter_trust, reasoning, created_at, updated_at"

/* The reasoning (when asked for) points into r: valid until PQclear. */
static void row_vote(const PGresult *r, int i, struct store_vote *v, int with_reasoning)
{
    memset(v, 0, sizeof *v);
    pg_get_text(r, i, 0, v->proposal_id, sizeof v->proposal_id);
    pg_get_text(r, i, 1, v->voter_id, sizeof v->voter_id);
    pg_get_text(r, i, 2, v->vote, sizeof v->vote);
    v->weight2 = (int)pg_get_i64(r, i, 3);
    v->voter_trust = (int)pg_get_i64(r, i, 4);
    v->reasoning = with_reasoning ? PQgetvalue(r, i, 5) : NULL;
    v->created_at = pg_get_i64(r, i, 6);
    v->updated_at = pg_get_i64(r, i, 7);
}

static enum fg_err g_vote_get(struct store_conn *c, const char *proposal_id, const char *voter_id,
                              struct store_vote *out)
{
    static const char sql[] =
        "SELECT " VOTE_COLS " FROM votes WHERE proposal_id = $1 AND voter_id = $2";
    const char *p[] = {proposal_id, voter_id};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 2, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) > 0)
        row_vote(r, 0, out, 0);
    else
        e = FG_ENOTFOUND;
    PQclear(r);
    return e;
}

static enum fg_err g_vote_put(struct store_conn *c, const struct store_vote *v, int insert)
{
    static const char ins[] = "INSERT INTO votes (" VOTE_COLS ") VALUES ($1, $2, $3, $4::integer, "
                              "$5::integer, $6, $7::bigint, $8::bigint)";
    static const char upd[] =
        "UPDATE votes SET vote = $3, weight2 = $4::integer, voter_trust = $5::integer, "
        "reasoning = $6, updated_at = $7::bigint WHERE proposal_id = $1 AND voter_id = $2";
    struct pg_num w = pg_num(v->weight2), t = pg_num(v->voter_trust), ca = pg_num(v->created_at),
                  ua = pg_num(v->updated_at);
    const char *p[] = {
        v->proposal_id, v->voter_id, v->vote, w.s, t.s, v->reasoning ? v->reasoning : "",
        ca.s,           ua.s};
    if (insert)
        return pg_run_locked(c, ins, 8, p, NULL);
    /* the update keeps created_at (the order of first casting) */
    const char *pu[] = {p[0], p[1], p[2], p[3], p[4], p[5], ua.s};
    long long changes = 0;
    enum fg_err e = pg_run_locked(c, upd, 7, pu, &changes);
    return e == FG_OK && changes == 0 ? FG_ENOTFOUND : e;
}

static enum fg_err g_votes_list(struct store_conn *c, const char *proposal_id, long long offset,
                                long long limit, store_vote_cb cb, void *ctx, long long *total)
{
    static const char count_sql[] = "SELECT count(*) FROM votes WHERE proposal_id = $1";
    static const char sql[] = "SELECT " VOTE_COLS " FROM votes WHERE proposal_id = $1 "
                              "ORDER BY created_at, voter_id LIMIT $2::bigint OFFSET $3::bigint";
    *total = 0;
    struct pg_num l = pg_num(limit), o = pg_num(offset < 0 ? 0 : offset);
    const char *p[] = {proposal_id, l.s, o.s};
    enum fg_err e;
    PGresult *r = pg_exec(c, count_sql, 1, p, &e);
    if (!r)
        return e;
    *total = PQntuples(r) ? pg_get_i64(r, 0, 0) : 0;
    PQclear(r);
    if (limit <= 0)
        return FG_OK;
    if (!(r = pg_exec(c, sql, 3, p, &e)))
        return e;
    struct store_vote v;
    for (int i = 0; i < PQntuples(r); i++) {
        row_vote(r, i, &v, 1);
        if (cb(&v, ctx))
            break;
    }
    PQclear(r);
    return FG_OK;
}

static enum fg_err g_trust_counts(struct store_conn *c, store_trust_count_cb cb, void *ctx)
{
    static const char sql[] =
        "SELECT trust_level, count(*) FROM users WHERE is_disabled = 0 GROUP BY trust_level";
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 0, NULL, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++)
        cb(ctx, (int)pg_get_i64(r, i, 0), pg_get_i64(r, i, 1));
    PQclear(r);
    return FG_OK;
}

/* ---- savepoints ------------------------------------------------------------------------ */

static enum fg_err sp_exec(struct store_conn *c, const char *sql)
{
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 0, NULL, &e);
    PQclear(r);
    return e;
}

static enum fg_err g_savepoint(struct store_conn *c)
{
    return sp_exec(c, "SAVEPOINT gov_exec");
}

static enum fg_err g_savepoint_release(struct store_conn *c)
{
    return sp_exec(c, "RELEASE SAVEPOINT gov_exec");
}

static enum fg_err g_savepoint_rollback(struct store_conn *c)
{
    enum fg_err e = sp_exec(c, "ROLLBACK TO SAVEPOINT gov_exec");
    if (e == FG_OK)
        e = sp_exec(c, "RELEASE SAVEPOINT gov_exec");
    return e;
}

/* ---- settings -------------------------------------------------------------------------- */

static enum fg_err g_setting_put(struct store_conn *c, const char *key, const char *value)
{
    static const char sql[] =
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET "
        "value = excluded.value, updated_at = now()";
    const char *p[] = {key, value};
    return pg_run_locked(c, sql, 2, p, NULL);
}

static enum fg_err g_settings_list(struct store_conn *c, const char *prefix, store_setting_cb cb,
                                   void *ctx)
{
    /* byte order of the keys, as SQLite's BINARY collation */
    static const char sql[] = "SELECT key, value FROM settings WHERE left(key, length($1::text)) "
                              "= $1::text ORDER BY key COLLATE \"C\"";
    const char *p[] = {prefix}; /* NULL matches nothing, as on SQLite */
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 1, p, &e);
    if (!r)
        return e;
    for (int i = 0; i < PQntuples(r); i++)
        cb(ctx, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    PQclear(r);
    return FG_OK;
}

/* ---- quarantines ----------------------------------------------------------------------- */

static enum fg_err g_quarantine_open(struct store_conn *c, const struct store_quarantine *q)
{
    static const char sql[] =
        "INSERT INTO quarantines (id, target_type, target_id, previous_trust, reason, created_at) "
        "VALUES ($1, $2, $3, $4::integer, $5, $6::bigint)";
    struct pg_num t = pg_num(q->previous_trust), ca = pg_num(q->created_at);
    const char *p[] = {q->id, q->target_type, q->target_id, t.s, q->reason ? q->reason : "", ca.s};
    return pg_run_locked(c, sql, 6, p, NULL);
}

static enum fg_err g_quarantine_get_open(struct store_conn *c, const char *target_type,
                                         const char *target_id, struct store_quarantine *out)
{
    static const char sql[] =
        "SELECT id, target_type, target_id, previous_trust, created_at FROM quarantines "
        "WHERE target_type = $1 AND target_id = $2 AND released_at IS NULL";
    const char *p[] = {target_type, target_id};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 2, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) > 0) {
        memset(out, 0, sizeof *out);
        pg_get_text(r, 0, 0, out->id, sizeof out->id);
        pg_get_text(r, 0, 1, out->target_type, sizeof out->target_type);
        pg_get_text(r, 0, 2, out->target_id, sizeof out->target_id);
        out->previous_trust = (int)pg_get_i64(r, 0, 3);
        out->created_at = pg_get_i64(r, 0, 4);
    } else {
        e = FG_ENOTFOUND;
    }
    PQclear(r);
    return e;
}

static enum fg_err g_quarantine_release(struct store_conn *c, const char *id,
                                        const char *release_id, int64_t at)
{
    static const char sql[] = "UPDATE quarantines SET released_at = $1::bigint, release_id = $2 "
                              "WHERE id = $3 AND released_at IS NULL";
    struct pg_num a = pg_num(at);
    const char *p[] = {a.s, release_id, id};
    return run_transition(c, sql, 3, p);
}

/* ---- rules and electorate (issue 11) --------------------------------------------------- */

static enum fg_err g_set_rules(struct store_conn *c, const char *id, int quorum_ppm,
                               int threshold_ppm, double voting_hours)
{
    static const char sql[] =
        "UPDATE proposals SET quorum_ppm = $1::integer, threshold_ppm = $2::integer, "
        "voting_duration_hours = $3::double precision WHERE id = $4 AND status = 'draft'";
    char hours[40];
    snprintf(hours, sizeof hours, "%.17g", voting_hours);
    struct pg_num q = pg_num(quorum_ppm), t = pg_num(threshold_ppm);
    const char *p[] = {q.s, t.s, hours, id};
    return run_transition(c, sql, 4, p);
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
        "SELECT $1, id, " WEIGHT2_SQL ", trust_level FROM users "
        "WHERE is_disabled = 0 AND trust_level >= 40";
    static const char sum[] =
        "SELECT coalesce(sum(weight2), 0) FROM proposal_electorate WHERE proposal_id = $1";
    *eligible2 = 0;
    const char *p[] = {id};
    enum fg_err e = pg_run_locked(c, ins, 1, p, NULL);
    if (e != FG_OK)
        return e;
    PGresult *r = pg_exec(c, sum, 1, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) > 0)
        *eligible2 = pg_get_i64(r, 0, 0);
    PQclear(r);
    return FG_OK;
}

static enum fg_err g_electorate_get(struct store_conn *c, const char *id, const char *user_id,
                                    int *weight2, int *trust)
{
    static const char sql[] = "SELECT weight2, trust FROM proposal_electorate "
                              "WHERE proposal_id = $1 AND user_id = $2";
    const char *p[] = {id, user_id};
    enum fg_err e;
    PGresult *r = pg_exec(c, sql, 2, p, &e);
    if (!r)
        return e;
    if (PQntuples(r) > 0) {
        *weight2 = (int)pg_get_i64(r, 0, 0);
        *trust = (int)pg_get_i64(r, 0, 1);
    } else {
        e = FG_ENOTFOUND;
    }
    PQclear(r);
    return e;
}

const struct store_governance_ops pg_governance_ops = {
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
