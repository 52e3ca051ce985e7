#!/usr/bin/env python3
"""agent_server - a loopback streaming agent speaking loomlat's four formats.

The format comes from the path (".../loom", "/api/agents/<id>/invoke",
".../invocations" = agentcore, ".../strands" = a Strands agent on AgentCore,
".../chat/completions" = openai, ".../messages" = anthropic) or from
?format=.  Every knob below is taken from
the query string, then from an "X-Mock-<Knob>" header, then from the
server's defaults (--ttft-ms ...), so one URL describes one scenario:

  ttft_ms        request arrival -> first answer text, after any cold start
  first_byte_ms  request arrival -> response headers, after any cold start
  cold           auto (a session's first request is cold) | 1 | 0
  cold_ms        how long a cold start takes (before the headers)
  report         agent_start | cold_start | none: how the agent reports when
                 it started (loom's session_end always carries both)
  tokens, gap_ms how many text events, and the time between them
  reasoning_ms   > 0: reasoning ("thinking") text at this time after arrival
                 (after any cold start), before the answer; never a first
                 token (agentcore, openai, anthropic; loom forwards none)
  jitter_ms      add a uniform random 0..jitter_ms to ttft_ms and to each gap,
                 so that many concurrent streams do not run in lockstep
  phases         1: report agent phases ({"type":"timing",...}); 0: none
  auth           require: 401 without a bearer token; reject_first: 401 for
                 the first bearer token this server ever saw (a token the
                 agent was "told to reject"), 200 for any other
  scenario       ok | pings | dribble | no_text | cut (chunked body dropped
                 mid-stream) | cut_close (close-delimited body ended early) |
                 malformed | error_event | http500 | http401 | json_body
                 (agentcore, strands: one application/json answer, half of it
                 at first_byte_ms, the rest at ttft_ms: "first_text" is when
                 its last byte went out)
  shape          openai only: plain | refusal (text as delta.refusal) |
                 tool_only (tool-call arguments instead of text) | no_done
                 (no "data: [DONE]", as llama.cpp-family servers) |
                 reasoning_details (OpenRouter) | thinking_parts (Magistral
                 content parts) | flat_error (vLLM's error object) | seed (a
                 64-bit "seed" in every chunk)
  pad_kb         strands only: pad the tool-result message event to this size
  every          k: only every k-th request naming this scenario gets it (the
                 others are "ok"), so one run mixes failures and successes

GET /truth returns, for every request, its arrival and the time its response
was finished ("arrival", "ended"; wall clock, time.time()), and the time
right after the first text event was handed to the socket ("first_text"; and
right after its first byte was, "first_text_start": these differ only when
the scenario dribbles the stream byte by byte; and right before its first byte
was, "first_text_before": the client cannot see the text earlier),
keyed by invocation ("key": the X-Loomlat-Invocation-Id or X-Request-Id
header, else the session id, else "req-<n>").  GET /stats counts requests,
statuses and bearer tokens; POST /reset clears both.

--profile realistic makes the defaults random per request, like a deployed
agent: a new session starts cold with probability --cold-probability, cold
starts are lognormal around 1.5-4 s, warm TTFT lognormal around 300-800 ms,
token gaps around 20 ms.  The first line on stdout is "PORT <n>".
"""

import asyncio
import itertools
import json
import math
import random
import sys
import time

import httpmock

KNOBS = ("ttft_ms", "first_byte_ms", "cold", "cold_ms", "report", "tokens", "gap_ms",
         "phases", "auth", "scenario", "every", "jitter_ms", "reasoning_ms", "shape", "pad_kb")
SCENARIOS = {"ok", "pings", "dribble", "no_text", "cut", "cut_close", "malformed",
             "error_event", "http500", "http401", "json_body"}
SHAPES = {"plain", "refusal", "tool_only", "no_done", "reasoning_details", "thinking_parts",
          "flat_error", "seed"}
SESSION_HEADER = "x-amzn-bedrock-agentcore-runtime-session-id"
PING_INTERVAL_S = 0.1


def sse(data, event=None):
    """One SSE frame; data is JSON-encoded unless it is already a string."""
    head = "event: %s\n" % event if event else ""
    if not isinstance(data, str):
        data = json.dumps(data)
    return "%sdata: %s\n\n" % (head, data)


