/*
 * `forge import PATH...` and `forge export DIR`.
 *
 * Import: one capsule per Markdown/text file. A front matter block ("---" lines) gives the type
 * and metadata; the rest is the content. Each capsule records metadata.source_path and
 * metadata.content_sha256 (SHA-256 of the content, i.e. the file without its front matter).
 *
 * Idempotence and resume: a journal (one line per imported file: file hash, content hash, capsule
 * id, absolute path) is appended and flushed after every successful request, so an interrupted
 * import (Ctrl-C, kill, lost connection) continues where it stopped. A file whose path is in the
 * journal with the same file hash is skipped; with another hash the capsule is updated (PATCH);
 * a new path whose content hash is already in the journal is recorded, not created again.
 *
 * Throughput: --jobs worker threads (default 8), each with its own keep-alive connection; the
 * server's create is bound by one durable commit per capsule, so a few requests in flight keep it
 * busy. 429/503 answers are retried after Retry-After by cli_call.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "util/buf.h"
#include "util/mem.h"

#define IMPORT_JOBS_DEFAULT       8
#define IMPORT_JOBS_MAX           32
#define IMPORT_MAX_DEPTH          64
#define IMPORT_MAX_FILES          1000000
#define IMPORT_RETRIES_DEFAULT    10
#define FM_MAX_KEYS               200
#define IMPORT_RECONCILE_MARGIN_S 300

struct file_item {
    char *abs;  /* absolute path: the journal key */
    char *rel;  /* source_path: relative to the PATH argument's directory */
    int action; /* enum below */
    char *id;   /* capsule id (journal or result) */
    char fsha[65];
    char csha[65];
    int rc; /* exit code of a failure */
};

enum {
    ACT_PENDING,
    ACT_CREATE,
    ACT_UPDATE,
    ACT_SAME,
    ACT_DUP,
    ACT_DONE_CREATE,
    ACT_DONE_UPDATE,
    ACT_FAILED,
    ACT_EMPTY
};

struct journal_entry {
    char *abs, *id, fsha[65], csha[65];
    size_t seq;
};

struct import_run {
    struct cli_ctx *c;
    struct cli_args *a;
    struct file_item *files;
    size_t nfiles, cap;
    struct journal_entry *jr;
    size_t njr;
    FILE *journal;
    pthread_mutex_t mu;
    atomic_size_t next;
    size_t done, created, updated, unchanged, failed;
    int progress;
    double t0, last_draw;
    int first_error;
    json_t *recent; /* source_path -> {id, content_sha256} of capsules created near the cut */
    long long unfinished_since; /* start (epoch s) of a run that did not end, 0 = none */
};

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hex_sha256(const void *p, size_t n, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, p, n);
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* ---- file discovery ------------------------------------------------------------------------ */

static int wanted(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".md") == 0 || strcasecmp(dot, ".markdown") == 0 ||
                   strcasecmp(dot, ".txt") == 0);
}

static void add_file(struct import_run *r, const char *abs, const char *rel)
{
    if (r->nfiles == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->files = fg_xrealloc(r->files, r->cap * sizeof *r->files);
    }
    struct file_item *f = &r->files[r->nfiles++];
    memset(f, 0, sizeof *f);
    f->abs = fg_xstrdup(abs);
    f->rel = fg_xstrdup(rel);
}

