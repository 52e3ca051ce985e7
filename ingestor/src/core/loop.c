/*
 * loop.c - the single event loop (see loop.h for the contract).
 *
 * Each iteration runs the deferred calls queued before it began, fires the
 * timers that are due, waits in curl_multi_poll() for libcurl's sockets and
 * the watched descriptors (bounded by the next timer), dispatches descriptor
 * events, lets libcurl make progress and completes finished transfers.
 * Transfers are found from their easy handle through a small open-addressing
 * table, so completion costs O(1) whatever the number of streams; the easy
 * handle's CURLOPT_PRIVATE stays free for the caller.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"
#include "core/timer_heap.h"
#include "util/clock.h"
#include "util/log.h"

struct loop_timer
{
	struct timer_node node; /* first: the heap hands back node pointers */
	loop_fn fn;
	void *arg;
};

struct transfer
{
	CURL *easy; /* NULL = empty slot */
	loop_transfer_done_fn done;
	void *arg;
};

struct deferred
{
	loop_fn fn;
	void *arg;
};

struct watch
{
	int fd;
	short events;
	loop_fd_fn fn;
	void *arg;
};

struct loop
{
	CURLM *multi;
	struct timer_heap timers;

	struct transfer *xfers; /* open addressing, linear probing; cap a power of 2 */
	size_t xfer_cap;
	size_t xfer_len;

	struct deferred *deferred; /* ring buffer */
	size_t defer_head;
	size_t defer_len;
	size_t defer_cap;

	struct watch *watches;
	size_t n_watches;
	size_t watch_cap;
	struct curl_waitfd *waitfds; /* scratch, watch_cap entries */

	volatile sig_atomic_t stop;
};

/* Allocation failure inside a void API call leaves no sane way on. */
static void
out_of_memory(void)
{
	log_error("out of memory in the event loop");
	abort();
}

/* Fibonacci hashing of a pointer into a table of cap (a power of 2) slots. */
static size_t
xfer_slot(const struct loop *loop, const CURL *easy)
{
	return (size_t) (((uintptr_t) easy * UINT64_C(11400714819323198485)) >> 7) &
	       (loop->xfer_cap - 1);
}

/* The slot holding easy, or the empty slot where it would go. */
static struct transfer *
xfer_find(const struct loop *loop, const CURL *easy)
{
	size_t i = xfer_slot(loop, easy);

	while (loop->xfers[i].easy != NULL && loop->xfers[i].easy != easy)
		i = (i + 1) & (loop->xfer_cap - 1);
	return &loop->xfers[i];
}

/* Double the table (kept at most half full) and re-insert every entry. */
static int
xfer_grow(struct loop *loop)
{
	struct transfer *old = loop->xfers;
	size_t old_cap = loop->xfer_cap;
	size_t cap = old_cap ? old_cap * 2 : 256;
	struct transfer *xfers = calloc(cap, sizeof(*xfers));

	if (xfers == NULL)
		return -1;
	loop->xfers = xfers;
	loop->xfer_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].easy != NULL)
			*xfer_find(loop, old[i].easy) = old[i];
	free(old);
	return 0;
}

/* Empty a slot and re-seat the probe chain behind it (backward-shift deletion). */
static void
xfer_erase(struct loop *loop, struct transfer *slot)
{
	size_t mask = loop->xfer_cap - 1;
	size_t hole = (size_t) (slot - loop->xfers);
	size_t i = hole;

	for (;;)
	{
		size_t home;

		i = (i + 1) & mask;
		if (loop->xfers[i].easy == NULL)
			break;
		home = xfer_slot(loop, loop->xfers[i].easy);
		/* move entry i into the hole unless its home lies cyclically in (hole, i] */
		if (((i - home) & mask) >= ((i - hole) & mask))
		{
			loop->xfers[hole] = loop->xfers[i];
			hole = i;
		}
	}
	loop->xfers[hole].easy = NULL;
	loop->xfer_len--;
}

