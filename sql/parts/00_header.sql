/*
 * loomlat install script, assembled from the files of sql/parts, in name order.
 *
 * The extension is registered in pg_catalog and its objects live in the
 * schema loomlat, which this script creates (see loomlat.control), so every
 * part names that schema itself: @extschema@ would be pg_catalog.
 *
 * Security rules for every part (PostgreSQL, "Security Considerations for
 * Extensions"): plain CREATE only (no OR REPLACE / IF NOT EXISTS); no
 * SECURITY DEFINER; and one search_path rule:
 *
 *   Everything runs with search_path = pg_catalog, pg_temp: this script and
 *   every upgrade script because CREATE / ALTER EXTENSION set it so (the
 *   extension's schema is pg_catalog), and every SQL and PL/pgSQL function,
 *   dynamic SQL included, because it is declared with
 *   SET search_path = pg_catalog, pg_temp.  So built-in names are written
 *   bare (float8, now(), =, format(), pg_class) and the extension's own
 *   objects always as loomlat.x.  Only superusers can create objects in
 *   pg_catalog, and pg_temp comes last, where functions and operators are
 *   never looked up.  test/sql/install.sql checks every function's pin.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION loomlat" to load this file. \quit

-- The schema is a member of the extension: DROP EXTENSION removes it, and an
-- existing "loomlat" schema (perhaps with loose privileges) makes this fail.
CREATE SCHEMA loomlat;
COMMENT ON SCHEMA loomlat IS 'loomlat: TTFT and cold-start latency analytics';
