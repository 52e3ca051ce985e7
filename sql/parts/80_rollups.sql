/*
 * Hourly and daily rollups: each agent's invocations of each UTC hour, as
 * counts, TTFT and duration latency_sketches and the default TTFT histogram,
 * and the same per UTC day merged from the hours, so that long windows are
 * answered from a few rows per agent and day or hour (latency_summary_approx
 * and latency_over_time_approx, both through window_rollups).
 *
 * Freshness.  A statement-level trigger on loomlat.invocations marks the
 * (agent_id, hour) pairs a statement inserts, updates (old and new hour) or
 * deletes in loomlat.rollup_dirty; refresh_rollups() recomputes exactly those
 * hours, then the days of those hours from the hourly rows.  Both sides lock
 * the dirty row they touch (the trigger through ON CONFLICT DO UPDATE, the
 * refresh through FOR UPDATE SKIP LOCKED and the delete), so a write that
 * commits after the refresh read its hour either held the row (the refresh
 * skipped it) or waits for the refresh's delete and then marks the hour
 * again: no write is left out of the rollups, and concurrent refreshes take
 * disjoint hours.  Their daily phases take turns (a self-conflicting lock on
 * rollups_daily, so each merges the hours the other committed).  A daily row
 * is current only while no hour of its day is dirty; readers fall back to the
 * hours of such a day.  A TRUNCATE of invocations empties the rollups.
 *
 * Privileges.  Whoever writes invocations needs INSERT and UPDATE on
 * rollup_dirty (the trigger runs as the writer), whoever truncates them
 * TRUNCATE on the three rollup tables; whoever reads them can be
 * granted SELECT on rollups_hourly and rollups_daily; refresh_rollups()
 * needs SELECT on invocations and write access to the three rollup tables.
 */

-- Rows up to a page stay inline and uncompressed (toast_tuple_target): a
-- summary merges thousands of sketches, and decompressing each would cost
-- more than the merge.
CREATE TABLE loomlat.rollups_hourly (
	agent_id       bigint NOT NULL,
	hour           timestamptz NOT NULL,
	invocations    bigint NOT NULL,
	errors         bigint NOT NULL,
	cold_starts    bigint NOT NULL,
	ttft           loomlat.latency_sketch,
	ttft_cold      loomlat.latency_sketch,
	ttft_warm      loomlat.latency_sketch,
	duration       loomlat.latency_sketch,
	ttft_histogram bigint[] NOT NULL,
	PRIMARY KEY (agent_id, hour)
) WITH (toast_tuple_target = 8160);

CREATE INDEX rollups_hourly_hour ON loomlat.rollups_hourly (hour);

-- The same per agent and UTC day: the columns, key and time index of
-- rollups_hourly, with day for hour.
CREATE TABLE loomlat.rollups_daily (LIKE loomlat.rollups_hourly INCLUDING CONSTRAINTS INCLUDING INDEXES)
	WITH (toast_tuple_target = 8160);
ALTER TABLE loomlat.rollups_daily RENAME COLUMN hour TO day;
ALTER INDEX loomlat.rollups_daily_hour_idx RENAME TO rollups_daily_day;

CREATE TABLE loomlat.rollup_dirty (
	agent_id  bigint NOT NULL,
	hour      timestamptz NOT NULL,
	marked_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (agent_id, hour)
);

COMMENT ON TABLE loomlat.rollups_hourly IS
	'Each agent''s invocations per UTC hour: counts, TTFT (all, cold, warm) and duration sketches, TTFT histogram (0-1s, 1-3s, 3-5s, 5-10s, >10s)';
COMMENT ON COLUMN loomlat.rollups_hourly.hour IS
	'Start of the UTC hour [hour, hour + 1 h) of client_invoke_time';
COMMENT ON COLUMN loomlat.rollups_hourly.ttft_cold IS
	'TTFT sketch of the invocations with was_cold_start true (ttft_warm: false)';
COMMENT ON TABLE loomlat.rollups_daily IS
	'rollups_hourly merged per agent and UTC day [day, day + 24 h); current while no hour of the day is in rollup_dirty';
COMMENT ON TABLE loomlat.rollup_dirty IS
	'The (agent_id, hour) pairs whose rollup is stale, until refresh_rollups() recomputes them';

