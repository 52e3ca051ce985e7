/*
 * dash_query.c - read-only, parameterised dashboard queries (see dash_query.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "present/dash_query.h"

/* The report's statements, each one document per range; all take the
 * parameters of REPORT_TYPES.  The series is read only when asked for. */
enum
{
	REPORT_SUMMARY, /* latency_summary() */
	REPORT_PHASES,  /* phase_breakdown() */
	REPORT_SERIES,  /* latency_over_time() */
	REPORT_NSTATEMENTS
};

static const char *const REPORT_SQL[REPORT_NSTATEMENTS] = {
    "SELECT jsonb_agg(jsonb_build_object("
    "   'range', r.range, 'summary', loomlat.latency_summary(r.range, $2, $3, $4)) ORDER BY r.n)"
    " FROM unnest($1) WITH ORDINALITY r(range, n)",
    "SELECT jsonb_agg(jsonb_build_object("
    "   'phase_breakdown', (SELECT coalesce(jsonb_agg(to_jsonb(p) - 'ordinality' ORDER BY p.ordinality), '[]')"
    "      FROM loomlat.phase_breakdown(r.range, $2, $4) WITH ORDINALITY p)) ORDER BY r.n)"
    " FROM unnest($1) WITH ORDINALITY r(range, n)",
    "SELECT jsonb_agg(jsonb_build_object("
    "   'latency_over_time', (SELECT coalesce(jsonb_agg(to_jsonb(t) - 'ordinality' ORDER BY t.ordinality), '[]')"
    "      FROM loomlat.latency_over_time(r.range, NULL, $2, $4) WITH ORDINALITY t)) ORDER BY r.n)"
    " FROM unnest($1) WITH ORDINALITY r(range, n)"};

/* text[] ranges, bigint agent_id, integer min_invocations, timestamptz as_of */
static const Oid REPORT_TYPES[] = {1009, 20, 23, 1184};
#define REPORT_NPARAMS         (sizeof(REPORT_TYPES) / sizeof(REPORT_TYPES[0]))

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

/* Start a read-only transaction on conn at isolation ("" for the default)
 * with a statement timeout, then the SET LOCAL commands of also ("" for
 * none); false with *status and err set. */
static bool
begin_read(PGconn *conn, const char *isolation, const char *also, int timeout_ms,
           enum dash_status *status, char *err, size_t errlen)
{
	char begin[256];
	PGresult *res;
	bool ok;

	/* bounded: a slow database is an error, never a hang */
	snprintf(begin, sizeof(begin), "BEGIN %s READ ONLY; SET LOCAL statement_timeout = %d%s",
	         isolation, timeout_ms, also);
	res = PQexec(conn, begin);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
	{
		*status = DASH_UNAVAILABLE;
		set_error(err, errlen, PQerrorMessage(conn));
	}
	PQclear(res);
	return ok;
}

/* End conn's transaction, if it is in one: COMMIT after success, else ROLLBACK. */
static void
end_read(PGconn *conn, bool ok)
{
	PGTransactionStatusType in = PQtransactionStatus(conn);

	if (in == PQTRANS_INTRANS || in == PQTRANS_INERROR)
		PQclear(PQexec(conn, ok ? "COMMIT" : "ROLLBACK"));
}

/* Ask the server to stop the query running on conn, if any (best effort). */
static void
cancel_query(PGconn *conn)
{
	PGcancel *cancel = PQgetCancel(conn);
	char ignored[256];

	if (cancel == NULL)
		return;
	PQcancel(cancel, ignored, sizeof(ignored));
	PQfreeCancel(cancel);
}

/* The single json value of res's single row; NULL with *status set otherwise
 * (a NULL value is DASH_NOT_FOUND).  Clears res. */
static json_t *
take_one(PGresult *res, enum dash_status *status, char *err, size_t errlen)
{
	json_t *doc = NULL;
	json_error_t jerr;

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
	return doc;
}

/* The last result of the query sent on conn (a failure if there is none). */
static PGresult *
last_result(PGconn *conn)
{
	PGresult *res = NULL;
	PGresult *next;

	while ((next = PQgetResult(conn)) != NULL)
	{
		PQclear(res);
		res = next;
	}
	return res != NULL ? res : PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
}

/* Run sql in a read-only transaction with a statement timeout; its single
 * json value, NULL with *status set otherwise. */
static json_t *
read_one(PGconn *conn, int timeout_ms, const char *sql, int n, const char *const *params,
         enum dash_status *status, char *err, size_t errlen)
{
	json_t *doc;

	if (!begin_read(conn, "", "", timeout_ms, status, err, errlen))
		return NULL;
	doc = take_one(PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0), status, err, errlen);
	end_read(conn, doc != NULL);
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

/*
 * Open the report's transactions: REPEATABLE READ on every connection, the
 * first one exporting its snapshot to the others, so that all statements
 * read the same rows; as_of (NULL: the first transaction's now()) is fixed
 * into as_of_text, as ISO 8601 whatever the DateStyle, so that they all cut
 * the same window.  With more than one connection the statements are the
 * parallelism: each runs without parallel workers, which on two cores halves
 * the report's time where workers competing with the other statements gain
 * nothing.  A connection that cannot join (a multi-host conninfo may reach
 * another server) is left out.  Returns how many connections took part, 0
 * after a failure with *status and err set.
 */
