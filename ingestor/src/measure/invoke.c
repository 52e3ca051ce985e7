/*
 * invoke.c - the per-invocation state machine (see invoke.h).
 *
 * An invocation holds references for the callbacks still owed to it: one
 * until it is finished, one while a token request is outstanding (a token
 * source cannot be cancelled) and one while its pending row is unconfirmed
 * (that round trip is the "db" phase).  It is freed when the last one is
 * released, so a late callback never touches freed memory.  What the rows
 * say is invoke_row.c's business and how the request travels the ports':
 * this file only gathers the facts, on the loop's clock.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure/invoke.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/uuid.h"
#include "util/wipe.h"

#define EXCERPT_LEN 200
#define ERROR_LEN   (STREAM_ERROR_LEN + 128)

struct invocation
{
	struct invoke_env *env;
	bool write_rows;
	invoke_done_fn done;
	void *done_arg;
	struct dlist_node node; /* in env->live */
	int refs;
	bool finished;

	char id[UUID_STR_LEN];
	char *session_id;
	int64_t t0_ns;
	double t0_wall;
	struct loop_timer *deadline;

	bool token_known;
	double token_ms;
	bool token_cache_hit;
	char *token; /* kept only to invalidate it after a 401; wiped when freed */
	bool retried;
	double db_ms;         /* NAN until the pending row is confirmed */
	uint64_t pending_seq; /* the pending row's journal record, held until the final row's */

	struct invoke_transfer *transfer; /* the request's, while it runs */
	struct stream_observer *observer;
	bool observer_finished;
	bool stopped_reading; /* the stream failed and the transfer was told to stop */
	int64_t http_start_ns;
	long status;
	char excerpt[EXCERPT_LEN + 1];
	size_t excerpt_len;
};

static void on_token(void *arg, const struct token_result *result);
static void invocation_abort(struct invocation *inv, const char *reason);

/* Stop the request if it still runs and release what the attempt holds. */
static void
http_cleanup(struct invocation *inv)
{
	if (inv->transfer != NULL)
		inv->env->ports->stop_request(inv->env, inv->transfer);
	inv->transfer = NULL;
	stream_observer_free(inv->observer);
	inv->observer = NULL;
	inv->observer_finished = false;
	inv->stopped_reading = false;
	inv->status = 0;
	inv->excerpt_len = 0;
}

/* Unlink and free. */
static void
destroy(struct invocation *inv)
{
	dlist_delete(&inv->node);
	loop_cancel_timer(inv->env->loop, inv->deadline);
	http_cleanup(inv);
	wipe_free(inv->token);
	free(inv->session_id);
	free(inv);
}

/* Drop one reference; the last frees the invocation. */
static void
release(struct invocation *inv)
{
	if (--inv->refs == 0)
		destroy(inv);
}

/* The facts of the invocation so far, concluded at end_ns with error (NULL: complete);
 * times receives the connection's timings when one was made or used. */
static struct invoke_facts
facts_of(struct invocation *inv, int64_t end_ns, const char *error,
         const struct stream_result *stream, struct invoke_http_times *times)
{
	struct invoke_facts f = {
	    .invocation_id = inv->id,
	    .agent_id = inv->env->config->agent_id,
	    .session_id = inv->session_id,
	    .t0_wall = inv->t0_wall,
	    .t0_ns = inv->t0_ns,
	    .end_ns = end_ns,
	    .error = error,
	    .token_known = inv->token_known,
	    .token_ms = inv->token_ms,
	    .token_cache_hit = inv->token_cache_hit,
	    .db_ms = inv->db_ms,
	    .http_start_ns = inv->http_start_ns,
	    .stream = stream,
	};

	if (inv->transfer != NULL && inv->env->ports->request_times(inv->transfer, times))
		f.http = times;
	return f;
}

/* Settle the observer once (truncation, missing text) and return its result. */
static const struct stream_result *
observed(struct invocation *inv, int64_t now_ns)
{
	if (inv->observer == NULL)
		return NULL;
	if (!inv->observer_finished)
	{
		stream_observer_finish(inv->observer, now_ns);
		inv->observer_finished = true;
	}
	return stream_observer_result(inv->observer);
}

/* The final row was confirmed (or given up on). */
static void
final_written(void *arg, bool written)
{
	struct invoke_env *env = arg;

	if (written)
		env->rows_written++;
}

