/*
 * token_source.c - bearer tokens for agent invocations (see token_source.h).
 *
 * Every token_source_get() becomes a token_request that waits in the token
 * cache.  The first miss for a key starts the fetch on the next loop
 * iteration, so nothing ever completes inside token_source_get():
 *
 *   [discovery]  GET the OIDC configuration once, cached for the process
 *   secret       from secret_source (cached, single flight of its own)
 *   token        POST to the token endpoint; invalid_client drops the
 *                secret and goes back to "secret" once
 *
 * A fixed bearer token is "fetched" by reading its file; an invalidated one
 * is read again.  Free a source only once loop_run() has returned and will
 * not run again: requests still pending are then released uncalled, but the
 * loop's deferred calls would still point at them.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/oauth_client.h"
#include "auth/secret_source.h"
#include "auth/token_cache.h"
#include "auth/token_source.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/dlist.h"
#include "util/log.h"
#include "util/wipe.h"

#define ERR_LEN 512

struct token_source
{
	enum token_mode mode;
	struct http_multi *http;
	struct loop *loop; /* http's */
	bool allow_http;
	struct token_cache *cache; /* tokens and the discovered endpoint */
	char *bearer_file;
	char *issuer;
	char *discovery_key;
	char *token_url; /* configured, or NULL until discovered */
	char *client_id;
	char *scopes;    /* normalised */
	char *token_key; /* NULL until token_url is known */
	struct secret_source *secrets;
	/* The token fetch in flight (one key, so at most one). */
	struct token_cache_waiter secret_waiter;
	struct http_request *request; /* token or discovery request */
	char *secret;                 /* during the token request, for redaction */
	bool secret_refetched;
	struct dlist_head pending; /* token_requests asked, not yet answered */
	struct token_source_stats stats;
};

/* One token_source_get(), until its callback has run. */
struct token_request
{
	struct token_cache_waiter waiter; /* first: the cache hands it back */
	struct token_source *source;
	token_ready_fn ready;
	void *arg;
	int64_t asked_ns;
	bool hit;
	char *token; /* a cached token or an error, kept for deferred delivery */
	char *error;
	struct dlist_node node; /* in the source's pending list */
};

/* Unlink a request from the pending list and free it. */
static void
release(struct token_request *request)
{
	dlist_delete(&request->node);
	wipe_free(request->token);
	free(request->error);
	free(request);
}

/* Run the caller's callback once and free the request. */
static void
deliver(struct token_request *request, const char *token, const char *error)
{
	struct token_result result = {
	    .access_token = error ? NULL : token,
	    .error = error,
	    .cache_hit = request->hit,
	    .wait_ms = clock_ms_between(request->asked_ns, clock_mono_ns()),
	};

	request->ready(request->arg, &result);
	release(request);
}

/* Deliver what token_source_get() prepared, one loop iteration later. */
static void
deliver_deferred(void *arg)
{
	struct token_request *request = arg;

	deliver(request, request->token, request->error);
}

/* Queue the delivery of a copy of token or error. */
static void
defer_result(struct token_request *request, const char *token, const char *error)
{
	if (token != NULL)
		request->token = xstrdup(token);
	if (error != NULL)
		request->error = xstrdup(error);
	loop_defer(request->source->loop, deliver_deferred, request);
}

/* The token flight ended: hand its result to this waiter. */
static void
token_ready(struct token_cache_waiter *waiter, const char *token, const char *error)
{
	deliver((struct token_request *) waiter, token, error);
}

/* Log a hit or a miss with the key's public parts only. */
static void
log_lookup(const struct token_source *source, const char *what)
{
	if (source->mode == TOKEN_BEARER_FILE)
		log_debug("token cache %s: bearer token file %s", what, source->bearer_file);
	else
		log_debug("token cache %s: %s client %s scopes \"%s\"", what, source->token_url,
		          source->client_id, source->scopes);
}

/* Read the fixed bearer token and end the flight with it. */
static void
read_bearer_file(struct token_source *source)
{
	char err[ERR_LEN];
	char *token = NULL;

	if (secret_read_file(source->bearer_file, &token, err, sizeof(err)) != 0)
		token_cache_complete(source->cache, source->token_key, NULL, 0, err);
	else if (!oauth_token_chars_valid(token, strlen(token)))
	{
		snprintf(err, sizeof(err), "%s: a bearer token is printable ASCII without spaces",
		         source->bearer_file);
		token_cache_complete(source->cache, source->token_key, NULL, 0, err);
	}
	else
		token_cache_complete(source->cache, source->token_key, token, TOKEN_CACHE_FOREVER, NULL);
	wipe_free(token);
}

