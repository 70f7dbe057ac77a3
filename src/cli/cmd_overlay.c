/*
 * `forge overlay list|show|versions|register|activate|suspend|deprecate|quarantine|release|
 * invoke|invocations` (docs/overlays.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "util/buf.h"
#include "util/mem.h"

#define OVERLAY_SOURCE_MAX   (256u * 1024u)
#define OVERLAY_MANIFEST_MAX (64u * 1024u)
#define OVERLAY_INPUT_MAX    (1u << 20)

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static char *ov_path(const char *id, const char *suffix)
{
    char *e = cli_urlencode(id);
    size_t n = strlen(e) + strlen(suffix) + 32;
    char *p = fg_xmalloc(n);
    snprintf(p, n, "/api/v1/overlays/%s%s", e, suffix);
    free(e);
    return p;
}

static void overlay_rows(struct cli_table *t, json_t *arr)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        json_t *st = json_object_get(o, "stats");
        char inv[32], fail[32], mean[32], rate[32];
        snprintf(inv, sizeof inv, "%lld",
                 (long long)json_integer_value(json_object_get(st, "invocations")));
        snprintf(fail, sizeof fail, "%lld",
                 (long long)json_integer_value(json_object_get(st, "failures")));
        snprintf(rate, sizeof rate, "%.0f%%",
                 100.0 * json_number_value(json_object_get(st, "failure_rate")));
        snprintf(mean, sizeof mean, "%.1f", json_number_value(json_object_get(st, "mean_ms")));
        const char *cells[] = {
            str(o, "id"), str(o, "name"), str(o, "version"),    str(o, "status"), inv, fail,
            rate,         mean,           str(o, "trust_level")};
        cli_table_add(t, cells);
    }
}

static const char *const g_ov_headers[] = {"ID",       "NAME",      "VERSION", "STATUS", "CALLS",
                                           "FAILURES", "FAIL RATE", "MEAN MS", "TRUST"};

int cli_overlay_list(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    struct fg_buf b;
    fg_buf_init(&b, 4096);
    fg_buf_puts(&b, "/api/v1/overlays");
    const char *q[][2] = {{"name", a->v[O_NAME]}, {"status", a->v[O_OV_STATUS]}};
    for (size_t i = 0; i < 2; i++)
        if (q[i][1]) {
            char *e = cli_urlencode(q[i][1]);
            fg_buf_printf(&b, "%c%s=%s", strchr(b.p, '?') ? '&' : '?', q[i][0], e);
            free(e);
        }
    rc = cli_list_pages(c, a, b.p, overlay_rows, 9, g_ov_headers, "overlays");
    fg_buf_free(&b);
    return rc;
}

int cli_overlay_versions(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    if (cli_bad_id(c, a->pos[0], "an overlay"))
        return CLI_EXIT_USAGE;
    char *p = ov_path(a->pos[0], "/versions");
    rc = cli_list_pages(c, a, p, overlay_rows, 9, g_ov_headers, "versions");
    free(p);
    return rc;
}

static void print_overlay(struct cli_ctx *c, json_t *o)
{
    static const char *const keys[] = {"id",          "name",     "version", "status",
                                       "trust_level", "owner_id", "sha256",  "created_at",
                                       "updated_at",  NULL};
    cli_print_fields(c, o, keys);
    json_t *st = json_object_get(o, "stats");
    printf("%sstats%s        %lld calls, %lld failures (%.0f%%), mean %.1f ms; window %lld/%lld "
           "failed\n",
           cli_bold(c), cli_reset(c),
           (long long)json_integer_value(json_object_get(st, "invocations")),
           (long long)json_integer_value(json_object_get(st, "failures")),
           100.0 * json_number_value(json_object_get(st, "failure_rate")),
           json_number_value(json_object_get(st, "mean_ms")),
           (long long)json_integer_value(json_object_get(st, "window_failures")),
           (long long)json_integer_value(json_object_get(st, "window_invocations")));
    const char *le = json_string_value(json_object_get(st, "last_error"));
    if (le)
        printf("%slast error%s   %s\n", cli_bold(c), cli_reset(c), le);
    printf("\n%smanifest%s\n", cli_bold(c), cli_reset(c));
    cli_print_json(json_object_get(o, "manifest"));
    const char *src = json_string_value(json_object_get(o, "source"));
    if (src) {
        printf("\n%ssource%s\n%s", cli_bold(c), cli_reset(c), src);
        if (*src && src[strlen(src) - 1] != '\n')
            printf("\n");
    }
}

static int show_one(struct cli_ctx *c, json_t *out, const char *verb)
{
    json_t *d = json_object_get(out, "data");
    if (c->json)
        cli_print_json(out);
    else if (c->quiet)
        printf("%s\n", str(d, "id"));
    else if (verb)
        printf("%s overlay %s%s %s%s (%s): status %s\n", verb, cli_bold(c), str(d, "name"),
               str(d, "version"), cli_reset(c), str(d, "id"), str(d, "status"));
    else
        print_overlay(c, d);
    return CLI_EXIT_OK;
}

int cli_overlay_show(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    if (cli_bad_id(c, a->pos[0], "an overlay"))
        return CLI_EXIT_USAGE;
    char *p = ov_path(a->pos[0], "");
    json_t *out = NULL;
    rc = cli_call(c, "GET", p, NULL, 0, &out, NULL);
    if (rc == CLI_EXIT_OK)
        show_one(c, out, NULL);
    json_decref(out);
    free(p);
    return rc;
}

int cli_overlay_register(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    size_t len;
    int too_big = 0;
    char *mtext = cli_read_file(a->pos[0], OVERLAY_MANIFEST_MAX, &len, &too_big);
    if (!mtext) {
        fprintf(stderr, "forge overlay register: cannot read %s%s\n", a->pos[0],
                too_big ? " (larger than 64 KiB)" : "");
        return CLI_EXIT_USAGE;
    }
    json_error_t je;
    json_t *manifest = json_loads(mtext, JSON_REJECT_DUPLICATES, &je);
    free(mtext);
    if (!json_is_object(manifest)) {
        fprintf(stderr, "forge overlay register: %s is not a JSON object (%s, line %d)\n",
                a->pos[0], manifest ? "not an object" : je.text, je.line);
        json_decref(manifest);
        return CLI_EXIT_USAGE;
    }
    too_big = 0;
    char *src = cli_read_file(a->pos[1], OVERLAY_SOURCE_MAX, &len, &too_big);
    if (!src) {
        fprintf(stderr, "forge overlay register: cannot read %s%s\n", a->pos[1],
                too_big ? " (larger than the server's 256 KiB limit)" : "");
        json_decref(manifest);
        return CLI_EXIT_USAGE;
    }
    json_t *body = json_object(), *out = NULL;
    json_object_set_new(body, "manifest", manifest);
    json_object_set_new(body, "source", json_stringn(src, len));
    free(src);
    if (!json_object_get(body, "source")) {
        fprintf(stderr, "forge overlay register: %s is not valid UTF-8 text\n", a->pos[1]);
        json_decref(body);
        return CLI_EXIT_USAGE;
    }
    rc = cli_call(c, "POST", "/api/v1/overlays", body, 0, &out, NULL);
    if (rc == CLI_EXIT_OK)
        show_one(c, out, "Registered");
    json_decref(out);
    json_decref(body);
    return rc;
}

/* activate|suspend|deprecate (overlay routes) and quarantine|release (immune routes). */
int cli_overlay_transition(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    const char *action = strchr(c->cmd, ' ') + 1, *id = a->pos[0];
    if (cli_bad_id(c, id, "an overlay"))
        return CLI_EXIT_USAGE;
    int immune = strcmp(action, "quarantine") == 0 || strcmp(action, "release") == 0;
    json_t *body = NULL, *out = NULL;
    char *p;
    if (immune) {
        if (!a->v[O_WHY]) {
            fprintf(stderr, "forge %s: --reason is required\n", c->cmd);
            return CLI_EXIT_USAGE;
        }
        body =
            json_pack("{ssssss}", "target_type", "overlay", "target_id", id, "reason", a->v[O_WHY]);
        size_t n = strlen(action) + 32;
        p = fg_xmalloc(n);
        snprintf(p, n, "/api/v1/immune/%s", action);
    } else {
        if (a->v[O_WHY])
            body = json_pack("{ss}", "reason", a->v[O_WHY]);
        char suffix[32];
        snprintf(suffix, sizeof suffix, "/%s", action);
        p = ov_path(id, suffix);
    }
    rc = cli_call(c, "POST", p, body, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        if (c->json)
            cli_print_json(out);
        else if (c->quiet)
            printf("%s\n", id);
        else
            printf("Overlay %s: status %s%s%s\n", id, cli_bold(c),
                   *str(d, "status") ? str(d, "status") : action, cli_reset(c));
    }
    json_decref(out);
    json_decref(body);
    free(p);
    return rc;
}

