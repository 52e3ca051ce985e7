/*
 * run.c - load scheduling on the loop (see run.h).
 *
 * Phases: WARMUP (closed loop, nothing written), MEASURE, DRAIN (waiting for
 * the writer), and the loop is stopped.  The running invocations are the
 * invoke_env's: a signal ends them all with invoke_env_abort().
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "event/signals.h"
#include "measure/run.h"
#include "sink/journal.h"
#include "util/clock.h"
#include "util/log.h"

enum run_phase
{
	PHASE_WARMUP,
	PHASE_MEASURE,
	PHASE_DRAIN
};

struct run
{
	struct invoke_env *env;
	const struct run_config *cfg;
	struct report *report;
	struct run_result *result;

	enum run_phase phase;
	unsigned long started; /* in this phase */
	unsigned long finished;
	unsigned long in_flight;
	unsigned long errors;
	bool stopping;
	bool failed; /* could not start an invocation */
	bool paused; /* the journal is full */

	int64_t begin_ns; /* the run, warm-up included */
	int64_t start_ns; /* the summarised invocations */
	int64_t last_done_ns;
	struct token_source_stats tokens_at_start;
	struct loop_timer *rate_timer;
	struct loop_timer *progress_timer;
	struct loop_timer *grace_timer;
	struct loop_timer *pause_timer;
};

static void fill(struct run *run);

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
	pg_writer_drain(run->env->writer, run->cfg->drain_ms, drained, run);
}

/* An invocation ended: summarise it and keep the load going. */
static void
on_done(void *arg, const struct invoke_outcome *outcome)
{
	struct run *run = arg;

	run->in_flight--;
	run->finished++;
	if (!outcome->warmup)
	{
		run->last_done_ns = clock_mono_ns();
		if (!outcome->record.ok)
			run->errors++;
		if (outcome->unreachable)
			run->result->unreachable++;
		report_add(run->report, &outcome->record);
	}
	fill(run);
	check_end(run);
}

/* Start one invocation; false when it could not be started. */
static bool
start_one(struct run *run)
{
	if (invocation_start(run->env, run->phase != PHASE_WARMUP, on_done, run) == NULL)
		return false;
	run->started++;
	run->in_flight++;
	return true;
}

/* When invocation i of the measured phase is due. */
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
	int64_t now = clock_mono_ns();

	fprintf(stderr, "\r\033[K%s %.0f s: %lu/%lu done, %lu errors, %lu running",
	        run->phase == PHASE_WARMUP ? "warm-up" : "loomlat",
	        clock_ms_between(run->begin_ns, now) / 1e3, run->finished,
	        run->phase == PHASE_WARMUP ? run->cfg->warmup : run->cfg->count, run->errors,
	        run->in_flight);
	run->progress_timer = loop_add_timer(run->env->loop, now + NS_PER_S, on_progress, run);
}

/* Enter the measured phase. */
static void
begin_measure(struct run *run)
{
	run->phase = PHASE_MEASURE;
	run->started = 0;
	run->finished = 0;
	run->start_ns = clock_mono_ns();
	run->last_done_ns = run->start_ns;
	token_source_get_stats(run->env->tokens, &run->tokens_at_start);
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
			run->pause_timer =
			    loop_add_timer(run->env->loop, clock_mono_ns() + 100 * NS_PER_MS, on_pause, run);
		return false;
	}
	if (run->paused)
		log_warning("journal: below its limit again; resuming");
	run->paused = false;
	return true;
}

/* Start what the load shape allows now. */
static void
fill(struct run *run)
{
	const struct run_config *cfg = run->cfg;

	if (run->stopping || run->failed || !journal_allows(run))
		return;
	if (run->phase == PHASE_WARMUP)
	{
		unsigned long cap = cfg->concurrency ? cfg->concurrency : 1;

		while (run->started < cfg->warmup && run->in_flight < cap)
		{
			if (!start_one(run))
			{
				start_failed(run);
				return;
			}
		}
		if (run->finished == cfg->warmup)
			begin_measure(run);
		return;
	}
	if (run->phase != PHASE_MEASURE)
		return;
	while (run->started < cfg->count &&
	       (cfg->concurrency == 0 || run->in_flight < cfg->concurrency))
	{
		int64_t now = clock_mono_ns();

		if (cfg->rate > 0)
		{
			int64_t due = due_ns(run, run->started);

			if (due > now)
			{
				if (run->rate_timer == NULL)
					run->rate_timer = loop_add_timer(run->env->loop, due, on_rate, run);
				return;
			}
			report_add_lag(run->report, clock_ms_between(due, now));
		}
		if (!start_one(run))
		{
			start_failed(run);
			return;
		}
	}
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
	    run->env->loop, clock_mono_ns() + (int64_t) run->cfg->grace_ms * NS_PER_MS, on_grace, run);
	check_end(run);
}

/* Drive the whole run. */
int
run_execute(struct invoke_env *env, const struct run_config *config, struct report *report,
            int signal_fd, struct run_result *result)
{
	struct run run = {.env = env, .cfg = config, .report = report, .result = result};
	struct token_source_stats tokens;
	int rc;

	*result = (struct run_result){0};
	if (loop_watch_fd(env->loop, signal_fd, POLLIN, on_signal, &run) != 0)
		return -1;
	run.begin_ns = run.start_ns = clock_mono_ns();
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
	token_source_get_stats(env->tokens, &tokens);
	result->token_requests = tokens.token_requests - run.tokens_at_start.token_requests;
	result->elapsed_s = clock_ms_between(run.start_ns, run.last_done_ns) / 1e3;
	return rc;
}
