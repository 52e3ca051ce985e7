/*
 * run.c - load scheduling on the loop (see run.h).
 *
 * Phases: WARMUP (closed loop, nothing written), MEASURE, DRAIN (waiting for
 * the writer), and the loop is stopped.  Every invocation belongs to a
 * session: busy while its call runs, then ready (on the ready list) until
 * fill() starts its next call, which it does before opening a new session;
 * a session whose calls are all done is freed.  The running invocations are
 * the invoke_env's: a signal ends them all with invoke_env_abort().
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "event/signals.h"
#include "measure/run.h"
#include "sink/journal.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/uuid.h"

enum run_phase
{
	PHASE_WARMUP,
	PHASE_MEASURE,
	PHASE_DRAIN
};

struct session
{
	struct dlist_node node; /* in run->busy or run->ready */
	struct run *run;
	unsigned long calls; /* started so far */
	unsigned long total; /* calls it makes */
	bool named;          /* id holds the session's own id (else the invocation picks one) */
	char id[UUID_STR_LEN];
};

struct run
{
	struct invoke_env *env;
	const struct run_config *cfg;
	struct report *report;
	struct run_result *result;

	enum run_phase phase;
	unsigned long started; /* invocations, in this phase */
	unsigned long opened;  /* sessions, in this phase */
	unsigned long finished;
	unsigned long in_flight;
	unsigned long errors;
	bool stopping;
	bool failed;             /* could not start an invocation */
	bool paused;             /* the journal is full */
	struct dlist_head busy;  /* sessions with a call in flight */
	struct dlist_head ready; /* sessions waiting for their next call */

	int64_t begin_ns; /* the run, warm-up included */
	int64_t start_ns; /* the summarised invocations */
	int64_t last_done_ns;
	unsigned long tokens_at_start;
	struct loop_timer *rate_timer;
	struct loop_timer *progress_timer;
	struct loop_timer *grace_timer;
	struct loop_timer *pause_timer;
};

static void fill(struct run *run);

/* Calls per session in the current phase. */
static unsigned long
session_calls(const struct run *run)
{
	return run->phase == PHASE_WARMUP ? 1 : run->cfg->calls_per_session;
}

/* Invocations the current phase runs. */
static unsigned long
phase_count(const struct run *run)
{
	return run->phase == PHASE_WARMUP ? run->cfg->warmup : run->cfg->count;
}

/* Free every session of list. */
static void
free_sessions(struct dlist_head *list)
{
	struct dlist_node *node;

	while ((node = dlist_first(list)) != NULL)
	{
		dlist_delete(node);
		free(dlist_container(struct session, node, node));
	}
}

/* Stop the loop, leaving the progress line. */
static void
stop(struct run *run)
{
	loop_cancel_timer(run->env->loop, run->progress_timer);
	run->progress_timer = NULL;
	if (run->cfg->progress)
		fputs("\r\033[K", stderr);
	loop_stop(run->env->loop);
}

/* The writer is done (or gave up). */
static void
drained(void *arg)
{
	stop(arg);
}

/* After the last summarised invocation, wait for the writer. */
static void
check_end(struct run *run)
{
	if (run->phase != PHASE_MEASURE || run->in_flight > 0 ||
	    (run->started < run->cfg->count && !run->stopping && !run->failed))
		return;
	run->phase = PHASE_DRAIN;
	loop_cancel_timer(run->env->loop, run->rate_timer);
	run->rate_timer = NULL;
	loop_cancel_timer(run->env->loop, run->grace_timer);
	run->grace_timer = NULL;
	loop_cancel_timer(run->env->loop, run->pause_timer);
	run->pause_timer = NULL;
	run->env->ports->drain_rows(run->env, run->cfg->drain_ms, drained, run);
}

/* An invocation ended: summarise it, ready or free its session, keep the load going. */
static void
on_done(void *arg, const struct invoke_outcome *outcome)
{
	struct session *s = arg;
	struct run *run = s->run;

	run->in_flight--;
	run->finished++;
	if (!outcome->warmup)
	{
		struct report_record record = outcome->record;

		record.session_call = s->calls;
		run->last_done_ns = loop_now(run->env->loop);
		if (!record.ok)
			run->errors++;
		if (outcome->unreachable)
			run->result->unreachable++;
		report_add(run->report, &record);
	}
	dlist_delete(&s->node);
	if (s->calls < s->total)
		dlist_push_head(&run->ready, &s->node);
	else
		free(s);
	fill(run);
	check_end(run);
}

