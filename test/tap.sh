# tap.sh - the TAP output of the shell tests (sourced): ok, not_ok, check
# (got, expected) count the tests; tap_end prints the plan and fails when a
# test failed.
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   expected: $3"; echo "#        got: $2"; fi; }
tap_end() { echo "1..$n"; [ "$failed" -eq 0 ]; }