-- The rollups are kept through pg_dump; the dirty marks are not (restoring
-- invocations marks every hour again).
SELECT pg_extension_config_dump('loomlat.rollups_hourly', '');
SELECT pg_extension_config_dump('loomlat.rollups_daily', '');

/*
 * Mark the hours of the rows a statement changed (AFTER, FOR EACH STATEMENT,
 * transition tables new_rows / old_rows).  An update marks the old and the
 * new hour of the rows whose rolled-up columns changed.  Keys are taken in
 * order, so concurrent writers do not deadlock on them.
 */
CREATE FUNCTION loomlat.mark_rollups_dirty()
	RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO loomlat.rollup_dirty AS d (agent_id, hour)
		SELECT DISTINCT n.agent_id, date_trunc('hour', n.client_invoke_time, 'UTC')
		FROM new_rows n
		ORDER BY 1, 2
		ON CONFLICT (agent_id, hour) DO UPDATE SET marked_at = EXCLUDED.marked_at;
	ELSIF TG_OP = 'DELETE' THEN
		INSERT INTO loomlat.rollup_dirty AS d (agent_id, hour)
		SELECT DISTINCT o.agent_id, date_trunc('hour', o.client_invoke_time, 'UTC')
		FROM old_rows o
		ORDER BY 1, 2
		ON CONFLICT (agent_id, hour) DO UPDATE SET marked_at = EXCLUDED.marked_at;
	ELSE
		INSERT INTO loomlat.rollup_dirty AS d (agent_id, hour)
		SELECT DISTINCT k.agent_id, date_trunc('hour', k.client_invoke_time, 'UTC')
		FROM old_rows o
			 FULL JOIN new_rows n ON n.invocation_id = o.invocation_id
			 CROSS JOIN LATERAL (VALUES (o.agent_id, o.client_invoke_time),
										(n.agent_id, n.client_invoke_time)) k(agent_id, client_invoke_time)
		WHERE k.agent_id IS NOT NULL
		  AND (o.agent_id, o.client_invoke_time, o.status, o.ttft_ms, o.client_duration_ms, o.was_cold_start)
			  IS DISTINCT FROM
			  (n.agent_id, n.client_invoke_time, n.status, n.ttft_ms, n.client_duration_ms, n.was_cold_start)
		ORDER BY 1, 2
		ON CONFLICT (agent_id, hour) DO UPDATE SET marked_at = EXCLUDED.marked_at;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER loomlat_rollups_insert
	AFTER INSERT ON loomlat.invocations
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION loomlat.mark_rollups_dirty();
CREATE TRIGGER loomlat_rollups_update
	AFTER UPDATE ON loomlat.invocations
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION loomlat.mark_rollups_dirty();
CREATE TRIGGER loomlat_rollups_delete
	AFTER DELETE ON loomlat.invocations
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION loomlat.mark_rollups_dirty();

/*
 * Empty the rollups when loomlat.invocations is truncated (AFTER TRUNCATE,
 * FOR EACH STATEMENT, also through TRUNCATE ... CASCADE): the statement
 * trigger above never sees the rows TRUNCATE removes.
 */
CREATE FUNCTION loomlat.clear_rollups()
	RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	TRUNCATE loomlat.rollups_hourly, loomlat.rollups_daily, loomlat.rollup_dirty;
	RETURN NULL;
END
$$;

CREATE TRIGGER loomlat_rollups_truncate
	AFTER TRUNCATE ON loomlat.invocations
	FOR EACH STATEMENT EXECUTE FUNCTION loomlat.clear_rollups();

-- Invocations written before the rollups existed (an update from 0.1.0).
INSERT INTO loomlat.rollup_dirty (agent_id, hour)
SELECT DISTINCT i.agent_id, date_trunc('hour', i.client_invoke_time, 'UTC')
FROM loomlat.invocations i;

/*
 * Recompute the rollups of at most max_hours dirty (agent, hour) pairs that no
 * other transaction holds, oldest first, then the daily rows of their days,
 * and unmark them, in one transaction; an hour or a day without invocations
 * loses its row.  Returns how many hours it recomputed: a catch-up over a long
 * history calls it until it returns 0.  Meant for READ COMMITTED (each
 * statement sees the writes committed before it).
 */
CREATE FUNCTION loomlat.refresh_rollups(max_hours integer DEFAULT 10000)
	RETURNS integer
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	agents bigint[];
	hours  timestamptz[];
