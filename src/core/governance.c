/* Governance: proposals, votes, closing and execution (governance.h). */
#include "core/governance.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/app.h"
#include "core/audit.h"
#include "core/authz.h"
#include "core/capsule.h"
#include "core/constitution.h"
#include "core/events.h"
#include "core/immune.h"
#include "core/metrics.h"
#include "core/overlay.h"
#include "core/quarantine.h"
#include "core/shared_state.h"
#include "store/capsules.h"
#include "store/store.h"
#include "store/users.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"
#include "util/uuid.h"

const char *const fg_gov_types[] = {
    "configuration", "policy", "trust_adjustment", "overlay_registration", "overlay_update",
    "emergency",     NULL,
};

/*
 * Runtime settings a configuration proposal may change. Deliberately not here:
 * FEATURE_GOVERNANCE_ENABLED (a vote could switch voting off for good) and
 * FEATURE_COMPLIANCE_LOGGING (the audit trail is not up for a vote); settings read only at start
 * (ports, pools, secrets, paths) and strings (fg_config_set_runtime refuses them).
 */
const char *const fg_gov_config_whitelist[] = {
    "RATE_LIMIT_REQUESTS_PER_MINUTE",
    "RATE_LIMIT_CORE",
    "RATE_LIMIT_TRUSTED",
    "RATE_LIMIT_STANDARD",
    "RATE_LIMIT_SANDBOX",
    "RATE_LIMIT_QUARANTINE",
    "FEATURE_OVERLAYS_ENABLED",
    "SEARCH_MIN_SCORE",
    "HNSW_EF_SEARCH",
    "GOVERNANCE_MIN_VOTING_HOURS",
    "GOVERNANCE_CLOSE_INTERVAL_S",
    "GOVERNANCE_QUORUM",
    "GOVERNANCE_APPROVAL_THRESHOLD",
    NULL,
};

static const char *const target_types[] = {"user", "overlay", "capsule", NULL};
static const char *const trust_names[] = {"core",    "trusted",    "standard",
                                          "sandbox", "quarantine", NULL};
static const char *const emergency_actions[] = {"quarantine_user", "block_ip", NULL};

/* Closing (and executing) is serialised in the process: configuration changes are applied to
 * the running process after their commit, in commit order. */
static pthread_mutex_t close_mu = PTHREAD_MUTEX_INITIALIZER;

int fg_gov_config_allowed(const char *key)
{
    for (size_t i = 0; key && fg_gov_config_whitelist[i]; i++)
        if (strcmp(key, fg_gov_config_whitelist[i]) == 0)
            return 1;
    return 0;
}

int fg_gov_is_meta(const char *type, const json_t *payload)
{
    if (!type || strcmp(type, "configuration") != 0)
        return 0;
    const char *key = json_string_value(json_object_get(payload, "key"));
    return key && strncmp(key, FG_GOV_META_PREFIX, strlen(FG_GOV_META_PREFIX)) == 0;
}

int fg_gov_quorum_floor_ppm(struct fg_app *app)
{
    return fg_gov_ppm(fg_cfg_dbl(&app->cfg->governance_quorum));
}

int fg_gov_threshold_floor_ppm(struct fg_app *app)
{
    return fg_gov_ppm(fg_cfg_dbl(&app->cfg->governance_approval_threshold));
}

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

int fg_gov_min_trust(const char *type)
{
    if (!type)
        return -1;
    if (strcmp(type, "configuration") == 0 || strcmp(type, "policy") == 0 ||
        strcmp(type, "trust_adjustment") == 0)
        return FG_TRUST_TRUSTED;
    if (strcmp(type, "overlay_registration") == 0 || strcmp(type, "overlay_update") == 0)
        return FG_TRUST_STANDARD;
    if (strcmp(type, "emergency") == 0)
        return FG_TRUST_CORE;
    return -1;
}

int fg_gov_weight2(int trust)
{
    if (trust >= FG_TRUST_CORE)
        return 10;
    if (trust >= FG_TRUST_TRUSTED)
        return 6;
    if (trust >= FG_TRUST_STANDARD)
        return 2;
    if (trust >= FG_TRUST_SANDBOX)
        return 1;
    return 0;
}

int fg_gov_ppm(double x)
{
    if (!(x > 0))
        return 0;
    if (x >= 1)
        return FG_GOV_PPM;
    return (int)llround(x * FG_GOV_PPM);
}

void fg_gov_decide(int64_t for2, int64_t against2, int64_t abstain2, int64_t eligible2,
                   int quorum_ppm, int threshold_ppm, struct fg_gov_outcome *o)
{
    memset(o, 0, sizeof *o);
    o->cast2 = for2 + against2 + abstain2;
    int64_t decided = for2 + against2;
    o->participation = eligible2 > 0 ? (double)o->cast2 / (double)eligible2 : 0.0;
    o->approval = decided > 0 ? (double)for2 / (double)decided : 0.0;
    /* exact: integer cross products instead of comparing rounded quotients */
    if (eligible2 > 0)
        o->quorum_reached = o->cast2 * FG_GOV_PPM >= (int64_t)quorum_ppm * eligible2;
    else
        o->quorum_reached = quorum_ppm == 0;
    if (decided > 0)
        o->threshold_reached = for2 * FG_GOV_PPM >= (int64_t)threshold_ppm * decided;
    else
        o->threshold_reached = threshold_ppm == 0;
    o->approved = o->quorum_reached && o->threshold_reached;
}

/* ---- payload validation ------------------------------------------------------------------ */

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static enum fg_err bad(struct fg_gov_why *why, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum fg_err bad(struct fg_gov_why *why, const char *field, const char *fmt, ...)
{
    snprintf(why->field, sizeof why->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->message, sizeof why->message, fmt, ap);
    va_end(ap);
    return FG_EINVAL;
}

static int known_only(const json_t *obj, const char *const *known, struct fg_gov_why *why)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        (void)v;
        size_t i = 0;
        while (known[i] && strcmp(known[i], k) != 0)
            i++;
        if (!known[i]) {
            char f[64];
            snprintf(f, sizeof f, "payload.%.40s", k);
            bad(why, f, "unknown field '%.40s' in the payload", k);
            return -1;
        }
    }
    return 0;
}

/* A string field of the payload: 0 present (*out), 1 absent and optional, -1 error. */
static int pl_string(const json_t *obj, const char *key, int required, size_t min, size_t max,
                     const char **out, struct fg_gov_why *why)
{
    char f[64];
    snprintf(f, sizeof f, "payload.%s", key);
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (!required)
            return 1;
        bad(why, f, "%s is required", f);
        return -1;
    }
    if (!json_is_string(v)) {
        bad(why, f, "%s must be a string", f);
        return -1;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        bad(why, f, "%s must not contain NUL characters", f);
        return -1;
    }
    size_t n = utf8_chars(s);
    if (n < min || n > max) {
        bad(why, f, "%s must have %zu to %zu characters", f, min, max);
        return -1;
    }
    *out = s;
    return 0;
}

static int pl_enum(const json_t *obj, const char *key, const char *const *allowed, const char **out,
                   struct fg_gov_why *why)
{
    const char *s;
    if (pl_string(obj, key, 1, 1, 64, &s, why) != 0)
        return -1;
    char list[200] = "";
    size_t n = 0;
    for (size_t i = 0; allowed[i]; i++) {
        if (strcmp(allowed[i], s) == 0) {
            *out = allowed[i];
            return 0;
        }
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", allowed[i]);
        if (n >= sizeof list)
            n = sizeof list - 1;
    }
    char f[64];
    snprintf(f, sizeof f, "payload.%s", key);
    bad(why, f, "%s must be one of: %s", f, list);
    return -1;
}

