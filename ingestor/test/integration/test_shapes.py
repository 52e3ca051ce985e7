#!/usr/bin/env python3
"""The real-world stream shapes of issue 11, replayed through loomlat invoke
against the mock agent with a known pause before the answer: TTFT lands
within a few ms of it, reasoning and Python-repr events never end it, a
stream without answer text is complete with ttft_ms NULL (and counted as
"no text"), errors keep their cause, and the event size limit is an option.

The mock's shapes follow the public sources cited in test_agent_format.c
(Strands' ConverseStream events and the AgentCore SDK's repr fallback and
error event; OpenAI refusals, tool calls and finish_reason; OpenRouter
reasoning_details; Magistral thinking parts; vLLM's flat error)."""

import uuid

import harness

TTFT_MS = 300.0
REASONING_MS = 100.0
TOKENS = 5
# Never before the mock's send began (EARLY_MS: clock rounding), within
# MEASURE_MS after the send returned (the mock's own scheduling delays on a
# busy machine fall between the two), within LATE_MS of the pause it was
# told to make.
EARLY_MS = 1.0
MEASURE_MS = 5.0
LATE_MS = 30.0
PATHS = {"loom": "/loom", "agentcore": "/invocations", "strands": "/strands",
         "openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


class Shapes:
    """One mock agent and database; each call gets its own session and agent id."""

    def __init__(self, tap):
        self.tap = tap
        self.agent = harness.start_mock("agent_server")
        self.db = harness.Database("shapes")
        self.next_id = 0

    def invoke(self, path, fmt, query, *extra):
        """One invocation; returns (result, row, truth) for its session."""
        self.next_id += 1
        session = "shape-%d-%s" % (self.next_id, uuid.uuid4())
        url = "%s%s?cold=0&tokens=%d&gap_ms=5&%s" % (self.agent.url, PATHS[path], TOKENS, query)
        res = harness.loomlat("invoke", "--url", url, "--format", fmt, "--agent-id",
                              str(self.next_id), "--agent-name", "shape-%d" % self.next_id,
                              "--session", session, "--header", "X-Session-Id: " + session,
                              "--db", self.db.conninfo, "--allow-http",
                              "--json", "--json-records", "-n", "1", *extra)
        rows = self.db.rows(
            "SELECT status::text, ttft_ms, input_tokens, output_tokens, error_message, "
            "extract(epoch FROM client_invoke_time)::float8 AS invoke_epoch, "
            "(SELECT json_object_agg(phase, start_ms + duration_ms) "
            " FROM loomlat.invocation_phases p WHERE p.invocation_id = i.invocation_id) AS ends "
            "FROM loomlat.invocations i WHERE session_id = '%s'" % session)
        truth = [t for t in self.agent.get("/truth") if t["session"] == session]
        ok = self.tap.ok(len(rows) == 1 and len(truth) == 1, "%s %s: one row" % (path, query),
                         *res.explain())
        return res, (rows[0] if ok else {}), (truth[0] if ok else {})

    def timed(self, label, path, fmt, query, reasoning=False, tokens=None, *extra):
        """A complete row whose TTFT is the answer's pause, measured at its send."""
        res, row, truth = self.invoke(path, fmt, "ttft_ms=%g&%s" % (TTFT_MS, query), *extra)
        tap = self.tap
        tap.eq((res.rc, row.get("status")), (0, "complete"), "%s: exit 0, complete" % label)
        tap.near(row.get("ttft_ms"), TTFT_MS, EARLY_MS, LATE_MS,
                 "%s: ttft_ms %s within a few ms of the %g ms pause"
                 % (label, row.get("ttft_ms"), TTFT_MS))
        harness.check_first_token(tap, label, row, truth, "first_text_start", EARLY_MS,
                                  MEASURE_MS)
        if reasoning:
            tap.near((row.get("ends") or {}).get("first_reasoning"), REASONING_MS, EARLY_MS,
                     LATE_MS, "%s: reasoning timed apart, at %g ms" % (label, REASONING_MS))
        if tokens is not None:
            tap.eq((row.get("input_tokens"), row.get("output_tokens")), tokens,
                   "%s: input and output tokens %r" % (label, tokens))
        return res, row

    def failed(self, label, path, fmt, query, message, *extra):
        """An error row whose message is exactly what the stream said."""
        res, row, _ = self.invoke(path, fmt, query, *extra)
        self.tap.eq((res.rc, row.get("status"), row.get("error_message")), (2, "error", message),
                    "%s: exit 2, an error row saying %r" % (label, message))


def strands(s):
    """Strands on AgentCore: raw events carry the answer; reprs of the tool
    call and the reasoning arrive before it and must not end TTFT."""
    s.timed("strands", "strands", "agentcore", "reasoning_ms=%g" % REASONING_MS, True,
            (100 + 12, 20 + TOKENS))
    # A 2 MiB tool-result event: over the old 1 MiB cap, under the 16 MiB default.
    s.timed("strands, 2 MiB event", "strands", "agentcore", "pad_kb=2048")
    s.failed("strands, 2 MiB event over --max-event-size", "strands", "agentcore", "pad_kb=2048",
             "agentcore event larger than the event size limit (1048576 bytes)",
             "--max-event-size", "1048576")
    s.failed("AgentCore SDK error event", "strands", "agentcore", "scenario=error_event",
             "RuntimeError: mock agent failure; An error occurred during streaming")


def json_bodies(s):
    """A non-streaming agent: TTFT when the JSON body is complete, not at its first byte."""
    _, row = s.timed("agentcore JSON body", "agentcore", "agentcore",
                     "scenario=json_body&first_byte_ms=50")
    s.tap.near((row.get("ends") or {}).get("first_byte"), 50.0, 50.0, LATE_MS,
               "agentcore JSON body: the first byte came at 50 ms, long before the text")


def openai(s):
    for shape, reasoning in (("refusal", False), ("reasoning_details", True),
                             ("thinking_parts", True), ("no_done", False)):
        query = "shape=%s&reasoning_ms=%g" % (shape, REASONING_MS if reasoning else 0)
        s.timed("openai %s" % shape, "openai", "openai", query, reasoning)
    s.timed("openai 64-bit seed", "openai", "openai", "shape=seed", False, (12, TOKENS))
    s.failed("openai flat error object", "openai", "openai", "shape=flat_error&scenario=error_event",
             "BadRequestError: mock agent failure")


def no_text(s, label, path, fmt, query):
    """Complete, ttft_ms NULL, and counted as "no text" in the summary."""
    res, row, _ = s.invoke(path, fmt, "ttft_ms=50&" + query)
    summary = res.json() or {}
    records = summary.get("records") or [{}]
    s.tap.eq((res.rc, row.get("status"), row.get("ttft_ms"), row.get("error_message")),
             (0, "complete", None, None), "%s: exit 0, complete, ttft_ms NULL" % label)
    s.tap.eq((summary.get("errors"), summary.get("no_text"), records[0].get("ttft_ms")),
             (0, 1, None), "%s: the summary counts it as no text, not an error" % label)


def max_event_size_usage(s):
    for value in ("0", "1023", "1073741825", "16MiB", "-5"):
        res = harness.loomlat("invoke", "--url", s.agent.url + "/invocations", "--agent-id", "1",
                              "--max-event-size", value, "--db", s.db.conninfo, timeout=30)
        s.tap.ok(res.rc == 64 and "--max-event-size" in res.stderr,
                 "--max-event-size %s: exit 64 naming the option" % value, *res.explain())


def main():
    tap = harness.Tap()
    harness.require_environment(tap)
    s = Shapes(tap)
    strands(s)
    json_bodies(s)
    openai(s)
    no_text(s, "openai tool calls only", "openai", "openai", "shape=tool_only")
    for fmt in ("loom", "agentcore", "openai", "anthropic"):
        no_text(s, "%s without text" % fmt, fmt, fmt, "scenario=no_text")
    no_text(s, "strands without text", "strands", "agentcore", "scenario=no_text")
    max_event_size_usage(s)


if __name__ == "__main__":
    main()
