-- loomlat.percentile / percentiles / latency_percentiles give exactly what
-- percentile_cont gives: every comparison is bit for bit (array_send /
-- float8send), with percentile_cont computed in the same test.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;

-- Catalog: plain, parallel-safe aggregates with combine/serial functions, a
-- state size for the planner, and a final function that keeps the state
-- valid (READ_ONLY: it reorders values, never changes them).
SELECT p.oid::regprocedure AS aggregate, a.aggkind, a.aggtransspace, a.aggfinalmodify,
       a.aggcombinefn::regproc IS NOT NULL AS combine, a.aggserialfn::regproc IS NOT NULL AS serial,
       p.proparallel
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
 WHERE p.oid IN ('loomlat.percentile(float8, float8)'::regprocedure,
                 'loomlat.percentiles(float8, float8[])'::regprocedure,
                 'loomlat.latency_percentiles(float8)'::regprocedure)
 ORDER BY 1::text;

-- Edge cases: each group is one small data set.
CREATE TABLE pct_edge (name text, v float8);
INSERT INTO pct_edge VALUES
  ('all-null', NULL), ('all-null', NULL),
  ('one', 42),
  ('two', 2), ('two', 1),
  ('dups', 5), ('dups', 5), ('dups', 5), ('dups', 1), ('dups', 1), ('dups', 9), ('dups', NULL),
  ('nan', 1), ('nan', 'NaN'), ('nan', 2), ('nan', 'NaN'), ('nan', 0.5),
  ('all-nan', 'NaN'), ('all-nan', 'NaN'), ('all-nan', 'NaN'),
  ('inf', '-Infinity'), ('inf', 1), ('inf', 'Infinity'), ('inf', 'Infinity'),
  ('inf-nan', '-Infinity'), ('inf-nan', 'NaN'), ('inf-nan', 'Infinity'), ('inf-nan', '-Infinity'),
  ('extremes', -1e308), ('extremes', 1e308), ('extremes', -3.5), ('extremes', 1e308),
  ('subnormal', 5e-324), ('subnormal', -5e-324), ('subnormal', 1e-310), ('subnormal', 0);

CREATE TABLE pct_fractions (label text, f float8[]);
INSERT INTO pct_fractions VALUES
  ('ends', '{0,1}'),
  ('median', '{0.5}'),
  ('unsorted+repeated', '{0.99,0.5,0.5,0.95,0,0.5}'),
  ('null entries', '{0.25,NULL,0.75,NULL}'),
  ('all null entries', '{NULL,NULL}'),
  ('2-D', '{{0.1,0.2},{0.3,1}}'),
  ('3-D', '{{{0.1},{0.9}},{{0.33},{0.66}}}'),
  ('lower bound 0', '[0:2]={0.1,0.5,0.9}'),
  ('thirds', ARRAY[1.0/3, 2.0/3]),
  ('empty', '{}'),
  ('null array', NULL);

SELECT e.name, f.label,
       loomlat.percentiles(e.v, f.f) AS loomlat,
       array_send(loomlat.percentiles(e.v, f.f))
         IS NOT DISTINCT FROM array_send(percentile_cont(f.f) WITHIN GROUP (ORDER BY e.v)) AS same
  FROM pct_edge e CROSS JOIN pct_fractions f
 GROUP BY e.name, f.label, f.f
 ORDER BY e.name, f.label;

-- The scalar form, including a NULL fraction.
SELECT e.name, f.p,
       loomlat.percentile(e.v, f.p) AS loomlat,
       float8send(loomlat.percentile(e.v, f.p))
         IS NOT DISTINCT FROM float8send(percentile_cont(f.p) WITHIN GROUP (ORDER BY e.v)) AS same
  FROM pct_edge e CROSS JOIN (VALUES (0::float8), (0.25), (0.5), (0.999), (1), (NULL)) f(p)
 GROUP BY e.name, f.p
 ORDER BY e.name, f.p;

-- latency_percentiles is percentile_cont(ARRAY[0.5, 0.95, 0.99]).
SELECT name, loomlat.latency_percentiles(v),
       array_send(loomlat.latency_percentiles(v))
         IS NOT DISTINCT FROM array_send(percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY v)) AS same
  FROM pct_edge GROUP BY name ORDER BY name;

-- No rows at all: NULL, as percentile_cont.
SELECT loomlat.percentiles(v, '{0.5}') AS loomlat, percentile_cont('{0.5}'::float8[]) WITHIN GROUP (ORDER BY v) AS core,
       loomlat.latency_percentiles(v) AS latency, loomlat.percentile(v, 0.5) AS scalar
  FROM pct_edge WHERE false;

