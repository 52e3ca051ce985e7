/*
 * parse_num.c - strict decimal integers (see parse_num.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "util/parse_num.h"

/* Digits only (checked by hand: strtoul would take a sign and leading
 * space), then strtoul with overflow detection. */
int
parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (s == NULL || s[0] == '\0')
		return -1;
	for (const char *p = s; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* 1 .. INT64_MAX. */
int
parse_id(const char *s, int64_t *out)
{
	unsigned long v;

	if (parse_ulong(s, 1, INT64_MAX, &v) != 0)
		return -1;
	*out = (int64_t) v;
	return 0;
}
