/*
 * Capsule rules (SPEC §4.1–4.2). See capsule.h for the contract of each operation.
 *
 * Shape of every change: acquire a connection → BEGIN IMMEDIATE → read the current state inside
 * the transaction (so the rules are checked against what will be overwritten) → write → outbox
 * event → audit entry → COMMIT. Any failure rolls the whole unit back. Denials of a change are
 * audited too, in a transaction of their own after the rollback.
 */
#include "core/capsule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/app.h"
#include "core/audit.h"
#include "core/authz.h"
#include "core/events.h"
#include "core/graph.h"
#include "core/overlay.h"
#include "core/metrics.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"
#include "util/uuid.h"

const char *const fg_capsule_types[] = {"knowledge", "code",   "decision", "insight",
                                        "config",    "policy", NULL};

/* ---- small helpers --------------------------------------------------------------------- */

int fg_ctx_read_trust(const struct fg_ctx *a)
{
    return a->admin ? FG_TRUST_CORE : a->trust;
}

static const char *actor_id(const struct fg_ctx *a)
{
    return a->user_id ? a->user_id : FG_SYSTEM_ACTOR_ID;
}

int fg_version_bump_minor(const char *v, char *out, size_t outlen)
{
    unsigned long long part[3];
    const char *p = v;
    for (int i = 0; i < 3; i++) {
        char *end;
        if (*p < '0' || *p > '9')
            return -1;
        part[i] = strtoull(p, &end, 10);
        if (end == p || part[i] > 1000000000ULL)
            return -1;
        p = end;
        if (i < 2) {
            if (*p != '.')
                return -1;
            p++;
        }
    }
    if (*p)
        return -1;
    int n = snprintf(out, outlen, "%llu.%llu.0", part[0], part[1] + 1);
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static void content_hash(const char *content, size_t len, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)content, len);
    sodium_bin2hex(out, 65, h, sizeof h);
}

static enum fg_err invalid(struct fg_capsule_why *why, const char *field, const char *msg)
{
    why->field = field;
    snprintf(why->message, sizeof why->message, "%s", msg);
    return FG_EINVAL;
}

enum fg_err fg_capsule_validate(const struct fg_capsule_input *in, struct fg_capsule_why *why)
{
    if (in->content) {
        if (in->content_len < 1)
            return invalid(why, "content", "content must not be empty");
        if (in->content_len > FG_CAPSULE_CONTENT_MAX)
            return invalid(why, "content", "content must be at most 1 MB (1048576 bytes)");
        if (!utf8_valid((const unsigned char *)in->content, in->content_len) ||
            memchr(in->content, '\0', in->content_len))
            return invalid(why, "content", "content must be valid UTF-8 text");
    }
    if (in->type) {
        int ok = 0;
        for (size_t i = 0; fg_capsule_types[i]; i++)
            ok |= strcmp(fg_capsule_types[i], in->type) == 0;
        if (!ok)
            return invalid(why, "type",
                           "type must be one of: knowledge, code, decision, insight, "
                           "config, policy");
    }
    if (in->metadata) {
        if (strlen(in->metadata) > FG_CAPSULE_METADATA_MAX)
            return invalid(why, "metadata", "metadata must be at most 65536 bytes as JSON");
        json_error_t jerr;
        json_t *m = json_loads(in->metadata, JSON_REJECT_DUPLICATES, &jerr);
        int ok = json_is_object(m);
        json_decref(m);
        if (!ok)
            return invalid(why, "metadata", "metadata must be a JSON object");
    }
    return FG_OK;
}

/* Copies a capsule (heap fields duplicated). */
static void capsule_copy(struct store_capsule *dst, const struct store_capsule *src)
{
    *dst = *src;
    dst->content = fg_xstrndup(src->content, src->content_len);
    dst->metadata = fg_xstrdup(src->metadata ? src->metadata : "{}");
    dst->embedding = NULL;
    dst->embedding_len = 0;
    if (src->embedding) {
        dst->embedding = fg_xmalloc(src->embedding_len ? src->embedding_len : 1);
        memcpy(dst->embedding, src->embedding, src->embedding_len);
        dst->embedding_len = src->embedding_len;
    }
}

static void metric_op(const char *op, double n)
{
    if (!fgm.capsule_ops)
        return;
    const char *v[] = {op};
    fg_metric_add(fgm.capsule_ops, v, n);
}