static size_t
begin_report(PGconn *const *conns, size_t n_conns, const char *as_of, int timeout_ms,
             char as_of_text[64], enum dash_status *status, char *err, size_t errlen)
{
	const char *params[1] = {as_of};
	const char *also = n_conns > 1 ? "; SET LOCAL max_parallel_workers_per_gather = 0" : "";
	PGresult *res;
	size_t joined;

	if (!begin_read(conns[0], "ISOLATION LEVEL REPEATABLE READ", also, timeout_ms, status, err,
	                errlen))
		return 0;
	res = PQexecParams(conns[0],
	                   n_conns > 1 ? "SELECT to_json(coalesce($1::timestamptz, now())) #>> '{}',"
	                                 " pg_export_snapshot()"
	                               : "SELECT to_json(coalesce($1::timestamptz, now())) #>> '{}'",
	                   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    (size_t) PQgetlength(res, 0, 0) >= 64)
	{
		*status = classify(res);
		set_error(err, errlen, PQresultErrorMessage(res));
		PQclear(res);
		end_read(conns[0], false);
		return 0;
	}
	snprintf(as_of_text, 64, "%s", PQgetvalue(res, 0, 0));
	for (joined = 1; joined < n_conns; joined++)
	{
		enum dash_status ignored;
		char set[96];
		PGresult *imported;
		bool ok;

		if (!begin_read(conns[joined], "ISOLATION LEVEL REPEATABLE READ", also, timeout_ms,
		                &ignored, set, sizeof(set)))
			break;
		/* a snapshot id is hex digits and dashes: no quoting needed */
		snprintf(set, sizeof(set), "SET TRANSACTION SNAPSHOT '%s'", PQgetvalue(res, 0, 1));
		imported = PQexec(conns[joined], set);
		ok = PQresultStatus(imported) == PGRES_COMMAND_OK;
		PQclear(imported);
		if (!ok)
			break;
	}
	for (size_t i = joined; i < n_conns; i++)
		end_read(conns[i], false);
	PQclear(res);
	return joined;
}

/* The document of the statement sent on conn into *doc, if the report is
 * still ok; else the statement is cancelled and its result dropped, so that
 * the connection is idle again without waiting for it.  Returns the new ok. */
static bool
collect(PGconn *conn, bool ok, json_t **doc, enum dash_status *status, char *err, size_t errlen)
{
	PGresult *res;

	if (!ok)
		cancel_query(conn);
	res = last_result(conn);
	if (!ok)
	{
		PQclear(res);
		return false;
	}
	return (*doc = take_one(res, status, err, errlen)) != NULL;
}

/* Ranges as a text[] literal: they come from a fixed set, so no quoting is
 * needed.  Statement s runs on connection s % n_conns, all at once when there
 * are enough connections; the documents are merged range by range. */
json_t *
dash_fetch_report(PGconn *const *conns, size_t n_conns, const struct dash_args *args,
                  enum dash_status *status, char *err, size_t errlen)
{
	char ranges[64] = "{";
	char agent[24];
	char min_inv[24];
	char as_of[64];
	const char *params[REPORT_NPARAMS] = {ranges, agent, min_inv, as_of};
	size_t n = args->series ? REPORT_NSTATEMENTS : REPORT_SERIES;
	json_t *part[REPORT_NSTATEMENTS] = {NULL};
	bool ok;

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
	n_conns = begin_report(conns, n_conns < n ? n_conns : n, args->as_of, args->timeout_ms, as_of,
	                       status, err, errlen);
	if (n_conns == 0)
		return NULL;
	ok = true;
	for (size_t s = 0; s < n; s++)
	{
		PGconn *conn = conns[s % n_conns];

		/* a connection's earlier statement is collected before it takes the next */
		if (s >= n_conns)
			ok = collect(conn, ok, &part[s - n_conns], status, err, errlen);
		if (ok && !PQsendQueryParams(conn, REPORT_SQL[s], (int) REPORT_NPARAMS, REPORT_TYPES,
		                             params, NULL, NULL, 0))
		{
			*status = DASH_UNAVAILABLE;
			set_error(err, errlen, PQerrorMessage(conn));
			ok = false;
		}
	}
	for (size_t s = n - n_conns; s < n; s++)
	{
		/* always drain what was sent, so every connection is idle again */
		ok = collect(conns[s % n_conns], ok, &part[s], status, err, errlen);
	}
	for (size_t i = 0; i < n_conns; i++)
		end_read(conns[i], ok);

	for (size_t s = 1; ok && s < n; s++)
	{
		ok = json_array_size(part[s]) == json_array_size(part[REPORT_SUMMARY]);
		if (!ok)
		{
			*status = DASH_UNAVAILABLE;
			snprintf(err, errlen, "the report's statements returned different ranges");
		}
		for (size_t i = 0; ok && i < json_array_size(part[s]); i++)
			json_object_update(json_array_get(part[REPORT_SUMMARY], i), json_array_get(part[s], i));
	}
	for (size_t s = 1; s < n; s++)
		json_decref(part[s]);
	if (!ok)
	{
		json_decref(part[REPORT_SUMMARY]);
		return NULL;
	}
	return part[REPORT_SUMMARY];
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
