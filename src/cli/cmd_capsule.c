/* `forge capsule create|get|list|edit|delete|derive|lineage|revisions` and `forge search`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "util/buf.h"
#include "util/mem.h"

#define PREVIEW_COLS 60

/* ---- shared helpers ------------------------------------------------------------------------ */

static int bad_id(struct cli_ctx *c, const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        goto bad;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') ||
              *p == '-'))
            goto bad;
    return 0;
bad:
    fprintf(stderr, "forge %s: '%s' is not a capsule id (a UUID)\n", c->cmd, id);
    return 1;
}

/* Content from CONTENT ('-' = stdin), --file, stdin when piped, or the editor. *out heap. */
static int get_content(struct cli_ctx *c, struct cli_args *a, const char *arg, int allow_stdin,
                       const char *initial, char **out)
{
    *out = NULL;
    int too_big = 0;
    size_t len = 0;
    const char *file = a->v[O_FILE];
    if (arg && file) {
        fprintf(stderr, "forge %s: give the content either as an argument or with --file\n",
                c->cmd);
        return CLI_EXIT_USAGE;
    }
    if (arg && strcmp(arg, "-") != 0) {
        *out = fg_xstrdup(arg);
    } else if ((arg && strcmp(arg, "-") == 0) || (file && strcmp(file, "-") == 0) ||
               (!file && !a->v[O_EDITOR_FLAG] && allow_stdin && !isatty(0))) {
        *out = cli_read_stream(stdin, CLI_CONTENT_MAX, &len, &too_big);
        if (!*out && !too_big) {
            fprintf(stderr, "forge %s: cannot read stdin\n", c->cmd);
            return CLI_EXIT_USAGE;
        }
    } else if (file) {
        *out = cli_read_file(file, CLI_CONTENT_MAX, &len, &too_big);
        if (!*out && !too_big) {
            fprintf(stderr, "forge %s: cannot read %s\n", c->cmd, file);
            return CLI_EXIT_USAGE;
        }
    } else {
        *out = cli_edit_text(initial, "Write the capsule's content above.");
        if (!*out)
            return CLI_EXIT_USAGE;
        if (!**out) {
            fprintf(stderr, "Aborting: empty content.\n");
            free(*out);
            *out = NULL;
            return CLI_EXIT_USAGE;
        }
        return CLI_EXIT_OK;
    }
    if (too_big) {
        fprintf(stderr, "forge %s: content is larger than 1 MiB (the server's limit)\n", c->cmd);
        return CLI_EXIT_USAGE;
    }
    if (!**out) {
        fprintf(stderr, "forge %s: empty content\n", c->cmd);
        free(*out);
        *out = NULL;
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* Metadata from --meta-json and --meta K=V; *meta NULL when neither was given. */
static int get_metadata(struct cli_ctx *c, struct cli_args *a, json_t **meta)
{
    *meta = NULL;
    if (a->v[O_META_JSON]) {
        json_error_t je;
        *meta = json_loads(a->v[O_META_JSON], JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(*meta)) {
            fprintf(stderr, "forge %s: --meta-json must be a JSON object (%s)\n", c->cmd,
                    *meta ? "not an object" : je.text);
            json_decref(*meta);
            *meta = NULL;
            return CLI_EXIT_USAGE;
        }
    }
    for (int i = 0; i < a->n[O_META] && i < CLI_MAX_REPEAT; i++) {
        const char *kv = a->multi[O_META][i], *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            fprintf(stderr, "forge %s: --meta needs KEY=VALUE (got '%s')\n", c->cmd, kv);
            json_decref(*meta);
            *meta = NULL;
            return CLI_EXIT_USAGE;
        }
        if (!*meta)
            *meta = json_object();
        char *k = fg_xstrndup(kv, (size_t)(eq - kv));
        json_object_set_new(*meta, k, json_string(eq + 1));
        free(k);
    }
    return CLI_EXIT_OK;
}

static void print_capsule(struct cli_ctx *c, json_t *cap)
{
    static const char *const keys[] = {"id",         "type",      "version",    "trust_level",
                                       "owner_id",   "parent_id", "created_at", "updated_at",
                                       "deleted_at", "metadata",  NULL};
    json_t *v = json_deep_copy(cap);
    json_t *m = json_object_get(v, "metadata");
    if (json_is_object(m) && json_object_size(m) == 0)
        json_object_del(v, "metadata");
    if (json_is_null(json_object_get(v, "parent_id")))
        json_object_del(v, "parent_id");
    cli_print_fields(c, v, keys);
    json_decref(v);
    const char *content = json_string_value(json_object_get(cap, "content"));
    printf("\n%s", content ? content : "");
    if (content && *content && content[strlen(content) - 1] != '\n')
        printf("\n");
}

static int create_common(struct cli_ctx *c, struct cli_args *a, const char *parent,
                         const char *content_arg)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    if (parent && bad_id(c, parent))
        return CLI_EXIT_USAGE;
    json_t *meta = NULL, *out = NULL;
    char *content = NULL;
    rc = get_metadata(c, a, &meta);
    if (rc)
        return rc;
    rc = get_content(c, a, content_arg, 1, NULL, &content);
    if (rc) {
        json_decref(meta);
        return rc;
    }
    json_t *body = json_object();
    json_object_set_new(body, "content", json_string(content));
    if (!json_object_get(body, "content")) {
        fprintf(stderr, "forge %s: content is not valid UTF-8\n", c->cmd);
        json_decref(body);
        json_decref(meta);
        free(content);
        return CLI_EXIT_USAGE;
    }
    if (a->v[O_TYPE])
        json_object_set_new(body, "type", json_string(a->v[O_TYPE]));
    if (meta)
        json_object_set_new(body, "metadata", meta);
    if (parent)
        json_object_set_new(body, "parent_id", json_string(parent));
    if (a->v[O_REASON])
        json_object_set_new(body, "reason", json_string(a->v[O_REASON]));
    rc = cli_call(c, "POST", "/api/v1/capsules", body, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        if (c->json)
            cli_print_json(out);
        else if (c->quiet)
            printf("%s\n", json_string_value(json_object_get(d, "id")));
        else
            printf("Created capsule %s%s%s (%s, version %s, trust %s)%s%s\n", cli_bold(c),
                   json_string_value(json_object_get(d, "id")), cli_reset(c),
                   json_string_value(json_object_get(d, "type")),
                   json_string_value(json_object_get(d, "version")),
                   json_string_value(json_object_get(d, "trust_level")),
                   parent ? " derived from " : "", parent ? parent : "");
    }
    json_decref(out);
    json_decref(body);
    free(content);
    return rc;
}