/* End the token flight; clears the per-fetch state first. */
static void
finish_fetch(struct token_source *source, const char *token, int64_t expires_ns, const char *error)
{
	http_request_free(source->request);
	source->request = NULL;
	wipe_free(source->secret);
	source->secret = NULL;
	token_cache_complete(source->cache, source->token_key, token, expires_ns, error);
}

static void secret_ready(struct token_cache_waiter *waiter, const char *secret, const char *error);

/* The token endpoint answered (or could not be reached). */
static void
token_response(void *arg, const struct http_response *response)
{
	struct token_source *source = arg;
	struct oauth_token token;
	char why[ERR_LEN], err[ERR_LEN + 256];
	enum oauth_status status;

	if (response->error != NULL)
	{
		snprintf(err, sizeof(err), "token endpoint %s: %s", source->token_url, response->error);
		finish_fetch(source, NULL, 0, err);
		return;
	}
	status = oauth_parse_token_response(response->status, response->body, response->body_len,
	                                    &token, why, sizeof(why));
	if (status == OAUTH_OK)
	{
		finish_fetch(source, token.access_token,
		             token_cache_expiry(response->sent_ns, token.expires_in_s), NULL);
		oauth_token_clear(&token);
		return;
	}
	if (status == OAUTH_INVALID_CLIENT && !source->secret_refetched)
	{
		/* The secret may have been rotated: fetch it again, once. */
		log_debug("token endpoint %s: invalid_client; fetching the client secret again",
		          source->token_url);
		source->secret_refetched = true;
		http_request_free(source->request);
		source->request = NULL;
		wipe_free(source->secret);
		source->secret = NULL;
		secret_source_invalidate(source->secrets);
		source->secret_waiter.done = secret_ready;
		secret_source_get(source->secrets, &source->secret_waiter);
		return;
	}
	/* The server's description is untrusted: never echo the secret. */
	if (strstr(why, source->secret) != NULL)
		snprintf(why, sizeof(why), "HTTP %ld, error description withheld", response->status);
	snprintf(err, sizeof(err), "token endpoint %s: %s", source->token_url, why);
	finish_fetch(source, NULL, 0, err);
}

/* The client secret is known: send the token request. */
static void
secret_ready(struct token_cache_waiter *waiter, const char *secret, const char *error)
{
	struct token_source *source =
	    (struct token_source *) ((char *) waiter - offsetof(struct token_source, secret_waiter));
	char err[ERR_LEN + 64];

	if (error != NULL)
	{
		snprintf(err, sizeof(err), "client secret: %s", error);
		finish_fetch(source, NULL, 0, err);
		return;
	}
	source->secret = xstrdup(secret);
	source->request =
	    oauth_token_request(source->http, source->token_url, source->allow_http, source->client_id,
	                        secret, source->scopes, &source->stats.token_requests);
	if (source->request == NULL)
	{
		finish_fetch(source, NULL, 0, "libcurl cannot build the token request");
		return;
	}
	http_request_start(source->request, token_response, source);
}

/* Start the fetch of the token flight (deferred from the first miss). */
static void
start_token_fetch(void *arg)
{
	struct token_source *source = arg;

	if (source->mode == TOKEN_BEARER_FILE)
	{
		read_bearer_file(source);
		return;
	}
	source->secret_refetched = false;
	source->secret_waiter.done = secret_ready;
	secret_source_get(source->secrets, &source->secret_waiter);
}

/* Look the token up; a miss waits for the (possibly new) flight. */
static void
ask_token(struct token_request *request)
{
	struct token_source *source = request->source;
	const char *token;

	request->waiter.done = token_ready;
	switch (token_cache_get(source->cache, source->token_key, clock_mono_ns(), &request->waiter,
	                        &token))
	{
		case TOKEN_CACHE_HIT:
			source->stats.hits++;
			log_lookup(source, "hit");
			request->hit = true;
			defer_result(request, token, NULL);
			break;
		case TOKEN_CACHE_FETCH:
			loop_defer(source->loop, start_token_fetch, source);
			/* fall through */
		case TOKEN_CACHE_WAIT:
			source->stats.misses++;
			log_lookup(source, "miss");
			break;
	}
}

