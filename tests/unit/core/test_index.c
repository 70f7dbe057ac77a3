/*
 * Vector index manager (core/index.c) on a temp SQLite store with the local embedder: rebuild
 * from the store, following the change feed (create, content and trust updates, delete, purge),
 * filters during the search, embeddings written back and reused (no re-embedding), checkpoint
 * round trip and replay, refusal of a checkpoint from another database, a damaged checkpoint,
 * the checkpoint lock, the embedding-space check and reindex.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/app.h"
#include "core/capsule.h"
#include "core/index.h"
#include "embed/embedder.h"
#include "store/search.h"
#include "store/store.h"
#include "util/config.h"

#define ALICE  "0190a000-0000-7000-8000-00000000a11c"
#define N_CAPS 60

struct fx {
    struct fg_config cfg;
    struct fg_app app;
    embedder_t *emb;
    char dir[64];
    char db[128];
    char path[160];
    char ids[N_CAPS][37];
};

static void sql(struct fx *f, const char *q)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    if (sqlite3_exec(h, q, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", q, sqlite3_errmsg(h));
    sqlite3_close(h);
}

static long long count(struct fx *f, const char *q)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static const char *const topics[] = {"kubernetes", "postgres", "password", "cake",   "invoice",
                                     "latency",    "backup",   "license",  "garden", "violin"};

static void content_of(int i, char *out, size_t n)
{
    snprintf(out, n, "note %d about %s and %s number %d", i, topics[i % 10], topics[(i / 10) % 10],
             i * 7919 % 1000);
}

static void create(struct fx *f, int trust, const char *type, const char *content, char id[37])
{
    struct fg_ctx a = {.user_id = ALICE, .trust = trust};
    struct fg_capsule_input in = {.content = content, .content_len = strlen(content), .type = type};
    struct fg_capsule_why why = {0};
    struct store_capsule cap = {0};
    enum fg_err e = fg_capsule_create(&f->app, &a, &in, &cap, &why);
    if (e != FG_OK)
        fail_msg("create: %s (%s)", fg_err_name(e), why.message);
    memcpy(id, cap.id, 37);
    store_capsule_clear(&cap);
}

static embedder_t *local(unsigned dims)
{
    struct embed_config c = {.provider = "local", .dimensions = dims};
    enum fg_err e;
    char eb[200];
    embedder_t *emb = embed_new(&c, &e, eb, sizeof eb);
    assert_non_null(emb);
    return emb;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/forge-index-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/forge.db", f->dir);
    snprintf(f->path, sizeof f->path, "%s/forge.index", f->dir);
    char url[160], err[512];
    snprintf(url, sizeof url, "sqlite://%s", f->db);
    setenv("DATABASE_URL", url, 1);
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    assert_int_equal(fg_config_load(&f->cfg, NULL, err, sizeof err), 0);
    f->app.cfg = &f->cfg;
    assert_int_equal(store_open(&f->cfg, &f->app.store, err, sizeof err), FG_OK);
    int applied;
    assert_int_equal(f->app.store->ops->migrate(f->app.store, &applied), FG_OK);
    sql(f, "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES "
           "('" ALICE "', 'alice@example.com', 'x', 0, 0)");
    f->emb = local(0);
    for (int i = 0; i < N_CAPS; i++) {
        char c[200];
        content_of(i, c, sizeof c);
        /* every 10th capsule is code, every 3rd is sandbox-level */
        create(f, i % 3 == 0 ? 40 : 60, i % 10 == 0 ? "code" : NULL, c, f->ids[i]);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    embed_free(f->emb);
    store_close(f->app.store);
    fg_config_free(&f->cfg);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct fg_index *open_ix(struct fx *f, embedder_t *emb, const char *path, int quantize)
{
    struct fg_index_options o = {
        .path = path, .M = 16, .ef_construction = 100, .ef_search = 64, .quantize = quantize};
    char err[256];
    struct fg_index *ix = fg_index_new(f->app.store, emb, &o, err, sizeof err);
    if (!ix)
        fail_msg("fg_index_new: %s", err);
    return ix;
}

static size_t search_text(struct fg_index *ix, embedder_t *emb, const char *text, size_t k,
                          int max_trust, const char *type, struct fg_index_hit *out)
{
    float q[4096];
    char eb[200];
    assert_int_equal(embed_texts(emb, &text, NULL, 1, q, eb, sizeof eb), FG_OK);
    return fg_index_search(ix, q, k, max_trust, fg_index_type_code(type), out);
}

