/*
 * test_loop.c - the event loop's timers, deferred calls, descriptor watches
 * (weak or not), holds, stop and failure, on a real loop with a real pipe;
 * and the same loop on a fake clock (fake_clock.h), where timers fire at
 * exactly their deadlines and nothing sleeps.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "event/loop.h"
#include "fake_clock.h"
#include "util/clock.h"

struct trace
{
	struct loop *loop;
	int order[16];
	int n;
	int64_t fired_ns[16];
};

struct step
{
	struct trace *trace;
	int id;
};

/* Record that step id ran, and when. */
static void
record(void *arg)
{
	struct step *step = arg;

	step->trace->fired_ns[step->trace->n] = clock_mono_ns();
	step->trace->order[step->trace->n++] = step->id;
}

static int
setup(void **state)
{
	static struct trace trace;

	trace = (struct trace){.loop = loop_new()};
	*state = &trace;
	return trace.loop == NULL;
}

static int
teardown(void **state)
{
	loop_free(((struct trace *) *state)->loop);
	return 0;
}

/* Timers fire in deadline order, not before their time; a cancelled one never. */
static void
timers_in_order(void **state)
{
	struct trace *t = *state;
	struct step a = {t, 1}, b = {t, 2}, c = {t, 3};
	int64_t now = clock_mono_ns();
	struct loop_timer *cancelled;

	loop_add_timer(t->loop, now + 30 * NS_PER_MS, record, &c);
	loop_add_timer(t->loop, now + 10 * NS_PER_MS, record, &a);
	cancelled = loop_add_timer(t->loop, now + 5 * NS_PER_MS, record, &b);
	loop_add_timer(t->loop, now + 20 * NS_PER_MS, record, &b);
	loop_cancel_timer(t->loop, cancelled);
	assert_int_equal(loop_run(t->loop), 0);
	assert_int_equal(t->n, 3);
	assert_int_equal(t->order[0], 1);
	assert_int_equal(t->order[1], 2);
	assert_int_equal(t->order[2], 3);
	assert_true(t->fired_ns[0] >= now + 10 * NS_PER_MS);
	assert_true(t->fired_ns[2] >= now + 30 * NS_PER_MS);
	assert_true(t->fired_ns[2] < now + 500 * NS_PER_MS);
}

/* A deferred call made by a deferred call runs on a later iteration, after the first. */
static void
defer_chain(void *arg)
{
	struct step *step = arg;

	record(step);
	loop_defer(step->trace->loop, record, step + 1);
}

static void
defers_run_later(void **state)
{
	struct trace *t = *state;
	struct step steps[2] = {{t, 1}, {t, 2}};

	loop_defer(t->loop, defer_chain, &steps[0]);
	assert_int_equal(t->n, 0);
	assert_int_equal(loop_run(t->loop), 0);
	assert_int_equal(t->n, 2);
	assert_int_equal(t->order[0], 1);
	assert_int_equal(t->order[1], 2);
}

struct pipe_watch
{
	struct loop *loop;
	int calls;
	char got;
};

/* Read the byte, then stop watching, which lets the loop end. */
static void
on_readable(void *arg, int fd, short revents)
{
	struct pipe_watch *w = arg;

	assert_true(revents & POLLIN);
	assert_int_equal(read(fd, &w->got, 1), 1);
	w->calls++;
	loop_watch_fd(w->loop, fd, 0, NULL, NULL);
}

/* Write into the pipe from a timer. */
static void
write_byte(void *arg)
{
	int fd = *(int *) arg;

	assert_int_equal(write(fd, "x", 1), 1);
}

static void
watches_a_pipe(void **state)
{
	struct trace *t = *state;
	struct pipe_watch w = {t->loop, 0, 0};
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(loop_watch_fd(t->loop, fds[0], POLLIN, on_readable, &w), 0);
	loop_add_timer(t->loop, clock_mono_ns() + 5 * NS_PER_MS, write_byte, &fds[1]);
	assert_int_equal(loop_run(t->loop), 0);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.got, 'x');
	close(fds[0]);
	close(fds[1]);
}

/* loop_stop() returns from loop_run() with work left; the next run carries on. */
static void
stop_then_resume(void *arg)
{
	struct step *step = arg;

	record(step);
	loop_stop(step->trace->loop);
}

static void
stop_and_resume(void **state)
{
	struct trace *t = *state;
	struct step a = {t, 1}, b = {t, 2};
	int64_t now = clock_mono_ns();

	loop_add_timer(t->loop, now + 1 * NS_PER_MS, stop_then_resume, &a);
	loop_add_timer(t->loop, now + 20 * NS_PER_MS, record, &b);
	assert_int_equal(loop_run(t->loop), 0);
	assert_int_equal(t->n, 1);
	assert_int_equal(loop_run(t->loop), 0);
	assert_int_equal(t->n, 2);
	assert_int_equal(t->order[1], 2);
}

