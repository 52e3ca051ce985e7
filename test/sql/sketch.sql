-- loomlat.latency_sketch: the bucket convention against golden vectors, the
-- text form, the accessors, value and argument errors, and the accuracy
-- guarantee against exact order statistics on several distributions.
-- Float results are compared as booleans or rounded, never printed raw.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;

-- Catalog: plain parallel-safe aggregates whose state is the type itself,
-- with a combine function and a final function that keeps the state valid.
SELECT p.oid::regprocedure AS aggregate, a.aggtranstype::regtype AS state,
       a.aggcombinefn::regproc AS combine, a.aggfinalmodify, p.proparallel
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
 WHERE p.pronamespace = 'loomlat'::regnamespace
   AND a.aggtranstype = 'loomlat.latency_sketch'::regtype
 ORDER BY 1::text;

-- Golden vectors: the bucket of one value, hand-computed (50-digit
-- arithmetic) as ceil(log_gamma(|x|) - 1e-9), gamma = (1 + a) / (1 - a).
-- Exact powers of gamma close their bucket; 1e-7 above moves to the next.
CREATE TABLE golden (id int GENERATED ALWAYS AS IDENTITY, alpha float8, x float8, expect text);
INSERT INTO golden (alpha, x, expect) VALUES
  (0.01, 1, 'neg=;z=0;pos=0:1'),
  (0.01, 1000, 'neg=;z=0;pos=346:1'),
  (0.01, 0.5, 'neg=;z=0;pos=-34:1'),
  (0.01, 7, 'neg=;z=0;pos=98:1'),
  (0.01, 0.001, 'neg=;z=0;pos=-345:1'),
  (0.01, 600000, 'neg=;z=0;pos=666:1'),
  (0.01, -250, 'neg=277:1;z=0;pos='),
  (0.01, 1.0000000001e-9, 'neg=;z=0;pos=-1036:1'),
  (0.01, 1e15, 'neg=;z=0;pos=1727:1'),
  (0.01, -1e15, 'neg=1727:1;z=0;pos='),
  (0.01, 1e-9, 'neg=;z=1;pos='),
  (0.01, -1e-9, 'neg=;z=1;pos='),
  (0.01, 0, 'neg=;z=1;pos='),
  (0.01, '-0', 'neg=;z=1;pos='),
  (0.01, power(101.0 / 99, 10), 'neg=;z=0;pos=10:1'),
  (0.01, power(101.0 / 99, 10) * (1 + 1e-7), 'neg=;z=0;pos=11:1'),
  (0.01, power(101.0 / 99, 10) * (1 - 1e-7), 'neg=;z=0;pos=10:1'),
  (0.01, power(101.0 / 99, -5), 'neg=;z=0;pos=-5:1'),
  (0.01, power(101.0 / 99, -5) * (1 + 1e-7), 'neg=;z=0;pos=-4:1'),
  (0.01, power(101.0 / 99, 346), 'neg=;z=0;pos=346:1'),
  (0.01, -power(101.0 / 99, 346) * (1 + 1e-7), 'neg=347:1;z=0;pos='),
  (0.05, 1000, 'neg=;z=0;pos=70:1'),
  (0.05, 0.001, 'neg=;z=0;pos=-69:1'),
  (0.05, -7, 'neg=20:1;z=0;pos='),
  (0.05, 1.0000000001e-9, 'neg=;z=0;pos=-207:1'),
  (0.05, 1e15, 'neg=;z=0;pos=346:1'),
  (0.05, power(1.05 / 0.95, 20), 'neg=;z=0;pos=20:1'),
  (0.05, power(1.05 / 0.95, 20) * (1 + 1e-7), 'neg=;z=0;pos=21:1');
SELECT alpha, expect, substring(s FROM ';(neg=.*)$') = expect AS ok
  FROM (SELECT id, alpha, x, expect, loomlat.sketch(x, alpha)::text AS s FROM golden GROUP BY id, alpha, x, expect) g
 ORDER BY alpha, x, id;

