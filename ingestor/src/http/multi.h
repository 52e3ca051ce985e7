/*
 * multi.h - libcurl transfers on the event loop.
 *
 * One multi handle per loop, so connections, DNS and TLS sessions are
 * shared.  libcurl is driven through its socket interface
 * (curl_multi_socket_action): its sockets become weak loop watches, its
 * timeout a loop timer, and each readiness event is handed to exactly the
 * transfer that owns the socket.  While a transfer runs it holds the loop.
 *
 * Ownership: the caller owns every CURL easy handle it adds; the multi only
 * adds it to and removes it from the multi handle.  A transfer's done
 * callback runs exactly once, after the handle was removed, unless the
 * transfer was cancelled with http_multi_cancel() first.  A libcurl multi
 * error makes loop_run() return -1 (loop_fail()).
 */
#ifndef LOOMLAT_HTTP_MULTI_H
#define LOOMLAT_HTTP_MULTI_H

#include <curl/curl.h>

#include "event/loop.h"

struct http_multi;

typedef void (*http_multi_done_fn)(void *arg, CURL *easy, CURLcode result);

/* A multi handle in socket mode on loop; NULL when libcurl cannot make one. */
struct http_multi *http_multi_new(struct loop *loop);

/* Remove what is still running (without callbacks), close the connections
 * and free; call before loop_free(). */
void http_multi_free(struct http_multi *multi);

/* The loop the transfers run on. */
struct loop *http_multi_loop(struct http_multi *multi);

/* The multi handle, for options such as CURLMOPT_MAX_HOST_CONNECTIONS. */
CURLM *http_multi_handle(struct http_multi *multi);

/* Start a configured transfer; done(arg, easy, result) runs when it ends. */
int http_multi_add(struct http_multi *multi, CURL *easy, http_multi_done_fn done, void *arg);

/* Abort a running transfer without calling its done callback. */
void http_multi_cancel(struct http_multi *multi, CURL *easy);

#endif
