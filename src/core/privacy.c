/* GDPR rights: export stream, erasure jobs, consent (privacy.h, docs/privacy.md). */
#include "core/privacy.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/app.h"
#include "core/audit.h"
#include "core/crypt.h"
#include "core/events.h"
#include "core/identity.h"
#include "core/ctx.h"
#include "store/privacy.h"
#include "store/store.h"
#include "store/users.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"

#define P(app) ((app)->store->privacy)
/* One page of the export in memory at most (10 capsules with their revisions; 200 other rows). */
#define FG_EXPORT_BUF_MAX ((size_t)256 << 20)

/* One erasure at a time per process: the steps are idempotent, this only keeps two requests for
 * the same account from doing the work twice. */
static pthread_mutex_t erase_mu = PTHREAD_MUTEX_INITIALIZER;
static long long test_pause_ms; /* FORGE_TEST_ERASE_PAUSE_MS (development only): kill -9 tests */

/* ---- consent purposes -------------------------------------------------------------------- */

static int purpose_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

int fg_consent_purpose_known(const struct fg_app *app, const char *purpose)
{
    const char *list = app->cfg->consent_purposes ? app->cfg->consent_purposes : "";
    size_t pl = strlen(purpose);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == pl && strncmp(p, purpose, n) == 0)
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

