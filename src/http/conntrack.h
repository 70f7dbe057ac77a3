/*
 * Connection tracking against slow and greedy clients (issue 11, finding 4). libmicrohttpd
 * 0.9.75 has an idle timeout (reset by every byte) but no deadline for a whole header section,
 * and its per-IP limit cannot exempt a reverse proxy. This module adds both:
 *
 *   - per-IP cap: MHD's accept-policy callback refuses a new connection when the client already
 *     holds PER_IP_CONNECTION_LIMIT of them (IPv6 counted per /64; TRUSTED_PROXIES exempt, 0 = no
 *     cap). Refused connections are closed at once, before any read.
 *   - header deadline: a watchdog thread closes (shutdown(2) of the socket; MHD then sees EOF and
 *     frees the connection) every connection whose request line + headers have not arrived
 *     HEADER_TIMEOUT_S after it was accepted or after its previous response was sent — trickling
 *     one byte at a time no longer keeps it open. An idle keep-alive connection is in the same
 *     state, so it is closed after HEADER_TIMEOUT_S too.
 *   - body deadline: a request whose body is still arriving REQUEST_TIMEOUT_S +
 *     HTTP_CT_BODY_GRACE_S after its headers is closed the same way (the 408 of server.c needs a
 *     byte to arrive to be sent).
 *   - pressure: while the open connections exceed HTTP_CT_PRESSURE_PERCENT of MAX_CONNECTIONS,
 *     the header deadline drops to HTTP_CT_PRESSURE_HEADER_S, so connections that are not sending
 *     a request are recycled for those that are. Requests being handled or answered are never
 *     touched.
 *
 * Thread safety: one mutex; MHD calls the notify/accept callbacks on its worker threads, the
 * server calls http_ct_phase from the access handler, the watchdog runs on its own thread. A
 * socket is shut down only under the mutex while its connection is still listed, and MHD removes
 * it from the list (NOTIFY_CLOSED) before it closes the descriptor, so the descriptor cannot have
 * been reused.
 */
#ifndef HTTP_CONNTRACK_H
#define HTTP_CONNTRACK_H

#include <sys/socket.h>

#include <microhttpd.h>

#define HTTP_CT_TICK_MS           200
#define HTTP_CT_PRESSURE_PERCENT  75
#define HTTP_CT_PRESSURE_HEADER_S 2.0
#define HTTP_CT_BODY_GRACE_S      2.0
#define HTTP_CT_BUCKETS           1024

enum http_ct_phase {
    HTTP_CT_HEADERS = 0, /* waiting for a request line + headers (new or keep-alive) */
    HTTP_CT_BODY,        /* headers in, body arriving */
    HTTP_CT_BUSY,        /* handled, suspended for a pool, or answer being sent */
};

struct http_ct;

struct http_ct_limits {
    unsigned per_ip;       /* 0: no per-IP cap */
    double header_timeout; /* seconds */
    double body_timeout;   /* seconds (REQUEST_TIMEOUT_S) */
    unsigned max_conns;    /* MAX_CONNECTIONS, for the pressure threshold */
    const char *trusted;   /* TRUSTED_PROXIES (borrowed for the tracker's life) */
};

/** Starts the tracker and its watchdog thread. NULL when the thread cannot start. */
struct http_ct *http_ct_start(const struct http_ct_limits *lim);
/** Stops the watchdog and frees the tracker (call after MHD_stop_daemon). */
void http_ct_stop(struct http_ct *ct);

/** MHD_OPTION_APPLY_ACCEPT_POLICY callback (cls = tracker). */
enum MHD_Result http_ct_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
/** MHD_OPTION_NOTIFY_CONNECTION callback (cls = tracker). */
void http_ct_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode code);
/** Moves a connection to `phase` (its clock restarts). */
void http_ct_phase(struct http_ct *ct, struct MHD_Connection *conn, enum http_ct_phase phase);

/** Open connections (tracked). */
long http_ct_open(struct http_ct *ct);

/** Per-IP key of an address: the IPv4 address (also for v4-mapped IPv6), or the /64 prefix of an
 * IPv6 address ("2001:db8:1:2::/64"). 0 ok, -1 unknown family. */
int http_ct_ip_key(const struct sockaddr *addr, char *out, size_t outlen);

#endif