static void status(struct fg_index *ix, struct fg_index_status *s)
{
    fg_index_get_status(ix, s);
}

static void test_rebuild_and_filters(void **state)
{
    struct fx *f = *state;
    struct fg_index *ix = open_ix(f, f->emb, NULL, 1);
    assert_int_equal(fg_index_load(ix), FG_OK);
    struct fg_index_status s;
    status(ix, &s);
    assert_int_equal(s.state, FG_INDEX_READY);
    assert_int_equal(s.vectors, N_CAPS);
    assert_int_equal(s.applied_seq, s.head_seq);
    struct fg_index_load_info li;
    fg_index_get_load_info(ix, &li);
    assert_string_equal(li.source, "rebuild");
    assert_int_equal(li.embedded, N_CAPS); /* nothing was stored yet */
    /* The embeddings were written back. */
    assert_int_equal(count(f, "SELECT count(*) FROM capsules WHERE length(embedding) = 1536"),
                     N_CAPS);

    struct fg_index_hit hits[N_CAPS];
    char c[200];
    content_of(17, c, sizeof c);
    size_t n = search_text(ix, f->emb, c, 5, 100, NULL, hits);
    assert_true(n >= 1);
    assert_string_equal(hits[0].id, f->ids[17]);
    assert_true(hits[0].score > 0.99f);

    /* Type filter: exactly the 6 code capsules exist; k = 10 returns all 6, only code. */
    n = search_text(ix, f->emb, "note about kubernetes", 10, 100, "code", hits);
    assert_int_equal(n, N_CAPS / 10);
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (int j = 0; j < N_CAPS; j += 10)
            found |= strcmp(hits[i].id, f->ids[j]) == 0;
        assert_true(found);
    }
    /* Trust filter: a sandbox reader gets k = 20 sandbox capsules (every 3rd), nothing else. */
    n = search_text(ix, f->emb, "note about password", 20, 40, NULL, hits);
    assert_int_equal(n, N_CAPS / 3);
    for (size_t i = 0; i < n; i++) {
        int idx = -1;
        for (int j = 0; j < N_CAPS; j++)
            if (!strcmp(hits[i].id, f->ids[j]))
                idx = j;
        assert_true(idx >= 0 && idx % 3 == 0);
    }
    fg_index_free(ix);

    /* A second rebuild takes the stored embeddings: no embedding at all. */
    ix = open_ix(f, f->emb, NULL, 0);
    assert_int_equal(fg_index_load(ix), FG_OK);
    fg_index_get_load_info(ix, &li);
    assert_int_equal(li.embedded, 0);
    assert_int_equal(li.from_store, N_CAPS);
    n = search_text(ix, f->emb, c, 1, 100, NULL, hits);
    assert_string_equal(hits[0].id, f->ids[17]);
    fg_index_free(ix);
}

