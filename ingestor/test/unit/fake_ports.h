/*
 * fake_ports.h - scripted invocation ports (measure/invoke.h) on a fake
 * clock, for the tests of the invocation and of the load shape.
 *
 * A fake_world holds the loop (fake_clock.h), the invoke_env whose ports
 * are these, and what the ports did.  Tokens are answered token_ms after
 * they are asked for (tokens[] in turn, or token_error); rows are kept in
 * rows and confirmed db_ms after they are put; a request plays its script
 * (scripts[] in turn, the last one again once they run out), each step at
 * its time after the request started, and is logged in requests; the drain
 * ends drain_ms after it is asked for, or at its timeout when drain_ms is
 * negative (a writer that never catches up).  Nothing here sleeps.
 */
#ifndef LOOMLAT_FAKE_PORTS_H
#define LOOMLAT_FAKE_PORTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fake_clock.h"
#include "measure/invoke.h"
#include "util/clock.h"
#include "util/dlist.h"

#define FAKE_START_NS  (1000 * NS_PER_S)
#define FAKE_MAX_CALLS 1024
#define FAKE_MAX_REQS  256

enum fake_step_kind
{
	STEP_STATUS, /* status, text = Content-Type */
	STEP_BODY,   /* text = the bytes */
	STEP_END     /* text = the transfer's error (NULL: it completed) */
};

struct fake_step
{
	int64_t at_ms; /* after the request started */
	enum fake_step_kind kind;
	long status;
	const char *text;
	bool unreachable;
};

struct fake_script
{
	const struct fake_step *steps;
	size_t n;
};

#define SSE        "text/event-stream"
#define TEXT(s)    "data: \"" s "\"\n\n" /* agentcore answer text */
#define SCRIPT(st) ((struct fake_script){st, sizeof(st) / sizeof(st[0])})
/* A good answer: headers at status_ms, one text at text_ms, the clean end at end_ms. */
#define FAKE_ANSWER(status_ms, text_ms, end_ms)                                                    \
	{                                                                                              \
		{status_ms, STEP_STATUS, 200, SSE, false}, {text_ms, STEP_BODY, 0, TEXT("hi"), false},     \
		    {end_ms, STEP_END, 0, NULL, false},                                                    \
	}

/* One request as the agent saw it. */
struct fake_request
{
	char session_id[300];
	char token[32];
	int64_t start_ns;
	int64_t end_ns; /* 0: still running */
	bool cancelled;
};

/* A delayed callback: a token answer, a row confirmation or the drain. */
struct fake_call
{
	struct fake_world *world;
	token_ready_fn ready;
	pg_writer_done_fn done;
	loop_fn drained;
	void *arg;
	int token; /* index into tokens[], -1: the error */
};

struct fake_world
{
	struct fake_clock clock;
	struct invoke_env env;
	struct invoke_config config;

	int64_t token_ms;
	const char *tokens[4]; /* handed out in turn; NULL: no token configured */
	size_t n_tokens;
	const char *token_error;
	bool token_cache_hit;
	unsigned long token_requests;
	char invalidated[32];

	json_t *rows;
	int64_t db_ms;
	uint64_t seq;
	unsigned long released;

	const struct fake_script *scripts;
	size_t n_scripts;
	struct fake_request requests[FAKE_MAX_REQS];
	size_t n_requests;
	unsigned long running;
	unsigned long max_running;

	int64_t drain_ms;
	int drain_timeout_ms; /* what the run asked for */
	int64_t drained_ns;

	struct fake_call calls[FAKE_MAX_CALLS];
	size_t n_calls;
};

struct invoke_transfer
{
	struct fake_world *world;
	struct invocation *inv;
	const struct fake_script *script;
	size_t next;
	struct loop_timer *timer;
	struct fake_request *request;
};

/* The world that holds env. */
static inline struct fake_world *
fake_world_of(struct invoke_env *env)
{
	return dlist_container(struct fake_world, env, env);
}

