/*
 * loomlat 0.1.0 -> 0.2.0, the changes the parts cannot say themselves; the
 * Makefile appends the parts this release adds (25_record, 60_reports,
 * 70_sketch, 80_rollups) and the parts whose functions it replaces (30_track,
 * 45_window).  test/upgrade.sh checks that an updated database and a fresh
 * 0.2.0 install have identical catalogs.
 *
 * 0.2.0: the extension owns the write path (record_invocations); the
 * histogram-bound rules live in C alone (check_histogram_bounds); one
 * search_path rule, so built-in names are written bare in every function
 * body (track, resolve_window); reports (phase_breakdown, latency_over_time,
 * invocation_detail); the latency_sketch type; hourly rollups.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION loomlat UPDATE TO '0.2.0'" to load this file. \quit
