/*
 * batcher.c - the database writer's queue, batches, outcomes and timers,
 * without I/O (see batcher.h).
 *
 * The queue is a FIFO; its first in_flight rows are the batch on the wire.
 * After a refused batch of n rows, the first "suspect" rows of the queue may
 * hold a bad row: they go in batches of "probe" rows, half the refused
 * batch, until none is left to suspect.
 */
#include <stdlib.h>
#include <string.h>

#include "sink/batcher.h"
#include "util/alloc.h"
#include "util/clock.h"

#define NEVER INT64_MAX

struct row
{
	struct row *next;
	char *text; /* one JSON object, encoded when queued */
	size_t len;
	batcher_done_fn done;
	void *arg;
	uint64_t seq;  /* its journal record; 0: none */
	bool held;     /* settle never reports it: its holder lets it go */
	bool in_doubt; /* was on the wire when the connection dropped */
};

struct batcher
{
	struct batcher_limits limits;
	batcher_settle_fn settle;
	void *ctx;
	enum batcher_state state;

	struct row *head;
	struct row **tail;
	size_t queued;    /* including the in-flight ones */
	size_t in_flight; /* the first in_flight rows are on the wire */
	size_t suspect;   /* after a refused batch: these first rows may hold a bad one */
	size_t probe;     /* ...and go in batches of this many */
	json_t *rejected;
	char *last_error;

	int backoff_ms;   /* the next backoff step */
	int64_t due_ns;   /* reconnect (BACKOFF) or abandon the attempt (CONNECTING) */
	bool drain_asked; /* a drain waits for the queue to empty */
	int64_t drain_ns; /* ...until then */
	struct batcher_stats stats;
};

/* A connected, empty batcher. */
struct batcher *
batcher_new(const struct batcher_limits *limits, batcher_settle_fn settle, void *ctx)
{
	struct batcher *b = xcalloc(1, sizeof(*b));

	b->limits = *limits;
	b->settle = settle;
	b->ctx = ctx;
	b->state = BATCHER_IDLE;
	b->tail = &b->head;
	b->rejected = json_array();
	b->backoff_ms = limits->backoff_min_ms;
	b->due_ns = NEVER;
	return b;
}

/* Free the queue without callbacks. */
void
batcher_free(struct batcher *b)
{
	if (b == NULL)
		return;
	while (b->head != NULL)
	{
		struct row *row = b->head;

		b->head = row->next;
		free(row->text);
		free(row);
	}
	json_decref(b->rejected);
	free(b->last_error);
	free(b);
}

/* Append a row to the queue. */
void
batcher_push(struct batcher *b, char *text, size_t len, uint64_t seq, bool held,
             batcher_done_fn done, void *arg)
{
	struct row *row = xmalloc(sizeof(*row));

	*row = (struct row){NULL, text, len, done, arg, seq, held, false};
	*b->tail = row;
	b->tail = &row->next;
	b->queued++;
}

/* Remove the head row and report its fate; a settled row frees its seq. */
static void
pop(struct batcher *b, bool written, bool settled)
{
	struct row *row = b->head;

	b->head = row->next;
	if (b->head == NULL)
		b->tail = &b->head;
	b->queued--;
	if (written)
		b->stats.rows_written++;
	if (settled && !row->held && row->seq != 0 && b->settle != NULL)
		b->settle(b->ctx, row->seq);
	free(row->text);
	if (row->done != NULL)
		row->done(row->arg, written);
	free(row);
}

/* What was on the wire may be committed: mark it, and nothing is on the wire. */
static void
abandon_in_flight(struct batcher *b)
{
	size_t n = 0;

	for (struct row *row = b->head; row != NULL && n < b->in_flight; row = row->next, n++)
		row->in_doubt = true;
	b->in_flight = 0;
}

/* Rows may go. */
bool
batcher_can_send(const struct batcher *b)
{
	return b->state == BATCHER_IDLE && b->head != NULL;
}

/* The head's seq. */
uint64_t
batcher_next_seq(const struct batcher *b)
{
	return b->head != NULL ? b->head->seq : 0;
}

/* The head of the queue within the budget and the durable rows, as one
 * JSON array. */
char *
batcher_take_batch(struct batcher *b, uint64_t durable, size_t *len)
{
	size_t limit =
	    b->suspect > 0 ? (b->probe < b->suspect ? b->probe : b->suspect) : b->limits.max_rows;
	size_t total = 2, n = 0;
	struct row *row;
	char *text, *p;

	if (!batcher_can_send(b) || b->head->seq > durable)
		return NULL;
	for (row = b->head; row != NULL && n < limit && row->seq <= durable; row = row->next, n++)
	{
		if (n > 0 && total + row->len + 1 > b->limits.max_bytes)
			break;
		total += row->len + 1;
	}
	text = xmalloc(total + 1);
	p = text;
	*p++ = '[';
	row = b->head;
	for (size_t i = 0; i < n; i++, row = row->next)
	{
		if (i > 0)
			*p++ = ',';
		memcpy(p, row->text, row->len);
		p += row->len;
	}
	*p++ = ']';
	*p = '\0';
	*len = (size_t) (p - text);
	b->in_flight = n;
	b->state = BATCHER_BUSY;
	return text;
}

