-- Hourly rollups: refresh_rollups() recomputes exactly the dirty hours, and
-- latency_summary_approx() agrees with latency_summary() on the same rows:
-- counts and cold-start percentages equal, percentiles within relative_error,
-- before and after late inserts, late cold-start latencies and deletes.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;
SET TimeZone = 'America/New_York';  -- hours are UTC hours whatever the session's zone

-- Start from clean rollups whatever earlier tests wrote.
SELECT loomlat.refresh_rollups() >= 0 AS drained;
SELECT count(*) AS dirty FROM loomlat.rollup_dirty;

INSERT INTO loomlat.agents (agent_id, name) VALUES (801, 'Roll A'), (802, 'Roll B'), (803, 'Roll idle');
-- 3 agents' worth of rows over 50 h from 2031-01-01 00:10 UTC, one every 97 s,
-- skewed TTFTs, every 7th row cold, every 11th an error, some NULL TTFTs.
INSERT INTO loomlat.invocations (invocation_id, agent_id, status, client_invoke_time,
								 cold_start_latency_ms, ttft_ms, client_duration_ms)
SELECT md5('roll' || i)::uuid, 801 + i % 2,
	   CASE WHEN i % 11 = 0 THEN 'error' ELSE 'complete' END::loomlat.invocation_status,
	   '2031-01-01 00:10:00+00'::timestamptz + i * interval '97 seconds',
	   CASE WHEN i % 7 = 0 THEN 2000 ELSE 50 END,
	   CASE WHEN i % 13 = 0 THEN NULL ELSE 100 + (i * 7919 % 1000) ^ 1.7 END,
	   500 + (i * 104729 % 5000)
FROM generate_series(0, 1855) i;

-- Triggers mark each (agent, UTC hour) once.
SELECT count(*) AS dirty_hours, min(hour) AT TIME ZONE 'UTC' AS first_hour
FROM loomlat.rollup_dirty WHERE agent_id BETWEEN 801 AND 803;
-- A batch limit: the oldest hours first, so a catch-up calls it until it returns 0.
SELECT loomlat.refresh_rollups(40) AS first_batch;
SELECT min(hour) AT TIME ZONE 'UTC' AS next_dirty_hour FROM loomlat.rollup_dirty;
SELECT loomlat.refresh_rollups(40) AS second_batch;
SELECT loomlat.refresh_rollups() AS recomputed;
SELECT loomlat.refresh_rollups() AS recomputed_again;
\set VERBOSITY terse
SELECT loomlat.refresh_rollups(0);
SELECT loomlat.refresh_rollups(NULL);
\set VERBOSITY default
SELECT count(*) AS rollup_rows, sum(invocations) AS invocations, sum(errors) AS errors,
	   sum(cold_starts) AS cold_starts
FROM loomlat.rollups_hourly WHERE agent_id BETWEEN 801 AND 803;
-- A rollup row agrees with the raw rows of its hour.
SELECT r.invocations = x.n AND r.errors = x.e AND r.cold_starts = x.c
	   AND loomlat.sketch_count(r.ttft) = x.t AND loomlat.sketch_max(r.duration) = x.dmax
	   AND r.ttft_histogram = x.h AS hour_matches
FROM loomlat.rollups_hourly r,
	 LATERAL (SELECT count(*) n, count(*) FILTER (WHERE i.status = 'error') e,
					 count(*) FILTER (WHERE i.was_cold_start) c, count(i.ttft_ms) t,
					 max(i.client_duration_ms) dmax,
					 loomlat.ttft_histogram_counts(i.ttft_ms, '{1000,3000,5000,10000}') h
			  FROM loomlat.invocations i
			  WHERE i.agent_id = r.agent_id AND i.client_invoke_time >= r.hour
				AND i.client_invoke_time < r.hour + interval '1 hour') x
WHERE r.agent_id = 801 AND r.hour = '2031-01-01 05:00:00+00';

-- Each daily row is its day's hours merged.
SELECT count(*) AS daily_rows,
	   bool_and(d.invocations = h.n AND d.errors = h.e AND d.cold_starts = h.c
				AND d.ttft::text = h.ttft::text AND d.ttft_cold::text = h.cold::text
				AND d.ttft_warm::text = h.warm::text AND d.duration::text = h.duration::text
				AND d.ttft_histogram = h.hist) AS days_match
