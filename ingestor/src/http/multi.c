/*
 * multi.c - libcurl's socket interface on the event loop (see multi.h).
 *
 * libcurl says which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when its
 * own timeout expires (CURLMOPT_TIMERFUNCTION); each readiness event and
 * each timeout is one curl_multi_socket_action() call, after which finished
 * transfers are handed back.  Transfers are found from their easy handle
 * through a small open-addressing table, so the easy handle's
 * CURLOPT_PRIVATE stays free for the caller.  libcurl's timeout is armed on
 * the loop only while a transfer runs; its sockets are weak watches, so idle
 * kept-alive connections do not keep the loop running.
 */
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>

#include "http/multi.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

struct transfer
{
	CURL *easy; /* NULL = empty slot */
	http_multi_done_fn done;
	void *arg;
};

struct http_multi
{
	struct loop *loop;
	CURLM *multi;
	int64_t deadline_ns; /* libcurl's timeout; -1 = none */
	struct loop_timer *timer;

	struct transfer *xfers; /* open addressing, linear probing; cap a power of 2 */
	size_t xfer_cap;
	size_t xfer_len;
};

/* Fibonacci hashing of a pointer into a table of cap (a power of 2) slots. */
static size_t
xfer_slot(const struct http_multi *m, const CURL *easy)
{
	return (size_t) (((uintptr_t) easy * UINT64_C(11400714819323198485)) >> 7) & (m->xfer_cap - 1);
}

/* The slot holding easy, or the empty slot where it would go. */
static struct transfer *
xfer_find(const struct http_multi *m, const CURL *easy)
{
	size_t i = xfer_slot(m, easy);

	while (m->xfers[i].easy != NULL && m->xfers[i].easy != easy)
		i = (i + 1) & (m->xfer_cap - 1);
	return &m->xfers[i];
}

/* Double the table (kept at most half full) and re-insert every entry. */
static void
xfer_grow(struct http_multi *m)
{
	struct transfer *old = m->xfers;
	size_t old_cap = m->xfer_cap;

	m->xfer_cap = old_cap ? old_cap * 2 : 256;
	m->xfers = xcalloc(m->xfer_cap, sizeof(*m->xfers));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].easy != NULL)
			*xfer_find(m, old[i].easy) = old[i];
	free(old);
}

static void on_timeout(void *arg);

/* Put libcurl's deadline on the loop while transfers run, else take it off. */
static void
arm_timer(struct http_multi *m)
{
	loop_cancel_timer(m->loop, m->timer);
	m->timer = NULL;
	if (m->deadline_ns >= 0 && m->xfer_len > 0)
		m->timer = loop_add_timer(m->loop, m->deadline_ns, on_timeout, m);
}

/* Empty a slot and re-seat the probe chain behind it (backward-shift deletion). */
static void
xfer_erase(struct http_multi *m, struct transfer *slot)
{
	size_t mask = m->xfer_cap - 1;
	size_t hole = (size_t) (slot - m->xfers);
	size_t i = hole;

	for (;;)
	{
		size_t home;

		i = (i + 1) & mask;
		if (m->xfers[i].easy == NULL)
			break;
		home = xfer_slot(m, m->xfers[i].easy);
		/* move entry i into the hole unless its home lies cyclically in (hole, i] */
		if (((i - home) & mask) >= ((i - hole) & mask))
		{
			m->xfers[hole] = m->xfers[i];
			hole = i;
		}
	}
	m->xfers[hole].easy = NULL;
	if (--m->xfer_len == 0)
	{
		loop_release(m->loop);
		arm_timer(m);
	}
}

/* Hand every finished transfer back to its owner, after removing it. */
static void
run_completions(struct http_multi *m)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(m->multi, &left)) != NULL)
	{
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result; /* msg is invalid once the handle is removed */
		struct transfer *slot;
		struct transfer xfer;

		if (msg->msg != CURLMSG_DONE)
			continue;
		slot = xfer_find(m, easy);
		if (slot->easy == NULL)
			continue;
		xfer = *slot;
		curl_multi_remove_handle(m->multi, easy);
		xfer_erase(m, slot);
		xfer.done(xfer.arg, easy, result);
	}
}

