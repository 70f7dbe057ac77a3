/*
 * Knowledge graph and time travel from the client (docs/knowledge-graph.md): `forge capsule
 * diff|links|link|unlink`, `capsule get --as-of|--version`, `forge graph
 * neighbors|path|contradictions`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "util/buf.h"
#include "util/mem.h"

int cli_bad_id(struct cli_ctx *c, const char *id, const char *what)
{
    size_t n = strlen(id);
    int ok = n > 0 && n <= 64;
    for (const char *p = id; ok && *p; p++)
        ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') ||
             *p == '-';
    if (!ok)
        fprintf(stderr, "forge %s: '%s' is not %s id (a UUID)\n", c->cmd, id, what);
    return !ok;
}

static void add_q(struct fg_buf *b, const char *name, const char *value)
{
    if (!value)
        return;
    char *e = cli_urlencode(value);
    fg_buf_printf(b, "%c%s=%s", strchr(b->p, '?') ? '&' : '?', name, e);
    free(e);
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int check_direction(struct cli_ctx *c, const char *d)
{
    if (!d || strcmp(d, "out") == 0 || strcmp(d, "in") == 0 || strcmp(d, "both") == 0)
        return 0;
    fprintf(stderr, "forge %s: --direction must be out, in or both (got '%s')\n", c->cmd, d);
    return 1;
}

/* ---- capsule get --as-of / --version ------------------------------------------------------ */

int cli_capsule_get_past(struct cli_ctx *c, struct cli_args *a)
{
    const char *id = a->pos[0];
    if (a->v[O_AS_OF] && a->v[O_VERSION]) {
        fprintf(stderr, "forge capsule get: give either --as-of or --version\n");
        return CLI_EXIT_USAGE;
    }
    struct fg_buf b;
    fg_buf_init(&b, 4096);
    char *e = cli_urlencode(id);
    if (a->v[O_AS_OF]) {
        fg_buf_printf(&b, "/api/v1/capsules/%s", e);
        add_q(&b, "as_of", a->v[O_AS_OF]);
    } else {
        char *v = cli_urlencode(a->v[O_VERSION]);
        fg_buf_printf(&b, "/api/v1/capsules/%s/revisions/%s", e, v);
        free(v);
    }
    free(e);
    json_t *out = NULL;
    int rc = cli_call(c, "GET", b.p, NULL, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        if (c->json) {
            cli_print_json(out);
        } else if (c->quiet) {
            printf("%s\n", a->v[O_AS_OF] ? str(d, "id") : str(d, "capsule_id"));
        } else {
            static const char *const cap_keys[] = {
                "id",        "type",       "version",    "trust_level", "owner_id",
                "parent_id", "created_at", "updated_at", "metadata",    NULL};
            static const char *const rev_keys[] = {"capsule_id", "version",    "current",
                                                   "author_id",  "created_at", "superseded_at",
                                                   "metadata",   NULL};
            json_t *v = json_deep_copy(d);
            json_t *m = json_object_get(v, "metadata");
            if (json_is_object(m) && json_object_size(m) == 0)
                json_object_del(v, "metadata");
            if (json_is_null(json_object_get(v, "parent_id")))
                json_object_del(v, "parent_id");
            if (a->v[O_AS_OF])
                printf("%sas it was on %s%s\n", cli_dim(c), a->v[O_AS_OF], cli_reset(c));
            cli_print_fields(c, v, a->v[O_AS_OF] ? cap_keys : rev_keys);
            json_decref(v);
            const char *content = str(d, "content");
            printf("\n%s", content);
            if (*content && content[strlen(content) - 1] != '\n')
                printf("\n");
        }
    }
    json_decref(out);
    fg_buf_free(&b);
    return rc;
}

/* ---- capsule diff -------------------------------------------------------------------------- */

