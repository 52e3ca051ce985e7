-- phase_breakdown(), latency_over_time(), invocation_detail(), ttft_display():
-- a fixture with known phases, every number against plain SQL.  The
-- extension is installed with a hostile search_path first.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS loomlat;
DROP ROLE IF EXISTS regress_reports_analyst;
DROP ROLE IF EXISTS regress_reports_nobody;
RESET client_min_messages;
SET TimeZone = 'UTC';

-- Traps that shadow what the report functions use.
CREATE SCHEMA trap;
CREATE FUNCTION trap.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT 'epoch'::timestamptz $$;
CREATE FUNCTION trap.starts_with(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE FUNCTION trap.round(numeric) RETURNS numeric LANGUAGE sql AS $$ SELECT 0::numeric $$;
CREATE FUNCTION trap.count(anyelement) RETURNS bigint LANGUAGE sql AS $$ SELECT 42::bigint $$;
CREATE FUNCTION trap.float8_trap(float8, float8) RETURNS float8 LANGUAGE sql AS $$ SELECT 0::float8 $$;
CREATE OPERATOR trap.+ (LEFTARG = float8, RIGHTARG = float8, FUNCTION = trap.float8_trap);
CREATE OPERATOR trap.- (LEFTARG = float8, RIGHTARG = float8, FUNCTION = trap.float8_trap);
CREATE OPERATOR trap./ (LEFTARG = float8, RIGHTARG = float8, FUNCTION = trap.float8_trap);
CREATE FUNCTION trap.uuid_trap(uuid, uuid) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR trap.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = trap.uuid_trap);
CREATE FUNCTION trap.text_trap(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR trap.= (LEFTARG = text, RIGHTARG = text, FUNCTION = trap.text_trap);
GRANT USAGE ON SCHEMA trap TO PUBLIC;
SET search_path = trap, public, pg_catalog;
CREATE EXTENSION loomlat;
RESET search_path;

INSERT INTO loomlat.agents (agent_id, name) VALUES (9201, 'Support'), (9202, 'Research'), (9203, 'Quiet');

-- The fixture, one row per invocation, 5 minutes apart back from as_of
-- 2032-01-10 12:00 (g = 0 is at as_of, g = 288 exactly 24 h before it).
-- Times are multiples of 1/8 ms, so every sum is exact.  Every 11th fails
-- after the token (no TTFT), every 13th (from 5) has no phases at all, no
-- invocation lies in (05:00, 06:00].  gap_ttft / gap_duration: the
-- critical-path time that token, first_token and stream leave uncovered,
-- known by construction.
CREATE TEMP TABLE fx AS
WITH base AS (
	SELECT g, md5('reports' || g)::uuid AS id, 9201 + g % 2 AS agent_id,
		   '2032-01-10 12:00:00+00'::timestamptz - g * interval '5 minutes' AS t,
		   CASE WHEN g % 7 <> 0 THEN (g * 137) % 1500 - 100 END AS latency,
		   g % 11 <> 0 AS ok, g % 13 = 5 AS phaseless, g % 5 = 0 AS new_conn, g % 4 = 0 AS reasons,
		   CASE WHEN g % 3 = 0 THEN 80 + g % 50 ELSE 0.25 END AS token_ms,
		   5.5 + g % 9 AS db_ms
	FROM generate_series(0, 300) AS g),
timing AS (
	SELECT b.*, b.token_ms + 0.5 AS http_off, CASE WHEN b.new_conn THEN 11 ELSE 0.75 END AS pre,
		   CASE WHEN NOT b.ok THEN 150
				ELSE 200 + (b.g * 37) % 700 + CASE WHEN b.latency > 500 THEN 1500 ELSE 0 END END AS first_byte,
		   300.25 + (b.g * 13) % 900 AS stream_ms
	FROM base b
	WHERE b.t <= '2032-01-10 05:00:00+00' OR b.t > '2032-01-10 06:00:00+00')
SELECT t.*, t.pre + t.first_byte + 30 AS first_token,
	   CASE WHEN t.ok THEN t.http_off + t.pre + t.first_byte + 30 END AS ttft_ms,
	   CASE WHEN t.ok THEN t.http_off + t.pre + t.first_byte + 30 + t.stream_ms
			ELSE t.http_off + t.pre + t.first_byte + 0.5 END AS duration_ms
FROM timing t;
ALTER TABLE fx ADD gap_ttft float8, ADD gap_duration float8;
UPDATE fx SET gap_ttft = CASE WHEN phaseless THEN ttft_ms WHEN ok THEN 0.5 END,
			  gap_duration = CASE WHEN phaseless THEN duration_ms WHEN ok THEN 0.5
								  ELSE duration_ms - token_ms END;

INSERT INTO loomlat.invocations (invocation_id, agent_id, session_id, status, client_invoke_time,
								 client_done_time, cold_start_latency_ms, ttft_ms, client_duration_ms,
								 input_tokens, output_tokens, token_cache_hit, error_message)
SELECT id, agent_id, 'session-' || g % 4, CASE WHEN ok THEN 'complete' ELSE 'error' END::loomlat.invocation_status,
	   t, t + duration_ms * interval '1 ms', latency, ttft_ms, duration_ms,
	   CASE WHEN ok THEN 100 + g END, CASE WHEN ok THEN 20 + g % 30 END, token_ms < 1,
	   CASE WHEN NOT ok THEN 'HTTP 503: agent unavailable' END
FROM fx;
INSERT INTO loomlat.invocation_phases (invocation_id, phase, start_ms, duration_ms)
SELECT fx.id, p.phase, p.start_ms, p.duration_ms
FROM fx CROSS JOIN LATERAL (VALUES
		('token', 0, fx.token_ms),
		('db', 0, fx.db_ms),
		('dns', fx.http_off, CASE WHEN fx.new_conn THEN 2 ELSE 0 END),
		('connect', fx.http_off + CASE WHEN fx.new_conn THEN 2 ELSE 0 END, CASE WHEN fx.new_conn THEN 3 ELSE 0 END),
		('tls', fx.http_off + 5, CASE WHEN fx.new_conn THEN 6 END),
		('first_byte', fx.http_off + fx.pre, fx.first_byte),
		('first_reasoning', fx.http_off, CASE WHEN fx.ok AND fx.reasons THEN fx.first_token / 2 END),
		('first_token', fx.http_off, CASE WHEN fx.ok THEN fx.first_token END),
		('stream', fx.ttft_ms, CASE WHEN fx.ok THEN fx.stream_ms END),
		('agent.init', CASE WHEN fx.g % 6 <> 0 THEN 2 END, CASE WHEN fx.ok THEN 40 END),
		('agent.model', fx.http_off + fx.pre + 20, CASE WHEN fx.ok THEN fx.first_byte - 40 END))
	 AS p(phase, start_ms, duration_ms)
WHERE NOT fx.phaseless AND p.duration_ms IS NOT NULL;

SELECT count(*) AS invocations, count(*) FILTER (WHERE was_cold_start) AS cold,
	   count(*) FILTER (WHERE NOT was_cold_start) AS warm, count(*) FILTER (WHERE status = 'error') AS errors,
	   (SELECT count(*) FROM loomlat.invocation_phases) AS phases
FROM loomlat.invocations;

-- Reference breakdown: classes by UNION ALL, each phase's part of [0, ttft]
-- and [0, duration] by hand, percentile_cont.
CREATE FUNCTION pg_temp.expected_breakdown(lo timestamptz, hi timestamptz, agent bigint,
										   threshold float8 DEFAULT NULL)
RETURNS TABLE (class text, phase text, invocation_count bigint, p50_ms float8, p95_ms float8,
			   p99_ms float8, mean_ms float8, mean_start_ms float8, ttft_share float8, duration_share float8)
LANGUAGE sql AS $$
	WITH inv AS (
		SELECT i.*, CASE WHEN threshold IS NULL THEN i.was_cold_start
						 ELSE i.cold_start_latency_ms > threshold END AS cold
		FROM loomlat.invocations i
		WHERE i.client_invoke_time > lo AND i.client_invoke_time <= hi AND (agent IS NULL OR i.agent_id = agent)),
	cl AS (
		SELECT 'all' AS class, * FROM inv
		UNION ALL SELECT 'cold', * FROM inv WHERE cold
		UNION ALL SELECT 'warm', * FROM inv WHERE NOT cold),
	tot AS (SELECT cl.class, sum(cl.ttft_ms) AS ttft, sum(cl.client_duration_ms) AS dur FROM cl GROUP BY 1),
	ph AS (
		SELECT cl.class, cl.invocation_id, p.phase, p.start_ms, p.duration_ms,
			   p.phase IN ('token', 'first_token', 'stream') AS critical,
			   CASE WHEN cl.ttft_ms IS NOT NULL AND p.start_ms IS NOT NULL
					THEN greatest(0, least(p.start_ms + p.duration_ms, cl.ttft_ms) - greatest(p.start_ms, 0)) END AS in_ttft,
			   CASE WHEN p.start_ms IS NOT NULL
					THEN greatest(0, least(p.start_ms + p.duration_ms, cl.client_duration_ms) - greatest(p.start_ms, 0)) END AS in_dur
		FROM cl JOIN loomlat.invocation_phases p ON p.invocation_id = cl.invocation_id),
	other AS (
		SELECT cl.class, cl.ttft_ms - coalesce((SELECT sum(ph.in_ttft) FROM ph WHERE ph.class = cl.class
												AND ph.invocation_id = cl.invocation_id AND ph.critical), 0) AS in_ttft,
			   cl.client_duration_ms - coalesce((SELECT sum(ph.in_dur) FROM ph WHERE ph.class = cl.class
												 AND ph.invocation_id = cl.invocation_id AND ph.critical), 0) AS in_dur
		FROM cl)
	SELECT ph.class, ph.phase, count(*),
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY ph.duration_ms),
		   percentile_cont(0.95) WITHIN GROUP (ORDER BY ph.duration_ms),
		   percentile_cont(0.99) WITHIN GROUP (ORDER BY ph.duration_ms),
		   avg(ph.duration_ms), avg(ph.start_ms),
		   CASE WHEN count(*) = count(ph.start_ms) THEN sum(ph.in_ttft) / tot.ttft END,
		   CASE WHEN count(*) = count(ph.start_ms) THEN sum(ph.in_dur) / tot.dur END
	FROM ph JOIN tot ON tot.class = ph.class
	GROUP BY ph.class, ph.phase, tot.ttft, tot.dur
	UNION ALL
	SELECT o.class, '(other)', count(*),
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY o.in_dur),
		   percentile_cont(0.95) WITHIN GROUP (ORDER BY o.in_dur),
		   percentile_cont(0.99) WITHIN GROUP (ORDER BY o.in_dur),
		   avg(o.in_dur), NULL, sum(o.in_ttft) / tot.ttft, sum(o.in_dur) / tot.dur
	FROM other o JOIN tot ON tot.class = o.class
	GROUP BY o.class, tot.ttft, tot.dur
	UNION ALL
	SELECT cl.class, '(ttft)', count(cl.ttft_ms),
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY cl.ttft_ms),
		   percentile_cont(0.95) WITHIN GROUP (ORDER BY cl.ttft_ms),
		   percentile_cont(0.99) WITHIN GROUP (ORDER BY cl.ttft_ms),
		   avg(cl.ttft_ms), 0, sum(cl.ttft_ms) / tot.ttft, sum(cl.ttft_ms) / tot.dur
	FROM cl JOIN tot ON tot.class = cl.class
	GROUP BY cl.class, tot.ttft, tot.dur
	HAVING count(cl.ttft_ms) > 0
