/*
 * What the summaries and reports share: the histogram-bound rules and bucket
 * labels, and the window (argument checks, and where a source's rows come
 * from).  Functions only, so that an upgrade script can take this part with
 * CREATE OR REPLACE (see the Makefile).
 */

/*
 * The histogram-bound rules, for C and SQL alike (src/histogram.c): raises
 * invalid_parameter_value unless bounds_ms is a non-empty one-dimensional
 * array of finite, positive, strictly increasing milliseconds.
 */
CREATE FUNCTION loomlat.check_histogram_bounds(bounds_ms float8[])
	RETURNS void
	AS 'MODULE_PATHNAME', 'loomlat_check_histogram_bounds'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;

/*
 * Validate a histogram's upper bounds and name its buckets: bucket i (0-based)
 * holds lower_ms <= ttft_ms < upper_ms; the first starts at 0, the last is
 * open.  Labels are in seconds when every bound is whole seconds ("1-3s"),
 * otherwise in milliseconds ("250-500ms").
 */
CREATE FUNCTION loomlat.histogram_buckets(bounds_ms float8[])
	RETURNS TABLE (bucket_index integer, bucket text,
				   lower_ms float8, upper_ms float8)
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	scale float8 := 1000;
	unit  text := 's';
BEGIN
	PERFORM loomlat.check_histogram_bounds(bounds_ms);
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

/*
 * The column that references another table through a one-column foreign key:
 * that table and the referenced column, or nothing.
 */
CREATE FUNCTION loomlat.referenced_column(rel regclass, col name,
											  OUT target regclass, OUT target_col name)
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
										   cold_start_threshold_ms float8,
										   source regclass,
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
	PERFORM loomlat.is_cold_start(0::float8, cold_start_threshold_ms);
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

COMMENT ON FUNCTION loomlat.check_histogram_bounds(float8[]) IS
	'Internal: raises an error unless bounds_ms are usable histogram bounds';
COMMENT ON FUNCTION loomlat.histogram_buckets(float8[]) IS
	'Internal: validates histogram bounds and labels their buckets (0-1s, 1-3s, ..., >10s)';
COMMENT ON FUNCTION loomlat.referenced_column(regclass, name) IS
	'Internal: the table and column a one-column foreign key on rel.col references';
COMMENT ON FUNCTION loomlat.resolve_window(text, bigint, timestamptz, float8,
											   regclass) IS
	'Internal: validates the summaries'' arguments and builds the SQL that reads a tracked table';
