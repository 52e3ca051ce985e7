/*
 * Latency summaries: what the dashboard's Latency tab shows, as one jsonb
 * document (latency_summary) and as rows analysts can join (latency_by_agent,
 * ttft_histogram).  All of them run one scan of the window
 * (as_of - range, as_of] on client_invoke_time.
 *
 * Sources.  By default the extension's own invocations table is read.  Any
 * table registered with track() (it carries the loomlat_classify_cold_start
 * trigger) can be passed as "source"; its agent is found through foreign keys
 * in the catalog: an agent_id column referencing the agents table, or a
 * session_id column referencing a table whose agent_id references it (the
 * Loom shape).  The agents table needs a "name" column.  client_invoke_time
 * may be timestamptz, timestamp (naive UTC) or double precision (Unix
 * seconds).  Every identifier in the generated SQL comes from the catalog
 * through format('%I'); no caller text ever reaches it.
 *
 * Privileges.  Nothing here is SECURITY DEFINER: a caller needs USAGE on the
 * schema and SELECT on the source tables, and row-level security on them
 * applies to the caller as for any query.
 *
 * Layering.  latency_rollup() validates the arguments (resolve_window),
 * scans the window once with the C aggregate latency_stats_by_agent() and
 * returns a row per agent plus the total row; latency_by_agent() and
 * latency_summary() are views of it, ttft_histogram() a cheaper scan.
 */

-- One agent's (or the whole window's) numbers; the JSON keys of latency_summary.
CREATE TYPE loomlat.agent_latency AS (
	agent_id               bigint,
	agent_name             text,
	invocation_count       bigint,
	cold_start_count       bigint,
	cold_start_pct         float8,
	ttft_p50_ms            float8,
	ttft_p95_ms            float8,
	ttft_p99_ms            float8,
	cold_start_ttft_p50_ms float8,
	warm_ttft_p50_ms       float8,
	duration_p50_ms        float8,
	duration_p95_ms        float8,
	slow                   boolean
);

-- What latency_stats() knows about one group of invocations.
CREATE TYPE loomlat.latency_stats AS (
	invocation_count       bigint,
	cold_start_count       bigint,
	ttft_p50_ms            float8,
	ttft_p95_ms            float8,
	ttft_p99_ms            float8,
	cold_start_ttft_p50_ms float8,
	warm_ttft_p50_ms       float8,
	duration_p50_ms        float8,
	duration_p95_ms        float8,
	ttft_histogram         bigint[]
);

