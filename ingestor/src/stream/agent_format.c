/*
 * agent_format.c - requests and the stream observer shared by the four
 * formats (see agent_format.h; the per-format parts are format_*.c).
 *
 * The observer feeds body bytes to one SSE parser.  Each dispatched event is
 * decoded once (JSON_DECODE_ANY: AgentCore data may be a bare JSON string;
 * a frame whose integer overflows json_int_t, such as a provider's 64-bit
 * seed, is decoded again reading integers as reals), checked for the agent
 * reports every format may carry, classified by the format into a struct
 * stream_facts, and applied to the result.  Timestamps come from the parser
 * (arrival of the event's first byte), never from the time of decoding.  A
 * body that is not an event stream is buffered, within the event limit, and
 * read as one answer at finish, stamped with its last byte: its text can
 * be read only once the body is complete.  Memory follows util/alloc.h:
 * running out exits, so no path here reports it.
 */
#include <math.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stream/agent_format.h"
#include "stream/format.h"
#include "util/alloc.h"

#define JSON_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

struct stream_observer
{
	const struct format_ops *ops;
	struct sse_parser *sse;
	size_t max_event_bytes;
	bool event_stream; /* the body is text/event-stream (or unlabelled) */
	bool seen_byte;
	bool seen_reasoning;
	bool finished;
	int64_t last_byte_ns;
	char *answer; /* a non event-stream body, at most max_event_bytes */
	size_t answer_len;
	size_t answer_cap;
	struct stream_result result;
};

static const struct format_ops *const formats[] = {
    [AGENT_FORMAT_LOOM] = &format_loom,
    [AGENT_FORMAT_AGENTCORE] = &format_agentcore,
    [AGENT_FORMAT_OPENAI] = &format_openai,
    [AGENT_FORMAT_ANTHROPIC] = &format_anthropic,
};

/* The ops of a format, or NULL when out of range. */
static const struct format_ops *
format_ops_of(enum agent_format format)
{
	if ((unsigned) format >= sizeof(formats) / sizeof(formats[0]))
		return NULL;
	return formats[format];
}

int
agent_format_parse(const char *name, enum agent_format *out)
{
	for (size_t i = 0; name != NULL && i < sizeof(formats) / sizeof(formats[0]); i++)
	{
		if (strcmp(name, formats[i]->name) == 0)
		{
			*out = (enum agent_format) i;
			return 0;
		}
	}
	return -1;
}

const char *
agent_format_name(enum agent_format format)
{
	const struct format_ops *ops = format_ops_of(format);

	return ops != NULL ? ops->name : "unknown";
}

char *
agent_format_request_body(enum agent_format format, const struct agent_request *request,
                          size_t *len)
{
	const struct format_ops *ops = format_ops_of(format);
	json_t *root;
	char *body;

	if (ops == NULL || request == NULL || request->prompt == NULL)
		return NULL;
	root = ops->request(request);
	if (root == NULL)
		return NULL;
	body = xcheck(json_dumps(root, JSON_COMPACT));
	json_decref(root);
	if (len != NULL)
		*len = strlen(body);
	return body;
}

/* A header value must not smuggle in a line end or other control bytes. */
static bool
header_value_ok(const char *value)
{
	if (*value == '\0')
		return false;
	for (const unsigned char *p = (const unsigned char *) value; *p != '\0'; p++)
	{
		if (*p < 0x20 || *p == 0x7F)
			return false;
	}
	return true;
}

/* Append one header line to a list that is not empty. */
static void
append_header(struct curl_slist *list, const char *line)
{
	xcheck(curl_slist_append(list, line));
}

/*
 * Our headers are built in a list of their own and linked to the caller's
 * only when complete, so on failure (NULL: a session id that is not a valid
 * header value) the caller's list is left exactly as it was.
 */
struct curl_slist *
agent_format_request_headers(enum agent_format format, const struct agent_request *request,
                             struct curl_slist *list)
{
	const struct format_ops *ops = format_ops_of(format);
	struct curl_slist *ours, *tail;
	const char *session = request != NULL ? request->session_id : NULL;

