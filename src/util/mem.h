/* Allocation wrappers. Out-of-memory policy (docs/CONTRIBUTING.md): print one line and abort. */
#ifndef FG_MEM_H
#define FG_MEM_H
#include <stddef.h>

void *fg_xmalloc(size_t n);
void *fg_xcalloc(size_t nmemb, size_t size);
void *fg_xrealloc(void *p, size_t n);
char *fg_xstrdup(const char *s);
/** Copies n bytes of s and NUL-terminates. Caller frees. */
char *fg_xstrndup(const char *s, size_t n);

#endif
