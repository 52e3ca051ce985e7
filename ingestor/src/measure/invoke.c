/*
 * invoke.c - the per-invocation state machine (see invoke.h).
 *
 * An invocation holds references for the callbacks still owed to it: one
 * until it is finished, one while a token request is outstanding (a token
 * source cannot be cancelled) and one while its pending row is unconfirmed
 * (that round trip is the "db" phase).  It is freed when the last one is
 * released, so a late callback never touches freed memory.  What the rows
 * say is invoke_row.c's business: this file only gathers the facts.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "measure/invoke.h"
#include "measure/invoke_row.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/uuid.h"
#include "util/version.h"
#include "util/wipe.h"

#define EXCERPT_LEN 200
#define ERROR_LEN   (STREAM_ERROR_LEN + 128)

struct invocation
{
	struct invoke_env *env;
	bool write_rows;
	invoke_done_fn done;
	void *done_arg;
	struct dlist_node node; /* in env->live */
	int refs;
	bool finished;

	char id[UUID_STR_LEN];
	char session_buf[UUID_STR_LEN];
	const char *session_id;
	int64_t t0_ns;
	double t0_wall;
	struct loop_timer *deadline;

	bool token_known;
	double token_ms;
	bool token_cache_hit;
	char *token; /* kept only to invalidate it after a 401; wiped when freed */
	bool retried;
	double db_ms;         /* NAN until the pending row is confirmed */
	uint64_t pending_seq; /* the pending row's journal record, held until the final row's */

	char *body;
	size_t body_len;
	struct curl_slist *request_headers;
	CURL *easy;
	char curl_error[CURL_ERROR_SIZE];
	struct stream_observer *observer;
	bool observer_finished;
	int64_t http_start_ns;
	long status;
	char content_type[128];
	char excerpt[EXCERPT_LEN + 1];
	size_t excerpt_len;
};

static void on_token(void *arg, const struct token_result *result);
static void invocation_abort(struct invocation *inv, const char *reason);

/* Free the header list, wiping the Authorization entry first. */
static void
free_headers(struct curl_slist *list)
{
	for (struct curl_slist *h = list; h != NULL; h = h->next)
		if (strncasecmp(h->data, "Authorization:", 14) == 0)
			explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(list);
}

/* Release what the HTTP attempt holds (the transfer is no longer running). */
static void
http_cleanup(struct invocation *inv)
{
	if (inv->easy != NULL)
		curl_easy_cleanup(inv->easy);
	inv->easy = NULL;
	free_headers(inv->request_headers);
	inv->request_headers = NULL;
	stream_observer_free(inv->observer);
	inv->observer = NULL;
	inv->observer_finished = false;
	inv->status = 0;
	inv->content_type[0] = '\0';
	inv->excerpt_len = 0;
}

/* Unlink and free. */
static void
destroy(struct invocation *inv)
{
	dlist_delete(&inv->node);
	loop_cancel_timer(inv->env->loop, inv->deadline);
	http_cleanup(inv);
	wipe_free(inv->token);
	free(inv->body);
	free(inv);
}

/* Drop one reference; the last frees the invocation. */
static void
release(struct invocation *inv)
{
	if (--inv->refs == 0)
		destroy(inv);
}

/* The facts of the invocation so far, concluded at end_ns with error (NULL: complete);
 * times receives libcurl's timings when a connection was made or used. */
