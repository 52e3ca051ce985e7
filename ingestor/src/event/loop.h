/*
 * loop.h - the ingestor's single event loop.
 *
 * One thread, one loop: timers, watched file descriptors (libcurl's sockets
 * through http/multi.h, the libpq socket, a signal pipe) and deferred calls
 * are all driven by one epoll wait, so a wake-up costs what is ready, not
 * what is running.  No callback may block; every callback runs on the loop
 * thread, never re-entrantly from inside another loop call.  The loop knows
 * nothing of HTTP or PostgreSQL.
 *
 * Time comes from the loop's clock: loop_now() for everything scheduled on
 * the loop.  loop_new() takes CLOCK_MONOTONIC; a test passes its own clock,
 * whose idle() may move its time to the next deadline instead of sleeping,
 * so timers fire at exact, repeatable times.
 */
#ifndef LOOMLAT_LOOP_H
#define LOOMLAT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

/* An events bit for loop_watch_fd(): the watch alone does not keep
 * loop_run() running (libcurl's idle connections; their transfers hold it). */
#define LOOP_WEAK 0x4000

struct loop;
struct loop_timer;

typedef void (*loop_fn)(void *arg);

/* Where the loop's time comes from. */
struct loop_clock
{
	/* The time now, in monotonic nanoseconds. */
	int64_t (*now_ns)(void *arg);
	/* Nothing is due before deadline_ns (-1: no timer is queued): how many
	 * milliseconds epoll_wait() may block. */
	int (*idle_ms)(void *arg, int64_t now_ns, int64_t deadline_ns);
	void *arg;
};
/* revents is a mask of POLLIN/POLLOUT/POLLERR/POLLHUP from <poll.h>. */
typedef void (*loop_fd_fn)(void *arg, int fd, short revents);

/* A new loop on CLOCK_MONOTONIC; NULL when epoll or eventfd cannot be had. */
struct loop *loop_new(void);

/* The same on another clock (copied). */
struct loop *loop_new_with_clock(const struct loop_clock *clock);
void loop_free(struct loop *loop);

/* The loop's clock, now. */
int64_t loop_now(const struct loop *loop);

/* Call fn(arg) once, at or after the time at_ns (loop_now()'s clock).  Returns a handle. */
struct loop_timer *loop_add_timer(struct loop *loop, int64_t at_ns, loop_fn fn, void *arg);

/* Cancel a timer that has not fired yet (NULL is accepted and ignored). */
void loop_cancel_timer(struct loop *loop, struct loop_timer *timer);

/* Call fn(arg) on the next loop iteration; used to complete "synchronous"
 * results (a token cache hit) without re-entering the caller. */
void loop_defer(struct loop *loop, loop_fn fn, void *arg);

/* Watch fd for events (POLLIN and/or POLLOUT, maybe LOOP_WEAK); events = 0
 * stops watching.  Calling it again for the same fd replaces the previous
 * watch.  Finding the watch of an fd costs O(1). */
int loop_watch_fd(struct loop *loop, int fd, short events, loop_fd_fn fn, void *arg);

/* Count work the loop cannot see (a running transfer between its sockets):
 * loop_run() does not run out of work while a hold remains. */
void loop_hold(struct loop *loop);
void loop_release(struct loop *loop);

/* Make loop_run() return after the current iteration (async-signal-safe). */
void loop_stop(struct loop *loop);

/* Stop as loop_stop() does, and make loop_run() return -1: a layer above
 * met an error the loop cannot go on from. */
void loop_fail(struct loop *loop);

/* Run until loop_stop() or until no hold, timer, deferred call or watched fd
 * (but a weak one) remains.  Returns 0, or -1 on an epoll error or loop_fail(). */
int loop_run(struct loop *loop);

#endif