/* The discovery document arrived: take the token endpoint. */
static void
discovery_response(void *arg, const struct http_response *response)
{
	struct token_source *source = arg;
	char why[ERR_LEN], err[ERR_LEN + 256];
	char *endpoint = NULL;

	if (response->error != NULL)
		snprintf(why, sizeof(why), "%s", response->error);
	else if (oauth_parse_discovery(response->status, response->body, response->body_len,
	                               source->issuer, source->allow_http, &endpoint, why,
	                               sizeof(why)) == 0)
	{
		source->token_url = endpoint;
		source->token_key = token_cache_token_key(endpoint, source->client_id, source->scopes);
		log_debug("issuer %s: token endpoint %s", source->issuer, endpoint);
	}
	http_request_free(source->request);
	source->request = NULL;
	if (source->token_key != NULL)
		token_cache_complete(source->cache, source->discovery_key, endpoint, TOKEN_CACHE_FOREVER,
		                     NULL);
	else
	{
		free(endpoint);
		snprintf(err, sizeof(err), "OIDC discovery for issuer %s: %s", source->issuer, why);
		token_cache_complete(source->cache, source->discovery_key, NULL, 0, err);
	}
}

/* GET the issuer's OpenID configuration (deferred from the first request). */
static void
start_discovery(void *arg)
{
	struct token_source *source = arg;
	char *url = oauth_discovery_url(source->issuer);

	source->request =
	    http_request_new(source->http, url, source->allow_http, &source->stats.discovery_requests);
	free(url);
	if (source->request == NULL)
	{
		token_cache_complete(source->cache, source->discovery_key, NULL, 0,
		                     "libcurl cannot build the discovery request");
		return;
	}
	http_request_start(source->request, discovery_response, source);
}

/* Discovery ended: go on to the token, or fail. */
static void
discovery_ready(struct token_cache_waiter *waiter, const char *endpoint, const char *error)
{
	struct token_request *request = (struct token_request *) waiter;

	if (error != NULL)
		deliver(request, NULL, error);
	else
		ask_token(request);
}

/* Ask for a token: from the cache, or by joining or starting a fetch. */
void
token_source_get(struct token_source *source, token_ready_fn ready, void *arg)
{
	struct token_request *request = xcalloc(1, sizeof(*request));
	const char *endpoint;

	request->source = source;
	request->ready = ready;
	request->arg = arg;
	request->asked_ns = clock_mono_ns();
	dlist_push_head(&source->pending, &request->node);
	if (source->mode == TOKEN_NONE)
	{
		request->hit = true;
		defer_result(request, NULL, NULL);
		return;
	}
	if (source->issuer == NULL)
	{
		ask_token(request);
		return;
	}
	/* The token endpoint comes from discovery, itself a single-flight entry. */
	request->waiter.done = discovery_ready;
	switch (token_cache_get(source->cache, source->discovery_key, clock_mono_ns(), &request->waiter,
	                        &endpoint))
	{
		case TOKEN_CACHE_HIT:
			ask_token(request);
			break;
		case TOKEN_CACHE_FETCH:
			loop_defer(source->loop, start_discovery, source);
			break;
		case TOKEN_CACHE_WAIT:
			break;
	}
}

/* The agent refused this token: drop it if it is still the cached one. */
void
token_source_invalidate(struct token_source *source, const char *access_token)
{
	if (source->token_key != NULL && access_token != NULL &&
	    token_cache_invalidate(source->cache, source->token_key, access_token))
		log_lookup(source, "drop after 401");
}

/* Copy the counters. */
void
token_source_get_stats(const struct token_source *source, struct token_source_stats *stats)
{
	*stats = source->stats;
}

