/*
 * dash_query.c - read-only, parameterised dashboard queries (see dash_query.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "present/dash_query.h"

/* One document: every requested range, each with what latency_summary(),
 * phase_breakdown() and (when $5) latency_over_time() return for it, plus
 * the window's TTFT percentiles per class (cold, warm) for the text report. */
static const char REPORT_SQL[] =
    "WITH a AS (SELECT $2::bigint AS agent, $3::integer AS min_inv,"
    "                  coalesce($4::timestamptz, now()) AS as_of)"
    " SELECT jsonb_agg(jsonb_build_object("
    "   'range', r.range,"
    "   'summary', loomlat.latency_summary(r.range, a.agent, a.min_inv, a.as_of),"
    "   'ttft_by_class', (SELECT coalesce(jsonb_agg(jsonb_build_object("
    "        'class', CASE WHEN c.cold THEN 'cold' ELSE 'warm' END, 'invocations', c.n,"
    "        'ttft_p50_ms', c.q[1], 'ttft_p95_ms', c.q[2], 'ttft_p99_ms', c.q[3])"
    "        ORDER BY c.cold DESC), '[]')"
    "      FROM (SELECT i.was_cold_start AS cold, count(*) AS n,"
    "                   loomlat.latency_percentiles(i.ttft_ms) AS q"
    "            FROM loomlat.invocations i"
    "            WHERE i.client_invoke_time > a.as_of - CASE r.range WHEN '1h' THEN interval '1 hour'"
    "                    WHEN '24h' THEN interval '24 hours' WHEN '7d' THEN interval '168 hours'"
    "                    ELSE interval '720 hours' END"
    "              AND i.client_invoke_time <= a.as_of AND i.was_cold_start IS NOT NULL"
    "              AND (a.agent IS NULL OR i.agent_id = a.agent)"
    "            GROUP BY i.was_cold_start) c),"
    "   'phase_breakdown', (SELECT coalesce(jsonb_agg(to_jsonb(p) - 'ordinality' ORDER BY p.ordinality), '[]')"
    "      FROM loomlat.phase_breakdown(r.range, a.agent, a.as_of) WITH ORDINALITY p))"
    "   || CASE WHEN $5 THEN jsonb_build_object('latency_over_time',"
    "      (SELECT coalesce(jsonb_agg(to_jsonb(t) - 'ordinality' ORDER BY t.ordinality), '[]')"
    "       FROM loomlat.latency_over_time(r.range, NULL, a.agent, a.as_of) WITH ORDINALITY t))"
    "      ELSE '{}' END"
    "   ORDER BY r.n)"
    " FROM a, unnest($1::text[]) WITH ORDINALITY r(range, n)";

#define SQLSTATE_NO_DATA_FOUND "P0002" /* resolve_window(): no such agent */

/* Copy a libpq message without its trailing newline. */
static void
set_error(char *err, size_t errlen, const char *message)
{
	size_t len;

	snprintf(err, errlen, "%s", message);
	len = strlen(err);
	while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
		err[--len] = '\0';
}

/* An error the caller caused (bad argument) or one of the database (unavailable). */
static enum dash_status
classify(const PGresult *res)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (state == NULL)
		return DASH_UNAVAILABLE;
	/* class 22 (data exception: a bad as_of, range) or an unknown agent */
	if (strncmp(state, "22", 2) == 0 || strcmp(state, SQLSTATE_NO_DATA_FOUND) == 0)
		return DASH_BAD_ARGUMENT;
	return DASH_UNAVAILABLE;
}

/* Run sql in a read-only transaction with a statement timeout; the single
 * json value of its single row, NULL with *status set otherwise.  A NULL
 * value is DASH_NOT_FOUND. */
static json_t *
read_one(PGconn *conn, int timeout_ms, const char *sql, int n, const char *const *params,
         enum dash_status *status, char *err, size_t errlen)
{
	PGresult *res;
	json_t *doc = NULL;
	json_error_t jerr;
	char begin[96];

	/* bounded: a slow database is an error, never a hang */
	snprintf(begin, sizeof(begin), "BEGIN READ ONLY; SET LOCAL statement_timeout = %d", timeout_ms);
	res = PQexec(conn, begin);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		*status = DASH_UNAVAILABLE;
		set_error(err, errlen, PQerrorMessage(conn));
		PQclear(res);
		return NULL;
	}
	PQclear(res);
	res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		*status = PQresultStatus(res) == PGRES_TUPLES_OK ? DASH_UNAVAILABLE : classify(res);
		set_error(err, errlen, PQresultErrorMessage(res));
	}
	else if (PQgetisnull(res, 0, 0))
	{
		*status = DASH_NOT_FOUND;
		snprintf(err, errlen, "not found");
	}
	else if ((doc = json_loads(PQgetvalue(res, 0, 0), 0, &jerr)) == NULL)
	{
		*status = DASH_UNAVAILABLE;
		snprintf(err, errlen, "the database returned invalid JSON: %s", jerr.text);
	}
	else
		*status = DASH_OK;
	PQclear(res);
	res = PQexec(conn, doc != NULL ? "COMMIT" : "ROLLBACK");
	PQclear(res);
	return doc;
}

/* The agent id ("" for NULL) and min_invocations as parameter text. */
static void
format_args(const struct dash_args *args, char agent[24], char min_inv[24])
{
	agent[0] = '\0';
	if (args->agent_id > 0)
		snprintf(agent, 24, "%" PRId64, args->agent_id);
	snprintf(min_inv, 24, "%lu", args->min_invocations);
}

/* Ranges as a text[] literal: they come from a fixed set, so no quoting is needed. */
json_t *
dash_fetch_report(PGconn *conn, const struct dash_args *args, enum dash_status *status, char *err,
                  size_t errlen)
{
	char ranges[64] = "{";
	char agent[24];
	char min_inv[24];
	const char *params[5] = {ranges, agent, min_inv, args->as_of, args->series ? "t" : "f"};

	for (size_t i = 0; i < args->n_ranges; i++)
	{
		if (i > 0)
			strncat(ranges, ",", sizeof(ranges) - strlen(ranges) - 1);
		strncat(ranges, args->ranges[i], sizeof(ranges) - strlen(ranges) - 1);
	}
	strncat(ranges, "}", sizeof(ranges) - strlen(ranges) - 1);
	format_args(args, agent, min_inv);
	if (agent[0] == '\0')
		params[1] = NULL;
	return read_one(conn, args->timeout_ms, REPORT_SQL, 5, params, status, err, errlen);
}

/* latency_summary() itself, as_of defaulting to now(). */
json_t *
dash_fetch_summary(PGconn *conn, const struct dash_args *args, enum dash_status *status, char *err,
                   size_t errlen)
{
	char agent[24];
	char min_inv[24];
	const char *params[4] = {args->ranges[0], agent, min_inv, args->as_of};

	format_args(args, agent, min_inv);
	if (agent[0] == '\0')
		params[1] = NULL;
	return read_one(conn, DASH_STATEMENT_TIMEOUT_MS,
	                "SELECT loomlat.latency_summary($1, $2::bigint, $3::integer,"
	                " coalesce($4::timestamptz, now()))",
	                4, params, status, err, errlen);
}

/* invocation_detail() of one id; the id was validated by the caller. */
json_t *
dash_fetch_invocation(PGconn *conn, const char *uuid, enum dash_status *status, char *err,
                      size_t errlen)
{
	const char *params[1] = {uuid};

	return read_one(conn, DASH_STATEMENT_TIMEOUT_MS, "SELECT loomlat.invocation_detail($1::uuid)",
	                1, params, status, err, errlen);
}
