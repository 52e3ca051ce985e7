-- latency_summary(), latency_by_agent(), ttft_histogram() over the
-- extension's own tables: every field against percentile_cont.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;
SET TimeZone = 'UTC';

-- Agents 9001-9002 carry the bulk, 9003 a handful of hand-placed rows
-- (histogram bounds, window edges), 9004 nothing; all in 2031, far from
-- other tests' rows.
INSERT INTO loomlat.agents (agent_id, name)
VALUES (9001, 'Support'), (9002, 'Research'), (9003, 'Batch "nightly"'), (9004, 'Idle');

-- 2600 invocations 17 minutes apart going back ~30.7 days from the as_of
-- used below; some TTFTs, latencies and durations are NULL.
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time,
								 cold_start_latency_ms, ttft_ms, client_duration_ms)
SELECT md5('summary' || g)::uuid, 9001 + g % 2,
	   '2031-03-15 12:00:00+00'::timestamptz - g * interval '17 minutes',
	   CASE WHEN g % 53 <> 0 THEN (g * 613) % 2500 - 300 END,
	   CASE WHEN g % 41 <> 0 THEN ((g * 7919) % 20000) * 0.75 + (g % 7) * 0.125 END,
	   CASE WHEN g % 59 <> 0 THEN (g * 31) % 4000 + 80.5 END
FROM generate_series(1, 2600) AS g;

-- Agent 9003: TTFTs on the bucket bounds, one row at as_of (inside every
-- window) and one exactly 24 h earlier (outside 24h, inside 7d).
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time,
								 cold_start_latency_ms, ttft_ms, client_duration_ms)
VALUES (md5('summary-b1')::uuid, 9003, '2031-03-15 12:00:00+00', 12000, 0, 10),
	   (md5('summary-b2')::uuid, 9003, '2031-03-15 11:59:00+00', 20, 999.999, 1500),
	   (md5('summary-b3')::uuid, 9003, '2031-03-15 11:58:00+00', 20, 1000, 1600),
	   (md5('summary-b4')::uuid, 9003, '2031-03-15 11:57:00+00', 20, 3000, 3100),
	   (md5('summary-b5')::uuid, 9003, '2031-03-15 11:56:00+00', 900, 5000, 5200),
	   (md5('summary-b6')::uuid, 9003, '2031-03-15 11:55:00+00', 501, 10000, 10300),
	   (md5('summary-b7')::uuid, 9003, '2031-03-14 12:00:00+00', 499, 25000.5, 26000);

-- Independent reference (test/fixtures/summary_oracle.sql) over the
-- extension's own tables.
CREATE TEMP VIEW oracle_source AS
SELECT i.agent_id, a.name AS agent_name, i.client_invoke_time, i.ttft_ms, i.client_duration_ms,
	   i.cold_start_latency_ms, i.was_cold_start
FROM loomlat.invocations i JOIN loomlat.agents a ON a.agent_id = i.agent_id;
\i test/fixtures/summary_oracle.sql

-- The dashboard call: last 24 h, every agent.
SELECT jsonb_pretty(loomlat.latency_summary('24h', as_of => '2031-03-15 12:00:00+00'));
SELECT loomlat.latency_summary('24h', as_of => '2031-03-15 12:00:00+00')
	   = pg_temp.expected_summary('24h', '2031-03-14 12:00:00+00', '2031-03-15 12:00:00+00', NULL, 1)
	   AS summary_24h_matches;

-- The same agents as rows, and each field against the reference.
SELECT * FROM loomlat.latency_by_agent('24h', as_of => '2031-03-15 12:00:00+00');
SELECT count(*) AS mismatched_agents
FROM loomlat.latency_by_agent('24h', as_of => '2031-03-15 12:00:00+00') l
	 FULL JOIN pg_temp.expected_agents('2031-03-14 12:00:00+00', '2031-03-15 12:00:00+00', NULL) e
	 ON e.agent_id = l.agent_id
WHERE l IS DISTINCT FROM e;

-- Every range, with and without an agent, min_invocations and a what-if
-- threshold: the whole document must equal the reference.
SELECT r.rng, a.agent, m.min_inv, t.threshold,
	   (s->>'total_invocations')::int AS total,
	   jsonb_array_length(s->'agents') AS agents,
	   s = pg_temp.expected_summary(r.rng, '2031-03-15 12:00:00+00'::timestamptz - r.span,
									'2031-03-15 12:00:00+00', a.agent, m.min_inv, t.threshold) AS matches
