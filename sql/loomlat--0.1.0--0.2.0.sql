/*
 * loomlat 0.1.0 -> 0.2.0: the extension owns the write path.
 *
 * New: loomlat.record_invocations(jsonb), from sql/parts/25_record.sql,
 * repeated here as it is there.  test/upgrade.sh checks that an updated
 * database and a fresh 0.2.0 install have identical catalogs.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION loomlat UPDATE TO '0.2.0'" to load this file. \quit

/*
 * The write path: record_invocations(rows) is the one way invocations and
 * their phases get written, by the ingestor and by anyone else.  The column
 * layout of the tables is known here and nowhere else.
 *
 * Contract (also in the README and the function's comment).  rows is a JSON
 * array of row objects (a single object is taken as an array of one).  Keys:
 * invocation_id (UUID string, required); agent_id (integer; required for a
 * new invocation); agent_name (creates the agent, or renames it; needs
 * agent_id); session_id; status (pending, streaming, complete, error);
 * client_invoke_time (required for a new invocation), agent_start_time,
 * client_done_time (timestamptz strings, or Unix seconds as numbers);
 * cold_start_latency_ms, ttft_ms, client_duration_ms (numbers);
 * input_tokens, output_tokens (integers); token_cache_hit (boolean);
 * error_message; phases (array of {phase, start_ms, duration_ms}; other keys
 * in a phase are ignored).  Any other key is an error; JSON null means "not
 * known", exactly like an absent key.
 *
 * Merge rules.  Rows apply in array order, with the same result as one call
 * per row.  A row with status streaming, complete or error replaces each
 * value it knows; a row with status pending, or without a status, is a
 * start record: it only fills in what is still unknown.  No row erases a
 * known value (error_message included: an invocation that completes after an
 * error keeps the message), and the status only moves forward, pending <
 * streaming < complete = error (between complete and error the later row
 * wins).  Phases are keyed by (invocation_id, phase): duration_ms replaces, a
 * known start_ms replaces.  The classification trigger reclassifies
 * was_cold_start when cold_start_latency_ms changes.  Returns how many
 * invocations the call inserted, updated (anything changed: the row, a
 * phase, the agent's name) and left unchanged (an exact replay).
 *
 * Errors.  A bad row fails the whole call (nothing is written) with a message
 * "row N (invocation_id U): ..." naming the 1-based position, the id when
 * readable, and the key (also in the error's COLUMN field).  The happy path
 * is one set-based statement; the merge happens in ON CONFLICT against the
 * current row version.  An invocation with several rows in the call makes
 * that statement fail (ON CONFLICT cannot touch a row twice), and the call
 * is replayed in rounds, the k-th row of each invocation in round k.  Only
 * when a call fails for another reason does a second pass walk the rows to
 * find and name the first bad one.  Either way one subtransaction per call.
 *
 * Privileges.  Not SECURITY DEFINER: the caller needs USAGE on schema
 * loomlat; SELECT, INSERT and UPDATE on loomlat.invocations and
 * loomlat.invocation_phases; SELECT on loomlat.agents (plus INSERT and
 * UPDATE when rows carry agent_name).
 */