/* Start the next call of session s; false when it could not be started. */
static bool
start_call(struct run *run, struct session *s)
{
	if (invocation_start(run->env, run->phase != PHASE_WARMUP, s->named ? s->id : NULL, on_done,
	                     s) == NULL)
		return false;
	dlist_delete(&s->node);
	dlist_push_head(&run->busy, &s->node);
	s->calls++;
	run->started++;
	run->in_flight++;
	return true;
}

/* A new session (on the ready list); NULL when no id can be made for it. */
static struct session *
open_session(struct run *run)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->run = run;
	s->total = session_calls(run);
	if (s->total > 1)
	{
		if (uuid_v7((uint64_t) (clock_wall_s() * 1e3), s->id) != 0)
		{
			free(s);
			return NULL;
		}
		s->named = true;
	}
	dlist_push_head(&run->ready, &s->node);
	run->opened++;
	return s;
}

/* When session i of the measured phase is due. */
static int64_t
due_ns(const struct run *run, unsigned long i)
{
	return run->start_ns + (int64_t) ((double) i * 1e9 / run->cfg->rate);
}

/* Open loop: start everything that is due (within the cap), then sleep until the next. */
static void
on_rate(void *arg)
{
	struct run *run = arg;

	run->rate_timer = NULL;
	fill(run);
}

/* The progress line. */
static void
on_progress(void *arg)
{
	struct run *run = arg;
	int64_t now = loop_now(run->env->loop);

	fprintf(stderr, "\r\033[K%s %.0f s: %lu/%lu done, %lu errors, %lu running",
	        run->phase == PHASE_WARMUP ? "warm-up" : "loomlat",
	        clock_ms_between(run->begin_ns, now) / 1e3, run->finished, phase_count(run),
	        run->errors, run->in_flight);
	run->progress_timer = loop_add_timer(run->env->loop, now + NS_PER_S, on_progress, run);
}

/* Enter the measured phase. */
static void
begin_measure(struct run *run)
{
	run->phase = PHASE_MEASURE;
	run->started = 0;
	run->opened = 0;
	run->finished = 0;
	run->start_ns = loop_now(run->env->loop);
	run->last_done_ns = run->start_ns;
	run->tokens_at_start = run->env->ports->token_requests(run->env);
	fill(run);
}

/* No more invocations can be started: end the run as if interrupted. */
static void
start_failed(struct run *run)
{
	log_error("cannot start an invocation (no randomness for its UUID); stopping");
	run->failed = true;
	run->phase = PHASE_MEASURE;
}

/* Look at the journal again after a pause. */
static void
on_pause(void *arg)
{
	struct run *run = arg;

	run->pause_timer = NULL;
	fill(run);
	check_end(run);
}

/* Whether the journal lets new invocations start: not while it is full (then
 * look again in 100 ms), never again once it failed. */
static bool
journal_allows(struct run *run)
{
	struct journal *j = run->env->journal;

	if (j == NULL)
		return true;
	if (journal_failed(j))
	{
		run->stopping = true;
		run->result->journal_failed = true;
		if (run->phase == PHASE_WARMUP)
			run->phase = PHASE_MEASURE; /* so that check_end() can finish the run */
		return false;
	}
	if (journal_full(j))
	{
		if (!run->paused)
		{
			log_warning("journal: %s is full (%llu bytes, --journal-max-bytes): not starting new "
			            "invocations until the database has taken the rows",
			            journal_dir(j), (unsigned long long) journal_bytes(j));
			run->paused = true;
			run->result->journal_pauses++;
		}
		if (run->pause_timer == NULL)
			run->pause_timer = loop_add_timer(
			    run->env->loop, loop_now(run->env->loop) + 100 * NS_PER_MS, on_pause, run);
		return false;
	}
	if (run->paused)
		log_warning("journal: below its limit again; resuming");
	run->paused = false;
	return true;
}

/* Whether another invocation may start now: below the cap, and for a new
 * session (open) of the measured phase, its time has come under --rate (else
 * the rate timer is set). */
