/*
 * loop.c - the single event loop (see loop.h for the contract).
 *
 * libcurl is driven through its socket interface (curl_multi_socket_action)
 * on one epoll instance: libcurl says which sockets to watch and when its
 * own timeout expires, and each readiness event is handed to exactly the
 * transfer that owns the socket.  So the work per event does not grow with
 * the number of open streams, which keeps first-token timestamps within a
 * millisecond at a thousand concurrent streams (curl_multi_poll() and
 * curl_multi_perform() visit every transfer on every wake-up).
 *
 * Each iteration runs the deferred calls queued before it began, fires the
 * timers that are due, waits in epoll_wait() (bounded by the next timer and
 * libcurl's timeout), dispatches the events (libcurl sockets, watched
 * descriptors, the wake-up eventfd), runs libcurl's timeout if due and
 * completes finished transfers.  Transfers are found from their easy handle
 * through a small open-addressing table; the easy handle's CURLOPT_PRIVATE
 * stays free for the caller.  Socket and watch records removed while a
 * batch of events is being dispatched are freed only after the batch.
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
#include "util/clock.h"
#include "util/log.h"

#define MAX_EVENTS 1024

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

/* What an epoll event points at. */
enum source_kind
{
	SOURCE_WAKE,
	SOURCE_CURL,
	SOURCE_WATCH
};

struct source
{
	enum source_kind kind;
	int fd;
	bool dead;           /* removed; freed after the current batch */
	struct source *next; /* live list, or the garbage list once dead */
	struct source *prev;
	loop_fd_fn fn; /* SOURCE_WATCH */
	void *arg;
};

struct loop
{
	CURLM *multi;
	int epfd;
	struct source wake;       /* eventfd written by loop_stop() */
	int64_t curl_deadline_ns; /* libcurl's timeout; -1 = none */
	struct timer_heap timers;

	struct transfer *xfers; /* open addressing, linear probing; cap a power of 2 */
	size_t xfer_cap;
	size_t xfer_len;

	struct deferred *deferred; /* ring buffer */
	size_t defer_head;
	size_t defer_len;
	size_t defer_cap;

	struct source *sources; /* live libcurl sockets and watches */
	struct source *garbage;
	size_t n_watches;

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

/* A new live source. */
static struct source *
source_new(struct loop *loop, enum source_kind kind, int fd)
{
	struct source *src = calloc(1, sizeof(*src));

	if (src == NULL)
		return NULL;
	src->kind = kind;
	src->fd = fd;
	src->next = loop->sources;
	if (loop->sources != NULL)
		loop->sources->prev = src;
	loop->sources = src;
	return src;
}

/* Stop watching a source and move it to the garbage list. */
static void
source_kill(struct loop *loop, struct source *src)
{
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, src->fd, NULL); /* fails harmlessly if closed */
	if (src->prev != NULL)
		src->prev->next = src->next;
	else
		loop->sources = src->next;
	if (src->next != NULL)
		src->next->prev = src->prev;
	src->dead = true;
	src->prev = NULL;
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

/* CURLMOPT_SOCKETFUNCTION: mirror libcurl's interest in a socket into epoll. */
static int
on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct loop *loop = userp;
	struct source *src = socketp;
	uint32_t events = 0;

