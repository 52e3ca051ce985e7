/*
 * sse.c - incremental text/event-stream parser (see sse.h).
 *
 * The parser walks each new chunk once.  Runs of ordinary bytes are appended
 * to the line buffer in one copy; a CR or LF completes the line, which is then
 * interpreted as a field, a comment or a blank (dispatching) line.  Because
 * only new bytes are ever scanned, a huge data line costs linear time however
 * finely it is split.  Comment lines are recognised by their first byte and
 * skipped without buffering, so keep-alive pings cost no memory.
 *
 * State carried across chunks: a pending CR (so that CR + LF split over two
 * chunks is one line end), the bytes of a possible leading BOM matched so far,
 * the partial line and the time its first byte arrived, the event's data and
 * type buffers, and the last event ID.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "stream/sse.h"
#include "util/alloc.h"

/* A line may exceed the event limit by its field name and ": ". */
#define SSE_LINE_SLACK 16
/* "retry" values saturate here (about 24.8 days) instead of overflowing. */
#define SSE_RETRY_MAX_MS INT64_C(2147483647)

static const char sse_bom[3] = {'\xEF', '\xBB', '\xBF'};

/* A length-delimited byte buffer, always NUL-terminated, at most limit bytes. */
struct sse_buf
{
	char *ptr;
	size_t len;
	size_t cap;
};

enum sse_line_state
{
	LINE_EMPTY,   /* no byte of the current line yet */
	LINE_FIELD,   /* buffering a field line */
	LINE_COMMENT, /* skipping a comment line */
};

struct sse_parser
{
	size_t max_event_bytes;
	size_t max_line_bytes;
	sse_event_fn on_event;
	void *arg;

	enum sse_status status; /* SSE_OK until the parser stops for good */
	bool pending_cr;        /* the last byte seen was a CR */
	bool bom_done;          /* past the point where a BOM may appear */
	size_t bom_matched;     /* leading bytes equal to the BOM so far */
	int64_t bom_t_ns;       /* arrival of the first of them */

	enum sse_line_state line_state;
	int64_t line_t_ns; /* arrival of the current line's first byte */
	bool in_event;     /* a field line of the current event was seen */
	int64_t event_t_ns;

	struct sse_buf line;
	struct sse_buf data;
	struct sse_buf type;
	struct sse_buf id;
	int64_t retry_ms;
};

/* Make room for len bytes (plus the NUL) without exceeding limit bytes. */
static enum sse_status
sse_buf_reserve(struct sse_buf *buf, size_t len, size_t limit)
{
	size_t cap;

	if (len > limit)
		return SSE_TOO_LARGE;
	if (len < buf->cap)
		return SSE_OK;
	cap = buf->cap ? buf->cap : 64;
	while (cap <= len)
		cap = cap > (limit + 1) / 2 ? limit + 1 : cap * 2;
	buf->ptr = xrealloc(buf->ptr, cap);
	buf->cap = cap;
	return SSE_OK;
}

/* Append n bytes, keeping the buffer within limit. */
static enum sse_status
sse_buf_append(struct sse_buf *buf, const char *bytes, size_t n, size_t limit)
{
	enum sse_status status;

	if (n > limit - buf->len)
		return SSE_TOO_LARGE;
	status = sse_buf_reserve(buf, buf->len + n, limit);
	if (status != SSE_OK)
		return status;
	if (n > 0)
		memcpy(buf->ptr + buf->len, bytes, n);
	buf->len += n;
	buf->ptr[buf->len] = '\0';
	return SSE_OK;
}

/* Replace the contents with n bytes. */
static enum sse_status
sse_buf_set(struct sse_buf *buf, const char *bytes, size_t n, size_t limit)
{
	buf->len = 0;
	if (buf->ptr != NULL)
		buf->ptr[0] = '\0';
	return sse_buf_append(buf, bytes, n, limit);
}

