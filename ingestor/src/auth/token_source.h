/*
 * token_source.h - bearer tokens for agent invocations.
 *
 * A token source hands out the access token an invocation must send as
 * "Authorization: Bearer <token>".  It is one of
 *   - none:                no Authorization header at all;
 *   - a fixed bearer token read from a file;
 *   - OAuth2 client credentials (RFC 6749 section 4.4), with the token
 *     endpoint given directly or found by OIDC discovery from an issuer, and
 *     the client secret read from a file, from LOOMLAT_CLIENT_SECRET, or from
 *     AWS Secrets Manager (GetSecretValue, SigV4-signed by libcurl).
 *
 * Tokens are cached per (token URL, client id, sorted distinct scopes); an
 * entry expires 60 s before expires_in runs out.  At most one fetch per key
 * is in flight: every caller that asks while it runs waits for that fetch
 * (single flight).  The client secret is cached as well.
 *
 * Every result is delivered asynchronously on the loop, a cache hit included,
 * so callers never see their callback run inside token_source_get().
 * Secrets and tokens never reach logs or error strings.
 */
#ifndef LOOMLAT_TOKEN_SOURCE_H
#define LOOMLAT_TOKEN_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/secret_source.h"
#include "http/multi.h"

enum token_mode
{
	TOKEN_NONE = 0,
	TOKEN_BEARER_FILE,
	TOKEN_CLIENT_CREDENTIALS
};

struct token_config
{
	enum token_mode mode;
	const char *bearer_file; /* TOKEN_BEARER_FILE */
	const char *token_url;   /* or issuer; exactly one is set */
	const char *issuer;      /* OIDC discovery: issuer + /.well-known/openid-configuration */
	const char *client_id;
	const char *const *scopes; /* may be NULL when n_scopes == 0 */
	size_t n_scopes;
	struct secret_config secret;
	bool allow_insecure_http; /* http:// token/secret URLs (loopback tests) */
};

struct token_result
{
	const char *access_token; /* NULL when error is set; valid during the callback */
	const char *error;        /* NULL on success; says what to fix, never a secret */
	bool cache_hit;           /* answered from the cache without any request */
	double wait_ms;           /* time from token_source_get() to this callback */
};

typedef void (*token_ready_fn)(void *arg, const struct token_result *result);

struct token_source_stats
{
	unsigned long token_requests;  /* HTTP requests sent to the token endpoint */
	unsigned long secret_requests; /* secret store requests */
	unsigned long discovery_requests;
	unsigned long hits;
	unsigned long misses;
};

struct token_source;

/*
 * The rules a token_config must follow, in one place for the command line and
 * token_source_new(): TOKEN_NONE and TOKEN_BEARER_FILE take no client
 * credentials options; a bearer file is named and not combined with a token
 * URL or issuer; client credentials need exactly one of token_url and issuer
 * (https unless allow_insecure_http), a printable ASCII client_id and a
 * secret (secret_config_check()).  0, or -1 with a message in err naming the
 * options.
 */
int token_config_check(const struct token_config *config, char *err, size_t errlen);

/* Check the configuration (token_config_check(), the scopes, the secret's
 * environment) and build the source; NULL with a message in err on bad input. */
struct token_source *token_source_new(const struct token_config *config, struct http_multi *http,
                                      char *err, size_t errlen);
void token_source_free(struct token_source *source);

/* Ask for a token; ready(arg, result) runs later on the loop, exactly once. */
void token_source_get(struct token_source *source, token_ready_fn ready, void *arg);

/* The agent answered 401 with this token: drop it if it is still cached. */
void token_source_invalidate(struct token_source *source, const char *access_token);

void token_source_get_stats(const struct token_source *source, struct token_source_stats *stats);

#endif