	if (what == CURL_POLL_REMOVE)
	{
		if (src != NULL)
			source_kill(loop, src);
		return 0;
	}
	if (src == NULL)
	{
		src = source_new(loop, SOURCE_CURL, fd);
		if (src == NULL || curl_multi_assign(loop->multi, fd, src) != CURLM_OK)
			return -1;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	return epoll_set(loop, src, events) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: remember when libcurl wants its timeout run. */
static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct loop *loop = userp;

	loop->curl_deadline_ns = timeout_ms < 0 ? -1 : clock_mono_ns() + timeout_ms * NS_PER_MS;
	return 0;
}

/* Create a loop: its multi handle in socket mode, an epoll set, a wake-up eventfd. */
struct loop *
loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (loop == NULL)
		return NULL;
	loop->epfd = -1;
	loop->wake.fd = -1;
	loop->curl_deadline_ns = -1;
	timer_heap_init(&loop->timers);
	loop->multi = curl_multi_init();
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wake.kind = SOURCE_WAKE;
	loop->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->multi == NULL || loop->epfd < 0 || loop->wake.fd < 0 || xfer_grow(loop) != 0 ||
	    epoll_set(loop, &loop->wake, EPOLLIN) != 0)
	{
		loop_free(loop);
		return NULL;
	}
	curl_multi_setopt(loop->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(loop->multi, CURLMOPT_SOCKETDATA, loop);
	curl_multi_setopt(loop->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(loop->multi, CURLMOPT_TIMERDATA, loop);
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
	if (loop->multi != NULL)
		curl_multi_cleanup(loop->multi);
	while (loop->sources != NULL)
		source_kill(loop, loop->sources);
	collect_garbage(loop);
	while ((node = timer_heap_pop(&loop->timers)) != NULL)
		free(node);
	timer_heap_destroy(&loop->timers);
	if (loop->wake.fd >= 0)
		close(loop->wake.fd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	free(loop->xfers);
	free(loop->deferred);
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

/* The live watch on fd, or NULL. */
static struct source *
find_watch(const struct loop *loop, int fd)
{
	for (struct source *src = loop->sources; src != NULL; src = src->next)
		if (src->kind == SOURCE_WATCH && src->fd == fd)
			return src;
	return NULL;
}

/* Add, replace or (events == 0) drop the watch on fd. */
int
loop_watch_fd(struct loop *loop, int fd, short events, loop_fd_fn fn, void *arg)
{
	struct source *src = find_watch(loop, fd);
	uint32_t ev = ((events & POLLIN) ? EPOLLIN : 0) | ((events & POLLPRI) ? EPOLLPRI : 0) |
	              ((events & POLLOUT) ? EPOLLOUT : 0);

	if (events == 0)
	{
		if (src != NULL)
		{
			source_kill(loop, src);
			loop->n_watches--;
		}
		return 0;
	}
	if (src == NULL)
	{
		src = source_new(loop, SOURCE_WATCH, fd);
		if (src == NULL)
			return -1;
		loop->n_watches++;
	}
	src->fn = fn;
	src->arg = arg;
	if (epoll_set(loop, src, ev) != 0)
	{
		source_kill(loop, src);
		loop->n_watches--;
		return -1;
	}
	return 0;
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

/* Milliseconds epoll_wait() may sleep: 0 with deferred work, else up to the next deadline. */
static int
wait_timeout_ms(const struct loop *loop, int64_t now_ns)
{
	const struct timer_node *next = timer_heap_peek(&loop->timers);
	int64_t deadline = next != NULL ? next->at_ns : -1;
	int64_t wait_ns;

	if (loop->defer_len > 0)
		return 0;
	if (loop->curl_deadline_ns >= 0 && (deadline < 0 || loop->curl_deadline_ns < deadline))
		deadline = loop->curl_deadline_ns;
	if (deadline < 0)
		return 1000;
	wait_ns = deadline - now_ns;
	if (wait_ns <= 0)
		return 0;
	if (wait_ns >= 1000 * NS_PER_MS)
		return 1000;
	return (int) ((wait_ns + NS_PER_MS - 1) / NS_PER_MS);
}

/* epoll bits to poll(2) bits for watch callbacks. */
static short
to_poll_events(uint32_t events)
{
	return (short) (((events & EPOLLIN) ? POLLIN : 0) | ((events & EPOLLPRI) ? POLLPRI : 0) |
	                ((events & EPOLLOUT) ? POLLOUT : 0) | ((events & EPOLLERR) ? POLLERR : 0) |
	                ((events & EPOLLHUP) ? POLLHUP : 0));
}

/* Hand one batch of events to libcurl, the watches and the wake-up counter. */
static CURLMcode
dispatch(struct loop *loop, const struct epoll_event *events, int n)
{
	CURLMcode mc = CURLM_OK;

	for (int i = 0; i < n && mc == CURLM_OK && !loop->stop; i++)
	{
		struct source *src = events[i].data.ptr;
		uint32_t ev = events[i].events;
		int running;

		if (src->dead)
			continue;
		switch (src->kind)
		{
			case SOURCE_CURL:
				mc = curl_multi_socket_action(
				    loop->multi, src->fd,
				    ((ev & EPOLLIN) ? CURL_CSELECT_IN : 0) |
				        ((ev & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
				        ((ev & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0),
				    &running);
				break;
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
	return mc;
}

/* The loop proper. */
int
loop_run(struct loop *loop)
{
	struct epoll_event events[MAX_EVENTS];
	int rc = 0;

	while (!loop->stop)
	{
		CURLMcode mc = CURLM_OK;
		int n;

		run_deferred(loop);
		run_timers(loop, clock_mono_ns());
		if (loop->stop)
			break;
		if (loop->xfer_len == 0 && loop->defer_len == 0 && loop->n_watches == 0 &&
		    timer_heap_peek(&loop->timers) == NULL)
			break;
		n = epoll_wait(loop->epfd, events, MAX_EVENTS, wait_timeout_ms(loop, clock_mono_ns()));
		if (n < 0 && errno != EINTR)
		{
			log_error("epoll_wait failed: %s", strerror(errno));
			rc = -1;
			break;
		}
		if (n > 0)
			mc = dispatch(loop, events, n);
		collect_garbage(loop);
		if (mc == CURLM_OK && loop->curl_deadline_ns >= 0 &&
		    loop->curl_deadline_ns <= clock_mono_ns())
		{
			int running;

			loop->curl_deadline_ns = -1;
			mc = curl_multi_socket_action(loop->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
		if (mc != CURLM_OK)
		{
			log_error("libcurl multi interface failed: %s", curl_multi_strerror(mc));
			rc = -1;
			break;
		}
		run_completions(loop);
		collect_garbage(loop);
	}
	loop->stop = 0;
	return rc;
}
