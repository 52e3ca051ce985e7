/*
 * pg_writer.c - the libpq transport of the batched writer (see pg_writer.h):
 * it feeds the batcher (sink/batcher.h) what happens on the connection and
 * does what the batcher decides, on the loop.
 *
 * One loop timer stands for the batcher's next deadline (reconnect, connect
 * timeout, drain deadline) and is set again after every event.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "sink/db.h"
#include "sink/journal.h"
#include "sink/pg_writer.h"
#include "util/alloc.h"
#include "util/log.h"

/* One statement per batch: $1 is a JSON array of rows, merged by the extension
 * (idempotent per invocation; see loomlat.record_invocations in the README). */
static const char RECORD_SQL[] =
    "SELECT inserted, updated, unchanged FROM loomlat.record_invocations($1::pg_catalog.jsonb)";

static const struct batcher_limits LIMITS = {
    .max_rows = PG_WRITER_BATCH_ROWS,
    .max_bytes = PG_WRITER_BATCH_BYTES,
    .backoff_min_ms = 100,
    .backoff_max_ms = 5000,
    .connect_timeout_ms = 10000,
};

struct pg_writer
{
	struct loop *loop;
	struct batcher *batcher;
	struct journal *journal; /* NULL: rows are kept in memory only */
	char *conninfo;
	PGconn *conn;
	int watched_fd;          /* -1 when not watching */
	bool send_deferred;      /* a send_batch() call is queued on the loop */
	char *error;             /* the statement's error, once it got one */
	unsigned long counts[3]; /* its result: inserted, updated, unchanged */
	bool outage_logged;
	struct loop_timer *timer;       /* the batcher's next deadline */
	struct loop_timer *drain_timer; /* a drain with nothing to wait for */
	loop_fn drained;
	void *drained_arg;
};

static void send_batch(void *arg);
static void on_socket(void *arg, int fd, short revents);
static void on_timer(void *arg);

/* Watch the connection's socket for events (0 = stop watching). */
static void
watch(struct pg_writer *w, short events)
{
	int fd = w->conn != NULL ? PQsocket(w->conn) : -1;

	if (w->watched_fd >= 0 && (fd != w->watched_fd || events == 0))
	{
		loop_watch_fd(w->loop, w->watched_fd, 0, NULL, NULL);
		w->watched_fd = -1;
	}
	if (fd >= 0 && events != 0)
	{
		if (loop_watch_fd(w->loop, fd, events, on_socket, w) != 0)
		{
			log_error("cannot watch the database socket: %s", strerror(errno));
			abort();
		}
		w->watched_fd = fd;
	}
}

/* Set the loop timer to the batcher's next deadline. */
static void
rearm(struct pg_writer *w)
{
	int64_t due = batcher_next_due(w->batcher);

	loop_cancel_timer(w->loop, w->timer);
	w->timer = due != INT64_MAX ? loop_add_timer(w->loop, due, on_timer, w) : NULL;
}

/* Call and clear the drain callback once the batcher's drain is over. */
static void
check_drained(struct pg_writer *w)
{
	loop_fn fn = w->drained;

	if (fn == NULL || !batcher_take_drained(w->batcher))
		return;
	w->drained = NULL;
	fn(w->drained_arg);
}

/* A settled row leaves the journal. */
static void
settle(void *ctx, uint64_t seq)
{
	struct pg_writer *w = ctx;

	if (w->journal != NULL)
		journal_done(w->journal, seq);
}

/* Adopt a connected connection. */
struct pg_writer *
pg_writer_new(struct loop *loop, const char *conninfo, PGconn *conn)
{
	struct pg_writer *w;

	if (PQsetnonblocking(conn, 1) != 0)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->loop = loop;
	w->batcher = batcher_new(&LIMITS, settle, w);
	w->conninfo = xstrdup(conninfo);
	w->conn = conn;
	w->watched_fd = -1;
	return w;
}

/* Free the queue without callbacks and close the connection. */
void
pg_writer_free(struct pg_writer *w)
{
	if (w == NULL)
		return;
	watch(w, 0);
	loop_cancel_timer(w->loop, w->timer);
	loop_cancel_timer(w->loop, w->drain_timer);
	batcher_free(w->batcher);
	PQfinish(w->conn);
	free(w->error);
	free(w->conninfo);
	free(w);
}

/* Send soon, so that rows queued in the same loop iteration share a batch. */
static void
schedule_send(struct pg_writer *w)
{
	if (!w->send_deferred && batcher_can_send(w->batcher))
	{
		w->send_deferred = true;
		loop_defer(w->loop, send_batch, w);
	}
}