FROM loomlat.rollups_daily d
	 JOIN (SELECT r.agent_id, date_trunc('day', r.hour, 'UTC') AS day, sum(r.invocations) n,
				  sum(r.errors) e, sum(r.cold_starts) c, loomlat.merge(r.ttft) ttft,
				  loomlat.merge(r.ttft_cold) cold, loomlat.merge(r.ttft_warm) warm,
				  loomlat.merge(r.duration) duration,
				  ARRAY[sum(r.ttft_histogram[1]), sum(r.ttft_histogram[2]), sum(r.ttft_histogram[3]),
						sum(r.ttft_histogram[4]), sum(r.ttft_histogram[5])]::bigint[] AS hist
		   FROM loomlat.rollups_hourly r GROUP BY 1, 2) h USING (agent_id, day)
WHERE d.agent_id BETWEEN 801 AND 803;

-- approx against exact: every key, counts equal, floats within relative_error.
CREATE FUNCTION pg_temp.compare(exact jsonb, approx jsonb) RETURNS TABLE (key text, ok boolean)
LANGUAGE sql AS $$
	WITH pairs AS (
		SELECT k.key, exact -> k.key AS e, approx -> k.key AS a FROM jsonb_object_keys(exact) k(key)
		UNION ALL
		SELECT 'agents.' || k.key, x.e -> k.key, x.a -> k.key
		FROM jsonb_array_elements(exact -> 'agents') WITH ORDINALITY x1(e, n)
			 JOIN jsonb_array_elements(approx -> 'agents') WITH ORDINALITY x2(a, n) USING (n)
			 CROSS JOIN LATERAL (SELECT x1.e, x2.a) x, jsonb_object_keys(x1.e) k(key))
	SELECT p.key,
		   bool_and(CASE WHEN p.key ~ '_ms$' AND jsonb_typeof(p.e) = 'number'
						 THEN abs((p.a)::float8 - (p.e)::float8)
							  <= (approx ->> 'relative_error')::float8 * abs((p.e)::float8) + 1e-9
						 WHEN p.key IN ('agents') THEN jsonb_array_length(p.a) = jsonb_array_length(p.e)
						 ELSE p.a = p.e END)
	FROM pairs p GROUP BY p.key ORDER BY p.key
$$;
SELECT (loomlat.latency_summary_approx('24h', as_of => '2031-01-02 13:30:00+00')) -
	   '{range,as_of,total_invocations,cold_start_pct,ttft_p50_ms,ttft_p95_ms,ttft_p99_ms,ttft_histogram,agents}'::text[]
	   AS extra_keys;
SELECT c.key, c.ok
FROM pg_temp.compare(loomlat.latency_summary('7d', as_of => '2031-01-02 23:59:00+00'),
					 loomlat.latency_summary_approx('7d', as_of => '2031-01-02 23:59:00+00')) c
WHERE NOT c.ok;
SELECT count(*) AS keys_compared, bool_and(c.ok) AS all_ok
FROM pg_temp.compare(loomlat.latency_summary('24h', 801, 0, '2031-01-02 13:30:00+00'),
					 loomlat.latency_summary_approx('24h', 801, 0, '2031-01-02 13:30:00+00')) c;
-- min_invocations 0 lists the idle agent too, as latency_summary does.
SELECT jsonb_path_query_array(loomlat.latency_summary_approx('30d', NULL, 0, '2031-01-03 00:00:00+00'),
							  '$.agents[*] ? (@.agent_id >= 801).agent_name') AS agents;
SELECT count(*) AS keys_compared, bool_and(c.ok) AS all_ok
FROM pg_temp.compare(loomlat.latency_summary('30d', NULL, 0, '2031-01-03 00:00:00+00'),
					 loomlat.latency_summary_approx('30d', NULL, 0, '2031-01-03 00:00:00+00')) c;

-- A late insert into a rolled-up hour, and a late cold-start latency: the
-- hours are dirty, the summary reads their raw rows until the refresh.
INSERT INTO loomlat.invocations (invocation_id, agent_id, status, client_invoke_time,
								 cold_start_latency_ms, ttft_ms, client_duration_ms)
