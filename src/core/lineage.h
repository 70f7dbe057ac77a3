/*
 * Lineage (isnad, SPEC §4.2): the chain of DERIVED_FROM ancestors of a capsule, nearest first.
 *
 * Depth counts hops from the capsule (its parent is depth 1). Deleted ancestors are walked
 * through but not reported, so depths may skip a number; ancestors the actor may not read are
 * left out the same way. The walk stops after `max_depth` hops and reports `truncated` when the
 * chain goes on beyond.
 */
#ifndef CORE_LINEAGE_H
#define CORE_LINEAGE_H

#include "core/capsule.h"
#include "store/capsules.h"

#define FG_LINEAGE_DEPTH_DEFAULT 10
#define FG_LINEAGE_DEPTH_MAX     50 /* API bound (SPEC §4.2); the store walks any depth */

/** Ancestors of a capsule the actor can see (FG_ENOTFOUND otherwise), through `cb`. */
enum fg_err fg_lineage_ancestors(struct fg_app *app, const struct fg_ctx *a, const char *id,
                                 int max_depth, store_ancestor_cb cb, void *ctx, int *truncated);

#endif
