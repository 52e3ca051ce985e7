-- Partial aggregation of loomlat's percentile aggregates: parallel workers
-- (some seeing no rows), no leader participation, partitionwise aggregation
-- over partitions of very different sizes, and the serialize/combine paths
-- they take.  Results are compared bit for bit with percentile_cont, which
-- never runs partially and is computed serially first.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;

SELECT setseed(0.25);
CREATE TABLE pct_par (id int, agent_id int, v float8);
INSERT INTO pct_par
SELECT g, 1 + floor(random() * 20)::int,
       CASE WHEN random() < 0.01 THEN NULL
            WHEN random() < 0.001 THEN 'NaN'
            ELSE 1200 * exp(0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) END
  FROM generate_series(1, 200000) g;
-- agent 99 has a single row: in a parallel plan most participants never see it
INSERT INTO pct_par VALUES (200001, 99, 4.5);
ANALYZE pct_par;

CREATE TABLE pct_par_expected AS
SELECT agent_id, percentile_cont('{0.5,0.95,0.99,0,1}'::float8[]) WITHIN GROUP (ORDER BY v) AS c
  FROM pct_par GROUP BY agent_id;
CREATE TABLE pct_par_expected_all AS
SELECT percentile_cont('{0.5,0.95,0.99,0,1}'::float8[]) WITHIN GROUP (ORDER BY v) AS c FROM pct_par;

SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = on;

EXPLAIN (COSTS OFF)
SELECT loomlat.percentiles(v, '{0.5,0.95,0.99,0,1}') FROM pct_par;
EXPLAIN (COSTS OFF)
SELECT agent_id, loomlat.percentiles(v, '{0.5,0.95,0.99,0,1}') FROM pct_par GROUP BY agent_id;

\set check_whole 'SELECT array_send(loomlat.percentiles(v, ''{0.5,0.95,0.99,0,1}'')) = (SELECT array_send(c) FROM pct_par_expected_all) AS identical FROM pct_par'
\set check_grouped 'SELECT count(*) AS groups, count(*) FILTER (WHERE array_send(l) = array_send(e.c)) AS identical FROM (SELECT agent_id, loomlat.percentiles(v, ''{0.5,0.95,0.99,0,1}'') AS l FROM pct_par GROUP BY agent_id) x FULL JOIN pct_par_expected e USING (agent_id)'
EXPLAIN (COSTS OFF) :check_whole;
:check_whole;
:check_grouped;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) :check_grouped;
:check_whole;
:check_grouped;
SET max_parallel_workers_per_gather = 1;
:check_whole;
:check_grouped;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = on;

-- Filters that leave workers with no rows, with only NULL values, or nothing.
SELECT loomlat.latency_percentiles(v) IS NOT DISTINCT FROM percentile_cont('{0.5,0.95,0.99}'::float8[]) WITHIN GROUP (ORDER BY v)
  FROM pct_par WHERE agent_id = 99;
SELECT w, array_send(l) IS NOT DISTINCT FROM array_send(e) AS same
  FROM (SELECT 'one row' AS w, loomlat.percentiles(v, '{0.1,0.9}') AS l FROM pct_par WHERE id = 123456
        UNION ALL SELECT 'only NULL values', loomlat.percentiles(v, '{0.1,0.9}') FROM pct_par WHERE v IS NULL
        UNION ALL SELECT 'no rows', loomlat.percentiles(v, '{0.1,0.9}') FROM pct_par WHERE id < 0) l,
       LATERAL (SELECT percentile_cont('{0.1,0.9}'::float8[]) WITHIN GROUP (ORDER BY v) AS e FROM pct_par
                 WHERE CASE w WHEN 'one row' THEN id = 123456 WHEN 'only NULL values' THEN v IS NULL ELSE id < 0 END) c
 ORDER BY w;
SELECT loomlat.percentile(v, 0.5) AS scalar, loomlat.latency_percentiles(v) AS latency
  FROM pct_par WHERE id BETWEEN 100 AND 105 AND v IS NULL;

-- percentiles_by_class: {all, cold, warm} in one pass against
-- percentile_cont per class (rows with a NULL class in "all" only), serial,
-- then in parallel with and without the leader; sums up to their order.
CREATE TABLE pct_class_expected AS
SELECT c.class, count(*) AS rows, count(p.v) AS count, sum(p.v) AS sum,
       percentile_cont('{0.5,0.95,0.99,0,1}'::float8[]) WITHIN GROUP (ORDER BY p.v) AS percentiles
  FROM pct_par p,
       LATERAL (VALUES ('all'), (CASE WHEN p.id % 7 = 0 THEN NULL WHEN p.id % 3 = 0 THEN 'cold' ELSE 'warm' END)) c(class)
 WHERE c.class IS NOT NULL GROUP BY c.class;
