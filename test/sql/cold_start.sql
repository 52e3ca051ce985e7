-- Cold-start classification: the setting, is_cold_start(), and the trigger.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;

-- The library loads on first use; from then on the setting is defined.
SELECT loomlat.cold_start_threshold_ms();
SHOW loomlat.cold_start_threshold_ms;
SELECT setting, unit, context, min_val, max_val
  FROM pg_settings WHERE name = 'loomlat.cold_start_threshold_ms';

-- Units work, and the accessor always answers in ms (current_setting() would
-- print a unit that a float8 cast cannot read).
SET loomlat.cold_start_threshold_ms = '2s';
SHOW loomlat.cold_start_threshold_ms;
SELECT loomlat.cold_start_threshold_ms();
SET loomlat.cold_start_threshold_ms = 750;
SELECT loomlat.cold_start_threshold_ms();
RESET loomlat.cold_start_threshold_ms;

-- Bounded, and the prefix is reserved.
SET loomlat.cold_start_threshold_ms = -1;
SET loomlat.cold_start_threshold_ms = '2d';
SET loomlat.cold_start_threshold_ms = 'soon';
SET loomlat.cold_start_treshold_ms = 100;

-- The rule: strictly above the threshold is cold; NULL is unknown.
SELECT v, loomlat.is_cold_start(v) AS by_setting, loomlat.is_cold_start(v, 100) AS over_100
  FROM (VALUES (NULL::float8), (-250), (0), (100), (100.0001), (499.999), (500), (500.001), (86400000)) t(v);
SELECT loomlat.is_cold_start(600, NULL) IS NULL AS null_threshold_is_null;

-- Bad input is an error, never a guess.
SELECT loomlat.is_cold_start('NaN');
SELECT loomlat.is_cold_start('Infinity');
SELECT loomlat.is_cold_start('-Infinity', 100);
SELECT loomlat.is_cold_start(100, -5);
SELECT loomlat.is_cold_start(100, 'NaN');
SELECT loomlat.is_cold_start(100, 86400001);

-- The trigger classifies on insert.
INSERT INTO loomlat.agents (agent_id, name) VALUES (1, 'classifier test');
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, cold_start_latency_ms, was_cold_start)
VALUES ('00000000-0000-0000-0000-000000000001', 1, '2026-11-01 10:00:00+00', 2400, false),
       ('00000000-0000-0000-0000-000000000002', 1, '2026-11-01 10:00:01+00', 120, true),
       ('00000000-0000-0000-0000-000000000003', 1, '2026-11-01 10:00:02+00', NULL, true),
       ('00000000-0000-0000-0000-000000000004', 1, '2026-11-01 10:00:03+00', -40, NULL),
       ('00000000-0000-0000-0000-000000000005', 1, '2026-11-01 10:00:04+00', 500, NULL);
SELECT invocation_id, cold_start_latency_ms, was_cold_start FROM loomlat.invocations ORDER BY invocation_id;

-- The latency often arrives late (from the agent's logs): classify then.
UPDATE loomlat.invocations SET cold_start_latency_ms = 3100
 WHERE invocation_id = '00000000-0000-0000-0000-000000000003';
-- A new latency reclassifies; clearing it makes the class unknown again.
UPDATE loomlat.invocations SET cold_start_latency_ms = 90
 WHERE invocation_id = '00000000-0000-0000-0000-000000000001';
UPDATE loomlat.invocations SET cold_start_latency_ms = NULL
 WHERE invocation_id = '00000000-0000-0000-0000-000000000002';
SELECT invocation_id, cold_start_latency_ms, was_cold_start FROM loomlat.invocations ORDER BY invocation_id;

-- The threshold in force when the latency was written decides; later updates
-- that leave the latency alone (a status change) never reclassify.
SET loomlat.cold_start_threshold_ms = 50;
UPDATE loomlat.invocations SET status = 'complete';
UPDATE loomlat.invocations SET cold_start_latency_ms = cold_start_latency_ms;
SELECT invocation_id, cold_start_latency_ms, was_cold_start FROM loomlat.invocations ORDER BY invocation_id;
UPDATE loomlat.invocations SET cold_start_latency_ms = 60
 WHERE invocation_id = '00000000-0000-0000-0000-000000000004';
SELECT was_cold_start FROM loomlat.invocations WHERE invocation_id = '00000000-0000-0000-0000-000000000004';
RESET loomlat.cold_start_threshold_ms;

-- The trigger function refuses to be misused.
SELECT loomlat.classify_cold_start();
CREATE TABLE no_latency (id int, was_cold_start boolean);
CREATE TRIGGER t BEFORE INSERT ON no_latency FOR EACH ROW EXECUTE FUNCTION loomlat.classify_cold_start();
INSERT INTO no_latency VALUES (1, NULL);
CREATE TABLE after_trigger (cold_start_latency_ms float8, was_cold_start boolean);
CREATE TRIGGER t AFTER INSERT ON after_trigger FOR EACH ROW EXECUTE FUNCTION loomlat.classify_cold_start();
INSERT INTO after_trigger VALUES (1, NULL);
DROP TABLE no_latency, after_trigger;

DELETE FROM loomlat.invocations;
DELETE FROM loomlat.agents;

-- Ops set the threshold per database or per role; a new session picks it up
-- (checked against the bounds when the library loads), the role's setting
-- winning over the database's.
SELECT format('ALTER DATABASE %I SET loomlat.cold_start_threshold_ms = %L', current_database(), '1500ms') \gexec
\c -
SELECT loomlat.cold_start_threshold_ms(), loomlat.is_cold_start(1000), loomlat.is_cold_start(2000);
ALTER ROLE CURRENT_USER SET loomlat.cold_start_threshold_ms = '3s';
\c -
SELECT loomlat.cold_start_threshold_ms();
ALTER ROLE CURRENT_USER RESET loomlat.cold_start_threshold_ms;
SELECT format('ALTER DATABASE %I RESET loomlat.cold_start_threshold_ms', current_database()) \gexec
\c -
SELECT loomlat.cold_start_threshold_ms();