/* A scalar JSON value as the text fg_config_set parses. -1 for objects, arrays, null. */
static int scalar_text(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return (size_t)snprintf(buf, len, "%s", json_string_value(v)) < len ? 0 : -1;
    if (json_is_integer(v))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v)) {
        /* the shortest text that reads back as the same double */
        double d = json_real_value(v);
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, len, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
    } else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    else
        return -1;
    return 0;
}

static int ip_valid(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

enum fg_err fg_gov_validate_payload(const char *type, const json_t *payload, struct fg_gov_why *why)
{
    memset(why, 0, sizeof *why);
    if (!json_is_object(payload))
        return bad(why, "payload", "payload must be an object");
    const char *s;
    if (strcmp(type, "trust_adjustment") == 0) {
        static const char *const known[] = {"target_type", "target_id", "proposed_trust", "reason",
                                            NULL};
        const char *tt, *tid;
        if (known_only(payload, known, why) ||
            pl_enum(payload, "target_type", target_types, &tt, why) ||
            pl_string(payload, "target_id", 1, 1, FG_GOV_TARGET_ID_MAX, &tid, why) ||
            pl_enum(payload, "proposed_trust", trust_names, &s, why) ||
            pl_string(payload, "reason", 1, 1, FG_GOV_REASON_MAX, &s, why))
            return FG_EINVAL;
        if (strcmp(tt, "overlay") != 0 && !fg_uuid_valid(tid))
            return bad(why, "payload.target_id", "payload.target_id must be the UUID of a %s", tt);
        return FG_OK;
    }
    if (strcmp(type, "configuration") == 0) {
        static const char *const known[] = {"key", "value", NULL};
        const char *key;
        if (known_only(payload, known, why) || pl_string(payload, "key", 1, 1, 64, &key, why))
            return FG_EINVAL;
        if (!fg_gov_config_allowed(key)) {
            char list[512] = "";
            size_t n = 0;
            for (size_t i = 0; fg_gov_config_whitelist[i] && n < sizeof list; i++)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                                      fg_gov_config_whitelist[i]);
            return bad(why, "payload.key", "payload.key must be one of: %s", list);
        }
        const json_t *v = json_object_get(payload, "value");
        char text[128], err[200];
        if (!v || json_is_null(v))
            return bad(why, "payload.value", "payload.value is required");
        if (scalar_text(v, text, sizeof text) != 0)
            return bad(why, "payload.value",
                       "payload.value must be a string, a number or a boolean");
        if (fg_config_check(key, text, err, sizeof err) != 0)
            return bad(why, "payload.value", "%s", err);
        return FG_OK;
    }
    if (strcmp(type, "overlay_registration") == 0 || strcmp(type, "overlay_update") == 0) {
        static const char *const known_reg[] = {"overlay_id", "name",   "version",
                                                "manifest",   "reason", NULL};
        static const char *const known_upd[] = {"overlay_id", "version", "changes", "reason", NULL};
        int reg = type[8] == 'r';
        if (known_only(payload, reg ? known_reg : known_upd, why) ||
            pl_string(payload, "overlay_id", 1, 1, FG_GOV_TARGET_ID_MAX, &s, why) ||
            pl_string(payload, "name", 0, 1, 100, &s, why) < 0 ||
            pl_string(payload, "version", 0, 1, 32, &s, why) < 0 ||
            pl_string(payload, "reason", 0, 1, FG_GOV_REASON_MAX, &s, why) < 0)
            return FG_EINVAL;
        const char *obj = reg ? "manifest" : "changes";
        const json_t *o = json_object_get(payload, obj);
        if (o && !json_is_object(o))
            return bad(why, reg ? "payload.manifest" : "payload.changes",
                       "payload.%s must be an object", obj);
        return FG_OK;
    }
    if (strcmp(type, "policy") == 0) {
        static const char *const known[] = {"title", "content", NULL};
        if (known_only(payload, known, why) ||
            pl_string(payload, "title", 1, 1, FG_GOV_TITLE_MAX, &s, why) ||
            pl_string(payload, "content", 1, 1, FG_CAPSULE_CONTENT_MAX, &s, why))
            return FG_EINVAL;
        if (strlen(s) > FG_CAPSULE_CONTENT_MAX)
            return bad(why, "payload.content", "payload.content must be at most %u bytes",
                       FG_CAPSULE_CONTENT_MAX);
        return FG_OK;
    }
    if (strcmp(type, "emergency") == 0) {
        static const char *const known[] = {"action", "target", "reason", NULL};
        const char *action, *target;
        if (known_only(payload, known, why) ||
            pl_enum(payload, "action", emergency_actions, &action, why) ||
            pl_string(payload, "target", 1, 1, FG_GOV_TARGET_ID_MAX, &target, why) ||
            pl_string(payload, "reason", 0, 1, FG_QUARANTINE_REASON_MAX, &s, why) < 0)
            return FG_EINVAL;
        if (strcmp(action, "quarantine_user") == 0 && !fg_uuid_valid(target))
            return bad(why, "payload.target", "payload.target must be the UUID of a user");
        if (strcmp(action, "block_ip") == 0 && !ip_valid(target))
            return bad(why, "payload.target", "payload.target must be an IPv4 or IPv6 address");
        return FG_OK;
    }
    return bad(why, "type", "unknown proposal type");
}

/* ---- helpers ------------------------------------------------------------------------------ */

static enum fg_err need_store(struct fg_app *app)
{
    return app && app->store && app->store->governance ? FG_OK : FG_EUNAVAIL;
}

static const struct store_governance_ops *G(struct fg_app *app)
{
    return app->store->governance;
}

static int is_store_error(enum fg_err e)
{
    return e == FG_EDB || e == FG_EUNAVAIL || e == FG_EIO || e == FG_EINTERNAL;
}

static void metric_status(const char *status)
{
    if (!fgm.proposals)
        return;
    const char *v[] = {status};
    fg_metric_add(fgm.proposals, v, 1);
}

