/*
 * db_pool.h - a bounded pool of blocking libpq connections for the server's
 * request threads.
 *
 * Contract: at most size connections exist at once.  db_pool_get() waits at
 * most wait_ms for one to be free, then hands out an idle connection or
 * opens a new one (bounded by the connect_timeout the caller configured in
 * the environment); NULL means "unavailable".  An idle connection the server
 * has closed or written to (a restart, an idle timeout) is dropped before
 * it is handed out.  db_pool_put() keeps a connection only when it is healthy
 * and outside any transaction; anything else is closed.  Thread-safe.
 */
#ifndef LOOMLAT_DB_POOL_H
#define LOOMLAT_DB_POOL_H

#include <stddef.h>

#include <libpq-fe.h>

struct db_pool;

/* An empty pool of at most size connections to conninfo. */
struct db_pool *db_pool_new(const char *conninfo, int size);

/* A connection, or NULL (err set) when none is free within wait_ms or the
 * database cannot be reached. */
PGconn *db_pool_get(struct db_pool *pool, int wait_ms, char *err, size_t errlen);

/* Give a connection back (kept idle if reusable, else closed). */
void db_pool_put(struct db_pool *pool, PGconn *conn);

/* Close the idle connections and free the pool; none may be out. */
void db_pool_free(struct db_pool *pool);

#endif
