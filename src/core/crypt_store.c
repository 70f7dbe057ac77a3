/*
 * The crypt decorator over the store (core/crypt.h): wraps the users, audit and immune vtables
 * so every personal value is sealed before it reaches a backend and opened after it comes back.
 * Both backends are covered by the same code; the backends only store the at-rest forms.
 *
 *   users.email          blind index (unique, one indexed lookup) + sealed copy in email_enc
 *   users.display_name   sealed, owner = the user
 *   users.mfa_secret     sealed, owner = the user
 *   audit_log.client_ip  sealed, owner = the actor (else the user the entry is about, else
 *   audit_log.details      the system key); details become {"sealed":"$fe1$..."}
 *   audit_log.resource_id  of resource_type "ip" (IP blocks): sealed with the system key
 *   immune_responses.target_id of target_type "ip": sealed with the system key
 *   event_outbox.payload of system.immune_response events (they name the IP): sealed, system key
 *
 * The audit hash covers the stored (sealed) form, so the chain verifies without any key, also
 * after a key was destroyed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/crypt.h"
#include "store/audit.h"
#include "store/immune.h"
#include "store/store.h"
#include "store/users.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/uuid.h"

static const struct store_user_ops *OU;
static struct store_user_ops WU;
static const struct store_audit_ops *OA;
static struct store_audit_ops WA;
static const struct store_immune_ops *OI;
static struct store_immune_ops WI;

/* ---- users ---------------------------------------------------------------------------- */

static int owned_by(const char *text, const char *id)
{
    char owner[80];
    return !fg_crypt_is_sealed(text) ||
           (fg_crypt_sealed_owner(text, owner, sizeof owner) == 0 && strcmp(owner, id) == 0);
}

/* At-rest forms → plaintext fields; a value that does not open (tampered, moved to another
 * row, key destroyed) reads as empty. */
static void open_user(struct store_user *u)
{
    int bad = 0;
    if (u->email_enc[0]) {
        if (!owned_by(u->email_enc, u->id) ||
            fg_crypt_unseal("users.email", u->email_enc, u->email, sizeof u->email) != 0)
            bad = 1;
    } /* else a row not sealed yet: the email column still holds the email */
    if (!owned_by(u->display_name_enc, u->id) ||
        fg_crypt_unseal("users.display_name", u->display_name_enc, u->display_name,
                        sizeof u->display_name) != 0)
        bad = 1;
    if (!owned_by(u->mfa_secret_enc, u->id) ||
        fg_crypt_unseal("users.mfa_secret", u->mfa_secret_enc, u->mfa_secret,
                        sizeof u->mfa_secret) != 0)
        bad = 1;
    sodium_memzero(u->mfa_secret_enc, sizeof u->mfa_secret_enc);
    u->email_enc[0] = u->display_name_enc[0] = '\0';
    if (bad)
        fg_log(FG_LOG_WARN, "personal_data_unreadable", FG_LF_STR("user_id", u->id), FG_LF_END);
}

static enum fg_err w_create(struct store_conn *c, const struct store_user *u)
{
    struct store_user *t = fg_xmalloc(sizeof *t);
    *t = *u;
    enum fg_err e = FG_EINTERNAL;
    if (fg_crypt_blind_index(u->email, t->email) == 0 &&
        fg_crypt_seal(u->id, "users.email", u->email, strlen(u->email), t->email_enc,
                      sizeof t->email_enc) == 0 &&
        (!u->display_name[0] ||
         fg_crypt_seal(u->id, "users.display_name", u->display_name, strlen(u->display_name),
                       t->display_name_enc, sizeof t->display_name_enc) == 0)) {
        if (!u->display_name[0])
            t->display_name_enc[0] = '\0';
        e = OU->create(c, t);
    }
    sodium_memzero(t, sizeof *t);
    free(t);
    return e;
}

static enum fg_err w_get_by_id(struct store_conn *c, const char *id, struct store_user *out)
{
    enum fg_err e = OU->get_by_id(c, id, out);
    if (e == FG_OK)
        open_user(out);
    return e;
}