/* Create a loop with its own multi handle. */
struct loop *
loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (loop == NULL)
		return NULL;
	loop->multi = curl_multi_init();
	if (loop->multi == NULL || xfer_grow(loop) != 0)
	{
		loop_free(loop);
		return NULL;
	}
	timer_heap_init(&loop->timers);
	return loop;
}

/* Remove what is still running (without callbacks) and free everything. */
void
loop_free(struct loop *loop)
{
	struct timer_node *node;

	if (loop == NULL)
		return;
	for (size_t i = 0; i < loop->xfer_cap; i++)
		if (loop->xfers[i].easy != NULL)
			curl_multi_remove_handle(loop->multi, loop->xfers[i].easy);
	while ((node = timer_heap_pop(&loop->timers)) != NULL)
		free(node);
	timer_heap_destroy(&loop->timers);
	if (loop->multi != NULL)
		curl_multi_cleanup(loop->multi);
	free(loop->xfers);
	free(loop->deferred);
	free(loop->watches);
	free(loop->waitfds);
	free(loop);
}

/* The shared multi handle. */
CURLM *
loop_multi(struct loop *loop)
{
	return loop->multi;
}

/* Register the transfer, then hand the easy handle to libcurl. */
int
loop_add_transfer(struct loop *loop, CURL *easy, loop_transfer_done_fn done, void *arg)
{
	struct transfer *slot;

	if (2 * (loop->xfer_len + 1) > loop->xfer_cap && xfer_grow(loop) != 0)
		return -1;
	slot = xfer_find(loop, easy);
	if (slot->easy != NULL)
		return -1; /* already running */
	if (curl_multi_add_handle(loop->multi, easy) != CURLM_OK)
		return -1;
	slot->easy = easy;
	slot->done = done;
	slot->arg = arg;
	loop->xfer_len++;
	return 0;
}

/* Detach the transfer from the multi handle and forget it. */
void
loop_cancel_transfer(struct loop *loop, CURL *easy)
{
	struct transfer *slot = xfer_find(loop, easy);

	if (slot->easy == NULL)
		return;
	curl_multi_remove_handle(loop->multi, easy);
	xfer_erase(loop, slot);
}

/* Queue a one-shot timer. */
struct loop_timer *
loop_add_timer(struct loop *loop, int64_t at_ns, loop_fn fn, void *arg)
{
	struct loop_timer *timer = malloc(sizeof(*timer));

	if (timer == NULL)
		out_of_memory();
	timer->node.at_ns = at_ns;
	timer->fn = fn;
	timer->arg = arg;
	if (timer_heap_push(&loop->timers, &timer->node) != 0)
		out_of_memory();
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
		struct deferred *ring = malloc(cap * sizeof(*ring));

		if (ring == NULL)
			out_of_memory();
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
	size_t i;

	for (i = 0; i < loop->n_watches; i++)
		if (loop->watches[i].fd == fd)
			break;
	if (events == 0)
	{
		if (i < loop->n_watches)
			loop->watches[i] = loop->watches[--loop->n_watches];
		return 0;
	}
	if (i == loop->n_watches)
	{
		if (loop->n_watches == loop->watch_cap)
		{
			size_t cap = loop->watch_cap ? loop->watch_cap * 2 : 8;
			struct watch *watches = realloc(loop->watches, cap * sizeof(*watches));
			struct curl_waitfd *waitfds;

			if (watches == NULL)
				return -1;
			loop->watches = watches;
			waitfds = realloc(loop->waitfds, cap * sizeof(*waitfds));
			if (waitfds == NULL)
				return -1;
			loop->waitfds = waitfds;
			loop->watch_cap = cap;
		}
		loop->n_watches++;
	}
	loop->watches[i] = (struct watch){fd, events, fn, arg};
	return 0;
}

