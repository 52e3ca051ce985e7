/*
 * format_openai.c - OpenAI chat completions, "stream": true (see
 * agent_format.h).
 *
 * Data-only SSE of chat.completion.chunk objects.  Text is a non-empty
 * choices[0].delta.content (the first chunk is role-only, content ""), and
 * reasoning a non-empty delta.reasoning_content or delta.reasoning.  With
 * stream_options.include_usage the last chunk has "choices": [] and the
 * usage.  "data: [DONE]" ends the stream; {"error": {...}} fails it.
 */
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

static void
openai_classify(const struct sse_event *event, json_t *root, struct stream_facts *facts)
{
	json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
	json_t *delta = json_object_get(choice, "delta");
	json_t *tool_calls = json_object_get(delta, "tool_calls");

	if (format_has_error(root))
	{
		format_error(root, facts);
		return;
	}
	openai_usage(root, facts);
	if (format_text(json_object_get(delta, "content"), STREAM_TEXT, facts) ||
	    format_text(json_object_get(delta, "reasoning_content"), STREAM_REASONING, facts) ||
	    format_text(json_object_get(delta, "reasoning"), STREAM_REASONING, facts))
		return;
	if (tool_calls != NULL && !json_is_null(tool_calls))
		facts->kind = STREAM_TOOL;
}

/* A non-streamed chat.completion: choices[0].message.content. */
static void
openai_classify_answer(json_t *root, struct stream_facts *facts)
{
	json_t *choice = json_array_get(json_object_get(root, "choices"), 0);

	if (format_has_error(root))
	{
		format_error(root, facts);
		return;
	}
	openai_usage(root, facts);
	format_text(json_object_get(json_object_get(choice, "message"), "content"), STREAM_TEXT, facts);
}

const struct format_ops format_openai = {
    .name = "openai",
    .end_literal = "[DONE]",
    .end_marker = "[DONE]",
    .request = openai_request,
    .classify = openai_classify,
    .classify_answer = openai_classify_answer,
};