static enum fg_err audit_in(struct fg_app *app, struct store_conn *c, const struct fg_ctx *a,
                            const char *action, const char *rtype, const char *rid,
                            const char *outcome, json_t *details_new)
{
    struct fg_audit_entry e = {
        .actor_id = fg_ctx_actor(a),
        .action = action,
        .resource_type = rtype,
        .resource_id = rid,
        .client_ip = a ? a->client_ip : NULL,
        .correlation_id = a ? a->correlation_id : NULL,
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

static json_t *iso_or_null(int64_t ms)
{
    if (!ms)
        return json_null();
    char b[40];
    fg_time_iso(ms, b, sizeof b);
    return json_string(b);
}

static json_t *weight_json(int64_t w2)
{
    return json_real((double)w2 / 2.0);
}

/* ---- JSON -------------------------------------------------------------------------------- */

json_t *fg_gov_proposal_json(const struct store_proposal *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(p->id));
    json_object_set_new(o, "title", json_string(p->title ? p->title : ""));
    json_object_set_new(o, "description", json_string(p->description ? p->description : ""));
    json_object_set_new(o, "type", json_string(p->type));
    json_t *pl = p->payload ? json_loads(p->payload, 0, NULL) : NULL;
    json_object_set_new(o, "payload", pl ? pl : json_object());
    json_object_set_new(o, "proposer_id", json_string(p->proposer_id));
    json_object_set_new(o, "status", json_string(p->status));
    json_object_set_new(o, "voting_duration_hours", json_real(p->voting_duration_hours));
    json_object_set_new(o, "quorum", json_real((double)p->quorum_ppm / FG_GOV_PPM));
    json_object_set_new(o, "approval_threshold", json_real((double)p->threshold_ppm / FG_GOV_PPM));
    json_object_set_new(o, "supermajority", json_boolean(fg_gov_is_meta(p->type, pl)));
    int open = p->eligible_weight2 >= 0;
    json_object_set_new(o, "eligible_weight",
                        open ? weight_json(p->eligible_weight2) : json_null());
    json_object_set_new(o, "votes_for", weight_json(p->for2));
    json_object_set_new(o, "votes_against", weight_json(p->against2));
    json_object_set_new(o, "votes_abstain", weight_json(p->abstain2));
    json_object_set_new(o, "votes_cast", json_integer(p->voters));
    struct fg_gov_outcome oc;
    fg_gov_decide(p->for2, p->against2, p->abstain2, open ? p->eligible_weight2 : 0, p->quorum_ppm,
                  p->threshold_ppm, &oc);
    json_object_set_new(o, "cast_weight", weight_json(oc.cast2));
    json_object_set_new(o, "participation", open ? json_real(oc.participation) : json_null());
    json_object_set_new(o, "approval", json_real(oc.approval));
    json_object_set_new(o, "quorum_reached", open ? json_boolean(oc.quorum_reached) : json_null());
    json_object_set_new(o, "threshold_reached",
                        open ? json_boolean(oc.threshold_reached) : json_null());
    const char *result = NULL;
    if (strcmp(p->status, "rejected") == 0)
        result = "rejected";
    else if (strcmp(p->status, "approved") == 0 || strcmp(p->status, "executed") == 0 ||
             strcmp(p->status, "failed") == 0)
        result = "approved";
    json_object_set_new(o, "result", result ? json_string(result) : json_null());
    json_t *rv = p->review ? json_loads(p->review, 0, NULL) : NULL;
    json_object_set_new(o, "review", rv ? rv : json_null());
    json_t *ex = p->execution_result ? json_loads(p->execution_result, 0, NULL) : NULL;
    json_object_set_new(o, "execution_result", ex ? ex : json_null());
    json_object_set_new(o, "created_at", iso_or_null(p->created_at));
    json_object_set_new(o, "updated_at", iso_or_null(p->updated_at));
    json_object_set_new(o, "activated_at", iso_or_null(p->activated_at));
    json_object_set_new(o, "voting_ends_at", iso_or_null(p->voting_ends_at));
    json_object_set_new(o, "closed_at", iso_or_null(p->closed_at));
    json_object_set_new(o, "executed_at", iso_or_null(p->executed_at));
    json_object_set_new(o, "cancelled_at", iso_or_null(p->cancelled_at));
    return o;
}

json_t *fg_gov_vote_json(const struct store_vote *v)
{
    json_t *o = json_object();
    json_object_set_new(o, "proposal_id", json_string(v->proposal_id));
    json_object_set_new(o, "voter_id", json_string(v->voter_id));
    json_object_set_new(o, "vote", json_string(v->vote));
    json_object_set_new(o, "weight", weight_json(v->weight2));
    json_object_set_new(o, "voter_trust_level", json_string(fg_trust_name(v->voter_trust)));
    json_object_set_new(o, "reasoning", json_string(v->reasoning ? v->reasoning : ""));
    json_object_set_new(o, "created_at", iso_or_null(v->created_at));
    json_object_set_new(o, "updated_at", iso_or_null(v->updated_at));
    return o;
}

/* ---- create ------------------------------------------------------------------------------ */

enum fg_err fg_gov_create(struct fg_app *app, const struct fg_ctx *a, const struct fg_gov_new *in,
                          struct store_proposal *out, struct fg_gov_why *why)
{
    enum fg_err e;
    memset(why, 0, sizeof *why);
    if ((e = need_store(app)) != FG_OK)
        return e;
    int min = fg_gov_min_trust(in->type);
    if (min < 0)
        return bad(why, "type",
                   "type must be one of: configuration, policy, trust_adjustment, "
                   "overlay_registration, overlay_update, emergency");
    if (!a || !a->user_id)
        return bad(why, "proposer_id", "a proposal needs a proposing user");
    if (a->trust < min) {
        why->rule = "trust";
        why->required_trust = min;
        snprintf(why->message, sizeof why->message,
                 "proposals of type %s need trust level %s (yours: %s)", in->type,
                 fg_trust_name(min), fg_trust_name(a->trust));
        return FG_EFORBIDDEN;
    }
    /* the community's rules are not the proposer's to choose: only stricter values (issue 11) */
    int qfloor = fg_gov_quorum_floor_ppm(app), tfloor = fg_gov_threshold_floor_ppm(app);
    if (in->quorum_ppm >= 0 && in->quorum_ppm < qfloor)
        return bad(why, "quorum",
                   "quorum must be at least %.6g (the community's GOVERNANCE_QUORUM); a proposal "
                   "may only ask for a stricter value",
                   (double)qfloor / FG_GOV_PPM);
    if (in->threshold_ppm >= 0 && in->threshold_ppm < tfloor)
        return bad(why, "approval_threshold",
                   "approval_threshold must be at least %.6g (the community's "
                   "GOVERNANCE_APPROVAL_THRESHOLD); a proposal may only ask for a stricter value",
                   (double)tfloor / FG_GOV_PPM);
    if ((e = fg_gov_validate_payload(in->type, in->payload, why)) != FG_OK)
        return e;
    int meta = fg_gov_is_meta(in->type, in->payload);
    char *payload = json_dumps(in->payload, JSON_COMPACT | JSON_SORT_KEYS);
    if (!payload || strlen(payload) > FG_GOV_PAYLOAD_MAX) {
        free(payload);
        return bad(why, "payload", "payload is too large");
    }
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    int64_t now = fg_now_ms();
    fg_uuid7(p.id);
    p.title = (char *)(uintptr_t)in->title;
    p.description = (char *)(uintptr_t)in->description;
    snprintf(p.type, sizeof p.type, "%s", in->type);
    p.payload = payload;
    snprintf(p.proposer_id, sizeof p.proposer_id, "%s", a->user_id);
    p.voting_duration_hours = in->voting_hours > 0 ? in->voting_hours : FG_GOV_DEFAULT_VOTING_HOURS;
    /* what the draft shows; activation applies the rules of that moment (fg_gov_activate) */
    p.quorum_ppm = max_int(in->quorum_ppm, max_int(qfloor, meta ? FG_GOV_SUPER_QUORUM_PPM : 0));
    p.threshold_ppm =
        max_int(in->threshold_ppm, max_int(tfloor, meta ? FG_GOV_SUPER_THRESHOLD_PPM : 0));
    p.created_at = p.updated_at = now;

    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c) {
        free(payload);
        return e;
    }
    /* targets must exist when the proposal is made (they are checked again on execution) */
    const json_t *pl = in->payload;
    const char *tt = json_string_value(json_object_get(pl, "target_type"));
    const char *tid = json_string_value(json_object_get(pl, "target_id"));
    const char *action = json_string_value(json_object_get(pl, "action"));
    struct store_user u;
    if (strcmp(in->type, "trust_adjustment") == 0 && strcmp(tt, "user") == 0) {
        e = app->store->users->get_by_id(c, tid, &u);
        if (e == FG_ENOTFOUND)
            e = bad(why, "payload.target_id", "no user with id %s", tid);
        int to = fg_trust_from_name(json_string_value(json_object_get(pl, "proposed_trust")));
        if (e == FG_OK && strcmp(tid, a->user_id) == 0 && to > u.trust) {
            /* nobody proposes their own promotion: another member must (issue 11) */
            why->rule = "self_promotion";
            snprintf(why->message, sizeof why->message,
                     "a proposal may not raise the proposer's own trust; another member must "
                     "propose it");
            e = FG_EFORBIDDEN;
        }
    } else if (strcmp(in->type, "trust_adjustment") == 0 && strcmp(tt, "capsule") == 0) {
        struct store_capsule cap;
        memset(&cap, 0, sizeof cap);
        e = app->store->capsules->get(c, tid, 0, &cap);
        if (e == FG_OK && cap.is_deleted)
            e = FG_ENOTFOUND;
        store_capsule_clear(&cap);
        if (e == FG_ENOTFOUND)
            e = bad(why, "payload.target_id", "no live capsule with id %s", tid);
    } else if (strcmp(in->type, "emergency") == 0 && strcmp(action, "quarantine_user") == 0) {
        const char *target = json_string_value(json_object_get(pl, "target"));
        e = app->store->users->get_by_id(c, target, &u);
        if (e == FG_ENOTFOUND)
            e = bad(why, "payload.target", "no user with id %s", target);
    }
    if (e == FG_OK)
        e = G(app)->create(c, &p);
    if (e == FG_OK)
        e = emit(app, c, "proposal.created", p.id,
                 json_pack("{ssssssssss}", "id", p.id, "type", p.type, "title", p.title,
                           "proposer_id", p.proposer_id, "status", "draft"));
    if (e == FG_OK)
        e = audit_in(app, c, a, "governance.proposal_create", "proposal", p.id, "success",
                     json_pack("{ssss}", "type", p.type, "title", p.title));
    e = store_tx_close(app->store, c, e);
    free(payload);
    if (e != FG_OK)
        return e;
    metric_status("created");
    return fg_gov_get(app, a, p.id, out);
}