/* A slot for a delayed callback. */
static inline struct fake_call *
fake_call_new(struct fake_world *w)
{
	struct fake_call *c = &w->calls[w->n_calls++];

	if (w->n_calls > FAKE_MAX_CALLS)
		abort();
	*c = (struct fake_call){.world = w};
	return c;
}

/* The fake time now. */
static inline int64_t
fake_now(struct fake_world *w)
{
	return w->clock.now_ns;
}

/* Milliseconds of fake time since the world began. */
static inline double
fake_ms(int64_t ns)
{
	return clock_ms_between(FAKE_START_NS, ns);
}

/* A token answer is due. */
static inline void
fake_token_answer(void *arg)
{
	struct fake_call *c = arg;
	struct fake_world *w = c->world;
	struct token_result result = {.wait_ms = (double) w->token_ms, .cache_hit = w->token_cache_hit};

	if (c->token < 0)
		result.error = w->token_error;
	else
		result.access_token = w->tokens[c->token];
	c->ready(c->arg, &result);
}

/* Answer token_ms from now with the next token (or the error). */
static inline void
fake_get_token(struct invoke_env *env, token_ready_fn ready, void *arg)
{
	struct fake_world *w = fake_world_of(env);
	struct fake_call *c = fake_call_new(w);
	size_t asked = w->token_requests++;

	c->ready = ready;
	c->arg = arg;
	c->token = w->token_error != NULL ? -1 : (int) (asked < w->n_tokens ? asked : w->n_tokens - 1);
	loop_add_timer(env->loop, fake_now(w) + w->token_ms * NS_PER_MS, fake_token_answer, c);
}

/* Remember which token the agent refused. */
static inline void
fake_invalidate_token(struct invoke_env *env, const char *token)
{
	snprintf(fake_world_of(env)->invalidated, sizeof(fake_world_of(env)->invalidated), "%s", token);
}

/* A row's confirmation is due. */
static inline void
fake_row_confirmed(void *arg)
{
	struct fake_call *c = arg;

	c->done(c->arg, true);
}

/* Keep the row; confirm it db_ms from now. */
static inline uint64_t
fake_put_row(struct invoke_env *env, json_t *row, bool held, pg_writer_done_fn done, void *arg)
{
	struct fake_world *w = fake_world_of(env);

	json_array_append_new(w->rows, row);
	if (done != NULL)
	{
		struct fake_call *c = fake_call_new(w);

		c->done = done;
		c->arg = arg;
		loop_add_timer(env->loop, fake_now(w) + w->db_ms * NS_PER_MS, fake_row_confirmed, c);
	}
	return held ? ++w->seq : 0;
}

/* Count the held rows let go. */
static inline void
fake_release_row(struct invoke_env *env, uint64_t seq)
{
	if (seq != 0)
		fake_world_of(env)->released++;
}

static inline void fake_step_due(void *arg);

/* Wait for the next step of the script, if there is one. */
static inline void
fake_schedule(struct invoke_transfer *t)
{
	if (t->next < t->script->n)
		t->timer = loop_add_timer(
		    t->world->env.loop, t->request->start_ns + t->script->steps[t->next].at_ms * NS_PER_MS,
		    fake_step_due, t);
}

/* The transfer ends (it may be freed by the call). */
static inline void
fake_end(struct invoke_transfer *t, const char *error, bool unreachable)
{
	t->request->end_ns = fake_now(t->world);
	t->world->running--;
	invocation_on_end(t->inv, error, unreachable);
}

/* Play one step, as libcurl would report it. */
static inline void
fake_step_due(void *arg)
{
	struct invoke_transfer *t = arg;
	const struct fake_step *step = &t->script->steps[t->next++];

	t->timer = NULL;
	switch (step->kind)
	{
		case STEP_STATUS:
			invocation_on_status(t->inv, step->status, step->text);
			break;
		case STEP_BODY:
			if (invocation_on_body(t->inv, step->text, strlen(step->text), fake_now(t->world)) != 0)
			{
				fake_end(t, "Failure writing output to destination", false);
				return;
			}
			break;
		case STEP_END:
			fake_end(t, step->text, step->unreachable);
			return;
	}
	fake_schedule(t);
}

