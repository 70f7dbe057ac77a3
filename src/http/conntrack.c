/* Connection tracking: per-IP cap, header and body deadlines, pressure mode. See conntrack.h. */
#include "http/conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/middleware.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/time.h"

struct ct_conn {
    struct ct_conn *prev, *next;
    MHD_socket fd;
    char key[48]; /* per-IP key when counted, else "" */
    enum http_ct_phase phase;
    double since;
    int shut; /* already shut down by the watchdog */
};

struct ip_entry {
    struct ip_entry *next;
    unsigned count;
    char key[48];
};

struct http_ct {
    struct http_ct_limits lim;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int stop;
    struct ct_conn *head;
    long open;
    struct ip_entry *buckets[HTTP_CT_BUCKETS];
};

/* ---- per-IP table (under ct->mu) ------------------------------------------------------------ */

static unsigned key_hash(const char *k)
{
    unsigned h = 2166136261u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h % HTTP_CT_BUCKETS;
}

static struct ip_entry **ip_find(struct http_ct *ct, const char *key)
{
    struct ip_entry **pp = &ct->buckets[key_hash(key)];
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void ip_release(struct http_ct *ct, const char *key)
{
    struct ip_entry **pp = ip_find(ct, key);
    struct ip_entry *e = *pp;
    if (!e)
        return;
    if (e->count > 1) {
        e->count--;
        return;
    }
    *pp = e->next;
    free(e);
}

int http_ct_ip_key(const struct sockaddr *addr, char *out, size_t outlen)
{
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)addr;
        return inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)outlen) ? 0 : -1;
    }
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)addr;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            return inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], out, (socklen_t)outlen) ? 0 : -1;
        struct in6_addr p = a->sin6_addr;
        memset(&p.s6_addr[8], 0, 8);
        char b[INET6_ADDRSTRLEN];
        if (!inet_ntop(AF_INET6, &p, b, sizeof b))
            return -1;
        return snprintf(out, outlen, "%s/64", b) < (int)outlen ? 0 : -1;
    }
    return -1;
}

/* The text address (for TRUSTED_PROXIES) of a peer. */
static int ip_text(const struct sockaddr *addr, char *out, size_t outlen)
{
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)addr;
        if (!IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            return inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)outlen) ? 0 : -1;
    }
    return http_ct_ip_key(addr, out, outlen);
}

/* 1 when connections from this peer are counted against the per-IP cap; fills key. */
static int counted(const struct http_ct *ct, const struct sockaddr *addr, char *key, size_t klen)
{
    char text[INET6_ADDRSTRLEN];
    if (!ct->lim.per_ip || !addr || http_ct_ip_key(addr, key, klen) != 0 ||
        ip_text(addr, text, sizeof text) != 0)
        return 0;
    return !(ct->lim.trusted && ct->lim.trusted[0] && mw_ip_in_list(text, ct->lim.trusted));
}

enum MHD_Result http_ct_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addrlen;
    struct http_ct *ct = cls;
    char key[48];
    if (!counted(ct, addr, key, sizeof key))
        return MHD_YES;
    /* The slot is taken here and given back at NOTIFY_CLOSED of the connection, which MHD
     * creates right after a YES (only an allocation failure in between would leak a slot). */
    enum MHD_Result r = MHD_YES;
    pthread_mutex_lock(&ct->mu);
    struct ip_entry **pp = ip_find(ct, key);
    if (!*pp) {
        struct ip_entry *e = fg_xcalloc(1, sizeof *e);
        snprintf(e->key, sizeof e->key, "%s", key);
        *pp = e;
    }
    if ((*pp)->count >= ct->lim.per_ip)
        r = MHD_NO;
    else
        (*pp)->count++;
    pthread_mutex_unlock(&ct->mu);
    if (r == MHD_NO)
        mw_connection_dropped("per_ip_limit");
    return r;
}