static void test_follow_changes(void **state)
{
    struct fx *f = *state;
    struct fg_index *ix = open_ix(f, f->emb, NULL, 1);
    assert_int_equal(fg_index_load(ix), FG_OK);
    struct fg_index_hit hits[8];
    struct fg_index_status s;

    /* Create: visible after sync (read-your-writes). */
    char fresh[37];
    create(f, 60, NULL, "quasar telemetry pipeline", fresh);
    assert_int_equal(search_text(ix, f->emb, "quasar telemetry pipeline", 1, 100, NULL, hits) &&
                         !strcmp(hits[0].id, fresh),
                     0);
    assert_int_equal(fg_index_sync(ix), FG_OK);
    assert_int_equal(search_text(ix, f->emb, "quasar telemetry pipeline", 1, 100, NULL, hits), 1);
    assert_string_equal(hits[0].id, fresh);

    /* Content update: the new text finds it, the old one no longer scores ~1. */
    struct fg_ctx al = {.user_id = ALICE, .trust = 60};
    struct fg_capsule_input up = {.content = "nebula spectrograph calibration",
                                  .content_len = strlen("nebula spectrograph calibration")};
    struct fg_capsule_why why = {0};
    struct store_capsule cap = {0};
    assert_int_equal(fg_capsule_update(&f->app, &al, fresh, &up, &cap, &why), FG_OK);
    store_capsule_clear(&cap);
    assert_int_equal(fg_index_sync(ix), FG_OK);
    assert_int_equal(search_text(ix, f->emb, "nebula spectrograph calibration", 1, 100, NULL, hits),
                     1);
    assert_string_equal(hits[0].id, fresh);
    assert_true(hits[0].score > 0.99f);
    search_text(ix, f->emb, "quasar telemetry pipeline", 1, 100, NULL, hits);
    assert_true(strcmp(hits[0].id, fresh) != 0 || hits[0].score < 0.5f);

    /* Trust change (admin): a standard reader no longer sees it. */
    struct fg_ctx admin = {.user_id = ALICE, .trust = 100, .admin = 1};
    assert_int_equal(fg_capsule_set_trust(&f->app, &admin, fresh, 80, &cap, &why), FG_OK);
    store_capsule_clear(&cap);
    assert_int_equal(fg_index_sync(ix), FG_OK);
    size_t n = search_text(ix, f->emb, "nebula spectrograph calibration", 1, 60, NULL, hits);
    assert_true(n == 0 || strcmp(hits[0].id, fresh) != 0);
    assert_int_equal(search_text(ix, f->emb, "nebula spectrograph calibration", 1, 80, NULL, hits),
                     1);
    assert_string_equal(hits[0].id, fresh);

    /* Delete: gone; the vector count drops. */
    status(ix, &s);
    size_t before = s.vectors;
    long long nd = 0;
    assert_int_equal(fg_capsule_delete(&f->app, &admin, fresh, 0, &nd, &why), FG_OK);
    assert_int_equal(fg_index_sync(ix), FG_OK);
    status(ix, &s);
    assert_int_equal(s.vectors, before - 1);
    n = search_text(ix, f->emb, "nebula spectrograph calibration", 1, 100, NULL, hits);
    assert_true(n == 0 || strcmp(hits[0].id, fresh) != 0);

    /* Purge of a live capsule (retention/erasure): gone too. */
    char q[300];
    snprintf(q, sizeof q,
             "DELETE FROM capsule_revisions WHERE capsule_id = '%s'; DELETE FROM capsules WHERE "
             "id = '%s'",
             f->ids[5], f->ids[5]);
    sql(f, q);
    assert_int_equal(fg_index_sync(ix), FG_OK);
    status(ix, &s);
    assert_int_equal(s.vectors, before - 2);
    assert_int_equal(s.applied_seq, s.head_seq);

    /* Many changes at once (another writer): all applied; labels of deleted ones are reused. */
    static const char *const words[] = {
        "amber",  "basalt", "cobalt",  "dune",   "ember",  "fjord",  "glacier", "harbor",
        "indigo", "jasper", "kelp",    "lagoon", "meadow", "nickel", "onyx",    "prairie",
        "quartz", "reef",   "saffron", "tundra", "umber",  "vapor",  "willow",  "xenon"};
    char ids[300][37], texts[300][96];
    for (int i = 0; i < 300; i++) {
        snprintf(texts[i], sizeof texts[i], "zeppelin log %d: %s %s %s", i, words[i % 24],
                 words[(i * 7 + 3) % 24], words[(i * 13 + 5) % 24]);
        create(f, 60, NULL, texts[i], ids[i]);
    }
    for (int i = 0; i < 300; i += 2)
        assert_int_equal(fg_capsule_delete(&f->app, &admin, ids[i], 0, &nd, &why), FG_OK);
    assert_int_equal(fg_index_sync(ix), FG_OK);
    status(ix, &s);
    assert_int_equal(s.vectors, before - 2 + 150);
    assert_int_equal(s.applied_seq, s.head_seq);
    int found = 0;
    for (int j = 1; j < 300; j += 2) {
        struct fg_index_hit top[5];
        n = search_text(ix, f->emb, texts[j], 5, 100, NULL, top);
        for (size_t i = 0; i < n; i++)
            found += strcmp(top[i].id, ids[j]) == 0;
        n = search_text(ix, f->emb, texts[j - 1], 5, 100, NULL, top);
        for (size_t i = 0; i < n; i++)
            assert_true(strcmp(top[i].id, ids[j - 1]) != 0); /* deleted: never */
    }
    /* HNSW is approximate (near-duplicate texts lower its recall): allow a few misses. */
    assert_true(found >= 145);
    fg_index_free(ix);
}