/* ---- closing and execution ---------------------------------------------------------------- */

/* What must happen in the running process once the closing transaction has committed. */
struct post_commit {
    int has_config;
    char key[64];
    char value[128];
    char users[2][37];
    int nusers;
    int has_block;
    char ip[64];
    int64_t block_until;
    int capsule_created;
};

static void post_user(struct post_commit *pc, const char *id)
{
    if (pc->nusers < 2)
        snprintf(pc->users[pc->nusers++], sizeof pc->users[0], "%s", id);
}

static void why_msg(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void why_msg(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

static json_t *source_json(const struct store_proposal *p)
{
    return json_pack("{ss}", "proposal_id", p->id);
}

static enum fg_err exec_user_trust(struct fg_app *app, const struct fg_ctx *sys,
                                   struct store_conn *c, const struct store_proposal *p,
                                   const char *uid, int to, const char *reason,
                                   struct post_commit *pc, json_t **res, char *why, size_t wl)
{
    json_t *src = source_json(p);
    enum fg_err e;
    if (to == FG_TRUST_QUARANTINE) {
        struct fg_quarantine_result q;
        e = fg_quarantine_user_in(app, c, sys, uid, "high", reason, src, &q, why, wl);
        if (e == FG_OK)
            *res = json_pack("{ssssssssss}", "action", "quarantine_user", "user_id", uid, "from",
                             fg_trust_name(q.previous_trust), "to", fg_trust_name(q.trust),
                             "response_id", q.response_id);
    } else {
        /* leaving quarantine by vote: the quarantine record is closed, the vote decides */
        struct store_quarantine q;
        e = G(app)->quarantine_get_open(c, "user", uid, &q);
        if (e == FG_OK)
            e = G(app)->quarantine_release(c, q.id, NULL, fg_now_ms());
        else if (e == FG_ENOTFOUND)
            e = FG_OK;
        int from = 0;
        if (e == FG_OK)
            e = fg_user_trust_set_in(app, c, sys, uid, to, "governance.user_trust_changed", src,
                                     &from);
        if (e == FG_ENOTFOUND)
            why_msg(why, wl, "user %s no longer exists", uid);
        if (e == FG_OK)
            *res = json_pack("{sssssssssssb}", "action", "user_trust_changed", "user_id", uid,
                             "from", fg_trust_name(from), "to", fg_trust_name(to), "reason", reason,
                             "changed", from != to);
    }
    json_decref(src);
    if (e == FG_OK)
        post_user(pc, uid);
    return e;
}

static enum fg_err exec_capsule_trust(struct fg_app *app, const struct fg_ctx *sys,
                                      struct store_conn *c, const struct store_proposal *p,
                                      const char *id, int to, json_t **res, char *why, size_t wl)
{
    struct store_capsule cap;
    memset(&cap, 0, sizeof cap);
    enum fg_err e = app->store->capsules->get(c, id, 0, &cap);
    if (e == FG_OK && cap.is_deleted)
        e = FG_ENOTFOUND;
    int from = cap.trust_level;
    store_capsule_clear(&cap);
    if (e == FG_ENOTFOUND) {
        why_msg(why, wl, "capsule %s no longer exists", id);
        return e;
    }
    if (e != FG_OK)
        return e;
    int64_t now = fg_now_ms();
    if (from != to) {
        if ((e = app->store->capsules->set_trust(c, id, to, now)) != FG_OK)
            return e;
        e = emit(app, c, "capsule.updated", id,
                 json_pack("{sss[s]sssssIss}", "id", id, "fields", "trust_level", "trust_from",
                           fg_trust_name(from), "trust_to", fg_trust_name(to), "updated_at",
                           (json_int_t)now, "proposal_id", p->id));
        if (e == FG_OK)
            e = audit_in(app, c, sys, "capsule.trust_change", "capsule", id, "success",
                         json_pack("{ssssss}", "from", fg_trust_name(from), "to", fg_trust_name(to),
                                   "proposal_id", p->id));
    }
    if (e == FG_OK)
        *res = json_pack("{sssssssssssb}", "action", "capsule_trust_changed", "capsule_id", id,
                         "from", fg_trust_name(from), "to", fg_trust_name(to), "proposal_id", p->id,
                         "changed", from != to);
    return e;
}

static enum fg_err exec_config(struct fg_app *app, const struct fg_ctx *sys, struct store_conn *c,
                               const struct store_proposal *p, const json_t *pl,
                               struct post_commit *pc, json_t **res, char *why, size_t wl)
{
    const char *key = json_string_value(json_object_get(pl, "key"));
    char value[128], from[128], err[200], skey[96];
    if (!key || !fg_gov_config_allowed(key) ||
        scalar_text(json_object_get(pl, "value"), value, sizeof value) != 0) {
        why_msg(why, wl, "the setting is not on the governance whitelist");
        return FG_EINVAL;
    }
    if (fg_config_check(key, value, err, sizeof err) != 0) {
        why_msg(why, wl, "%s", err);
        return FG_EINVAL;
    }
    if (fg_config_get(app->cfg, key, from, sizeof from) != 0)
        from[0] = '\0';
    snprintf(skey, sizeof skey, FG_GOV_SETTING_PREFIX "%s", key);
    enum fg_err e = G(app)->setting_put(c, skey, value);
    if (e == FG_OK)
        e = audit_in(app, c, sys, "governance.config_changed", "setting", key, "success",
                     json_pack("{ssssss}", "from", from, "to", value, "proposal_id", p->id));
    if (e == FG_OK)
        e = emit(
            app, c, "system.config_changed", key,
            json_pack("{ssssssss}", "key", key, "from", from, "to", value, "proposal_id", p->id));
    if (e == FG_OK) {
        pc->has_config = 1;
        snprintf(pc->key, sizeof pc->key, "%s", key);
        snprintf(pc->value, sizeof pc->value, "%s", value);
        *res = json_pack("{ssssssss}", "action", "config_changed", "key", key, "from", from, "to",
                         value);
    }
    return e;
}

static enum fg_err exec_policy(struct fg_app *app, const struct fg_ctx *sys, struct store_conn *c,
                               const struct store_proposal *p, const json_t *pl,
                               struct post_commit *pc, json_t **res)
{
    const char *title = json_string_value(json_object_get(pl, "title"));
    const char *content = json_string_value(json_object_get(pl, "content"));
    struct store_capsule cap;
    memset(&cap, 0, sizeof cap);
    int64_t now = fg_now_ms();
    fg_uuid7(cap.id);
    cap.content = (char *)(uintptr_t)content;
    cap.content_len = strlen(content);
    snprintf(cap.type, sizeof cap.type, "policy");
    json_t *meta = json_pack("{ssss}", "title", title, "proposal_id", p->id);
    cap.metadata = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(meta);
    snprintf(cap.version, sizeof cap.version, "%s", FG_CAPSULE_FIRST_VERSION);
    /* owned by the proposer (capsules always belong to an account); readable by standard */
    snprintf(cap.owner_id, sizeof cap.owner_id, "%s", p->proposer_id);
    cap.trust_level = FG_TRUST_STANDARD;
    cap.created_at = cap.updated_at = cap.version_created_at = now;
    snprintf(cap.version_author_id, sizeof cap.version_author_id, "%s", p->proposer_id);
    /* server-owned mark: no client can set it, so a governance policy is told apart (issue 11) */
    snprintf(cap.origin_proposal_id, sizeof cap.origin_proposal_id, "%s", p->id);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)content, cap.content_len);
    sodium_bin2hex(cap.content_hash, sizeof cap.content_hash, h, sizeof h);
    enum fg_err e = app->store->capsules->insert(c, &cap, NULL);
    if (e == FG_OK)
        e = emit(app, c, "capsule.created", cap.id,
                 json_pack("{sssssssssssosssssI}", "id", cap.id, "type", cap.type, "owner_id",
                           cap.owner_id, "version", cap.version, "trust_level",
                           fg_trust_name(cap.trust_level), "parent_id", json_null(), "content_hash",
                           cap.content_hash, "proposal_id", p->id, "created_at", (json_int_t)now));
    if (e == FG_OK)
        e = audit_in(app, c, sys, "capsule.create", "capsule", cap.id, "success",
                     json_pack("{ssssssss}", "type", cap.type, "trust_level",
                               fg_trust_name(cap.trust_level), "version", cap.version,
                               "proposal_id", p->id));
    if (e == FG_OK) {
        pc->capsule_created = 1;
        *res = json_pack("{ssssss}", "action", "policy_capsule_created", "capsule_id", cap.id,
                         "title", title);
    }
    free(cap.metadata);
    return e;
}

