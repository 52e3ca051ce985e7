/*
 * fuzz_agent_format.c - arbitrary bodies through the stream observer.
 *
 * The input's first bytes choose split points (split_input.h); its flags
 * choose the format (2 bits), whether the body is labelled
 * application/json, and a small or a large event limit.  The body is
 * observed in one piece, one byte at a time and in the chosen pieces, with
 * each piece stamped 1 + its offset.  Besides the sanitizers, the oracle
 * checks what must hold for any input: the three runs agree on everything
 * but the stamps, the first-text stamp is that of the piece holding the byte
 * the bytewise run names, an error message is present exactly when the
 * stream failed and is clean one-line UTF-8, a successful stream had at
 * least one event (it may have no text: ttft NULL, not an error), and the
 * times are ordered.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "split_input.h"
#include "stream/agent_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run
{
	struct stream_observer *observer;
	size_t *starts; /* piece offsets, ascending */
	size_t n_starts;
	struct stream_result result;
};

#define REQUIRE(cond)                                                                              \
	do                                                                                             \
	{                                                                                              \
		if (!(cond))                                                                               \
		{                                                                                          \
			fprintf(stderr, "fuzz_agent_format: %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
			abort();                                                                               \
		}                                                                                          \
	} while (0)

static void
feed_piece(void *arg, const char *piece, size_t len, size_t offset)
{
	struct run *run = arg;
	size_t *grown = realloc(run->starts, (run->n_starts + 1) * sizeof(size_t));

	REQUIRE(grown != NULL);
	run->starts = grown;
	run->starts[run->n_starts++] = offset;
	stream_observer_feed(run->observer, piece, len, 1 + (int64_t) offset);
}

static void
observe(struct run *run, const struct split_input *in, const uint8_t *lens, size_t n_lens)
{
	enum agent_format format = (enum agent_format)(in->flags & 3);

	memset(run, 0, sizeof(*run));
	run->observer = stream_observer_new(format, (in->flags & 8) ? 1 << 16 : 96);
	REQUIRE(run->observer != NULL);
	stream_observer_set_content_type(run->observer,
	                                 (in->flags & 4) ? "application/json" : "text/event-stream");
	split_feed(in, lens, n_lens, feed_piece, run);
	stream_observer_finish(run->observer, 2 + (int64_t) in->size);
	run->result = *stream_observer_result(run->observer);
	stream_observer_free(run->observer);
}

/* Clean one-line UTF-8 (the observer writes '?' for invalid sequences). */
static bool
clean_text(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	while (*p != '\0')
	{
		size_t n = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC2 ? 2 : 0;

		if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7F)))
			return false;
		for (size_t i = 1; i < n; i++)
		{
			if ((p[i] & 0xC0) != 0x80)
				return false;
		}
		p += n;
	}
	return true;
}

/* What must hold for any one run. */
static void
check_invariants(const struct stream_result *r)
{
	REQUIRE(memchr(r->error, '\0', sizeof(r->error)) != NULL);
	REQUIRE(r->failed == (r->error[0] != '\0'));
	REQUIRE(clean_text(r->error));
	REQUIRE(r->failed || r->events > 0);
	REQUIRE((r->text_bytes > 0) == (r->first_text_ns > 0));
	REQUIRE(r->first_text_ns <= r->last_text_ns);
	REQUIRE(r->first_byte_ns <= r->first_event_ns || r->first_event_ns == 0);
	REQUIRE(r->first_event_ns <= r->first_text_ns || r->first_text_ns == 0);
	REQUIRE(r->ended || r->end_ns == 0);
	REQUIRE(r->events_after_end <= r->events);
	REQUIRE(r->n_phases <= STREAM_MAX_PHASES);
	for (size_t i = 0; i < r->n_phases; i++)
		REQUIRE(r->phases[i].name[0] != '\0' && clean_text(r->phases[i].name));
}

/* Everything but the stamps is the same however the body was split. */
static void
check_same(const struct stream_result *a, const struct stream_result *b)
{
	REQUIRE(a->failed == b->failed && strcmp(a->error, b->error) == 0);
	REQUIRE(a->ended == b->ended && a->events == b->events);
	REQUIRE(a->events_after_end == b->events_after_end && a->text_bytes == b->text_bytes);
	REQUIRE(a->input_tokens == b->input_tokens && a->output_tokens == b->output_tokens);
	REQUIRE(a->has_cold_start == b->has_cold_start && a->has_agent_start == b->has_agent_start);
	REQUIRE(a->n_phases == b->n_phases);
	REQUIRE((a->first_reasoning_ns > 0) == (b->first_reasoning_ns > 0));
}

/* The stamp of the piece holding the byte stamped bytewise_ns. */
static int64_t
piece_stamp(const struct run *run, int64_t bytewise_ns)
{
	int64_t stamp = 0;

	if (bytewise_ns == 0)
		return 0;
	for (size_t p = 0; p < run->n_starts && 1 + (int64_t) run->starts[p] <= bytewise_ns; p++)
		stamp = 1 + (int64_t) run->starts[p];
	return stamp;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t one = 1;
	struct split_input in;
	struct run runs[3];

	if (split_input_parse(&in, data, size) != 0)
		return 0;
	observe(&runs[0], &in, &one, 1);
	observe(&runs[1], &in, NULL, 0);
	observe(&runs[2], &in, in.lens, in.n_lens);
	for (int i = 0; i < 3; i++)
	{
		const struct stream_result *r = &runs[i].result;

		check_invariants(r);
		check_same(r, &runs[0].result);
		REQUIRE(r->first_text_ns == piece_stamp(&runs[i], runs[0].result.first_text_ns));
		REQUIRE(r->first_event_ns == piece_stamp(&runs[i], runs[0].result.first_event_ns));
		free(runs[i].starts);
	}
	return 0;
}