int cli_capsule_create(struct cli_ctx *c, struct cli_args *a)
{
    if (a->v[O_REASON] && !a->v[O_PARENT]) {
        fprintf(stderr, "forge capsule create: --reason needs --parent\n");
        return CLI_EXIT_USAGE;
    }
    return create_common(c, a, a->v[O_PARENT], a->npos ? a->pos[0] : NULL);
}

int cli_capsule_derive(struct cli_ctx *c, struct cli_args *a)
{
    return create_common(c, a, a->pos[0], a->npos > 1 ? a->pos[1] : NULL);
}

static char *capsule_path(const char *id, const char *suffix)
{
    char *e = cli_urlencode(id);
    size_t n = strlen(e) + strlen(suffix) + 32;
    char *p = fg_xmalloc(n);
    snprintf(p, n, "/api/v1/capsules/%s%s", e, suffix);
    free(e);
    return p;
}

int cli_capsule_get(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    if (bad_id(c, a->pos[0]))
        return CLI_EXIT_USAGE;
    if (a->v[O_AS_OF] || a->v[O_VERSION])
        return cli_capsule_get_past(c, a);
    char *path = capsule_path(a->pos[0], "");
    json_t *out = NULL;
    rc = cli_call(c, "GET", path, NULL, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        if (c->json)
            cli_print_json(out);
        else if (c->quiet)
            printf("%s\n", json_string_value(json_object_get(json_object_get(out, "data"), "id")));
        else
            print_capsule(c, json_object_get(out, "data"));
    }
    json_decref(out);
    free(path);
    return rc;
}

static void add_query(struct fg_buf *b, const char *name, const char *value)
{
    if (!value)
        return;
    char *e = cli_urlencode(value);
    fg_buf_printf(b, "%c%s=%s", strchr(b->p ? b->p : "", '?') ? '&' : '?', name, e);
    free(e);
}

