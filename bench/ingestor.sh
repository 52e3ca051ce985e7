#!/usr/bin/env bash
# bench/ingestor.sh - measure the ingestor against its targets, on loopback.
#
# Builds the release binary and installs the extension, then, inside a
# throwaway cluster (pg_virtualenv), runs bench/ingestor_bench.py: 100 and
# 1,000 concurrent streams from one client process pinned to one core, the
# measurement error of every first token against the mock agent's own send
# time, and the token requests with a warm and with a cold cache; and the
# journal's cost: interleaved rounds of the 100-stream jittered run with the
# journal on and with --no-journal, medians side by side and their ratio
# (target: p99 on/off <= 1.05).  Prints one table with PASS/FAIL per target;
# exits 1 if any target is missed.
#
#   bench/ingestor.sh [--quick]    --quick: a quarter of the calls, 2 rounds
#
# A full run must hold the benchmark lock for its whole duration:
#   flock -w 3000 /tmp/loomlat-bench.lock bench/ingestor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

if [ "$(nproc)" -lt 2 ]; then
	echo "bench/ingestor.sh: needs 2 CPUs (client on one, mocks on the other)" >&2
	exit 69
fi
# The release build by its path: the ingestor/loomlat link may point at a
# sanitizer build.
make -s -C ingestor build/release/loomlat
flock -w 600 /tmp/loomlat-ext.lock -c "make -s PG_CONFIG=$PG_CONFIG && make -s install PG_CONFIG=$PG_CONFIG" >/dev/null
# 1,000 streams need ~2,000 descriptors in the client and the mock.
[ "$(ulimit -n)" -ge 4096 ] || ulimit -n "$(ulimit -Hn)"
export LOOMLAT_BIN=$PWD/ingestor/build/release/loomlat
# A shared hold on the install lock: nobody reinstalls the extension under us.
flock -s -w 600 /tmp/loomlat-ext.lock pg_virtualenv -t -v 15 python3 bench/ingestor_bench.py "$@"