static int purposes_check(const char *list, char *err, size_t errlen)
{
    int count = 0;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (!purpose_name_ok(p, n)) {
            snprintf(err, errlen,
                     "CONSENT_PURPOSES: '%.*s' is not a purpose name ([a-z0-9_], 1-64 chars)",
                     (int)(n > 64 ? 64 : n), p);
            return -1;
        }
        if (++count > FG_CONSENT_PURPOSES_MAX) {
            snprintf(err, errlen, "CONSENT_PURPOSES: at most %d purposes", FG_CONSENT_PURPOSES_MAX);
            return -1;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* ---- erasure --------------------------------------------------------------------------- */

static void pause_for_tests(void)
{
    if (test_pause_ms <= 0)
        return;
    struct timespec ts = {test_pause_ms / 1000, (test_pause_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The final step: account anonymised, audit entry (ids and counts only), event, job done. */
static enum fg_err erase_account(struct fg_app *app, const struct fg_ctx *ctx, const char *uid,
                                 const struct store_erasure_job *job)
{
    /* crypto-shredding first (docs/privacy.md): once the key is gone, every copy of the user's
     * encrypted personal data — backups included — is unreadable. Idempotent, so a resumed job
     * does it again harmlessly (a key destroyed before is FG_ENOTFOUND, e.g. when a restored backup
     * is cleaned by the ledger); FG_EINVAL: no encryption in this process. */
    enum fg_err e = fg_crypt_destroy_key(uid);
    if (e != FG_OK && e != FG_EINVAL && e != FG_ENOTFOUND) /* ENOTFOUND: destroyed already */
        return e;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    e = P(app)->anonymise_account(c, uid, fg_now_ms());
    if (e == FG_OK) {
        json_t *d = json_pack("{sssIsIsI}", "requested_by", job->requested_by, "capsules_removed",
                              (json_int_t)job->capsules_removed, "capsules_tombstoned",
                              (json_int_t)job->capsules_tombstoned, "votes_anonymised",
                              (json_int_t)job->votes_anonymised);
        struct fg_audit_entry a = {0};
        if (ctx) {
            fg_audit_from_ctx(&a, ctx);
            a.client_ip = NULL; /* an audit entry without personal data */
        }
        a.action = "user.erase";
        a.resource_type = "user";
        a.resource_id = uid;
        a.outcome = "success";
        a.details = d;
        e = fg_audit_record(app, c, &a);
        json_decref(d);
    }
    if (e == FG_OK) {
        json_t *payload = json_pack("{ssss}", "user_id", uid, "requested_by", job->requested_by);
        e = fg_event_emit(app, c, "user.anonymized", uid, payload);
        json_decref(payload);
    }
    if (e == FG_OK)
        e = P(app)->job_advance(c, uid, "done", 0, 0, 0, fg_now_ms());
    e = store_tx_close(app->store, c, e);
    if (e == FG_OK)
        fg_identity_user_changed(app, uid); /* disabled at once: tokens refused */
    return e;
}

/* Runs the job of `uid` to the end from whatever state it is in. */
static enum fg_err run_job(struct fg_app *app, const struct fg_ctx *ctx, const char *uid)
{
    for (;;) {
        struct store_erasure_job job;
        enum fg_err e;
        struct store_conn *c = store_acquire(app->store, &e);
        if (!c)
            return e;
        e = P(app)->job_get(c, uid, &job);
        store_release(app->store, c);
        if (e != FG_OK)
            return e;
        if (strcmp(job.state, "done") == 0)
            return FG_OK;
        if (strcmp(job.state, "account") == 0) {
            e = erase_account(app, ctx, uid, &job);
            if (e != FG_OK)
                return e;
            continue;
        }
        if (!(c = store_tx_open(app->store, &e)))
            return e;
        if (strcmp(job.state, "capsules") == 0) {
            long long rm = 0, tb = 0;
            e = P(app)->erase_capsules(c, uid, fg_now_ms(), FG_ERASE_BATCH, &rm, &tb);
            if (e == FG_OK)
                e = P(app)->job_advance(c, uid, rm + tb ? "capsules" : "votes", rm, tb, 0,
                                        fg_now_ms());
            e = store_tx_close(app->store, c, e);
            if (e == FG_OK && rm + tb)
                pause_for_tests();
        } else { /* votes */
            long long n = 0;
            e = P(app)->anonymise_votes(c, uid, &n);
            if (e == FG_OK)
                e = P(app)->job_advance(c, uid, "account", 0, 0, n, fg_now_ms());
            e = store_tx_close(app->store, c, e);
        }
        if (e != FG_OK)
            return e;
    }
}

static enum fg_err start_job(struct fg_app *app, const char *uid, const char *by)
{
    enum fg_err e;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    int created = 0;
    e = P(app)->job_start(c, uid, by, fg_now_ms(), &created);
    return store_tx_close(app->store, c, e);
}

enum fg_err fg_privacy_erase(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                             const char *requested_by, struct fg_erase_result *out)
{
    memset(out, 0, sizeof *out);
    if (!app->store->privacy)
        return FG_EUNAVAIL;
    enum fg_err e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    int erased = 0;
    struct store_erasure_job job;
    e = P(app)->user_erased(c, user_id, &erased);
    enum fg_err je = e == FG_OK ? P(app)->job_get(c, user_id, &job) : e;
    store_release(app->store, c);
    if (e != FG_OK)
        return e;
    if (erased && je == FG_OK && strcmp(job.state, "done") == 0) {
        out->already = 1;
        out->capsules_removed = job.capsules_removed;
        out->capsules_tombstoned = job.capsules_tombstoned;
        out->votes_anonymised = job.votes_anonymised;
        return FG_OK;
    }
    pthread_mutex_lock(&erase_mu);
    /* the ledger first: whatever happens next, a restore re-applies this erasure */
    e = P(app)->ledger_append(app->store, user_id, fg_now_ms());
    if (e == FG_OK)
        e = start_job(app, user_id, requested_by);
    if (e == FG_OK)
        e = run_job(app, ctx, user_id);
    pthread_mutex_unlock(&erase_mu);
    if (e != FG_OK) {
        fg_log(FG_LOG_ERROR, "erasure_failed", FG_LF_STR("user_id", user_id),
               FG_LF_STR("error", fg_err_name(e)), FG_LF_END);
        return e;
    }
    if (!(c = store_acquire(app->store, &e)))
        return FG_OK; /* done; the counts are only informative */
    if (P(app)->job_get(c, user_id, &job) == FG_OK) {
        out->capsules_removed = job.capsules_removed;
        out->capsules_tombstoned = job.capsules_tombstoned;
        out->votes_anonymised = job.votes_anonymised;
    }
    store_release(app->store, c);
    fg_log(FG_LOG_INFO, "user_erased", FG_LF_STR("user_id", user_id),
           FG_LF_INT("capsules_removed", out->capsules_removed),
           FG_LF_INT("capsules_tombstoned", out->capsules_tombstoned), FG_LF_END);
    return FG_OK;
}

struct reapply_ctx {
    struct fg_app *app;
    char (*ids)[37];
    size_t n, cap;
    enum fg_err err;
};

static void ids_push(struct reapply_ctx *x, const char *id)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 16;
        x->ids = fg_xrealloc(x->ids, x->cap * sizeof *x->ids);
    }
    snprintf(x->ids[x->n++], sizeof x->ids[0], "%s", id);
}

static int ledger_cb(const char *uid, int64_t at, void *vctx)
{
    (void)at;
    struct reapply_ctx *x = vctx;
    enum fg_err e;
    struct store_conn *c = store_acquire(x->app->store, &e);
    if (!c) {
        x->err = e;
        return 1;
    }
    int erased = 0;
    e = P(x->app)->user_erased(c, uid, &erased);
    store_release(x->app->store, c);
    if (e == FG_ENOTFOUND) /* the data predates the account: nothing to erase */
        return 0;
    if (e != FG_OK) {
        x->err = e;
        return 1;
    }
    if (!erased) {
        if ((e = start_job(x->app, uid, "ledger")) != FG_OK) {
            x->err = e;
            return 1;
        }
    }
    return 0;
}

static int pending_cb(const char *uid, void *vctx)
{
    ids_push(vctx, uid);
    return 0;
}

enum fg_err fg_privacy_reapply(struct fg_app *app, const struct fg_ctx *ctx, int *applied)
{
    struct fg_job_ctx job;
    if (!ctx)
        ctx = fg_ctx_job(&job, FG_ERASURE_ACTOR);
    if (applied)
        *applied = 0;
    if (!app->store->privacy)
        return FG_OK;
    struct reapply_ctx x = {.app = app};
    enum fg_err e = P(app)->ledger_list(app->store, ledger_cb, &x);
    if (e == FG_OK)
        e = x.err;
    if (e != FG_OK)
        return e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = P(app)->jobs_pending(c, 100000, pending_cb, &x);
    store_release(app->store, c);
    pthread_mutex_lock(&erase_mu);
    for (size_t i = 0; i < x.n && e == FG_OK; i++) {
        fg_log(FG_LOG_WARN, "erasure_resumed", FG_LF_STR("user_id", x.ids[i]), FG_LF_END);
        e = run_job(app, ctx, x.ids[i]);
        if (e == FG_OK && applied)
            (*applied)++;
    }
    pthread_mutex_unlock(&erase_mu);
    free(x.ids);
    return e;
}

int fg_privacy_start(struct fg_app *app, char *err, size_t errlen)
{
    if (purposes_check(app->cfg->consent_purposes ? app->cfg->consent_purposes : "", err, errlen) !=
        0)
        return -1;
    if (app->cfg->environment == FG_ENV_DEVELOPMENT) {
        const char *p = getenv("FORGE_TEST_ERASE_PAUSE_MS");
        test_pause_ms = p ? strtoll(p, NULL, 10) : 0;
        if (test_pause_ms < 0 || test_pause_ms > 60000)
            test_pause_ms = 0;
    }
    int applied = 0;
    enum fg_err e = fg_privacy_reapply(app, NULL, &applied);
    if (e != FG_OK) {
        snprintf(err, errlen, "erasure ledger: re-applying recorded erasures failed (%s)",
                 fg_err_name(e));
        return -1;
    }
    if (applied)
        fg_log(FG_LOG_WARN, "erasures_reapplied", FG_LF_INT("count", applied), FG_LF_END);
    return 0;
}

/* ---- export stream ------------------------------------------------------------------- */

static const char *const kind_names[STORE_EXPORT_NKINDS] = {
    "capsules", "votes", "proposals", "sessions", "consents", "audit",
};

struct fg_export {
    struct fg_app *app;
    char uid[37];
    int phase; /* 0 header, 1..NKINDS sections, NKINDS+1 trailer, NKINDS+2 end */
    int first;
    char after[80];
    long long rows;
    int overflow; /* one page did not fit FG_EXPORT_BUF_MAX */
    struct fg_buf buf;
    size_t off;
};

struct fg_export *fg_export_open(struct fg_app *app, const char *user_id, enum fg_err *err)
{
    *err = FG_OK;
    if (!app->store->privacy) {
        *err = FG_EUNAVAIL;
        return NULL;
    }
    struct fg_export *x = fg_xcalloc(1, sizeof *x);
    x->app = app;
    snprintf(x->uid, sizeof x->uid, "%s", user_id);
    fg_buf_init(&x->buf, FG_EXPORT_BUF_MAX);
    struct store_user u;
    enum fg_err e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (c) {
        e = app->store->users->get_by_id(c, user_id, &u);
        store_release(app->store, c);
    }
    if (e != FG_OK) {
        fg_export_close(x);
        *err = e;
        return NULL;
    }
    /* the header is built at once: the profile is small */
    char now[40];
    fg_time_iso(fg_now_ms(), now, sizeof now);
    json_t *prof = fg_user_json(&u);
    memset(u.password_hash, 0, sizeof u.password_hash);
    memset(u.mfa_secret, 0, sizeof u.mfa_secret);
    char *ps = json_dumps(prof, JSON_COMPACT);
    json_decref(prof);
    fg_buf_printf(&x->buf,
                  "{\"data\":{\"schema\":\"%s\",\"schema_version\":%d,\"generated_at\":\"%s\","
                  "\"user\":%s",
                  FG_EXPORT_SCHEMA, FG_EXPORT_SCHEMA_VERSION, now, ps ? ps : "null");
    free(ps);
    x->phase = 1;
    x->first = 1;
    fg_buf_printf(&x->buf, ",\"%s\":[", kind_names[0]);
    return x;
}

/* Audit rows are stored with their personal fields sealed (core/crypt_store.c): the export gives
 * the user their own data in clear. Returns a new JSON text, or NULL to keep the row as it is. */
static char *open_audit_json(const char *json)
{
    json_t *o = json_loads(json, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    int changed = 0;
    static const char *const fields[][2] = {{"client_ip", "audit.client_ip"},
                                            {"resource_id", "audit.resource_id"}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = json_string_value(json_object_get(o, fields[i][0]));
        if (v && fg_crypt_is_sealed(v)) {
            char *plain = fg_crypt_unseal_alloc(fields[i][1], v);
            json_object_set_new(o, fields[i][0], plain ? json_string(plain) : json_null());
            free(plain);
            changed = 1;
        }
    }
    const char *sealed =
        json_string_value(json_object_get(json_object_get(o, "details"), "sealed"));
    if (sealed && fg_crypt_is_sealed(sealed)) {
        char *plain = fg_crypt_unseal_alloc("audit.details", sealed);
        json_t *d = plain ? json_loads(plain, 0, NULL) : NULL;
        json_object_set_new(o, "details", d ? d : json_pack("{sb}", "unavailable", 1));
        free(plain);
        changed = 1;
    }
    char *out = changed ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return out;
}

static int row_cb(const char *key, const char *json, void *vctx)
{
    struct fg_export *x = vctx;
    char *opened = x->phase - 1 == STORE_EXPORT_AUDIT && json ? open_audit_json(json) : NULL;
    if (opened)
        json = opened;
    if ((!x->first && fg_buf_puts(&x->buf, ",") != FG_OK) ||
        fg_buf_puts(&x->buf, json ? json : "null") != FG_OK) {
        free(opened);
        x->overflow = 1;
        return 1;
    }
    free(opened);
    x->first = 0;
    snprintf(x->after, sizeof x->after, "%s", key ? key : "");
    x->rows++;
    return 0;
}

/* Appends the next piece of the document to x->buf. -1 on a store error. */
static int fill(struct fg_export *x)
{
    if (x->phase > STORE_EXPORT_NKINDS + 1)
        return 0;
    if (x->phase == STORE_EXPORT_NKINDS + 1) {
        fg_buf_printf(&x->buf, "},\"meta\":{\"schema\":\"%s\",\"schema_version\":%d}}\n",
                      FG_EXPORT_SCHEMA, FG_EXPORT_SCHEMA_VERSION);
        x->phase++;
        return 0;
    }
    enum store_export_kind k = (enum store_export_kind)(x->phase - 1);
    long long limit = k == STORE_EXPORT_CAPSULES ? 10 : 200;
    enum fg_err e;
    struct store_conn *c = store_acquire(x->app->store, &e);
    if (!c)
        return -1;
    x->rows = 0;
    e = P(x->app)->export_rows(c, k, x->uid, x->after, limit, row_cb, x);
    store_release(x->app->store, c);
    if (e != FG_OK || x->overflow)
        return -1;
    if (x->rows < limit) { /* section complete */
        fg_buf_puts(&x->buf, "]");
        x->phase++;
        x->first = 1;
        x->after[0] = '\0';
        if (x->phase <= STORE_EXPORT_NKINDS)
            fg_buf_printf(&x->buf, ",\"%s\":[", kind_names[x->phase - 1]);
    }
    return 0;
}

ssize_t fg_export_read(struct fg_export *x, char *buf, size_t max)
{
    while (x->off >= x->buf.len) {
        fg_buf_reset(&x->buf);
        x->off = 0;
        if (x->phase > STORE_EXPORT_NKINDS + 1)
            return 0;
        if (fill(x) != 0) {
            fg_log(FG_LOG_ERROR, "export_failed", FG_LF_STR("user_id", x->uid), FG_LF_END);
            return -1;
        }
    }
    size_t n = x->buf.len - x->off;
    if (n > max)
        n = max;
    memcpy(buf, x->buf.p + x->off, n);
    x->off += n;
    return (ssize_t)n;
}

void fg_export_close(struct fg_export *x)
{
    if (!x)
        return;
    fg_buf_free(&x->buf);
    free(x);
}

/* ---- consent ----------------------------------------------------------------------------- */

static int consent_json_cb(const struct store_consent *k, void *vctx)
{
    char at[40];
    fg_time_iso(k->at, at, sizeof at);
    json_array_append_new(vctx,
                          json_pack("{sssbssss}", "purpose", k->purpose, "granted", k->granted,
                                    "policy_version", k->policy_version, "at", at));
    return 0;
}

enum fg_err fg_consent_get(struct fg_app *app, const char *user_id, long long history_max,
                           json_t **out)
{
    *out = NULL;
    if (!app->store->privacy)
        return FG_EUNAVAIL;
    enum fg_err e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    json_t *cur = json_array(), *hist = json_array();
    long long total = 0;
    e = P(app)->consent_current(c, user_id, consent_json_cb, cur);
    if (e == FG_OK)
        e = P(app)->consent_history(c, user_id, 0, history_max, consent_json_cb, hist, &total);
    store_release(app->store, c);
    if (e != FG_OK) {
        json_decref(cur);
        json_decref(hist);
        return e;
    }
    /* every configured purpose, withdrawn (never granted) when there is no record */
    json_t *purposes = json_array();
    const char *list = app->cfg->consent_purposes ? app->cfg->consent_purposes : "";
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        json_t *found = NULL, *v;
        size_t i;
        json_array_foreach(cur, i, v)
        {
            const char *name = json_string_value(json_object_get(v, "purpose"));
            if (name && strlen(name) == n && strncmp(name, p, n) == 0)
                found = v;
        }
        json_t *o = json_object();
        json_object_set_new(o, "purpose", json_stringn(p, n));
        json_object_set_new(o, "granted",
                            json_boolean(found && json_is_true(json_object_get(found, "granted"))));
        json_object_set(o, "policy_version",
                        found ? json_object_get(found, "policy_version") : json_null());
        json_object_set(o, "updated_at", found ? json_object_get(found, "at") : json_null());
        json_array_append_new(purposes, o);
        if (!end)
            break;
        p = end + 1;
    }
    json_decref(cur);
    *out = json_pack("{sssososI}", "policy_version",
                     app->cfg->consent_policy_version ? app->cfg->consent_policy_version : "",
                     "purposes", purposes, "history", hist, "history_total", (json_int_t)total);
    return FG_OK;
}

enum fg_err fg_consent_put(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                           json_t *changes)
{
    if (!app->store->privacy)
        return FG_EUNAVAIL;
    const char *pv = app->cfg->consent_policy_version ? app->cfg->consent_policy_version : "";
    enum fg_err e;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    int64_t now = fg_now_ms();
    const char *purpose;
    json_t *v;
    json_object_foreach(changes, purpose, v)
    {
        if (e != FG_OK)
            break;
        e = P(app)->consent_add(c, user_id, purpose, json_is_true(v), pv, now);
    }
    if (e == FG_OK) {
        json_t *d = json_pack("{sOss}", "changes", changes, "policy_version", pv);
        struct fg_audit_entry a = {0};
        if (ctx)
            fg_audit_from_ctx(&a, ctx);
        a.actor_id = user_id;
        a.action = "consent.update";
        a.resource_type = "user";
        a.resource_id = user_id;
        a.outcome = "success";
        a.details = d;
        e = fg_audit_record(app, c, &a);
        json_decref(d);
    }
    return store_tx_close(app->store, c, e);
}

struct granted_ctx {
    const char *purpose;
    int granted;
};

static int granted_cb(const struct store_consent *k, void *vctx)
{
    struct granted_ctx *g = vctx;
    if (strcmp(k->purpose, g->purpose) == 0)
        g->granted = k->granted;
    return 0;
}

enum fg_err fg_consent_granted(struct fg_app *app, const char *user_id, const char *purpose,
                               int *granted)
{
    *granted = 0;
    if (!app->store->privacy)
        return FG_EUNAVAIL;
    enum fg_err e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    struct granted_ctx g = {purpose, 0};
    e = P(app)->consent_current(c, user_id, granted_cb, &g);
    store_release(app->store, c);
    *granted = g.granted;
    return e;
}
