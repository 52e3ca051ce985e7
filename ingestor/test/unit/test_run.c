/*
 * test_run.c - the load shape on a fake clock: real invocations (invoke.c)
 * on scripted ports (fake_ports.h), so every start, end and schedule lag is
 * an exact fake time.  Closed loop under -c, open loop under --rate (capped
 * or not), warm-up, sessions of several calls (one after another, sharing
 * their session id), timeouts inside a run, the grace period after a
 * signal, and the wait for the writer with its timeout.
 */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_ports.h"
#include "measure/run.h"

#define EPS 1e-9

/* Calls that stream text at +40 ms and end at +50, +100, +250 and +1000 ms. */
static const struct fake_step call_50[] = FAKE_ANSWER(0, 40, 50);
static const struct fake_step call_100[] = FAKE_ANSWER(0, 40, 100);
static const struct fake_step call_250[] = FAKE_ANSWER(0, 40, 250);
static const struct fake_step call_1000[] = FAKE_ANSWER(0, 40, 1000);
/* Headers, then nothing. */
static const struct fake_step hang[] = {{0, STEP_STATUS, 200, SSE, false}};

struct bench
{
	struct fake_world world;
	struct report *report;
	struct run_result result;
	int pipe[2]; /* stands in for the signal pipe */
	json_t *summary;
};

static struct bench bench;

