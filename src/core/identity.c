/*
 * Identity: the rules of SPEC §3.3–3.5 (see identity.h for the design of the session and user
 * caches). Sections: helpers · start/stop · tokens · authentication · failures and locks ·
 * accounts · login · refresh/logout · self-service · MFA · admin.
 *
 * Transactions never span an Argon2 computation: rows are read, the connection is given back,
 * the password is verified, then a short write transaction records the outcome.
 */
#include "core/identity.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/app.h"
#include "core/audit.h"
#include "core/authz.h"
#include "core/events.h"
#include "core/immune.h"
#include "core/metrics.h"
#include "core/password.h"
#include "core/shared_state.h"
#include "core/totp.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"
#include "util/uuid.h"

#define SESSION_PURGE_INTERVAL_MS 3600000
#define SESSION_HISTORY_MS        86400000 /* revoked/expired sessions kept a day, then purged */
#define REVOKED_MARK_SLACK_MS     60000

struct fg_identity {
    int test_clock;
    _Atomic int64_t last_purge;
};

/* ---- helpers -------------------------------------------------------------------------- */

static const struct store_user_ops *U(struct fg_app *app)
{
    return app->store->users;
}

static void login_metric(const char *result)
{
    if (fgm.logins) {
        const char *v[] = {result};
        fg_metric_add(fgm.logins, v, 1);
    }
}

/* Appends an audit entry; `details` is consumed. */
static enum fg_err audit(struct fg_app *app, struct store_conn *c, const struct fg_ctx *ctx,
                         const char *actor, const char *action, const char *rtype, const char *rid,
                         const char *outcome, json_t *details)
{
    struct fg_audit_entry e = {0};
    if (ctx)
        fg_audit_from_ctx(&e, ctx);
    if (actor)
        e.actor_id = actor;
    e.action = action;
    e.resource_type = rtype;
    e.resource_id = rid;
    e.outcome = outcome;
    e.details = details;
    enum fg_err rc = fg_audit_record(app, c, &e);
    json_decref(details);
    if (rc != FG_OK)
        fg_log(FG_LOG_ERROR, "audit_failed", FG_LF_STR("action", action),
               FG_LF_STR("error", fg_err_name(rc)), FG_LF_END);
    return rc;
}

/* Key of per-email state: prefix + 32 hex of a BLAKE2b of the normalised email (no PII in the
 * shared state). */
static void email_key(const char *prefix, const char *email, char *out, size_t len)
{
    unsigned char h[16];
    char hex[33];
    crypto_generichash(h, sizeof h, (const unsigned char *)email, strlen(email), NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(out, len, "%s%s", prefix, hex);
}

static int64_t access_ttl_ms(const struct fg_app *app)
{
    return app->cfg->access_token_ttl_s * 1000;
}

static void cache_session_revoked(struct fg_app *app, const char *sid)
{
    char key[64];
    snprintf(key, sizeof key, "sess:%s", sid);
    if (fg_ss_set(app->shared, key, "0", access_ttl_ms(app) + REVOKED_MARK_SLACK_MS, 0, NULL) !=
        FG_OK)
        fg_log(FG_LOG_ERROR, "session_mark_failed", FG_LF_STR("session_id", sid), FG_LF_END);
}

static void cache_user(struct fg_app *app, const struct store_user *u, int nx)
{
    char key[64], val[48];
    snprintf(key, sizeof key, "usr:%s", u->id);
    snprintf(val, sizeof val, "%d:%u:%d", u->trust, u->roles, u->disabled ? 1 : 0);
    fg_ss_set(app->shared, key, val, FG_USER_CACHE_TTL_MS, nx, NULL);
}

struct sid_list {
    char (*ids)[37];
    size_t n, cap;
};

static void sid_collect(void *ctx, const char *sid)
{
    struct sid_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->ids = fg_xrealloc(l->ids, l->cap * sizeof *l->ids);
    }
    snprintf(l->ids[l->n++], sizeof l->ids[0], "%s", sid ? sid : "");
}

static void sid_list_revoke_cached(struct fg_app *app, struct sid_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        cache_session_revoked(app, l->ids[i]);
    free(l->ids);
    l->ids = NULL;
    l->n = l->cap = 0;
}

int fg_email_normalize(const char *in, char *out, size_t outlen)
{
    size_t n = in ? strlen(in) : 0;
    if (n < 3 || n > STORE_EMAIL_MAX || n + 1 > outlen)
        return -1;
    const char *at = strchr(in, '@');
    if (!at || strchr(at + 1, '@'))
        return -1;
    size_t local = (size_t)(at - in);
    if (local < 1 || local > 64 || in[0] == '.' || at[-1] == '.')
        return -1;
    static const char local_extra[] = "!#$%&'*+/=?^_`{|}~.-";
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!(isalnum(c) && c < 0x80) && !strchr(local_extra, c))
            return -1;
        if (c == '.' && in[i + 1] == '.')
            return -1;
    }
    const char *d = at + 1;
    size_t labels = 0, lab = 0, last_len = 0;
    int last_alpha = 1;
    for (const char *p = d;; p++) {
        if (*p == '.' || *p == '\0') {
            if (lab == 0 || lab > 63 || p[-1] == '-' || *(p - lab) == '-')
                return -1;
            labels++;
            last_len = lab;
            if (*p == '\0')
                break;
            lab = 0;
            last_alpha = 1;
            continue;
        }
        unsigned char c = (unsigned char)*p;
        if (!((isalnum(c) && c < 0x80) || c == '-'))
            return -1;
        if (!isalpha(c))
            last_alpha = 0;
        lab++;
    }
    if (labels < 2 || last_len < 2 || !last_alpha)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[n] = '\0';
    return 0;
}

const char *fg_display_name_problem(const char *name, size_t len)
{
    const unsigned char *p = (const unsigned char *)name;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c < 0x20 || c == 0x7f)
            return "control characters";
        if (c == '<' || c == '>')
            return "markup characters ('<', '>')";
        /* UTF-8 (already validated by the JSON parser): C1 controls are C2 80..C2 9F */
        if (c == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
            return "control characters";
        if (c == 0xD8 && i + 1 < len && p[i + 1] == 0x9C) /* U+061C ARABIC LETTER MARK */
            return "bidirectional control characters";
        if (c == 0xE2 && i + 2 < len) {
            unsigned cp = ((unsigned)(c & 0x0F) << 12) | ((unsigned)(p[i + 1] & 0x3F) << 6) |
                          (unsigned)(p[i + 2] & 0x3F);
            if ((cp >= 0x200E && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
                (cp >= 0x2066 && cp <= 0x2069))
                return "bidirectional control characters";
        }
    }
    return NULL;
}

