-- Privileges and row-level security: the summaries run as the caller, so a
-- tenant's role sees only its own agents, and numbers match what that role
-- could compute itself.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS loomlat;
RESET client_min_messages;
SET TimeZone = 'UTC';

CREATE ROLE regress_summary_tenant_a;
CREATE ROLE regress_summary_tenant_b;
CREATE ROLE regress_summary_no_usage;
CREATE ROLE regress_summary_no_select;

CREATE TABLE public.summary_tenants (role_name name NOT NULL, agent_id bigint NOT NULL);
INSERT INTO public.summary_tenants
VALUES ('regress_summary_tenant_a', 9101), ('regress_summary_tenant_a', 9102),
	   ('regress_summary_tenant_b', 9103);

INSERT INTO loomlat.agents (agent_id, name)
VALUES (9101, 'A support'), (9102, 'A research'), (9103, 'B support');
INSERT INTO loomlat.invocations (invocation_id, agent_id, client_invoke_time,
								 cold_start_latency_ms, ttft_ms, client_duration_ms)
SELECT md5('security' || g)::uuid, 9101 + g % 3,
	   '2031-06-01 00:00:00+00'::timestamptz - g * interval '7 minutes',
	   (g * 211) % 1500, ((g * 4099) % 12000) + 0.5 * (g % 3), (g * 53) % 3000 + 40
FROM generate_series(1, 400) AS g;

GRANT USAGE ON SCHEMA loomlat TO regress_summary_tenant_a, regress_summary_tenant_b,
	regress_summary_no_select;
GRANT SELECT ON loomlat.agents, loomlat.invocations
	TO regress_summary_tenant_a, regress_summary_tenant_b, regress_summary_no_usage;
GRANT SELECT ON public.summary_tenants TO regress_summary_tenant_a, regress_summary_tenant_b;
ALTER TABLE loomlat.agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE loomlat.invocations ENABLE ROW LEVEL SECURITY;
CREATE POLICY summary_tenant ON loomlat.agents USING (agent_id IN (
	SELECT t.agent_id FROM public.summary_tenants t WHERE t.role_name = current_user));
CREATE POLICY summary_tenant ON loomlat.invocations USING (agent_id IN (
	SELECT t.agent_id FROM public.summary_tenants t WHERE t.role_name = current_user));

-- Reference for one tenant, computed as superuser (who bypasses RLS) on an
-- explicit agent list.
CREATE FUNCTION pg_temp.expected_totals(agents bigint[])
RETURNS TABLE (total bigint, cold_start_pct float8, p50 float8, p95 float8, p99 float8)
LANGUAGE sql AS $$
	SELECT count(*), (count(*) FILTER (WHERE was_cold_start))::float8 / count(*),
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft_ms),
		   percentile_cont(0.95) WITHIN GROUP (ORDER BY ttft_ms),
		   percentile_cont(0.99) WITHIN GROUP (ORDER BY ttft_ms)
	FROM loomlat.invocations
	WHERE agent_id = ANY (agents)
	  AND client_invoke_time > '2031-05-31 00:00:00+00' AND client_invoke_time <= '2031-06-01 00:00:00+00'
$$;
CREATE TEMP TABLE expected AS
SELECT 'regress_summary_tenant_a'::name AS role_name, * FROM pg_temp.expected_totals('{9101,9102}')
UNION ALL
SELECT 'regress_summary_tenant_b', * FROM pg_temp.expected_totals('{9103}');
GRANT SELECT ON expected TO regress_summary_tenant_a, regress_summary_tenant_b;

-- Superuser: all three agents.
SELECT jsonb_path_query_array(loomlat.latency_summary('24h', as_of => '2031-06-01 00:00:00+00'),
							  '$.agents[*].agent_name') AS agents;

-- Tenant A: its two agents, and totals over them only.
SET ROLE regress_summary_tenant_a;
SELECT agent_id, agent_name, invocation_count
FROM loomlat.latency_by_agent('24h', as_of => '2031-06-01 00:00:00+00');
SELECT (s->>'total_invocations')::bigint = e.total AS total_ok,
	   (s->>'cold_start_pct')::float8 = e.cold_start_pct AS cold_ok,
	   (s->>'ttft_p50_ms')::float8 = e.p50 AND (s->>'ttft_p95_ms')::float8 = e.p95
		   AND (s->>'ttft_p99_ms')::float8 = e.p99 AS percentiles_ok,
	   e.total
FROM loomlat.latency_summary('24h', as_of => '2031-06-01 00:00:00+00') AS s,
	 expected e
WHERE e.role_name = current_user;
SELECT sum(count) AS histogram_total
FROM loomlat.ttft_histogram('24h', as_of => '2031-06-01 00:00:00+00');
-- Another tenant's agent does not exist for this role.
\set VERBOSITY terse
SELECT loomlat.latency_summary('24h', 9103, as_of => '2031-06-01 00:00:00+00');
\set VERBOSITY default
RESET ROLE;

-- Tenant B: its one agent.
SET ROLE regress_summary_tenant_b;
SELECT s->'total_invocations' = to_jsonb(e.total) AS total_ok,
	   jsonb_path_query_array(s, '$.agents[*].agent_name') AS agents
FROM loomlat.latency_summary('24h', as_of => '2031-06-01 00:00:00+00') AS s,
	 expected e
WHERE e.role_name = current_user;
RESET ROLE;

-- Without USAGE on the schema, or SELECT on the tables: denied.
\set VERBOSITY terse
SET ROLE regress_summary_no_usage;
SELECT loomlat.latency_summary('24h');
RESET ROLE;
SET ROLE regress_summary_no_select;
SELECT loomlat.latency_summary('24h');
RESET ROLE;
\set VERBOSITY default

DROP POLICY summary_tenant ON loomlat.invocations;
DROP POLICY summary_tenant ON loomlat.agents;
ALTER TABLE loomlat.invocations DISABLE ROW LEVEL SECURITY;
ALTER TABLE loomlat.agents DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON loomlat.agents, loomlat.invocations FROM regress_summary_tenant_a,
	regress_summary_tenant_b, regress_summary_no_usage;
REVOKE ALL ON SCHEMA loomlat FROM regress_summary_tenant_a, regress_summary_tenant_b,
	regress_summary_no_select;
DELETE FROM loomlat.invocations WHERE agent_id BETWEEN 9101 AND 9103;
DELETE FROM loomlat.agents WHERE agent_id BETWEEN 9101 AND 9103;
DROP TABLE expected, public.summary_tenants;
DROP ROLE regress_summary_tenant_a, regress_summary_tenant_b, regress_summary_no_usage,
	regress_summary_no_select;
RESET TimeZone;