static struct invoke_facts
facts_of(struct invocation *inv, int64_t end_ns, const char *error,
         const struct stream_result *stream, struct invoke_http_times *times)
{
	struct invoke_facts f = {
	    .invocation_id = inv->id,
	    .agent_id = inv->env->config->agent_id,
	    .session_id = inv->session_id,
	    .t0_wall = inv->t0_wall,
	    .t0_ns = inv->t0_ns,
	    .end_ns = end_ns,
	    .error = error,
	    .token_known = inv->token_known,
	    .token_ms = inv->token_ms,
	    .token_cache_hit = inv->token_cache_hit,
	    .db_ms = inv->db_ms,
	    .http_start_ns = inv->http_start_ns,
	    .stream = stream,
	};
	curl_off_t dns = 0, connect = 0, tls = 0, pre = 0, first = 0;
	long connects = 0;

	if (inv->easy == NULL)
		return f;
	curl_easy_getinfo(inv->easy, CURLINFO_NAMELOOKUP_TIME_T, &dns);
	curl_easy_getinfo(inv->easy, CURLINFO_CONNECT_TIME_T, &connect);
	curl_easy_getinfo(inv->easy, CURLINFO_APPCONNECT_TIME_T, &tls);
	curl_easy_getinfo(inv->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
	curl_easy_getinfo(inv->easy, CURLINFO_STARTTRANSFER_TIME_T, &first);
	curl_easy_getinfo(inv->easy, CURLINFO_NUM_CONNECTS, &connects);
	if (connects == 0 && inv->status == 0)
		return f; /* no connection was made or used */
	*times = (struct invoke_http_times){connects == 0, dns, connect, tls, pre, first};
	f.http = times;
	return f;
}

/* Settle the observer once (truncation, missing text) and return its result. */
static const struct stream_result *
observed(struct invocation *inv, int64_t now_ns)
{
	if (inv->observer == NULL)
		return NULL;
	if (!inv->observer_finished)
	{
		stream_observer_finish(inv->observer, now_ns);
		inv->observer_finished = true;
	}
	return stream_observer_result(inv->observer);
}

/* The final row was confirmed (or given up on). */
static void
final_written(void *arg, bool written)
{
	struct invoke_env *env = arg;

	if (written)
		env->rows_written++;
}

/* End the invocation: queue its row, report the outcome, drop the run's reference. */
static void
finish(struct invocation *inv, int64_t now_ns, const char *error, bool unreachable)
{
	struct invoke_outcome out = {.unreachable = unreachable, .warmup = !inv->write_rows};
	struct invoke_http_times times;
	struct invoke_facts facts;

	if (inv->finished)
		return;
	inv->finished = true;
	loop_cancel_timer(inv->env->loop, inv->deadline);
	inv->deadline = NULL;
	facts = facts_of(inv, now_ns, error, observed(inv, now_ns), &times);
	invoke_row_record(&facts, &out.record);
	if (inv->write_rows)
	{
		pg_writer_put(inv->env->writer, invoke_row_final(&facts), final_written, inv->env);
		pg_writer_release(inv->env->writer, inv->pending_seq);
	}
	inv->done(inv->done_arg, &out);
	http_cleanup(inv);
	release(inv);
}

/* Keep a short, printable excerpt of an error body (never the headers). */
static void
keep_excerpt(struct invocation *inv, const char *data, size_t len)
{
	for (size_t i = 0; i < len && inv->excerpt_len < EXCERPT_LEN; i++)
	{
		char c = isprint((unsigned char) data[i]) ? data[i] : ' ';

		if (c == ' ' && (inv->excerpt_len == 0 || inv->excerpt[inv->excerpt_len - 1] == ' '))
			continue;
		inv->excerpt[inv->excerpt_len++] = c;
	}
	inv->excerpt[inv->excerpt_len] = '\0';
}

/* Body bytes: stamp them and feed the observer; nothing else happens here. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct invocation *inv = arg;
	size_t len = size * nmemb;
	int64_t now_ns = clock_mono_ns();

	if (inv->status >= 300)
		keep_excerpt(inv, data, len);
	else if (stream_observer_feed(inv->observer, data, len, now_ns) != 0)
		return CURL_WRITEFUNC_ERROR; /* the stream failed: stop reading it */
	return len;
}

/* Header lines: the final status and its Content-Type. */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct invocation *inv = arg;
	size_t len = size * nmemb;
	static const char ct[] = "content-type:";

	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
		inv->content_type[0] = '\0';
	else if (len > sizeof(ct) - 1 && strncasecmp(data, ct, sizeof(ct) - 1) == 0)
	{
		size_t start = sizeof(ct) - 1;
		size_t end = len;

		while (start < end && (data[start] == ' ' || data[start] == '\t'))
			start++;
		while (end > start && isspace((unsigned char) data[end - 1]))
			end--;
		if (end - start >= sizeof(inv->content_type))
			end = start + sizeof(inv->content_type) - 1;
		memcpy(inv->content_type, data + start, end - start);
		inv->content_type[end - start] = '\0';
	}
	else if (len <= 2 && (data[0] == '\r' || data[0] == '\n'))
	{
		long code = 0;

		curl_easy_getinfo(inv->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200 && inv->status == 0) /* not again after trailers */
		{
			inv->status = code;
			stream_observer_set_content_type(inv->observer,
			                                 inv->content_type[0] ? inv->content_type : NULL);
		}
	}
	return len;
}