$$;

-- The dashboard view of the last 24 h, all invocations, phases in the order
-- they happen; then every class, agent, range and a what-if threshold
-- against the reference.
SELECT phase, invocation_count AS n, p50_ms, p95_ms, p99_ms, round(mean_ms::numeric, 3) AS mean_ms,
	   round(mean_start_ms::numeric, 3) AS mean_start, round(ttft_share::numeric, 4) AS ttft_share,
	   round(duration_share::numeric, 4) AS duration_share, on_critical_path, overlaps_with
FROM loomlat.phase_breakdown('24h', as_of => '2032-01-10 12:00:00+00')
WHERE class = 'all';
SELECT class, count(*) AS phases, sum(invocation_count) FILTER (WHERE phase = '(other)') AS invocations
FROM loomlat.phase_breakdown('24h', as_of => '2032-01-10 12:00:00+00') GROUP BY class ORDER BY class;
SELECT r.rng, a.agent, t.threshold, count(*) AS rows,
	   count(*) FILTER (WHERE (b.class, b.phase, b.invocation_count, b.p50_ms, b.p95_ms, b.p99_ms,
							   b.mean_ms, b.mean_start_ms, b.ttft_share, b.duration_share)
							  IS DISTINCT FROM
							  (e.class, e.phase, e.invocation_count, e.p50_ms, e.p95_ms, e.p99_ms,
							   e.mean_ms, e.mean_start_ms, e.ttft_share, e.duration_share)) AS mismatched
