-- Security: a hostile search_path at install and at run time, and roles
-- that are not superusers.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS loomlat;
DROP ROLE IF EXISTS regress_loomlat_writer;
DROP ROLE IF EXISTS regress_loomlat_analyst;
DROP ROLE IF EXISTS regress_loomlat_backend;
RESET client_min_messages;

-- A schema full of traps that shadow what the extension uses.
CREATE SCHEMA trap;
CREATE FUNCTION trap.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT 'epoch'::timestamptz $$;
CREATE FUNCTION trap.is_cold_start(float8) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE FUNCTION trap.format(text, VARIADIC "any") RETURNS text LANGUAGE sql AS $$ SELECT 'SELECT 1' $$;
CREATE FUNCTION trap.float8eq_trap(float8, float8) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR trap.> (LEFTARG = float8, RIGHTARG = float8, FUNCTION = trap.float8eq_trap);
CREATE OPERATOR trap.< (LEFTARG = float8, RIGHTARG = float8, FUNCTION = trap.float8eq_trap);
CREATE FUNCTION trap.texteq_trap(name, name) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR trap.= (LEFTARG = name, RIGHTARG = name, FUNCTION = trap.texteq_trap);
GRANT USAGE ON SCHEMA trap TO PUBLIC;

-- Installed with the traps first on the path, the extension binds only to
-- pg_catalog and to itself.
SET search_path = trap, public, pg_catalog;
CREATE EXTENSION loomlat;
-- At run time, too: the defaults, the checks, the trigger and track() ignore
-- the traps.
INSERT INTO loomlat.agents (agent_id, name) VALUES (1, 'agent');
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, cold_start_latency_ms, ttft_ms)
VALUES ('aaaaaaaa-0000-0000-0000-000000000001', 1, '2026-11-01 09:00:00+00', 20, 150);
SELECT was_cold_start, created_at > '2026-01-01' AS real_now FROM loomlat.invocations;
\set VERBOSITY terse
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, ttft_ms)
VALUES ('aaaaaaaa-0000-0000-0000-000000000002', 1, '2026-11-01 09:00:00+00', -5);
\set VERBOSITY default
CREATE TABLE public.backend_invocations (id int, cold_start_latency_ms float8);
INSERT INTO public.backend_invocations VALUES (1, 10), (2, 5000);
SELECT loomlat.track('public.backend_invocations');
SELECT id, was_cold_start FROM public.backend_invocations ORDER BY id;
DROP TABLE public.backend_invocations;
RESET search_path;

-- What the install bound to, read back with a clean path.
SELECT pg_get_expr(d.adbin, d.adrelid) AS created_at_default
  FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
 WHERE d.adrelid = 'loomlat.invocations'::regclass AND a.attname = 'created_at';
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'loomlat.invocations'::regclass AND contype = 'c' ORDER BY conname;


-- Roles: an analyst who may read, a writer (the ingestor), a backend that
-- owns its own table.  None is a superuser.
CREATE ROLE regress_loomlat_analyst;
CREATE ROLE regress_loomlat_writer;
CREATE ROLE regress_loomlat_backend;
GRANT USAGE ON SCHEMA loomlat TO regress_loomlat_analyst, regress_loomlat_writer, regress_loomlat_backend;
GRANT SELECT ON ALL TABLES IN SCHEMA loomlat TO regress_loomlat_analyst;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA loomlat TO regress_loomlat_writer;
GRANT CREATE ON SCHEMA public TO regress_loomlat_backend;

SET ROLE regress_loomlat_writer;
SET search_path = trap, public, pg_catalog;
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, cold_start_latency_ms)
VALUES ('bbbbbbbb-0000-0000-0000-000000000001', 1, '2026-11-01 09:05:00+00', 1500);
UPDATE loomlat.invocations SET cold_start_latency_ms = 30
 WHERE invocation_id = 'aaaaaaaa-0000-0000-0000-000000000001';
-- the setting is for ops: a writer cannot move the threshold
SET loomlat.cold_start_threshold_ms = 10;
RESET search_path;
RESET ROLE;

SET ROLE regress_loomlat_analyst;
SELECT invocation_id, cold_start_latency_ms, was_cold_start FROM loomlat.invocations ORDER BY 1;
SELECT loomlat.is_cold_start(700), loomlat.is_cold_start(700, 1000), loomlat.cold_start_threshold_ms();
INSERT INTO loomlat.agents (agent_id, name) VALUES (2, 'not allowed');
RESET ROLE;

-- Ops may delegate the setting to one role (PostgreSQL 15 GRANT SET).
GRANT SET ON PARAMETER loomlat.cold_start_threshold_ms TO regress_loomlat_writer;
SET ROLE regress_loomlat_writer;
SET loomlat.cold_start_threshold_ms = 2000;
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time, cold_start_latency_ms)
VALUES ('bbbbbbbb-0000-0000-0000-000000000002', 1, '2026-11-01 09:06:00+00', 1500);
SELECT was_cold_start FROM loomlat.invocations WHERE invocation_id = 'bbbbbbbb-0000-0000-0000-000000000002';
RESET loomlat.cold_start_threshold_ms;
RESET ROLE;
REVOKE SET ON PARAMETER loomlat.cold_start_threshold_ms FROM regress_loomlat_writer;

-- A backend that owns its invocations table tracks it without superuser.
SET ROLE regress_loomlat_backend;
CREATE TABLE public.own_invocations (id int, cold_start_latency_ms float8);
INSERT INTO public.own_invocations VALUES (1, 800);
SELECT loomlat.track('public.own_invocations');
SELECT id, was_cold_start FROM public.own_invocations;
-- ... but not somebody else's
RESET ROLE;
CREATE TABLE public.not_yours (cold_start_latency_ms float8);
SET ROLE regress_loomlat_backend;
SELECT loomlat.track('public.not_yours');
RESET ROLE;
DROP TABLE public.own_invocations, public.not_yours;

DELETE FROM loomlat.invocations;
DELETE FROM loomlat.agents;
REVOKE ALL ON ALL TABLES IN SCHEMA loomlat FROM regress_loomlat_analyst, regress_loomlat_writer;
REVOKE ALL ON SCHEMA loomlat FROM regress_loomlat_analyst, regress_loomlat_writer, regress_loomlat_backend;
REVOKE CREATE ON SCHEMA public FROM regress_loomlat_backend;
DROP ROLE regress_loomlat_analyst, regress_loomlat_writer, regress_loomlat_backend;
SET client_min_messages = warning;
DROP SCHEMA trap CASCADE;
RESET client_min_messages;
