/*
 * test_batcher.c - the database writer's decisions (sink/batcher.h) driven
 * by a fake clock and a scripted server: batches within their budget, rows
 * in doubt after a dropped connection and sent again after the backoff, the
 * backoff's schedule and cap, the drain deadline, refused rows found by
 * halving and never retried, held rows kept in the journal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sink/batcher.h"
#include "util/alloc.h"
#include "util/clock.h"

#define MAX_ROWS 64

static const struct batcher_limits LIMITS = {
    .max_rows = 4,
    .max_bytes = 64,
    .backoff_min_ms = 100,
    .backoff_max_ms = 1000,
    .connect_timeout_ms = 500,
};

/* What the callbacks saw. */
struct record
{
	int done[MAX_ROWS];  /* row n: 0 not yet, 1 written, -1 not written */
	int order[MAX_ROWS]; /* rows in the order their fate was known */
	int n_order;
	uint64_t settled[MAX_ROWS];
	int n_settled;
};

static struct record rec;
static int row_ids[MAX_ROWS];

static void
on_done(void *arg, bool written)
{
	int id = *(int *) arg;

	assert_int_equal(rec.done[id], 0); /* a row's fate is told once */
	rec.done[id] = written ? 1 : -1;
	rec.order[rec.n_order++] = id;
}

static void
on_settle(void *ctx, uint64_t seq)
{
	rec.settled[rec.n_settled++] = seq;
}

/* A batcher and a fresh record. */
static struct batcher *
fresh(void)
{
	memset(&rec, 0, sizeof(rec));
	for (int i = 0; i < MAX_ROWS; i++)
		row_ids[i] = i;
	return batcher_new(&LIMITS, on_settle, NULL);
}

/* Queue row id ({"id":N}, journal seq 100 + id). */
static void
push(struct batcher *b, int id, bool held)
{
	char *text = xasprintf("{\"id\":%d}", id);

	batcher_push(b, text, strlen(text), 100 + (uint64_t) id, held, on_done, &row_ids[id]);
}

/* The scripted server: take a batch and answer it; a row whose id is in bad
 * fails the statement.  Returns the ids sent, -1 terminated, in ids. */
static void
serve(struct batcher *b, const int *bad, int *ids)
{
	size_t len, i;
	char *text = batcher_take_batch(b, UINT64_MAX, &len);
	json_t *batch, *row;
	bool failed = false;

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	batch = json_loads(text, 0, NULL);
	assert_true(json_is_array(batch));
	json_array_foreach(batch, i, row)
	{
		int id = (int) json_integer_value(json_object_get(row, "id"));

		ids[i] = id;
		for (const int *p = bad; *p >= 0; p++)
			failed |= *p == id;
	}
	ids[json_array_size(batch)] = -1;
	if (failed)
		batcher_batch_failed(b, "bad value");
	else
		batcher_batch_ok(b, json_array_size(batch), 0, 0);
	json_decref(batch);
	free(text);
}

static const int NONE[] = {-1};

/* A batch is at most max_rows rows and max_bytes bytes, one row at least. */
static void
batches_keep_the_budget(void **state)
{
	struct batcher *b = fresh();
	char *big = xmalloc(101);
	int ids[MAX_ROWS];

	for (int i = 0; i < 6; i++)
		push(b, i, false);
	serve(b, NONE, ids); /* {"id":N} is 8 bytes: 4 rows fit in 64 */
	assert_int_equal(ids[0], 0);
	assert_int_equal(ids[3], 3);
	assert_int_equal(ids[4], -1);
	memset(big, ' ', 100);
	memcpy(big, "{\"id\":6}", 8);
	big[100] = '\0';
	batcher_push(b, big, 100, 0, false, on_done, &row_ids[6]);
	serve(b, NONE, ids); /* rows 4 and 5 fit, the 100-byte row does not */
	assert_int_equal(ids[0], 4);
	assert_int_equal(ids[2], -1);
	serve(b, NONE, ids); /* ...and goes alone */
	assert_int_equal(ids[0], 6);
	assert_int_equal(ids[1], -1);
	assert_null(batcher_take_batch(b, UINT64_MAX, &(size_t){0}));
	for (int i = 0; i <= 6; i++)
		assert_int_equal(rec.order[i], i);
	batcher_free(b);
}

