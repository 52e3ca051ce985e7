"""dash_seed - a database with known latencies for the report, show and serve tests.

Contract: seed(tag[, as_of]) returns a harness.Database holding three agents
up to as_of (AS_OF unless given): "fast" (agent 1: 10 invocations, TTFT 500..1400 ms, 2 cold), "slow"
(agent 2, named with markup: 6 cold invocations, TTFT 12..22 s, one error)
and "idle" (agent 3, no invocations), every invocation in the last hour and
with the phases token, first_token and stream.  SHOW_ID names one of agent
2's invocations, which has an error message.
"""

import harness

AS_OF = "2031-03-15 12:00:00+00"
SLOW_NAME = "<script>alert('x')</script> & \"slow\""
SHOW_ID = "00000000-0000-7000-8000-000000000201"


def seed(tag, as_of=AS_OF):
    """as_of may be 'now'."""
    db = harness.Database(tag)
    harness.psql(
        "INSERT INTO loomlat.agents (agent_id, name) VALUES (1, 'fast'), (2, $$%s$$), (3, 'idle');"
        # agent 1: TTFT 500, 600, ..., 1400 ms; the first two cold
        "INSERT INTO loomlat.invocations (invocation_id, agent_id, status, client_invoke_time,"
        " cold_start_latency_ms, ttft_ms, client_duration_ms, token_cache_hit)"
        " SELECT ('00000000-0000-7000-8000-0000000001' || lpad(k::text, 2, '0'))::uuid, 1,"
        "  'complete', '%s'::timestamptz - k * interval '1 minute',"
        "  CASE WHEN k < 2 THEN 4000 ELSE 5 END, 500 + 100 * k, 2000 + 100 * k, k %% 2 = 0"
        " FROM generate_series(0, 9) k;"
        # agent 2: TTFT 12000, 14000, ..., 22000 ms, all cold, the first an error
        "INSERT INTO loomlat.invocations (invocation_id, agent_id, status, client_invoke_time,"
        " cold_start_latency_ms, ttft_ms, client_duration_ms, token_cache_hit, error_message)"
        " SELECT ('00000000-0000-7000-8000-0000000002' || lpad(k::text, 2, '0'))::uuid, 2,"
        "  CASE WHEN k = 1 THEN 'error' ELSE 'complete' END::loomlat.invocation_status,"
        "  '%s'::timestamptz - (k * 3 + 1) * interval '1 minute', 9000, 12000 + 2000 * k,"
        "  30000 + 1000 * k, true, CASE WHEN k = 1 THEN 'upstream said <no> & quit' END"
        " FROM generate_series(0, 5) k;"
        "INSERT INTO loomlat.invocation_phases (invocation_id, phase, start_ms, duration_ms)"
        " SELECT i.invocation_id, p.phase, p.s * i.ttft_ms, p.d * i.ttft_ms"
        " FROM loomlat.invocations i,"
        "  (VALUES ('token', 0, 0.25), ('first_token', 0.25, 0.75), ('stream', 1.0, 0.5))"
        "  AS p(phase, s, d);" % (SLOW_NAME, as_of, as_of), dbname=db.name)
    return db