/* Journal the encoded row, then queue it. */
static uint64_t
put(struct pg_writer *w, char *text, size_t len, pg_writer_done_fn done, void *arg, bool held)
{
	uint64_t seq = w->journal != NULL ? journal_append(w->journal, text, len) : 0;

	batcher_push(w->batcher, text, len, seq, held, done, arg);
	schedule_send(w);
	return seq;
}

/* Encode a row and queue it. */
static uint64_t
put_json(struct pg_writer *w, json_t *row, pg_writer_done_fn done, void *arg, bool held)
{
	char *text = json_dumps(row, JSON_COMPACT);

	json_decref(row);
	if (text == NULL)
		abort(); /* only out of memory fails for a row the caller built */
	return put(w, text, strlen(text), done, arg, held);
}

/* A row whose journal record goes when it is committed. */
void
pg_writer_put(struct pg_writer *w, json_t *row, pg_writer_done_fn done, void *arg)
{
	put_json(w, row, done, arg, false);
}

/* An encoded row: no second encoding. */
void
pg_writer_put_text(struct pg_writer *w, char *text, size_t len, pg_writer_done_fn done, void *arg)
{
	put(w, text, len, done, arg, false);
}

/* A row whose journal record stays until released. */
uint64_t
pg_writer_put_held(struct pg_writer *w, json_t *row, pg_writer_done_fn done, void *arg)
{
	return put_json(w, row, done, arg, true);
}

/* The holder needs the record no longer. */
void
pg_writer_release(struct pg_writer *w, uint64_t seq)
{
	if (w->journal != NULL)
		journal_done(w->journal, seq);
}

/* Journal every row from now on. */
void
pg_writer_set_journal(struct pg_writer *w, struct journal *journal)
{
	w->journal = journal;
}

/* Rows not yet confirmed. */
size_t
pg_writer_pending(const struct pg_writer *w)
{
	return batcher_pending(w->batcher);
}

/* Drop the connection; the batcher says when to try again. */
static void
connection_lost(struct pg_writer *w, const char *what)
{
	if (!w->outage_logged)
	{
		const char *msg = w->conn != NULL ? PQerrorMessage(w->conn) : "";
		size_t len = strlen(msg);

		while (len > 0 && msg[len - 1] == '\n')
			len--;
		log_warning("database %s failed: %.*s; %zu rows queued, reconnecting", what, (int) len, msg,
		            batcher_pending(w->batcher));
		w->outage_logged = true;
	}
	watch(w, 0);
	PQfinish(w->conn);
	w->conn = NULL;
	batcher_connection_lost(w->batcher, loop_now(w->loop), rand() / ((double) RAND_MAX + 1));
	rearm(w);
}

/* Push buffered output; watch for the result (and for writability while data remains). */
static void
flush_and_watch(struct pg_writer *w)
{
	int rc = PQflush(w->conn);

	if (rc < 0)
		connection_lost(w, "write");
	else
		watch(w, rc == 1 ? (POLLIN | POLLOUT) : POLLIN);
}

/* Send the next batch as one statement, once the journal holds its rows. */
static void
send_batch(void *arg)
{
	struct pg_writer *w = arg;
	size_t len;
	char *text;
	uint64_t durable = w->journal != NULL ? journal_synced(w->journal) : UINT64_MAX;

	w->send_deferred = false;
	if (!batcher_can_send(w->batcher))
		return;
	/* no row reaches the database before its journal record */
	if (batcher_next_seq(w->batcher) > durable)
	{
		w->send_deferred = true;
		journal_wait(w->journal, batcher_next_seq(w->batcher), send_batch, w);
		return;
	}
	text = batcher_take_batch(w->batcher, durable, &len);
	if (text == NULL)
		return;
	w->counts[0] = w->counts[1] = w->counts[2] = 0;
	free(w->error);
	w->error = NULL;
	if (!PQsendQueryParams(w->conn, RECORD_SQL, 1, NULL, (const char *const *) &text, NULL, NULL,
	                       0))
		connection_lost(w, "send");
	else
		flush_and_watch(w);
	free(text);
}

/* The batch's statement ended: tell the batcher, then go on or end a drain. */
static void
batch_done(struct pg_writer *w)
{
	watch(w, 0);
	if (w->error != NULL)
	{
		if (batcher_batch_failed(w->batcher, w->error))
			log_debug("database rejected a row: %s", w->error);
		free(w->error);
		w->error = NULL;
	}
	else
		batcher_batch_ok(w->batcher, w->counts[0], w->counts[1], w->counts[2]);
	if (batcher_can_send(w->batcher))
		send_batch(w);
	else
		check_drained(w);
}