/* End the invocation: queue its row, report the outcome, drop the run's reference. */
static void
finish(struct invocation *inv, int64_t now_ns, const char *error, bool unreachable)
{
	struct invoke_outcome out = {.unreachable = unreachable, .warmup = !inv->write_rows};
	struct invoke_http_times times;
	struct invoke_facts facts;

	if (inv->finished)
		return;
	inv->finished = true;
	loop_cancel_timer(inv->env->loop, inv->deadline);
	inv->deadline = NULL;
	facts = facts_of(inv, now_ns, error, observed(inv, now_ns), &times);
	invoke_row_record(&facts, &out.record);
	if (inv->write_rows)
	{
		inv->env->ports->put_row(inv->env, invoke_row_final(&facts), false, final_written,
		                         inv->env);
		inv->env->ports->release_row(inv->env, inv->pending_seq);
	}
	inv->done(inv->done_arg, &out);
	http_cleanup(inv);
	release(inv);
}

/* Keep a short, printable excerpt of an error body (never the headers). */
static void
keep_excerpt(struct invocation *inv, const char *data, size_t len)
{
	for (size_t i = 0; i < len && inv->excerpt_len < EXCERPT_LEN; i++)
	{
		char c = isprint((unsigned char) data[i]) ? data[i] : ' ';

		if (c == ' ' && (inv->excerpt_len == 0 || inv->excerpt[inv->excerpt_len - 1] == ' '))
			continue;
		inv->excerpt[inv->excerpt_len++] = c;
	}
	inv->excerpt[inv->excerpt_len] = '\0';
}

/* Body bytes: an error body's excerpt, else the observer's; nothing else happens here. */
int
invocation_on_body(struct invocation *inv, const char *data, size_t len, int64_t now_ns)
{
	if (inv->status >= 300)
		keep_excerpt(inv, data, len);
	else if (stream_observer_feed(inv->observer, data, len, now_ns) != 0)
	{
		inv->stopped_reading = true; /* the stream failed: stop reading it */
		return -1;
	}
	return 0;
}

/* The final status: remember it and tell the observer what the body is. */
void
invocation_on_status(struct invocation *inv, long status, const char *content_type)
{
	if (inv->status != 0)
		return;
	inv->status = status;
	stream_observer_set_content_type(inv->observer, content_type);
}

/* The transfer ended: retry after a 401 once, else conclude. */
void
invocation_on_end(struct invocation *inv, const char *transfer_error, bool unreachable)
{
	int64_t now_ns = loop_now(inv->env->loop);
	const struct stream_result *r;
	char error[ERROR_LEN];

	if (inv->status == 401 && !inv->retried && inv->token != NULL)
	{
		log_debug("invocation %s: HTTP 401, fetching a new token and retrying once", inv->id);
		inv->retried = true;
		inv->env->ports->invalidate_token(inv->env, inv->token);
		wipe_free(inv->token);
		inv->token = NULL;
		http_cleanup(inv);
		inv->refs++;
		inv->env->ports->get_token(inv->env, on_token, inv);
		return;
	}
	r = observed(inv, now_ns);
	if (inv->status >= 400)
		snprintf(error, sizeof(error), "HTTP %ld: %s", inv->status,
		         inv->excerpt_len ? inv->excerpt : "(empty body)");
	else if (inv->status >= 300)
		snprintf(error, sizeof(error), "HTTP %ld: redirects are not followed; use the final URL",
		         inv->status);
	else if (transfer_error != NULL && inv->stopped_reading && r->failed)
		snprintf(error, sizeof(error), "%s", r->error); /* we stopped reading a failed stream */
	else if (transfer_error != NULL)
		snprintf(error, sizeof(error), "%s: %s", inv->status != 0 ? "stream cut" : "request failed",
		         transfer_error);
	else if (r->failed)
		snprintf(error, sizeof(error), "%s", r->error);
	else /* complete; without answer text (tool calls only) its ttft_ms is NULL */
	{
		finish(inv, now_ns, NULL, false);
		return;
	}
	finish(inv, now_ns, error, unreachable);
}

/* Hand the request to the ports. */
static void
start_http(struct invocation *inv)
{
	const struct invoke_config *cfg = inv->env->config;
	const struct invoke_call call = {inv, inv->id, inv->session_id, inv->token};

	inv->observer = stream_observer_new(cfg->format, cfg->max_event_bytes);
	if (inv->observer == NULL)
	{
		finish(inv, loop_now(inv->env->loop),
		       "the stream parser refused the format or --max-event-size", false);
		return;
	}
	inv->http_start_ns = loop_now(inv->env->loop);
	inv->transfer = inv->env->ports->start_request(inv->env, &call);
	if (inv->transfer == NULL)
		finish(inv, loop_now(inv->env->loop), "cannot start the HTTP transfer", false);
}