static enum fg_err w_get_by_email(struct store_conn *c, const char *email, struct store_user *out)
{
    char bidx[FG_CRYPT_BIDX_HEX + 1];
    if (fg_crypt_blind_index(email, bidx) != 0)
        return FG_EINTERNAL;
    enum fg_err e = OU->get_by_email(c, bidx, out);
    if (e == FG_OK)
        open_user(out);
    return e;
}

static enum fg_err w_list(struct store_conn *c, long long offset, long long limit,
                          struct store_user **items, size_t *n, long long *total)
{
    enum fg_err e = OU->list(c, offset, limit, items, n, total);
    for (size_t i = 0; e == FG_OK && i < *n; i++)
        open_user(&(*items)[i]);
    return e;
}

static enum fg_err w_set_display_name(struct store_conn *c, const char *id, const char *name,
                                      int64_t now)
{
    if (!name || !name[0])
        return OU->set_display_name(c, id, "", now);
    char sealed[STORE_SEALED_MAX];
    if (fg_crypt_seal(id, "users.display_name", name, strlen(name), sealed, sizeof sealed) != 0)
        return FG_EINTERNAL;
    return OU->set_display_name(c, id, sealed, now);
}

static enum fg_err w_set_mfa(struct store_conn *c, const char *id, const char *secret, int enabled,
                             int64_t last_step, int64_t now)
{
    if (!secret)
        return OU->set_mfa(c, id, NULL, enabled, last_step, now);
    char sealed[STORE_SEALED_MAX];
    if (fg_crypt_seal(id, "users.mfa_secret", secret, strlen(secret), sealed, sizeof sealed) != 0)
        return FG_EINTERNAL;
    enum fg_err e = OU->set_mfa(c, id, sealed, enabled, last_step, now);
    sodium_memzero(sealed, sizeof sealed);
    return e;
}

/* ---- audit ---------------------------------------------------------------------------- */

static const char *audit_owner(const struct store_audit_row *r)
{
    /* a user actor owns the entry; the system ("system:governance", "cli": core/ctx.h) owns no
     * personal key, so its entries about a user are sealed with that user's key as before */
    if (r->actor_id && fg_uuid_valid(r->actor_id))
        return r->actor_id;
    if (r->resource_id && *r->resource_id && strcmp(r->resource_type, "user") == 0)
        return r->resource_id;
    return FG_CRYPT_SYSTEM;
}

/* {"sealed":"$fe1$..."} (sealed text is base64url and id characters: no escaping needed) */
static char *sealed_json(const char *owner, const char *column, const char *json)
{
    char *s = fg_crypt_seal_alloc(owner, column, json);
    if (!s)
        return NULL;
    size_t n = strlen(s) + 16;
    char *o = fg_xmalloc(n);
    snprintf(o, n, "{\"sealed\":\"%s\"}", s);
    free(s);
    return o;
}

/* The sealed text inside {"sealed":"..."} into a malloc'd copy, or NULL when `json` is not
 * that form. */
static char *sealed_of(const char *json)
{
    static const char pre[] = "{\"sealed\":\"";
    if (!json || strncmp(json, pre, sizeof pre - 1) != 0)
        return NULL;
    const char *b = json + sizeof pre - 1;
    const char *q = strchr(b, '"');
    if (!q || strcmp(q, "\"}") != 0)
        return NULL;
    char *out = fg_xmalloc((size_t)(q - b) + 1);
    memcpy(out, b, (size_t)(q - b));
    out[q - b] = '\0';
    return out;
}

