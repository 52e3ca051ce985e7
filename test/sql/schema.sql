-- The invocation schema: bad input is a clear error and nothing is half-written.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;

\d loomlat.agents
\d loomlat.invocations
\d loomlat.invocation_phases

INSERT INTO loomlat.agents (agent_id, name, arn, region)
VALUES (7, 'Support agent', 'arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/support-abc', 'us-east-1');

-- A complete invocation with its phases.
INSERT INTO loomlat.invocations (invocation_id, agent_id, session_id, status, client_invoke_time,
	agent_start_time, client_done_time, cold_start_latency_ms, ttft_ms, client_duration_ms,
	input_tokens, output_tokens, token_cache_hit)
VALUES ('11111111-1111-1111-1111-111111111111', 7, 'session-1', 'complete', '2026-11-01 12:00:00+00',
	'2026-11-01 12:00:01.8+00', '2026-11-01 12:00:04+00', 1800, 2150.5, 4000, 12, 80, false);
INSERT INTO loomlat.invocation_phases (invocation_id, phase, start_ms, duration_ms)
VALUES ('11111111-1111-1111-1111-111111111111', 'token', 0, 35.2),
       ('11111111-1111-1111-1111-111111111111', 'db', 0, 3.1),
       ('11111111-1111-1111-1111-111111111111', 'first_token', 35.2, 2115.3);
SELECT invocation_id, status, ttft_ms, was_cold_start, token_cache_hit FROM loomlat.invocations;

-- A retried write with the same invocation_id cannot duplicate the row.
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time)
VALUES ('11111111-1111-1111-1111-111111111111', 7, '2026-11-01 12:00:00+00');
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time)
VALUES ('11111111-1111-1111-1111-111111111111', 7, '2026-11-01 12:00:00+00')
ON CONFLICT (invocation_id) DO NOTHING;
SELECT count(*) FROM loomlat.invocations;

-- Errors below are shown without DETAIL: a failing row would print created_at.
\set VERBOSITY terse

-- Unknown agent, unknown status, missing invoke time.
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time)
VALUES ('22222222-2222-2222-2222-222222222222', 999, '2026-11-01 12:00:00+00');
INSERT INTO loomlat.invocations (invocation_id, agent_id, status, client_invoke_time)
VALUES ('22222222-2222-2222-2222-222222222222', 7, 'done', '2026-11-01 12:00:00+00');
INSERT INTO loomlat.invocations (invocation_id, agent_id)
VALUES ('22222222-2222-2222-2222-222222222222', 7);

-- NaN and infinite latencies (the trigger names the column), negative durations.
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, cold_start_latency_ms)
VALUES ('22222222-2222-2222-2222-222222222222', 7, '2026-11-01 12:00:00+00', 'NaN');
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, cold_start_latency_ms)
VALUES ('22222222-2222-2222-2222-222222222222', 7, '2026-11-01 12:00:00+00', '-Infinity');
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, ttft_ms)
VALUES ('22222222-2222-2222-2222-222222222222', 7, '2026-11-01 12:00:00+00', 'Infinity');
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, client_duration_ms)
VALUES ('22222222-2222-2222-2222-222222222222', 7, '2026-11-01 12:00:00+00', 'NaN');
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, ttft_ms)
VALUES ('22222222-2222-2222-2222-222222222222', 7, '2026-11-01 12:00:00+00', -1);
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, output_tokens)
VALUES ('22222222-2222-2222-2222-222222222222', 7, '2026-11-01 12:00:00+00', -3);
UPDATE loomlat.invocations SET cold_start_latency_ms = 'NaN';
UPDATE loomlat.invocations SET ttft_ms = 'NaN';
INSERT INTO loomlat.invocation_phases VALUES ('11111111-1111-1111-1111-111111111111', 'stream', 0, 'Infinity');
INSERT INTO loomlat.invocation_phases VALUES ('11111111-1111-1111-1111-111111111111', 'stream', 0, -2);
INSERT INTO loomlat.invocation_phases VALUES ('11111111-1111-1111-1111-111111111111', '', 0, 2);
INSERT INTO loomlat.invocation_phases VALUES ('33333333-3333-3333-3333-333333333333', 'stream', 0, 2);

-- One bad row in a batch: none of the batch is written, nothing stored changes.
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, cold_start_latency_ms)
VALUES ('44444444-4444-4444-4444-444444444441', 7, '2026-11-01 12:01:00+00', 900),
       ('44444444-4444-4444-4444-444444444442', 7, '2026-11-01 12:02:00+00', 'NaN');
\set VERBOSITY default
SELECT invocation_id, cold_start_latency_ms, ttft_ms, was_cold_start FROM loomlat.invocations ORDER BY 1;
SELECT phase, start_ms, duration_ms FROM loomlat.invocation_phases ORDER BY start_ms, phase;

-- An agent with invocations cannot vanish; deleting an invocation takes its phases.
DELETE FROM loomlat.agents WHERE agent_id = 7;
DELETE FROM loomlat.invocations;
SELECT count(*) AS phases_left FROM loomlat.invocation_phases;
DELETE FROM loomlat.agents;
