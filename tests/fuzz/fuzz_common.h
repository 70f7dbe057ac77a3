/*
 * Shared helpers of the libFuzzer targets (docs/operations/fuzzing.md). Each fuzz_<target>.c
 * defines LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize); the same file is linked
 * either with libFuzzer (-fsanitize=fuzzer, FORGE_FUZZ=ON, `make fuzz`) or with replay_main.c,
 * which feeds every committed corpus file to it (ctest unit/fuzz_replay/<target>, gcc and ASan).
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts with a message: a broken invariant is a finding (libFuzzer saves the input). */
#define FUZZ_ASSERT(c)                                                                          \
    do {                                                                                        \
        if (!(c)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #c);      \
            abort();                                                                            \
        }                                                                                       \
    } while (0)

/* A NUL-terminated copy of the input (malloc'd). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* A private directory under $TMPDIR (or /tmp) for the whole run, made once; NULL on failure. */
static inline const char *fuzz_tmpdir(void)
{
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/forge-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
    }
    return dir;
}

/* Writes the input to path (truncating). 0 on success. */
static inline int fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    int rc = fclose(f);
    return (w == size && rc == 0) ? 0 : -1;
}

#endif