static void metric_live(double delta, double events)
{
    if (fgm.capsules)
        fg_metric_add(fgm.capsules, NULL, delta);
    if (fgm.outbox_backlog)
        fg_metric_add(fgm.outbox_backlog, NULL, events);
}

/* ---- transactions and side records ------------------------------------------------------ */

static enum fg_err audit(struct fg_app *app, struct store_conn *c, const struct fg_ctx *a,
                         const char *action, const char *id, const char *outcome,
                         json_t *details_new)
{
    struct fg_audit_entry e = {
        .actor_id = a->user_id,
        .action = action,
        .resource_type = "capsule",
        .resource_id = id,
        .client_ip = a->client_ip,
        .correlation_id = a->correlation_id,
        .outcome = outcome,
        .details = details_new,
    };
    enum fg_err r = fg_audit_record(app, c, &e);
    json_decref(details_new);
    return r;
}

static enum fg_err emit(struct fg_app *app, struct store_conn *c, const char *type, const char *id,
                        json_t *payload_new)
{
    enum fg_err r = fg_event_emit(app, c, type, id, payload_new);
    json_decref(payload_new);
    return r;
}

/* Records a refused change (outcome "denied") after the transaction was rolled back. */
static void audit_denied(struct fg_app *app, const struct fg_ctx *a, const char *action,
                         const char *id, const struct fg_capsule_why *why)
{
    audit(app, NULL, a, action, id, "denied",
          json_pack("{ss}", "rule", why->rule ? why->rule : "unknown"));
}

int fg_capsule_owner_hidden(const struct fg_ctx *a, const struct store_capsule *cap)
{
    return !a->admin && cap->owner_trust < FG_TRUST_SANDBOX;
}

static int visible(const struct fg_ctx *a, const struct store_capsule *cap)
{
    return !cap->is_deleted && cap->trust_level <= fg_ctx_read_trust(a) &&
           !fg_capsule_owner_hidden(a, cap);
}

/* Quarantined accounts write nothing (issue 11); admins included: the rule is the trust. */
static enum fg_err forbid_quarantined(const struct fg_ctx *a, struct fg_capsule_why *why)
{
    if (!a->user_id || a->trust >= FG_TRUST_SANDBOX)
        return FG_OK;
    why->rule = "quarantine";
    snprintf(why->message, sizeof why->message, "quarantined accounts cannot change capsules");
    return FG_EFORBIDDEN;
}

/* The type `policy` is reserved for capsules an approved governance proposal made. */
static enum fg_err forbid_policy_type(const struct fg_capsule_input *in, struct fg_capsule_why *why)
{
    if (!in->type || strcmp(in->type, "policy") != 0)
        return FG_OK;
    return invalid(why, "type",
                   "type policy is reserved for capsules made by an approved governance proposal "
                   "(propose a policy: POST /api/v1/governance/proposals)");
}

/* Reads `id` inside `c`; FG_ENOTFOUND unless visible to `a`. */
static enum fg_err load_visible(struct fg_app *app, struct store_conn *c, const struct fg_ctx *a,
                                const char *id, struct store_capsule *cap,
                                struct fg_capsule_why *why)
{
    enum fg_err e = app->store->capsules->get(c, id, 0, cap);
    if (e == FG_OK && !visible(a, cap)) {
        store_capsule_clear(cap);
        e = FG_ENOTFOUND;
    }
    if (e == FG_ENOTFOUND && why)
        why->what = "capsule";
    return e;
}

static enum fg_err forbid_owner(const struct fg_ctx *a, const struct store_capsule *cap,
                                struct fg_capsule_why *why)
{
    if (cap->origin_proposal_id[0] && !a->admin) {
        /* governance made it: only another proposal (or an admin) changes it, not the proposer */
        why->rule = "governance_origin";
        snprintf(why->message, sizeof why->message,
                 "this capsule was made by governance proposal %.36s; only an admin may change it",
                 cap->origin_proposal_id);
        return FG_EFORBIDDEN;
    }
    if (a->admin || (a->user_id && strcmp(a->user_id, cap->owner_id) == 0))
        return FG_OK;
    why->rule = "owner_or_admin";
    snprintf(why->message, sizeof why->message,
             "only the owner or an admin may change this capsule");
    return FG_EFORBIDDEN;
}

