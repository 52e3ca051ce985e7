-- Benchmark data for bench/summary.sh: :rows invocations of 50 agents spread
-- evenly over the 30 days before :'as_of', in time order as an ingestor
-- writes them.  TTFT is the lognormal mix of percentile-anchors.md section 6
-- (median 1.2 s, 3% slow tail, 1% NULL); about 30% of cold_start_latency_ms
-- are above the 500 ms default threshold.  The classification trigger and
-- the foreign key stay on, as in production; rows go in batches of 1M.
\set ON_ERROR_STOP on
SELECT setseed(0.42);
INSERT INTO loomlat.agents (agent_id, name)
SELECT a, 'agent ' || a FROM generate_series(1, 50) AS a;

CREATE PROCEDURE pg_temp.load(total integer, as_of timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
	batch CONSTANT integer := 1000000;
	step  CONSTANT interval := interval '720 hours' / total;
BEGIN
	FOR lo IN 0 .. total - 1 BY batch LOOP
		INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time,
										 cold_start_latency_ms, ttft_ms, client_duration_ms)
		SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
			   1 + floor(random() * 50)::int,
			   as_of - (total - g) * step,
			   CASE WHEN r_cold < 0.3 THEN 500 + 6000 * random() ELSE 480 * random() - 30 END,
			   ttft, ttft + 8000 * random()
		FROM (SELECT g, random() AS r_cold,
					 CASE WHEN r_null < 0.01 THEN NULL
						  WHEN r_tail < 0.03 THEN 1200 * exp(1.0 + 0.8 * z)
						  ELSE 1200 * exp(0.6 * z) END AS ttft
			  FROM (SELECT g, random() AS r_null, random() AS r_tail,
						   sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z
					FROM generate_series(lo, least(lo + batch, total) - 1) AS g) s) t;
		COMMIT;
	END LOOP;
END
$$;
CALL pg_temp.load(:rows, :'as_of');
VACUUM (FREEZE, ANALYZE) loomlat.agents, loomlat.invocations;
