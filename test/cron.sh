#!/usr/bin/env bash
# Rollups kept by pg_cron, and refresh_rollups() racing writers and TRUNCATE.  Needs a
# cluster that preloads pg_cron; when the PG* cluster does not, this script
# runs itself again in a throwaway one that does (pg_virtualenv, as root or
# not).  pg_cron runs its jobs in background workers (no libpq connection, so
# no password).  Prints TAP.
set -uo pipefail
if [ -z "${LOOMLAT_CRON_CLUSTER:-}" ]; then
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	LOOMLAT_CRON_CLUSTER=1 exec pg_virtualenv -t -v 15 -c "-p $port" \
		-o shared_preload_libraries=pg_cron -o cron.database_name=postgres \
		-o cron.use_background_workers=on "$0"
fi
export PGDATABASE=postgres
. "$(dirname "$0")/tap.sh"
q() { psql -qXtA -v ON_ERROR_STOP=1 -c "$1"; }

q "CREATE EXTENSION loomlat; CREATE EXTENSION pg_cron" >/dev/null
q "INSERT INTO loomlat.agents (agent_id, name) VALUES (1, 'A'), (2, 'B');
   INSERT INTO loomlat.invocations (invocation_id, agent_id, status, client_invoke_time, ttft_ms)
   SELECT gen_random_uuid(), 1 + i % 2, 'complete', '2031-01-01 00:00:00+00'::timestamptz + i * interval '1 minute',
	      100 + i FROM generate_series(0, 299) i" >/dev/null
check "5 h of 2 agents are dirty" "$(q "SELECT count(*) FROM loomlat.rollup_dirty")" 10

# pg_cron 1.4 (Debian 12) has minute granularity: the job runs at the next
# minute boundary, so wait at most 75 s.
q "SELECT cron.schedule('loomlat-rollups', '* * * * *', 'SELECT loomlat.refresh_rollups()')" >/dev/null
for _ in $(seq 75); do
	[ "$(q "SELECT count(*) FROM loomlat.rollup_dirty")" = 0 ] && break
	sleep 1
done
check "the cron job rolled every dirty hour up" \
	"$(q "SELECT count(*) || ' ' || sum(invocations) FROM loomlat.rollups_hourly")" "10 300"
check "the job's run succeeded" \
	"$(q "SELECT d.status FROM cron.job_run_details d JOIN cron.job j USING (jobid)
		  WHERE j.jobname = 'loomlat-rollups' ORDER BY d.runid LIMIT 1")" succeeded
q "SELECT cron.unschedule('loomlat-rollups')" >/dev/null

# A writer that commits after the refresh started: its hour stays (or
# becomes) dirty, and the next refresh counts its row.
late="INSERT INTO loomlat.invocations (invocation_id, agent_id, status, client_invoke_time, ttft_ms)
	  VALUES (gen_random_uuid(), 1, 'complete', '2031-01-01 00:30:00+00', 5000)"
q "UPDATE loomlat.invocations SET ttft_ms = 1 WHERE agent_id = 1 AND client_invoke_time = '2031-01-01 00:00:00+00'" >/dev/null
psql -qXtA -c "BEGIN" -c "$late" -c "SELECT pg_sleep(3)" -c "COMMIT" >/dev/null &
sleep 1
check "a refresh skips the hour an uncommitted writer holds" "$(q "SELECT loomlat.refresh_rollups()")" 0
wait
check "after the writer commits, its hour is dirty" "$(q "SELECT count(*) FROM loomlat.rollup_dirty")" 1
check "and the next refresh counts its row" \
	"$(q "SELECT loomlat.refresh_rollups(); SELECT invocations FROM loomlat.rollups_hourly
		  WHERE agent_id = 1 AND hour = '2031-01-01 00:00:00+00'")" "$(printf '1\n31')"

