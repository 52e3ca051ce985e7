/*
 * test_sse.c - the SSE parser against spec vectors, split every way.
 *
 * Each vector is a byte stream with the events the WHATWG rules give for it
 * (written here by hand, inspired by the web-platform-tests eventsource
 * format-* cases).  Every vector is fed whole, one byte at a time (with empty
 * chunks between the bytes), and split at every position and at every pair of
 * positions; each time the event sequence, the final status, the
 * sse_finish() verdict and the retry time must match the vector.  Timestamps
 * are checked in every split as well: each chunk is stamped with its start
 * offset, so an event must carry the start of the chunk that delivered its
 * first field byte, whose offset the one-byte-at-a-time run reveals.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "stream/sse.h"

#define MAX_EVENTS 8

struct str
{
	const char *ptr;
	size_t len;
};

/* A string literal with its length, NUL bytes included. */
#define S(lit)                                                                                     \
	{                                                                                              \
		(lit), sizeof(lit) - 1                                                                     \
	}

struct expected_event
{
	struct str type;
	struct str data;
	struct str id;
};

struct vector
{
	const char *name;
	struct str input;
	size_t max_event_bytes; /* 0: 4096 */
	enum sse_status status; /* after the last chunk */
	int finish;             /* sse_finish() */
	bool retry;             /* a valid retry field was given */
	int64_t retry_ms;
	struct expected_event events[MAX_EVENTS]; /* up to the first with a NULL type */
};

/* clang-format off */
#define MSG(d)       {S("message"), S(d), S("")}
#define MSG_ID(d, i) {S("message"), S(d), S(i)}
#define TYPED(t, d)  {S(t), S(d), S("")}
/* clang-format on */