static json_t *time_or_null(int64_t ms)
{
    if (!ms)
        return json_null();
    char b[40];
    fg_time_iso(ms, b, sizeof b);
    return json_string(b);
}

json_t *fg_user_json(const struct store_user *u)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(u->id));
    json_object_set_new(o, "email", json_string(u->email));
    json_object_set_new(o, "display_name",
                        u->display_name[0] ? json_string(u->display_name) : json_null());
    json_object_set_new(o, "trust_level", json_string(fg_trust_name(u->trust)));
    json_object_set_new(o, "roles", fg_roles_json(u->roles));
    json_object_set_new(o, "mfa_enabled", json_boolean(u->mfa_enabled));
    json_object_set_new(o, "disabled", json_boolean(u->disabled));
    json_object_set_new(o, "created_at", time_or_null(u->created_at));
    json_object_set_new(o, "updated_at", time_or_null(u->updated_at));
    json_object_set_new(o, "last_login_at", time_or_null(u->last_login_at));
    return o;
}

static void fmt_duration(long long s, char *out, size_t len)
{
    if (s >= 3600 && s % 3600 == 0)
        snprintf(out, len, "%lld hour%s", s / 3600, s == 3600 ? "" : "s");
    else if (s >= 60 && s % 60 == 0)
        snprintf(out, len, "%lld minute%s", s / 60, s == 60 ? "" : "s");
    else
        snprintf(out, len, "%lld second%s", s, s == 1 ? "" : "s");
}

void fg_identity_lock_message(const struct fg_app *app, char *out, size_t len)
{
    char d[48];
    fmt_duration(app->cfg->login_lockout_s, d, sizeof d);
    snprintf(out, len, "account locked for %s after %lld failed logins", d,
             app->cfg->login_max_failures);
}

int fg_identity_test_clock_enabled(const struct fg_app *app)
{
    const struct fg_identity *id = app->identity;
    return id && id->test_clock;
}

/* ---- start / stop --------------------------------------------------------------------- */

static int bootstrap_admin(struct fg_app *app, char *err, size_t errlen)
{
    const struct fg_config *cfg = app->cfg;
    int have_email = cfg->admin_email && cfg->admin_email[0];
    int have_pw = cfg->admin_password && cfg->admin_password[0];
    if (!have_email && !have_pw)
        return 0;
    if (!have_email || !have_pw) {
        snprintf(err, errlen, "%s: required together with %s",
                 have_email ? "FORGE_ADMIN_PASSWORD" : "FORGE_ADMIN_EMAIL",
                 have_email ? "FORGE_ADMIN_EMAIL" : "FORGE_ADMIN_PASSWORD");
        return -1;
    }
    char email[STORE_EMAIL_MAX + 1];
    if (fg_email_normalize(cfg->admin_email, email, sizeof email) != 0) {
        snprintf(err, errlen, "FORGE_ADMIN_EMAIL: not a valid email address");
        return -1;
    }
    size_t pwlen = strlen(cfg->admin_password);
    if (!fg_password_policy_ok(cfg->admin_password, pwlen)) {
        snprintf(err, errlen, "FORGE_ADMIN_PASSWORD: %s", FG_PASSWORD_POLICY_MSG);
        return -1;
    }
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c) {
        snprintf(err, errlen, "DATABASE_URL: store unavailable");
        return -1;
    }
    long long admins = 0;
    struct store_user existing;
    e = U(app)->count_admins(c, &admins);
    enum fg_err ge =
        e == FG_OK && admins == 0 ? U(app)->get_by_email(c, email, &existing) : FG_ENOTFOUND;
    store_release(app->store, c);
    if (e != FG_OK) {
        snprintf(err, errlen, "DATABASE_URL: cannot read users (%s)", fg_err_name(e));
        return -1;
    }
    if (admins > 0)
        return 0;
    if (ge == FG_OK) {
        fg_log(FG_LOG_WARN, "bootstrap_admin_skipped",
               FG_LF_STR("msg", "FORGE_ADMIN_EMAIL belongs to an existing non-admin account; "
                                "promote it with the admin API or forge admin"),
               FG_LF_END);
        return 0;
    }
    struct store_user u;
    struct fg_job_ctx job;
    e = fg_identity_create_user(app, fg_ctx_job(&job, "system:bootstrap"), email,
                                cfg->admin_password, pwlen, "Administrator", FG_TRUST_CORE,
                                FG_ROLE_ADMIN, "admin.bootstrap", &u);
    if (e != FG_OK && e != FG_ECONFLICT) {
        snprintf(err, errlen, "FORGE_ADMIN_EMAIL: cannot create the bootstrap admin (%s)",
                 fg_err_name(e));
        return -1;
    }
    if (e == FG_OK)
        fg_log(FG_LOG_INFO, "bootstrap_admin_created", FG_LF_STR("user_id", u.id), FG_LF_END);
    return 0;
}

int fg_identity_start(struct fg_app *app, char *err, size_t errlen)
{
    if (!app->store || !app->store->users || !app->store->immune) {
        snprintf(err, errlen, "internal: the store lacks the users/immune areas");
        return -1;
    }
    if (!app->shared && fg_ss_open(app->cfg, &app->shared, err, errlen) != FG_OK)
        return -1;
    fg_password_init((int)app->cfg->argon2_max_concurrent);
    if (fg_totp_init() != FG_OK) {
        snprintf(err, errlen, "internal: liboath initialisation failed");
        return -1;
    }
    struct fg_identity *id = fg_xcalloc(1, sizeof *id);
    const char *tc = getenv("FORGE_TEST_CLOCK");
    id->test_clock = app->cfg->environment == FG_ENV_DEVELOPMENT && tc && strcmp(tc, "1") == 0;
    app->identity = id;
    if (id->test_clock)
        fg_log(FG_LOG_WARN, "test_clock_enabled",
               FG_LF_STR("msg", "FORGE_TEST_CLOCK=1: admins may shift the clock (tests only)"),
               FG_LF_END);

    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(app->store, &e);
    if (c) {
        long long n = 0;
        U(app)->session_purge(c, fg_now_ms() - SESSION_HISTORY_MS, &n);
        store_release(app->store, c);
        atomic_store(&id->last_purge, fg_now_ms());
    }
    if (fg_immune_start(app) != FG_OK) {
        snprintf(err, errlen, "DATABASE_URL: cannot reload IP blocks");
        return -1;
    }
    return bootstrap_admin(app, err, errlen);
}