static bool
may_start(struct run *run, bool open)
{
	const struct run_config *cfg = run->cfg;
	unsigned long cap = cfg->concurrency ? cfg->concurrency : run->phase == PHASE_WARMUP ? 1 : 0;
	int64_t now, due;

	if (cap != 0 && run->in_flight >= cap)
		return false;
	if (!open || run->phase != PHASE_MEASURE || cfg->rate <= 0)
		return true;
	now = loop_now(run->env->loop);
	due = due_ns(run, run->opened);
	if (due > now)
	{
		if (run->rate_timer == NULL)
			run->rate_timer = loop_add_timer(run->env->loop, due, on_rate, run);
		return false;
	}
	report_add_lag(run->report, clock_ms_between(due, now));
	return true;
}

/* Start what the load shape allows now: ready sessions' next calls first,
 * then new sessions. */
static void
fill(struct run *run)
{
	if (run->stopping || run->failed || !journal_allows(run) || run->phase == PHASE_DRAIN)
		return;
	for (;;)
	{
		struct dlist_node *ready = dlist_first(&run->ready);
		struct session *s;

		if (ready != NULL)
		{
			if (!may_start(run, false))
				break;
			s = dlist_container(struct session, node, ready);
		}
		else if (run->opened * session_calls(run) < phase_count(run) && may_start(run, true))
		{
			if ((s = open_session(run)) == NULL)
			{
				start_failed(run);
				return;
			}
		}
		else
			break;
		if (!start_call(run, s))
		{
			start_failed(run);
			return;
		}
	}
	if (run->phase == PHASE_WARMUP && run->finished == run->cfg->warmup)
		begin_measure(run);
}

/* The grace period after a first signal is over. */
static void
on_grace(void *arg)
{
	struct run *run = arg;

	run->grace_timer = NULL;
	invoke_env_abort(run->env, "interrupted");
}

/* SIGINT/SIGTERM: first stop starting, second stop now. */
static void
on_signal(void *arg, int fd, short revents)
{
	struct run *run = arg;
	int n = signals_take(fd);

	if (n <= 0)
		return;
	run->result->signals += n;
	if (run->result->signals >= 2)
	{
		log_warning("interrupted again: aborting %lu running invocations", run->in_flight);
		run->stopping = true;
		invoke_env_abort(run->env, "interrupted");
		loop_cancel_timer(run->env->loop, run->rate_timer);
		run->rate_timer = NULL;
		loop_cancel_timer(run->env->loop, run->grace_timer);
		run->grace_timer = NULL;
		stop(run);
		return;
	}
	log_warning("interrupted: letting %lu running invocations finish (up to %d ms); interrupt "
	            "again to stop now",
	            run->in_flight, run->cfg->grace_ms);
	run->stopping = true;
	loop_cancel_timer(run->env->loop, run->rate_timer);
	run->rate_timer = NULL;
	if (run->phase == PHASE_WARMUP)
		run->phase = PHASE_MEASURE; /* so that check_end() can finish the run */
	run->grace_timer = loop_add_timer(
	    run->env->loop, loop_now(run->env->loop) + (int64_t) run->cfg->grace_ms * NS_PER_MS,
	    on_grace, run);
	check_end(run);
}

/* Drive the whole run. */
int
run_execute(struct invoke_env *env, const struct run_config *config, struct report *report,
            int signal_fd, struct run_result *result)
{
	struct run run = {.env = env, .cfg = config, .report = report, .result = result};
	int rc;

	*result = (struct run_result){0};
	if (loop_watch_fd(env->loop, signal_fd, POLLIN, on_signal, &run) != 0)
		return -1;
	run.begin_ns = run.start_ns = loop_now(env->loop);
	if (config->progress)
		run.progress_timer = loop_add_timer(env->loop, run.begin_ns + NS_PER_S, on_progress, &run);
	if (config->warmup > 0)
	{
		run.phase = PHASE_WARMUP;
		fill(&run);
	}
	else
		begin_measure(&run);
	rc = loop_run(env->loop);
	loop_watch_fd(env->loop, signal_fd, 0, NULL, NULL);
	loop_cancel_timer(env->loop, run.rate_timer);
	loop_cancel_timer(env->loop, run.progress_timer);
	loop_cancel_timer(env->loop, run.grace_timer);
	loop_cancel_timer(env->loop, run.pause_timer);
	free_sessions(&run.ready);
	free_sessions(&run.busy);
	result->token_requests = env->ports->token_requests(env) - run.tokens_at_start;
	result->elapsed_s = clock_ms_between(run.start_ns, run.last_done_ns) / 1e3;
	return rc;
}
