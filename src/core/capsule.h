/*
 * Capsules (SPEC §4.1–4.2): the rules of creating, reading, listing, updating and deleting
 * knowledge capsules. No SQL and no HTTP here: the store (store/capsules.h) keeps the rows, the
 * API (api/capsules.c) turns requests into calls and results into JSON.
 *
 * Every change runs in one store transaction together with its outbox event (core/events.h) and
 * its audit entry (core/audit.h), so a change is never visible without both.
 *
 * Visibility: an actor sees a capsule when its trust ≥ the capsule's trust and the capsule is not
 * deleted. Invisible capsules behave as absent (FG_ENOTFOUND), so their existence does not leak.
 * Admins see every capsule (effective trust core).
 *
 * Errors: FG_EINVAL (why->field names the field), FG_ENOTFOUND (why->what: "capsule" or
 * "parent capsule"), FG_EFORBIDDEN (why->rule: "trust" or "owner_or_admin"), FG_ECONFLICT
 * (why->rule "live_children", why->children), FG_EUNAVAIL / FG_EDB from the store.
 */
#ifndef CORE_CAPSULE_H
#define CORE_CAPSULE_H

#include <stddef.h>

#include <jansson.h>

#include "core/ctx.h"
#include "store/capsules.h"
#include "util/err.h"

struct fg_app;

#define FG_CAPSULE_CONTENT_MAX   (1u << 20)  /* bytes (SPEC §4.1: 1 MB) */
#define FG_CAPSULE_METADATA_MAX  (64u << 10) /* bytes of compact JSON */
#define FG_CAPSULE_REASON_MAX    1000        /* characters of a derivation reason */
#define FG_CAPSULE_DEFAULT_TYPE  "knowledge"
#define FG_CAPSULE_FIRST_VERSION "1.0.0"
/* Recorded as the author of changes made without a user (maintenance); capsules are always
 * owned by a user account (capsules.owner_id references users). */
#define FG_SYSTEM_ACTOR_ID "00000000-0000-0000-0000-000000000000"

/** The capsule types of SPEC §4.1, NULL-terminated. */
extern const char *const fg_capsule_types[];

/** Why a call failed (filled on FG_EINVAL / FG_ENOTFOUND / FG_EFORBIDDEN / FG_ECONFLICT). */
struct fg_capsule_why {
    const char *field; /* FG_EINVAL */
    char message[200];
    const char *what; /* FG_ENOTFOUND: "capsule" | "parent capsule" */
    const char *rule; /* FG_EFORBIDDEN / FG_ECONFLICT */
    int required_trust, actual_trust;
    long long children;
};

/** Fields of a create or update; NULL means absent (update: unchanged). Borrowed. */
struct fg_capsule_input {
    const char *content;
    size_t content_len;
    const char *type;
    const char *metadata;  /* JSON object text */
    const char *parent_id; /* create only */
    const char *reason;    /* create only: why the capsule derives from its parent */
};

/** The trust an actor reads with: its own, or core for admins. */
int fg_ctx_read_trust(const struct fg_ctx *a);
/** 1 when `cap` is hidden from `a` because its owner is quarantined now (trust below sandbox):
 * such capsules are visible to admins only until the owner is released (issue 11). */
int fg_capsule_owner_hidden(const struct fg_ctx *a, const struct store_capsule *cap);

/** "1.4.2" → "1.5.0". -1 when `v` is not MAJOR.MINOR.PATCH. */
int fg_version_bump_minor(const char *v, char *out, size_t outlen);

/** Checks content (1 byte–1 MB, valid UTF-8), type (enum) and metadata (object ≤ 64 KB) that are
 * present in `in`. FG_EINVAL with why->field on the first violation. */
enum fg_err fg_capsule_validate(const struct fg_capsule_input *in, struct fg_capsule_why *why);

/**
 * Creates a capsule owned by the actor. With a parent: the parent must exist and be live
 * (FG_ENOTFOUND, what "parent capsule"), the actor's trust must reach the parent's (FG_EFORBIDDEN,
 * rule "trust"), and the capsule gets min(actor trust, parent trust) and a DERIVED_FROM edge.
 * Without: min(actor trust, standard). `out` (zeroed by the caller) receives the stored capsule;
 * release with store_capsule_clear.
 */
enum fg_err fg_capsule_create(struct fg_app *app, const struct fg_ctx *a,
                              const struct fg_capsule_input *in, struct store_capsule *out,
                              struct fg_capsule_why *why);

