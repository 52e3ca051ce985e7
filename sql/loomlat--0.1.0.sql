/*
 * loomlat install script, assembled from the files of sql/parts, in name order.
 *
 * The extension is registered in pg_catalog and its objects live in the
 * schema loomlat, which this script creates (see loomlat.control), so every
 * part names that schema itself: @extschema@ would be pg_catalog.
 *
 * Security rules for every part (PostgreSQL, "Security Considerations for
 * Extensions"): plain CREATE only (no OR REPLACE / IF NOT EXISTS); every name
 * schema-qualified (loomlat.x, pg_catalog.f, OPERATOR(pg_catalog.=));
 * SQL and PL/pgSQL functions fix search_path = pg_catalog, pg_temp; no
 * SECURITY DEFINER.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION loomlat" to load this file. \quit

-- The schema is a member of the extension: DROP EXTENSION removes it, and an
-- existing "loomlat" schema (perhaps with loose privileges) makes this fail.
CREATE SCHEMA loomlat;
COMMENT ON SCHEMA loomlat IS 'loomlat: TTFT and cold-start latency analytics';
/*
 * Schema: agents, their invocations, and where each invocation's time went.
 * Column names follow the Loom backend's Invocation model; times are
 * timestamptz here (Loom stores Unix-seconds floats; see track()).
 */

CREATE TYPE loomlat.invocation_status AS ENUM ('pending', 'streaming', 'complete', 'error');

