/*
 * Latency sketches (src/sketch.c): loomlat.latency_sketch, a mergeable
 * quantile sketch with a relative-error guarantee (DDSketch's logarithmic
 * buckets), the aggregates that build and merge it, and its accessors.
 *
 * The aggregates' state is the type itself, not internal: a partial state
 * crosses process and node boundaries as an ordinary value (its text form
 * round-trips exactly), and a stored sketch merges like a fresh one.
 */

CREATE TYPE loomlat.latency_sketch;

CREATE FUNCTION loomlat.latency_sketch_in(cstring)
RETURNS loomlat.latency_sketch
AS 'MODULE_PATHNAME', 'loomlat_latency_sketch_in'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_sketch_out(loomlat.latency_sketch)
RETURNS cstring
AS 'MODULE_PATHNAME', 'loomlat_latency_sketch_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_sketch_recv(internal)
RETURNS loomlat.latency_sketch
AS 'MODULE_PATHNAME', 'loomlat_latency_sketch_recv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.latency_sketch_send(loomlat.latency_sketch)
RETURNS bytea
AS 'MODULE_PATHNAME', 'loomlat_latency_sketch_send'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Counts are int64 (8 bytes a bucket): 1 ms to 10 min at 1% is about 5.4 kB,
-- compressed when stored.
CREATE TYPE loomlat.latency_sketch (
	INPUT = loomlat.latency_sketch_in,
	OUTPUT = loomlat.latency_sketch_out,
	RECEIVE = loomlat.latency_sketch_recv,
	SEND = loomlat.latency_sketch_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);

COMMENT ON TYPE loomlat.latency_sketch IS
	'quantile sketch with relative accuracy alpha: logarithmic buckets, a zero bucket, exact count, sum, min and max';

CREATE FUNCTION loomlat.sketch_add(loomlat.latency_sketch, float8)
RETURNS loomlat.latency_sketch
AS 'MODULE_PATHNAME', 'loomlat_sketch_add'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.sketch_add(loomlat.latency_sketch, float8, float8)
RETURNS loomlat.latency_sketch
AS 'MODULE_PATHNAME', 'loomlat_sketch_add_accuracy'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION loomlat.sketch_merge(loomlat.latency_sketch, loomlat.latency_sketch)
RETURNS loomlat.latency_sketch
AS 'MODULE_PATHNAME', 'loomlat_sketch_merge'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.sketch_final(loomlat.latency_sketch)
RETURNS loomlat.latency_sketch
AS 'MODULE_PATHNAME', 'loomlat_sketch_final'
LANGUAGE C STRICT PARALLEL SAFE;

/*
 * The state is updated in place and may carry room to grow; the final
 * function returns a trimmed copy (READ_ONLY, so window use works).  SSPACE:
 * the planner's per-group estimate, a sketch of about 500 buckets.
 */
CREATE AGGREGATE loomlat.sketch(value float8) (
	SFUNC = loomlat.sketch_add,
	STYPE = loomlat.latency_sketch,
	SSPACE = 4096,
	FINALFUNC = loomlat.sketch_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = loomlat.sketch_merge,
	PARALLEL = SAFE
);

CREATE AGGREGATE loomlat.sketch(value float8, relative_accuracy float8) (
	SFUNC = loomlat.sketch_add,
	STYPE = loomlat.latency_sketch,
	SSPACE = 4096,
	FINALFUNC = loomlat.sketch_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = loomlat.sketch_merge,
	PARALLEL = SAFE
);

CREATE AGGREGATE loomlat.merge(sketch loomlat.latency_sketch) (
	SFUNC = loomlat.sketch_merge,
	STYPE = loomlat.latency_sketch,
	SSPACE = 4096,
	FINALFUNC = loomlat.sketch_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = loomlat.sketch_merge,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE loomlat.sketch(float8) IS
	'latency_sketch of the non-NULL values, relative accuracy 0.01';
COMMENT ON AGGREGATE loomlat.sketch(float8, float8) IS
	'latency_sketch of the non-NULL values, at the given relative accuracy (the same for the whole group)';
COMMENT ON AGGREGATE loomlat.merge(loomlat.latency_sketch) IS
	'one latency_sketch of all the values of the sketches (all of the same relative accuracy)';

CREATE FUNCTION loomlat.quantile(sketch loomlat.latency_sketch, fraction float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'loomlat_sketch_quantile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.quantiles(sketch loomlat.latency_sketch, fractions float8[])
RETURNS float8[]
AS 'MODULE_PATHNAME', 'loomlat_sketch_quantiles'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.sketch_count(sketch loomlat.latency_sketch)
RETURNS int8
AS 'MODULE_PATHNAME', 'loomlat_sketch_count'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.sketch_mean(sketch loomlat.latency_sketch)
RETURNS float8
AS 'MODULE_PATHNAME', 'loomlat_sketch_mean'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.sketch_min(sketch loomlat.latency_sketch)
RETURNS float8
AS 'MODULE_PATHNAME', 'loomlat_sketch_min'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.sketch_max(sketch loomlat.latency_sketch)
RETURNS float8
AS 'MODULE_PATHNAME', 'loomlat_sketch_max'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION loomlat.sketch_relative_accuracy(sketch loomlat.latency_sketch)
RETURNS float8
AS 'MODULE_PATHNAME', 'loomlat_sketch_relative_accuracy'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION loomlat.quantile(loomlat.latency_sketch, float8) IS
	'estimate of percentile_cont(fraction), within the relative accuracy of the order statistics it interpolates';
COMMENT ON FUNCTION loomlat.quantiles(loomlat.latency_sketch, float8[]) IS
	'quantile() of each fraction, in an array of the same shape (NULL for a NULL fraction)';
