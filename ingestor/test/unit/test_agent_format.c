/*
 * test_agent_format.c - the four agent formats: requests, and what recorded
 * sample streams mean, however their bytes are split.
 *
 * The samples are written from the format descriptions (loom backend events,
 * AgentCore data lines, OpenAI chat.completion.chunk, Anthropic Messages
 * events) and, for the real-world shapes of issue 11, from the public SDK
 * sources named above them.  Each is fed whole, one byte at a time, and split at every
 * position; every piece is stamped 1000 + its start offset.  Expected times
 * are not written down: a sample names the text that marks an event, the
 * test finds the event's first byte in the sample, and the expected stamp is
 * the start of the piece holding that byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "stream/agent_format.h"

#define T0        INT64_C(1000)
#define MAX_EVENT 65536

struct sample
{
	const char *name;
	enum agent_format format;
	const char *content_type; /* NULL: unlabelled, read as an event stream */
	const char *body;
	bool json_answer; /* an application/json answer: times are the body's */
	/* Text inside the event that must carry each time; NULL: must be 0. */
	const char *first_text;
	const char *last_text;
	const char *first_reasoning;
	const char *end;
	const char *done;
	const char *error; /* the expected error's beginning; NULL: success */
	size_t text_bytes;
	size_t events;
	size_t events_after_end;
	long input_tokens;
	long output_tokens;
	size_t n_phases;
	bool has_cold_start;
	double cold_start_latency_ms;
	bool has_agent_start;
	double agent_start_time;
};

static const char loom_ok[] =
    "event: session_start\n"
    "data: {\"session_id\":\"s1\",\"invocation_id\":\"i1\",\"client_invoke_time\":1700000000.5}\n"
    "\n"
    ": keep-alive\n"
    "\n"
    "event: tool_use\n"
    "data: {\"name\":\"search\"}\n"
    "\n"
    "event: chunk\n"
    "data: {\"text\":\"\"}\n"
    "\n"
    "event: chunk\n"
    "data: {\"text\":\"Hel\"}\n"
    "\n"
    "event: timing\n"
    "data: {\"type\":\"timing\",\"phase\":\"model\",\"start_ms\":12.5,\"duration_ms\":300}\n"
    "\n"
    "event: chunk\n"
    "data: {\"text\":\"lo\\u00e9\"}\n"
    "\n"
    "event: session_end\n"
    "data: {\"session_id\":\"s1\",\"client_done_time\":1700000002.0,"
    "\"cold_start_latency_ms\":812.5,\"agent_start_time\":1700000001.25,"
    "\"input_tokens\":12,\"output_tokens\":5}\n"
    "\n"
    "event: chunk\n"
    "data: {\"text\":\"late\"}\n"
    "\n";

static const char loom_no_end[] = "event: session_start\n"
                                  "data: {\"session_id\":\"s1\"}\n"
                                  "\n"
                                  "event: chunk\n"
                                  "data: {\"text\":\"only\"}\n"
                                  "\n";

static const char loom_error[] =
    "event: session_start\n"
    "data: {\"session_id\":\"s1\"}\n"
    "\n"
    "event: chunk\n"
    "data: {\"text\":\"par\"}\n"
    "\n"
    "event: error\n"
    "data: {\"message\":\"Invocation failed: boom\",\"code\":\"obo_missing_user_token\"}\n"
    "\n"
    "event: chunk\n"
    "data: {\"text\":\"after\"}\n"
    "\n";

static const char loom_cut[] = "event: chunk\n"
                               "data: {\"text\":\"a\"}\n"
                               "\n"
                               "event: chunk\n"
                               "data: {\"text\":\"b\"}\n";

static const char loom_malformed[] = "event: chunk\n"
                                     "data: {\"text\":\"a\"}\n"
                                     "\n"
                                     "event: chunk\n"
                                     "data: {\"text\": \"unterminated\n"
                                     "\n";

static const char loom_no_text_no_end[] = "event: session_start\n"
                                          "data: {\"session_id\":\"s1\"}\n"
                                          "\n";

static const char loom_no_text[] = "event: session_start\n"
                                   "data: {\"session_id\":\"s1\"}\n"
                                   "\n"
                                   "event: chunk\n"
                                   "data: {\"text\":\"\"}\n"
                                   "\n"
                                   "event: session_end\n"
                                   "data: {\"input_tokens\":3,\"output_tokens\":0,"
                                   "\"cold_start_latency_ms\":null,\"agent_start_time\":null}\n"
                                   "\n";

static const char agentcore_ok[] =
    "data: {\"type\":\"agent_start\",\"agent_start_time\":1700000001.25}\n"
    "\n"
    "data: {\"thinking\":\"let me think\"}\n"
    "\n"
    "data: {\"tool_use\":{\"name\":\"calc\",\"id\":\"t1\"}}\n"
    "\n"
    ": ping\n"
    "\n"
    "data: \"\"\n"
    "\n"
    "data: \"Hello\"\n"
    "\n"
    "data: {\"data\":\" world\"}\n"
    "\n"
    "data: {\"type\":\"timing\",\"phase\":\"init\",\"duration_ms\":800}\n"
    "\n"
    "data: plain text\n"
    "\n"
    "data: {\"token_info\":{\"exchanged\":true}}\n"
    "\n";

static const char agentcore_cold[] =
    "data: {\"type\":\"cold_start\",\"cold_start_latency_ms\":700}\n"
    "\n"
    "data: {\"reasoning\":true,\"reasoningText\":\"hm\"}\n"
    "\n"
    "data: {\"data\":\"x\",\"delta\":{\"text\":\"x\"}}\n"
    "\n"
    "data: {\"data\": \"unterminated\n"
    "\n";

static const char agentcore_no_text[] = "data: {\"tool_use\":{\"name\":\"calc\"}}\n"
                                        "\n"
                                        "data: \"\"\n"
                                        "\n"
                                        ": ping\n"
                                        "\n";

/*
 * Real-world shapes (issue 11), each written from its public source:
 *   strands_*       strands-agents/sdk-python src/strands/types/streaming.py
 *                   (ConverseStream events under "event") and
 *                   src/strands/types/_events.py (init_event_loop, start,
 *                   {"data","delta"}, {"reasoningText","reasoning":true},
 *                   {"current_tool_use"}, {"message"}, {"result"}); the
 *                   Python-repr strings are what aws/bedrock-agentcore-sdk-python
 *                   src/bedrock_agentcore/runtime/app.py sends for an event it
 *                   cannot encode (_safe_serialize_to_json_string:
 *                   json.dumps(str(obj))).  Two model calls, usage summed.
 *   agentcore_error the same app.py, _stream_with_error_handling: {"error":
 *                   str(e), "error_type", "message": a fixed sentence}.
 *   openai_refusal, openai_tool_only, openai_no_done
 *                   openai/openai-python src/openai/types/chat/
 *                   chat_completion_chunk.py (delta.refusal, delta.tool_calls,
 *                   finish_reason); servers of the llama.cpp family end after
 *                   the finish_reason chunk without [DONE], as recorded for
 *                   issue 11 (the final chunk: ggml-org/llama.cpp#10722).
 *   openai_reasoning_details  OpenRouter's delta.reasoning_details entries
 *                   (reasoning.text / reasoning.summary / reasoning.encrypted),
 *                   as the issue braintrustdata/braintrust-sdk-javascript#1883
 *                   and koog's OpenRouterStreamDelta describe them.
 *   openai_thinking_parts  mistralai/client-ts docs/models/components/
 *                   thinkchunk.md: content parts {"type":"thinking",
 *                   "thinking":[{"type":"text","text"}]} and {"type":"text"}.
 *   openai_flat_error  vllm-project/vllm vllm/entrypoints/openai/protocol.py
 *                   ErrorResponse {"object":"error","message","type","param","code"}.
 *   openai_big_integer  a 64-bit "seed" (2^64 - 1) beside the usage.
 */
