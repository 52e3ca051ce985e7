/*
 * pg_writer.c - batched idempotent upserts over one non-blocking libpq
 * connection (see pg_writer.h).
 *
 * States: IDLE (connected, nothing in flight), BUSY (one batch sent, its
 * result awaited), BACKOFF (disconnected, a reconnect timer set),
 * CONNECTING (PQconnectPoll under way), CLOSED (given up after a drain
 * timeout).  The queue is a FIFO; the first in_flight rows form the batch on
 * the wire and are removed only when the server confirmed them.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "sink/db.h"
#include "sink/journal.h"
#include "sink/pg_writer.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define MAX_BATCH_ROWS     100
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     5000
#define CONNECT_TIMEOUT_MS 10000

/* One statement per batch: $1 is a JSON array of rows, merged by the extension
 * (idempotent per invocation; see loomlat.record_invocations in the README). */
static const char RECORD_SQL[] =
    "SELECT inserted, updated, unchanged FROM loomlat.record_invocations($1::pg_catalog.jsonb)";

enum writer_state
{
	W_IDLE,
	W_BUSY,
	W_BACKOFF,
	W_CONNECTING,
	W_CLOSED
};

struct item
{
	struct item *next;
	char *text; /* the row, encoded when queued: a batch is only concatenated */
	size_t len;
	pg_writer_done_fn done;
	void *arg;
	uint64_t seq;  /* its journal record; 0: not journaled */
	bool held;     /* the record stays until pg_writer_release() */
	bool in_doubt; /* was on the wire when the connection dropped: may be committed */
};

struct pg_writer
{
	struct loop *loop;
	struct journal *journal; /* NULL: rows are kept in memory only */
	char *conninfo;
	PGconn *conn;
	int watched_fd; /* -1 when not watching */
	enum writer_state state;

	struct item *head;
	struct item **tail;
	size_t queued;      /* including the in-flight ones */
	size_t in_flight;   /* the first in_flight items are on the wire */
	size_t isolate;     /* after a rejected batch: send these many rows one by one */
	bool send_deferred; /* a send_batch() call is queued on the loop */
	bool batch_failed;  /* the current batch got an error result */
	json_t *rejected;   /* rows the server refused */
	char *last_error;   /* the server's message for the last refused row */

	int backoff_ms;
	struct loop_timer *timer; /* reconnect, or connect timeout */
	bool outage_logged;

	loop_fn drained;
	void *drained_arg;
	struct loop_timer *drain_timer;

	struct pg_writer_stats stats;
};

static void send_batch(void *arg);
static void start_connect(void *arg);
static void on_socket(void *arg, int fd, short revents);

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

/* Call and clear the drain callback. */
static void
finish_drain(struct pg_writer *w)
{
	loop_fn fn = w->drained;

	if (fn == NULL)
		return;
	w->drained = NULL;
	loop_cancel_timer(w->loop, w->drain_timer);
	w->drain_timer = NULL;
	fn(w->drained_arg);
}

/* Adopt a connected connection. */
struct pg_writer *
pg_writer_new(struct loop *loop, const char *conninfo, PGconn *conn)
{
	struct pg_writer *w = xcalloc(1, sizeof(*w));

	w->conninfo = xstrdup(conninfo);
	w->rejected = json_array();
	if (PQsetnonblocking(conn, 1) != 0)
	{
		free(w->conninfo);
		json_decref(w->rejected);
		free(w);
		return NULL;
	}
	w->loop = loop;
	w->conn = conn;
	w->watched_fd = -1;
	w->state = W_IDLE;
	w->tail = &w->head;
	w->backoff_ms = BACKOFF_MIN_MS;
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
	while (w->head != NULL)
	{
		struct item *item = w->head;

		w->head = item->next;
		free(item->text);
		free(item);
	}
	PQfinish(w->conn);
	json_decref(w->rejected);
	free(w->last_error);
	free(w->conninfo);
	free(w);
}

/* Send soon, so that rows queued in the same loop iteration share a batch. */
static void
schedule_send(struct pg_writer *w)
{
	if (w->state == W_IDLE && !w->send_deferred && w->head != NULL)
	{
		w->send_deferred = true;
		loop_defer(w->loop, send_batch, w);
	}
}

/* Journal the row, then append it to the queue. */
static uint64_t
put(struct pg_writer *w, json_t *row, pg_writer_done_fn done, void *arg, bool held)
{
	struct item *item = xmalloc(sizeof(*item));
	char *text = json_dumps(row, JSON_COMPACT);
	size_t len = strlen(text);
	uint64_t seq = w->journal != NULL ? journal_append(w->journal, text, len) : 0;

	json_decref(row);
	*item = (struct item){NULL, text, len, done, arg, seq, held, false};
	*w->tail = item;
	w->tail = &item->next;
	w->queued++;
	schedule_send(w);
	return seq;
}