/* One curl_multi_socket_action() call, then the completions it produced. */
static void
socket_action(struct http_multi *m, curl_socket_t fd, int mask)
{
	int running;
	CURLMcode mc = curl_multi_socket_action(m->multi, fd, mask, &running);

	if (mc != CURLM_OK)
	{
		log_error("libcurl multi interface failed: %s", curl_multi_strerror(mc));
		loop_fail(m->loop);
		return;
	}
	run_completions(m);
}

/* A libcurl socket is ready. */
static void
on_ready(void *arg, int fd, short revents)
{
	socket_action(arg, fd,
	              ((revents & POLLIN) ? CURL_CSELECT_IN : 0) |
	                  ((revents & POLLOUT) ? CURL_CSELECT_OUT : 0) |
	                  ((revents & (POLLERR | POLLHUP)) ? CURL_CSELECT_ERR : 0));
}

/* libcurl's timeout expired. */
static void
on_timeout(void *arg)
{
	struct http_multi *m = arg;

	m->timer = NULL;
	m->deadline_ns = -1;
	socket_action(m, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_SOCKETFUNCTION: mirror libcurl's interest in a socket into a weak watch. */
static int
on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http_multi *m = userp;
	short events = LOOP_WEAK;

	if (what == CURL_POLL_REMOVE)
		return loop_watch_fd(m->loop, fd, 0, NULL, NULL);
	if (what & CURL_POLL_IN)
		events |= POLLIN;
	if (what & CURL_POLL_OUT)
		events |= POLLOUT;
	return loop_watch_fd(m->loop, fd, events, on_ready, m) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: remember when libcurl wants its timeout run. */
static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_multi *m = userp;

	m->deadline_ns = timeout_ms < 0 ? -1 : loop_now(m->loop) + timeout_ms * NS_PER_MS;
	arm_timer(m);
	return 0;
}

/* A multi handle in socket mode, wired to the loop. */
struct http_multi *
http_multi_new(struct loop *loop)
{
	struct http_multi *m = xcalloc(1, sizeof(*m));

	m->loop = loop;
	m->deadline_ns = -1;
	m->multi = curl_multi_init();
	if (m->multi == NULL)
	{
		free(m);
		return NULL;
	}
	xfer_grow(m);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	return m;
}

/* Remove what is still running (without callbacks) and free everything. */
void
http_multi_free(struct http_multi *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->xfer_cap; i++)
		if (m->xfers[i].easy != NULL)
			curl_multi_remove_handle(m->multi, m->xfers[i].easy);
	if (m->xfer_len > 0)
		loop_release(m->loop);
	m->xfer_len = 0;
	if (m->multi != NULL)
		curl_multi_cleanup(m->multi); /* removes its sockets' watches */
	loop_cancel_timer(m->loop, m->timer);
	free(m->xfers);
	free(m);
}

/* The loop. */
struct loop *
http_multi_loop(struct http_multi *m)
{
	return m->loop;
}

/* The multi handle. */
CURLM *
http_multi_handle(struct http_multi *m)
{
	return m->multi;
}

/* Register the transfer, then hand the easy handle to libcurl. */
int
http_multi_add(struct http_multi *m, CURL *easy, http_multi_done_fn done, void *arg)
{
	struct transfer *slot;

	if (2 * (m->xfer_len + 1) > m->xfer_cap)
		xfer_grow(m);
	slot = xfer_find(m, easy);
	if (slot->easy != NULL)
		return -1; /* already running */
	if (curl_multi_add_handle(m->multi, easy) != CURLM_OK)
		return -1;
	slot->easy = easy;
	slot->done = done;
	slot->arg = arg;
	if (m->xfer_len++ == 0)
	{
		loop_hold(m->loop);
		arm_timer(m);
	}
	return 0;
}

/* Detach the transfer from the multi handle and forget it. */
void
http_multi_cancel(struct http_multi *m, CURL *easy)
{
	struct transfer *slot = xfer_find(m, easy);

	if (slot->easy == NULL)
		return;
	curl_multi_remove_handle(m->multi, easy);
	xfer_erase(m, slot);
}
