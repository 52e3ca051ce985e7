/*
 * run.h - the load shape of "loomlat invoke": warm-up, then count
 * invocations, closed loop (keep -c in flight) or open loop (--rate: the
 * i-th is due at start + i / rate, capped by -c when given, lag recorded).
 *
 * Sessions: the measured invocations come in sessions of calls_per_session
 * calls that share one runtime session id and run one after another, the
 * next starting as soon as the previous one ended (before any new session);
 * -c caps the invocations in flight, so the sessions open at once, and with
 * --rate the i-th session's first call is due at start + i / rate.  With one
 * call per session (the default) each invocation gets the configured
 * session or a new one, as invocation_start() decides.  Warm-up invocations
 * are one-call sessions.  Each record says which call of its session it was.
 *
 * Every time is the loop's (loop_now()), and the run reaches the writer and
 * the token source only through env->ports (the journal, when there is one,
 * directly), so a test drives it on a fake clock with scripted ports.
 *
 * Signals: the first SIGINT/SIGTERM stops starting invocations and lets the
 * running ones finish for grace_ms, then aborts them as "interrupted"; the
 * second aborts them at once and returns without waiting for the database
 * (what is unwritten stays in the journal, or is spooled).  At the end the writer gets
 * drain_ms to write what is queued.
 *
 * The journal (env->journal): while it is full no invocation is started (the
 * run pauses, says so, and looks again every 100 ms); once it has failed no
 * invocation is started again, the running ones finish, and the run ends.
 */
#ifndef LOOMLAT_RUN_H
#define LOOMLAT_RUN_H

#include <stdbool.h>

#include "measure/invoke.h"
#include "measure/report.h"

struct run_config
{
	unsigned long count;             /* summarised invocations, a multiple of calls_per_session */
	unsigned long calls_per_session; /* 1 or more */
	unsigned long concurrency;       /* in flight at most; 0 = no cap (with a rate only) */
	unsigned long warmup;            /* run first, neither written nor summarised */
	double rate;                     /* starts per second; 0 = closed loop */
	bool progress;                   /* a progress line on stderr each second */
	int grace_ms;
	int drain_ms;
};

struct run_result
{
	double elapsed_s;             /* first summarised start to last finish */
	unsigned long token_requests; /* made during the summarised invocations */
	unsigned long unreachable;    /* invocations that could not reach the agent */
	int signals;                  /* SIGINT/SIGTERM received */
	unsigned long journal_pauses; /* times the run waited for the journal to shrink */
	bool journal_failed;          /* the journal could not be written: the run stopped early */
};

/* Run on env's loop until done; records go to report.  signal_fd is
 * signals_open()'s pipe.  Returns 0, or -1 on a loop failure. */
int run_execute(struct invoke_env *env, const struct run_config *config, struct report *report,
                int signal_fd, struct run_result *result);

#endif