/* Observes the time since *t as `stage` of a capsule `op` (forge_capsule_write_stage_seconds,
 * docs/knowledge-engine.md "Write path metrics") and restarts the clock. */
static void write_stage(const char *op, const char *stage, double *t)
{
    double now = fg_mono_s();
    if (fgm.write_stage) {
        const char *v[] = {op, stage};
        fg_metric_observe(fgm.write_stage, v, now - *t);
    }
    *t = now;
}

static enum fg_err need_store(struct fg_app *app)
{
    return (app && app->store && app->store->capsules) ? FG_OK : FG_EUNAVAIL;
}

static enum fg_err capsule_create_in(struct fg_app *app, const struct fg_ctx *a,
                                     const struct fg_capsule_input *in, struct store_capsule *out,
                                     struct fg_capsule_why *why);
static enum fg_err capsule_update_in(struct fg_app *app, const struct fg_ctx *a, const char *id,
                                     const struct fg_capsule_input *in, struct store_capsule *out,
                                     struct fg_capsule_why *why);

/* ---- overlay validation hooks (core/overlay.h, docs/overlays.md) ------------------------ */

/* Runs the validators of `op` on the input (before the transaction). A refusal is FG_EINVAL with
 * field "overlay" and a message naming the overlay. Metadata annotations are merged into a copy
 * of the input (*copy, its metadata text in *meta_out; the caller frees it). */
static enum fg_err overlay_hooks(struct fg_app *app, const struct fg_ctx *a, const char *op,
                                 const char *id, const struct fg_capsule_input **in,
                                 struct fg_capsule_input *copy, char **meta_out,
                                 struct fg_capsule_why *why)
{
    *meta_out = NULL;
    if (fg_overlay_validators(app, op) == 0)
        return FG_OK; /* the common case: no validator, no input to build */
    const struct fg_capsule_input *i = *in;
    json_t *m = i->metadata ? json_loads(i->metadata, 0, NULL) : NULL;
    json_t *cap =
        json_pack("{s:s?,s:s?,s:s?}", "id", id, "type", i->type, "parent_id", i->parent_id);
    if (i->content)
        json_object_set_new(cap, "content", json_stringn(i->content, i->content_len));
    json_object_set_new(cap, "metadata", m ? json_incref(m) : json_object());
    json_t *add = NULL;
    char name[128] = "", msg[160] = "";
    int refused = fg_overlay_validate(app, a, op, cap, &add, name, sizeof name, msg, sizeof msg);
    json_decref(cap);
    if (refused) {
        json_decref(m);
        why->field = "overlay";
        snprintf(why->message, sizeof why->message, "overlay %.60s refused the capsule: %.105s",
                 name, msg);
        return FG_EINVAL;
    }
    if (add) {
        if (!m)
            m = json_object();
        json_object_update(m, add);
        json_decref(add);
        *copy = *i;
        *meta_out = json_dumps(m, JSON_COMPACT);
        copy->metadata = *meta_out;
        *in = copy;
    }
    json_decref(m);
    return FG_OK;
}

/* ---- operations ------------------------------------------------------------------------ */

enum fg_err fg_capsule_create(struct fg_app *app, const struct fg_ctx *a,
                              const struct fg_capsule_input *in, struct store_capsule *out,
                              struct fg_capsule_why *why)
{
    enum fg_err e;
    double t = fg_mono_s();
    if ((e = need_store(app)) != FG_OK)
        return e;
    if (!in->content)
        return invalid(why, "content", "content is required");
    if (!a->user_id)
        return invalid(why, "owner_id", "a capsule needs an owning user");
    if ((e = forbid_quarantined(a, why)) != FG_OK) {
        audit_denied(app, a, "capsule.create", in->parent_id, why);
        return e;
    }
    if ((e = fg_capsule_validate(in, why)) != FG_OK || (e = forbid_policy_type(in, why)) != FG_OK)
        return e;
    write_stage("create", "validate", &t);
    struct fg_capsule_input hooked;
    char *hook_meta = NULL;
    if ((e = overlay_hooks(app, a, "capsule.create", NULL, &in, &hooked, &hook_meta, why)) != FG_OK)
        return e;
    if (hook_meta && (e = fg_capsule_validate(in, why)) != FG_OK) {
        free(hook_meta);
        return e;
    }
    write_stage("create", "hooks", &t);
    e = capsule_create_in(app, a, in, out, why);
    free(hook_meta);
    return e;
}