int cli_capsule_diff(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    const char *id = a->pos[0];
    if (cli_bad_id(c, id, "a capsule"))
        return CLI_EXIT_USAGE;
    long ctxl = 3;
    if (a->v[O_UNIFIED] && cli_int_opt(c, "unified", a->v[O_UNIFIED], 0, 100, &ctxl) != 0)
        return CLI_EXIT_USAGE;
    struct fg_buf b;
    fg_buf_init(&b, 4096);
    char *e = cli_urlencode(id);
    fg_buf_printf(&b, "/api/v1/capsules/%s/diff", e);
    free(e);
    add_q(&b, "from", a->v[O_FROM]);
    add_q(&b, "to", a->v[O_TO]);
    char cs[24];
    snprintf(cs, sizeof cs, "%ld", ctxl);
    add_q(&b, "context", cs);
    json_t *revs = NULL, *out = NULL;
    if (!a->v[O_FROM]) {
        /* default: the version stored before --to (before the current one without --to) */
        char *ide = cli_urlencode(id);
        size_t n = strlen(ide) + 64;
        char *p = fg_xmalloc(n);
        snprintf(p, n, "/api/v1/capsules/%s/revisions?per_page=100", ide);
        free(ide);
        rc = cli_call(c, "GET", p, NULL, 0, &revs, NULL);
        free(p);
        if (rc) {
            fg_buf_free(&b);
            json_decref(revs);
            return rc;
        }
        json_t *list = json_object_get(revs, "data"); /* current first */
        const char *to = a->v[O_TO], *from = NULL;
        size_t i;
        json_t *r;
        int seen = 0;
        json_array_foreach(list, i, r)
        {
            const char *v = str(r, "version");
            int is_to = to && strcmp(to, "current") != 0
                            ? strcmp(v, to) == 0
                            : json_is_true(json_object_get(r, "current"));
            if (seen) {
                from = v;
                break;
            }
            seen = is_to;
        }
        if (!from) {
            fprintf(stderr, "forge capsule diff: %s; give --from to choose the older version\n",
                    json_array_size(list) == 1 ? "the capsule has only one version"
                    : seen                     ? "there is no version before --to"
                                               : "--to is not one of the capsule's last 100 "
                                                 "versions");
            fg_buf_free(&b);
            json_decref(revs);
            return !seen && json_array_size(list) > 1 ? CLI_EXIT_NOT_FOUND : CLI_EXIT_USAGE;
        }
        add_q(&b, "from", from);
    }
    rc = cli_call(c, "GET", b.p, NULL, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        json_t *hunks = json_object_get(d, "hunks");
        json_t *mc = json_object_get(d, "metadata_changes");
        if (c->json) {
            cli_print_json(out);
        } else if (c->quiet) {
            printf("%lld %lld\n", (long long)json_integer_value(json_object_get(d, "lines_added")),
                   (long long)json_integer_value(json_object_get(d, "lines_removed")));
        } else {
            json_t *fv0 = json_object_get(d, "from"), *tv0 = json_object_get(d, "to");
            const char *from = json_is_object(fv0) ? str(fv0, "version") : "?";
            const char *to = json_is_object(tv0) ? str(tv0, "version") : "?";
            printf("%s--- %s version %s%s\n", cli_bold(c), id, from, cli_reset(c));
            printf("%s+++ %s version %s%s\n", cli_bold(c), id, to, cli_reset(c));
            size_t i, j;
            json_t *h, *l;
            json_array_foreach(hunks, i, h)
            {
                printf("%s@@ -%lld,%lld +%lld,%lld @@%s\n", cli_yellow(c),
                       (long long)json_integer_value(json_object_get(h, "old_start")),
                       (long long)json_integer_value(json_object_get(h, "old_lines")),
                       (long long)json_integer_value(json_object_get(h, "new_start")),
                       (long long)json_integer_value(json_object_get(h, "new_lines")),
                       cli_reset(c));
                json_array_foreach(json_object_get(h, "lines"), j, l)
                {
                    const char *s = json_string_value(l);
                    if (!s)
                        continue;
                    const char *col = *s == '+' ? cli_green(c) : *s == '-' ? cli_red(c) : "";
                    printf("%s%s%s\n", col, s, *col ? cli_reset(c) : "");
                }
            }
            json_array_foreach(mc, i, h)
            {
                json_t *fj = json_object_get(h, "from"), *tj = json_object_get(h, "to");
                char *fv = fj ? cli_scalar(fj) : fg_xstrdup("");
                char *tv = tj ? cli_scalar(tj) : fg_xstrdup("");
                const char *ch = str(h, "change");
                if (strcmp(ch, "added") == 0)
                    printf("%smetadata + %s: %s%s\n", cli_green(c), str(h, "key"), tv,
                           cli_reset(c));
                else if (strcmp(ch, "removed") == 0)
                    printf("%smetadata - %s: %s%s\n", cli_red(c), str(h, "key"), fv, cli_reset(c));
                else
                    printf("%smetadata ~ %s: %s -> %s%s\n", cli_yellow(c), str(h, "key"), fv, tv,
                           cli_reset(c));
                free(fv);
                free(tv);
            }
            if (json_array_size(hunks) == 0 && json_array_size(mc) == 0)
                printf("%sNo differences.%s\n", cli_dim(c), cli_reset(c));
            else
                printf("%s%lld line%s added, %lld removed%s%s\n", cli_dim(c),
                       (long long)json_integer_value(json_object_get(d, "lines_added")),
                       json_integer_value(json_object_get(d, "lines_added")) == 1 ? "" : "s",
                       (long long)json_integer_value(json_object_get(d, "lines_removed")),
                       json_is_true(json_object_get(d, "coarse"))
                           ? " (coarse: too many changes for a minimal diff)"
                           : "",
                       cli_reset(c));
        }
    }
    json_decref(revs);
    json_decref(out);
    fg_buf_free(&b);
    return rc;
}

