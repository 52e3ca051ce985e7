/*
 * format.h - the per-format halves of agent_format.c (internal to src/stream).
 *
 * agent_format.c owns everything the four formats share: the observer with
 * its SSE parser, JSON decoding, the agent reports every format may carry
 * ({"type":"timing"|"agent_start"|"cold_start"}), failures and the verdict at
 * the end.  Each format_<name>.c supplies one struct format_ops: how to ask
 * (request body and headers) and what one decoded event, or one whole
 * application/json answer, means.  Classifiers are pure: they read the event
 * and fill a struct stream_facts whose strings point into the decoded JSON;
 * the observer then applies the facts to the result.
 */
#ifndef LOOMLAT_STREAM_FORMAT_H
#define LOOMLAT_STREAM_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "stream/agent_format.h"
#include "stream/sse.h"

/* What one event is. */
enum stream_kind
{
	STREAM_META = 0,    /* start/stop markers, pings, role-only frames, unknown events */
	STREAM_TEXT,        /* non-empty answer text: the first one is the first token */
	STREAM_REASONING,   /* non-empty reasoning/thinking text */
	STREAM_TOOL,        /* a tool call or its arguments */
	STREAM_USAGE,       /* token counts only */
	STREAM_TIMING,      /* an agent-reported phase */
	STREAM_AGENT_START, /* when the agent started */
	STREAM_COLD_START,  /* the cold-start latency, as the agent measured it */
	STREAM_ERROR,       /* the provider reports a failure */
	STREAM_END          /* the format's logical end marker */
};

/* What one event said; any kind may also carry tokens and start times. */
struct stream_facts
{
	enum stream_kind kind;
	size_t text_len;    /* TEXT, REASONING: bytes of text (> 0) */
	long input_tokens;  /* -1: not in this event */
	long output_tokens; /* -1: not in this event */
	bool tokens_add;    /* the counts are one model call's: add them to the earlier ones */
	bool finish;        /* the answer is complete: the stream may stop without its end marker */
	bool has_cold_start;
	double cold_start_latency_ms;
	bool has_agent_start;
	double agent_start_time; /* Unix seconds */
	const char *phase;       /* TIMING: the phase name (NUL-terminated) */
	double phase_start_ms;   /* TIMING: -1 when not given */
	double phase_duration_ms;
	const char *error_type; /* ERROR: the provider's error type, or NULL */
	const char *error;      /* ERROR: the cause (may hold NULs), or NULL */
	size_t error_len;
	const char *error_note; /* ERROR: a second message, shown after the cause, or NULL */
	size_t error_note_len;
};

struct format_ops
{
	const char *name;
	const char *end_literal;    /* data that ends the stream, matched before JSON decoding */
	const char *end_marker;     /* the end a complete stream must reach; NULL: none */
	bool non_json_is_text;      /* data that is not JSON is answer text (else malformed) */
	bool done_at_last_text;     /* the end marker comes late: done is the last token, and a
	                             * stream that carried text is complete without it */
	const char *version_header; /* one fixed extra request header, or NULL */
	const char *session_header; /* the header carrying the session id, or NULL */
	/* The request body object, or NULL (prompt or model not UTF-8). */
	json_t *(*request)(const struct agent_request *request);
	/* Classify one event whose data decoded to root. */
	void (*classify)(const struct sse_event *event, json_t *root, struct stream_facts *facts);
	/* Classify a whole application/json answer. */
	void (*classify_answer)(json_t *root, struct stream_facts *facts);
};

extern const struct format_ops format_loom;
extern const struct format_ops format_agentcore;
extern const struct format_ops format_openai;
extern const struct format_ops format_anthropic;

/* Helpers shared by the formats (agent_format.c). */

/* The event's type is name. */
bool format_event_is(const struct sse_event *event, const char *name);

/* TEXT or REASONING facts from value when it is a non-empty string; else false. */
bool format_text(json_t *value, enum stream_kind kind, struct stream_facts *facts);

/* obj[key] as a token count: a non-negative integer (or an integral real, as
 * counts read when a frame's huge number made the decoder read reals), else -1. */
long format_count(json_t *obj, const char *key);

/* obj[key] as a double when it is a JSON number; else false. */
bool format_number(json_t *obj, const char *key, double *out);

/* obj has an "error" member that is not null or false. */
bool format_has_error(json_t *obj);

/* ERROR facts from the usual shapes: {"message"}, {"error": {"type", "message"}},
 * and AgentCore's {"error": CAUSE, "error_type", "message": FIXED} whose cause
 * comes first and message second; "error_type"/"code" name the type. */
void format_error(json_t *obj, struct stream_facts *facts);

/* An answer that is a JSON string or {"data"|"text"|"response": string}
 * (loom and AgentCore agents answering application/json). */
void format_classify_plain_answer(json_t *root, struct stream_facts *facts);

/* Strands (strands-agents/sdk-python) events as an AgentCore agent yields
 * them (format_strands.c); true when root is one, with facts filled. */
bool format_strands_event(json_t *root, struct stream_facts *facts);

/* A Strands result message {"role", "content": [{"text"}...]}: TEXT facts
 * for its text blocks; false when it has none. */
bool format_strands_message(json_t *message, struct stream_facts *facts);

#endif
