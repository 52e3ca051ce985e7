#!/bin/bash
# Benchmark what people look at: "loomlat report" and "loomlat serve" on the
# invocations table of bench/summary.sh (50 agents over 30 days, the window
# ending when the data are loaded, so that serve's now() sees them), in a
# throwaway cluster.  Each round times, one after the other, as client
# commands end to end:
#   - psql: SELECT loomlat.latency_summary('30d', as_of => ...),
#   - loomlat report --range 30d (text), --format json and --format html
#     (the page holds all four ranges),
#   - loomlat serve under 20 clients sending GET /api/admin/latency?range=24h
#     back to back for --seconds (bench/report_load.py): its p50/p95/p99.
# It also checks that the report's JSON "summary" is latency_summary('30d'),
# and measures the HTML page's size.
#
# Usage: bench/report.sh [--quick] [--rounds N] [--no-install]
#   --quick       1M invocations instead of 10M
#   --rounds N    timed rounds after one warm-up round, interleaved (default 5)
#   --no-install  do not run "make install" first (the extension is installed)
#
# The medians of the rounds and the targets are printed at the end.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
LOAD_SECONDS=${LOAD_SECONDS:-10}
CLIENTS=20

# shellcheck source=bench/options.sh
source "$(dirname "$0")/options.sh"
bench=$(cd "$(dirname "$0")" && pwd)
if [ -z "${LOOMLAT_BENCH_INNER:-}" ]; then
	make -s -C "$bench/../ingestor" >/dev/null
fi

# shellcheck source=bench/cluster.sh
source "$(dirname "$0")/cluster.sh"
bench_cluster -o shared_buffers=2GB -o jit=off

# ---- inside the throwaway cluster ----
AS_OF=$(date -u +'%Y-%m-%d %H:%M:%S+00')
psql_run() { psql -X -q -v ON_ERROR_STOP=1 -v as_of="$AS_OF" "$@"; }
work=$(mktemp -d)
# a copy: a rebuild during the run must not change what is measured
cp "$(readlink -f "$bench/../ingestor/loomlat")" "$work/loomlat"
loomlat=$work/loomlat
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

bench_invocations "$CLIENTS clients for ${LOAD_SECONDS} s per round"
echo ", window ending $AS_OF"

"$loomlat" report --range 30d --as-of "$AS_OF" --format json -o "$work/report.json"
# compared as parsed JSON: the command prints a float8 in 17 digits, jsonb in the shortest form
psql_run -At -c "SELECT loomlat.latency_summary('30d', as_of => '$AS_OF')" >"$work/summary.json"
same=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["summary"] == json.load(open(sys.argv[2])))' "$work/report.json" "$work/summary.json")
echo "# report --format json: summary = latency_summary('30d'): $same"

"$loomlat" serve --listen 127.0.0.1:0 2>"$work/serve.log" &
server=$!
for _ in $(seq 50); do
	grep -q 'listening on' "$work/serve.log" && break
	sleep 0.1
done
port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/serve.log")

# Milliseconds the command takes; "failed" (and its error on stderr) when it fails.
ms() {
	local t0 t1
	t0=$(date +%s%N)
	if ! "$@" >/dev/null 2>"$work/err"; then
		head -c 300 "$work/err" >&2
		echo failed
		return
	fi
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

times=$work/times
for round in $(seq 0 "$ROUNDS"); do
	echo "# round $round of $ROUNDS" >&2
	{
		echo "summary $(ms psql_run -At -c "SELECT loomlat.latency_summary('30d', as_of => '$AS_OF')")"
		echo "text $(ms "$loomlat" report --range 30d --as-of "$AS_OF")"
		echo "json $(ms "$loomlat" report --range 30d --as-of "$AS_OF" --format json)"
		echo "html $(ms "$loomlat" report --range 30d --as-of "$AS_OF" --format html -o "$work/page.html")"
		read -r n errors p50 p95 p99 max < <(python3 "$bench/report_load.py" 127.0.0.1 "$port" \
			'/api/admin/latency?range=24h' --clients "$CLIENTS" --seconds "$LOAD_SECONDS")
		echo "serve_p50 $p50"
		echo "serve_p95 $p95"
		echo "serve_p99 $p99"
		echo "serve_rps $(python3 -c "print(round($n / $LOAD_SECONDS))")"
		echo "serve_errors $errors"
	} | sed "s/^/$round /" >>"$times"
done
html_kb=$(python3 -c "import os; print(round(os.path.getsize('$work/page.html') / 1024, 1))" 2>/dev/null || echo nan)

python3 - "$times" "$html_kb" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
m = {}
failed = set()
for r, name, v in rows:
    if v == "failed":
        failed.add(name)
    elif int(r) > 0:
        m.setdefault(name, []).append(float(v))
med = {k: statistics.median(v) if k not in failed else float("nan") for k, v in m.items()}
for k in failed:
    med[k] = float("nan")
    print("# %s failed in at least one round: not counted" % k)
print("| median of rounds                                   |        |")
print("|----------------------------------------------------|-------:|")
for key, label in [("summary", "psql: latency_summary('30d'), ms"),
                   ("text", "loomlat report --range 30d (text), ms"),
                   ("json", "loomlat report --range 30d --format json, ms"),
                   ("html", "loomlat report --format html (4 ranges), ms"),
                   ("serve_p50", "serve /api/admin/latency?range=24h p50, ms"),
                   ("serve_p95", "serve ... p95, ms"),
                   ("serve_p99", "serve ... p99, ms"),
                   ("serve_rps", "serve ... requests/s (20 clients, no think time)"),
                   ("serve_errors", "serve ... non-200 answers per round")]:
    print("| %-50s | %6.0f |" % (label, med[key]))
kb = float(sys.argv[2])
targets = [("report text / latency_summary('30d')  (<= 2)", med["text"] / med["summary"],
            med["text"] / med["summary"] <= 2),
           ("report json / latency_summary('30d')  (<= 2)", med["json"] / med["summary"],
            med["json"] / med["summary"] <= 2),
           ("serve p99 ms, 20 clients  (< 200)", med["serve_p99"],
            med["serve_p99"] < 200 and med["serve_errors"] == 0),
           ("HTML page KB, 50 agents  (< 300)", kb, kb < 300)]
print()
for label, v, ok in targets:
    print("%-46s %8.2f %s" % (label, v, "PASS" if ok else "FAIL"))
PY
