/*
 * sse.h - incremental parser for text/event-stream (WHATWG HTML, "Server-sent
 * events", event stream interpretation).
 *
 * Push API: feed bytes exactly as they arrive, split anywhere; the parser
 * calls on_event once per dispatched event, in order, with the same events
 * whatever the split.  It follows the spec: LF, CR and CRLF line ends (a CR
 * at the end of one chunk and an LF at the start of the next are one line
 * end), one leading BOM stripped, comments ignored, "data" lines joined with
 * LF, one leading space after the colon removed, "id" persisting across
 * events (ignored when it contains NUL), "retry" digits only, and an event
 * with an empty data buffer not dispatched.  Data may contain NUL bytes:
 * every string is passed with its length (and is also NUL-terminated).
 *
 * Timing: each event carries t_ns, the "now" passed to the sse_feed() call
 * that delivered the first byte of the event's first field line (comments
 * and blank lines do not start an event).  So TTFT is stamped when the event
 * started to arrive, before any parsing or JSON decoding.
 *
 * Limits: an event whose data grows beyond max_event_bytes makes sse_feed()
 * return SSE_TOO_LARGE and the parser stops; nothing grows without bound.
 * Memory comes from util/alloc.h: running out of it exits the process.
 */
#ifndef LOOMLAT_SSE_H
#define LOOMLAT_SSE_H

#include <stddef.h>
#include <stdint.h>

struct sse_event
{
	const char *type; /* "message" when no event field was given */
	size_t type_len;
	const char *data; /* without the final LF */
	size_t data_len;
	const char *id; /* last event ID, persisting across events */
	size_t id_len;
	int64_t t_ns; /* arrival of the event's first byte */
};

/* Return 0 to go on; non-zero stops the parser and sse_feed() returns SSE_STOPPED. */
typedef int (*sse_event_fn)(void *arg, const struct sse_event *event);

enum sse_status
{
	SSE_OK = 0,
	SSE_TOO_LARGE = -1,
	SSE_STOPPED = -2
};

struct sse_parser;

/* NULL only for bad arguments: no on_event, a max_event_bytes of 0 or near SIZE_MAX. */
struct sse_parser *sse_parser_new(size_t max_event_bytes, sse_event_fn on_event, void *arg);
void sse_parser_free(struct sse_parser *parser);

/* Parse len more bytes that arrived at now_ns. */
enum sse_status sse_feed(struct sse_parser *parser, const char *buf, size_t len, int64_t now_ns);

/* End of stream: returns 1 when an unterminated event was discarded, else 0. */
int sse_finish(struct sse_parser *parser);

/* Reconnection time from the last valid "retry" field, or -1 if none. */
int64_t sse_retry_ms(const struct sse_parser *parser);

#endif
