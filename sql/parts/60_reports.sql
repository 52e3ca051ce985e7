/*
 * Reports for analysts and backends: where an invocation's time goes
 * (phase_breakdown), how latency moves over the window (latency_over_time),
 * and one invocation as the detail page shows it (invocation_detail, with
 * ttft_display as the one display rule for TTFT).
 *
 * The window and every argument the summaries share are checked by
 * resolve_window(), so the reports fail exactly as latency_summary() does.
 * Phases exist only in loomlat.invocation_phases: phase_breakdown() on a
 * tracked table is an error; latency_over_time() reads a tracked table
 * through resolve_window()'s SQL.  Nothing here is SECURITY DEFINER: the
 * caller's privileges and row-level security apply.
 */

/*
 * Where each phase the ingestor writes sits on an invocation's timeline.
 * The critical path is token -> first_token -> stream: the request waits for
 * the token, TTFT ends first_token and stream runs from there to the end, so
 * the three never overlap and, with the gaps between them, tile
 * [0, client_duration_ms].  Every other phase runs alongside them: "db" (the
 * pending row) is never waited for, dns/connect/tls/first_byte and
 * first_reasoning lie inside first_token, and the agent reports agent.<name>
 * from inside the request.  agent.* stands for every agent.<name> phase.
 */
CREATE FUNCTION loomlat.phase_layout()
	RETURNS TABLE (phase text, on_critical_path boolean, overlaps_with text[])
	LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 10
	SET search_path = pg_catalog, pg_temp
	BEGIN ATOMIC
		SELECT l.phase, l.on_critical_path, l.overlaps_with
		FROM (VALUES ('token', true, '{db}'::text[]),
					 ('db', false, '{token,first_token}'),
					 ('dns', false, '{first_token}'),
					 ('connect', false, '{first_token}'),
					 ('tls', false, '{first_token}'),
					 ('first_byte', false, '{first_token}'),
					 ('first_reasoning', false, '{first_token}'),
					 ('first_token', true, '{db,dns,connect,tls,first_byte,first_reasoning,agent.*}'),
					 ('stream', true, '{agent.*}'),
					 ('agent.*', false, '{first_token,stream}')) AS l(phase, on_critical_path, overlaps_with);
	END;

-- One class of rows in percentiles_by_class: its rows, the non-NULL values
-- among them, their sum and their percentiles.
CREATE TYPE loomlat.class_percentiles AS (
	class       text,
	rows        bigint,
	count       bigint,
	sum         float8,
	percentiles float8[]
);