void fg_identity_stop(struct fg_app *app)
{
    free(app->identity);
    app->identity = NULL;
    fg_ss_close(app->shared);
    app->shared = NULL;
}

/* ---- tokens --------------------------------------------------------------------------- */

void fg_token_pair_free(struct fg_token_pair *t)
{
    free(t->access);
    free(t->refresh);
    t->access = t->refresh = NULL;
}

static enum fg_err issue_tokens(struct fg_app *app, const struct store_user *u, const char *sid,
                                const char *refresh_jti, int64_t now_ms, struct fg_token_pair *out)
{
    const char *key = app->cfg->jwt_secret;
    size_t keylen = strlen(key);
    struct fg_jwt_claims a = {0};
    a.type = FG_JWT_ACCESS;
    snprintf(a.sub, sizeof a.sub, "%s", u->id);
    snprintf(a.sid, sizeof a.sid, "%s", sid);
    fg_jwt_new_jti(a.jti);
    a.iat = now_ms / 1000;
    a.exp = a.iat + app->cfg->access_token_ttl_s;
    snprintf(a.email, sizeof a.email, "%s", u->email);
    a.trust = u->trust;
    a.roles = u->roles;
    struct fg_jwt_claims r = {0};
    r.type = FG_JWT_REFRESH;
    snprintf(r.sub, sizeof r.sub, "%s", u->id);
    snprintf(r.sid, sizeof r.sid, "%s", sid);
    snprintf(r.jti, sizeof r.jti, "%s", refresh_jti);
    r.iat = a.iat;
    r.exp = r.iat + app->cfg->refresh_token_ttl_s;
    enum fg_err e = fg_jwt_sign(key, keylen, &a, &out->access);
    if (e == FG_OK)
        e = fg_jwt_sign(key, keylen, &r, &out->refresh);
    if (e != FG_OK)
        fg_token_pair_free(out);
    out->expires_in = app->cfg->access_token_ttl_s;
    return e;
}

/* ---- authentication ------------------------------------------------------------------- */

enum fg_auth_result fg_identity_authenticate(struct fg_app *app, const char *token,
                                             struct fg_principal *p, struct fg_jwt_claims *claims,
                                             const char **reason)
{
    struct fg_jwt_claims cl;
    int64_t now = fg_now_ms();
    enum fg_jwt_error je = fg_jwt_verify(app->cfg->jwt_secret, strlen(app->cfg->jwt_secret), token,
                                         FG_JWT_ACCESS, now / 1000, &cl);
    if (je != FG_JWT_OK) {
        *reason = fg_jwt_error_message(je);
        return FG_AUTH_INVALID;
    }
    enum fg_auth_result res = FG_AUTH_OK;
    struct store_conn *c = NULL;
    enum fg_err e = FG_OK;

    /* session: active? */
    char key[64], val[48];
    int found = 0;
    snprintf(key, sizeof key, "sess:%s", cl.sid);
    if (fg_ss_get(app->shared, key, val, sizeof val, &found, NULL) != FG_OK) {
        res = FG_AUTH_UNAVAILABLE;
        goto out;
    }
    if (!found) {
        struct store_session s;
        if (!(c = store_acquire(app->store, &e))) {
            res = FG_AUTH_UNAVAILABLE;
            goto out;
        }
        e = U(app)->session_get(c, cl.sid, &s);
        if (e != FG_OK && e != FG_ENOTFOUND) {
            res = FG_AUTH_UNAVAILABLE;
            goto out;
        }
        int active = e == FG_OK && !s.revoked_at && s.expires_at > now;
        if (active && strcmp(s.user_id, cl.sub) != 0) {
            /* a validly signed token naming someone else's session: never cache anything */
            *reason = "session does not belong to the token's subject";
            res = FG_AUTH_INVALID;
            goto out;
        }
        if (active) {
            /* the cached value names the session's owner, so a hit is bound to `sub` too; a
             * legacy "1" (written before the owner was stored) is never overwritten (NX) and
             * is re-checked against the store below until it expires */
            snprintf(val, sizeof val, "1:%s", s.user_id);
            fg_ss_set(app->shared, key, val, FG_SESSION_CACHE_TTL_MS, 1, NULL);
        } else {
            fg_ss_set(app->shared, key, "0", access_ttl_ms(app) + REVOKED_MARK_SLACK_MS, 0, NULL);
            snprintf(val, sizeof val, "0");
        }
    } else if (strcmp(val, "1") == 0) {
        struct store_session s;
        if (!(c = store_acquire(app->store, &e))) {
            res = FG_AUTH_UNAVAILABLE;
            goto out;
        }
        e = U(app)->session_get(c, cl.sid, &s);
        if (e != FG_OK && e != FG_ENOTFOUND) {
            res = FG_AUTH_UNAVAILABLE;
            goto out;
        }
        snprintf(val, sizeof val, "%s:%s",
                 e == FG_OK && !s.revoked_at && s.expires_at > now ? "1" : "0",
                 e == FG_OK ? s.user_id : "");
    }
    if (val[0] != '1') {
        *reason = "session revoked";
        res = FG_AUTH_REVOKED;
        goto out;
    }
    if (val[1] != ':' || strcmp(val + 2, cl.sub) != 0) {
        *reason = "session does not belong to the token's subject";
        res = FG_AUTH_INVALID;
        goto out;
    }

    /* account: live trust, roles, disabled */
    int trust = 0, disabled = 0;
    unsigned roles = 0;
    snprintf(key, sizeof key, "usr:%s", cl.sub);
    if (fg_ss_get(app->shared, key, val, sizeof val, &found, NULL) != FG_OK) {
        res = FG_AUTH_UNAVAILABLE;
        goto out;
    }
    if (!found || sscanf(val, "%d:%u:%d", &trust, &roles, &disabled) != 3) {
        struct store_user u;
        if (!c && !(c = store_acquire(app->store, &e))) {
            res = FG_AUTH_UNAVAILABLE;
            goto out;
        }
        e = U(app)->get_by_id(c, cl.sub, &u);
        if (e == FG_ENOTFOUND) {
            *reason = "account not found";
            res = FG_AUTH_REVOKED;
            goto out;
        }
        if (e != FG_OK) {
            res = FG_AUTH_UNAVAILABLE;
            goto out;
        }
        cache_user(app, &u, 1);
        trust = u.trust;
        roles = u.roles;
        disabled = u.disabled;
    }
    if (disabled) {
        *reason = "account disabled";
        res = FG_AUTH_DISABLED;
        goto out;
    }
    memset(p, 0, sizeof *p);
    snprintf(p->user_id, sizeof p->user_id, "%s", cl.sub);
    snprintf(p->email, sizeof p->email, "%s", cl.email);
    snprintf(p->jti, sizeof p->jti, "%s", cl.jti);
    p->trust = trust;
    p->roles = roles;
    if (claims)
        *claims = cl;
out:
    store_release(app->store, c);
    if (res == FG_AUTH_UNAVAILABLE)
        *reason = "authentication state unavailable";
    return res;
}

