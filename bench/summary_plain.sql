-- latency_summary(:'range', as_of => :'as_of') written the plain way, with
-- percentile_cont, as the view bench/summary.sh times.  It returns the same
-- jsonb document (the script checks that it is equal).
CREATE VIEW :view AS
WITH w AS (
	SELECT agent_id, ttft_ms, client_duration_ms, was_cold_start
	FROM loomlat.invocations
	WHERE client_invoke_time > :'as_of'::timestamptz - :'span'::interval
	  AND client_invoke_time <= :'as_of'::timestamptz),
g AS (
	SELECT GROUPING(agent_id) = 1 AS is_total, agent_id, count(*) AS n,
		   count(*) FILTER (WHERE was_cold_start) AS n_cold,
		   percentile_cont('{0.5,0.95,0.99}'::float8[]) WITHIN GROUP (ORDER BY ttft_ms) AS ttft,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft_ms) FILTER (WHERE was_cold_start) AS cold_p50,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft_ms) FILTER (WHERE NOT was_cold_start) AS warm_p50,
		   percentile_cont('{0.5,0.95}'::float8[]) WITHIN GROUP (ORDER BY client_duration_ms) AS duration,
		   count(*) FILTER (WHERE ttft_ms < 1000) AS h1,
		   count(*) FILTER (WHERE ttft_ms >= 1000 AND ttft_ms < 3000) AS h2,
		   count(*) FILTER (WHERE ttft_ms >= 3000 AND ttft_ms < 5000) AS h3,
		   count(*) FILTER (WHERE ttft_ms >= 5000 AND ttft_ms < 10000) AS h4,
		   count(*) FILTER (WHERE ttft_ms >= 10000) AS h5
	FROM w
	GROUP BY GROUPING SETS ((agent_id), ()))
SELECT jsonb_build_object(
	'range', :'range', 'as_of', :'as_of'::timestamptz,
	'total_invocations', t.n,
	'cold_start_pct', t.n_cold::float8 / nullif(t.n, 0),
	'ttft_p50_ms', t.ttft[1], 'ttft_p95_ms', t.ttft[2], 'ttft_p99_ms', t.ttft[3],
	'ttft_histogram', jsonb_build_array(
		jsonb_build_object('bucket', '0-1s', 'count', t.h1),
		jsonb_build_object('bucket', '1-3s', 'count', t.h2),
		jsonb_build_object('bucket', '3-5s', 'count', t.h3),
		jsonb_build_object('bucket', '5-10s', 'count', t.h4),
		jsonb_build_object('bucket', '>10s', 'count', t.h5)),
	'agents', (SELECT coalesce(jsonb_agg(jsonb_build_object(
						'agent_id', a.agent_id, 'agent_name', a.name,
						'invocation_count', x.n, 'cold_start_count', x.n_cold,
						'cold_start_pct', x.n_cold::float8 / x.n,
						'ttft_p50_ms', x.ttft[1], 'ttft_p95_ms', x.ttft[2], 'ttft_p99_ms', x.ttft[3],
						'cold_start_ttft_p50_ms', x.cold_p50, 'warm_ttft_p50_ms', x.warm_p50,
						'duration_p50_ms', x.duration[1], 'duration_p95_ms', x.duration[2],
						'slow', x.ttft[2] > 10000) ORDER BY a.agent_id), '[]')
			   FROM g x JOIN loomlat.agents a ON a.agent_id = x.agent_id
			   WHERE NOT x.is_total))
FROM g t
WHERE t.is_total;