static enum fg_err exec_block_ip(struct fg_app *app, const struct fg_ctx *sys, struct store_conn *c,
                                 const struct store_proposal *p, const char *ip, const char *reason,
                                 struct post_commit *pc, json_t **res)
{
    struct store_immune_response r;
    memset(&r, 0, sizeof r);
    int64_t now = fg_now_ms();
    int64_t block_ms = fg_cfg_ll(&app->cfg->ip_block_s) * 1000;
    snprintf(r.threat_type, sizeof r.threat_type, "manual");
    snprintf(r.level, sizeof r.level, "high");
    snprintf(r.target_type, sizeof r.target_type, "ip");
    snprintf(r.target_id, sizeof r.target_id, "%s", ip);
    snprintf(r.action, sizeof r.action, "block_ip");
    snprintf(r.reason, sizeof r.reason, "%.400s", reason);
    json_t *d = json_pack("{sssssI}", "source", "governance", "proposal_id", p->id, "block_s",
                          (json_int_t)(block_ms / 1000));
    char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    r.details = text;
    r.created_at = now;
    r.expires_at = now + block_ms;
    enum fg_err e = fg_immune_record(app, c, sys, &r);
    free(text);
    if (e == FG_OK) {
        pc->has_block = 1;
        snprintf(pc->ip, sizeof pc->ip, "%s", ip);
        pc->block_until = r.expires_at;
        json_t *until = iso_or_null(r.expires_at);
        *res = json_pack("{sssssosssi}", "action", "block_ip", "ip", ip, "until", until,
                         "response_id", r.id, "block_s", (int)(block_ms / 1000));
    }
    return e;
}

/* Runs the approved proposal's change in `c`. Store errors abort the whole close; any other
 * error means the proposal fails with `why`. */
static enum fg_err execute(struct fg_app *app, const struct fg_ctx *sys, struct store_conn *c,
                           const struct store_proposal *p, struct post_commit *pc, json_t **res,
                           char *why, size_t wl)
{
    json_t *pl = json_loads(p->payload ? p->payload : "{}", 0, NULL);
    enum fg_err e = FG_EINVAL;
    if (!pl) {
        why_msg(why, wl, "the stored payload is not valid JSON");
        return FG_EINVAL;
    }
    const char *t = p->type;
    if (strcmp(t, "trust_adjustment") == 0) {
        const char *tt = json_string_value(json_object_get(pl, "target_type"));
        const char *tid = json_string_value(json_object_get(pl, "target_id"));
        const char *reason = json_string_value(json_object_get(pl, "reason"));
        int to = fg_trust_from_name(json_string_value(json_object_get(pl, "proposed_trust")));
        if (!tt || !tid || to < 0) {
            why_msg(why, wl, "the payload is incomplete");
        } else if (strcmp(tt, "user") == 0) {
            e = exec_user_trust(app, sys, c, p, tid, to, reason ? reason : "", pc, res, why, wl);
        } else if (strcmp(tt, "capsule") == 0) {
            e = exec_capsule_trust(app, sys, c, p, tid, to, res, why, wl);
        } else {
            json_t *src = source_json(p);
            e = fg_overlay_govern_in(app, sys, c, "trust", tid, NULL, NULL, to, src, res, why, wl);
            json_decref(src);
        }
    } else if (strcmp(t, "configuration") == 0) {
        e = exec_config(app, sys, c, p, pl, pc, res, why, wl);
    } else if (strcmp(t, "policy") == 0) {
        e = exec_policy(app, sys, c, p, pl, pc, res);
    } else if (strncmp(t, "overlay_", 8) == 0) {
        json_t *src = source_json(p);
        e = fg_overlay_govern_in(app, sys, c, t[8] == 'r' ? "registration" : "update",
                                 json_string_value(json_object_get(pl, "overlay_id")),
                                 json_string_value(json_object_get(pl, "name")),
                                 json_string_value(json_object_get(pl, "version")), 0, src, res,
                                 why, wl);
        json_decref(src);
    } else if (strcmp(t, "emergency") == 0) {
        const char *action = json_string_value(json_object_get(pl, "action"));
        const char *target = json_string_value(json_object_get(pl, "target"));
        const char *reason = json_string_value(json_object_get(pl, "reason"));
        char dflt[96];
        snprintf(dflt, sizeof dflt, "emergency proposal %s", p->id);
        if (!reason)
            reason = dflt;
        if (action && target && strcmp(action, "quarantine_user") == 0) {
            json_t *src = source_json(p);
            struct fg_quarantine_result q;
            e = fg_quarantine_user_in(app, c, sys, target, "critical", reason, src, &q, why, wl);
            json_decref(src);
            if (e == FG_OK) {
                post_user(pc, target);
                *res = json_pack("{ssssssssss}", "action", "quarantine_user", "user_id", target,
                                 "from", fg_trust_name(q.previous_trust), "to",
                                 fg_trust_name(q.trust), "response_id", q.response_id);
            }
        } else if (action && target && strcmp(action, "block_ip") == 0) {
            e = exec_block_ip(app, sys, c, p, target, reason, pc, res);
        } else {
            why_msg(why, wl, "unknown emergency action");
        }
    } else {
        why_msg(why, wl, "unknown proposal type");
    }
    json_decref(pl);
    return e;
}

static void post_commit_apply(struct fg_app *app, const struct post_commit *pc)
{
    if (pc->has_config) {
        char err[200];
        if (fg_config_set_runtime(app->cfg, pc->key, pc->value, err, sizeof err) != 0)
            fg_log(FG_LOG_ERROR, "governance_config_apply_failed", FG_LF_STR("key", pc->key),
                   FG_LF_STR("error", err), FG_LF_END);
        else
            fg_log(FG_LOG_INFO, "governance_config_applied", FG_LF_STR("key", pc->key),
                   FG_LF_STR("value", pc->value), FG_LF_END);
    }
    for (int i = 0; i < pc->nusers; i++)
        fg_quarantine_forget_user(app, pc->users[i]);
    if (pc->has_block && app->shared) {
        /* the same shared-state entry as the automatic block of core/immune.c */
        char key[96], val[32];
        int64_t left = pc->block_until - fg_now_ms();
        snprintf(key, sizeof key, "ipb:%s", pc->ip);
        snprintf(val, sizeof val, "%" PRId64, pc->block_until);
        if (left > 0)
            fg_ss_set(app->shared, key, val, left, 0, NULL);
    }
    if (pc->capsule_created) {
        if (fgm.capsules)
            fg_metric_add(fgm.capsules, NULL, 1);
        if (fgm.capsule_ops) {
            const char *v[] = {"create"};
            fg_metric_add(fgm.capsule_ops, v, 1);
        }
    }
}