FROM (VALUES ('1h', interval '1 hour'), ('24h', '24 hours'), ('7d', '168 hours')) AS r(rng, span),
	 (VALUES (NULL::bigint), (9202)) AS a(agent),
	 (VALUES (NULL::float8), (1000)) AS t(threshold),
	 LATERAL (SELECT * FROM loomlat.phase_breakdown(r.rng, a.agent, '2032-01-10 12:00:00+00', t.threshold)) b
	 FULL JOIN LATERAL pg_temp.expected_breakdown('2032-01-10 12:00:00+00'::timestamptz - r.span,
												  '2032-01-10 12:00:00+00', a.agent, t.threshold) e
	 ON e.class = b.class AND e.phase = b.phase
GROUP BY r.rng, r.span, a.agent, t.threshold
ORDER BY r.span, a.agent NULLS FIRST, t.threshold NULLS FIRST;

-- The critical-path shares add up to 1, and "(other)" is exactly the gap the
-- fixture left: 0.5 ms between token and request, the whole wait where no
-- phase was written, everything after the token where the request failed.
SELECT b.class,
	   abs(sum(b.ttft_share) FILTER (WHERE b.on_critical_path) - 1) < 1e-12 AS ttft_adds_up,
	   abs(sum(b.duration_share) FILTER (WHERE b.on_critical_path) - 1) < 1e-12 AS duration_adds_up,
	   max(b.ttft_share) FILTER (WHERE b.phase = '(other)') = g.ttft AS other_ttft_is_gap,
	   max(b.duration_share) FILTER (WHERE b.phase = '(other)') = g.duration AS other_duration_is_gap
