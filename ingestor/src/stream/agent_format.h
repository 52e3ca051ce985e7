/*
 * agent_format.h - the four agent wire formats: how to ask, and how to read
 * the answer.
 *
 *   loom       heeki/loom backend: POST {"prompt","session_id"?}; named SSE
 *              events session_start, chunk {"text"}, tool_use, token_info,
 *              session_end {timing...}, error {"message"}.
 *   agentcore  Bedrock AgentCore InvokeAgentRuntime: POST {"prompt"} with the
 *              X-Amzn-Bedrock-AgentCore-Runtime-Session-Id header; data-only
 *              SSE whose data is a JSON string (text, unless it is a Python
 *              repr of an event), an object with a string "data" (text),
 *              "thinking"/"reasoning", "tool_use", "error", or a Strands
 *              event (raw ConverseStream {"event": ...}, see format_strands.c);
 *              non-JSON data is text.  An application/json answer may be
 *              Strands' {"result": MESSAGE | STRING}.
 *   openai     chat completions, "stream": true; text is a non-empty
 *              choices[0].delta.content (a string, or parts of type "text")
 *              or delta.refusal; reasoning is delta.reasoning_content,
 *              delta.reasoning, delta.reasoning_details[].text or content
 *              parts of type "thinking"; "data: [DONE]" ends the stream, and
 *              so does the transfer's clean end after a finish_reason frame.
 *   anthropic  Messages API, "stream": true; text is content_block_delta with
 *              delta.type "text_delta"; "thinking_delta" is reasoning;
 *              message_stop ends; event "error" fails after HTTP 200.
 *
 * The first token is the first event with non-empty answer text.  Role-only
 * frames, pings, comments, start/stop markers, tool calls and usage frames
 * never count; reasoning text is timed separately (first_reasoning_ns).  A
 * stream that ends well without any answer text (tool calls only, say) is
 * not a failure: its result has text_bytes 0 and first_text_ns 0.
 *
 * In every format, a data object {"type":"timing","phase":P,"duration_ms":D
 * [,"start_ms":S]} adds an agent-reported phase, {"type":"agent_start",
 * "agent_start_time":UNIX_S} reports when the agent started (cold-start
 * evidence), and {"type":"cold_start","cold_start_latency_ms":MS} reports
 * the cold-start latency directly; loom's session_end carries both fields.
 */
#ifndef LOOMLAT_AGENT_FORMAT_H
#define LOOMLAT_AGENT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

enum agent_format
{
	AGENT_FORMAT_LOOM = 0,
	AGENT_FORMAT_AGENTCORE,
	AGENT_FORMAT_OPENAI,
	AGENT_FORMAT_ANTHROPIC
};

/* "loom", "agentcore", "openai", "anthropic" -> 0 and *out; unknown -> -1. */
int agent_format_parse(const char *name, enum agent_format *out);
const char *agent_format_name(enum agent_format format);

struct agent_request
{
	const char *prompt;     /* UTF-8 */
	const char *session_id; /* runtime session id; NULL = none */
	const char *model;      /* openai/anthropic "model"; NULL = a default */
};

/* The JSON request body (malloc'd, NUL-terminated, *len without the NUL);
 * NULL for an unknown format, or a prompt (or model) missing or not valid
 * UTF-8. */
char *agent_format_request_body(enum agent_format format, const struct agent_request *request,
                                size_t *len);

/* Append this format's request headers (Content-Type, Accept, session id
 * header, anthropic-version, ...) to list; returns the new list head.  On
 * failure (a session id with control characters, which would inject
 * headers) returns NULL and list is left unchanged. */
struct curl_slist *agent_format_request_headers(enum agent_format format,
                                                const struct agent_request *request,
                                                struct curl_slist *list);

#define STREAM_MAX_PHASES 32
#define STREAM_ERROR_LEN  512

struct stream_phase
{
	char name[64];
	double start_ms; /* -1 when the agent did not say */
	double duration_ms;
};

/* Everything the answer said, as it arrived.  Times are monotonic ns as
 * passed to stream_observer_feed(); 0 means "not seen". */
struct stream_result
{
	int64_t first_byte_ns;      /* first body byte */
	int64_t first_event_ns;     /* first dispatched event of any kind */
	int64_t first_text_ns;      /* the first token: TTFT ends here */
	int64_t first_reasoning_ns; /* first reasoning/thinking text */
	int64_t last_text_ns;
	int64_t end_ns;               /* logical end marker ([DONE], message_stop, session_end) */
	int64_t finish_ns;            /* last frame that said the answer is complete (finish_reason) */
	int64_t done_ns;              /* client_done_time, set by finish: the end marker, else the
	                               * finishing frame or the last token, and the last token for
	                               * loom (whose session_end follows log polling); a JSON
	                               * answer's last byte; 0 when none of them was seen */
	bool ended;                   /* end marker seen */
	bool failed;                  /* error event, malformed, cut, unended or empty stream,
	                               * or an event above the size limit */
	char error[STREAM_ERROR_LEN]; /* why, when failed */
	size_t events;
	size_t events_after_end; /* ignored: after [DONE], message_stop or session_end */
	size_t text_bytes;
	bool has_cold_start;
	double cold_start_latency_ms;
	bool has_agent_start;
	double agent_start_time; /* Unix seconds */
	long input_tokens;       /* -1 unknown; summed over a Strands agent's model calls */
	long output_tokens;      /* -1 unknown */
	size_t n_phases;
	struct stream_phase phases[STREAM_MAX_PHASES];
};

struct stream_observer;

/* NULL only for an unknown format or a max_event_bytes sse_parser_new() refuses. */
struct stream_observer *stream_observer_new(enum agent_format format, size_t max_event_bytes);
void stream_observer_free(struct stream_observer *observer);

/* The response's Content-Type (may be NULL); a non event-stream body (an
 * application/json answer) is buffered and interpreted at finish. */
void stream_observer_set_content_type(struct stream_observer *observer, const char *content_type);

/* Feed body bytes that arrived at now_ns; returns 0, or -1 once failed. */
int stream_observer_feed(struct stream_observer *observer, const char *buf, size_t len,
                         int64_t now_ns);

/* The body is complete (or cut): settle a cut, a missing end marker and an
 * empty body as failures; a stream without answer text is not one. */
void stream_observer_finish(struct stream_observer *observer, int64_t now_ns);

const struct stream_result *stream_observer_result(const struct stream_observer *observer);

#endif
