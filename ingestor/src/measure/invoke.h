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
 */
#ifndef LOOMLAT_INVOKE_H
#define LOOMLAT_INVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/token_source.h"
#include "event/loop.h"
#include "http/multi.h"
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

/* What all invocations of a run share. */
struct invoke_env
{
	struct loop *loop;
	struct http_multi *http; /* on loop */
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

struct invocation;

/* Start an invocation; write_rows = false for warm-up runs.  NULL when no
 * UUID can be made (nothing was started and done will not run). */
struct invocation *invocation_start(struct invoke_env *env, bool write_rows, invoke_done_fn done,
                                    void *arg);

/* Free the invocations still waiting for callbacks that will never come:
 * call after the loop stopped and the token source and writer are freed. */
void invoke_env_cleanup(struct invoke_env *env);

/* End every running invocation now as an error with reason (their done runs). */
void invoke_env_abort(struct invoke_env *env, const char *reason);

#endif