static const char strands_ok[] =
    "data: {\"init_event_loop\":true}\n\n"
    "data: {\"start\":true}\n\n"
    "data: {\"start_event_loop\":true}\n\n"
    "data: {\"event\":{\"messageStart\":{\"role\":\"assistant\"}}}\n\n"
    "data: {\"event\":{\"contentBlockStart\":{\"start\":{\"toolUse\":{\"toolUseId\":\"t1\","
    "\"name\":\"calc\"}},\"contentBlockIndex\":0}}}\n\n"
    "data: {\"event\":{\"contentBlockDelta\":{\"delta\":{\"toolUse\":{\"input\":\"{\\\"x"
    "\\\":1}\"}},\"contentBlockIndex\":0}}}\n\n"
    "data: \"{'delta': {'toolUse': {'input': '{\\\"x\\\":1}'}},"
    " 'current_tool_use': {'name': 'calc'}, 'agent': <strands.agent.agent.Agent object at 0"
    "x7f3a>}\"\n\n"
    "data: {\"event\":{\"contentBlockStop\":{\"contentBlockIndex\":0}}}\n\n"
    "data: {\"event\":{\"messageStop\":{\"stopReason\":\"tool_use\"}}}\n\n"
    "data: {\"event\":{\"metadata\":{\"usage\":{\"inputTokens\":100,\"outputTokens\":20,"
    "\"totalTokens\":120},\"metrics\":{\"latencyMs\":512}}}}\n\n"
    "data: {\"message\":{\"role\":\"user\",\"content\":[{\"toolResult\":{\"toolUseId\":\"t1"
    "\",\"content\":[{\"text\":\"2\"}]}}]}}\n\n"
    "data: {\"event\":{\"messageStart\":{\"role\":\"assistant\"}}}\n\n"
    "data: {\"event\":{\"contentBlockDelta\":{\"delta\":{\"reasoningContent\":{\"text\":\"L"
    "et me think\"}},\"contentBlockIndex\":0}}}\n\n"
    "data: \"{'reasoningText': 'Let me think', 'delta': {'reasoningContent': {'text': 'Let "
    "me think'}}, 'reasoning': True, 'agent': <strands.agent.agent.Agent object at 0x7f3a>}"
    "\"\n\n"
    "data: {\"event\":{\"contentBlockDelta\":{\"delta\":{\"reasoningContent\":{\"signature"
    "\":\"c2ln\"}},\"contentBlockIndex\":0}}}\n\n"
    "data: {\"event\":{\"contentBlockDelta\":{\"delta\":{\"text\":\"Hello\"},"
    "\"contentBlockIndex\":1}}}\n\n"
    "data: \"{'data': 'Hello', 'delta': {'text': 'Hello'},"
    " 'agent': <strands.agent.agent.Agent object at 0x7f3a>}\"\n\n"
    "data: {\"event\":{\"contentBlockDelta\":{\"delta\":{\"text\":\" world\"},"
    "\"contentBlockIndex\":1}}}\n\n"
    "data: {\"data\":\" world\",\"delta\":{\"text\":\" world\"}}\n\n"
    "data: {\"event\":{\"contentBlockStop\":{\"contentBlockIndex\":1}}}\n\n"
    "data: {\"event\":{\"messageStop\":{\"stopReason\":\"end_turn\"}}}\n\n"
    "data: {\"event\":{\"metadata\":{\"usage\":{\"inputTokens\":150,\"outputTokens\":7,"
    "\"totalTokens\":157}}}}\n\n"
    "data: {\"message\":{\"role\":\"assistant\","
    "\"content\":[{\"text\":\"Hello world\"}]}}\n\n"
    "data: \"{'result': AgentResult(stop_reason='end_turn')}\"\n\n";

/* _events.py MultiAgentNodeStreamEvent: a swarm or graph node's agent event, wrapped. */
static const char strands_multi_agent[] =
    "data: {\"multi_agent_node_start\":true,\"node_id\":\"r\",\"node_type\":\"agent\"}\n\n"
    "data: {\"multi_agent_node_stream\":true,\"node_id\":\"r\",\"event\":{\"event\":"
    "{\"contentBlockDelta\":{\"delta\":{\"reasoningContent\":{\"text\":\"hm\"}}}}}}\n\n"
    "data: {\"multi_agent_node_stream\":true,\"node_id\":\"r\",\"event\":{\"event\":"
    "{\"contentBlockDelta\":{\"delta\":{\"text\":\"Hi\"}}}}}\n\n"
    "data: {\"multi_agent_node_stream\":true,\"node_id\":\"r\",\"event\":"
    "{\"data\":\"Hi\",\"delta\":{\"text\":\"Hi\"}}}\n\n"
    "data: {\"multi_agent_node_complete\":true,\"node_id\":\"r\",\"execution_time\":12}\n\n";

static const char strands_reprs_only[] =
    "data: {\"init_event_loop\":true}\n\n"
    "data: \"{'data': 'Hi', 'delta': {'text': 'Hi'},"
    " 'agent': <strands.agent.agent.Agent object at 0x7f3a>}\"\n\n"
    "data: \"{'event': {'contentBlockDelta': {'delta': {'text': 'Hi'}}}}\"\n\n";

static const char strands_exception[] =
    "data: {\"event\":{\"messageStart\":{\"role\":\"assistant\"}}}\n\n"
    "data: {\"event\":{\"throttlingException\":{\"message\":\"Rate exceeded\"}}}\n\n";

static const char agentcore_error[] =
    "data: \"partial\"\n\n"
    "data: {\"error\":\"Bedrock model not available\",\"error_type\":\"RuntimeError\","
    "\"message\":\"An error occurred during streaming\"}\n\n";

static const char openai_refusal[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":null,\"refusal\":\"\"},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"refusal\":\"I'm sorry,\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"refusal\":\" I can't help with that.\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

static const char openai_tool_only[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":null},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
    "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":"
    "\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
    "\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":12}}\n\n"
    "data: [DONE]\n\n";

