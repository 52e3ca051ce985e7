/*
 * alloc.h - the command's one out-of-memory policy.
 *
 * Contract: these never return NULL.  When memory runs out they log "out of
 * memory" and exit the process with EX_OSERR (as pgbench's pg_malloc does):
 * no caller has a sane way on, so none carries an error path for it.
 * xmalloc(0) and friends return a unique pointer, never NULL.  Every module
 * follows it, the stream parsers included.
 *
 * Libraries: jansson allocates through xmalloc (main() calls
 * json_set_alloc_funcs(xmalloc, free) before any command runs), so a NULL
 * from a jansson call means bad input, never no memory.  For a library that
 * cannot take our allocator (libcurl's curl_slist_append(), or jansson in a
 * test program that did not install it), xcheck() applies the same policy to
 * the pointer it returned.
 */
#ifndef LOOMLAT_ALLOC_H
#define LOOMLAT_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* p, the result of a library's allocation; NULL exits as above. */
void *xcheck(void *p);

#endif