	if (ops == NULL)
		return NULL;
	if (ops->session_header != NULL && session != NULL && !header_value_ok(session))
		return NULL;
	ours = xcheck(curl_slist_append(NULL, "Content-Type: application/json"));
	append_header(ours, "Accept: text/event-stream");
	if (ops->version_header != NULL)
		append_header(ours, ops->version_header);
	if (ops->session_header != NULL && session != NULL)
	{
		char *line = xasprintf("%s: %s", ops->session_header, session);

		append_header(ours, line);
		free(line);
	}
	if (list == NULL)
		return ours;
	for (tail = list; tail->next != NULL; tail = tail->next)
		;
	tail->next = ours;
	return list;
}

bool
format_event_is(const struct sse_event *event, const char *name)
{
	return event->type_len == strlen(name) && memcmp(event->type, name, event->type_len) == 0;
}

bool
format_text(json_t *value, enum stream_kind kind, struct stream_facts *facts)
{
	if (!json_is_string(value) || json_string_length(value) == 0)
		return false;
	facts->kind = kind;
	facts->text_len = json_string_length(value);
	return true;
}

long
format_count(json_t *obj, const char *key)
{
	json_t *value = json_object_get(obj, key);
	double real = json_real_value(value);

	if (json_is_integer(value))
		return json_integer_value(value) >= 0 && json_integer_value(value) <= (json_int_t) LONG_MAX
		           ? (long) json_integer_value(value)
		           : -1;
	/* 0x1p63 is LONG_MAX + 1, exactly representable, unlike LONG_MAX */
	if (json_is_real(value) && real >= 0 && real < 0x1p63 && real == floor(real))
		return (long) real;
	return -1;
}

bool
format_has_error(json_t *obj)
{
	json_t *error = json_object_get(obj, "error");

	return error != NULL && !json_is_null(error) && !json_is_false(error);
}

