#!/bin/bash
# Benchmark "loomlat ingest" of a JSON-lines file against psql's \copy of the
# same rows as CSV into the same table, in a throwaway cluster.
#
# Usage: bench/ingest.sh [--quick] [--rounds N] [--no-install]
#   --quick       100,000 lines instead of 1,000,000
#   --rounds N    timed rounds, interleaved, after one warm-up round (default 5)
#   --no-install  do not run "make install" first (the extension is installed)
#
# The rows are complete invocations of one agent (id, session, status, invoke
# time, TTFT, duration), each line in loomlat's row shape.  Every round
# truncates loomlat.invocations before each method, so both insert into the
# same empty table with the same index and trigger; ingest goes through
# record_invocations() in the writer's batches (1,000 rows or 1 MiB), with
# its write-ahead journal on (in the work directory, fdatasync'd before each
# batch is sent), \copy is one COPY.  The medians and the ratio of rows per
# second are printed against the target (ingest >= 60% of \copy).
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
# shellcheck source=bench/options.sh
source "$(dirname "$0")/options.sh"
LINES=$((ROWS / 10)) # options.sh's sizes are the SQL benchmarks' (10M, 1M --quick)

repo=$(cd "$(dirname "$0")/.." && pwd)
[ -n "${LOOMLAT_BENCH_INNER:-}" ] || make -s -C "$repo/ingestor" >/dev/null
# shellcheck source=bench/cluster.sh
source "$(dirname "$0")/cluster.sh"
bench_cluster

# ---- inside the throwaway cluster ----
psql_run() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LOOMLAT_JOURNAL_DIR=$work/journal

psql_run -c 'CREATE EXTENSION loomlat' \
	-c "INSERT INTO loomlat.agents (agent_id, name) VALUES (1, 'bench')"
echo "# $(psql_run -At -c 'SELECT version()')"
echo "# $(nproc) CPUs, $LINES lines, $ROUNDS rounds (median)"
psql_run -v n="$LINES" <<SQL
CREATE TEMP VIEW bench_rows AS
SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid AS invocation_id, 1 AS agent_id,
	   's-' || i % 1000 AS session_id, 'complete' AS status,
	   1793527200 + i * 0.01 AS client_invoke_time, 100 + i % 997 * 0.5 AS ttft_ms,
	   900 + i % 991 AS client_duration_ms
FROM generate_series(1, :n) i;
\copy (SELECT row_to_json(r) FROM bench_rows r) TO '$work/rows.jsonl'
\copy (SELECT invocation_id, agent_id, session_id, status, to_timestamp(client_invoke_time), ttft_ms, client_duration_ms FROM bench_rows) TO '$work/rows.csv' WITH (FORMAT csv)
SQL

# Seconds one method takes for the whole file, after emptying the table.
time_ingest() {
	psql_run -c 'TRUNCATE loomlat.invocation_phases, loomlat.invocations'
	local t0=$EPOCHREALTIME
	"$repo/ingestor/loomlat" ingest -q "$work/rows.jsonl" >"$work/ingest.out"
	awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { print a - b }'
}
time_copy() {
	psql_run -c 'TRUNCATE loomlat.invocation_phases, loomlat.invocations'
	local t0=$EPOCHREALTIME
	psql_run -c "\\copy loomlat.invocations (invocation_id, agent_id, session_id, status, client_invoke_time, ttft_ms, client_duration_ms) FROM '$work/rows.csv' WITH (FORMAT csv)"
	awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { print a - b }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

ingest_s=()
copy_s=()
for round in $(seq 0 "$ROUNDS"); do
	i=$(time_ingest)
	c=$(time_copy)
	echo "# round $round: ingest ${i} s, \\copy ${c} s$([ "$round" = 0 ] && echo ' (warm-up)')"
	[ "$round" = 0 ] && continue
	ingest_s+=("$i")
	copy_s+=("$c")
done
loaded=$(psql_run -At -c 'SELECT count(*) FROM loomlat.invocations')
[ "$loaded" = "$LINES" ] || { echo "\\copy loaded $loaded rows, not $LINES" >&2; exit 1; }
grep -q "inserted $LINES," "$work/ingest.out" || { cat "$work/ingest.out" >&2; exit 1; }
[ -z "$(ls -A "$LOOMLAT_JOURNAL_DIR")" ] || { echo "the journal was not emptied" >&2; exit 1; }
mi=$(printf '%s\n' "${ingest_s[@]}" | median)
mc=$(printf '%s\n' "${copy_s[@]}" | median)
awk -v n="$LINES" -v i="$mi" -v c="$mc" 'BEGIN {
	printf "%-32s %10s %12s\n", "median", "seconds", "rows/s"
	printf "%-32s %10.2f %12.0f\n", "loomlat ingest (JSON lines)", i, n / i
	printf "%-32s %10.2f %12.0f\n", "psql \\copy (CSV)", c, n / c
	r = c / i
	printf "ingest / \\copy rows per second: %.2f (target >= 0.60): %s\n", r, (r >= 0.6 ? "PASS" : "FAIL")
}'