FROM (VALUES ('1h', interval '1 hour'), ('24h', '24 hours'), ('7d', '168 hours'), ('30d', '720 hours'))
		 AS r(rng, span),
	 (VALUES (NULL::bigint), (9002), (9003)) AS a(agent),
	 (VALUES (1), (700)) AS m(min_inv),
	 (VALUES (NULL::float8), (1000)) AS t(threshold),
	 LATERAL loomlat.latency_summary(r.rng, a.agent, m.min_inv, '2031-03-15 12:00:00+00',
									 t.threshold) AS s
ORDER BY r.span, a.agent NULLS FIRST, m.min_inv, t.threshold NULLS FIRST;

-- The what-if threshold reclassifies; the stored column is untouched.
SELECT agent_id, cold_start_count, cold_start_ttft_p50_ms, warm_ttft_p50_ms
FROM loomlat.latency_by_agent('7d', as_of => '2031-03-15 12:00:00+00', cold_start_threshold_ms => 2000);
SELECT count(*) FILTER (WHERE was_cold_start) AS stored_cold
FROM loomlat.invocations WHERE agent_id BETWEEN 9001 AND 9004;

-- Window edges: (as_of - range, as_of].  9003's row at as_of counts in
-- 1h; its row exactly 24 h back is outside 24h and inside 7d.
SELECT r.rng, s.invocation_count
FROM unnest('{1h,24h,7d}'::text[]) WITH ORDINALITY AS r(rng, i),
	 loomlat.latency_by_agent(r.rng, 9003, as_of => '2031-03-15 12:00:00+00') s
ORDER BY r.i;

-- Histogram buckets are lower-inclusive: 999.999 is 0-1s, 1000 is 1-3s.
SELECT * FROM loomlat.ttft_histogram('24h', 9003, '2031-03-15 12:00:00+00');
SELECT * FROM loomlat.ttft_histogram('7d', 9003, '2031-03-15 12:00:00+00', '{999.999,10000,25000.5}');
SELECT * FROM loomlat.ttft_histogram('30d', NULL, '2031-03-15 12:00:00+00', '{500,2000}');
SELECT h.count = x.n AS matches
FROM loomlat.ttft_histogram('30d', NULL, '2031-03-15 12:00:00+00', '{500,2000}') h
	 JOIN (VALUES ('0-500ms', (SELECT count(*) FROM loomlat.invocations
							   WHERE ttft_ms < 500 AND client_invoke_time > '2031-02-13 12:00:00+00'
								 AND client_invoke_time <= '2031-03-15 12:00:00+00')),
				  ('>2000ms', (SELECT count(*) FROM loomlat.invocations
							   WHERE ttft_ms >= 2000 AND client_invoke_time > '2031-02-13 12:00:00+00'
								 AND client_invoke_time <= '2031-03-15 12:00:00+00'))) AS x(bucket, n)
	 ON x.bucket = h.bucket;

-- min_invocations: under it an agent leaves "agents" but stays in the
-- totals; 0 lists agents without invocations too.
SELECT s->'total_invocations' AS total, jsonb_path_query_array(s, '$.agents[*].agent_id') AS agents
FROM loomlat.latency_summary('24h', NULL, 100, '2031-03-15 12:00:00+00') AS s;
SELECT * FROM loomlat.latency_by_agent('24h', 9004, 0, '2031-03-15 12:00:00+00');
SELECT * FROM loomlat.latency_by_agent('24h', 9004, 1, '2031-03-15 12:00:00+00');

-- An empty window: zero counts, JSON nulls, no agents.
SELECT jsonb_pretty(loomlat.latency_summary('1h', NULL, 1, '2030-01-01 00:00:00+00'));

-- The aggregates on their own, grouped by hand: the same numbers.
SELECT count(*) AS mismatched_agents
FROM (SELECT i.agent_id, (loomlat.latency_stats(i.ttft_ms, i.client_duration_ms, i.was_cold_start, NULL)).*
	  FROM loomlat.invocations i
	  WHERE i.agent_id BETWEEN 9001 AND 9004
		AND i.client_invoke_time > '2031-03-08 12:00:00+00' AND i.client_invoke_time <= '2031-03-15 12:00:00+00'
	  GROUP BY i.agent_id) s
	 FULL JOIN pg_temp.expected_agents('2031-03-08 12:00:00+00', '2031-03-15 12:00:00+00', NULL) e
	 ON e.agent_id = s.agent_id
