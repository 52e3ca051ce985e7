/*
 * db_pool.c - a bounded pool of libpq connections (see db_pool.h).
 *
 * A counting semaphore bounds the connections out plus those being opened;
 * the idle ones sit on a stack under a mutex, the most recently used on top
 * (its backend's caches are warm).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "serve/db_pool.h"
#include "sink/db.h"
#include "util/alloc.h"

struct db_pool
{
	char *conninfo;
	sem_t slots; /* free slots: size minus the connections handed out */
	pthread_mutex_t lock;
	PGconn **idle; /* a stack of n_idle connections */
	int n_idle;
};

/* An empty pool. */
struct db_pool *
db_pool_new(const char *conninfo, int size)
{
	struct db_pool *pool = xcalloc(1, sizeof(*pool));

	pool->conninfo = xstrdup(conninfo);
	pool->idle = xcalloc((size_t) size, sizeof(PGconn *));
	sem_init(&pool->slots, 0, (unsigned) size);
	pthread_mutex_init(&pool->lock, NULL);
	return pool;
}

/* An idle connection is usable when its socket has nothing to read: the
 * server writes to an idle client only to end the session. */
static bool
still_open(PGconn *conn)
{
	struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};

	return PQstatus(conn) == CONNECTION_OK && p.fd >= 0 && poll(&p, 1, 0) == 0;
}

/* The top idle connection that is still open, or NULL. */
static PGconn *
pop_idle(struct db_pool *pool)
{
	PGconn *conn = NULL;

	pthread_mutex_lock(&pool->lock);
	while (conn == NULL && pool->n_idle > 0)
	{
		conn = pool->idle[--pool->n_idle];
		if (!still_open(conn))
		{
			PQfinish(conn);
			conn = NULL;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return conn;
}

/* Wait for a slot (bounded), then reuse or connect. */
PGconn *
db_pool_get(struct db_pool *pool, int wait_ms, char *err, size_t errlen)
{
	struct timespec until;
	PGconn *conn;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long) (wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L)
	{
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (sem_timedwait(&pool->slots, &until) != 0)
		if (errno != EINTR)
		{
			snprintf(err, errlen, "no database connection free within %d ms", wait_ms);
			return NULL;
		}
	if ((conn = pop_idle(pool)) == NULL &&
	    (conn = db_connect_blocking(pool->conninfo, err, errlen)) == NULL)
		sem_post(&pool->slots);
	return conn;
}

/* Keep it when healthy and idle; free its slot either way. */
void
db_pool_put(struct db_pool *pool, PGconn *conn)
{
	if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE)
	{
		pthread_mutex_lock(&pool->lock);
		pool->idle[pool->n_idle++] = conn;
		pthread_mutex_unlock(&pool->lock);
	}
	else
		PQfinish(conn);
	sem_post(&pool->slots);
}

/* Close everything idle. */
void
db_pool_free(struct db_pool *pool)
{
	while (pool->n_idle > 0)
		PQfinish(pool->idle[--pool->n_idle]);
	pthread_mutex_destroy(&pool->lock);
	sem_destroy(&pool->slots);
	free(pool->idle);
	free(pool->conninfo);
	free(pool);
}