-- Errors: the same SQLSTATE and message as percentile_cont.
CREATE FUNCTION pg_temp.outcome(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    EXECUTE query INTO result;
    RETURN coalesce(result, 'NULL');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT fr, pg_temp.outcome(format('SELECT loomlat.percentiles(v, %L)::text FROM pct_edge', fr)) AS loomlat,
       pg_temp.outcome(format('SELECT percentile_cont(%L::float8[]) WITHIN GROUP (ORDER BY v)::text FROM pct_edge', fr)) AS core
  FROM (VALUES ('{0.5,1.5}'), ('{-0.25}'), ('{NaN}'), ('{1.0000001,NULL}'), ('{-Infinity}')) t(fr);
SELECT fr, pg_temp.outcome(format('SELECT loomlat.percentile(v, %L)::text FROM pct_edge', fr)) AS loomlat,
       pg_temp.outcome(format('SELECT percentile_cont(%L::float8) WITHIN GROUP (ORDER BY v)::text FROM pct_edge', fr)) AS core
  FROM (VALUES ('1.5'), ('-0.25'), ('NaN'), ('Infinity')) t(fr);

-- Only NULL values: the array form gives NULL before looking at the
-- fractions, the scalar form checks the fraction first; both as percentile_cont.
SELECT pg_temp.outcome($$SELECT loomlat.percentiles(v, '{2}')::text FROM pct_edge WHERE name = 'all-null'$$) AS loomlat_array,
       pg_temp.outcome($$SELECT (percentile_cont('{2}'::float8[]) WITHIN GROUP (ORDER BY v))::text FROM pct_edge WHERE name = 'all-null'$$) AS core_array,
       pg_temp.outcome($$SELECT loomlat.percentile(v, 2)::text FROM pct_edge WHERE name = 'all-null'$$) AS loomlat_scalar,
       pg_temp.outcome($$SELECT (percentile_cont(2) WITHIN GROUP (ORDER BY v))::text FROM pct_edge WHERE name = 'all-null'$$) AS core_scalar;

-- The one documented difference: with no rows at all the fraction is an
-- aggregated argument that is never evaluated, so a bad one is not reported.
SELECT pg_temp.outcome($$SELECT loomlat.percentile(v, 2)::text FROM pct_edge WHERE false$$) AS loomlat,
       pg_temp.outcome($$SELECT (percentile_cont(2) WITHIN GROUP (ORDER BY v))::text FROM pct_edge WHERE false$$) AS core;

-- Fractions that change within a group are refused, whatever changes.
SELECT pg_temp.outcome($$SELECT loomlat.percentiles(v, ARRAY[0.5, CASE WHEN v > 2 THEN 0.9 ELSE 0.8 END])::text FROM pct_edge WHERE name = 'dups'$$);
SELECT pg_temp.outcome($$SELECT loomlat.percentiles(v, CASE WHEN v > 2 THEN '{0.5}'::float8[] ELSE '{{0.5}}' END)::text FROM pct_edge WHERE name = 'dups'$$);
SELECT pg_temp.outcome($$SELECT loomlat.percentiles(v, CASE WHEN v > 2 THEN '{0.5}'::float8[] ELSE '[2:2]={0.5}' END)::text FROM pct_edge WHERE name = 'dups'$$);
SELECT pg_temp.outcome($$SELECT loomlat.percentiles(v, CASE WHEN v > 2 THEN '{0.5}'::float8[] ELSE '{NULL}' END)::text FROM pct_edge WHERE name = 'dups'$$);
SELECT pg_temp.outcome($$SELECT loomlat.percentiles(v, CASE WHEN v > 2 THEN '{0.5}'::float8[] END)::text FROM pct_edge WHERE name = 'dups'$$);
SELECT pg_temp.outcome($$SELECT loomlat.percentile(v, CASE WHEN v > 2 THEN 0.5 END)::text FROM pct_edge WHERE name = 'dups'$$);
SELECT pg_temp.outcome($$SELECT loomlat.percentile(v, CASE WHEN v > 2 THEN 0.5 ELSE 0.25 END)::text FROM pct_edge WHERE name = 'dups'$$);
-- ... but a per-row expression that stays the same within each group is fine.
SELECT name, array_send(loomlat.percentiles(v, ARRAY[length(name) / 20.0, 0.5]))
         = array_send(percentile_cont(ARRAY[length(name) / 20.0, 0.5]) WITHIN GROUP (ORDER BY v)) AS same
  FROM pct_edge WHERE name IN ('dups', 'inf', 'extremes') GROUP BY name ORDER BY name;
-- ... and so is a parameter of a prepared statement.
PREPARE pct_prepared(float8[]) AS
  SELECT array_send(loomlat.percentiles(v, $1)) = array_send(percentile_cont($1) WITHIN GROUP (ORDER BY v))
    FROM pct_edge WHERE name = 'dups';
EXECUTE pct_prepared('{0.1,0.7}');
DEALLOCATE pct_prepared;

-- Generated data sets, grouped so that group sizes run from 1 to 300 and
-- values come from several shapes: lognormal TTFT, few distinct values,
-- sorted, reversed, all equal, and NaN/Infinity/NULL sprinkled in.
SELECT setseed(0.5);
CREATE TABLE pct_gen AS
SELECT shape, size, i,
       CASE shape
         WHEN 'lognormal' THEN CASE WHEN random() < 0.01 THEN NULL ELSE 1200 * exp(0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) END
         WHEN 'few distinct' THEN floor(random() * 4)
         WHEN 'sorted' THEN i::float8
         WHEN 'reversed' THEN -i::float8
         WHEN 'all equal' THEN 7.25
         WHEN 'specials' THEN (ARRAY[NULL, 'NaN', 'Infinity', '-Infinity', 0, -1, random() * 100, random()])[1 + floor(random() * 8)::int]
       END AS v
  FROM unnest(ARRAY['lognormal', 'few distinct', 'sorted', 'reversed', 'all equal', 'specials']) shape,
       generate_series(1, 300) size,
       generate_series(1, size) i;

SELECT shape, count(*) AS groups,
       count(*) FILTER (WHERE array_send(l) IS NOT DISTINCT FROM array_send(c)) AS identical,
       count(*) FILTER (WHERE array_send(s) IS NOT DISTINCT FROM array_send(t)) AS identical_scalar,
       count(*) FILTER (WHERE array_send(lat) IS NOT DISTINCT FROM array_send(c3)) AS identical_latency
  FROM (SELECT shape, size,
               loomlat.percentiles(v, '{0,0.01,0.1,0.25,0.5,0.75,0.9,0.95,0.99,0.999,1}') AS l,
               percentile_cont('{0,0.01,0.1,0.25,0.5,0.75,0.9,0.95,0.99,0.999,1}'::float8[]) WITHIN GROUP (ORDER BY v) AS c,
               ARRAY[loomlat.percentile(v, 0.37)] AS s,
               ARRAY[percentile_cont(0.37) WITHIN GROUP (ORDER BY v)] AS t,
               loomlat.latency_percentiles(v) AS lat,
               percentile_cont('{0.5,0.95,0.99}'::float8[]) WITHIN GROUP (ORDER BY v) AS c3
          FROM pct_gen GROUP BY shape, size) g
 GROUP BY shape ORDER BY shape;

-- As a plain aggregate it hash-groups and takes FILTER.
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF)
SELECT shape, loomlat.latency_percentiles(v) FROM pct_gen GROUP BY shape;
RESET max_parallel_workers_per_gather;
SELECT count(*) AS groups,
       count(*) FILTER (WHERE array_send(l) IS NOT DISTINCT FROM array_send(c)) AS identical
  FROM (SELECT loomlat.percentiles(v, '{0.2,0.8}') FILTER (WHERE i % 3 <> 0) AS l,
               percentile_cont('{0.2,0.8}'::float8[]) WITHIN GROUP (ORDER BY v) FILTER (WHERE i % 3 <> 0) AS c
          FROM pct_gen GROUP BY shape, size) g;