/* The transfer ended: retry after a 401 once, else conclude. */
static void
on_http_done(void *arg, CURL *easy, CURLcode result)
{
	struct invocation *inv = arg;
	int64_t now_ns = clock_mono_ns();
	const struct stream_result *r;
	char error[ERROR_LEN];

	if (inv->status == 401 && !inv->retried && inv->token != NULL)
	{
		log_debug("invocation %s: HTTP 401, fetching a new token and retrying once", inv->id);
		inv->retried = true;
		token_source_invalidate(inv->env->tokens, inv->token);
		wipe_free(inv->token);
		inv->token = NULL;
		http_cleanup(inv);
		inv->refs++;
		token_source_get(inv->env->tokens, on_token, inv);
		return;
	}
	r = observed(inv, now_ns);
	if (inv->status >= 400)
		snprintf(error, sizeof(error), "HTTP %ld: %s", inv->status,
		         inv->excerpt_len ? inv->excerpt : "(empty body)");
	else if (inv->status >= 300)
		snprintf(error, sizeof(error), "HTTP %ld: redirects are not followed; use the final URL",
		         inv->status);
	else if (result == CURLE_WRITE_ERROR && r->failed)
		snprintf(error, sizeof(error), "%s", r->error); /* we stopped reading a failed stream */
	else if (result != CURLE_OK)
		snprintf(error, sizeof(error), "%s: %s", inv->status != 0 ? "stream cut" : "request failed",
		         inv->curl_error[0] ? inv->curl_error : curl_easy_strerror(result));
	else if (r->failed)
		snprintf(error, sizeof(error), "%s", r->error);
	else /* complete; without answer text (tool calls only) its ttft_ms is NULL */
	{
		finish(inv, now_ns, NULL, false);
		return;
	}
	finish(inv, now_ns, error,
	       result == CURLE_COULDNT_CONNECT || result == CURLE_COULDNT_RESOLVE_HOST);
}

/* Build the request and hand it to the loop. */
static void
start_http(struct invocation *inv)
{
	const struct invoke_config *cfg = inv->env->config;
	struct agent_request request = {cfg->prompt, inv->session_id, cfg->model};
	struct curl_slist *headers;
	CURL *easy;

	if (inv->body == NULL)
		inv->body = agent_format_request_body(cfg->format, &request, &inv->body_len);
	headers = agent_format_request_headers(cfg->format, &request, NULL);
	for (size_t i = 0; i < cfg->n_headers && headers != NULL; i++)
		headers = curl_slist_append(headers, cfg->headers[i]);
	if (headers != NULL)
		headers = curl_slist_append(headers, "Expect:");
	if (headers != NULL)
	{
		char id_header[64];

		snprintf(id_header, sizeof(id_header), "X-Loomlat-Invocation-Id: %s", inv->id);
		headers = curl_slist_append(headers, id_header);
	}
	if (headers != NULL && inv->token != NULL)
	{
		char *auth = xasprintf("Authorization: Bearer %s", inv->token);

		headers = curl_slist_append(headers, auth);
		wipe_free(auth);
	}
	inv->request_headers = headers;
	inv->observer = stream_observer_new(cfg->format, cfg->max_event_bytes);
	inv->easy = easy = curl_easy_init();
	if (inv->body == NULL || headers == NULL || inv->observer == NULL || easy == NULL)
	{
		finish(inv, clock_mono_ns(), "out of memory preparing the request", false);
		return;
	}
	inv->curl_error[0] = '\0';
	curl_easy_setopt(easy, CURLOPT_URL, cfg->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, inv->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) inv->body_len);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "loomlat/" LOOMLAT_VERSION);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, inv);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, inv);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, inv->curl_error);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	/* wait for a multiplexed HTTP/2 stream rather than open a connection each,
	 * where one is possible; elsewhere waiting only delays the request */
	if (!cfg->http1_1 && strncasecmp(cfg->url, "https://", 8) == 0)
		curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
	                 cfg->http1_1 ? (long) CURL_HTTP_VERSION_1_1 : (long) CURL_HTTP_VERSION_2TLS);
	inv->http_start_ns = clock_mono_ns();
	if (http_multi_add(inv->env->http, easy, on_http_done, inv) != 0)
		finish(inv, clock_mono_ns(), "cannot start the HTTP transfer", false);
}

