/*
 * test_invoke.c - the invocation's state machine on a fake clock, fed
 * scripted events (token answers, status, body chunks, the transfer's end,
 * row confirmations) at exact times: TTFT, duration and phases are the
 * script's times to the nanosecond, the timeout fires at its deadline, and
 * every failure becomes the right error.  The agentcore format: a data line
 * holding a JSON string is answer text.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fake_ports.h"
#include "row_asserts.h"

#define EPS 1e-9

static struct fake_world world;

/* What the done callback saw. */
struct seen
{
	int calls;
	int64_t at_ns;
	struct report_record record;
	char error[600];
	bool unreachable;
	bool warmup;
};

/* Keep the outcome and when it came (its error is copied: it lives only during the call). */
static void
on_done(void *arg, const struct invoke_outcome *outcome)
{
	struct seen *seen = arg;

	seen->calls++;
	seen->at_ns = fake_now(&world);
	seen->record = outcome->record;
	snprintf(seen->error, sizeof(seen->error), "%s",
	         outcome->record.error ? outcome->record.error : "");
	seen->unreachable = outcome->unreachable;
	seen->warmup = outcome->warmup;
}

/* Start one invocation at FAKE_START_NS and run the loop until nothing is left. */
static void
play(const struct fake_script *scripts, size_t n, struct seen *seen, bool write_rows)
{
	assert_non_null(world.env.loop);
	world.scripts = scripts;
	world.n_scripts = n;
	assert_non_null(invocation_start(&world.env, write_rows, NULL, on_done, seen));
	assert_int_equal(loop_run(world.env.loop), 0);
	assert_int_equal(world.clock.stalls, 0);
	assert_int_equal(seen->calls, 1);
}

static int
setup(void **state)
{
	return fake_world_init(&world, NULL, 0) == NULL;
}

static int
teardown(void **state)
{
	fake_world_free(&world);
	return 0;
}

/* Token 7 ms, pending row confirmed at 3 ms, headers at +20, text at +50 and
 * +65, end at +80 (request time): TTFT 57 ms, duration to the last text
 * 72 ms, and the phases on the same timeline. */
static void
ttft_and_phases_exact(void **state)
{
	static const struct fake_step ok[] = {{20, STEP_STATUS, 200, SSE, false},
	                                      {50, STEP_BODY, 0, TEXT("Hel"), false},
	                                      {65, STEP_BODY, 0, TEXT("lo"), false},
	                                      {80, STEP_END, 0, NULL, false}};
	const struct fake_script scripts[] = {SCRIPT(ok)};
	struct seen seen = {0};
	json_t *pending, *final;

	world.token_ms = 7;
	world.tokens[0] = "tok-1";
	world.db_ms = 3;
	play(scripts, 1, &seen, true);
	assert_true(seen.record.ok);
	assert_float_equal(seen.record.ttft_ms, 57, EPS);
	assert_float_equal(seen.record.duration_ms, 72, EPS);
	assert_float_equal(fake_ms(seen.at_ns), 87, EPS);
	assert_int_equal(world.n_requests, 1);
	assert_float_equal(fake_ms(world.requests[0].start_ns), 7, EPS);
	assert_string_equal(world.requests[0].token, "tok-1");
	assert_int_equal(strlen(world.requests[0].session_id), 36); /* a new UUID session */
	assert_int_equal(json_array_size(world.rows), 2);
	pending = json_array_get(world.rows, 0);
	final = json_array_get(world.rows, 1);
	assert_string_equal(json_string_value(json_object_get(pending, "status")), "pending");
	assert_string_equal(json_string_value(json_object_get(final, "status")), "complete");
	assert_string_equal(json_string_value(json_object_get(final, "session_id")),
	                    world.requests[0].session_id);
	assert_float_equal(json_number_value(json_object_get(final, "ttft_ms")), 57, EPS);
	assert_float_equal(json_number_value(json_object_get(final, "client_duration_ms")), 72, EPS);
	assert_false(json_is_true(json_object_get(final, "token_cache_hit")));
	assert_phase(final, "token", 0, 7);
	assert_phase(final, "db", 0, 3);
	assert_phase(final, "first_token", 7, 50);
	assert_phase(final, "stream", 57, 15);
	assert_int_equal(world.released, 1); /* the pending row's journal record went */
}