static void test_checkpoint_roundtrip_and_replay(void **state)
{
    struct fx *f = *state;
    struct fg_index *ix = open_ix(f, f->emb, f->path, 1);
    assert_int_equal(fg_index_load(ix), FG_OK);
    struct fg_index_status s1;
    status(ix, &s1);
    assert_int_equal(s1.owner, 1);
    assert_int_equal(access(f->path, R_OK), 0); /* written right after the rebuild */
    fg_index_free(ix);

    /* Changes while no index runs (another process). */
    char extra[37];
    create(f, 60, NULL, "heliograph semaphore relay", extra);
    struct fg_ctx admin = {.user_id = ALICE, .trust = 100, .admin = 1};
    struct fg_capsule_why why = {0};
    long long nd;
    assert_int_equal(fg_capsule_delete(&f->app, &admin, f->ids[1], 0, &nd, &why), FG_OK);

    ix = open_ix(f, f->emb, f->path, 1);
    assert_int_equal(fg_index_load(ix), FG_OK);
    struct fg_index_load_info li;
    fg_index_get_load_info(ix, &li);
    assert_string_equal(li.source, "checkpoint");
    assert_int_equal(li.replayed, 2);
    assert_int_equal(li.embedded, 1); /* only the new capsule */
    struct fg_index_status s2;
    status(ix, &s2);
    assert_int_equal(s2.vectors, N_CAPS); /* +1 -1 */
    struct fg_index_hit hits[4];
    assert_int_equal(search_text(ix, f->emb, "heliograph semaphore relay", 1, 100, NULL, hits), 1);
    assert_string_equal(hits[0].id, extra);
    char c[200];
    content_of(1, c, sizeof c);
    search_text(ix, f->emb, c, 1, 100, NULL, hits);
    assert_true(strcmp(hits[0].id, f->ids[1]) != 0);
    content_of(42, c, sizeof c);
    search_text(ix, f->emb, c, 1, 100, NULL, hits);
    assert_string_equal(hits[0].id, f->ids[42]);
    fg_index_free(ix); /* dirty after the replay: checkpoints again */

    /* Third start: nothing to replay, nothing to embed. */
    ix = open_ix(f, f->emb, f->path, 1);
    assert_int_equal(fg_index_load(ix), FG_OK);
    fg_index_get_load_info(ix, &li);
    assert_string_equal(li.source, "checkpoint");
    assert_int_equal(li.replayed, 0);
    assert_int_equal(li.embedded, 0);
    fg_index_free(ix);

    /* Changed parameters (float instead of int8): the checkpoint is not used. */
    ix = open_ix(f, f->emb, f->path, 0);
    assert_int_equal(fg_index_load(ix), FG_OK);
    fg_index_get_load_info(ix, &li);
    assert_string_equal(li.source, "rebuild");
    assert_int_equal(li.embedded, 0); /* stored embeddings */
    fg_index_free(ix);

    /* A damaged manifest is refused (checksum) and rebuilt. */
    FILE *fp = fopen(f->path, "r+b");
    assert_non_null(fp);
    fseek(fp, 400, SEEK_SET);
    fputc('X', fp);
    fclose(fp);
    ix = open_ix(f, f->emb, f->path, 0);
    assert_int_equal(fg_index_load(ix), FG_OK);
    fg_index_get_load_info(ix, &li);
    assert_string_equal(li.source, "rebuild");
    fg_index_free(ix);
}

static void test_old_checkpoint_is_rebuilt(void **state)
{
    struct fx *f = *state;
    struct fg_index_options o = {.path = f->path,
                                 .M = 16,
                                 .ef_construction = 100,
                                 .ef_search = 64,
                                 .quantize = 1,
                                 .replay_max = 5};
    char err[256];
    struct fg_index *ix = fg_index_new(f->app.store, f->emb, &o, err, sizeof err);
    assert_int_equal(fg_index_load(ix), FG_OK);
    fg_index_free(ix);
    /* 3 changes behind: replayed. */
    char id[37];
    for (int i = 0; i < 3; i++) {
        char c[64];
        snprintf(c, sizeof c, "small backlog %d", i);
        create(f, 60, NULL, c, id);
    }
    ix = fg_index_new(f->app.store, f->emb, &o, err, sizeof err);
    assert_int_equal(fg_index_load(ix), FG_OK);
    struct fg_index_load_info li;
    fg_index_get_load_info(ix, &li);
    assert_string_equal(li.source, "checkpoint");
    assert_int_equal(li.replayed, 3);
    fg_index_free(ix);
    /* More rows behind than the checkpoint has vectors (and > replay_max): rebuilt instead. */
    for (int i = 0; i < N_CAPS + 10; i++) {
        char c[64];
        snprintf(c, sizeof c, "large backlog %d", i);
        create(f, 60, NULL, c, id);
    }
    ix = fg_index_new(f->app.store, f->emb, &o, err, sizeof err);
    assert_int_equal(fg_index_load(ix), FG_OK);
    fg_index_get_load_info(ix, &li);
    assert_string_equal(li.source, "rebuild");
    assert_int_equal(li.embedded, N_CAPS + 10); /* the others come from stored embeddings */
    struct fg_index_status s;
    status(ix, &s);
    assert_int_equal(s.vectors, 2 * N_CAPS + 13);
    assert_int_equal(s.applied_seq, s.head_seq);
    fg_index_free(ix);
}