/* Leave BUSY for IDLE with nothing on the wire; returns how many rows were. */
static size_t
batch_over(struct batcher *b)
{
	size_t n = b->in_flight;

	b->in_flight = 0;
	b->state = BATCHER_IDLE;
	return n;
}

/* The batch is committed. */
void
batcher_batch_ok(struct batcher *b, unsigned long inserted, unsigned long updated,
                 unsigned long unchanged)
{
	size_t n = batch_over(b);

	b->stats.batches++;
	b->stats.inserted += inserted;
	b->stats.updated += updated;
	b->stats.unchanged += unchanged;
	b->suspect = b->suspect > n ? b->suspect - n : 0;
	for (size_t i = 0; i < n; i++)
		pop(b, true, true);
}

/* The batch was refused: reject a lone row, else split the batch. */
bool
batcher_batch_failed(struct batcher *b, const char *message)
{
	size_t n = batch_over(b);

	if (n > 1)
	{
		b->suspect = n;
		b->probe = (n + 1) / 2;
		return false;
	}
	free(b->last_error);
	b->last_error = xstrdup(message);
	json_array_append_new(b->rejected, json_loadb(b->head->text, b->head->len, 0, NULL));
	b->stats.rejected++;
	b->suspect = b->suspect > 0 ? b->suspect - 1 : 0;
	pop(b, false, true);
	return true;
}

/* Back off before the next attempt. */
int
batcher_connection_lost(struct batcher *b, int64_t now_ns, double jitter)
{
	int delay;

	abandon_in_flight(b);
	if (b->state == BATCHER_CLOSED)
		return -1;
	delay = b->backoff_ms / 2 + (int) (jitter * (b->backoff_ms / 2));
	b->backoff_ms =
	    b->backoff_ms > b->limits.backoff_max_ms / 2 ? b->limits.backoff_max_ms : b->backoff_ms * 2;
	b->state = BATCHER_BACKOFF;
	b->due_ns = now_ns + delay * NS_PER_MS;
	return delay;
}

/* An attempt starts; it has connect_timeout_ms. */
void
batcher_connecting(struct batcher *b, int64_t now_ns)
{
	b->state = BATCHER_CONNECTING;
	b->due_ns = now_ns + b->limits.connect_timeout_ms * NS_PER_MS;
}

/* Connected again. */
void
batcher_connected(struct batcher *b)
{
	b->state = BATCHER_IDLE;
	b->due_ns = NEVER;
	b->backoff_ms = b->limits.backoff_min_ms;
	b->stats.reconnects++;
}

/* Give the queue until now + timeout_ms to empty. */
void
batcher_drain(struct batcher *b, int64_t now_ns, int timeout_ms)
{
	b->drain_asked = true;
	b->drain_ns = now_ns + timeout_ms * NS_PER_MS;
}

/* The drain is over: nothing queued, or given up. */
bool
batcher_take_drained(struct batcher *b)
{
	if (!b->drain_asked || (b->head != NULL && b->state != BATCHER_CLOSED))
		return false;
	b->drain_asked = false;
	return true;
}

/* The earliest deadline. */
int64_t
batcher_next_due(const struct batcher *b)
{
	int64_t due = b->state == BATCHER_BACKOFF || b->state == BATCHER_CONNECTING ? b->due_ns : NEVER;

	if (b->drain_asked && b->state != BATCHER_CLOSED && b->drain_ns < due)
		due = b->drain_ns;
	return due;
}

/* What is due: giving up first, then the connection's deadline. */
enum batcher_due
batcher_tick(struct batcher *b, int64_t now_ns)
{
	if (b->drain_asked && b->state != BATCHER_CLOSED && now_ns >= b->drain_ns)
	{
		abandon_in_flight(b);
		b->state = BATCHER_CLOSED;
		b->due_ns = NEVER;
		return BATCHER_DUE_GIVE_UP;
	}
	if (now_ns < b->due_ns)
		return BATCHER_DUE_NOTHING;
	b->due_ns = NEVER;
	if (b->state == BATCHER_BACKOFF)
		return BATCHER_DUE_CONNECT;
	if (b->state == BATCHER_CONNECTING)
		return BATCHER_DUE_CONNECT_LATE;
	return BATCHER_DUE_NOTHING;
}

enum batcher_state
batcher_state(const struct batcher *b)
{
	return b->state;
}

/* Rows not yet confirmed. */
size_t
batcher_pending(const struct batcher *b)
{
	return b->queued;
}

/* The refused rows (new reference); the batcher starts a new set. */
json_t *
batcher_take_rejected(struct batcher *b)
{
	json_t *rows = b->rejected;

	b->rejected = json_array();
	return rows;
}

/* Everything not written; counts the rows in doubt. */
json_t *
batcher_take_unwritten(struct batcher *b, size_t *in_doubt)
{
	json_t *rows = batcher_take_rejected(b);

	abandon_in_flight(b);
	*in_doubt = 0;
	while (b->head != NULL)
	{
		*in_doubt += b->head->in_doubt;
		json_array_append_new(rows, json_loadb(b->head->text, b->head->len, 0, NULL));
		pop(b, false, false);
	}
	return rows;
}

/* The last refused row's message. */
const char *
batcher_last_error(const struct batcher *b)
{
	return b->last_error;
}

/* Counters. */
void
batcher_get_stats(const struct batcher *b, struct batcher_stats *stats)
{
	*stats = b->stats;
}