/* ---- edges --------------------------------------------------------------------------------- */

static void edge_rows(struct cli_table *t, json_t *arr)
{
    size_t i;
    json_t *ed;
    json_array_foreach(arr, i, ed)
    {
        char w[32];
        snprintf(w, sizeof w, "%.2f", json_number_value(json_object_get(ed, "weight")));
        const char *cells[] = {json_is_null(json_object_get(ed, "id")) ? "(lineage)"
                                                                       : str(ed, "id"),
                               str(ed, "source_id"),
                               str(ed, "type"),
                               str(ed, "target_id"),
                               w,
                               str(ed, "note")};
        cli_table_add(t, cells);
    }
}

int cli_capsule_links(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    if (cli_bad_id(c, a->pos[0], "a capsule") || check_direction(c, a->v[O_DIRECTION]))
        return CLI_EXIT_USAGE;
    struct fg_buf b;
    fg_buf_init(&b, 4096);
    char *e = cli_urlencode(a->pos[0]);
    fg_buf_printf(&b, "/api/v1/capsules/%s/edges", e);
    free(e);
    add_q(&b, "direction", a->v[O_DIRECTION]);
    add_q(&b, "type", a->v[O_EDGE_TYPE]);
    static const char *const h[] = {"EDGE", "SOURCE", "TYPE", "TARGET", "WEIGHT", "NOTE"};
    rc = cli_list_pages(c, a, b.p, edge_rows, 6, h, "edges");
    fg_buf_free(&b);
    return rc;
}