/* Log the request and start playing its script. */
static inline struct invoke_transfer *
fake_start_request(struct invoke_env *env, const struct invoke_call *call)
{
	struct fake_world *w = fake_world_of(env);
	struct invoke_transfer *t = calloc(1, sizeof(*t));
	size_t i = w->n_requests++;

	if (t == NULL || i >= FAKE_MAX_REQS)
		abort();
	t->world = w;
	t->inv = call->inv;
	t->script = &w->scripts[i < w->n_scripts ? i : w->n_scripts - 1];
	t->request = &w->requests[i];
	snprintf(t->request->session_id, sizeof(t->request->session_id), "%s", call->session_id);
	snprintf(t->request->token, sizeof(t->request->token), "%s", call->token ? call->token : "");
	t->request->start_ns = fake_now(w);
	if (++w->running > w->max_running)
		w->max_running = w->running;
	fake_schedule(t);
	return t;
}

/* No connection timings: the fake has no connection. */
static inline bool
fake_request_times(struct invoke_transfer *t, struct invoke_http_times *times)
{
	return false;
}

/* Free the transfer, logging a cancel when it still ran. */
static inline void
fake_stop_request(struct invoke_env *env, struct invoke_transfer *t)
{
	if (t->request->end_ns == 0)
	{
		t->request->end_ns = fake_now(t->world);
		t->request->cancelled = true;
		t->world->running--;
	}
	loop_cancel_timer(env->loop, t->timer);
	free(t);
}

/* The drain is over. */
static inline void
fake_drained(void *arg)
{
	struct fake_call *c = arg;

	c->world->drained_ns = fake_now(c->world);
	c->drained(c->arg);
}

/* End the drain drain_ms from now, or at its timeout. */
static inline void
fake_drain_rows(struct invoke_env *env, int timeout_ms, loop_fn drained, void *arg)
{
	struct fake_world *w = fake_world_of(env);
	struct fake_call *c = fake_call_new(w);
	int64_t ms = w->drain_ms < 0 || w->drain_ms > timeout_ms ? timeout_ms : w->drain_ms;

	w->drain_timeout_ms = timeout_ms;
	c->drained = drained;
	c->arg = arg;
	loop_add_timer(env->loop, fake_now(w) + ms * NS_PER_MS, fake_drained, c);
}

/* Tokens asked for. */
static inline unsigned long
fake_token_requests(struct invoke_env *env)
{
	return fake_world_of(env)->token_requests;
}

static const struct invoke_ports fake_ports = {
    .get_token = fake_get_token,
    .invalidate_token = fake_invalidate_token,
    .put_row = fake_put_row,
    .release_row = fake_release_row,
    .start_request = fake_start_request,
    .request_times = fake_request_times,
    .stop_request = fake_stop_request,
    .drain_rows = fake_drain_rows,
    .token_requests = fake_token_requests,
};

/* Set up w (format agentcore, timeout 10 s, no token) to play scripts; NULL loop: failure. */
static inline struct loop *
fake_world_init(struct fake_world *w, const struct fake_script *scripts, size_t n_scripts)
{
	memset(w, 0, sizeof(*w));
	w->config = (struct invoke_config){.url = "http://agent.invalid/invocations",
	                                   .format = AGENT_FORMAT_AGENTCORE,
	                                   .prompt = "Hello",
	                                   .agent_id = 7,
	                                   .timeout_ms = 10000,
	                                   .max_event_bytes = 1 << 20};
	w->env = (struct invoke_env){.ports = &fake_ports, .config = &w->config};
	w->env.loop = fake_clock_loop(&w->clock, FAKE_START_NS);
	w->rows = json_array();
	w->scripts = scripts;
	w->n_scripts = n_scripts;
	w->tokens[0] = NULL;
	w->n_tokens = 1;
	return w->env.loop;
}

/* Free what is left: invocations still owed callbacks, the loop, the rows. */
static inline void
fake_world_free(struct fake_world *w)
{
	invoke_env_cleanup(&w->env);
	loop_free(w->env.loop);
	json_decref(w->rows);
}

#endif
