/*
 * Audit log (audit.h, SPEC §9): entries are chained by SHA-256.
 *
 * Canonical serialisation (version 1), what `hash` covers:
 *
 *     "forge-audit-v1\n" followed by, for each field in this order —
 *     seq, id, at, actor_id, action, resource_type, resource_id, client_ip, correlation_id,
 *     outcome, details, prev_hash — either "<byte length>:<bytes>\n", or "-\n" for NULL.
 *
 * Numbers are decimal text; `details` is hashed exactly as stored (compact JSON, keys sorted), so
 * verification never re-serialises JSON. Length prefixes make the encoding unambiguous: no
 * choice of field contents can make two different entries serialise alike. The chain starts at
 * the all-zero hash. An edit changes an entry's hash; a removal breaks the seq sequence or the
 * next entry's prev_hash; removing the newest entries is caught by the head stored beside the
 * log (audit_chain). Someone able to rewrite the whole file can rebuild a consistent chain: keep
 * the head hash somewhere else too (the verify endpoint and CLI print it).
 */
#include "core/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/app.h"
#include "core/ctx.h"
#include "store/audit.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/time.h"
#include "util/uuid.h"

static void put_field(crypto_hash_sha256_state *st, const char *s)
{
    if (!s) {
        crypto_hash_sha256_update(st, (const unsigned char *)"-\n", 2);
        return;
    }
    char len[32];
    size_t n = strlen(s);
    int k = snprintf(len, sizeof len, "%zu:", n);
    crypto_hash_sha256_update(st, (const unsigned char *)len, (unsigned long long)k);
    crypto_hash_sha256_update(st, (const unsigned char *)s, n);
    crypto_hash_sha256_update(st, (const unsigned char *)"\n", 1);
}

static void put_int(crypto_hash_sha256_state *st, long long v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    put_field(st, b);
}

void fg_audit_hash(const struct store_audit_row *r, char out[65])
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)"forge-audit-v1\n", 15);
    put_int(&st, r->seq);
    put_field(&st, r->id);
    put_int(&st, (long long)r->at);
    put_field(&st, r->actor_id);
    put_field(&st, r->action);
    put_field(&st, r->resource_type);
    put_field(&st, r->resource_id);
    put_field(&st, r->client_ip);
    put_field(&st, r->correlation_id);
    put_field(&st, r->outcome);
    put_field(&st, r->details);
    put_field(&st, r->prev_hash);
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(out, 65, h, sizeof h);
}

