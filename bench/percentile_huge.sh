#!/bin/bash
# Checks loomlat's percentile aggregates past the 1 GB allocation limit, in a
# throwaway cluster: 140 million values (a 1.1 GB state) aggregated serially
# must give percentile_cont's answer (computed here from the closed form for
# the values 1..N), and the same table aggregated by one parallel worker must
# be refused with a clear error rather than crash, since a partial state
# travels as a bytea, limited to 1 GB.  Takes several minutes and about 6 GB
# of disk; not part of the regression suite.
#
# Usage: bench/percentile_huge.sh [--no-install]
#   --no-install  do not run "make install" first (the extension is installed)
#
# It takes bench/options.sh's other options too (bench_cluster passes them
# back), but its size is fixed.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

# shellcheck source=bench/options.sh
source "$(dirname "$0")/options.sh"

# shellcheck source=bench/cluster.sh
source "$(dirname "$0")/cluster.sh"
bench_cluster -o jit=off

# ---- inside the throwaway cluster ----
N=140000000
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION loomlat;
CREATE UNLOGGED TABLE huge (v float8);
INSERT INTO huge SELECT (a * 10000 + b)::float8 + 1
  FROM generate_series(0, $N / 10000 - 1) a, generate_series(0, 9999) b;
VACUUM (ANALYZE) huge;
\timing on
SET max_parallel_workers_per_gather = 0;
-- percentile_cont over 1..N: rows floor/ceil(p * (N - 1)) hold those values plus one
SELECT array_send(loomlat.percentiles(v, '{0,0.5,0.95,0.99,1}'))
     = array_send(ARRAY(SELECT CASE WHEN ceil(pos) > floor(pos)
                                    THEN (floor(pos) + 1) + ((pos - floor(pos)) * ((ceil(pos) + 1) - (floor(pos) + 1)))
                                    ELSE floor(pos) + 1 END
                          FROM unnest('{0,0.5,0.95,0.99,1}'::float8[]) WITH ORDINALITY p(f, i),
                               LATERAL (SELECT f * ($N - 1)::float8 AS pos) x ORDER BY i)) AS serial_exact
  FROM huge;
-- planned for two workers, run by one: that worker reads every row
SET max_parallel_workers_per_gather = 2;
SET max_parallel_workers = 1;
SET parallel_leader_participation = off;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
EXPLAIN (COSTS OFF) SELECT loomlat.percentiles(v, '{0.5}') FROM huge;
\set ON_ERROR_STOP 0
SELECT loomlat.percentiles(v, '{0.5}') AS parallel_refused FROM huge;
SQL
