# bench/cluster.sh - where and how the SQL benchmarks run; source it after
# bench/options.sh and call bench_cluster first.
#
#   bench_cluster [-o GUC=VALUE ...]  outside the throwaway cluster: install
#       the extension (unless --no-install) under the build lock, then run this
#       script again inside a pg_virtualenv cluster with these settings, holding
#       the lock shared for the whole run, so that no build replaces the library
#       that parallel workers load meanwhile, on a port free at the time; when
#       another build was installed between the two holds, install again.
#       Returns only inside the cluster.
#   bench_extensions  inside it: CREATE EXTENSION loomlat, and tdigest when
#       the package is installed; prints 1 when tdigest is there, else 0.
#   bench_invocations [HEADER]  inside it, for the scripts on bench/summary_data.sql
#       (psql_run passing -v as_of="$AS_OF" defined): the extensions, a header
#       (version; CPUs, rows, rounds and HEADER), then $ROWS invocations over the
#       30 days up to AS_OF; prints "# loaded in N s" without its newline, for
#       the caller to complete.
#   bench_rounds CASES TIMES  every "name|workers|query" line of CASES once per
#       round, interleaved, in one psql session per round (psql_run, which the
#       script defines): a warm-up round 0, then ROUNDS timed rounds, whose
#       "name|workers|ms" lines are appended to TIMES.
#   MEDIAN_AWK  the awk function median(list) of a space-separated list, for
#       the scripts that report bench_rounds' TIMES.
BENCH_LOCK=/tmp/loomlat-ext.lock
# shellcheck disable=SC2034 # used by the sourcing scripts
MEDIAN_AWK='
	function median(list,   a, n, i, j, x) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}'

bench_cluster() {
	local repo port version rc

	[ -n "${LOOMLAT_BENCH_INNER:-}" ] && return 0
	repo=$(cd "$(dirname "$0")/.." && pwd)
	version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$repo/loomlat.control")
	for _ in 1 2 3; do
		if [ "$INSTALL" = 1 ]; then
			flock "$BENCH_LOCK" make -s -C "$repo" install PG_CONFIG="$PG_CONFIG" >/dev/null
		fi
		# a port free now: pg_virtualenv's default only avoids the clusters it knows
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		# Another build may be installed between the install and the shared
		# hold: then (exit 75) install again.
		rc=0
		flock -s "$BENCH_LOCK" bash -c '[ "$1" = 0 ] || { cmp -s "$2" "$3" && cmp -s "$4" "$5"; } || exit 75
			shift 5; exec "$@"' _ "$INSTALL" \
			"$repo/loomlat.so" "$("$PG_CONFIG" --pkglibdir)/loomlat.so" \
			"$repo/sql/loomlat--$version.sql" "$("$PG_CONFIG" --sharedir)/extension/loomlat--$version.sql" \
			timeout 5400 pg_virtualenv -t -v 15 -c "-p $port" "$@" \
			env LOOMLAT_BENCH_INNER=1 "$0" --rounds "$ROUNDS" \
			$([ "$ROWS" = 1000000 ] && echo --quick) --no-install || rc=$?
		[ "$rc" = 75 ] || exit "$rc"
		echo "# another build was installed meanwhile; installing this one again" >&2
	done
	exit 75
}

bench_extensions() {
	local tdigest

	psql_run -c 'CREATE EXTENSION loomlat' >&2
	tdigest=$(psql_run -At -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'tdigest'")
	[ "$tdigest" = 1 ] && psql_run -c 'CREATE EXTENSION tdigest' >&2
	echo "$tdigest"
}

bench_invocations() {
	local start

	bench_extensions >/dev/null
	echo "# $(psql_run -At -c 'SELECT version()')"
	echo "# $(nproc) CPUs, $ROWS invocations, $ROUNDS rounds (median)${1:+, $1}"
	start=$(date +%s)
	psql_run -v rows="$ROWS" -f "$(dirname "$0")/summary_data.sql" >/dev/null
	echo -n "# loaded in $(($(date +%s) - start)) s"
}

bench_rounds() {
	local cases=$1 times=$2 script round name workers query

	script=$(mktemp)
	for round in $(seq 0 "$ROUNDS"); do
		echo "# round $round of $ROUNDS" >&2
		{
			echo '\o /dev/null'
			while IFS='|' read -r name workers query; do
				echo '\timing off'
				echo "SET max_parallel_workers_per_gather = $workers;"
				echo "\\echo CASE $name|$workers"
				echo '\timing on'
				echo "$query;"
			done <"$cases"
		} >"$script"
		psql_run -f "$script" | awk -v round="$round" '
			/^CASE / { c = substr($0, 6) }
			/^Time: / { if (round > 0) print c "|" $2 }' >>"$times"
	done
	rm -f "$script"
}
