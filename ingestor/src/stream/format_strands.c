/*
 * format_strands.c - what a Strands agent behind AgentCore streams (see
 * agent_format.h; the agentcore format applies these rules first).
 *
 * The AgentCore starter template runs a Strands agent
 * (strands-agents/sdk-python) and yields every event of
 * Agent.stream_async(); the AgentCore SDK sends each as one data line
 * (bedrock-agentcore-sdk-python, runtime/app.py).  Two kinds carry meaning:
 *
 *   {"event": E}  the model's raw Bedrock ConverseStream event
 *                 (src/strands/types/streaming.py): E.contentBlockDelta.delta
 *                 .text is answer text, .reasoningContent.text reasoning,
 *                 .toolUse tool arguments; E.contentBlockStart.start.toolUse
 *                 a tool call; E.metadata.usage one model call's inputTokens
 *                 and outputTokens (summed over the agent's calls); a member
 *                 named *Exception a failure; messageStart, contentBlockStop
 *                 and messageStop (the end of one model call, not of the
 *                 agent's turn) are markers.
 *   the SDK's own events (src/strands/types/_events.py), which follow the
 *                 raw one: {"data": TEXT, "delta"} (text, by the agentcore
 *                 rule), {"reasoningText", "reasoning": true} (reasoning),
 *                 {"current_tool_use"} (a tool call); "message", "result"
 *                 and the lifecycle flags repeat or frame the answer: markers.
 *
 * When an event holds objects JSON cannot encode (the agent, a UUID), older
 * AgentCore SDKs send str(event) instead: a JSON string holding a Python
 * repr, "{'data': 'Hello', 'delta': {...}, 'agent': <...>}".  Such a string
 * is an event, never answer text: it is read as a marker, without looking
 * inside (a repr is not JSON, and its raw event came first anyway).
 */
#include <string.h>

#include "stream/format.h"

/* The top-level keys of Strands' events, as a Python dict repr writes them. */
static const char *const repr_keys[] = {
    "'data': ",
    "'delta': ",
    "'event': ",
    "'message': ",
    "'result': ",
    "'reasoning': ",
    "'reasoningText': ",
    "'current_tool_use': ",
    "'init_event_loop': ",
    "'start_event_loop': ",
    "'tool_stream_event': ",
    "'force_stop': ",
};

/* s (len bytes) is a Python repr of a Strands event: "{'" ... "}" naming one of its keys. */
static bool
is_python_repr(const char *s, size_t len)
{
	if (len < 4 || s[0] != '{' || s[1] != '\'' || s[len - 1] != '}')
		return false;
	for (size_t i = 0; i < sizeof(repr_keys) / sizeof(repr_keys[0]); i++)
	{
		if (memmem(s, len, repr_keys[i], strlen(repr_keys[i])) != NULL)
			return true;
	}
	return false;
}

/* ERROR facts from a ConverseStream exception member: {"message"}, typed by its name. */
static void
converse_exception(json_t *event, struct stream_facts *facts)
{
	const char *key;
	json_t *value;

	json_object_foreach(event, key, value)
	{
		size_t n = strlen(key);

		if (n > strlen("Exception") && strcmp(key + n - strlen("Exception"), "Exception") == 0)
		{
			format_error(value, facts);
			facts->error_type = key;
			return;
		}
	}
}

/* One raw ConverseStream event. */
static void
converse_event(json_t *event, struct stream_facts *facts)
{
	json_t *delta = json_object_get(json_object_get(event, "contentBlockDelta"), "delta");
	json_t *start = json_object_get(json_object_get(event, "contentBlockStart"), "start");
	json_t *usage = json_object_get(json_object_get(event, "metadata"), "usage");

	if (delta != NULL)
	{
		if (format_text(json_object_get(delta, "text"), STREAM_TEXT, facts) ||
		    format_text(json_object_get(json_object_get(delta, "reasoningContent"), "text"),
		                STREAM_REASONING, facts))
			return;
		if (json_object_get(delta, "toolUse") != NULL)
			facts->kind = STREAM_TOOL;
	}
	else if (json_object_get(start, "toolUse") != NULL)
		facts->kind = STREAM_TOOL;
	else if (json_is_object(usage))
	{
		facts->kind = STREAM_USAGE;
		facts->input_tokens = format_count(usage, "inputTokens");
		facts->output_tokens = format_count(usage, "outputTokens");
		facts->tokens_add = true;
	}
	else
		converse_exception(event, facts);
}

bool
format_strands_event(json_t *root, struct stream_facts *facts)
{
	json_t *event = json_object_get(root, "event");

	if (json_is_string(root))
		return is_python_repr(json_string_value(root), json_string_length(root));
	if (json_is_object(event))
		converse_event(event, facts);
	else if (json_object_get(root, "current_tool_use") != NULL)
		facts->kind = STREAM_TOOL;
	else
		return json_object_get(root, "message") != NULL || json_object_get(root, "result") != NULL;
	return true;
}

bool
format_strands_message(json_t *message, struct stream_facts *facts)
{
	json_t *block;
	size_t i;

	json_array_foreach(json_object_get(message, "content"), i, block)
	{
		json_t *text = json_object_get(block, "text");

		if (json_is_string(text))
			facts->text_len += json_string_length(text);
	}
	if (facts->text_len == 0)
		return false;
	facts->kind = STREAM_TEXT;
	return true;
}
