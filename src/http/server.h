/*
 * The HTTP server: libmicrohttpd with an epoll thread pool (WORKERS threads). Handlers run on the
 * pool threads and must not block for long; handlers of HTTP_OFFLOAD routes (Argon2) run on the
 * bounded password pool instead (offload.h). Limits: MAX_CONNECTIONS, PER_IP_CONNECTION_LIMIT and
 * HEADER_TIMEOUT_S (conntrack.h), MAX_HEADER_BYTES (connection memory), MAX_BODY_BYTES (413, for a
 * chunked body as soon as the cap is crossed), CONNECTION_TIMEOUT_S (idle) and REQUEST_TIMEOUT_S
 * (whole body must arrive within it, else 408). Ambiguous message framing is refused with 400 +
 * close before any body byte is read (docs/http.md).
 */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stddef.h>

struct fg_app;
struct http_server;

/** Starts listening on cfg HOST:PORT. Returns NULL with a message in err on failure. */
struct http_server *http_server_start(struct fg_app *app, char *err, size_t errlen);

/** Actual bound port (useful when PORT was busy-checked by tests). */
unsigned http_server_port(const struct http_server *s);

/**
 * Graceful stop, part 1: stops accepting new connections, lets in-flight requests finish (responses
 * now close their connections) until none are left or `timeout_s` passes. Returns the number of
 * requests still in flight at the deadline (0 on a clean drain).
 */
int http_server_drain(struct http_server *s, double timeout_s);

/** Part 2: closes every connection and joins the worker threads; frees the server. */
void http_server_stop(struct http_server *s);

/** Requests in flight right now. */
long http_server_inflight(const struct http_server *s);

#endif