-- As a window aggregate over a growing frame the state is finalized
-- repeatedly and keeps accumulating; every running median is checked.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE float8send(running) = float8send(
         (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v2.v) FROM pct_gen v2
           WHERE v2.shape = 'lognormal' AND v2.size = 60 AND v2.i <= w.i))) AS identical
  FROM (SELECT i, loomlat.percentile(v, 0.5) OVER (ORDER BY i) AS running
          FROM pct_gen WHERE shape = 'lognormal' AND size = 60) w
 WHERE running IS NOT NULL;

-- Selection stays fast on sorted, reversed, equal, sawtooth and organ-pipe
-- inputs (a quadratic pivot choice would exceed the statement timeout by
-- far), and stays right when the evenly spaced sample that narrows large
-- selections sees only one value in 122 ("strided").
SET statement_timeout = '30s';
SELECT shape,
       array_send(loomlat.percentiles(v, '{0,0.5,0.99,1}')) = array_send(percentile_cont('{0,0.5,0.99,1}'::float8[]) WITHIN GROUP (ORDER BY v)) AS same
  FROM (SELECT 'sorted' AS shape, g::float8 AS v FROM generate_series(1, 1000000) g
        UNION ALL SELECT 'reversed', -g FROM generate_series(1, 1000000) g
        UNION ALL SELECT 'all equal', 1 FROM generate_series(1, 1000000) g
        UNION ALL SELECT 'sawtooth', g % 1000 FROM generate_series(1, 1000000) g
        UNION ALL SELECT 'organ pipe', least(g, 1000001 - g) FROM generate_series(1, 1000000) g
        UNION ALL SELECT 'strided', CASE WHEN g % 122 = 1 THEN 0 ELSE g END FROM generate_series(1, 1000000) g) s
 GROUP BY shape ORDER BY shape;
RESET statement_timeout;

-- A median-of-3 killer: the order McIlroy's adversary builds against this
-- selection for 300 values (18 partitioning rounds) drives it to its
-- heapsort bound, which must still give percentile_cont's answer.
SELECT array_send(loomlat.percentiles(v, '{0.5}'))
         = array_send(percentile_cont('{0.5}'::float8[]) WITHIN GROUP (ORDER BY v)) AS same
  FROM (SELECT CASE WHEN p < 36 AND p % 2 = 0 THEN p
                    WHEN p < 36 THEN 36 + (p - 1) / 2
                    WHEN p < 149 THEN p + 18
                    WHEN p < 167 THEN 2 * (p - 149) + 1
                    ELSE p END::float8 AS v
          FROM generate_series(0, 299) p) s;

DROP TABLE pct_edge, pct_fractions, pct_gen;
