/*
 * Growable byte buffer with a hard cap (given at init, as curl's dynbuf). Always NUL-terminated.
 * Appends past the cap fail with FG_ELIMIT and leave the content unchanged.
 */
#ifndef FG_BUF_H
#define FG_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "util/err.h"

struct fg_buf {
    char *p;
    size_t len, cap, max;
};

void fg_buf_init(struct fg_buf *b, size_t max);
void fg_buf_free(struct fg_buf *b);
void fg_buf_reset(struct fg_buf *b);
enum fg_err fg_buf_append(struct fg_buf *b, const void *data, size_t n);
enum fg_err fg_buf_puts(struct fg_buf *b, const char *s);
enum fg_err fg_buf_printf(struct fg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Hands the content to the caller (free with free()) and resets the buffer. */
char *fg_buf_steal(struct fg_buf *b, size_t *len);

#endif
