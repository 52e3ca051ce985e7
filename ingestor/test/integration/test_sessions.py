#!/usr/bin/env python3
"""--calls-per-session through the real binary against the mock agent: the N
calls of a session carry one session id (agentcore's header, loom's body),
run one after another (the agent never sees two of a session's calls at
once), the first is cold and the follow-ups warm, and the closing summary,
text and --json, sets the first calls beside the follow-ups.  Bad
combinations are refused with a usage error."""

import harness

TTFT_MS = 80.0
COLD_MS = 600.0
CALLS = 3
SESSIONS = 2
PATHS = {"agentcore": "/runtimes/mock/invocations", "loom": "/api/agents/1/invoke"}


def invoke(agent, db, fmt, agent_id, *extra, query=None):
    url = "%s%s?%s" % (agent.url, PATHS[fmt], query or "ttft_ms=%g&cold_ms=%g&tokens=3&gap_ms=5"
                       % (TTFT_MS, COLD_MS))
    return harness.loomlat("invoke", "--url", url, "--format", fmt, "--agent-id", str(agent_id),
                           "--agent-name", "sessions-%d" % agent_id, "--db", db.conninfo, "--allow-http",
                           *extra)


def by_session(truth):
    """The agent's requests grouped by session id, each group in arrival order."""
    groups = {}
    for t in sorted(truth, key=lambda t: t["arrival"]):
        groups.setdefault(t["session"], []).append(t)
    return groups


def check_agentcore(tap, agent, db):
    agent.post("/reset", {})
    res = invoke(agent, db, "agentcore", 41, "-n", str(CALLS * SESSIONS), "-c", str(SESSIONS),
                 "--calls-per-session", str(CALLS), "--json", "--json-records")
    if not tap.eq(res.rc, 0, "agentcore: %d sessions of %d calls exit 0" % (SESSIONS, CALLS)):
        tap.diag("\n".join(res.explain()))
        return
    groups = by_session(agent.get("/truth"))
    tap.eq(sorted(len(g) for g in groups.values()), [CALLS] * SESSIONS,
           "agentcore: the agent saw %d session ids (the runtime session header), %d calls each"
           % (SESSIONS, CALLS))
    tap.ok(all(s and len(s) >= 33 for s in groups), "agentcore: session ids AgentCore accepts",
           "sessions: %r" % list(groups))
    overlaps = [(a["key"], b["key"]) for g in groups.values() for a, b in zip(g, g[1:])
                if b["arrival"] < a["ended"]]
    tap.eq(overlaps, [], "agentcore: each call of a session arrived after the one before ended")
    tap.eq([[t["cold"] for t in g] for g in groups.values()],
           [[True] + [False] * (CALLS - 1)] * SESSIONS,
           "agentcore: each session's first call was cold at the agent, the follow-ups warm")
    rows = db.rows("SELECT session_id, was_cold_start FROM loomlat.invocations "
                   "ORDER BY session_id, client_invoke_time")
    written = {}
    for r in rows:
        written.setdefault(r["session_id"], []).append(r["was_cold_start"])
    tap.eq(written, {s: [True] + [False] * (CALLS - 1) for s in groups},
           "agentcore: the rows carry the sessions' ids; was_cold_start only on first calls")
    summary = res.json() or {}
    split = summary.get("by_session_call") or {}
    first, follow = split.get("first") or {}, split.get("follow_up") or {}
    tap.eq(summary.get("calls_per_session"), CALLS, "--json: calls_per_session")
    tap.eq((first.get("count"), follow.get("count")), (SESSIONS, SESSIONS * (CALLS - 1)),
           "--json: first calls and follow-ups counted apart")
    tap.eq((first.get("cold_start_pct"), follow.get("cold_start_pct")), (1.0, 0.0),
           "--json: cold-start share 1 for first calls, 0 for follow-ups")
    p50_first = (first.get("ttft_ms") or {}).get("p50")
    p95_follow = (follow.get("ttft_ms") or {}).get("p95")
    tap.ok(p50_first is not None and p95_follow is not None
           and p50_first >= COLD_MS + TTFT_MS - 1 and p95_follow < COLD_MS,
           "--json: first-call TTFT p50 %r ms includes the cold start, follow-ups' p95 %r ms not"
           % (p50_first, p95_follow))
    calls = sorted(r.get("session_call") for r in summary.get("records") or [])
    tap.eq(calls, sorted(list(range(1, CALLS + 1)) * SESSIONS),
           "--json-records: each record says which call of its session it was")


def check_text(tap, agent, db):
    res = invoke(agent, db, "agentcore", 42, "-n", "4", "--calls-per-session", "2")
    tap.eq(res.rc, 0, "text: two sessions of two calls exit 0") or tap.diag(
        "\n".join(res.explain()))
    lines = {line.split()[0]: line.split() for line in res.stdout.splitlines()
             if line.strip().startswith(("first calls", "follow-ups"))}
    first, follow = lines.get("first"), lines.get("follow-ups")
    tap.ok(first is not None and follow is not None,
           "text: the summary has a first-calls line and a follow-ups line", res.stdout)
    if first is None or follow is None:
        return
    tap.eq((first[2], follow[1]), ("2", "2"), "text: 2 first calls, 2 follow-ups")
    tap.eq((first[-1], follow[-1]), ("100.0%", "0.0%"),
           "text: cold % 100 for first calls, 0 for follow-ups")


def check_loom(tap, agent, db):
    agent.post("/reset", {})
    res = invoke(agent, db, "loom", 43, "-n", "4", "--calls-per-session", "2", "--json")
    tap.eq(res.rc, 0, "loom: two sessions of two calls exit 0") or tap.diag(
        "\n".join(res.explain()))
    groups = by_session(agent.get("/truth"))
    tap.eq(sorted(len(g) for g in groups.values()), [2, 2],
           "loom: the session id travels in the body, two calls each")


def check_refusals(tap, agent, db):
    cases = [("openai", ["--calls-per-session", "2", "-n", "2"], "runtime sessions"),
             ("agentcore", ["--calls-per-session", "2", "-n", "3"], "multiple of"),
             ("agentcore", ["--calls-per-session", "2", "-n", "2",
                            "--session", "s" * 40], "not both"),
             ("agentcore", ["--calls-per-session", "0"], "integer from 1")]
    for fmt, extra, words in cases:
        url = "%s/v1/chat/completions" % agent.url if fmt == "openai" else None
        args = ["invoke", "--url", url or agent.url + PATHS[fmt], "--format", fmt,
                "--agent-id", "44", "--db", db.conninfo, *extra]
        res = harness.loomlat(*args)
        tap.ok(res.rc == 64 and words in res.stderr,
               "refused with a usage error naming the rule: %s" % " ".join(extra),
               *res.explain())


def main():
    tap = harness.Tap()
    harness.require_environment(tap)
    agent = harness.start_mock("agent_server")
    db = harness.Database("sessions")
    check_agentcore(tap, agent, db)
    check_text(tap, agent, db)
    check_loom(tap, agent, db)
    check_refusals(tap, agent, db)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
