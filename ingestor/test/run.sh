#!/usr/bin/env bash
# Run every ingestor test and print "ingestor: N passed, M failed".
#
# Each test program prints TAP ("ok N - what" / "not ok N - what"):
#   test/check_layers.sh   the include layering of src/ (src/LAYERS)
#   $BUILD/test_*          cmocka unit tests (CMOCKA_MESSAGE_OUTPUT=TAP)
#   $BUILD/replay_fuzz_*   fuzz targets replaying test/fuzz/corpus/<name>/
#   test/integration/test_*.py   loopback mocks + a real PostgreSQL (PG* env)
# A program that exits non-zero without printing "not ok" counts one failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
export LOOMLAT_BIN=${LOOMLAT_BIN:-$PWD/$BUILD/loomlat}
export CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() {
	local name=$1; shift
	"$@" >"$log" 2>&1
	local rc=$?
	local ok bad
	ok=$(grep -cE '^ok [0-9]+' "$log")
	bad=$(grep -cE '^not ok [0-9]+' "$log")
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
	if [ "$bad" -ne 0 ]; then
		echo "FAIL $name (exit $rc)"
		sed 's/^/    /' "$log" | tail -n 60
	else
		echo "ok   $name ($ok)"
	fi
}

run "include layers" test/check_layers.sh
for t in "$BUILD"/test_*; do
	[ -x "$t" ] && run "$(basename "$t")" "$t"
done
for r in "$BUILD"/replay_fuzz_*; do
	[ -x "$r" ] || continue
	name=${r##*/replay_}
	run "$name corpus" "$r" "test/fuzz/corpus/$name"
done
if [ -z "${LOOMLAT_SKIP_INTEGRATION:-}" ]; then
	for t in test/integration/test_*.py; do
		[ -f "$t" ] && run "$(basename "$t")" python3 "$t"
	done
fi
echo "ingestor: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
