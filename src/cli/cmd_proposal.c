/* `forge proposal list|show|create|activate|vote|cancel` (governance, docs/governance.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "util/buf.h"
#include "util/mem.h"

#define PROPOSAL_WATCH_S 2

static char *proposal_path(const char *id, const char *suffix)
{
    char *e = cli_urlencode(id);
    size_t n = strlen(e) + strlen(suffix) + 48;
    char *p = fg_xmalloc(n);
    snprintf(p, n, "/api/v1/governance/proposals/%s%s", e, suffix);
    free(e);
    return p;
}

static void pct(char *out, size_t n, json_t *v)
{
    if (json_is_number(v))
        snprintf(out, n, "%.1f%%", json_number_value(v) * 100.0);
    else
        snprintf(out, n, "-");
}

static void proposal_rows(struct cli_table *t, json_t *arr)
{
    size_t i;
    json_t *p;
    json_array_foreach(arr, i, p)
    {
        char part[32], appr[32];
        pct(part, sizeof part, json_object_get(p, "participation"));
        pct(appr, sizeof appr, json_object_get(p, "approval"));
        const char *cells[] = {json_string_value(json_object_get(p, "id")),
                               json_string_value(json_object_get(p, "status")),
                               json_string_value(json_object_get(p, "type")),
                               part,
                               appr,
                               json_string_value(json_object_get(p, "voting_ends_at")),
                               json_string_value(json_object_get(p, "title"))};
        cli_table_add(t, cells);
    }
}

static void print_proposal(struct cli_ctx *c, json_t *p)
{
    static const char *const keys[] = {
        "id",          "title",        "type",         "status",           "result",
        "proposer_id", "created_at",   "activated_at", "voting_ends_at",   "closed_at",
        "executed_at", "cancelled_at", "payload",      "execution_result", NULL};
    json_t *v = json_deep_copy(p);
    const char *k;
    json_t *x;
    void *tmp;
    json_object_foreach_safe(v, tmp, k, x)
    {
        if (json_is_null(x))
            json_object_del(v, k);
    }
    cli_print_fields(c, v, keys);
    json_decref(v);
    char part[32], appr[32], quorum[32], thr[32];
    pct(part, sizeof part, json_object_get(p, "participation"));
    pct(appr, sizeof appr, json_object_get(p, "approval"));
    pct(quorum, sizeof quorum, json_object_get(p, "quorum"));
    pct(thr, sizeof thr, json_object_get(p, "approval_threshold"));
    int qr = json_is_true(json_object_get(p, "quorum_reached"));
    int tr = json_is_true(json_object_get(p, "threshold_reached"));
    printf("\n%sTally%s (%s)\n", cli_bold(c), cli_reset(c),
           strcmp(json_string_value(json_object_get(p, "status")) ?: "", "active") == 0 ? "so far"
                                                                                        : "final");
    printf("  for %g   against %g   abstain %g   (%lld voter%s, weights)\n",
           json_number_value(json_object_get(p, "votes_for")),
           json_number_value(json_object_get(p, "votes_against")),
           json_number_value(json_object_get(p, "votes_abstain")),
           (long long)json_integer_value(json_object_get(p, "votes_cast")),
           json_integer_value(json_object_get(p, "votes_cast")) == 1 ? "" : "s");
    printf("  participation %s of %g eligible (quorum %s) %s%s%s\n", part,
           json_number_value(json_object_get(p, "eligible_weight")), quorum,
           qr ? cli_green(c) : cli_yellow(c), qr ? "reached" : "not reached", cli_reset(c));
    printf("  approval %s (threshold %s) %s%s%s\n", appr, thr, tr ? cli_green(c) : cli_yellow(c),
           tr ? "reached" : "not reached", cli_reset(c));
    const char *desc = json_string_value(json_object_get(p, "description"));
    if (desc)
        printf("\n%s\n", desc);
}

int cli_proposal_list(struct cli_ctx *c, struct cli_args *a)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    struct fg_buf b;
    fg_buf_init(&b, 1u << 16);
    fg_buf_puts(&b, "/api/v1/governance/proposals");
    char sep = '?';
    if (a->v[O_STATUS]) {
        char *e = cli_urlencode(a->v[O_STATUS]);
        fg_buf_printf(&b, "%cstatus=%s", sep, e);
        sep = '&';
        free(e);
    }
    if (a->v[O_TYPE]) {
        char *e = cli_urlencode(a->v[O_TYPE]);
        fg_buf_printf(&b, "%ctype=%s", sep, e);
        free(e);
    }
    static const char *const h[] = {"ID",       "STATUS",      "TYPE", "PARTICIPATION",
                                    "APPROVAL", "VOTING ENDS", "TITLE"};
    rc = cli_list_pages(c, a, b.p, proposal_rows, 7, h, "proposals");
    fg_buf_free(&b);
    return rc;
}

/* POST/GET one proposal and print it. */
static int one(struct cli_ctx *c, const char *method, const char *id, const char *suffix,
               json_t *body, const char *done)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    char *path = proposal_path(id, suffix);
    json_t *out = NULL;
    rc = cli_call(c, method, path, body, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        if (c->json)
            cli_print_json(out);
        else if (c->quiet)
            printf("%s\n", json_string_value(json_object_get(d, "id")) ?: id);
        else {
            if (done)
                printf("%s\n\n", done);
            print_proposal(c, json_object_get(d, "proposal") ?: d);
        }
    }
    json_decref(out);
    free(path);
    return rc;
}

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* --watch: poll the proposal; redraw on a terminal, else print when the tally changes. */
static int watch(struct cli_ctx *c, const char *id)
{
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    char *path = proposal_path(id, "");
    int tty = isatty(1);
    char *last = NULL;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, &old);
    g_stop = 0;
    while (!g_stop) {
        json_t *out = NULL;
        rc = cli_call(c, "GET", path, NULL, 0, &out, NULL);
        if (rc) {
            json_decref(out);
            break;
        }
        json_t *p = json_object_get(out, "data");
        json_t *tally = json_pack("{sO?sO?sO?sO?sO?}", "status", json_object_get(p, "status"),
                                  "for", json_object_get(p, "votes_for"), "against",
                                  json_object_get(p, "votes_against"), "abstain",
                                  json_object_get(p, "votes_abstain"), "cast",
                                  json_object_get(p, "votes_cast"));
        char *key = json_dumps(tally, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(tally);
        if (tty || !last || strcmp(last, key) != 0) {
            if (c->json) {
                char *s = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
                printf("%s\n", s ? s : "{}");
                free(s);
            } else {
                if (tty)
                    printf("\033[H\033[2J");
                else if (last)
                    printf("\n");
                print_proposal(c, p);
                if (tty)
                    printf("\n%swatching: refreshed every %d s, Ctrl-C stops%s\n", cli_dim(c),
                           PROPOSAL_WATCH_S, cli_reset(c));
            }
            fflush(stdout);
        }
        free(last);
        last = key;
        const char *st = json_string_value(json_object_get(p, "status"));
        int open = st && (strcmp(st, "active") == 0 || strcmp(st, "draft") == 0);
        json_decref(out);
        if (!open)
            break;
        for (int i = 0; i < PROPOSAL_WATCH_S * 10 && !g_stop; i++) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    sigaction(SIGINT, &old, NULL);
    free(last);
    free(path);
    return rc;
}

int cli_proposal_show(struct cli_ctx *c, struct cli_args *a)
{
    if (a->v[O_WATCH])
        return watch(c, a->pos[0]);
    return one(c, "GET", a->pos[0], "", NULL, NULL);
}

int cli_proposal_activate(struct cli_ctx *c, struct cli_args *a)
{
    return one(c, "POST", a->pos[0], "/activate", NULL, "Proposal activated: voting is open.");
}

int cli_proposal_cancel(struct cli_ctx *c, struct cli_args *a)
{
    return one(c, "POST", a->pos[0], "/cancel", NULL, "Proposal cancelled.");
}

int cli_proposal_vote(struct cli_ctx *c, struct cli_args *a)
{
    const char *v = a->pos[1];
    if (strcmp(v, "for") != 0 && strcmp(v, "against") != 0 && strcmp(v, "abstain") != 0) {
        fprintf(stderr, "forge proposal vote: the vote is for, against or abstain (got '%s')\n", v);
        return CLI_EXIT_USAGE;
    }
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    json_t *body = json_pack("{ss}", "vote", v);
    if (a->v[O_REASONING])
        json_object_set_new(body, "reasoning", json_string(a->v[O_REASONING]));
    char *path = proposal_path(a->pos[0], "/votes");
    json_t *out = NULL;
    rc = cli_call(c, "POST", path, body, 0, &out, NULL);
    free(path);
    json_decref(body);
    if (rc == CLI_EXIT_OK) {
        if (c->json) {
            cli_print_json(out);
        } else if (c->quiet) {
            printf("%s\n", a->pos[0]);
        } else {
            printf("Voted %s%s%s on %s.\n\n", cli_bold(c), v, cli_reset(c), a->pos[0]);
            json_decref(out);
            out = NULL;
            /* the tally after the vote, read back */
            return one(c, "GET", a->pos[0], "", NULL, NULL);
        }
    }
    json_decref(out);
    return rc;
}

int cli_proposal_create(struct cli_ctx *c, struct cli_args *a)
{
    if (!a->v[O_TITLE] || !a->v[O_TYPE]) {
        fprintf(stderr, "forge proposal create: --title and --type are required\n");
        return CLI_EXIT_USAGE;
    }
    int rc = cli_need_login(c);
    if (rc)
        return rc;
    json_t *body = json_pack("{ssss}", "title", a->v[O_TITLE], "type", a->v[O_TYPE]);
    char *desc = NULL;
    if (a->v[O_DESCRIPTION]) {
        desc = fg_xstrdup(a->v[O_DESCRIPTION]);
    } else {
        desc = cli_edit_text(NULL, "Describe the proposal above.");
        if (!desc || !*desc) {
            fprintf(stderr, "Aborting: empty description.\n");
            rc = CLI_EXIT_USAGE;
            goto out;
        }
    }
    json_object_set_new(body, "description", json_string(desc));
    if (a->v[O_PAYLOAD]) {
        json_error_t je;
        json_t *p = json_loads(a->v[O_PAYLOAD], JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(p)) {
            fprintf(stderr, "forge proposal create: --payload must be a JSON object (%s)\n",
                    p ? "not an object" : je.text);
            json_decref(p);
            rc = CLI_EXIT_USAGE;
            goto out;
        }
        json_object_set_new(body, "payload", p);
    }
    static const struct {
        int key;
        const char *field;
    } nums[] = {{O_HOURS, "voting_duration_hours"},
                {O_QUORUM, "quorum"},
                {O_THRESHOLD, "approval_threshold"}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        const char *s = a->v[nums[i].key];
        if (!s)
            continue;
        char *end;
        double x = strtod(s, &end);
        if (end == s || *end) {
            fprintf(stderr, "forge proposal create: --%s must be a number\n",
                    nums[i].key == O_HOURS    ? "hours"
                    : nums[i].key == O_QUORUM ? "quorum"
                                              : "threshold");
            rc = CLI_EXIT_USAGE;
            goto out;
        }
        json_object_set_new(body, nums[i].field, json_real(x));
    }
    json_t *out = NULL;
    rc = cli_call(c, "POST", "/api/v1/governance/proposals", body, 0, &out, NULL);
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_object_get(out, "data");
        if (c->json)
            cli_print_json(out);
        else if (c->quiet)
            printf("%s\n", json_string_value(json_object_get(d, "id")));
        else
            printf("Created draft proposal %s%s%s; open it for voting with `forge proposal "
                   "activate %s`.\n",
                   cli_bold(c), json_string_value(json_object_get(d, "id")), cli_reset(c),
                   json_string_value(json_object_get(d, "id")));
    }
    json_decref(out);
out:
    free(desc);
    json_decref(body);
    return rc;
}
