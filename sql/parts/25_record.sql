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
 * readable, and the key (also in the error's COLUMN field).
 *
 * How.  loomlat.record_rows(), in C (src/record_rows.c), reads every row in
 * one pass before anything is written: it checks each value, raising the
 * error that names the first bad one, and returns the rows and their phases
 * typed (loomlat.record_row, loomlat.record_phase), each with its round: the
 * k-th row of an invocation goes in round k, since ON CONFLICT cannot touch
 * a row twice in one statement.  Each round is then one set-based statement
 * (two when rows name agents); the merge happens in ON CONFLICT against the
 * current row version.  What only the database can tell (a new invocation
 * without agent_id or client_invoke_time, an agent that does not exist)
 * makes that statement fail; only then does a second pass walk the rows to
 * name the first one at fault.  So a row's own bad value is named before
 * another row's missing agent.  One subtransaction per call.
 *
 * Privileges.  Not SECURITY DEFINER: the caller needs USAGE on schema
 * loomlat; SELECT, INSERT and UPDATE on loomlat.invocations and
 * loomlat.invocation_phases; SELECT on loomlat.agents (plus INSERT and
 * UPDATE when rows carry agent_name).
 */

-- One row of a call, checked and typed by loomlat.record_rows(): ord is its
-- 1-based position, round the statement it goes in.
CREATE TYPE loomlat.record_row AS (
	ord                   integer,
	round                 integer,
	invocation_id         uuid,
	agent_id              bigint,
	agent_name            text,
	session_id            text,
	status                loomlat.invocation_status,
	client_invoke_time    timestamptz,
	agent_start_time      timestamptz,
	client_done_time      timestamptz,
	cold_start_latency_ms float8,
	ttft_ms               float8,
	client_duration_ms    float8,
	input_tokens          integer,
	output_tokens         integer,
	token_cache_hit       boolean,
	error_message         text
);

-- One phase entry of a row, with the row's round and invocation.
CREATE TYPE loomlat.record_phase AS (
	round         integer,
	invocation_id uuid,
	phase         text,
	start_ms      float8,
	duration_ms   float8
);

CREATE FUNCTION loomlat.record_rows(rows jsonb,
									OUT invocations bigint, OUT rounds integer, OUT named boolean,
									OUT invocation_rows loomlat.record_row[],
									OUT phase_rows loomlat.record_phase[])
	AS 'MODULE_PATHNAME', 'loomlat_record_rows'
	LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION loomlat.record_invocations(rows jsonb,
										   OUT inserted bigint, OUT updated bigint, OUT unchanged bigint)
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $record$
DECLARE
	started   CONSTANT timestamptz := clock_timestamp(); -- created_at of what this call inserts
	batch     record;             -- loomlat.record_rows(rows)
	fresh     uuid[] := '{}';
	changed   uuid[] := '{}';
	-- the diagnostic pass
	r         loomlat.record_row;
	at        text;
	field     text;
	known     uuid[] := '{}';
	named     bigint[];
BEGIN
	batch := loomlat.record_rows(rows); -- a bad value: the error names its row and key
	BEGIN
		FOR step IN 1 .. batch.rounds LOOP
			-- Round step.  Agents named in it: created or renamed, the last name wins.
			-- A separate statement, so that writing without agent_name needs no
			-- privilege on loomlat.agents beyond SELECT.
			IF batch.named THEN
				WITH named AS (
					SELECT g.* FROM unnest(batch.invocation_rows) AS g
					 WHERE g.round = step AND g.agent_name IS NOT NULL
				), agent AS (
					INSERT INTO loomlat.agents AS a (agent_id, name)
					SELECT DISTINCT ON (n.agent_id) n.agent_id, n.agent_name
					  FROM named n
					 ORDER BY n.agent_id, n.ord DESC
					ON CONFLICT (agent_id) DO UPDATE SET name = EXCLUDED.name
					 WHERE a.name <> EXCLUDED.name
					RETURNING a.agent_id
				)
				-- the invocations whose rows named them count as updated
				SELECT changed || ARRAY(SELECT n.invocation_id FROM named n JOIN agent USING (agent_id))
				  INTO changed;
			END IF;

			WITH written AS (
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
					   g.session_id, coalesce(g.status, 'pending'), k.client_invoke_time,
					   g.agent_start_time, g.client_done_time,
					   coalesce(g.cold_start_latency_ms,
								(extract(epoch FROM g.agent_start_time - k.client_invoke_time) * 1000)::float8),
					   g.ttft_ms,
					   g.client_duration_ms, g.input_tokens, g.output_tokens, g.token_cache_hit, g.error_message,
					   started
				  FROM unnest(batch.invocation_rows) AS g,
					   LATERAL (SELECT coalesce(g.client_invoke_time,
												(SELECT s.client_invoke_time FROM loomlat.invocations s
												  WHERE s.invocation_id = g.invocation_id)) AS client_invoke_time) k
				 WHERE g.round = step
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
				SELECT p.invocation_id, p.phase, p.start_ms, p.duration_ms
				  FROM unnest(batch.phase_rows) AS p
				 WHERE p.round = step
				ON CONFLICT (invocation_id, phase) DO UPDATE SET
					start_ms = coalesce(EXCLUDED.start_ms, t.start_ms), duration_ms = EXCLUDED.duration_ms
				 WHERE (t.start_ms, t.duration_ms) IS DISTINCT FROM
					   (coalesce(EXCLUDED.start_ms, t.start_ms), EXCLUDED.duration_ms)
				RETURNING t.invocation_id
			)
			SELECT fresh || ARRAY(SELECT w.invocation_id FROM written w WHERE w.fresh),
				   changed || ARRAY(SELECT w.invocation_id FROM written w WHERE NOT w.fresh
									UNION SELECT p.invocation_id FROM phase p)
			  INTO fresh, changed;
		END LOOP;

		SELECT (SELECT count(DISTINCT f.id) FROM unnest(fresh) AS f(id)),
			   (SELECT count(*) FROM (SELECT unnest(changed) EXCEPT SELECT unnest(fresh)) AS c)
		  INTO inserted, updated;
		unchanged := batch.invocations - inserted - updated;
	EXCEPTION WHEN OTHERS THEN
		-- Nothing was written, and every value is good.  Walk the rows in order
		-- and name the first one the database refuses.
		SELECT coalesce(array_agg(g.agent_id), '{}') INTO named
		  FROM unnest(batch.invocation_rows) AS g
		 WHERE g.agent_name IS NOT NULL;
		FOR r IN SELECT * FROM unnest(batch.invocation_rows) LOOP
			at := format('row %s (invocation_id %s)', r.ord, r.invocation_id);
			IF r.invocation_id <> ALL (known)
			   AND NOT EXISTS (SELECT FROM loomlat.invocations i WHERE i.invocation_id = r.invocation_id) THEN
				field := CASE WHEN r.agent_id IS NULL THEN 'agent_id'
							  WHEN r.client_invoke_time IS NULL THEN 'client_invoke_time' END;
				IF field IS NOT NULL THEN
					RAISE EXCEPTION '%: "%" is required for a new invocation', at, field
						USING ERRCODE = 'not_null_violation', COLUMN = field;
				END IF;
			END IF;
			IF r.agent_id <> ALL (named)
			   AND NOT EXISTS (SELECT FROM loomlat.agents a WHERE a.agent_id = r.agent_id) THEN
				RAISE EXCEPTION '%: agent % is not in loomlat.agents', at, r.agent_id
					USING ERRCODE = 'foreign_key_violation', COLUMN = 'agent_id',
						  HINT = 'Give "agent_name" in a row of the call to create the agent.';
			END IF;
			known := known || r.invocation_id;
		END LOOP;
		RAISE; -- no row is at fault: the original error
	END;
END
$record$;

COMMENT ON FUNCTION loomlat.record_invocations(jsonb) IS
	'Write invocations and their phases from a JSON array of rows (idempotent: known values replace, unknown ones never erase, status only moves forward, pending rows only fill in); returns inserted, updated, unchanged';
COMMENT ON FUNCTION loomlat.record_rows(jsonb) IS
	'record_invocations()'' reader: checks every value of the rows (raising its error for the first bad one) and returns them typed, each with its round';