CREATE FUNCTION loomlat.record_invocations(rows jsonb,
										   OUT inserted bigint, OUT updated bigint, OUT unchanged bigint)
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $record$
DECLARE
	-- each key's kind, and each kind's JSON types and description
	kinds     CONSTANT jsonb := '{"invocation_id": "uuid", "agent_id": "id", "agent_name": "text",
		"session_id": "text", "status": "status", "client_invoke_time": "time",
		"agent_start_time": "time", "client_done_time": "time", "cold_start_latency_ms": "number",
		"ttft_ms": "ms", "client_duration_ms": "ms", "input_tokens": "count",
		"output_tokens": "count", "token_cache_hit": "boolean", "error_message": "text",
		"phases": "phases"}';
	expect    CONSTANT jsonb := '{"uuid": [["string"], "a UUID string"],
		"id": [["number"], "an integer"], "count": [["number"], "an integer >= 0"],
		"text": [["string"], "a string"], "boolean": [["boolean"], "true or false"],
		"status": [["string"], "one of \"pending\", \"streaming\", \"complete\", \"error\""],
		"time": [["string", "number"], "a timestamptz string or Unix seconds"],
		"number": [["number"], "a finite number"], "ms": [["number"], "a finite number >= 0"],
		"phases": [["array"], "an array of phases"]}';
	keys      CONSTANT text[] := ARRAY(SELECT pg_catalog.jsonb_object_keys(kinds));
	phase_is  CONSTANT text := '{"phase": name, "start_ms": number or null, "duration_ms": number >= 0}';
	started   CONSTANT timestamptz := pg_catalog.clock_timestamp(); -- created_at of what this call inserts
	batch     jsonb := rows;
	split     boolean := false;
	rounds    jsonb[];
	part      jsonb;
	n         bigint;
	total     bigint;
	fresh     uuid[] := '{}';
	changed   uuid[] := '{}';
	renamed   bigint[];           -- agents this round created or renamed
	-- the diagnostic pass
	state     text;
	pos       bigint;
	r         jsonb;
	at        text;
	id        uuid;
	field     text;
	kind      text;
	val       jsonb;
	entry     bigint;
	names     text[];
	known     uuid[] := '{}';
	named     text[];
	item      jsonb;