/* No answer after the headers: the timeout fires exactly at t0 + --timeout,
 * cancels the transfer, and the row is an error with the text seen so far. */
static void
timeout_at_deadline(void **state)
{
	static const struct fake_step hang[] = {{10, STEP_STATUS, 200, SSE, false},
	                                        {100, STEP_BODY, 0, TEXT("x"), false}};
	const struct fake_script scripts[] = {SCRIPT(hang)};
	struct seen seen = {0};
	json_t *final;

	world.config.timeout_ms = 1500;
	play(scripts, 1, &seen, true);
	assert_false(seen.record.ok);
	assert_string_equal(seen.error, "timed out after 1.5 s");
	assert_float_equal(fake_ms(seen.at_ns), 1500, EPS);
	assert_true(world.requests[0].cancelled);
	assert_float_equal(fake_ms(world.requests[0].end_ns), 1500, EPS);
	assert_float_equal(seen.record.ttft_ms, 100, EPS);
	final = json_array_get(world.rows, 1);
	assert_string_equal(json_string_value(json_object_get(final, "status")), "error");
	assert_string_equal(json_string_value(json_object_get(final, "error_message")),
	                    "timed out after 1.5 s");
}

/* The timeout counts the token wait too: a token that never comes in time. */
static void
timeout_includes_token_wait(void **state)
{
	const struct fake_script none[] = {{NULL, 0}};
	struct seen seen = {0};

	world.config.timeout_ms = 250;
	world.token_ms = 400;
	world.tokens[0] = "late";
	play(none, 1, &seen, true);
	assert_string_equal(seen.error, "timed out after 0.25 s");
	assert_float_equal(fake_ms(seen.at_ns), 250, EPS);
	assert_int_equal(world.n_requests, 0);
}

/* An error event after the first text: the invocation fails at that
 * event's time with the agent's message, and keeps its TTFT. */
static void
error_event_mid_stream(void **state)
{
	static const struct fake_step err[] = {
	    {5, STEP_STATUS, 200, SSE, false},
	    {30, STEP_BODY, 0, TEXT("partial"), false},
	    {40, STEP_BODY, 0,
	     "data: {\"error\": \"boom\", \"error_type\": \"RuntimeError\", \"message\": \"m\"}\n\n",
	     false},
	    {90, STEP_END, 0, NULL, false}};
	const struct fake_script scripts[] = {SCRIPT(err)};
	struct seen seen = {0};

	play(scripts, 1, &seen, true);
	assert_false(seen.record.ok);
	assert_non_null(strstr(seen.error, "boom"));
	assert_non_null(strstr(seen.error, "RuntimeError"));
	assert_float_equal(fake_ms(seen.at_ns), 40, EPS);
	assert_float_equal(seen.record.ttft_ms, 30, EPS);
}

/* HTTP 500: the error names the status and a one-line excerpt of the body. */
static void
http_error_with_excerpt(void **state)
{
	static const struct fake_step e500[] = {
	    {5, STEP_STATUS, 500, "application/json", false},
	    {6, STEP_BODY, 0, "{\"message\":\n  \"Internal\tServer Error\"}", false},
	    {7, STEP_END, 0, NULL, false}};
	const struct fake_script scripts[] = {SCRIPT(e500)};
	struct seen seen = {0};

	play(scripts, 1, &seen, true);
	assert_string_equal(seen.error, "HTTP 500: {\"message\": \"Internal Server Error\"}");
	assert_true(isnan(seen.record.ttft_ms));
	assert_float_equal(fake_ms(seen.at_ns), 7, EPS);
}

/* A 401 drops the token, fetches a new one and retries once: the token
 * phase is both waits, TTFT counts from the first t0. */