SELECT md5('late' || i)::uuid, 801, 'complete', '2031-01-01 05:00:00+00'::timestamptz + i * interval '1 minute',
	   3000, 60000 + i, 70000
FROM generate_series(1, 40) i;
UPDATE loomlat.invocations SET cold_start_latency_ms = 5000
WHERE invocation_id = md5('roll' || 200)::uuid;
SELECT agent_id, hour AT TIME ZONE 'UTC' AS hour FROM loomlat.rollup_dirty ORDER BY 1, 2;
SELECT count(*) AS keys_compared, bool_and(c.ok) AS all_ok
FROM pg_temp.compare(loomlat.latency_summary('24h', as_of => '2031-01-01 20:00:00+00'),
					 loomlat.latency_summary_approx('24h', as_of => '2031-01-01 20:00:00+00')) c;
-- A whole day with a dirty hour: its daily row is stale, so its hours are read.
SELECT count(*) AS keys_compared, bool_and(c.ok) AS all_ok
FROM pg_temp.compare(loomlat.latency_summary('30d', as_of => '2031-01-03 00:00:00+00'),
					 loomlat.latency_summary_approx('30d', as_of => '2031-01-03 00:00:00+00')) c;
-- The same as rows: latency_by_agent_approx against latency_by_agent (counts
-- equal, percentiles within 1%), ttft_histogram_approx equal to ttft_histogram.
SELECT count(*) AS agents, count(a.agent_id) = count(e.agent_id) AS same_agents,
	   bool_and(a.invocation_count = e.invocation_count AND a.cold_start_count = e.cold_start_count
				AND a.cold_start_pct IS NOT DISTINCT FROM e.cold_start_pct
				AND a.agent_name IS NOT DISTINCT FROM e.agent_name
				AND coalesce(abs(a.ttft_p95_ms - e.ttft_p95_ms) <= 0.01 * abs(e.ttft_p95_ms) + 1e-9,
							 a.ttft_p95_ms IS NULL AND e.ttft_p95_ms IS NULL)
				AND coalesce(abs(a.duration_p50_ms - e.duration_p50_ms)
								 <= 0.01 * abs(e.duration_p50_ms) + 1e-9,
							 a.duration_p50_ms IS NULL AND e.duration_p50_ms IS NULL)) AS within
FROM loomlat.latency_by_agent_approx('30d', NULL, 0, '2031-01-03 00:00:00+00') a
	 FULL JOIN loomlat.latency_by_agent('30d', NULL, 0, '2031-01-03 00:00:00+00') e USING (agent_id);
SELECT agent_id, invocation_count FROM loomlat.latency_by_agent_approx('24h', 801, as_of => '2031-01-01 20:00:00+00');
SELECT h.rng, h.agent,
	   (SELECT array_agg(a ORDER BY a.lower_ms NULLS FIRST)
		FROM loomlat.ttft_histogram_approx(h.rng, h.agent, '2031-01-03 00:00:00+00') a)::text
	   = (SELECT array_agg(e ORDER BY e.lower_ms NULLS FIRST)
		  FROM loomlat.ttft_histogram(h.rng, h.agent, '2031-01-03 00:00:00+00') e)::text AS histogram_equal
FROM (VALUES ('24h', NULL::bigint), ('30d', NULL), ('30d', 801)) h(rng, agent);
SELECT * FROM loomlat.ttft_histogram_approx('30d', 802, '2031-01-03 00:00:00+00');
SELECT loomlat.refresh_rollups() AS recomputed;
SELECT count(*) AS keys_compared, bool_and(c.ok) AS all_ok
FROM pg_temp.compare(loomlat.latency_summary('24h', as_of => '2031-01-01 20:00:00+00'),
					 loomlat.latency_summary_approx('24h', as_of => '2031-01-01 20:00:00+00')) c;
SELECT invocations, cold_starts, loomlat.sketch_max(ttft) AS ttft_max
FROM loomlat.rollups_hourly WHERE agent_id = 801 AND hour = '2031-01-01 05:00:00+00';
SELECT count(*) AS keys_compared, bool_and(c.ok) AS all_ok
FROM pg_temp.compare(loomlat.latency_summary('30d', as_of => '2031-01-03 00:00:00+00'),
					 loomlat.latency_summary_approx('30d', as_of => '2031-01-03 00:00:00+00')) c;
