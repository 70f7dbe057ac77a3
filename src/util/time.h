/* Clocks and timestamps. */
#ifndef FG_TIME_H
#define FG_TIME_H

#include <stddef.h>
#include <stdint.h>

/** Monotonic seconds (for durations). */
double fg_mono_s(void);
/** Wall clock in milliseconds since the epoch. Tests may shift it with fg_time_set_offset_ms. */
int64_t fg_now_ms(void);
/** Shifts fg_now_ms by `ms` (test clock; only honoured when FORGE_TEST_CLOCK=1 at start). */
void fg_time_set_offset_ms(int64_t ms);
/** Formats ms since epoch as RFC 3339 UTC with milliseconds ("2026-01-02T03:04:05.678Z"). */
void fg_time_iso(int64_t ms, char *out, size_t len);
/** Parses RFC 3339 / ISO 8601 (date, or date-time with Z or ±hh:mm). Returns -1 if invalid. */
int fg_time_parse_iso(const char *s, int64_t *ms);

#endif