static enum fg_err w_append(struct store_conn *c, const struct store_audit_row *row,
                            store_audit_seal_fn seal, long long *seq_out)
{
    struct store_audit_row t = *row;
    const char *owner = audit_owner(row);
    char *ip = NULL, *details = NULL, *rid = NULL;
    enum fg_err e = FG_OK;
    if (row->client_ip && !(ip = fg_crypt_seal_alloc(owner, "audit.client_ip", row->client_ip)))
        e = FG_EINTERNAL;
    if (e == FG_OK && row->details && strcmp(row->details, "{}") != 0 &&
        !(details = sealed_json(owner, "audit.details", row->details)))
        e = FG_EINTERNAL;
    if (e == FG_OK && row->resource_id && strcmp(row->resource_type, "ip") == 0 &&
        !(rid = fg_crypt_seal_alloc(FG_CRYPT_SYSTEM, "audit.resource_id", row->resource_id)))
        e = FG_EINTERNAL;
    if (e == FG_OK) {
        if (ip)
            t.client_ip = ip;
        if (details)
            t.details = details;
        if (rid)
            t.resource_id = rid;
        e = OA->append(c, &t, seal, seq_out);
    }
    free(ip);
    free(details);
    free(rid);
    return e;
}

struct audit_open_ctx {
    store_audit_cb cb;
    void *ctx;
};

static int open_audit_row(const struct store_audit_row *row, void *vctx)
{
    struct audit_open_ctx *x = vctx;
    struct store_audit_row t = *row;
    char *ip = NULL, *details = NULL, *rid = NULL, *inner = NULL;
    if (fg_crypt_is_sealed(row->client_ip))
        t.client_ip = ip = fg_crypt_unseal_alloc("audit.client_ip", row->client_ip);
    if ((inner = sealed_of(row->details)) != NULL) {
        details = fg_crypt_unseal_alloc("audit.details", inner);
        t.details = details ? details : "{\"unavailable\":true}";
    }
    if (fg_crypt_is_sealed(row->resource_id))
        t.resource_id = rid = fg_crypt_unseal_alloc("audit.resource_id", row->resource_id);
    int rc = x->cb(&t, x->ctx);
    free(ip);
    free(details);
    free(rid);
    free(inner);
    return rc;
}

static enum fg_err w_audit_list(struct store_conn *c, const struct store_audit_filter *f,
                                long long offset, long long limit, store_audit_cb cb, void *ctx,
                                long long *total)
{
    struct audit_open_ctx x = {cb, ctx};
    return OA->list(c, f, offset, limit, open_audit_row, &x, total);
}

static enum fg_err w_outbox_add(struct store_conn *c, const struct store_outbox_event *ev)
{
    if (strcmp(ev->type, "system.immune_response") != 0 || !ev->payload)
        return OA->outbox_add(c, ev);
    char *p = sealed_json(FG_CRYPT_SYSTEM, "outbox.payload", ev->payload);
    if (!p)
        return FG_EINTERNAL;
    struct store_outbox_event t = *ev;
    t.payload = p;
    enum fg_err e = OA->outbox_add(c, &t);
    free(p);
    return e;
}

struct outbox_open_ctx {
    store_outbox_cb cb;
    void *ctx;
};

static int open_outbox(const struct store_outbox_event *ev, void *vctx)
{
    struct outbox_open_ctx *x = vctx;
    char *inner = sealed_of(ev->payload);
    if (!inner)
        return x->cb(ev, x->ctx);
    struct store_outbox_event t = *ev;
    char *p = fg_crypt_unseal_alloc("outbox.payload", inner);
    t.payload = p ? p : "{}";
    int rc = x->cb(&t, x->ctx);
    free(p);
    free(inner);
    return rc;
}

static enum fg_err w_outbox_pending(struct store_conn *c, long long after_seq, long long limit,
                                    store_outbox_cb cb, void *ctx)
{
    struct outbox_open_ctx x = {cb, ctx};
    return OA->outbox_pending(c, after_seq, limit, open_outbox, &x);
}

/* ---- immune --------------------------------------------------------------------------- */

static void open_target(struct store_immune_response *r)
{
    if (!fg_crypt_is_sealed(r->target_id))
        return;
    char plain[sizeof r->target_id];
    if (fg_crypt_unseal("immune.target_id", r->target_id, plain, sizeof plain) != 0)
        plain[0] = '\0';
    memcpy(r->target_id, plain, sizeof r->target_id);
}

