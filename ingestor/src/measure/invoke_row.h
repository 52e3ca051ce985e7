/*
 * invoke_row.h - the rows and the report record of one invocation, built
 * from what was observed.
 *
 * Pure: no I/O, no clock.  invoke.c gathers the facts (its monotonic
 * readings, libcurl's timings, the stream observer's result) and these
 * functions turn them into the JSON rows the writer sends (keys as
 * loomlat.ingest_rows() takes them; a number that is not finite is left
 * out) and the record the closing report counts.
 *
 * Phases, each {"phase", "start_ms", "duration_ms"} with start_ms from t0:
 * token (the wait for the token), db (the pending row's round trip), dns,
 * connect, tls, first_byte (libcurl's, on a reused connection dns and
 * connect are 0), first_reasoning and first_token (from the request start),
 * stream (first token to the end) and agent.<name> (the agent's own, a name
 * reported twice keeping its last value).  A phase with a negative or
 * unknown duration is left out.
 */
#ifndef LOOMLAT_INVOKE_ROW_H
#define LOOMLAT_INVOKE_ROW_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "measure/report.h"
#include "stream/agent_format.h"

/* libcurl's timings of the transfer, in microseconds from its start. */
struct invoke_http_times
{
	bool reused; /* no new connection was made (CURLINFO_NUM_CONNECTS = 0) */
	int64_t dns_us;
	int64_t connect_us;
	int64_t tls_us; /* 0: no TLS handshake */
	int64_t pretransfer_us;
	int64_t first_byte_us; /* 0: no byte arrived */
};

/* Everything the rows of one invocation are made of. */
struct invoke_facts
{
	const char *invocation_id;
	int64_t agent_id;
	const char *session_id;
	double t0_wall;                       /* client_invoke_time, Unix seconds */
	int64_t t0_ns;                        /* the same moment, monotonic */
	int64_t end_ns;                       /* when the invocation was concluded, monotonic */
	const char *error;                    /* NULL: complete */
	bool token_known;                     /* a token was asked for and answered */
	double token_ms;                      /* the token waits, summed over a retry */
	bool token_cache_hit;                 /* the first answer came from the cache */
	double db_ms;                         /* the pending row's round trip; NAN: not confirmed */
	int64_t http_start_ns;                /* the last request's start, monotonic */
	const struct invoke_http_times *http; /* NULL: no connection made or used */
	const struct stream_result *stream;   /* NULL: no response was observed */
};

/* The "pending" row queued at t0. */
json_t *invoke_row_pending(const struct invoke_facts *facts);

/* The final row: "complete" or "error", with the timings and the phases. */
json_t *invoke_row_final(const struct invoke_facts *facts);

/* The row that adds a db phase confirmed after the final row was queued. */
json_t *invoke_row_late_db(const char *invocation_id, double db_ms);

/* Rows recovered from a dead process's journal: append to rows an error row
 * ("the ingestor stopped before the invocation finished") for each
 * invocation that has a pending row and no complete or error row among them.
 * Returns how many were added. */
size_t invoke_row_close_orphans(json_t *rows);

/* The closing report's record; its error points into facts. */
void invoke_row_record(const struct invoke_facts *facts, struct report_record *record);

#endif
