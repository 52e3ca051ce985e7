/*
 * test_invoke_row.c - an invocation's rows and summary record from hand-made
 * facts: complete, error, no token, cold start reported or derived from
 * agent_start_time, the phases (token, db, libcurl's, reasoning, first
 * token, stream, the agent's own), and non-finite numbers left out.  Every
 * expected number is worked out by hand from the facts below.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "measure/invoke_row.h"
#include "row_asserts.h"
#include "util/clock.h"

#define EPS     1e-9
#define T0_NS   (5 * NS_PER_S)
#define T0_WALL 1700000000.0
#define ID      "0190b6e2-7c1a-7000-8000-000000000001"
#define SESSION "0190b6e2-7c1a-7000-8000-000000000002"

/* Facts at ms after t0. */
static int64_t
at(double ms)
{
	return T0_NS + (int64_t) (ms * NS_PER_MS);
}

struct fixture
{
	struct invoke_facts facts;
	struct invoke_http_times http;
	struct stream_result stream;
};

/* A complete streamed invocation: token 12.5 ms (miss), db 4 ms, a new TLS
 * connection (dns 1, connect 3, tls 10, pretransfer 10.5, first byte 150 ms
 * after the request started at 30 ms), first text at 200 ms, end at 800 ms,
 * concluded at 900 ms. */
static struct fixture *
complete_fixture(void)
{
	static struct fixture fx;

	memset(&fx, 0, sizeof(fx));
	fx.http = (struct invoke_http_times){false, 1000, 3000, 10000, 10500, 150000};
	fx.stream.first_text_ns = at(200);
	fx.stream.done_ns = at(800);
	fx.stream.input_tokens = 11;
	fx.stream.output_tokens = -1;
	fx.facts = (struct invoke_facts){
	    .invocation_id = ID,
	    .agent_id = 7,
	    .session_id = SESSION,
	    .t0_wall = T0_WALL,
	    .t0_ns = T0_NS,
	    .end_ns = at(900),
	    .token_known = true,
	    .token_ms = 12.5,
	    .db_ms = 4,
	    .http_start_ns = at(30),
	    .http = &fx.http,
	    .stream = &fx.stream,
	};
	return &fx;
}

/* A number member. */
static double
num(json_t *row, const char *key)
{
	json_t *v = json_object_get(row, key);

	assert_non_null(v);
	return json_number_value(v);
}

static void
complete_row(void **state)
{
	struct fixture *fx = complete_fixture();
	json_t *row = invoke_row_final(&fx->facts);

	assert_string_equal(json_string_value(json_object_get(row, "status")), "complete");
	assert_string_equal(json_string_value(json_object_get(row, "invocation_id")), ID);
	assert_string_equal(json_string_value(json_object_get(row, "session_id")), SESSION);
	assert_int_equal(json_integer_value(json_object_get(row, "agent_id")), 7);
	assert_float_equal(num(row, "client_invoke_time"), T0_WALL, EPS);
	assert_float_equal(num(row, "ttft_ms"), 200, EPS);
	assert_float_equal(num(row, "client_duration_ms"), 800, EPS); /* the stream's end, not 900 */
	assert_float_equal(num(row, "client_done_time"), T0_WALL + 0.8, 1e-6);
	assert_int_equal(json_integer_value(json_object_get(row, "input_tokens")), 11);
	assert_null(json_object_get(row, "output_tokens"));
	assert_null(json_object_get(row, "error_message"));
	assert_true(json_is_false(json_object_get(row, "token_cache_hit")));
	assert_phase(row, "token", 0, 12.5);
	assert_phase(row, "db", 0, 4);
	assert_phase(row, "dns", 30, 1);
	assert_phase(row, "connect", 31, 2);
	assert_phase(row, "tls", 33, 7);
	assert_phase(row, "first_byte", 40.5, 139.5);
	assert_phase(row, "first_token", 30, 170);
	assert_phase(row, "stream", 200, 600);
	assert_int_equal(json_array_size(json_object_get(row, "phases")), 8);
	json_decref(row);
}

static void
error_row_and_record(void **state)
{
	struct fixture *fx = complete_fixture();
	struct report_record rec;
	json_t *row;

	fx->stream.first_text_ns = 0;
	fx->stream.done_ns = 0;
	fx->facts.error = "HTTP 500: boom";
	fx->facts.token_cache_hit = true;
	row = invoke_row_final(&fx->facts);
	assert_string_equal(json_string_value(json_object_get(row, "status")), "error");
	assert_string_equal(json_string_value(json_object_get(row, "error_message")), "HTTP 500: boom");
	assert_float_equal(num(row, "client_duration_ms"), 900, EPS); /* concluded, no stream end */
	assert_null(json_object_get(row, "ttft_ms"));
	assert_null(phase(row, "first_token"));
	assert_null(phase(row, "stream"));
	json_decref(row);

	invoke_row_record(&fx->facts, &rec);
	assert_false(rec.ok);
	assert_string_equal(rec.error, "HTTP 500: boom");
	assert_string_equal(rec.invocation_id, ID);
	assert_true(isnan(rec.ttft_ms));
	assert_float_equal(rec.duration_ms, 900, EPS);
	assert_true(rec.token_cache_hit);
	assert_float_equal(rec.client_invoke_time, T0_WALL, EPS);
}