int cli_overlay_invoke(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    if (cli_bad_id(c, a->pos[0], "an overlay"))
        return CLI_EXIT_USAGE;
    if (a->v[O_INPUT] && a->v[O_FILE]) {
        fprintf(stderr, "forge overlay invoke: give the input either with --input or --file\n");
        return CLI_EXIT_USAGE;
    }
    json_t *input = json_null();
    const char *what = "--input";
    char *text = NULL;
    if (a->v[O_FILE]) {
        size_t len;
        int too_big = 0;
        what = a->v[O_FILE];
        text = strcmp(what, "-") == 0 ? cli_read_stream(stdin, OVERLAY_INPUT_MAX, &len, &too_big)
                                      : cli_read_file(what, OVERLAY_INPUT_MAX, &len, &too_big);
        if (!text) {
            fprintf(stderr, "forge overlay invoke: cannot read %s%s\n", what,
                    too_big ? " (larger than 1 MiB)" : "");
            return CLI_EXIT_USAGE;
        }
    }
    const char *src = text ? text : a->v[O_INPUT];
    if (src) {
        json_error_t je;
        input = json_loads(src, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
        free(text);
        if (!input) {
            fprintf(stderr, "forge overlay invoke: %s is not JSON (%s)\n", what, je.text);
            return CLI_EXIT_USAGE;
        }
    }
    json_t *body = json_pack("{sssO}", "function", a->v[O_FUNCTION] ? a->v[O_FUNCTION] : "process",
                             "input", input),
           *out = NULL;
    json_decref(input);
    char *p = ov_path(a->pos[0], "/invoke");
    rc = cli_call(c, "POST", p, body, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        int ok = json_is_true(json_object_get(d, "success"));
        json_t *err = json_object_get(d, "error");
        if (c->json) {
            cli_print_json(out);
        } else if (c->quiet) {
            char *s = json_dumps(json_object_get(d, "result"), JSON_COMPACT | JSON_ENCODE_ANY);
            printf("%s\n", s ? s : "null");
            free(s);
        } else {
            if (ok) {
                printf("%ssuccess%s\n", cli_green(c), cli_reset(c));
                cli_print_json(json_object_get(d, "result"));
            } else {
                printf("%sfailed: %s%s: %s\n", cli_red(c), str(err, "kind"), cli_reset(c),
                       str(err, "message"));
            }
            printf("%s%.1f ms, fuel %lld, memory peak %lld bytes%s\n", cli_dim(c),
                   json_number_value(json_object_get(d, "execution_time_ms")),
                   (long long)json_integer_value(json_object_get(d, "fuel_consumed")),
                   (long long)json_integer_value(json_object_get(d, "memory_peak_bytes")),
                   cli_reset(c));
            size_t i;
            json_t *l;
            json_array_foreach(json_object_get(d, "logs"), i, l)
            {
                printf("%slog:%s %s\n", cli_dim(c), cli_reset(c), json_string_value(l));
            }
        }
        if (!ok) {
            if (c->json || c->quiet)
                fprintf(stderr, "forge overlay invoke: %s: %s\n", str(err, "kind"),
                        str(err, "message"));
            rc = CLI_EXIT_REFUSED;
        }
    }
    json_decref(out);
    json_decref(body);
    free(p);
    return rc;
}

static void invocation_rows(struct cli_table *t, json_t *arr)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        char att[16], ms[32];
        snprintf(att, sizeof att, "%lld",
                 (long long)json_integer_value(json_object_get(v, "attempt")));
        snprintf(ms, sizeof ms, "%.1f", json_number_value(json_object_get(v, "elapsed_ms")));
        const char *cells[] = {
            str(v, "created_at"), str(v, "event_type"), att, str(v, "outcome"), ms,
            str(v, "error")};
        cli_table_add(t, cells);
    }
}

int cli_overlay_invocations(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    if (cli_bad_id(c, a->pos[0], "an overlay"))
        return CLI_EXIT_USAGE;
    char *p = ov_path(a->pos[0], "/invocations");
    static const char *const h[] = {"WHEN", "EVENT", "ATTEMPT", "OUTCOME", "MS", "ERROR"};
    rc = cli_list_pages(c, a, p, invocation_rows, 6, h, "invocations");
    free(p);
    return rc;
}