-- Whole clean days come from rollups_daily: a change there shows, one to
-- their hourly rows does not (undone in the same transaction).
BEGIN;
UPDATE loomlat.rollups_daily SET invocations = invocations + 1000
WHERE agent_id = 801 AND day = '2031-01-01 00:00:00+00';
UPDATE loomlat.rollups_hourly SET invocations = invocations + 7
WHERE agent_id = 802 AND hour = '2031-01-02 10:00:00+00';
SELECT (loomlat.latency_summary_approx('30d', as_of => '2031-01-03 00:00:00+00') ->> 'total_invocations')::bigint
	   - (loomlat.latency_summary('30d', as_of => '2031-01-03 00:00:00+00') ->> 'total_invocations')::bigint
	   AS from_daily;
ROLLBACK;

-- Updates that leave the rolled-up columns alone mark nothing; a delete
-- empties its hour and the refresh drops the row.
UPDATE loomlat.invocations SET session_id = 'late' WHERE agent_id = 801;
SELECT count(*) AS dirty FROM loomlat.rollup_dirty;
DELETE FROM loomlat.invocations
WHERE agent_id = 802 AND client_invoke_time >= '2031-01-01 03:00:00+00'
  AND client_invoke_time < '2031-01-01 04:00:00+00';
SELECT loomlat.refresh_rollups() AS recomputed;
SELECT count(*) AS rows_left FROM loomlat.rollups_hourly
WHERE agent_id = 802 AND hour = '2031-01-01 03:00:00+00';

-- Arguments are checked as latency_summary checks them.
\set VERBOSITY terse
SELECT loomlat.latency_summary_approx('2d');
SELECT loomlat.latency_summary_approx('24h', 99999);
SELECT loomlat.latency_summary_approx('24h', NULL, -1);
SELECT * FROM loomlat.latency_by_agent_approx('2d');
SELECT * FROM loomlat.ttft_histogram_approx('24h', 99999);
\set VERBOSITY default

-- latency_over_time_approx against plain SQL over its own buckets.  Rows on
-- the windows' edges and on bucket cuts, rolled up; then dirty hours (a late
-- insert, late errors, a delete) left unrefreshed.
INSERT INTO loomlat.invocations (invocation_id, agent_id, status, client_invoke_time,
								 cold_start_latency_ms, ttft_ms, client_duration_ms)
SELECT md5('edge' || e.t || a)::uuid, a,
	   CASE WHEN a = 802 THEN 'error' ELSE 'complete' END::loomlat.invocation_status,
	   e.t, CASE WHEN a = 801 THEN 4000 ELSE 10 END, e.ttft, 900
FROM (VALUES ('2031-01-01 13:30:00+00'::timestamptz, 31000::float8), ('2031-01-02 13:30:00+00', 32000),
			 ('2031-01-02 12:30:00+00', 33000), ('2031-01-02 13:00:00+00', 34000),
			 ('2031-01-02 06:00:00+00', 35000), ('2031-01-02 12:00:00+00', 36000),
			 ('2031-01-02 00:00:00+00', 37000), ('2031-01-02 23:00:00+00', NULL),
			 ('2031-01-03 00:00:00+00', 39000)) e(t, ttft),
	 (VALUES (801), (802)) g(a);
SELECT loomlat.refresh_rollups() AS recomputed;
INSERT INTO loomlat.invocations (invocation_id, agent_id, status, client_invoke_time,
								 cold_start_latency_ms, ttft_ms, client_duration_ms)
SELECT md5('late edge' || i)::uuid, 802, 'complete', '2031-01-02 07:00:00+00'::timestamptz + i * interval '1 minute',
	   CASE WHEN i % 3 = 0 THEN 3000 ELSE 20 END, 20000 + i, 30000
FROM generate_series(0, 19) i;
UPDATE loomlat.invocations SET status = 'error'
WHERE agent_id = 801 AND client_invoke_time >= '2031-01-01 20:00:00+00'
  AND client_invoke_time < '2031-01-01 20:20:00+00' AND status <> 'error';