/* Fields left out are 0: limit 4096, SSE_OK, finish 0, no retry, no events. */
static const struct vector vectors[] = {
    {.name = "lf line ends", .input = S("data: a\n\ndata: b\n\n"), .events = {MSG("a"), MSG("b")}},
    {.name = "cr line ends", .input = S("data: a\r\rdata: b\r\r"), .events = {MSG("a"), MSG("b")}},
    {.name = "crlf line ends",
     .input = S("data: a\r\n\r\ndata: b\r\ndata: c\r\n\r\n"),
     .events = {MSG("a"), MSG("b\nc")}},
    {.name = "mixed line ends",
     .input = S("data: a\rdata: b\ndata: c\r\ndata: d\r\n\r\ndata: e\n\r\n"),
     .events = {MSG("a\nb\nc\nd"), MSG("e")}},
    {.name = "cr cr is a blank line",
     .input = S("data: a\r\r\ndata: b\r\n\r"),
     .events = {MSG("a"), MSG("b")}},
    {.name = "leading bom stripped",
     .input = S("\xEF\xBB\xBF"
                "data: x\n\n"),
     .events = {MSG("x")}},
    {.name = "only one bom stripped",
     .input = S("\xEF\xBB\xBF\xEF\xBB\xBF"
                "data: 1\n\ndata: 2\n\n"),
     .events = {MSG("2")}},
    {.name = "partial bom is content",
     .input = S("\xEF\xBB"
                "data: 1\n\ndata: 2\n\n"),
     .events = {MSG("2")}},
    {.name = "bom after start is content",
     .input = S("data: 1\n\n\xEF\xBB\xBF"
                "data: 2\n\ndata: 3\n\n"),
     .events = {MSG("1"), MSG("3")}},
    {.name = "bom then comment", .input = S("\xEF\xBB\xBF: hi\ndata: x\n\n"), .events = {MSG("x")}},
    {.name = "utf-8 split anywhere",
     .input = S("data: h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\n\n"),
     .events = {MSG("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80")}},
    {.name = "many events one chunk",
     .input = S("data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n"),
     .events = {MSG("1"), MSG("2"), MSG("3"), MSG("4")}},
    {.name = "value with colons",
     .input = S("data: {\"a\":1,\"b\":\"c:d\"}\n\n"),
     .events = {MSG("{\"a\":1,\"b\":\"c:d\"}")}},
    {.name = "one space stripped",
     .input = S("data:  two\n\ndata:\tx\n\ndata:y\n\ndata: \n\n"),
     .events = {MSG(" two"), MSG("\tx"), MSG("y"), MSG("")}},
    {.name = "data without colon",
     .input = S("data\n\ndata\ndata\n\n"),
     .events = {MSG(""), MSG("\n")}},
    {.name = "field names case-sensitive",
     .input = S("Data: x\n\nDATA: y\n\nfoo: bar\ndata: z\n\n"),
     .events = {MSG("z")}},
    {.name = "multi-line data",
     .input = S("data: a\ndata: b\ndata:\n\n"),
     .events = {MSG("a\nb\n")}},
    {.name = "comments",
     .input = S(": ping\n\n:keepalive\ndata: a\n: between\ndata: b\n\n:\n\n"),
     .events = {MSG("a\nb")}},
    {.name = "empty data buffer dispatches nothing", .input = S("\n\n\nevent: x\n\nid: 3\n\n")},
    {.name = "event type",
     .input = S("event: a\nevent: b\ndata: 1\n\nevent: c\nevent:\ndata: 2\n\ndata: 3\n\n"),
     .events = {TYPED("b", "1"), MSG("2"), MSG("3")}},
    {.name = "type reset without data",
     .input = S("event: a\n\ndata: 1\n\n"),
     .events = {MSG("1")}},
    {.name = "id persists",
     .input = S("id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: 5\n\ndata: d\n\n"),
     .events = {MSG_ID("a", "1"), MSG_ID("b", "1"), MSG_ID("c", ""), MSG_ID("d", "5")}},
    {.name = "id with nul ignored",
     .input = S("id: 7\ndata: a\n\nid: x\0y\ndata: b\n\n"),
     .events = {MSG_ID("a", "7"), MSG_ID("b", "7")}},
    {.name = "retry digits",
     .input = S("retry: 1000\ndata: a\n\n"),
     .retry = true,
     .retry_ms = 1000,
     .events = {MSG("a")}},
    {.name = "retry bogus ignored",
     .input = S("retry: 250\nretry: 1000ms\nretry: -1\nretry: 1.5\nretry:\nretry:  5\nretry: 5 \n"),
     .finish = 1,
     .retry = true,
     .retry_ms = 250},
    {.name = "retry overflow capped",
     .input = S("retry: 99999999999999999999999999\n\n"),
     .retry = true,
     .retry_ms = 2147483647},
    {.name = "nul in data", .input = S("data: a\0b\n\n"), .events = {MSG("a\0b")}},
    {.name = "invalid utf-8 passes",
     .input = S("data: \xFF\xFE\xC3\n\n"),
     .events = {MSG("\xFF\xFE\xC3")}},
    {.name = "event at the limit",
     .input = S("data: 0123456789abcdef\n\n"),
     .max_event_bytes = 16,
     .events = {MSG("0123456789abcdef")}},
    {.name = "multi-line event at the limit",
     .input = S("data: 0123456\ndata: 89abcdef\n\n"),
     .max_event_bytes = 16,
     .events = {MSG("0123456\n89abcdef")}},
    {.name = "event over the limit",
     .input = S("data: a\n\ndata: 0123456789abcdefg\n\ndata: b\n\n"),
     .max_event_bytes = 16,
     .status = SSE_TOO_LARGE,
     .finish = 1,
     .events = {MSG("a")}},
    {.name = "lines over the limit",
     .input = S("data: a\n\ndata: 01234567\ndata: 89abcdef\n\n"),
     .max_event_bytes = 16,
     .status = SSE_TOO_LARGE,
     .finish = 1,
     .events = {MSG("a")}},
    {.name = "unterminated line over the limit",
     .input = S("data: a\n\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
     .max_event_bytes = 16,
     .status = SSE_TOO_LARGE,
     .finish = 1,
     .events = {MSG("a")}},
    {.name = "long comment within limit",
     .input = S(": 0123456789012345678901234567890123456789012345678901234567890123\ndata: a\n\n"),
     .max_event_bytes = 16,
     .events = {MSG("a")}},
    {.name = "eof mid-event",
     .input = S("data: a\n\nid: 2\ndata: b"),
     .finish = 1,
     .events = {MSG("a")}},
    {.name = "eof before blank line",
     .input = S("data: a\n\ndata: b\n"),
     .finish = 1,
     .events = {MSG("a")}},
    {.name = "eof after field line",
     .input = S("data: a\n\nid: 3\n"),
     .finish = 1,
     .events = {MSG("a")}},
    {.name = "eof in comment", .input = S("data: a\n\n: bye"), .events = {MSG("a")}},
    {.name = "eof after cr", .input = S("data: a\r\r"), .events = {MSG("a")}},
    {.name = "eof in partial bom", .input = S("\xEF\xBB"), .finish = 1},
    {.name = "empty stream", .input = S("")},
    {.name = "named events",
     .input = S("event: chunk\ndata: {\"text\":\"hi\"}\n\nevent: session_end\ndata: {}\n\n"),
     .events = {TYPED("chunk", "{\"text\":\"hi\"}"), TYPED("session_end", "{}")}},
};

struct recorded_event
{
	char *type;
	size_t type_len;
	char *data;
	size_t data_len;
	char *id;
	size_t id_len;
	int64_t t_ns;
};

struct recording
{
	size_t n_events;
	struct recorded_event events[MAX_EVENTS];
	enum sse_status status;
	int finish;
	int64_t retry_ms;
	int stop_after; /* stop the parser after this many events; 0: never */
};

static char *
dup_bytes(const char *bytes, size_t len)
{
	char *copy = malloc(len + 1);

	assert_non_null(copy);
	memcpy(copy, bytes, len);
	copy[len] = '\0';
	return copy;
}

static int
record_event(void *arg, const struct sse_event *event)
{
	struct recording *rec = arg;
	struct recorded_event *copy;

	assert_true(rec->n_events < MAX_EVENTS);
	/* The strings are NUL-terminated as well as length-delimited. */
	assert_int_equal(event->type[event->type_len], '\0');
	assert_int_equal(event->data[event->data_len], '\0');
	assert_int_equal(event->id[event->id_len], '\0');
	copy = &rec->events[rec->n_events++];
	copy->type = dup_bytes(event->type, event->type_len);
	copy->type_len = event->type_len;
	copy->data = dup_bytes(event->data, event->data_len);
	copy->data_len = event->data_len;
	copy->id = dup_bytes(event->id, event->id_len);
	copy->id_len = event->id_len;
	copy->t_ns = event->t_ns;
	return rec->stop_after > 0 && rec->n_events >= (size_t) rec->stop_after;
}

static void
recording_clear(struct recording *rec)
{
	for (size_t i = 0; i < rec->n_events; i++)
	{
		free(rec->events[i].type);
		free(rec->events[i].data);
		free(rec->events[i].id);
	}
	memset(rec, 0, sizeof(*rec));
}

/*
 * Parse the vector cut at the given offsets (ascending); each piece is
 * stamped with its start offset, and empty pieces are fed too.
 */
static void
parse_pieces(const struct vector *v, const size_t *cuts, size_t n_cuts, struct recording *rec)
{
	struct sse_parser *parser =
	    sse_parser_new(v->max_event_bytes ? v->max_event_bytes : 4096, record_event, rec);
	size_t start = 0;

	assert_non_null(parser);
	rec->status = SSE_OK;
	for (size_t i = 0; i <= n_cuts && rec->status == SSE_OK; i++)
	{
		size_t end = i < n_cuts ? cuts[i] : v->input.len;

		rec->status = sse_feed(parser, v->input.ptr + start, end - start, (int64_t) start);
		start = end;
	}
	rec->finish = sse_finish(parser);
	rec->retry_ms = sse_retry_ms(parser);
	sse_parser_free(parser);
}

/* Every byte alone, with an empty chunk before each. */
static void
parse_bytewise(const struct vector *v, struct recording *rec)
{
	struct sse_parser *parser =
	    sse_parser_new(v->max_event_bytes ? v->max_event_bytes : 4096, record_event, rec);

	assert_non_null(parser);
	rec->status = SSE_OK;
	for (size_t i = 0; i < v->input.len && rec->status == SSE_OK; i++)
	{
		rec->status = sse_feed(parser, v->input.ptr + i, 0, (int64_t) i);
		if (rec->status == SSE_OK)
			rec->status = sse_feed(parser, v->input.ptr + i, 1, (int64_t) i);
	}
	rec->finish = sse_finish(parser);
	rec->retry_ms = sse_retry_ms(parser);
	sse_parser_free(parser);
}

static void
assert_bytes_equal(const char *what, const char *got, size_t got_len, struct str want,
                   const char *vector, const char *split)
{
	if (got_len != want.len || memcmp(got, want.ptr, got_len) != 0)
		fail_msg("%s: %s differs (got %zu bytes, want %zu) when split %s", vector, what, got_len,
		         want.len, split);
}

static size_t
expected_events(const struct vector *v)
{
	size_t n = 0;

	while (n < MAX_EVENTS && v->events[n].type.ptr != NULL)
		n++;
	return n;
}

/* Compare a run with the vector; cuts[] are the piece starts, for t_ns. */
static void
check_run(const struct vector *v, const struct recording *rec, const struct recording *bytewise,
          const size_t *cuts, size_t n_cuts, const char *split)
{
	size_t n_events = expected_events(v);
	int64_t retry_ms = v->retry ? v->retry_ms : -1;

	if (rec->n_events != n_events)
		fail_msg("%s: %zu events, want %zu, when split %s", v->name, rec->n_events, n_events,
		         split);
	if (rec->status != v->status || rec->finish != v->finish || rec->retry_ms != retry_ms)
		fail_msg("%s: status %d finish %d retry %lld, want %d %d %lld, when split %s", v->name,
		         rec->status, rec->finish, (long long) rec->retry_ms, v->status, v->finish,
		         (long long) retry_ms, split);
	for (size_t i = 0; i < n_events; i++)
	{
		const struct recorded_event *got = &rec->events[i];
		const struct expected_event *want = &v->events[i];
		int64_t first_byte = bytewise->events[i].t_ns;
		int64_t piece_start = 0;

		assert_bytes_equal("type", got->type, got->type_len, want->type, v->name, split);
		assert_bytes_equal("data", got->data, got->data_len, want->data, v->name, split);
		assert_bytes_equal("id", got->id, got->id_len, want->id, v->name, split);
		for (size_t c = 0; c < n_cuts && (int64_t) cuts[c] <= first_byte; c++)
			piece_start = (int64_t) cuts[c];
		if (got->t_ns != piece_start)
			fail_msg("%s: event %zu stamped %lld, want %lld, when split %s", v->name, i,
			         (long long) got->t_ns, (long long) piece_start, split);
	}
}

/* One vector: whole, bytewise, at every position and every pair. */
static void
test_vector(void **state)
{
	const struct vector *v = *state;
	struct recording bytewise = {0}, rec = {0};
	size_t n = v->input.len;
	size_t all[256];
	char split[64];

	assert_true(n < sizeof(all) / sizeof(all[0]));
	parse_bytewise(v, &bytewise);
	for (size_t i = 0; i < n; i++)
		all[i] = i + 1;
	check_run(v, &bytewise, &bytewise, all, n > 0 ? n - 1 : 0, "bytewise");

	parse_pieces(v, NULL, 0, &rec);
	check_run(v, &rec, &bytewise, NULL, 0, "nowhere");
	recording_clear(&rec);

	for (size_t i = 0; i <= n; i++)
	{
		size_t cut[1] = {i};

		parse_pieces(v, cut, 1, &rec);
		snprintf(split, sizeof(split), "at %zu", i);
		check_run(v, &rec, &bytewise, cut, 1, split);
		recording_clear(&rec);
		for (size_t j = i; j <= n; j++)
		{
			size_t cuts[2] = {i, j};

			parse_pieces(v, cuts, 2, &rec);
			snprintf(split, sizeof(split), "at %zu and %zu", i, j);
			check_run(v, &rec, &bytewise, cuts, 2, split);
			recording_clear(&rec);
		}
	}
	recording_clear(&bytewise);
}

/* Feed (chunk, time) pairs to a fresh parser; returns the finish verdict. */
static int
feed_stamped(struct recording *rec, const char *const *chunks, const int64_t *times, size_t n)
{
	struct sse_parser *parser = sse_parser_new(4096, record_event, rec);
	int cut;

	assert_non_null(parser);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sse_feed(parser, chunks[i], strlen(chunks[i]), times[i]), SSE_OK);
	cut = sse_finish(parser);
	sse_parser_free(parser);
	return cut;
}

