/*
 * http_request.c - one hardened HTTP request of the auth layer, with bounded
 * retries on loop timers (see http_request.h for the contract).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/http_request.h"
#include "util/alloc.h"
#include "util/clock.h"

#define CONNECT_TIMEOUT_MS 5000
#define TOTAL_TIMEOUT_MS   15000
#define BACKOFF_BASE_MS    250
#define BACKOFF_CAP_MS     2000

struct http_request
{
	struct http_multi *http;
	struct loop *loop; /* http's */
	CURL *easy;
	struct curl_slist *headers;
	unsigned long *attempts;
	int attempt; /* attempts made by this request */
	bool running;
	bool too_large;
	struct loop_timer *timer;
	http_done_fn done;
	void *done_arg;
	struct http_response response; /* handed over by finish() */
	int64_t sent_ns;
	size_t body_len;
	char errbuf[CURL_ERROR_SIZE];
	char body[HTTP_REQUEST_MAX_BODY + 1];
};

/* Check scheme and user info of url. */
int
http_url_check(const char *url, bool allow_http, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *user = NULL;
	int rc = -1;

	if (u == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		snprintf(err, errlen, "\"%s\" is not an absolute URL", url);
	else if (strcmp(scheme, "https") != 0 && !(allow_http && strcmp(scheme, "http") == 0))
		snprintf(err, errlen, "\"%s\" must use https%s", url,
		         allow_http ? " or http" : " (http only with --allow-http)");
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		snprintf(err, errlen, "URL must not contain user info; give credentials separately");
	else
		rc = 0;
	curl_free(scheme);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

/* libcurl write callback: keep the body, refuse to grow past the cap. */
static size_t
write_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_request *request = arg;
	size_t n = size * nmemb;

	if (n > HTTP_REQUEST_MAX_BODY - request->body_len)
	{
		request->too_large = true;
		return 0;
	}
	memcpy(request->body + request->body_len, data, n);
	request->body_len += n;
	return n;
}

/* Make a request with the options every auth request shares. */
struct http_request *
http_request_new(struct http_multi *http, const char *url, bool allow_http, unsigned long *attempts)
{
	struct http_request *request = xcalloc(1, sizeof(*request));
	CURL *easy;

	if ((easy = curl_easy_init()) == NULL)
	{
		free(request);
		return NULL;
	}
	request->http = http;
	request->loop = http_multi_loop(http);
	request->easy = easy;
	request->attempts = attempts;
	if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, allow_http ? "http,https" : "https") !=
	        CURLE_OK)
	{
		http_request_free(request);
		return NULL;
	}
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) CONNECT_TIMEOUT_MS);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) TOTAL_TIMEOUT_MS);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "loomlat");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, request);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, request->errbuf);
	return request;
}

/* The easy handle, for request-specific options. */
CURL *
http_request_easy(struct http_request *request)
{
	return request->easy;
}

/* Append a header to the request's list. */
int
http_request_add_header(struct http_request *request, const char *header)
{
	struct curl_slist *list = curl_slist_append(request->headers, header);

	if (list == NULL)
		return -1;
	request->headers = list;
	curl_easy_setopt(request->easy, CURLOPT_HTTPHEADER, list);
	return 0;
}

/* Deliver the prepared response to the owner, who may free the request. */
static void
finish(void *arg)
{
	struct http_request *request = arg;

	request->timer = NULL;
	request->done(request->done_arg, &request->response);
}

/* Hand the owner a failure or a response, on the next loop iteration. */
static void
deliver(struct http_request *request, long status, const char *error)
{
	request->body[request->body_len] = '\0';
	request->response = (struct http_response){
	    .status = status,
	    .body = request->body,
	    .body_len = request->body_len,
	    .sent_ns = request->sent_ns,
	    .error = error,
	};
	request->timer = loop_add_timer(request->loop, loop_now(request->loop), finish, request);
}

static void send_attempt(void *arg);

/* Milliseconds to wait before attempt number request->attempt + 1. */
static int64_t
backoff_ms(const struct http_request *request, long retry_after_s)
{
	int64_t ms = (int64_t) BACKOFF_BASE_MS << (request->attempt - 1);

	if (ms > BACKOFF_CAP_MS)
		ms = BACKOFF_CAP_MS;
	if (retry_after_s > 0)
		return retry_after_s * 1000 < BACKOFF_CAP_MS ? retry_after_s * 1000 : BACKOFF_CAP_MS;
	/* Jitter in [ms/2, ms), so that many clients do not retry in step. */
	return ms / 2 + (int64_t) ((uint64_t) clock_mono_ns() % (uint64_t) (ms / 2));
}

/* Retry after a backoff when attempts are left, else deliver the failure. */
static void
retry_or_deliver(struct http_request *request, long status, const char *error, long retry_after_s)
{
	int64_t at_ns;

	if (request->attempt >= HTTP_REQUEST_ATTEMPTS)
	{
		deliver(request, status, error);
		return;
	}
	at_ns = loop_now(request->loop) + backoff_ms(request, retry_after_s) * NS_PER_MS;
	request->timer = loop_add_timer(request->loop, at_ns, send_attempt, request);
}

/* Transfer done: classify the outcome as final or worth another attempt. */
static void
transfer_done(void *arg, CURL *easy, CURLcode result)
{
	struct http_request *request = arg;
	long status = 0;
	curl_off_t retry_after = 0;

	request->running = false;
	if (result != CURLE_OK)
	{
		if (request->too_large)
			deliver(request, 0, "response larger than 64 KiB");
		else
			retry_or_deliver(request, 0,
			                 request->errbuf[0] ? request->errbuf : curl_easy_strerror(result), 0);
		return;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status == 429 || status >= 500)
	{
		curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after);
		retry_or_deliver(request, status, NULL, (long) retry_after);
	}
	else
		deliver(request, status, NULL);
}

/* Start one attempt with a clean body. */
static void
send_attempt(void *arg)
{
	struct http_request *request = arg;

	request->timer = NULL;
	explicit_bzero(request->body, request->body_len);
	request->body_len = 0;
	request->too_large = false;
	request->errbuf[0] = '\0';
	request->attempt++;
	(*request->attempts)++;
	request->sent_ns = clock_mono_ns();
	if (http_multi_add(request->http, request->easy, transfer_done, request) != 0)
	{
		retry_or_deliver(request, 0, "cannot start the transfer", 0);
		return;
	}
	request->running = true;
}

/* Begin the first attempt. */
void
http_request_start(struct http_request *request, http_done_fn done, void *arg)
{
	request->done = done;
	request->done_arg = arg;
	request->attempt = 0;
	send_attempt(request);
}

/* Cancel, wipe and free. */
void
http_request_free(struct http_request *request)
{
	if (request == NULL)
		return;
	if (request->running)
		http_multi_cancel(request->http, request->easy);
	loop_cancel_timer(request->loop, request->timer);
	for (struct curl_slist *h = request->headers; h != NULL; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(request->headers);
	curl_easy_cleanup(request->easy);
	explicit_bzero(request->body, request->body_len);
	free(request);
}

/* Make server-provided text safe and short enough for an error message. */
void
http_safe_text(char *dst, size_t dstlen, const char *src)
{
	size_t limit = dstlen - 1 < 160 ? dstlen - 1 : 160;
	size_t i;

	for (i = 0; src[i] != '\0' && i < limit; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	if (src[i] != '\0' && i >= 3)
		memcpy(dst + i - 3, "...", 3);
	dst[i] = '\0';
}