/* ---- failures and locks --------------------------------------------------------------- */

/* 1 locked (*until), 0 not, -1 shared state unavailable. */
static int lock_check(struct fg_app *app, const char *email, const struct store_user *u,
                      int64_t now, int64_t *until)
{
    char key[64], val[32];
    int found = 0;
    int64_t ttl = 0;
    email_key("lk:", email, key, sizeof key);
    if (fg_ss_get(app->shared, key, val, sizeof val, &found, &ttl) != FG_OK)
        return -1;
    if (found) {
        char *end;
        long long v = strtoll(val, &end, 10);
        *until = (*end || v <= 0) ? now + ttl : v;
        return 1;
    }
    if (u && u->locked_until > now) {
        /* the store remembers a lock the shared state lost (restart): restore it */
        *until = u->locked_until;
        snprintf(val, sizeof val, "%" PRId64, u->locked_until);
        fg_ss_set(app->shared, key, val, u->locked_until - now, 0, NULL);
        return 1;
    }
    return 0;
}

/* Counts a failed authentication for the email; locks at the threshold. 1 if now locked. */
static int count_failure(struct fg_app *app, const struct fg_ctx *ctx, const char *email,
                         const struct store_user *u, int64_t now, int64_t *until)
{
    char key[64];
    int64_t n = 0;
    email_key("lf:", email, key, sizeof key);
    if (fg_ss_incr(app->shared, key, FG_FAILURE_MEMORY_MS, &n, NULL) != FG_OK)
        return 0;
    if (n < app->cfg->login_max_failures)
        return 0;
    int64_t lock_ms = app->cfg->login_lockout_s * 1000;
    *until = now + lock_ms;
    char lk[64], val[32];
    email_key("lk:", email, lk, sizeof lk);
    snprintf(val, sizeof val, "%" PRId64, *until);
    fg_ss_set(app->shared, lk, val, lock_ms, 0, NULL);
    fg_ss_del(app->shared, key);
    if (u) {
        enum fg_err e = FG_OK;
        struct store_conn *c = store_acquire(app->store, &e);
        if (c) {
            U(app)->set_locked_until(c, u->id, *until);
            store_release(app->store, c);
        }
    }
    audit(app, NULL, ctx, NULL, "auth.account_locked", "user", u ? u->id : NULL, "denied",
          json_pack("{sIsI}", "failures", (json_int_t)n, "lockout_s",
                    (json_int_t)app->cfg->login_lockout_s));
    return 1;
}

static void clear_failures(struct fg_app *app, const char *email)
{
    char key[64];
    email_key("lf:", email, key, sizeof key);
    fg_ss_del(app->shared, key);
}

/* A failed re-authentication or login: IP counter, email counter, audit, metric. */
static int record_failure(struct fg_app *app, const struct fg_ctx *ctx, const char *email,
                          const struct store_user *u, int64_t now, const char *reason,
                          int64_t *until)
{
    if (ctx)
        fg_immune_login_failure(app, ctx);
    int locked = count_failure(app, ctx, email, u, now, until);
    login_metric(locked ? "locked" : "failure");
    audit(app, NULL, ctx, NULL, "auth.login_failed", "user", u ? u->id : NULL, "failure",
          json_pack("{sssb}", "reason", reason, "locked", locked));
    return locked;
}

/* ---- accounts ------------------------------------------------------------------------- */

enum fg_err fg_identity_create_user(struct fg_app *app, const struct fg_ctx *ctx, const char *email,
                                    const char *password, size_t pwlen, const char *display_name,
                                    int trust, unsigned roles, const char *audit_action,
                                    struct store_user *out)
{
    struct store_user u;
    memset(&u, 0, sizeof u);
    fg_uuid7(u.id);
    snprintf(u.email, sizeof u.email, "%s", email);
    snprintf(u.display_name, sizeof u.display_name, "%s", display_name ? display_name : "");
    u.trust = trust;
    u.roles = roles;
    u.created_at = u.updated_at = fg_now_ms();
    /* a taken email is refused before spending an Argon2 hash on it (the insert still checks) */
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    struct store_user existing;
    e = U(app)->get_by_email(c, email, &existing);
    store_release(app->store, c);
    if (e == FG_OK)
        return FG_ECONFLICT;
    if (e != FG_ENOTFOUND)
        return e;
    e = fg_password_hash(password, pwlen, u.password_hash, sizeof u.password_hash);
    if (e != FG_OK)
        return e;
    c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    e = U(app)->create(c, &u);
    if (e == FG_OK)
        e = audit(app, c, ctx, fg_ctx_anonymous(ctx) ? u.id : NULL, audit_action, "user", u.id,
                  "success",
                  json_pack("{ssso}", "trust_level", fg_trust_name(trust), "roles",
                            fg_roles_json(roles)));
    if (e == FG_OK) {
        json_t *payload = json_pack("{ssss}", "user_id", u.id, "trust_level", fg_trust_name(trust));
        e = fg_event_emit(app, c, "user.registered", u.id, payload);
        json_decref(payload);
    }
    e = store_tx_close(app->store, c, e);
    if (e == FG_OK && out)
        *out = u;
    sodium_memzero(u.password_hash, sizeof u.password_hash);
    return e;
}

