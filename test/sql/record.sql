-- record_invocations(): the write path.  Inserts, replays, merge rules,
-- rounds, phases, agents, every class of bad row, privileges, and the same
-- rows as the ingestor's pre-0.2.0 upsert statement.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;
SET TimeZone = 'UTC';

INSERT INTO loomlat.agents (agent_id, name) VALUES (8001, 'Writer');

-- u(n): the test's invocation ids; show(n): what is stored for one of them.
CREATE FUNCTION pg_temp.u(n int) RETURNS uuid LANGUAGE sql
	AS $$ SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid $$;
CREATE FUNCTION pg_temp.show(n int) RETURNS TABLE (agent_id bigint, session_id text,
	status loomlat.invocation_status, client_invoke_time timestamptz, agent_start_time timestamptz,
	client_done_time timestamptz, cold_start_latency_ms float8, ttft_ms float8,
	client_duration_ms float8, was_cold_start boolean, input_tokens int, output_tokens int,
	token_cache_hit boolean, error_message text) LANGUAGE sql
	AS $$ SELECT agent_id, session_id, status, client_invoke_time, agent_start_time, client_done_time,
				 cold_start_latency_ms, ttft_ms, client_duration_ms, was_cold_start, input_tokens,
				 output_tokens, token_cache_hit, error_message
			FROM loomlat.invocations WHERE invocation_id = pg_temp.u(n) $$;
CREATE FUNCTION pg_temp.phases(n int) RETURNS TABLE (phase text, start_ms float8, duration_ms float8)
	LANGUAGE sql AS $$ SELECT phase, start_ms, duration_ms FROM loomlat.invocation_phases
					   WHERE invocation_id = pg_temp.u(n) ORDER BY phase $$;
-- Everything the write path touches, as one value: a failed call leaves it as it was.
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE sql
	AS $$ SELECT md5(coalesce((SELECT string_agg(i::text, '|' ORDER BY invocation_id) FROM loomlat.invocations i), '')
					 || coalesce((SELECT string_agg(p::text, '|' ORDER BY invocation_id, phase) FROM loomlat.invocation_phases p), '')
					 || coalesce((SELECT string_agg(a::text, '|' ORDER BY agent_id) FROM loomlat.agents a), '')) $$;
-- try(rows): the counts, or the error's SQLSTATE, COLUMN and message, and whether anything changed.
CREATE FUNCTION pg_temp.try(rows jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	before text := pg_temp.state();
	r      record;
	st     text;
	col    text;
	msg    text;
BEGIN
	SELECT * INTO r FROM loomlat.record_invocations(rows);
	RETURN format('inserted %s, updated %s, unchanged %s', r.inserted, r.updated, r.unchanged);
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, col = COLUMN_NAME, msg = MESSAGE_TEXT;
	RETURN format('%s [%s] %s%s', st, coalesce(nullif(col, ''), '-'), msg,
				  CASE WHEN pg_temp.state() <> before THEN ' -- BUT SOMETHING WAS WRITTEN' ELSE '' END);
END
$$;

-- A pending row, then the final one: inserted, then updated.
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000001", "agent_id": 8001,
	"session_id": "s1", "status": "pending", "client_invoke_time": 1962662400.25}]');
SELECT * FROM pg_temp.show(1);
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000001", "agent_id": 8001,
	"session_id": "s1", "status": "complete", "client_invoke_time": 1962662400.25,
	"client_done_time": 1962662402.75, "client_duration_ms": 2500, "ttft_ms": 812.5,
	"input_tokens": 10, "output_tokens": 42, "token_cache_hit": true,
	"phases": [{"phase": "token", "start_ms": 0, "duration_ms": 0.5},
			   {"phase": "agent.model", "start_ms": null, "duration_ms": 700}]}]');
SELECT * FROM pg_temp.show(1);
SELECT * FROM pg_temp.phases(1);