static enum fg_err capsule_create_in(struct fg_app *app, const struct fg_ctx *a,
                                     const struct fg_capsule_input *in, struct store_capsule *out,
                                     struct fg_capsule_why *why)
{
    enum fg_err e;
    const struct store_capsule_ops *ops = app->store->capsules;
    int trust = fg_ctx_read_trust(a);
    struct store_capsule cap, parent;
    memset(&cap, 0, sizeof cap);
    memset(&parent, 0, sizeof parent);

    double t = fg_mono_s();
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    write_stage("create", "begin", &t); /* a SQLite writer waits here for its turn */
    if (in->parent_id) {
        e = ops->get(c, in->parent_id, 0, &parent);
        if (e == FG_OK && (parent.is_deleted || fg_capsule_owner_hidden(a, &parent)))
            e = FG_ENOTFOUND;
        if (e == FG_ENOTFOUND) {
            why->what = "parent capsule";
            goto out;
        }
        if (e != FG_OK)
            goto out;
        if (trust < parent.trust_level) {
            why->rule = "trust";
            why->required_trust = parent.trust_level;
            why->actual_trust = trust;
            snprintf(why->message, sizeof why->message,
                     "trust level %s is below the parent capsule's trust level %s",
                     fg_trust_name(trust), fg_trust_name(parent.trust_level));
            e = FG_EFORBIDDEN;
            goto out;
        }
        trust = parent.trust_level < trust ? parent.trust_level : trust;
        snprintf(cap.parent_id, sizeof cap.parent_id, "%s", parent.id);
    } else if (trust > FG_TRUST_STANDARD) {
        trust = FG_TRUST_STANDARD;
    }

    int64_t now = fg_now_ms();
    fg_uuid7(cap.id);
    cap.content = (char *)(uintptr_t)in->content;
    cap.content_len = in->content_len;
    snprintf(cap.type, sizeof cap.type, "%s", in->type ? in->type : FG_CAPSULE_DEFAULT_TYPE);
    cap.metadata = (char *)(uintptr_t)(in->metadata ? in->metadata : "{}");
    snprintf(cap.version, sizeof cap.version, "%s", FG_CAPSULE_FIRST_VERSION);
    snprintf(cap.owner_id, sizeof cap.owner_id, "%s", actor_id(a));
    cap.trust_level = trust;
    cap.created_at = cap.updated_at = cap.version_created_at = now;
    snprintf(cap.version_author_id, sizeof cap.version_author_id, "%s", actor_id(a));
    content_hash(in->content, in->content_len, cap.content_hash);

    if ((e = ops->insert(c, &cap, in->parent_id ? in->reason : NULL)) != FG_OK) {
        if (e == FG_ECONFLICT) { /* the owner reference failed: no such account */
            why->rule = "account";
            snprintf(why->message, sizeof why->message,
                     "the account creating the capsule does not exist");
            e = FG_EFORBIDDEN;
        }
        goto out;
    }
    write_stage("create", "insert", &t);
    e = emit(app, c, "capsule.created", cap.id,
             json_pack("{sssssssssssosssI}", "id", cap.id, "type", cap.type, "owner_id",
                       cap.owner_id, "version", cap.version, "trust_level",
                       fg_trust_name(cap.trust_level), "parent_id",
                       cap.parent_id[0] ? json_string(cap.parent_id) : json_null(), "content_hash",
                       cap.content_hash, "created_at", (json_int_t)now));
    if (e != FG_OK)
        goto out;
    write_stage("create", "outbox", &t);
    json_t *d = json_pack("{ssssss}", "type", cap.type, "trust_level",
                          fg_trust_name(cap.trust_level), "version", cap.version);
    if (cap.parent_id[0])
        json_object_set_new(d, "parent_id", json_string(cap.parent_id));
    e = audit(app, c, a, "capsule.create", cap.id, "success", d);
    if (e == FG_OK)
        write_stage("create", "audit", &t);
out:
    store_capsule_clear(&parent);
    e = store_tx_close(app->store, c, e);
    if (e == FG_OK) {
        write_stage("create", "commit", &t); /* durable: the group's COMMIT and fsync */
        capsule_copy(out, &cap);
        metric_op("create", 1);
        metric_live(1, 1);
    } else if (e == FG_EFORBIDDEN) {
        audit_denied(app, a, "capsule.create", in->parent_id, why);
    }
    return e;
}

