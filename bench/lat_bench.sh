# bench/lat_bench.sh - the start the benchmarks on bench/lat_data.sql's table
# lat share (bench/percentile.sh, bench/sketch.sh); source it with the
# script's arguments.  Outside the throwaway cluster it parses the options
# (bench/options.sh) and enters a cluster that allows two parallel workers
# (bench_cluster, which runs the script again inside).  Inside, it defines
# psql_run and a scratch directory $work (removed on exit), creates the
# extensions (tdigest=1 when tdigest is there, else 0), prints the header and
# loads lat with $ROWS rows.  LAT_AWK holds the awk functions of both reports:
#   median(list)  MEDIAN_AWK's (bench/cluster.sh);  m(key)  the median of t[key], 0 if none
#   cell(key)     that median in a 10-wide cell, "-" if none
#   check(label, value, op, target)  a target line ending in PASS or FAIL
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

# shellcheck source=bench/options.sh
source "$(dirname "$0")/options.sh"

# shellcheck source=bench/cluster.sh
source "$(dirname "$0")/cluster.sh"
bench_cluster -o shared_buffers=2GB -o jit=off -o max_parallel_workers_per_gather=2 \
	-o max_worker_processes=8 -o max_parallel_workers=8

# ---- inside the throwaway cluster ----
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
psql_run() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

tdigest=$(bench_extensions)

echo "# $(psql_run -At -c 'SELECT version()')"
echo "# $(nproc) CPUs, $ROWS rows, $ROUNDS rounds (median shown), work_mem $(psql_run -At -c 'SHOW work_mem')"
echo "# generating data ..."
psql_run -v rows="$ROWS" -f "$(dirname "$0")/lat_data.sql"

# shellcheck disable=SC2034 # used by the sourcing script
LAT_AWK="$MEDIAN_AWK"'
	function m(k) { return (k in t) ? median(t[k]) : 0 }
	function cell(k) { return (k in t) ? sprintf("%10.0f", median(t[k])) : sprintf("%10s", "-") }
	function check(label, value, op, target) {
		ok = (op == ">=") ? value >= target : value <= target
		printf "%-58s %6.2f  (target %s %.2f)  %s\n", label, value, op, target, ok ? "PASS" : "FAIL"
	}'