/* Closes proposal `id` if it is active and due at `now`. *closed = 1 when this call closed it.
 * The close and the execution are the system's (FG_GOV_ACTOR) under the correlation id of what
 * triggered them (`trigger`: the request whose vote, cancel or read found it due, or the closer's
 * pass), a new job id when `trigger` is NULL or has none. */
static enum fg_err close_one(struct fg_app *app, const struct fg_ctx *trigger, const char *id,
                             int *closed)
{
    *closed = 0;
    struct fg_job_ctx job;
    struct fg_ctx sys;
    if (trigger && trigger->correlation_id && trigger->correlation_id[0])
        fg_ctx_system(&sys, FG_GOV_ACTOR, trigger->correlation_id);
    else
        sys = *fg_ctx_job(&job, FG_GOV_ACTOR);
    pthread_mutex_lock(&close_mu);
    enum fg_err e = FG_OK;
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    struct post_commit pc;
    memset(&pc, 0, sizeof pc);
    const char *status = NULL, *final = NULL;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        goto unlock;
    int64_t now = fg_now_ms();
    e = G(app)->get(c, id, &p);
    if (e != FG_OK || strcmp(p.status, "active") != 0 || p.voting_ends_at > now) {
        store_rollback(app->store, c);
        store_release(app->store, c);
        goto unlock;
    }
    struct fg_gov_outcome oc;
    fg_gov_decide(p.for2, p.against2, p.abstain2, p.eligible_weight2, p.quorum_ppm, p.threshold_ppm,
                  &oc);
    status = oc.approved ? "approved" : "rejected";
    json_t *tally = json_pack(
        "{sssssososososIsosososbsbsf}", "id", p.id, "status", status, "votes_for",
        weight_json(p.for2), "votes_against", weight_json(p.against2), "votes_abstain",
        weight_json(p.abstain2), "eligible_weight", weight_json(p.eligible_weight2), "votes_cast",
        (json_int_t)p.voters, "participation", json_real(oc.participation), "approval",
        json_real(oc.approval), "quorum", json_real((double)p.quorum_ppm / FG_GOV_PPM),
        "quorum_reached", oc.quorum_reached, "threshold_reached", oc.threshold_reached,
        "approval_threshold", (double)p.threshold_ppm / FG_GOV_PPM);
    e = G(app)->close(c, id, status, now);
    if (e == FG_OK)
        e = audit_in(app, c, &sys, "governance.proposal_close", "proposal", id, "success",
                     json_deep_copy(tally));
    if (e == FG_OK)
        e = emit(app, c, "proposal.closed", id, json_incref(tally));
    json_decref(tally);
    if (e == FG_OK && oc.approved) {
        char why[320] = "";
        json_t *res = NULL;
        e = G(app)->savepoint(c);
        enum fg_err xe = e == FG_OK ? execute(app, &sys, c, &p, &pc, &res, why, sizeof why) : e;
        if (e == FG_OK && is_store_error(xe)) {
            e = xe;
        } else if (e == FG_OK && xe != FG_OK) {
            e = G(app)->savepoint_rollback(c);
            memset(&pc, 0, sizeof pc);
            json_decref(res);
            res = json_pack("{ssss}", "status", "failed", "reason", why[0] ? why : fg_err_name(xe));
            final = "failed";
        } else if (e == FG_OK) {
            e = G(app)->savepoint_release(c);
            json_object_set_new(res, "status", json_string("executed"));
            final = "executed";
        }
        if (e == FG_OK) {
            char *text = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS);
            e = G(app)->finish(c, id, final, text, now);
            free(text);
        }
        if (e == FG_OK)
            e = audit_in(app, c, &sys, "governance.proposal_execute", "proposal", id,
                         strcmp(final, "executed") == 0 ? "success" : "failure",
                         json_deep_copy(res));
        if (e == FG_OK)
            e = emit(
                app, c, "proposal.executed", id,
                json_pack("{sssssssO}", "id", id, "type", p.type, "status", final, "result", res));
        json_decref(res);
    }
    e = store_tx_close(app->store, c, e);
    if (e == FG_OK) {
        *closed = 1;
        post_commit_apply(app, &pc);
        metric_status(status);
        if (final)
            metric_status(final);
        fg_log(FG_LOG_INFO, "proposal_closed", FG_LF_STR("proposal_id", id),
               FG_LF_STR("status", final ? final : status), FG_LF_END);
    } else {
        fg_log(FG_LOG_ERROR, "proposal_close_failed", FG_LF_STR("proposal_id", id),
               FG_LF_STR("error", fg_err_name(e)), FG_LF_END);
    }
unlock:
    pthread_mutex_unlock(&close_mu);
    store_proposal_clear(&p);
    return e;
}

struct id_list {
    char (*ids)[37];
    size_t n, cap;
};

static int collect_id(const char *id, void *ctx)
{
    struct id_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->ids = fg_xrealloc(l->ids, l->cap * sizeof *l->ids);
    }
    snprintf(l->ids[l->n++], sizeof l->ids[0], "%s", id);
    return 0;
}

enum fg_err fg_gov_close_due(struct fg_app *app, const struct fg_ctx *ctx, int *closed)
{
    enum fg_err e;
    if (closed)
        *closed = 0;
    if ((e = need_store(app)) != FG_OK)
        return e;
    struct id_list l = {0};
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = G(app)->due(c, fg_now_ms(), FG_GOV_CLOSE_BATCH, collect_id, &l);
    store_release(app->store, c);
    for (size_t i = 0; e == FG_OK && i < l.n; i++) {
        int one = 0;
        e = close_one(app, ctx, l.ids[i], &one);
        if (closed)
            *closed += one;
    }
    free(l.ids);
    return e;
}

/* ---- reads -------------------------------------------------------------------------------- */

static enum fg_err read_one(struct fg_app *app, const char *id, struct store_proposal *out)
{
    enum fg_err e = FG_OK;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = G(app)->get(c, id, out);
    store_release(app->store, c);
    return e;
}

enum fg_err fg_gov_get(struct fg_app *app, const struct fg_ctx *ctx, const char *id,
                       struct store_proposal *out)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    if ((e = read_one(app, id, out)) != FG_OK)
        return e;
    if (strcmp(out->status, "active") == 0 && out->voting_ends_at <= fg_now_ms()) {
        /* due: close (and execute) before answering, so results never wait for the job */
        int closed = 0;
        store_proposal_clear(out);
        if ((e = close_one(app, ctx, id, &closed)) != FG_OK)
            return e;
        e = read_one(app, id, out);
    }
    return e;
}

enum fg_err fg_gov_list(struct fg_app *app, const struct fg_ctx *actx,
                        const struct store_proposal_filter *f, long long page, long long per_page,
                        store_proposal_cb cb, void *ctx, long long *total)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    if ((e = fg_gov_close_due(app, actx, NULL)) != FG_OK)
        return e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = G(app)->list(c, f, (page - 1) * per_page, per_page, cb, ctx, total);
    store_release(app->store, c);
    return e;
}

enum fg_err fg_gov_stats(struct fg_app *app, struct store_governance_stats *out)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = G(app)->stats(c, out);
    store_release(app->store, c);
    return e;
}

/* ---- activate, cancel --------------------------------------------------------------------- */

static int is_actor(const struct fg_ctx *a, const char *user_id)
{
    return a && a->user_id && strcmp(a->user_id, user_id) == 0;
}

