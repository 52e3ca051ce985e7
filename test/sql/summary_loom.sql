-- The summaries over a Loom-shaped backend schema registered with track():
-- invocations.session_id -> invocation_sessions.agent_id -> agents.name,
-- Unix-seconds times; every field against percentile_cont.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;
SET TimeZone = 'UTC';

\set schema loomapp
\i test/fixtures/loom_schema.sql
SELECT loomlat.track('loomapp.invocations');

INSERT INTO loomapp.agents (name) VALUES ('My Agent'), ('Triage'), ('Rarely used');
INSERT INTO loomapp.invocation_sessions (session_id, agent_id)
SELECT 'sess-' || k, 1 + k % 2 FROM generate_series(1, 20) AS k;
INSERT INTO loomapp.invocation_sessions (session_id, agent_id) VALUES ('sess-rare', 3);

-- 1500 invocations 17 minutes (1020 s) apart before as_of, 2031-03-15
-- 12:00:00 UTC = 1931342400 Unix seconds; the backend writes ttft_ms, the trigger
-- was_cold_start.  One rare invocation sits exactly at as_of, one exactly
-- 24 h before it.
INSERT INTO loomapp.invocations (session_id, invocation_id, client_invoke_time, agent_start_time,
								 cold_start_latency_ms, client_duration_ms, ttft_ms, status, created_at)
SELECT 'sess-' || (1 + g % 20), 'inv-' || g, t, t + lat / 1000, lat,
	   CASE WHEN g % 43 <> 0 THEN (g * 37) % 5000 + 120.25 END,
	   CASE WHEN g % 31 <> 0 THEN ((g * 7919) % 18000) * 0.8 + 3.5 END,
	   'complete', to_timestamp(t) AT TIME ZONE 'UTC'
FROM generate_series(1, 1500) AS g,
	 LATERAL (SELECT 1931342400.0 - g * 1020.0 + 0.25 AS t,
					 CASE WHEN g % 47 <> 0 THEN ((g * 389) % 3000 - 250)::float8 END AS lat) AS v;
INSERT INTO loomapp.invocations (session_id, invocation_id, client_invoke_time, cold_start_latency_ms,
								 client_duration_ms, ttft_ms, status, created_at)
VALUES ('sess-rare', 'inv-at-as-of', 1931342400.0, 2600, 9000, 12500, 'complete', '2031-03-15 12:00:00'),
	   ('sess-rare', 'inv-24h-back', 1931342400.0 - 86400, 100, 800, 700, 'complete', '2031-03-14 12:00:00');

-- Reference (test/fixtures/summary_oracle.sql): to_timestamp() on the Unix
-- seconds, the Loom joins written out.
CREATE TEMP VIEW oracle_source AS
SELECT a.id::bigint AS agent_id, a.name AS agent_name, to_timestamp(i.client_invoke_time) AS client_invoke_time,
	   i.ttft_ms, i.client_duration_ms, i.cold_start_latency_ms, i.was_cold_start
FROM loomapp.invocations i
	 JOIN loomapp.invocation_sessions s ON s.session_id = i.session_id
	 JOIN loomapp.agents a ON a.id = s.agent_id;
\i test/fixtures/summary_oracle.sql

SELECT jsonb_pretty(loomlat.latency_summary('24h', as_of => '2031-03-15 12:00:00+00',
											source => 'loomapp.invocations'));
SELECT * FROM loomlat.latency_by_agent('7d', as_of => '2031-03-15 12:00:00+00',
									   source => 'loomapp.invocations');
SELECT count(*) AS mismatched_agents
FROM loomlat.latency_by_agent('7d', as_of => '2031-03-15 12:00:00+00', source => 'loomapp.invocations') l
	 FULL JOIN pg_temp.expected_agents('2031-03-08 12:00:00+00', '2031-03-15 12:00:00+00', NULL) e
	 ON e.agent_id = l.agent_id
WHERE l IS DISTINCT FROM e;

SELECT r.rng, a.agent, m.min_inv, t.threshold,
	   (s->>'total_invocations')::int AS total,
	   jsonb_array_length(s->'agents') AS agents,
	   s = pg_temp.expected_summary(r.rng, '2031-03-15 12:00:00+00'::timestamptz - r.span,
									'2031-03-15 12:00:00+00', a.agent, m.min_inv, t.threshold) AS matches