static void capsule_rows(struct cli_table *t, json_t *arr)
{
    size_t i;
    json_t *cap;
    json_array_foreach(arr, i, cap)
    {
        char *prev = cli_preview(json_string_value(json_object_get(cap, "content")), PREVIEW_COLS);
        const char *cells[] = {json_string_value(json_object_get(cap, "id")),
                               json_string_value(json_object_get(cap, "type")),
                               json_string_value(json_object_get(cap, "version")),
                               json_string_value(json_object_get(cap, "trust_level")),
                               json_string_value(json_object_get(cap, "updated_at")),
                               prev};
        cli_table_add(t, cells);
        free(prev);
    }
}

/* GET path (+ page params) once or, with --all, every page; prints per the output mode. */
int cli_list_pages(struct cli_ctx *c, struct cli_args *a, const char *base,
                   void (*rows)(struct cli_table *, json_t *), int ncols,
                   const char *const *headers, const char *noun)
{
    long page = 1, per_page = 20;
    if (a->v[O_PAGE] && cli_int_opt(c, "page", a->v[O_PAGE], 1, 1000000, &page) != 0)
        return CLI_EXIT_USAGE;
    if (a->v[O_PER_PAGE] && cli_int_opt(c, "per-page", a->v[O_PER_PAGE], 1, 100, &per_page) != 0)
        return CLI_EXIT_USAGE;
    int all = a->v[O_ALL] != NULL;
    if (all && !a->v[O_PER_PAGE])
        per_page = 100;
    struct cli_table *t = cli_table_new(ncols, headers);
    cli_table_cap(t, ncols - 1, PREVIEW_COLS);
    json_t *merged = json_array(), *last = NULL;
    int rc = CLI_EXIT_OK;
    for (;;) {
        char q[64];
        snprintf(q, sizeof q, "%spage=%ld&per_page=%ld", strchr(base, '?') ? "&" : "?", page,
                 per_page);
        size_t n = strlen(base) + strlen(q) + 1;
        char *path = fg_xmalloc(n);
        snprintf(path, n, "%s%s", base, q);
        json_t *out = NULL;
        rc = cli_call(c, "GET", path, NULL, 0, &out, NULL);
        free(path);
        if (rc != CLI_EXIT_OK) {
            json_decref(out);
            break;
        }
        json_t *data = json_object_get(out, "data");
        json_array_extend(merged, data);
        rows(t, data);
        json_decref(last);
        last = out;
        json_int_t pages =
            json_integer_value(json_object_get(json_object_get(out, "meta"), "pages"));
        if (!all || page >= pages || json_array_size(data) == 0)
            break;
        page++;
    }
    if (rc == CLI_EXIT_OK) {
        json_t *meta = json_object_get(last, "meta");
        if (c->json) {
            if (all) {
                json_t *o = json_pack("{sOsO}", "data", merged, "meta", meta ? meta : json_null());
                cli_print_json(o);
                json_decref(o);
            } else {
                cli_print_json(last);
            }
        } else if (c->quiet) {
            size_t i;
            json_t *it;
            json_array_foreach(merged, i, it)
            {
                const char *id = json_string_value(json_object_get(it, "id"));
                if (!id)
                    id = json_string_value(json_object_get(json_object_get(it, "capsule"), "id"));
                printf("%s\n", id ? id : "");
            }
        } else {
            cli_table_print(c, t);
            json_int_t total = json_integer_value(json_object_get(meta, "total"));
            json_int_t pages = json_integer_value(json_object_get(meta, "pages"));
            if (all)
                printf("%s%lld %s%s\n", cli_dim(c), (long long)total, noun, cli_reset(c));
            else {
                printf("%spage %ld of %lld (%lld %s)", cli_dim(c), page,
                       (long long)(pages ? pages : 1), (long long)total, noun);
                if (page < pages)
                    printf("; next: --page %ld", page + 1);
                printf("%s\n", cli_reset(c));
            }
        }
    }
    json_decref(merged);
    json_decref(last);
    cli_table_free(t);
    return rc;
}

int cli_capsule_list(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    struct fg_buf b;
    fg_buf_init(&b, 1u << 16);
    fg_buf_puts(&b, "/api/v1/capsules");
    add_query(&b, "type", a->v[O_TYPE]);
    add_query(&b, "trust_level", a->v[O_TRUST]);
    add_query(&b, "owner_id", a->v[O_OWNER]);
    add_query(&b, "parent_id", a->v[O_PARENT]);
    add_query(&b, "created_after", a->v[O_AFTER]);
    add_query(&b, "created_before", a->v[O_BEFORE]);
    static const char *const h[] = {"ID", "TYPE", "VERSION", "TRUST", "UPDATED", "CONTENT"};
    rc = cli_list_pages(c, a, b.p, capsule_rows, 6, h, "capsules");
    fg_buf_free(&b);
    return rc;
}

