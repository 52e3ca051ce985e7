-- CREATE EXTENSION / DROP EXTENSION: what is installed, and that nothing is left behind.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS loomlat;
RESET client_min_messages;

CREATE TEMP TABLE before_install (kind text, name text);
INSERT INTO before_install
SELECT 'class' AS kind, oid::regclass::text AS name FROM pg_class
UNION ALL SELECT 'proc', oid::regprocedure::text FROM pg_proc
UNION ALL SELECT 'type', oid::regtype::text FROM pg_type
UNION ALL SELECT 'namespace', nspname::text FROM pg_namespace
UNION ALL SELECT 'trigger', tgname::text FROM pg_trigger;

CREATE EXTENSION loomlat;

-- Not trusted, not relocatable; registered in pg_catalog, owning its schema.
SELECT extname, extnamespace::regnamespace, extrelocatable, extversion FROM pg_extension WHERE extname = 'loomlat';
SELECT name, version, trusted, superuser, relocatable, schema FROM pg_available_extension_versions
 WHERE name = 'loomlat' ORDER BY version;
SELECT nspname, pg_get_userbyid(nspowner) = current_user AS owned_by_installer
  FROM pg_namespace WHERE nspname = 'loomlat';

-- The member relations and types, and the schema itself; the functions are
-- checked to live in that schema.
SELECT pg_describe_object(classid, objid, 0) AS member
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'loomlat')
   AND classid IN ('pg_class'::regclass, 'pg_type'::regclass, 'pg_namespace'::regclass)
 ORDER BY 1;
SELECT count(*) FILTER (WHERE p.pronamespace <> 'loomlat'::regnamespace) AS functions_outside_schema
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND d.classid = 'pg_proc'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'loomlat');

-- No SECURITY DEFINER anywhere; every SQL/PL function pins its search_path.
SELECT p.oid::regprocedure AS definer_function FROM pg_proc p
 WHERE p.pronamespace = 'loomlat'::regnamespace AND p.prosecdef;
SELECT p.oid::regprocedure AS function_without_search_path FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'loomlat'::regnamespace AND l.lanname IN ('sql', 'plpgsql')
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
   AND p.prosqlbody IS NULL;

-- Extension tables keep their data through pg_dump.
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) AS cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
 WHERE e.extname = 'loomlat' ORDER BY 1;

INSERT INTO loomlat.agents (agent_id, name) VALUES (1, 'dropped with the extension');
DROP EXTENSION loomlat;

-- Nothing is left behind: no relation, function, type, schema or trigger that
-- was not there before.
SELECT kind, name FROM (
	SELECT 'class' AS kind, oid::regclass::text AS name FROM pg_class
	UNION ALL SELECT 'proc', oid::regprocedure::text FROM pg_proc
	UNION ALL SELECT 'type', oid::regtype::text FROM pg_type
	UNION ALL SELECT 'namespace', nspname::text FROM pg_namespace
	UNION ALL SELECT 'trigger', tgname::text FROM pg_trigger) now_there
EXCEPT SELECT kind, name FROM before_install
 ORDER BY 1, 2;

-- A pre-existing "loomlat" schema (someone else's, maybe with loose
-- privileges) is refused rather than adopted.
CREATE SCHEMA loomlat;
CREATE EXTENSION loomlat;
DROP SCHEMA loomlat;

CREATE EXTENSION loomlat;
DROP TABLE before_install;
