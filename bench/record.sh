#!/bin/bash
# Benchmark the write path: loomlat.record_invocations() against the upsert
# statement the ingestor sent before 0.2.0 (OLD_SQL below, verbatim from
# pg_writer.c), in a throwaway cluster.
#
# Usage: bench/record.sh [--quick] [--rounds N] [--no-install]
#   --quick       10,000 invocations per method and round instead of 100,000
#   --rounds N    timed rounds, interleaved, after one warm-up round (default 5)
#   --no-install  do not run "make install" first (the extension is installed)
#
# The rows are what the ingestor writes: a pending row when an invocation
# starts and a final row (times, tokens, eight phases; 2% errors) when it
# ends, in batches of 100 like pg_writer's, each batch the pending rows of 50
# invocations and the final rows of the 50 before.  Each batch is one
# statement with the JSON inline (parsed and planned each time, as
# PQsendQueryParams does), in autocommit, through one psql.  Every round
# writes fresh invocations with each method in turn; the medians and the
# ratios new / old are printed at the end, of the wall time and of the
# backend's CPU time (/proc/self/schedstat, read by the session itself: on a
# shared machine the steadier of the two).  The target is no drop: <= 1.00.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
# shellcheck source=bench/options.sh
source "$(dirname "$0")/options.sh"

# shellcheck source=bench/cluster.sh
source "$(dirname "$0")/cluster.sh"
bench_cluster

# ---- inside the throwaway cluster ----
INVOCATIONS=$((ROWS / 100))
OLD_SQL='WITH item AS ( SELECT i.r, i.ord FROM pg_catalog.jsonb_array_elements($1::pg_catalog.jsonb) WITH ORDINALITY AS i(r, ord)), inv AS ( SELECT DISTINCT ON (x.invocation_id) x.* FROM item, pg_catalog.jsonb_to_record(item.r) AS x(invocation_id uuid, agent_id bigint,  session_id text, status loomlat.invocation_status, client_invoke_time float8,  agent_start_time float8, client_done_time float8, cold_start_latency_ms float8,  ttft_ms float8, client_duration_ms float8, input_tokens integer, output_tokens integer,  token_cache_hit boolean, error_message text) WHERE x.status IS NOT NULL ORDER BY x.invocation_id, item.ord DESC), upsert AS ( INSERT INTO loomlat.invocations AS t (invocation_id, agent_id, session_id, status,  client_invoke_time, agent_start_time, client_done_time, cold_start_latency_ms, ttft_ms,  client_duration_ms, input_tokens, output_tokens, token_cache_hit, error_message) SELECT invocation_id, agent_id, session_id, status,  pg_catalog.to_timestamp(client_invoke_time), pg_catalog.to_timestamp(agent_start_time),  pg_catalog.to_timestamp(client_done_time), cold_start_latency_ms, ttft_ms,  client_duration_ms, input_tokens, output_tokens, token_cache_hit, error_message FROM inv ON CONFLICT (invocation_id) DO UPDATE SET agent_id = EXCLUDED.agent_id,  session_id = EXCLUDED.session_id, status = EXCLUDED.status,  client_invoke_time = EXCLUDED.client_invoke_time,  agent_start_time = EXCLUDED.agent_start_time,  client_done_time = EXCLUDED.client_done_time,  cold_start_latency_ms = EXCLUDED.cold_start_latency_ms, ttft_ms = EXCLUDED.ttft_ms,  client_duration_ms = EXCLUDED.client_duration_ms, input_tokens = EXCLUDED.input_tokens,  output_tokens = EXCLUDED.output_tokens, token_cache_hit = EXCLUDED.token_cache_hit,  error_message = EXCLUDED.error_message WHERE EXCLUDED.status <> '"'pending'"'::loomlat.invocation_status), phase AS ( SELECT DISTINCT ON (x.invocation_id, p.phase) x.invocation_id, p.phase, p.start_ms,  p.duration_ms FROM item, pg_catalog.jsonb_to_record(item.r) AS x(invocation_id uuid, phases jsonb),  pg_catalog.jsonb_to_recordset(x.phases) AS p(phase text, start_ms float8,  duration_ms float8) ORDER BY x.invocation_id, p.phase, item.ord DESC) INSERT INTO loomlat.invocation_phases AS t (invocation_id, phase, start_ms, duration_ms) SELECT invocation_id, phase, start_ms, duration_ms FROM phase ON CONFLICT (invocation_id, phase) DO UPDATE SET start_ms = EXCLUDED.start_ms,  duration_ms = EXCLUDED.duration_ms'
NEW_SQL='SELECT * FROM loomlat.record_invocations($1::pg_catalog.jsonb)'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
psql_run() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

psql_run -c 'CREATE EXTENSION loomlat' -c "INSERT INTO loomlat.agents (agent_id, name) VALUES (1, 'bench')"
echo "# $(psql_run -At -c 'SELECT version()')"
# which record_invocations() this run measures (the installed build's)
echo "# record_invocations() definition md5 $(psql_run -At -c "SELECT md5(pg_get_functiondef('loomlat.record_invocations(jsonb)'::regprocedure))")"
echo "# $(nproc) CPUs, $INVOCATIONS invocations ($((INVOCATIONS * 2)) rows, batches of 100) per method and round, $ROUNDS rounds (median)"