/* No token configured: no token phase, no token_cache_hit, and never a hit in the record. */
static void
no_token(void **state)
{
	struct fixture *fx = complete_fixture();
	struct report_record rec;
	json_t *row;

	fx->facts.token_known = false;
	fx->facts.token_cache_hit = true; /* ignored when no token was asked for */
	row = invoke_row_final(&fx->facts);
	assert_null(json_object_get(row, "token_cache_hit"));
	assert_null(phase(row, "token"));
	json_decref(row);
	invoke_row_record(&fx->facts, &rec);
	assert_true(rec.ok);
	assert_null(rec.error);
	assert_false(rec.token_cache_hit);
	assert_float_equal(rec.ttft_ms, 200, EPS);
}

/* The reported latency wins over agent_start_time; without it the two clocks are compared. */
static void
cold_start(void **state)
{
	struct fixture *fx = complete_fixture();
	struct report_record rec;
	json_t *row;

	row = invoke_row_final(&fx->facts);
	assert_null(json_object_get(row, "cold_start_latency_ms"));
	assert_null(json_object_get(row, "agent_start_time"));
	json_decref(row);
	invoke_row_record(&fx->facts, &rec);
	assert_true(isnan(rec.cold_start_latency_ms));

	fx->stream.has_agent_start = true;
	fx->stream.agent_start_time = T0_WALL + 0.25;
	row = invoke_row_final(&fx->facts);
	assert_float_equal(num(row, "cold_start_latency_ms"), 250, 1e-6);
	assert_float_equal(num(row, "agent_start_time"), T0_WALL + 0.25, 1e-6);
	json_decref(row);

	fx->stream.has_cold_start = true;
	fx->stream.cold_start_latency_ms = 1234;
	row = invoke_row_final(&fx->facts);
	assert_float_equal(num(row, "cold_start_latency_ms"), 1234, EPS);
	json_decref(row);
	invoke_row_record(&fx->facts, &rec);
	assert_float_equal(rec.cold_start_latency_ms, 1234, EPS);
}

/* Reasoning has its own phase and does not end TTFT; the agent's phases follow. */
static void
reasoning_and_agent_phases(void **state)
{
	struct fixture *fx = complete_fixture();
	json_t *row;

	fx->stream.first_reasoning_ns = at(80);
	fx->stream.n_phases = 3;
	fx->stream.phases[0] = (struct stream_phase){"plan", 5, 10};
	fx->stream.phases[1] = (struct stream_phase){"tool", -1, 40};
	fx->stream.phases[2] = (struct stream_phase){"plan", 6, 11}; /* the later one counts */
	row = invoke_row_final(&fx->facts);
	assert_phase(row, "first_reasoning", 30, 50);
	assert_float_equal(num(row, "ttft_ms"), 200, EPS);
	assert_phase(row, "first_token", 30, 170);
	assert_phase(row, "agent.plan", 6, 11);
	assert_phase(row, "agent.tool", NAN, 40);
	assert_int_equal(json_array_size(json_object_get(row, "phases")), 11);
	json_decref(row);
}

/* A reused connection spent nothing on DNS or connect and made no TLS handshake. */
static void
reused_connection(void **state)
{
	struct fixture *fx = complete_fixture();
	json_t *row;

	fx->http.reused = true;
	row = invoke_row_final(&fx->facts);
	assert_phase(row, "dns", 30, 0);
	assert_phase(row, "connect", 30, 0);
	assert_null(phase(row, "tls"));
	assert_phase(row, "first_byte", 40.5, 139.5);
	json_decref(row);
}

/* Unknown numbers are left out: no db confirmation, no connection, no response. */
static void
nan_fields_omitted(void **state)
{
	struct fixture *fx = complete_fixture();
	json_t *row;

	fx->facts.db_ms = NAN;
	fx->facts.token_ms = NAN;
	fx->facts.http = NULL;
	fx->facts.stream = NULL;
	fx->facts.error = "token: HTTP 401";
	row = invoke_row_final(&fx->facts);
	assert_null(json_object_get(row, "ttft_ms"));
	assert_null(json_object_get(row, "cold_start_latency_ms"));
	assert_null(json_object_get(row, "input_tokens"));
	assert_float_equal(num(row, "client_duration_ms"), 900, EPS);
	assert_int_equal(json_array_size(json_object_get(row, "phases")), 0);
	json_decref(row);
}

/* The pending row carries only the shared columns; the late db row only the phase. */
static void
pending_and_late_db(void **state)
{
	struct fixture *fx = complete_fixture();
	json_t *row = invoke_row_pending(&fx->facts);

	assert_string_equal(json_string_value(json_object_get(row, "status")), "pending");
	assert_int_equal(json_object_size(row), 5);
	json_decref(row);
	row = invoke_row_late_db(ID, 17.5);
	assert_int_equal(json_object_size(row), 2);
	assert_phase(row, "db", 0, 17.5);
	json_decref(row);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(complete_row),
	    cmocka_unit_test(error_row_and_record),
	    cmocka_unit_test(no_token),
	    cmocka_unit_test(cold_start),
	    cmocka_unit_test(reasoning_and_agent_phases),
	    cmocka_unit_test(reused_connection),
	    cmocka_unit_test(nan_fields_omitted),
	    cmocka_unit_test(pending_and_late_db),
	};

	return cmocka_run_group_tests_name("invoke_row", tests, NULL, NULL);
}