class Loom:
    """heeki/loom backend: named events, session_end carries the timing."""

    name = "loom"

    def preamble(self, inv):
        return [sse({"session_id": inv.session, "invocation_id": inv.key,
                     "client_invoke_time": inv.arrival}, "session_start")]

    def text(self, inv, text):
        return sse({"text": text}, "chunk")

    def meta(self, obj):
        return sse(obj, obj["type"])

    def ping(self):
        return ": keep-alive\n\n"

    def malformed(self):
        return 'event: chunk\ndata: {"text": "unterminated\n\n'

    def error(self, inv):
        return sse({"message": "Invocation failed: mock agent failure"}, "error")

    def end(self, inv):
        return [sse({"session_id": inv.session, "invocation_id": inv.key,
                     "client_invoke_time": inv.arrival, "client_done_time": time.time(),
                     "client_duration_ms": (time.time() - inv.arrival) * 1000,
                     "cold_start_latency_ms": (inv.agent_start - inv.arrival) * 1000,
                     "agent_start_time": inv.agent_start,
                     "input_tokens": inv.input_tokens, "output_tokens": inv.tokens},
                    "session_end")]

    def reasoning(self, inv, text):
        return None

    def reports_start_in_stream(self):
        return False


class AgentCore:
    """Bedrock AgentCore runtime: data-only SSE, text as JSON strings."""

    name = "agentcore"

    def preamble(self, inv):
        return []

    def text(self, inv, text):
        return sse(json.dumps(text))

    def reasoning(self, inv, text):
        return sse({"reasoning": text})

    def meta(self, obj):
        return sse(obj)

    def ping(self):
        return ": ping\n\n"

    def malformed(self):
        # Not an error here: the contract reads non-JSON data as text.
        return 'data: {"data": "unterminated\n\n'

    def error(self, inv):
        # bedrock-agentcore-sdk-python runtime/app.py, _stream_with_error_handling
        return sse({"error": "mock agent failure", "error_type": "RuntimeError",
                    "message": "An error occurred during streaming"})

    def end(self, inv):
        return [sse({"token_info": {"input_tokens": inv.input_tokens,
                                    "output_tokens": inv.tokens}})]

    def answer(self, inv, text):
        """A non-streaming agent's JSON body (the starter agent's return value)."""
        return {"result": {"role": "assistant", "content": [{"text": text}]}}

    def reports_start_in_stream(self):
        return True


class Strands(AgentCore):
    """A Strands agent on AgentCore yielding every event of stream_async():
    the raw ConverseStream event, then the SDK's own event as older AgentCore
    SDKs send it when it holds the agent object: a JSON string with its
    Python repr.  One tool call (a first model call) comes before the answer."""

    name = "strands"
    TOOL_INPUT_TOKENS = 100
    TOOL_OUTPUT_TOKENS = 20

    def _raw(self, event):
        return sse({"event": event})

    def _repr(self, obj):
        return sse(json.dumps(repr(obj)[:-1] + ", 'agent': <strands.agent.agent.Agent object>}"))

    def preamble(self, inv):
        tool_delta = {"toolUse": {"input": '{"q": "x"}'}}
        result = {"toolUseId": "t1", "status": "success",
                  "content": [{"text": "x" * int(float(inv.pad_kb) * 1024)}]}
        return [sse({"init_event_loop": True}), sse({"start": True}),
                sse({"start_event_loop": True}),
                self._raw({"messageStart": {"role": "assistant"}}),
                self._raw({"contentBlockStart": {"start": {"toolUse": {"toolUseId": "t1",
                                                                       "name": "search"}},
                                                 "contentBlockIndex": 0}}),
                self._raw({"contentBlockDelta": {"delta": tool_delta, "contentBlockIndex": 0}}),
                self._repr({"delta": tool_delta, "current_tool_use": {"name": "search"}}),
                self._raw({"contentBlockStop": {"contentBlockIndex": 0}}),
                self._raw({"messageStop": {"stopReason": "tool_use"}}),
                self._raw({"metadata": {"usage": {"inputTokens": self.TOOL_INPUT_TOKENS,
                                                  "outputTokens": self.TOOL_OUTPUT_TOKENS},
                                        "metrics": {"latencyMs": 5}}}),
                sse({"message": {"role": "user", "content": [{"toolResult": result}]}}),
                self._raw({"messageStart": {"role": "assistant"}})]

    def text(self, inv, text):
        delta = {"text": text}
        return (self._raw({"contentBlockDelta": {"delta": delta, "contentBlockIndex": 1}})
                + self._repr({"data": text, "delta": delta}))

    def reasoning(self, inv, text):
        delta = {"reasoningContent": {"text": text}}
        return (self._raw({"contentBlockDelta": {"delta": delta, "contentBlockIndex": 0}})
                + self._repr({"reasoningText": text, "delta": delta, "reasoning": True}))

    def end(self, inv):
        return [self._raw({"contentBlockStop": {"contentBlockIndex": 1}}),
                self._raw({"messageStop": {"stopReason": "end_turn"}}),
                self._raw({"metadata": {"usage": {"inputTokens": inv.input_tokens,
                                                  "outputTokens": inv.tokens}}}),
                sse({"message": {"role": "assistant", "content": [{"text": "..."}]}}),
                sse(json.dumps("{'result': AgentResult(stop_reason='end_turn')}"))]