FROM loomlat.phase_breakdown('24h', as_of => '2032-01-10 12:00:00+00') b
	 JOIN (SELECT c.class, sum(fx.gap_ttft) / sum(fx.ttft_ms) AS ttft,
				  sum(fx.gap_duration) / sum(fx.duration_ms) AS duration
		   FROM fx JOIN loomlat.invocations i ON i.invocation_id = fx.id,
				LATERAL (VALUES ('all'), (CASE WHEN i.was_cold_start THEN 'cold'
											   WHEN NOT i.was_cold_start THEN 'warm' END)) AS c(class)
		   WHERE fx.t > '2032-01-09 12:00:00+00' AND fx.t <= '2032-01-10 12:00:00+00'
		   GROUP BY c.class) g ON g.class = b.class
GROUP BY b.class, g.ttft, g.duration ORDER BY b.class;

-- An empty window: no rows.  A tracked table has no phases: an error.
SELECT count(*) AS empty_window_rows FROM loomlat.phase_breakdown('1h', as_of => '2031-01-01 00:00:00+00');

-- latency_over_time: the reference builds its buckets back from as_of by hand.
CREATE FUNCTION pg_temp.expected_over_time(hi timestamptz, span interval, width interval, agent bigint,
										   threshold float8 DEFAULT NULL)