BEGIN
	IF rows IS NULL THEN
		RAISE EXCEPTION 'loomlat.record_invocations() needs a JSON array of rows, not NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF pg_catalog.jsonb_typeof(rows) OPERATOR(pg_catalog.=) 'object' THEN
		batch := pg_catalog.jsonb_build_array(rows);
	ELSIF pg_catalog.jsonb_typeof(rows) OPERATOR(pg_catalog.<>) 'array' THEN
		RAISE EXCEPTION 'loomlat.record_invocations() needs a JSON array of rows, not a JSON %',
						pg_catalog.jsonb_typeof(rows)
			USING ERRCODE = 'datatype_mismatch';
	END IF;

	-- One round for the whole batch; when that fails because an invocation has
	-- several rows (ON CONFLICT cannot touch a row twice), the k-th row of each
	-- invocation goes in round k.  Any other failure: the diagnostic pass.
	LOOP
		BEGIN
			rounds := ARRAY[batch];
			IF split THEN
				SELECT pg_catalog.array_agg(k.part ORDER BY k.n) INTO rounds
				  FROM (SELECT e.n, pg_catalog.jsonb_agg(e.r ORDER BY e.ord) AS part
						  FROM (SELECT i.r, i.ord, pg_catalog.row_number() OVER (
									PARTITION BY i.r OPERATOR(pg_catalog.->>) 'invocation_id' ORDER BY i.ord) AS n
								  FROM pg_catalog.jsonb_array_elements(batch) WITH ORDINALITY AS i(r, ord)) e
						 GROUP BY e.n) k;
			END IF;
			total := NULL;

			FOREACH part IN ARRAY rounds LOOP
				-- Agents named in this round: created or renamed, the last name wins.
				-- A separate statement, so that writing without agent_name needs no
				-- privilege on loomlat.agents beyond SELECT.
				renamed := '{}';
				IF pg_catalog.jsonb_path_exists(part, 'lax $[*].agent_name ? (@ != null)') THEN
					WITH agent AS (
						INSERT INTO loomlat.agents AS a (agent_id, name)
						SELECT DISTINCT ON (1) nullif(e.r OPERATOR(pg_catalog.->) 'agent_id', 'null')::numeric::text::bigint,
							   CASE WHEN pg_catalog.jsonb_typeof(e.r OPERATOR(pg_catalog.->) 'agent_name') OPERATOR(pg_catalog.=) 'string'
									THEN e.r OPERATOR(pg_catalog.->>) 'agent_name' END
						  FROM pg_catalog.jsonb_array_elements(part) WITH ORDINALITY AS e(r, ord)
						 WHERE e.r OPERATOR(pg_catalog.->>) 'agent_name' IS NOT NULL
						 ORDER BY 1, e.ord DESC
						ON CONFLICT (agent_id) DO UPDATE SET name = EXCLUDED.name
						 WHERE a.name OPERATOR(pg_catalog.<>) EXCLUDED.name
						RETURNING a.agent_id
					)
					SELECT coalesce(pg_catalog.array_agg(agent.agent_id), '{}') INTO renamed FROM agent;
				END IF;

				-- A row of the wrong shape gets a NULL invocation_id (a phase entry a
				-- NULL phase), which the table refuses: the cheap way to fail here.
				WITH given AS (
					SELECT i.ord, i.r,
						   CASE WHEN pg_catalog.jsonb_typeof(i.r OPERATOR(pg_catalog.->) 'invocation_id') OPERATOR(pg_catalog.=) 'string'
									 AND i.r OPERATOR(pg_catalog.-) keys OPERATOR(pg_catalog.=) '{}'
									 AND coalesce(pg_catalog.jsonb_typeof(i.r OPERATOR(pg_catalog.->) 'agent_name'), 'null') OPERATOR(pg_catalog.=) ANY (ARRAY['string', 'null'])
									 AND coalesce(pg_catalog.jsonb_typeof(i.r OPERATOR(pg_catalog.->) 'session_id'), 'null') OPERATOR(pg_catalog.=) ANY (ARRAY['string', 'null'])
									 AND coalesce(pg_catalog.jsonb_typeof(i.r OPERATOR(pg_catalog.->) 'error_message'), 'null') OPERATOR(pg_catalog.=) ANY (ARRAY['string', 'null'])
								THEN (i.r OPERATOR(pg_catalog.->>) 'invocation_id')::uuid END AS invocation_id,
						   nullif(i.r OPERATOR(pg_catalog.->) 'agent_id', 'null')::numeric::text::bigint AS agent_id,
						   i.r OPERATOR(pg_catalog.->>) 'agent_name' AS agent_name,
						   i.r OPERATOR(pg_catalog.->>) 'session_id' AS session_id,
						   coalesce((i.r OPERATOR(pg_catalog.->>) 'status')::loomlat.invocation_status, 'pending') AS status,
						   CASE WHEN pg_catalog.jsonb_typeof(i.r OPERATOR(pg_catalog.->) 'client_invoke_time') OPERATOR(pg_catalog.=) 'number'
								THEN pg_catalog.to_timestamp((i.r OPERATOR(pg_catalog.->>) 'client_invoke_time')::float8)
								ELSE (i.r OPERATOR(pg_catalog.->>) 'client_invoke_time')::timestamptz END AS client_invoke_time,
						   CASE WHEN pg_catalog.jsonb_typeof(i.r OPERATOR(pg_catalog.->) 'agent_start_time') OPERATOR(pg_catalog.=) 'number'
								THEN pg_catalog.to_timestamp((i.r OPERATOR(pg_catalog.->>) 'agent_start_time')::float8)
								ELSE (i.r OPERATOR(pg_catalog.->>) 'agent_start_time')::timestamptz END AS agent_start_time,
						   CASE WHEN pg_catalog.jsonb_typeof(i.r OPERATOR(pg_catalog.->) 'client_done_time') OPERATOR(pg_catalog.=) 'number'
								THEN pg_catalog.to_timestamp((i.r OPERATOR(pg_catalog.->>) 'client_done_time')::float8)
								ELSE (i.r OPERATOR(pg_catalog.->>) 'client_done_time')::timestamptz END AS client_done_time,
						   nullif(i.r OPERATOR(pg_catalog.->) 'cold_start_latency_ms', 'null')::float8 AS cold_start_latency_ms,
						   nullif(i.r OPERATOR(pg_catalog.->) 'ttft_ms', 'null')::float8 AS ttft_ms,
						   nullif(i.r OPERATOR(pg_catalog.->) 'client_duration_ms', 'null')::float8 AS client_duration_ms,
						   nullif(i.r OPERATOR(pg_catalog.->) 'input_tokens', 'null')::numeric::text::integer AS input_tokens,
						   nullif(i.r OPERATOR(pg_catalog.->) 'output_tokens', 'null')::numeric::text::integer AS output_tokens,
						   nullif(i.r OPERATOR(pg_catalog.->) 'token_cache_hit', 'null')::boolean AS token_cache_hit,
						   i.r OPERATOR(pg_catalog.->>) 'error_message' AS error_message
					  FROM pg_catalog.jsonb_array_elements(part) WITH ORDINALITY AS i(r, ord)
				), written AS (
					-- A pending row fills in; others replace what they know.  An update
					-- that would change nothing is skipped (and counts as unchanged).
					INSERT INTO loomlat.invocations AS t (invocation_id, agent_id, session_id, status,
						client_invoke_time, agent_start_time, client_done_time, cold_start_latency_ms, ttft_ms,
						client_duration_ms, input_tokens, output_tokens, token_cache_hit, error_message,
						created_at)
					SELECT g.invocation_id,
						   coalesce(g.agent_id, (SELECT s.agent_id FROM loomlat.invocations s
												  WHERE s.invocation_id OPERATOR(pg_catalog.=) g.invocation_id)),
						   g.session_id, g.status,
						   coalesce(g.client_invoke_time, (SELECT s.client_invoke_time FROM loomlat.invocations s
															WHERE s.invocation_id OPERATOR(pg_catalog.=) g.invocation_id)),
						   g.agent_start_time, g.client_done_time, g.cold_start_latency_ms, g.ttft_ms,
						   g.client_duration_ms, g.input_tokens, g.output_tokens, g.token_cache_hit, g.error_message,
						   started
					  FROM given g
					ON CONFLICT (invocation_id) DO UPDATE SET
						status = CASE WHEN LEAST(EXCLUDED.status, 'complete') OPERATOR(pg_catalog.>=) LEAST(t.status, 'complete')
									  THEN EXCLUDED.status ELSE t.status END,
						agent_id = CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN t.agent_id ELSE EXCLUDED.agent_id END,
						client_invoke_time = CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN t.client_invoke_time ELSE EXCLUDED.client_invoke_time END,
						session_id = CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.session_id, EXCLUDED.session_id) ELSE coalesce(EXCLUDED.session_id, t.session_id) END,
						agent_start_time = CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.agent_start_time, EXCLUDED.agent_start_time) ELSE coalesce(EXCLUDED.agent_start_time, t.agent_start_time) END,
						client_done_time = CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.client_done_time, EXCLUDED.client_done_time) ELSE coalesce(EXCLUDED.client_done_time, t.client_done_time) END,
						cold_start_latency_ms = CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.cold_start_latency_ms, EXCLUDED.cold_start_latency_ms) ELSE coalesce(EXCLUDED.cold_start_latency_ms, t.cold_start_latency_ms) END,
						ttft_ms = CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.ttft_ms, EXCLUDED.ttft_ms) ELSE coalesce(EXCLUDED.ttft_ms, t.ttft_ms) END,
						client_duration_ms = CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.client_duration_ms, EXCLUDED.client_duration_ms) ELSE coalesce(EXCLUDED.client_duration_ms, t.client_duration_ms) END,
						input_tokens = CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.input_tokens, EXCLUDED.input_tokens) ELSE coalesce(EXCLUDED.input_tokens, t.input_tokens) END,
						output_tokens = CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.output_tokens, EXCLUDED.output_tokens) ELSE coalesce(EXCLUDED.output_tokens, t.output_tokens) END,
						token_cache_hit = CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.token_cache_hit, EXCLUDED.token_cache_hit) ELSE coalesce(EXCLUDED.token_cache_hit, t.token_cache_hit) END,
						error_message = CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.error_message, EXCLUDED.error_message) ELSE coalesce(EXCLUDED.error_message, t.error_message) END
					 WHERE (t.status, t.agent_id, t.client_invoke_time, t.session_id, t.agent_start_time,
							t.client_done_time, t.cold_start_latency_ms, t.ttft_ms, t.client_duration_ms,
							t.input_tokens, t.output_tokens, t.token_cache_hit, t.error_message)
						   IS DISTINCT FROM
						   (CASE WHEN LEAST(EXCLUDED.status, 'complete') OPERATOR(pg_catalog.>=) LEAST(t.status, 'complete')
									  THEN EXCLUDED.status ELSE t.status END,
							CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN t.agent_id ELSE EXCLUDED.agent_id END,
							CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN t.client_invoke_time ELSE EXCLUDED.client_invoke_time END,
							CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.session_id, EXCLUDED.session_id) ELSE coalesce(EXCLUDED.session_id, t.session_id) END,
							CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.agent_start_time, EXCLUDED.agent_start_time) ELSE coalesce(EXCLUDED.agent_start_time, t.agent_start_time) END,
							CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.client_done_time, EXCLUDED.client_done_time) ELSE coalesce(EXCLUDED.client_done_time, t.client_done_time) END,
							CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.cold_start_latency_ms, EXCLUDED.cold_start_latency_ms) ELSE coalesce(EXCLUDED.cold_start_latency_ms, t.cold_start_latency_ms) END,
							CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.ttft_ms, EXCLUDED.ttft_ms) ELSE coalesce(EXCLUDED.ttft_ms, t.ttft_ms) END,
							CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.client_duration_ms, EXCLUDED.client_duration_ms) ELSE coalesce(EXCLUDED.client_duration_ms, t.client_duration_ms) END,
							CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.input_tokens, EXCLUDED.input_tokens) ELSE coalesce(EXCLUDED.input_tokens, t.input_tokens) END,
							CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.output_tokens, EXCLUDED.output_tokens) ELSE coalesce(EXCLUDED.output_tokens, t.output_tokens) END,
							CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.token_cache_hit, EXCLUDED.token_cache_hit) ELSE coalesce(EXCLUDED.token_cache_hit, t.token_cache_hit) END,
							CASE WHEN EXCLUDED.status OPERATOR(pg_catalog.=) 'pending' THEN coalesce(t.error_message, EXCLUDED.error_message) ELSE coalesce(EXCLUDED.error_message, t.error_message) END)
					RETURNING t.invocation_id, t.created_at OPERATOR(pg_catalog.=) started AS fresh
				), phase AS (
					INSERT INTO loomlat.invocation_phases AS t (invocation_id, phase, start_ms, duration_ms)
					SELECT g.invocation_id, p.phase, p.start_ms, p.duration_ms
					  FROM given g,
						   pg_catalog.jsonb_to_recordset(nullif(g.r OPERATOR(pg_catalog.->) 'phases', 'null')) AS p(phase text, start_ms float8, duration_ms float8)
					ON CONFLICT (invocation_id, phase) DO UPDATE SET
						start_ms = coalesce(EXCLUDED.start_ms, t.start_ms), duration_ms = EXCLUDED.duration_ms
					 WHERE (t.start_ms, t.duration_ms) IS DISTINCT FROM
						   (coalesce(EXCLUDED.start_ms, t.start_ms), EXCLUDED.duration_ms)
					RETURNING t.invocation_id
				)
				SELECT (SELECT pg_catalog.count(DISTINCT g.invocation_id) FROM given g),
					   fresh OPERATOR(pg_catalog.||) ARRAY(SELECT w.invocation_id FROM written w WHERE w.fresh),
					   changed OPERATOR(pg_catalog.||) ARRAY(
						   SELECT w.invocation_id FROM written w WHERE NOT w.fresh
						   UNION SELECT p.invocation_id FROM phase p
						   UNION SELECT g.invocation_id FROM given g
								  WHERE g.agent_name IS NOT NULL
									AND g.agent_id OPERATOR(pg_catalog.=) ANY (renamed))
				  INTO n, fresh, changed;
				total := coalesce(total, n);
			END LOOP;

			inserted := (SELECT pg_catalog.count(DISTINCT f.id) FROM pg_catalog.unnest(fresh) AS f(id));
			updated := (SELECT pg_catalog.count(*) FROM (SELECT pg_catalog.unnest(changed) EXCEPT SELECT pg_catalog.unnest(fresh)) AS c);
			unchanged := total OPERATOR(pg_catalog.-) inserted OPERATOR(pg_catalog.-) updated;
			RETURN;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
			IF state OPERATOR(pg_catalog.=) '21000' AND NOT split THEN -- cardinality_violation
				split := true;
				CONTINUE;
			END IF;

			-- Nothing was written.  Walk the rows in order and name the first bad one.
			SELECT coalesce(pg_catalog.array_agg(e.r OPERATOR(pg_catalog.->>) 'agent_id'), '{}') INTO named
			  FROM pg_catalog.jsonb_array_elements(batch) AS e(r)
			 WHERE pg_catalog.jsonb_typeof(e.r) OPERATOR(pg_catalog.=) 'object'
			   AND pg_catalog.jsonb_typeof(e.r OPERATOR(pg_catalog.->) 'agent_name') OPERATOR(pg_catalog.=) 'string';
			FOR pos, r IN SELECT i.ord, i.r FROM pg_catalog.jsonb_array_elements(batch) WITH ORDINALITY AS i(r, ord) LOOP
				IF pg_catalog.jsonb_typeof(r) OPERATOR(pg_catalog.<>) 'object' THEN
					RAISE EXCEPTION 'row %: a row must be a JSON object, not a JSON %', pos, pg_catalog.jsonb_typeof(r)
						USING ERRCODE = 'datatype_mismatch';
				END IF;
				id := NULL;
				at := pg_catalog.format('row %s', pos);
				IF pg_catalog.jsonb_typeof(r OPERATOR(pg_catalog.->) 'invocation_id') OPERATOR(pg_catalog.=) 'string' THEN
					BEGIN
						id := (r OPERATOR(pg_catalog.->>) 'invocation_id')::uuid;
						at := pg_catalog.format('row %s (invocation_id %s)', pos, id);
					EXCEPTION WHEN invalid_text_representation THEN
						NULL; -- named below, as a bad value
					END;
				END IF;

				-- Each value: a known key, the right JSON type, a value the column takes.
				FOR field, val IN SELECT f.key, f.value FROM pg_catalog.jsonb_each(r) AS f ORDER BY f.key LOOP
					kind := kinds OPERATOR(pg_catalog.->>) field;
					IF kind IS NULL THEN
						RAISE EXCEPTION '%: unknown key "%"', at, field
							USING ERRCODE = 'invalid_parameter_value', COLUMN = field,
								  HINT = 'The keys are ' || pg_catalog.array_to_string(keys, ', ') || '.';
					END IF;
					CONTINUE WHEN pg_catalog.jsonb_typeof(val) OPERATOR(pg_catalog.=) 'null';
					IF NOT expect OPERATOR(pg_catalog.->) kind OPERATOR(pg_catalog.->) 0 OPERATOR(pg_catalog.?) pg_catalog.jsonb_typeof(val) THEN
						RAISE EXCEPTION '%: "%" must be %, not a JSON %', at, field,
										expect OPERATOR(pg_catalog.->) kind OPERATOR(pg_catalog.->>) 1, pg_catalog.jsonb_typeof(val)
							USING ERRCODE = 'datatype_mismatch', COLUMN = field;
					END IF;
					entry := NULL;
					BEGIN
						CASE kind
						WHEN 'uuid' THEN
							PERFORM (val OPERATOR(pg_catalog.->>) 0)::uuid;
						WHEN 'id' THEN
							PERFORM val::text::bigint;
						WHEN 'count' THEN
							IF val::text::integer OPERATOR(pg_catalog.<) 0 THEN RAISE EXCEPTION 'negative'; END IF;
						WHEN 'status' THEN
							PERFORM (val OPERATOR(pg_catalog.#>>) '{}')::loomlat.invocation_status;
						WHEN 'time' THEN
							IF pg_catalog.jsonb_typeof(val) OPERATOR(pg_catalog.=) 'number' THEN
								PERFORM pg_catalog.to_timestamp(val::text::float8);
							ELSIF NOT pg_catalog.isfinite((val OPERATOR(pg_catalog.#>>) '{}')::timestamptz) THEN
								RAISE EXCEPTION 'not finite';
							END IF;
						WHEN 'number' THEN
							PERFORM val::text::float8;
						WHEN 'ms' THEN
							IF val::text::float8 OPERATOR(pg_catalog.<) 0 THEN RAISE EXCEPTION 'negative'; END IF;
						WHEN 'phases' THEN
							names := '{}';
							FOR entry, item IN SELECT p.i, p.e FROM pg_catalog.jsonb_array_elements(val) WITH ORDINALITY AS p(e, i) LOOP
								PERFORM (item OPERATOR(pg_catalog.->>) 'start_ms')::float8;
								IF pg_catalog.jsonb_typeof(item) OPERATOR(pg_catalog.<>) 'object'
								   OR coalesce(item OPERATOR(pg_catalog.->>) 'phase', '') OPERATOR(pg_catalog.=) ''
								   OR item OPERATOR(pg_catalog.->>) 'phase' OPERATOR(pg_catalog.=) ANY (names)
								   OR NOT coalesce((item OPERATOR(pg_catalog.->>) 'duration_ms')::float8 OPERATOR(pg_catalog.>=) 0, false) THEN
									RAISE EXCEPTION 'bad phase';
								END IF;
								names := names OPERATOR(pg_catalog.||) (item OPERATOR(pg_catalog.->>) 'phase');
							END LOOP;
						ELSE
							NULL; -- text, boolean: the JSON type was all there is to check
						END CASE;
					EXCEPTION WHEN OTHERS THEN
						IF entry IS NULL THEN
							RAISE EXCEPTION '%: "%" must be %, not %', at, field,
											expect OPERATOR(pg_catalog.->) kind OPERATOR(pg_catalog.->>) 1, val
								USING ERRCODE = 'invalid_parameter_value', COLUMN = field;
						END IF;
						RAISE EXCEPTION '%: "phases"[%] must be % with a name not used before in the row, not %',
										at, entry, phase_is, val OPERATOR(pg_catalog.->) (entry::integer OPERATOR(pg_catalog.-) 1)
							USING ERRCODE = 'invalid_parameter_value', COLUMN = 'phases';
					END;
				END LOOP;

				-- What the row needs from the database and from earlier rows.
				IF id IS NULL THEN
					RAISE EXCEPTION '%: "invocation_id" is required', at
						USING ERRCODE = 'not_null_violation', COLUMN = 'invocation_id';
				END IF;
				IF r OPERATOR(pg_catalog.->>) 'agent_name' IS NOT NULL AND r OPERATOR(pg_catalog.->>) 'agent_id' IS NULL THEN
					RAISE EXCEPTION '%: "agent_name" names the agent of "agent_id", which the row lacks', at
						USING ERRCODE = 'not_null_violation', COLUMN = 'agent_id';
				END IF;
				IF id OPERATOR(pg_catalog.<>) ALL (known)
				   AND NOT EXISTS (SELECT FROM loomlat.invocations i WHERE i.invocation_id OPERATOR(pg_catalog.=) id) THEN
					FOREACH field IN ARRAY ARRAY['agent_id', 'client_invoke_time'] LOOP
						IF r OPERATOR(pg_catalog.->>) field IS NULL THEN
							RAISE EXCEPTION '%: "%" is required for a new invocation', at, field
								USING ERRCODE = 'not_null_violation', COLUMN = field;
						END IF;
					END LOOP;
				END IF;
				IF r OPERATOR(pg_catalog.->>) 'agent_id' OPERATOR(pg_catalog.<>) ALL (named)
				   AND NOT EXISTS (SELECT FROM loomlat.agents a
								   WHERE a.agent_id OPERATOR(pg_catalog.=) (r OPERATOR(pg_catalog.->>) 'agent_id')::bigint) THEN
					RAISE EXCEPTION '%: agent % is not in loomlat.agents', at, r OPERATOR(pg_catalog.->>) 'agent_id'
						USING ERRCODE = 'foreign_key_violation', COLUMN = 'agent_id',
							  HINT = 'Give "agent_name" in a row of the call to create the agent.';
				END IF;
				known := known OPERATOR(pg_catalog.||) id;
			END LOOP;
			RAISE; -- no row is at fault: the original error
		END;
	END LOOP;
END
$record$;

COMMENT ON FUNCTION loomlat.record_invocations(jsonb) IS
	'Write invocations and their phases from a JSON array of rows (idempotent: known values replace, unknown ones never erase, status only moves forward, pending rows only fill in); returns inserted, updated, unchanged';