# batches KEY STATEMENT: the statement once per batch, $1 replaced by the
# batch's rows; the invocation ids are derived from KEY, so every run is new.
batches() {
	psql_run -At -v key="$1" -v n="$INVOCATIONS" -v sql="$2" <<'SQL'
WITH inv AS (
	SELECT i, md5(:'key' || i)::uuid AS id, 1931342400 + i * 0.05 AS t0,
		   jsonb_build_object('invocation_id', md5(:'key' || i)::uuid, 'agent_id', 1,
							  'session_id', 'session-' || i % 50,
							  'client_invoke_time', 1931342400 + i * 0.05) AS base
	FROM generate_series(1, :n) AS i
), row_ AS (
	SELECT (i - 1) / 50 AS batch, 0 AS kind, i, base || '{"status": "pending"}' AS r FROM inv
	UNION ALL
	SELECT (i - 1) / 50 + 1, 1, i,
		   base || jsonb_build_object(
			   'status', CASE WHEN i % 50 = 0 THEN 'error' ELSE 'complete' END,
			   'error_message', CASE WHEN i % 50 = 0 THEN 'HTTP 503 from the agent' END,
			   'client_done_time', t0 + 1.5 + i % 7, 'client_duration_ms', 1500.25 + (i % 7) * 1000,
			   'ttft_ms', 400.5 + (i * 37) % 2000, 'cold_start_latency_ms', (i * 613) % 2500 - 300,
			   'agent_start_time', t0 + ((i * 613) % 2500 - 300) / 1000.0,
			   'input_tokens', 100 + i % 900, 'output_tokens', 20 + i % 400,
			   'token_cache_hit', i % 10 <> 0,
			   'phases', jsonb_build_array(
				   jsonb_build_object('phase', 'token', 'start_ms', 0, 'duration_ms', 0.25),
				   jsonb_build_object('phase', 'db', 'start_ms', 0, 'duration_ms', 1.5),
				   jsonb_build_object('phase', 'dns', 'start_ms', 1.75, 'duration_ms', 0),
				   jsonb_build_object('phase', 'connect', 'start_ms', 1.75, 'duration_ms', 0),
				   jsonb_build_object('phase', 'first_byte', 'start_ms', 1.8, 'duration_ms', 350.5),
				   jsonb_build_object('phase', 'first_token', 'start_ms', 1.8, 'duration_ms', 398.7),
				   jsonb_build_object('phase', 'stream', 'start_ms', 400.5, 'duration_ms', 1099.75),
				   jsonb_build_object('phase', 'agent.model', 'start_ms', NULL, 'duration_ms', 980)))
	FROM inv
)
SELECT replace(:'sql', '$1', quote_literal(jsonb_agg(jsonb_strip_nulls(r) ORDER BY kind, i))) || ';'
FROM row_ GROUP BY batch ORDER BY batch
SQL
}

# Round 0 warms up and is not counted; the methods alternate their order.
echo "method round ms cpu_ms" >"$work/times"
for round in $(seq 0 "$ROUNDS"); do
	order="old new"
	[ $((round % 2)) = 1 ] && order="new old"
	for method in $order; do
		if [ "$method" = old ]; then sql=$OLD_SQL; else sql=$NEW_SQL; fi
		batches "$method-$round" "$sql" >"$work/batches.sql"
		echo "SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint / 1000000;" >>"$work/batches.sql"
		psql_run -c CHECKPOINT
		start=$(date +%s%N)
		cpu=$(psql_run -At -f "$work/batches.sql" | tail -n 1)
		echo "$method $round $((($(date +%s%N) - start) / 1000000)) $cpu" >>"$work/times"
	done
done

psql_run -v rounds="$ROUNDS" -v n="$INVOCATIONS" <<SQL
\pset footer off
CREATE TEMP TABLE t (method text, round int, ms float8, cpu_ms float8);
\copy t FROM '$work/times' WITH (FORMAT csv, HEADER, DELIMITER ' ')
SELECT 'invocations written' AS check, count(*) = 2 * (:rounds + 1) * :n AS ok FROM loomlat.invocations
UNION ALL
SELECT 'phases written', count(*) = 2 * (:rounds + 1) * :n * 8 FROM loomlat.invocation_phases;
WITH m AS (SELECT method, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms,
				  percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_ms) AS cpu_ms
		   FROM t WHERE round > 0 GROUP BY method)
SELECT x.time, round(x.old) AS "old UPSERT_SQL, median ms", round(x.new) AS "record_invocations, median ms",
	   round((2 * :n / (x.new / 1000))::numeric) AS "rows/s",
	   round((x.new / x.old)::numeric, 3) AS "ratio new / old",
	   CASE WHEN x.new / x.old <= 1.00 THEN 'PASS' ELSE 'FAIL' END AS "ratio <= 1.00"
FROM m o, m n,
	 LATERAL (VALUES ('wall', o.ms, n.ms), ('backend CPU', o.cpu_ms, n.cpu_ms)) AS x(time, old, new)
WHERE o.method = 'old' AND n.method = 'new';
SQL
