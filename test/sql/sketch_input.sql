-- latency_sketch input is untrusted: text (COPY, pg_dump, a coordinator's
-- partial states) and binary (COPY BINARY, the wire) are validated field by
-- field.  Every class of corrupt input is an error with SQLSTATE 22P02
-- (text) or 22P03 (binary); truncated and randomly mutated forms either
-- parse to a valid sketch or fail that way, never crash.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;

-- 'ok', or the SQLSTATE, message and detail of the error.
CREATE FUNCTION try_text(t text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	state text;
	msg text;
	detail text;
BEGIN
	PERFORM t::loomlat.latency_sketch;
	RETURN 'ok';
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
	RETURN state || ' ' || msg || coalesce(': ' || nullif(detail, ''), '');
END $$;

-- Feeds bytes to latency_sketch_recv through COPY BINARY (a bytea field's
-- bytes are the sketch's), by a file in the data directory; 'ok' or the
-- SQLSTATE and detail of the error.
CREATE TABLE recv_target (s loomlat.latency_sketch);
SELECT current_setting('data_directory') || '/loomlat_sketch_input_' || pg_backend_pid() || '.bin' AS binfile \gset
CREATE FUNCTION try_recv(b bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	state text;
	detail text;
	file text := current_setting('data_directory') || '/loomlat_sketch_input_' || pg_backend_pid() || '.bin';
BEGIN
	EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', b, file);
	EXECUTE format('COPY recv_target FROM %L (FORMAT binary)', file);
	RETURN 'ok';
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
	RETURN state || coalesce(': ' || nullif(detail, ''), '');
END $$;

CREATE TABLE base AS
SELECT loomlat.sketch(v) AS s FROM (VALUES (-3.5), (0), (1), (2), (1000)) t(v);
SELECT s::text FROM base;

-- Text and binary round trips are exact.
SELECT s::text::loomlat.latency_sketch::text = s::text AS text_round_trip,
       loomlat.latency_sketch_send(s::text::loomlat.latency_sketch) = loomlat.latency_sketch_send(s) AS send_round_trip
  FROM base;
COPY base TO :'binfile' (FORMAT binary);
CREATE TABLE base_copy (s loomlat.latency_sketch);
COPY base_copy FROM :'binfile' (FORMAT binary);
SELECT b.s::text = c.s::text AS copy_binary_round_trip FROM base b, base_copy c;
SELECT try_recv(loomlat.latency_sketch_send(s)) AS recv_of_send FROM base;

-- Corrupt text, one class a row.
CREATE TABLE bad_text (label text, t text);
INSERT INTO bad_text VALUES
  ('empty', ''),
  ('other version', 'v2;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1'),
  ('missing field', 'v1;a=0.01;n=1;min=1;max=1;neg=;z=0;pos=0:1'),
  ('trailing data', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1;'),
  ('space', 'v1;a=0.01;n=1;s=10000000000000000;min= 1;max=1;neg=;z=0;pos=0:1'),
  ('alpha too small', 'v1;a=0.0001;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1'),
  ('alpha too large', 'v1;a=0.9;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1'),
  ('alpha NaN', 'v1;a=NaN;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1'),
  ('count zero', 'v1;a=0.01;n=0;s=0;min=1;max=1;neg=;z=0;pos='),
  ('count negative', 'v1;a=0.01;n=-1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1'),
  ('count overflow', 'v1;a=0.01;n=99999999999999999999;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1'),
  ('count too high', 'v1;a=0.01;n=2;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1'),
  ('count too low', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1,1'),
  ('bucket count negative', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:2,-1'),
  ('bucket counts overflow', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:9223372036854775807,0,9223372036854775807'),
  ('store ends with zero', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1,0'),
  ('store starts with zero', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=-1:0,1'),
  ('bucket index too high', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=1728:1'),
  ('bucket index too low', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=-1037:1'),
  ('bucket index overflow', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=4294967296:1'),
  ('too many buckets', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=-1036:' || repeat('0,', 2765) || '1'),
  ('too many buckets in a run', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=-1036:0*2764,1'),
  ('run of zero', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1*0'),
  ('run overflow', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1,0*2147483648,1'),
  ('min above max', 'v1;a=0.01;n=2;s=20000000000000000;min=1.01;max=1;neg=;z=0;pos=0:2'),
  ('min NaN', 'v1;a=0.01;n=1;s=10000000000000000;min=NaN;max=1;neg=;z=0;pos=0:1'),
  ('max Infinity', 'v1;a=0.01;n=1;s=10000000000000000;min=1;max=Infinity;neg=;z=0;pos=0:1'),
  ('one value, min <> max', 'v1;a=0.01;n=1;s=10000000000000000;min=0.999;max=1;neg=;z=0;pos=0:1'),
  ('min not in its bucket', 'v1;a=0.01;n=2;s=20000000000000000;min=0.5;max=1;neg=;z=0;pos=0:2'),
  ('max not in its bucket', 'v1;a=0.01;n=2;s=20000000000000000;min=1;max=2;neg=;z=0;pos=0:2'),
  ('min should be negative', 'v1;a=0.01;n=2;s=0;min=1;max=1;neg=0:1;z=0;pos=0:1'),
  ('max in the zero bucket', 'v1;a=0.01;n=2;s=10000000000000000;min=0;max=0;neg=;z=1;pos=0:1'),
  ('min beyond range', 'v1;a=0.01;n=1;s=0;min=-1e16;max=1;neg=;z=0;pos=0:1'),
  ('sum too large', 'v1;a=0.01;n=1;s=20000000000000000;min=1;max=1;neg=;z=0;pos=0:1'),
  ('sum negative', 'v1;a=0.01;n=1;s=-10000000000000000;min=1;max=1;neg=;z=0;pos=0:1'),
  ('sum beyond 191 bits', 'v1;a=0.01;n=1;s=' || repeat('f', 48) || ';min=1;max=1;neg=;z=0;pos=0:1'),
  ('sum beyond 192 bits', 'v1;a=0.01;n=1;s=1' || repeat('0', 48) || ';min=1;max=1;neg=;z=0;pos=0:1'),
  ('sum not hex', 'v1;a=0.01;n=1;s=x1;min=1;max=1;neg=;z=0;pos=0:1');
SELECT label, try_text(t) FROM bad_text ORDER BY label;
-- The same, with the valid field restored, parses: each row breaks one rule.
-- Runs of equal counts need not be zeros, nor the longest.
SELECT try_text('v1;a=0.01;n=1;s=10000000000000000;min=1;max=1;neg=;z=0;pos=0:1') AS valid,
       'v1;a=0.01;n=7;s=70000000000000000;min=1;max=1.14;neg=;z=0;pos=0:2*2,0,0*2,1*2,1'::loomlat.latency_sketch::text AS runs;

-- Corrupt binary, one class a row: the send form of base, altered.
-- Layout: version (1 byte), alpha, count, sum (3 words), min, max (8 bytes
-- each), negative store (int32 offset, int32 length, int64 counts), zero
-- count, positive store.
CREATE TABLE good AS SELECT loomlat.latency_sketch_send(s) AS b FROM base;
SELECT length(b) FROM good;
CREATE TABLE bad_bin (label text, b bytea);
INSERT INTO bad_bin SELECT c.label, c.bytes FROM good, LATERAL (VALUES
  ('empty', ''::bytea),
  ('header only', substring(b FROM 1 FOR 57)),
  ('one byte short', substring(b FROM 1 FOR length(b) - 1)),
  ('one byte more', b || '\x00'::bytea),
  ('version 2', overlay(b PLACING '\x02' FROM 1)),
  ('alpha NaN', overlay(b PLACING float8send('NaN') FROM 2)),
  ('alpha 0', overlay(b PLACING float8send(0) FROM 2)),
  ('count + 1', overlay(b PLACING int8send(6) FROM 10)),
  ('count negative', overlay(b PLACING int8send(-5) FROM 10)),
  ('min Infinity', overlay(b PLACING float8send('-Infinity') FROM 42)),
  ('min above max', overlay(b PLACING float8send(1001) FROM 42)),
  ('max NaN', overlay(b PLACING float8send('NaN') FROM 50)),
  ('store length negative', overlay(b PLACING int4send(-1) FROM 62)),
  ('store length huge', overlay(b PLACING int4send(2147483647) FROM 62)),
  ('store index out of range', overlay(b PLACING int4send(100000) FROM 58)),
  ('bucket count negative', overlay(b PLACING int8send(-1) FROM 66)),
  ('zero count + 1', overlay(b PLACING int8send(2) FROM 74)),
  ('sum flipped', overlay(b PLACING '\xff' FROM 30))) c(label, bytes);
SELECT label, try_recv(b) FROM bad_bin ORDER BY label;

-- Every truncation of a valid text form: all fail as invalid text.
SELECT count(*) AS truncations,
       count(*) FILTER (WHERE r LIKE '22P02 %') AS invalid_text,
       count(*) FILTER (WHERE r = 'ok') AS parsed
  FROM base, LATERAL (SELECT try_text(left(s::text, n)) AS r
                        FROM generate_series(0, length(s::text) - 1) n) x;

-- Random one- to three-character mutations of text forms: each either
-- fails as invalid text or parses to a sketch whose text form round-trips.
CREATE FUNCTION mutate(t text, n int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	alphabet text := '0123456789abcdef-,:;=.enpvzsxi ';
	p int;
BEGIN
	FOR i IN 1 .. n LOOP
		p := 1 + floor(random() * length(t))::int;
		t := overlay(t PLACING substr(alphabet, 1 + floor(random() * length(alphabet))::int, 1)
		             FROM p FOR floor(random() * 2)::int);
	END LOOP;
	RETURN t;
END $$;
SELECT setseed(0.5);
CREATE TABLE fuzz_seed AS
SELECT loomlat.sketch(v)::text AS t FROM (VALUES (-3.5), (0), (1), (2), (1000)) t(v)
UNION ALL SELECT loomlat.sketch(v, 0.05)::text FROM (VALUES (1e-6), (7), (7), (123456.75)) t(v);
CREATE TABLE fuzz AS
SELECT m, try_text(m) AS r FROM fuzz_seed, LATERAL (
  SELECT mutate(t, 1 + (g % 3)) AS m FROM generate_series(1, 1500) g) x;
SELECT count(*) AS mutations,
       count(*) FILTER (WHERE r LIKE '22P02 %') AS invalid_text,
       count(*) FILTER (WHERE r = 'ok') AS parsed,
       count(*) FILTER (WHERE r <> 'ok' AND r NOT LIKE '22P02 %') AS other
  FROM fuzz;
SELECT bool_and(m::loomlat.latency_sketch::text::loomlat.latency_sketch::text = m::loomlat.latency_sketch::text
                AND loomlat.quantile(m::loomlat.latency_sketch, 0.5) IS NOT NULL) AS parsed_are_valid
  FROM fuzz WHERE r = 'ok';

-- Random byte flips and truncations of a binary form: each either fails as
-- invalid binary or is a valid sketch.
CREATE TABLE bin_fuzz AS
SELECT try_recv(CASE WHEN g % 4 = 0 THEN substring(b FROM 1 FOR floor(random() * length(b))::int)
                     ELSE set_byte(b, floor(random() * length(b))::int, floor(random() * 256)::int) END) AS r
  FROM good, generate_series(1, 400) g;
SELECT count(*) AS mutations,
       count(*) FILTER (WHERE r LIKE '22P03%') AS invalid_binary,
       count(*) FILTER (WHERE r = 'ok') AS parsed,
       count(*) FILTER (WHERE r <> 'ok' AND r NOT LIKE '22P03%') AS other
  FROM bin_fuzz;
SELECT count(*) AS received, bool_and(s::text::loomlat.latency_sketch::text = s::text) AS valid
  FROM recv_target;

DROP TABLE recv_target, base, base_copy, bad_text, good, bad_bin, fuzz_seed, fuzz, bin_fuzz;
DROP FUNCTION try_text(text), try_recv(bytea), mutate(text, int);
