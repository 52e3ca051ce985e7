/*
 * fuzz_sse.c - differential fuzzing of the SSE parser.
 *
 * The input's first bytes choose split points (split_input.h) and the event
 * limit (16 << flags bits, 16..2048 bytes); the payload is parsed three ways:
 * in one piece, one byte at a time, and in the chosen pieces.  The oracle:
 * all three give the same events (type, data, id), final status, sse_finish()
 * verdict and retry time, and the chunked runs stamp each event with the
 * offset of the piece that delivered its first field byte, which the
 * bytewise run (stamped with each byte's own offset) reveals.  Any mismatch
 * aborts; the sanitizers catch memory errors.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "split_input.h"
#include "stream/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A byte log of the events seen, and their stamps. */
struct run
{
	struct sse_parser *parser;
	enum sse_status status;
	char *log;
	size_t log_len;
	int64_t *stamps;
	size_t n_events;
	size_t *starts; /* piece offsets, ascending */
	size_t n_starts;
};

static void
append(struct run *run, const void *bytes, size_t len)
{
	char *grown = realloc(run->log, run->log_len + len);

	if (grown == NULL)
		abort();
	run->log = grown;
	if (len > 0)
		memcpy(run->log + run->log_len, bytes, len);
	run->log_len += len;
}

/* Log a string with its length, so "a","bc" and "ab","c" differ. */
static void
append_str(struct run *run, const char *s, size_t len)
{
	append(run, &len, sizeof(len));
	append(run, s, len);
}

static int
on_event(void *arg, const struct sse_event *event)
{
	struct run *run = arg;
	int64_t *grown = realloc(run->stamps, (run->n_events + 1) * sizeof(int64_t));

	if (grown == NULL)
		abort();
	run->stamps = grown;
	run->stamps[run->n_events++] = event->t_ns;
	if (event->type_len == 0 || event->type[event->type_len] != '\0' ||
	    event->data[event->data_len] != '\0' || event->id[event->id_len] != '\0' ||
	    memchr(event->id, '\0', event->id_len) != NULL)
		abort();
	append_str(run, event->type, event->type_len);
	append_str(run, event->data, event->data_len);
	append_str(run, event->id, event->id_len);
	return 0;
}

static void
feed_piece(void *arg, const char *piece, size_t len, size_t offset)
{
	struct run *run = arg;
	size_t *grown = realloc(run->starts, (run->n_starts + 1) * sizeof(size_t));

	if (grown == NULL)
		abort();
	run->starts = grown;
	run->starts[run->n_starts++] = offset;
	if (run->status == SSE_OK)
		run->status = sse_feed(run->parser, piece, len, (int64_t) offset);
}

/* Parse the payload in the given pieces and log the outcome. */
static void
parse(struct run *run, const struct split_input *in, const uint8_t *lens, size_t n_lens)
{
	int64_t retry;
	int finish;

	memset(run, 0, sizeof(*run));
	run->parser = sse_parser_new((size_t) 16 << (in->flags & 7), on_event, run);
	if (run->parser == NULL)
		abort();
	split_feed(in, lens, n_lens, feed_piece, run);
	finish = sse_finish(run->parser);
	retry = sse_retry_ms(run->parser);
	append(run, &run->status, sizeof(run->status));
	append(run, &finish, sizeof(finish));
	append(run, &retry, sizeof(retry));
	sse_parser_free(run->parser);
}

static void
run_free(struct run *run)
{
	free(run->log);
	free(run->stamps);
	free(run->starts);
}

/* The same events and outcome, each stamped with its piece's offset. */
static void
check(const struct run *got, const struct run *bytewise, const char *what)
{
	if (got->log_len != bytewise->log_len || memcmp(got->log, bytewise->log, got->log_len) != 0 ||
	    got->n_events != bytewise->n_events)
	{
		fprintf(stderr, "fuzz_sse: %s parse differs from the bytewise parse\n", what);
		abort();
	}
	for (size_t i = 0; i < got->n_events; i++)
	{
		int64_t want = 0;

		for (size_t p = 0; p < got->n_starts && (int64_t) got->starts[p] <= bytewise->stamps[i];
		     p++)
			want = (int64_t) got->starts[p];
		if (got->stamps[i] != want)
		{
			fprintf(stderr, "fuzz_sse: %s event %zu stamped %lld, want %lld\n", what, i,
			        (long long) got->stamps[i], (long long) want);
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t one = 1;
	struct split_input in;
	struct run whole, bytewise, split;

	if (split_input_parse(&in, data, size) != 0)
		return 0;
	parse(&bytewise, &in, &one, 1);
	parse(&whole, &in, NULL, 0);
	parse(&split, &in, in.lens, in.n_lens);
	check(&whole, &bytewise, "one-shot");
	check(&split, &bytewise, "split");
	run_free(&whole);
	run_free(&bytewise);
	run_free(&split);
	return 0;
}