/* True when s is non-empty printable ASCII (a client id goes into keys and logs). */
static bool
printable(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* The client-credentials rules: endpoint, client id, secret. */
static int
check_client_credentials(const struct token_config *config, char *err, size_t errlen)
{
	if ((config->token_url == NULL) == (config->issuer == NULL))
		snprintf(err, errlen, "give exactly one of --token-url and --issuer");
	else if (config->client_id == NULL)
		snprintf(err, errlen, "--token-url/--issuer need --client-id");
	else if (!printable(config->client_id))
		snprintf(err, errlen, "--client-id must be printable ASCII");
	else if (http_url_check(config->token_url ? config->token_url : config->issuer,
	                        config->allow_insecure_http, err, errlen) != 0)
		;
	else
		return secret_config_check(&config->secret, err, errlen);
	return -1;
}

/* One way of getting a token, and only the options that way takes. */
int
token_config_check(const struct token_config *config, char *err, size_t errlen)
{
	const struct secret_config *s = &config->secret;
	bool oauth_given = config->token_url != NULL || config->issuer != NULL;
	bool credentials_given = config->client_id != NULL || config->n_scopes > 0 || s->file != NULL ||
	                         s->env_value != NULL || s->arn != NULL;

	switch (config->mode)
	{
		case TOKEN_CLIENT_CREDENTIALS:
			return check_client_credentials(config, err, errlen);
		case TOKEN_BEARER_FILE:
			if (config->bearer_file == NULL)
			{
				snprintf(err, errlen, "--bearer-token-file is required");
				return -1;
			}
			if (oauth_given)
			{
				snprintf(err, errlen,
				         "--bearer-token-file cannot be combined with --token-url/--issuer");
				return -1;
			}
			/* fall through */
		case TOKEN_NONE:
			if (credentials_given || oauth_given)
			{
				snprintf(err, errlen,
				         "--client-id, --scope and the client secret need --token-url or --issuer");
				return -1;
			}
			if (s->aws_endpoint != NULL || s->aws_region != NULL)
			{
				snprintf(err, errlen, "--aws-endpoint and --aws-region need --secret-arn");
				return -1;
			}
			return 0;
	}
	snprintf(err, errlen, "unknown token mode %d", (int) config->mode);
	return -1;
}

/* Copy the client-credentials part of the (checked) configuration. */
static int
setup_client_credentials(struct token_source *source, const struct token_config *config, char *err,
                         size_t errlen)
{
	source->scopes = token_cache_scope_string(config->scopes, config->n_scopes, err, errlen);
	if (source->scopes == NULL)
		return -1;
	source->secrets = secret_source_new(&config->secret, config->allow_insecure_http, source->http,
	                                    &source->stats.secret_requests, err, errlen);
	if (source->secrets == NULL)
		return -1;
	source->client_id = xstrdup(config->client_id);
	if (config->token_url != NULL)
	{
		source->token_url = xstrdup(config->token_url);
		source->token_key =
		    token_cache_token_key(source->token_url, source->client_id, source->scopes);
	}
	else
	{
		source->issuer = xstrdup(config->issuer);
		source->discovery_key = token_cache_token_key("discovery", source->issuer, "");
	}
	return 0;
}

/* Validate the configuration and build the source. */
struct token_source *
token_source_new(const struct token_config *config, struct http_multi *http, char *err,
                 size_t errlen)
{
	struct token_source *source;
	char *token = NULL;
	int rc = 0;

	if (token_config_check(config, err, errlen) != 0)
		return NULL;
	source = xcalloc(1, sizeof(*source));
	source->mode = config->mode;
	source->http = http;
	source->loop = http_multi_loop(http);
	source->allow_http = config->allow_insecure_http;
	source->cache = token_cache_new();
	switch (config->mode)
	{
		case TOKEN_NONE:
			break;
		case TOKEN_BEARER_FILE:
			/* Read it once now, so that a bad file is reported at start-up. */
			if ((rc = secret_read_file(config->bearer_file, &token, err, errlen)) == 0 &&
			    !oauth_token_chars_valid(token, strlen(token)))
			{
				snprintf(err, errlen, "%s: a bearer token is printable ASCII without spaces",
				         config->bearer_file);
				rc = -1;
			}
			wipe_free(token);
			if (rc == 0)
			{
				source->bearer_file = xstrdup(config->bearer_file);
				source->token_key = token_cache_token_key("bearer", source->bearer_file, "");
			}
			break;
		case TOKEN_CLIENT_CREDENTIALS:
			rc = setup_client_credentials(source, config, err, errlen);
			break;
	}
	if (rc != 0)
	{
		token_source_free(source);
		return NULL;
	}
	return source;
}

/* Free the source, wiping every cached token and secret. */
void
token_source_free(struct token_source *source)
{
	if (source == NULL)
		return;
	while (!dlist_is_empty(&source->pending))
		release(dlist_container(struct token_request, node, dlist_first(&source->pending)));
	http_request_free(source->request);
	secret_source_free(source->secrets);
	token_cache_free(source->cache);
	wipe_free(source->secret);
	free(source->bearer_file);
	free(source->issuer);
	free(source->discovery_key);
	free(source->token_url);
	free(source->client_id);
	free(source->scopes);
	free(source->token_key);
	free(source);
}