RETURNS TABLE (bucket_start timestamptz, bucket_end timestamptz, invocations bigint, cold_start_pct float8,
			   ttft_p50_ms float8, ttft_p95_ms float8, ttft_p99_ms float8, errors bigint)
LANGUAGE sql AS $$
	SELECT greatest(hi - (k + 1) * width, hi - span), hi - k * width, count(i.invocation_id),
		   (count(*) FILTER (WHERE CASE WHEN threshold IS NULL THEN i.was_cold_start
										ELSE i.cold_start_latency_ms > threshold END))::float8
			   / nullif(count(i.invocation_id), 0),
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY i.ttft_ms),
		   percentile_cont(0.95) WITHIN GROUP (ORDER BY i.ttft_ms),
		   percentile_cont(0.99) WITHIN GROUP (ORDER BY i.ttft_ms),
		   count(*) FILTER (WHERE i.status = 'error')
	FROM generate_series(0, ceil(extract(epoch FROM span) / extract(epoch FROM width))::int - 1) AS k
		 LEFT JOIN loomlat.invocations i
		 ON i.client_invoke_time > greatest(hi - (k + 1) * width, hi - span)
			AND i.client_invoke_time <= hi - k * width AND (agent IS NULL OR i.agent_id = agent)
	GROUP BY k ORDER BY k DESC
$$;

-- The gap hour is four empty 15-minute buckets; the last bucket ends at
-- as_of and holds the invocation made exactly then.
SELECT * FROM loomlat.latency_over_time('24h', as_of => '2032-01-10 12:00:00+00')
WHERE bucket_end > '2032-01-10 04:30:00+00' AND bucket_start < '2032-01-10 06:30:00+00'
   OR bucket_end = '2032-01-10 12:00:00+00';
SELECT r.rng, w.width, a.agent, t.threshold, count(*) AS buckets,
	   count(*) FILTER (WHERE o.invocations = 0) AS empty,
	   min(o.bucket_start) AS first_start, max(o.bucket_end) AS last_end,
	   count(*) FILTER (WHERE o IS DISTINCT FROM e) AS mismatched
FROM (VALUES ('1h', interval '1 hour'), ('24h', '24 hours'), ('7d', '168 hours')) AS r(rng, span),
	 (VALUES (NULL::interval), ('1 hour'), ('7 hours')) AS w(width),
	 (VALUES (NULL::bigint), (9201)) AS a(agent),
	 (VALUES (NULL::float8), (1000)) AS t(threshold),
	 LATERAL (SELECT o.*, row_number() OVER () AS n
			  FROM loomlat.latency_over_time(r.rng, w.width, a.agent, '2032-01-10 12:00:00+00',
											 t.threshold) o) o
	 FULL JOIN LATERAL (SELECT e.*, row_number() OVER () AS n
						FROM pg_temp.expected_over_time('2032-01-10 12:00:00+00', r.span,
							coalesce(w.width, CASE r.rng WHEN '1h' THEN interval '1 minute'
														 WHEN '24h' THEN '15 minutes' ELSE '1 hour' END),
							a.agent, t.threshold) e) e
	 ON e.n = o.n
