/*
 * invoke_live.c - the ports of a real run: token_source, pg_writer and one
 * libcurl transfer per request (see invoke_live.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "measure/invoke_live.h"
#include "util/alloc.h"
#include "util/version.h"
#include "util/wipe.h"

struct invoke_transfer
{
	struct invoke_env *env;
	struct invocation *inv;
	CURL *easy;
	bool running; /* added to the multi and not yet done */
	char *body;
	size_t body_len;
	struct curl_slist *headers;
	char content_type[128];
	char error[CURL_ERROR_SIZE];
};

/* token_source_get(). */
static void
get_token(struct invoke_env *env, token_ready_fn ready, void *arg)
{
	token_source_get(env->tokens, ready, arg);
}

/* token_source_invalidate(). */
static void
invalidate_token(struct invoke_env *env, const char *token)
{
	token_source_invalidate(env->tokens, token);
}

/* pg_writer_put(), or pg_writer_put_held() when held. */
static uint64_t
put_row(struct invoke_env *env, json_t *row, bool held, pg_writer_done_fn done, void *arg)
{
	if (held)
		return pg_writer_put_held(env->writer, row, done, arg);
	pg_writer_put(env->writer, row, done, arg);
	return 0;
}

/* pg_writer_release(). */
static void
release_row(struct invoke_env *env, uint64_t seq)
{
	pg_writer_release(env->writer, seq);
}

/* pg_writer_drain(). */
static void
drain_rows(struct invoke_env *env, int timeout_ms, loop_fn drained, void *arg)
{
	pg_writer_drain(env->writer, timeout_ms, drained, arg);
}

/* The token source's count of token endpoint requests. */
static unsigned long
token_requests(struct invoke_env *env)
{
	struct token_source_stats stats;

	token_source_get_stats(env->tokens, &stats);
	return stats.token_requests;
}

/* Body bytes: stamped now and handed over; CURL_WRITEFUNC_ERROR stops the transfer. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct invoke_transfer *t = arg;
	size_t len = size * nmemb;

	if (invocation_on_body(t->inv, data, len, loop_now(t->env->loop)) != 0)
		return CURL_WRITEFUNC_ERROR;
	return len;
}

/* Remember a Content-Type header's value, trimmed. */
static void
keep_content_type(struct invoke_transfer *t, const char *data, size_t len, size_t start)
{
	size_t end = len;

	while (start < end && (data[start] == ' ' || data[start] == '\t'))
		start++;
	while (end > start && isspace((unsigned char) data[end - 1]))
		end--;
	if (end - start >= sizeof(t->content_type))
		end = start + sizeof(t->content_type) - 1;
	memcpy(t->content_type, data + start, end - start);
	t->content_type[end - start] = '\0';
}

/* Header lines: a status line starts a block, the blank line ends it and,
 * for a final status, reports it with the block's Content-Type. */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct invoke_transfer *t = arg;
	size_t len = size * nmemb;
	static const char ct[] = "content-type:";

	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
		t->content_type[0] = '\0';
	else if (len > sizeof(ct) - 1 && strncasecmp(data, ct, sizeof(ct) - 1) == 0)
		keep_content_type(t, data, len, sizeof(ct) - 1);
	else if (len <= 2 && (data[0] == '\r' || data[0] == '\n'))
	{
		long code = 0;

		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200)
			invocation_on_status(t->inv, code, t->content_type[0] ? t->content_type : NULL);
	}
	return len;
}

/* The transfer ended: libcurl's result as the end's error. */
static void
on_done(void *arg, CURL *easy, CURLcode result)
{
	struct invoke_transfer *t = arg;

	t->running = false;
	if (result == CURLE_OK)
		invocation_on_end(t->inv, NULL, false);
	else
		invocation_on_end(t->inv, t->error[0] ? t->error : curl_easy_strerror(result),
		                  result == CURLE_COULDNT_CONNECT || result == CURLE_COULDNT_RESOLVE_HOST);
}

/* Free the header list, wiping the Authorization entry first. */
static void
free_headers(struct curl_slist *list)
{
	for (struct curl_slist *h = list; h != NULL; h = h->next)
		if (strncasecmp(h->data, "Authorization:", 14) == 0)
			explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(list);
}

