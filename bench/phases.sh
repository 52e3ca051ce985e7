#!/bin/bash
# Benchmark phase_breakdown() on what the ingestor writes: bench/summary_data.sql's
# invocations (50 agents over 30 days), each with the three phases loomlat
# invoke records (token, first_token, stream), in a throwaway cluster.  For
# every range of the dashboard (1h, 24h, 7d, 30d) it times, interleaved,
# latency_summary(range) and phase_breakdown(range), and prints the medians
# and their ratio.  No target: it shows how the breakdown scales with the
# phases (the report and dashboard benchmarks, bench/report.sh, have none).
#
# Usage: bench/phases.sh [--quick] [--rounds N] [--no-install]
#   --quick       1M invocations (3M phases) instead of 10M (30M)
#   --rounds N    timed rounds after one warm-up round, interleaved (default 5)
#   --no-install  do not run "make install" first (the extension is installed)
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

# shellcheck source=bench/options.sh
source "$(dirname "$0")/options.sh"

# shellcheck source=bench/cluster.sh
source "$(dirname "$0")/cluster.sh"
bench_cluster -o shared_buffers=2GB -o jit=off

# ---- inside the throwaway cluster ----
AS_OF='2031-01-31 00:00:00+00'
psql_run() { psql -X -q -v ON_ERROR_STOP=1 -v as_of="$AS_OF" "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bench_invocations ''
start=$(date +%s)
# The phases of every invocation, as loomlat invoke writes them: the token
# fetch, the wait for the first token, the stream after it.  Loaded without
# the foreign key's per-row check and with the primary key built after.
psql_run <<'SQL'
SET session_replication_role = replica;
SET maintenance_work_mem = '1GB';
ALTER TABLE loomlat.invocation_phases DROP CONSTRAINT invocation_phases_pkey;
INSERT INTO loomlat.invocation_phases (invocation_id, phase, start_ms, duration_ms)
SELECT i.invocation_id, p.phase, p.start_ms, p.duration_ms
FROM loomlat.invocations i,
	 LATERAL (VALUES ('token', 0, 0.05 * coalesce(i.ttft_ms, 1000)),
					 ('first_token', 0.05 * coalesce(i.ttft_ms, 1000), 0.95 * coalesce(i.ttft_ms, 1000)),
					 ('stream', coalesce(i.ttft_ms, 1000), i.client_duration_ms - coalesce(i.ttft_ms, 1000)))
		 AS p(phase, start_ms, duration_ms)
WHERE p.duration_ms >= 0;
ALTER TABLE loomlat.invocation_phases ADD PRIMARY KEY (invocation_id, phase);
VACUUM ANALYZE loomlat.invocation_phases;
SQL
echo ", $(psql_run -At -c 'SELECT count(*) FROM loomlat.invocation_phases') phases loaded in $(($(date +%s) - start)) s"

# name|workers|query; the same list is timed every round, in this order
cases="$work/cases"
for range in 1h 24h 7d 30d; do
	echo "summary $range|0|SELECT loomlat.latency_summary('$range', as_of => '$AS_OF')"
	echo "breakdown $range|0|SELECT count(*) FROM loomlat.phase_breakdown('$range', as_of => '$AS_OF')"
done >"$cases"
times="$work/times"
: >"$times"
bench_rounds "$cases" "$times"

awk -F'|' "$MEDIAN_AWK"'
	{ t[$1] = t[$1] " " $3 }
	END {
		print ""
		printf "| %-5s | %16s | %18s | %9s |\n", "range", "summary ms", "phase_breakdown ms", "ratio"
		printf "|-------|-----------------:|-------------------:|----------:|\n"
		n = split("1h 24h 7d 30d", r, " ")
		for (i = 1; i <= n; i++) {
			s = median(t["summary " r[i]]); b = median(t["breakdown " r[i]])
			printf "| %-5s | %16.0f | %18.0f | %8.1fx |\n", r[i], s, b, b / s
		}
	}' "$times"