enum fg_err fg_identity_register(struct fg_app *app, const struct fg_ctx *ctx, const char *email,
                                 const char *password, size_t pwlen, const char *display_name,
                                 struct store_user *out, int *created)
{
    *created = 0;
    struct store_user existing;
    memset(&existing, 0, sizeof existing);
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = U(app)->get_by_email(c, email, &existing);
    store_release(app->store, c);
    if (e == FG_ENOTFOUND) {
        e = fg_identity_create_user(app, ctx, email, password, pwlen, display_name,
                                    FG_TRUST_STANDARD, FG_ROLE_USER, "auth.register", out);
        if (e == FG_OK) {
            *created = 1;
            return FG_OK;
        }
        if (e != FG_ECONFLICT) /* ECONFLICT: a concurrent registration won the insert */
            return e;
    } else if (e != FG_OK) {
        return e;
    } else {
        /* the same Argon2 work as a real registration, so the time does not tell either */
        char hash[FG_PASSWORD_HASH_MAX];
        e = fg_password_hash(password, pwlen, hash, sizeof hash);
        sodium_memzero(hash, sizeof hash);
        if (e != FG_OK)
            return e;
    }
    /* the email is taken: answer as for a new account (nothing is created; the id names no
     * one) and report the attempt out of band: audit entry + event for a notifier */
    memset(out, 0, sizeof *out);
    fg_uuid7(out->id);
    snprintf(out->email, sizeof out->email, "%s", email);
    snprintf(out->display_name, sizeof out->display_name, "%s", display_name ? display_name : "");
    out->trust = FG_TRUST_STANDARD;
    out->roles = FG_ROLE_USER;
    out->created_at = out->updated_at = fg_now_ms();
    c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    const char *owner = existing.id[0] ? existing.id : NULL;
    e = audit(app, c, ctx, NULL, "auth.register_conflict", "user", owner, "denied",
              json_pack("{ss}", "reason", "email_taken"));
    if (e == FG_OK) {
        json_t *payload = json_pack("{ss}", "user_id", owner ? owner : "");
        e = fg_event_emit(app, c, "user.register_conflict", owner, payload);
        json_decref(payload);
    }
    e = store_tx_close(app->store, c, e);
    sodium_memzero(existing.password_hash, sizeof existing.password_hash);
    sodium_memzero(existing.mfa_secret, sizeof existing.mfa_secret);
    return e;
}

/* ---- login ---------------------------------------------------------------------------- */

static void maybe_purge_sessions(struct fg_app *app, struct store_conn *c, int64_t now)
{
    struct fg_identity *id = app->identity;
    if (!id)
        return;
    int64_t last = atomic_load(&id->last_purge);
    if (now - last < SESSION_PURGE_INTERVAL_MS ||
        !atomic_compare_exchange_strong(&id->last_purge, &last, now))
        return;
    long long n = 0;
    if (U(app)->session_purge(c, now - SESSION_HISTORY_MS, &n) == FG_OK && n > 0)
        fg_log(FG_LOG_INFO, "sessions_purged", FG_LF_INT("count", n), FG_LF_END);
}

/* Creates the session and the tokens of a successful login. */
static enum fg_err start_session(struct fg_app *app, const struct fg_ctx *ctx, struct store_user *u,
                                 int64_t now, struct fg_token_pair *tokens)
{
    struct store_session s;
    memset(&s, 0, sizeof s);
    fg_uuid7(s.id);
    snprintf(s.user_id, sizeof s.user_id, "%s", u->id);
    fg_jwt_new_jti(s.refresh_jti);
    s.created_at = s.last_used_at = now;
    s.expires_at = now + app->cfg->refresh_token_ttl_s * 1000;
    enum fg_err e = FG_OK;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    e = U(app)->session_create(c, &s);
    if (e == FG_OK)
        e = U(app)->set_last_login(c, u->id, now);
    if (e == FG_OK)
        e = audit(app, c, ctx, u->id, "auth.login", "user", u->id, "success",
                  json_pack("{sssb}", "session_id", s.id, "mfa", u->mfa_enabled));
    if (e == FG_OK) {
        json_t *payload = json_pack("{ssss}", "user_id", u->id, "session_id", s.id);
        e = fg_event_emit(app, c, "user.authenticated", u->id, payload);
        json_decref(payload);
    }
    if (e == FG_OK)
        maybe_purge_sessions(app, c, now);
    e = store_tx_close(app->store, c, e);
    if (e != FG_OK)
        return e;
    u->last_login_at = now;
    u->locked_until = 0;
    return issue_tokens(app, u, s.id, s.refresh_jti, now, tokens);
}

enum fg_err fg_identity_login(struct fg_app *app, const struct fg_ctx *ctx, const char *email,
                              const char *password, size_t pwlen, const char *mfa_code,
                              struct fg_login_result *out)
{
    memset(out, 0, sizeof *out);
    int64_t now = fg_now_ms();
    struct store_user u;
    int have_user = 0;
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = U(app)->get_by_email(c, email, &u);
    store_release(app->store, c);
    if (e == FG_OK)
        have_user = 1;
    else if (e != FG_ENOTFOUND)
        return e;
    const struct store_user *up = have_user ? &u : NULL;

    /* 1. the lock, before the password */
    int64_t until = 0;
    int l = lock_check(app, email, up, now, &until);
    if (l < 0)
        return FG_EUNAVAIL;
    if (l) {
        if (ctx)
            fg_immune_login_failure(app, ctx);
        login_metric("locked");
        audit(app, NULL, ctx, NULL, "auth.login_failed", "user", up ? u.id : NULL, "denied",
              json_pack("{ss}", "reason", "locked"));
        out->status = FG_LOGIN_LOCKED;
        out->locked_until = until;
        return FG_OK;
    }