static const char openai_reasoning_details[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"\",\"reasoning_details\":[{\"type\":\"reasoning.encrypted\","
    "\"data\":\"ZW5j\",\"index\":0}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"\",\"reasoning_details\":[{\"type\":\"reasoning.text\","
    "\"text\":\"Weighing it\",\"format\":\"anthropic-claude-v1\",\"index\":0}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"\",\"reasoning_details\":[{\"type\":\"reasoning.summary\","
    "\"summary\":\"Summary\",\"index\":1}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Yes\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

static const char openai_thinking_parts[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":[{\"type\":\"thinking\",\"thinking\":[{\"type\":\"text\","
    "\"text\":\"Hmm, 2+2\"}]}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":[{\"type\":\"thinking\",\"thinking\":[{\"type\":\"text\","
    "\"text\":\"\"}]}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":[{\"type\":\"text\",\"text\":\"Four\"}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\".\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

static const char openai_no_done[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":null},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
    "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\n";

static const char openai_no_finish[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":null},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";

static const char openai_flat_error[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n"
    "data: {\"object\":\"error\",\"message\":\"This model's maximum context length is 4096 "
    "tokens.\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}\n\n";

static const char openai_big_integer[] =
    "data: {\"id\":\"c1\",\"seed\":18446744073709551615,"
    "\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
    "\"seed\":18446744073709551615,\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":2}}\n\n"
    "data: [DONE]\n\n";

#define OPENAI_CHUNK "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":"

static const char openai_ok[] =
    ": OPENROUTER PROCESSING\n"
    "\n" OPENAI_CHUNK "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"finish_reason\":null}]}\n"
    "\n" OPENAI_CHUNK
    "[{\"index\":0,\"delta\":{\"reasoning_content\":\"hmm\"},\"finish_reason\":null}]}\n"
    "\n" OPENAI_CHUNK "[{\"index\":0,\"delta\":{\"content\":null,\"tool_calls\":[{\"index\":0,"
    "\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]},\"finish_reason\":null}],\"usage\":null}\n"
    "\n" OPENAI_CHUNK
    "[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n"
    "\n" OPENAI_CHUNK "[{\"index\":0,\"delta\":{\"content\":\" there\"},\"finish_reason\":null}]}\n"
    "\n" OPENAI_CHUNK "[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n"
    "\n" OPENAI_CHUNK
    "[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n"
    "\n"
    "data: [DONE]\n"
    "\n"
    "data: {\"late\":true}\n"
    "\n";

static const char openai_error[] = OPENAI_CHUNK
    "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n"
    "\n"
    "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"rate_limit_error\"}}\n"
    "\n"
    "data: [DONE]\n"
    "\n";

static const char openai_malformed[] =
    OPENAI_CHUNK "[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n"
                 "\n"
                 "data: {\"choices\": [{\"delta\": {\"content\": \"unterminated\n"
                 "\n"
                 "data: [DONE]\n"
                 "\n";

static const char openai_bad_utf8[] =
    OPENAI_CHUNK "[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n"
                 "\n" OPENAI_CHUNK "[{\"index\":0,\"delta\":{\"content\":\"\xC3(\"}}]}\n"
                 "\n"
                 "data: [DONE]\n"
                 "\n";

static const char agentcore_bad_utf8[] = "data: \"\xFF\xFE\"\n"
                                         "\n";

static const char openai_role_only[] =
    OPENAI_CHUNK "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n"
                 "\n"
                 "data: [DONE]\n"
                 "\n";

#define ANTHROPIC_DELTA(index, delta)                                                              \
	"event: content_block_delta\n"                                                                 \
	"data: {\"type\":\"content_block_delta\",\"index\":" index ",\"delta\":" delta "}\n\n"

static const char anthropic_ok[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
    "\"role\":\"assistant\",\"content\":[],\"model\":\"claude\","
    "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\":\"ping\"}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,"
    "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n"
    "\n" ANTHROPIC_DELTA("0", "{\"type\":\"thinking_delta\",\"thinking\":\"Let me see\"}") ANTHROPIC_DELTA(
        "0",
        "{\"type\":\"signature_delta\",\"signature\":\"abc\"}") "event: content_block_stop\n"
                                                                "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
                                                                "\n"
                                                                "event: content_block_start\n"
                                                                "data: {\"type\":\"content_block_start\",\"index\":1,"
                                                                "\"content_block\":{\"type\":\"tool_use\",\"id\":\"tu_1\",\"name\":\"calc\",\"input\":{}}}\n"
                                                                "\n" ANTHROPIC_DELTA(
                                                                    "1",
                                                                    "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"x\\\": 1}\"}") "event: content_block_start\n"
                                                                                                                                           "data: {\"type\":\"content_block_start\",\"index\":2,"
                                                                                                                                           "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n"
                                                                                                                                           "\n" ANTHROPIC_DELTA(
                                                                                                                                               "2",
                                                                                                                                               "{\"type\":\"text_delta\",\"text\":\"\"}")
                                                                                                                                               ANTHROPIC_DELTA(
                                                                                                                                                   "2",
                                                                                                                                                   "{\"type\":\"text_delta\",\"text\":\"Hello\"}")
                                                                                                                                                   ANTHROPIC_DELTA(
                                                                                                                                                       "2",
                                                                                                                                                       "{\"type\":\"text_delta\",\"text\":\"!\"}") "event: content_block_stop\n"
                                                                                                                                                                                                   "data: {\"type\":\"content_block_stop\",\"index\":2}\n"
                                                                                                                                                                                                   "\n"
                                                                                                                                                                                                   "event: message_delta\n"
                                                                                                                                                                                                   "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
                                                                                                                                                                                                   "\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n"
                                                                                                                                                                                                   "\n"
                                                                                                                                                                                                   "event: message_stop\n"
                                                                                                                                                                                                   "data: {\"type\":\"message_stop\"}\n"
                                                                                                                                                                                                   "\n";

static const char anthropic_overloaded[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n"
    "\n" ANTHROPIC_DELTA(
        "0",
        "{\"type\":\"text_delta\",\"text\":\"Hi\"}") "event: error\n"
                                                     "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n"
                                                     "\n";

static const char anthropic_no_stop[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{}}\n"
    "\n" ANTHROPIC_DELTA("0", "{\"type\":\"text_delta\",\"text\":\"Hi\"}");

static const char anthropic_unknown[] =
    "event: brand_new_event\n"
    "data: {\"type\":\"brand_new_event\",\"text\":\"not text\"}\n"
    "\n"
    "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Yo\"}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

static const struct sample samples[] = {
    {.name = "loom: session_start, tool, empty chunk, text, timing, session_end",
     .format = AGENT_FORMAT_LOOM,
     .content_type = "text/event-stream; charset=utf-8",
     .body = loom_ok,
     .first_text = "\"Hel\"",
     .last_text = "lo\\u00e9",
     .end = "\"s1\",\"client_done_time\"",
     .done = "lo\\u00e9",
     .text_bytes = 3 + 4,
     .events = 8,
     .events_after_end = 1,
     .input_tokens = 12,
     .output_tokens = 5,
     .n_phases = 1,
     .has_cold_start = true,
     .cold_start_latency_ms = 812.5,
     .has_agent_start = true,
     .agent_start_time = 1700000001.25},
    {.name = "loom: no session_end is complete",
     .format = AGENT_FORMAT_LOOM,
     .body = loom_no_end,
     .first_text = "only",
     .last_text = "only",
     .done = "only",
     .text_bytes = 4,
     .events = 2,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "loom: error event",
     .format = AGENT_FORMAT_LOOM,
     .body = loom_error,
     .first_text = "par",
     .last_text = "par",
     .done = "par",
     .error = "obo_missing_user_token: Invocation failed: boom",
     .text_bytes = 3,
     .events = 3,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "loom: cut mid-event",
     .format = AGENT_FORMAT_LOOM,
     .body = loom_cut,
     .first_text = "\"a\"",
     .last_text = "\"a\"",
     .done = "\"a\"",
     .error = "stream cut mid-event",
     .text_bytes = 1,
     .events = 1,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "loom: malformed JSON",
     .format = AGENT_FORMAT_LOOM,
     .body = loom_malformed,
     .first_text = "\"a\"",
     .last_text = "\"a\"",
     .done = "\"a\"",
     .error = "malformed JSON in loom event \"chunk\": ",
     .text_bytes = 1,
     .events = 2,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "loom: no text, session_end: complete without a first token",
     .format = AGENT_FORMAT_LOOM,
     .body = loom_no_text,
     .end = "\"input_tokens\":3",
     .done = "\"input_tokens\":3",
     .events = 3,
     .input_tokens = 3,
     .output_tokens = 0},
    {.name = "loom: no text and no session_end",
     .format = AGENT_FORMAT_LOOM,
     .body = loom_no_text_no_end,
     .error = "stream ended before session_end",
     .events = 1,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "agentcore: strings, data objects, non-JSON text, reports",
     .format = AGENT_FORMAT_AGENTCORE,
     .content_type = "text/event-stream",
     .body = agentcore_ok,
     .first_reasoning = "let me think",
     .first_text = "\"Hello\"",
     .last_text = "plain text",
     .done = "plain text",
     .text_bytes = 5 + 6 + 10,
     .events = 9,
     .input_tokens = -1,
     .output_tokens = -1,
     .n_phases = 1,
     .has_agent_start = true,
     .agent_start_time = 1700000001.25},
    {.name = "agentcore: the SDK's error event keeps its cause",
     .format = AGENT_FORMAT_AGENTCORE,
     .body = agentcore_error,
     .first_text = "partial",
     .last_text = "partial",
     .done = "partial",
     .error = "RuntimeError: Bedrock model not available; An error occurred during streaming",
     .text_bytes = 7,
     .events = 2,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "agentcore: cold_start report, reasoning flag, unterminated JSON is text",
     .format = AGENT_FORMAT_AGENTCORE,
     .body = agentcore_cold,
     .first_reasoning = "reasoningText",
     .first_text = "\"x\"",
     .last_text = "unterminated",
     .done = "unterminated",
     .text_bytes = 1 + sizeof("{\"data\": \"unterminated") - 1,
     .events = 4,
     .input_tokens = -1,
     .output_tokens = -1,
     .has_cold_start = true,
     .cold_start_latency_ms = 700},
    {.name = "agentcore: a tool call and no text is complete without a first token",
     .format = AGENT_FORMAT_AGENTCORE,
     .body = agentcore_no_text,
     .events = 2,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "agentcore: Strands events, Python reprs never text, usage summed",
     .format = AGENT_FORMAT_AGENTCORE,
     .content_type = "text/event-stream",
     .body = strands_ok,
     .first_reasoning = "\"text\":\"Let me think\"",
     .first_text = "\"text\":\"Hello\"",
     .last_text = "{\"data\":\" world\"",
     .done = "{\"data\":\" world\"",
     .text_bytes = 5 + 6 + 6,
     .events = 24,
     .input_tokens = 250,
     .output_tokens = 27},
    {.name = "agentcore: a Strands multi-agent node's events are read inside",
     .format = AGENT_FORMAT_AGENTCORE,
     .body = strands_multi_agent,
     .first_reasoning = "\"hm\"",
     .first_text = "\"text\":\"Hi\"",
     .last_text = "{\"data\":\"Hi\"",
     .done = "{\"data\":\"Hi\"",
     .text_bytes = 4,
     .events = 5,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "agentcore: only Python reprs is no text",
     .format = AGENT_FORMAT_AGENTCORE,
     .body = strands_reprs_only,
     .events = 3,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "agentcore: a ConverseStream exception fails, typed by its name",
     .format = AGENT_FORMAT_AGENTCORE,
     .body = strands_exception,
     .error = "throttlingException: Rate exceeded",
     .events = 2,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "openai: role frame, reasoning, tool call, text, usage, [DONE]",
     .format = AGENT_FORMAT_OPENAI,
     .content_type = "text/event-stream",
     .body = openai_ok,
     .first_reasoning = "hmm",
     .first_text = "\"Hi\"",
     .last_text = "\" there\"",
     .end = "[DONE]",
     .done = "[DONE]",
     .text_bytes = 8,
     .events = 9,
     .events_after_end = 1,
     .input_tokens = 9,
     .output_tokens = 2},
    {.name = "openai: no [DONE] after a finish_reason chunk is complete (llama.cpp)",
     .format = AGENT_FORMAT_OPENAI,
     .body = openai_no_done,
     .first_text = "\"Hi\"",
     .last_text = "\"Hi\"",
     .done = "\"stop\"",
     .text_bytes = 2,
     .events = 4,
     .input_tokens = 5,
     .output_tokens = 1},
    {.name = "openai: no [DONE] and no finish_reason is cut",
     .format = AGENT_FORMAT_OPENAI,
     .body = openai_no_finish,
     .first_text = "\"Hi\"",
     .last_text = "\"Hi\"",
     .done = "\"Hi\"",
     .error = "stream ended before [DONE]",
     .text_bytes = 2,
     .events = 2,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "openai: a refusal is answer text",
     .format = AGENT_FORMAT_OPENAI,
     .body = openai_refusal,
     .first_text = "I'm sorry,",
     .last_text = " I can't",
     .end = "[DONE]",
     .done = "[DONE]",
     .text_bytes = 10 + 24,
     .events = 5,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "openai: tool calls only is complete without a first token",
     .format = AGENT_FORMAT_OPENAI,
     .body = openai_tool_only,
     .end = "[DONE]",
     .done = "[DONE]",
     .events = 6,
     .input_tokens = 40,
     .output_tokens = 12},
    {.name = "openai: reasoning_details are reasoning",
     .format = AGENT_FORMAT_OPENAI,
     .body = openai_reasoning_details,
     .first_reasoning = "Weighing it",
     .first_text = "\"Yes\"",
     .last_text = "\"Yes\"",
     .end = "[DONE]",
     .done = "[DONE]",
     .text_bytes = 3,
     .events = 7,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "openai: thinking parts are reasoning, text parts text (Magistral)",
     .format = AGENT_FORMAT_OPENAI,
     .body = openai_thinking_parts,
     .first_reasoning = "Hmm, 2+2",
     .first_text = "\"Four\"",
     .last_text = "\"content\":\".\"",
     .end = "[DONE]",
     .done = "[DONE]",
     .text_bytes = 4 + 1,
     .events = 7,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "openai: a flat error object fails (vLLM)",
     .format = AGENT_FORMAT_OPENAI,
     .body = openai_flat_error,
     .first_text = "\"Hi\"",
     .last_text = "\"Hi\"",
     .done = "\"Hi\"",
     .error = "BadRequestError: This model's maximum context length is 4096 tokens.",
     .text_bytes = 2,
     .events = 2,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "openai: an integer above 2^63 does not lose the frame",
     .format = AGENT_FORMAT_OPENAI,
     .body = openai_big_integer,
     .first_text = "\"Hi\"",
     .last_text = "\"Hi\"",
     .end = "[DONE]",
     .done = "[DONE]",
     .text_bytes = 2,
     .events = 3,
     .input_tokens = 9,
     .output_tokens = 2},
    {.name = "openai: error in a data line",
     .format = AGENT_FORMAT_OPENAI,
     .body = openai_error,
     .error = "rate_limit_error: Rate limit reached",
     .events = 2,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "openai: malformed JSON",
     .format = AGENT_FORMAT_OPENAI,
     .body = openai_malformed,
     .first_text = "\"Hi\"",
     .last_text = "\"Hi\"",
     .done = "\"Hi\"",
     .error = "malformed JSON in openai event \"message\": ",
     .text_bytes = 2,
     .events = 2,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "openai: invalid UTF-8 is malformed",
     .format = AGENT_FORMAT_OPENAI,
     .body = openai_bad_utf8,
     .first_text = "\"ok\"",
     .last_text = "\"ok\"",
     .done = "\"ok\"",
     .error = "malformed JSON in openai event \"message\": ",
     .text_bytes = 2,
     .events = 2,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "agentcore: invalid UTF-8 is text, as it is not JSON",
     .format = AGENT_FORMAT_AGENTCORE,
     .body = agentcore_bad_utf8,
     .first_text = "\xFF",
     .last_text = "\xFF",
     .done = "\xFF",
     .text_bytes = 4,
     .events = 1,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "openai: role frame and [DONE] is complete without a first token",
     .format = AGENT_FORMAT_OPENAI,
     .body = openai_role_only,
     .end = "[DONE]",
     .done = "[DONE]",
     .events = 2,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "anthropic: start, ping, thinking, tool, text, usage, stop",
     .format = AGENT_FORMAT_ANTHROPIC,
     .content_type = "text/event-stream",
     .body = anthropic_ok,
     .first_reasoning = "Let me see",
     .first_text = "\"Hello\"",
     .last_text = "\"!\"",
     .end = "{\"type\":\"message_stop\"}",
     .done = "{\"type\":\"message_stop\"}",
     .text_bytes = 6,
     .events = 15,
     .input_tokens = 25,
     .output_tokens = 15},
    {.name = "anthropic: overloaded error after text",
     .format = AGENT_FORMAT_ANTHROPIC,
     .body = anthropic_overloaded,
     .first_text = "\"Hi\"",
     .last_text = "\"Hi\"",
     .done = "\"Hi\"",
     .error = "overloaded_error: Overloaded",
     .text_bytes = 2,
     .events = 3,
     .input_tokens = 3,
     .output_tokens = -1},
    {.name = "anthropic: no message_stop",
     .format = AGENT_FORMAT_ANTHROPIC,
     .body = anthropic_no_stop,
     .first_text = "\"Hi\"",
     .last_text = "\"Hi\"",
     .done = "\"Hi\"",
     .error = "stream ended before message_stop",
     .text_bytes = 2,
     .events = 2,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "anthropic: unknown events ignored, type from the data",
     .format = AGENT_FORMAT_ANTHROPIC,
     .body = anthropic_unknown,
     .first_text = "\"Yo\"",
     .last_text = "\"Yo\"",
     .end = "{\"type\":\"message_stop\"}",
     .done = "{\"type\":\"message_stop\"}",
     .text_bytes = 2,
     .events = 3,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "agentcore: application/json string answer",
     .format = AGENT_FORMAT_AGENTCORE,
     .content_type = "application/json",
     .body = "\"Hello there\"",
     .json_answer = true,
     .text_bytes = 11,
     .events = 1,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "agentcore: application/json non-JSON answer is text",
     .format = AGENT_FORMAT_AGENTCORE,
     .content_type = "application/json",
     .body = "just words",
     .json_answer = true,
     .text_bytes = 10,
     .events = 1,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "agentcore: application/json Strands result message",
     .format = AGENT_FORMAT_AGENTCORE,
     .content_type = "application/json",
     .body = "{\"result\":{\"role\":\"assistant\",\"content\":[{\"text\":\"Hi there\"},"
             "{\"toolUse\":{\"toolUseId\":\"t\",\"name\":\"x\",\"input\":{}}},{\"text\":\"!\"}]}}",
     .json_answer = true,
     .text_bytes = 9,
     .events = 1,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "agentcore: application/json {\"result\": string}",
     .format = AGENT_FORMAT_AGENTCORE,
     .content_type = "application/json",
     .body = "{\"result\":\"Hello\"}",
     .json_answer = true,
     .text_bytes = 5,
     .events = 1,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "agentcore: application/json result without text is complete",
     .format = AGENT_FORMAT_AGENTCORE,
     .content_type = "application/json",
     .body = "{\"result\":{\"role\":\"assistant\",\"content\":[{\"toolUse\":{\"name\":\"x\"}}]}}",
     .json_answer = true,
     .events = 1,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "agentcore: application/json error",
     .format = AGENT_FORMAT_AGENTCORE,
     .content_type = "application/json",
     .body = "{\"error\":\"model not available\",\"error_type\":\"ValueError\"}",
     .json_answer = true,
     .error = "ValueError: model not available",
     .events = 1,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "openai: application/json refusal with a 64-bit seed",
     .format = AGENT_FORMAT_OPENAI,
     .content_type = "application/json",
     .body = "{\"seed\":18446744073709551615,\"choices\":[{\"message\":{\"role\":\"assistant\","
             "\"content\":null,\"refusal\":\"No.\"}}],\"usage\":{\"prompt_tokens\":3,"
             "\"completion_tokens\":1}}",
     .json_answer = true,
     .text_bytes = 3,
     .events = 1,
     .input_tokens = 3,
     .output_tokens = 1},
    {.name = "loom: application/json {\"response\"} answer",
     .format = AGENT_FORMAT_LOOM,
     .content_type = "application/json",
     .body = "{\"response\":\"ok!\",\"session_id\":\"s\"}",
     .json_answer = true,
     .text_bytes = 3,
     .events = 1,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "loom: application/json that is not JSON",
     .format = AGENT_FORMAT_LOOM,
     .content_type = "application/json",
     .body = "<html>bad gateway</html>",
     .json_answer = true,
     .error = "malformed JSON in loom answer: ",
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "openai: application/json completion",
     .format = AGENT_FORMAT_OPENAI,
     .content_type = "application/json",
     .body = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"Hi!\"}}],"
             "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}",
     .json_answer = true,
     .text_bytes = 3,
     .events = 1,
     .input_tokens = 3,
     .output_tokens = 2},
    {.name = "openai: application/json error body",
     .format = AGENT_FORMAT_OPENAI,
     .content_type = "application/json",
     .body = "{\"error\":{\"message\":\"Incorrect API key provided\","
             "\"type\":\"invalid_request_error\"}}",
     .json_answer = true,
     .error = "invalid_request_error: Incorrect API key provided",
     .events = 1,
     .input_tokens = -1,
     .output_tokens = -1},
    {.name = "anthropic: application/json message",
     .format = AGENT_FORMAT_ANTHROPIC,
     .content_type = "Application/JSON",
     .body = "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"},"
             "{\"type\":\"tool_use\",\"id\":\"t\"},{\"type\":\"text\",\"text\":\" you\"}],"
             "\"usage\":{\"input_tokens\":4,\"output_tokens\":6}}",
     .json_answer = true,
     .text_bytes = 6,
     .events = 1,
     .input_tokens = 4,
     .output_tokens = 6},
};

/* Offset of the first byte of the event that contains marker. */
static size_t
event_start(const char *body, const char *marker)
{
	const char *at = strstr(body, marker);
	size_t start = 0;

	assert_non_null(at);
	/* Events are separated by blank lines in the samples. */
	for (const char *p = body; p + 1 < at; p++)
	{
		if (p[0] == '\n' && p[1] == '\n')
			start = (size_t) (p + 2 - body);
	}
	return start;
}

/* The stamp of the piece holding offset, for pieces starting at cuts[]. */
static int64_t
stamp_of(size_t offset, const size_t *cuts, size_t n_cuts)
{
	size_t start = 0;

	for (size_t i = 0; i < n_cuts && cuts[i] <= offset; i++)
		start = cuts[i];
	return T0 + (int64_t) start;
}

static int64_t
expected_stamp(const struct sample *s, const char *marker, const size_t *cuts, size_t n_cuts)
{
	if (marker == NULL)
		return 0;
	return stamp_of(event_start(s->body, marker), cuts, n_cuts);
}

/* Feed the sample in pieces starting at cuts[] (ascending), then finish. */
static struct stream_result
observe(const struct sample *s, const size_t *cuts, size_t n_cuts)
{
	struct stream_observer *obs = stream_observer_new(s->format, MAX_EVENT);
	struct stream_result result;
	size_t len = strlen(s->body);
	size_t start = 0;

	assert_non_null(obs);
	stream_observer_set_content_type(obs, s->content_type);
	for (size_t i = 0; i <= n_cuts; i++)
	{
		size_t end = i < n_cuts ? cuts[i] : len;

		stream_observer_feed(obs, s->body + start, end - start, T0 + (int64_t) start);
		start = end;
	}
	stream_observer_finish(obs, T0 + (int64_t) len);
	result = *stream_observer_result(obs);
	stream_observer_free(obs);
	return result;
}

#define CHECK(cond, ...)                                                                           \
	do                                                                                             \
	{                                                                                              \
		if (!(cond))                                                                               \
			fail_msg(__VA_ARGS__);                                                                 \
	} while (0)

static void
check_time(const char *sample, const char *what, int64_t got, int64_t want, const char *split)
{
	CHECK(got == want, "%s: %s %lld, want %lld, split %s", sample, what, (long long) got,
	      (long long) want, split);
}

static void
check_result(const struct sample *s, const struct stream_result *r, const size_t *cuts,
             size_t n_cuts, const char *split)
{
	size_t len = strlen(s->body);
	int64_t first = stamp_of(0, cuts, n_cuts);
	int64_t last = stamp_of(len - 1, cuts, n_cuts);

	if (s->error != NULL)
	{
		CHECK(r->failed, "%s: not failed, split %s", s->name, split);
		CHECK(strncmp(r->error, s->error, strlen(s->error)) == 0,
		      "%s: error \"%s\", want \"%s...\", split %s", s->name, r->error, s->error, split);
	}
	else
		CHECK(!r->failed, "%s: failed \"%s\", split %s", s->name, r->error, split);
	check_time(s->name, "first_byte_ns", r->first_byte_ns, first, split);
	if (s->json_answer)
	{
		bool text = s->text_bytes > 0;

		/* a JSON body is read when complete: its text at its last byte */
		check_time(s->name, "first_text_ns", r->first_text_ns, text ? last : 0, split);
		check_time(s->name, "done_ns", r->done_ns, s->error == NULL ? last : 0, split);
	}
	else
	{
		check_time(s->name, "first_text_ns", r->first_text_ns,
		           expected_stamp(s, s->first_text, cuts, n_cuts), split);
		check_time(s->name, "last_text_ns", r->last_text_ns,
		           expected_stamp(s, s->last_text, cuts, n_cuts), split);
		check_time(s->name, "first_reasoning_ns", r->first_reasoning_ns,
		           expected_stamp(s, s->first_reasoning, cuts, n_cuts), split);
		check_time(s->name, "end_ns", r->end_ns, expected_stamp(s, s->end, cuts, n_cuts), split);
		check_time(s->name, "done_ns", r->done_ns, expected_stamp(s, s->done, cuts, n_cuts), split);
		CHECK(r->ended == (s->end != NULL), "%s: ended %d, split %s", s->name, r->ended, split);
		if (s->events > 0)
			check_time(s->name, "first_event_ns", r->first_event_ns,
			           stamp_of(event_start(s->body, "data"), cuts, n_cuts), split);
	}
	CHECK(r->text_bytes == s->text_bytes, "%s: text_bytes %zu, want %zu, split %s", s->name,
	      r->text_bytes, s->text_bytes, split);
	CHECK(r->events == s->events && r->events_after_end == s->events_after_end,
	      "%s: %zu events (%zu after the end), want %zu (%zu), split %s", s->name, r->events,
	      r->events_after_end, s->events, s->events_after_end, split);
	CHECK(r->input_tokens == s->input_tokens && r->output_tokens == s->output_tokens,
	      "%s: tokens %ld/%ld, want %ld/%ld, split %s", s->name, r->input_tokens, r->output_tokens,
	      s->input_tokens, s->output_tokens, split);
	CHECK(r->n_phases == s->n_phases, "%s: %zu phases, want %zu", s->name, r->n_phases,
	      s->n_phases);
	CHECK(r->has_cold_start == s->has_cold_start &&
	          (!s->has_cold_start || r->cold_start_latency_ms == s->cold_start_latency_ms),
	      "%s: cold start %d %g, split %s", s->name, r->has_cold_start, r->cold_start_latency_ms,
	      split);
	CHECK(r->has_agent_start == s->has_agent_start &&
	          (!s->has_agent_start || r->agent_start_time == s->agent_start_time),
	      "%s: agent start %d %f, split %s", s->name, r->has_agent_start, r->agent_start_time,
	      split);
}

/* One sample: whole, one byte at a time, and split at every position. */
static void
test_sample(void **state)
{
	const struct sample *s = *state;
	size_t len = strlen(s->body);
	size_t *all = malloc(len * sizeof(size_t));
	struct stream_result r;
	char split[32];

	assert_non_null(all);
	r = observe(s, NULL, 0);
	check_result(s, &r, NULL, 0, "nowhere");
	for (size_t i = 0; i + 1 < len; i++)
		all[i] = i + 1;
	r = observe(s, all, len - 1);
	check_result(s, &r, all, len - 1, "bytewise");
	for (size_t i = 0; i <= len; i++)
	{
		size_t cut[1] = {i};

		snprintf(split, sizeof(split), "at %zu", i);
		r = observe(s, cut, 1);
		check_result(s, &r, cut, 1, split);
	}
	free(all);
}

/* The phase and report values of the loom sample, field by field. */
static void
test_phase_values(void **state)
{
	struct stream_observer *obs = stream_observer_new(AGENT_FORMAT_AGENTCORE, MAX_EVENT);
	const struct stream_result *r;
	static const char body[] =
	    "data: {\"type\":\"timing\",\"phase\":\"model\",\"start_ms\":12.5,\"duration_ms\":300}\n\n"
	    "data: {\"type\":\"timing\",\"phase\":\"init\",\"duration_ms\":7}\n\n"
	    "data: {\"type\":\"timing\",\"phase\":\"bad\"}\n\n"
	    "data: {\"type\":\"timing\",\"duration_ms\":1}\n\n"
	    "data: \"x\"\n\n";

	(void) state;
	assert_non_null(obs);
	assert_int_equal(stream_observer_feed(obs, body, strlen(body), 5), 0);
	stream_observer_finish(obs, 6);
	r = stream_observer_result(obs);
	assert_false(r->failed);
	assert_int_equal(r->n_phases, 2);
	assert_string_equal(r->phases[0].name, "model");
	assert_true(r->phases[0].start_ms == 12.5 && r->phases[0].duration_ms == 300);
	assert_string_equal(r->phases[1].name, "init");
	assert_true(r->phases[1].start_ms == -1 && r->phases[1].duration_ms == 7);
	stream_observer_free(obs);
}

/* More phases than fit: the first STREAM_MAX_PHASES are kept. */
static void
test_phase_cap(void **state)
{
	struct stream_observer *obs = stream_observer_new(AGENT_FORMAT_LOOM, MAX_EVENT);
	char line[160];

	(void) state;
	for (int i = 0; i < STREAM_MAX_PHASES + 8; i++)
	{
		int n = snprintf(line, sizeof(line),
		                 "event: timing\ndata: {\"type\":\"timing\",\"phase\":\"p%d\","
		                 "\"duration_ms\":%d}\n\n",
		                 i, i);

		assert_int_equal(stream_observer_feed(obs, line, (size_t) n, 10 + i), 0);
	}
	assert_int_equal(stream_observer_result(obs)->n_phases, STREAM_MAX_PHASES);
	assert_string_equal(stream_observer_result(obs)->phases[STREAM_MAX_PHASES - 1].name, "p31");
	stream_observer_free(obs);
}

/* Provider messages are cut to fit, on a character boundary, on one line. */
static void
test_error_message_cleaned(void **state)
{
	struct stream_observer *obs = stream_observer_new(AGENT_FORMAT_LOOM, MAX_EVENT);
	const struct stream_result *r;
	char *body = malloc(4096);
	size_t n = 0, lead = 0, cont = 0;

	(void) state;
	n += (size_t) sprintf(body, "event: error\ndata: {\"message\":\"line1\\nline2\\t\\u0000");
	for (int i = 0; i < 600; i++)
		n += (size_t) sprintf(body + n, "\\u00e9");
	n += (size_t) sprintf(body + n, "\"}\n\n");
	assert_int_equal(stream_observer_feed(obs, body, n, 1), -1);
	/* Failed: later bytes are ignored, the first reason stays. */
	assert_int_equal(stream_observer_feed(obs, "event: error\ndata: {}\n\n", 23, 2), -1);
	stream_observer_finish(obs, 3);
	r = stream_observer_result(obs);
	assert_true(r->failed);
	assert_true(strncmp(r->error, "line1 line2 ", 12) == 0);
	assert_true(strlen(r->error) < STREAM_ERROR_LEN);
	assert_true(strlen(r->error) > STREAM_ERROR_LEN - 8);
	for (const unsigned char *p = (const unsigned char *) r->error; *p != '\0'; p++)
	{
		assert_true(*p >= 0x20);
		lead += *p == 0xC3;
		cont += *p == 0xA9;
	}
	assert_int_equal(lead, cont);
	stream_observer_free(obs);
	free(body);
}

/* An event beyond the limit fails the stream instead of growing. */
static void
test_event_too_large(void **state)
{
	struct stream_observer *obs = stream_observer_new(AGENT_FORMAT_AGENTCORE, 64);
	char big[200];

	(void) state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(stream_observer_feed(obs, "data: \"ok\"\n\ndata: ", 18, 1), 0);
	assert_int_equal(stream_observer_feed(obs, big, sizeof(big), 2), -1);
	stream_observer_finish(obs, 3);
	assert_true(stream_observer_result(obs)->failed);
	assert_string_equal(stream_observer_result(obs)->error,
	                    "agentcore event larger than the event size limit (64 bytes)");
	assert_int_equal(stream_observer_result(obs)->text_bytes, 2);
	stream_observer_free(obs);
}

/* So does an application/json answer beyond the limit. */
static void
test_answer_too_large(void **state)
{
	struct stream_observer *obs = stream_observer_new(AGENT_FORMAT_LOOM, 32);
	char big[40];

	(void) state;
	memset(big, ' ', sizeof(big));
	stream_observer_set_content_type(obs, "application/json");
	assert_int_equal(stream_observer_feed(obs, big, 30, 1), 0);
	assert_int_equal(stream_observer_feed(obs, big, 10, 2), -1);
	stream_observer_finish(obs, 3);
	assert_string_equal(stream_observer_result(obs)->error,
	                    "loom answer larger than the event size limit (32 bytes)");
	stream_observer_free(obs);
}

/* A body without any event fails; times stay 0. */
static void
test_empty_body(void **state)
{
	struct stream_observer *obs = stream_observer_new(AGENT_FORMAT_OPENAI, MAX_EVENT);
	const struct stream_result *r;

	(void) state;
	stream_observer_finish(obs, 9);
	stream_observer_finish(obs, 10);
	r = stream_observer_result(obs);
	assert_true(r->failed);
	assert_string_equal(r->error, "stream ended before [DONE]");
	assert_int_equal(r->first_byte_ns, 0);
	assert_int_equal(r->events, 0);
	stream_observer_free(obs);
	/* a format without an end marker: comments only are no answer either */
	obs = stream_observer_new(AGENT_FORMAT_AGENTCORE, MAX_EVENT);
	assert_int_equal(stream_observer_feed(obs, ": ping\n\n", 8, 5), 0);
	stream_observer_finish(obs, 9);
	r = stream_observer_result(obs);
	assert_true(r->failed);
	assert_string_equal(r->error, "empty response: no event in the body");
	stream_observer_free(obs);
}

static void
test_format_names(void **state)
{
	static const char *const names[] = {"loom", "agentcore", "openai", "anthropic"};
	enum agent_format format;

	(void) state;
	for (int i = 0; i < 4; i++)
	{
		assert_int_equal(agent_format_parse(names[i], &format), 0);
		assert_int_equal(format, i);
		assert_string_equal(agent_format_name(format), names[i]);
	}
	assert_int_equal(agent_format_parse("OpenAI", &format), -1);
	assert_int_equal(agent_format_parse("", &format), -1);
	assert_int_equal(agent_format_parse(NULL, &format), -1);
	assert_null(stream_observer_new((enum agent_format) 9, MAX_EVENT));
	assert_null(stream_observer_new(AGENT_FORMAT_LOOM, 0));
	assert_null(agent_format_request_body((enum agent_format) 9, NULL, NULL));
}

/* The body for a request, decoded back. */
static json_t *
request_json(enum agent_format format, const struct agent_request *request)
{
	size_t len = 0;
	char *body = agent_format_request_body(format, request, &len);
	json_error_t error;
	json_t *root;

	assert_non_null(body);
	assert_int_equal(len, strlen(body));
	root = json_loads(body, 0, &error);
	assert_non_null(root);
	free(body);
	return root;
}

/* A prompt that needs escaping. */
static const char tricky_prompt[] = "Say \"hi\"\\n\n\tthen \xC3\xA9\xE2\x82\xAC \x01 </script>";

static void
test_request_bodies(void **state)
{
	struct agent_request with = {tricky_prompt, "sess-0123456789-0123456789-0123456789", NULL};
	struct agent_request bare = {tricky_prompt, NULL, "my-model"};
	json_t *root, *message;

	(void) state;
	root = request_json(AGENT_FORMAT_LOOM, &with);
	assert_string_equal(json_string_value(json_object_get(root, "prompt")), tricky_prompt);
	assert_string_equal(json_string_value(json_object_get(root, "session_id")), with.session_id);
	assert_int_equal(json_object_size(root), 2);
	json_decref(root);
	root = request_json(AGENT_FORMAT_LOOM, &bare);
	assert_int_equal(json_object_size(root), 1);
	json_decref(root);

	root = request_json(AGENT_FORMAT_AGENTCORE, &with);
	assert_string_equal(json_string_value(json_object_get(root, "prompt")), tricky_prompt);
	assert_int_equal(json_object_size(root), 1);
	json_decref(root);

	root = request_json(AGENT_FORMAT_OPENAI, &bare);
	message = json_array_get(json_object_get(root, "messages"), 0);
	assert_string_equal(json_string_value(json_object_get(root, "model")), "my-model");
	assert_int_equal(json_array_size(json_object_get(root, "messages")), 1);
	assert_string_equal(json_string_value(json_object_get(message, "role")), "user");
	assert_string_equal(json_string_value(json_object_get(message, "content")), tricky_prompt);
	assert_true(json_is_true(json_object_get(root, "stream")));
	assert_true(
	    json_is_true(json_object_get(json_object_get(root, "stream_options"), "include_usage")));
	assert_int_equal(json_object_size(root), 4);
	json_decref(root);
	root = request_json(AGENT_FORMAT_OPENAI, &with);
	assert_true(json_string_length(json_object_get(root, "model")) > 0);
	json_decref(root);

	root = request_json(AGENT_FORMAT_ANTHROPIC, &with);
	message = json_array_get(json_object_get(root, "messages"), 0);
	assert_true(json_string_length(json_object_get(root, "model")) > 0);
	assert_int_equal(json_integer_value(json_object_get(root, "max_tokens")), 1024);
	assert_string_equal(json_string_value(json_object_get(message, "role")), "user");
	assert_string_equal(json_string_value(json_object_get(message, "content")), tricky_prompt);
	assert_true(json_is_true(json_object_get(root, "stream")));
	assert_int_equal(json_object_size(root), 4);
	json_decref(root);
}

static void
test_request_body_rejects(void **state)
{
	struct agent_request not_utf8 = {"bad \xFF byte", NULL, NULL};
	struct agent_request no_prompt = {NULL, NULL, NULL};

	(void) state;
	for (int f = AGENT_FORMAT_LOOM; f <= AGENT_FORMAT_ANTHROPIC; f++)
	{
		assert_null(agent_format_request_body((enum agent_format) f, &not_utf8, NULL));
		assert_null(agent_format_request_body((enum agent_format) f, &no_prompt, NULL));
	}
}

/* The headers as one string, each followed by '|'. */
static void
headers_text(const struct curl_slist *list, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (; list != NULL; list = list->next)
		n += (size_t) snprintf(out + n, size - n, "%s|", list->data);
	assert_true(n < size);
}

static void
test_request_headers(void **state)
{
	static const struct agent_request with = {"p", "sess-1", NULL};
	static const struct agent_request bare = {"p", NULL, NULL};
	static const struct
	{
		enum agent_format format;
		const struct agent_request *request;
		const char *want;
	} cases[] = {
	    {AGENT_FORMAT_LOOM, &with, "Content-Type: application/json|Accept: text/event-stream|"},
	    {AGENT_FORMAT_AGENTCORE, &with,
	     "Content-Type: application/json|Accept: text/event-stream|"
	     "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: sess-1|"},
	    {AGENT_FORMAT_AGENTCORE, &bare,
	     "Content-Type: application/json|Accept: text/event-stream|"},
	    {AGENT_FORMAT_OPENAI, &with, "Content-Type: application/json|Accept: text/event-stream|"},
	    {AGENT_FORMAT_ANTHROPIC, &bare,
	     "Content-Type: application/json|Accept: text/event-stream|"
	     "anthropic-version: 2023-06-01|"},
	};
	char text[512];

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		struct curl_slist *list =
		    agent_format_request_headers(cases[i].format, cases[i].request, NULL);

		assert_non_null(list);
		headers_text(list, text, sizeof(text));
		assert_string_equal(text, cases[i].want);
		curl_slist_free_all(list);
	}
}

/* Appended after the caller's headers; a bad session id changes nothing. */
static void
test_request_headers_append(void **state)
{
	struct agent_request injected = {"p", "s\r\nAuthorization: Bearer x", NULL};
	struct agent_request ok = {"p", "s", NULL};
	struct curl_slist *list = curl_slist_append(NULL, "Authorization: Bearer t");
	char text[512];

	(void) state;
	assert_null(agent_format_request_headers(AGENT_FORMAT_AGENTCORE, &injected, list));
	headers_text(list, text, sizeof(text));
	assert_string_equal(text, "Authorization: Bearer t|");
	assert_ptr_equal(agent_format_request_headers(AGENT_FORMAT_AGENTCORE, &ok, list), list);
	headers_text(list, text, sizeof(text));
	assert_string_equal(text, "Authorization: Bearer t|Content-Type: application/json|"
	                          "Accept: text/event-stream|"
	                          "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: s|");
	curl_slist_free_all(list);
}

int
main(void)
{
	enum
	{
		N_SAMPLES = sizeof(samples) / sizeof(samples[0])
	};
	static const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(test_phase_values),           cmocka_unit_test(test_phase_cap),
	    cmocka_unit_test(test_error_message_cleaned),  cmocka_unit_test(test_event_too_large),
	    cmocka_unit_test(test_answer_too_large),       cmocka_unit_test(test_empty_body),
	    cmocka_unit_test(test_format_names),           cmocka_unit_test(test_request_bodies),
	    cmocka_unit_test(test_request_body_rejects),   cmocka_unit_test(test_request_headers),
	    cmocka_unit_test(test_request_headers_append),
	};
	enum
	{
		N_FIXED = sizeof(fixed) / sizeof(fixed[0])
	};
	struct CMUnitTest tests[N_SAMPLES + N_FIXED];

	for (size_t i = 0; i < N_SAMPLES; i++)
	{
		struct CMUnitTest t = cmocka_unit_test_prestate(test_sample, (void *) &samples[i]);

		t.name = samples[i].name;
		tests[i] = t;
	}
	memcpy(tests + N_SAMPLES, fixed, sizeof(fixed));
	return _cmocka_run_group_tests("agent_format", tests, N_SAMPLES + N_FIXED, NULL, NULL);
}