int cli_capsule_link(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    const char *id = a->pos[0], *target = a->pos[1];
    if (cli_bad_id(c, id, "a capsule") || cli_bad_id(c, target, "a capsule"))
        return CLI_EXIT_USAGE;
    if (!a->v[O_EDGE_TYPE]) {
        fprintf(stderr, "forge capsule link: --type is required (supports contradicts supersedes "
                        "related_to references)\n");
        return CLI_EXIT_USAGE;
    }
    json_t *body = json_pack("{ssss}", "target_id", target, "type", a->v[O_EDGE_TYPE]), *out = NULL;
    if (a->v[O_NOTE])
        json_object_set_new(body, "note", json_string(a->v[O_NOTE]));
    if (a->v[O_WEIGHT]) {
        char *end;
        double w = strtod(a->v[O_WEIGHT], &end);
        if (*end || end == a->v[O_WEIGHT] || !(w >= 0 && w <= 1)) {
            fprintf(stderr, "forge capsule link: --weight must be a number from 0 to 1\n");
            json_decref(body);
            return CLI_EXIT_USAGE;
        }
        json_object_set_new(body, "weight", json_real(w));
    }
    char *e = cli_urlencode(id);
    size_t n = strlen(e) + 40;
    char *path = fg_xmalloc(n);
    snprintf(path, n, "/api/v1/capsules/%s/edges", e);
    free(e);
    rc = cli_call(c, "POST", path, body, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        if (c->json)
            cli_print_json(out);
        else if (c->quiet)
            printf("%s\n", str(d, "id"));
        else
            printf("Linked %s %s%s%s %s (edge %s)\n", id, cli_bold(c), str(d, "type"), cli_reset(c),
                   target, str(d, "id"));
    }
    json_decref(out);
    json_decref(body);
    free(path);
    return rc;
}

int cli_capsule_unlink(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    if (cli_bad_id(c, a->pos[0], "a capsule") || cli_bad_id(c, a->pos[1], "an edge"))
        return CLI_EXIT_USAGE;
    char *e = cli_urlencode(a->pos[0]), *ee = cli_urlencode(a->pos[1]);
    size_t n = strlen(e) + strlen(ee) + 40;
    char *path = fg_xmalloc(n);
    snprintf(path, n, "/api/v1/capsules/%s/edges/%s", e, ee);
    free(e);
    free(ee);
    json_t *out = NULL;
    rc = cli_call(c, "DELETE", path, NULL, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        if (c->json)
            cli_print_json(out);
        else if (c->quiet)
            printf("%s\n", a->pos[1]);
        else
            printf("Deleted edge %s.\n", a->pos[1]);
    }
    json_decref(out);
    free(path);
    return rc;
}

/* ---- graph neighbors / path / contradictions ---------------------------------------------- */

static void node_label(struct cli_ctx *c, json_t *node, const char *id, int self)
{
    printf("%s%s%s", self ? cli_bold(c) : "", id, self ? cli_reset(c) : "");
    if (node) {
        printf("  %s%s v%s %s%s", cli_dim(c), str(node, "type"), str(node, "version"),
               str(node, "trust_level"), cli_reset(c));
        const char *sup = json_string_value(json_object_get(node, "superseded_by"));
        if (sup)
            printf("  %s(superseded by %s)%s", cli_yellow(c), sup, cli_reset(c));
    }
    printf("\n");
}

/* Edge label as seen from `from`: "─type→" when from is the source, "←type─" otherwise. */
static void edge_label(char *buf, size_t n, json_t *ed, const char *from)
{
    int out = strcmp(str(ed, "source_id"), from) == 0;
    snprintf(buf, n, out ? "─%s→" : "←%s─", str(ed, "type"));
}

struct nbr {
    json_t *nodes;  /* id -> node */
    json_t *edges;  /* array */
    json_t *placed; /* id -> true once drawn */
    json_t *used;   /* edge index -> true once drawn */
    struct cli_ctx *c;
};