enum fg_err fg_capsule_get(struct fg_app *app, const struct fg_ctx *a, const char *id,
                           unsigned flags, int include_deleted, struct store_capsule *out)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = app->store->capsules->get(c, id, flags, out);
    store_release(app->store, c);
    if (e != FG_OK)
        return e;
    int ok = out->trust_level <= fg_ctx_read_trust(a) && !fg_capsule_owner_hidden(a, out) &&
             (!out->is_deleted || (include_deleted && a->admin));
    if (!ok) {
        store_capsule_clear(out);
        return FG_ENOTFOUND;
    }
    return FG_OK;
}

enum fg_err fg_capsule_list(struct fg_app *app, const struct fg_ctx *a,
                            struct store_capsule_filter *f, long long page, long long per_page,
                            store_capsule_cb cb, void *ctx, long long *total)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    f->max_trust = fg_ctx_read_trust(a);
    f->include_quarantined_owners = a->admin;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = app->store->capsules->list(c, f, (page - 1) * per_page, per_page, cb, ctx, total);
    store_release(app->store, c);
    return e;
}

enum fg_err fg_capsule_update(struct fg_app *app, const struct fg_ctx *a, const char *id,
                              const struct fg_capsule_input *in, struct store_capsule *out,
                              struct fg_capsule_why *why)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    if ((e = forbid_quarantined(a, why)) != FG_OK) {
        audit_denied(app, a, "capsule.update", id, why);
        return e;
    }
    if ((e = fg_capsule_validate(in, why)) != FG_OK || (e = forbid_policy_type(in, why)) != FG_OK)
        return e;
    struct fg_capsule_input hooked;
    char *hook_meta = NULL;
    if ((e = overlay_hooks(app, a, "capsule.update", id, &in, &hooked, &hook_meta, why)) != FG_OK)
        return e;
    if (hook_meta && (e = fg_capsule_validate(in, why)) != FG_OK) {
        free(hook_meta);
        return e;
    }
    e = capsule_update_in(app, a, id, in, out, why);
    free(hook_meta);
    return e;
}

static enum fg_err capsule_update_in(struct fg_app *app, const struct fg_ctx *a, const char *id,
                                     const struct fg_capsule_input *in, struct store_capsule *out,
                                     struct fg_capsule_why *why)
{
    enum fg_err e;
    struct store_capsule cur;
    memset(&cur, 0, sizeof cur);
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    int changed = 0;
    if ((e = load_visible(app, c, a, id, &cur, why)) != FG_OK)
        goto out;
    if ((e = forbid_owner(a, &cur, why)) != FG_OK)
        goto out;