DELETE FROM loomlat.invocations
WHERE agent_id = 802 AND client_invoke_time >= '2031-01-02 17:00:00+00'
  AND client_invoke_time < '2031-01-02 17:30:00+00';
SELECT agent_id, hour AT TIME ZONE 'UTC' AS hour FROM loomlat.rollup_dirty ORDER BY 1, 2;

-- Per case: the buckets tile the window (as_of - range, as_of], cut on the
-- UTC multiples of the width; each bucket's invocations, errors and
-- cold-start share equal plain SQL's over [bucket_start, bucket_end) (the
-- window's own edges as the window has them), its percentiles are within
-- relative_error of percentile_cont's; empty buckets are there.
CREATE FUNCTION pg_temp.over_time_check(rng text, bucket interval, agent bigint, as_of timestamptz,
										width interval)
RETURNS TABLE (buckets bigint, empty bigint, invocations numeric, tiled boolean, counts_equal boolean,
			   percentiles_within boolean)
LANGUAGE sql AS $$
	WITH a AS (
		SELECT a.*, lead(a.bucket_start) OVER (ORDER BY a.bucket_start) AS next_start,
			   row_number() OVER (ORDER BY a.bucket_start) AS k, count(*) OVER () AS n,
			   as_of - CASE rng WHEN '1h' THEN interval '1 hour' WHEN '24h' THEN interval '24 hours'
								WHEN '7d' THEN interval '168 hours' ELSE interval '720 hours' END AS lo
		FROM loomlat.latency_over_time_approx(rng, bucket, agent, as_of) a),
	e AS (
		SELECT a.*, x.*
		FROM a,
			 LATERAL (SELECT count(*) AS e_n, count(*) FILTER (WHERE i.status = 'error') AS e_errors,
							 count(*) FILTER (WHERE i.was_cold_start) AS e_cold,
							 percentile_cont('{0.5,0.95,0.99}'::float8[]) WITHIN GROUP (ORDER BY i.ttft_ms) AS q
					  FROM loomlat.invocations i
					  WHERE i.client_invoke_time > a.lo AND i.client_invoke_time <= as_of
						AND i.client_invoke_time >= a.bucket_start
						AND (i.client_invoke_time < a.bucket_end OR a.bucket_end = as_of)
						AND (agent IS NULL OR i.agent_id = agent)) x)
	SELECT count(*), count(*) FILTER (WHERE e.invocations = 0 AND e.errors = 0 AND e.cold_start_pct IS NULL
										AND e.ttft_p50_ms IS NULL),
		   sum(e.invocations),
		   bool_and(e.bucket_start < e.bucket_end AND e.bucket_end - e.bucket_start <= width
					AND (e.k > 1 OR e.bucket_start = e.lo) AND (e.k < e.n OR e.bucket_end = as_of)
					AND (e.k = e.n OR (e.bucket_end = e.next_start
									   AND extract(epoch FROM e.bucket_end) % extract(epoch FROM width) = 0))
					AND (e.k IN (1, e.n) OR e.bucket_end - e.bucket_start = width)),
		   bool_and(e.invocations = e.e_n AND e.errors = e.e_errors
					AND e.cold_start_pct IS NOT DISTINCT FROM e.e_cold::float8 / nullif(e.e_n, 0)),
		   bool_and(coalesce(abs(e.ttft_p50_ms - e.q[1]) <= e.relative_error * abs(e.q[1]) + 1e-9
							 AND abs(e.ttft_p95_ms - e.q[2]) <= e.relative_error * abs(e.q[2]) + 1e-9
							 AND abs(e.ttft_p99_ms - e.q[3]) <= e.relative_error * abs(e.q[3]) + 1e-9,
							 e.ttft_p50_ms IS NULL AND e.ttft_p95_ms IS NULL AND e.ttft_p99_ms IS NULL
							 AND e.q IS NULL))
	FROM e