static void draw_children(struct nbr *g, const char *id, long depth, const char *indent)
{
    /* the tree edges: from id to not-yet-placed nodes one level deeper */
    json_t *kids = json_array();
    size_t i;
    json_t *ed;
    json_array_foreach(g->edges, i, ed)
    {
        const char *s = str(ed, "source_id"), *t = str(ed, "target_id");
        const char *other = strcmp(s, id) == 0 ? t : strcmp(t, id) == 0 ? s : NULL;
        if (!other || json_object_get(g->placed, other))
            continue;
        json_t *n = json_object_get(g->nodes, other);
        if (json_integer_value(json_object_get(n, "depth")) != depth + 1)
            continue;
        json_object_set_new(g->placed, other, json_true());
        char k[32];
        snprintf(k, sizeof k, "%zu", i);
        json_object_set_new(g->used, k, json_true());
        json_array_append_new(kids, json_pack("{sssI}", "id", other, "edge", (json_int_t)i));
    }
    size_t nk = json_array_size(kids);
    json_t *kid;
    json_array_foreach(kids, i, kid)
    {
        const char *kid_id = str(kid, "id");
        json_t *e =
            json_array_get(g->edges, (size_t)json_integer_value(json_object_get(kid, "edge")));
        char lab[96];
        edge_label(lab, sizeof lab, e, id);
        printf("%s%s%s%s%s ", indent, i + 1 == nk ? "└── " : "├── ", cli_dim(g->c), lab,
               cli_reset(g->c));
        node_label(g->c, json_object_get(g->nodes, kid_id), kid_id, 0);
        size_t n = strlen(indent) + 8;
        char *ind = fg_xmalloc(n);
        snprintf(ind, n, "%s%s", indent, i + 1 == nk ? "    " : "│   ");
        draw_children(g, kid_id, depth + 1, ind);
        free(ind);
    }
    json_decref(kids);
}

int cli_graph_neighbors(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    const char *id = a->pos[0];
    if (cli_bad_id(c, id, "a capsule") || check_direction(c, a->v[O_DIRECTION]))
        return CLI_EXIT_USAGE;
    long v;
    if (a->v[O_DEPTH] && cli_int_opt(c, "depth", a->v[O_DEPTH], 1, 5, &v) != 0)
        return CLI_EXIT_USAGE;
    struct fg_buf b;
    fg_buf_init(&b, 4096);
    char *e = cli_urlencode(id);
    fg_buf_printf(&b, "/api/v1/capsules/%s/neighbors", e);
    free(e);
    add_q(&b, "depth", a->v[O_DEPTH]);
    add_q(&b, "types", a->v[O_TYPES]);
    add_q(&b, "direction", a->v[O_DIRECTION]);
    json_t *out = NULL;
    rc = cli_call(c, "GET", b.p, NULL, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        json_t *nodes = json_object_get(d, "nodes"), *edges = json_object_get(d, "edges");
        size_t i;
        json_t *x;
        if (c->json) {
            cli_print_json(out);
        } else if (c->quiet) {
            json_array_foreach(nodes, i, x)
            {
                if (strcmp(str(x, "id"), id) != 0)
                    printf("%s\n", str(x, "id"));
            }
        } else {
            struct nbr g = {json_object(), edges, json_object(), json_object(), c};
            json_array_foreach(nodes, i, x)
            {
                json_object_set(g.nodes, str(x, "id"), x);
            }
            json_object_set_new(g.placed, id, json_true());
            node_label(c, json_object_get(g.nodes, id), id, 1);
            draw_children(&g, id, 0, "");
            size_t others = 0;
            json_array_foreach(edges, i, x)
            {
                char k[32];
                snprintf(k, sizeof k, "%zu", i);
                if (json_object_get(g.used, k))
                    continue;
                if (!others++)
                    printf("%sother edges between these capsules:%s\n", cli_dim(c), cli_reset(c));
                printf("  %s %s─%s→%s %s\n", str(x, "source_id"), cli_dim(c), str(x, "type"),
                       cli_reset(c), str(x, "target_id"));
            }
            printf("%s%zu capsule%s, %zu edge%s%s%s\n", cli_dim(c),
                   json_array_size(nodes) ? json_array_size(nodes) - 1 : 0,
                   json_array_size(nodes) == 2 ? "" : "s", json_array_size(edges),
                   json_array_size(edges) == 1 ? "" : "s",
                   json_is_true(json_object_get(d, "truncated"))
                       ? " (truncated at the server's node limit)"
                       : "",
                   cli_reset(c));
            json_decref(g.nodes);
            json_decref(g.placed);
            json_decref(g.used);
        }
    }
    json_decref(out);
    fg_buf_free(&b);
    return rc;
}