-- Replays change nothing: the final row again, and the pending row after it.
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000001", "agent_id": 8001,
	"session_id": "s1", "status": "complete", "client_invoke_time": 1962662400.25,
	"client_done_time": 1962662402.75, "client_duration_ms": 2500, "ttft_ms": 812.5,
	"input_tokens": 10, "output_tokens": 42, "token_cache_hit": true,
	"phases": [{"phase": "token", "start_ms": 0, "duration_ms": 0.5},
			   {"phase": "agent.model", "start_ms": null, "duration_ms": 700}]}]');
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-8000-000000000001", "agent_id": 8001,
	"session_id": "other", "status": "pending", "client_invoke_time": "2032-01-01 00:00:00+00"}');
SELECT status, session_id, client_invoke_time FROM pg_temp.show(1);

-- A later write fills in what was missing (the agent start time, learned
-- from logs) and reclassifies was_cold_start; unknown values erase nothing.
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-8000-000000000001",
	"agent_start_time": "2032-03-12 00:00:01.25+00", "cold_start_latency_ms": 1000, "ttft_ms": null}');
SELECT agent_start_time, cold_start_latency_ms, was_cold_start, ttft_ms, status FROM pg_temp.show(1);
-- A row without status only fills in; a row with a later status corrects,
-- and the trigger reclassifies.
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-8000-000000000001", "ttft_ms": 1}');
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-8000-000000000001", "status": "complete",
	"cold_start_latency_ms": 400}');
SELECT ttft_ms, cold_start_latency_ms, was_cold_start FROM pg_temp.show(1);

-- The status only moves forward; complete and error are final, the later wins,
-- and the error message stays once known.
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-8000-000000000001", "status": "streaming"}');
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-8000-000000000001", "status": "error",
	"error_message": "HTTP 503"}');
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-8000-000000000001", "status": "complete"}');
SELECT status, error_message FROM pg_temp.show(1);

-- Several rows for one invocation in one call apply in order, as separate
-- calls would (here: pending, final, late phase row, pending replay).
SELECT pg_temp.try('[
	{"invocation_id": "00000000-0000-4000-8000-000000000002", "agent_id": 8001, "status": "pending",
	 "client_invoke_time": "2032-03-11 12:05:00+00"},
	{"invocation_id": "00000000-0000-4000-8000-000000000003", "agent_id": 8001, "status": "pending",
	 "client_invoke_time": "2032-03-11 12:06:00+00"},
	{"invocation_id": "00000000-0000-4000-8000-000000000002", "agent_id": 8001, "status": "error",
	 "client_invoke_time": "2032-03-11 12:05:00+00", "error_message": "timed out",
	 "phases": [{"phase": "db", "start_ms": 0, "duration_ms": 3}]},
	{"invocation_id": "00000000-0000-4000-8000-000000000002",
	 "phases": [{"phase": "db", "start_ms": null, "duration_ms": 4}, {"phase": "token", "duration_ms": 1}]},
	{"invocation_id": "00000000-0000-4000-8000-000000000002", "agent_id": 8001, "status": "pending",
	 "client_invoke_time": "2032-03-11 12:05:00+00"}]');
SELECT status, error_message, client_invoke_time FROM pg_temp.show(2);
SELECT * FROM pg_temp.phases(2);
SELECT status FROM pg_temp.show(3);

-- Both time forms give the same instant; a single object is an array of one.
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000004", "agent_id": 8001,
	"status": "pending", "client_invoke_time": "2032-03-12T00:00:00.5Z"},
	{"invocation_id": "00000000-0000-4000-8000-000000000005", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400.5}]');
SELECT (SELECT client_invoke_time FROM pg_temp.show(4)) = (SELECT client_invoke_time FROM pg_temp.show(5)) AS same_instant;

-- agent_name creates the agent, then renames it (the invocation counts as updated).
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-8000-000000000006", "agent_id": 8002,
	"agent_name": "Fresh", "status": "pending", "client_invoke_time": 1962662400}');
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-8000-000000000006", "agent_id": 8002,
	"agent_name": "Renamed", "status": "pending", "client_invoke_time": 1962662400}');
SELECT agent_id, name FROM loomlat.agents WHERE agent_id = 8002;