static int
setup(void **state)
{
	if (fake_world_init(&bench.world, NULL, 0) == NULL ||
	    pipe2(bench.pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		return -1;
	bench.report = report_new(500);
	bench.summary = NULL;
	return 0;
}

static int
teardown(void **state)
{
	fake_world_free(&bench.world);
	report_free(bench.report);
	json_decref(bench.summary);
	close(bench.pipe[0]);
	close(bench.pipe[1]);
	return 0;
}

/* Run cfg over scripts; the closing summary (with records) lands in bench.summary. */
static void
run(struct run_config cfg, const struct fake_script *scripts, size_t n)
{
	struct report_totals totals;

	bench.world.scripts = scripts;
	bench.world.n_scripts = n;
	if (cfg.calls_per_session == 0)
		cfg.calls_per_session = 1;
	if (cfg.drain_ms == 0)
		cfg.drain_ms = 10000;
	if (cfg.grace_ms == 0)
		cfg.grace_ms = 5000;
	assert_int_equal(
	    run_execute(&bench.world.env, &cfg, bench.report, bench.pipe[0], &bench.result), 0);
	assert_int_equal(bench.world.clock.stalls, 0);
	totals = (struct report_totals){.elapsed_s = bench.result.elapsed_s,
	                                .calls_per_session = cfg.calls_per_session};
	bench.summary = report_json(bench.report, &totals, true);
}

/* A number at a path of bench.summary: "a", "b" is summary.a.b. */
static double
summary_num(const char *a, const char *b)
{
	json_t *v = json_object_get(bench.summary, a);

	if (b != NULL)
		v = json_object_get(v, b);
	assert_true(json_is_number(v));
	return json_number_value(v);
}

/* Request i's start or end, in ms of fake time. */
static double
start_ms(size_t i)
{
	return fake_ms(bench.world.requests[i].start_ns);
}

static double
end_ms(size_t i)
{
	return fake_ms(bench.world.requests[i].end_ns);
}

/* -n 10 -c 3 with 100 ms calls: never more than 3 in flight, waves at exact
 * 100 ms steps, elapsed 0.4 s, then the writer's 25 ms drain ends the run. */
static void
closed_loop_cap(void **state)
{
	const struct fake_script scripts[] = {SCRIPT(call_100)};

	bench.world.drain_ms = 25;
	run((struct run_config){.count = 10, .concurrency = 3}, scripts, 1);
	assert_int_equal(bench.world.n_requests, 10);
	assert_int_equal(bench.world.max_running, 3);
	for (size_t i = 0; i < 10; i++)
		assert_float_equal(start_ms(i), 100.0 * (double) (i / 3), EPS);
	assert_float_equal(bench.result.elapsed_s, 0.4, EPS);
	assert_float_equal(summary_num("count", NULL), 10, EPS);
	assert_float_equal(summary_num("errors", NULL), 0, EPS);
	assert_int_equal(json_array_size(bench.world.rows), 20); /* pending + final each */
	assert_int_equal(bench.world.drain_timeout_ms, 10000);
	assert_float_equal(fake_ms(bench.world.drained_ns), 425, EPS);
	assert_float_equal(fake_ms(fake_now(&bench.world)), 425, EPS);
}

/* --rate 10 without -c: the i-th starts at exactly i * 100 ms whatever is
 * running (3 at once with 250 ms calls), so no start lags. */
static void
open_loop_rate(void **state)
{
	const struct fake_script scripts[] = {SCRIPT(call_250)};

	run((struct run_config){.count = 5, .rate = 10}, scripts, 1);
	for (size_t i = 0; i < 5; i++)
		assert_float_equal(start_ms(i), 100.0 * (double) i, EPS);
	assert_int_equal(bench.world.max_running, 3);
	assert_float_equal(summary_num("schedule_lag_ms", "max"), 0, EPS);
	assert_float_equal(bench.result.elapsed_s, 0.65, EPS);
}

/* --rate 10 -c 1 with 250 ms calls: the cap wins, starts every 250 ms, and
 * the lags behind the schedule are 0, 150, 300 and 450 ms. */
static void
rate_capped_by_concurrency(void **state)
{
	const struct fake_script scripts[] = {SCRIPT(call_250)};

	run((struct run_config){.count = 4, .concurrency = 1, .rate = 10}, scripts, 1);
	for (size_t i = 0; i < 4; i++)
		assert_float_equal(start_ms(i), 250.0 * (double) i, EPS);
	assert_int_equal(bench.world.max_running, 1);
	assert_float_equal(summary_num("schedule_lag_ms", "p50"), 225, EPS);
	assert_float_equal(summary_num("schedule_lag_ms", "max"), 450, EPS);
}

/* --warmup 2: two calls first, not written, not summarised; the measured
 * phase starts when they are done. */
static void
warmup_first(void **state)
{
	const struct fake_script scripts[] = {SCRIPT(call_50)};

	run((struct run_config){.count = 3, .concurrency = 1, .warmup = 2}, scripts, 1);
	assert_int_equal(bench.world.n_requests, 5);
	assert_float_equal(start_ms(2), 100, EPS);
	assert_int_equal(json_array_size(bench.world.rows), 6);
	assert_float_equal(summary_num("count", NULL), 3, EPS);
	assert_float_equal(bench.result.elapsed_s, 0.15, EPS);
}

/* How many requests went out in the session of request i. */
static size_t
session_size(size_t i)
{
	size_t n = 0;

	for (size_t j = 0; j < bench.world.n_requests; j++)
		n += strcmp(bench.world.requests[j].session_id, bench.world.requests[i].session_id) == 0;
	return n;
}

/* Each session's calls follow one another without a gap or an overlap:
 * a call starts exactly when the one before it in its session ended. */
static void
assert_sessions_sequential(size_t calls)
{
	for (size_t i = 0; i < bench.world.n_requests; i++)
	{
		size_t prev = SIZE_MAX;

		assert_int_equal(session_size(i), calls);
		for (size_t j = 0; j < i; j++)
			if (strcmp(bench.world.requests[j].session_id, bench.world.requests[i].session_id) == 0)
				prev = j;
		if (prev != SIZE_MAX)
			assert_float_equal(start_ms(i), end_ms(prev), EPS);
	}
}

/* How many summarised records were call k of their session. */
static size_t
records_at_call(json_int_t k)
{
	size_t i, n = 0;
	json_t *r;

	json_array_foreach(json_object_get(bench.summary, "records"), i, r) n +=
	    json_integer_value(json_object_get(r, "session_call")) == k;
	return n;
}

/* -n 6 -c 2 --calls-per-session 3: two sessions at once, each three calls
 * back to back under its own id; the summary splits 2 first calls from 4
 * follow-ups. */
static void
sessions_closed_loop(void **state)
{
	const struct fake_script scripts[] = {SCRIPT(call_100)};

	run((struct run_config){.count = 6, .concurrency = 2, .calls_per_session = 3}, scripts, 1);
	assert_int_equal(bench.world.n_requests, 6);
	assert_int_equal(bench.world.max_running, 2);
	assert_sessions_sequential(3);
	assert_string_not_equal(bench.world.requests[0].session_id, bench.world.requests[1].session_id);
	assert_int_equal(strlen(bench.world.requests[0].session_id), 36);
	assert_float_equal(end_ms(5), 300, EPS);
	assert_int_equal(records_at_call(1), 2);
	assert_int_equal(records_at_call(2), 2);
	assert_int_equal(records_at_call(3), 2);
	assert_float_equal(summary_num("calls_per_session", NULL), 3, EPS);
	assert_float_equal(
	    json_number_value(json_object_get(
	        json_object_get(json_object_get(bench.summary, "by_session_call"), "first"), "count")),
	    2, EPS);
	assert_float_equal(
	    json_number_value(json_object_get(
	        json_object_get(json_object_get(bench.summary, "by_session_call"), "follow_up"),
	        "count")),
	    4, EPS);
}

/* -c 1: a session runs all its calls before the next session opens. */
static void
sessions_one_at_a_time(void **state)
{
	const struct fake_script scripts[] = {SCRIPT(call_50)};

	run((struct run_config){.count = 4, .concurrency = 1, .calls_per_session = 2}, scripts, 1);
	assert_int_equal(bench.world.n_requests, 4);
	assert_sessions_sequential(2);
	assert_string_equal(bench.world.requests[0].session_id, bench.world.requests[1].session_id);
	assert_string_equal(bench.world.requests[2].session_id, bench.world.requests[3].session_id);
	assert_string_not_equal(bench.world.requests[1].session_id, bench.world.requests[2].session_id);
}

/* --rate 2 --calls-per-session 2: sessions open on the schedule (0 and
 * 500 ms), follow-ups the moment their first call ends. */
static void
sessions_on_a_rate(void **state)
{
	const struct fake_script scripts[] = {SCRIPT(call_100)};

	run((struct run_config){.count = 4, .rate = 2, .calls_per_session = 2}, scripts, 1);
	assert_float_equal(start_ms(0), 0, EPS);
	assert_float_equal(start_ms(1), 100, EPS);
	assert_float_equal(start_ms(2), 500, EPS);
	assert_float_equal(start_ms(3), 600, EPS);
	assert_sessions_sequential(2);
	assert_float_equal(summary_num("schedule_lag_ms", "count"), 2, EPS);
}

/* A call that hangs times out at exactly --timeout and the run goes on. */
static void
timeout_in_run(void **state)
{
	const struct fake_script scripts[] = {SCRIPT(hang), SCRIPT(call_50)};

	bench.world.config.timeout_ms = 300;
	run((struct run_config){.count = 3, .concurrency = 1}, scripts, 2);
	assert_true(bench.world.requests[0].cancelled);
	assert_float_equal(end_ms(0), 300, EPS);
	assert_float_equal(start_ms(1), 300, EPS);
	assert_float_equal(summary_num("errors", NULL), 1, EPS);
	assert_float_equal(summary_num("count", NULL), 3, EPS);
}

/* The writer never catches up: the run ends at exactly the drain timeout. */
static void
drain_timeout(void **state)
{
	const struct fake_script scripts[] = {SCRIPT(call_50)};

	bench.world.drain_ms = -1;
	run((struct run_config){.count = 2, .concurrency = 2, .drain_ms = 3000}, scripts, 1);
	assert_int_equal(bench.world.drain_timeout_ms, 3000);
	assert_float_equal(fake_ms(bench.world.drained_ns), 3050, EPS);
}

/* A signal arrives (a byte in the pipe, as the handler writes it). */
static void
send_signal(void *arg)
{
	assert_int_equal(write(bench.pipe[1], "s", 1), 1);
	bench.world.clock.io_pending = true;
}

/* A signal at 250 ms stops new calls; the two running get the 500 ms grace
 * and are interrupted at exactly 750 ms. */
static void
signal_grace(void **state)
{
	const struct fake_script scripts[] = {SCRIPT(call_1000)};

	loop_add_timer(bench.world.env.loop, FAKE_START_NS + 250 * NS_PER_MS, send_signal, NULL);
	run((struct run_config){.count = 100, .concurrency = 2, .grace_ms = 500}, scripts, 1);
	assert_int_equal(bench.result.signals, 1);
	assert_int_equal(bench.world.n_requests, 2);
	assert_true(bench.world.requests[0].cancelled);
	assert_float_equal(end_ms(0), 750, EPS);
	assert_float_equal(end_ms(1), 750, EPS);
	assert_float_equal(summary_num("errors", NULL), 2, EPS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(closed_loop_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(open_loop_rate, setup, teardown),
	    cmocka_unit_test_setup_teardown(rate_capped_by_concurrency, setup, teardown),
	    cmocka_unit_test_setup_teardown(warmup_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(sessions_closed_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(sessions_one_at_a_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(sessions_on_a_rate, setup, teardown),
	    cmocka_unit_test_setup_teardown(timeout_in_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(drain_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(signal_grace, setup, teardown),
	};

	return cmocka_run_group_tests_name("run", tests, NULL, NULL);
}
