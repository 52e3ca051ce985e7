#!/usr/bin/env python3
"""The client-credentials token cache: one request for many invocations, one
for a cold herd, a refetch at expiry, refetch-and-retry on 401, OIDC
discovery, and the token wait overlapping the database connection."""

import tempfile
import threading

import harness

CLIENT_ID = "loomlat-test"
SECRET = "cs-" + "7f3a9c1e5b2d4a6f8e0c"


class Setup:
    """A token endpoint and an agent for one scenario."""

    def __init__(self, tmp, *token_args, agent_args=()):
        self.token = harness.start_mock("token_server", "--client-id", CLIENT_ID,
                                        "--client-secret", SECRET, "--scope", "invoke",
                                        "--scope", "read", *token_args)
        self.agent = harness.start_mock("agent_server", "--ttft-ms", "10", "--tokens", "3",
                                        "--gap-ms", "1", "--cold", "0", *agent_args)
        self.secret_file = harness.secret_file(tmp, "secret-%d" % self.token.port, SECRET)

    def run(self, db, *args, issuer=False, timeout=harness.RUN_TIMEOUT_S):
        auth = (["--issuer", self.token.url] if issuer
                else ["--token-url", self.token.url + "/oauth2/token"])
        return harness.loomlat("invoke", "--url", self.agent.url + "/v1/chat/completions",
                               "--format", "openai", "--agent-id", "1", "--agent-name", "mock",
                               "--db", db.conninfo, "--allow-http", "--json", *auth,
                               "--client-id", CLIENT_ID, "--scope", "read", "--scope", "invoke",
                               "--client-secret-file", self.secret_file, *args,
                               timeout=timeout)


def count_rows(db, where="true"):
    return db.value("SELECT count(*) FROM loomlat.invocations WHERE %s" % where)


def warm_cache(tap, tmp):
    s = Setup(tmp)
    db = harness.Database("warm")
    res = s.run(db, "-n", "200", "-c", "20")
    tap.eq(res.rc, 0, "200 invocations exit 0") or tap.diag("\n".join(res.explain()))
    stats = s.token.get("/stats")
    tap.eq(stats["token_requests"], 1, "exactly one token request for 200 invocations")
    bearer = s.agent.get("/stats")["bearer_tokens"]
    tap.eq(bearer, {stats["tokens"][0]: 200},
           "every invocation sent the one issued token as its bearer")
    tap.eq(count_rows(db, "status = 'complete'"), 200, "200 complete rows")
    # With the cache warmed by --warmup, no measured invocation asks at all.
    warm_db = harness.Database("warm")
    res = s.run(warm_db, "--warmup", "1", "-n", "200", "-c", "20")
    summary = res.json() or {}
    tap.eq((res.rc, summary.get("token_requests"), summary.get("token_cache_hits")), (0, 0, 200),
           "warm cache: 200 invocations, 0 token requests, 200 cache hits")
    tap.eq(s.token.get("/stats")["token_requests"], 2,
           "warm cache: the endpoint saw only the warm-up's request")
    tap.eq(count_rows(warm_db, "token_cache_hit AND status = 'complete'"), 200,
           "warm cache: 200 complete rows, each with token_cache_hit")


def cold_herd(tap, tmp):
    """100 invocations start together against a slow token endpoint."""
    s = Setup(tmp, "--delay-ms", "300")
    db = harness.Database("herd")
    res = s.run(db, "-n", "100", "-c", "100")
    tap.eq(res.rc, 0, "cold herd: 100 concurrent invocations exit 0") or tap.diag(
        "\n".join(res.explain()))
    stats = s.token.get("/stats")
    tap.eq((stats["token_requests"], stats["max_in_flight"]), (1, 1),
           "cold herd: 100 waiting invocations cause one token request")
    tap.eq(count_rows(db, "status = 'complete' AND NOT token_cache_hit"), 100,
           "cold herd: all 100 rows complete, each marked as having waited for the fetch")
    waits = db.rows("SELECT start_ms, duration_ms FROM loomlat.invocation_phases "
                    "WHERE phase = 'token'")
    tap.ok(len(waits) == 100 and all(w["duration_ms"] >= 290 for w in waits),
           "cold herd: every row has a token phase of about the endpoint's 300 ms delay",
           "token phases: %r" % waits[:5])
    overlap(tap, db)


def overlap(tap, db):
    """The first invocation waits for the token and the database connection at once."""
    rows = db.rows("SELECT t.start_ms AS t_start, t.duration_ms AS t_dur, d.start_ms AS d_start, "
                   "d.duration_ms AS d_dur FROM loomlat.invocation_phases t "
                   "JOIN loomlat.invocation_phases d USING (invocation_id) "
                   "WHERE t.phase = 'token' AND d.phase = 'db'")
    if not tap.ok(rows, "overlap: an invocation has both a token and a db phase"):
        return
    r = rows[0]
    tap.ok(r["t_start"] < 5 and r["d_start"] < 5,
           "overlap: the token and db phases both start at ~0 ms",
           "token starts %r, db starts %r" % (r["t_start"], r["d_start"]))
    shared = min(r["t_start"] + r["t_dur"], r["d_start"] + r["d_dur"]) - max(r["t_start"],
                                                                             r["d_start"])
    tap.ok(shared > 0, "overlap: the token and db phases overlap (%.1f ms shared)" % shared)