WHERE w.width IS NULL OR w.width < r.span
GROUP BY r.rng, r.span, w.width, a.agent, t.threshold
ORDER BY r.span, w.width NULLS FIRST, a.agent NULLS FIRST, t.threshold NULLS FIRST;
-- 30d: 120 buckets of 6 h by default, an interval of days counts 24 h a day.
SELECT count(*) AS buckets, min(bucket_start) AS first_start, sum(invocations) AS invocations
FROM loomlat.latency_over_time('30d', as_of => '2032-01-10 12:00:00+00');
SELECT count(*) AS buckets, min(bucket_start) AS first_start
FROM loomlat.latency_over_time('30d', '1 day', as_of => '2032-01-10 12:00:00+00');

-- invocation_detail: every stored field, the display fields, phases by start.
SELECT jsonb_pretty(loomlat.invocation_detail(md5('reports' || 15)::uuid) - 'created_at');
SELECT count(*) AS invocations,
	   count(*) FILTER (WHERE d - '{agent_name,ttft_display,badge,phases}'::text[] = to_jsonb(i)) AS fields_match,
	   count(*) FILTER (WHERE d->>'agent_name' = a.name) AS names_match,
	   count(*) FILTER (WHERE d->'badge' = CASE WHEN i.was_cold_start THEN '"cold"'
												WHEN NOT i.was_cold_start THEN '"warm"' ELSE 'null' END::jsonb)
		   AS badges_match,
	   count(*) FILTER (WHERE d->'phases' = (
		   SELECT coalesce(jsonb_agg(jsonb_build_object('phase', p.phase, 'start_ms', p.start_ms,
														'duration_ms', p.duration_ms,
														'end_ms', p.start_ms + p.duration_ms,
														'on_critical_path', p.phase IN ('token', 'first_token', 'stream'))
									 ORDER BY p.start_ms NULLS LAST, p.duration_ms DESC, p.phase), '[]')
		   FROM loomlat.invocation_phases p WHERE p.invocation_id = i.invocation_id)) AS phases_match,
	   count(*) FILTER (WHERE d->'badge' = 'null') AS unknown_badges,
	   count(*) FILTER (WHERE d->'ttft_display' = 'null') AS no_ttft,
	   count(*) FILTER (WHERE d->'phases' = '[]') AS without_phases
FROM loomlat.invocations i JOIN loomlat.agents a ON a.agent_id = i.agent_id,
	 LATERAL loomlat.invocation_detail(i.invocation_id) AS d;
SELECT loomlat.invocation_detail('00000000-0000-0000-0000-000000000000') IS NULL AS unknown_is_null;

-- The display rule at its edges.
SELECT v AS ttft_ms, loomlat.ttft_display(v)
FROM (VALUES (NULL::float8), (0), (0.4), (0.5), (849.5), (999.4), (999.5), (999.6), (1000), (1049.99),
			 (1050), (1234.5), (9999.9), (59949.99), (59950), (60000), (65499), (125000), (3600000)) AS t(v);