    /* 2. the password (unknown email: the same Argon2 work against a dummy hash) */
    int match = 0;
    e = have_user ? fg_password_verify(u.password_hash, password, pwlen, &match)
                  : fg_password_verify_dummy(password, pwlen);
    if (e != FG_OK)
        return e;
    if (!match) {
        int locked = record_failure(app, ctx, email, up, now, "bad_credentials", &until);
        out->status = locked ? FG_LOGIN_LOCKED : FG_LOGIN_BAD_CREDENTIALS;
        out->locked_until = until;
        return FG_OK;
    }

    /* 3. account state */
    if (u.disabled) {
        login_metric("failure");
        audit(app, NULL, ctx, NULL, "auth.login_failed", "user", u.id, "denied",
              json_pack("{ss}", "reason", "disabled"));
        out->status = FG_LOGIN_DISABLED;
        return FG_OK;
    }

    /* 4. second factor */
    if (u.mfa_enabled) {
        if (!mfa_code || !mfa_code[0]) {
            /* counted like a wrong password: the lockout must not tell a right password
             * apart either (the reply is the same as for a wrong one; api/auth.c) */
            int locked = record_failure(app, ctx, email, up, now, "mfa_required", &until);
            out->status = locked ? FG_LOGIN_LOCKED : FG_LOGIN_MFA_REQUIRED;
            out->locked_until = until;
            return FG_OK;
        }
        int64_t step = 0;
        int v = fg_totp_check(u.mfa_secret, mfa_code, now / 1000, &step);
        if (v < 0)
            return FG_EINTERNAL;
        int ok = 0;
        if (v == 1) {
            if (!(c = store_acquire(app->store, &e)))
                return e;
            e = U(app)->use_mfa_step(c, u.id, step, &ok);
            store_release(app->store, c);
            if (e != FG_OK)
                return e;
        }
        if (!ok) {
            int locked = record_failure(app, ctx, email, up, now, "mfa_invalid", &until);
            out->status = locked ? FG_LOGIN_LOCKED : FG_LOGIN_MFA_INVALID;
            out->locked_until = until;
            return FG_OK;
        }
    }

    /* 5. success */
    e = start_session(app, ctx, &u, now, &out->tokens);
    if (e != FG_OK)
        return e;
    clear_failures(app, email);
    login_metric("success");
    out->status = FG_LOGIN_OK;
    out->user = u;
    sodium_memzero(out->user.password_hash, sizeof out->user.password_hash);
    sodium_memzero(out->user.mfa_secret, sizeof out->user.mfa_secret);
    return FG_OK;
}

/* ---- refresh / logout ----------------------------------------------------------------- */

enum fg_err fg_identity_refresh(struct fg_app *app, const struct fg_ctx *ctx, const char *token,
                                enum fg_refresh_status *status, const char **reason,
                                struct store_user *user, struct fg_token_pair *out)
{
    memset(out, 0, sizeof *out);
    struct fg_jwt_claims cl;
    int64_t now = fg_now_ms();
    enum fg_jwt_error je = fg_jwt_verify(app->cfg->jwt_secret, strlen(app->cfg->jwt_secret), token,
                                         FG_JWT_REFRESH, now / 1000, &cl);
    if (je != FG_JWT_OK) {
        *status = FG_REFRESH_INVALID;
        *reason = fg_jwt_error_message(je);
        return FG_OK;
    }
    enum fg_err e = FG_OK;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    struct store_session s;
    int revoked_now = 0;
    char new_jti[FG_JWT_JTI_MAX + 1];
    e = U(app)->session_get(c, cl.sid, &s);
    if (e == FG_ENOTFOUND || (e == FG_OK && strcmp(s.user_id, cl.sub) != 0)) {
        e = FG_OK;
        *status = FG_REFRESH_REVOKED;
        *reason = "session not found";
        goto out;
    }
    if (e != FG_OK)
        goto out;
    if (s.revoked_at || s.expires_at <= now) {
        *status = FG_REFRESH_REVOKED;
        *reason = s.revoked_at ? "session revoked" : "session expired";
        goto out;
    }
    if (strcmp(s.refresh_jti, cl.jti) != 0) {
        /* an already-rotated token came back: someone else may hold the family */
        e = U(app)->session_revoke(c, s.id, "refresh_reuse", now);
        if (e == FG_OK)
            e = audit(app, c, ctx, cl.sub, "auth.refresh_reuse", "session", s.id, "denied",
                      json_pack("{ss}", "user_id", cl.sub));
        revoked_now = e == FG_OK;
        *status = FG_REFRESH_REUSED;
        *reason = "refresh token reuse detected; the session has been revoked";
        goto out;
    }
    e = U(app)->get_by_id(c, cl.sub, user);
    if (e == FG_ENOTFOUND) {
        e = FG_OK;
        *status = FG_REFRESH_REVOKED;
        *reason = "account not found";
        goto out;
    }
    if (e != FG_OK)
        goto out;
    if (user->disabled) {
        *status = FG_REFRESH_DISABLED;
        *reason = "account disabled";
        goto out;
    }
    fg_jwt_new_jti(new_jti);
    int rotated = 0;
    e = U(app)->session_rotate(c, s.id, cl.jti, new_jti, now + app->cfg->refresh_token_ttl_s * 1000,
                               now, &rotated);
    if (e == FG_OK && !rotated) {
        *status = FG_REFRESH_REVOKED;
        *reason = "session revoked";
        goto out;
    }
    if (e == FG_OK)
        *status = FG_REFRESH_OK;
out:
    e = store_tx_close(app->store, c, e);
    if (e != FG_OK)
        return e;
    if (revoked_now)
        cache_session_revoked(app, s.id);
    if (*status != FG_REFRESH_OK)
        return FG_OK;
    sodium_memzero(user->password_hash, sizeof user->password_hash);
    sodium_memzero(user->mfa_secret, sizeof user->mfa_secret);
    cache_user(app, user, 0);
    return issue_tokens(app, user, s.id, new_jti, now, out);
}