struct sse_parser *
sse_parser_new(size_t max_event_bytes, sse_event_fn on_event, void *arg)
{
	struct sse_parser *parser;

	if (on_event == NULL || max_event_bytes == 0 || max_event_bytes > SIZE_MAX / 2 - SSE_LINE_SLACK)
		return NULL;
	parser = xcalloc(1, sizeof(*parser));
	parser->max_event_bytes = max_event_bytes;
	parser->max_line_bytes = max_event_bytes + SSE_LINE_SLACK;
	parser->on_event = on_event;
	parser->arg = arg;
	parser->retry_ms = -1;
	return parser;
}

void
sse_parser_free(struct sse_parser *parser)
{
	if (parser == NULL)
		return;
	free(parser->line.ptr);
	free(parser->data.ptr);
	free(parser->type.ptr);
	free(parser->id.ptr);
	free(parser);
}

/* The blank line: hand the event over if its data buffer is not empty. */
static enum sse_status
sse_dispatch(struct sse_parser *parser)
{
	struct sse_event event;
	int rc;

	parser->in_event = false;
	if (parser->data.len == 0)
	{
		parser->type.len = 0;
		return SSE_OK;
	}
	/* Every data line appended an LF: drop the last one. */
	parser->data.len--;
	parser->data.ptr[parser->data.len] = '\0';

	event.type = parser->type.len > 0 ? parser->type.ptr : "message";
	event.type_len = parser->type.len > 0 ? parser->type.len : strlen("message");
	event.data = parser->data.ptr;
	event.data_len = parser->data.len;
	event.id = parser->id.len > 0 ? parser->id.ptr : "";
	event.id_len = parser->id.len;
	event.t_ns = parser->event_t_ns;

	rc = parser->on_event(parser->arg, &event);
	parser->data.len = 0;
	parser->type.len = 0;
	return rc != 0 ? SSE_STOPPED : SSE_OK;
}

/* Parse a "retry" value: ASCII digits only, saturating; -1 if not valid. */
static int64_t
sse_parse_retry(const char *value, size_t len)
{
	int64_t ms = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++)
	{
		if (value[i] < '0' || value[i] > '9')
			return -1;
		if (ms < SSE_RETRY_MAX_MS)
			ms = ms * 10 + (value[i] - '0');
	}
	return ms < SSE_RETRY_MAX_MS ? ms : SSE_RETRY_MAX_MS;
}

/* Field names are compared byte for byte: "Data" is not "data". */
static bool
sse_field_is(const char *name, size_t name_len, const char *expected)
{
	return name_len == strlen(expected) && memcmp(name, expected, name_len) == 0;
}

/* Interpret one complete field line (the line buffer). */
static enum sse_status
sse_process_field(struct sse_parser *parser)
{
	const char *line = parser->line.ptr;
	size_t len = parser->line.len;
	const char *colon = memchr(line, ':', len);
	size_t name_len = colon != NULL ? (size_t) (colon - line) : len;
	const char *value = line + len;
	size_t value_len = 0;

	if (!parser->in_event)
	{
		parser->in_event = true;
		parser->event_t_ns = parser->line_t_ns;
	}
	if (colon != NULL)
	{
		value = colon + 1;
		value_len = len - name_len - 1;
		if (value_len > 0 && value[0] == ' ')
		{
			value++;
			value_len--;
		}
	}

	if (sse_field_is(line, name_len, "data"))
	{
		/* The buffer holds the data plus one LF per line; the last LF is dropped. */
		enum sse_status status =
		    sse_buf_append(&parser->data, value, value_len, parser->max_event_bytes + 1);

		if (status == SSE_OK)
			status = sse_buf_append(&parser->data, "\n", 1, parser->max_event_bytes + 1);
		return status;
	}
	if (sse_field_is(line, name_len, "event"))
		return sse_buf_set(&parser->type, value, value_len, parser->max_line_bytes);
	if (sse_field_is(line, name_len, "id"))
	{
		if (memchr(value, '\0', value_len) != NULL)
			return SSE_OK;
		return sse_buf_set(&parser->id, value, value_len, parser->max_line_bytes);
	}
	if (sse_field_is(line, name_len, "retry"))
	{
		int64_t ms = sse_parse_retry(value, value_len);

		if (ms >= 0)
			parser->retry_ms = ms;
	}
	return SSE_OK;
}