static void test_checkpoint_of_another_database(void **state)
{
    struct fx *f = *state;
    struct fg_index *ix = open_ix(f, f->emb, f->path, 0);
    assert_int_equal(fg_index_load(ix), FG_OK);
    fg_index_free(ix);
    /* Simulate a restore of an older database: the feed is shorter than the checkpoint's seq. */
    sql(f, "DELETE FROM capsule_changes WHERE seq > 10");
    ix = open_ix(f, f->emb, f->path, 0);
    assert_int_equal(fg_index_load(ix), FG_OK);
    struct fg_index_load_info li;
    fg_index_get_load_info(ix, &li);
    assert_string_equal(li.source, "rebuild");
    fg_index_free(ix);
    /* Same length but another history at that seq. */
    ix = open_ix(f, f->emb, f->path, 0);
    assert_int_equal(fg_index_load(ix), FG_OK);
    fg_index_get_load_info(ix, &li);
    assert_string_equal(li.source, "checkpoint");
    fg_index_free(ix);
    sql(f, "UPDATE capsule_changes SET capsule_id = 'someone-else' WHERE seq = 10");
    ix = open_ix(f, f->emb, f->path, 0);
    assert_int_equal(fg_index_load(ix), FG_OK);
    fg_index_get_load_info(ix, &li);
    assert_string_equal(li.source, "rebuild");
    fg_index_free(ix);
}

static void test_lock_and_reader(void **state)
{
    struct fx *f = *state;
    struct fg_index *a = open_ix(f, f->emb, f->path, 1);
    struct fg_index *b = open_ix(f, f->emb, f->path, 1);
    assert_int_equal(fg_index_load(a), FG_OK);
    assert_int_equal(fg_index_load(b), FG_OK); /* reads a's checkpoint */
    struct fg_index_status sa, sb;
    status(a, &sa);
    status(b, &sb);
    assert_int_equal(sa.owner, 1);
    assert_int_equal(sb.owner, 0);
    struct fg_index_load_info li;
    fg_index_get_load_info(b, &li);
    assert_string_equal(li.source, "checkpoint");
    assert_int_equal(fg_index_checkpoint(b), FG_EFORBIDDEN);
    char err[300];
    assert_int_equal(fg_index_reindex(b, NULL, NULL, err, sizeof err), FG_ECONFLICT);
    assert_non_null(strstr(err, ".lock"));
    fg_index_free(b);
    fg_index_free(a);
}

static long long progress_calls, progress_last;

static void on_progress(long long done, long long total, void *ctx)
{
    (void)ctx;
    assert_true(done <= total);
    progress_calls++;
    progress_last = done;
}

