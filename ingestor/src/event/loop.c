/*
 * loop.c - the single event loop (see loop.h for the contract).
 *
 * One epoll instance carries every watched descriptor; each readiness event
 * is handed to exactly the watch that owns the descriptor, so the work per
 * event does not grow with the number of open descriptors (http/multi.c
 * puts libcurl's sockets here, which keeps first-token timestamps within a
 * millisecond at a thousand concurrent streams).
 *
 * Each iteration runs the deferred calls queued before it began, fires the
 * timers that are due, waits in epoll_wait() (as long as the clock's idle_ms()
 * allows: for CLOCK_MONOTONIC up to the next timer) and dispatches the events (watched descriptors,
 * the wake-up eventfd).  Watches are found from their descriptor through a table indexed by fd.
 * Watch records removed while a batch of events is being dispatched are freed only after the batch.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "event/loop.h"
#include "event/timer_heap.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define MAX_EVENTS 1024

struct loop_timer
{
	struct timer_node node; /* first: the heap hands back node pointers */
	loop_fn fn;
	void *arg;
};

struct deferred
{
	loop_fn fn;
	void *arg;
};

/* What an epoll event points at. */
enum source_kind
{
	SOURCE_WAKE,
	SOURCE_WATCH
};

struct source
{
	enum source_kind kind;
	int fd;
	bool dead;           /* removed; freed after the current batch */
	bool weak;           /* LOOP_WEAK: does not keep loop_run() going */
	struct source *next; /* the garbage list, once dead */
	loop_fd_fn fn;       /* SOURCE_WATCH */
	void *arg;
};

struct loop
{
	int epfd;
	struct source wake; /* eventfd written by loop_stop() */
	struct timer_heap timers;

	struct deferred *deferred; /* ring buffer */
	size_t defer_head;
	size_t defer_len;
	size_t defer_cap;

	struct source **watches; /* indexed by fd; NULL = not watched */
	size_t watch_cap;
	size_t n_strong; /* live watches that are not weak */
	struct source *garbage;
	unsigned long holds;

	struct loop_clock clock;
	volatile sig_atomic_t stop;
	bool failed;
};

/* Add or change fd's registration; EEXIST/ENOENT fall back to the other operation. */
static int
epoll_set(struct loop *loop, struct source *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};

	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, src->fd, &ev) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, src->fd, &ev);
}

/* A new live watch on fd, entered in the table. */
static struct source *
source_new(struct loop *loop, int fd)
{
	struct source *src;

	if ((size_t) fd >= loop->watch_cap)
	{
		size_t cap = loop->watch_cap ? loop->watch_cap : 64;

		while (cap <= (size_t) fd)
			cap *= 2;
		loop->watches = xrealloc(loop->watches, cap * sizeof(*loop->watches));
		memset(loop->watches + loop->watch_cap, 0,
		       (cap - loop->watch_cap) * sizeof(*loop->watches));
		loop->watch_cap = cap;
	}
	src = xcalloc(1, sizeof(*src));
	src->kind = SOURCE_WATCH;
	src->fd = fd;
	loop->watches[fd] = src;
	return src;
}

/* Stop watching a source and move it to the garbage list. */
static void
source_kill(struct loop *loop, struct source *src)
{
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, src->fd, NULL); /* fails harmlessly if closed */
	loop->watches[src->fd] = NULL;
	if (!src->weak)
		loop->n_strong--;
	src->dead = true;
	src->next = loop->garbage;
	loop->garbage = src;
}

/* Free what was removed during the last batch of events. */
static void
collect_garbage(struct loop *loop)
{
	while (loop->garbage != NULL)
	{
		struct source *src = loop->garbage;

		loop->garbage = src->next;
		free(src);
	}
}

/* CLOCK_MONOTONIC, the production clock. */
static int64_t
monotonic_now(void *arg)
{
	return clock_mono_ns();
}

/* Sleep up to the deadline, rounded up to a millisecond, at most a second. */
static int
monotonic_idle(void *arg, int64_t now_ns, int64_t deadline_ns)
{
	int64_t wait_ns = deadline_ns - now_ns;

	if (deadline_ns < 0 || wait_ns >= 1000 * NS_PER_MS)
		return 1000;
	if (wait_ns <= 0)
		return 0;
	return (int) ((wait_ns + NS_PER_MS - 1) / NS_PER_MS);
}

