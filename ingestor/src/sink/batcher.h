/*
 * batcher.h - the decisions of the database writer, without any I/O.
 *
 * The writer (pg_writer.c) is this module plus a libpq transport: the
 * transport tells the batcher what happened (a batch's statement succeeded
 * or failed, the connection dropped or came back, time passed) and the
 * batcher decides what each row's fate is and what comes next: which rows
 * form the next statement, when to reconnect, when to give up.  Time is a
 * parameter ("now", CLOCK_MONOTONIC ns, see util/clock.h) and so is the
 * backoff's jitter, so every decision can be replayed by a test.
 *
 * Rows are queued FIFO as encoded JSON objects and leave the queue only when
 * their fate is known: committed, or rejected by the server (set aside,
 * never retried), or taken back by the caller.  A batch is the head of the
 * queue, at most max_rows rows and max_bytes bytes (one row at least); one
 * batch is on the wire at a time.  A batch the server refuses is split in
 * halves until the refused rows stand alone, so finding k bad rows among n
 * costs O(k log n) statements and every good row is still written, in order.
 * A batch on the wire when the connection drops is "in doubt" (the server
 * may have committed it): its rows stay queued and are sent again after a
 * capped, jittered exponential backoff; the merge makes that harmless.
 * A drain sets a deadline after which the batcher gives up (CLOSED).
 *
 * States: IDLE (connected, nothing on the wire), BUSY (a batch on the
 * wire), BACKOFF (disconnected, reconnect at a due time), CONNECTING (an
 * attempt under way, abandoned at a due time), CLOSED (given up).
 */
#ifndef LOOMLAT_BATCHER_H
#define LOOMLAT_BATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A row's fate: written (committed) or not (rejected, or given up on). */
typedef void (*batcher_done_fn)(void *arg, bool written);

/* A row that is not held has settled (committed or rejected): seq is free. */
typedef void (*batcher_settle_fn)(void *ctx, uint64_t seq);

enum batcher_state
{
	BATCHER_IDLE,
	BATCHER_BUSY,
	BATCHER_BACKOFF,
	BATCHER_CONNECTING,
	BATCHER_CLOSED
};

/* What batcher_tick() found due. */
enum batcher_due
{
	BATCHER_DUE_NOTHING,
	BATCHER_DUE_CONNECT,      /* the backoff is over: start connecting */
	BATCHER_DUE_CONNECT_LATE, /* the attempt took too long: drop it */
	BATCHER_DUE_GIVE_UP       /* the drain deadline passed: now CLOSED */
};

struct batcher_limits
{
	size_t max_rows;  /* per statement */
	size_t max_bytes; /* per statement (a longer row goes alone) */
	int backoff_min_ms;
	int backoff_max_ms;
	int connect_timeout_ms;
};

struct batcher_stats
{
	unsigned long rows_written;
	unsigned long batches;
	unsigned long reconnects;
	unsigned long rejected;
	unsigned long inserted; /* record_invocations' counts, summed over the batches */
	unsigned long updated;
	unsigned long unchanged;
};

struct batcher;

/* A connected batcher (IDLE); settle, if not NULL, gets the seq of every
 * settled row that is not held. */
struct batcher *batcher_new(const struct batcher_limits *limits, batcher_settle_fn settle,
                            void *ctx);

/* Free the queue without callbacks. */
void batcher_free(struct batcher *b);

/* Queue a row: text (malloc'd, len bytes; the batcher owns it) with its
 * journal seq (0: none), held (settle never reports it), and done. */
void batcher_push(struct batcher *b, char *text, size_t len, uint64_t seq, bool held,
                  batcher_done_fn done, void *arg);

/* IDLE with rows queued: a batch can go. */
bool batcher_can_send(const struct batcher *b);

/* The journal seq of the next row to send (0: none, or not journaled): the
 * transport waits until the journal holds it. */
uint64_t batcher_next_seq(const struct batcher *b);

/* Put the next batch on the wire (IDLE -> BUSY) and return it as a JSON
 * array (malloc'd, NUL-terminated, *len bytes); only rows whose journal seq
 * is at most durable go (UINT64_MAX: any).  NULL when none can go. */
char *batcher_take_batch(struct batcher *b, uint64_t durable, size_t *len);

/* The batch's statement succeeded with these counts: its rows are written. */
void batcher_batch_ok(struct batcher *b, unsigned long inserted, unsigned long updated,
                      unsigned long unchanged);

/* The batch's statement failed (the connection is fine): a lone row is
 * rejected with message (its done runs with written = false), a bigger
 * batch is split.  Returns true when a row was rejected. */
bool batcher_batch_failed(struct batcher *b, const char *message);

/* The connection dropped, or an attempt failed, at now: what was on the
 * wire is in doubt; reconnect after the backoff, which jitter (in [0, 1))
 * places between half and all of the current step, and the step doubles up
 * to the maximum.  Returns the delay in ms (-1 when CLOSED). */
int batcher_connection_lost(struct batcher *b, int64_t now_ns, double jitter);

/* A connection attempt starts at now (BACKOFF -> CONNECTING). */
void batcher_connecting(struct batcher *b, int64_t now_ns);

/* The attempt succeeded: IDLE, the backoff starts over. */
void batcher_connected(struct batcher *b);

/* Stop trying at now + timeout_ms, unless the queue empties first. */
void batcher_drain(struct batcher *b, int64_t now_ns, int timeout_ms);

/* A drain was asked for and there is nothing left to do (queue empty, or
 * CLOSED); true once, then the drain is over. */
bool batcher_take_drained(struct batcher *b);

/* When batcher_tick() must next run (INT64_MAX: never). */
int64_t batcher_next_due(const struct batcher *b);

/* What is due at now (GIVE_UP also puts what was on the wire in doubt). */
enum batcher_due batcher_tick(struct batcher *b, int64_t now_ns);

enum batcher_state batcher_state(const struct batcher *b);

/* Rows queued or on the wire. */
size_t batcher_pending(const struct batcher *b);

/* The rows the server rejected, as a JSON array (new reference). */
json_t *batcher_take_rejected(struct batcher *b);

/* Every row not confirmed (rejected, queued, on the wire) as a JSON array;
 * the queued rows' done run with written = false; *in_doubt counts those
 * that may be committed already. */
json_t *batcher_take_unwritten(struct batcher *b, size_t *in_doubt);

/* The server's message for the row last rejected; NULL when none was. */
const char *batcher_last_error(const struct batcher *b);

void batcher_get_stats(const struct batcher *b, struct batcher_stats *stats);

#endif
