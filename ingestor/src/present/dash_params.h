/*
 * dash_params.h - the dashboard's arguments, checked as untrusted input.
 *
 * Contract: the same checks serve the command line and the HTTP query
 * string; the numbers (an agent id, min_invocations up to
 * DASH_MIN_INVOCATIONS_MAX) go through util/parse_num.h.
 */
#ifndef LOOMLAT_DASH_PARAMS_H
#define LOOMLAT_DASH_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#define DASH_N_RANGES            4
#define DASH_MIN_INVOCATIONS_MAX 1000000000UL

/* The four windows of the summaries, shortest first. */
extern const char *const dash_ranges[DASH_N_RANGES];

/* One of dash_ranges; *out points into dash_ranges (0), or -1 and *out untouched. */
int dash_parse_range(const char *s, const char **out);

/* 8-4-4-4-12 hexadecimal digits. */
bool dash_valid_uuid(const char *s);

#endif
