/*
 * invoke.h - one agent invocation, as a state machine on the loop.
 *
 *   start:  t0 (monotonic) and client_invoke_time (wall) are taken; at that
 *           moment the "pending" row is queued and the token is asked for.
 *   token:  the request waits for the token only, never for the database.
 *   http:   the request streams; body bytes are stamped with the clock as
 *           they arrive and fed to the stream observer, nothing else.
 *   done:   the row (complete or error, with the timings measured and the
 *           phases) is queued and the outcome reported; only then does the
 *           pending row's journal record go (so a journal that holds a
 *           pending row without its final row tells of an invocation that
 *           died with the process).
 * An HTTP 401 drops the cached token and retries once with a new one.  Every
 * failure (token, HTTP status, cut, malformed or empty stream, error event,
 * timeout, abort) ends as an error row with a message that never contains a
 * token; a stream that ended well without answer text is complete, ttft NULL.
 *
 * Every time is loop_now() of the env's loop.  What the invocation needs from
 * the layers below (a token, the HTTP transfer, the rows' writer) it asks of
 * env->ports: invoke_live.h wires them to token_source, libcurl and pg_writer;
 * a unit test scripts them on a fake clock.  A port reports the transfer back
 * through the invocation_on_*() calls below, on the loop, never re-entrantly
 * from inside a port call.
 */
#ifndef LOOMLAT_INVOKE_H
#define LOOMLAT_INVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/token_source.h"
#include "event/loop.h"
#include "http/multi.h"
#include "measure/invoke_row.h"
#include "measure/report.h"
#include "sink/pg_writer.h"
#include "stream/agent_format.h"
#include "util/dlist.h"

struct invoke_config
{
	const char *url;
	enum agent_format format;
	const char *prompt;
	const char *model;          /* NULL: the format's default */
	const char *session_id;     /* NULL: a new session per invocation */
	const char *const *headers; /* extra "Name: value" request headers */
	size_t n_headers;
	int64_t agent_id;
	long timeout_ms; /* per invocation, from t0 */
	long connect_timeout_ms;
	size_t max_event_bytes; /* one SSE event or JSON answer; larger fails the invocation */
	bool http1_1;
};

struct invoke_env;
struct invocation;
struct invoke_transfer; /* a port's running request */

/* One request of an invocation, as a port sends it. */
struct invoke_call
{
	struct invocation *inv; /* to report to */
	const char *invocation_id;
	const char *session_id;
	const char *token; /* NULL: no Authorization header */
};

/* What the invocations of a run ask of the layers below; every call runs on
 * the loop and every callback comes later on the loop, exactly once. */
struct invoke_ports
{
	/* Ask for a token (token_source_get()). */
	void (*get_token)(struct invoke_env *env, token_ready_fn ready, void *arg);
	/* The agent refused this token: drop it (token_source_invalidate()). */
	void (*invalidate_token)(struct invoke_env *env, const char *token);
	/* Queue a row (stolen); held keeps its journal record until release_row(seq).
	 * Returns seq (0 when not held or without a journal). */
	uint64_t (*put_row)(struct invoke_env *env, json_t *row, bool held, pg_writer_done_fn done,
	                    void *arg);
	void (*release_row)(struct invoke_env *env, uint64_t seq);
	/* Send the request; NULL when it cannot be started.  Until it is stopped
	 * it reports through invocation_on_status(), _on_body() and, last,
	 * invocation_on_end(). */
	struct invoke_transfer *(*start_request)(struct invoke_env *env,
	                                         const struct invoke_call *call);
	/* The connection's timings; false when no connection was made or used. */
	bool (*request_times)(struct invoke_transfer *transfer, struct invoke_http_times *times);
	/* Free the transfer, stopping it first if it still runs (then it reports nothing more). */
	void (*stop_request)(struct invoke_env *env, struct invoke_transfer *transfer);
	/* call drained(arg) once the rows are written or timeout_ms passed (pg_writer_drain()). */
	void (*drain_rows)(struct invoke_env *env, int timeout_ms, loop_fn drained, void *arg);
	/* Token requests sent so far. */
	unsigned long (*token_requests)(struct invoke_env *env);
};

/* What all invocations of a run share. */
struct invoke_env
{
	struct loop *loop;
	const struct invoke_ports *ports;
	struct http_multi *http; /* on loop; the live ports' */
	struct token_source *tokens;
	struct pg_writer *writer;
	struct journal *journal; /* the writer's; NULL: none (run.c watches its limit) */
	const struct invoke_config *config;
	unsigned long rows_written; /* final rows confirmed by the database */
	struct dlist_head live;     /* every invocation not yet freed */
};

struct invoke_outcome
{
	struct report_record record;
	bool unreachable; /* the agent endpoint could not be reached at all */
	bool warmup;      /* started with write_rows = false */
};

/* Runs once per invocation, on the loop; the outcome is valid during the call. */
typedef void (*invoke_done_fn)(void *arg, const struct invoke_outcome *outcome);

/* Start an invocation; write_rows = false for warm-up runs.  session_id
 * (copied) names its runtime session; NULL: the configured one, else a new
 * one.  NULL when no UUID can be made (nothing was started and done will not
 * run). */
struct invocation *invocation_start(struct invoke_env *env, bool write_rows, const char *session_id,
                                    invoke_done_fn done, void *arg);

/* The final response status arrived with its Content-Type (may be NULL);
 * a later call (trailers) is ignored. */
void invocation_on_status(struct invocation *inv, long status, const char *content_type);

/* Body bytes that arrived at now_ns; 0, or -1 when the transfer should stop
 * reading (the stream failed). */
int invocation_on_body(struct invocation *inv, const char *data, size_t len, int64_t now_ns);

/* The transfer ended: error NULL when it completed, else why it failed
 * (unreachable: no connection could be made at all). */
void invocation_on_end(struct invocation *inv, const char *error, bool unreachable);

/* Free the invocations still waiting for callbacks that will never come:
 * call after the loop stopped and the token source and writer are freed. */
void invoke_env_cleanup(struct invoke_env *env);

/* End every running invocation now as an error with reason (their done runs). */
void invoke_env_abort(struct invoke_env *env, const char *reason);

#endif
