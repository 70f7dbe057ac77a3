/* UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, version 7, 74 random bits; sortable by time. */
#ifndef FG_UUID_H
#define FG_UUID_H

#include <stddef.h>

#define FG_UUID_STRLEN 36

/** Writes a new UUIDv7 as 36 lowercase characters + NUL into out (≥ 37 bytes). */
void fg_uuid7(char out[FG_UUID_STRLEN + 1]);
/** 1 if s is a canonical UUID (8-4-4-4-12 hex, any version), else 0. */
int fg_uuid_valid(const char *s);

#endif