static void
retry_after_401(void **state)
{
	static const struct fake_step denied[] = {{2, STEP_STATUS, 401, "application/json", false},
	                                          {3, STEP_END, 0, NULL, false}};
	static const struct fake_step ok[] = FAKE_ANSWER(1, 10, 12);
	const struct fake_script scripts[] = {SCRIPT(denied), SCRIPT(ok)};
	struct seen seen = {0};
	json_t *final;

	world.token_ms = 4;
	world.tokens[0] = "tok-1";
	world.tokens[1] = "tok-2";
	world.n_tokens = 2;
	play(scripts, 2, &seen, true);
	assert_true(seen.record.ok);
	assert_string_equal(world.invalidated, "tok-1");
	assert_int_equal(world.token_requests, 2);
	assert_int_equal(world.n_requests, 2);
	assert_string_equal(world.requests[1].token, "tok-2");
	assert_float_equal(fake_ms(world.requests[1].start_ns), 11, EPS);
	assert_float_equal(seen.record.ttft_ms, 21, EPS);
	final = json_array_get(world.rows, 1);
	assert_phase(final, "token", 0, 8);
	assert_phase(final, "first_token", 11, 10);
}

/* A second 401 is not retried again. */
static void
second_401_fails(void **state)
{
	static const struct fake_step denied[] = {{2, STEP_STATUS, 401, "application/json", false},
	                                          {3, STEP_BODY, 0, "no", false},
	                                          {4, STEP_END, 0, NULL, false}};
	const struct fake_script scripts[] = {SCRIPT(denied)};
	struct seen seen = {0};

	world.tokens[0] = "tok-1";
	play(scripts, 1, &seen, true);
	assert_string_equal(seen.error, "HTTP 401: no");
	assert_int_equal(world.n_requests, 2);
	assert_int_equal(world.token_requests, 2);
}

/* No connection at all: "request failed", and the outcome says unreachable. */
static void
unreachable_agent(void **state)
{
	static const struct fake_step refused[] = {
	    {2, STEP_END, 0, "Failed to connect to agent.invalid port 80", true}};
	const struct fake_script scripts[] = {SCRIPT(refused)};
	struct seen seen = {0};

	play(scripts, 1, &seen, true);
	assert_true(seen.unreachable);
	assert_string_equal(seen.error, "request failed: Failed to connect to agent.invalid port 80");
	assert_float_equal(fake_ms(seen.at_ns), 2, EPS);
}

/* The transfer breaks after the headers: "stream cut". */
static void
stream_cut(void **state)
{
	static const struct fake_step cut[] = {
	    {1, STEP_STATUS, 200, SSE, false},
	    {10, STEP_BODY, 0, TEXT("a"), false},
	    {20, STEP_END, 0, "transfer closed with outstanding read data remaining", false}};
	const struct fake_script scripts[] = {SCRIPT(cut)};
	struct seen seen = {0};

	play(scripts, 1, &seen, true);
	assert_false(seen.unreachable);
	assert_string_equal(seen.error,
	                    "stream cut: transfer closed with outstanding read data remaining");
	assert_float_equal(seen.record.ttft_ms, 10, EPS);
}

/* A failed token request ends the invocation at the answer's time, before any request. */
static void
token_error(void **state)
{
	const struct fake_script none[] = {{NULL, 0}};
	struct seen seen = {0};

	world.token_ms = 9;
	world.token_error = "the token endpoint said no";
	play(none, 1, &seen, true);
	assert_string_equal(seen.error, "token: the token endpoint said no");
	assert_float_equal(fake_ms(seen.at_ns), 9, EPS);
	assert_int_equal(world.n_requests, 0);
	assert_phase(json_array_get(world.rows, 1), "token", 0, 9);
}

