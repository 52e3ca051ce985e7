#!/usr/bin/env bash
# pg_regress again, with the extension built under AddressSanitizer and
# UndefinedBehaviorSanitizer (every check, none recoverable).  Runs inside
# pg_virtualenv (PG*, PG_CONFIG and PG_CLUSTER_CONF_ROOT name a throwaway
# cluster, "regress"), after the release tests; usage: regress_san.sh OUTDIR.
#
# The sanitized library is built in a copy of the tree and installed over the
# release one; the server is restarted with the ASan runtime preloaded (it
# must come first) and the sanitizers' options; a report ("ERROR:
# AddressSanitizer" or "runtime error:") ends the backend and lands in the
# server log, copied to OUTDIR/server-san.log.  The release library
# and the plain server are put back however this ends.  pg_regress's output
# goes to OUTDIR/regress-san.log.
#
# asan_first.so, preloaded after libasan, works around a deadlock of ASan's
# start-up in a stock postgres (see test/asan_first.c).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
work=$(mktemp -d)
env_file=$PG_CLUSTER_CONF_ROOT/$PGVERSION/regress/environment
san_flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

# pg_ctlcluster's "restart" asks whether the cluster runs through its external
# pid file, /var/run/postgresql/15-regress.pid, which every pg_virtualenv
# cluster named "regress" shares: another one stopping on the machine removes
# it, and restart then skips the stop and fails to start.  "stop" and "start"
# read the data directory's own postmaster.pid.
restart_cluster() {
	timeout 120 pg_ctlcluster "$PGVERSION" regress stop && timeout 120 pg_ctlcluster "$PGVERSION" regress start
}

restore() {
	if [ -f "$work/environment" ]; then cp "$work/environment" "$env_file"; else rm -f "$env_file"; fi
	make -s -C "$top" install PG_CONFIG="$PG_CONFIG" >/dev/null
	restart_cluster
	rm -rf "$work"
}
trap restore EXIT
trap 'exit 1' TERM INT

cp -r "$top"/{Makefile,loomlat.control,sql,src,test,expected} "$work"/
[ -f "$env_file" ] && cp "$env_file" "$work/environment"
# clean first: the copy holds the release build's objects, newer than their sources
make -s -C "$work" clean PG_CONFIG="$PG_CONFIG" >"$out/regress-san.log" 2>&1 &&
	make -s -C "$work" PG_CONFIG="$PG_CONFIG" PG_CFLAGS="$san_flags -Werror" >>"$out/regress-san.log" 2>&1 &&
	make -s -C "$work" install PG_CONFIG="$PG_CONFIG" >>"$out/regress-san.log" 2>&1 || exit 1
gcc -std=c11 -Wall -Wextra -Werror -O2 -shared -fPIC -o "$work/asan_first.so" "$top/test/asan_first.c" \
	-ldl >>"$out/regress-san.log" 2>&1 || exit 1
chmod 755 "$work" # the server runs as postgres
cat >>"$env_file" <<EOF
LD_PRELOAD = '$(gcc -print-file-name=libasan.so) $work/asan_first.so'
ASAN_OPTIONS = 'detect_leaks=0'
UBSAN_OPTIONS = 'print_stacktrace=1'
EOF
restart_cluster >>"$out/regress-san.log" 2>&1 || exit 1
make -s -C "$work" installcheck PG_CONFIG="$PG_CONFIG" >>"$out/regress-san.log" 2>&1
cp "$work/regression.diffs" "$out/regression-san.diffs" 2>/dev/null
cp "$(dirname "$PG_CLUSTER_CONF_ROOT")/log/postgresql-$PGVERSION-regress.log" "$out/server-san.log"
exit 0