/* A line end (CR, LF or CRLF) was reached. */
static enum sse_status
sse_end_line(struct sse_parser *parser)
{
	enum sse_line_state state = parser->line_state;
	enum sse_status status;

	parser->line_state = LINE_EMPTY;
	if (state == LINE_EMPTY)
		return sse_dispatch(parser);
	if (state == LINE_COMMENT)
		return SSE_OK;
	status = sse_process_field(parser);
	parser->line.len = 0;
	return status;
}

/* Consume bytes that are past any BOM; the heart of the state machine. */
static enum sse_status
sse_consume(struct sse_parser *parser, const char *buf, size_t len, int64_t now_ns)
{
	size_t i = 0;

	while (i < len)
	{
		char c = buf[i];
		size_t run;

		if (c == '\n' || c == '\r')
		{
			enum sse_status status = SSE_OK;

			/* The LF of a CRLF, even when the CR ended the previous chunk. */
			if (!(c == '\n' && parser->pending_cr))
				status = sse_end_line(parser);
			parser->pending_cr = c == '\r';
			i++;
			if (status != SSE_OK)
				return status;
			continue;
		}
		parser->pending_cr = false;
		if (parser->line_state == LINE_EMPTY)
		{
			parser->line_t_ns = now_ns;
			parser->line_state = c == ':' ? LINE_COMMENT : LINE_FIELD;
		}
		/* The run of ordinary bytes up to the next line end. */
		for (run = i + 1; run < len && buf[run] != '\n' && buf[run] != '\r'; run++)
			;
		if (parser->line_state == LINE_FIELD)
		{
			enum sse_status status =
			    sse_buf_append(&parser->line, buf + i, run - i, parser->max_line_bytes);

			if (status != SSE_OK)
				return status;
		}
		i = run;
	}
	return SSE_OK;
}

/* Match a leading BOM, possibly split across chunks; returns bytes eaten. */
static size_t
sse_skip_bom(struct sse_parser *parser, const char *buf, size_t len, int64_t now_ns,
             enum sse_status *status)
{
	size_t i = 0;

	*status = SSE_OK;
	while (!parser->bom_done && i < len)
	{
		if (buf[i] != sse_bom[parser->bom_matched])
		{
			/* Not a BOM after all: the bytes held back are content. */
			parser->bom_done = true;
			*status = sse_consume(parser, sse_bom, parser->bom_matched, parser->bom_t_ns);
			break;
		}
		if (parser->bom_matched++ == 0)
			parser->bom_t_ns = now_ns;
		i++;
		parser->bom_done = parser->bom_matched == sizeof(sse_bom);
	}
	return i;
}

enum sse_status
sse_feed(struct sse_parser *parser, const char *buf, size_t len, int64_t now_ns)
{
	size_t skipped;

	if (parser->status != SSE_OK || len == 0)
		return parser->status;
	skipped = sse_skip_bom(parser, buf, len, now_ns, &parser->status);
	if (parser->status == SSE_OK)
		parser->status = sse_consume(parser, buf + skipped, len - skipped, now_ns);
	return parser->status;
}

int
sse_finish(struct sse_parser *parser)
{
	bool cut;

	if (parser->status == SSE_STOPPED)
		return 0;
	if (parser->status != SSE_OK)
		return 1;
	/* A partial BOM is the start of an unterminated field line. */
	cut = parser->in_event || parser->line_state == LINE_FIELD ||
	      (!parser->bom_done && parser->bom_matched > 0);
	parser->status = SSE_STOPPED;
	return cut ? 1 : 0;
}

int64_t
sse_retry_ms(const struct sse_parser *parser)
{
	return parser->retry_ms;
}
