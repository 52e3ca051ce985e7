/*
 * Exact percentile aggregates (src/percentile.c).
 *
 * Same answers as percentile_cont(...) WITHIN GROUP (ORDER BY value), but as
 * plain aggregates they hash-group, take FILTER and run in parallel.  They
 * keep every non-NULL value (8 bytes each) in the aggregate's memory, not
 * bounded by work_mem; a state passed between parallel processes is limited
 * to 1 GB (about 134 million values per worker and group).
 */

CREATE FUNCTION loomlat.percentile_transfn(internal, float8, float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'loomlat_percentile_transfn'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.percentiles_transfn(internal, float8, float8[])
RETURNS internal
AS 'MODULE_PATHNAME', 'loomlat_percentiles_transfn'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_percentiles_transfn(internal, float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'loomlat_latency_percentiles_transfn'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.percentile_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'loomlat_percentile_combine'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.percentile_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'loomlat_percentile_serialize'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.percentile_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'loomlat_percentile_deserialize'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.percentile_final(internal)
RETURNS float8
AS 'MODULE_PATHNAME', 'loomlat_percentile_final'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.percentiles_final(internal)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'loomlat_percentiles_final'
LANGUAGE C STRICT PARALLEL SAFE;

/*
 * SSPACE: the planner's per-group estimate for HashAggregate.  A state grows
 * with its group (8 bytes a value); 8 kB is a group of about a thousand values.
 * The final function reorders the values in place but never changes them:
 * the state stays valid for more rows and final calls, hence READ_ONLY,
 * which also allows window use.
 */
CREATE AGGREGATE loomlat.percentile(value float8, fraction float8) (
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

CREATE AGGREGATE loomlat.percentiles(value float8, fractions float8[]) (
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

CREATE AGGREGATE loomlat.latency_percentiles(value float8) (
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

COMMENT ON AGGREGATE loomlat.percentile(float8, float8) IS
	'percentile_cont(fraction) WITHIN GROUP (ORDER BY value), exactly, as a parallel plain aggregate';
COMMENT ON AGGREGATE loomlat.percentiles(float8, float8[]) IS
	'percentile_cont(fractions) WITHIN GROUP (ORDER BY value), exactly, as a parallel plain aggregate';
COMMENT ON AGGREGATE loomlat.latency_percentiles(float8) IS
	'{p50, p95, p99} of value, exactly as percentile_cont(ARRAY[0.5, 0.95, 0.99])';