BEGIN
	IF max_hours IS NULL OR max_hours < 1 THEN
		RAISE EXCEPTION 'max_hours must be 1 or more, not %', coalesce(max_hours::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- invocations before the rollup tables, the order writers and TRUNCATE
	-- (through clear_rollups) take them in, so that none of them deadlocks
	LOCK TABLE loomlat.invocations IN ACCESS SHARE MODE;
	WITH taken AS (
		DELETE FROM loomlat.rollup_dirty d
		WHERE (d.agent_id, d.hour) IN (SELECT f.agent_id, f.hour FROM loomlat.rollup_dirty f
									   ORDER BY f.hour, f.agent_id LIMIT max_hours
									   FOR UPDATE SKIP LOCKED)
		RETURNING d.agent_id, d.hour)
	SELECT array_agg(t.agent_id), array_agg(t.hour) INTO agents, hours FROM taken t;
	IF agents IS NULL THEN
		RETURN 0;
	END IF;

	DELETE FROM loomlat.rollups_hourly r
	USING unnest(agents, hours) t(agent_id, hour)
	WHERE r.agent_id = t.agent_id AND r.hour = t.hour;
	INSERT INTO loomlat.rollups_hourly
	SELECT t.agent_id, t.hour, count(*), count(*) FILTER (WHERE i.status = 'error'),
		   count(*) FILTER (WHERE i.was_cold_start),
		   loomlat.sketch(i.ttft_ms), loomlat.sketch(i.ttft_ms) FILTER (WHERE i.was_cold_start),
		   loomlat.sketch(i.ttft_ms) FILTER (WHERE NOT i.was_cold_start),
		   loomlat.sketch(i.client_duration_ms),
		   coalesce(loomlat.ttft_histogram_counts(i.ttft_ms, '{1000,3000,5000,10000}'),
					array_fill(0::bigint, ARRAY[5]))
	FROM unnest(agents, hours) t(agent_id, hour)
		 -- an index scan per hour, never a scan of the whole table (OFFSET 0
		 -- keeps the planner from flattening it into a join)
		 CROSS JOIN LATERAL (SELECT i.* FROM loomlat.invocations i
							 WHERE i.agent_id = t.agent_id AND i.client_invoke_time >= t.hour
							   AND i.client_invoke_time < t.hour + interval '1 hour' OFFSET 0) i
	GROUP BY t.agent_id, t.hour;

	-- Wait for a concurrent refresh's daily phase to commit, so that the
	-- statements below see its hours too.
	LOCK TABLE loomlat.rollups_daily IN SHARE ROW EXCLUSIVE MODE;
	DELETE FROM loomlat.rollups_daily r
	USING unnest(agents, hours) t(agent_id, hour)
	WHERE r.agent_id = t.agent_id AND r.day = date_trunc('day', t.hour, 'UTC');
	INSERT INTO loomlat.rollups_daily
	SELECT r.agent_id, t.day, sum(r.invocations), sum(r.errors), sum(r.cold_starts),
		   loomlat.merge(r.ttft), loomlat.merge(r.ttft_cold), loomlat.merge(r.ttft_warm),
		   loomlat.merge(r.duration),
		   ARRAY[sum(r.ttft_histogram[1]), sum(r.ttft_histogram[2]), sum(r.ttft_histogram[3]),
				 sum(r.ttft_histogram[4]), sum(r.ttft_histogram[5])]::bigint[]
	FROM (SELECT DISTINCT u.agent_id, date_trunc('day', u.hour, 'UTC') AS day
		  FROM unnest(agents, hours) u(agent_id, hour)) t
		 CROSS JOIN LATERAL (SELECT h.* FROM loomlat.rollups_hourly h
							 WHERE h.agent_id = t.agent_id AND h.hour >= t.day
							   AND h.hour < t.day + interval '24 hours' OFFSET 0) r
	GROUP BY r.agent_id, t.day;
	RETURN cardinality(agents);
END
$$;

/*
 * The invocations of the window (window_start, as_of] of one agent or all
 * as rollup rows: one per agent when width is NULL, else one per bucket,
 * every bucket, agent_id NULL.  Buckets are cut at the multiples of width
 * (whole hours) since 1970-01-01 00:00 UTC strictly inside the window:
 * [cut, next cut), the first from the window's start, the last to as_of
 * inclusive.  The whole UTC days of the window whose hours are all clean
 * come from rollups_daily when each lies in one bucket, the other whole hours
 * that are rolled up and not dirty from rollups_hourly (no row, not dirty: no
 * invocations), the partial hours at its edges and the dirty hours from the
 * raw rows; nothing else is read.  Custom plans only: a generic plan cannot
 * tell how many rollup rows the window has, and sorted them all to disk.
 */
CREATE FUNCTION loomlat.window_rollups(window_start timestamptz, as_of timestamptz, agent bigint,
										   width interval)
	RETURNS TABLE (agent_id bigint, bucket_start timestamptz, bucket_end timestamptz,
				   invocations bigint, errors bigint, cold_starts bigint,
				   ttft loomlat.latency_sketch, ttft_cold loomlat.latency_sketch,
				   ttft_warm loomlat.latency_sketch, duration loomlat.latency_sketch,
				   ttft_histogram bigint[])
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	SET plan_cache_mode = force_custom_plan
	SET enable_sort = off
	AS $$
DECLARE
	origin     CONSTANT timestamptz := '1970-01-01 00:00:00+00';
	-- the bucket of the instant as_of is that of the time just before it
	last_cut   CONSTANT timestamptz := date_bin(width, as_of - interval '1 microsecond', origin);
	full_start timestamptz;
	full_end   timestamptz;
	day_start  timestamptz;
	day_end    timestamptz;
BEGIN
	-- the whole hours [full_start, full_end) of the window
	full_start := date_trunc('hour', window_start, 'UTC') + interval '1 hour';
	full_end := greatest(date_trunc('hour', as_of, 'UTC'), full_start);
	-- the whole days [day_start, day_end) among them, when buckets take whole days
	day_start := full_end;
	day_end := full_end;
	IF width IS NULL OR extract(epoch FROM width) % 86400 = 0 THEN
		day_start := date_trunc('day', full_start - interval '1 microsecond', 'UTC') + interval '24 hours';
		day_start := least(day_start, full_end);
		day_end := greatest(date_trunc('day', full_end, 'UTC'), day_start);
	END IF;

	RETURN QUERY
	-- each part is labelled t, the start of the hour or day it lies in
	WITH raw AS (
		SELECT full_start - interval '1 hour' AS t, i.* FROM loomlat.invocations i
		WHERE i.client_invoke_time > window_start AND i.client_invoke_time < full_start
		  AND (agent IS NULL OR i.agent_id = agent)
		UNION ALL
		SELECT full_end, i.* FROM loomlat.invocations i
		WHERE i.client_invoke_time >= full_end AND i.client_invoke_time <= as_of
		  AND (agent IS NULL OR i.agent_id = agent)
		UNION ALL
		SELECT d.hour, i.* FROM loomlat.rollup_dirty d
			 CROSS JOIN LATERAL (SELECT i.* FROM loomlat.invocations i
								 WHERE i.agent_id = d.agent_id AND i.client_invoke_time >= d.hour
								   AND i.client_invoke_time < d.hour + interval '1 hour' OFFSET 0) i
		WHERE d.hour >= full_start AND d.hour < full_end
		  AND (agent IS NULL OR d.agent_id = agent)),
	stale_days AS (
		SELECT DISTINCT d.agent_id, date_trunc('day', d.hour, 'UTC') AS day
		FROM loomlat.rollup_dirty d
		WHERE d.hour >= day_start AND d.hour < day_end
		  AND (agent IS NULL OR d.agent_id = agent)),
	hours AS (
		SELECT r.* FROM loomlat.rollups_hourly r
		WHERE ((r.hour >= full_start AND r.hour < day_start) OR (r.hour >= day_end AND r.hour < full_end))
		  AND (agent IS NULL OR r.agent_id = agent)
		UNION ALL
		SELECT r.* FROM stale_days s
			 JOIN loomlat.rollups_hourly r
			   ON r.agent_id = s.agent_id AND r.hour >= s.day AND r.hour < s.day + interval '24 hours'),
	parts AS (
		SELECT r.agent_id, r.hour AS t, r.invocations, r.errors, r.cold_starts, r.ttft, r.ttft_cold,
			   r.ttft_warm, r.duration, r.ttft_histogram
		FROM hours r
		WHERE NOT EXISTS (SELECT FROM loomlat.rollup_dirty d
						  WHERE d.agent_id = r.agent_id AND d.hour = r.hour)
		UNION ALL
		SELECT r.agent_id, r.day, r.invocations, r.errors, r.cold_starts, r.ttft, r.ttft_cold,
			   r.ttft_warm, r.duration, r.ttft_histogram
		FROM loomlat.rollups_daily r
		WHERE r.day >= day_start AND r.day < day_end
		  AND (agent IS NULL OR r.agent_id = agent)
		  AND NOT EXISTS (SELECT FROM stale_days s WHERE s.agent_id = r.agent_id AND s.day = r.day)
		UNION ALL
		SELECT x.agent_id, x.t, count(*), count(*) FILTER (WHERE x.status = 'error'),
			   count(*) FILTER (WHERE x.was_cold_start),
			   loomlat.sketch(x.ttft_ms), loomlat.sketch(x.ttft_ms) FILTER (WHERE x.was_cold_start),
			   loomlat.sketch(x.ttft_ms) FILTER (WHERE NOT x.was_cold_start),
			   loomlat.sketch(x.client_duration_ms),
			   coalesce(loomlat.ttft_histogram_counts(x.ttft_ms, '{1000,3000,5000,10000}'),
						array_fill(0::bigint, ARRAY[5]))
		FROM raw x
		GROUP BY x.agent_id, x.t),
	groups AS (
		SELECT CASE WHEN width IS NULL THEN p.agent_id END AS agent_id,
			   date_bin(width, least(p.t, last_cut), origin) AS cut,
			   sum(p.invocations)::bigint AS n, sum(p.errors)::bigint AS e, sum(p.cold_starts)::bigint AS c,
			   loomlat.merge(p.ttft) AS ttft,
			   -- a bucket's row leaves the other sketches out: merging them would double its cost
			   loomlat.merge(p.ttft_cold) FILTER (WHERE width IS NULL) AS ttft_cold,
			   loomlat.merge(p.ttft_warm) FILTER (WHERE width IS NULL) AS ttft_warm,
			   loomlat.merge(p.duration) FILTER (WHERE width IS NULL) AS duration,
			   ARRAY[sum(p.ttft_histogram[1]), sum(p.ttft_histogram[2]), sum(p.ttft_histogram[3]),
					 sum(p.ttft_histogram[4]), sum(p.ttft_histogram[5])]::bigint[] AS h
		FROM parts p
		GROUP BY 1, 2)
	-- no buckets without a width: then the one row per agent spans the window
	SELECT g.agent_id, greatest(b.cut, window_start), least(b.cut + width, as_of),
		   coalesce(g.n, 0), coalesce(g.e, 0), coalesce(g.c, 0),
		   g.ttft, g.ttft_cold, g.ttft_warm, g.duration, coalesce(g.h, array_fill(0::bigint, ARRAY[5]))
	FROM groups g
		 FULL JOIN generate_series(date_bin(width, window_start, origin), last_cut, width) b(cut)
		   ON b.cut = g.cut;
END
$$;

/*
 * latency_summary() of loomlat.invocations from the rollups, per agent as
 * window_rollups() reads them.  Counts and cold-start percentages are exact;
 * percentiles are latency_sketch quantiles, within relative_error of
 * percentile_cont's.  The same keys as latency_summary, plus "approximate"
 * and "relative_error".
 */
CREATE FUNCTION loomlat.latency_summary_approx(range text DEFAULT '24h', agent_id bigint DEFAULT NULL,
												   min_invocations integer DEFAULT 1,
												   as_of timestamptz DEFAULT now())
	RETURNS jsonb
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	w   record;
	doc jsonb;
BEGIN
	IF min_invocations IS NULL OR min_invocations < 0 THEN
		RAISE EXCEPTION 'min_invocations must be 0 or more, not %', coalesce(min_invocations::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO w FROM loomlat.resolve_window(range, agent_id, as_of, NULL, 'loomlat.invocations');

	WITH by_agent AS (
		SELECT r.agent_id, r.invocations AS n, r.cold_starts AS cold, r.ttft, r.ttft_cold, r.ttft_warm,
			   r.duration, r.ttft_histogram AS h
		FROM loomlat.window_rollups(w.window_start, as_of, latency_summary_approx.agent_id, NULL) r),
	agents AS (
		SELECT ROW(a.agent_id, a.name, coalesce(b.n, 0), coalesce(b.cold, 0),
				   b.cold::float8 / nullif(b.n, 0),
				   loomlat.quantile(b.ttft, 0.5), loomlat.quantile(b.ttft, 0.95),
				   loomlat.quantile(b.ttft, 0.99),
				   loomlat.quantile(b.ttft_cold, 0.5), loomlat.quantile(b.ttft_warm, 0.5),
				   loomlat.quantile(b.duration, 0.5), loomlat.quantile(b.duration, 0.95),
				   loomlat.quantile(b.ttft, 0.95) > 10000)::loomlat.agent_latency AS agent
		FROM loomlat.agents a
			 LEFT JOIN by_agent b ON b.agent_id = a.agent_id
		WHERE (latency_summary_approx.agent_id IS NULL OR a.agent_id = latency_summary_approx.agent_id)
		  AND coalesce(b.n, 0) >= min_invocations),
	total AS (
		SELECT sum(b.n)::bigint AS n, sum(b.cold)::bigint AS cold, loomlat.merge(b.ttft) AS ttft,
			   ARRAY[sum(b.h[1]), sum(b.h[2]), sum(b.h[3]), sum(b.h[4]), sum(b.h[5])]::bigint[] AS h
		FROM by_agent b)
	SELECT jsonb_build_object(
		'range', range,
		'as_of', as_of,
		'total_invocations', coalesce(t.n, 0),
		'cold_start_pct', t.cold::float8 / nullif(t.n, 0),
		'ttft_p50_ms', loomlat.quantile(t.ttft, 0.5),
		'ttft_p95_ms', loomlat.quantile(t.ttft, 0.95),
		'ttft_p99_ms', loomlat.quantile(t.ttft, 0.99),
		'ttft_histogram',
			(SELECT jsonb_agg(jsonb_build_object('bucket', b.bucket,
												 'count', coalesce(t.h[b.bucket_index + 1], 0))
							  ORDER BY b.bucket_index)
			 FROM loomlat.histogram_buckets('{1000,3000,5000,10000}') b),
		'agents',
			(SELECT coalesce(jsonb_agg(to_jsonb(a.agent) ORDER BY (a.agent).agent_id), '[]') FROM agents a),
		'approximate', true,
		'relative_error', coalesce(loomlat.sketch_relative_accuracy(t.ttft), 0.01))
	INTO doc
	FROM total t;
	RETURN doc;
END
$$;

/*
 * latency_summary_approx's agents as rows, ordered by agent_id: what
 * latency_by_agent gives, from the rollups.
 */
CREATE FUNCTION loomlat.latency_by_agent_approx(range text DEFAULT '24h', agent_id bigint DEFAULT NULL,
													min_invocations integer DEFAULT 1,
													as_of timestamptz DEFAULT now())
	RETURNS SETOF loomlat.agent_latency
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	BEGIN ATOMIC
		SELECT a.*
		FROM jsonb_populate_recordset(NULL::loomlat.agent_latency,
									  loomlat.latency_summary_approx(latency_by_agent_approx.range,
																	 latency_by_agent_approx.agent_id,
																	 latency_by_agent_approx.min_invocations,
																	 latency_by_agent_approx.as_of)
									  -> 'agents') a
		ORDER BY a.agent_id;
	END;

/*
 * latency_summary_approx's TTFT histogram as ttft_histogram's rows (the
 * rollups keep the default bounds only); the counts are exact.
 */
CREATE FUNCTION loomlat.ttft_histogram_approx(range text DEFAULT '24h', agent_id bigint DEFAULT NULL,
												  as_of timestamptz DEFAULT now())
	RETURNS TABLE (bucket text, lower_ms float8, upper_ms float8, count bigint)
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	BEGIN ATOMIC
		SELECT b.bucket, b.lower_ms, b.upper_ms, (h.e ->> 'count')::bigint
		FROM loomlat.histogram_buckets('{1000,3000,5000,10000}') b
			 JOIN jsonb_array_elements(loomlat.latency_summary_approx(ttft_histogram_approx.range,
																	  ttft_histogram_approx.agent_id, 0,
																	  ttft_histogram_approx.as_of)
									   -> 'ttft_histogram') WITH ORDINALITY h(e, n)
			   ON h.n = b.bucket_index + 1
		ORDER BY b.bucket_index;
	END;

/*
 * latency_over_time() of loomlat.invocations from the rollups, in buckets of
 * whole hours (default 1 hour, 6 hours for 30d), cut as window_rollups() cuts
 * them: [cut, next cut) on the multiples of bucket since 1970-01-01 00:00
 * UTC, the first from the window's start (exclusive), the last to as_of
 * (inclusive).  Every bucket, oldest first, an empty one with 0 invocations.
 * Counts, cold-start shares and errors are exact; percentiles are within
 * relative_error of percentile_cont's.
 */
CREATE FUNCTION loomlat.latency_over_time_approx(range text DEFAULT '24h', bucket interval DEFAULT NULL,
													 agent_id bigint DEFAULT NULL,
													 as_of timestamptz DEFAULT now())
	RETURNS TABLE (bucket_start timestamptz, bucket_end timestamptz, invocations bigint,
				   cold_start_pct float8, ttft_p50_ms float8, ttft_p95_ms float8, ttft_p99_ms float8,
				   errors bigint, relative_error float8)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	w     record;
	-- as a time span (a day is 24 h, a month 30 days, as extract() counts
	-- them), so that no calendar or time zone moves the cuts
	width interval;
BEGIN
	SELECT * INTO w
	FROM loomlat.resolve_window(latency_over_time_approx.range, latency_over_time_approx.agent_id,
								latency_over_time_approx.as_of, NULL, 'loomlat.invocations');
	width := make_interval(secs => extract(epoch FROM coalesce(latency_over_time_approx.bucket,
		CASE WHEN latency_over_time_approx.range = '30d' THEN interval '6 hours'
			 ELSE interval '1 hour' END))::float8);
	IF NOT (width >= interval '1 hour' AND extract(epoch FROM width) % 3600 = 0) THEN
		RAISE EXCEPTION 'bucket must be a whole number of hours, 1 or more, not %',
			latency_over_time_approx.bucket
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The rollups do not split an hour; latency_over_time() takes any bucket.';
	END IF;

	RETURN QUERY
	SELECT r.bucket_start, r.bucket_end, r.invocations, r.cold_starts::float8 / nullif(r.invocations, 0),
		   r.q[1], r.q[2], r.q[3], r.errors, coalesce(loomlat.sketch_relative_accuracy(r.ttft), 0.01)
	FROM (SELECT r.*, loomlat.quantiles(r.ttft, '{0.5,0.95,0.99}') AS q
		  FROM loomlat.window_rollups(w.window_start, latency_over_time_approx.as_of,
									  latency_over_time_approx.agent_id, width) r) r
	ORDER BY r.bucket_start;
END
$$;

COMMENT ON FUNCTION loomlat.mark_rollups_dirty() IS
	'Trigger: marks the (agent_id, hour) pairs of the changed invocations in rollup_dirty';
COMMENT ON FUNCTION loomlat.clear_rollups() IS
	'Trigger: empties the rollups and the dirty marks when invocations is truncated';
COMMENT ON FUNCTION loomlat.refresh_rollups(integer) IS
	'Recomputes the rollups of up to max_hours dirty hours no other transaction holds, and their days; returns how many hours (call until 0 to catch up)';
COMMENT ON FUNCTION loomlat.window_rollups(timestamptz, timestamptz, bigint, interval) IS
	'Internal: the window''s invocations as rollup rows per agent, or per whole-hour bucket, from the daily and hourly rollups plus the raw rows of partial and dirty hours';
COMMENT ON FUNCTION loomlat.latency_summary_approx(text, bigint, integer, timestamptz) IS
	'latency_summary of loomlat.invocations from the daily and hourly rollups plus the raw rows of partial and dirty hours: exact counts, percentiles within relative_error';
COMMENT ON FUNCTION loomlat.latency_by_agent_approx(text, bigint, integer, timestamptz) IS
	'latency_summary_approx''s agents as rows, by agent_id: exact counts, percentiles within relative_error';
COMMENT ON FUNCTION loomlat.ttft_histogram_approx(text, bigint, timestamptz) IS
	'ttft_histogram of loomlat.invocations (default bounds) from the rollups: exact counts';
COMMENT ON FUNCTION loomlat.latency_over_time_approx(text, interval, bigint, timestamptz) IS
	'latency_over_time of loomlat.invocations from the rollups, in whole-hour buckets on UTC multiples of bucket: exact counts, percentiles within relative_error';