-- Bad rows: the error names the row, its id and the key, and nothing is written.
SELECT pg_temp.try('"rows"');
SELECT pg_temp.try(NULL);
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400}, 42]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400}, {"agent_id": 8001}]');
SELECT pg_temp.try('[{"invocation_id": "not-a-uuid", "agent_id": 8001, "client_invoke_time": 1962662400}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400, "ttft": 5}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400, "ttft_ms": "5"}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400, "session_id": 5}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400, "token_cache_hit": "yes"}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": "yesterday-ish"}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1e20}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "done", "client_invoke_time": 1962662400}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "complete", "client_invoke_time": 1962662400, "ttft_ms": -1}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "complete", "client_invoke_time": 1962662400, "cold_start_latency_ms": 1e310}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "complete", "client_invoke_time": 1962662400, "output_tokens": 2.5}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "complete", "client_invoke_time": 1962662400, "input_tokens": -3}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending"}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007",
	"status": "pending", "client_invoke_time": 1962662400}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8999,
	"status": "pending", "client_invoke_time": 1962662400}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_name": "No id",
	"status": "pending", "client_invoke_time": 1962662400}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400, "phases": {"phase": "db"}}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400, "phases": [{"phase": "db"}]}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400,
	"phases": [{"phase": "db", "duration_ms": 1}, {"phase": "", "duration_ms": 1}]}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400,
	"phases": [{"phase": "db", "duration_ms": 1}, {"phase": "db", "duration_ms": -2}]}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400,
	"phases": [{"phase": "db", "duration_ms": 1}, {"phase": "db", "duration_ms": 2}]}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400, "phases": ["db"]}]');
-- Values are read by the server's own input functions, so each takes what
-- its cast takes: a UUID in braces and upper case, a time with a zone name.
SELECT pg_temp.try('[{"invocation_id": "{00000000-0000-4000-8000-0000000000AB}", "agent_id": 8001,
	"status": "pending", "client_invoke_time": "2032-03-12 09:00:00 Europe/Paris"}]');
SELECT client_invoke_time FROM loomlat.invocations WHERE invocation_id = '00000000-0000-4000-8000-0000000000ab';
-- ... and what they refuse is the row's error, never theirs.
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": "2032-03-12 09:00:00 Mars/Olympus_Mons"}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": "infinity"}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": -1e15}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400, "ttft_ms": 1e-400}]');
-- Integers are written without a fraction and fit their column.
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001.0,
	"status": "pending", "client_invoke_time": 1962662400}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 9223372036854775808,
	"status": "pending", "client_invoke_time": 1962662400}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400, "output_tokens": 2147483648}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"client_invoke_time": 1962662400, "status": "Pending"}]');
-- A phase entry's values are JSON numbers, its name a JSON string.
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400,
	"phases": [{"phase": "db", "start_ms": "0", "duration_ms": 1}]}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400,
	"phases": [{"phase": 5, "duration_ms": 1}]}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": 8001,
	"status": "pending", "client_invoke_time": 1962662400,
	"phases": [{"phase": "db", "start_ms": 1e400, "duration_ms": 1}]}]');
-- Within a row, an unknown key comes first, then the keys in name order; a
-- row's own bad value is named before another row's missing invocation or agent.
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": "8001",
	"ttft_ms": -1, "zzz": 1}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "agent_id": "8001",
	"ttft_ms": -1}]');
SELECT pg_temp.try('[{"invocation_id": "00000000-0000-4000-8000-000000000007", "status": "pending"},
	{"invocation_id": "00000000-0000-4000-8000-000000000008", "agent_id": 8001,
	 "client_invoke_time": 1962662400, "ttft_ms": -1}]');
-- The hint of an unknown key lists the keys.
DO $$
DECLARE
	hint text;
BEGIN
	PERFORM loomlat.record_invocations('{"invocation_id": "00000000-0000-4000-8000-000000000007", "ttft": 1}');
EXCEPTION WHEN invalid_parameter_value THEN
	GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
	RAISE NOTICE '%', hint;
END
$$;
SELECT count(*) AS written FROM loomlat.invocations WHERE invocation_id = pg_temp.u(7);

-- An empty array writes nothing.
SELECT pg_temp.try('[]');