static int walk(struct import_run *r, const char *abs, const char *rel, int depth)
{
    if (depth > IMPORT_MAX_DEPTH)
        return 0;
    DIR *d = opendir(abs);
    if (!d) {
        fprintf(stderr, "forge import: cannot read %s: %s\n", abs, strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') /* ., .., hidden files and folders (.git) */
            continue;
        size_t na = strlen(abs) + strlen(e->d_name) + 2;
        size_t nr = strlen(rel) + strlen(e->d_name) + 2;
        char *pa = fg_xmalloc(na), *pr = fg_xmalloc(nr);
        snprintf(pa, na, "%s/%s", abs, e->d_name);
        snprintf(pr, nr, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        struct stat st;
        if (lstat(pa, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                walk(r, pa, pr, depth + 1);
            else if ((S_ISREG(st.st_mode) ||
                      (S_ISLNK(st.st_mode) && stat(pa, &st) == 0 && S_ISREG(st.st_mode))) &&
                     wanted(e->d_name) && r->nfiles < IMPORT_MAX_FILES)
                add_file(r, pa, pr);
        }
        free(pa);
        free(pr);
    }
    closedir(d);
    return 0;
}

static int cmp_files(const void *x, const void *y)
{
    return strcmp(((const struct file_item *)x)->abs, ((const struct file_item *)y)->abs);
}

/* ---- journal -------------------------------------------------------------------------------- */

static char *journal_path(struct cli_ctx *c, struct cli_args *a)
{
    if (a->v[O_STATE])
        return fg_xstrdup(a->v[O_STATE]);
    char *dir = cli_config_dir();
    if (!dir)
        return NULL;
    /* one journal per server and account: another account's imports are not "unchanged" */
    char h[65], key[2048];
    snprintf(key, sizeof key, "%s\n%s", c->s->url,
             c->s->token_env ? "FORGE_TOKEN"
             : c->s->email   ? c->s->email
                             : "");
    hex_sha256(key, strlen(key), h);
    h[16] = 0;
    size_t n = strlen(dir) + 64;
    char *p = fg_xmalloc(n);
    snprintf(p, n, "%s/imports", dir);
    mkdir(dir, 0700);
    mkdir(p, 0700);
    snprintf(p, n, "%s/imports/%s.tsv", dir, h);
    free(dir);
    return p;
}

static int cmp_jr(const void *x, const void *y)
{
    return strcmp(((const struct journal_entry *)x)->abs, ((const struct journal_entry *)y)->abs);
}

static int cmp_jr_seq(const void *x, const void *y)
{
    const struct journal_entry *a = x, *b = y;
    int c = strcmp(a->abs, b->abs);
    return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

static void journal_load(struct import_run *r, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = 0;
        if (strncmp(line, "# start ", 8) == 0) {
            r->unfinished_since = strtoll(line + 8, NULL, 10);
            continue;
        }
        if (strcmp(line, "# end") == 0) {
            r->unfinished_since = 0;
            continue;
        }
        char *fs = line, *cs = strchr(fs, '\t'), *id = NULL, *abs = NULL;
        if (cs)
            *cs++ = 0;
        if (cs && (id = strchr(cs, '\t')))
            *id++ = 0;
        if (id && (abs = strchr(id, '\t')))
            *abs++ = 0;
        if (!abs || strlen(fs) != 64 || strlen(cs) != 64 || !*id || *abs != '/')
            continue; /* a torn last line after a crash */
        if (r->njr == alloc) {
            alloc = alloc ? alloc * 2 : 256;
            r->jr = fg_xrealloc(r->jr, alloc * sizeof *r->jr);
        }
        struct journal_entry *e = &r->jr[r->njr++];
        memcpy(e->fsha, fs, 65);
        memcpy(e->csha, cs, 65);
        e->id = fg_xstrdup(id);
        e->abs = fg_xstrdup(abs);
    }
    free(line);
    fclose(f);
    /* later lines win: sort by (path, line), keep the last line of each path */
    for (size_t i = 0; i < r->njr; i++)
        r->jr[i].seq = i;
    if (r->njr)
        qsort(r->jr, r->njr, sizeof *r->jr, cmp_jr_seq);
    size_t w = 0;
    for (size_t i = 0; i < r->njr; i++) {
        if (i + 1 < r->njr && strcmp(r->jr[i].abs, r->jr[i + 1].abs) == 0) {
            free(r->jr[i].abs);
            free(r->jr[i].id);
            continue;
        }
        r->jr[w++] = r->jr[i];
    }
    r->njr = w;
}

static struct journal_entry *journal_find(struct import_run *r, const char *abs)
{
    struct journal_entry key = {.abs = (char *)abs};
    return r->njr ? bsearch(&key, r->jr, r->njr, sizeof *r->jr, cmp_jr) : NULL;
}

static struct journal_entry *journal_find_content(struct import_run *r, const char *csha)
{
    for (size_t i = 0; i < r->njr; i++)
        if (strcmp(r->jr[i].csha, csha) == 0)
            return &r->jr[i];
    return NULL;
}

/* ---- front matter ------------------------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

static json_t *fm_value(char *v)
{
    size_t n = strlen(v);
    if (n == 0)
        return json_null();
    if (v[0] == '"' || v[0] == '[' || v[0] == '{') {
        json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
        if (j)
            return j;
    }
    if (n >= 2 && v[0] == '\'' && v[n - 1] == '\'')
        return json_stringn(v + 1, n - 2);
    if (n >= 2 && v[0] == '[' && v[n - 1] == ']') { /* [a, b] without quotes */
        json_t *arr = json_array();
        v[n - 1] = 0;
        for (char *p = v + 1; p && *p;) {
            char *comma = strchr(p, ',');
            if (comma)
                *comma = 0;
            char *it = trim(p);
            if (*it)
                json_array_append_new(arr, json_string(it));
            p = comma ? comma + 1 : NULL;
        }
        return arr;
    }
    if (strcmp(v, "true") == 0)
        return json_true();
    if (strcmp(v, "false") == 0)
        return json_false();
    if (strcmp(v, "null") == 0 || strcmp(v, "~") == 0)
        return json_null();
    char *end;
    long long i = strtoll(v, &end, 10);
    if (*end == 0 && end != v)
        return json_integer(i);
    double d = strtod(v, &end);
    if (*end == 0 && end != v)
        return json_real(d);
    return json_string(v);
}

/* Splits text into front matter (metadata object, type) and body. Returns the body offset. */
static size_t parse_front_matter(char *text, size_t len, json_t *meta, char **type)
{
    *type = NULL;
    size_t off;
    if (len >= 4 && strncmp(text, "---\n", 4) == 0)
        off = 4;
    else if (len >= 5 && strncmp(text, "---\r\n", 5) == 0)
        off = 5;
    else
        return 0;
    size_t p = off;
    while (p < len) {
        char *nl = memchr(text + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - text) : len;
        size_t ll = e - p;
        if ((ll == 3 || (ll == 4 && text[p + 3] == '\r')) &&
            (strncmp(text + p, "---", 3) == 0 || strncmp(text + p, "...", 3) == 0)) {
            /* parse the lines between off and p */
            char *block = fg_xstrndup(text + off, p - off);
            for (char *line = block; line && *line;) {
                char *next = strchr(line, '\n');
                if (next)
                    *next++ = 0;
                char *colon = strchr(line, ':');
                if (colon && line[0] != ' ' && line[0] != '\t' && line[0] != '#' &&
                    json_object_size(meta) < FM_MAX_KEYS) {
                    *colon = 0;
                    char *k = trim(line), *v = trim(colon + 1);
                    if (*k && strcmp(k, "forge_id") != 0 && strcmp(k, "content_sha256") != 0 &&
                        strcmp(k, "source_path") != 0) {
                        if (strcmp(k, "type") == 0) {
                            free(*type);
                            *type = fg_xstrdup(v);
                        } else {
                            json_object_set_new(meta, k, fm_value(v));
                        }
                    }
                }
                line = next;
            }
            free(block);
            size_t body = nl ? e + 1 : len;
            while (body < len && (text[body] == '\n' || text[body] == '\r'))
                body++;
            return body;
        }
        if (!nl)
            break;
        p = e + 1;
    }
    return 0; /* no closing line: not front matter */
}

/* ---- worker ---------------------------------------------------------------------------------- */

static void draw_progress(struct import_run *r, int final)
{
    if (!r->progress)
        return;
    double t = now_s();
    if (!final && t - r->last_draw < 0.1)
        return;
    r->last_draw = t;
    size_t total = r->nfiles, done = r->done;
    int width = 30, fill = total ? (int)((double)done / (double)total * width) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    double rate = t > r->t0 ? (double)done / (t - r->t0) : 0;
    fprintf(stderr,
            "\r\033[K[%s] %zu/%zu  %.0f files/s  new %zu  updated %zu  same %zu  failed %zu", bar,
            done, total, rate, r->created, r->updated, r->unchanged, r->failed);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

/* Prints a line above the progress bar. */
static void report(struct import_run *r, const char *path, const char *msg)
{
    if (r->progress)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "forge import: %s: %s\n", path, msg);
}

static void process(struct import_run *r, struct cli_ctx *c, struct file_item *f)
{
    int too_big = 0;
    size_t len = 0;
    char *text = cli_read_file(f->abs, CLI_CONTENT_MAX + 64 * 1024, &len, &too_big);
    json_t *meta = json_object(), *body = NULL, *out = NULL;
    char *type = NULL;
    if (!text) {
        pthread_mutex_lock(&r->mu);
        report(r, f->rel, too_big ? "larger than 1 MiB, skipped" : "cannot read");
        f->action = ACT_FAILED;
        f->rc = CLI_EXIT_USAGE;
        pthread_mutex_unlock(&r->mu);
        goto out;
    }
    hex_sha256(text, len, f->fsha);
    size_t boff = parse_front_matter(text, len, meta, &type);
    const char *content = text + boff;
    size_t clen = len - boff;
    hex_sha256(content, clen, f->csha);
    pthread_mutex_lock(&r->mu);
    struct journal_entry *je = journal_find(r, f->abs);
    if (je && strcmp(je->fsha, f->fsha) == 0) {
        f->action = ACT_SAME;
        f->id = fg_xstrdup(je->id);
    } else if (je) {
        f->action = ACT_UPDATE;
        f->id = fg_xstrdup(je->id);
    } else {
        struct journal_entry *dup = journal_find_content(r, f->csha);
        json_t *rec = json_object_get(r->recent, f->rel);
        const char *rid = json_string_value(json_object_get(rec, "id"));
        const char *rsha = json_string_value(json_object_get(rec, "content_sha256"));
        if (rid && rsha && strcmp(rsha, f->csha) == 0) {
            /* created by an interrupted run but not journaled: no second copy */
            f->action = ACT_DUP;
            f->id = fg_xstrdup(rid);
        } else if (dup) {
            f->action = ACT_DUP;
            f->id = fg_xstrdup(dup->id);
        } else {
            f->action = ACT_CREATE;
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (clen == 0) {
        f->action = ACT_EMPTY;
        goto out;
    }
    if (f->action == ACT_SAME || r->a->v[O_DRY_RUN])
        goto out;
    if (f->action == ACT_DUP) { /* same content already imported from another path */
        pthread_mutex_lock(&r->mu);
        if (r->journal) {
            fprintf(r->journal, "%s\t%s\t%s\t%s\n", f->fsha, f->csha, f->id, f->abs);
            fflush(r->journal);
        }
        pthread_mutex_unlock(&r->mu);
        goto out;
    }
    if (!json_object_get(meta, "title")) { /* the first Markdown heading names it */
        const char *p = content;
        if (p[0] == '#' && p[1] == ' ') {
            const char *e = strchr(p, '\n');
            size_t n = e ? (size_t)(e - p - 2) : strlen(p + 2);
            if (n > 0 && n <= 200) {
                char *t = fg_xstrndup(p + 2, n);
                json_object_set_new(meta, "title", json_string(trim(t)));
                free(t);
            }
        }
    }
    json_object_set_new(meta, "source_path", json_string(f->rel));
    json_object_set_new(meta, "content_sha256", json_string(f->csha));
    body = json_object();
    json_t *js = json_stringn(content, clen);
    if (!js) {
        pthread_mutex_lock(&r->mu);
        report(r, f->rel, "not valid UTF-8, skipped");
        f->action = ACT_FAILED;
        f->rc = CLI_EXIT_USAGE;
        pthread_mutex_unlock(&r->mu);
        goto out;
    }
    json_object_set_new(body, "content", js);
    const char *t = type ? type : r->a->v[O_TYPE];
    if (t)
        json_object_set_new(body, "type", json_string(t));
    json_object_set(body, "metadata", meta);
    long status = 0;
    int rc;
    if (f->action == ACT_CREATE) {
        if (r->a->v[O_PARENT])
            json_object_set_new(body, "parent_id", json_string(r->a->v[O_PARENT]));
        rc = cli_call(c, "POST", "/api/v1/capsules", body, CLI_F_NOPRINT, &out, &status);
    } else {
        char *e = cli_urlencode(f->id);
        char path[256];
        snprintf(path, sizeof path, "/api/v1/capsules/%s", e);
        free(e);
        rc = cli_call(c, "PATCH", path, body, CLI_F_NOPRINT, &out, &status);
        if (status == 404) { /* deleted on the server since: create it again */
            json_decref(out);
            out = NULL;
            f->action = ACT_CREATE;
            if (r->a->v[O_PARENT])
                json_object_set_new(body, "parent_id", json_string(r->a->v[O_PARENT]));
            rc = cli_call(c, "POST", "/api/v1/capsules", body, CLI_F_NOPRINT, &out, &status);
        }
    }
    pthread_mutex_lock(&r->mu);
    if (rc == CLI_EXIT_OK) {
        const char *id = json_string_value(json_object_get(json_object_get(out, "data"), "id"));
        free(f->id);
        f->id = fg_xstrdup(id ? id : "");
        f->action = f->action == ACT_CREATE ? ACT_DONE_CREATE : ACT_DONE_UPDATE;
        if (r->journal) {
            fprintf(r->journal, "%s\t%s\t%s\t%s\n", f->fsha, f->csha, f->id, f->abs);
            fflush(r->journal);
        }
    } else {
        f->action = ACT_FAILED;
        f->rc = rc;
        if (!c->s->auth_failed) {
            const char *m = json_string_value(json_object_get(out, "message"));
            const char *fld =
                json_string_value(json_object_get(json_object_get(out, "details"), "field"));
            char msg[600];
            snprintf(msg, sizeof msg, "%s%s%s%s",
                     m        ? m
                     : status ? "request failed"
                              : "network error",
                     fld ? " (field " : "", fld ? fld : "", fld ? ")" : "");
            report(r, f->rel, msg);
        }
    }
    pthread_mutex_unlock(&r->mu);
out:
    json_decref(out);
    json_decref(body);
    json_decref(meta);
    free(type);
    free(text);
}

static void *worker(void *arg)
{
    struct import_run *r = arg;
    struct cli_ctx c = *r->c;
    c.curl = NULL;
    cli_ctx_init_http(&c);
    for (;;) {
        if (g_interrupted || c.s->auth_failed)
            break;
        size_t i = atomic_fetch_add(&r->next, 1);
        if (i >= r->nfiles)
            break;
        struct file_item *f = &r->files[i];
        process(r, &c, f);
        pthread_mutex_lock(&r->mu);
        r->done++;
        switch (f->action) {
        case ACT_DONE_CREATE:
            r->created++;
            break;
        case ACT_DONE_UPDATE:
            r->updated++;
            break;
        case ACT_FAILED:
            r->failed++;
            if (!r->first_error)
                r->first_error = f->rc ? f->rc : CLI_EXIT_SERVER;
            break;
        case ACT_CREATE: /* dry run */
        case ACT_UPDATE:
            break;
        default:
            r->unchanged++;
        }
        draw_progress(r, 0);
        pthread_mutex_unlock(&r->mu);
    }
    cli_ctx_free_http(&c);
    return NULL;
}

static const char *action_name(int a)
{
    switch (a) {
    case ACT_CREATE:
        return "create";
    case ACT_UPDATE:
        return "update";
    case ACT_SAME:
        return "unchanged";
    case ACT_DUP:
        return "duplicate";
    case ACT_DONE_CREATE:
        return "created";
    case ACT_DONE_UPDATE:
        return "updated";
    case ACT_FAILED:
        return "failed";
    case ACT_EMPTY:
        return "empty";
    default:
        return "pending";
    }
}

/* A run killed between the server's commit and the journal line leaves capsules the journal
 * does not know. When the journal shows a run that started and never ended (killed), the
 * capsules of this user created since shortly before that start (margin for clock skew between
 * client and server) are read back, so resuming does not create them twice. */
static int reconcile(struct import_run *r)
{
    if (!r->unfinished_since)
        return CLI_EXIT_OK;
    json_t *me = NULL;
    int rc = cli_call(r->c, "GET", "/api/v1/auth/me", NULL, 0, &me, NULL);
    const char *uid = json_string_value(json_object_get(json_object_get(me, "data"), "id"));
    if (rc || !uid) {
        json_decref(me);
        return rc ? rc : CLI_EXIT_SERVER;
    }
    time_t since = (time_t)(r->unfinished_since - IMPORT_RECONCILE_MARGIN_S);
    struct tm tm;
    char when[40];
    gmtime_r(&since, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *euid = cli_urlencode(uid);
    r->recent = json_object();
    for (long page = 1;; page++) {
        char path[512];
        snprintf(path, sizeof path,
                 "/api/v1/capsules?owner_id=%s&created_after=%s&per_page=100&page=%ld", euid, when,
                 page);
        json_t *out = NULL;
        rc = cli_call(r->c, "GET", path, NULL, 0, &out, NULL);
        if (rc) {
            json_decref(out);
            break;
        }
        size_t i;
        json_t *cap;
        json_array_foreach(json_object_get(out, "data"), i, cap)
        {
            json_t *m = json_object_get(cap, "metadata");
            const char *sp = json_string_value(json_object_get(m, "source_path"));
            json_t *sha = json_object_get(m, "content_sha256");
            if (sp && json_is_string(sha) && !json_object_get(r->recent, sp))
                json_object_set_new(
                    r->recent, sp,
                    json_pack("{sOsO}", "id", json_object_get(cap, "id"), "content_sha256", sha));
        }
        json_int_t pages =
            json_integer_value(json_object_get(json_object_get(out, "meta"), "pages"));
        json_decref(out);
        if (page >= pages)
            break;
    }
    free(euid);
    json_decref(me);
    return rc;
}

int cli_import(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    if (sodium_init() < 0)
        return CLI_EXIT_SERVER;
    long jobs = IMPORT_JOBS_DEFAULT;
    if (a->v[O_JOBS] && cli_int_opt(c, "jobs", a->v[O_JOBS], 1, IMPORT_JOBS_MAX, &jobs) != 0)
        return CLI_EXIT_USAGE;
    if (!a->v[O_RETRIES])
        c->retries = IMPORT_RETRIES_DEFAULT;
    struct import_run r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.a = a;
    pthread_mutex_init(&r.mu, NULL);
    for (int i = 0; i < a->npos; i++) {
        char *abs = realpath(a->pos[i], NULL);
        struct stat st;
        if (!abs || stat(abs, &st) != 0) {
            fprintf(stderr, "forge import: %s: %s\n", a->pos[i], strerror(errno));
            free(abs);
            rc = CLI_EXIT_USAGE;
            goto out;
        }
        if (S_ISDIR(st.st_mode)) {
            walk(&r, abs, "", 0);
        } else {
            const char *base = strrchr(abs, '/');
            add_file(&r, abs, base ? base + 1 : abs);
        }
        free(abs);
    }
    if (r.nfiles)
        qsort(r.files, r.nfiles, sizeof *r.files, cmp_files);
    /* the same file named twice is imported once */
    size_t w = 0;
    for (size_t i = 0; i < r.nfiles; i++) {
        if (w && strcmp(r.files[w - 1].abs, r.files[i].abs) == 0) {
            free(r.files[i].abs);
            free(r.files[i].rel);
            continue;
        }
        r.files[w++] = r.files[i];
    }
    r.nfiles = w;
    if (r.nfiles == 0) {
        fprintf(stderr, "forge import: no .md, .markdown or .txt files found\n");
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    char *jp = journal_path(c, a);
    if (jp) {
        journal_load(&r, jp);
        rc = reconcile(&r);
        if (rc != CLI_EXIT_OK) {
            free(jp);
            goto out;
        }
        if (!a->v[O_DRY_RUN]) {
            int fd = open(jp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
            r.journal = fd >= 0 ? fdopen(fd, "a") : NULL;
            if (!r.journal) {
                fprintf(stderr, "forge import: cannot write the journal %s: %s\n", jp,
                        strerror(errno));
                if (fd >= 0)
                    close(fd);
                free(jp);
                rc = CLI_EXIT_USAGE;
                goto out;
            }
        }
        free(jp);
    }
    if (r.journal) { /* a start without an end tells the next run to reconcile */
        fprintf(r.journal, "# start %lld\n", (long long)time(NULL));
        fflush(r.journal);
    }
    r.progress = isatty(2) && !a->v[O_NO_PROGRESS] && !c->json && !c->quiet;
    r.t0 = now_s();
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigaction(SIGINT, &sa, &old);
    g_interrupted = 0;
    if ((size_t)jobs > r.nfiles)
        jobs = (long)r.nfiles;
    pthread_t th[IMPORT_JOBS_MAX];
    for (long i = 0; i < jobs; i++)
        pthread_create(&th[i], NULL, worker, &r);
    for (long i = 0; i < jobs; i++)
        pthread_join(th[i], NULL);
    sigaction(SIGINT, &old, NULL);
    double secs = now_s() - r.t0;
    draw_progress(&r, 1);
    if (r.journal) {
        if (!c->s->auth_failed)
            fprintf(r.journal, "# end\n");
        fflush(r.journal);
        fsync(fileno(r.journal));
    }
    int interrupted = g_interrupted;
    if (c->json) {
        json_t *files = json_array();
        for (size_t i = 0; i < r.nfiles; i++)
            json_array_append_new(
                files, json_pack("{sssssoss}", "path", r.files[i].rel, "action",
                                 action_name(r.files[i].action), "id",
                                 r.files[i].id ? json_string(r.files[i].id) : json_null(),
                                 "content_sha256", r.files[i].csha));
        json_t *o = json_pack("{s{sIsIsIsIsIsbsf}so}", "meta", "files", (json_int_t)r.nfiles,
                              "created", (json_int_t)r.created, "updated", (json_int_t)r.updated,
                              "unchanged", (json_int_t)r.unchanged, "failed", (json_int_t)r.failed,
                              "interrupted", interrupted, "seconds", secs, "data", files);
        cli_print_json(o);
        json_decref(o);
    } else if (c->quiet) {
        for (size_t i = 0; i < r.nfiles; i++)
            if (r.files[i].id)
                printf("%s\n", r.files[i].id);
    } else if (a->v[O_DRY_RUN]) {
        for (size_t i = 0; i < r.nfiles; i++)
            printf("%-9s %s\n", action_name(r.files[i].action), r.files[i].rel);
    } else {
        printf("%s %zu of %zu files in %.1f s (%.1f files/s): %zu created, %zu updated, %zu "
               "unchanged, %zu failed.\n",
               interrupted ? "Interrupted after" : "Imported", r.done, r.nfiles, secs,
               secs > 0 ? (double)r.done / secs : 0.0, r.created, r.updated, r.unchanged, r.failed);
        if (interrupted)
            printf("Run the same command again to continue.\n");
    }
    rc = c->s->auth_failed ? CLI_EXIT_AUTH
         : interrupted     ? 130
         : r.failed        ? r.first_error
                           : CLI_EXIT_OK;
out:
    if (r.journal)
        fclose(r.journal);
    for (size_t i = 0; i < r.nfiles; i++) {
        free(r.files[i].abs);
        free(r.files[i].rel);
        free(r.files[i].id);
    }
    free(r.files);
    for (size_t i = 0; i < r.njr; i++) {
        free(r.jr[i].abs);
        free(r.jr[i].id);
    }
    free(r.jr);
    json_decref(r.recent);
    pthread_mutex_destroy(&r.mu);
    return rc;
}

/* ---- export ---------------------------------------------------------------------------------- */

static int safe_rel(const char *p)
{
    if (!p || !*p || p[0] == '/' || strlen(p) > 1024)
        return 0;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.') ||
            s[0] == '.')
            return 0;
        s += n + (e ? 1 : 0);
    }
    return 1;
}

static int mkdirs_for(const char *file)
{
    char *p = fg_xstrdup(file);
    for (char *q = p + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *q = '/';
    }
    free(p);
    return 0;
}

static void fm_write(FILE *f, const char *k, json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        json_t *probe = NULL;
        int plain = *s && !strchr(s, '\n') && s[0] != '"' && s[0] != '[' && s[0] != '{' &&
                    s[0] != '\'' && s[0] != ' ' && s[strlen(s) - 1] != ' ';
        if (plain) { /* would it read back as something else than this string? */
            char *copy = fg_xstrdup(s);
            probe = fm_value(copy);
            plain = json_is_string(probe) && strcmp(json_string_value(probe), s) == 0;
            json_decref(probe);
            free(copy);
        }
        if (plain) {
            fprintf(f, "%s: %s\n", k, s);
            return;
        }
    }
    char *j = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    fprintf(f, "%s: %s\n", k, j ? j : "null");
    free(j);
}

int cli_export(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    const char *dir = a->pos[0];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "forge export: cannot create %s: %s\n", dir, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    struct fg_buf q;
    fg_buf_init(&q, 1u << 16);
    fg_buf_puts(&q, "/api/v1/capsules?per_page=100");
    const int keys[] = {O_TYPE, O_OWNER, O_PARENT};
    const char *names[] = {"type", "owner_id", "parent_id"};
    for (int i = 0; i < 3; i++)
        if (a->v[keys[i]]) {
            char *e = cli_urlencode(a->v[keys[i]]);
            fg_buf_printf(&q, "&%s=%s", names[i], e);
            free(e);
        }
    size_t written = 0, kept = 0;
    json_t *list = json_array();
    for (long page = 1;; page++) {
        char path[70000];
        snprintf(path, sizeof path, "%s&page=%ld", q.p, page);
        json_t *out = NULL;
        rc = cli_call(c, "GET", path, NULL, 0, &out, NULL);
        if (rc) {
            json_decref(out);
            break;
        }
        json_t *data = json_object_get(out, "data");
        size_t i;
        json_t *cap;
        json_array_foreach(data, i, cap)
        {
            const char *id = json_string_value(json_object_get(cap, "id"));
            const char *type = json_string_value(json_object_get(cap, "type"));
            json_t *meta = json_object_get(cap, "metadata");
            const char *sp = json_string_value(json_object_get(meta, "source_path"));
            size_t n = strlen(dir) + (sp ? strlen(sp) : 0) + 128;
            char *file = fg_xmalloc(n);
            char fallback[160];
            snprintf(fallback, sizeof fallback, "%s/%s.md", type ? type : "capsule", id ? id : "x");
            if (safe_rel(sp)) /* names from the server never leave DIR */
                snprintf(file, n, "%s/%s", dir, sp);
            else if (safe_rel(fallback))
                snprintf(file, n, "%s/%s", dir, fallback);
            else
                snprintf(file, n, "%s/capsule-%zu-%ld.md", dir, i, page);
            struct stat st;
            if (!a->v[O_FORCE] && stat(file, &st) == 0) {
                kept++;
                free(file);
                continue;
            }
            FILE *f = NULL;
            if (mkdirs_for(file) == 0)
                f = fopen(file, "w");
            if (!f) {
                fprintf(stderr, "forge export: cannot write %s: %s\n", file, strerror(errno));
                free(file);
                rc = CLI_EXIT_USAGE;
                break;
            }
            fprintf(f, "---\n");
            fm_write(f, "type", json_object_get(cap, "type"));
            fm_write(f, "forge_id", json_object_get(cap, "id"));
            const char *k;
            json_t *v;
            json_object_foreach(meta, k, v)
            {
                if (strcmp(k, "source_path") == 0 || strcmp(k, "content_sha256") == 0 ||
                    strchr(k, ':') || strchr(k, '\n') || k[0] == '#' || k[0] == ' ')
                    continue;
                fm_write(f, k, v);
            }
            fprintf(f, "---\n\n");
            const char *content = json_string_value(json_object_get(cap, "content"));
            fputs(content ? content : "", f);
            if (content && *content && content[strlen(content) - 1] != '\n')
                fputc('\n', f);
            if (fclose(f) != 0) {
                fprintf(stderr, "forge export: cannot write %s\n", file);
                rc = CLI_EXIT_USAGE;
            }
            written++;
            json_array_append_new(list, json_pack("{ssss}", "id", id ? id : "", "path", file));
            if (c->quiet)
                printf("%s\n", id ? id : "");
            free(file);
        }
        json_int_t pages =
            json_integer_value(json_object_get(json_object_get(out, "meta"), "pages"));
        json_decref(out);
        if (rc || page >= pages)
            break;
    }
    if (c->json) {
        json_t *o = json_pack("{s{sIsI}sO}", "meta", "written", (json_int_t)written, "kept",
                              (json_int_t)kept, "data", list);
        cli_print_json(o);
        json_decref(o);
    } else if (!c->quiet) {
        printf("Exported %zu capsule%s to %s%s", written, written == 1 ? "" : "s", dir,
               kept ? "" : ".\n");
        if (kept)
            printf(" (%zu existing file%s kept; --force overwrites).\n", kept,
                   kept == 1 ? "" : "s");
    }
    json_decref(list);
    fg_buf_free(&q);
    return rc;
}