def expiry(tap, tmp):
    """expires_in=2 is a short lifetime: cached for half of it, 1 s."""
    s = Setup(tmp, "--expires-in", "2")
    db = harness.Database("expiry")
    res = s.run(db, "-n", "16", "-c", "1", "--rate", "5")
    tap.eq(res.rc, 0, "expiry: 16 invocations over ~3 s exit 0") or tap.diag(
        "\n".join(res.explain()))
    n = s.token.get("/stats")["token_requests"]
    tap.ok(3 <= n <= 4, "expiry: the token is refetched once its cached life is over (%d fetches "
           "in ~3 s for a 1 s life)" % n)
    tap.eq(len(s.agent.get("/stats")["bearer_tokens"]), n,
           "expiry: each fetched token was used by the agent calls that followed")


def margin(tmp):
    """expires_in=121: cached until 60 s before expiry, 61 s.  Nine invocations
    8 s apart (0..64 s) must fetch at the start and again after 61 s.
    Runs in a thread while the other cases run; returns the checks to make."""
    s = Setup(tmp, "--expires-in", "121")
    db = harness.Database("margin")
    res = s.run(db, "-n", "9", "-c", "1", "--rate", "0.125", timeout=150)
    rows = db.rows("SELECT extract(epoch FROM client_invoke_time)::float8 AS t, token_cache_hit "
                   "FROM loomlat.invocations ORDER BY client_invoke_time")
    return res, s.token.get("/stats")["token_requests"], rows


def check_margin(tap, res, requests, rows):
    tap.eq(res.rc, 0, "60 s margin: 9 invocations over 64 s exit 0") or tap.diag(
        "\n".join(res.explain()))
    tap.eq(requests, 2, "60 s margin: a 121 s token is fetched twice in 64 s")
    if not tap.eq(len(rows), 9, "60 s margin: 9 rows"):
        return
    t0 = rows[0]["t"]
    misses = [r["t"] - t0 for r in rows if not r["token_cache_hit"]]
    hits = [r["t"] - t0 for r in rows if r["token_cache_hit"]]
    tap.ok(len(misses) == 2 and misses[0] == 0 and 60.5 <= misses[1] <= 70 and
           max(hits) < 61, "60 s margin: cached until 61 s after the fetch, refetched after",
           "fetching invocations at %r s, cached ones at %r s" % (misses, hits))


def token_errors(tap, tmp):
    """The token endpoint refuses: error rows that say so, no hang."""
    for mode, word in (("invalid_scope", "invalid_scope"), ("http500", "500")):
        s = Setup(tmp, "--mode", mode)
        db = harness.Database("tokerr")
        res = s.run(db, "-n", "3", "--timeout", "20", timeout=60)
        errors = db.rows("SELECT error_message FROM loomlat.invocations WHERE status = 'error'")
        tap.ok(res.rc in (2, 69) and len(errors) in (0, 3) and word in res.stdout + res.stderr
               and all(word in e["error_message"] for e in errors),
               "token endpoint %s: the invocations fail saying %s" % (mode, word),
               *res.explain())
        tap.eq(s.agent.get("/stats")["requests"], 0,
               "token endpoint %s: no agent call without a token" % mode)


def unauthorized(tap, tmp):
    """The agent rejects the first token: drop it, fetch another, retry once."""
    s = Setup(tmp, agent_args=("--auth", "reject_first"))
    db = harness.Database("reject")
    res = s.run(db, "-n", "5", "-c", "5")
    tap.eq(res.rc, 0, "401: rejected invocations are retried and succeed (exit 0)") or tap.diag(
        "\n".join(res.explain()))
    tap.eq(s.token.get("/stats")["token_requests"], 2,
           "401: the rejected token is dropped and one new token fetched")
    agent = s.agent.get("/stats")
    tap.eq((agent["by_status"].get("401"), agent["by_status"].get("200")), (5, 5),
           "401: each of the 5 invocations was retried exactly once")
    tap.eq(count_rows(db, "status = 'complete'"), 5, "401: 5 complete rows")
    always = harness.start_mock("agent_server")
    res = harness.loomlat("invoke", "--url", always.url + "/v1/chat/completions?scenario=http401",
                          "--format", "openai", "--agent-id", "1", "--db", db.conninfo,
                          "--allow-http", "--token-url", s.token.url + "/oauth2/token",
                          "--client-id", CLIENT_ID, "--client-secret-file", s.secret_file,
                          "-n", "1")
    tap.eq(res.rc, 2, "401 twice: the invocation fails after one retry (exit 2)")
    tap.eq(always.get("/stats")["requests"], 2, "401 twice: no more than one retry")
    err = db.value("SELECT error_message FROM loomlat.invocations WHERE status = 'error'")
    tap.ok(err and "401" in err, "401 twice: the error row says 401", "error: %r" % err)


def discovery(tap, tmp):
    s = Setup(tmp)
    db = harness.Database("oidc")
    res = s.run(db, "-n", "20", "-c", "5", issuer=True)
    tap.eq(res.rc, 0, "OIDC: --issuer finds the token endpoint, 20 invocations exit 0") or tap.diag(
        "\n".join(res.explain()))
    stats = s.token.get("/stats")
    tap.eq((stats["discovery_requests"], stats["token_requests"]), (1, 1),
           "OIDC: one discovery request and one token request")


def main():
    tap = harness.Tap()
    harness.require_environment(tap)
    with tempfile.TemporaryDirectory() as tmp:
        slow = {}
        thread = threading.Thread(target=lambda: slow.update(result=margin(tmp)))
        thread.start()
        warm_cache(tap, tmp)
        cold_herd(tap, tmp)
        expiry(tap, tmp)
        unauthorized(tap, tmp)
        discovery(tap, tmp)
        token_errors(tap, tmp)
        thread.join(180)
        if tap.ok("result" in slow, "60 s margin: the run finished"):
            check_margin(tap, *slow["result"])


if __name__ == "__main__":
    main()