-- The rows as record_rows() hands them to the statements: typed, and the
-- k-th row of an invocation in round k (here ids 11, 12, 11, 11, 13).
SELECT r.invocations, r.rounds, r.named, cardinality(r.invocation_rows) AS rows,
	   cardinality(r.phase_rows) AS phases
  FROM loomlat.record_rows('[{"invocation_id": "00000000-0000-4000-8000-000000000011"},
	{"invocation_id": "00000000-0000-4000-8000-000000000012", "agent_id": 8001, "agent_name": "W"},
	{"invocation_id": "00000000-0000-4000-8000-000000000011", "phases": [{"phase": "a", "duration_ms": 1}]},
	{"invocation_id": "00000000-0000-4000-8000-000000000011", "status": "error", "ttft_ms": 2.5},
	{"invocation_id": "00000000-0000-4000-8000-000000000013", "input_tokens": 7,
	 "phases": [{"phase": "a", "start_ms": null, "duration_ms": 0}, {"phase": "b", "start_ms": -1, "duration_ms": 3}]}]') AS r;
SELECT g.* FROM loomlat.record_rows('[{"invocation_id": "00000000-0000-4000-8000-000000000011"},
	{"invocation_id": "00000000-0000-4000-8000-000000000012", "agent_id": 8001, "agent_name": "W"},
	{"invocation_id": "00000000-0000-4000-8000-000000000011", "phases": [{"phase": "a", "duration_ms": 1}]},
	{"invocation_id": "00000000-0000-4000-8000-000000000011", "status": "error", "ttft_ms": 2.5},
	{"invocation_id": "00000000-0000-4000-8000-000000000013", "input_tokens": 7,
	 "phases": [{"phase": "a", "start_ms": null, "duration_ms": 0}, {"phase": "b", "start_ms": -1, "duration_ms": 3}]}]') AS r,
	   unnest(r.invocation_rows) AS g;
SELECT p.* FROM loomlat.record_rows('[{"invocation_id": "00000000-0000-4000-8000-000000000011"},
	{"invocation_id": "00000000-0000-4000-8000-000000000011", "phases": [{"phase": "a", "duration_ms": 1}]},
	{"invocation_id": "00000000-0000-4000-8000-000000000013",
	 "phases": [{"phase": "a", "start_ms": null, "duration_ms": 0}, {"phase": "b", "start_ms": -1, "duration_ms": 3}]}]') AS r,
	   unnest(r.phase_rows) AS p;

-- A role with only the table privileges can write (nothing is SECURITY DEFINER).
CREATE ROLE loomlat_regress_writer;
GRANT USAGE ON SCHEMA loomlat TO loomlat_regress_writer;
GRANT SELECT, INSERT, UPDATE ON loomlat.invocations, loomlat.invocation_phases, loomlat.rollup_dirty TO loomlat_regress_writer;
GRANT SELECT ON loomlat.agents TO loomlat_regress_writer;
SET ROLE loomlat_regress_writer;
SELECT * FROM loomlat.record_invocations('[{"invocation_id": "00000000-0000-4000-8000-000000000008",
	"agent_id": 8001, "status": "complete", "client_invoke_time": 1962662400,
	"phases": [{"phase": "db", "start_ms": 0, "duration_ms": 2}]}]');
-- ... and creating an agent needs INSERT on loomlat.agents.
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-8000-000000000009", "agent_id": 8003,
	"agent_name": "Nope", "status": "pending", "client_invoke_time": 1962662400}');
RESET ROLE;
SELECT status FROM pg_temp.show(8);