/* The advisory review of `p` in the state seen through `c` (new reference). */
static json_t *review_of(struct fg_app *app, struct store_conn *c, const struct store_proposal *p)
{
    json_t *pl = json_loads(p->payload ? p->payload : "{}", 0, NULL);
    struct fg_review_input in;
    memset(&in, 0, sizeof in);
    in.type = p->type;
    in.payload = pl;
    in.voting_hours = p->voting_duration_hours;
    in.quorum_ppm = p->quorum_ppm;
    in.threshold_ppm = p->threshold_ppm;
    in.description_chars = p->description ? utf8_chars(p->description) : 0;
    in.proposer_id = p->proposer_id;
    in.target_trust = -1;
    char current[128];
    const char *tt = json_string_value(json_object_get(pl, "target_type"));
    const char *tid = json_string_value(json_object_get(pl, "target_id"));
    const char *target = json_string_value(json_object_get(pl, "target"));
    struct store_user u;
    if (tt && tid && strcmp(tt, "user") == 0 && app->store->users->get_by_id(c, tid, &u) == FG_OK) {
        in.target_trust = u.trust;
        in.target_is_admin = (u.roles & FG_ROLE_ADMIN) != 0;
    } else if (tt && tid && strcmp(tt, "capsule") == 0) {
        struct store_capsule cap;
        memset(&cap, 0, sizeof cap);
        if (app->store->capsules->get(c, tid, 0, &cap) == FG_OK && !cap.is_deleted)
            in.target_trust = cap.trust_level;
        store_capsule_clear(&cap);
    } else if (strcmp(p->type, "emergency") == 0 && target && fg_uuid_valid(target) &&
               app->store->users->get_by_id(c, target, &u) == FG_OK) {
        in.target_is_admin = (u.roles & FG_ROLE_ADMIN) != 0;
    } else if (strcmp(p->type, "configuration") == 0) {
        const char *key = json_string_value(json_object_get(pl, "key"));
        if (key && fg_config_get(app->cfg, key, current, sizeof current) == 0)
            in.current_value = current;
    }
    json_t *r = fg_constitution_review(&in);
    json_decref(pl);
    return r;
}

enum fg_err fg_gov_activate(struct fg_app *app, const struct fg_ctx *a, const char *id,
                            struct store_proposal *out, struct fg_gov_why *why)
{
    enum fg_err e;
    memset(why, 0, sizeof *why);
    if ((e = need_store(app)) != FG_OK)
        return e;
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    int64_t eligible2 = 0, now = fg_now_ms(), ends = 0;
    json_t *review = NULL;
    if ((e = G(app)->get(c, id, &p)) != FG_OK)
        goto out;
    if (!is_actor(a, p.proposer_id) && !(a && a->admin)) {
        why->rule = "proposer_or_admin";
        snprintf(why->message, sizeof why->message,
                 "only the proposer or an admin may activate a proposal");
        e = FG_EFORBIDDEN;
        goto out;
    }
    if (strcmp(p.status, "draft") != 0) {
        why->rule = "status";
        snprintf(why->message, sizeof why->message,
                 "only a draft can be activated; this proposal is %s", p.status);
        e = FG_ECONFLICT;
        goto out;
    }
    {
        /* the rules of this moment are the proposal's (snapshot): the community floors, the
         * supermajority for governance's own settings, the minimum voting time */
        json_t *pl = json_loads(p.payload ? p.payload : "{}", 0, NULL);
        int meta = fg_gov_is_meta(p.type, pl);
        json_decref(pl);
        double min_hours = fg_cfg_dbl(&app->cfg->governance_min_voting_hours);
        p.quorum_ppm = max_int(p.quorum_ppm, max_int(fg_gov_quorum_floor_ppm(app),
                                                     meta ? FG_GOV_SUPER_QUORUM_PPM : 0));
        p.threshold_ppm = max_int(p.threshold_ppm, max_int(fg_gov_threshold_floor_ppm(app),
                                                           meta ? FG_GOV_SUPER_THRESHOLD_PPM : 0));
        if (p.voting_duration_hours < min_hours)
            p.voting_duration_hours = min_hours;
        if ((e = G(app)->set_rules(c, id, p.quorum_ppm, p.threshold_ppm,
                                   p.voting_duration_hours)) != FG_OK)
            goto out;
    }
    /* the electorate: only the accounts eligible now may vote, with their weight of now */
    if ((e = G(app)->electorate_snapshot(c, id, &eligible2)) != FG_OK)
        goto out;
    ends = now + (int64_t)llround(p.voting_duration_hours * 3600000.0);
    review = review_of(app, c, &p);
    char *rtext = json_dumps(review, JSON_COMPACT);
    e = G(app)->activate(c, id, eligible2, now, ends, rtext);
    free(rtext);
    if (e == FG_OK) {
        char iso[40];
        fg_time_iso(ends, iso, sizeof iso);
        e = emit(app, c, "proposal.activated", id,
                 json_pack("{sssssosssO}", "id", id, "type", p.type, "eligible_weight",
                           weight_json(eligible2), "voting_ends_at", iso, "recommendation",
                           json_object_get(review, "recommendation")));
    }
    if (e == FG_OK)
        e = audit_in(app, c, a, "governance.proposal_activate", "proposal", id, "success",
                     json_pack("{sIsOsf}", "eligible_weight2", (json_int_t)eligible2,
                               "recommendation", json_object_get(review, "recommendation"),
                               "voting_duration_hours", p.voting_duration_hours));
out:
    json_decref(review);
    store_proposal_clear(&p);
    e = store_tx_close(app->store, c, e);
    if (e != FG_OK)
        return e;
    metric_status("activated");
    return fg_gov_get(app, a, id, out);
}

enum fg_err fg_gov_cancel(struct fg_app *app, const struct fg_ctx *a, const char *id,
                          struct store_proposal *out, struct fg_gov_why *why)
{
    enum fg_err e;
    memset(why, 0, sizeof *why);
    if ((e = need_store(app)) != FG_OK)
        return e;
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    int due = 0;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    int64_t now = fg_now_ms();
    if ((e = G(app)->get(c, id, &p)) != FG_OK)
        goto out;
    if (!is_actor(a, p.proposer_id)) {
        why->rule = "proposer";
        snprintf(why->message, sizeof why->message, "only the proposer may cancel a proposal");
        e = FG_EFORBIDDEN;
        goto out;
    }
    if (strcmp(p.status, "active") == 0 && p.voting_ends_at <= now) {
        due = 1;
        why->rule = "deadline";
        snprintf(why->message, sizeof why->message,
                 "voting has ended; the proposal is being closed and can no longer be cancelled");
        e = FG_ECONFLICT;
        goto out;
    }
    if (strcmp(p.status, "draft") != 0 && strcmp(p.status, "active") != 0) {
        why->rule = "status";
        snprintf(why->message, sizeof why->message,
                 "only a draft or active proposal can be cancelled; this proposal is %s", p.status);
        e = FG_ECONFLICT;
        goto out;
    }
    e = G(app)->cancel(c, id, now);
    if (e == FG_OK)
        e = emit(
            app, c, "proposal.closed", id,
            json_pack("{ssssss}", "id", id, "status", "cancelled", "previous_status", p.status));
    if (e == FG_OK)
        e = audit_in(app, c, a, "governance.proposal_cancel", "proposal", id, "success",
                     json_pack("{ss}", "previous_status", p.status));
out:
    store_proposal_clear(&p);
    e = store_tx_close(app->store, c, e);
    if (due) {
        int closed;
        close_one(app, a, id, &closed);
    }
    if (e != FG_OK)
        return e;
    metric_status("cancelled");
    return fg_gov_get(app, a, id, out);
}

/* ---- votes -------------------------------------------------------------------------------- */

