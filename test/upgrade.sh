#!/usr/bin/env bash
# The upgrade path: a database that installed 0.1.0 and ran ALTER EXTENSION
# loomlat UPDATE must end up with exactly the catalog of a fresh install of
# the default version, and keep its rows.  Runs against the cluster in the
# PG* environment (a pg_virtualenv); prints TAP.
#
# "Exactly" is pg_dump --binary-upgrade --schema-only, the one dump that
# includes the extension's member objects: every type, table, column (and its
# position), constraint, index, trigger, function body, aggregate, comment and
# privilege, with the lines that only carry OIDs or xids left out; plus the
# extension's config-dump settings by table name.  Both databases get the same
# user objects (a table registered with track()) and rows, so the whole dump
# must match.
set -uo pipefail
PG_BINDIR=$(${PG_CONFIG:-pg_config} --bindir)
SHAREDIR=$(${PG_CONFIG:-pg_config} --sharedir)
old=0.1.0
new=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$SHAREDIR/extension/loomlat.control")
up=loomlat_upgrade_up
fresh=loomlat_upgrade_fresh
. "$(dirname "$0")/tap.sh"
q() { psql -qXtA -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql -qX -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $up" -c "DROP DATABASE IF EXISTS $fresh" \
	-c "CREATE DATABASE $up" -c "CREATE DATABASE $fresh" >/dev/null

# The same rows, a tracked Loom-shaped table and their fingerprint, in a
# database where loomlat is already installed.
load() { psql -qX -v ON_ERROR_STOP=1 -d "$1" -f "$(dirname "$0")/fixtures/loomlat_rows.sql" >/dev/null; }
fingerprint="SELECT fingerprint FROM public.loomlat_rows_fingerprint"

# The schema as pg_upgrade would recreate it, without OIDs and xids.
catalog() {
	"$PG_BINDIR/pg_dump" --binary-upgrade --schema-only -d "$1" |
		grep -v -E 'binary_upgrade_set_next_|relfrozenxid|^\\(un)?restrict |^-- Dumped (from|by)' |
		sed -E -e "s/^WHERE oid = '[0-9]+';\$/WHERE oid = 'OID';/" \
			-e "s/(binary_upgrade_create_empty_extension\('loomlat', 'pg_catalog', false, '[^']*', )'\{[0-9,]*\}'/\1'{OIDS}'/"
	psql -qXtA -d "$1" -c "SELECT extname, extversion, extrelocatable, extnamespace::regnamespace,
			extconfig::regclass[], extcondition FROM pg_extension WHERE extname = 'loomlat'"
}

q $up "CREATE EXTENSION loomlat VERSION '$old'" >/dev/null
check "$old installs" "$(q $up "SELECT extversion FROM pg_extension WHERE extname = 'loomlat'" 2>&1)" "$old"
load $up
before=$(q $up "$fingerprint")
if out=$(q $up "ALTER EXTENSION loomlat UPDATE" 2>&1); then
	ok "ALTER EXTENSION loomlat UPDATE from $old succeeds"
else
	not_ok "ALTER EXTENSION loomlat UPDATE from $old succeeds"; echo "# $out"
fi
check "the update reaches the default version" \
	"$(q $up "SELECT extversion FROM pg_extension WHERE extname = 'loomlat'" 2>&1)" "$new"
check "every row survives the update (agents, invocations, phases, tracked table)" \
	"$(q $up "$fingerprint" 2>&1)" "$before"

q $fresh "CREATE EXTENSION loomlat" >/dev/null
load $fresh
catalog $up >"$work/up.sql" 2>&1
catalog $fresh >"$work/fresh.sql" 2>&1
if [ -s "$work/fresh.sql" ] && grep -q 'ALTER EXTENSION loomlat ADD' "$work/fresh.sql" &&
	diff -u "$work/fresh.sql" "$work/up.sql" >"$work/diff"; then
	ok "the updated catalog equals a fresh $new install (binary-upgrade schema dump)"
else
	not_ok "the updated catalog equals a fresh $new install (binary-upgrade schema dump)"
	sed 's/^/#   /' "$work/diff" | head -n 60
fi
check "both databases hold the same rows" "$(q $up "$fingerprint" 2>&1)" "$(q $fresh "$fingerprint")"

# The updated database works: the new write path, the trigger, the old API.
check "record_invocations() writes in the updated database" \
	"$(q $up "SELECT row(r.*)::text FROM loomlat.record_invocations('[
		{\"invocation_id\": \"00000000-0000-0000-0000-000000000010\", \"status\": \"complete\", \"ttft_ms\": 99},
		{\"invocation_id\": \"00000000-0000-0000-0000-00000000ffff\", \"agent_id\": 3, \"agent_name\": \"New\",
		 \"status\": \"pending\", \"client_invoke_time\": 1793527200}]') r" 2>&1)" "(1,1,0)"
check "a replay changes nothing" \
	"$(q $up "SELECT row(r.*)::text FROM loomlat.record_invocations('{\"invocation_id\": \"00000000-0000-0000-0000-000000000010\", \"status\": \"complete\", \"ttft_ms\": 99}') r" 2>&1)" "(0,0,1)"
check "the tracked table is still classified" \
	"$(q $up "INSERT INTO public.loom_invocations (cold_start_latency_ms) VALUES (2500) RETURNING was_cold_start" 2>&1)" "t"
check "the classification functions still answer" "$(q $up "SELECT loomlat.is_cold_start(900::float8)" 2>&1)" "t"

# The update script refuses to run outside ALTER EXTENSION.
out=$(psql -X -d $fresh -f "$SHAREDIR/extension/loomlat--$old--$new.sql" 2>&1)
case "$out" in
*'Use "ALTER EXTENSION loomlat UPDATE'*) ok "the update script stops when run with psql -f" ;;
*) not_ok "the update script stops when run with psql -f"; echo "# $out" ;;
esac

psql -qX -c "DROP DATABASE $up" -c "DROP DATABASE $fresh" >/dev/null
tap_end