/* Ask loop_run() to return; only touches a sig_atomic_t and libcurl's wakeup pipe. */
void
loop_stop(struct loop *loop)
{
	loop->stop = 1;
	curl_multi_wakeup(loop->multi);
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

/* Milliseconds curl_multi_poll() may sleep: 0 with deferred work, else up to the next timer. */
static int
poll_timeout_ms(const struct loop *loop, int64_t now_ns)
{
	const struct timer_node *next = timer_heap_peek(&loop->timers);
	int64_t wait_ns;

	if (loop->defer_len > 0)
		return 0;
	if (next == NULL)
		return 1000;
	wait_ns = next->at_ns - now_ns;
	if (wait_ns <= 0)
		return 0;
	if (wait_ns >= 1000 * NS_PER_MS)
		return 1000;
	return (int) ((wait_ns + NS_PER_MS - 1) / NS_PER_MS);
}

/* poll(2) event bits to libcurl's CURL_WAIT_* bits and back. */
static short
to_curl_events(short events)
{
	return (short) (((events & POLLIN) ? CURL_WAIT_POLLIN : 0) |
	                ((events & POLLPRI) ? CURL_WAIT_POLLPRI : 0) |
	                ((events & POLLOUT) ? CURL_WAIT_POLLOUT : 0));
}

static short
from_curl_events(short revents)
{
	return (short) (((revents & CURL_WAIT_POLLIN) ? POLLIN : 0) |
	                ((revents & CURL_WAIT_POLLPRI) ? POLLPRI : 0) |
	                ((revents & CURL_WAIT_POLLOUT) ? POLLOUT : 0));
}

/* Dispatch descriptor events; a watch changed by an earlier callback is looked up again. */
static void
run_watches(struct loop *loop, size_t n)
{
	for (size_t k = 0; k < n && !loop->stop; k++)
	{
		const struct curl_waitfd *w = &loop->waitfds[k];
		short revents = from_curl_events(w->revents);

		if (revents == 0)
			continue;
		for (size_t i = 0; i < loop->n_watches; i++)
		{
			if (loop->watches[i].fd == w->fd)
			{
				struct watch watch = loop->watches[i];

				if (watch.events & revents)
					watch.fn(watch.arg, watch.fd, revents);
				break;
			}
		}
	}
}

/* Hand every finished transfer back to its owner, after removing it. */
static void
run_completions(struct loop *loop)
{
	CURLMsg *msg;
	int left;

	while (!loop->stop && (msg = curl_multi_info_read(loop->multi, &left)) != NULL)
	{
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result; /* msg is invalid once the handle is removed */
		struct transfer *slot;
		struct transfer xfer;

		if (msg->msg != CURLMSG_DONE)
			continue;
		slot = xfer_find(loop, easy);
		if (slot->easy == NULL)
			continue;
		xfer = *slot;
		curl_multi_remove_handle(loop->multi, easy);
		xfer_erase(loop, slot);
		xfer.done(xfer.arg, easy, result);
	}
}

/* The loop proper. */
int
loop_run(struct loop *loop)
{
	int rc = 0;

	while (!loop->stop)
	{
		int running;
		int numfds;
		size_t n = 0;
		CURLMcode mc;

		run_deferred(loop);
		run_timers(loop, clock_mono_ns());
		if (loop->stop)
			break;
		if (loop->xfer_len == 0 && loop->defer_len == 0 && loop->n_watches == 0 &&
		    timer_heap_peek(&loop->timers) == NULL)
			break;
		for (size_t i = 0; i < loop->n_watches; i++)
			loop->waitfds[n++] =
			    (struct curl_waitfd){.fd = loop->watches[i].fd,
			                         .events = to_curl_events(loop->watches[i].events),
			                         .revents = 0};
		mc = curl_multi_poll(loop->multi, loop->waitfds, (unsigned int) n,
		                     poll_timeout_ms(loop, clock_mono_ns()), &numfds);
		if (mc == CURLM_OK && numfds > 0)
			run_watches(loop, n);
		if (mc == CURLM_OK)
			mc = curl_multi_perform(loop->multi, &running);
		if (mc != CURLM_OK)
		{
			log_error("libcurl multi interface failed: %s", curl_multi_strerror(mc));
			rc = -1;
			break;
		}
		run_completions(loop);
	}
	loop->stop = 0;
	return rc;
}