/* Release the hold taken by the test. */
static void
release_hold(void *arg)
{
	struct step *step = arg;

	record(step);
	loop_release(step->trace->loop);
}

/* A weak watch alone lets loop_run() return; a hold keeps it running until released. */
static void
weak_watch_and_hold(void **state)
{
	struct trace *t = *state;
	struct step a = {t, 1};
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(loop_watch_fd(t->loop, fds[0], POLLIN | LOOP_WEAK, on_readable, NULL), 0);
	assert_int_equal(loop_run(t->loop), 0); /* nothing but the weak watch: returns at once */
	loop_hold(t->loop);
	loop_add_timer(t->loop, clock_mono_ns() + 1 * NS_PER_MS, release_hold, &a);
	assert_int_equal(loop_run(t->loop), 0);
	assert_int_equal(t->n, 1);
	loop_watch_fd(t->loop, fds[0], 0, NULL, NULL);
	close(fds[0]);
	close(fds[1]);
}

/* loop_fail() makes this loop_run() return -1, and only this one. */
static void
fail_loop(void *arg)
{
	loop_fail(arg);
}

static void
fail_returns_error(void **state)
{
	struct trace *t = *state;

	loop_add_timer(t->loop, clock_mono_ns(), fail_loop, t->loop);
	assert_int_equal(loop_run(t->loop), -1);
	assert_int_equal(loop_run(t->loop), 0);
}

struct fake_trace
{
	struct fake_clock clock;
	int64_t fired_ns[8];
	int n;
};

/* Record the fake time of the call. */
static void
record_fake(void *arg)
{
	struct fake_trace *t = arg;

	t->fired_ns[t->n++] = loop_now(t->clock.loop);
}

/* Record, then queue another timer 5 ms after the loop's now. */
static void
record_and_rearm(void *arg)
{
	struct fake_trace *t = arg;

	record_fake(t);
	loop_add_timer(t->clock.loop, loop_now(t->clock.loop) + 5 * NS_PER_MS, record_fake, t);
}

/* On a fake clock every timer fires at exactly its deadline, in order, at
 * once in real time; one queued by a callback counts from the callback's now. */
static void
fake_clock_exact_times(void **state)
{
	struct fake_trace t;
	int64_t real_start = clock_mono_ns();
	const int64_t start = 42 * NS_PER_S;

	assert_non_null(fake_clock_loop(&t.clock, start));
	t.n = 0;
	loop_add_timer(t.clock.loop, start + 3600 * NS_PER_S, record_fake, &t);
	loop_add_timer(t.clock.loop, start + 10 * NS_PER_MS, record_and_rearm, &t);
	loop_add_timer(t.clock.loop, start + 7, record_fake, &t);
	assert_int_equal(loop_now(t.clock.loop), start);
	assert_int_equal(loop_run(t.clock.loop), 0);
	assert_int_equal(t.n, 4);
	assert_int_equal(t.fired_ns[0], start + 7);
	assert_int_equal(t.fired_ns[1], start + 10 * NS_PER_MS);
	assert_int_equal(t.fired_ns[2], start + 15 * NS_PER_MS);
	assert_int_equal(t.fired_ns[3], start + 3600 * NS_PER_S);
	assert_true(clock_mono_ns() - real_start < NS_PER_S); /* an hour in well under a second */
	assert_int_equal(t.clock.stalls, 0);
	loop_free(t.clock.loop);
}

/* A loop held with nothing that can ever fire fails instead of waiting forever. */
static void
fake_clock_stall_fails(void **state)
{
	struct fake_clock clock;

	assert_non_null(fake_clock_loop(&clock, 0));
	loop_hold(clock.loop);
	assert_int_equal(loop_run(clock.loop), -1);
	assert_int_equal(clock.stalls, 1);
	assert_int_equal(loop_now(clock.loop), 0);
	loop_release(clock.loop);
	loop_free(clock.loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(timers_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(defers_run_later, setup, teardown),
	    cmocka_unit_test_setup_teardown(watches_a_pipe, setup, teardown),
	    cmocka_unit_test_setup_teardown(stop_and_resume, setup, teardown),
	    cmocka_unit_test_setup_teardown(weak_watch_and_hold, setup, teardown),
	    cmocka_unit_test_setup_teardown(fail_returns_error, setup, teardown),
	    cmocka_unit_test(fake_clock_exact_times),
	    cmocka_unit_test(fake_clock_stall_fails),
	};

	return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
