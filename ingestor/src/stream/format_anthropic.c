/*
 * format_anthropic.c - the Anthropic Messages API, "stream": true (see
 * agent_format.h).
 *
 * Named events whose name equals the data's "type": message_start (input
 * tokens), content_block_start, content_block_delta (text_delta is text,
 * thinking_delta reasoning, input_json_delta tool arguments),
 * content_block_stop, message_delta (cumulative output tokens), message_stop
 * (the end), ping, and error, which can arrive after HTTP 200.  Unknown event
 * types are ignored: new ones get added.
 */
#include <string.h>

#include "stream/format.h"

#define ANTHROPIC_DEFAULT_MODEL "claude-sonnet-4-5"
#define ANTHROPIC_MAX_TOKENS    1024

static json_t *
anthropic_request(const struct agent_request *request)
{
	return json_pack("{s:s, s:i, s:[{s:s, s:s}], s:b}", "model",
	                 request->model != NULL ? request->model : ANTHROPIC_DEFAULT_MODEL,
	                 "max_tokens", ANTHROPIC_MAX_TOKENS, "messages", "role", "user", "content",
	                 request->prompt, "stream", 1);
}

/* The event is of this type: by the data's "type", else by the event name. */
static bool
is_type(const struct sse_event *event, const char *type, const char *name)
{
	return type != NULL ? strcmp(type, name) == 0 : format_event_is(event, name);
}

/* Token counts of a usage object (cumulative in message_delta). */
static void
anthropic_usage(json_t *usage, struct stream_facts *facts)
{
	facts->input_tokens = format_count(usage, "input_tokens");
	facts->output_tokens = format_count(usage, "output_tokens");
}

static void
anthropic_classify(const struct sse_event *event, json_t *root, struct stream_facts *facts)
{
	const char *type = json_string_value(json_object_get(root, "type"));
	json_t *delta = json_object_get(root, "delta");
	const char *delta_type = json_string_value(json_object_get(delta, "type"));
	const char *block_type =
	    json_string_value(json_object_get(json_object_get(root, "content_block"), "type"));

	if (is_type(event, type, "content_block_delta") && delta_type != NULL)
	{
		if (strcmp(delta_type, "text_delta") == 0)
			format_text(json_object_get(delta, "text"), STREAM_TEXT, facts);
		else if (strcmp(delta_type, "thinking_delta") == 0)
			format_text(json_object_get(delta, "thinking"), STREAM_REASONING, facts);
		else if (strcmp(delta_type, "input_json_delta") == 0)
			facts->kind = STREAM_TOOL;
	}
	else if (is_type(event, type, "content_block_start") && block_type != NULL &&
	         strstr(block_type, "tool_use") != NULL)
		facts->kind = STREAM_TOOL;
	else if (is_type(event, type, "message_start"))
		facts->input_tokens = format_count(
		    json_object_get(json_object_get(root, "message"), "usage"), "input_tokens");
	else if (is_type(event, type, "message_delta"))
	{
		facts->kind = STREAM_USAGE;
		anthropic_usage(json_object_get(root, "usage"), facts);
	}
	else if (is_type(event, type, "message_stop"))
		facts->kind = STREAM_END;
	else if (is_type(event, type, "error") || format_has_error(root))
		format_error(root, facts);
}

/* A non-streamed message: the text blocks of "content", and its usage. */
static void
anthropic_classify_answer(json_t *root, struct stream_facts *facts)
{
	json_t *block;
	size_t i;

	if (format_has_error(root))
	{
		format_error(root, facts);
		return;
	}
	anthropic_usage(json_object_get(root, "usage"), facts);
	json_array_foreach(json_object_get(root, "content"), i, block)
	{
		json_t *text = json_object_get(block, "text");
		const char *block_type = json_string_value(json_object_get(block, "type"));

		if (block_type != NULL && strcmp(block_type, "text") == 0 && json_is_string(text))
			facts->text_len += json_string_length(text);
	}
	if (facts->text_len > 0)
		facts->kind = STREAM_TEXT;
}

const struct format_ops format_anthropic = {
    .name = "anthropic",
    .end_marker = "message_stop",
    .version_header = "anthropic-version: 2023-06-01",
    .request = anthropic_request,
    .classify = anthropic_classify,
    .classify_answer = anthropic_classify_answer,
};