/* A loop on CLOCK_MONOTONIC. */
struct loop *
loop_new(void)
{
	const struct loop_clock monotonic = {monotonic_now, monotonic_idle, NULL};

	return loop_new_with_clock(&monotonic);
}

/* Create a loop: an epoll set and a wake-up eventfd. */
struct loop *
loop_new_with_clock(const struct loop_clock *clock)
{
	struct loop *loop = xcalloc(1, sizeof(*loop));

	loop->clock = *clock;
	loop->epfd = -1;
	loop->wake.fd = -1;
	timer_heap_init(&loop->timers);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wake.kind = SOURCE_WAKE;
	loop->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd < 0 || loop->wake.fd < 0 || epoll_set(loop, &loop->wake, EPOLLIN) != 0)
	{
		loop_free(loop);
		return NULL;
	}
	return loop;
}

/* Drop every watch, timer and deferred call (without callbacks) and free everything. */
void
loop_free(struct loop *loop)
{
	struct timer_node *node;

	if (loop == NULL)
		return;
	for (size_t fd = 0; fd < loop->watch_cap; fd++)
		if (loop->watches[fd] != NULL)
			source_kill(loop, loop->watches[fd]);
	collect_garbage(loop);
	while ((node = timer_heap_pop(&loop->timers)) != NULL)
		free(node);
	timer_heap_destroy(&loop->timers);
	if (loop->wake.fd >= 0)
		close(loop->wake.fd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	free(loop->watches);
	free(loop->deferred);
	free(loop);
}

/* Ask the clock. */
int64_t
loop_now(const struct loop *loop)
{
	return loop->clock.now_ns(loop->clock.arg);
}

/* Queue a one-shot timer. */
struct loop_timer *
loop_add_timer(struct loop *loop, int64_t at_ns, loop_fn fn, void *arg)
{
	struct loop_timer *timer = xmalloc(sizeof(*timer));

	timer->node.at_ns = at_ns;
	timer->fn = fn;
	timer->arg = arg;
	timer_heap_push(&loop->timers, &timer->node);
	return timer;
}

/* Unqueue and free a timer that has not fired. */
void
loop_cancel_timer(struct loop *loop, struct loop_timer *timer)
{
	if (timer == NULL)
		return;
	timer_heap_remove(&loop->timers, &timer->node);
	free(timer);
}

/* Append a call to the ring buffer, doubling it when full. */
void
loop_defer(struct loop *loop, loop_fn fn, void *arg)
{
	if (loop->defer_len == loop->defer_cap)
	{
		size_t cap = loop->defer_cap ? loop->defer_cap * 2 : 64;
		struct deferred *ring = xmalloc(cap * sizeof(*ring));

		for (size_t i = 0; i < loop->defer_len; i++)
			ring[i] = loop->deferred[(loop->defer_head + i) % loop->defer_cap];
		free(loop->deferred);
		loop->deferred = ring;
		loop->defer_cap = cap;
		loop->defer_head = 0;
	}
	loop->deferred[(loop->defer_head + loop->defer_len) % loop->defer_cap] =
	    (struct deferred){fn, arg};
	loop->defer_len++;
}

/* Add, replace or (events == 0) drop the watch on fd. */
int
loop_watch_fd(struct loop *loop, int fd, short events, loop_fd_fn fn, void *arg)
{
	struct source *src = (size_t) fd < loop->watch_cap ? loop->watches[fd] : NULL;
	uint32_t ev = ((events & POLLIN) ? EPOLLIN : 0) | ((events & POLLPRI) ? EPOLLPRI : 0) |
	              ((events & POLLOUT) ? EPOLLOUT : 0);

	if (fd < 0)
		return -1;
	if (ev == 0)
	{
		if (src != NULL)
			source_kill(loop, src);
		return 0;
	}
	if (src == NULL)
	{
		src = source_new(loop, fd);
		src->weak = true;
	}
	if (src->weak != ((events & LOOP_WEAK) != 0))
	{
		src->weak = !src->weak;
		loop->n_strong += src->weak ? -1 : 1;
	}
	src->fn = fn;
	src->arg = arg;
	if (epoll_set(loop, src, ev) != 0)
	{
		source_kill(loop, src);
		return -1;
	}
	return 0;
}

/* One more piece of work the loop cannot see. */
void
loop_hold(struct loop *loop)
{
	loop->holds++;
}

/* That work is done. */
void
loop_release(struct loop *loop)
{
	loop->holds--;
}

/* Ask loop_run() to return: a sig_atomic_t and one write(2), both async-signal-safe. */
void
loop_stop(struct loop *loop)
{
	uint64_t one = 1;

	loop->stop = 1;
	if (write(loop->wake.fd, &one, sizeof(one)) < 0)
	{
		/* the counter is already non-zero: the loop will wake anyway */
	}
}

/* Stop, and have loop_run() report the failure. */
void
loop_fail(struct loop *loop)
{
	loop->failed = true;
	loop_stop(loop);
}

/* Run the calls that were queued before this iteration began. */
static void
run_deferred(struct loop *loop)
{
	for (size_t n = loop->defer_len; n > 0 && !loop->stop; n--)
	{
		struct deferred call = loop->deferred[loop->defer_head];

		loop->defer_head = (loop->defer_head + 1) % loop->defer_cap;
		loop->defer_len--;
		call.fn(call.arg);
	}
}

/* Fire every timer due at now_ns; the handle is freed before its callback runs. */
static void
run_timers(struct loop *loop, int64_t now_ns)
{
	struct timer_node *node;

	while (!loop->stop && (node = timer_heap_peek(&loop->timers)) != NULL && node->at_ns <= now_ns)
	{
		struct loop_timer *timer = (struct loop_timer *) node;
		loop_fn fn = timer->fn;
		void *arg = timer->arg;

		timer_heap_pop(&loop->timers);
		free(timer);
		fn(arg);
	}
}

/* Milliseconds epoll_wait() may sleep: 0 with deferred work, else what the clock says. */
static int
wait_timeout_ms(const struct loop *loop)
{
	const struct timer_node *next = timer_heap_peek(&loop->timers);

	if (loop->defer_len > 0)
		return 0;
	return loop->clock.idle_ms(loop->clock.arg, loop_now(loop), next != NULL ? next->at_ns : -1);
}

/* epoll bits to poll(2) bits for watch callbacks. */
static short
to_poll_events(uint32_t events)
{
	return (short) (((events & EPOLLIN) ? POLLIN : 0) | ((events & EPOLLPRI) ? POLLPRI : 0) |
	                ((events & EPOLLOUT) ? POLLOUT : 0) | ((events & EPOLLERR) ? POLLERR : 0) |
	                ((events & EPOLLHUP) ? POLLHUP : 0));
}

/* Hand one batch of events to the watches and the wake-up counter. */
static void
dispatch(struct loop *loop, const struct epoll_event *events, int n)
{
	for (int i = 0; i < n && !loop->stop; i++)
	{
		struct source *src = events[i].data.ptr;
		uint32_t ev = events[i].events;

		if (src->dead)
			continue;
		switch (src->kind)
		{
			case SOURCE_WATCH:
				src->fn(src->arg, src->fd, to_poll_events(ev));
				break;
			case SOURCE_WAKE:
			{
				uint64_t count;

				if (read(src->fd, &count, sizeof(count)) < 0)
				{
					/* already drained: nothing to do */
				}
				break;
			}
		}
	}
}

/* The loop proper. */
int
loop_run(struct loop *loop)
{
	struct epoll_event events[MAX_EVENTS];
	int rc = 0;

	while (!loop->stop)
	{
		int n;

		run_deferred(loop);
		run_timers(loop, loop_now(loop));
		if (loop->stop)
			break;
		if (loop->holds == 0 && loop->defer_len == 0 && loop->n_strong == 0 &&
		    timer_heap_peek(&loop->timers) == NULL)
			break;
		n = epoll_wait(loop->epfd, events, MAX_EVENTS, wait_timeout_ms(loop));
		if (n < 0 && errno != EINTR)
		{
			log_error("epoll_wait failed: %s", strerror(errno));
			rc = -1;
			break;
		}
		if (n > 0)
			dispatch(loop, events, n);
		collect_garbage(loop);
	}
	if (loop->failed)
		rc = -1;
	loop->stop = 0;
	loop->failed = false;
	return rc;
}
