/*
 * Model Context Protocol (MCP) core (issue 22, docs/mcp.md): a transport-independent JSON-RPC 2.0
 * server with Forge's tools, resources and prompts. It never touches the store: every tool runs
 * as one or more calls of Forge's HTTP API through the caller-supplied callback, so
 * authentication, trust, governance and rate limits apply exactly as for any other client.
 *
 * Two transports use it: `forge mcp` over stdio (src/cli/cmd_mcp.c, the API reached with the
 * CLI's credentials) and Streamable HTTP at POST /mcp on `forge serve` (src/mcp/mcp_http.c, the
 * API reached over loopback with the caller's own bearer token).
 *
 * Protocol revisions: 2025-11-25 (newest), 2025-06-18, 2025-03-26, 2024-11-05. initialize answers
 * with the client's revision when supported, else the newest. JSON-RPC batches (arrays) are
 * accepted only on 2025-03-26, the one revision that had them.
 */
#ifndef MCP_MCP_H
#define MCP_MCP_H

#include <jansson.h>
#include <stddef.h>

#define MCP_MAX_MESSAGE_BYTES  (2u << 20)    /* one JSON-RPC message (a line on stdio) */
#define MCP_MAX_ARGUMENT_BYTES (1100u << 10) /* tools/call arguments, serialised */
#define MCP_MAX_BATCH          32            /* requests in one batch (2025-03-26) */
#define MCP_PROTOCOL_LATEST    "2025-11-25"

/* JSON-RPC error codes */
#define MCP_E_PARSE              (-32700)
#define MCP_E_INVALID_REQUEST    (-32600)
#define MCP_E_METHOD_NOT_FOUND   (-32601)
#define MCP_E_INVALID_PARAMS     (-32602)
#define MCP_E_INTERNAL           (-32603)
#define MCP_E_RESOURCE_NOT_FOUND (-32002)

/**
 * "Do this HTTP API call": METHOD path (e.g. "/api/v1/capsules?per_page=5") with an optional JSON
 * body (borrowed). Returns the HTTP status (0 when the server could not be reached) and stores the
 * parsed response body in *out (caller decrefs; NULL when empty or not JSON).
 */
typedef long (*mcp_api_fn)(void *ud, const char *method, const char *path, json_t *body,
                           json_t **out);

struct mcp_conn {
    mcp_api_fn api;
    void *ud;
    int initialized;      /* initialize answered */
    char protocol[16];    /* negotiated revision ("" before initialize) */
    char client_name[64]; /* clientInfo.name, for logs */
};

/** Initialises a connection state over an API callback. */
void mcp_conn_init(struct mcp_conn *c, mcp_api_fn api, void *ud);

/** 1 when `v` is one of the supported protocol revisions. */
int mcp_protocol_supported(const char *v);

/**
 * Handles one message (a request, a notification, a response, or a batch on 2025-03-26) and
 * returns the reply to send (new reference), or NULL when there is nothing to answer
 * (notifications and client responses).
 */
json_t *mcp_handle(struct mcp_conn *c, json_t *msg);

/** Parses text (at most MCP_MAX_MESSAGE_BYTES) and handles it; parse errors give -32700. */
json_t *mcp_handle_text(struct mcp_conn *c, const char *text, size_t len);

/** A JSON-RPC error response (new reference); id may be NULL (→ null), data may be NULL. */
json_t *mcp_error_new(json_t *id, int code, const char *message, json_t *data_new);

/** 1 when msg is (or, for a batch, contains) an initialize request. */
int mcp_is_initialize(json_t *msg);

#endif
