/*
 * alloc.c - allocation that exits on failure (see alloc.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "util/alloc.h"
#include "util/log.h"

/* No memory left: say so and leave. */
static void
out_of_memory(void)
{
	log_error("out of memory");
	exit(EX_OSERR);
}

/* p, or exit when the allocation behind it failed. */
void *
xcheck(void *p)
{
	if (p == NULL)
		out_of_memory();
	return p;
}

/* malloc(size), at least one byte. */
void *
xmalloc(size_t size)
{
	return xcheck(malloc(size ? size : 1));
}

/* calloc(n, size), at least one byte. */
void *
xcalloc(size_t n, size_t size)
{
	return xcheck(calloc(n ? n : 1, size ? size : 1));
}

/* realloc(p, size), at least one byte. */
void *
xrealloc(void *p, size_t size)
{
	return xcheck(realloc(p, size ? size : 1));
}

/* strdup(s). */
char *
xstrdup(const char *s)
{
	return xcheck(strdup(s));
}

/* strndup(s, n). */
char *
xstrndup(const char *s, size_t n)
{
	return xcheck(strndup(s, n));
}

/* A malloc'd string formatted as by printf. */
char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	return s;
}
