/*
 * Fuzz target `http` (src/http/, src/api/): whole requests through a real in-process server.
 * LLVMFuzzerInitialize starts the application as `forge serve` does (configuration, SQLite store
 * in a private temporary directory, migrations, bootstrap admin, indexes, the libmicrohttpd
 * server on 127.0.0.1) and signs the bootstrap admin in once. Each input is the raw bytes of one
 * HTTP request (request line, headers, body) sent on a fresh loopback connection; every
 * "@TOKEN@" in it is replaced by the admin's access token so authenticated routes are reached.
 * The response is read to the end.
 * Invariants: the server answers with an HTTP status line (or closes a request it refuses at
 * the transport level); a JSON error answer has the documented {"code","message","details"}
 * form; no answer is a 500 (an internal error on client input is a bug; 503 is allowed).
 * Server-side memory errors are caught by ASan/UBSan in the server threads.
 * State accumulates over a run (created capsules, users, blocks): coverage, not determinism.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <jansson.h>

#include "app/app.h"
#include "fuzz_common.h"
#include "http/server.h"
#include "util/config.h"
#include "util/log.h"

static struct fg_config cfg;
static struct fg_app app;
static struct http_server *srv;
static unsigned port;
static char token[2048];
static int started;

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

/* 1 when buf[0..n) holds a whole answer: headers, then Content-Length bytes or the last chunk
 * (the server may keep an HTTP/1.1 connection open after it). */
static int complete(const char *buf, size_t n, int head_only)
{
    const char *end = strstr(buf, "\r\n\r\n");
    if (!end)
        return 0;
    size_t head = (size_t)(end + 4 - buf);
    if (head_only || (n > 12 && (buf[9] == '1' || strncmp(buf + 9, "204", 3) == 0 ||
                                 strncmp(buf + 9, "304", 3) == 0)))
        return 1;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl && cl < end)
        return n - head >= (size_t)strtoull(cl + 17, NULL, 10);
    const char *te = strcasestr(buf, "\r\nTransfer-Encoding: chunked");
    if (te && te < end)
        return n >= head + 5 && memcmp(buf + n - 5, "0\r\n\r\n", 5) == 0;
    return 0;
}

/* Sends req and reads the whole answer into a malloc'd buffer (*n bytes); NULL when the
 * connection fails. */
static char *roundtrip(const char *req, size_t len, size_t *n)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_ASSERT(fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return NULL;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may close early (413, 400): read what it said */
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    size_t cap = 65536;
    char *buf = malloc(cap + 1);
    FUZZ_ASSERT(buf);
    *n = 0;
    for (;;) {
        if (*n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            FUZZ_ASSERT(buf);
        }
        ssize_t r = recv(fd, buf + *n, cap - *n, 0);
        if (r <= 0)
            break;
        *n += (size_t)r;
        buf[*n] = '\0';
        if (complete(buf, *n, len >= 4 && memcmp(req, "HEAD", 4) == 0))
            break;
    }
    buf[*n] = '\0';
    close(fd);
    return buf;
}

static void login(void)
{
    char body[256], req[512];
    int bn = snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", cfg.admin_email,
                      cfg.admin_password);
    int rn = snprintf(req, sizeof req,
                      "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      "application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                      bn, body);
    size_t n = 0;
    char *resp = roundtrip(req, (size_t)rn, &n);
    const char *b = resp ? strstr(resp, "\r\n\r\n") : NULL;
    json_t *j = b ? json_loads(b + 4, 0, NULL) : NULL;
    const char *t = json_string_value(json_object_get(json_object_get(j, "data"), "access_token"));
    if (!t) {
        fprintf(stderr, "fuzz_http: login failed: %s\n", resp ? resp : "(no answer)");
        abort();
    }
    snprintf(token, sizeof token, "%s", t);
    json_decref(j);
    free(resp);
}

