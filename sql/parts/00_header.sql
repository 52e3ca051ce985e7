/*
 * loomlat install script, assembled from the files of sql/parts, in name order.
 *
 * Security rules for every part (PostgreSQL, "Security Considerations for
 * Extensions"): plain CREATE only (no OR REPLACE / IF NOT EXISTS); every name
 * schema-qualified (@extschema@.x, pg_catalog.f, OPERATOR(pg_catalog.=));
 * SQL and PL/pgSQL functions fix search_path = pg_catalog, pg_temp; no
 * SECURITY DEFINER; @extschema@ never inside quotes.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION loomlat" to load this file. \quit

-- The schema is a member of the extension: DROP EXTENSION removes it, and an
-- existing "loomlat" schema (perhaps with loose privileges) makes this fail.
CREATE SCHEMA @extschema@;
COMMENT ON SCHEMA @extschema@ IS 'loomlat: TTFT and cold-start latency analytics';