enum fg_err fg_gov_vote(struct fg_app *app, const struct fg_ctx *a, const char *id,
                        const char *vote, const char *reasoning, json_t **vote_json, int *created,
                        struct fg_gov_why *why)
{
    enum fg_err e;
    memset(why, 0, sizeof *why);
    *vote_json = NULL;
    *created = 0;
    if ((e = need_store(app)) != FG_OK)
        return e;
    if (!vote ||
        (strcmp(vote, "for") != 0 && strcmp(vote, "against") != 0 && strcmp(vote, "abstain") != 0))
        return bad(why, "vote", "vote must be one of: for, against, abstain");
    if (!a || !a->user_id)
        return bad(why, "voter_id", "a vote needs a voting user");
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    int due = 0;
    struct store_conn *c = store_tx_open(app->store, &e);
    if (!c)
        return e;
    int64_t now = fg_now_ms();
    if ((e = G(app)->get(c, id, &p)) != FG_OK)
        goto out;
    if (strcmp(p.status, "active") != 0) {
        why->rule = "status";
        snprintf(why->message, sizeof why->message,
                 "votes are accepted only while a proposal is active; this proposal is %s",
                 p.status);
        e = FG_ECONFLICT;
        goto out;
    }
    if (now >= p.voting_ends_at) {
        char iso[40];
        fg_time_iso(p.voting_ends_at, iso, sizeof iso);
        due = 1;
        why->rule = "deadline";
        snprintf(why->message, sizeof why->message, "voting closed at %s", iso);
        e = FG_ECONFLICT;
        goto out;
    }
    /* the weight comes from the voter's stored trust, not from the token */
    struct store_user u;
    if ((e = app->store->users->get_by_id(c, a->user_id, &u)) != FG_OK)
        goto out;
    int w2 = fg_gov_weight2(u.trust);
    if (w2 == 0) {
        why->rule = "quarantine";
        snprintf(why->message, sizeof why->message, "quarantined users cannot vote");
        e = FG_EFORBIDDEN;
        goto out;
    }
    /* only the electorate fixed at activation votes, with the weight it had then (issue 11) */
    int snap_trust = 0;
    e = G(app)->electorate_get(c, id, a->user_id, &w2, &snap_trust);
    if (e == FG_ENOTFOUND) {
        why->rule = "electorate";
        snprintf(why->message, sizeof why->message,
                 "only accounts eligible when the proposal was activated may vote on it");
        e = FG_EFORBIDDEN;
    }
    if (e != FG_OK)
        goto out;
    struct store_vote prev, v;
    e = G(app)->vote_get(c, id, a->user_id, &prev);
    if (e != FG_OK && e != FG_ENOTFOUND)
        goto out;
    *created = e == FG_ENOTFOUND;
    memset(&v, 0, sizeof v);
    snprintf(v.proposal_id, sizeof v.proposal_id, "%s", id);
    snprintf(v.voter_id, sizeof v.voter_id, "%s", a->user_id);
    snprintf(v.vote, sizeof v.vote, "%s", vote);
    v.weight2 = w2;
    v.voter_trust = snap_trust;
    v.reasoning = reasoning ? reasoning : "";
    v.created_at = *created ? now : prev.created_at;
    v.updated_at = now;
    if ((e = G(app)->vote_put(c, &v, *created)) != FG_OK)
        goto out;
    json_t *ev = json_pack("{sssssssosI}", "proposal_id", id, "voter_id", a->user_id, "vote", vote,
                           "weight", weight_json(w2), "at", (json_int_t)now);
    if (!*created)
        json_object_set_new(ev, "previous_vote", json_string(prev.vote));
    e = audit_in(app, c, a, "governance.vote", "proposal", id, "success", json_deep_copy(ev));
    if (e == FG_OK)
        e = emit(app, c, *created ? "vote.cast" : "vote.updated", id, json_incref(ev));
    json_decref(ev);
    if (e == FG_OK)
        *vote_json = fg_gov_vote_json(&v);
out:
    store_proposal_clear(&p);
    e = store_tx_close(app->store, c, e);
    if (due) {
        int closed;
        close_one(app, a, id, &closed);
    }
    if (e != FG_OK) {
        json_decref(*vote_json);
        *vote_json = NULL;
        return e;
    }
    if (*created && fgm.votes)
        fg_metric_add(fgm.votes, NULL, 1);
    return FG_OK;
}

enum fg_err fg_gov_votes(struct fg_app *app, const char *id, long long page, long long per_page,
                         store_vote_cb cb, void *ctx, long long *total)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    struct store_proposal p;
    memset(&p, 0, sizeof p);
    if ((e = fg_gov_get(app, NULL, id, &p)) != FG_OK)
        return e;
    store_proposal_clear(&p);
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = G(app)->votes_list(c, id, (page - 1) * per_page, per_page, cb, ctx, total);
    store_release(app->store, c);
    return e;
}

/* ---- persisted settings, closing thread ---------------------------------------------------- */

static void apply_setting(void *ctx, const char *key, const char *value)
{
    struct fg_app *app = ctx;
    const char *name = key + strlen(FG_GOV_SETTING_PREFIX);
    char err[200];
    if (!fg_gov_config_allowed(name)) {
        fg_log(FG_LOG_WARN, "governance_setting_ignored", FG_LF_STR("key", name),
               FG_LF_STR("reason", "not on the whitelist"), FG_LF_END);
        return;
    }
    if (fg_config_set_runtime(app->cfg, name, value, err, sizeof err) != 0) {
        fg_log(FG_LOG_WARN, "governance_setting_ignored", FG_LF_STR("key", name),
               FG_LF_STR("reason", err), FG_LF_END);
        return;
    }
    fg_log(FG_LOG_INFO, "governance_setting_applied", FG_LF_STR("key", name),
           FG_LF_STR("value", value), FG_LF_END);
}

enum fg_err fg_gov_apply_settings(struct fg_app *app)
{
    enum fg_err e;
    if ((e = need_store(app)) != FG_OK)
        return e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    e = G(app)->settings_list(c, FG_GOV_SETTING_PREFIX, apply_setting, app);
    store_release(app->store, c);
    return e;
}

struct gov_state {
    struct fg_app *app;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static void *closer_main(void *arg)
{
    struct gov_state *g = arg;
    for (;;) {
        int closed = 0;
        struct fg_job_ctx job; /* one job id per pass */
        enum fg_err e = fg_gov_close_due(g->app, fg_ctx_job(&job, FG_GOV_ACTOR), &closed);
        if (e != FG_OK)
            fg_log(FG_LOG_WARN, "governance_close_pass_failed", FG_LF_STR("error", fg_err_name(e)),
                   FG_LF_END);
        long long interval = fg_cfg_ll(&g->app->cfg->governance_close_interval_s);
        if (interval < 1)
            interval = 1;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += interval;
        pthread_mutex_lock(&g->mu);
        while (!g->stop && pthread_cond_timedwait(&g->cv, &g->mu, &until) != ETIMEDOUT)
            ;
        int stop = g->stop;
        pthread_mutex_unlock(&g->mu);
        if (stop)
            break;
    }
    return NULL;
}

int fg_gov_start(struct fg_app *app, char *err, size_t errlen)
{
    if (need_store(app) != FG_OK) {
        fg_log(FG_LOG_WARN, "governance_unavailable",
               FG_LF_STR("reason", "the store has no governance area"), FG_LF_END);
        return 0;
    }
    enum fg_err e = fg_gov_apply_settings(app);
    if (e != FG_OK) {
        snprintf(err, errlen, "DATABASE_URL: cannot read the persisted settings (%s)",
                 fg_err_name(e));
        return -1;
    }
    struct gov_state *g = fg_xcalloc(1, sizeof *g);
    g->app = app;
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->thread, NULL, closer_main, g) != 0) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        free(g);
        snprintf(err, errlen, "governance: cannot start the closing thread");
        return -1;
    }
    app->governance = g;
    return 0;
}

void fg_gov_stop(struct fg_app *app)
{
    struct gov_state *g = app ? app->governance : NULL;
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
    app->governance = NULL;
}
