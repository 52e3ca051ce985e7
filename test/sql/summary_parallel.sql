-- The summary aggregates in parallel plans: partial states serialized by the
-- workers, combined by the leader, the same answers as a serial plan and as
-- percentile_cont.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;

CREATE TABLE summary_par AS
SELECT CASE WHEN g % 97 <> 0 THEN 1 + g % 7 END::bigint AS agent_id,
	   CASE WHEN g % 31 <> 0 THEN ((g * 7919) % 30011) * 0.5 END::float8 AS ttft_ms,
	   CASE WHEN g % 37 <> 0 THEN ((g * 104729) % 9973) + 0.25 END::float8 AS duration_ms,
	   CASE WHEN g % 11 = 0 THEN NULL ELSE (g * 13) % 10 < 3 END AS cold
FROM generate_series(1::bigint, 60000) AS g;
ANALYZE summary_par;

CREATE TEMP TABLE serial AS
SELECT (SELECT loomlat.latency_stats_by_agent(agent_id, ttft_ms, duration_ms, cold, '{1000,3000,5000,10000}')
		FROM summary_par) AS by_agent,
	   (SELECT array_agg(s ORDER BY agent_id) FROM
		   (SELECT agent_id, loomlat.latency_stats(ttft_ms, duration_ms, cold, '{2500}') AS s
			FROM summary_par GROUP BY agent_id) x) AS grouped,
	   (SELECT loomlat.ttft_histogram_counts(ttft_ms, '{100,1000,10000}') FROM summary_par) AS histogram;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;

EXPLAIN (COSTS OFF)
SELECT loomlat.latency_stats_by_agent(agent_id, ttft_ms, duration_ms, cold, '{1000,3000,5000,10000}')
FROM summary_par;
EXPLAIN (COSTS OFF)
SELECT agent_id, loomlat.latency_stats(ttft_ms, duration_ms, cold, '{2500}') FROM summary_par GROUP BY agent_id;

SELECT (SELECT loomlat.latency_stats_by_agent(agent_id, ttft_ms, duration_ms, cold, '{1000,3000,5000,10000}')
		FROM summary_par) = s.by_agent AS by_agent_same,
	   (SELECT array_agg(x.s ORDER BY agent_id) FROM
		   (SELECT agent_id, loomlat.latency_stats(ttft_ms, duration_ms, cold, '{2500}') AS s
			FROM summary_par GROUP BY agent_id) x) = s.grouped AS grouped_same,
	   (SELECT loomlat.ttft_histogram_counts(ttft_ms, '{100,1000,10000}') FROM summary_par) = s.histogram
		   AS histogram_same
FROM serial s;

-- And against percentile_cont, agent by agent and in total.
SELECT count(*) AS mismatches
FROM (SELECT r.agent_id[i] AS agent_id, r.agent_stats[i] AS s
	  FROM (SELECT (loomlat.latency_stats_by_agent(agent_id, ttft_ms, duration_ms, cold, NULL)).*
			FROM summary_par) r, generate_subscripts(r.agent_id, 1) AS i
	  UNION ALL
	  SELECT -1, (loomlat.latency_stats_by_agent(agent_id, ttft_ms, duration_ms, cold, NULL)).total
	  FROM summary_par) l
	 FULL JOIN
	 (SELECT coalesce(agent_id, -2) AS agent_id, count(*) AS n, count(*) FILTER (WHERE cold) AS n_cold,
			 percentile_cont('{0.5,0.95,0.99}'::float8[]) WITHIN GROUP (ORDER BY ttft_ms) AS ttft,
			 percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft_ms) FILTER (WHERE cold) AS cold_p50,
			 percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft_ms) FILTER (WHERE NOT cold) AS warm_p50,
			 percentile_cont('{0.5,0.95}'::float8[]) WITHIN GROUP (ORDER BY duration_ms) AS duration
	  FROM summary_par GROUP BY agent_id
	  UNION ALL
	  SELECT -1, count(*), count(*) FILTER (WHERE cold),
			 percentile_cont('{0.5,0.95,0.99}'::float8[]) WITHIN GROUP (ORDER BY ttft_ms),
			 percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft_ms) FILTER (WHERE cold),
			 percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft_ms) FILTER (WHERE NOT cold),
			 percentile_cont('{0.5,0.95}'::float8[]) WITHIN GROUP (ORDER BY duration_ms)
	  FROM summary_par) e
	 ON e.agent_id = coalesce(l.agent_id, -2)
WHERE ((l.s).invocation_count, (l.s).cold_start_count, (l.s).ttft_p50_ms, (l.s).ttft_p95_ms,
	   (l.s).ttft_p99_ms, (l.s).cold_start_ttft_p50_ms, (l.s).warm_ttft_p50_ms,
	   (l.s).duration_p50_ms, (l.s).duration_p95_ms)
	  IS DISTINCT FROM
	  (e.n, e.n_cold, e.ttft[1], e.ttft[2], e.ttft[3], e.cold_p50, e.warm_p50, e.duration[1], e.duration[2]);

RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
DROP TABLE summary_par;
