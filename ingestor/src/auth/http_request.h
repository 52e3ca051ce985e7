/*
 * http_request.h - one hardened HTTP request of the auth layer, on the loop.
 *
 * Token, discovery and secret requests share the same rules: https only
 * (http too when allowed, for loopback tests), URLs without user info, no
 * redirects (credentials never follow a Location), connect and total
 * timeouts, a response body capped at HTTP_REQUEST_MAX_BODY bytes, and at
 * most HTTP_REQUEST_ATTEMPTS attempts: a network error, a 429 or a 5xx is
 * retried after a capped, jittered backoff (or the server's Retry-After, also
 * capped) on a loop timer.  Any other answer, 4xx included, ends the request.
 *
 * The body may hold a token or a secret: it is wiped when another attempt
 * starts and when the request is freed, and so are the extra headers.
 * Nothing here logs.
 */
#ifndef LOOMLAT_HTTP_REQUEST_H
#define LOOMLAT_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "http/multi.h"

#define HTTP_REQUEST_MAX_BODY (64 * 1024)
#define HTTP_REQUEST_ATTEMPTS 3

struct http_response
{
	long status;      /* HTTP status; 0 when no response arrived */
	const char *body; /* NUL-terminated (the body may hold NULs too) */
	size_t body_len;
	int64_t sent_ns;   /* monotonic start of the attempt that answered */
	const char *error; /* why no usable response arrived, else NULL */
};

/* Runs once per http_request_start(); the response is valid during the call. */
typedef void (*http_done_fn)(void *arg, const struct http_response *response);

struct http_request;

/* 0 when url is absolute, http(s) as allowed and has no user info; else -1
 * with a message in err naming what is wrong. */
int http_url_check(const char *url, bool allow_http, char *err, size_t errlen);

/*
 * A GET of url (set a body on http_request_easy() for a POST).  Every attempt
 * increments *attempts.  NULL when libcurl cannot set it up; the URL is
 * expected to have passed http_url_check().
 */
struct http_request *http_request_new(struct http_multi *http, const char *url, bool allow_http,
                                      unsigned long *attempts);

/* The easy handle, for the method, body and authentication options. */
CURL *http_request_easy(struct http_request *request);

/* Add a request header ("Name: value"); -1 when libcurl cannot. */
int http_request_add_header(struct http_request *request, const char *header);

/*
 * Send the request; done(arg, response) runs later on the loop, never
 * before this returns.
 */
void http_request_start(struct http_request *request, http_done_fn done, void *arg);

/* Cancel whatever runs (done is not called) and free, wiping body and headers. */
void http_request_free(struct http_request *request);

/* Copy text a server sent into dst for an error message: at most 160 bytes,
 * anything but printable ASCII replaced by '?', "..." when cut. */
void http_safe_text(char *dst, size_t dstlen, const char *src);

#endif
