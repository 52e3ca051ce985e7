/*
 * track(tbl): classify cold starts in a backend's own invocations table (the
 * Loom backend's, for one), which has cold_start_latency_ms in ms.  Adds
 * ttft_ms and was_cold_start when missing, installs the classification
 * trigger, and back-fills was_cold_start.  The trigger is the registration:
 * nothing else is stored, so a tracked table stays tracked through
 * pg_dump/pg_restore.  Returns the number of rows whose was_cold_start it set.
 */
CREATE FUNCTION loomlat.track(tbl regclass) RETURNS bigint
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

	SELECT c.relkind INTO kind FROM pg_class c WHERE c.oid = tbl;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid
			USING ERRCODE = 'undefined_table';
	END IF;
	IF kind <> ALL (ARRAY['r', 'p']::"char"[]) THEN
		RAISE EXCEPTION '"%" is not a table', tbl
			USING ERRCODE = 'wrong_object_type',
				  HINT = 'loomlat.track() works on ordinary and partitioned tables that store invocations.';
	END IF;

	SELECT max(a.atttypid) FILTER (WHERE a.attname = 'cold_start_latency_ms'),
		   max(a.atttypid) FILTER (WHERE a.attname = 'ttft_ms'),
		   max(a.atttypid) FILTER (WHERE a.attname = 'was_cold_start')
	  INTO latency_type, ttft_type, flag_type
	  FROM pg_attribute a
	 WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped;

	IF latency_type IS NULL THEN
		RAISE EXCEPTION 'table % has no column "cold_start_latency_ms"', tbl
			USING ERRCODE = 'undefined_column',
				  HINT = 'loomlat.track() classifies cold starts from that column: agent start time minus client invoke time, in milliseconds.';
	END IF;
	IF latency_type <> ALL (ms_types) THEN
		RAISE EXCEPTION 'column "cold_start_latency_ms" of table % is %, not a number', tbl, latency_type
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	IF ttft_type <> ALL (ms_types) THEN
		RAISE EXCEPTION 'column "ttft_ms" of table % is %, not a number', tbl, ttft_type
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	IF flag_type <> 'boolean'::regtype THEN
		RAISE EXCEPTION 'column "was_cold_start" of table % is %, not boolean', tbl, flag_type
			USING ERRCODE = 'datatype_mismatch';
	END IF;

	-- Only now, with every check passed, change the table.
	IF ttft_type IS NULL THEN
		EXECUTE format('ALTER TABLE %s ADD COLUMN ttft_ms float8', tbl);
	END IF;
	IF flag_type IS NULL THEN
		EXECUTE format('ALTER TABLE %s ADD COLUMN was_cold_start boolean', tbl);
	END IF;

	PERFORM FROM pg_trigger t
	 WHERE t.tgrelid = tbl AND t.tgfoid = classify
	   AND NOT t.tgisinternal;
	IF NOT FOUND THEN
		EXECUTE format(
			'CREATE TRIGGER loomlat_classify_cold_start'
			' BEFORE INSERT OR UPDATE OF cold_start_latency_ms ON %s'
			' FOR EACH ROW EXECUTE FUNCTION %s', tbl, classify);
	END IF;

	EXECUTE format(
		'UPDATE %1$s SET was_cold_start = loomlat.is_cold_start(cold_start_latency_ms::float8)'
		' WHERE was_cold_start IS DISTINCT FROM loomlat.is_cold_start(cold_start_latency_ms::float8)',
		tbl);
	GET DIAGNOSTICS backfilled = ROW_COUNT;
	RETURN backfilled;
END
$track$;

COMMENT ON FUNCTION loomlat.track(regclass) IS
	'Classify cold starts in an existing invocations table: adds ttft_ms/was_cold_start, installs the trigger, back-fills; returns rows back-filled';