/* The request headers: the format's, the user's, the invocation id and the token. */
static struct curl_slist *
request_headers(const struct invoke_config *cfg, const struct agent_request *request,
                const struct invoke_call *call)
{
	struct curl_slist *headers = agent_format_request_headers(cfg->format, request, NULL);
	char id_header[64];

	for (size_t i = 0; i < cfg->n_headers && headers != NULL; i++)
		headers = curl_slist_append(headers, cfg->headers[i]);
	if (headers != NULL)
		headers = curl_slist_append(headers, "Expect:");
	snprintf(id_header, sizeof(id_header), "X-Loomlat-Invocation-Id: %s", call->invocation_id);
	if (headers != NULL)
		headers = curl_slist_append(headers, id_header);
	if (headers != NULL && call->token != NULL)
	{
		char *auth = xasprintf("Authorization: Bearer %s", call->token);

		headers = curl_slist_append(headers, auth);
		wipe_free(auth);
	}
	return headers;
}

static void stop_request(struct invoke_env *env, struct invoke_transfer *t);

/* Build the transfer and add it to the multi; NULL when it cannot be. */
static struct invoke_transfer *
start_request(struct invoke_env *env, const struct invoke_call *call)
{
	const struct invoke_config *cfg = env->config;
	struct agent_request request = {cfg->prompt, call->session_id, cfg->model};
	struct invoke_transfer *t = xcalloc(1, sizeof(*t));
	CURL *easy;

	t->env = env;
	t->inv = call->inv;
	t->body = agent_format_request_body(cfg->format, &request, &t->body_len);
	t->headers = request_headers(cfg, &request, call);
	t->easy = easy = curl_easy_init();
	if (t->body == NULL || t->headers == NULL || easy == NULL)
	{
		stop_request(env, t);
		return NULL;
	}
	curl_easy_setopt(easy, CURLOPT_URL, cfg->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) t->body_len);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "loomlat/" LOOMLAT_VERSION);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	/* wait for a multiplexed HTTP/2 stream rather than open a connection each,
	 * where one is possible; elsewhere waiting only delays the request */
	if (!cfg->http1_1 && strncasecmp(cfg->url, "https://", 8) == 0)
		curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
	                 cfg->http1_1 ? (long) CURL_HTTP_VERSION_1_1 : (long) CURL_HTTP_VERSION_2TLS);
	if (http_multi_add(env->http, easy, on_done, t) != 0)
	{
		stop_request(env, t);
		return NULL;
	}
	t->running = true;
	return t;
}

/* libcurl's timings; none when no connection was made or used. */
static bool
request_times(struct invoke_transfer *t, struct invoke_http_times *times)
{
	curl_off_t dns = 0, connect = 0, tls = 0, pre = 0, first = 0;
	long connects = 0, code = 0;

	curl_easy_getinfo(t->easy, CURLINFO_NAMELOOKUP_TIME_T, &dns);
	curl_easy_getinfo(t->easy, CURLINFO_CONNECT_TIME_T, &connect);
	curl_easy_getinfo(t->easy, CURLINFO_APPCONNECT_TIME_T, &tls);
	curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
	curl_easy_getinfo(t->easy, CURLINFO_STARTTRANSFER_TIME_T, &first);
	curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &connects);
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
	if (connects == 0 && code == 0)
		return false;
	*times = (struct invoke_http_times){connects == 0, dns, connect, tls, pre, first};
	return true;
}

/* Cancel the transfer if it runs, then free it. */
static void
stop_request(struct invoke_env *env, struct invoke_transfer *t)
{
	if (t->running)
		http_multi_cancel(env->http, t->easy);
	if (t->easy != NULL)
		curl_easy_cleanup(t->easy);
	free_headers(t->headers);
	free(t->body);
	free(t);
}

const struct invoke_ports invoke_live_ports = {
    .get_token = get_token,
    .invalidate_token = invalidate_token,
    .put_row = put_row,
    .release_row = release_row,
    .start_request = start_request,
    .request_times = request_times,
    .stop_request = stop_request,
    .drain_rows = drain_rows,
    .token_requests = token_requests,
};