/* One batch on the wire at a time; committed rows settle, held ones do not. */
static void
one_batch_at_a_time_and_held_rows_stay(void **state)
{
	struct batcher *b = fresh();
	struct batcher_stats stats;
	size_t len;
	char *text;

	push(b, 0, false);
	push(b, 1, true);
	text = batcher_take_batch(b, UINT64_MAX, &len);
	assert_string_equal(text, "[{\"id\":0},{\"id\":1}]");
	free(text);
	push(b, 2, false);
	assert_int_equal(batcher_state(b), BATCHER_BUSY);
	assert_false(batcher_can_send(b));
	assert_null(batcher_take_batch(b, UINT64_MAX, &len));
	batcher_batch_ok(b, 1, 1, 0);
	assert_int_equal(rec.done[0], 1);
	assert_int_equal(rec.done[1], 1);
	assert_int_equal(rec.done[2], 0);
	assert_int_equal(rec.n_settled, 1);
	assert_int_equal(rec.settled[0], 100);
	assert_int_equal(batcher_pending(b), 1);
	batcher_get_stats(b, &stats);
	assert_int_equal(stats.rows_written, 2);
	assert_int_equal(stats.inserted, 1);
	assert_int_equal(stats.updated, 1);
	batcher_free(b);
}

/* Only rows the journal holds go: the batch stops at the first that it
 * does not hold yet, and nothing goes while the head is not held. */
static void
only_durable_rows_go(void **state)
{
	struct batcher *b = fresh();
	size_t len;
	char *text;

	for (int i = 0; i < 3; i++)
		push(b, i, false); /* seqs 100, 101, 102 */
	assert_int_equal(batcher_next_seq(b), 100);
	assert_null(batcher_take_batch(b, 99, &len));
	assert_int_equal(batcher_state(b), BATCHER_IDLE);
	text = batcher_take_batch(b, 101, &len);
	assert_string_equal(text, "[{\"id\":0},{\"id\":1}]");
	free(text);
	batcher_batch_ok(b, 2, 0, 0);
	assert_int_equal(batcher_next_seq(b), 102);
	batcher_free(b);
}

/* The connection drops after the send: the batch is in doubt, nothing is
 * settled, and after the backoff and a reconnect the same rows go again. */
static void
dropped_batch_is_in_doubt_and_resent(void **state)
{
	struct batcher *b = fresh();
	int64_t now = 1000 * NS_PER_MS;
	char *first, *again;
	size_t len, in_doubt;
	int delay;
	json_t *left;

	push(b, 0, false);
	push(b, 1, false);
	first = batcher_take_batch(b, UINT64_MAX, &len);
	delay = batcher_connection_lost(b, now, 0.0);
	assert_int_equal(delay, 50); /* half the first step, with no jitter */
	assert_int_equal(batcher_state(b), BATCHER_BACKOFF);
	assert_int_equal(batcher_pending(b), 2);
	assert_int_equal(rec.n_settled, 0);
	assert_int_equal(batcher_next_due(b), now + 50 * NS_PER_MS);
	assert_int_equal(batcher_tick(b, now + 49 * NS_PER_MS), BATCHER_DUE_NOTHING);
	assert_int_equal(batcher_tick(b, now + 50 * NS_PER_MS), BATCHER_DUE_CONNECT);
	batcher_connecting(b, now + 50 * NS_PER_MS);
	assert_false(batcher_can_send(b));
	batcher_connected(b);
	again = batcher_take_batch(b, UINT64_MAX, &len);
	assert_string_equal(again, first);
	free(first);
	free(again);
	/* it drops again and the writer gives up: both rows are counted in doubt */
	batcher_connection_lost(b, now, 0.0);
	left = batcher_take_unwritten(b, &in_doubt);
	assert_int_equal(json_array_size(left), 2);
	assert_int_equal(in_doubt, 2);
	assert_int_equal(rec.done[0], -1);
	assert_int_equal(rec.n_settled, 0); /* unwritten rows stay in the journal */
	json_decref(left);
	batcher_free(b);
}

/* Steps double up to the cap; jitter keeps a delay within the upper half of
 * its step; a connection resets the schedule. */
static void
backoff_doubles_up_to_the_cap(void **state)
{
	struct batcher *b = fresh();
	const int low[] = {50, 100, 200, 400, 500, 500};
	int64_t now = 0;

	for (int i = 0; i < 6; i++)
		assert_int_equal(batcher_connection_lost(b, now, 0.0), low[i]);
	assert_int_equal(batcher_connection_lost(b, now, 0.999), 999);
	batcher_connected(b);
	assert_int_equal(batcher_connection_lost(b, now, 0.999), 99);
	batcher_free(b);
}

/* A connection attempt that hangs is abandoned at its deadline. */
static void
connect_attempt_times_out(void **state)
{
	struct batcher *b = fresh();

	batcher_connection_lost(b, 0, 0.0);
	assert_int_equal(batcher_tick(b, 50 * NS_PER_MS), BATCHER_DUE_CONNECT);
	batcher_connecting(b, 50 * NS_PER_MS);
	assert_int_equal(batcher_next_due(b), 550 * NS_PER_MS);
	assert_int_equal(batcher_tick(b, 549 * NS_PER_MS), BATCHER_DUE_NOTHING);
	assert_int_equal(batcher_tick(b, 550 * NS_PER_MS), BATCHER_DUE_CONNECT_LATE);
	assert_int_equal(batcher_connection_lost(b, 550 * NS_PER_MS, 0.0), 100);
	batcher_free(b);
}

