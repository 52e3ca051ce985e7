/*
 * fake_clock.h - a loop clock for unit tests: time stands still while the
 * loop has work and jumps to the next timer when it would sleep, so every
 * timer fires at exactly its deadline and a test of seconds of schedule
 * runs in microseconds.  With no timer queued (nothing can happen by
 * itself) the loop is failed instead: a test that waits forever fails.
 * A test that makes a descriptor ready (a byte into a pipe) sets io_pending,
 * so the loop polls once before time moves on.
 */
#ifndef LOOMLAT_FAKE_CLOCK_H
#define LOOMLAT_FAKE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "event/loop.h"

struct fake_clock
{
	int64_t now_ns;
	struct loop *loop;
	unsigned long stalls; /* times the loop would have waited with no timer */
	bool io_pending;      /* poll once more before jumping */
};

static inline int64_t
fake_clock_now(void *arg)
{
	return ((struct fake_clock *) arg)->now_ns;
}

/* Jump to the deadline; never block. */
static inline int
fake_clock_idle(void *arg, int64_t now_ns, int64_t deadline_ns)
{
	struct fake_clock *clock = arg;

	if (clock->io_pending)
		clock->io_pending = false;
	else if (deadline_ns < 0)
	{
		clock->stalls++;
		loop_fail(clock->loop);
	}
	else if (deadline_ns > clock->now_ns)
		clock->now_ns = deadline_ns;
	return 0;
}

/* A loop on clock, starting at start_ns; NULL as loop_new(). */
static inline struct loop *
fake_clock_loop(struct fake_clock *clock, int64_t start_ns)
{
	const struct loop_clock ops = {fake_clock_now, fake_clock_idle, clock};

	*clock = (struct fake_clock){.now_ns = start_ns};
	clock->loop = loop_new_with_clock(&ops);
	return clock->loop;
}

#endif
