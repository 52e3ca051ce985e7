/*
 * alloc.h - the command's one out-of-memory policy.
 *
 * Contract: these never return NULL.  When memory runs out they log "out of
 * memory" and exit the process with EX_OSERR (as pgbench's pg_malloc does):
 * no caller has a sane way on, so none carries an error path for it.
 * xmalloc(0) and friends return a unique pointer, never NULL.
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

#endif