int cli_capsule_edit(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    const char *id = a->pos[0];
    if (bad_id(c, id))
        return CLI_EXIT_USAGE;
    json_t *meta = NULL, *cur = NULL, *out = NULL, *body = json_object();
    char *content = NULL, *path = capsule_path(id, "");
    rc = get_metadata(c, a, &meta);
    if (rc)
        goto out;
    int explicit_content = a->npos > 1 || a->v[O_FILE] || a->v[O_EDITOR_FLAG];
    int nothing = !explicit_content && !a->v[O_TYPE] && !meta;
    if (explicit_content && !a->v[O_EDITOR_FLAG]) {
        rc = get_content(c, a, a->npos > 1 ? a->pos[1] : NULL, 0, NULL, &content);
        if (rc)
            goto out;
    } else if (a->v[O_EDITOR_FLAG] || nothing) {
        rc = cli_call(c, "GET", path, NULL, 0, &cur, NULL);
        if (rc)
            goto out;
        const char *old =
            json_string_value(json_object_get(json_object_get(cur, "data"), "content"));
        content = cli_edit_text(old, "Edit the capsule's content above.");
        if (!content) {
            rc = CLI_EXIT_USAGE;
            goto out;
        }
        if (!*content) {
            fprintf(stderr, "Aborting: empty content.\n");
            rc = CLI_EXIT_USAGE;
            goto out;
        }
        if (old && strcmp(old, content) == 0 && !a->v[O_TYPE] && !meta) {
            if (!c->quiet && !c->json)
                printf("No change.\n");
            else if (c->json)
                cli_print_json(cur);
            rc = CLI_EXIT_OK;
            goto out;
        }
    }
    if (content) {
        json_object_set_new(body, "content", json_string(content));
        if (!json_object_get(body, "content")) {
            fprintf(stderr, "forge %s: content is not valid UTF-8\n", c->cmd);
            rc = CLI_EXIT_USAGE;
            goto out;
        }
    }
    if (a->v[O_TYPE])
        json_object_set_new(body, "type", json_string(a->v[O_TYPE]));
    if (meta) {
        json_object_set_new(body, "metadata", meta);
        meta = NULL;
    }
    rc = cli_call(c, "PATCH", path, body, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        if (c->json)
            cli_print_json(out);
        else if (c->quiet)
            printf("%s\n", json_string_value(json_object_get(d, "id")));
        else
            printf("Updated capsule %s%s%s (version %s)\n", cli_bold(c), id, cli_reset(c),
                   json_string_value(json_object_get(d, "version")));
    }
out:
    json_decref(meta);
    json_decref(cur);
    json_decref(out);
    json_decref(body);
    free(content);
    free(path);
    return rc;
}

int cli_capsule_delete(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    if (bad_id(c, a->pos[0]))
        return CLI_EXIT_USAGE;
    char *path = capsule_path(a->pos[0], a->v[O_CASCADE] ? "?cascade=true" : "");
    json_t *out = NULL;
    rc = cli_call(c, "DELETE", path, NULL, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        if (c->json)
            cli_print_json(out);
        else if (c->quiet)
            printf("%s\n", a->pos[0]);
        else
            printf("Deleted %lld capsule%s (%s%s).\n",
                   (long long)json_integer_value(json_object_get(d, "deleted_count")),
                   json_integer_value(json_object_get(d, "deleted_count")) == 1 ? "" : "s",
                   a->pos[0], a->v[O_CASCADE] ? " and its descendants" : "");
    }
    json_decref(out);
    free(path);
    return rc;
}

static void tree_line(struct cli_ctx *c, const char *indent, const char *branch, json_t *cap,
                      const char *note, int self)
{
    char *prev = cli_preview(json_string_value(json_object_get(cap, "content")), 50);
    printf("%s%s%s%s%s  %s%s %s%s  %s", indent, branch, self ? cli_bold(c) : "",
           json_string_value(json_object_get(cap, "id")), self ? cli_reset(c) : "", cli_dim(c),
           json_string_value(json_object_get(cap, "type")),
           json_string_value(json_object_get(cap, "version")), cli_reset(c), prev);
    if (note && *note)
        printf("  %s(%s)%s", cli_dim(c), note, cli_reset(c));
    printf("\n");
    free(prev);
}