-- The same rows as the ingestor wrote through its pre-0.2.0 upsert statement
-- (verbatim below): pending rows, then final rows with phases, one batch each.
PREPARE old_upsert(jsonb) AS
WITH item AS ( SELECT i.r, i.ord FROM pg_catalog.jsonb_array_elements($1::pg_catalog.jsonb) WITH ORDINALITY AS i(r, ord)), inv AS ( SELECT DISTINCT ON (x.invocation_id) x.* FROM item, pg_catalog.jsonb_to_record(item.r) AS x(invocation_id uuid, agent_id bigint,  session_id text, status loomlat.invocation_status, client_invoke_time float8,  agent_start_time float8, client_done_time float8, cold_start_latency_ms float8,  ttft_ms float8, client_duration_ms float8, input_tokens integer, output_tokens integer,  token_cache_hit boolean, error_message text) WHERE x.status IS NOT NULL ORDER BY x.invocation_id, item.ord DESC), upsert AS ( INSERT INTO loomlat.invocations AS t (invocation_id, agent_id, session_id, status,  client_invoke_time, agent_start_time, client_done_time, cold_start_latency_ms, ttft_ms,  client_duration_ms, input_tokens, output_tokens, token_cache_hit, error_message) SELECT invocation_id, agent_id, session_id, status,  pg_catalog.to_timestamp(client_invoke_time), pg_catalog.to_timestamp(agent_start_time),  pg_catalog.to_timestamp(client_done_time), cold_start_latency_ms, ttft_ms,  client_duration_ms, input_tokens, output_tokens, token_cache_hit, error_message FROM inv ON CONFLICT (invocation_id) DO UPDATE SET agent_id = EXCLUDED.agent_id,  session_id = EXCLUDED.session_id, status = EXCLUDED.status,  client_invoke_time = EXCLUDED.client_invoke_time,  agent_start_time = EXCLUDED.agent_start_time,  client_done_time = EXCLUDED.client_done_time,  cold_start_latency_ms = EXCLUDED.cold_start_latency_ms, ttft_ms = EXCLUDED.ttft_ms,  client_duration_ms = EXCLUDED.client_duration_ms, input_tokens = EXCLUDED.input_tokens,  output_tokens = EXCLUDED.output_tokens, token_cache_hit = EXCLUDED.token_cache_hit,  error_message = EXCLUDED.error_message WHERE EXCLUDED.status <> 'pending'::loomlat.invocation_status), phase AS ( SELECT DISTINCT ON (x.invocation_id, p.phase) x.invocation_id, p.phase, p.start_ms,  p.duration_ms FROM item, pg_catalog.jsonb_to_record(item.r) AS x(invocation_id uuid, phases jsonb),  pg_catalog.jsonb_to_recordset(x.phases) AS p(phase text, start_ms float8,  duration_ms float8) ORDER BY x.invocation_id, p.phase, item.ord DESC) INSERT INTO loomlat.invocation_phases AS t (invocation_id, phase, start_ms, duration_ms) SELECT invocation_id, phase, start_ms, duration_ms FROM phase ON CONFLICT (invocation_id, phase) DO UPDATE SET start_ms = EXCLUDED.start_ms,  duration_ms = EXCLUDED.duration_ms;

-- rows(prefix, final): 60 invocations as invoke.c writes them; prefix tells the two copies apart.
CREATE FUNCTION pg_temp.rows(prefix text, final boolean) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_agg(jsonb_strip_nulls(CASE WHEN NOT final THEN base || '{"status": "pending"}'
		ELSE base || jsonb_build_object(
			'status', CASE WHEN i % 7 = 0 THEN 'error' ELSE 'complete' END,
			'error_message', CASE WHEN i % 7 = 0 THEN 'HTTP 500 from the agent' END,
			'client_done_time', t0 + 2.5 + i % 5, 'client_duration_ms', 2500.125 + (i % 5) * 1000,
			'ttft_ms', CASE WHEN i % 11 <> 0 THEN 300.5 + (i * 37) % 2000 END,
			'cold_start_latency_ms', CASE WHEN i % 13 <> 0 THEN (i * 613) % 2500 - 300 END,
			'agent_start_time', CASE WHEN i % 13 <> 0 THEN t0 + ((i * 613) % 2500 - 300) / 1000.0 END,
			'input_tokens', CASE WHEN i % 3 <> 0 THEN 100 + i END, 'output_tokens', 20 + i,
			'token_cache_hit', CASE WHEN i % 4 <> 0 THEN i % 2 = 0 END,
			'phases', jsonb_build_array(
				jsonb_build_object('phase', 'token', 'start_ms', 0, 'duration_ms', 0.25 * i),
				jsonb_build_object('phase', 'db', 'start_ms', 0, 'duration_ms', 1.5),
				jsonb_build_object('phase', 'first_token', 'start_ms', 1.75, 'duration_ms', 298.75 + i),
				jsonb_build_object('phase', 'agent.model', 'start_ms', NULL, 'duration_ms', 100 + i)))
		END) ORDER BY i)
	FROM generate_series(1, 60) AS i,
		 LATERAL (SELECT 1962662400 + i * 1.125 AS t0) AS t,
		 LATERAL (SELECT jsonb_build_object('invocation_id', (prefix || lpad(i::text, 12, '0'))::uuid,
				'agent_id', 8001, 'session_id', 'session-' || i % 4, 'client_invoke_time', t0) AS base) AS b
