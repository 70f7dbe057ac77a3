/* Lineage walk (lineage.h): visibility of the starting capsule here, the walk in the store. */
#include "core/lineage.h"

#include <string.h>

#include "core/app.h"
#include "store/store.h"

/* Leaves out ancestors whose owner is quarantined (visible to admins only, issue 11). */
struct filter_ctx {
    const struct fg_ctx *a;
    store_ancestor_cb cb;
    void *ctx;
};

static int filter_cb(const struct store_ancestor *an, void *vctx)
{
    struct filter_ctx *f = vctx;
    if (!an->erased && fg_capsule_owner_hidden(f->a, an->cap))
        return 0;
    return f->cb(an, f->ctx);
}

enum fg_err fg_lineage_ancestors(struct fg_app *app, const struct fg_ctx *a, const char *id,
                                 int max_depth, store_ancestor_cb cb, void *ctx, int *truncated)
{
    *truncated = 0;
    if (!app || !app->store || !app->store->capsules)
        return FG_EUNAVAIL;
    if (max_depth < 1)
        return FG_EINVAL;
    const struct store_capsule_ops *ops = app->store->capsules;
    int trust = fg_ctx_read_trust(a);
    enum fg_err e;
    struct store_conn *c = store_acquire(app->store, &e);
    if (!c)
        return e;
    struct store_capsule cap;
    memset(&cap, 0, sizeof cap);
    e = ops->get(c, id, 0, &cap);
    if (e == FG_OK &&
        (cap.is_deleted || cap.trust_level > trust || fg_capsule_owner_hidden(a, &cap)))
        e = FG_ENOTFOUND;
    store_capsule_clear(&cap);
    struct filter_ctx f = {a, cb, ctx};
    if (e == FG_OK)
        e = ops->ancestors(c, id, max_depth, trust, filter_cb, &f, truncated);
    store_release(app->store, c);
    return e;
}