/** Fetches a capsule the actor may see. `flags`: STORE_CAPSULE_WITH_EMBEDDING. Deleted capsules
 * are returned only when `include_deleted` and the actor is an admin. */
enum fg_err fg_capsule_get(struct fg_app *app, const struct fg_ctx *a, const char *id,
                           unsigned flags, int include_deleted, struct store_capsule *out);

/** Lists live capsules the actor may see, newest first. f->max_trust is set here. */
enum fg_err fg_capsule_list(struct fg_app *app, const struct fg_ctx *a,
                            struct store_capsule_filter *f, long long page, long long per_page,
                            store_capsule_cb cb, void *ctx, long long *total);

/**
 * Updates content / type / metadata (owner or admin: FG_EFORBIDDEN rule "owner_or_admin").
 * A content change bumps the minor version and keeps the previous version as a revision; type
 * or metadata alone change no version. Nothing changed: no write, `out` is the current state.
 */
enum fg_err fg_capsule_update(struct fg_app *app, const struct fg_ctx *a, const char *id,
                              const struct fg_capsule_input *in, struct store_capsule *out,
                              struct fg_capsule_why *why);

/** Soft-deletes (owner or admin). Live children without `cascade`: FG_ECONFLICT; with it the
 * whole live subtree goes. *deleted = number of capsules deleted. */
enum fg_err fg_capsule_delete(struct fg_app *app, const struct fg_ctx *a, const char *id,
                              int cascade, long long *deleted, struct fg_capsule_why *why);

/** Sets a capsule's trust level (admins; the caller checks the permission). */
enum fg_err fg_capsule_set_trust(struct fg_app *app, const struct fg_ctx *a, const char *id,
                                 int trust, struct store_capsule *out, struct fg_capsule_why *why);

/** Live direct children of a visible capsule, newest first. */
enum fg_err fg_capsule_children(struct fg_app *app, const struct fg_ctx *a, const char *id,
                                long long page, long long per_page, store_capsule_cb cb, void *ctx,
                                long long *total);

/**
 * Versions of a visible capsule, newest first: the current version (from `cur`, filled here;
 * release with store_capsule_clear) at position 0 followed by the superseded ones. The callback
 * receives the superseded revisions of the page; *with_current says whether the page starts with
 * the current version. *total counts all versions.
 */
enum fg_err fg_capsule_revisions(struct fg_app *app, const struct fg_ctx *a, const char *id,
                                 long long page, long long per_page, struct store_capsule *cur,
                                 int *with_current, store_revision_cb cb, void *ctx,
                                 long long *total);

/*
 * Response-size bounds (issue 11, finding 3): a response that carries capsule contents (lists,
 * children, revisions, search, lineage with ?include=content) spends at most
 * FG_RESPONSE_CONTENT_BUDGET bytes of content; items past it carry a preview (the first
 * FG_CONTENT_PREVIEW_CHARS characters, never a split character) and `content_truncated: true`
 * with `content_bytes` (the full size). GET /capsules/{id} returns the whole content.
 */
#define FG_RESPONSE_CONTENT_BUDGET (4u << 20)
#define FG_CONTENT_PREVIEW_CHARS   200
struct fg_content_budget {
    size_t left;
    int capped; /* 1 once an item was cut */
};
static inline void fg_content_budget_init(struct fg_content_budget *b)
{
    b->left = FG_RESPONSE_CONTENT_BUDGET;
    b->capped = 0;
}
/** Byte length of the first `chars` characters of UTF-8 text s[0..len). */
size_t fg_utf8_prefix(const char *s, size_t len, size_t chars);
/** Spends `len` bytes of `b`: returns len when they fit, else the byte length of the preview
 * (nothing is spent then and b->capped is set). */
size_t fg_content_budget_take(struct fg_content_budget *b, const char *content, size_t len);
/** fg_capsule_json (without embedding) within a budget: past it, a preview with
 * `content_truncated: true` and `content_bytes`. */
json_t *fg_capsule_json_budget(const struct store_capsule *cap, struct fg_content_budget *b);

/** The API representation (SPEC §4.1; new reference): id, content, type, metadata, version,
 * owner_id, trust_level (name), parent_id, created_at, updated_at, is_deleted (+ deleted_at), and
 * with `with_embedding` the embedding as an array of numbers (null when not computed). */
json_t *fg_capsule_json(const struct store_capsule *cap, int with_embedding);

/** Sets the capsule gauge from the store (at start). */
void fg_capsules_start(struct fg_app *app);

#endif
