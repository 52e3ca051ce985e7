#!/bin/bash
# Benchmark loomlat's exact percentile aggregate against percentile_cont, the
# scan floor and tdigest (when installed), in a throwaway cluster, on a
# synthetic TTFT data set modelled on agent latencies: lognormal around
# 1.2 s, a 3% slow tail, 1% NULLs, over 50 agents (generated below).
#
# Usage: bench/percentile.sh [--quick] [--rounds N] [--no-install]
#   --quick       1M rows instead of 10M
#   --rounds N    timed rounds, interleaved, after one warm-up round (default 5)
#   --no-install  do not run "make install" first (the extension is installed)
#
# Prints the median of the rounds for every query, whole table and
# GROUP BY agent_id, serial and with 2 workers, then the ratios the targets
# name.  Needs pg_virtualenv (postgresql-common) and PostgreSQL 15.
set -euo pipefail

# shellcheck source=bench/lat_bench.sh
source "$(dirname "$0")/lat_bench.sh"

# Exactness on this data set, whole table and per agent.
same=$(psql_run -At <<'SQL'
SELECT (SELECT pg_catalog.array_send(loomlat.percentiles(v, ARRAY[0.5, 0.95, 0.99]))
             = pg_catalog.array_send(percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY v))
        FROM lat)
   AND (SELECT bool_and(a = b) FROM
          (SELECT agent_id, pg_catalog.array_send(loomlat.percentiles(v, ARRAY[0.5, 0.95, 0.99])) AS a
             FROM lat GROUP BY agent_id) x
          JOIN (SELECT agent_id,
                       pg_catalog.array_send(percentile_cont(ARRAY[0.5, 0.95, 0.99])
                                             WITHIN GROUP (ORDER BY v)) AS b
                  FROM lat GROUP BY agent_id) y USING (agent_id));
SQL
)
echo "# loomlat bit-identical to percentile_cont (whole and per agent): $same"

# name|workers|query; the same list is timed every round, in this order
cases="$work/cases"
{
	echo "floor|0|SELECT count(*), avg(v) FROM lat"
	echo "floor|2|SELECT count(*), avg(v) FROM lat"
	echo "floor_grouped|0|SELECT agent_id, count(*), avg(v) FROM lat GROUP BY agent_id"
	echo "floor_grouped|2|SELECT agent_id, count(*), avg(v) FROM lat GROUP BY agent_id"
	echo "percentile_cont|0|SELECT percentile_cont(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY v) FROM lat"
	echo "percentile_cont_grouped|0|SELECT agent_id, percentile_cont(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY v) FROM lat GROUP BY agent_id"
	echo "loomlat|0|SELECT loomlat.percentiles(v, ARRAY[0.5,0.95,0.99]) FROM lat"
	echo "loomlat|2|SELECT loomlat.percentiles(v, ARRAY[0.5,0.95,0.99]) FROM lat"
	echo "loomlat_grouped|0|SELECT agent_id, loomlat.percentiles(v, ARRAY[0.5,0.95,0.99]) FROM lat GROUP BY agent_id"
	echo "loomlat_grouped|2|SELECT agent_id, loomlat.percentiles(v, ARRAY[0.5,0.95,0.99]) FROM lat GROUP BY agent_id"
	if [ "$tdigest" = 1 ]; then
		echo "tdigest|0|SELECT tdigest_percentile(v, 100, ARRAY[0.5,0.95,0.99]) FROM lat"
		echo "tdigest|2|SELECT tdigest_percentile(v, 100, ARRAY[0.5,0.95,0.99]) FROM lat"
		echo "tdigest_grouped|0|SELECT agent_id, tdigest_percentile(v, 100, ARRAY[0.5,0.95,0.99]) FROM lat GROUP BY agent_id"
		echo "tdigest_grouped|2|SELECT agent_id, tdigest_percentile(v, 100, ARRAY[0.5,0.95,0.99]) FROM lat GROUP BY agent_id"
	fi
} >"$cases"

# Interleaved rounds, a warm-up round 0 first.
times="$work/times"
: >"$times"
bench_rounds "$cases" "$times"

# Median per case, then the table and the target ratios.
awk -F'|' -v tdigest="$tdigest" "$LAT_AWK"'
	{ t[$1 "|" $2] = t[$1 "|" $2] " " $3 }
	function row(label, name) {
		printf "| %-40s | %s | %s | %s | %s |\n", label, cell(name "|0"), cell(name "|2"),
			cell(name "_grouped|0"), cell(name "_grouped|2")
	}
	END {
		print ""
		printf "| %-40s | %10s | %10s | %10s | %10s |\n", "median ms", "whole", "whole 2w", "grouped", "grouped 2w"
		printf "|%s|%s:|%s:|%s:|%s:|\n", "------------------------------------------", "-----------", "-----------", "-----------", "-----------"
		row("scan floor: count(*), avg(v)", "floor")
		row("percentile_cont (never parallel)", "percentile_cont")
		row("loomlat.percentiles (exact)", "loomlat")
		if (tdigest == 1) row("tdigest_percentile c=100 (approximate)", "tdigest")
		print ""
		check("whole: percentile_cont / loomlat serial", m("percentile_cont|0") / m("loomlat|0"), ">=", 4)
		check("whole: loomlat serial / scan floor serial", m("loomlat|0") / m("floor|0"), "<=", 1.5)
		check("grouped: percentile_cont / loomlat serial", m("percentile_cont_grouped|0") / m("loomlat_grouped|0"), ">=", 3)
		check("whole: loomlat 2 workers / serial", m("loomlat|2") / m("loomlat|0"), "<=", 1)
		check("grouped: loomlat 2 workers / serial", m("loomlat_grouped|2") / m("loomlat_grouped|0"), "<=", 1)
		if (tdigest == 1) {
			check("whole: tdigest serial / loomlat serial", m("tdigest|0") / m("loomlat|0"), ">=", 1)
			check("grouped: tdigest serial / loomlat serial", m("tdigest_grouped|0") / m("loomlat_grouped|0"), ">=", 1)
		}
	}' "$times"
