#!/usr/bin/env bash
# loomlat's whole test suite, on a fresh Debian 12 machine (as root, or with
# the packages already installed):
#   - the extension built with -Werror and installed;
#   - pg_regress (test/sql -> expected/) in a throwaway cluster on a free port,
#     and again with the extension built under AddressSanitizer + UBSan
#     (test/regress_san.sh);
#   - dump/restore and install-guard checks (test/dump_restore.sh, TAP);
#   - the upgrade path: 0.1.0 updated = a fresh install (test/upgrade.sh, TAP);
#   - rollups refreshed by pg_cron and racing writers (test/cron.sh, TAP);
#   - three more clusters' rollups merged through postgres_fdw (test/fdw.sh, TAP);
#   - the ingestor's unit, fuzz-corpus and loopback integration tests, in a
#     release build and again under AddressSanitizer + UBSan;
#   - every C file formatted by the checked-in .clang-format.
# A TAP test that skips itself (fdw.sh when not root) is reported as "skip",
# neither passed nor failed.  The last line is "N passed, M failed"; the exit
# status is 0 only when M is 0.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD

if [ "${1:-}" = --in-cluster ]; then
	# Second half, inside pg_virtualenv: the PG* variables name the cluster.
	out=$2
	make -s installcheck PG_CONFIG="$PG_CONFIG" >"$out/regress.log" 2>&1
	test/dump_restore.sh >"$out/dump_restore.tap" 2>&1
	test/upgrade.sh >"$out/upgrade.tap" 2>&1
	test/cron.sh >"$out/cron.tap" 2>&1
	test/fdw.sh >"$out/fdw.tap" 2>&1
	make -s -C ingestor test >"$out/ingestor.log" 2>&1
	make -s -C ingestor SAN=1 test >"$out/ingestor-san.log" 2>&1
	cp regression.diffs "$out/" 2>/dev/null
	timeout 900 test/regress_san.sh "$out" # bounded: a sanitizer start-up hang must not stall CI
	exit 0
fi

scripts/install-deps.sh || exit 1
export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0
failed=0

# step NAME COMMAND...: one test that passes when the command succeeds.
step() {
	local name=$1; shift
	if "$@" >"$out/step.log" 2>&1; then
		passed=$((passed + 1)); echo "ok   $name"
	else
		failed=$((failed + 1)); echo "FAIL $name"; tail -n 40 "$out/step.log" | sed 's/^/    /'
	fi
}

# count NAME PASS_PATTERN FAIL_PATTERN FILE: many tests from one log.  A TAP
# log that is only a skip plan ("1..0 # SKIP reason") and "#" comments is
# reported as skipped; anything else without a passing test is a failure.
count() {
	local ok bad
	ok=$(grep -cE "$2" "$4" 2>/dev/null)
	bad=$(grep -cE "$3" "$4" 2>/dev/null)
	if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ] && [ "$(grep -cvE '^(1\.\.0 # SKIP|#)' "$4" 2>/dev/null)" = 0 ] &&
		grep -qE '^1\.\.0 # SKIP' "$4"; then
		echo "skip $1 ($(sed -n 's/^1\.\.0 # SKIP *//p' "$4" | head -n 1))"
		return
	fi
	passed=$((passed + ok)); failed=$((failed + bad))
	if [ "$bad" -gt 0 ] || [ "$ok" -eq 0 ]; then
		[ "$ok" -eq 0 ] && [ "$bad" -eq 0 ] && failed=$((failed + 1))
		echo "FAIL $1 ($ok passed, $bad failed)"; grep -E "$3" "$4" | sed 's/^/    /'
	else
		echo "ok   $1 ($ok)"
	fi
}

echo "== build"
step "extension builds with -Werror" make -s PG_CONFIG="$PG_CONFIG" PG_CFLAGS=-Werror
step "extension installs" make -s install PG_CONFIG="$PG_CONFIG"
step "ingestor builds with -Werror" make -s -C ingestor
step "ingestor builds under ASan+UBSan" make -s -C ingestor SAN=1
mapfile -t c_files < <(git ls-files '*.c' '*.h')
step "C sources follow .clang-format" clang-format --dry-run --Werror "${c_files[@]}"

echo "== tests in a throwaway cluster"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_virtualenv -t -v 15 -c "-p $port" "$top/test/run.sh" --in-cluster "$out" >"$out/cluster.log" 2>&1 ||
	{ echo "pg_virtualenv failed:"; tail -n 30 "$out/cluster.log"; }
count "pg_regress" '\.\.\. ok' '\.\.\. FAILED|failed \(ignored\)' "$out/regress.log"
[ -f "$out/regression.diffs" ] && head -n 80 "$out/regression.diffs"
count "dump/restore" '^ok [0-9]' '^not ok [0-9]' "$out/dump_restore.tap"
count "upgrade path" '^ok [0-9]' '^not ok [0-9]' "$out/upgrade.tap"
count "rollups under pg_cron, refresh vs writers" '^ok [0-9]' '^not ok [0-9]' "$out/cron.tap"
count "rollups of three nodes merged through postgres_fdw" '^ok [0-9]' '^not ok [0-9]' "$out/fdw.tap"
count "pg_regress, extension under ASan+UBSan" '\.\.\. ok' '\.\.\. FAILED|failed \(ignored\)' \
	"$out/regress-san.log"
[ -f "$out/regression-san.diffs" ] && head -n 80 "$out/regression-san.diffs"
step "no sanitizer report in the server log" \
	bash -c 'test -f "$1" && ! grep -A 30 -E "runtime error:|ERROR: AddressSanitizer" "$1"' _ "$out/server-san.log"
for log in ingestor ingestor-san; do
	line=$(grep -E '^ingestor: [0-9]+ passed, [0-9]+ failed' "$out/$log.log" | tail -n 1)
	if [ -z "$line" ]; then
		failed=$((failed + 1)); echo "FAIL $log (no result line)"; tail -n 40 "$out/$log.log" | sed 's/^/    /'
		continue
	fi
	read -r ok bad < <(echo "$line" | sed -E 's/ingestor: ([0-9]+) passed, ([0-9]+) failed/\1 \2/')
	passed=$((passed + ok)); failed=$((failed + bad))
	if [ "$bad" -gt 0 ]; then
		echo "FAIL $log ($ok passed, $bad failed)"; grep -E '^(FAIL|    )' "$out/$log.log" | head -n 80
	else
		echo "ok   $log ($ok)"
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