/* Read results while libpq has them; a NULL result ends the statement. */
static void
read_results(struct pg_writer *w)
{
	if (!PQconsumeInput(w->conn))
	{
		connection_lost(w, "read");
		return;
	}
	while (!PQisBusy(w->conn))
	{
		PGresult *res = PQgetResult(w->conn);

		if (res == NULL)
		{
			batch_done(w);
			return;
		}
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			for (int i = 0; i < 3; i++)
				w->counts[i] = strtoul(PQgetvalue(res, 0, i), NULL, 10);
		else if (PQresultStatus(res) != PGRES_TUPLES_OK && PQstatus(w->conn) == CONNECTION_BAD)
		{
			PQclear(res);
			connection_lost(w, "write");
			return;
		}
		else if (PQresultStatus(res) != PGRES_TUPLES_OK && w->error == NULL)
			w->error = xstrdup(PQresultErrorMessage(res));
		PQclear(res);
	}
}

/* Advance the connection attempt. */
static void
poll_connect(struct pg_writer *w)
{
	switch (PQconnectPoll(w->conn))
	{
		case PGRES_POLLING_READING:
			watch(w, POLLIN);
			break;
		case PGRES_POLLING_WRITING:
			watch(w, POLLOUT);
			break;
		case PGRES_POLLING_OK:
			if (PQsetnonblocking(w->conn, 1) != 0)
			{
				connection_lost(w, "connection");
				break;
			}
			watch(w, 0);
			batcher_connected(w->batcher);
			rearm(w);
			w->outage_logged = false;
			log_info("database connection restored; sending %zu queued rows",
			         batcher_pending(w->batcher));
			send_batch(w);
			break;
		default:
			connection_lost(w, "connection");
			break;
	}
}

/* Socket events, by state. */
static void
on_socket(void *arg, int fd, short revents)
{
	struct pg_writer *w = arg;

	if (batcher_state(w->batcher) == BATCHER_CONNECTING)
		poll_connect(w);
	else if (batcher_state(w->batcher) == BATCHER_BUSY)
	{
		if (revents & POLLOUT)
		{
			flush_and_watch(w);
			if (batcher_state(w->batcher) != BATCHER_BUSY)
				return;
		}
		if (revents & (POLLIN | POLLERR | POLLHUP))
			read_results(w); /* an error or hang-up shows when reading */
	}
}

/* Backoff over: start connecting. */
static void
start_connect(struct pg_writer *w)
{
	w->conn = db_connect_start(w->conninfo);
	if (w->conn == NULL || PQstatus(w->conn) == CONNECTION_BAD)
	{
		connection_lost(w, "connection");
		return;
	}
	batcher_connecting(w->batcher, loop_now(w->loop));
	rearm(w);
	poll_connect(w);
}

/* The batcher's deadline: do what is due. */
static void
on_timer(void *arg)
{
	struct pg_writer *w = arg;

	w->timer = NULL;
	switch (batcher_tick(w->batcher, loop_now(w->loop)))
	{
		case BATCHER_DUE_CONNECT:
			start_connect(w);
			break;
		case BATCHER_DUE_CONNECT_LATE:
			connection_lost(w, "connection (timed out)");
			break;
		case BATCHER_DUE_GIVE_UP:
			log_warning("giving up on the database with %zu rows unwritten",
			            batcher_pending(w->batcher));
			watch(w, 0);
			PQfinish(w->conn);
			w->conn = NULL;
			check_drained(w);
			break;
		case BATCHER_DUE_NOTHING:
			break;
	}
	rearm(w);
}

/* A drain with nothing to wait for ends on the next iteration. */
static void
drain_now(void *arg)
{
	struct pg_writer *w = arg;

	w->drain_timer = NULL;
	check_drained(w);
}

/* Wait for the queue to empty, at most timeout_ms. */
void
pg_writer_drain(struct pg_writer *w, int timeout_ms, loop_fn drained, void *arg)
{
	w->drained = drained;
	w->drained_arg = arg;
	batcher_drain(w->batcher, loop_now(w->loop), timeout_ms);
	if (batcher_pending(w->batcher) == 0 || batcher_state(w->batcher) == BATCHER_CLOSED)
		w->drain_timer = loop_add_timer(w->loop, 0, drain_now, w);
	else
		rearm(w);
}

/* Everything not written, as a JSON array; counts the rows in doubt. */
json_t *
pg_writer_take_unwritten(struct pg_writer *w, size_t *in_doubt)
{
	return batcher_take_unwritten(w->batcher, in_doubt);
}

/* The last rejected row's message. */
const char *
pg_writer_last_error(const struct pg_writer *w)
{
	return batcher_last_error(w->batcher);
}

/* The rows the server refused, as a JSON array (new reference). */
json_t *
pg_writer_take_rejected(struct pg_writer *w)
{
	return batcher_take_rejected(w->batcher);
}

/* Counters. */
void
pg_writer_get_stats(const struct pg_writer *w, struct batcher_stats *stats)
{
	batcher_get_stats(w->batcher, stats);
}