void http_ct_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode code)
{
    struct http_ct *ct = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct ct_conn *c = fg_xcalloc(1, sizeof *c);
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        c->fd = fi ? fi->connect_fd : MHD_INVALID_SOCKET;
        if (!counted(ct, ai ? ai->client_addr : NULL, c->key, sizeof c->key))
            c->key[0] = '\0';
        c->phase = HTTP_CT_HEADERS;
        c->since = fg_mono_s();
        pthread_mutex_lock(&ct->mu);
        c->next = ct->head;
        if (ct->head)
            ct->head->prev = c;
        ct->head = c;
        ct->open++;
        pthread_mutex_unlock(&ct->mu);
        *socket_context = c;
        return;
    }
    struct ct_conn *c = *socket_context;
    if (!c)
        return;
    *socket_context = NULL;
    pthread_mutex_lock(&ct->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        ct->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ct->open--;
    if (c->key[0])
        ip_release(ct, c->key);
    pthread_mutex_unlock(&ct->mu);
    free(c);
}

void http_ct_phase(struct http_ct *ct, struct MHD_Connection *conn, enum http_ct_phase phase)
{
    if (!ct)
        return;
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct ct_conn *c = i ? i->socket_context : NULL;
    if (!c)
        return;
    double now = fg_mono_s();
    pthread_mutex_lock(&ct->mu);
    c->phase = phase;
    c->since = now;
    pthread_mutex_unlock(&ct->mu);
}

long http_ct_open(struct http_ct *ct)
{
    pthread_mutex_lock(&ct->mu);
    long n = ct->open;
    pthread_mutex_unlock(&ct->mu);
    return n;
}

/* ---- watchdog ------------------------------------------------------------------------------- */

static void sweep(struct http_ct *ct)
{
    double now = fg_mono_s();
    long pressure_at = (long)ct->lim.max_conns * HTTP_CT_PRESSURE_PERCENT / 100;
    int pressure = ct->open > pressure_at;
    double hdr = ct->lim.header_timeout;
    if (pressure && hdr > HTTP_CT_PRESSURE_HEADER_S)
        hdr = HTTP_CT_PRESSURE_HEADER_S;
    for (struct ct_conn *c = ct->head; c; c = c->next) {
        if (c->shut || c->fd == MHD_INVALID_SOCKET)
            continue;
        const char *why = NULL;
        if (c->phase == HTTP_CT_HEADERS && now - c->since > hdr)
            why = pressure ? "header_timeout_pressure" : "header_timeout";
        else if (c->phase == HTTP_CT_BODY &&
                 now - c->since > ct->lim.body_timeout + HTTP_CT_BODY_GRACE_S)
            why = "body_timeout";
        if (!why)
            continue;
        /* MHD's worker sees EOF/HUP on its next wake-up and frees the connection */
        shutdown(c->fd, SHUT_RDWR);
        c->shut = 1;
        mw_connection_dropped(why);
    }
}

static void *watchdog(void *arg)
{
    struct http_ct *ct = arg;
    pthread_mutex_lock(&ct->mu);
    while (!ct->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += HTTP_CT_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int rc = pthread_cond_timedwait(&ct->cv, &ct->mu, &ts);
        if (ct->stop)
            break;
        if (rc == ETIMEDOUT || rc == 0)
            sweep(ct);
    }
    pthread_mutex_unlock(&ct->mu);
    return NULL;
}

struct http_ct *http_ct_start(const struct http_ct_limits *lim)
{
    struct http_ct *ct = fg_xcalloc(1, sizeof *ct);
    ct->lim = *lim;
    pthread_mutex_init(&ct->mu, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&ct->cv, &a);
    pthread_condattr_destroy(&a);
    if (pthread_create(&ct->th, NULL, watchdog, ct) != 0) {
        pthread_cond_destroy(&ct->cv);
        pthread_mutex_destroy(&ct->mu);
        free(ct);
        return NULL;
    }
    return ct;
}

void http_ct_stop(struct http_ct *ct)
{
    if (!ct)
        return;
    pthread_mutex_lock(&ct->mu);
    ct->stop = 1;
    pthread_cond_signal(&ct->cv);
    pthread_mutex_unlock(&ct->mu);
    pthread_join(ct->th, NULL);
    /* MHD_stop_daemon has closed every connection (NOTIFY_CLOSED), so the lists are empty;
     * free whatever an allocation failure may have left behind */
    for (size_t i = 0; i < HTTP_CT_BUCKETS; i++) {
        struct ip_entry *e = ct->buckets[i];
        while (e) {
            struct ip_entry *n = e->next;
            free(e);
            e = n;
        }
    }
    pthread_cond_destroy(&ct->cv);
    pthread_mutex_destroy(&ct->mu);
    free(ct);
}
