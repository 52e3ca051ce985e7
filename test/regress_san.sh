#!/usr/bin/env bash
# pg_regress again, with the extension built under UndefinedBehaviorSanitizer
# (every check, none recoverable).  Runs inside pg_virtualenv (PG*, PG_CONFIG
# and PG_CLUSTER_CONF_ROOT name a throwaway cluster, "regress"), after the
# release tests; usage: regress_san.sh OUTDIR.
#
# The sanitized library is built in a copy of the tree and installed over the
# release one; the server is restarted so that UBSan's options reach the
# backends; a report ("runtime error: ...") ends the backend and lands in
# the server log, copied to OUTDIR/server-san.log.  The release library
# and the plain server are put back however this ends.  pg_regress's output
# goes to OUTDIR/regress-san.log.
#
# Not AddressSanitizer: its runtime must be preloaded into the server, and
# there it deadlocks before main() (libgpg-error's constructor calls
# bindtextdomain before ASan has initialised; ASan's lazy start then releases
# glibc's gettext lock from inside it).  The ingestor runs under ASan.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
work=$(mktemp -d)
env_file=$PG_CLUSTER_CONF_ROOT/$PGVERSION/regress/environment
san_flags="-fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

restore() {
	if [ -f "$work/environment" ]; then cp "$work/environment" "$env_file"; else rm -f "$env_file"; fi
	make -s -C "$top" install PG_CONFIG="$PG_CONFIG" >/dev/null
	pg_ctlcluster "$PGVERSION" regress restart
	rm -rf "$work"
}
trap restore EXIT

cp -r "$top"/{Makefile,loomlat.control,sql,src,test,expected} "$work"/
[ -f "$env_file" ] && cp "$env_file" "$work/environment"
make -s -C "$work" PG_CONFIG="$PG_CONFIG" PG_CFLAGS="$san_flags -Werror" >"$out/regress-san.log" 2>&1 &&
	make -s -C "$work" install PG_CONFIG="$PG_CONFIG" >>"$out/regress-san.log" 2>&1 || exit 1
echo "UBSAN_OPTIONS = 'print_stacktrace=1'" >>"$env_file"
pg_ctlcluster "$PGVERSION" regress restart || exit 1
make -s -C "$work" installcheck PG_CONFIG="$PG_CONFIG" >>"$out/regress-san.log" 2>&1
cp "$work/regression.diffs" "$out/regression-san.diffs" 2>/dev/null
cp "$(dirname "$PG_CLUSTER_CONF_ROOT")/log/postgresql-$PGVERSION-regress.log" "$out/server-san.log"
exit 0
