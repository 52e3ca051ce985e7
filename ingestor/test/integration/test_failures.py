#!/usr/bin/env python3
"""Failed invocations become error rows that say why, and the run goes on;
bad usage, bad data, missing files and an unreachable database get their
sysexits codes and a message that says what to fix."""

import os
import re
import tempfile

import harness

FORMAT_PATHS = {"loom": "/loom", "agentcore": "/invocations",
                "openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
# scenario -> (formats, what the error message must mention)
FAILURES = {
    "http500": (FORMAT_PATHS, r"500"),
    "cut": (FORMAT_PATHS, r"(?i)trunc|cut|partial|before|closed|incomplete"),
    # Only formats with an end marker can tell a close-delimited body ended
    # early: loom's session_end comes late by design, agentcore has none.
    "cut_close": (("openai", "anthropic"), r"(?i)trunc|cut|before|closed|end|incomplete"),
    "malformed": (("loom", "openai", "anthropic"), r"(?i)json|malformed|parse|invalid"),
    "error_event": (FORMAT_PATHS, r"mock agent failure|Overloaded"),
}


def run_failing(tap, agent, db, fmt, scenario, pattern, agent_id):
    """Six invocations, every second one failing: three error rows, three complete."""
    url = "%s%s?scenario=%s&every=2&ttft_ms=5&tokens=4&gap_ms=2&cold=0" % (
        agent.url, FORMAT_PATHS[fmt], scenario)
    res = harness.loomlat("invoke", "--url", url, "--format", fmt, "--agent-id", str(agent_id),
                          "--agent-name", "%s-%s" % (fmt, scenario), "-n", "6", "-c", "1",
                          "--db", db.conninfo, "--allow-http", "--json", "--timeout", "10")
    label = "%s %s" % (fmt, scenario)
    tap.eq(res.rc, 2, "%s: some invocations failed, exit 2" % label) or tap.diag(
        "\n".join(res.explain()))
    rows = db.rows("SELECT status::text, error_message, ttft_ms FROM loomlat.invocations "
                   "WHERE agent_id = %d ORDER BY client_invoke_time" % agent_id)
    tap.eq([r["status"] for r in rows], ["error", "complete"] * 3,
           "%s: the run goes on, 3 error rows and 3 complete rows in order" % label)
    errors = [r["error_message"] or "" for r in rows if r["status"] == "error"]
    tap.ok(len(errors) == 3 and all(re.search(pattern, e) for e in errors),
           "%s: error_message says why (%s)" % (label, errors[0] if errors else None),
           "errors: %r" % errors)
    summary = res.json() or {}
    tap.eq((summary.get("count"), summary.get("errors")), (6, 3),
           "%s: the summary counts 6 invocations, 3 errors" % label)


def usage_errors(tap, agent, db, tmp):
    url = agent.url + "/v1/messages"
    base = ["invoke", "--format", "anthropic", "--agent-id", "1", "--allow-http", "--db",
            db.conninfo]
    cases = [
        ([], 64, r"(?i)usage", "no arguments"),
        (["invoke", "--format", "anthropic", "--agent-id", "1"], 64, r"--url", "no --url"),
        (base + ["--url", url, "--format", "claude"], 64, r"(?i)format", "unknown --format"),
        (base + ["--url", url, "-n", "0"], 64, r"-n|count", "-n 0"),
        (base + ["--url", url, "-c", "many"], 64, r"-c|concurren", "-c not a number"),
        (base + ["--url", url, "--rate", "-1"], 64, r"rate", "negative --rate"),
        (base + ["--url", url, "--bogus"], 64, r"bogus", "unknown option"),
        (base + ["--url", "ftp://127.0.0.1/x"], 64, r"(?i)url|http", "a URL that is not HTTP"),
        (["invoke", "--format", "anthropic", "--agent-id", "1", "--db", db.conninfo,
          "--agent-name", "x", "--url", url, "--token-url", "http://127.0.0.1:1/token",
          "--client-id", "x"], 64,
         r"--allow-http", "an http:// token URL without --allow-http"),
        (base[:1] + ["--format", "agentcore"] + base[3:] + ["--url", url, "--session", "s" * 32],
         64, r"--session.*33", "an agentcore --session of 32 characters"),
        (base[:1] + ["--format", "agentcore"] + base[3:] + ["--url", url, "--session", "s" * 257],
         64, r"--session.*256", "an agentcore --session of 257 characters"),
        (base + ["--url", url, "--prompt-file", os.path.join(tmp, "absent.txt")], 66,
         r"absent\.txt", "a missing --prompt-file"),
        (base[:-2] + ["--url", url, "--db", db.conninfo, "--agent-id", "424242"], 65,
         r"(?i)agent", "an unknown agent without --agent-name"),
    ]
    for args, code, pattern, label in cases:
        res = harness.loomlat(*args, timeout=30, env={"LOOMLAT_CLIENT_SECRET": "unused"})
        tap.ok(res.rc == code and re.search(pattern, res.stderr),
               "%s: exit %d with a message naming the problem" % (label, code), *res.explain())
    tap.eq(agent.get("/stats")["requests"], 0, "usage errors: no invocation was sent")


def db_unavailable(tap, agent):
    dead_port = harness.free_port()
    res = harness.loomlat("invoke", "--url", agent.url + "/v1/messages", "--format", "anthropic",
                          "--agent-id", "1", "--allow-http", "-n", "1",
                          "--db", "host=127.0.0.1 port=%d dbname=x connect_timeout=3" % dead_port,
                          timeout=30)
    tap.ok(res.rc == 69 and str(dead_port) in res.stderr,
           "database unreachable at start: exit 69, the message names where", *res.explain())
    dead = harness.loomlat("invoke", "--url", "http://127.0.0.1:%d/v1/messages" % dead_port,
                           "--format", "anthropic", "--agent-id", "1", "--agent-name", "x",
                           "--allow-http", "-n", "2", "--connect-timeout", "2",
                           "--db", harness.Database("deadagent").conninfo, timeout=30)
    tap.ok(dead.rc in (2, 69) and re.search(r"(?i)connect", dead.stderr + dead.stdout),
           "agent endpoint unreachable: reported as a connection failure", *dead.explain())


def main():
    tap = harness.Tap()
    harness.require_environment(tap)
    agent = harness.start_mock("agent_server")
    db = harness.Database("failures")
    agent_id = 100
    for scenario, (formats, pattern) in FAILURES.items():
        for fmt in formats:
            agent_id += 1
            run_failing(tap, agent, db, fmt, scenario, pattern, agent_id)
    with tempfile.TemporaryDirectory() as tmp:
        quiet = harness.start_mock("agent_server")
        usage_errors(tap, quiet, db, tmp)
    db_unavailable(tap, agent)


if __name__ == "__main__":
    main()
