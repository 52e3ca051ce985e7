-- record_invocations() on mutated input: every call either writes or fails
-- with one of the documented errors, naming the row (or the argument) and,
-- for a row's key, that key in COLUMN; a failed call writes nothing, and no
-- call crashes the server.  Two generators, both seeded so that every run is
-- the same: rows whose keys get values of every kind, good and bad; and the
-- JSON text of such rows with random characters replaced.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;
SET TimeZone = 'UTC';

INSERT INTO loomlat.agents (agent_id, name) VALUES (8101, 'Fuzz');
SELECT setseed(0.25);

-- pick(a): an element of the JSON array a, at random.
CREATE FUNCTION pg_temp.pick(a jsonb) RETURNS jsonb LANGUAGE sql
	AS $$ SELECT a -> floor(random() * jsonb_array_length(a))::int $$;
-- A value for any key: right or wrong JSON type, in range or not.
CREATE FUNCTION pg_temp.any_value() RETURNS jsonb LANGUAGE sql AS $$
	SELECT pg_temp.pick('[null, true, false, 0, -1, 1, 2.5, 1.0, 8101, 1e20, 1e-400, 1e400,
		9223372036854775808, 2147483648, 1962662400.25, -1e15, "", "x", "pending", "streaming",
		"complete", "error", "Pending", "not-a-uuid", "00000000-0000-4000-8000-00000000ffff",
		"{00000000-0000-4000-8000-00000000FFFF}", "2032-03-12 00:00:00+00", "infinity", "epoch",
		"2032-13-45", "2032-03-12 12:00 Mars/Olympus", [], [1], {}, {"phase": "db"}, ["db"], [null],
		[{"phase": "db", "duration_ms": 1}], [{"phase": "db", "start_ms": null, "duration_ms": -1}],
		[{"phase": "a", "duration_ms": 1}, {"phase": "a", "duration_ms": 2}],
		[{"phase": "", "duration_ms": 0}], [{"phase": 5, "start_ms": "0", "duration_ms": 1e400}]]')
$$;
-- A row that writes, for one of 40 invocations.
CREATE FUNCTION pg_temp.good_row() RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object('invocation_id', md5(floor(random() * 40)::text)::uuid, 'agent_id', 8101,
		'status', pg_temp.pick('["pending", "streaming", "complete", "error"]'),
		'client_invoke_time', 1962662400 + floor(random() * 1000), 'ttft_ms', round(random() * 900),
		'input_tokens', floor(random() * 100), 'token_cache_hit', random() < 0.5,
		'phases', jsonb_build_array(jsonb_build_object('phase', 'db', 'start_ms', 0, 'duration_ms', 1.5),
									jsonb_build_object('phase', 'model', 'duration_ms', round(random() * 500))))
$$;
-- good_row() with up to three keys (known or not) replaced, removed or given
-- any value, or now and then not an object at all.
CREATE FUNCTION pg_temp.mutated_row() RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r   jsonb := pg_temp.good_row();
	key text;
BEGIN
	IF random() < 0.03 THEN
		RETURN pg_temp.any_value();
	END IF;
	FOR i IN 1 .. floor(random() * 4)::int LOOP
		key := pg_temp.pick('["invocation_id", "agent_id", "agent_name", "session_id", "status",
			"client_invoke_time", "agent_start_time", "client_done_time", "cold_start_latency_ms",
			"ttft_ms", "client_duration_ms", "input_tokens", "output_tokens", "token_cache_hit",
			"error_message", "phases", "ttft", ""]') #>> '{}';
		r := CASE WHEN random() < 0.2 THEN r - key ELSE r || jsonb_build_object(key, pg_temp.any_value()) END;
	END LOOP;
	RETURN r;