/* A stream that ends well without answer text is complete, TTFT unknown. */
static void
complete_without_text(void **state)
{
	static const struct fake_step tools[] = {
	    {1, STEP_STATUS, 200, SSE, false},
	    {5, STEP_BODY, 0, "data: {\"tool_use\": {\"name\": \"search\"}}\n\n", false},
	    {6, STEP_END, 0, NULL, false}};
	const struct fake_script scripts[] = {SCRIPT(tools)};
	struct seen seen = {0};

	play(scripts, 1, &seen, true);
	assert_true(seen.record.ok);
	assert_true(isnan(seen.record.ttft_ms));
}

/* The pending row confirmed after the invocation ended: its db phase comes
 * in a row of its own, at the confirmation's time. */
static void
late_db_phase(void **state)
{
	static const struct fake_step ok[] = FAKE_ANSWER(1, 20, 50);
	const struct fake_script scripts[] = {SCRIPT(ok)};
	struct seen seen = {0};
	json_t *late;

	world.db_ms = 500;
	play(scripts, 1, &seen, true);
	assert_int_equal(json_array_size(world.rows), 3);
	assert_null(phase(json_array_get(world.rows, 1), "db"));
	late = json_array_get(world.rows, 2);
	assert_null(json_object_get(late, "status"));
	assert_phase(late, "db", 0, 500);
}

/* A warm-up invocation writes nothing. */
static void
warmup_writes_nothing(void **state)
{
	static const struct fake_step ok[] = FAKE_ANSWER(1, 3, 4);
	const struct fake_script scripts[] = {SCRIPT(ok)};
	struct seen seen = {0};

	play(scripts, 1, &seen, false);
	assert_true(seen.warmup);
	assert_true(seen.record.ok);
	assert_int_equal(json_array_size(world.rows), 0);
}

/* Abort the running invocations (a timer standing in for a signal). */
static void
abort_now(void *arg)
{
	invoke_env_abort(&world.env, arg);
}

/* invoke_env_abort() ends a streaming invocation at once and cancels its transfer. */
static void
abort_mid_stream(void **state)
{
	static const struct fake_step slow[] = FAKE_ANSWER(1, 20, 5000);
	const struct fake_script scripts[] = {SCRIPT(slow)};
	struct seen seen = {0};

	loop_add_timer(world.env.loop, FAKE_START_NS + 30 * NS_PER_MS, abort_now, "interrupted");
	play(scripts, 1, &seen, true);
	assert_string_equal(seen.error, "interrupted");
	assert_float_equal(fake_ms(seen.at_ns), 30, EPS);
	assert_true(world.requests[0].cancelled);
}

/* A session id given to invocation_start() is the one sent and written. */
static void
given_session(void **state)
{
	static const struct fake_step ok[] = FAKE_ANSWER(1, 3, 4);
	const struct fake_script scripts[] = {SCRIPT(ok)};
	struct seen seen = {0};
	char session[] = "session-of-several-calls-0123456789";

	world.scripts = scripts;
	world.n_scripts = 1;
	assert_non_null(invocation_start(&world.env, true, session, on_done, &seen));
	session[0] = 'X'; /* copied: the caller's buffer may change */
	assert_int_equal(loop_run(world.env.loop), 0);
	assert_string_equal(world.requests[0].session_id, "session-of-several-calls-0123456789");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(world.rows, 1), "session_id")),
	    "session-of-several-calls-0123456789");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(ttft_and_phases_exact, setup, teardown),
	    cmocka_unit_test_setup_teardown(timeout_at_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(timeout_includes_token_wait, setup, teardown),
	    cmocka_unit_test_setup_teardown(error_event_mid_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(http_error_with_excerpt, setup, teardown),
	    cmocka_unit_test_setup_teardown(retry_after_401, setup, teardown),
	    cmocka_unit_test_setup_teardown(second_401_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(unreachable_agent, setup, teardown),
	    cmocka_unit_test_setup_teardown(stream_cut, setup, teardown),
	    cmocka_unit_test_setup_teardown(token_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(complete_without_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(late_db_phase, setup, teardown),
	    cmocka_unit_test_setup_teardown(warmup_writes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(abort_mid_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(given_session, setup, teardown),
	};

	return cmocka_run_group_tests_name("invoke", tests, NULL, NULL);
}