/* The token arrived (or failed): start the request. */
static void
on_token(void *arg, const struct token_result *result)
{
	struct invocation *inv = arg;

	bool has_token = result->access_token != NULL && result->access_token[0] != '\0';

	if (!inv->finished)
	{
		if (has_token || result->error != NULL) /* else no token is configured: no phase */
		{
			inv->token_ms = inv->token_known ? inv->token_ms + result->wait_ms : result->wait_ms;
			if (!inv->token_known)
				inv->token_cache_hit = result->cache_hit;
			inv->token_known = true;
		}
		if (result->error != NULL)
		{
			char error[ERROR_LEN];

			snprintf(error, sizeof(error), "token: %s", result->error);
			finish(inv, loop_now(inv->env->loop), error, false);
		}
		else
		{
			if (has_token)
				inv->token = xstrdup(result->access_token);
			start_http(inv);
		}
	}
	release(inv);
}

/* The pending row's round trip is the db phase; a late one is written on its own. */
static void
pending_written(void *arg, bool written)
{
	struct invocation *inv = arg;

	if (written)
	{
		inv->db_ms = clock_ms_between(inv->t0_ns, loop_now(inv->env->loop));
		if (inv->finished)
			inv->env->ports->put_row(inv->env, invoke_row_late_db(inv->id, inv->db_ms), false, NULL,
			                         NULL);
	}
	release(inv);
}

/* The per-invocation ceiling passed. */
static void
on_deadline(void *arg)
{
	struct invocation *inv = arg;
	char reason[64];

	inv->deadline = NULL;
	snprintf(reason, sizeof(reason), "timed out after %.3g s",
	         (double) inv->env->config->timeout_ms / 1e3);
	invocation_abort(inv, reason);
}

/* t0, then the pending row and the token request at the same moment. */
struct invocation *
invocation_start(struct invoke_env *env, bool write_rows, const char *session_id,
                 invoke_done_fn done, void *arg)
{
	struct invocation *inv = xcalloc(1, sizeof(*inv));
	char new_session[UUID_STR_LEN];

	if (session_id == NULL)
		session_id = env->config->session_id;
	inv->t0_ns = loop_now(env->loop);
	inv->t0_wall = clock_wall_s();
	inv->env = env;
	inv->write_rows = write_rows;
	inv->done = done;
	inv->done_arg = arg;
	inv->db_ms = NAN;
	if (uuid_v7((uint64_t) (inv->t0_wall * 1e3), inv->id) != 0 ||
	    (session_id == NULL && uuid_v7((uint64_t) (inv->t0_wall * 1e3), new_session) != 0))
	{
		free(inv);
		return NULL;
	}
	inv->session_id = xstrdup(session_id != NULL ? session_id : new_session);
	dlist_push_head(&env->live, &inv->node);
	inv->refs = 2; /* the run's, and the token request's */
	if (write_rows)
	{
		struct invoke_http_times none;
		struct invoke_facts facts = facts_of(inv, inv->t0_ns, NULL, NULL, &none);

		inv->refs++;
		inv->pending_seq =
		    env->ports->put_row(env, invoke_row_pending(&facts), true, pending_written, inv);
	}
	inv->deadline = loop_add_timer(env->loop, inv->t0_ns + env->config->timeout_ms * NS_PER_MS,
	                               on_deadline, inv);
	env->ports->get_token(env, on_token, inv);
	return inv;
}

/* Stop the transfer if one runs and end as an error with what was measured. */
static void
invocation_abort(struct invocation *inv, const char *reason)
{
	if (inv->finished)
		return;
	finish(inv, loop_now(inv->env->loop), reason, false);
}

/* Abort the first unfinished invocation until none is left; an abort may
 * free any invocation, so each search starts again from the head. */
void
invoke_env_abort(struct invoke_env *env, const char *reason)
{
	struct dlist_node *node = dlist_first(&env->live);

	while (node != NULL)
	{
		struct invocation *inv = dlist_container(struct invocation, node, node);

		if (inv->finished)
			node = dlist_next(&env->live, node);
		else
		{
			invocation_abort(inv, reason);
			node = dlist_first(&env->live);
		}
	}
}

/* Free what outstanding callbacks still hold. */
void
invoke_env_cleanup(struct invoke_env *env)
{
	struct dlist_node *node;

	while ((node = dlist_first(&env->live)) != NULL)
	{
		destroy(dlist_container(struct invocation, node, node));
	}
}
