/*
 * format_openai.c - OpenAI chat completions, "stream": true (see
 * agent_format.h).
 *
 * Data-only SSE of chat.completion.chunk objects; choices[0].delta says what
 * arrived.  Answer text is a non-empty "content" string (the first chunk is
 * role-only, content ""), the text parts of a "content" array (Mistral's
 * Magistral streams [{"type": "thinking", "thinking": [...]}, {"type":
 * "text", "text"}]), or a non-empty "refusal" (structured outputs stream the
 * refusal the user reads, with content null).  Reasoning is a non-empty
 * "reasoning_content" or "reasoning", the "text" or "summary" of a
 * "reasoning_details" entry (OpenRouter), or a "thinking" part.  Tool calls
 * and usage chunks ("choices": [] with stream_options.include_usage) are
 * not text.  "data: [DONE]" ends the stream; a server that omits it
 * (llama.cpp-family) ends cleanly after a chunk with a finish_reason.
 * {"error": {...}}, or vLLM's flat {"object": "error", "type", "message"},
 * fails it.
 */
#include <string.h>

#include "stream/format.h"

#define OPENAI_DEFAULT_MODEL "gpt-4o-mini"

static json_t *
openai_request(const struct agent_request *request)
{
	return json_pack("{s:s, s:[{s:s, s:s}], s:b, s:{s:b}}", "model",
	                 request->model != NULL ? request->model : OPENAI_DEFAULT_MODEL, "messages",
	                 "role", "user", "content", request->prompt, "stream", 1, "stream_options",
	                 "include_usage", 1);
}

/* prompt_tokens and completion_tokens of a usage object. */
static void
openai_usage(json_t *root, struct stream_facts *facts)
{
	json_t *usage = json_object_get(root, "usage");

	facts->input_tokens = format_count(usage, "prompt_tokens");
	facts->output_tokens = format_count(usage, "completion_tokens");
	if (json_is_object(usage))
		facts->kind = STREAM_USAGE;
}

/* {"error": ...}, or a flat error object. */
static bool
is_error(json_t *root)
{
	const char *object = json_string_value(json_object_get(root, "object"));

	return format_has_error(root) || (object != NULL && strcmp(object, "error") == 0);
}

/* Bytes of non-empty text in a part's member: a string, or parts of {"text"}. */
static size_t
part_text(json_t *value)
{
	json_t *sub;
	size_t i, len = 0;

	if (json_is_string(value))
		return json_string_length(value);
	json_array_foreach(value, i, sub)
	{
		if (json_is_string(json_object_get(sub, "text")))
			len += json_string_length(json_object_get(sub, "text"));
	}
	return len;
}

/* A "content" string, or an array of typed parts: text parts are answer
 * text, thinking parts reasoning (text wins when a frame has both). */
static bool
openai_content(json_t *content, struct stream_facts *facts)
{
	size_t text = 0, thinking = 0, i;
	json_t *part;

	if (format_text(content, STREAM_TEXT, facts))
		return true;
	json_array_foreach(content, i, part)
	{
		const char *type = json_string_value(json_object_get(part, "type"));

		if (type != NULL && strcmp(type, "text") == 0)
			text += part_text(json_object_get(part, "text"));
		else if (type != NULL && strcmp(type, "thinking") == 0)
			thinking += part_text(json_object_get(part, "thinking"));
	}
	if (text + thinking == 0)
		return false;
	facts->kind = text > 0 ? STREAM_TEXT : STREAM_REASONING;
	facts->text_len = text > 0 ? text : thinking;
	return true;
}

/* REASONING facts when a reasoning_details entry has a non-empty text or summary. */
static bool
reasoning_details(json_t *details, struct stream_facts *facts)
{
	json_t *detail;
	size_t i;

	json_array_foreach(details, i, detail)
	{
		if (format_text(json_object_get(detail, "text"), STREAM_REASONING, facts) ||
		    format_text(json_object_get(detail, "summary"), STREAM_REASONING, facts))
			return true;
	}
	return false;
}

static void
openai_classify(const struct sse_event *event, json_t *root, struct stream_facts *facts)
{
	json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
	json_t *delta = json_object_get(choice, "delta");
	json_t *tool_calls = json_object_get(delta, "tool_calls");

	if (is_error(root))
	{
		format_error(root, facts);
		return;
	}
	openai_usage(root, facts);
	facts->finish = json_is_string(json_object_get(choice, "finish_reason"));
	if (openai_content(json_object_get(delta, "content"), facts) ||
	    format_text(json_object_get(delta, "refusal"), STREAM_TEXT, facts) ||
	    format_text(json_object_get(delta, "reasoning_content"), STREAM_REASONING, facts) ||
	    format_text(json_object_get(delta, "reasoning"), STREAM_REASONING, facts) ||
	    reasoning_details(json_object_get(delta, "reasoning_details"), facts))
		return;
	if (tool_calls != NULL && !json_is_null(tool_calls))
		facts->kind = STREAM_TOOL;
}

/* A non-streamed chat.completion: choices[0].message's content or refusal. */
static void
openai_classify_answer(json_t *root, struct stream_facts *facts)
{
	json_t *message =
	    json_object_get(json_array_get(json_object_get(root, "choices"), 0), "message");

	if (is_error(root))
	{
		format_error(root, facts);
		return;
	}
	openai_usage(root, facts);
	if (!openai_content(json_object_get(message, "content"), facts))
		format_text(json_object_get(message, "refusal"), STREAM_TEXT, facts);
}

const struct format_ops format_openai = {
    .name = "openai",
    .end_literal = "[DONE]",
    .end_marker = "[DONE]",
    .request = openai_request,
    .classify = openai_classify,
    .classify_answer = openai_classify_answer,
};