$$;
EXECUTE old_upsert(pg_temp.rows('00000000-0000-4000-9000-', false));
EXECUTE old_upsert(pg_temp.rows('00000000-0000-4000-9000-', true));
SELECT pg_temp.try(pg_temp.rows('00000000-0000-4000-a000-', false));
SELECT pg_temp.try(pg_temp.rows('00000000-0000-4000-a000-', true));
-- Every column and phase of the 60 invocations, old against new (no row differs).
SELECT count(*) AS invocations,
	   count(*) FILTER (WHERE (o.agent_id, o.session_id, o.status, o.client_invoke_time, o.agent_start_time,
							   o.client_done_time, o.cold_start_latency_ms, o.ttft_ms, o.client_duration_ms,
							   o.was_cold_start, o.input_tokens, o.output_tokens, o.token_cache_hit, o.error_message)
						   IS NOT DISTINCT FROM
						   (n.agent_id, n.session_id, n.status, n.client_invoke_time, n.agent_start_time,
							n.client_done_time, n.cold_start_latency_ms, n.ttft_ms, n.client_duration_ms,
							n.was_cold_start, n.input_tokens, n.output_tokens, n.token_cache_hit, n.error_message)) AS equal,
	   count(*) FILTER (WHERE o.status = 'error') AS errors, count(o.ttft_ms) AS with_ttft
FROM loomlat.invocations o
	 JOIN loomlat.invocations n ON right(n.invocation_id::text, 12) = right(o.invocation_id::text, 12)
								 AND n.invocation_id::text LIKE '00000000-0000-4000-a000-%'
WHERE o.invocation_id::text LIKE '00000000-0000-4000-9000-%';
SELECT count(*) AS phases,
	   count(*) FILTER (WHERE (o.start_ms, o.duration_ms) IS NOT DISTINCT FROM (n.start_ms, n.duration_ms)) AS equal
FROM loomlat.invocation_phases o
	 JOIN loomlat.invocation_phases n ON right(n.invocation_id::text, 12) = right(o.invocation_id::text, 12)
									  AND n.phase = o.phase AND n.invocation_id::text LIKE '00000000-0000-4000-a000-%'
WHERE o.invocation_id::text LIKE '00000000-0000-4000-9000-%';
-- Replaying both batches through record_invocations() changes nothing.
SELECT pg_temp.try(pg_temp.rows('00000000-0000-4000-a000-', false) || pg_temp.rows('00000000-0000-4000-a000-', true));

-- A start time learned later, alone: the latency is derived from the stored
-- invoke time and was_cold_start reclassified (750 ms > the 500 ms default).
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-b000-000000000001", "agent_id": 8001,
	"status": "complete", "client_invoke_time": "2032-05-01 00:00:00+00", "ttft_ms": 900}');
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-b000-000000000001",
	"agent_start_time": "2032-05-01 00:00:00.75+00"}');
SELECT cold_start_latency_ms, was_cold_start, status FROM loomlat.invocations
WHERE invocation_id = '00000000-0000-4000-b000-000000000001';
-- A latency already known is kept; a given one wins over the derived one.
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-b000-000000000001",
	"agent_start_time": "2032-05-01 00:00:00.10+00"}');
SELECT pg_temp.try('{"invocation_id": "00000000-0000-4000-b000-000000000002", "agent_id": 8001,
	"status": "complete", "client_invoke_time": 1966982400, "agent_start_time": 1966982400.2,
	"cold_start_latency_ms": 50}');
SELECT invocation_id, cold_start_latency_ms, was_cold_start FROM loomlat.invocations
WHERE invocation_id::text LIKE '00000000-0000-4000-b000-%' ORDER BY invocation_id;

DELETE FROM loomlat.invocations WHERE agent_id IN (8001, 8002);
DELETE FROM loomlat.agents WHERE agent_id IN (8001, 8002);
DROP OWNED BY loomlat_regress_writer;
DROP ROLE loomlat_regress_writer;
