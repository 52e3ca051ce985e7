-- track(): cold-start classification in a backend's own, Loom-shaped tables.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;

\set schema loom
\i test/fixtures/loom_schema.sql

INSERT INTO loom.agents (name) VALUES ('Support'), ('Research');
INSERT INTO loom.invocation_sessions (session_id, agent_id) VALUES ('s1', 1), ('s2', 2);
INSERT INTO loom.invocations (session_id, invocation_id, client_invoke_time, agent_start_time,
	cold_start_latency_ms, client_duration_ms, status, created_at)
VALUES ('s1', 'i1', 1793527200.0, 1793527202.5, 2500, 4100, 'complete', '2026-11-01 10:00:00'),
       ('s1', 'i2', 1793527260.0, 1793527260.04, 40, 1200, 'complete', '2026-11-01 10:01:00'),
       ('s2', 'i3', 1793527320.0, NULL, NULL, NULL, 'pending', '2026-11-01 10:02:00'),
       ('s2', 'i4', 1793527380.0, 1793527379.9, -100, 900, 'complete', '2026-11-01 10:03:00');

-- Adds the two columns, installs the trigger, back-fills three rows.
SELECT loomlat.track('loom.invocations');
SELECT invocation_id, cold_start_latency_ms, ttft_ms, was_cold_start FROM loom.invocations ORDER BY id;
SELECT tgname, tgfoid::regproc, tgenabled FROM pg_trigger WHERE tgrelid = 'loom.invocations'::regclass AND NOT tgisinternal;

-- Idempotent: a second call changes nothing.
SELECT loomlat.track('loom.invocations');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'loom.invocations'::regclass AND NOT tgisinternal;

-- The backend keeps writing as it always did; was_cold_start follows.
INSERT INTO loom.invocations (session_id, invocation_id, client_invoke_time, status, created_at)
VALUES ('s1', 'i5', 1793527440.0, 'streaming', '2026-11-01 10:04:00');
UPDATE loom.invocations SET agent_start_time = 1793527441.2, cold_start_latency_ms = 1200, ttft_ms = 1830.25
 WHERE invocation_id = 'i5';
UPDATE loom.invocations SET cold_start_latency_ms = 35 WHERE invocation_id = 'i3';
SELECT invocation_id, cold_start_latency_ms, ttft_ms, was_cold_start FROM loom.invocations ORDER BY id;

-- A threshold change never touches stored rows by itself; calling track()
-- again re-classifies the rows whose class differs under the current rule.
SET loomlat.cold_start_threshold_ms = 30;
SELECT invocation_id, cold_start_latency_ms, was_cold_start FROM loom.invocations ORDER BY id;
SELECT loomlat.track('loom.invocations');
SELECT invocation_id, cold_start_latency_ms, was_cold_start FROM loom.invocations ORDER BY id;
RESET loomlat.cold_start_threshold_ms;
SELECT loomlat.track('loom.invocations');

-- Existing ttft_ms / was_cold_start columns are kept when their types fit.
CREATE TABLE loom.prepared (cold_start_latency_ms real, ttft_ms numeric, was_cold_start boolean);
INSERT INTO loom.prepared VALUES (900, 10, NULL), (12.5, 20, true);
SELECT loomlat.track('loom.prepared');
SELECT * FROM loom.prepared ORDER BY cold_start_latency_ms;

-- A partitioned table: the trigger reaches every partition.
CREATE TABLE loom.parted (day date NOT NULL, cold_start_latency_ms float8) PARTITION BY RANGE (day);
CREATE TABLE loom.parted_nov PARTITION OF loom.parted FOR VALUES FROM ('2026-11-01') TO ('2026-12-01');
SELECT loomlat.track('loom.parted');
INSERT INTO loom.parted VALUES ('2026-11-02', 700), ('2026-11-03', 70);
SELECT * FROM loom.parted ORDER BY day;

-- Bad input: a clear error, and nothing half-done.
CREATE VIEW loom.invocations_view AS SELECT * FROM loom.invocations;
SELECT loomlat.track('loom.invocations_view');
SELECT loomlat.track('loom.no_such_table');
SELECT loomlat.track(NULL);
CREATE TABLE loom.no_latency (id int, ttft_ms float8);
SELECT loomlat.track('loom.no_latency');
CREATE TABLE loom.text_latency (cold_start_latency_ms text);
SELECT loomlat.track('loom.text_latency');
CREATE TABLE loom.bad_flag (cold_start_latency_ms float8, was_cold_start text);
SELECT loomlat.track('loom.bad_flag');
CREATE TABLE loom.nan_rows (id int, cold_start_latency_ms float8);
INSERT INTO loom.nan_rows VALUES (1, 100), (2, 'NaN');
SELECT loomlat.track('loom.nan_rows');
-- the failed calls added no column and no trigger
SELECT c.relname, string_agg(a.attname, ', ' ORDER BY a.attnum) AS columns,
	   (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) AS triggers
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'loom'::regnamespace AND c.relname IN ('no_latency', 'text_latency', 'bad_flag', 'nan_rows')
 GROUP BY c.oid, c.relname ORDER BY c.relname;

-- An identifier that needs quoting is handled as an identifier.
CREATE TABLE loom."Invocations; DROP TABLE loom.agents" (cold_start_latency_ms float8);
INSERT INTO loom."Invocations; DROP TABLE loom.agents" VALUES (501);
SELECT loomlat.track('loom."Invocations; DROP TABLE loom.agents"');
SELECT was_cold_start, (SELECT count(*) FROM loom.agents) AS agents_still_there
  FROM loom."Invocations; DROP TABLE loom.agents";

SET client_min_messages = warning;
DROP SCHEMA loom CASCADE;
RESET client_min_messages;