static enum fg_err w_record(struct store_conn *c, const struct store_immune_response *r)
{
    if (strcmp(r->target_type, "ip") != 0)
        return OI->record(c, r);
    struct store_immune_response t = *r;
    if (fg_crypt_seal(FG_CRYPT_SYSTEM, "immune.target_id", r->target_id, strlen(r->target_id),
                      t.target_id, sizeof t.target_id) != 0)
        return FG_EINTERNAL;
    return OI->record(c, &t);
}

static enum fg_err w_immune_list(struct store_conn *c, const struct store_immune_filter *f,
                                 long long offset, long long limit,
                                 struct store_immune_response **items, size_t *n, long long *total)
{
    enum fg_err e = OI->list(c, f, offset, limit, items, n, total);
    for (size_t i = 0; e == FG_OK && i < *n; i++)
        open_target(&(*items)[i]);
    return e;
}

struct active_ctx {
    void (*fn)(void *ctx, const struct store_immune_response *r);
    void *ctx;
};

static void open_active(void *vctx, const struct store_immune_response *r)
{
    struct active_ctx *x = vctx;
    struct store_immune_response t = *r;
    open_target(&t);
    x->fn(x->ctx, &t);
}

static enum fg_err w_active(struct store_conn *c, const char *action, int64_t now,
                            void (*fn)(void *ctx, const struct store_immune_response *r), void *ctx)
{
    struct active_ctx x = {fn, ctx};
    return OI->active(c, action, now, open_active, &x);
}

void fg_crypt_wrap_store(struct store *s)
{
    if (s->users && s->users != &WU) {
        OU = s->users;
        WU = *OU;
        WU.create = w_create;
        WU.get_by_id = w_get_by_id;
        WU.get_by_email = w_get_by_email;
        WU.list = w_list;
        WU.set_display_name = w_set_display_name;
        WU.set_mfa = w_set_mfa;
        s->users = &WU;
    }
    if (s->audit && s->audit != &WA) {
        OA = s->audit;
        WA = *OA;
        WA.append = w_append;
        WA.list = w_audit_list;
        WA.outbox_add = w_outbox_add;
        WA.outbox_pending = w_outbox_pending;
        s->audit = &WA;
    }
    if (s->immune && s->immune != &WI) {
        OI = s->immune;
        WI = *OI;
        WI.record = w_record;
        WI.list = w_immune_list;
        WI.active = w_active;
        s->immune = &WI;
    }
}

/* ---- sealing a database written before encryption ------------------------------------- */

/* An erased account (core/privacy.c) holds no personal data: its email is the placeholder
 * 'erased+<id>@erased.invalid' and its key is destroyed; it is never sealed again. */
static int user_is_erased(const struct store_user *u)
{
    size_t n = strlen(u->email);
    static const char tail[] = "@erased.invalid";
    return strncmp(u->email, "erased+", 7) == 0 && n > sizeof tail - 1 &&
           strcmp(u->email + n - (sizeof tail - 1), tail) == 0;
}

static int user_needs_sealing(const struct store_user *u)
{
    if (user_is_erased(u))
        return 0;
    return !u->email_enc[0] ||
           (u->display_name_enc[0] && !fg_crypt_is_sealed(u->display_name_enc)) ||
           (u->mfa_secret_enc[0] && !fg_crypt_is_sealed(u->mfa_secret_enc));
}

