#!/bin/bash
# Benchmark loomlat.latency_summary() on invocations of 50 agents over 30
# days, in a throwaway cluster, against
#   - the same summary written in plain SQL with percentile_cont
#     (bench/summary_plain.sql; the script checks both give the same jsonb),
#   - a plain scan of the window: count(*), avg(ttft_ms),
# and times latency_summary('24h'), which should answer from the index.
#
# Usage: bench/summary.sh [--quick] [--rounds N] [--no-install]
#   --quick       1M invocations instead of 10M
#   --rounds N    timed rounds after one warm-up round, interleaved (default 5)
#   --no-install  do not run "make install" first (the extension is installed)
#
# Data: bench/summary_data.sql (lognormal TTFT, 1% NULL, ~30% cold starts,
# loaded through the classification trigger).  Every query runs once per
# round, in turn; the medians and the target ratios are printed at the end.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
# shellcheck source=bench/options.sh
source "$(dirname "$0")/options.sh"

# shellcheck source=bench/cluster.sh
source "$(dirname "$0")/cluster.sh"
bench_cluster -o shared_buffers=2GB -o jit=off
bench=$(cd "$(dirname "$0")" && pwd)

# ---- inside the throwaway cluster ----
AS_OF='2031-01-31 00:00:00+00'
psql_run() { psql -X -q -v ON_ERROR_STOP=1 -v as_of="$AS_OF" "$@"; }

bench_invocations "work_mem $(psql_run -At -c 'SHOW work_mem')"
echo ": $(psql_run -At -c "SELECT pg_size_pretty(pg_total_relation_size('loomlat.invocations'))")"
psql_run -v view=plain_30d -v range=30d -v span='720 hours' -f "$bench/summary_plain.sql"

# Where latency_summary('24h') reads from (its query runs inside the function).
plan=$(psql_run 2>&1 >/dev/null <<'SQL' | grep -o -E '(Parallel )?(Index Only Scan|Index Scan|Bitmap Heap Scan|Seq Scan) (using [a-z_]+ )?on invocations' | sort -u | paste -sd ';'
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET client_min_messages = log;
SELECT loomlat.latency_summary('24h', as_of => :'as_of');
SQL
)
echo "# latency_summary('24h') plan: ${plan:-?}"

psql_run -v rounds="$ROUNDS" <<'SQL'
\pset footer off
SELECT loomlat.latency_summary('30d', as_of => :'as_of') = p.jsonb_build_object
		   AS "latency_summary('30d') = plain percentile_cont SQL",
	   (loomlat.latency_summary('30d', as_of => :'as_of')->>'total_invocations')::bigint AS invocations
FROM plain_30d p;

CREATE TABLE bench_case (name text, workers int, sql text);
INSERT INTO bench_case VALUES
	('scan', 0, format('SELECT count(*), avg(ttft_ms) FROM loomlat.invocations'
					   ' WHERE client_invoke_time > %L::timestamptz - interval ''720 hours'''
					   ' AND client_invoke_time <= %L', :'as_of', :'as_of')),
	('summary_30d', 0, format('SELECT loomlat.latency_summary(''30d'', as_of => %L)', :'as_of')),
	('percentile_cont', 0, 'SELECT * FROM plain_30d'),
	('summary_24h', 0, format('SELECT loomlat.latency_summary(''24h'', as_of => %L)', :'as_of'));
INSERT INTO bench_case SELECT name, 2, sql FROM bench_case WHERE name <> 'percentile_cont';
CREATE TABLE bench_time (name text, workers int, round int, ms float8);
SELECT set_config('bench.rounds', :'rounds', false) AS rounds \g /dev/null

-- Interleaved: every query once per round.  Round 0 warms the caches and is
-- not counted.
DO $$
DECLARE
	c     record;
	start timestamptz;
BEGIN
	FOR round IN 0 .. current_setting('bench.rounds')::int LOOP
		RAISE NOTICE 'round % of %', round, current_setting('bench.rounds');
		FOR c IN SELECT * FROM bench_case ORDER BY name, workers LOOP
			PERFORM set_config('max_parallel_workers_per_gather', c.workers::text, true);
			start := clock_timestamp();
			EXECUTE c.sql;
			INSERT INTO bench_time
			VALUES (c.name, c.workers, round, extract(epoch FROM clock_timestamp() - start) * 1000);
		END LOOP;
	END LOOP;
END
$$;

CREATE TEMP VIEW median AS
SELECT name, workers, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms
FROM bench_time WHERE round > 0 GROUP BY name, workers;

SELECT c.label AS "median ms", round(s.ms) AS "serial", round(p.ms) AS "2 workers"
FROM (VALUES (1, 'scan', 'plain scan of the window: count(*), avg(ttft_ms)'),
			 (2, 'percentile_cont', 'the same summary in plain SQL with percentile_cont'),
			 (3, 'summary_30d', 'latency_summary(''30d'')'),
			 (4, 'summary_24h', 'latency_summary(''24h'')')) AS c(i, name, label)
	 LEFT JOIN median s ON s.name = c.name AND s.workers = 0
	 LEFT JOIN median p ON p.name = c.name AND p.workers = 2
ORDER BY c.i;

SELECT t.target, round(t.value::numeric, 2) AS value, CASE WHEN t.ok THEN 'PASS' ELSE 'FAIL' END AS result
FROM (SELECT 1 AS i, 'percentile_cont SQL / latency_summary(''30d''), serial  (>= 4)' AS target,
			 pc.ms / s.ms AS value, pc.ms / s.ms >= 4 AS ok
	  FROM median pc, median s
	  WHERE pc.name = 'percentile_cont' AND s.name = 'summary_30d' AND s.workers = 0
	  UNION ALL
	  SELECT 1 + f.workers / 2 + 1, format('latency_summary(''30d'') / plain scan, %s workers  (<= 3)', f.workers),
			 s.ms / f.ms, s.ms / f.ms <= 3
	  FROM median s JOIN median f ON f.workers = s.workers
	  WHERE s.name = 'summary_30d' AND f.name = 'scan'
	  UNION ALL
	  SELECT 4, format('latency_summary(''24h'') ms, %s workers  (< 1000)', workers), ms, ms < 1000
	  FROM median WHERE name = 'summary_24h' AND workers = 2) AS t
ORDER BY t.i;
SQL