-- The aggregates look the index up in octave slices that defer to the
-- formula near bucket boundaries; it must be the formula's for every value.
-- SQL's float8 ln() is the same log(), so this is the formula, in the same
-- operations: values spread log-uniformly over (1e-9, 1e15], and powers of
-- gamma and their neighbours within a few units in the last place.  At
-- alpha 1/3 gamma is 2: every boundary lies at the start of an octave.
CREATE TEMP TABLE index_check AS
SELECT a.alpha, v.x
  FROM (VALUES (0.001::float8), (0.01), (0.05), (1 / 3::float8), (0.5)) a(alpha),
       LATERAL (SELECT exp(ln(1e-9::float8) + (i + 0.5) / 6000 * (ln(1e15::float8) - ln(1e-9::float8))) AS x
                  FROM generate_series(0, 5999) i
                UNION ALL
                SELECT power(g, k) * (1 + d)
                  FROM (SELECT (1 + a.alpha) / (1 - a.alpha) AS g) g,
                       generate_series(ceil(ln(2e-9) / ln(g))::int, floor(ln(5e14) / ln(g))::int,
                                       greatest(1, floor(ln(2.5e23) / ln(g) / 1500))::int) k,
                       unnest('{-4e-16,0,4e-16,1e-13,-1e-13}'::float8[]) d) v;
SELECT count(*) > 20000 AS enough,
       count(*) FILTER (WHERE substring(s FROM 'pos=(-?[0-9]+):1$')::int
                              <> ceil(ln(x) * (1 / ln((1 + alpha) / (1 - alpha))) - '1e-9'::float8))
         AS not_the_formula
  FROM (SELECT alpha, x, (SELECT loomlat.sketch(t.v, t.a) FROM (VALUES (x, alpha)) t(v, a))::text AS s
          FROM index_check) c;

-- The text form: version, accuracy, count, exact sum (sum * 2^64 in hex),
-- min, max, negative store (magnitudes), zero bucket, positive store; a
-- store is offset:counts, a run of zero counts written 0*run.
SELECT loomlat.sketch(v)::text FROM (VALUES (1.0), (2.0), (-0.5), (0), (NULL)) t(v);
SELECT loomlat.sketch(v, 0.05)::text FROM (VALUES (1000.0), (1000.0), (7)) t(v);
SELECT loomlat.sketch(v)::text FROM (VALUES (-1.5), (-3.25)) t(v);

-- Accessors.  A bucket stands for 2 gamma^i / (gamma + 1): the median of
-- {1, 1000, 2000} is bucket 346's 1002.428008522..., within 1% of 1000.
SELECT round(loomlat.quantile(s, 0.5)::numeric, 6) AS median,
       loomlat.quantile(s, 0) AS q0, loomlat.quantile(s, 1) AS q1,
       loomlat.sketch_count(s) AS count, loomlat.sketch_min(s) AS min,
       loomlat.sketch_max(s) AS max, round(loomlat.sketch_mean(s)::numeric, 9) AS mean,
       loomlat.sketch_relative_accuracy(s) AS alpha
  FROM (SELECT loomlat.sketch(v) AS s FROM (VALUES (1.0), (1000), (2000)) t(v)) x;
-- quantiles keeps the fractions' shape and lower bounds; NULL gives NULL.
SELECT loomlat.quantiles(s, '{0,1}') AS ends,
       loomlat.quantiles(s, '{{0,NULL},{1,1}}') AS two_d,
       loomlat.quantiles(s, '[0:1]={1,0}') AS lower_bound_0,
       loomlat.quantiles(s, '{}') AS empty,
       loomlat.quantiles(s, NULL) AS null_array,
       loomlat.quantile(s, NULL) AS null_fraction
  FROM (SELECT loomlat.sketch(v) AS s FROM (VALUES (3.0), (5.0)) t(v)) x;
-- Constant data: every quantile is the constant itself (clamped to min/max).
SELECT loomlat.quantiles(loomlat.sketch(v), '{0,0.001,0.5,0.999,1}') = '{42.5,42.5,42.5,42.5,42.5}'
  FROM (SELECT 42.5::float8 AS v FROM generate_series(1, 1000)) t;
-- The mean comes from the exact sum: 0.1 added ten thousand times.
SELECT loomlat.sketch_mean(loomlat.sketch(0.1)) = 0.1 AS exact_mean, sum(0.1::float8) = 1000 AS float_sum
  FROM generate_series(1, 10000);
-- NULL values are skipped; no non-NULL value gives NULL, like percentile_cont.
SELECT loomlat.sketch(v) IS NULL AS all_null, loomlat.merge(NULL::loomlat.latency_sketch) IS NULL AS merge_null
  FROM (VALUES (NULL::float8), (NULL)) t(v);