/* An event that starts in one chunk and completes in a later one keeps the first time. */
static void
test_timestamp_first_byte(void **state)
{
	static const char *const chunks[] = {"da", "ta: hel", "lo\n", "\n"};
	static const int64_t times[] = {100, 200, 300, 400};
	struct recording rec = {0};

	(void) state;
	assert_int_equal(feed_stamped(&rec, chunks, times, 4), 0);
	assert_int_equal(rec.n_events, 1);
	assert_string_equal(rec.events[0].data, "hello");
	assert_int_equal(rec.events[0].t_ns, 100);
	recording_clear(&rec);
}

/* Comments, blank lines and a BOM before an event do not start it. */
static void
test_timestamp_ignores_comments(void **state)
{
	static const char *const chunks[] = {
	    "\xEF\xBB",       "\xBF",        ": ping\n", "\n\r\n:x",  "\n",
	    "event: chunk\n", "data: a\n\n", ": ping\n", "data: b\n", "\n"};
	static const int64_t times[] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
	struct recording rec = {0};

	(void) state;
	assert_int_equal(feed_stamped(&rec, chunks, times, 10), 0);
	assert_int_equal(rec.n_events, 2);
	assert_string_equal(rec.events[0].type, "chunk");
	assert_int_equal(rec.events[0].t_ns, 60);
	assert_int_equal(rec.events[1].t_ns, 90);
	recording_clear(&rec);
}

