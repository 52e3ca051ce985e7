/*
 * loop.h - the ingestor's single event loop.
 *
 * One thread, one loop: libcurl transfers (one multi handle, so connections,
 * DNS and TLS sessions are shared), timers, extra file descriptors (the
 * libpq socket, a signal pipe) and deferred calls are all driven by one
 * epoll wait with curl_multi_socket_action(), so a wake-up costs what is
 * ready, not what is running.  No callback may block; every callback runs on
 * the loop thread, never re-entrantly from inside another loop call.
 *
 * Ownership: the caller owns every CURL easy handle it adds; the loop only
 * adds it to and removes it from the multi handle.  A transfer's done
 * callback runs exactly once, after the handle was removed, unless the
 * transfer was cancelled with loop_cancel_transfer() first.
 */
#ifndef LOOMLAT_LOOP_H
#define LOOMLAT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

struct loop;
struct loop_timer;

typedef void (*loop_transfer_done_fn)(void *arg, CURL *easy, CURLcode result);
typedef void (*loop_fn)(void *arg);
/* revents is a mask of POLLIN/POLLOUT/POLLERR/POLLHUP from <poll.h>. */
typedef void (*loop_fd_fn)(void *arg, int fd, short revents);

struct loop *loop_new(void);
void loop_free(struct loop *loop);

/* The shared multi handle, for options such as CURLMOPT_MAX_HOST_CONNECTIONS. */
CURLM *loop_multi(struct loop *loop);

/* Start a configured transfer; done(arg, easy, result) runs when it ends. */
int loop_add_transfer(struct loop *loop, CURL *easy, loop_transfer_done_fn done, void *arg);

/* Abort a running transfer without calling its done callback. */
void loop_cancel_transfer(struct loop *loop, CURL *easy);

/* Call fn(arg) once, at or after the monotonic time at_ns.  Returns a handle. */
struct loop_timer *loop_add_timer(struct loop *loop, int64_t at_ns, loop_fn fn, void *arg);

/* Cancel a timer that has not fired yet (NULL is accepted and ignored). */
void loop_cancel_timer(struct loop *loop, struct loop_timer *timer);

/* Call fn(arg) on the next loop iteration; used to complete "synchronous"
 * results (a token cache hit) without re-entering the caller. */
void loop_defer(struct loop *loop, loop_fn fn, void *arg);

/* Watch fd for events (POLLIN and/or POLLOUT); events = 0 stops watching.
 * Calling it again for the same fd replaces the previous watch. */
int loop_watch_fd(struct loop *loop, int fd, short events, loop_fd_fn fn, void *arg);

/* Make loop_run() return after the current iteration (async-signal-safe). */
void loop_stop(struct loop *loop);

/* Run until loop_stop() or until no transfer, timer, deferred call or watched
 * fd remains.  Returns 0, or -1 on a libcurl multi error. */
int loop_run(struct loop *loop);

#endif