    struct store_capsule next = cur;
    char hash[65];
    int content_changed = 0, type_changed = 0, meta_changed = 0;
    if (in->content) {
        content_hash(in->content, in->content_len, hash);
        if (strcmp(hash, cur.content_hash) != 0) {
            content_changed = 1;
            next.content = (char *)(uintptr_t)in->content;
            next.content_len = in->content_len;
            memcpy(next.content_hash, hash, sizeof hash);
        }
    }
    if (in->type && strcmp(in->type, cur.type) != 0) {
        type_changed = 1;
        snprintf(next.type, sizeof next.type, "%s", in->type);
    }
    if (in->metadata) {
        /* compare as JSON values: key order and spacing are not changes */
        json_t *m1 = json_loads(in->metadata, 0, NULL);
        json_t *m0 = json_loads(cur.metadata, 0, NULL);
        meta_changed = !json_equal(m0, m1);
        json_decref(m0);
        json_decref(m1);
        if (meta_changed)
            next.metadata = (char *)(uintptr_t)in->metadata;
    }
    changed = content_changed || type_changed || meta_changed;
    if (!changed) {
        capsule_copy(out, &cur);
        goto out;
    }
    int64_t now = fg_now_ms();
    next.updated_at = now;
    struct store_revision prev = {0};
    if (content_changed) {
        if (fg_version_bump_minor(cur.version, next.version, sizeof next.version) != 0) {
            fg_log(FG_LOG_ERROR, "capsule_bad_version", FG_LF_STR("id", id), FG_LF_END);
            e = FG_EINTERNAL;
            goto out;
        }
        next.version_created_at = now;
        snprintf(next.version_author_id, sizeof next.version_author_id, "%s", actor_id(a));
        prev = (struct store_revision){
            .capsule_id = cur.id,
            .version = cur.version,
            .content = cur.content,
            .content_len = cur.content_len,
            .metadata = cur.metadata,
            .content_hash = cur.content_hash,
            .created_at = cur.version_created_at,
            .author = cur.version_author_id,
            .superseded_at = now,
            .superseded_by = actor_id(a),
        };
    }
    if ((e = app->store->capsules->update(c, &next, content_changed ? &prev : NULL)) != FG_OK)
        goto out;
    json_t *fields = json_array();
    if (content_changed)
        json_array_append_new(fields, json_string("content"));
    if (type_changed)
        json_array_append_new(fields, json_string("type"));
    if (meta_changed)
        json_array_append_new(fields, json_string("metadata"));
    e = emit(app, c, "capsule.updated", cur.id,
             json_pack("{sssOsssssssIss}", "id", cur.id, "fields", fields, "version", next.version,
                       "previous_version", cur.version, "content_hash", next.content_hash,
                       "updated_at", (json_int_t)now, "actor_id", actor_id(a)));
    if (e == FG_OK)
        e = audit(app, c, a, "capsule.update", cur.id, "success",
                  json_pack("{sOssss}", "fields", fields, "version_from", cur.version, "version_to",
                            next.version));
    json_decref(fields);
    if (e == FG_OK)
        capsule_copy(out, &next);
out:
    e = store_tx_close(app->store, c, e);
    if (e == FG_OK && changed) {
        metric_op("update", 1);
        metric_live(0, 1);
    } else if (e != FG_OK) {
        if (out->content)
            store_capsule_clear(out);
        if (e == FG_EFORBIDDEN)
            audit_denied(app, a, "capsule.update", id, why);
    }
    store_capsule_clear(&cur);
    return e;
}

struct del_ctx {
    struct fg_app *app;
    struct store_conn *c;
    const struct fg_ctx *a;
    const char *root;
    enum fg_err err;
    long long n;
    int cascade;
};

static int on_deleted(const char *id, void *vctx)
{
    struct del_ctx *d = vctx;
    int is_root = strcmp(id, d->root) == 0;
    json_t *p = json_pack("{sssssssb}", "id", id, "actor_id", actor_id(d->a), "cascade_root",
                          d->root, "cascade", d->cascade);
    d->err = fg_graph_on_capsule_deleted(d->app, d->c, d->a, id, d->root);
    if (d->err == FG_OK)
        d->err = emit(d->app, d->c, "capsule.deleted", id, p);
    else
        json_decref(p);
    if (d->err == FG_OK) {
        json_t *det = json_pack("{sb}", "cascade", d->cascade);
        if (!is_root)
            json_object_set_new(det, "cascade_root", json_string(d->root));
        d->err = audit(d->app, d->c, d->a, "capsule.delete", id, "success", det);
    }
    d->n++;
    return d->err != FG_OK;
}

enum fg_err fg_capsule_delete(struct fg_app *app, const struct fg_ctx *a, const char *id,
                              int cascade, long long *deleted, struct fg_capsule_why *why)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    *deleted = 0;
    if ((e = forbid_quarantined(a, why)) != FG_OK) {
        audit_denied(app, a, "capsule.delete", id, why);
        return e;
    }
    struct store_capsule cur;
    memset(&cur, 0, sizeof cur);
    struct del_ctx d = {.app = app, .a = a, .root = id, .cascade = cascade};
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    d.c = c;
    if ((e = load_visible(app, c, a, id, &cur, why)) != FG_OK)
        goto out;
    if ((e = forbid_owner(a, &cur, why)) != FG_OK)
        goto out;
    /* A delete never reaches what the caller cannot read, and says nothing about how much of
     * it there is (issue 11): any hidden live descendant refuses the delete, with or without
     * cascade, and the 409 counts only the children the caller can see. */
    long long hidden = 0, n = 0;
    if ((e = app->store->capsules->subtree_visibility(c, id, fg_ctx_read_trust(a), a->admin,
                                                      &hidden, &n)) != FG_OK)
        goto out;
    if (hidden > 0) {
        why->rule = "hidden_descendants";
        snprintf(why->message, sizeof why->message,
                 "capsules derived from this one are not readable by you; only an admin can "
                 "delete it");
        e = FG_EFORBIDDEN;
        goto out;
    }
    if (!cascade) {
        if (n > 0) {
            why->rule = "live_children";
            why->children = n;
            snprintf(why->message, sizeof why->message,
                     "capsule has %lld live child capsule%s; delete with cascade=true to remove "
                     "the whole subtree",
                     n, n == 1 ? "" : "s");
            e = FG_ECONFLICT;
            goto out;
        }
    }
    e = app->store->capsules->soft_delete(c, id, cascade, fg_now_ms(), on_deleted, &d);
    if (e == FG_OK)
        e = d.err;