-- Bad arguments: the same errors as latency_summary(), and the reports' own.
\set VERBOSITY terse
SELECT * FROM loomlat.phase_breakdown('2h');
SELECT * FROM loomlat.phase_breakdown(NULL);
SELECT * FROM loomlat.phase_breakdown('24h', 424242);
SELECT * FROM loomlat.phase_breakdown('24h', as_of => NULL);
SELECT * FROM loomlat.phase_breakdown('24h', as_of => '-infinity');
SELECT * FROM loomlat.phase_breakdown('24h', cold_start_threshold_ms => -5);
SELECT * FROM loomlat.phase_breakdown('24h', source => NULL);
SELECT * FROM loomlat.phase_breakdown('24h', source => 'loomlat.agents');
SELECT * FROM loomlat.latency_over_time('2h');
SELECT * FROM loomlat.latency_over_time('24h', agent_id => 424242);
SELECT * FROM loomlat.latency_over_time('24h', as_of => 'infinity');
SELECT * FROM loomlat.latency_over_time('24h', cold_start_threshold_ms => 'NaN');
SELECT * FROM loomlat.latency_over_time('24h', source => 'loomlat.agents');
SELECT * FROM loomlat.latency_over_time('24h', '0');
SELECT * FROM loomlat.latency_over_time('24h', '-5 minutes');
SELECT * FROM loomlat.latency_over_time('24h', '1 mon -30 days');
SELECT * FROM loomlat.latency_over_time('24h', '1 second');
SELECT * FROM loomlat.latency_over_time('30d', '4 minutes');
SELECT loomlat.invocation_detail(NULL);
SELECT loomlat.ttft_display(-1);
SELECT loomlat.ttft_display('NaN');
SELECT loomlat.ttft_display('Infinity');
\set VERBOSITY default
-- 10000 buckets is the most there can be.
SELECT count(*) AS buckets FROM loomlat.latency_over_time('7d', '60.48 seconds', as_of => '2032-01-10 12:00:00+00');

-- A tracked Loom-shaped table: latency_over_time reads it (errors unknown),
-- phase_breakdown says it has no phases.
CREATE SCHEMA loomapp;
CREATE TABLE loomapp.agents (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE loomapp.invocation_sessions (
	session_id text PRIMARY KEY, agent_id integer NOT NULL REFERENCES loomapp.agents (id));
CREATE TABLE loomapp.invocations (
	id serial PRIMARY KEY,
	session_id text NOT NULL REFERENCES loomapp.invocation_sessions (session_id),
	invocation_id text UNIQUE NOT NULL,
	client_invoke_time double precision,
	cold_start_latency_ms double precision,
	client_duration_ms double precision,
	status text NOT NULL DEFAULT 'pending');
SELECT loomlat.track('loomapp.invocations');
INSERT INTO loomapp.agents (name) VALUES ('My Agent');
INSERT INTO loomapp.invocation_sessions VALUES ('sess-1', 1);
-- 2032-01-10 12:00 UTC is 1957348800 Unix seconds; 40 invocations 7 minutes apart.
INSERT INTO loomapp.invocations (session_id, invocation_id, client_invoke_time, cold_start_latency_ms,
								 client_duration_ms, ttft_ms, status)
SELECT 'sess-1', 'inv-' || g, 1957348800.0 - g * 420, (g * 97) % 1200, 900 + g, 250.5 + (g * 61) % 2000,
	   'complete'
FROM generate_series(0, 39) AS g;
SELECT o.*, o.invocations = (SELECT count(*) FROM loomapp.invocations i
							 WHERE to_timestamp(i.client_invoke_time) > o.bucket_start
							   AND to_timestamp(i.client_invoke_time) <= o.bucket_end) AS count_ok,
	   o.ttft_p50_ms IS NOT DISTINCT FROM (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY i.ttft_ms)
										   FROM loomapp.invocations i
										   WHERE to_timestamp(i.client_invoke_time) > o.bucket_start
											 AND to_timestamp(i.client_invoke_time) <= o.bucket_end) AS p50_ok
FROM loomlat.latency_over_time('24h', '1 hour', as_of => '2032-01-10 12:00:00+00',
							   source => 'loomapp.invocations') o
WHERE o.bucket_end > '2032-01-10 06:00:00+00';
\set VERBOSITY terse
SELECT * FROM loomlat.phase_breakdown('24h', source => 'loomapp.invocations');
\set VERBOSITY default