/* Bytes held back as a possible BOM keep the time they arrived. */
static void
test_timestamp_partial_bom(void **state)
{
	static const char *const chunks[] = {"\xEF", "\xBB", "x: 1\ndata: a\n\n"};
	static const int64_t times[] = {5, 6, 7};
	struct recording rec = {0};

	(void) state;
	assert_int_equal(feed_stamped(&rec, chunks, times, 3), 0);
	assert_int_equal(rec.n_events, 1);
	assert_int_equal(rec.events[0].t_ns, 5);
	recording_clear(&rec);
}

/* A non-zero return from the callback stops the parser for good. */
static void
test_callback_stops(void **state)
{
	static const char input[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	struct recording rec = {.stop_after = 2};
	struct sse_parser *parser = sse_parser_new(4096, record_event, &rec);

	(void) state;
	assert_int_equal(sse_feed(parser, input, strlen(input), 1), SSE_STOPPED);
	assert_int_equal(rec.n_events, 2);
	assert_int_equal(sse_feed(parser, "data: 4\n\n", 9, 2), SSE_STOPPED);
	assert_int_equal(rec.n_events, 2);
	assert_int_equal(sse_finish(parser), 0);
	sse_parser_free(parser);
	recording_clear(&rec);
}

/* Empty chunks, even without a buffer, change nothing and stamp nothing. */
static void
test_empty_chunks(void **state)
{
	struct recording rec = {0};
	struct sse_parser *parser = sse_parser_new(4096, record_event, &rec);

	(void) state;
	assert_int_equal(sse_feed(parser, NULL, 0, 1), SSE_OK);
	assert_int_equal(sse_feed(parser, "\xEF", 1, 2), SSE_OK);
	assert_int_equal(sse_feed(parser, NULL, 0, 3), SSE_OK);
	assert_int_equal(sse_feed(parser, "\xBB\xBF", 2, 4), SSE_OK);
	assert_int_equal(sse_feed(parser, "", 0, 5), SSE_OK);
	assert_int_equal(sse_feed(parser, "data: x\r", 9, 6), SSE_OK);
	assert_int_equal(sse_feed(parser, NULL, 0, 7), SSE_OK);
	assert_int_equal(sse_feed(parser, "\n\n", 2, 8), SSE_OK);
	assert_int_equal(rec.n_events, 1);
	assert_string_equal(rec.events[0].data, "x");
	assert_int_equal(rec.events[0].t_ns, 6);
	assert_int_equal(sse_finish(parser), 0);
	sse_parser_free(parser);
	recording_clear(&rec);
}

/* Invalid construction arguments are refused. */
static void
test_new_rejects_bad_arguments(void **state)
{
	struct recording rec = {0};

	(void) state;
	assert_null(sse_parser_new(4096, NULL, &rec));
	assert_null(sse_parser_new(0, record_event, &rec));
	assert_null(sse_parser_new(SIZE_MAX, record_event, &rec));
}

static double
seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double) (now.tv_sec - start->tv_sec) + (double) (now.tv_nsec - start->tv_nsec) / 1e9;
}