class OpenAI:
    """Chat completions: a role-only first delta, [DONE] at the end."""

    name = "openai"

    def _chunk(self, inv, delta, finish=None, choices=True):
        chunk = {"id": "chatcmpl-" + inv.key, "object": "chat.completion.chunk",
                 "created": int(inv.arrival), "model": "mock",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if not choices:
            chunk["choices"] = []
            chunk["usage"] = {"prompt_tokens": inv.input_tokens, "completion_tokens": inv.tokens}
        if inv.shape == "seed":
            chunk["seed"] = 2 ** 64 - 1
        return sse(chunk)

    def preamble(self, inv):
        return [self._chunk(inv, {"role": "assistant", "content": ""})]

    def text(self, inv, text):
        if inv.shape == "refusal":
            delta = {"content": None, "refusal": text}
        elif inv.shape == "tool_only":
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": text}}]}
        elif inv.shape == "thinking_parts":
            delta = {"content": [{"type": "text", "text": text}]}
        else:
            delta = {"content": text}
        return self._chunk(inv, delta)

    def reasoning(self, inv, text):
        if inv.shape == "reasoning_details":
            delta = {"content": "", "reasoning_details": [{"type": "reasoning.text",
                                                           "text": text, "index": 0}]}
        elif inv.shape == "thinking_parts":
            delta = {"content": [{"type": "thinking", "thinking": [{"type": "text",
                                                                    "text": text}]}]}
        else:
            delta = {"reasoning_content": text}
        return self._chunk(inv, delta)

    def meta(self, obj):
        return sse(obj)

    def ping(self):
        return ": ping\n\n"

    def malformed(self):
        return 'data: {"choices": [{"delta": {"content": "unterminated\n\n'

    def error(self, inv):
        if inv.shape == "flat_error":  # vLLM's ErrorResponse
            return sse({"object": "error", "message": "mock agent failure",
                        "type": "BadRequestError", "param": None, "code": 400})
        return sse({"error": {"message": "mock agent failure", "type": "server_error"}})

    def end(self, inv):
        frames = [self._chunk(inv, {}, "tool_calls" if inv.shape == "tool_only" else "stop"),
                  self._chunk(inv, None, choices=False)]
        return frames if inv.shape == "no_done" else frames + ["data: [DONE]\n\n"]

    def reports_start_in_stream(self):
        return True


class Anthropic:
    """Messages API: message_start and ping first, text_delta, message_stop."""

    name = "anthropic"

    def preamble(self, inv):
        return [sse({"type": "message_start",
                     "message": {"id": "msg_" + inv.key, "type": "message",
                                 "role": "assistant", "content": [], "model": "mock",
                                 "usage": {"input_tokens": inv.input_tokens,
                                           "output_tokens": 1}}}, "message_start"),
                sse({"type": "content_block_start", "index": 0,
                     "content_block": {"type": "text", "text": ""}}, "content_block_start"),
                self.ping()]

    def text(self, inv, text):
        return sse({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": text}}, "content_block_delta")

    def reasoning(self, inv, text):
        return sse({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": text}}, "content_block_delta")

    def meta(self, obj):
        return sse(obj, obj["type"])

    def ping(self):
        return sse({"type": "ping"}, "ping")

    def malformed(self):
        return 'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": \n\n'

    def error(self, inv):
        return sse({"type": "error", "error": {"type": "overloaded_error",
                                               "message": "Overloaded"}}, "error")

    def end(self, inv):
        return [sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
                sse({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                     "usage": {"output_tokens": inv.tokens}}, "message_delta"),
                sse({"type": "message_stop"}, "message_stop")]

    def reports_start_in_stream(self):
        return True


FORMATS = {f.name: f for f in (Loom(), AgentCore(), Strands(), OpenAI(), Anthropic())}


def detect_format(request, default):
    if "format" in request.query:
        return FORMATS.get(request.query["format"])
    path = request.path
    if path.endswith("/loom") or (path.startswith("/api/agents/") and path.endswith("/invoke")):
        return FORMATS["loom"]
    if path.endswith("/invocations") or path.endswith("/agentcore"):
        return FORMATS["agentcore"]
    if path.endswith("/strands"):
        return FORMATS["strands"]
    if path.endswith("/chat/completions") or path.endswith("/openai"):
        return FORMATS["openai"]
    if path.endswith("/messages") or path.endswith("/anthropic"):
        return FORMATS["anthropic"]
    return FORMATS.get(default)


def session_of(request, body):
    if SESSION_HEADER in request.headers:
        return request.headers[SESSION_HEADER]
    if isinstance(body, dict):
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        for value in (body.get("session_id"), meta.get("session_id"), meta.get("user_id"),
                      body.get("user")):
            if isinstance(value, str) and value:
                return value
    return request.headers.get("x-session-id")


class Invocation:
    """One request's plan and what happened to it."""

    def __init__(self, request, fmt, key, session, knobs, cold, rng):
        self.arrival = request.arrival
        self.fmt = fmt
        self.key = key
        self.session = session
        self.cold = cold
        self.cold_ms = float(knobs["cold_ms"]) if cold else 0.0
        self.jitter_ms = float(knobs["jitter_ms"])
        self.rng = rng
        self.ttft_ms = float(knobs["ttft_ms"]) + rng.uniform(0, self.jitter_ms)
        self.first_byte_ms = float(knobs["first_byte_ms"])
        self.tokens = int(knobs["tokens"])
        self.gap_ms = float(knobs["gap_ms"])
        self.reasoning_ms = float(knobs["reasoning_ms"])
        self.report = knobs["report"]
        self.phases = str(knobs["phases"]) == "1"
        self.scenario = knobs["scenario"]
        self.shape = knobs["shape"]
        self.pad_kb = float(knobs["pad_kb"])
        self.input_tokens = 12
        self.agent_start = self.arrival + self.cold_ms / 1000
        self.first_text = None
        self.first_text_start = None
        self.first_text_before = None
        self.status = None
        self.ended = None

    def at(self, offset_ms):
        """Wall-clock time offset_ms after the request arrived."""
        return self.arrival + offset_ms / 1000

    def truth(self):
        return {"key": self.key, "session": self.session, "format": self.fmt.name,
                "arrival": self.arrival, "cold": self.cold, "cold_ms": self.cold_ms,
                "ttft_ms": self.ttft_ms, "first_byte_ms": self.first_byte_ms,
                "expected_ttft_ms": self.cold_ms + max(self.ttft_ms, self.first_byte_ms),
                "first_text": self.first_text, "first_text_start": self.first_text_start,
                "first_text_before": self.first_text_before,
                "agent_start": self.agent_start, "ended": self.ended,
                "scenario": self.scenario, "status": self.status}


async def sleep_until(wall):
    delay = wall - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


class Agent:
    """The server: sessions seen, per-request truth, counters."""

    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.sessions = set()
        self.serial = itertools.count(1)
        self.rejected_token = None
        self.reset()

    def reset(self):
        self.truth = []
        self.scenario_counts = {}
        self.stats = {"requests": 0, "by_status": {}, "by_format": {}, "bearer_tokens": {},
                      "cold": 0, "warm": 0}

    def defaults(self, new_session):
        """The knobs this request gets when it does not set them."""
        a = self.args
        knobs = {"ttft_ms": a.ttft_ms, "first_byte_ms": a.first_byte_ms, "cold": a.cold,
                 "cold_ms": a.cold_ms, "report": a.report, "tokens": a.tokens,
                 "gap_ms": a.gap_ms, "phases": a.phases, "auth": a.auth, "scenario": "ok",
                 "every": 1, "jitter_ms": 0, "reasoning_ms": 0, "shape": "plain", "pad_kb": 0}
        if a.profile == "realistic":
            lognormal = self.rng.lognormvariate
            knobs.update(
                cold="1" if new_session and self.rng.random() < a.cold_probability else "0",
                cold_ms=lognormal(math.log(2400), 0.25),
                ttft_ms=lognormal(math.log(500), 0.25),
                gap_ms=lognormal(math.log(20), 0.3),
                tokens=self.rng.randint(20, 60))
        return knobs

    def knobs(self, request, new_session):
        knobs = self.defaults(new_session)
        for name in KNOBS:
            header = "x-mock-" + name.replace("_", "-")
            if name in request.query:
                knobs[name] = request.query[name]
            elif header in request.headers:
                knobs[name] = request.headers[header]
        return knobs

    def check_auth(self, request, mode):
        kind, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip() if kind.lower() == "bearer" else ""
        if token:
            seen = self.stats["bearer_tokens"]
            seen[token] = seen.get(token, 0) + 1
        if mode == "require":
            return bool(token)
        if mode == "reject_first":
            if self.rejected_token is None:
                self.rejected_token = token or None
            return bool(token) and token != self.rejected_token
        return True

    async def invoke(self, request, fmt):
        body = request.json()
        session = session_of(request, body)
        key = (request.headers.get("x-loomlat-invocation-id")
               or request.headers.get("x-request-id") or session
               or "req-%d" % next(self.serial))
        new_session = session is not None and session not in self.sessions
        knobs = self.knobs(request, new_session)
        if knobs["scenario"] not in SCENARIOS or knobs["shape"] not in SHAPES:
            await request.respond(400, {"error": "unknown scenario or shape"})
            return
        try:
            every = int(knobs["every"])
            seen = self.scenario_counts.get(knobs["scenario"], 0)
            self.scenario_counts[knobs["scenario"]] = seen + 1
            if every < 1 or seen % every != 0:
                knobs["scenario"] = "ok"
            cold = knobs["cold"] == "1" or (knobs["cold"] == "auto" and new_session)
            inv = Invocation(request, fmt, key, session, knobs, cold, self.rng)
        except ValueError:
            await request.respond(400, {"error": "a numeric knob is not a number"})
            return
        if session is not None:
            self.sessions.add(session)
        self.truth.append(inv)
        self.stats["requests"] += 1
        self.stats["cold" if cold else "warm"] += 1
        self.stats["by_format"][fmt.name] = self.stats["by_format"].get(fmt.name, 0) + 1
        if not self.check_auth(request, knobs["auth"]) or inv.scenario == "http401":
            inv.status = 401
        elif inv.scenario == "http500":
            inv.status = 500
        else:
            inv.status = 200
        by_status = self.stats["by_status"]
        by_status[str(inv.status)] = by_status.get(str(inv.status), 0) + 1
        await sleep_until(inv.at(inv.cold_ms + inv.first_byte_ms))
        if inv.status == 401:
            await request.respond(401, {"message": "Unauthorized"},
                                  headers=[("WWW-Authenticate", 'Bearer error="invalid_token"')])
        elif inv.status == 500:
            await request.respond(500, {"message": "Internal Server Error"})
        else:
            await Stream(request, inv).run()
        inv.ended = time.time()


class Stream:
    """Writes one 200 response as the invocation's plan says."""

    def __init__(self, request, inv):
        self.request = request
        self.inv = inv
        self.fmt = inv.fmt

    async def emit(self, frame, first_text=False):
        """Write a frame; for the first text, note when its first byte went out."""
        if first_text:
            self.inv.first_text_before = time.time()
        if self.inv.scenario == "dribble":
            for i in range(len(frame)):
                self.request.send(frame[i:i + 1])
                if first_text and i == 0:
                    self.inv.first_text_start = time.time()
                await asyncio.sleep(0.001)
        else:
            self.request.send(frame)
            if first_text:
                self.inv.first_text_start = time.time()
        await self.request.flush()

    def agent_reports(self):
        inv = self.inv
        out = []
        if self.fmt.reports_start_in_stream():
            if inv.report == "agent_start":
                out.append({"type": "agent_start", "agent_start_time": inv.agent_start})
            elif inv.report == "cold_start":
                out.append({"type": "cold_start", "cold_start_latency_ms": inv.cold_ms})
        return out

    def timing_phases(self):
        inv = self.inv
        if not inv.phases:
            return []
        out = []
        if inv.cold:
            out.append({"type": "timing", "phase": "init", "start_ms": 0.0,
                        "duration_ms": inv.cold_ms})
        out.append({"type": "timing", "phase": "model", "start_ms": inv.cold_ms,
                    "duration_ms": max(inv.ttft_ms, inv.first_byte_ms)})
        return out

    async def json_body(self):
        """One application/json answer: half at once, the rest at the first-text time."""
        inv = self.inv
        text = "".join("w%d " % i for i in range(inv.tokens))
        body = json.dumps(self.fmt.answer(inv, text))
        await self.request.start(content_type="application/json")
        await self.emit(body[:len(body) // 2])
        await sleep_until(inv.at(inv.cold_ms + max(inv.ttft_ms, inv.first_byte_ms)))
        inv.first_text_before = time.time()
        self.request.send(body[len(body) // 2:])
        inv.first_text_start = time.time()
        await self.request.flush()
        inv.first_text = time.time()
        await self.request.end()

    async def run(self):
        inv, fmt = self.inv, self.fmt
        if inv.scenario == "json_body":
            await self.json_body()
            return
        await self.request.start(chunked=inv.scenario != "cut_close")
        for frame in fmt.preamble(inv):
            await self.emit(frame)
        for obj in self.agent_reports():
            await self.emit(fmt.meta(obj))
        first_text_at = inv.at(inv.cold_ms + max(inv.ttft_ms, inv.first_byte_ms))
        thought = fmt.reasoning(inv, "considering ") if inv.reasoning_ms > 0 else None
        if thought is not None:
            await sleep_until(inv.at(inv.cold_ms + inv.reasoning_ms))
            await self.emit(thought)
        if inv.scenario == "pings":
            while time.time() + PING_INTERVAL_S < first_text_at:
                await asyncio.sleep(PING_INTERVAL_S)
                await self.emit(fmt.ping())
        await sleep_until(first_text_at)
        tokens = 0 if inv.scenario == "no_text" else inv.tokens
        for i in range(tokens):
            if i:
                await asyncio.sleep((inv.gap_ms + inv.rng.uniform(0, inv.jitter_ms)) / 1000)
            await self.emit(fmt.text(inv, "w%d " % i), first_text=i == 0)
            if i == 0:
                inv.first_text = time.time()
                if await self.misbehave():
                    return
            if i == tokens // 2 and inv.scenario in ("cut", "cut_close"):
                self.cut()
                return
        for obj in self.timing_phases():
            await self.emit(fmt.meta(obj))
        for frame in fmt.end(inv):
            await self.emit(frame)
        await self.request.end()

    async def misbehave(self):
        """After the first token: the scenarios that end the stream badly."""
        if self.inv.scenario == "malformed":
            await self.emit(self.fmt.malformed())
        elif self.inv.scenario == "error_event":
            await self.emit(self.fmt.error(self.inv))
            await self.request.end()
            return True
        return False

    def cut(self):
        if self.inv.scenario == "cut":
            self.request.cut()
        else:
            self.request.keep_alive = False
            self.request.writer.close()


async def handle(agent, request):
    if request.method == "GET" and request.path == "/truth":
        await request.respond(200, [inv.truth() for inv in agent.truth])
    elif request.method == "GET" and request.path == "/stats":
        await request.respond(200, agent.stats)
    elif request.method == "POST" and request.path == "/reset":
        agent.reset()
        await request.respond(200, {"reset": True})
    elif request.method == "POST":
        fmt = detect_format(request, agent.args.format)
        if fmt is None:
            await request.respond(404, {"error": "no agent format at this path"})
        else:
            await agent.invoke(request, fmt)
    else:
        await request.respond(405, {"error": "POST an invocation"})


def main():
    parser = httpmock.base_arguments(__doc__.split("\n")[0])
    parser.add_argument("--format", choices=sorted(FORMATS), help="format for other paths")
    parser.add_argument("--profile", choices=["fixed", "realistic"], default="fixed")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--cold-probability", type=float, default=0.3)
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    parser.add_argument("--first-byte-ms", type=float, default=0.0)
    parser.add_argument("--cold", choices=["auto", "1", "0"], default="auto")
    parser.add_argument("--cold-ms", type=float, default=1000.0)
    parser.add_argument("--report", choices=["agent_start", "cold_start", "none"],
                        default="agent_start")
    parser.add_argument("--tokens", type=int, default=5)
    parser.add_argument("--gap-ms", type=float, default=5.0)
    parser.add_argument("--phases", choices=["0", "1"], default="1")
    parser.add_argument("--auth", choices=["none", "require", "reject_first"], default="none")
    args = parser.parse_args()
    agent = Agent(args)
    httpmock.serve(lambda request: handle(agent, request), args.port_file)


if __name__ == "__main__":
    sys.exit(main())