/* The token arrived (or failed): start the request. */
static void
on_token(void *arg, const struct token_result *result)
{
	struct invocation *inv = arg;

	bool has_token = result->access_token != NULL && result->access_token[0] != '\0';

	if (!inv->finished)
	{
		if (has_token || result->error != NULL) /* else no token is configured: no phase */
		{
			inv->token_ms = inv->token_known ? inv->token_ms + result->wait_ms : result->wait_ms;
			if (!inv->token_known)
				inv->token_cache_hit = result->cache_hit;
			inv->token_known = true;
		}
		if (result->error != NULL)
		{
			char error[ERROR_LEN];

			snprintf(error, sizeof(error), "token: %s", result->error);
			finish(inv, clock_mono_ns(), error, false);
		}
		else
		{
			if (has_token)
				inv->token = xstrdup(result->access_token);
			start_http(inv);
		}
	}
	release(inv);
}

/* The pending row's round trip is the db phase; a late one is written on its own. */
static void
pending_written(void *arg, bool written)
{
	struct invocation *inv = arg;

	if (written)
	{
		inv->db_ms = clock_ms_between(inv->t0_ns, clock_mono_ns());
		if (inv->finished)
			pg_writer_put(inv->env->writer, invoke_row_late_db(inv->id, inv->db_ms), NULL, NULL);
	}
	release(inv);
}

/* The per-invocation ceiling passed. */
static void
on_deadline(void *arg)
{
	struct invocation *inv = arg;
	char reason[64];

	inv->deadline = NULL;
	snprintf(reason, sizeof(reason), "timed out after %.3g s",
	         (double) inv->env->config->timeout_ms / 1e3);
	invocation_abort(inv, reason);
}

/* t0, then the pending row and the token request at the same moment. */
struct invocation *
invocation_start(struct invoke_env *env, bool write_rows, invoke_done_fn done, void *arg)
{
	struct invocation *inv = xcalloc(1, sizeof(*inv));

	inv->t0_ns = clock_mono_ns();
	inv->t0_wall = clock_wall_s();
	inv->env = env;
	inv->write_rows = write_rows;
	inv->done = done;
	inv->done_arg = arg;
	inv->db_ms = NAN;
	if (uuid_v7((uint64_t) (inv->t0_wall * 1e3), inv->id) != 0 ||
	    (env->config->session_id == NULL &&
	     uuid_v7((uint64_t) (inv->t0_wall * 1e3), inv->session_buf) != 0))
	{
		free(inv);
		return NULL;
	}
	inv->session_id = env->config->session_id ? env->config->session_id : inv->session_buf;
	dlist_push_head(&env->live, &inv->node);
	inv->refs = 2; /* the run's, and the token request's */
	if (write_rows)
	{
		struct invoke_http_times none;
		struct invoke_facts facts = facts_of(inv, inv->t0_ns, NULL, NULL, &none);

		inv->refs++;
		inv->pending_seq =
		    pg_writer_put_held(env->writer, invoke_row_pending(&facts), pending_written, inv);
	}
	inv->deadline = loop_add_timer(env->loop, inv->t0_ns + env->config->timeout_ms * NS_PER_MS,
	                               on_deadline, inv);
	token_source_get(env->tokens, on_token, inv);
	return inv;
}

/* Stop the transfer if one runs and end as an error with what was measured. */
static void
invocation_abort(struct invocation *inv, const char *reason)
{
	if (inv->finished)
		return;
	if (inv->easy != NULL)
		http_multi_cancel(inv->env->http, inv->easy);
	finish(inv, clock_mono_ns(), reason, false);
}

/* Abort the first unfinished invocation until none is left; an abort may
 * free any invocation, so each search starts again from the head. */
void
invoke_env_abort(struct invoke_env *env, const char *reason)
{
	struct dlist_node *node = dlist_first(&env->live);

	while (node != NULL)
	{
		struct invocation *inv = dlist_container(struct invocation, node, node);

		if (inv->finished)
			node = dlist_next(&env->live, node);
		else
		{
			invocation_abort(inv, reason);
			node = dlist_first(&env->live);
		}
	}
}

/* Free what outstanding callbacks still hold. */
void
invoke_env_cleanup(struct invoke_env *env)
{
	struct dlist_node *node;

	while ((node = dlist_first(&env->live)) != NULL)
	{
		struct invocation *inv = dlist_container(struct invocation, node, node);

		if (inv->easy != NULL && !inv->finished)
			http_multi_cancel(env->http, inv->easy);
		destroy(inv);
	}
}