END
$$;
-- Everything the write path touches, as one value.
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE sql
	AS $$ SELECT md5(coalesce((SELECT string_agg(i::text, '|' ORDER BY invocation_id) FROM loomlat.invocations i), '')
					 || coalesce((SELECT string_agg(p::text, '|' ORDER BY invocation_id, phase) FROM loomlat.invocation_phases p), '')
					 || coalesce((SELECT string_agg(a::text, '|' ORDER BY agent_id) FROM loomlat.agents a), '')) $$;

CREATE TEMP TABLE outcome (generator text, state text, col text, msg text, wrote_on_failure boolean);

-- call(generator, rows): one call, its outcome recorded.
CREATE FUNCTION pg_temp.call(generator text, rows jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	before text := pg_temp.state();
	st     text;
	col    text;
	msg    text;
BEGIN
	PERFORM loomlat.record_invocations(rows);
	INSERT INTO outcome VALUES (generator, 'written', NULL, NULL, false);
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, col = COLUMN_NAME, msg = MESSAGE_TEXT;
	INSERT INTO outcome VALUES (generator, st, nullif(col, ''), msg, pg_temp.state() <> before);
END
$$;

-- 1,500 calls of one to four mutated rows.
DO $$
BEGIN
	FOR i IN 1 .. 1500 LOOP
		PERFORM pg_temp.call('rows', (SELECT jsonb_agg(pg_temp.mutated_row())
										FROM generate_series(0, floor(random() * 4)::int)));
	END LOOP;
END
$$;

-- 1,500 calls with the JSON text of good rows, random characters replaced
-- (the texts that jsonb_in rejects are skipped).
CREATE FUNCTION pg_temp.garbled() RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	doc text := jsonb_build_array(pg_temp.good_row(), pg_temp.good_row())::text;
	pos int;
BEGIN
	FOR i IN 1 .. 1 + floor(random() * 3)::int LOOP
		pos := 1 + floor(random() * length(doc))::int;
		doc := overlay(doc placing substr('{}[]",:0123456789-.e ntrufalsx', 1 + floor(random() * 31)::int, 1)
						FROM pos FOR 1);
	END LOOP;
	RETURN doc::jsonb;
EXCEPTION WHEN data_exception THEN
	RETURN NULL;
END
$$;
DO $$
DECLARE
	rows jsonb;
BEGIN
	FOR i IN 1 .. 1500 LOOP
		rows := pg_temp.garbled();
		IF rows IS NOT NULL THEN
			PERFORM pg_temp.call('text', rows);
		END IF;
	END LOOP;
END
$$;

-- Both generators wrote and failed; every failure is a documented one.
SELECT generator, count(*) FILTER (WHERE state = 'written') > 0 AS some_written,
	   count(*) FILTER (WHERE state <> 'written') > 0 AS some_failed,
	   count(*) FILTER (WHERE wrote_on_failure) AS wrote_on_failure,
	   count(*) FILTER (WHERE state <> 'written' AND NOT (
		   state IN ('42804', '22023', '23502', '23503')
		   AND (msg ~ '^row [0-9]+( \(invocation_id [0-9a-f-]{36}\))?: '
				OR msg ~ '^loomlat\.record_invocations\(\) needs a JSON array of rows, not a JSON [a-z]+$')
		   AND (col IS NOT NULL OR msg ~ ': a row must be a JSON object, not a JSON [a-z]+$'
				OR msg ~ ': unknown key ""$' OR msg ~ '^loomlat\.record_invocations\(\) needs')
		   AND (col IS NULL OR strpos(msg, '"' || col || '"') > 0
				OR (col = 'agent_id' AND msg ~ ': agent -?[0-9]+ is not in loomlat\.agents$')))) AS undocumented
  FROM outcome GROUP BY generator ORDER BY generator;
-- The errors the first generator met, by class and key.
SELECT state, col, count(*) > 0 AS seen FROM outcome WHERE generator = 'rows' AND state <> 'written'
 GROUP BY state, col ORDER BY state, col;

DELETE FROM loomlat.invocations WHERE agent_id = 8101;
DELETE FROM loomlat.agents WHERE agent_id = 8101;