CREATE FUNCTION loomlat.latency_stats_transfn(internal, float8, float8,
												  boolean, float8[])
	RETURNS internal
	AS 'MODULE_PATHNAME', 'loomlat_latency_stats_transfn'
	LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_stats_final(internal)
	RETURNS loomlat.latency_stats
	AS 'MODULE_PATHNAME', 'loomlat_latency_stats_final'
	LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_stats_combine(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'loomlat_latency_stats_combine'
	LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_stats_serialize(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'loomlat_latency_stats_serialize'
	LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_stats_deserialize(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'loomlat_latency_stats_deserialize'
	LANGUAGE C STRICT PARALLEL SAFE;

/*
 * One group's summary from one transition call per row: counts, exact TTFT
 * and duration percentiles (percentile_cont's, NULLs skipped), the TTFT p50
 * of cold (cold true) and warm (cold false) invocations, and TTFT counts per
 * bucket of bounds_ms (NULL: no histogram).
 */
CREATE AGGREGATE loomlat.latency_stats(ttft_ms float8, duration_ms float8,
										   cold boolean, bounds_ms float8[]) (
	SFUNC = loomlat.latency_stats_transfn,
	STYPE = internal,
	FINALFUNC = loomlat.latency_stats_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = loomlat.latency_stats_combine,
	SERIALFUNC = loomlat.latency_stats_serialize,
	DESERIALFUNC = loomlat.latency_stats_deserialize,
	PARALLEL = SAFE
);

-- latency_stats_by_agent(): the window's total and each agent's stats.
CREATE TYPE loomlat.latency_stats_rollup AS (
	total       loomlat.latency_stats,
	agent_id    bigint[],
	agent_stats loomlat.latency_stats[]
);

CREATE FUNCTION loomlat.latency_stats_by_agent_transfn(internal, bigint, float8,
														   float8, boolean,
														   float8[])
	RETURNS internal
	AS 'MODULE_PATHNAME', 'loomlat_latency_stats_by_agent_transfn'
	LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_stats_by_agent_final(internal)
	RETURNS loomlat.latency_stats_rollup
	AS 'MODULE_PATHNAME', 'loomlat_latency_stats_by_agent_final'
	LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_stats_by_agent_combine(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'loomlat_latency_stats_by_agent_combine'
	LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_stats_by_agent_serialize(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'loomlat_latency_stats_by_agent_serialize'
	LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_stats_by_agent_deserialize(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'loomlat_latency_stats_by_agent_deserialize'
	LANGUAGE C STRICT PARALLEL SAFE;

/*
 * latency_stats per agent and over all rows, from one transition call per
 * row: agent_id[i] (NULL last, for rows without one) has agent_stats[i],
 * ordered by agent_id; total is computed over every row's values.
 */
CREATE AGGREGATE loomlat.latency_stats_by_agent(agent_id bigint, ttft_ms float8,
													duration_ms float8, cold boolean,
													bounds_ms float8[]) (
	SFUNC = loomlat.latency_stats_by_agent_transfn,
	STYPE = internal,
	FINALFUNC = loomlat.latency_stats_by_agent_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = loomlat.latency_stats_by_agent_combine,
	SERIALFUNC = loomlat.latency_stats_by_agent_serialize,
	DESERIALFUNC = loomlat.latency_stats_by_agent_deserialize,
	PARALLEL = SAFE
);

CREATE FUNCTION loomlat.ttft_histogram_transfn(internal, float8, float8[])
	RETURNS internal
	AS 'MODULE_PATHNAME', 'loomlat_ttft_histogram_transfn'
	LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.ttft_histogram_final(internal)
	RETURNS bigint[]
	AS 'MODULE_PATHNAME', 'loomlat_ttft_histogram_final'
	LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.ttft_histogram_combine(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'loomlat_ttft_histogram_combine'
	LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.ttft_histogram_serialize(internal)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'loomlat_ttft_histogram_serialize'
	LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.ttft_histogram_deserialize(bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'loomlat_ttft_histogram_deserialize'
	LANGUAGE C STRICT PARALLEL SAFE;

/*
 * TTFT counts per bucket of bounds_ms, lower bound inclusive (the histogram
 * of latency_stats alone); NULL over no rows.
 */
CREATE AGGREGATE loomlat.ttft_histogram_counts(ttft_ms float8,
												   bounds_ms float8[]) (
	SFUNC = loomlat.ttft_histogram_transfn,
	STYPE = internal,
	FINALFUNC = loomlat.ttft_histogram_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = loomlat.ttft_histogram_combine,
	SERIALFUNC = loomlat.ttft_histogram_serialize,
	DESERIALFUNC = loomlat.ttft_histogram_deserialize,
	PARALLEL = SAFE
);

/*
 * One row per agent of the window plus the window's total row (is_total, and
 * agent.agent_id NULL): the single scan behind latency_by_agent and
 * latency_summary.  Agents under min_invocations are left out (with 0, agents
 * without invocations are listed too); the total row always covers every
 * invocation of the window that matches agent_id.  ttft_histogram counts
 * ttft_ms per bucket of bounds_ms (NULL: not computed).
 */
CREATE FUNCTION loomlat.latency_rollup(range text DEFAULT '24h', agent_id bigint DEFAULT NULL,
										   min_invocations integer DEFAULT 1,
										   as_of timestamptz DEFAULT now(),
										   cold_start_threshold_ms float8 DEFAULT NULL,
										   source regclass DEFAULT 'loomlat.invocations',
										   bounds_ms float8[] DEFAULT NULL)
	RETURNS TABLE (is_total boolean, agent loomlat.agent_latency, ttft_histogram bigint[])
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	w record;
BEGIN
	IF min_invocations IS NULL OR min_invocations < 0 THEN
		RAISE EXCEPTION 'min_invocations must be 0 or more, not %', coalesce(min_invocations::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF bounds_ms IS NOT NULL THEN
		PERFORM FROM loomlat.histogram_buckets(bounds_ms);
	END IF;
	SELECT * INTO w FROM loomlat.resolve_window(range, agent_id, as_of, cold_start_threshold_ms, source);

	-- One pass: the aggregate keeps a state per agent and computes the
	-- window's exact percentiles over all of their values.
	RETURN QUERY EXECUTE format(
		'WITH x AS ('
		'  SELECT loomlat.latency_stats_by_agent(r.agent_id, r.ttft_ms, r.duration_ms, r.cold, $5) AS x'
		'  FROM (%s) r),'
		' g AS ('
		'  SELECT true AS is_total, NULL::bigint AS agent_id, (x.x).total AS s FROM x'
		'  UNION ALL'
		'  SELECT false, (x.x).agent_id[i], (x.x).agent_stats[i]'
		'  FROM x, generate_subscripts((x.x).agent_id, 1) AS i)'
		' SELECT coalesce(g.is_total, false),'
		'        ROW(coalesce(g.agent_id, a.agent_id), a.agent_name,'
		'            coalesce((g.s).invocation_count, 0), coalesce((g.s).cold_start_count, 0),'
		'            (g.s).cold_start_count::float8 / nullif((g.s).invocation_count, 0),'
		'            (g.s).ttft_p50_ms, (g.s).ttft_p95_ms, (g.s).ttft_p99_ms,'
		'            (g.s).cold_start_ttft_p50_ms, (g.s).warm_ttft_p50_ms,'
		'            (g.s).duration_p50_ms, (g.s).duration_p95_ms,'
		'            (g.s).ttft_p95_ms > 10000)::loomlat.agent_latency,'
		'        CASE WHEN $5 IS NOT NULL THEN'
		'            coalesce((g.s).ttft_histogram, array_fill(0::bigint, ARRAY[cardinality($5) + 1])) END'
		' FROM g FULL JOIN (%s) a ON a.agent_id = g.agent_id'
		' WHERE g.is_total OR coalesce((g.s).invocation_count, 0) >= $6'
		' ORDER BY coalesce(g.is_total, false), coalesce(g.agent_id, a.agent_id)',
		w.rows_sql, w.agents_sql)
		USING w.window_start, as_of, agent_id, cold_start_threshold_ms, bounds_ms, min_invocations;
END
$$;

/*
 * latency_summary's agents as rows, ordered by agent_id.
 */
CREATE FUNCTION loomlat.latency_by_agent(range text DEFAULT '24h', agent_id bigint DEFAULT NULL,
											 min_invocations integer DEFAULT 1,
											 as_of timestamptz DEFAULT now(),
											 cold_start_threshold_ms float8 DEFAULT NULL,
											 source regclass DEFAULT 'loomlat.invocations')
	RETURNS SETOF loomlat.agent_latency
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	BEGIN ATOMIC
		SELECT (r.agent).*
		FROM loomlat.latency_rollup(latency_by_agent.range, latency_by_agent.agent_id,
										latency_by_agent.min_invocations, latency_by_agent.as_of,
										latency_by_agent.cold_start_threshold_ms,
										latency_by_agent.source, NULL) r
		WHERE NOT r.is_total
		ORDER BY (r.agent).agent_id;
	END;

/*
 * Everything the Latency tab shows, from one scan of the window.
 */
CREATE FUNCTION loomlat.latency_summary(range text DEFAULT '24h', agent_id bigint DEFAULT NULL,
											min_invocations integer DEFAULT 1,
											as_of timestamptz DEFAULT now(),
											cold_start_threshold_ms float8 DEFAULT NULL,
											source regclass DEFAULT 'loomlat.invocations')
	RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	BEGIN ATOMIC
		WITH r AS (
			SELECT *
			FROM loomlat.latency_rollup(latency_summary.range, latency_summary.agent_id,
											latency_summary.min_invocations, latency_summary.as_of,
											latency_summary.cold_start_threshold_ms,
											latency_summary.source, '{1000,3000,5000,10000}'))
		SELECT jsonb_build_object(
			'range', latency_summary.range,
			'as_of', latency_summary.as_of,
			'total_invocations', (t.agent).invocation_count,
			'cold_start_pct', (t.agent).cold_start_pct,
			'ttft_p50_ms', (t.agent).ttft_p50_ms,
			'ttft_p95_ms', (t.agent).ttft_p95_ms,
			'ttft_p99_ms', (t.agent).ttft_p99_ms,
			'ttft_histogram',
				(SELECT jsonb_agg(jsonb_build_object('bucket', b.bucket,
													 'count', t.ttft_histogram[b.bucket_index + 1])
								  ORDER BY b.bucket_index)
				 FROM loomlat.histogram_buckets('{1000,3000,5000,10000}') b),
			'agents',
				(SELECT coalesce(jsonb_agg(to_jsonb(a.agent) ORDER BY (a.agent).agent_id), '[]')
				 FROM r a WHERE NOT a.is_total))
		FROM r t
		WHERE t.is_total;
	END;

/*
 * How many TTFTs of the window fall in each bucket of bounds_ms (lower bound
 * inclusive); NULL TTFTs are in no bucket.
 */
CREATE FUNCTION loomlat.ttft_histogram(range text DEFAULT '24h', agent_id bigint DEFAULT NULL,
										   as_of timestamptz DEFAULT now(),
										   bounds_ms float8[] DEFAULT '{1000,3000,5000,10000}',
										   source regclass DEFAULT 'loomlat.invocations')
	RETURNS TABLE (bucket text, lower_ms float8, upper_ms float8, count bigint)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	w      record;
	counts bigint[];
BEGIN
	PERFORM FROM loomlat.histogram_buckets(bounds_ms);
	SELECT * INTO w FROM loomlat.resolve_window(range, agent_id, as_of, NULL, source);
	EXECUTE format('SELECT loomlat.ttft_histogram_counts(r.ttft_ms, $5) FROM (%s) r', w.rows_sql)
		INTO counts
		USING w.window_start, as_of, agent_id, NULL::float8, bounds_ms;
	RETURN QUERY
		SELECT b.bucket, b.lower_ms, b.upper_ms, coalesce(counts[b.bucket_index + 1], 0)
		FROM loomlat.histogram_buckets(bounds_ms) b
		ORDER BY b.bucket_index;
END
$$;

COMMENT ON FUNCTION loomlat.latency_summary(text, bigint, integer, timestamptz, float8,
												regclass) IS
	'Everything the Latency tab shows for the window (as_of - range, as_of], as one jsonb document';
COMMENT ON FUNCTION loomlat.latency_by_agent(text, bigint, integer, timestamptz, float8,
												 regclass) IS
	'latency_summary''s agents as rows, one per agent with at least min_invocations, by agent_id';
COMMENT ON FUNCTION loomlat.ttft_histogram(text, bigint, timestamptz, float8[],
											   regclass) IS
	'TTFT counts of the window per bucket of bounds_ms, lower bound inclusive';
COMMENT ON FUNCTION loomlat.latency_rollup(text, bigint, integer, timestamptz, float8,
											   regclass, float8[]) IS
	'The one scan behind latency_summary and latency_by_agent: a row per agent plus the total row';
COMMENT ON AGGREGATE loomlat.latency_stats(float8, float8, boolean,
											   float8[]) IS
	'Counts, exact TTFT and duration percentiles and TTFT histogram of a group of invocations';
COMMENT ON AGGREGATE loomlat.latency_stats_by_agent(bigint, float8, float8,
														boolean, float8[]) IS
	'latency_stats per agent and over all rows, in one pass without GROUP BY';
COMMENT ON AGGREGATE loomlat.ttft_histogram_counts(float8, float8[]) IS
	'TTFT counts per bucket of bounds_ms, lower bound inclusive';