out:
    e = store_tx_close(app->store, c, e);
    if (e == FG_OK) {
        *deleted = d.n;
        metric_op("delete", (double)d.n);
        metric_live(-(double)d.n, (double)d.n);
    } else if (e == FG_EFORBIDDEN) {
        audit_denied(app, a, "capsule.delete", id, why);
    }
    store_capsule_clear(&cur);
    return e;
}

enum fg_err fg_capsule_set_trust(struct fg_app *app, const struct fg_ctx *a, const char *id,
                                 int trust, struct store_capsule *out, struct fg_capsule_why *why)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    if (trust < 0 || trust > FG_TRUST_CORE)
        return invalid(why, "trust_level", "trust_level is not a trust level");
    struct store_capsule cur;
    memset(&cur, 0, sizeof cur);
    int changed = 0;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    /* the admin path: every live capsule, whatever its trust */
    e = app->store->capsules->get(c, id, 0, &cur);
    if (e == FG_OK && cur.is_deleted)
        e = FG_ENOTFOUND;
    if (e != FG_OK) {
        why->what = "capsule";
        goto out;
    }
    int from = cur.trust_level;
    if (from != trust) {
        changed = 1;
        int64_t now = fg_now_ms();
        if ((e = app->store->capsules->set_trust(c, id, trust, now)) != FG_OK)
            goto out;
        cur.trust_level = trust;
        cur.updated_at = now;
        e = emit(app, c, "capsule.updated", id,
                 json_pack("{sss[s]sssssI}", "id", id, "fields", "trust_level", "trust_from",
                           fg_trust_name(from), "trust_to", fg_trust_name(trust), "updated_at",
                           (json_int_t)now));
        if (e == FG_OK)
            e = audit(app, c, a, "capsule.trust_change", id, "success",
                      json_pack("{ssss}", "from", fg_trust_name(from), "to", fg_trust_name(trust)));
    }
    if (e == FG_OK)
        capsule_copy(out, &cur);
out:
    e = store_tx_close(app->store, c, e);
    if (e == FG_OK && changed) {
        metric_op("update", 1);
        metric_live(0, 1);
    } else if (e != FG_OK && out->content) {
        store_capsule_clear(out);
    }
    store_capsule_clear(&cur);
    return e;
}

enum fg_err fg_capsule_children(struct fg_app *app, const struct fg_ctx *a, const char *id,
                                long long page, long long per_page, store_capsule_cb cb, void *ctx,
                                long long *total)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    struct store_capsule cur;
    memset(&cur, 0, sizeof cur);
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    if ((e = load_visible(app, c, a, id, &cur, NULL)) == FG_OK) {
        struct store_capsule_filter f = {.max_trust = fg_ctx_read_trust(a),
                                         .trust_level = -1,
                                         .parent_id = id,
                                         .include_quarantined_owners = a->admin};
        e = app->store->capsules->list(c, &f, (page - 1) * per_page, per_page, cb, ctx, total);
    }
    store_release(app->store, c);
    store_capsule_clear(&cur);
    return e;
}

enum fg_err fg_capsule_revisions(struct fg_app *app, const struct fg_ctx *a, const char *id,
                                 long long page, long long per_page, struct store_capsule *cur,
                                 int *with_current, store_revision_cb cb, void *ctx,
                                 long long *total)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    if ((e = load_visible(app, c, a, id, cur, NULL)) != FG_OK)
        goto out;
    /* position 0 is the current version; stored revisions follow */
    long long offset = (page - 1) * per_page, limit = per_page;
    *with_current = offset == 0;
    if (*with_current) {
        limit--;
    } else {
        offset--;
    }
    long long stored = 0;
    e = app->store->capsules->revisions(c, id, offset, limit, cb, ctx, &stored);
    *total = stored + 1;
