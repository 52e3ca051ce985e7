/*
 * parse_num.h - strict decimal integers from untrusted text (command-line
 * options, HTTP query parameters).
 *
 * Contract: a parser accepts the whole string or nothing: ASCII digits only
 * (no sign, space, base prefix or exponent), no silent wrap-around.  It
 * returns 0 on success, -1 otherwise (NULL included), leaving *out untouched
 * then.
 */
#ifndef LOOMLAT_PARSE_NUM_H
#define LOOMLAT_PARSE_NUM_H

#include <stdint.h>

/* A decimal integer in [min, max]. */
int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* A positive decimal integer that fits in a bigint: an agent id. */
int parse_id(const char *s, int64_t *out);

#endif
