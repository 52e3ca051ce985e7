/*
 * Cold-start classification: a latency above loomlat.cold_start_threshold_ms
 * (default 500 ms) is a cold start.  The trigger keeps was_cold_start right
 * when a row is written and whenever cold_start_latency_ms changes later.
 */

CREATE FUNCTION loomlat.cold_start_threshold_ms() RETURNS float8
	AS 'MODULE_PATHNAME', 'loomlat_cold_start_threshold'
	LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION loomlat.is_cold_start(cold_start_latency_ms float8)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'loomlat_is_cold_start'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.is_cold_start(cold_start_latency_ms float8,
										  threshold_ms float8)
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
COMMENT ON FUNCTION loomlat.is_cold_start(float8) IS
	'true when the latency exceeds loomlat.cold_start_threshold_ms; NULL for a NULL latency';
COMMENT ON FUNCTION loomlat.is_cold_start(float8, float8) IS
	'true when the latency exceeds the given threshold in ms; NULL for a NULL latency';