CREATE FUNCTION loomlat.percentiles_by_class_transfn(internal, float8, float8[], boolean)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'loomlat_percentiles_by_class_transfn'
	LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.percentiles_by_class_final(internal)
	RETURNS loomlat.class_percentiles[]
	AS 'MODULE_PATHNAME', 'loomlat_percentiles_by_class_final'
	LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.percentiles_by_class_combine(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'loomlat_percentiles_by_class_combine'
	LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.percentiles_by_class_serialize(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'loomlat_percentiles_by_class_serialize'
	LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.percentiles_by_class_deserialize(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'loomlat_percentiles_by_class_deserialize'
	LANGUAGE C STRICT PARALLEL SAFE;

/*
 * Rows split by cold-start class in one pass, as {all, cold, warm}: each
 * class's rows, count and sum of non-NULL values, and percentile_cont(fractions)
 * over them (NULL fractions: no values kept, no percentiles).  Rows whose
 * cold is NULL are in "all" only; no rows give NULL.  READ_ONLY like
 * percentiles.
 */
CREATE AGGREGATE loomlat.percentiles_by_class(value float8, fractions float8[], cold boolean) (
	SFUNC = loomlat.percentiles_by_class_transfn,
	STYPE = internal,
	FINALFUNC = loomlat.percentiles_by_class_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = loomlat.percentiles_by_class_combine,
	SERIALFUNC = loomlat.percentiles_by_class_serialize,
	DESERIALFUNC = loomlat.percentiles_by_class_deserialize,
	PARALLEL = SAFE
);

/*
 * For a window's invocations, split into all / cold / warm, each phase's
 * count, duration percentiles and mean, mean start, and share of the
 * class's total TTFT and total duration: the part of the phase that lies in
 * [0, ttft_ms] (or [0, client_duration_ms]) summed over the invocations,
 * divided by the sum of their ttft_ms (client_duration_ms).  The row
 * "(other)" is the critical-path time no critical-path phase covers, so the
 * shares of the critical-path rows add up to 1.  The row "(ttft)" is the
 * TTFT itself, the span the TTFT shares divide (not a phase: its
 * on_critical_path is NULL).  Rows come by class, "(ttft)" first, then the
 * class's phases in the order they happen (median start, then mean start),
 * "(other)" last.  The classes' totals come from one pass over the window.
 */
CREATE FUNCTION loomlat.phase_breakdown(range text DEFAULT '24h', agent_id bigint DEFAULT NULL,
										as_of timestamptz DEFAULT now(),
										cold_start_threshold_ms float8 DEFAULT NULL,
										source regclass DEFAULT 'loomlat.invocations')
	RETURNS TABLE (class text, phase text, invocation_count bigint,
				   p50_ms float8, p95_ms float8, p99_ms float8, mean_ms float8,
				   mean_start_ms float8, ttft_share float8,
				   duration_share float8, on_critical_path boolean, overlaps_with text[])
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
#variable_conflict use_column
DECLARE
	lo        timestamptz;
	hi        CONSTANT timestamptz := phase_breakdown.as_of;
	agent     CONSTANT bigint := phase_breakdown.agent_id;
	threshold CONSTANT float8 := phase_breakdown.cold_start_threshold_ms;
BEGIN
	SELECT w.window_start INTO lo
	FROM loomlat.resolve_window(phase_breakdown.range, agent, hi, threshold, phase_breakdown.source) w;
	IF phase_breakdown.source <> 'loomlat.invocations'::regclass THEN
		RAISE EXCEPTION 'phase_breakdown() reads phases from loomlat.invocation_phases; table % has none',
			phase_breakdown.source
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'latency_summary() and latency_over_time() read tracked tables.';
	END IF;

	RETURN QUERY
	-- not materialized: a scan of the window is cheaper than writing it out
	WITH inv AS NOT MATERIALIZED (
		SELECT i.invocation_id, i.ttft_ms, i.client_duration_ms,
			   CASE WHEN threshold IS NULL THEN i.was_cold_start
					ELSE loomlat.is_cold_start(i.cold_start_latency_ms, threshold) END AS cold
		FROM loomlat.invocations i
		WHERE i.client_invoke_time > lo
		  AND i.client_invoke_time <= hi
		  AND (agent IS NULL OR i.agent_id = agent)),
	-- each phase and the part of it inside [0, ttft_ms] and [0, client_duration_ms]
	parts AS (
		SELECT inv.invocation_id, inv.cold, p.phase, p.start_ms, p.duration_ms,
			   CASE WHEN p.start_ms IS NOT NULL AND inv.ttft_ms IS NOT NULL THEN
				   GREATEST(0::float8,
							LEAST(p.start_ms + p.duration_ms, inv.ttft_ms)
							- GREATEST(p.start_ms, 0::float8)) END AS in_ttft,
			   CASE WHEN p.start_ms IS NOT NULL AND inv.client_duration_ms IS NOT NULL THEN
				   GREATEST(0::float8,
							LEAST(p.start_ms + p.duration_ms, inv.client_duration_ms)
							- GREATEST(p.start_ms, 0::float8)) END AS in_duration
		FROM inv JOIN loomlat.invocation_phases p ON p.invocation_id = inv.invocation_id),
	layout AS (
		SELECT l.phase, l.on_critical_path, l.overlaps_with FROM loomlat.phase_layout() l),
	-- per invocation, the time token, first_token and stream cover
	covered AS (
		SELECT pa.invocation_id, sum(pa.in_ttft) AS in_ttft, sum(pa.in_duration) AS in_duration
		FROM parts pa
			 JOIN layout l ON l.phase = pa.phase AND l.on_critical_path
		GROUP BY pa.invocation_id),
	-- one pass over the window, split by class: TTFT and duration (what
	-- the shares divide by) and the critical-path time left uncovered
	totals AS (
		SELECT loomlat.percentiles_by_class(inv.ttft_ms, '{0.5,0.95,0.99}', inv.cold) AS ttft,
			   loomlat.percentiles_by_class(inv.client_duration_ms, NULL, inv.cold) AS duration,
			   loomlat.percentiles_by_class(inv.ttft_ms - coalesce(c.in_ttft, 0::float8), NULL,
											inv.cold) AS other_ttft,
			   loomlat.percentiles_by_class(inv.client_duration_ms - coalesce(c.in_duration, 0::float8),
											'{0.5,0.95,0.99}', inv.cold) AS other_duration
		FROM inv LEFT JOIN covered c ON c.invocation_id = inv.invocation_id),
	classes AS (
		SELECT (t.ttft[k]).class, t.ttft[k] AS ttft, t.duration[k] AS duration,
			   t.other_ttft[k] AS other_ttft, t.other_duration[k] AS other_duration
		FROM totals t, generate_series(1, 3) AS k
		WHERE (t.ttft[k]).rows > 0),
	phase_rows AS (
		SELECT CASE WHEN GROUPING(pa.cold) = 1 THEN 'all'
					WHEN pa.cold THEN 'cold' ELSE 'warm' END AS class,
			   pa.phase, count(*) AS n, loomlat.percentiles(pa.duration_ms, '{0.5,0.95,0.99}') AS q,
			   avg(pa.duration_ms) AS mean_ms, avg(pa.start_ms) AS mean_start_ms,
			   -- a phase that cannot be placed on the timeline has no share
			   CASE WHEN bool_and(pa.start_ms IS NOT NULL)
					THEN sum(pa.in_ttft) END AS in_ttft,
			   CASE WHEN bool_and(pa.start_ms IS NOT NULL)
					THEN sum(pa.in_duration) END AS in_duration,
			   loomlat.percentile(pa.start_ms, 0.5) AS start_p50, 1 AS place
		FROM parts pa
		GROUP BY GROUPING SETS ((pa.phase), (pa.cold, pa.phase))
		-- invocations of unknown class are in "all" only
		HAVING GROUPING(pa.cold) = 1 OR pa.cold IS NOT NULL
		UNION ALL
		SELECT c.class, '(ttft)', (c.ttft).count, (c.ttft).percentiles, (c.ttft).sum / (c.ttft).count,
			   0, (c.ttft).sum, (c.ttft).sum, NULL, 0
		FROM classes c WHERE (c.ttft).count > 0
		UNION ALL
		SELECT c.class, '(other)', (c.other_duration).rows, (c.other_duration).percentiles,
			   (c.other_duration).sum / nullif((c.other_duration).count, 0), NULL,
			   (c.other_ttft).sum, (c.other_duration).sum, NULL, 2
		FROM classes c)
	SELECT r.class, r.phase, r.n, r.q[1], r.q[2], r.q[3], r.mean_ms, r.mean_start_ms,
		   CASE WHEN (c.ttft).sum > 0::float8
				THEN r.in_ttft / (c.ttft).sum END,
		   CASE WHEN (c.duration).sum > 0::float8
				THEN r.in_duration / (c.duration).sum END,
		   CASE r.place WHEN 0 THEN NULL WHEN 2 THEN true ELSE coalesce(l.on_critical_path, false) END,
		   CASE r.place WHEN 0 THEN NULL WHEN 2 THEN '{}'::text[] ELSE l.overlaps_with END
	FROM phase_rows r
		 JOIN classes c ON c.class = r.class
		 LEFT JOIN layout l
			 ON l.phase =
				CASE WHEN starts_with(r.phase, 'agent.') THEN 'agent.*' ELSE r.phase END
	ORDER BY 1, r.place, r.start_p50 NULLS LAST, r.mean_start_ms, r.q[1] DESC NULLS LAST, r.phase;
END
$$;

/*
 * Invocation count, cold-start share, TTFT p50/p95/p99 and errors per time
 * bucket of the window.  Buckets are (as_of - (k+1)*bucket, as_of - k*bucket],
 * so the last ends at as_of; the first is cut at the window's start.  Every
 * bucket is returned, an empty one with 0 invocations.
 */
CREATE FUNCTION loomlat.latency_over_time(range text DEFAULT '24h', bucket interval DEFAULT NULL,
										  agent_id bigint DEFAULT NULL,
										  as_of timestamptz DEFAULT now(),
										  cold_start_threshold_ms float8 DEFAULT NULL,
										  source regclass DEFAULT 'loomlat.invocations')
	RETURNS TABLE (bucket_start timestamptz, bucket_end timestamptz, invocations bigint,
				   cold_start_pct float8, ttft_p50_ms float8,
				   ttft_p95_ms float8, ttft_p99_ms float8, errors bigint)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
#variable_conflict use_column
DECLARE
	w         record;
	hi        CONSTANT timestamptz := latency_over_time.as_of;
	agent     CONSTANT bigint := latency_over_time.agent_id;
	threshold CONSTANT float8 := latency_over_time.cold_start_threshold_ms;
	width     numeric;
	n         numeric;
	b         bigint;
	stats     record;
BEGIN
	SELECT * INTO w
	FROM loomlat.resolve_window(latency_over_time.range, agent, hi, threshold, latency_over_time.source);
	-- lengths in seconds as extract() counts them (1 day = 24 h), exact numerics
	width := extract(epoch FROM coalesce(latency_over_time.bucket,
		CASE WHEN latency_over_time.range = '1h' THEN interval '1 minute'
			 WHEN latency_over_time.range = '24h' THEN interval '15 minutes'
			 WHEN latency_over_time.range = '7d' THEN interval '1 hour'
			 ELSE interval '6 hours' END));
	IF NOT width > 0 THEN
		RAISE EXCEPTION 'bucket must be a positive interval, not %', latency_over_time.bucket
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	n := ceil(extract(epoch FROM hi - w.window_start) / width);
	IF n > 10000 THEN
		RAISE EXCEPTION 'bucket % makes % buckets of range %, more than 10000',
			latency_over_time.bucket, n, latency_over_time.range
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	IF latency_over_time.source = 'loomlat.invocations'::regclass THEN
		-- each bucket aggregates its own index range: no GROUP BY, whose
		-- estimate (a group per distinct time) would sort the whole window
		RETURN QUERY
		SELECT b.b_start, b.b_end, s.n, CASE WHEN s.n > 0 THEN s.cold::float8 / s.n END,
			   s.q[1], s.q[2], s.q[3], s.errors
		FROM (SELECT k, GREATEST(hi - make_interval(secs => ((k + 1) * width)::float8),
								 w.window_start) AS b_start,
					 hi - make_interval(secs => (k * width)::float8) AS b_end
			  FROM generate_series(0::bigint, n::bigint - 1) AS k) b
			 CROSS JOIN LATERAL (
				 SELECT count(*) AS n,
						count(*) FILTER (WHERE CASE WHEN threshold IS NULL THEN i.was_cold_start
							ELSE loomlat.is_cold_start(i.cold_start_latency_ms, threshold) END) AS cold,
						loomlat.latency_percentiles(i.ttft_ms) AS q,
						count(*) FILTER (WHERE i.status = 'error'::loomlat.invocation_status) AS errors
				 FROM loomlat.invocations i
				 WHERE i.client_invoke_time > b.b_start
				   AND i.client_invoke_time <= b.b_end
				   AND (agent IS NULL OR i.agent_id = agent)) s
		ORDER BY b.k DESC;
		RETURN;
	END IF;

	-- A tracked table: resolve_window()'s rows carry no time and no status,
	-- so each bucket is its own query and errors are unknown.
	FOR b IN SELECT g FROM generate_series(n::bigint - 1, 0, -1) AS g LOOP
		bucket_start := GREATEST(hi - make_interval(secs =>
							((b + 1) * width)::float8),
							w.window_start);
		bucket_end := hi - make_interval(secs =>
							(b * width)::float8);
		EXECUTE format('SELECT count(*) AS n, count(*) FILTER (WHERE r.cold) AS cold,'
								  ' loomlat.latency_percentiles(r.ttft_ms) AS q FROM (%s) r', w.rows_sql)
			INTO stats
			USING bucket_start, bucket_end, agent, threshold;
		invocations := stats.n;
		cold_start_pct := CASE WHEN stats.n > 0
							   THEN stats.cold::float8 / stats.n END;
		ttft_p50_ms := stats.q[1];
		ttft_p95_ms := stats.q[2];
		ttft_p99_ms := stats.q[3];
		errors := NULL;
		RETURN NEXT;
	END LOOP;
END
$$;

/*
 * The one display rule for a TTFT: under 1000 ms whole milliseconds ("850ms"),
 * under 60 s seconds with one decimal ("1.2s"), from there minutes and whole
 * seconds ("1m 05s").  Each step rounds half away from zero and moves up a
 * unit when the rounding reaches it: 999.5 ms is "1.0s", 59.95 s "1m 00s".
 */
CREATE FUNCTION loomlat.ttft_display(ttft_ms float8) RETURNS text
	LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	ms numeric;
BEGIN
	IF NOT (ttft_ms >= 0::float8
			AND ttft_ms < 'Infinity'::float8) THEN
		RAISE EXCEPTION 'ttft_ms must be a finite number of milliseconds, 0 or more, not %', ttft_ms
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	ms := ttft_ms::numeric;
	IF round(ms) < 1000 THEN
		RETURN round(ms)::text || 'ms';
	END IF;
	IF round(ms / 1000, 1) < 60 THEN
		RETURN round(ms / 1000, 1)::text || 's';
	END IF;
	RETURN format('%sm %ss',
							 div(round(ms / 1000), 60),
							 lpad(mod(round(ms / 1000),
															60)::text, 2, '0'));
END
$$;

/*
 * One invocation as its detail page shows it: every stored field, the agent's
 * name, ttft_display, the cold/warm badge, and its phases by start.  NULL
 * when there is no such invocation, or none the caller may see.
 */
CREATE FUNCTION loomlat.invocation_detail(invocation_id uuid) RETURNS jsonb
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	id     CONSTANT uuid := invocation_detail.invocation_id;
	detail jsonb;
BEGIN
	IF id IS NULL THEN
		RAISE EXCEPTION 'invocation_id must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT to_jsonb(i) || jsonb_build_object(
			   'agent_name', a.name,
			   'ttft_display', loomlat.ttft_display(i.ttft_ms),
			   'badge', CASE WHEN i.was_cold_start THEN 'cold' WHEN NOT i.was_cold_start THEN 'warm' END,
			   'phases', coalesce(
				   (SELECT jsonb_agg(jsonb_build_object(
							   'phase', p.phase, 'start_ms', p.start_ms, 'duration_ms', p.duration_ms,
							   'end_ms', p.start_ms + p.duration_ms,
							   'on_critical_path', coalesce(l.on_critical_path, false))
						   ORDER BY p.start_ms NULLS LAST, p.duration_ms DESC, p.phase)
					FROM loomlat.invocation_phases p
						 LEFT JOIN loomlat.phase_layout() l
							 ON l.phase =
								CASE WHEN starts_with(p.phase, 'agent.') THEN 'agent.*' ELSE p.phase END
					WHERE p.invocation_id = i.invocation_id),
				   '[]'::jsonb))
	INTO detail
	FROM loomlat.invocations i
		 LEFT JOIN loomlat.agents a ON a.agent_id = i.agent_id
	WHERE i.invocation_id = id;
	RETURN detail;
END
$$;

COMMENT ON FUNCTION loomlat.phase_layout() IS
	'Internal: the ingestor''s phases, whether each is on the critical path (token, first_token, stream) and what it overlaps';
COMMENT ON FUNCTION loomlat.phase_breakdown(text, bigint, timestamptz, float8, regclass) IS
	'Per phase, for all / cold / warm invocations of the window: count, p50/p95/p99/mean duration, mean start, share of TTFT and of duration; the TTFT itself as "(ttft)"';
COMMENT ON AGGREGATE loomlat.percentiles_by_class(float8, float8[], boolean) IS
	'{all, cold, warm}: rows, count and sum of the non-NULL values, percentile_cont(fractions) of each class, in one pass';
COMMENT ON FUNCTION loomlat.latency_over_time(text, interval, bigint, timestamptz, float8,
											  regclass) IS
	'Invocations, cold-start share, TTFT p50/p95/p99 and errors per bucket of the window, empty buckets included; the last bucket ends at as_of';
COMMENT ON FUNCTION loomlat.ttft_display(float8) IS
	'A TTFT as the dashboard shows it: 850ms, 1.2s, 1m 05s';
COMMENT ON FUNCTION loomlat.invocation_detail(uuid) IS
	'One invocation for its detail page: stored fields, agent_name, ttft_display, badge and phases by start; NULL when not found';
