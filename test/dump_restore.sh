#!/usr/bin/env bash
# What pg_regress cannot test: pg_dump/pg_restore with data, and the install
# script's guard.  Runs against the cluster in the PG* environment (a
# pg_virtualenv); prints TAP.
set -uo pipefail
PG_BINDIR=$(${PG_CONFIG:-pg_config} --bindir)
SHAREDIR=$(${PG_CONFIG:-pg_config} --sharedir)
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$SHAREDIR/extension/loomlat.control")
src=loomlat_dump_src
dst=loomlat_dump_dst
. "$(dirname "$0")/tap.sh"
q() { psql -qXtA -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

psql -qX -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" -c "CREATE DATABASE $src" -c "CREATE DATABASE $dst" >/dev/null

q $src "CREATE EXTENSION loomlat" >/dev/null
psql -qX -v ON_ERROR_STOP=1 -d $src -f "$(dirname "$0")/fixtures/loomlat_rows.sql" >/dev/null
fingerprint="SELECT fingerprint FROM public.loomlat_rows_fingerprint"

dump=$(mktemp)
trap 'rm -f "$dump"' EXIT
if "$PG_BINDIR/pg_dump" -Fc -d $src -f "$dump" 2>&1 && "$PG_BINDIR/pg_restore" --exit-on-error -d $dst "$dump" 2>&1; then
	ok "pg_dump -Fc and pg_restore of a database using loomlat succeed"
else
	not_ok "pg_dump -Fc and pg_restore of a database using loomlat succeed"
fi
check "restored rows are identical (agents, invocations, phases, tracked table)" \
	"$(q $dst "$fingerprint" 2>&1)" "$(q $src "$fingerprint")"
check "all 300 invocations and 600 phases came back" \
	"$(q $dst "SELECT count(*) || '/' || (SELECT count(*) FROM loomlat.invocation_phases) FROM loomlat.invocations" 2>&1)" "300/600"
check "the restored tracked table is still classified by the trigger" \
	"$(q $dst "INSERT INTO public.loom_invocations (cold_start_latency_ms) VALUES (2500) RETURNING was_cold_start" 2>&1)" "t"
check "the restored extension classifies new invocations" \
	"$(q $dst "INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, cold_start_latency_ms)
	           VALUES (gen_random_uuid(), 2, now(), 750) RETURNING was_cold_start" 2>&1)" "t"
check "the restored extension is the same version" \
	"$(q $dst "SELECT extversion FROM pg_extension WHERE extname = 'loomlat'" 2>&1)" "$version"

# Plain-format dump through psql, the other common path.
psql -qX -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ${dst}2" -c "CREATE DATABASE ${dst}2" >/dev/null
if "$PG_BINDIR/pg_dump" -d $src | psql -qX -v ON_ERROR_STOP=1 -d ${dst}2 >/dev/null 2>&1; then
	check "a plain SQL dump replays with identical rows" "$(q ${dst}2 "$fingerprint" 2>&1)" "$(q $src "$fingerprint")"
else
	not_ok "a plain SQL dump replays with identical rows"
fi

# The install script refuses to run outside CREATE EXTENSION.
out=$(psql -X -d $dst -f "$SHAREDIR/extension/loomlat--$version.sql" 2>&1)
case "$out" in
*'Use "CREATE EXTENSION loomlat" to load this file.'*) ok "the install script stops when run with psql -f" ;;
*) not_ok "the install script stops when run with psql -f"; echo "# $out" ;;
esac

psql -qX -c "DROP DATABASE $src" -c "DROP DATABASE $dst" -c "DROP DATABASE IF EXISTS ${dst}2" >/dev/null
tap_end