/* A row whose journal record goes when it is committed. */
void
pg_writer_put(struct pg_writer *w, json_t *row, pg_writer_done_fn done, void *arg)
{
	put(w, row, done, arg, false);
}

/* A row whose journal record stays until released. */
uint64_t
pg_writer_put_held(struct pg_writer *w, json_t *row, pg_writer_done_fn done, void *arg)
{
	return put(w, row, done, arg, true);
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
	return w->queued;
}

/* Remove the first item from the queue and report its fate; a committed or
 * rejected row (set aside for the spool) leaves the journal. */
static void
pop_item(struct pg_writer *w, bool written, bool settled)
{
	struct item *item = w->head;

	w->head = item->next;
	if (w->head == NULL)
		w->tail = &w->head;
	w->queued--;
	if (written)
		w->stats.rows_written++;
	if (settled && !item->held && w->journal != NULL)
		journal_done(w->journal, item->seq);
	free(item->text);
	if (item->done != NULL)
		item->done(item->arg, written);
	free(item);
}

/* The connection is going away with a batch on the wire: the server may have
 * committed it without our hearing so.  Such rows stay queued (resending is
 * harmless) but are marked, so that a spool can say which rows may already be
 * in the database. */
static void
abandon_in_flight(struct pg_writer *w)
{
	size_t n = 0;

	if (w->state == W_BUSY)
		for (struct item *item = w->head; item != NULL && n < w->in_flight; item = item->next, n++)
			item->in_doubt = true;
	w->in_flight = 0;
}

/* Drop the connection and try again after the backoff (with jitter). */
static void
connection_lost(struct pg_writer *w, const char *what)
{
	int delay;

	if (!w->outage_logged)
	{
		const char *msg = w->conn != NULL ? PQerrorMessage(w->conn) : "";
		size_t len = strlen(msg);

		while (len > 0 && msg[len - 1] == '\n')
			len--;
		log_warning("database %s failed: %.*s; %zu rows queued, reconnecting", what, (int) len, msg,
		            w->queued);
		w->outage_logged = true;
	}
	watch(w, 0);
	PQfinish(w->conn);
	w->conn = NULL;
	abandon_in_flight(w);
	loop_cancel_timer(w->loop, w->timer);
	w->timer = NULL;
	if (w->state == W_CLOSED)
		return;
	w->state = W_BACKOFF;
	delay = w->backoff_ms / 2 + rand() % (w->backoff_ms / 2 + 1);
	w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
	w->timer = loop_add_timer(w->loop, clock_mono_ns() + delay * NS_PER_MS, start_connect, w);
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

/* Send the head of the queue as one statement. */
static void
send_batch(void *arg)
{
	struct pg_writer *w = arg;
	size_t limit = w->isolate > 0 ? 1 : MAX_BATCH_ROWS;
	size_t total = 2;
	size_t n = 0;
	char *text;
	char *p;
	uint64_t synced = w->journal != NULL ? journal_synced(w->journal) : UINT64_MAX;

	w->send_deferred = false;
	if (w->state != W_IDLE || w->head == NULL)
		return;
	if (w->head->seq > synced) /* no row reaches the database before its journal record */
	{
		w->send_deferred = true;
		journal_wait(w->journal, w->head->seq, send_batch, w);
		return;
	}
	for (struct item *item = w->head; item != NULL && n < limit && item->seq <= synced;
	     item = item->next, n++)
		total += item->len + 1;
	limit = n;
	text = xmalloc(total);
	p = text;
	*p++ = '[';
	n = 0;
	for (struct item *item = w->head; item != NULL && n < limit; item = item->next, n++)
	{
		if (n > 0)
			*p++ = ',';
		memcpy(p, item->text, item->len);
		p += item->len;
	}
	*p++ = ']';
	*p = '\0';
	w->in_flight = n;
	w->batch_failed = false;
	w->state = W_BUSY;
	if (!PQsendQueryParams(w->conn, RECORD_SQL, 1, NULL, (const char *const *) &text, NULL, NULL,
	                       0))
		connection_lost(w, "send");
	else
		flush_and_watch(w);
	free(text);
}

/* The batch's result arrived: confirm, isolate or reject its rows, then go on. */
static void
batch_done(struct pg_writer *w)
{
	size_t n = w->in_flight;

	w->in_flight = 0;
	w->state = W_IDLE;
	watch(w, 0);
	if (!w->batch_failed)
	{
		w->stats.batches++;
		for (size_t i = 0; i < n; i++)
			pop_item(w, true, true);
		if (w->isolate > 0)
			w->isolate--;
	}
	else if (n > 1)
		w->isolate = n; /* find the bad row: resend these one at a time */
	else
	{
		json_array_append_new(w->rejected, json_loads(w->head->text, 0, NULL));
		w->stats.rejected++;
		pop_item(w, false, true);
		if (w->isolate > 0)
			w->isolate--;
	}
	if (w->head != NULL)
		send_batch(w);
	else
		finish_drain(w);
}

/* Read results while libpq has them; a NULL result ends the batch. */
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
		{
			w->stats.inserted += strtoul(PQgetvalue(res, 0, 0), NULL, 10);
			w->stats.updated += strtoul(PQgetvalue(res, 0, 1), NULL, 10);
			w->stats.unchanged += strtoul(PQgetvalue(res, 0, 2), NULL, 10);
		}
		else if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			if (PQstatus(w->conn) == CONNECTION_BAD)
			{
				PQclear(res);
				connection_lost(w, "write");
				return;
			}
			if (w->in_flight == 1)
			{
				log_error("database rejected a row (kept for the spool): %s",
				          PQresultErrorMessage(res));
				free(w->last_error);
				w->last_error = xstrdup(PQresultErrorMessage(res));
			}
			w->batch_failed = true;
		}
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
			loop_cancel_timer(w->loop, w->timer);
			w->timer = NULL;
			watch(w, 0);
			w->state = W_IDLE;
			w->backoff_ms = BACKOFF_MIN_MS;
			w->outage_logged = false;
			w->stats.reconnects++;
			log_info("database connection restored; sending %zu queued rows", w->queued);
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

	if (w->state == W_CONNECTING)
		poll_connect(w);
	else if (w->state == W_BUSY)
	{
		if (revents & POLLOUT)
		{
			flush_and_watch(w);
			if (w->state != W_BUSY)
				return;
		}
		if (revents & (POLLIN | POLLERR | POLLHUP))
			read_results(w); /* an error or hang-up shows when reading */
	}
}