WHERE (s.invocation_count, s.cold_start_count, s.ttft_p50_ms, s.ttft_p95_ms, s.ttft_p99_ms,
	   s.cold_start_ttft_p50_ms, s.warm_ttft_p50_ms, s.duration_p50_ms, s.duration_p95_ms)
	  IS DISTINCT FROM
	  (e.invocation_count, e.cold_start_count, e.ttft_p50_ms, e.ttft_p95_ms, e.ttft_p99_ms,
	   e.cold_start_ttft_p50_ms, e.warm_ttft_p50_ms, e.duration_p50_ms, e.duration_p95_ms);
CREATE TEMP VIEW rows_by_agent AS
SELECT * FROM (VALUES (2::bigint, 1.5::float8, 10::float8, true), (NULL, 0.5, NULL, false),
					  (1, 3, 5, NULL), (2, NULL, 7, false), (1, 2.5, 1, true)) AS t(a, v, d, c);
-- NaN is above every bound, as PostgreSQL orders it; NULLs are in no bucket.
SELECT loomlat.ttft_histogram_counts(v, '{1,2}') AS counts,
	   (loomlat.latency_stats(v, NULL, NULL, '{1,2}')).*
FROM (VALUES (0.5::float8), (1), (1.5), (2), ('NaN'), ('Infinity'), (NULL)) AS t(v);
SELECT (loomlat.latency_stats(v, NULL, NULL, '{1000}')).* FROM (VALUES (NULL::float8)) AS t(v) WHERE false;
-- By agent: agents in agent_id order, rows without one last, and a total
-- over every row equal to latency_stats() of all of them.
SELECT r.agent_id, r.agent_stats, r.total,
	   r.total = (SELECT loomlat.latency_stats(v, d, c, '{1,2}') FROM rows_by_agent) AS total_matches
FROM (SELECT (loomlat.latency_stats_by_agent(a, v, d, c, '{1,2}')).* FROM rows_by_agent) r;
SELECT (loomlat.latency_stats_by_agent(a, v, NULL, NULL, NULL)).*
FROM (VALUES (1::bigint, 1::float8)) AS t(a, v) WHERE false;
\set VERBOSITY terse
SELECT loomlat.ttft_histogram_counts(v, ARRAY[v + 1]) FROM (VALUES (1::float8), (2)) AS t(v);
SELECT loomlat.ttft_histogram_counts(1, '{2,1}');
SELECT loomlat.ttft_histogram_counts(1, '{}');
SELECT loomlat.ttft_histogram_counts(1, NULL);
SELECT loomlat.latency_stats(1, 1, true, '{1,NULL}');
\set VERBOSITY default

-- Bad input is an error, never a number.
\set VERBOSITY terse
SELECT loomlat.latency_summary('2h');
SELECT loomlat.latency_summary(NULL);
SELECT loomlat.latency_summary('24h', NULL, -1);
SELECT loomlat.latency_summary('24h', NULL, NULL);
SELECT loomlat.latency_summary('24h', 424242);
SELECT loomlat.latency_summary('24h', NULL, 1, NULL);
SELECT loomlat.latency_summary('24h', NULL, 1, 'infinity');
SELECT loomlat.latency_summary('24h', cold_start_threshold_ms => -5);
SELECT loomlat.latency_summary('24h', cold_start_threshold_ms => 'NaN');
SELECT loomlat.latency_by_agent('7d', source => NULL);
SELECT loomlat.latency_by_agent('7d', source => 'loomlat.agents');
SELECT * FROM loomlat.ttft_histogram(bounds_ms => '{}');
SELECT * FROM loomlat.ttft_histogram(bounds_ms => NULL);
SELECT * FROM loomlat.ttft_histogram(bounds_ms => '{1000,1000}');
SELECT * FROM loomlat.ttft_histogram(bounds_ms => '{1000,NULL}');
SELECT * FROM loomlat.ttft_histogram(bounds_ms => '{-1,1000}');
SELECT * FROM loomlat.ttft_histogram(bounds_ms => '{1000,Infinity}');
SELECT * FROM loomlat.ttft_histogram(bounds_ms => '{{1000},{2000}}');
\set VERBOSITY default

DELETE FROM loomlat.invocations WHERE agent_id BETWEEN 9001 AND 9004;
DELETE FROM loomlat.agents WHERE agent_id BETWEEN 9001 AND 9004;
RESET TimeZone;
