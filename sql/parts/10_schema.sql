/*
 * Schema: agents, their invocations, and where each invocation's time went.
 * Column names follow the Loom backend's Invocation model; times are
 * timestamptz here (Loom stores Unix-seconds floats; see track()).
 */

CREATE TYPE loomlat.invocation_status AS ENUM ('pending', 'streaming', 'complete', 'error');

CREATE TABLE loomlat.agents (
	agent_id   bigint PRIMARY KEY,
	name       text NOT NULL,
	arn        text UNIQUE,
	region     text,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE loomlat.invocations (
	invocation_id         uuid PRIMARY KEY,
	agent_id              bigint NOT NULL REFERENCES loomlat.agents (agent_id),
	session_id            text,
	status                loomlat.invocation_status NOT NULL DEFAULT 'pending',
	client_invoke_time    timestamptz NOT NULL,
	agent_start_time      timestamptz,
	client_done_time      timestamptz,
	cold_start_latency_ms float8,
	ttft_ms               float8,
	client_duration_ms    float8,
	was_cold_start        boolean,
	input_tokens          integer,
	output_tokens         integer,
	token_cache_hit       boolean,
	error_message         text,
	created_at            timestamptz NOT NULL DEFAULT now(),
	-- x < 'Infinity' also rejects NaN, which PostgreSQL sorts above Infinity
	CONSTRAINT invocations_cold_start_latency_finite CHECK (
		cold_start_latency_ms > '-Infinity'::float8
		AND cold_start_latency_ms < 'Infinity'::float8),
	CONSTRAINT invocations_ttft_valid CHECK (
		ttft_ms >= 0::float8
		AND ttft_ms < 'Infinity'::float8),
	CONSTRAINT invocations_duration_valid CHECK (
		client_duration_ms >= 0::float8
		AND client_duration_ms < 'Infinity'::float8),
	CONSTRAINT invocations_tokens_valid CHECK (
		input_tokens >= 0 AND output_tokens >= 0)
);

-- "the last 24 h" and "the last 24 h of agent N"
CREATE INDEX invocations_client_invoke_time_idx
	ON loomlat.invocations (client_invoke_time);
CREATE INDEX invocations_agent_time_idx
	ON loomlat.invocations (agent_id, client_invoke_time);

CREATE TABLE loomlat.invocation_phases (
	invocation_id uuid NOT NULL
		REFERENCES loomlat.invocations (invocation_id) ON DELETE CASCADE,
	phase         text NOT NULL,
	start_ms      float8,
	duration_ms   float8 NOT NULL,
	PRIMARY KEY (invocation_id, phase),
	CONSTRAINT invocation_phases_phase_nonempty CHECK (phase <> ''),
	CONSTRAINT invocation_phases_start_finite CHECK (
		start_ms > '-Infinity'::float8
		AND start_ms < 'Infinity'::float8),
	CONSTRAINT invocation_phases_duration_valid CHECK (
		duration_ms >= 0::float8
		AND duration_ms < 'Infinity'::float8)
);

COMMENT ON TABLE loomlat.invocations IS
	'One row per agent invocation; was_cold_start is kept by a trigger from cold_start_latency_ms';
COMMENT ON COLUMN loomlat.invocations.cold_start_latency_ms IS
	'agent_start_time - client_invoke_time in ms; compares two clocks, so it may be negative';
COMMENT ON COLUMN loomlat.invocations.ttft_ms IS
	'client_invoke_time to the first answer text in ms; NULL when no text arrived';
COMMENT ON COLUMN loomlat.invocations.token_cache_hit IS
	'true when the bearer token came from the cache, false when this invocation waited for a fetch';
COMMENT ON TABLE loomlat.invocation_phases IS
	'Where the time of one invocation went: start_ms is the offset from client_invoke_time';

-- Extension-owned tables keep their rows through pg_dump / pg_restore.
SELECT pg_extension_config_dump('loomlat.agents', '');
SELECT pg_extension_config_dump('loomlat.invocations', '');
SELECT pg_extension_config_dump('loomlat.invocation_phases', '');
