/*
 * format_loom.c - the heeki/loom backend (see agent_format.h).
 *
 * Named events: session_start, chunk {"text"}, tool_use, token_info,
 * elicitation/approval events, session_end {timing, tokens}, error
 * {"message"[, "code"]}.  session_end is sent only after the backend has
 * polled CloudWatch for the agent's start time, up to about 30 s after the
 * last chunk, so it is not the end of the answer: done is the last token,
 * and a stream without session_end is complete if text arrived (one without
 * text needs it).
 */
#include "stream/format.h"

/* {"prompt", "session_id"?} */
static json_t *
loom_request(const struct agent_request *request)
{
	return json_pack("{s:s, s:s*}", "prompt", request->prompt, "session_id", request->session_id);
}

/* Text is a chunk's non-empty "text"; session_end carries timing and tokens. */
static void
loom_classify(const struct sse_event *event, json_t *root, struct stream_facts *facts)
{
	if (format_event_is(event, "chunk"))
		format_text(json_object_get(root, "text"), STREAM_TEXT, facts);
	else if (format_event_is(event, "tool_use"))
		facts->kind = STREAM_TOOL;
	else if (format_event_is(event, "error"))
		format_error(root, facts);
	else if (format_event_is(event, "session_end"))
	{
		facts->kind = STREAM_END;
		facts->input_tokens = format_count(root, "input_tokens");
		facts->output_tokens = format_count(root, "output_tokens");
		facts->has_cold_start =
		    format_number(root, "cold_start_latency_ms", &facts->cold_start_latency_ms);
		facts->has_agent_start = format_number(root, "agent_start_time", &facts->agent_start_time);
	}
}

const struct format_ops format_loom = {
    .name = "loom",
    .end_marker = "session_end",
    .done_at_last_text = true,
    .request = loom_request,
    .classify = loom_classify,
    .classify_answer = format_classify_plain_answer,
};
