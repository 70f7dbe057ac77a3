/*
 * HTTP for the `forge` client: one libcurl easy handle per thread (keep-alive), TLS verification
 * always on (--cacert adds a CA bundle), connect/total timeouts, bounded retries of 429/503
 * honouring Retry-After, and a transparent refresh of the access token on 401.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/client.h"
#include "util/buf.h"
#include "util/mem.h"

#define CLI_RESPONSE_MAX      (64u << 20) /* largest response body accepted */
#define CLI_RETRY_WAIT_MAX_S  60          /* one Retry-After wait is capped at this */
#define CLI_RETRY_TOTAL_MAX_S 300         /* all waits of one request together */
#define CLI_CONNECT_TIMEOUT_S 10
#define CLI_USER_AGENT        "forge-cli/" FORGE_VERSION

struct resp {
    struct fg_buf body;
    long retry_after; /* -1 = absent */
    int too_big;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    if (fg_buf_append(&r->body, p, sz * n) != FG_OK) {
        r->too_big = 1;
        return 0;
    }
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t len = sz * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char tmp[32];
        size_t vl = len - (sizeof name - 1);
        if (vl >= sizeof tmp)
            vl = sizeof tmp - 1;
        memcpy(tmp, p + sizeof name - 1, vl);
        tmp[vl] = 0;
        char *end;
        long v = strtol(tmp, &end, 10);
        if (end != tmp && v >= 0)
            r->retry_after = v;
    }
    return len;
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void cli_ctx_init_http(struct cli_ctx *c)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    c->curl = curl_easy_init();
    if (!c->curl) {
        fprintf(stderr, "forge: cannot initialise libcurl\n");
        abort();
    }
}

void cli_ctx_free_http(struct cli_ctx *c)
{
    if (c->curl)
        curl_easy_cleanup(c->curl);
    c->curl = NULL;
}

int cli_exit_for_status(long status)
{
    if (status >= 200 && status < 300)
        return CLI_EXIT_OK;
    if (status == 401)
        return CLI_EXIT_AUTH;
    if (status == 404)
        return CLI_EXIT_NOT_FOUND;
    if (status == 403 || status == 409)
        return CLI_EXIT_REFUSED;
    if (status == 400 || status == 413 || status == 422 || status == 405)
        return CLI_EXIT_USAGE;
    return CLI_EXIT_SERVER;
}

char *cli_urlencode(const char *s)
{
    struct fg_buf b;
    fg_buf_init(&b, 1u << 20);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~')
            fg_buf_append(&b, p, 1);
        else
            fg_buf_printf(&b, "%%%02X", *p);
    }
    char *out = fg_buf_steal(&b, NULL);
    return out ? out : fg_xstrdup("");
}