psql -qXtA -c "BEGIN" -c "$late" -c "COMMIT" >/dev/null
psql -qXtA -c "BEGIN" -c "SELECT loomlat.refresh_rollups()" -c "SELECT pg_sleep(3)" -c "COMMIT" >/dev/null &
sleep 1
q "$late" >/dev/null # waits for the refresh's delete of the mark
wait
check "a write racing a refresh marks its hour again" "$(q "SELECT count(*) FROM loomlat.rollup_dirty")" 1
check "and the next refresh counts every row" \
	"$(q "SELECT loomlat.refresh_rollups(); SELECT invocations FROM loomlat.rollups_hourly
		  WHERE agent_id = 1 AND hour = '2031-01-01 00:00:00+00'")" "$(printf '1\n33')"

# Two refreshes at once: refresh_rollups(ARGS) in a transaction held open for
# 2 s, and refresh_rollups() 0.5 s after it starts; prints both results.
refresh_race() {
	local first second
	first=$(mktemp)
	psql -qXtA -c "BEGIN" -c "SELECT loomlat.refresh_rollups($1)" -c "SELECT pg_sleep(2)" -c "COMMIT" >"$first" &
	sleep 0.5
	second=$(q "SELECT loomlat.refresh_rollups()")
	wait
	echo "$(head -n 1 "$first") $second"
	rm -f "$first"
}

# They take disjoint hours and recompute each dirty hour once.
q "UPDATE loomlat.invocations SET ttft_ms = ttft_ms + 1" >/dev/null
check "concurrent refreshes: the first takes every hour, the second finds them all taken" \
	"$(refresh_race '')" "10 0"
check "no dirty hour is left" "$(q "SELECT count(*) FROM loomlat.rollup_dirty")" 0

# When they split the hours of one day, the later one's daily phase waits for
# the earlier one's commit and merges both halves.
q "UPDATE loomlat.invocations SET ttft_ms = ttft_ms * 2" >/dev/null
check "split refreshes: 5 hours each" "$(refresh_race 5)" "5 5"
check "and each daily row is the merge of its day's hours" \
	"$(q "SELECT count(*) || ' ' || bool_and(d.invocations = h.n AND d.ttft::text = h.ttft::text)
		  FROM loomlat.rollups_daily d
			   JOIN (SELECT agent_id, date_trunc('day', hour, 'UTC') AS day, sum(invocations) AS n,
							loomlat.merge(ttft) AS ttft
					 FROM loomlat.rollups_hourly GROUP BY 1, 2) h USING (agent_id, day)")" "2 true"
check "and the merge is of the new TTFTs" \
	"$(q "SELECT loomlat.sketch_max(loomlat.merge(ttft)) = (SELECT max(ttft_ms) FROM loomlat.invocations)
		  FROM loomlat.rollups_daily")" t

# A TRUNCATE racing a refresh: the truncating transaction holds invocations
# (as TRUNCATE does before its trigger empties the rollups) while a refresh
# starts.  The refresh waits for invocations before it touches a rollup
# table, so the TRUNCATE goes through and the refresh then finds nothing to
# do; taking the rollups first, the two would deadlock.
q "UPDATE loomlat.invocations SET ttft_ms = ttft_ms + 1" >/dev/null
truncate_log=$(mktemp)
psql -qXtA -v ON_ERROR_STOP=1 -c "BEGIN" -c "LOCK TABLE loomlat.invocations IN ACCESS EXCLUSIVE MODE" \
	-c "SELECT pg_sleep(2)" -c "TRUNCATE loomlat.invocations, loomlat.invocation_phases" -c "COMMIT" \
	>"$truncate_log" 2>&1 &
truncating=$!
sleep 0.5
check "a refresh during a TRUNCATE waits for it, then has nothing to do" \
	"$(q "SELECT loomlat.refresh_rollups()" 2>&1)" 0
wait "$truncating"
check "the TRUNCATE committed (no deadlock)" "$? $(grep -c ERROR "$truncate_log")" "0 0"
rm -f "$truncate_log"
check "and left no rollup row and no dirty mark" \
	"$(q "SELECT (SELECT count(*) FROM loomlat.rollups_hourly) + (SELECT count(*) FROM loomlat.rollups_daily)
			 + (SELECT count(*) FROM loomlat.rollup_dirty)")" 0

tap_end
