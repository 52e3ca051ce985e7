/*
 * dash_query.h - the dashboard's reads: one query each, read-only, bounded.
 *
 * Contract: every read runs in its own READ ONLY transaction with a
 * statement_timeout, its arguments bound as parameters ($1..), and returns a
 * jansson document built by PostgreSQL (the caller owns it).  The report
 * document is an array with one element per range asked for:
 *   {"range", "summary": latency_summary(...) verbatim,
 *    "phase_breakdown": [rows, "(ttft)" ones included],
 *    "latency_over_time": [rows] (only with series)}
 * The report is two or three statements (the summary, the breakdown, the
 * series when asked for): given as many connections they run at once, in
 * REPEATABLE READ transactions sharing one snapshot and one as_of, so they
 * read the same rows; given fewer, one after the other.
 * Failures are classified so that commands and the server answer alike.
 */
#ifndef LOOMLAT_DASH_QUERY_H
#define LOOMLAT_DASH_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#define DASH_STATEMENT_TIMEOUT_MS 10000 /* the summary and the detail; a report sets its own */

enum dash_status
{
	DASH_OK = 0,
	DASH_BAD_ARGUMENT, /* the database rejected an argument (unknown agent, bad as_of) */
	DASH_NOT_FOUND,    /* no such invocation */
	DASH_UNAVAILABLE   /* connection lost, timeout, extension missing */
};

struct dash_args
{
	const char *const *ranges; /* "1h", "24h", "7d", "30d" */
	size_t n_ranges;
	int64_t agent_id;              /* 0: all agents */
	unsigned long min_invocations; /* 0 .. DASH_MIN_INVOCATIONS_MAX */
	const char *as_of;             /* timestamptz text, NULL: now() */
	bool series;                   /* the report holds latency_over_time */
	int timeout_ms;                /* dash_fetch_report()'s statement_timeout */
};

/* The report document for args, read over n_conns (1 to 3) connections;
 * NULL with err set and *status not DASH_OK. */
json_t *dash_fetch_report(PGconn *const *conns, size_t n_conns, const struct dash_args *args,
                          enum dash_status *status, char *err, size_t errlen);

/* loomlat.latency_summary(range, agent_id, min_invocations[, as_of]) of the first range. */
json_t *dash_fetch_summary(PGconn *conn, const struct dash_args *args, enum dash_status *status,
                           char *err, size_t errlen);

/* loomlat.invocation_detail(id); NULL with *status DASH_NOT_FOUND for an unknown id. */
json_t *dash_fetch_invocation(PGconn *conn, const char *uuid, enum dash_status *status, char *err,
                              size_t errlen);

#endif
