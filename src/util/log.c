#include "util/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192

static enum fg_log_level g_level = FG_LOG_INFO;
static int g_json = 0;

static const char *level_name(enum fg_log_level l)
{
    switch (l) {
    case FG_LOG_DEBUG:
        return "debug";
    case FG_LOG_INFO:
        return "info";
    case FG_LOG_WARN:
        return "warning";
    case FG_LOG_ERROR:
        return "error";
    }
    return "info";
}

static int g_fd = STDOUT_FILENO;

void fg_log_init(enum fg_log_level level, int json)
{
    g_level = level;
    g_json = json;
}

void fg_log_set_fd(int fd)
{
    g_fd = fd;
}

enum fg_log_level fg_log_level(void)
{
    return g_level;
}

int fg_log_enabled(enum fg_log_level level)
{
    return level >= g_level;
}

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n >= b->cap)
        n = b->cap - b->len - 1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += ((size_t)n < b->cap - b->len) ? (size_t)n : b->cap - b->len - 1;
}

/* JSON string escaping; control characters become \u00XX. */
static void put_json_str(struct buf *b, const char *s)
{
    put(b, "\"", 1);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(b, e, 2);
        } else if (c < 0x20) {
            putf(b, "\\u%04x", c);
        } else {
            put(b, (const char *)&c, 1);
        }
    }
    put(b, "\"", 1);
}

/* Console values: printable, control characters replaced so a value cannot forge a new line. */
static void put_console_str(struct buf *b, const char *s)
{
    int quote = !s || !*s || strpbrk(s, " \t\"=") != NULL;
    if (quote)
        put(b, "\"", 1);
    for (; s && *s; s++) {
        char c = *s;
        if ((unsigned char)c < 0x20 || c == '"')
            c = '?';
        put(b, &c, 1);
    }
    if (quote)
        put(b, "\"", 1);
}

static void vlog(enum fg_log_level level, const char *event, va_list ap)
{
    char line[LOG_LINE_MAX];
    struct buf b = {line, 0, sizeof line};
    struct timespec ts;
    struct tm tm;
    char tbuf[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);

    if (g_json) {
        putf(&b, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":", tbuf, ts.tv_nsec / 1000000,
             level_name(level));
        put_json_str(&b, event);
    } else {
        putf(&b, "%s.%03ldZ %-7s %s", tbuf, ts.tv_nsec / 1000000, level_name(level), event);
    }
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        int type = va_arg(ap, int);
        if (g_json) {
            put(&b, ",", 1);
            put_json_str(&b, key);
            put(&b, ":", 1);
        } else {
            putf(&b, " %s=", key);
        }
        if (type == FG_LFT_STR) {
            const char *v = va_arg(ap, const char *);
            if (g_json) {
                if (v)
                    put_json_str(&b, v);
                else
                    put(&b, "null", 4);
            } else {
                put_console_str(&b, v ? v : "-");
            }
        } else if (type == FG_LFT_INT) {
            putf(&b, "%lld", va_arg(ap, long long));
        } else if (type == FG_LFT_DBL) {
            putf(&b, "%.6g", va_arg(ap, double));
        } else {
            break; /* malformed list: stop rather than read garbage */
        }
    }
    if (g_json)
        put(&b, "}", 1);
    /* always room for the newline: put() keeps one byte spare */
    line[b.len++] = '\n';
    ssize_t off = 0;
    while ((size_t)off < b.len) {
        ssize_t w = write(g_fd, line + off, b.len - (size_t)off);
        if (w <= 0)
            break;
        off += w;
    }
}

void fg_log(enum fg_log_level level, const char *event, ...)
{
    if (level < g_level)
        return;
    va_list ap;
    va_start(ap, event);
    vlog(level, event, ap);
    va_end(ap);
}

static void log_msg(enum fg_log_level level, const char *event, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    vlog(level, event, ap);
    va_end(ap);
}

void fg_logf(enum fg_log_level level, const char *event, const char *fmt, ...)
{
    if (level < g_level)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_msg(level, event, msg, FG_LF_STR("msg", msg), FG_LF_END);
}