/* A drain ends when the queue empties, or gives up at its deadline with
 * what was on the wire in doubt. */
static void
drain_ends_or_times_out(void **state)
{
	struct batcher *b = fresh();
	int ids[MAX_ROWS];
	size_t len, in_doubt;
	json_t *left;

	push(b, 0, false);
	batcher_drain(b, 0, 1000);
	assert_false(batcher_take_drained(b));
	serve(b, NONE, ids);
	assert_true(batcher_take_drained(b));
	assert_false(batcher_take_drained(b)); /* once */

	push(b, 1, false);
	free(batcher_take_batch(b, UINT64_MAX, &len));
	batcher_drain(b, 2000 * NS_PER_MS, 1000);
	assert_int_equal(batcher_next_due(b), 3000 * NS_PER_MS);
	assert_int_equal(batcher_tick(b, 2999 * NS_PER_MS), BATCHER_DUE_NOTHING);
	assert_false(batcher_take_drained(b));
	assert_int_equal(batcher_tick(b, 3000 * NS_PER_MS), BATCHER_DUE_GIVE_UP);
	assert_int_equal(batcher_state(b), BATCHER_CLOSED);
	assert_true(batcher_take_drained(b));
	assert_int_equal(batcher_next_due(b), INT64_MAX);
	assert_int_equal(batcher_connection_lost(b, 3000 * NS_PER_MS, 0.0), -1);
	left = batcher_take_unwritten(b, &in_doubt);
	assert_int_equal(in_doubt, 1);
	json_decref(left);
	batcher_free(b);
}

/* The drain deadline also ends a backoff that would outlast it. */
static void
drain_deadline_comes_before_a_late_reconnect(void **state)
{
	struct batcher *b = fresh();

	push(b, 0, false);
	for (int i = 0; i < 5; i++)
		batcher_connection_lost(b, 0, 0.0); /* the next reconnect is 500 ms away */
	batcher_drain(b, 0, 100);
	assert_int_equal(batcher_next_due(b), 100 * NS_PER_MS);
	assert_int_equal(batcher_tick(b, 100 * NS_PER_MS), BATCHER_DUE_GIVE_UP);
	assert_true(batcher_take_drained(b));
	batcher_free(b);
}

/* Refused rows are found by halving, set aside and never sent again; the
 * other rows are all written, in order. */
static void
refused_rows_are_isolated_not_retried(void **state)
{
	struct batcher *b = fresh();
	const int bad[] = {2, 5, -1};
	int ids[MAX_ROWS];
	int statements = 0, sent[MAX_ROWS] = {0};
	json_t *rejected;

	for (int i = 0; i < 8; i++)
		push(b, i, false);
	while (batcher_can_send(b))
	{
		serve(b, bad, ids);
		statements++;
		for (int *p = ids; *p >= 0; p++)
			sent[*p]++;
		assert_true(statements < 20);
	}
	assert_int_equal(batcher_pending(b), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(rec.done[i], i == 2 || i == 5 ? -1 : 1);
	assert_true(sent[2] >= 1);          /* a refused row alone is never sent again */
	assert_int_equal(rec.n_settled, 8); /* refused rows leave the journal too */
	for (int i = 1, last = -1; i <= 8; i++)
		if (rec.done[rec.order[i - 1]] == 1)
		{
			assert_true(rec.order[i - 1] > last);
			last = rec.order[i - 1];
		}
	assert_string_equal(batcher_last_error(b), "bad value");
	rejected = batcher_take_rejected(b);
	assert_int_equal(json_array_size(rejected), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rejected, 0), "id")), 2);
	json_decref(rejected);
	/* halving: [0..3] refused, [0 1] ok, [2 3] refused, [2] refused, [3] ok,
	 * [4..7] refused, [4 5] refused, [4] ok, [5] refused, [6 7] ok */
	assert_int_equal(statements, 10);
	batcher_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(batches_keep_the_budget),
	    cmocka_unit_test(one_batch_at_a_time_and_held_rows_stay),
	    cmocka_unit_test(only_durable_rows_go),
	    cmocka_unit_test(dropped_batch_is_in_doubt_and_resent),
	    cmocka_unit_test(backoff_doubles_up_to_the_cap),
	    cmocka_unit_test(connect_attempt_times_out),
	    cmocka_unit_test(drain_ends_or_times_out),
	    cmocka_unit_test(drain_deadline_comes_before_a_late_reconnect),
	    cmocka_unit_test(refused_rows_are_isolated_not_retried),
	};

	return cmocka_run_group_tests_name("batcher", tests, NULL, NULL);
}