CREATE TABLE loomlat.agents (
	agent_id   bigint PRIMARY KEY,
	name       text NOT NULL,
	arn        text UNIQUE,
	region     text,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE loomlat.invocations (
	invocation_id         uuid PRIMARY KEY,
	agent_id              bigint NOT NULL REFERENCES loomlat.agents (agent_id),
	session_id            text,
	status                loomlat.invocation_status NOT NULL DEFAULT 'pending',
	client_invoke_time    timestamptz NOT NULL,
	agent_start_time      timestamptz,
	client_done_time      timestamptz,
	cold_start_latency_ms float8,
	ttft_ms               float8,
	client_duration_ms    float8,
	was_cold_start        boolean,
	input_tokens          integer,
	output_tokens         integer,
	token_cache_hit       boolean,
	error_message         text,
	created_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
	-- x < 'Infinity' also rejects NaN, which PostgreSQL sorts above Infinity
	CONSTRAINT invocations_cold_start_latency_finite CHECK (
		cold_start_latency_ms OPERATOR(pg_catalog.>) '-Infinity'::pg_catalog.float8
		AND cold_start_latency_ms OPERATOR(pg_catalog.<) 'Infinity'::pg_catalog.float8),
	CONSTRAINT invocations_ttft_valid CHECK (
		ttft_ms OPERATOR(pg_catalog.>=) 0::pg_catalog.float8
		AND ttft_ms OPERATOR(pg_catalog.<) 'Infinity'::pg_catalog.float8),
	CONSTRAINT invocations_duration_valid CHECK (
		client_duration_ms OPERATOR(pg_catalog.>=) 0::pg_catalog.float8
		AND client_duration_ms OPERATOR(pg_catalog.<) 'Infinity'::pg_catalog.float8),
	CONSTRAINT invocations_tokens_valid CHECK (
		input_tokens OPERATOR(pg_catalog.>=) 0 AND output_tokens OPERATOR(pg_catalog.>=) 0)
);

-- "the last 24 h" and "the last 24 h of agent N"
CREATE INDEX invocations_client_invoke_time_idx
	ON loomlat.invocations (client_invoke_time);
CREATE INDEX invocations_agent_time_idx
	ON loomlat.invocations (agent_id, client_invoke_time);

CREATE TABLE loomlat.invocation_phases (
	invocation_id uuid NOT NULL
		REFERENCES loomlat.invocations (invocation_id) ON DELETE CASCADE,
	phase         text NOT NULL,
	start_ms      float8,
	duration_ms   float8 NOT NULL,
	PRIMARY KEY (invocation_id, phase),
	CONSTRAINT invocation_phases_phase_nonempty CHECK (phase OPERATOR(pg_catalog.<>) ''),
	CONSTRAINT invocation_phases_start_finite CHECK (
		start_ms OPERATOR(pg_catalog.>) '-Infinity'::pg_catalog.float8
		AND start_ms OPERATOR(pg_catalog.<) 'Infinity'::pg_catalog.float8),
	CONSTRAINT invocation_phases_duration_valid CHECK (
		duration_ms OPERATOR(pg_catalog.>=) 0::pg_catalog.float8
		AND duration_ms OPERATOR(pg_catalog.<) 'Infinity'::pg_catalog.float8)
);

COMMENT ON TABLE loomlat.invocations IS
	'One row per agent invocation; was_cold_start is kept by a trigger from cold_start_latency_ms';
COMMENT ON COLUMN loomlat.invocations.cold_start_latency_ms IS
	'agent_start_time - client_invoke_time in ms; compares two clocks, so it may be negative';
COMMENT ON COLUMN loomlat.invocations.ttft_ms IS
	'client_invoke_time to the first answer text in ms; NULL when no text arrived';
COMMENT ON COLUMN loomlat.invocations.token_cache_hit IS
	'true when the bearer token came from the cache, false when this invocation waited for a fetch';
COMMENT ON TABLE loomlat.invocation_phases IS
	'Where the time of one invocation went: start_ms is the offset from client_invoke_time';

-- Extension-owned tables keep their rows through pg_dump / pg_restore.
SELECT pg_catalog.pg_extension_config_dump('loomlat.agents', '');
SELECT pg_catalog.pg_extension_config_dump('loomlat.invocations', '');
SELECT pg_catalog.pg_extension_config_dump('loomlat.invocation_phases', '');
/*
 * Cold-start classification: a latency above loomlat.cold_start_threshold_ms
 * (default 500 ms) is a cold start.  The trigger keeps was_cold_start right
 * when a row is written and whenever cold_start_latency_ms changes later.
 */

CREATE FUNCTION loomlat.cold_start_threshold_ms() RETURNS pg_catalog.float8
	AS 'MODULE_PATHNAME', 'loomlat_cold_start_threshold'
	LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION loomlat.is_cold_start(cold_start_latency_ms pg_catalog.float8)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'loomlat_is_cold_start'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.is_cold_start(cold_start_latency_ms pg_catalog.float8,
										  threshold_ms pg_catalog.float8)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'loomlat_is_cold_start_threshold'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.classify_cold_start() RETURNS trigger
	AS 'MODULE_PATHNAME', 'loomlat_classify_cold_start'
	LANGUAGE C;

CREATE TRIGGER loomlat_classify_cold_start
	BEFORE INSERT OR UPDATE OF cold_start_latency_ms ON loomlat.invocations
	FOR EACH ROW EXECUTE FUNCTION loomlat.classify_cold_start();

COMMENT ON FUNCTION loomlat.cold_start_threshold_ms() IS
	'Current loomlat.cold_start_threshold_ms in milliseconds (use this, not current_setting(), which prints a unit)';
COMMENT ON FUNCTION loomlat.is_cold_start(pg_catalog.float8) IS
	'true when the latency exceeds loomlat.cold_start_threshold_ms; NULL for a NULL latency';
COMMENT ON FUNCTION loomlat.is_cold_start(pg_catalog.float8, pg_catalog.float8) IS
	'true when the latency exceeds the given threshold in ms; NULL for a NULL latency';
/*
 * track(tbl): classify cold starts in a backend's own invocations table (the
 * Loom backend's, for one), which has cold_start_latency_ms in ms.  Adds
 * ttft_ms and was_cold_start when missing, installs the classification
 * trigger, and back-fills was_cold_start.  The trigger is the registration:
 * nothing else is stored, so a tracked table stays tracked through
 * pg_dump/pg_restore.  Returns the number of rows whose was_cold_start it set.
 */
CREATE FUNCTION loomlat.track(tbl pg_catalog.regclass) RETURNS bigint
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $track$
DECLARE
	kind         "char";
	ms_types     CONSTANT regtype[] := ARRAY['float8', 'float4', 'numeric', 'int2', 'int4', 'int8']::regtype[];
	latency_type regtype;
	ttft_type    regtype;
	flag_type    regtype;
	classify     CONSTANT regprocedure := 'loomlat.classify_cold_start()'::regprocedure;
	backfilled   bigint;
BEGIN
	IF tbl IS NULL THEN
		RAISE EXCEPTION 'loomlat.track() needs a table, not NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;

	SELECT c.relkind INTO kind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid
			USING ERRCODE = 'undefined_table';
	END IF;
	IF kind OPERATOR(pg_catalog.<>) ALL (ARRAY['r', 'p']::"char"[]) THEN
		RAISE EXCEPTION '"%" is not a table', tbl
			USING ERRCODE = 'wrong_object_type',
				  HINT = 'loomlat.track() works on ordinary and partitioned tables that store invocations.';
	END IF;

	SELECT pg_catalog.max(a.atttypid) FILTER (WHERE a.attname OPERATOR(pg_catalog.=) 'cold_start_latency_ms'),
		   pg_catalog.max(a.atttypid) FILTER (WHERE a.attname OPERATOR(pg_catalog.=) 'ttft_ms'),
		   pg_catalog.max(a.atttypid) FILTER (WHERE a.attname OPERATOR(pg_catalog.=) 'was_cold_start')
	  INTO latency_type, ttft_type, flag_type
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;

	IF latency_type IS NULL THEN
		RAISE EXCEPTION 'table % has no column "cold_start_latency_ms"', tbl
			USING ERRCODE = 'undefined_column',
				  HINT = 'loomlat.track() classifies cold starts from that column: agent start time minus client invoke time, in milliseconds.';
	END IF;
	IF latency_type OPERATOR(pg_catalog.<>) ALL (ms_types) THEN
		RAISE EXCEPTION 'column "cold_start_latency_ms" of table % is %, not a number', tbl, latency_type
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	IF ttft_type OPERATOR(pg_catalog.<>) ALL (ms_types) THEN
		RAISE EXCEPTION 'column "ttft_ms" of table % is %, not a number', tbl, ttft_type
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	IF flag_type OPERATOR(pg_catalog.<>) 'boolean'::regtype THEN
		RAISE EXCEPTION 'column "was_cold_start" of table % is %, not boolean', tbl, flag_type
			USING ERRCODE = 'datatype_mismatch';
	END IF;

	-- Only now, with every check passed, change the table.
	IF ttft_type IS NULL THEN
		EXECUTE pg_catalog.format('ALTER TABLE %s ADD COLUMN ttft_ms pg_catalog.float8', tbl);
	END IF;
	IF flag_type IS NULL THEN
		EXECUTE pg_catalog.format('ALTER TABLE %s ADD COLUMN was_cold_start boolean', tbl);
	END IF;

	PERFORM FROM pg_catalog.pg_trigger t
	 WHERE t.tgrelid OPERATOR(pg_catalog.=) tbl AND t.tgfoid OPERATOR(pg_catalog.=) classify
	   AND NOT t.tgisinternal;
	IF NOT FOUND THEN
		EXECUTE pg_catalog.format(
			'CREATE TRIGGER loomlat_classify_cold_start'
			' BEFORE INSERT OR UPDATE OF cold_start_latency_ms ON %s'
			' FOR EACH ROW EXECUTE FUNCTION %s', tbl, classify);
	END IF;

	EXECUTE pg_catalog.format(
		'UPDATE %1$s SET was_cold_start = loomlat.is_cold_start(cold_start_latency_ms::pg_catalog.float8)'
		' WHERE was_cold_start IS DISTINCT FROM loomlat.is_cold_start(cold_start_latency_ms::pg_catalog.float8)',
		tbl);
	GET DIAGNOSTICS backfilled = ROW_COUNT;
	RETURN backfilled;
END
$track$;

COMMENT ON FUNCTION loomlat.track(pg_catalog.regclass) IS
	'Classify cold starts in an existing invocations table: adds ttft_ms/was_cold_start, installs the trigger, back-fills; returns rows back-filled';
/*
 * Exact percentile aggregates (src/percentile.c).
 *
 * Same answers as percentile_cont(...) WITHIN GROUP (ORDER BY value), but as
 * plain aggregates they hash-group, take FILTER and run in parallel.  They
 * keep every non-NULL value (8 bytes each) in the aggregate's memory, not
 * bounded by work_mem; a state passed between parallel processes is limited
 * to 1 GB (about 134 million values per worker and group).
 */

CREATE FUNCTION loomlat.percentile_transfn(internal, pg_catalog.float8, pg_catalog.float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'loomlat_percentile_transfn'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.percentiles_transfn(internal, pg_catalog.float8, pg_catalog.float8[])
RETURNS internal
AS 'MODULE_PATHNAME', 'loomlat_percentiles_transfn'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_percentiles_transfn(internal, pg_catalog.float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'loomlat_latency_percentiles_transfn'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.percentile_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'loomlat_percentile_combine'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.percentile_serialize(internal)
RETURNS pg_catalog.bytea
AS 'MODULE_PATHNAME', 'loomlat_percentile_serialize'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.percentile_deserialize(pg_catalog.bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'loomlat_percentile_deserialize'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.percentile_final(internal)
RETURNS pg_catalog.float8
AS 'MODULE_PATHNAME', 'loomlat_percentile_final'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.percentiles_final(internal)
RETURNS pg_catalog.float8[]
AS 'MODULE_PATHNAME', 'loomlat_percentiles_final'
LANGUAGE C STRICT PARALLEL SAFE;

/*
 * SSPACE: the planner's per-group estimate for HashAggregate.  A state grows
 * with its group (8 bytes a value); 8 kB is a group of about a thousand values.
 * The final function reorders the values in place but never changes them:
 * the state stays valid for more rows and final calls, hence READ_ONLY,
 * which also allows window use.
 */
CREATE AGGREGATE loomlat.percentile(value pg_catalog.float8, fraction pg_catalog.float8) (
	SFUNC = loomlat.percentile_transfn,
	STYPE = internal,
	SSPACE = 8192,
	FINALFUNC = loomlat.percentile_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = loomlat.percentile_combine,
	SERIALFUNC = loomlat.percentile_serialize,
	DESERIALFUNC = loomlat.percentile_deserialize,
	PARALLEL = SAFE
);

CREATE AGGREGATE loomlat.percentiles(value pg_catalog.float8, fractions pg_catalog.float8[]) (
	SFUNC = loomlat.percentiles_transfn,
	STYPE = internal,
	SSPACE = 8192,
	FINALFUNC = loomlat.percentiles_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = loomlat.percentile_combine,
	SERIALFUNC = loomlat.percentile_serialize,
	DESERIALFUNC = loomlat.percentile_deserialize,
	PARALLEL = SAFE
);

CREATE AGGREGATE loomlat.latency_percentiles(value pg_catalog.float8) (
	SFUNC = loomlat.latency_percentiles_transfn,
	STYPE = internal,
	SSPACE = 8192,
	FINALFUNC = loomlat.percentiles_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = loomlat.percentile_combine,
	SERIALFUNC = loomlat.percentile_serialize,
	DESERIALFUNC = loomlat.percentile_deserialize,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE loomlat.percentile(pg_catalog.float8, pg_catalog.float8) IS
	'percentile_cont(fraction) WITHIN GROUP (ORDER BY value), exactly, as a parallel plain aggregate';
COMMENT ON AGGREGATE loomlat.percentiles(pg_catalog.float8, pg_catalog.float8[]) IS
	'percentile_cont(fractions) WITHIN GROUP (ORDER BY value), exactly, as a parallel plain aggregate';
COMMENT ON AGGREGATE loomlat.latency_percentiles(pg_catalog.float8) IS
	'{p50, p95, p99} of value, exactly as percentile_cont(ARRAY[0.5, 0.95, 0.99])';
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
	cold_start_pct         pg_catalog.float8,
	ttft_p50_ms            pg_catalog.float8,
	ttft_p95_ms            pg_catalog.float8,
	ttft_p99_ms            pg_catalog.float8,
	cold_start_ttft_p50_ms pg_catalog.float8,
	warm_ttft_p50_ms       pg_catalog.float8,
	duration_p50_ms        pg_catalog.float8,
	duration_p95_ms        pg_catalog.float8,
	slow                   boolean
);

/*
 * Validate a histogram's upper bounds and name its buckets: bucket i (0-based)
 * holds lower_ms <= ttft_ms < upper_ms; the first starts at 0, the last is
 * open.  Labels are in seconds when every bound is whole seconds ("1-3s"),
 * otherwise in milliseconds ("250-500ms").
 */
CREATE FUNCTION loomlat.histogram_buckets(bounds_ms pg_catalog.float8[])
	RETURNS TABLE (bucket_index integer, bucket text,
				   lower_ms pg_catalog.float8, upper_ms pg_catalog.float8)
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	scale float8 := 1000;
	unit  text := 's';
BEGIN
	IF array_ndims(bounds_ms) IS DISTINCT FROM 1
	   OR EXISTS (SELECT FROM unnest(bounds_ms) WITH ORDINALITY AS b(ms, i)
				  WHERE b.ms IS NULL OR NOT (b.ms > 0 AND b.ms < 'Infinity')
					 OR b.ms <= bounds_ms[array_lower(bounds_ms, 1) + b.i::integer - 2]) THEN
		RAISE EXCEPTION 'histogram bounds must be a non-empty one-dimensional array of finite,'
						' positive, strictly increasing milliseconds, not %', coalesce(bounds_ms::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT FROM unnest(bounds_ms) AS b(ms) WHERE b.ms <> trunc(b.ms / 1000) * 1000) THEN
		scale := 1;
		unit := 'ms';
	END IF;

	RETURN QUERY
		SELECT (e.i - 1)::integer,
			   CASE WHEN e.upper_ms IS NULL THEN '>' || (e.lower_ms / scale) || unit
					ELSE (e.lower_ms / scale) || '-' || (e.upper_ms / scale) || unit END,
			   e.lower_ms, e.upper_ms
		FROM unnest(array_prepend(0::float8, bounds_ms), bounds_ms) WITH ORDINALITY
			 AS e(lower_ms, upper_ms, i)
		ORDER BY e.i;
END
$$;

-- What latency_stats() knows about one group of invocations.
CREATE TYPE loomlat.latency_stats AS (
	invocation_count       bigint,
	cold_start_count       bigint,
	ttft_p50_ms            pg_catalog.float8,
	ttft_p95_ms            pg_catalog.float8,
	ttft_p99_ms            pg_catalog.float8,
	cold_start_ttft_p50_ms pg_catalog.float8,
	warm_ttft_p50_ms       pg_catalog.float8,
	duration_p50_ms        pg_catalog.float8,
	duration_p95_ms        pg_catalog.float8,
	ttft_histogram         bigint[]
);

CREATE FUNCTION loomlat.latency_stats_transfn(internal, pg_catalog.float8, pg_catalog.float8,
												  boolean, pg_catalog.float8[])
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
CREATE AGGREGATE loomlat.latency_stats(ttft_ms pg_catalog.float8, duration_ms pg_catalog.float8,
										   cold boolean, bounds_ms pg_catalog.float8[]) (
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

CREATE FUNCTION loomlat.latency_stats_by_agent_transfn(internal, bigint, pg_catalog.float8,
														   pg_catalog.float8, boolean,
														   pg_catalog.float8[])
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
CREATE AGGREGATE loomlat.latency_stats_by_agent(agent_id bigint, ttft_ms pg_catalog.float8,
													duration_ms pg_catalog.float8, cold boolean,
													bounds_ms pg_catalog.float8[]) (
	SFUNC = loomlat.latency_stats_by_agent_transfn,
	STYPE = internal,
	FINALFUNC = loomlat.latency_stats_by_agent_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = loomlat.latency_stats_by_agent_combine,
	SERIALFUNC = loomlat.latency_stats_by_agent_serialize,
	DESERIALFUNC = loomlat.latency_stats_by_agent_deserialize,
	PARALLEL = SAFE
);

CREATE FUNCTION loomlat.ttft_histogram_transfn(internal, pg_catalog.float8, pg_catalog.float8[])
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
CREATE AGGREGATE loomlat.ttft_histogram_counts(ttft_ms pg_catalog.float8,
												   bounds_ms pg_catalog.float8[]) (
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
 * The column that references another table through a one-column foreign key:
 * that table and the referenced column, or nothing.
 */
CREATE FUNCTION loomlat.referenced_column(rel pg_catalog.regclass, col name,
											  OUT target pg_catalog.regclass, OUT target_col name)
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	BEGIN ATOMIC
		SELECT c.confrelid::regclass, fa.attname
		FROM pg_constraint c
			 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
			 JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
		WHERE c.contype = 'f' AND c.conrelid = rel AND cardinality(c.conkey) = 1
		  AND a.attname = col
		ORDER BY c.oid
		LIMIT 1;
	END;

/*
 * Check the arguments every summary shares and resolve where its rows come
 * from.  rows_sql yields (agent_id, ttft_ms, duration_ms, cold) for the window
 * with $1 = window start, $2 = as_of, $3 = agent_id or NULL, $4 = what-if
 * threshold or NULL (then the stored was_cold_start is used); agents_sql
 * yields (agent_id, agent_name) for $3.
 */
CREATE FUNCTION loomlat.resolve_window(range text, agent_id bigint, as_of timestamptz,
										   cold_start_threshold_ms pg_catalog.float8,
										   source pg_catalog.regclass,
										   OUT window_start timestamptz,
										   OUT rows_sql text, OUT agents_sql text)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	rel        regclass := resolve_window.source;
	missing    text;
	time_type  regtype;
	window_sql text;
	agent_rel  regclass;
	agent_key  name;
	agent_expr text := 'i.agent_id';
	join_sql   text := '';
	via        record;
	known      boolean;
BEGIN
	IF range IS NULL OR range <> ALL ('{1h,24h,7d,30d}') THEN
		RAISE EXCEPTION 'range must be one of 1h, 24h, 7d, 30d, not %', coalesce(quote_literal(range), 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF as_of IS NULL OR NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be a finite timestamp, not %', coalesce(as_of::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- in hours, not days: a window is 168 h even across a daylight-saving change
	window_start := as_of - CASE range
		WHEN '1h' THEN interval '1 hour'
		WHEN '24h' THEN interval '24 hours'
		WHEN '7d' THEN interval '168 hours'
		ELSE interval '720 hours' END;
	-- is_cold_start() owns the rule and rejects a threshold it cannot use
	PERFORM loomlat.is_cold_start(0::pg_catalog.float8, cold_start_threshold_ms);
	IF rel IS NULL THEN
		RAISE EXCEPTION 'source must be a table, not NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;

	PERFORM FROM pg_trigger t
	WHERE t.tgrelid = rel AND t.tgfoid = 'loomlat.classify_cold_start()'::regprocedure;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % is not tracked by loomlat', rel
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = format('Register it with loomlat.track(%L) first.', rel::text);
	END IF;
	SELECT string_agg(c.name, ', ' ORDER BY c.i) INTO missing
	FROM unnest('{client_invoke_time,ttft_ms,client_duration_ms,cold_start_latency_ms,was_cold_start}'::name[])
		 WITH ORDINALITY AS c(name, i)
	WHERE NOT EXISTS (SELECT FROM pg_attribute a
					  WHERE a.attrelid = rel AND a.attname = c.name AND a.attnum > 0 AND NOT a.attisdropped);
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION 'table % lacks the columns %', rel, missing
			USING ERRCODE = 'undefined_column';
	END IF;

	SELECT a.atttypid INTO time_type FROM pg_attribute a
	WHERE a.attrelid = rel AND a.attname = 'client_invoke_time';
	window_sql := CASE time_type
		WHEN 'timestamp with time zone'::regtype
			THEN 'i.client_invoke_time > $1 AND i.client_invoke_time <= $2'
		WHEN 'timestamp without time zone'::regtype
			THEN 'i.client_invoke_time > ($1 AT TIME ZONE ''UTC'')'
				 ' AND i.client_invoke_time <= ($2 AT TIME ZONE ''UTC'')'
		-- the epoch of the UTC wall time is immutable, so the bounds fold to constants
		WHEN 'double precision'::regtype
			THEN 'i.client_invoke_time > date_part(''epoch'', $1 AT TIME ZONE ''UTC'')'
				 ' AND i.client_invoke_time <= date_part(''epoch'', $2 AT TIME ZONE ''UTC'')' END;
	IF window_sql IS NULL THEN
		RAISE EXCEPTION 'column client_invoke_time of table % has type %', rel, time_type
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'Use timestamptz, timestamp (UTC) or double precision (Unix seconds).';
	END IF;

	SELECT f.target, f.target_col INTO agent_rel, agent_key
	FROM loomlat.referenced_column(rel, 'agent_id') f;
	IF agent_rel IS NULL THEN
		SELECT f.target, f.target_col INTO via FROM loomlat.referenced_column(rel, 'session_id') f;
		IF via.target IS NOT NULL THEN
			SELECT f.target, f.target_col INTO agent_rel, agent_key
			FROM loomlat.referenced_column(via.target, 'agent_id') f;
			SELECT format(' JOIN %I.%I s ON s.%I = i.session_id', n.nspname, c.relname, via.target_col)
			INTO join_sql
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = via.target;
			agent_expr := 's.agent_id';
		END IF;
	END IF;
	PERFORM FROM pg_attribute a
	WHERE a.attrelid = agent_rel AND a.attname = 'name' AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'cannot find the agents of table %', rel
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Expected a foreign key from its agent_id to a table with a name column, or from'
						   ' its session_id to a table with such a foreign key on agent_id.';
	END IF;

	SELECT format('SELECT %1$s::bigint AS agent_id, i.ttft_ms::float8 AS ttft_ms,'
				  ' i.client_duration_ms::float8 AS duration_ms,'
				  ' CASE WHEN $4 IS NULL THEN i.was_cold_start'
				  ' ELSE loomlat.is_cold_start(i.cold_start_latency_ms::float8, $4) END AS cold'
				  ' FROM %2$I.%3$I i%4$s WHERE %5$s AND ($3 IS NULL OR %1$s = $3)',
				  agent_expr, n.nspname, c.relname, join_sql, window_sql)
	INTO rows_sql
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel;
	SELECT format('SELECT a.%1$I::bigint AS agent_id, a.name::text AS agent_name FROM %2$I.%3$I a'
				  ' WHERE $3 IS NULL OR a.%1$I = $3', agent_key, n.nspname, c.relname)
	INTO agents_sql
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = agent_rel;

	IF agent_id IS NOT NULL THEN
		EXECUTE format('SELECT EXISTS (%s)', agents_sql) INTO known
			USING NULL::timestamptz, NULL::timestamptz, agent_id;
		IF NOT known THEN
			RAISE EXCEPTION 'agent % does not exist', agent_id
				USING ERRCODE = 'no_data_found';
		END IF;
	END IF;
END
$$;

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
										   as_of timestamptz DEFAULT pg_catalog.now(),
										   cold_start_threshold_ms pg_catalog.float8 DEFAULT NULL,
										   source pg_catalog.regclass DEFAULT 'loomlat.invocations',
										   bounds_ms pg_catalog.float8[] DEFAULT NULL)
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
											 as_of timestamptz DEFAULT pg_catalog.now(),
											 cold_start_threshold_ms pg_catalog.float8 DEFAULT NULL,
											 source pg_catalog.regclass DEFAULT 'loomlat.invocations')
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
											as_of timestamptz DEFAULT pg_catalog.now(),
											cold_start_threshold_ms pg_catalog.float8 DEFAULT NULL,
											source pg_catalog.regclass DEFAULT 'loomlat.invocations')
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
										   as_of timestamptz DEFAULT pg_catalog.now(),
										   bounds_ms pg_catalog.float8[] DEFAULT '{1000,3000,5000,10000}',
										   source pg_catalog.regclass DEFAULT 'loomlat.invocations')
	RETURNS TABLE (bucket text, lower_ms pg_catalog.float8, upper_ms pg_catalog.float8, count bigint)
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

COMMENT ON FUNCTION loomlat.latency_summary(text, bigint, integer, timestamptz, pg_catalog.float8,
												pg_catalog.regclass) IS
	'Everything the Latency tab shows for the window (as_of - range, as_of], as one jsonb document';
COMMENT ON FUNCTION loomlat.latency_by_agent(text, bigint, integer, timestamptz, pg_catalog.float8,
												 pg_catalog.regclass) IS
	'latency_summary''s agents as rows, one per agent with at least min_invocations, by agent_id';
COMMENT ON FUNCTION loomlat.ttft_histogram(text, bigint, timestamptz, pg_catalog.float8[],
											   pg_catalog.regclass) IS
	'TTFT counts of the window per bucket of bounds_ms, lower bound inclusive';
COMMENT ON FUNCTION loomlat.latency_rollup(text, bigint, integer, timestamptz, pg_catalog.float8,
											   pg_catalog.regclass, pg_catalog.float8[]) IS
	'The one scan behind latency_summary and latency_by_agent: a row per agent plus the total row';
COMMENT ON AGGREGATE loomlat.latency_stats(pg_catalog.float8, pg_catalog.float8, boolean,
											   pg_catalog.float8[]) IS
	'Counts, exact TTFT and duration percentiles and TTFT histogram of a group of invocations';
COMMENT ON AGGREGATE loomlat.latency_stats_by_agent(bigint, pg_catalog.float8, pg_catalog.float8,
														boolean, pg_catalog.float8[]) IS
	'latency_stats per agent and over all rows, in one pass without GROUP BY';
COMMENT ON AGGREGATE loomlat.ttft_histogram_counts(pg_catalog.float8, pg_catalog.float8[]) IS
	'TTFT counts per bucket of bounds_ms, lower bound inclusive';
COMMENT ON FUNCTION loomlat.resolve_window(text, bigint, timestamptz, pg_catalog.float8,
											   pg_catalog.regclass) IS
	'Internal: validates the summaries'' arguments and builds the SQL that reads a tracked table';
COMMENT ON FUNCTION loomlat.histogram_buckets(pg_catalog.float8[]) IS
	'Internal: validates histogram bounds and labels their buckets (0-1s, 1-3s, ..., >10s)';
COMMENT ON FUNCTION loomlat.referenced_column(pg_catalog.regclass, name) IS
	'Internal: the table and column a one-column foreign key on rel.col references';