static void test_space_change_requires_reindex(void **state)
{
    struct fx *f = *state;
    struct fg_index *ix = open_ix(f, f->emb, f->path, 1);
    assert_int_equal(fg_index_load(ix), FG_OK);
    fg_index_free(ix);

    embedder_t *e256 = local(256);
    ix = open_ix(f, e256, f->path, 1);
    assert_int_equal(fg_index_load(ix), FG_ECONFLICT);
    struct fg_index_status s;
    status(ix, &s);
    assert_int_equal(s.state, FG_INDEX_REINDEX_REQUIRED);
    assert_non_null(strstr(s.reason, "forge reindex"));
    assert_int_equal(fg_index_sync(ix), FG_EUNAVAIL);

    /* A deleted capsule's embedding is cleared by the reindex. */
    struct fg_ctx admin = {.user_id = ALICE, .trust = 100, .admin = 1};
    struct fg_capsule_why why = {0};
    long long nd;
    assert_int_equal(fg_capsule_delete(&f->app, &admin, f->ids[2], 0, &nd, &why), FG_OK);
    char err[300];
    progress_calls = 0;
    assert_int_equal(fg_index_reindex(ix, on_progress, NULL, err, sizeof err), FG_OK);
    assert_true(progress_calls >= 1);
    assert_int_equal(progress_last, N_CAPS - 1);
    status(ix, &s);
    assert_int_equal(s.state, FG_INDEX_READY);
    assert_int_equal(s.vectors, N_CAPS - 1);
    assert_int_equal(count(f, "SELECT count(*) FROM capsules WHERE is_deleted = 0 AND "
                              "length(embedding) = 1024"),
                     N_CAPS - 1);
    assert_int_equal(count(f, "SELECT count(*) FROM capsules WHERE is_deleted = 1 AND "
                              "embedding IS NOT NULL"),
                     0);
    assert_int_equal(count(f, "SELECT count(*) FROM settings WHERE value = 'local-hash-v1:256'"),
                     1);
    struct fg_index_hit hits[2];
    char c[200];
    content_of(33, c, sizeof c);
    assert_int_equal(search_text(ix, e256, c, 1, 100, NULL, hits), 1);
    assert_string_equal(hits[0].id, f->ids[33]);
    fg_index_free(ix);

    /* The reindex wrote the checkpoint: the next start loads it without embedding. */
    ix = open_ix(f, e256, f->path, 1);
    assert_int_equal(fg_index_load(ix), FG_OK);
    struct fg_index_load_info li;
    fg_index_get_load_info(ix, &li);
    assert_string_equal(li.source, "checkpoint");
    assert_int_equal(li.embedded, 0);
    fg_index_free(ix);

    /* And the old configuration is now the one that must reindex. */
    ix = open_ix(f, f->emb, f->path, 1);
    assert_int_equal(fg_index_load(ix), FG_ECONFLICT);
    fg_index_free(ix);
    embed_free(e256);
}

static void test_space_adopted_when_empty(void **state)
{
    struct fx *f = *state;
    sql(f, "UPDATE capsules SET is_deleted = 1");
    sql(f, "INSERT INTO settings (key, value) VALUES ('search.embedding_space', 'other:99')");
    struct fg_index *ix = open_ix(f, f->emb, NULL, 1);
    assert_int_equal(fg_index_load(ix), FG_OK); /* nothing live to re-embed: adopted */
    assert_int_equal(count(f, "SELECT count(*) FROM settings WHERE value = 'local-hash-v1:384'"),
                     1);
    fg_index_free(ix);
}

static void test_background_follower(void **state)
{
    struct fx *f = *state;
    struct fg_index_options o = {.path = f->path,
                                 .M = 16,
                                 .ef_construction = 100,
                                 .ef_search = 64,
                                 .quantize = 1,
                                 .poll_ms = 20};
    char err[256];
    struct fg_index *ix = fg_index_new(f->app.store, f->emb, &o, err, sizeof err);
    assert_non_null(ix);
    assert_int_equal(fg_index_start(ix), FG_OK);
    struct fg_index_status s;
    for (int i = 0; i < 500; i++) {
        status(ix, &s);
        if (s.state == FG_INDEX_READY)
            break;
        usleep(10000);
    }
    assert_int_equal(s.state, FG_INDEX_READY);
    char id[37];
    create(f, 60, NULL, "marmalade orbital harmonics", id);
    /* No sync call: the follower thread picks it up. */
    struct fg_index_hit hits[2];
    size_t n = 0;
    for (int i = 0; i < 200 && !(n && !strcmp(hits[0].id, id)); i++) {
        usleep(10000);
        n = search_text(ix, f->emb, "marmalade orbital harmonics", 1, 100, NULL, hits);
    }
    assert_int_equal(n, 1);
    assert_string_equal(hits[0].id, id);
    fg_index_free(ix); /* stops the thread, final checkpoint */
    ix = open_ix(f, f->emb, f->path, 1);
    assert_int_equal(fg_index_load(ix), FG_OK);
    struct fg_index_load_info li;
    fg_index_get_load_info(ix, &li);
    assert_string_equal(li.source, "checkpoint");
    assert_int_equal(li.replayed, 0);
    fg_index_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rebuild_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_roundtrip_and_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_checkpoint_is_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_of_another_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_and_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_space_change_requires_reindex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_space_adopted_when_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_follower, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
