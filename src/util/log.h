/*
 * Logging. Outside development every line is one JSON object on stdout (time, level, event, and the
 * fields given); in development lines are readable "time LEVEL event key=value ...". Thread-safe:
 * one line is formatted in a local buffer and written with a single write(2).
 * Never pass secrets or personal data as fields.
 */
#ifndef FG_LOG_H
#define FG_LOG_H

#include <stdarg.h>

enum fg_log_level { FG_LOG_DEBUG = 0, FG_LOG_INFO, FG_LOG_WARN, FG_LOG_ERROR };

/** Sets the threshold and the format (json != 0: JSON lines). Call before threads start. */
void fg_log_init(enum fg_log_level level, int json);
/** Where log lines go: standard output (the default, `forge serve`) or, for command-line tools
 * whose standard output is their result, standard error. */
void fg_log_set_fd(int fd);
enum fg_log_level fg_log_level(void);
int fg_log_enabled(enum fg_log_level level);

/**
 * Logs `event` with key/value pairs: a NULL-terminated list of (const char *key, int type, value)
 * triples, where type is one of the FG_LF_* tags below. Example:
 *   fg_log(FG_LOG_INFO, "request", FG_LF_STR("method", "GET"), FG_LF_INT("status", 200),
 * FG_LF_END);
 */
enum fg_log_field_type { FG_LFT_END = 0, FG_LFT_STR, FG_LFT_INT, FG_LFT_DBL };
#define FG_LF_STR(k, v) (k), FG_LFT_STR, (const char *)(v)
#define FG_LF_INT(k, v) (k), FG_LFT_INT, (long long)(v)
#define FG_LF_DBL(k, v) (k), FG_LFT_DBL, (double)(v)
#define FG_LF_END       ((const char *)0)
void fg_log(enum fg_log_level level, const char *event, ...);

/** Convenience: a message as the only field ("msg"), printf-style. */
void fg_logf(enum fg_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
