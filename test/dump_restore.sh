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
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   expected: $3"; echo "#        got: $2"; fi; }
q() { psql -qXtA -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

psql -qX -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" -c "CREATE DATABASE $src" -c "CREATE DATABASE $dst" >/dev/null

q $src "
CREATE EXTENSION loomlat;
INSERT INTO loomlat.agents (agent_id, name, region) VALUES (1, 'Support', 'us-east-1'), (2, 'Research', NULL);
INSERT INTO loomlat.invocations (invocation_id, agent_id, session_id, status, client_invoke_time,
	cold_start_latency_ms, ttft_ms, client_duration_ms, token_cache_hit)
SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 1 + i % 2, 's' || i,
	   'complete', '2026-11-01 00:00:00+00'::timestamptz + i * interval '1 minute',
	   (i * 37) % 3000 - 100, 200 + i * 3.5, 1000 + i, i % 2 = 0
  FROM generate_series(1, 500) i;
INSERT INTO loomlat.invocation_phases (invocation_id, phase, start_ms, duration_ms)
SELECT invocation_id, p, 0, 12.5 FROM loomlat.invocations, unnest(ARRAY['token', 'db']) p;
CREATE TABLE public.loom_invocations (id serial PRIMARY KEY, cold_start_latency_ms float8);
INSERT INTO public.loom_invocations (cold_start_latency_ms) VALUES (100), (900), (NULL);
SELECT loomlat.track('public.loom_invocations');" >/dev/null

fingerprint="SELECT (SELECT md5(string_agg(a::text, '|' ORDER BY agent_id)) FROM loomlat.agents a)
	|| (SELECT md5(string_agg(i::text, '|' ORDER BY invocation_id)) FROM loomlat.invocations i)
	|| (SELECT md5(string_agg(p::text, '|' ORDER BY invocation_id, phase)) FROM loomlat.invocation_phases p)
	|| (SELECT md5(string_agg(l::text, '|' ORDER BY id)) FROM public.loom_invocations l)"

dump=$(mktemp)
trap 'rm -f "$dump"' EXIT
if "$PG_BINDIR/pg_dump" -Fc -d $src -f "$dump" 2>&1 && "$PG_BINDIR/pg_restore" --exit-on-error -d $dst "$dump" 2>&1; then
	ok "pg_dump -Fc and pg_restore of a database using loomlat succeed"
else
	not_ok "pg_dump -Fc and pg_restore of a database using loomlat succeed"
fi
check "restored rows are identical (agents, invocations, phases, tracked table)" \
	"$(q $dst "$fingerprint" 2>&1)" "$(q $src "$fingerprint")"
check "all 500 invocations and 1000 phases came back" \
	"$(q $dst "SELECT count(*) || '/' || (SELECT count(*) FROM loomlat.invocation_phases) FROM loomlat.invocations" 2>&1)" "500/1000"
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
echo "1..$n"
[ "$failed" -eq 0 ]