SELECT loomlat.sketch(v) IS NULL AS no_rows FROM (SELECT 1.0::float8 AS v WHERE false) t;

-- Values: NaN and the infinities are errors (a latency is a finite number,
-- and skipping them would hide a broken clock); magnitudes above 1e15 too.
SELECT loomlat.sketch(v) FROM (VALUES (1.0), ('NaN')) t(v);
SELECT loomlat.sketch(v) FROM (VALUES ('Infinity'::float8)) t(v);
SELECT loomlat.sketch(v) FROM (VALUES ('-Infinity'::float8)) t(v);
SELECT loomlat.sketch(v) FROM (VALUES (1.01e15::float8)) t(v);
-- Relative accuracy: within [0.001, 0.5], not NULL, the same in a group.
SELECT loomlat.sketch(1.0, 0.0001);
SELECT loomlat.sketch(1.0, 0.6);
SELECT loomlat.sketch(1.0, 'NaN');
SELECT loomlat.sketch(1.0, NULL);
SELECT loomlat.sketch(v, a) FROM (VALUES (1.0, 0.01), (2.0, 0.02)) t(v, a);
SELECT loomlat.sketch(v, a) IS NULL AS null_value_skipped FROM (VALUES (NULL::float8, NULL::float8)) t(v, a);
-- Merging sketches of different accuracy is refused.
SELECT loomlat.merge(s) FROM (SELECT loomlat.sketch(1.0, 0.01) UNION ALL SELECT loomlat.sketch(1.0, 0.02)) t(s);
-- Fractions: percentile_cont's error.
SELECT loomlat.quantile(loomlat.sketch(1.0), 1.5);
SELECT loomlat.quantile(loomlat.sketch(1.0), 'NaN');
SELECT loomlat.quantiles(loomlat.sketch(1.0), '{0.5,-0.1}');
-- The support functions refuse to run outside an aggregate.
SELECT loomlat.sketch_add(NULL, 1.0);
SELECT loomlat.sketch_merge(loomlat.sketch(1.0), loomlat.sketch(2.0));

-- The guarantee.  For fraction q over n values, let pos = q (n - 1),
-- f = pos - floor(pos), and x_lo <= x_hi the exact order statistics of ranks
-- floor(pos) and ceil(pos) (0-based).  percentile_cont is
-- x_lo + f (x_hi - x_lo); quantile() interpolates the same way between its
-- estimates of x_lo and x_hi, each within alpha of it (or within 1e-9 for
-- the zero bucket), so
--   |quantile - percentile_cont| <= alpha ((1 - f) |x_lo| + f |x_hi|) + 1e-9,
-- which is alpha |percentile_cont| when x_lo and x_hi have the same sign.
SELECT setseed(0.125);
CREATE TABLE dist (name text, alpha float8, v float8);
-- lognormal TTFTs (ms), with NULLs
INSERT INTO dist SELECT 'lognormal', 0.01,
       CASE WHEN random() < 0.01 THEN NULL
            ELSE 1200 * exp(0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) END
  FROM generate_series(1, 20000);
-- bimodal: warm ~300 ms, cold ~8 s
INSERT INTO dist SELECT 'bimodal', 0.01,
       CASE WHEN random() < 0.3 THEN 8000 ELSE 300 END
         * exp(0.35 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
  FROM generate_series(1, 20000);
INSERT INTO dist SELECT 'constant', 0.01, 250 FROM generate_series(1, 500);
-- Pareto, shape 1.1: a heavy tail
INSERT INTO dist SELECT 'pareto', 0.01, 50 * power(1 - random(), -1 / 1.1) FROM generate_series(1, 20000);
-- log-uniform from 1 us to one day (in ms), at three accuracies
INSERT INTO dist SELECT name, alpha, exp(ln(0.001) + random() * (ln(86400000) - ln(0.001)))
  FROM generate_series(1, 10000),
       (VALUES ('1us-1day', 0.01), ('1us-1day a=0.05', 0.05), ('1us-1day a=0.001', 0.001)) a(name, alpha);
-- cold-start latencies that compare two clocks: negative, zero and positive
INSERT INTO dist SELECT 'negative', 0.01,
       CASE WHEN random() < 0.02 THEN 0 ELSE 40 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) END
  FROM generate_series(1, 20000);
