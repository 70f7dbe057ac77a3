/*
 * Time travel (SPEC §4.4): any version of a capsule, the capsule as of a time, and a line diff
 * between two versions. The diff is Myers' O(ND) algorithm over lines (after stripping the
 * common prefix and suffix), bounded: beyond FG_DIFF_EDITS_MAX differing lines the middle is
 * reported as one replacement (coarse = 1), which is still a correct diff, only not minimal.
 */
#ifndef CORE_HISTORY_H
#define CORE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/capsule.h"

struct fg_app;

#define FG_DIFF_EDITS_MAX 1000 /* D bound of the Myers search (memory O(D²), time O((N+M)·D)) */
#define FG_DIFF_CONTEXT   3    /* lines of context around changes */

/** One version of a capsule (heap fields; release with fg_version_clear). */
struct fg_version {
    char version[32];
    char *content;
    size_t content_len;
    char *metadata;
    char content_hash[65];
    int64_t created_at;
    char author_id[37];
    int64_t superseded_at; /* 0 for the current version */
    int current;
};

void fg_version_clear(struct fg_version *v);

/** Edit script of a line diff: 'e' (equal), 'd' (line of a removed), 'i' (line of b added). */
struct fg_diff {
    char *ops;
    size_t n;
    int coarse;
};

/** Computes the line diff of a → b with at most max_edits differing lines searched. */
void fg_diff_lines(const char *a, size_t an, const char *b, size_t bn, int max_edits,
                   struct fg_diff *out);
void fg_diff_free(struct fg_diff *d);

/** Unified-diff hunks of a → b as JSON: [{old_start, old_lines, new_start, new_lines, lines:
 * [" ctx", "-old", "+new"]}], plus *added / *removed line counts and *coarse. */
json_t *fg_diff_hunks(const char *a, size_t an, const char *b, size_t bn, int context,
                      int max_edits, long long *added, long long *removed, int *coarse);

/** Top-level key changes between two metadata objects (JSON text): [{key, change
 * added|removed|changed, from?, to?}], keys in order. */
json_t *fg_diff_metadata(const char *from, const char *to);

/** Version `version` ("current" or exact) of a capsule the actor may read; FG_ENOTFOUND with
 * why->what "capsule" or "version". */
enum fg_err fg_history_version(struct fg_app *app, const struct fg_ctx *a, const char *id,
                               const char *version, struct fg_version *out,
                               struct fg_capsule_why *why);

/** The capsule as it was at `at` (ms): content, metadata and version of then; type and trust are
 * today's (not versioned). FG_ENOTFOUND if it did not exist yet, or was deleted by then, or the
 * actor may not read it now. `out` zeroed by the caller; release with store_capsule_clear. */
enum fg_err fg_history_as_of(struct fg_app *app, const struct fg_ctx *a, const char *id, int64_t at,
                             int include_deleted, struct store_capsule *out);

#endif