enum fg_err fg_audit_record(struct fg_app *app, struct store_conn *c,
                            const struct fg_audit_entry *e)
{
    if (!app || !app->store || !app->store->audit) {
        fg_log(FG_LOG_WARN, "audit_unavailable", FG_LF_STR("action", e->action), FG_LF_END);
        return FG_OK;
    }
    char id[FG_UUID_STRLEN + 1];
    fg_uuid7(id);
    char *details = e->details ? json_dumps(e->details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    struct store_audit_row row = {
        .id = id,
        .at = fg_now_ms(),
        .actor_id = e->actor_id && *e->actor_id ? e->actor_id : NULL,
        .action = e->action,
        .resource_type = e->resource_type ? e->resource_type : "system",
        .resource_id = e->resource_id && *e->resource_id ? e->resource_id : NULL,
        .client_ip = e->client_ip && *e->client_ip ? e->client_ip : NULL,
        .correlation_id = e->correlation_id && *e->correlation_id ? e->correlation_id : NULL,
        .outcome = e->outcome ? e->outcome : "success",
        .details = details ? details : "{}",
    };
    enum fg_err err = FG_OK;
    if (c) {
        err = app->store->audit->append(c, &row, fg_audit_hash, NULL);
    } else {
        /* in a write transaction of its own */
        struct store_conn *own = store_acquire(app->store, &err);
        if (!own)
            goto out;
        if ((err = store_begin(app->store, own)) == FG_OK) {
            err = app->store->audit->append(own, &row, fg_audit_hash, NULL);
            if (err == FG_OK)
                err = store_commit(app->store, own);
            else
                store_rollback(app->store, own);
        }
        store_release(app->store, own);
    }
out:
    /* FEATURE_COMPLIANCE_LOGGING: the same entry as a log line for the log platform (ids only:
     * no IP, no details, which may name people). Written when the entry is recorded; an entry
     * recorded inside a transaction that later rolls back still appears here, so the audit table
     * (and its hash chain) stays the record of what happened. */
    if (err == FG_OK && app->cfg && app->cfg->feature_compliance_logging)
        fg_log(FG_LOG_INFO, "audit", FG_LF_STR("audit_id", id), FG_LF_STR("action", row.action),
               FG_LF_STR("resource_type", row.resource_type),
               FG_LF_STR("resource_id", row.resource_id ? row.resource_id : ""),
               FG_LF_STR("actor_id", row.actor_id ? row.actor_id : ""),
               FG_LF_STR("outcome", row.outcome),
               FG_LF_STR("correlation_id", row.correlation_id ? row.correlation_id : ""),
               FG_LF_END);
    if (err != FG_OK)
        fg_log(FG_LOG_ERROR, "audit_write_failed", FG_LF_STR("action", e->action),
               FG_LF_STR("error", fg_err_name(err)), FG_LF_END);
    free(details);
    return err;
}

void fg_audit_from_ctx(struct fg_audit_entry *e, const struct fg_ctx *ctx)
{
    if (!ctx)
        return;
    e->actor_id = fg_ctx_actor(ctx);
    e->client_ip = ctx->client_ip;
    e->correlation_id = ctx->correlation_id;
}

/* ---- verification ---------------------------------------------------------------------- */

struct verify_ctx {
    struct fg_audit_verify *v;
    const struct store_audit_chain *chain; /* filled by scan before the first row */
    int started;
    long long expect;
    char prev[65];
};

static void bad(struct verify_ctx *x, long long seq, const char *reason)
{
    if (x->v->valid) {
        x->v->valid = 0;
        x->v->first_bad_seq = seq;
        snprintf(x->v->reason, sizeof x->v->reason, "%s", reason);
    }
}

static void start(struct verify_ctx *x)
{
    if (x->started)
        return;
    x->started = 1;
    x->expect = x->chain->base_seq + 1;
    snprintf(x->prev, sizeof x->prev, "%s", x->chain->base_hash);
}

static int verify_row(const struct store_audit_row *r, void *vctx)
{
    struct verify_ctx *x = vctx;
    start(x);
    x->v->entries++;
    if (r->seq > x->expect)
        bad(x, x->expect, "entry missing (gap in sequence)");
    else if (r->seq < x->expect)
        bad(x, r->seq, "entry before the start of the chain");
    else if (strcmp(r->prev_hash, x->prev) != 0)
        bad(x, r->seq, "prev_hash does not match the previous entry");
    char h[65];
    fg_audit_hash(r, h);
    if (strcmp(h, r->hash) != 0)
        bad(x, r->seq, "hash mismatch (entry modified)");
    snprintf(x->prev, sizeof x->prev, "%s", r->hash);
    x->expect = r->seq + 1;
    return 0;
}

enum fg_err fg_audit_verify(struct store *s, struct fg_audit_verify *v)
{
    memset(v, 0, sizeof *v);
    v->valid = 1;
    if (!s || !s->audit)
        return FG_EUNAVAIL;
    enum fg_err e;
    struct store_conn *c = store_acquire(s, &e);
    if (!c)
        return e;
    struct store_audit_chain ch;
    memset(&ch, 0, sizeof ch);
    struct verify_ctx x = {.v = v, .chain = &ch};
    e = s->audit->scan(c, &ch, verify_row, &x);
    store_release(s, c);
    if (e != FG_OK)
        return e;
    start(&x);
    /* the newest entries: the log must end exactly at the recorded head */
    if (x.expect - 1 < ch.head_seq)
        bad(&x, x.expect, "newest entries missing (log ends before the recorded head)");
    else if (x.expect - 1 > ch.head_seq)
        bad(&x, ch.head_seq + 1, "entries after the recorded head");
    else if (strcmp(x.prev, ch.head_hash) != 0)
        bad(&x, ch.head_seq, "last entry does not match the recorded head hash");
    v->head_seq = ch.head_seq;
    snprintf(v->head_hash, sizeof v->head_hash, "%s", ch.head_hash);
    return FG_OK;
}