\set check_class 'SELECT count(*) AS classes, count(*) FILTER (WHERE l.n = CASE class WHEN ''all'' THEN 1 WHEN ''cold'' THEN 2 ELSE 3 END AND (l.rows, l.count, array_send(l.percentiles)) = (e.rows, e.count, array_send(e.percentiles)) AND (l.sum = e.sum OR abs(l.sum - e.sum) <= 1e-9 * abs(e.sum))) AS identical FROM unnest((SELECT loomlat.percentiles_by_class(v, ''{0.5,0.95,0.99,0,1}'', CASE WHEN id % 7 = 0 THEN NULL ELSE id % 3 = 0 END) FROM pct_par)) WITH ORDINALITY l(class, rows, count, sum, percentiles, n) FULL JOIN pct_class_expected e USING (class)'
SET max_parallel_workers_per_gather = 0;
:check_class;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) :check_class;
:check_class;
SET parallel_leader_participation = off;
:check_class;
SET parallel_leader_participation = on;
-- NULL fractions keep no values: counts and sums only.  No rows: NULL.
SELECT c.class, c.rows, c.count, c.sum, c.percentiles
  FROM unnest((SELECT loomlat.percentiles_by_class(id, NULL, id % 2 = 0) FROM pct_par WHERE id <= 10)) c;
SELECT loomlat.percentiles_by_class(v, '{0.5}', true) IS NULL AS no_rows FROM pct_par WHERE id < 0;
-- As a window aggregate over a growing frame: each row's answer is the
-- frame's, the state untouched by the final calls.
SELECT id, (w[2]).rows AS cold_rows, (w[1]).percentiles AS all_p50
  FROM (SELECT id, loomlat.percentiles_by_class(id, '{0.5}', id % 2 = 0) OVER (ORDER BY id) AS w
          FROM pct_par WHERE id <= 4) x;
-- Fractions that vary by row are refused, as for percentiles.
\set VERBOSITY terse
SELECT loomlat.percentiles_by_class(v, ARRAY[CASE WHEN id > 100000 THEN 0.5 ELSE 0.6 END], true) FROM pct_par;
\set VERBOSITY default

-- A fraction that varies by row is checked in every worker (terse: the
-- leader or a worker may be the one to report it).
\set VERBOSITY terse
SELECT loomlat.percentile(v, CASE WHEN id > 100000 THEN 0.5 ELSE 0.6 END) FROM pct_par;
\set VERBOSITY default

-- Partitionwise aggregation: partitions of 0, 1, 3 and about 200000 rows,
-- combined serially (states passed in memory) and then in parallel
-- (serialized); a NULL-fraction state and differing fractions too.
CREATE TABLE pct_part (id int, agent_id int, v float8) PARTITION BY RANGE (id);
CREATE TABLE pct_part_empty PARTITION OF pct_part FOR VALUES FROM (-100) TO (0);
CREATE TABLE pct_part_one PARTITION OF pct_part FOR VALUES FROM (0) TO (1);
CREATE TABLE pct_part_three PARTITION OF pct_part FOR VALUES FROM (1) TO (4);
CREATE TABLE pct_part_big PARTITION OF pct_part FOR VALUES FROM (4) TO (MAXVALUE);
INSERT INTO pct_part SELECT id - 1, agent_id, v FROM pct_par;
ANALYZE pct_part;

SET enable_partitionwise_aggregate = on;
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF)
SELECT agent_id, loomlat.percentiles(v, '{0.5,0.95,0.99,0,1}') FROM pct_part GROUP BY agent_id;
\set check_partitionwise 'SELECT count(*) AS groups, count(*) FILTER (WHERE array_send(l) = array_send(e.c)) AS identical FROM (SELECT agent_id, loomlat.percentiles(v, ''{0.5,0.95,0.99,0,1}'') AS l FROM pct_part GROUP BY agent_id) x FULL JOIN pct_par_expected e USING (agent_id)'
:check_partitionwise;

SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT agent_id, loomlat.percentiles(v, '{0.5,0.95,0.99,0,1}') FROM pct_part GROUP BY agent_id;
:check_partitionwise;

-- States whose fractions are NULL combine to NULL.  Fractions that are
-- constant within each partition but differ between them are refused when
-- the partial states combine.
SELECT agent_id, loomlat.percentiles(v, NULL) AS null_fractions
  FROM pct_part WHERE agent_id IN (1, 99) GROUP BY agent_id ORDER BY agent_id;
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF)
SELECT agent_id, loomlat.percentile(v, CASE WHEN id < 4 THEN 0.5 ELSE 0.6 END)
  FROM pct_part GROUP BY agent_id;
SELECT agent_id, loomlat.percentile(v, CASE WHEN id < 4 THEN 0.5 ELSE 0.6 END)
  FROM pct_part GROUP BY agent_id;

RESET enable_partitionwise_aggregate;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;

-- force_parallel_mode (debug_parallel_query from PostgreSQL 16 on) runs the
-- whole aggregate in a worker.
SET force_parallel_mode = on;
SELECT array_send(loomlat.percentiles(v, '{0.5,0.95,0.99,0,1}')) = array_send(c) AS same
  FROM pct_par, pct_par_expected_all GROUP BY c;
RESET force_parallel_mode;

DROP TABLE pct_par, pct_par_expected, pct_par_expected_all, pct_part;