int cli_capsule_lineage(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    const char *id = a->pos[0];
    if (bad_id(c, id))
        return CLI_EXIT_USAGE;
    char suffix[64] = "/lineage";
    if (a->v[O_MAX_DEPTH]) {
        long d;
        if (cli_int_opt(c, "max-depth", a->v[O_MAX_DEPTH], 1, 100000, &d) != 0)
            return CLI_EXIT_USAGE;
        snprintf(suffix, sizeof suffix, "/lineage?max_depth=%ld", d);
    }
    char *lp = capsule_path(id, suffix), *cp = capsule_path(id, ""),
         *kp = capsule_path(id, "/children?per_page=100");
    json_t *lin = NULL, *cap = NULL, *kids = NULL;
    rc = cli_call(c, "GET", lp, NULL, 0, &lin, NULL);
    if (rc == CLI_EXIT_OK && c->json) {
        cli_print_json(lin);
        goto out;
    }
    if (rc == CLI_EXIT_OK)
        rc = cli_call(c, "GET", cp, NULL, 0, &cap, NULL);
    if (rc == CLI_EXIT_OK)
        rc = cli_call(c, "GET", kp, NULL, 0, &kids, NULL);
    if (rc != CLI_EXIT_OK)
        goto out;
    json_t *anc = json_object_get(json_object_get(lin, "data"), "ancestors");
    json_t *self = json_object_get(cap, "data");
    json_t *children = json_object_get(kids, "data");
    if (c->quiet) {
        for (size_t i = json_array_size(anc); i-- > 0;)
            printf("%s\n", json_string_value(json_object_get(json_array_get(anc, i), "id")));
        printf("%s\n", id);
        size_t i;
        json_t *k;
        json_array_foreach(children, i, k)
        {
            printf("%s\n", json_string_value(json_object_get(k, "id")));
        }
        goto out;
    }
    /* ancestors come nearest first: draw the oldest at the top */
    struct fg_buf ind;
    fg_buf_init(&ind, 1u << 20);
    fg_buf_puts(&ind, "");
    size_t na = json_array_size(anc);
    if (json_is_true(json_object_get(json_object_get(lin, "data"), "truncated")))
        printf("%s… (older ancestors beyond --max-depth)%s\n", cli_dim(c), cli_reset(c));
    for (size_t i = na; i-- > 0;) {
        json_t *x = json_array_get(anc, i);
        /* the reason on an ancestor is why its child derives from it: show it on the child */
        tree_line(c, ind.p, i == na - 1 ? "" : "└── ", x, NULL, 0);
        if (i != na - 1)
            fg_buf_puts(&ind, "    ");
    }
    const char *why =
        na ? json_string_value(json_object_get(json_array_get(anc, 0), "reason")) : NULL;
    tree_line(c, ind.p, na ? "└── " : "", self, why, 1);
    if (na)
        fg_buf_puts(&ind, "    ");
    size_t nk = json_array_size(children), i;
    json_t *k;
    json_array_foreach(children, i, k)
    {
        tree_line(c, ind.p, i + 1 == nk ? "└── " : "├── ", k, NULL, 0);
    }
    json_int_t total = json_integer_value(json_object_get(json_object_get(kids, "meta"), "total"));
    if ((json_int_t)nk < total)
        printf("%s%s… %lld more children%s\n", ind.p, cli_dim(c),
               (long long)(total - (json_int_t)nk), cli_reset(c));
    fg_buf_free(&ind);
out:
    json_decref(lin);
    json_decref(cap);
    json_decref(kids);
    free(lp);
    free(cp);
    free(kp);
    return rc;
}