int cli_graph_path(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    if (cli_bad_id(c, a->pos[0], "a capsule") || cli_bad_id(c, a->pos[1], "a capsule"))
        return CLI_EXIT_USAGE;
    long v;
    if (a->v[O_MAX_DEPTH] && cli_int_opt(c, "max-depth", a->v[O_MAX_DEPTH], 1, 10, &v) != 0)
        return CLI_EXIT_USAGE;
    struct fg_buf b;
    fg_buf_init(&b, 4096);
    fg_buf_puts(&b, "/api/v1/graph/path");
    add_q(&b, "from", a->pos[0]);
    add_q(&b, "to", a->pos[1]);
    add_q(&b, "max_depth", a->v[O_MAX_DEPTH]);
    add_q(&b, "types", a->v[O_TYPES]);
    json_t *out = NULL;
    rc = cli_call(c, "GET", b.p, NULL, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        json_t *nodes = json_object_get(d, "nodes"), *edges = json_object_get(d, "edges");
        int found = json_is_true(json_object_get(d, "found"));
        size_t i;
        json_t *x;
        if (c->json) {
            cli_print_json(out);
        } else if (c->quiet) {
            json_array_foreach(nodes, i, x)
            {
                printf("%s\n", json_is_string(x) ? json_string_value(x) : str(x, "id"));
            }
        } else if (!found) {
            printf("No path from %s to %s within %lld hops%s.\n", a->pos[0], a->pos[1],
                   (long long)json_integer_value(json_object_get(d, "max_depth")),
                   json_is_true(json_object_get(d, "truncated")) ? " (search bound reached)" : "");
        } else {
            json_array_foreach(nodes, i, x)
            {
                const char *nid = json_is_string(x) ? json_string_value(x) : str(x, "id");
                node_label(c, json_is_object(x) ? x : NULL, nid,
                           i == 0 || i + 1 == json_array_size(nodes));
                json_t *ed = json_array_get(edges, i);
                if (ed) {
                    char lab[96];
                    edge_label(lab, sizeof lab, ed, nid);
                    printf("  %s│ %s%s\n", cli_dim(c), lab, cli_reset(c));
                }
            }
            printf("%s%lld hop%s%s\n", cli_dim(c),
                   (long long)json_integer_value(json_object_get(d, "length")),
                   json_integer_value(json_object_get(d, "length")) == 1 ? "" : "s", cli_reset(c));
        }
        if (!found && rc == CLI_EXIT_OK)
            rc = CLI_EXIT_NOT_FOUND;
    }
    json_decref(out);
    fg_buf_free(&b);
    return rc;
}

static void contradiction_rows(struct cli_table *t, json_t *arr)
{
    size_t i;
    json_t *ed;
    json_array_foreach(arr, i, ed)
    {
        char s[128], tg[128];
        json_t *so = json_object_get(ed, "source"), *to = json_object_get(ed, "target");
        snprintf(s, sizeof s, "%s (%s)", str(ed, "source_id"), str(so, "type"));
        snprintf(tg, sizeof tg, "%s (%s)", str(ed, "target_id"), str(to, "type"));
        const char *cells[] = {str(ed, "id"), s, tg, str(ed, "created_at"), str(ed, "note")};
        cli_table_add(t, cells);
    }
}

int cli_graph_contradictions(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    static const char *const h[] = {"EDGE", "SOURCE", "CONTRADICTS", "CREATED", "NOTE"};
    return cli_list_pages(c, a, "/api/v1/graph/contradictions", contradiction_rows, 5, h,
                          "contradictions");
}