$$;
SELECT c.rng, c.bucket, c.agent, c.as_of AT TIME ZONE 'UTC' AS as_of, r.*
FROM (VALUES ('24h', NULL::interval, NULL::bigint, '2031-01-02 13:30:00+00'::timestamptz, interval '1 hour'),
			 ('24h', '3 hours', 801, '2031-01-02 13:30:00+00', '3 hours'),
			 ('24h', '5 hours', 802, '2031-01-02 13:30:00+00', '5 hours'),
			 ('7d', NULL, NULL, '2031-01-03 00:00:00+00', '1 hour'),
			 ('7d', '2 days', 801, '2031-01-02 20:17:00+00', '48 hours'),
			 ('30d', NULL, 802, '2031-01-02 13:30:00+00', '6 hours'),
			 ('30d', '1 day', NULL, '2031-01-03 00:00:00+00', '24 hours'),
			 ('30d', '1 month', NULL, '2031-01-02 13:30:00+00', '720 hours'),
			 ('1h', NULL, NULL, '2031-01-02 13:30:00+00', '1 hour'),
			 ('1h', NULL, 801, '2031-01-03 00:00:00+00', '1 hour')) c(rng, bucket, agent, as_of, width),
	 LATERAL pg_temp.over_time_check(c.rng, c.bucket, c.agent, c.as_of, c.width) r;
-- The buckets of one case: partial at both ends, cut at 00, 06, 12, 18 UTC.
SELECT bucket_start AT TIME ZONE 'UTC' AS bucket_start, bucket_end AT TIME ZONE 'UTC' AS bucket_end,
	   invocations, errors, relative_error
FROM loomlat.latency_over_time_approx('24h', '6 hours', 801, '2031-01-02 13:30:00+00');
-- Whole clean days come from rollups_daily when a bucket takes whole days,
-- from their hours otherwise (changes undone in the same transaction).
BEGIN;
UPDATE loomlat.rollups_daily SET invocations = invocations + 1000
WHERE agent_id = 802 AND day = '2031-01-01 00:00:00+00';
UPDATE loomlat.rollups_hourly SET invocations = invocations + 7
WHERE agent_id = 802 AND hour = '2031-01-01 10:00:00+00';
SELECT b.bucket, (SELECT sum(a.invocations)
				  FROM loomlat.latency_over_time_approx('30d', b.bucket, 802, '2031-01-03 00:00:00+00') a)
				 - (SELECT sum(e.invocations)
					FROM loomlat.latency_over_time('30d', NULL, 802, '2031-01-03 00:00:00+00') e) AS added
FROM (VALUES (interval '1 day'), ('6 hours')) b(bucket);
ROLLBACK;
\set VERBOSITY terse
SELECT * FROM loomlat.latency_over_time_approx('24h', '30 minutes');
SELECT * FROM loomlat.latency_over_time_approx('24h', '90 minutes');
SELECT * FROM loomlat.latency_over_time_approx('7d', '0');
SELECT * FROM loomlat.latency_over_time_approx('7d', '-2 hours');
SELECT * FROM loomlat.latency_over_time_approx('2d');
SELECT * FROM loomlat.latency_over_time_approx('24h', agent_id => 99999);
\set VERBOSITY default

-- TRUNCATE (here through CASCADE from agents) empties the rollups and the
-- dirty marks, so the approximate summary agrees with the empty table.
SELECT (SELECT count(*) FROM loomlat.rollups_hourly) > 0 AS hourly_before,
	   (SELECT count(*) FROM loomlat.rollups_daily) > 0 AS daily_before;
BEGIN;
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, ttft_ms)
VALUES ('00000000-0000-4000-8000-00000000beef', 801, '2031-01-01 10:30:00+00', 5);
TRUNCATE loomlat.agents CASCADE;
SELECT (SELECT count(*) FROM loomlat.rollups_hourly) AS hourly, (SELECT count(*) FROM loomlat.rollups_daily) AS daily,
	   (SELECT count(*) FROM loomlat.rollup_dirty) AS dirty,
	   loomlat.latency_summary_approx('30d', as_of => '2031-01-03 00:00:00+00')->'total_invocations' AS approx_total;
ROLLBACK;

DELETE FROM loomlat.invocations WHERE agent_id BETWEEN 801 AND 803;
SELECT loomlat.refresh_rollups() > 0 AS cleaned;
DELETE FROM loomlat.agents WHERE agent_id BETWEEN 801 AND 803;
SELECT count(*) AS rollup_rows_left FROM loomlat.rollups_hourly WHERE agent_id BETWEEN 801 AND 803;
RESET TimeZone;