FROM (VALUES ('1h', interval '1 hour'), ('24h', '24 hours'), ('7d', '168 hours'), ('30d', '720 hours'))
		 AS r(rng, span),
	 (VALUES (NULL::bigint), (2), (3)) AS a(agent),
	 (VALUES (1), (600)) AS m(min_inv),
	 (VALUES (NULL::float8), (1500)) AS t(threshold),
	 LATERAL loomlat.latency_summary(r.rng, a.agent, m.min_inv, '2031-03-15 12:00:00+00',
									 t.threshold, 'loomapp.invocations') AS s
ORDER BY r.span, a.agent NULLS FIRST, m.min_inv, t.threshold NULLS FIRST;

-- Window edges on Unix seconds: the row at as_of is in, the one exactly
-- 24 h back is out of 24h and in 7d.
SELECT r.rng, s.invocation_count
FROM unnest('{1h,24h,7d}'::text[]) WITH ORDINALITY AS r(rng, i),
	 loomlat.latency_by_agent(r.rng, 3, as_of => '2031-03-15 12:00:00+00', source => 'loomapp.invocations') s
ORDER BY r.i;

SELECT * FROM loomlat.ttft_histogram('30d', 1, '2031-03-15 12:00:00+00', source => 'loomapp.invocations');

-- Not registered, or no way to find the agent: a clear error.
\set VERBOSITY terse
CREATE TABLE loomapp.untracked (LIKE loomapp.invocations);
SELECT loomlat.latency_summary(source => 'loomapp.untracked');
SELECT loomlat.track('loomapp.untracked');
SELECT loomlat.latency_summary(source => 'loomapp.untracked');
SELECT loomlat.latency_summary(agent_id => 99, source => 'loomapp.invocations');
\set VERBOSITY default

-- Hostile identifiers come from the catalog and are quoted; naive-UTC
-- timestamps read as UTC whatever the session time zone.
CREATE SCHEMA "loom""; DROP SCHEMA loomapp CASCADE; --";
SET search_path = "loom""; DROP SCHEMA loomapp CASCADE; --";
CREATE TABLE "Agents'); DROP TABLE x; --" (id bigint PRIMARY KEY, name text);
CREATE TABLE "sess ""s""" (
	session_id text PRIMARY KEY,
	agent_id bigint REFERENCES "Agents'); DROP TABLE x; --" (id));
CREATE TABLE "inv; SELECT 1" (
	session_id text REFERENCES "sess ""s""" (session_id),
	client_invoke_time timestamp,
	cold_start_latency_ms float8,
	client_duration_ms float8);
RESET search_path;
SELECT loomlat.track(c.oid)
FROM pg_class c WHERE c.relname = 'inv; SELECT 1';
INSERT INTO "loom""; DROP SCHEMA loomapp CASCADE; --"."Agents'); DROP TABLE x; --"
VALUES (7, 'Evil ''name"');
INSERT INTO "loom""; DROP SCHEMA loomapp CASCADE; --"."sess ""s""" VALUES ('s', 7);
INSERT INTO "loom""; DROP SCHEMA loomapp CASCADE; --"."inv; SELECT 1"
	(session_id, client_invoke_time, cold_start_latency_ms, client_duration_ms, ttft_ms)
VALUES ('s', '2031-03-15 11:30:00', 900, 2000, 1500), ('s', '2031-03-15 11:45:00', 10, 300, 250),
	   ('s', '2031-03-15 10:59:59', 10, 300, 99999);
SET TimeZone = 'America/New_York';
SELECT * FROM loomlat.latency_by_agent('1h', as_of => '2031-03-15 12:00:00+00',
	source => (SELECT c.oid FROM pg_class c WHERE c.relname = 'inv; SELECT 1')::regclass);
RESET TimeZone;
SELECT count(*) AS loomapp_tables FROM pg_tables WHERE schemaname = 'loomapp';

DROP SCHEMA "loom""; DROP SCHEMA loomapp CASCADE; --" CASCADE;
DROP VIEW oracle_source;
DROP SCHEMA loomapp CASCADE;