out:
    store_release(app->store, c);
    return e;
}

void fg_capsules_start(struct fg_app *app)
{
    if (need_store(app) != FG_OK || !fgm.capsules)
        return;
    enum fg_err e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return;
    long long n = 0;
    if (app->store->capsules->count_live(c, &n) == FG_OK)
        fg_metric_set(fgm.capsules, NULL, (double)n);
    store_release(app->store, c);
}

/* ---- representation -------------------------------------------------------------------- */

static json_t *iso(int64_t ms)
{
    char b[40];
    fg_time_iso(ms, b, sizeof b);
    return json_string(b);
}

/* The stored embedding: float32 little-endian, as the search subsystem writes it. */
static json_t *embedding_json(const void *blob, size_t len)
{
    if (!blob || len == 0 || len % 4 != 0)
        return json_null();
    json_t *a = json_array();
    const unsigned char *p = blob;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t u = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
                     (uint32_t)p[i + 3] << 24;
        float f;
        memcpy(&f, &u, sizeof f);
        json_array_append_new(a, json_real((double)f));
    }
    return a;
}

json_t *fg_capsule_json(const struct store_capsule *cap, int with_embedding)
{
    json_t *meta = json_loadb(cap->metadata ? cap->metadata : "{}",
                              cap->metadata ? strlen(cap->metadata) : 2, 0, NULL);
    if (!json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(cap->id));
    json_object_set_new(
        o, "content",
        json_stringn(cap->content ? cap->content : "", cap->content ? cap->content_len : 0));
    json_object_set_new(o, "type", json_string(cap->type));
    json_object_set_new(o, "metadata", meta);
    json_object_set_new(o, "version", json_string(cap->version));
    json_object_set_new(o, "owner_id", json_string(cap->owner_id));
    json_object_set_new(o, "trust_level", json_string(fg_trust_name(cap->trust_level)));
    json_object_set_new(o, "parent_id",
                        cap->parent_id[0] ? json_string(cap->parent_id) : json_null());
    json_object_set_new(o, "created_at", iso(cap->created_at));
    json_object_set_new(o, "updated_at", iso(cap->updated_at));
    json_object_set_new(o, "is_deleted", json_boolean(cap->is_deleted));
    /* server-owned (issue 11): who made the capsule, a member or an approved proposal */
    json_object_set_new(o, "origin",
                        json_string(cap->origin_proposal_id[0] ? "governance" : "member"));
    json_object_set_new(o, "origin_proposal_id",
                        cap->origin_proposal_id[0] ? json_string(cap->origin_proposal_id)
                                                   : json_null());
    if (cap->is_deleted)
        json_object_set_new(o, "deleted_at", iso(cap->deleted_at));
    if (with_embedding)
        json_object_set_new(o, "embedding", embedding_json(cap->embedding, cap->embedding_len));
    json_object_set_new(o, "superseded_by", json_null()); /* set by fg_graph_annotate */
    return o;
}

/* ---- response-size bounds (issue 11) ------------------------------------------------------ */

size_t fg_utf8_prefix(const char *s, size_t len, size_t chars)
{
    size_t i = 0, n = 0;
    while (i < len) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (n == chars)
                break;
            n++;
        }
        i++;
    }
    return i;
}

size_t fg_content_budget_take(struct fg_content_budget *b, const char *content, size_t len)
{
    if (len <= b->left) {
        b->left -= len;
        return len;
    }
    b->capped = 1;
    return fg_utf8_prefix(content ? content : "", len, FG_CONTENT_PREVIEW_CHARS);
}

json_t *fg_capsule_json_budget(const struct store_capsule *cap, struct fg_content_budget *b)
{
    size_t keep = fg_content_budget_take(b, cap->content, cap->content_len);
    struct store_capsule view = *cap;
    view.content_len = keep;
    json_t *o = fg_capsule_json(&view, 0);
    if (keep < cap->content_len) {
        json_object_set_new(o, "content_truncated", json_true());
        json_object_set_new(o, "content_bytes", json_integer((json_int_t)cap->content_len));
    }
    return o;
}