-- An analyst with USAGE and SELECT only, and a hostile search_path: the same
-- answers as above.  Without SELECT: denied.
CREATE TEMP TABLE clean AS
SELECT 'breakdown' AS report, to_jsonb(array_agg(b)) AS answer
FROM loomlat.phase_breakdown('24h', as_of => '2032-01-10 12:00:00+00') b
UNION ALL
SELECT 'over_time', to_jsonb(array_agg(o)) FROM loomlat.latency_over_time('24h', as_of => '2032-01-10 12:00:00+00') o
UNION ALL
SELECT 'detail', loomlat.invocation_detail(md5('reports' || 16)::uuid);
CREATE ROLE regress_reports_analyst;
CREATE ROLE regress_reports_nobody;
GRANT USAGE ON SCHEMA loomlat TO regress_reports_analyst, regress_reports_nobody;
GRANT SELECT ON ALL TABLES IN SCHEMA loomlat TO regress_reports_analyst;
GRANT SELECT ON clean TO regress_reports_analyst;
SET ROLE regress_reports_analyst;
SET search_path = trap, public, pg_catalog;
SELECT c.report, x.answer = c.answer AS same_answer
FROM clean c
	 JOIN (SELECT 'breakdown' AS report, to_jsonb(array_agg(b)) AS answer
		   FROM loomlat.phase_breakdown('24h', as_of => '2032-01-10 12:00:00+00') b
		   UNION ALL
		   SELECT 'over_time', to_jsonb(array_agg(o))
		   FROM loomlat.latency_over_time('24h', as_of => '2032-01-10 12:00:00+00') o
		   UNION ALL
		   SELECT 'detail', loomlat.invocation_detail(md5('reports' || 16)::uuid)) x
	 ON x.report OPERATOR(pg_catalog.=) c.report
ORDER BY 1;
RESET search_path;
RESET ROLE;
-- Row-level security applies: an analyst limited to agent 9201 sees its
-- invocations only, and another agent's invocation "does not exist".
SELECT count(*) AS support_24h FROM fx
WHERE agent_id = 9201 AND t > '2032-01-09 12:00:00+00' AND t <= '2032-01-10 12:00:00+00' \gset
ALTER TABLE loomlat.invocations ENABLE ROW LEVEL SECURITY;
CREATE POLICY reports_support_only ON loomlat.invocations TO regress_reports_analyst USING (agent_id = 9201);
SET ROLE regress_reports_analyst;
SELECT loomlat.invocation_detail(md5('reports' || 16)::uuid)->>'agent_name' AS visible_agent,
	   loomlat.invocation_detail(md5('reports' || 15)::uuid) IS NULL AS other_agent_hidden,
	   (SELECT sum(invocations) FROM loomlat.latency_over_time('24h', as_of => '2032-01-10 12:00:00+00'))
		   = :support_24h AS over_time_counts_own,
	   (SELECT invocation_count FROM loomlat.phase_breakdown('24h', as_of => '2032-01-10 12:00:00+00')
		WHERE class = 'all' AND phase = '(other)') = :support_24h AS breakdown_counts_own;
RESET ROLE;
DROP POLICY reports_support_only ON loomlat.invocations;
ALTER TABLE loomlat.invocations DISABLE ROW LEVEL SECURITY;
\set VERBOSITY terse
SET ROLE regress_reports_nobody;
SELECT * FROM loomlat.phase_breakdown('24h');
SELECT * FROM loomlat.latency_over_time('24h');
SELECT loomlat.invocation_detail(md5('reports' || 16)::uuid);
RESET ROLE;
\set VERBOSITY default

REVOKE ALL ON ALL TABLES IN SCHEMA loomlat FROM regress_reports_analyst;
REVOKE ALL ON SCHEMA loomlat FROM regress_reports_analyst, regress_reports_nobody;
DROP TABLE clean, fx;
DROP ROLE regress_reports_analyst, regress_reports_nobody;
DROP SCHEMA loomapp CASCADE;
DELETE FROM loomlat.invocations WHERE agent_id BETWEEN 9201 AND 9203;
DELETE FROM loomlat.agents WHERE agent_id BETWEEN 9201 AND 9203;
SET client_min_messages = warning;
DROP SCHEMA trap CASCADE;
RESET client_min_messages;
RESET TimeZone;
