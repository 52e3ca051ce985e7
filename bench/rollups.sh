#!/bin/bash
# Benchmark the hourly rollups on bench/summary_data.sql's invocations (50
# agents over 30 days), in a throwaway cluster:
#   - latency_summary('30d') exact against latency_summary_approx('30d') from
#     the daily and hourly rollups (target < 50 ms; the script checks the
#     counts are equal),
#   - latency_over_time('30d') exact against latency_over_time_approx('30d')
#     (6 h buckets from the hourly rollups; the script checks the totals),
#   - refresh_rollups() of one new hour of 15,000 invocations (target < 200 ms),
#   - the cost of the dirty-hour trigger on that insert (with and without it).
#
# Usage: bench/rollups.sh [--quick] [--rounds N] [--no-install]
#   --quick       1M invocations instead of 10M
#   --rounds N    timed rounds after one warm-up round (default 5)
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

bench_invocations ''
echo ", $(psql_run -At -c "SELECT count(*) FROM loomlat.rollup_dirty") dirty hours"
# The catch-up over the whole history: refresh_rollups() until it returns 0.
start=$(date +%s%N)
hours=0
calls=0
while n=$(psql_run -At -c 'SELECT loomlat.refresh_rollups()') && [ "$n" -gt 0 ]; do
	hours=$((hours + n))
	calls=$((calls + 1))
done
echo "# first refresh: $hours hours in $calls calls of refresh_rollups(), $((($(date +%s%N) - start) / 1000000)) ms;" \
	"$(psql_run -At -c 'SELECT count(*) FROM loomlat.rollups_daily') daily rows"

psql_run -v rounds="$ROUNDS" <<'SQL'
\pset footer off
SELECT e ->> 'total_invocations' = a ->> 'total_invocations'
	   AND e ->> 'cold_start_pct' = a ->> 'cold_start_pct'
	   AND e -> 'ttft_histogram' = a -> 'ttft_histogram' AS "approx counts = exact counts",
	   round((abs((a ->> 'ttft_p99_ms')::numeric / (e ->> 'ttft_p99_ms')::numeric - 1)) * 100, 3) AS "p99 error %"
FROM (SELECT loomlat.latency_summary('30d', as_of => :'as_of') AS e,
			 loomlat.latency_summary_approx('30d', as_of => :'as_of') AS a) s;
SELECT (SELECT sum(invocations) FROM loomlat.latency_over_time('30d', as_of => :'as_of'))
	   = (SELECT sum(invocations) FROM loomlat.latency_over_time_approx('30d', as_of => :'as_of'))
	   AS "over time: approx total = exact total";

CREATE TABLE bench_time (name text, round int, ms float8);
SELECT set_config('bench.rounds', :'rounds', false) AS rounds \g /dev/null
SELECT set_config('bench.as_of', :'as_of', false) AS as_of \g /dev/null
-- 15,000 invocations of the hour after as_of, round r in its own hour.
CREATE FUNCTION pg_temp.new_hour(r int) RETURNS void LANGUAGE sql AS $$
	INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, cold_start_latency_ms,
									 ttft_ms, client_duration_ms)
	SELECT gen_random_uuid(), 1 + g % 50,
		   current_setting('bench.as_of')::timestamptz + r * interval '1 hour' + g * interval '240 ms',
		   100, 1200 * exp(0.6 * random()), 5000
	FROM generate_series(0, 14999) g
$$;

DO $$
DECLARE
	start timestamptz;
	as_of timestamptz := current_setting('bench.as_of');
BEGIN
	FOR round IN 0 .. current_setting('bench.rounds')::int LOOP
		start := clock_timestamp();
		PERFORM loomlat.latency_summary('30d', as_of => as_of);
		INSERT INTO bench_time VALUES ('exact', round, extract(epoch FROM clock_timestamp() - start) * 1000);
		start := clock_timestamp();
		PERFORM loomlat.latency_summary_approx('30d', as_of => as_of);
		INSERT INTO bench_time VALUES ('approx', round, extract(epoch FROM clock_timestamp() - start) * 1000);
		start := clock_timestamp();
		PERFORM count(*) FROM loomlat.latency_over_time('30d', as_of => as_of);
		INSERT INTO bench_time VALUES ('over_time', round, extract(epoch FROM clock_timestamp() - start) * 1000);
		start := clock_timestamp();
		PERFORM count(*) FROM loomlat.latency_over_time_approx('30d', as_of => as_of);
		INSERT INTO bench_time VALUES ('over_time_approx', round, extract(epoch FROM clock_timestamp() - start) * 1000);

		ALTER TABLE loomlat.invocations DISABLE TRIGGER loomlat_rollups_insert;
		start := clock_timestamp();
		PERFORM pg_temp.new_hour(2 * round + 1);
		INSERT INTO bench_time VALUES ('insert_untracked', round, extract(epoch FROM clock_timestamp() - start) * 1000);
		ALTER TABLE loomlat.invocations ENABLE TRIGGER loomlat_rollups_insert;
		start := clock_timestamp();
		PERFORM pg_temp.new_hour(2 * round + 2);
		INSERT INTO bench_time VALUES ('insert', round, extract(epoch FROM clock_timestamp() - start) * 1000);
		start := clock_timestamp();
		PERFORM loomlat.refresh_rollups();
		INSERT INTO bench_time VALUES ('refresh', round, extract(epoch FROM clock_timestamp() - start) * 1000);
	END LOOP;
END
$$;

CREATE TEMP VIEW median AS
SELECT name, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms
FROM bench_time WHERE round > 0 GROUP BY name;

SELECT c.label AS "median ms", round(m.ms::numeric, 1) AS ms, c.target,
	   CASE WHEN c.target IS NULL THEN '' WHEN m.ms < c.target THEN 'PASS' ELSE 'FAIL' END AS result
FROM (VALUES (1, 'exact', 'latency_summary(''30d'')', NULL),
			 (2, 'approx', 'latency_summary_approx(''30d'') from the rollups', 50),
			 (3, 'over_time', 'latency_over_time(''30d''), 6 h buckets', NULL),
			 (4, 'over_time_approx', 'latency_over_time_approx(''30d'') from the rollups', NULL),
			 (5, 'insert_untracked', 'INSERT 15,000 rows, rollup trigger disabled', NULL),
			 (6, 'insert', 'INSERT 15,000 rows, rollup trigger on', NULL),
			 (7, 'refresh', 'refresh_rollups() of that hour (50 agents)', 200)) AS c(i, name, label, target)
	 JOIN median m USING (name)
ORDER BY c.i;
SQL