/*
 * A 1 MiB data line fed one byte at a time must take linear time: a parser
 * that rescans its line buffer on every chunk does 5e11 byte comparisons
 * here and cannot finish within the bound.
 */
static void
test_large_line_linear(void **state)
{
	const size_t n = (size_t) 1 << 20;
	struct recording rec = {0};
	struct sse_parser *parser = sse_parser_new(n + 1, record_event, &rec);
	struct timespec start;

	(void) state;
	assert_non_null(parser);
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(sse_feed(parser, "data: ", 6, 0), SSE_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sse_feed(parser, "x", 1, 1), SSE_OK);
	assert_int_equal(sse_feed(parser, "\r", 1, 2), SSE_OK);
	assert_int_equal(sse_feed(parser, "\n\n", 2, 3), SSE_OK);
	assert_true(seconds_since(&start) < 10.0);
	assert_int_equal(rec.n_events, 1);
	assert_int_equal(rec.events[0].data_len, n);
	assert_int_equal(sse_finish(parser), 0);
	sse_parser_free(parser);
	recording_clear(&rec);
}

int
main(void)
{
	enum
	{
		N_VECTORS = sizeof(vectors) / sizeof(vectors[0])
	};
	static const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(test_timestamp_first_byte),
	    cmocka_unit_test(test_timestamp_ignores_comments),
	    cmocka_unit_test(test_timestamp_partial_bom),
	    cmocka_unit_test(test_callback_stops),
	    cmocka_unit_test(test_empty_chunks),
	    cmocka_unit_test(test_new_rejects_bad_arguments),
	    cmocka_unit_test(test_large_line_linear),
	};
	enum
	{
		N_FIXED = sizeof(fixed) / sizeof(fixed[0])
	};
	struct CMUnitTest tests[N_VECTORS + N_FIXED];

	for (size_t i = 0; i < N_VECTORS; i++)
	{
		struct CMUnitTest t = cmocka_unit_test_prestate(test_vector, (void *) &vectors[i]);

		t.name = vectors[i].name;
		tests[i] = t;
	}
	memcpy(tests + N_VECTORS, fixed, sizeof(fixed));
	return _cmocka_run_group_tests("sse", tests, N_VECTORS + N_FIXED, NULL, NULL);
}