/* obj[key] when it is a string, else NULL. */
static const char *
string_field(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

void
format_error(json_t *obj, struct stream_facts *facts)
{
	json_t *error = json_object_get(obj, "error");
	json_t *message = json_object_get(obj, "message");
	const char *type = string_field(obj, "error_type");

	facts->kind = STREAM_ERROR;
	if (type == NULL)
		type = string_field(obj, "code");
	if (json_is_object(error))
	{
		if (!json_is_string(message))
			message = json_object_get(error, "message");
		if (type == NULL)
			type = string_field(error, "type");
	}
	else if (json_is_string(error))
	{
		if (json_is_string(message) && !json_equal(message, error))
		{
			facts->error_note = json_string_value(message);
			facts->error_note_len = json_string_length(message);
		}
		message = error;
	}
	else if (error == NULL && type == NULL)
		type = string_field(obj, "type"); /* a flat {"object":"error","type","message"} */
	facts->error_type = type;
	if (json_is_string(message))
	{
		facts->error = json_string_value(message);
		facts->error_len = json_string_length(message);
	}
}

void
format_classify_plain_answer(json_t *root, struct stream_facts *facts)
{
	static const char *const keys[] = {"data", "text", "response"};

	if (format_text(root, STREAM_TEXT, facts))
		return;
	if (format_has_error(root))
	{
		format_error(root, facts);
		return;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
	{
		if (format_text(json_object_get(root, keys[i]), STREAM_TEXT, facts))
			return;
	}
}

bool
format_number(json_t *obj, const char *key, double *out)
{
	json_t *value = json_object_get(obj, key);

	if (!json_is_number(value))
		return false;
	*out = json_number_value(value);
	return true;
}

/* The agent reports every format may carry; true when root is one. */
static bool
classify_agent_report(json_t *root, struct stream_facts *facts)
{
	const char *type = string_field(root, "type");

	if (type == NULL)
		return false;
	if (strcmp(type, "timing") == 0)
	{
		facts->phase = string_field(root, "phase");
		if (facts->phase != NULL && facts->phase[0] != '\0' &&
		    format_number(root, "duration_ms", &facts->phase_duration_ms))
		{
			facts->kind = STREAM_TIMING;
			if (!format_number(root, "start_ms", &facts->phase_start_ms))
				facts->phase_start_ms = -1;
		}
		return true;
	}
	if (strcmp(type, "agent_start") == 0)
	{
		facts->kind = STREAM_AGENT_START;
		facts->has_agent_start = format_number(root, "agent_start_time", &facts->agent_start_time);
		return true;
	}
	if (strcmp(type, "cold_start") == 0)
	{
		facts->kind = STREAM_COLD_START;
		facts->has_cold_start =
		    format_number(root, "cold_start_latency_ms", &facts->cold_start_latency_ms);
		return true;
	}
	return false;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t
utf8_sequence(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
	{
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	}
	return len;
}

/*
 * Append text (len bytes, maybe untrusted) to out[size], which holds at
 * bytes, as clean one-line UTF-8: control bytes become spaces, invalid
 * sequences '?', and the copy stops before a character that would not fit.
 * Returns the new length.
 */
static size_t
append_clean(char *out, size_t size, size_t at, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *) text;

	for (size_t i = 0; i < len;)
	{
		size_t seq = utf8_sequence(s + i, len - i);
		size_t n = seq > 0 ? seq : 1;

		if (at + n >= size)
			break;
		if (seq == 0)
			out[at] = '?';
		else if (seq == 1 && (s[i] < 0x20 || s[i] == 0x7F))
			out[at] = ' ';
		else
			memcpy(out + at, s + i, n);
		at += n;
		i += n;
	}
	out[at] = '\0';
	return at;
}

/* Fail the stream (the first reason wins); the message is cleaned. */
static void __attribute__((format(printf, 2, 3)))
observer_fail(struct stream_observer *obs, const char *fmt, ...)
{
	char message[STREAM_ERROR_LEN * 2];
	va_list ap;
	int n;

	if (obs->result.failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	obs->result.failed = true;
	append_clean(obs->result.error, sizeof(obs->result.error), 0, message,
	             (size_t) n < sizeof(message) ? (size_t) n : sizeof(message) - 1);
}

/* Fail with the provider's "type: cause; note" (cause and note may hold NULs). */
static void
observer_fail_provider(struct stream_observer *obs, const struct stream_facts *facts)
{
	char *out = obs->result.error;
	size_t size = sizeof(obs->result.error);
	size_t type_len = facts->error_type != NULL ? strlen(facts->error_type) : 0;
	size_t at = 0;

	if (obs->result.failed)
		return;
	if (type_len == 0 && facts->error_len == 0 && facts->error_note_len == 0)
	{
		observer_fail(obs, "%s error event without a message", obs->ops->name);
		return;
	}
	obs->result.failed = true;
	at = append_clean(out, size, at, facts->error_type, type_len);
	if (type_len > 0 && facts->error_len + facts->error_note_len > 0)
		at = append_clean(out, size, at, ": ", 2);
	at = append_clean(out, size, at, facts->error, facts->error_len);
	if (facts->error_len > 0 && facts->error_note_len > 0)
		at = append_clean(out, size, at, "; ", 2);
	append_clean(out, size, at, facts->error_note, facts->error_note_len);
}

/* Record an agent-reported phase, keeping the first STREAM_MAX_PHASES. */
static void
observer_add_phase(struct stream_observer *obs, const struct stream_facts *facts)
{
	struct stream_result *r = &obs->result;
	struct stream_phase *phase;

	if (r->n_phases == STREAM_MAX_PHASES)
		return;
	phase = &r->phases[r->n_phases++];
	append_clean(phase->name, sizeof(phase->name), 0, facts->phase, strlen(facts->phase));
	phase->start_ms = facts->phase_start_ms;
	phase->duration_ms = facts->phase_duration_ms;
}

/* Set a token count (-1: not given), or add one model call's to the earlier ones. */
static void
observer_count(long *total, long count, bool add)
{
	if (count < 0)
		return;
	if (add && *total > 0)
		*total = count > LONG_MAX - *total ? LONG_MAX : *total + count;
	else
		*total = count;
}

/* Apply what an event that began at t_ns said. */
static void
observer_apply(struct stream_observer *obs, const struct stream_facts *facts, int64_t t_ns)
{
	struct stream_result *r = &obs->result;

	switch (facts->kind)
	{
		case STREAM_TEXT:
			if (r->text_bytes == 0)
				r->first_text_ns = t_ns;
			r->last_text_ns = t_ns;
			r->text_bytes += facts->text_len;
			break;
		case STREAM_REASONING:
			if (!obs->seen_reasoning)
				r->first_reasoning_ns = t_ns;
			obs->seen_reasoning = true;
			break;
		case STREAM_TIMING:
			observer_add_phase(obs, facts);
			break;
		case STREAM_END:
			r->ended = true;
			r->end_ns = t_ns;
			break;
		case STREAM_ERROR:
			observer_fail_provider(obs, facts);
			break;
		default:
			break;
	}
	if (facts->finish)
		r->finish_ns = t_ns;
	observer_count(&r->input_tokens, facts->input_tokens, facts->tokens_add);
	observer_count(&r->output_tokens, facts->output_tokens, facts->tokens_add);
	if (facts->has_cold_start)
	{
		r->has_cold_start = true;
		r->cold_start_latency_ms = facts->cold_start_latency_ms;
	}
	if (facts->has_agent_start)
	{
		r->has_agent_start = true;
		r->agent_start_time = facts->agent_start_time;
	}
}

static void
facts_init(struct stream_facts *facts)
{
	memset(facts, 0, sizeof(*facts));
	facts->kind = STREAM_META;
	facts->input_tokens = -1;
	facts->output_tokens = -1;
}

/* Decode data as JSON; an integer beyond json_int_t (a 64-bit seed, say)
 * makes jansson refuse the whole text, which is then read with integers as
 * reals (format_count still reads integral counts). */
static json_t *
decode(const char *data, size_t len, json_error_t *error)
{
	json_t *root = json_loadb(data, len, JSON_FLAGS, error);

	if (root == NULL && json_error_code(error) == json_error_numeric_overflow)
		root = json_loadb(data, len, JSON_FLAGS | JSON_DECODE_INT_AS_REAL, error);
	return root;
}

/* One dispatched event: decode, classify, apply; non-zero stops the parser. */
static int
observer_on_event(void *arg, const struct sse_event *event)
{
	struct stream_observer *obs = arg;
	struct stream_result *r = &obs->result;
	const char *literal = obs->ops->end_literal;
	struct stream_facts facts;
	json_t *root = NULL;

	if (r->events++ == 0)
		r->first_event_ns = event->t_ns;
	if (r->ended)
	{
		r->events_after_end++;
		return 0;
	}
	facts_init(&facts);
	if (literal != NULL && event->data_len == strlen(literal) &&
	    memcmp(event->data, literal, event->data_len) == 0)
		facts.kind = STREAM_END;
	else
	{
		json_error_t error;

		root = decode(event->data, event->data_len, &error);
		if (root == NULL && !obs->ops->non_json_is_text)
		{
			observer_fail(obs, "malformed JSON in %s event \"%.*s\": %s", obs->ops->name,
			              (int) (event->type_len < 64 ? event->type_len : 64), event->type,
			              error.text);
			return 1;
		}
		if (root == NULL)
		{
			if (event->data_len > 0)
			{
				facts.kind = STREAM_TEXT;
				facts.text_len = event->data_len;
			}
		}
		else if (!classify_agent_report(root, &facts))
			obs->ops->classify(event, root, &facts);
	}
	observer_apply(obs, &facts, event->t_ns);
	json_decref(root);
	return r->failed ? 1 : 0;
}

struct stream_observer *
stream_observer_new(enum agent_format format, size_t max_event_bytes)
{
	const struct format_ops *ops = format_ops_of(format);
	struct stream_observer *obs;

	if (ops == NULL)
		return NULL;
	obs = xcalloc(1, sizeof(*obs));
	obs->ops = ops;
	obs->max_event_bytes = max_event_bytes;
	obs->event_stream = true;
	obs->result.input_tokens = -1;
	obs->result.output_tokens = -1;
	obs->sse = sse_parser_new(max_event_bytes, observer_on_event, obs);
	if (obs->sse == NULL)
	{
		free(obs);
		return NULL;
	}
	return obs;
}

void
stream_observer_free(struct stream_observer *observer)
{
	if (observer == NULL)
		return;
	sse_parser_free(observer->sse);
	free(observer->answer);
	free(observer);
}

void
stream_observer_set_content_type(struct stream_observer *observer, const char *content_type)
{
	static const char sse_type[] = "text/event-stream";
	size_t n = strlen(sse_type);

	if (observer->seen_byte || content_type == NULL)
		return;
	content_type += strspn(content_type, " \t");
	/* The media type, then the end, parameters or space (strchr finds the NUL too). */
	observer->event_stream =
	    strncasecmp(content_type, sse_type, n) == 0 && strchr("; \t", content_type[n]) != NULL;
}

/* Buffer part of a non event-stream answer, within the event limit. */
static void
observer_buffer_answer(struct stream_observer *obs, const char *buf, size_t len)
{
	size_t need;

	if (len == 0)
		return;
	if (len > obs->max_event_bytes - obs->answer_len)
	{
		observer_fail(obs, "%s answer larger than the event size limit (%zu bytes)", obs->ops->name,
		              obs->max_event_bytes);
		return;
	}
	need = obs->answer_len + len;
	if (need > obs->answer_cap)
	{
		size_t cap = obs->answer_cap ? obs->answer_cap : 4096;

		while (cap < need)
			cap = cap > obs->max_event_bytes / 2 ? obs->max_event_bytes : cap * 2;
		obs->answer = xrealloc(obs->answer, cap);
		obs->answer_cap = cap;
	}
	memcpy(obs->answer + obs->answer_len, buf, len);
	obs->answer_len = need;
}

int
stream_observer_feed(struct stream_observer *observer, const char *buf, size_t len, int64_t now_ns)
{
	struct stream_result *r = &observer->result;

	if (len > 0 && !observer->seen_byte)
	{
		observer->seen_byte = true;
		r->first_byte_ns = now_ns;
	}
	if (len > 0)
		observer->last_byte_ns = now_ns;
	if (r->failed || observer->finished)
		return r->failed ? -1 : 0;
	if (!observer->event_stream)
		observer_buffer_answer(observer, buf, len);
	else if (sse_feed(observer->sse, buf, len, now_ns) == SSE_TOO_LARGE)
		observer_fail(observer, "%s event larger than the event size limit (%zu bytes)",
		              observer->ops->name, observer->max_event_bytes);
	return r->failed ? -1 : 0;
}

/* Read the buffered application/json answer as one event at its last byte:
 * a JSON body can be read only when it is complete. */
static void
observer_read_answer(struct stream_observer *obs)
{
	struct stream_result *r = &obs->result;
	struct stream_facts facts;
	json_error_t error;
	json_t *root;

	if (obs->answer_len == 0)
		return;
	facts_init(&facts);
	root = decode(obs->answer, obs->answer_len, &error);
	if (root == NULL && !obs->ops->non_json_is_text)
	{
		observer_fail(obs, "malformed JSON in %s answer: %s", obs->ops->name, error.text);
		return;
	}
	if (root == NULL)
	{
		facts.kind = STREAM_TEXT;
		facts.text_len = obs->answer_len;
	}
	else
		obs->ops->classify_answer(root, &facts);
	r->events = 1;
	r->first_event_ns = obs->last_byte_ns;
	observer_apply(obs, &facts, obs->last_byte_ns);
	json_decref(root);
	r->ended = !r->failed;
	r->end_ns = r->ended ? obs->last_byte_ns : 0;
}

/* client_done_time: the end marker; else, or for a late marker after text,
 * the frame that finished the answer or the last token; a JSON answer's last
 * byte.  0 leaves it to the caller (the end of the transfer). */
static int64_t
observer_done_ns(const struct stream_observer *obs)
{
	const struct stream_result *r = &obs->result;

	if (!obs->event_stream)
		return r->end_ns;
	if (r->ended && !(obs->ops->done_at_last_text && r->text_bytes > 0))
		return r->end_ns;
	if (r->finish_ns != 0 && !r->ended)
		return r->finish_ns;
	return r->last_text_ns;
}

void
stream_observer_finish(struct stream_observer *observer, int64_t now_ns)
{
	const struct format_ops *ops = observer->ops;
	struct stream_result *r = &observer->result;

	if (observer->finished)
		return;
	observer->finished = true;
	if (observer->event_stream)
	{
		int cut = sse_finish(observer->sse);

		if (cut)
			observer_fail(observer, "stream cut mid-event");
		else if (ops->end_marker != NULL && !r->ended && r->finish_ns == 0 &&
		         !(ops->done_at_last_text && r->text_bytes > 0))
			observer_fail(observer, "stream ended before %s", ops->end_marker);
	}
	else if (!r->failed)
		observer_read_answer(observer);
	if (r->events == 0)
		observer_fail(observer, "empty response: no event in the body");
	r->done_ns = observer_done_ns(observer);
}

const struct stream_result *
stream_observer_result(const struct stream_observer *observer)
{
	return &observer->result;
}
