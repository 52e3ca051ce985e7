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
 * known start_ms replaces.  A row that gives agent_start_time but no
 * cold_start_latency_ms gives agent_start_time - client_invoke_time (the
 * stored invoke time when the row has none), so a start time learned later
 * from the agent's logs fills in the latency, and the classification trigger
 * reclassifies was_cold_start when cold_start_latency_ms changes.  Returns how many
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
	keys      CONSTANT text[] := ARRAY(SELECT jsonb_object_keys(kinds));
	phase_is  CONSTANT text := '{"phase": name, "start_ms": number or null, "duration_ms": number >= 0}';
	started   CONSTANT timestamptz := clock_timestamp(); -- created_at of what this call inserts
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
	IF jsonb_typeof(rows) = 'object' THEN
		batch := jsonb_build_array(rows);
	ELSIF jsonb_typeof(rows) <> 'array' THEN
		RAISE EXCEPTION 'loomlat.record_invocations() needs a JSON array of rows, not a JSON %',
						jsonb_typeof(rows)
			USING ERRCODE = 'datatype_mismatch';
	END IF;

	-- One round for the whole batch; when that fails because an invocation has
	-- several rows (ON CONFLICT cannot touch a row twice), the k-th row of each
	-- invocation goes in round k.  Any other failure: the diagnostic pass.
	LOOP
		BEGIN
			rounds := ARRAY[batch];
			IF split THEN
				SELECT array_agg(k.part ORDER BY k.n) INTO rounds
				  FROM (SELECT e.n, jsonb_agg(e.r ORDER BY e.ord) AS part
						  FROM (SELECT i.r, i.ord, row_number() OVER (
									PARTITION BY i.r ->> 'invocation_id' ORDER BY i.ord) AS n
								  FROM jsonb_array_elements(batch) WITH ORDINALITY AS i(r, ord)) e
						 GROUP BY e.n) k;
			END IF;
			total := NULL;

			FOREACH part IN ARRAY rounds LOOP
				-- Agents named in this round: created or renamed, the last name wins.
				-- A separate statement, so that writing without agent_name needs no
				-- privilege on loomlat.agents beyond SELECT.
				renamed := '{}';
				IF jsonb_path_exists(part, 'lax $[*].agent_name ? (@ != null)') THEN
					WITH agent AS (
						INSERT INTO loomlat.agents AS a (agent_id, name)
						SELECT DISTINCT ON (1) nullif(e.r -> 'agent_id', 'null')::numeric::text::bigint,
							   CASE WHEN jsonb_typeof(e.r -> 'agent_name') = 'string'
									THEN e.r ->> 'agent_name' END
						  FROM jsonb_array_elements(part) WITH ORDINALITY AS e(r, ord)
						 WHERE e.r ->> 'agent_name' IS NOT NULL
						 ORDER BY 1, e.ord DESC
						ON CONFLICT (agent_id) DO UPDATE SET name = EXCLUDED.name
						 WHERE a.name <> EXCLUDED.name
						RETURNING a.agent_id
					)
					SELECT coalesce(array_agg(agent.agent_id), '{}') INTO renamed FROM agent;
				END IF;

				-- A row of the wrong shape gets a NULL invocation_id (a phase entry a
				-- NULL phase), which the table refuses: the cheap way to fail here.
				WITH given AS (
					SELECT i.ord, i.r,
						   CASE WHEN jsonb_typeof(i.r -> 'invocation_id') = 'string'
									 AND i.r - keys = '{}'
									 AND coalesce(jsonb_typeof(i.r -> 'agent_name'), 'null') = ANY (ARRAY['string', 'null'])
									 AND coalesce(jsonb_typeof(i.r -> 'session_id'), 'null') = ANY (ARRAY['string', 'null'])
									 AND coalesce(jsonb_typeof(i.r -> 'error_message'), 'null') = ANY (ARRAY['string', 'null'])
								THEN (i.r ->> 'invocation_id')::uuid END AS invocation_id,
						   nullif(i.r -> 'agent_id', 'null')::numeric::text::bigint AS agent_id,
						   i.r ->> 'agent_name' AS agent_name,
						   i.r ->> 'session_id' AS session_id,
						   coalesce((i.r ->> 'status')::loomlat.invocation_status, 'pending') AS status,
						   CASE WHEN jsonb_typeof(i.r -> 'client_invoke_time') = 'number'
								THEN to_timestamp((i.r ->> 'client_invoke_time')::float8)
								ELSE (i.r ->> 'client_invoke_time')::timestamptz END AS client_invoke_time,
						   CASE WHEN jsonb_typeof(i.r -> 'agent_start_time') = 'number'
								THEN to_timestamp((i.r ->> 'agent_start_time')::float8)
								ELSE (i.r ->> 'agent_start_time')::timestamptz END AS agent_start_time,
						   CASE WHEN jsonb_typeof(i.r -> 'client_done_time') = 'number'
								THEN to_timestamp((i.r ->> 'client_done_time')::float8)
								ELSE (i.r ->> 'client_done_time')::timestamptz END AS client_done_time,
						   nullif(i.r -> 'cold_start_latency_ms', 'null')::float8 AS cold_start_latency_ms,
						   nullif(i.r -> 'ttft_ms', 'null')::float8 AS ttft_ms,
						   nullif(i.r -> 'client_duration_ms', 'null')::float8 AS client_duration_ms,
						   nullif(i.r -> 'input_tokens', 'null')::numeric::text::integer AS input_tokens,
						   nullif(i.r -> 'output_tokens', 'null')::numeric::text::integer AS output_tokens,
						   nullif(i.r -> 'token_cache_hit', 'null')::boolean AS token_cache_hit,
						   i.r ->> 'error_message' AS error_message
					  FROM jsonb_array_elements(part) WITH ORDINALITY AS i(r, ord)
				), written AS (
					-- A pending row fills in; others replace what they know.  An update
					-- that would change nothing is skipped (and counts as unchanged).
					INSERT INTO loomlat.invocations AS t (invocation_id, agent_id, session_id, status,
						client_invoke_time, agent_start_time, client_done_time, cold_start_latency_ms, ttft_ms,
						client_duration_ms, input_tokens, output_tokens, token_cache_hit, error_message,
						created_at)
					-- cold_start_latency_ms, when not given, is agent_start_time - client_invoke_time
					SELECT g.invocation_id,
						   coalesce(g.agent_id, (SELECT s.agent_id FROM loomlat.invocations s
												  WHERE s.invocation_id = g.invocation_id)),
						   g.session_id, g.status, k.client_invoke_time,
						   g.agent_start_time, g.client_done_time,
						   coalesce(g.cold_start_latency_ms,
									(extract(epoch FROM g.agent_start_time - k.client_invoke_time) * 1000)::float8),
						   g.ttft_ms,
						   g.client_duration_ms, g.input_tokens, g.output_tokens, g.token_cache_hit, g.error_message,
						   started
					  FROM given g,
						   LATERAL (SELECT coalesce(g.client_invoke_time,
													(SELECT s.client_invoke_time FROM loomlat.invocations s
													  WHERE s.invocation_id = g.invocation_id)) AS client_invoke_time) k
					ON CONFLICT (invocation_id) DO UPDATE SET
						status = CASE WHEN LEAST(EXCLUDED.status, 'complete') >= LEAST(t.status, 'complete')
									  THEN EXCLUDED.status ELSE t.status END,
						agent_id = CASE WHEN EXCLUDED.status = 'pending' THEN t.agent_id ELSE EXCLUDED.agent_id END,
						client_invoke_time = CASE WHEN EXCLUDED.status = 'pending' THEN t.client_invoke_time ELSE EXCLUDED.client_invoke_time END,
						session_id = CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.session_id, EXCLUDED.session_id) ELSE coalesce(EXCLUDED.session_id, t.session_id) END,
						agent_start_time = CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.agent_start_time, EXCLUDED.agent_start_time) ELSE coalesce(EXCLUDED.agent_start_time, t.agent_start_time) END,
						client_done_time = CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.client_done_time, EXCLUDED.client_done_time) ELSE coalesce(EXCLUDED.client_done_time, t.client_done_time) END,
						cold_start_latency_ms = CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.cold_start_latency_ms, EXCLUDED.cold_start_latency_ms) ELSE coalesce(EXCLUDED.cold_start_latency_ms, t.cold_start_latency_ms) END,
						ttft_ms = CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.ttft_ms, EXCLUDED.ttft_ms) ELSE coalesce(EXCLUDED.ttft_ms, t.ttft_ms) END,
						client_duration_ms = CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.client_duration_ms, EXCLUDED.client_duration_ms) ELSE coalesce(EXCLUDED.client_duration_ms, t.client_duration_ms) END,
						input_tokens = CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.input_tokens, EXCLUDED.input_tokens) ELSE coalesce(EXCLUDED.input_tokens, t.input_tokens) END,
						output_tokens = CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.output_tokens, EXCLUDED.output_tokens) ELSE coalesce(EXCLUDED.output_tokens, t.output_tokens) END,
						token_cache_hit = CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.token_cache_hit, EXCLUDED.token_cache_hit) ELSE coalesce(EXCLUDED.token_cache_hit, t.token_cache_hit) END,
						error_message = CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.error_message, EXCLUDED.error_message) ELSE coalesce(EXCLUDED.error_message, t.error_message) END
					 WHERE (t.status, t.agent_id, t.client_invoke_time, t.session_id, t.agent_start_time,
							t.client_done_time, t.cold_start_latency_ms, t.ttft_ms, t.client_duration_ms,
							t.input_tokens, t.output_tokens, t.token_cache_hit, t.error_message)
						   IS DISTINCT FROM
						   (CASE WHEN LEAST(EXCLUDED.status, 'complete') >= LEAST(t.status, 'complete')
									  THEN EXCLUDED.status ELSE t.status END,
							CASE WHEN EXCLUDED.status = 'pending' THEN t.agent_id ELSE EXCLUDED.agent_id END,
							CASE WHEN EXCLUDED.status = 'pending' THEN t.client_invoke_time ELSE EXCLUDED.client_invoke_time END,
							CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.session_id, EXCLUDED.session_id) ELSE coalesce(EXCLUDED.session_id, t.session_id) END,
							CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.agent_start_time, EXCLUDED.agent_start_time) ELSE coalesce(EXCLUDED.agent_start_time, t.agent_start_time) END,
							CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.client_done_time, EXCLUDED.client_done_time) ELSE coalesce(EXCLUDED.client_done_time, t.client_done_time) END,
							CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.cold_start_latency_ms, EXCLUDED.cold_start_latency_ms) ELSE coalesce(EXCLUDED.cold_start_latency_ms, t.cold_start_latency_ms) END,
							CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.ttft_ms, EXCLUDED.ttft_ms) ELSE coalesce(EXCLUDED.ttft_ms, t.ttft_ms) END,
							CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.client_duration_ms, EXCLUDED.client_duration_ms) ELSE coalesce(EXCLUDED.client_duration_ms, t.client_duration_ms) END,
							CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.input_tokens, EXCLUDED.input_tokens) ELSE coalesce(EXCLUDED.input_tokens, t.input_tokens) END,
							CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.output_tokens, EXCLUDED.output_tokens) ELSE coalesce(EXCLUDED.output_tokens, t.output_tokens) END,
							CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.token_cache_hit, EXCLUDED.token_cache_hit) ELSE coalesce(EXCLUDED.token_cache_hit, t.token_cache_hit) END,
							CASE WHEN EXCLUDED.status = 'pending' THEN coalesce(t.error_message, EXCLUDED.error_message) ELSE coalesce(EXCLUDED.error_message, t.error_message) END)
					RETURNING t.invocation_id, t.created_at = started AS fresh
				), phase AS (
					INSERT INTO loomlat.invocation_phases AS t (invocation_id, phase, start_ms, duration_ms)
					SELECT g.invocation_id, p.phase, p.start_ms, p.duration_ms
					  FROM given g,
						   jsonb_to_recordset(nullif(g.r -> 'phases', 'null')) AS p(phase text, start_ms float8, duration_ms float8)
					ON CONFLICT (invocation_id, phase) DO UPDATE SET
						start_ms = coalesce(EXCLUDED.start_ms, t.start_ms), duration_ms = EXCLUDED.duration_ms
					 WHERE (t.start_ms, t.duration_ms) IS DISTINCT FROM
						   (coalesce(EXCLUDED.start_ms, t.start_ms), EXCLUDED.duration_ms)
					RETURNING t.invocation_id
				)
				SELECT (SELECT count(DISTINCT g.invocation_id) FROM given g),
					   fresh || ARRAY(SELECT w.invocation_id FROM written w WHERE w.fresh),
					   changed || ARRAY(
						   SELECT w.invocation_id FROM written w WHERE NOT w.fresh
						   UNION SELECT p.invocation_id FROM phase p
						   UNION SELECT g.invocation_id FROM given g
								  WHERE g.agent_name IS NOT NULL
									AND g.agent_id = ANY (renamed))
				  INTO n, fresh, changed;
				total := coalesce(total, n);
			END LOOP;

			inserted := (SELECT count(DISTINCT f.id) FROM unnest(fresh) AS f(id));
			updated := (SELECT count(*) FROM (SELECT unnest(changed) EXCEPT SELECT unnest(fresh)) AS c);
			unchanged := total - inserted - updated;
			RETURN;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
			IF state = '21000' AND NOT split THEN -- cardinality_violation
				split := true;
				CONTINUE;
			END IF;

			-- Nothing was written.  Walk the rows in order and name the first bad one.
			SELECT coalesce(array_agg(e.r ->> 'agent_id'), '{}') INTO named
			  FROM jsonb_array_elements(batch) AS e(r)
			 WHERE jsonb_typeof(e.r) = 'object'
			   AND jsonb_typeof(e.r -> 'agent_name') = 'string';
			FOR pos, r IN SELECT i.ord, i.r FROM jsonb_array_elements(batch) WITH ORDINALITY AS i(r, ord) LOOP
				IF jsonb_typeof(r) <> 'object' THEN
					RAISE EXCEPTION 'row %: a row must be a JSON object, not a JSON %', pos, jsonb_typeof(r)
						USING ERRCODE = 'datatype_mismatch';
				END IF;
				id := NULL;
				at := format('row %s', pos);
				IF jsonb_typeof(r -> 'invocation_id') = 'string' THEN
					BEGIN
						id := (r ->> 'invocation_id')::uuid;
						at := format('row %s (invocation_id %s)', pos, id);
					EXCEPTION WHEN invalid_text_representation THEN
						NULL; -- named below, as a bad value
					END;
				END IF;

				-- Each value: a known key, the right JSON type, a value the column takes.
				FOR field, val IN SELECT f.key, f.value FROM jsonb_each(r) AS f ORDER BY f.key LOOP
					kind := kinds ->> field;
					IF kind IS NULL THEN
						RAISE EXCEPTION '%: unknown key "%"', at, field
							USING ERRCODE = 'invalid_parameter_value', COLUMN = field,
								  HINT = 'The keys are ' || array_to_string(keys, ', ') || '.';
					END IF;
					CONTINUE WHEN jsonb_typeof(val) = 'null';
					IF NOT expect -> kind -> 0 ? jsonb_typeof(val) THEN
						RAISE EXCEPTION '%: "%" must be %, not a JSON %', at, field,
										expect -> kind ->> 1, jsonb_typeof(val)
							USING ERRCODE = 'datatype_mismatch', COLUMN = field;
					END IF;
					entry := NULL;
					BEGIN
						CASE kind
						WHEN 'uuid' THEN
							PERFORM (val ->> 0)::uuid;
						WHEN 'id' THEN
							PERFORM val::text::bigint;
						WHEN 'count' THEN
							IF val::text::integer < 0 THEN RAISE EXCEPTION 'negative'; END IF;
						WHEN 'status' THEN
							PERFORM (val #>> '{}')::loomlat.invocation_status;
						WHEN 'time' THEN
							IF jsonb_typeof(val) = 'number' THEN
								PERFORM to_timestamp(val::text::float8);
							ELSIF NOT isfinite((val #>> '{}')::timestamptz) THEN
								RAISE EXCEPTION 'not finite';
							END IF;
						WHEN 'number' THEN
							PERFORM val::text::float8;
						WHEN 'ms' THEN
							IF val::text::float8 < 0 THEN RAISE EXCEPTION 'negative'; END IF;
						WHEN 'phases' THEN
							names := '{}';
							FOR entry, item IN SELECT p.i, p.e FROM jsonb_array_elements(val) WITH ORDINALITY AS p(e, i) LOOP
								PERFORM (item ->> 'start_ms')::float8;
								IF jsonb_typeof(item) <> 'object'
								   OR coalesce(item ->> 'phase', '') = ''
								   OR item ->> 'phase' = ANY (names)
								   OR NOT coalesce((item ->> 'duration_ms')::float8 >= 0, false) THEN
									RAISE EXCEPTION 'bad phase';
								END IF;
								names := names || (item ->> 'phase');
							END LOOP;
						ELSE
							NULL; -- text, boolean: the JSON type was all there is to check
						END CASE;
					EXCEPTION WHEN OTHERS THEN
						IF entry IS NULL THEN
							RAISE EXCEPTION '%: "%" must be %, not %', at, field,
											expect -> kind ->> 1, val
								USING ERRCODE = 'invalid_parameter_value', COLUMN = field;
						END IF;
						RAISE EXCEPTION '%: "phases"[%] must be % with a name not used before in the row, not %',
										at, entry, phase_is, val -> (entry::integer - 1)
							USING ERRCODE = 'invalid_parameter_value', COLUMN = 'phases';
					END;
				END LOOP;

				-- What the row needs from the database and from earlier rows.
				IF id IS NULL THEN
					RAISE EXCEPTION '%: "invocation_id" is required', at
						USING ERRCODE = 'not_null_violation', COLUMN = 'invocation_id';
				END IF;
				IF r ->> 'agent_name' IS NOT NULL AND r ->> 'agent_id' IS NULL THEN
					RAISE EXCEPTION '%: "agent_name" names the agent of "agent_id", which the row lacks', at
						USING ERRCODE = 'not_null_violation', COLUMN = 'agent_id';
				END IF;
				IF id <> ALL (known)
				   AND NOT EXISTS (SELECT FROM loomlat.invocations i WHERE i.invocation_id = id) THEN
					FOREACH field IN ARRAY ARRAY['agent_id', 'client_invoke_time'] LOOP
						IF r ->> field IS NULL THEN
							RAISE EXCEPTION '%: "%" is required for a new invocation', at, field
								USING ERRCODE = 'not_null_violation', COLUMN = field;
						END IF;
					END LOOP;
				END IF;
				IF r ->> 'agent_id' <> ALL (named)
				   AND NOT EXISTS (SELECT FROM loomlat.agents a
								   WHERE a.agent_id = (r ->> 'agent_id')::bigint) THEN
					RAISE EXCEPTION '%: agent % is not in loomlat.agents', at, r ->> 'agent_id'
						USING ERRCODE = 'foreign_key_violation', COLUMN = 'agent_id',
							  HINT = 'Give "agent_name" in a row of the call to create the agent.';
				END IF;
				known := known || id;
			END LOOP;
			RAISE; -- no row is at fault: the original error
		END;
	END LOOP;
END
$record$;

COMMENT ON FUNCTION loomlat.record_invocations(jsonb) IS
	'Write invocations and their phases from a JSON array of rows (idempotent: known values replace, unknown ones never erase, status only moves forward, pending rows only fill in); returns inserted, updated, unchanged';
