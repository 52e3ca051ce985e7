/*
 * format_agentcore.c - Bedrock AgentCore InvokeAgentRuntime (see
 * agent_format.h).
 *
 * The body is whatever the agent container yields, as data-only SSE.
 * Strands' events come first (format_strands.c: raw ConverseStream events,
 * the SDK's own events, Python-repr strings), unwrapped from the node events
 * of Strands' multi-agent swarms and graphs.  Then a JSON string is answer
 * text, and so is data that is not JSON at all (as the loom backend reads
 * it); an object is text when its "data" is a non-empty string, reasoning
 * when it carries "thinking"/"reasoning", a tool call with "tool_use", a
 * failure with "error" (the AgentCore SDK's error event keeps the cause in
 * "error" and a fixed sentence in "message").  There is no end marker: the
 * transfer's clean end is the end.  An application/json answer is a string,
 * {"data"|"text"|"response": string}, or the starter agent's
 * {"result": STRING | {"role", "content": [{"text"}...]}}.
 */
#include "stream/format.h"

/* Strands multi-agent nodes (swarm, graph) wrap an agent's event in another. */
#define MAX_NODE_NESTING 4

/* {"prompt"}; the session travels in a header. */
static json_t *
agentcore_request(const struct agent_request *request)
{
	return json_pack("{s:s}", "prompt", request->prompt);
}

/* A reasoning member: a non-empty string, true, or a non-empty object/array. */
static bool
is_reasoning(json_t *value)
{
	return (json_is_string(value) && json_string_length(value) > 0) || json_is_true(value) ||
	       (json_is_object(value) && json_object_size(value) > 0) ||
	       (json_is_array(value) && json_array_size(value) > 0);
}

static void
agentcore_classify(const struct sse_event *event, json_t *root, struct stream_facts *facts)
{
	/* {"multi_agent_node_stream": true, "node_id", "event": AGENT_EVENT} */
	for (int i = 0;
	     i < MAX_NODE_NESTING && json_is_true(json_object_get(root, "multi_agent_node_stream"));
	     i++)
		root = json_object_get(root, "event");
	if (format_has_error(root))
		format_error(root, facts);
	else if (format_strands_event(root, facts) || format_text(root, STREAM_TEXT, facts) ||
	         format_text(json_object_get(root, "data"), STREAM_TEXT, facts))
		return;
	else if (is_reasoning(json_object_get(root, "thinking")) ||
	         is_reasoning(json_object_get(root, "reasoning")))
		facts->kind = STREAM_REASONING;
	else if (json_object_get(root, "tool_use") != NULL)
		facts->kind = STREAM_TOOL;
}

/* The plain answers, and Strands' {"result": ...}. */
static void
agentcore_classify_answer(json_t *root, struct stream_facts *facts)
{
	json_t *result = json_object_get(root, "result");

	if (result == NULL || format_has_error(root))
		format_classify_plain_answer(root, facts);
	else if (!format_text(result, STREAM_TEXT, facts))
		format_strands_message(result, facts);
}

const struct format_ops format_agentcore = {
    .name = "agentcore",
    .non_json_is_text = true,
    .session_header = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id",
    .request = agentcore_request,
    .classify = agentcore_classify,
    .classify_answer = agentcore_classify_answer,
};
