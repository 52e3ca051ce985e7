/*
 * dash_format.h - reading the dashboard's documents and showing their numbers.
 *
 * Contract: the getters accept any jansson value (a missing member, JSON
 * null or a value of the wrong type reads as NAN, 0 or ""); the formatters
 * write into the caller's buffer and return it.  A duration is shown by
 * loomlat.ttft_display()'s rule (850ms, 1.2s, 1m 05s), a share as "12.3%",
 * and NAN as "-".
 */
#ifndef LOOMLAT_DASH_FORMAT_H
#define LOOMLAT_DASH_FORMAT_H

#include <stddef.h>

#include <stdbool.h>

#include <jansson.h>

#define DASH_FMT_LEN 24

/* obj[key] as a double; NAN when absent or not a number. */
double dash_num(const json_t *obj, const char *key);

/* obj[key] as a string; "" when absent or not a string. */
const char *dash_str(const json_t *obj, const char *key);

/* obj[key] as an array, or NULL, which jansson's array functions read as empty
 * (json_array_size() 0, json_array_get() NULL). */
const json_t *dash_array(const json_t *obj, const char *key);

/* The first object of rows whose key1 is the string val1 and, unless key2 is
 * NULL, whose key2 is val2; NULL when there is none. */
const json_t *dash_find_row(const json_t *rows, const char *key1, const char *val1,
                            const char *key2, const char *val2);

/* The phase_breakdown rows of the phases themselves and "(other)": the
 * classes' "(ttft)" rows hold the TTFT the shares divide, not a phase. */
bool dash_is_phase_row(const json_t *row);

/* A duration in ms by ttft_display()'s rule. */
const char *dash_fmt_ms(double ms, char buf[DASH_FMT_LEN]);

/* A fraction 0..1 as a percentage with one decimal. */
const char *dash_fmt_pct(double share, char buf[DASH_FMT_LEN]);

#endif
