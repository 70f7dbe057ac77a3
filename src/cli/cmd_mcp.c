/*
 * `forge mcp` (docs/mcp.md): a Model Context Protocol server over stdio. Reads newline-delimited
 * JSON-RPC messages from stdin and writes one reply line per request to stdout; everything else
 * (start-up line, errors) goes to stderr. It is a client of a Forge server: every tool call is an
 * HTTP API call with the profile's credentials (or FORGE_URL + FORGE_TOKEN), refreshed as every
 * other command does, so auth, trust and rate limits apply.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "mcp/mcp.h"
#include "util/buf.h"

#define MCP_STDIO_CHUNK 65536

static long stdio_api(void *ud, const char *method, const char *path, json_t *body, json_t **out)
{
    struct cli_ctx *c = ud;
    long status = 0;
    cli_call(c, method, path, body, CLI_F_NOPRINT, out, &status);
    if (status == 0 && !*out) {
        char msg[600];
        snprintf(msg, sizeof msg, "cannot reach the Forge server at %.500s", c->s->url);
        *out = json_pack("{ssss}", "code", "unreachable", "message", msg);
    } else if (status == 401 && !*out) {
        *out = json_pack("{ssss}", "code", "unauthorized", "message",
                         "the session has expired or was revoked and could not be refreshed");
    }
    return status;
}

static int write_reply(json_t *r)
{
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    if (!s)
        return -1;
    int ok = fputs(s, stdout) >= 0 && fputc('\n', stdout) != EOF && fflush(stdout) == 0;
    free(s);
    return ok ? 0 : -1;
}

int cli_mcp(struct cli_ctx *c, struct cli_args *a)
{
    if (cli_need_login(c) != CLI_EXIT_OK)
        return CLI_EXIT_AUTH;
    if (!a->v[O_RETRIES])
        c->retries = 1; /* an agent waits on each call: one short retry of 429/503, not minutes */
    signal(SIGPIPE, SIG_IGN);
    struct mcp_conn conn;
    mcp_conn_init(&conn, stdio_api, c);
    fprintf(stderr, "forge mcp: serving MCP over stdio for %s%s%s\n", c->s->url,
            c->s->email ? " as " : "", c->s->email ? c->s->email : "");
    struct fg_buf line;
    fg_buf_init(&line, MCP_MAX_MESSAGE_BYTES);
    char *chunk = malloc(MCP_STDIO_CHUNK);
    int rc = CLI_EXIT_OK, too_big = 0;
    if (!chunk) {
        fg_buf_free(&line);
        return CLI_EXIT_SERVER;
    }
    while (fgets(chunk, MCP_STDIO_CHUNK, stdin)) {
        size_t n = strlen(chunk);
        int eol = n > 0 && chunk[n - 1] == '\n';
        if (eol)
            n--;
        if (!too_big && fg_buf_append(&line, chunk, n) != FG_OK)
            too_big = 1;
        if (!eol && !feof(stdin))
            continue;
        json_t *r = NULL;
        if (too_big) {
            r = mcp_error_new(NULL, MCP_E_INVALID_REQUEST, "Invalid Request: message too large",
                              json_pack("{sI}", "limit_bytes", (json_int_t)MCP_MAX_MESSAGE_BYTES));
            fprintf(stderr, "forge mcp: message over %u bytes refused\n", MCP_MAX_MESSAGE_BYTES);
        } else {
            size_t len = line.len;
            while (len && (line.p[len - 1] == '\r' || line.p[len - 1] == ' '))
                len--;
            if (len)
                r = mcp_handle_text(&conn, line.p, len);
        }
        fg_buf_reset(&line);
        too_big = 0;
        if (r && write_reply(r) != 0) {
            fprintf(stderr, "forge mcp: cannot write to stdout; stopping\n");
            rc = CLI_EXIT_SERVER;
            break;
        }
    }
    free(chunk);
    fg_buf_free(&line);
    return rc;
}