int cli_capsule_revisions(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    if (bad_id(c, a->pos[0]))
        return CLI_EXIT_USAGE;
    char *path = capsule_path(a->pos[0], "/revisions?per_page=100");
    json_t *out = NULL;
    rc = cli_call(c, "GET", path, NULL, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *data = json_object_get(out, "data");
        if (c->json) {
            cli_print_json(out);
        } else if (c->quiet) {
            size_t i;
            json_t *r;
            json_array_foreach(data, i, r)
            {
                printf("%s\n", json_string_value(json_object_get(r, "version")));
            }
        } else {
            static const char *const h[] = {"VERSION", "CURRENT", "AUTHOR", "CREATED", "CONTENT"};
            struct cli_table *t = cli_table_new(5, h);
            cli_table_cap(t, 4, PREVIEW_COLS);
            size_t i;
            json_t *r;
            json_array_foreach(data, i, r)
            {
                char *prev =
                    cli_preview(json_string_value(json_object_get(r, "content")), PREVIEW_COLS);
                const char *cells[] = {json_string_value(json_object_get(r, "version")),
                                       json_is_true(json_object_get(r, "current")) ? "yes" : "",
                                       json_string_value(json_object_get(r, "author_id")),
                                       json_string_value(json_object_get(r, "created_at")), prev};
                cli_table_add(t, cells);
                free(prev);
            }
            cli_table_print(c, t);
            cli_table_free(t);
        }
    }
    json_decref(out);
    free(path);
    return rc;
}

/* ---- search -------------------------------------------------------------------------------- */

int cli_search(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    json_t *body = json_pack("{ss}", "query", a->pos[0]), *out = NULL;
    long v;
    if (a->v[O_MODE])
        json_object_set_new(body, "mode", json_string(a->v[O_MODE]));
    if (a->v[O_TYPE])
        json_object_set_new(body, "type", json_string(a->v[O_TYPE]));
    if (a->v[O_LIMIT]) {
        if (cli_int_opt(c, "limit", a->v[O_LIMIT], 1, 100, &v) != 0)
            goto usage;
        json_object_set_new(body, "limit", json_integer(v));
    }
    if (a->v[O_MAX_HOPS]) {
        if (cli_int_opt(c, "max-hops", a->v[O_MAX_HOPS], 0, 5, &v) != 0)
            goto usage;
        json_object_set_new(body, "max_hops", json_integer(v));
    }
    if (a->v[O_MIN_SCORE]) {
        char *end;
        double x = strtod(a->v[O_MIN_SCORE], &end);
        if (*end || end == a->v[O_MIN_SCORE] || !(x >= 0 && x <= 1)) {
            fprintf(stderr, "forge search: --min-score must be a number from 0 to 1\n");
            goto usage;
        }
        json_object_set_new(body, "min_score", json_real(x));
    }
    if (a->v[O_CONTEXT])
        json_object_set_new(body, "context_capsule_id", json_string(a->v[O_CONTEXT]));
    rc = cli_call(c, "POST", "/api/v1/capsules/search", body, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *data = json_object_get(out, "data"), *meta = json_object_get(out, "meta");
        if (c->json) {
            cli_print_json(out);
        } else if (c->quiet) {
            size_t i;
            json_t *r;
            json_array_foreach(data, i, r)
            {
                json_t *cap = json_object_get(r, "capsule");
                printf("%s\n", json_string_value(json_object_get(cap, "id")));
            }
        } else if (json_array_size(data) == 0) {
            printf("No results (mode %s).\n", json_string_value(json_object_get(meta, "mode")));
        } else {
            static const char *const h[] = {"SCORE", "ID", "TYPE", "CONTENT"};
            struct cli_table *t = cli_table_new(4, h);
            cli_table_cap(t, 3, PREVIEW_COLS);
            size_t i;
            json_t *r;
            json_array_foreach(data, i, r)
            {
                json_t *cap = json_object_get(r, "capsule");
                char score[32];
                snprintf(score, sizeof score, "%.3f",
                         json_number_value(json_object_get(r, "score")));
                char *prev =
                    cli_preview(json_string_value(json_object_get(cap, "content")), PREVIEW_COLS);
                const char *cells[] = {score, json_string_value(json_object_get(cap, "id")),
                                       json_string_value(json_object_get(cap, "type")), prev};
                cli_table_add(t, cells);
                free(prev);
            }
            cli_table_print(c, t);
            cli_table_free(t);
            printf("%s%zu result%s, mode %s, %.1f ms%s\n", cli_dim(c), json_array_size(data),
                   json_array_size(data) == 1 ? "" : "s",
                   json_string_value(json_object_get(meta, "mode")),
                   json_number_value(json_object_get(meta, "took_ms")), cli_reset(c));
        }
    }
    json_decref(out);
    json_decref(body);
    return rc;
usage:
    json_decref(body);
    return CLI_EXIT_USAGE;
}
