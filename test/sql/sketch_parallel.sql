-- latency_sketch aggregates under every plan shape: the same bytes serially,
-- with parallel workers (some seeing no rows), with partitionwise
-- aggregation, from stored per-agent sketches merged in any order, and with
-- the whole aggregate in a worker.  The reference is one serial sketch.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;

SELECT setseed(0.75);
CREATE TABLE sk_par (id int, agent_id int, v float8);
INSERT INTO sk_par
SELECT g, 1 + floor(random() * 20)::int,
       CASE WHEN random() < 0.01 THEN NULL
            WHEN random() < 0.02 THEN -50 * random()
            WHEN random() < 0.01 THEN 0
            ELSE 1200 * exp(0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) END
  FROM generate_series(1, 200000) g;
-- agent 99 has a single row: in a parallel plan most participants never see it
INSERT INTO sk_par VALUES (200001, 99, 4.5);
ANALYZE sk_par;

SET max_parallel_workers_per_gather = 0;
CREATE TABLE expected_all AS SELECT loomlat.sketch(v)::text AS t FROM sk_par;
CREATE TABLE expected AS SELECT agent_id, loomlat.sketch(v)::text AS t FROM sk_par GROUP BY agent_id;

SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;

EXPLAIN (COSTS OFF) SELECT loomlat.sketch(v) FROM sk_par;
EXPLAIN (COSTS OFF) SELECT agent_id, loomlat.sketch(v) FROM sk_par GROUP BY agent_id;

\set check_whole 'SELECT loomlat.sketch(v)::text = (SELECT t FROM expected_all) AS identical FROM sk_par'
\set check_grouped 'SELECT count(*) AS groups, count(*) FILTER (WHERE x.t = e.t) AS identical FROM (SELECT agent_id, loomlat.sketch(v)::text AS t FROM sk_par GROUP BY agent_id) x FULL JOIN expected e USING (agent_id)'
:check_whole;
:check_grouped;
SET parallel_leader_participation = off;
:check_whole;
:check_grouped;
RESET parallel_leader_participation;

-- Per-agent sketches stored, then merged in several orders, serially and in
-- parallel: one sketch over all rows, byte for byte.
CREATE TABLE per_agent AS SELECT agent_id, loomlat.sketch(v) AS s FROM sk_par GROUP BY agent_id;
ANALYZE per_agent;
SELECT loomlat.merge(s ORDER BY agent_id)::text = t AS ascending,
       loomlat.merge(s ORDER BY agent_id DESC)::text = t AS descending,
       loomlat.merge(s ORDER BY md5(agent_id::text))::text = t AS shuffled
  FROM per_agent, expected_all GROUP BY t;
SELECT loomlat.merge(s)::text = (SELECT t FROM expected_all) AS parallel_merge FROM per_agent;
-- merge of merges: groups of agents, then the groups
SELECT loomlat.merge(s)::text = (SELECT t FROM expected_all) AS merge_of_merges
  FROM (SELECT agent_id % 3, loomlat.merge(s) AS s FROM per_agent GROUP BY 1) g;

-- Partitionwise aggregation over partitions of 0, 1, 3 and ~200000 rows.
CREATE TABLE sk_part (id int, agent_id int, v float8) PARTITION BY RANGE (id);
CREATE TABLE sk_part_empty PARTITION OF sk_part FOR VALUES FROM (-100) TO (0);
CREATE TABLE sk_part_one PARTITION OF sk_part FOR VALUES FROM (0) TO (1);
CREATE TABLE sk_part_three PARTITION OF sk_part FOR VALUES FROM (1) TO (4);
CREATE TABLE sk_part_big PARTITION OF sk_part FOR VALUES FROM (4) TO (MAXVALUE);
INSERT INTO sk_part SELECT id - 1, agent_id, v FROM sk_par;
ANALYZE sk_part;
SET enable_partitionwise_aggregate = on;
\set check_partitionwise 'SELECT count(*) AS groups, count(*) FILTER (WHERE x.t = e.t) AS identical FROM (SELECT agent_id, loomlat.sketch(v)::text AS t FROM sk_part GROUP BY agent_id) x FULL JOIN expected e USING (agent_id)'
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF) SELECT loomlat.sketch(v) FROM sk_part;
SELECT loomlat.sketch(v)::text = (SELECT t FROM expected_all) AS identical FROM sk_part;
:check_partitionwise;
SET max_parallel_workers_per_gather = 2;
SELECT loomlat.sketch(v)::text = (SELECT t FROM expected_all) AS identical FROM sk_part;
:check_partitionwise;
-- Relative accuracies constant within each partition but different between
-- them are refused when the partial states combine.
SET max_parallel_workers_per_gather = 0;
SELECT loomlat.sketch(v, CASE WHEN id < 4 THEN 0.01 ELSE 0.02 END) FROM sk_part;
RESET enable_partitionwise_aggregate;

RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- force_parallel_mode (debug_parallel_query from PostgreSQL 16 on) runs the
-- whole aggregate in a worker: the state crosses as a value.
SET force_parallel_mode = on;
SELECT loomlat.sketch(v)::text = t AS same FROM sk_par, expected_all GROUP BY t;
RESET force_parallel_mode;

DROP TABLE sk_par, expected_all, expected, per_agent, sk_part;
