/*
 * loomlat install script, assembled from the files of sql/parts, in name order.
 *
 * The extension is registered in pg_catalog and its objects live in the
 * schema loomlat, which this script creates (see loomlat.control), so every
 * part names that schema itself: @extschema@ would be pg_catalog.
 *
 * Security rules for every part (PostgreSQL, "Security Considerations for
 * Extensions"): plain CREATE only (no OR REPLACE / IF NOT EXISTS); every name
 * schema-qualified (loomlat.x, pg_catalog.f, OPERATOR(pg_catalog.=));
 * SQL and PL/pgSQL functions fix search_path = pg_catalog, pg_temp; no
 * SECURITY DEFINER.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION loomlat" to load this file. \quit

-- The schema is a member of the extension: DROP EXTENSION removes it, and an
-- existing "loomlat" schema (perhaps with loose privileges) makes this fail.
CREATE SCHEMA loomlat;
COMMENT ON SCHEMA loomlat IS 'loomlat: TTFT and cold-start latency analytics';
