#!/usr/bin/env bash
# Rollups on several nodes merged by a coordinator through postgres_fdw: three
# more PostgreSQL 15 clusters on loopback (pg_createcluster, as root; removed
# on exit), each with the extension and a third of the agents' invocations
# and rollups; the PG* cluster (a pg_virtualenv) is the coordinator and also
# holds every row, as the single-node reference.  Prints TAP.
set -uo pipefail
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP pg_createcluster needs root"
	exit 0
fi
. "$(dirname "$0")/tap.sh"
q() { psql -qXtA -v ON_ERROR_STOP=1 -c "$1"; }
node_q() { psql -qXtA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${ports[$1]}" -U postgres -d postgres -c "$2"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

nodes=(1 2 3)
declare -A ports
cleanup() { for i in "${nodes[@]}"; do pg_dropcluster 15 "loomlat_node$i" --stop >/dev/null 2>&1; done; }
trap cleanup EXIT
for i in "${nodes[@]}"; do
	pg_dropcluster 15 "loomlat_node$i" --stop >/dev/null 2>&1
	ports[$i]=$(free_port)
	pg_createcluster 15 "loomlat_node$i" -p "${ports[$i]}" --start -- --auth=trust >/dev/null 2>&1 ||
		{ echo "Bail out! pg_createcluster loomlat_node$i failed"; exit 1; }
done
ok "three more clusters on ports ${ports[*]}"

# Agents 1..9 with 2 days of invocations; agent a lives on node 1 + a % 3.
# rows FILTER: the agents and invocations whose agent_id passes FILTER (SQL on
# a), then their rollups.
rows() {
	echo "INSERT INTO loomlat.agents (agent_id, name)
		  SELECT a, 'agent ' || a FROM generate_series(1, 9) a WHERE $1;
		  INSERT INTO loomlat.invocations (invocation_id, agent_id, status, client_invoke_time,
										   cold_start_latency_ms, ttft_ms, client_duration_ms)
		  SELECT md5('fdw' || i)::uuid, a, 'complete',
				 '2031-02-01 00:00:00+00'::timestamptz + i * interval '17 seconds',
				 CASE WHEN i % 5 = 0 THEN 1500 ELSE 20 END, 50 + (i * 7919 % 4000) ^ 1.3, 300 + i % 9000
		  FROM generate_series(0, 9999) i, LATERAL (SELECT 1 + i % 9 AS a) x WHERE $1;
		  SELECT loomlat.refresh_rollups();"
}
for i in "${nodes[@]}"; do
	node_q "$i" "CREATE EXTENSION loomlat" >/dev/null
	node_q "$i" "$(rows "a % 3 = $((i - 1))")" >/dev/null
done
q "CREATE EXTENSION IF NOT EXISTS loomlat" >/dev/null
q "$(rows true)" >/dev/null
check "each node holds a third of the rollups" \
	"$(for i in "${nodes[@]}"; do node_q "$i" "SELECT count(DISTINCT agent_id) FROM loomlat.rollups_hourly"; done | paste -sd' ')" "3 3 3"

q "CREATE EXTENSION IF NOT EXISTS postgres_fdw" >/dev/null
for i in "${nodes[@]}"; do
	q "DROP SCHEMA IF EXISTS node$i CASCADE; DROP SERVER IF EXISTS node$i CASCADE;
	   CREATE SERVER node$i FOREIGN DATA WRAPPER postgres_fdw
		   OPTIONS (host '127.0.0.1', port '${ports[$i]}', dbname 'postgres');
	   CREATE USER MAPPING FOR CURRENT_USER SERVER node$i OPTIONS (user 'postgres');
	   CREATE SCHEMA node$i;
	   IMPORT FOREIGN SCHEMA loomlat LIMIT TO (rollups_hourly) FROM SERVER node$i INTO node$i" >/dev/null 2>&1
done
merged="SELECT loomlat.merge(r.ttft)::text || ' ' || loomlat.merge(r.duration)::text || ' '
			   || sum(r.invocations) || ' ' || sum(r.cold_starts) || ' '
			   || loomlat.quantiles(loomlat.merge(r.ttft), '{0.5,0.95,0.99}')::text
		FROM (SELECT * FROM node1.rollups_hourly UNION ALL SELECT * FROM node2.rollups_hourly
			  UNION ALL SELECT * FROM node3.rollups_hourly) r"
single="SELECT loomlat.merge(r.ttft)::text || ' ' || loomlat.merge(r.duration)::text || ' '
			   || sum(r.invocations) || ' ' || sum(r.cold_starts) || ' '
			   || loomlat.quantiles(loomlat.merge(r.ttft), '{0.5,0.95,0.99}')::text
		FROM loomlat.rollups_hourly r"
got=$(q "$merged" 2>&1)
check "the nodes' merged sketches, counts and quantiles equal one node's over all rows (byte for byte)" \
	"$got" "$(q "$single")"
check "the merged sketch counts every TTFT" \
	"$(q "SELECT loomlat.sketch_count(loomlat.merge(ttft)) FROM (SELECT ttft FROM node1.rollups_hourly
		  UNION ALL SELECT ttft FROM node2.rollups_hourly UNION ALL SELECT ttft FROM node3.rollups_hourly) r")" \
	"$(q "SELECT count(ttft_ms) FROM loomlat.invocations")"

pg_ctlcluster 15 loomlat_node2 stop >/dev/null 2>&1
out=$(q "$merged" 2>&1)
case "$out" in
*'server "node2"'*) ok "with node 2 down the query fails naming it" ;;
*) not_ok "with node 2 down the query fails naming it"; echo "# $out" ;;
esac

q "DROP SCHEMA node1, node2, node3 CASCADE; DROP SERVER node1, node2, node3 CASCADE" >/dev/null 2>&1
tap_end
