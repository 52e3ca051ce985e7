-- bench/lat_data.sql - the percentile benchmarks' table lat(agent_id, v), for
-- psql -v rows=N: TTFTs modelled on agent latencies, lognormal around 1.2 s
-- with a 3% slow tail and 1% NULLs, over 50 agents, the same on every run.
\o /dev/null
SELECT setseed(0.42);
CREATE TABLE lat AS
SELECT (1 + floor(random() * 50))::int AS agent_id,
       CASE WHEN r_null < 0.01 THEN NULL
            WHEN r_tail < 0.03 THEN 1200 * exp(1.0 + 0.8 * z)
            ELSE 1200 * exp(0.6 * z) END AS v
FROM (SELECT random() AS r_null, random() AS r_tail,
             sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z
      FROM generate_series(1, :rows)) s;
VACUUM (FREEZE, ANALYZE) lat;
