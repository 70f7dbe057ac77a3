/*
 * `forge reindex`: re-embeds every live capsule with the configured embedder (EMBEDDING_*),
 * stores the embeddings, drops those of deleted capsules, records the new embedding space,
 * rebuilds the vector index and writes its checkpoint (core/index.h fg_index_reindex).
 *
 * Run it with the servers stopped: it refuses while a `forge serve` on this host holds the
 * index checkpoint lock, and servers elsewhere that share the store report not ready while it
 * runs (docs/search.md "Reindex"). Progress goes to stdout as "reindex: 12000/100000 (12%)".
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/index.h"
#include "core/search.h"
#include "store/store.h"
#include "util/config.h"
#include "util/time.h"

#define PROGRESS_EVERY_S 1.0

struct progress {
    double t0, last;
    long long last_done;
};

static void on_progress(long long done, long long total, void *ctx)
{
    struct progress *p = ctx;
    double now = fg_mono_s();
    if (done != total && now - p->last < PROGRESS_EVERY_S)
        return;
    if (done == p->last_done)
        return;
    p->last = now;
    p->last_done = done;
    int pct = total > 0 ? (int)(done * 100 / total) : 100;
    printf("reindex: %lld/%lld (%d%%)\n", done, total, pct > 100 ? 100 : pct);
    fflush(stdout);
}

int cmd_reindex(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: forge reindex\n\nRe-embeds every live capsule with the configured "
                   "EMBEDDING_* provider, rebuilds the vector index\nand writes its checkpoint "
                   "(INDEX_PATH). Stop the servers first.\n");
            return 0;
        }
        fprintf(stderr, "forge reindex: unknown option '%s'\nusage: forge reindex\n", argv[i]);
        return 2;
    }
    struct fg_config cfg;
    int rc = cli_load_config(&cfg);
    if (rc)
        return rc;
    struct store *st = NULL;
    embedder_t *emb = NULL;
    struct fg_index *ix = NULL;
    char err[512] = "";
    int applied = 0;
    rc = 1;
    if (store_open(&cfg, &st, err, sizeof err) != FG_OK) {
        fprintf(stderr, "forge reindex: %s\n", err);
        goto out;
    }
    if (st->ops->migrate(st, &applied) != FG_OK) {
        fprintf(stderr, "forge reindex: migrations failed (see log)\n");
        goto out;
    }
    if (!(emb = fg_search_embedder_new(&cfg, err, sizeof err))) {
        fprintf(stderr, "forge reindex: %s\n", err);
        rc = 2;
        goto out;
    }
    struct fg_index_options o;
    char path[4096];
    fg_search_index_options(&cfg, &o, path, sizeof path);
    if (!(ix = fg_index_new(st, emb, &o, err, sizeof err))) {
        fprintf(stderr, "forge reindex: %s\n", err);
        goto out;
    }
    char space[160];
    fg_index_space_name(emb, space, sizeof space);
    printf("reindex: embedding with %s (%s), index %s\n", embed_provider_name(emb), space,
           path[0] ? path : "(no checkpoint)");
    fflush(stdout);
    struct progress p = {.t0 = fg_mono_s(), .last = -1e9, .last_done = -1};
    if (fg_index_reindex(ix, on_progress, &p, err, sizeof err) != FG_OK) {
        fprintf(stderr, "forge reindex: %s\n", err);
        goto out;
    }
    struct fg_index_load_info li;
    struct fg_index_status s;
    fg_index_get_load_info(ix, &li);
    fg_index_get_status(ix, &s);
    printf("reindex: done: %zu vectors, %lld texts embedded in %.1f s\n", s.vectors, li.embedded,
           li.seconds);
    rc = 0;
out:
    fg_index_free(ix);
    embed_free(emb);
    store_close(st);
    fg_config_free(&cfg);
    return rc;
}