static enum fg_err seal_user(struct store_conn *c, const struct store_user *u)
{
    enum fg_err e = FG_OK;
    char sealed[STORE_SEALED_MAX];
    if (!u->email_enc[0]) {
        char bidx[FG_CRYPT_BIDX_HEX + 1];
        if (fg_crypt_blind_index(u->email, bidx) != 0 ||
            fg_crypt_seal(u->id, "users.email", u->email, strlen(u->email), sealed,
                          sizeof sealed) != 0)
            return FG_EINTERNAL;
        e = OU->set_email(c, u->id, bidx, sealed);
    }
    if (e == FG_OK && u->display_name_enc[0] && !fg_crypt_is_sealed(u->display_name_enc)) {
        if (fg_crypt_seal(u->id, "users.display_name", u->display_name_enc,
                          strlen(u->display_name_enc), sealed, sizeof sealed) != 0)
            return FG_EINTERNAL;
        e = OU->set_display_name(c, u->id, sealed, u->updated_at);
    }
    if (e == FG_OK && u->mfa_secret_enc[0] && !fg_crypt_is_sealed(u->mfa_secret_enc)) {
        if (fg_crypt_seal(u->id, "users.mfa_secret", u->mfa_secret_enc, strlen(u->mfa_secret_enc),
                          sealed, sizeof sealed) != 0)
            return FG_EINTERNAL;
        e = OU->set_mfa(c, u->id, sealed, u->mfa_enabled, u->mfa_last_step, u->updated_at);
    }
    sodium_memzero(sealed, sizeof sealed);
    return e;
}

/* 0 when the page holds sealed emails and none of them opens: the data was restored without
 * its key store, or the master key belongs to another deployment. Serving would then create new
 * keys beside unreadable data, so the start is refused. */
static int keys_match(const struct store_user *items, size_t n)
{
    int ok = 0, bad = 0;
    char plain[STORE_EMAIL_MAX + 1];
    for (size_t i = 0; i < n && i < 20; i++) {
        if (!fg_crypt_is_sealed(items[i].email_enc))
            continue;
        if (fg_crypt_unseal("users.email", items[i].email_enc, plain, sizeof plain) == 0)
            ok++;
        else
            bad++;
    }
    sodium_memzero(plain, sizeof plain);
    return !(ok == 0 && bad > 0);
}

enum fg_err fg_crypt_encrypt_existing(struct store *s, int batch, long long *sealed)
{
    *sealed = 0;
    if (!OU || s->users != &WU)
        return FG_EINVAL;
    if (batch <= 0)
        batch = 200;
    enum fg_err e = FG_OK;
    long long offset = 0;
    for (;;) {
        struct store_conn *c = store_acquire(s, &e);
        if (!c)
            return e;
        struct store_user *items = NULL;
        size_t n = 0;
        long long total = 0;
        e = OU->list(c, offset, batch, &items, &n, &total); /* raw: at-rest forms */
        if (e == FG_OK && offset == 0 && !keys_match(items, n)) {
            e = FG_EINVAL;
            fg_log(FG_LOG_ERROR, "key_store_mismatch",
                   FG_LF_STR("hint", "sealed personal data does not open with this key store and "
                                     "master key: restore the key store (forge restore --keys) "
                                     "and set the right FORGE_MASTER_KEY"),
                   FG_LF_END);
        }
        size_t need = 0;
        for (size_t i = 0; e == FG_OK && i < n; i++)
            need += (size_t)user_needs_sealing(&items[i]);
        if (e == FG_OK && need > 0 && (e = store_begin(s, c)) == FG_OK) {
            long long done = 0;
            for (size_t i = 0; e == FG_OK && i < n; i++)
                if (user_needs_sealing(&items[i])) {
                    e = seal_user(c, &items[i]);
                    done++;
                }
            if (e == FG_OK && (e = store_commit(s, c)) == FG_OK)
                *sealed += done;
            else if (e != FG_OK)
                store_rollback(s, c);
        }
        if (items)
            sodium_memzero(items, n * sizeof *items);
        free(items);
        store_release(s, c);
        if (e != FG_OK)
            return e;
        if ((long long)n < batch)
            break;
        offset += batch;
    }
    if (*sealed > 0)
        fg_log(FG_LOG_INFO, "personal_data_sealed", FG_LF_STR("table", "users"),
               FG_LF_INT("rows", *sealed), FG_LF_END);
    return FG_OK;
}
