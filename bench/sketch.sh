#!/bin/bash
# Benchmark loomlat.sketch() (the latency_sketch aggregate, then quantiles())
# against the scan floor, loomlat.percentiles (exact), percentile_cont and
# tdigest (when installed) on the lognormal TTFT data set of
# bench/percentile.sh, in a throwaway cluster.
#
# Usage: bench/sketch.sh [--quick] [--rounds N] [--no-install]
#   --quick       1M rows instead of 10M
#   --rounds N    timed rounds, interleaved, after one warm-up round (default 5)
#   --no-install  do not run "make install" first (the extension is installed)
#
# Prints the median of the rounds for every query, whole table and
# GROUP BY agent_id, serial and with 2 workers, the worst relative error of
# p50/p95/p99 against percentile_cont (whole table and every agent), then the
# ratios the targets name (issue 10: whole table, serial) and, for reference,
# the grouped ratio to tdigest with the bound the grouped scan floor sets.
# Needs pg_virtualenv and PostgreSQL 15.
set -euo pipefail

# shellcheck source=bench/lat_bench.sh
source "$(dirname "$0")/lat_bench.sh"

# Worst relative error of p50/p95/p99 against percentile_cont, over the
# whole table and every agent; name|error, once per approximate method.
errors="$work/errors"
psql_run -At -F'|' >"$errors" <<'SQL'
CREATE TEMP TABLE exact AS
SELECT NULL::int AS agent_id, percentile_cont(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY v) AS e FROM lat
UNION ALL
SELECT agent_id, percentile_cont(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY v) FROM lat GROUP BY agent_id;
CREATE TEMP TABLE estimate (method text, agent_id int, a float8[]);
INSERT INTO estimate
SELECT 'sketch', NULL, loomlat.quantiles(loomlat.sketch(v), ARRAY[0.5,0.95,0.99]) FROM lat
UNION ALL
SELECT 'sketch', agent_id, loomlat.quantiles(loomlat.sketch(v), ARRAY[0.5,0.95,0.99]) FROM lat GROUP BY agent_id
UNION ALL
SELECT 'loomlat', NULL, loomlat.percentiles(v, ARRAY[0.5,0.95,0.99]) FROM lat;
SELECT count(*) > 0 AS has_tdigest FROM pg_extension WHERE extname = 'tdigest' \gset
\if :has_tdigest
INSERT INTO estimate
SELECT 'tdigest', NULL, tdigest_percentile(v, 100, ARRAY[0.5,0.95,0.99]) FROM lat
UNION ALL
SELECT 'tdigest', agent_id, tdigest_percentile(v, 100, ARRAY[0.5,0.95,0.99]) FROM lat GROUP BY agent_id;
\endif
SELECT method, max(abs(x.a[i] - e.e[i]) / abs(e.e[i]))
  FROM estimate x JOIN exact e ON e.agent_id IS NOT DISTINCT FROM x.agent_id, generate_series(1, 3) i
 GROUP BY method;
SQL
echo "# worst relative error of p50/p95/p99 vs percentile_cont (whole and per agent):"
sed 's/^/#   /' "$errors"

# name|workers|query; the same list is timed every round, in this order
cases="$work/cases"
{
	echo "floor|0|SELECT count(*), avg(v) FROM lat"
	echo "floor|2|SELECT count(*), avg(v) FROM lat"
	echo "floor_grouped|0|SELECT agent_id, count(*), avg(v) FROM lat GROUP BY agent_id"
	echo "floor_grouped|2|SELECT agent_id, count(*), avg(v) FROM lat GROUP BY agent_id"
	echo "sketch|0|SELECT loomlat.quantiles(loomlat.sketch(v), ARRAY[0.5,0.95,0.99]) FROM lat"
	echo "sketch|2|SELECT loomlat.quantiles(loomlat.sketch(v), ARRAY[0.5,0.95,0.99]) FROM lat"
	echo "sketch_grouped|0|SELECT agent_id, loomlat.quantiles(loomlat.sketch(v), ARRAY[0.5,0.95,0.99]) FROM lat GROUP BY agent_id"
	echo "sketch_grouped|2|SELECT agent_id, loomlat.quantiles(loomlat.sketch(v), ARRAY[0.5,0.95,0.99]) FROM lat GROUP BY agent_id"
	echo "loomlat|0|SELECT loomlat.percentiles(v, ARRAY[0.5,0.95,0.99]) FROM lat"
	echo "loomlat|2|SELECT loomlat.percentiles(v, ARRAY[0.5,0.95,0.99]) FROM lat"
	echo "loomlat_grouped|0|SELECT agent_id, loomlat.percentiles(v, ARRAY[0.5,0.95,0.99]) FROM lat GROUP BY agent_id"
	echo "loomlat_grouped|2|SELECT agent_id, loomlat.percentiles(v, ARRAY[0.5,0.95,0.99]) FROM lat GROUP BY agent_id"
	echo "percentile_cont|0|SELECT percentile_cont(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY v) FROM lat"
	echo "percentile_cont_grouped|0|SELECT agent_id, percentile_cont(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY v) FROM lat GROUP BY agent_id"
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

# Median per case, then the table (with each method's worst error) and the target ratios.
awk -F'|' -v tdigest="$tdigest" "$LAT_AWK"'
	FNR == NR { err[$1] = $2; next }
	{ t[$1 "|" $2] = t[$1 "|" $2] " " $3 }
	function row(label, name, e) {
		printf "| %-40s | %s | %s | %s | %s | %10s |\n", label, cell(name "|0"), cell(name "|2"),
			cell(name "_grouped|0"), cell(name "_grouped|2"), e
	}
	function pct(name) { return (name in err) ? sprintf("%.3f%%", 100 * err[name]) : "-" }
	END {
		print ""
		printf "| %-40s | %10s | %10s | %10s | %10s | %10s |\n", "median ms", "whole", "whole 2w", "grouped", "grouped 2w", "worst err"
		printf "|%s|%s:|%s:|%s:|%s:|%s:|\n", "------------------------------------------", "-----------", "-----------", "-----------", "-----------", "-----------"
		row("scan floor: count(*), avg(v)", "floor", "")
		row("loomlat.sketch + quantiles (alpha 1%)", "sketch", pct("sketch"))
		row("loomlat.percentiles (exact)", "loomlat", pct("loomlat"))
		row("percentile_cont (never parallel)", "percentile_cont", "0")
		if (tdigest == 1) row("tdigest_percentile c=100", "tdigest", pct("tdigest"))
		print ""
		check("whole: sketch serial / scan floor serial", m("sketch|0") / m("floor|0"), "<=", 1.1)
		check("grouped: sketch serial / scan floor serial", m("sketch_grouped|0") / m("floor_grouped|0"), "<=", 1.1)
		check("whole: sketch 2 workers / serial", m("sketch|2") / m("sketch|0"), "<=", 1)
		check("worst relative error of the sketch", err["sketch"], "<=", 0.01)
		if (tdigest == 1) {
			check("whole: tdigest serial / sketch serial", m("tdigest|0") / m("sketch|0"), ">=", 3)
			# not a target: grouped, even a free transition stays under tdigest / floor
			printf "%-58s %6.2f  (bound: tdigest / scan floor %.2f)\n", "grouped: tdigest serial / sketch serial",
				m("tdigest_grouped|0") / m("sketch_grouped|0"), m("tdigest_grouped|0") / m("floor_grouped|0")
		}
	}' "$errors" "$times"