enum fg_err fg_identity_logout(struct fg_app *app, const struct fg_ctx *ctx, const char *sid)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    const char *uid = ctx ? ctx->user_id : NULL;
    e = U(app)->session_revoke(c, sid, "logout", fg_now_ms());
    if (e == FG_OK)
        e = audit(app, c, ctx, NULL, "auth.logout", "session", sid, "success", NULL);
    if (e == FG_OK) {
        json_t *payload = json_pack("{ssss}", "user_id", uid ? uid : "", "session_id", sid);
        e = fg_event_emit(app, c, "user.logout", uid, payload);
        json_decref(payload);
    }
    e = store_tx_close(app->store, c, e);
    if (e == FG_OK)
        cache_session_revoked(app, sid);
    return e;
}

/* ---- self-service --------------------------------------------------------------------- */

enum fg_err fg_identity_get_user(struct fg_app *app, const char *user_id, struct store_user *out)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = U(app)->get_by_id(c, user_id, out);
    store_release(app->store, c);
    return e;
}

/* Lock check + verification of a re-authentication secret for an authenticated user. */
static enum fg_err reauth_password(struct fg_app *app, const struct fg_ctx *ctx,
                                   const struct store_user *u, const char *pw, size_t pwlen,
                                   enum fg_reauth_status *status, int64_t *until)
{
    int64_t now = fg_now_ms();
    int l = lock_check(app, u->email, u, now, until);
    if (l < 0)
        return FG_EUNAVAIL;
    if (l) {
        *status = FG_REAUTH_LOCKED;
        return FG_OK;
    }
    int match = 0;
    enum fg_err e = fg_password_verify(u->password_hash, pw, pwlen, &match);
    if (e != FG_OK)
        return e;
    if (match) {
        *status = FG_REAUTH_OK;
        return FG_OK;
    }
    *status = record_failure(app, ctx, u->email, u, now, "wrong_current_password", until)
                  ? FG_REAUTH_LOCKED
                  : FG_REAUTH_WRONG;
    return FG_OK;
}

enum fg_err fg_identity_change_password(struct fg_app *app, const struct fg_ctx *ctx,
                                        const char *user_id, const char *keep_sid,
                                        const char *current, size_t curlen, const char *next,
                                        size_t nextlen, enum fg_reauth_status *status,
                                        int64_t *locked_until)
{
    struct store_user u;
    enum fg_err e = fg_identity_get_user(app, user_id, &u);
    if (e != FG_OK)
        return e;
    e = reauth_password(app, ctx, &u, current, curlen, status, locked_until);
    if (e != FG_OK || *status != FG_REAUTH_OK)
        return e;
    char hash[FG_PASSWORD_HASH_MAX];
    if ((e = fg_password_hash(next, nextlen, hash, sizeof hash)) != FG_OK)
        return e;
    struct sid_list revoked = {0};
    int64_t now = fg_now_ms();
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    e = U(app)->set_password_hash(c, u.id, hash, now);
    if (e == FG_OK)
        e = U(app)->session_revoke_user(c, u.id, keep_sid, "password_changed", now, sid_collect,
                                        &revoked);
    if (e == FG_OK)
        e = audit(app, c, ctx, NULL, "auth.password_changed", "user", u.id, "success",
                  json_pack("{sI}", "sessions_revoked", (json_int_t)revoked.n));
    e = store_tx_close(app->store, c, e);
    sodium_memzero(hash, sizeof hash);
    if (e == FG_OK)
        sid_list_revoke_cached(app, &revoked);
    free(revoked.ids);
    clear_failures(app, u.email);
    return e;
}

enum fg_err fg_identity_set_display_name(struct fg_app *app, const struct fg_ctx *ctx,
                                         const char *user_id, const char *name,
                                         struct store_user *out)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    e = U(app)->set_display_name(c, user_id, name, fg_now_ms());
    if (e == FG_OK)
        e = audit(app, c, ctx, NULL, "user.profile_updated", "user", user_id, "success",
                  json_pack("{s[s]}", "fields", "display_name"));
    if (e == FG_OK)
        e = U(app)->get_by_id(c, user_id, out);
    return store_tx_close(app->store, c, e);
}

/* ---- MFA ------------------------------------------------------------------------------ */

enum fg_err fg_identity_mfa_setup(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                                  char *secret, size_t secretlen, char **uri)
{
    *uri = NULL;
    struct store_user u;
    enum fg_err e = FG_OK;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    e = U(app)->get_by_id(c, user_id, &u);
    if (e == FG_OK && u.mfa_enabled)
        e = FG_ECONFLICT;
    if (e == FG_OK)
        e = fg_totp_new_secret(secret, secretlen);
    if (e == FG_OK)
        e = U(app)->set_mfa(c, user_id, secret, 0, 0, fg_now_ms());
    if (e == FG_OK)
        e = audit(app, c, ctx, NULL, "auth.mfa_setup", "user", user_id, "success", NULL);
    e = store_tx_close(app->store, c, e);
    if (e == FG_OK)
        *uri = fg_totp_uri(FG_TOTP_ISSUER, u.email, secret);
    return e;
}

enum fg_err fg_identity_mfa_verify(struct fg_app *app, const struct fg_ctx *ctx,
                                   const char *user_id, const char *code, int *ok)
{
    *ok = 0;
    struct store_user u;
    enum fg_err e = FG_OK;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    e = U(app)->get_by_id(c, user_id, &u);
    if (e == FG_OK && (u.mfa_enabled || !u.mfa_secret[0]))
        e = FG_ECONFLICT;
    int64_t step = 0;
    if (e == FG_OK) {
        int v = fg_totp_check(u.mfa_secret, code, fg_now_ms() / 1000, &step);
        if (v < 0)
            e = FG_EINTERNAL;
        *ok = v == 1;
    }
    if (e == FG_OK && *ok)
        e = U(app)->set_mfa(c, user_id, u.mfa_secret, 1, step, fg_now_ms());
    if (e == FG_OK && *ok)
        e = audit(app, c, ctx, NULL, "auth.mfa_enabled", "user", user_id, "success", NULL);
    sodium_memzero(u.mfa_secret, sizeof u.mfa_secret);
    return store_tx_close(app->store, c, e);
}

