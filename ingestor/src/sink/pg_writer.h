/*
 * pg_writer.h - asynchronous, idempotent writes of invocation rows.
 *
 * A row is a JSON object with the keys of loomlat.record_invocations() and an
 * optional "phases" array; an object without "status" carries phases only.
 * A row is encoded when it is queued (or given encoded), so sending is only
 * concatenation; rows go in batches of at most PG_WRITER_BATCH_ROWS rows and
 * PG_WRITER_BATCH_BYTES bytes, one statement each, over one non-blocking
 * libpq connection driven by the loop (the socket is watched only while a
 * batch or a connection attempt is under way), and no step blocks the loop
 * for long.  The decisions (batches, outcomes, backoff, drain deadline) are
 * sink/batcher.h's; this is their transport.
 *
 * Writes are upserts keyed by the client-made invocation_id (and phase), so
 * sending a row twice is harmless; a "pending" row never overwrites a row
 * that already has a later status, so the order of delivery does not matter.
 * When the connection drops the unconfirmed batch stays queued, the writer
 * reconnects with capped exponential backoff and sends it again: no row is
 * lost.  A row the server rejects (a bad value) is set aside, never retried,
 * and returned by pg_writer_take_unwritten() with the rows not yet written;
 * the writer does not report it (its done callback runs with written =
 * false and pg_writer_last_error() says why): the caller knows what becomes
 * of it.
 *
 * With a journal (pg_writer_set_journal()), every row is appended to it when
 * queued, no batch is sent before the journal is synced, and a row's record
 * is marked done when the row is committed or rejected; a row put "held"
 * keeps its record until its holder releases it (see measure/invoke.c: the
 * pending row stays until the final row is journaled, so recovery can tell
 * an invocation that never ended).
 *
 * A batch whose connection dropped after it was sent is "in doubt": the
 * server may have committed it while the confirmation was lost.  Its rows are
 * delivered at least once, never lost; if the writer gives up before it can
 * resend them, pg_writer_take_unwritten() returns them too and counts them.
 */
#ifndef LOOMLAT_PG_WRITER_H
#define LOOMLAT_PG_WRITER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "event/loop.h"
#include "sink/batcher.h"
#include "sink/journal.h"

#define PG_WRITER_BATCH_ROWS  1000
#define PG_WRITER_BATCH_BYTES (1024 * 1024)

/* written: the row is committed; false when it was rejected or given up on. */
typedef batcher_done_fn pg_writer_done_fn;

struct pg_writer;

/* Adopt the connected conn; conninfo is kept for reconnecting.  NULL when conn
 * cannot be made non-blocking. */
struct pg_writer *pg_writer_new(struct loop *loop, const char *conninfo, PGconn *conn);

/* Close the connection and free the queue; rows still queued are dropped
 * without callbacks (take them with pg_writer_take_unwritten() first). */
void pg_writer_free(struct pg_writer *writer);

/* Queue a row (the reference is stolen); done, if not NULL, runs once on the
 * loop when the row is committed or given up on. */
void pg_writer_put(struct pg_writer *writer, json_t *row, pg_writer_done_fn done, void *arg);

/* As pg_writer_put(), for a row already encoded: text (malloc'd, len bytes,
 * one JSON object) is stolen. */
void pg_writer_put_text(struct pg_writer *writer, char *text, size_t len, pg_writer_done_fn done,
                        void *arg);

/* As pg_writer_put(), but the journal record stays after the commit until
 * pg_writer_release(seq); returns seq (0 without a journal). */
uint64_t pg_writer_put_held(struct pg_writer *writer, json_t *row, pg_writer_done_fn done,
                            void *arg);

/* Let a held row's record go (0 is ignored). */
void pg_writer_release(struct pg_writer *writer, uint64_t seq);

/* Journal every row put from now on (the journal outlives the writer). */
void pg_writer_set_journal(struct pg_writer *writer, struct journal *journal);

/* Remove the rows the server rejected and return them as a JSON array. */
json_t *pg_writer_take_rejected(struct pg_writer *writer);

/* Rows queued or in flight. */
size_t pg_writer_pending(const struct pg_writer *writer);

/* Call drained(arg) once every queued row is written, or once timeout_ms
 * have passed (then the writer stops trying and closes the connection). */
void pg_writer_drain(struct pg_writer *writer, int timeout_ms, loop_fn drained, void *arg);

/* Remove every row not confirmed (queued, in flight, rejected) and return
 * them as a JSON array (new reference); the queued rows' done callbacks run
 * with written = false.  *in_doubt is set to how many of them were on the
 * wire when their connection dropped, so may be in the database already. */
json_t *pg_writer_take_unwritten(struct pg_writer *writer, size_t *in_doubt);

/* The server's message for the row last rejected (valid inside its done
 * callback, where written is false); NULL when no row was rejected. */
const char *pg_writer_last_error(const struct pg_writer *writer);

void pg_writer_get_stats(const struct pg_writer *writer, struct batcher_stats *stats);

#endif