void cli_print_error(struct cli_ctx *c, long status, json_t *err)
{
    if (c->json && err) {
        char *s = json_dumps(err, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(stderr, "%s\n", s ? s : "{}");
        free(s);
        return;
    }
    const char *msg = json_string_value(json_object_get(err, "message"));
    const char *code = json_string_value(json_object_get(err, "code"));
    json_t *details = json_object_get(err, "details");
    const char *field = json_string_value(json_object_get(details, "field"));
    const char *red = c->color_err ? "\033[31m" : "", *rst = c->color_err ? "\033[0m" : "";
    fprintf(stderr, "%sforge: error:%s %s", red, rst, msg ? msg : "request failed");
    if (status)
        fprintf(stderr, " (%ld%s%s)", status, code ? " " : "", code ? code : "");
    fprintf(stderr, "\n");
    if (field)
        fprintf(stderr, "  field: %s\n", field);
    const char *perm = json_string_value(json_object_get(details, "permission"));
    const char *rule = json_string_value(json_object_get(details, "rule"));
    if (perm)
        fprintf(stderr, "  permission: %s\n", perm);
    if (rule)
        fprintf(stderr, "  rule: %s\n", rule);
    json_t *lc = json_object_get(details, "live_children");
    if (lc && json_is_integer(lc))
        fprintf(stderr, "  live children: %lld (use --cascade to delete them too)\n",
                (long long)json_integer_value(lc));
}

static void sleep_s(long s)
{
    struct timespec ts = {.tv_sec = s, .tv_nsec = 0};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* One HTTP exchange. Returns the status (0 on a transport error, with errbuf filled). */
static long perform(struct cli_ctx *c, const char *method, const char *url, const char *body,
                    const char *token, struct resp *r, char *errbuf)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    fg_buf_reset(&r->body);
    r->retry_after = -1;
    r->too_big = 0;
    struct curl_slist *hdr = NULL;
    char auth[4200];
    hdr = curl_slist_append(hdr, "Accept: application/json");
    if (body)
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdr = curl_slist_append(hdr, auth);
    }
    hdr = curl_slist_append(hdr, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_USERAGENT, CLI_USER_AGENT);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CLI_CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (c->cacert)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
    errbuf[0] = 0;
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdr);
    memset(auth, 0, sizeof auth);
    if (rc != CURLE_OK) {
        if (r->too_big)
            snprintf(errbuf, CURL_ERROR_SIZE, "response larger than %u bytes", CLI_RESPONSE_MAX);
        else if (!errbuf[0])
            snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
        return 0;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static char *token_snapshot(struct cli_session *s, unsigned *gen, int *can_refresh)
{
    pthread_mutex_lock(&s->mu);
    char *t = s->access ? fg_xstrdup(s->access) : NULL;
    *gen = s->gen;
    *can_refresh = s->refresh != NULL && !s->token_env;
    pthread_mutex_unlock(&s->mu);
    return t;
}

int cli_call(struct cli_ctx *c, const char *method, const char *path, json_t *body, unsigned flags,
             json_t **out, long *status_out)
{
    struct cli_session *s = c->s;
    *out = NULL;
    if (status_out)
        *status_out = 0;
    char *url = fg_xmalloc(strlen(s->url) + strlen(path) + 1);
    memcpy(url, s->url, strlen(s->url));
    memcpy(url + strlen(s->url), path, strlen(path) + 1);
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct resp r;
    fg_buf_init(&r.body, CLI_RESPONSE_MAX);
    char errbuf[CURL_ERROR_SIZE];
    int refreshed = 0, attempt = 0, rc = CLI_EXIT_SERVER;
    long waited = 0, status = 0;
    for (;;) {
        unsigned gen = 0;
        int can_refresh = 0;
        char *tok = (flags & CLI_F_NOAUTH) ? NULL : token_snapshot(s, &gen, &can_refresh);
        status = perform(c, method, url, payload, tok, &r, errbuf);
        free(tok);
        if (status == 0) {
            if (!(flags & CLI_F_NOPRINT))
                fprintf(stderr, "forge: cannot reach %s: %s\n", s->url, errbuf);
            rc = CLI_EXIT_SERVER;
            goto out;
        }
        if (status == 401 && !(flags & CLI_F_NOAUTH) && !refreshed && can_refresh) {
            refreshed = 1;
            int e = cli_session_refresh(c, gen);
            if (e != CLI_EXIT_OK) {
                rc = e;
                goto out;
            }
            continue;
        }
        if ((status == 429 || status == 503) && attempt < c->retries) {
            long wait = r.retry_after >= 0 ? r.retry_after : (1L << (attempt < 5 ? attempt : 5));
            if (wait < 1)
                wait = 1;
            if (wait > CLI_RETRY_WAIT_MAX_S)
                wait = CLI_RETRY_WAIT_MAX_S;
            if (waited + wait <= CLI_RETRY_TOTAL_MAX_S) {
                attempt++;
                waited += wait;
                if (!c->quiet && !(flags & CLI_F_NOPRINT) && attempt == 1)
                    fprintf(stderr, "forge: server answered %ld; retrying in %ld s\n", status,
                            wait);
                sleep_s(wait);
                continue;
            }
        }
        break;
    }
    if (r.body.len && !(flags & CLI_F_RAW)) {
        json_error_t je;
        *out = json_loadb(r.body.p, r.body.len, 0, &je);
    }
    if (status >= 200 && status < 300) {
        rc = CLI_EXIT_OK;
        if (r.body.len && !*out && !(flags & CLI_F_RAW)) {
            fprintf(stderr, "forge: the server's answer is not JSON (%ld)\n", status);
            rc = CLI_EXIT_SERVER;
        }
        goto out;
    }
    rc = cli_exit_for_status(status);
    if (status == 401 && !(flags & CLI_F_NOAUTH) && !(flags & CLI_F_NOPRINT)) {
        if (s->token_env)
            fprintf(stderr, "forge: the token in FORGE_TOKEN was refused (%s)\n",
                    json_string_value(json_object_get(*out, "message"))
                        ? json_string_value(json_object_get(*out, "message"))
                        : "401");
        else
            fprintf(stderr,
                    "forge: your session has expired or was revoked; log in again with "
                    "`forge login%s%s`\n",
                    strcmp(s->profile, "default") ? " --profile " : "",
                    strcmp(s->profile, "default") ? s->profile : "");
    } else if (!(flags & CLI_F_NOPRINT)) {
        if (*out && json_is_object(*out) && json_object_get(*out, "message"))
            cli_print_error(c, status, *out);
        else
            fprintf(stderr, "forge: error: the server answered %ld\n", status);
    }
out:
    if (status_out)
        *status_out = status;
    if (flags & CLI_F_RAW && r.body.len) {
        /* RAW callers get the text wrapped as a JSON string */
        json_decref(*out);
        *out = json_stringn_nocheck(r.body.p, r.body.len);
    }
    fg_buf_free(&r.body);
    free(payload);
    free(url);
    return rc;
}
