/*
 * dash_params.h - the dashboard's arguments, checked as untrusted input.
 *
 * Contract: the same parsers serve the command line and the HTTP query
 * string (an agent id is util/parse_num.h's parse_id).  Each accepts the whole string or nothing
 * and returns 0 on success, -1 otherwise, leaving *out untouched then.
 */
#ifndef LOOMLAT_DASH_PARAMS_H
#define LOOMLAT_DASH_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#define DASH_N_RANGES            4
#define DASH_MIN_INVOCATIONS_MAX 1000000000L

/* The four windows of the summaries, shortest first. */
extern const char *const dash_ranges[DASH_N_RANGES];

/* One of dash_ranges; *out points into dash_ranges. */
int dash_parse_range(const char *s, const char **out);

/* A decimal integer in 0 .. DASH_MIN_INVOCATIONS_MAX. */
int dash_parse_min_invocations(const char *s, long *out);

/* 8-4-4-4-12 hexadecimal digits. */
bool dash_valid_uuid(const char *s);

#endif
