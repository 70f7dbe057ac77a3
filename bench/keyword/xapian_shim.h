/* bench/keyword: C interface of the Xapian shim (xapian_shim.cc). */
#ifndef BENCH_XAPIAN_SHIM_H
#define BENCH_XAPIAN_SHIM_H
#include <stddef.h>
struct xs;
struct xs *xs_open(const char *dir);
int xs_add(struct xs *x, const char *id, const char *const *terms, size_t n);
int xs_commit(struct xs *x, const char *dir);
size_t xs_search(struct xs *x, const char *const *terms, size_t n, size_t k, unsigned *docids);
void xs_close(struct xs *x);
#endif