enum fg_err fg_identity_mfa_disable(struct fg_app *app, const struct fg_ctx *ctx,
                                    const char *user_id, const char *code,
                                    enum fg_reauth_status *status, int64_t *locked_until)
{
    struct store_user u;
    enum fg_err e = fg_identity_get_user(app, user_id, &u);
    if (e != FG_OK)
        return e;
    if (!u.mfa_enabled)
        return FG_ECONFLICT;
    int64_t now = fg_now_ms();
    int l = lock_check(app, u.email, &u, now, locked_until);
    if (l < 0)
        return FG_EUNAVAIL;
    if (l) {
        *status = FG_REAUTH_LOCKED;
        return FG_OK;
    }
    int64_t step = 0;
    int v = fg_totp_check(u.mfa_secret, code, now / 1000, &step);
    if (v < 0)
        return FG_EINTERNAL;
    int ok = 0;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    if (v == 1)
        e = U(app)->use_mfa_step(c, u.id, step, &ok);
    if (e == FG_OK && ok)
        e = U(app)->set_mfa(c, u.id, NULL, 0, 0, now);
    if (e == FG_OK && ok)
        e = audit(app, c, ctx, NULL, "auth.mfa_disabled", "user", u.id, "success", NULL);
    e = store_tx_close(app->store, c, e);
    sodium_memzero(u.mfa_secret, sizeof u.mfa_secret);
    if (e != FG_OK)
        return e;
    if (ok) {
        *status = FG_REAUTH_OK;
        return FG_OK;
    }
    *status = record_failure(app, ctx, u.email, &u, now, "mfa_invalid", locked_until)
                  ? FG_REAUTH_LOCKED
                  : FG_REAUTH_WRONG;
    return FG_OK;
}

/* ---- admin ---------------------------------------------------------------------------- */

void fg_identity_user_changed(struct fg_app *app, const char *user_id)
{
    struct store_user u;
    enum fg_err e = app->shared ? fg_identity_get_user(app, user_id, &u) : FG_ENOTFOUND;
    if (e == FG_OK) {
        cache_user(app, &u, 0);
    } else if (app->shared) {
        char key[64];
        snprintf(key, sizeof key, "usr:%s", user_id);
        fg_ss_del(app->shared, key);
    }
}

enum fg_err fg_identity_set_trust(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                                  int trust, struct store_user *out)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    struct store_user before;
    e = U(app)->get_by_id(c, user_id, &before);
    if (e == FG_OK)
        e = U(app)->set_trust(c, user_id, trust, fg_now_ms());
    if (e == FG_OK)
        e = audit(
            app, c, ctx, NULL, "admin.user_trust_changed", "user", user_id, "success",
            json_pack("{ssss}", "from", fg_trust_name(before.trust), "to", fg_trust_name(trust)));
    if (e == FG_OK && before.trust != trust) {
        json_t *payload = json_pack("{ssssss}", "user_id", user_id, "from",
                                    fg_trust_name(before.trust), "to", fg_trust_name(trust));
        e = fg_event_emit(app, c, "user.trust_changed", user_id, payload);
        json_decref(payload);
    }
    if (e == FG_OK && trust == FG_TRUST_QUARANTINE && before.trust != FG_TRUST_QUARANTINE) {
        /* SPEC §7.3: a manual quarantine is an immune response too */
        struct store_immune_response r;
        memset(&r, 0, sizeof r);
        snprintf(r.threat_type, sizeof r.threat_type, "manual");
        snprintf(r.level, sizeof r.level, "medium");
        snprintf(r.target_type, sizeof r.target_type, "user");
        snprintf(r.target_id, sizeof r.target_id, "%s", user_id);
        snprintf(r.action, sizeof r.action, "quarantine_user");
        snprintf(r.reason, sizeof r.reason, "trust level set to quarantine by an admin");
        e = fg_immune_record(app, c, ctx, &r);
    }
    if (e == FG_OK)
        e = U(app)->get_by_id(c, user_id, out);
    e = store_tx_close(app->store, c, e);
    if (e == FG_OK)
        cache_user(app, out, 0);
    return e;
}

enum fg_err fg_identity_set_roles(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                                  unsigned roles, struct store_user *out)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    struct store_user before;
    e = U(app)->get_by_id(c, user_id, &before);
    if (e == FG_OK)
        e = U(app)->set_roles(c, user_id, roles, fg_now_ms());
    if (e == FG_OK)
        e = audit(
            app, c, ctx, NULL, "admin.user_roles_changed", "user", user_id, "success",
            json_pack("{soso}", "from", fg_roles_json(before.roles), "to", fg_roles_json(roles)));
    if (e == FG_OK)
        e = U(app)->get_by_id(c, user_id, out);
    e = store_tx_close(app->store, c, e);
    if (e == FG_OK)
        cache_user(app, out, 0);
    return e;
}

enum fg_err fg_identity_set_disabled(struct fg_app *app, const struct fg_ctx *ctx,
                                     const char *user_id, int disabled, struct store_user *out)
{
    enum fg_err e = FG_OK;
    struct sid_list revoked = {0};
    int64_t now = fg_now_ms();
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    e = U(app)->set_disabled(c, user_id, disabled, now);
    if (e == FG_OK && disabled)
        e = U(app)->session_revoke_user(c, user_id, NULL, "account_disabled", now, sid_collect,
                                        &revoked);
    if (e == FG_OK)
        e = audit(app, c, ctx, NULL, disabled ? "admin.user_disabled" : "admin.user_enabled",
                  "user", user_id, "success",
                  json_pack("{sI}", "sessions_revoked", (json_int_t)revoked.n));
    if (e == FG_OK)
        e = U(app)->get_by_id(c, user_id, out);
    e = store_tx_close(app->store, c, e);
    if (e == FG_OK) {
        cache_user(app, out, 0);
        sid_list_revoke_cached(app, &revoked);
    }
    free(revoked.ids);
    return e;
}

/* ---- GDPR erasure (core/privacy.c, docs/privacy.md) ---------------------------------------- */

enum fg_err fg_identity_reauth(struct fg_app *app, const struct fg_ctx *ctx, const char *user_id,
                               const char *pw, size_t pwlen, enum fg_reauth_status *status,
                               int64_t *locked_until)
{
    struct store_user u;
    enum fg_err e = fg_identity_get_user(app, user_id, &u);
    if (e != FG_OK)
        return e;
    e = reauth_password(app, ctx, &u, pw, pwlen, status, locked_until);
    sodium_memzero(u.mfa_secret, sizeof u.mfa_secret);
    return e;
}