static void stop(void)
{
    if (srv)
        http_server_stop(srv);
    fg_app_stop(&app);
    fg_config_free(&cfg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (started)
        return 0;
    started = 1;
    signal(SIGPIPE, SIG_IGN);
    char url[700], portbuf[16];
    snprintf(url, sizeof url, "sqlite:///%s/forge.db", fuzz_tmpdir());
    port = free_port();
    snprintf(portbuf, sizeof portbuf, "%u", port);
    setenv("DATABASE_URL", url, 1);
    setenv("HOST", "127.0.0.1", 1);
    setenv("PORT", portbuf, 1);
    setenv("FORGE_ENV_FILE", "/dev/null", 1);
    setenv("JWT_SECRET", "fuzz-secret-0123456789-0123456789-abcdef", 1);
    setenv("FORGE_ADMIN_EMAIL", "admin@forge.test", 1);
    setenv("FORGE_ADMIN_PASSWORD", "Adm1nPassw0rd!", 1);
    setenv("RATE_LIMIT_ENABLED", "false", 1);
    /* An input without the blank line that ends the headers would otherwise hold its connection
     * for the default 10 s header timeout. */
    setenv("HEADER_TIMEOUT_S", "1", 1);
    setenv("CONNECTION_TIMEOUT_S", "2", 1);
    setenv("LOG_LEVEL", getenv("FUZZ_HTTP_LOG_LEVEL") ? getenv("FUZZ_HTTP_LOG_LEVEL") : "error", 1);
    setenv("EMBEDDING_PROVIDER", "local", 1);
    char err[512];
    if (fg_config_load(&cfg, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_http: configuration: %s\n", err);
        abort();
    }
    fg_log_init((enum fg_log_level)cfg.log_level, 1);
    if (fg_app_start(&app, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_http: cannot start: %s\n", err);
        abort();
    }
    srv = http_server_start(&app, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "fuzz_http: cannot start the server: %s\n", err);
        abort();
    }
    atomic_store(&app.ready, 1);
    login();
    atexit(stop);
    return 0;
}

/* Replaces every @TOKEN@ by the access token. */
static char *substitute(const uint8_t *data, size_t size, size_t *out_len)
{
    static const char mark[] = "@TOKEN@";
    size_t ml = sizeof mark - 1, tl = strlen(token), count = 0;
    for (size_t i = 0; i + ml <= size; i++)
        if (memcmp(data + i, mark, ml) == 0)
            count++, i += ml - 1;
    char *out = malloc(size + count * tl + 1);
    FUZZ_ASSERT(out);
    size_t o = 0;
    for (size_t i = 0; i < size;) {
        if (i + ml <= size && memcmp(data + i, mark, ml) == 0) {
            memcpy(out + o, token, tl);
            o += tl;
            i += ml;
        } else {
            out[o++] = (char)data[i++];
        }
    }
    *out_len = o;
    return out;
}

static void check_answer(const char *resp, size_t n)
{
    if (n == 0)
        return; /* closed without an answer: a transport-level refusal */
    FUZZ_ASSERT(n >= 12 && memcmp(resp, "HTTP/1.", 7) == 0);
    int status = (int)strtol(resp + 9, NULL, 10);
    if (status == 500) {
        fprintf(stderr, "fuzz_http: 500 answer:\n%.2000s\n", resp);
        FUZZ_ASSERT(status != 500);
    }
    const char *b = strstr(resp, "\r\n\r\n");
    if (status < 400 || !b || !strstr(resp, "application/json"))
        return;
    json_t *j = json_loadb(b + 4, n - (size_t)(b + 4 - resp), 0, NULL);
    if (!j)
        return; /* cut short (HEAD, or the body limit) */
    FUZZ_ASSERT(json_is_string(json_object_get(j, "code")));
    FUZZ_ASSERT(json_is_string(json_object_get(j, "message")));
    FUZZ_ASSERT(json_is_object(json_object_get(j, "details")));
    json_decref(j);
}

/* An input may sign the admin out (POST /auth/logout with the token): every 256 inputs the
 * token is checked and, when refused, the admin signs in again. */
static void keep_token(void)
{
    static unsigned execs;
    if (++execs % 256)
        return;
    char req[2300];
    int n = snprintf(req, sizeof req,
                     "GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Connection: close\r\n\r\n",
                     token);
    size_t rn = 0;
    char *resp = roundtrip(req, (size_t)n, &rn);
    if (resp && rn > 12 && strncmp(resp + 9, "200", 3) != 0)
        login();
    free(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!started)
        LLVMFuzzerInitialize(NULL, NULL);
    keep_token();
    if (size == 0 || size > 256 * 1024)
        return 0;
    size_t len;
    char *req = substitute(data, size, &len);
    size_t n = 0;
    char *resp = roundtrip(req, len, &n);
    free(req);
    FUZZ_ASSERT(resp != NULL); /* the server must still accept connections */
    /* n == 0 also when the answer took longer than 5 s (an Argon2 login on a loaded machine):
     * not checked. */
    check_answer(resp, n);
    free(resp);
    return 0;
}