/* A connection attempt took too long. */
static void
connect_timeout(void *arg)
{
	struct pg_writer *w = arg;

	w->timer = NULL;
	connection_lost(w, "connection (timed out)");
}

/* Backoff over: start connecting. */
static void
start_connect(void *arg)
{
	struct pg_writer *w = arg;

	w->timer = NULL;
	w->conn = db_connect_start(w->conninfo);
	if (w->conn == NULL || PQstatus(w->conn) == CONNECTION_BAD)
	{
		connection_lost(w, "connection");
		return;
	}
	w->state = W_CONNECTING;
	w->timer = loop_add_timer(w->loop, clock_mono_ns() + CONNECT_TIMEOUT_MS * NS_PER_MS,
	                          connect_timeout, w);
	poll_connect(w);
}

/* The drain deadline passed: stop trying. */
static void
drain_timeout(void *arg)
{
	struct pg_writer *w = arg;

	w->drain_timer = NULL;
	log_warning("giving up on the database with %zu rows unwritten", w->queued);
	abandon_in_flight(w);
	w->state = W_CLOSED;
	watch(w, 0);
	loop_cancel_timer(w->loop, w->timer);
	w->timer = NULL;
	PQfinish(w->conn);
	w->conn = NULL;
	finish_drain(w);
}

/* Nothing was left to write. */
static void
drain_now(void *arg)
{
	struct pg_writer *w = arg;

	w->drain_timer = NULL;
	finish_drain(w);
}

/* Wait for the queue to empty, at most timeout_ms. */
void
pg_writer_drain(struct pg_writer *w, int timeout_ms, loop_fn drained, void *arg)
{
	w->drained = drained;
	w->drained_arg = arg;
	if (w->head == NULL || w->state == W_CLOSED)
	{
		w->drain_timer = loop_add_timer(w->loop, 0, drain_now, w);
		return;
	}
	w->drain_timer =
	    loop_add_timer(w->loop, clock_mono_ns() + timeout_ms * NS_PER_MS, drain_timeout, w);
}

/* Everything not written, as a JSON array; counts the rows in doubt. */
json_t *
pg_writer_take_unwritten(struct pg_writer *w, size_t *in_doubt)
{
	json_t *rows = w->rejected;

	w->rejected = json_array();
	abandon_in_flight(w);
	*in_doubt = 0;
	while (w->head != NULL)
	{
		*in_doubt += w->head->in_doubt;
		json_array_append_new(rows, json_loads(w->head->text, 0, NULL));
		pop_item(w, false, false);
	}
	return rows;
}

/* The last rejected row's message. */
const char *
pg_writer_last_error(const struct pg_writer *w)
{
	return w->last_error;
}

/* The rows the server refused, as a JSON array (new reference). */
json_t *
pg_writer_take_rejected(struct pg_writer *w)
{
	json_t *rows = w->rejected;

	w->rejected = json_array();
	return rows;
}

/* Counters. */
void
pg_writer_get_stats(const struct pg_writer *w, struct pg_writer_stats *stats)
{
	*stats = w->stats;
}