INSERT INTO dist SELECT 'all negative', 0.02, -exp(3 * random()) FROM generate_series(1, 5000);
INSERT INTO dist VALUES ('one value', 0.01, 17.5), ('two values', 0.01, -3), ('two values', 0.01, 9);
CREATE TABLE fractions (f float8);
INSERT INTO fractions VALUES (0), (0.001), (0.01), (0.1), (0.25), (1.0 / 3), (0.5), (0.75), (0.9),
  (0.95), (0.99), (0.999), (1);

WITH sk AS (SELECT name, alpha, loomlat.sketch(v, alpha) AS s, count(v) AS n,
                   array_agg(v ORDER BY v) FILTER (WHERE v IS NOT NULL) AS sorted
              FROM dist GROUP BY name, alpha),
     est AS (SELECT name, alpha, s, n, sorted, f * (n - 1) AS pos, loomlat.quantile(s, f) AS q
               FROM sk CROSS JOIN fractions),
     chk AS (SELECT name, alpha, s, n, q, pos - floor(pos) AS frac,
                    sorted[floor(pos)::int + 1] AS x_lo, sorted[ceil(pos)::int + 1] AS x_hi
               FROM est)
SELECT name, alpha, n, count(*) AS fractions,
       bool_and(abs(q - (x_lo + frac * (x_hi - x_lo)))
                <= alpha * ((1 - frac) * abs(x_lo) + frac * abs(x_hi)) * (1 + 1e-9) + 1e-9) AS within_alpha,
       bool_and(abs(q - (x_lo + frac * (x_hi - x_lo)))
                <= alpha / 4 * ((1 - frac) * abs(x_lo) + frac * abs(x_hi))) AS within_quarter_alpha,
       bool_and(q BETWEEN loomlat.sketch_min(s) AND loomlat.sketch_max(s)) AS clamped,
       bool_and(loomlat.sketch_count(s) = n) AS count_exact
  FROM chk GROUP BY name, alpha, n ORDER BY name;

-- Exact count, min and max, and a mean within rounding of avg().
SELECT name, loomlat.sketch_min(s) = mn AND loomlat.sketch_max(s) = mx AS exact_min_max,
       abs(loomlat.sketch_mean(s) - av) <= 1e-12 * greatest(abs(mn), abs(mx)) AS mean
  FROM (SELECT name, loomlat.sketch(v, alpha) AS s, min(v) AS mn, max(v) AS mx, avg(v) AS av
          FROM dist GROUP BY name, alpha) x
 ORDER BY name;

-- quantiles() gives quantile() for each fraction.
SELECT name, loomlat.quantiles(s, ARRAY(SELECT f FROM fractions ORDER BY f))
         = ARRAY(SELECT loomlat.quantile(s, f) FROM fractions ORDER BY f) AS same
  FROM (SELECT name, loomlat.sketch(v, alpha) AS s FROM dist GROUP BY name, alpha) x
 ORDER BY name;

-- Size: 1 ms to 10 minutes at 1% is 667 buckets of 8 bytes plus the header.
SELECT pg_column_size(s) AS bytes, pg_column_size(s) < 8192 AS under_8kb,
       length(loomlat.latency_sketch_send(s)) AS send_bytes
  FROM (SELECT loomlat.sketch(exp(random() * ln(600000))) AS s FROM generate_series(1, 100000)) x;

-- A window over a growing frame: the final function leaves the state valid.
SELECT g, loomlat.sketch_count(loomlat.sketch(g::float8) OVER (ORDER BY g)) AS running,
       loomlat.sketch_max(loomlat.sketch(g::float8) OVER (ORDER BY g)) AS max
  FROM generate_series(1, 4) g;

-- A stored sketch (compressed or TOASTed) reads and merges like a fresh one.
CREATE TABLE stored (name text, s loomlat.latency_sketch);
INSERT INTO stored SELECT name, loomlat.sketch(v, alpha) FROM dist WHERE alpha = 0.01 GROUP BY name;
SELECT s.name, s.s::text = x.s::text AS same_text
  FROM stored s JOIN (SELECT name, loomlat.sketch(v, alpha) AS s FROM dist WHERE alpha = 0.01 GROUP BY name) x USING (name)
 ORDER BY 1;
SELECT loomlat.merge(s)::text = (SELECT loomlat.sketch(v)::text FROM dist WHERE alpha = 0.01) AS merged_equals_one_sketch
  FROM stored;

DROP TABLE golden, dist, fractions, stored;
