/*
 * oauth_client.h - the OAuth2 client-credentials grant (RFC 6749 section 4.4)
 * and OpenID Connect discovery of the token endpoint.
 *
 * Requests: oauth_token_request() builds the form POST
 * "grant_type=client_credentials[&scope=...]" with HTTP Basic client
 * authentication, the client id and secret form-urlencoded first (RFC 6749
 * section 2.3.1), and returns it unsent as a hardened http_request.
 * oauth_discovery_url() names the document to GET for discovery:
 * <issuer>/.well-known/openid-configuration, one trailing slash of the issuer
 * dropped.
 *
 * Responses are untrusted bytes; the parsers are pure, bounded by the body
 * size cap of http_request, and say what went wrong in err without ever
 * copying a token into it.  Rules of the token response (RFC 6749 section 5):
 *   - access_token: required, non-empty, printable ASCII without spaces (it
 *     becomes a header value, so nothing could inject another header);
 *   - token_type: required, "bearer" in any case; a response without it is
 *     rejected, since the token could not be sent as a bearer token safely;
 *   - expires_in: optional, seconds as a non-negative JSON number or digit
 *     string; OAUTH_DEFAULT_EXPIRES_IN when absent;
 *   - an error response (RFC 6749 section 5.2) is reported as its "error"
 *     code and "error_description"; invalid_client, or a 401 with no usable
 *     body, is OAUTH_INVALID_CLIENT so that the caller can refetch the secret.
 */
#ifndef LOOMLAT_OAUTH_CLIENT_H
#define LOOMLAT_OAUTH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/http_request.h"

#define OAUTH_DEFAULT_EXPIRES_IN 3600

enum oauth_status
{
	OAUTH_OK = 0,
	OAUTH_FAILED = -1,
	OAUTH_INVALID_CLIENT = -2
};

struct oauth_token
{
	char *access_token; /* malloc'd; oauth_token_clear() wipes it */
	int64_t expires_in_s;
};

/* Parse a token endpoint response with HTTP status status. */
enum oauth_status oauth_parse_token_response(long status, const char *body, size_t len,
                                             struct oauth_token *token, char *err, size_t errlen);

/* True when s (len bytes) can be sent as a bearer token: non-empty,
 * printable ASCII, no space. */
bool oauth_token_chars_valid(const char *s, size_t len);

/* Wipe and free the access token. */
void oauth_token_clear(struct oauth_token *token);

/*
 * Parse an OpenID provider configuration: the token_endpoint (returned
 * malloc'd) must be a URL that passes http_url_check(), and an "issuer"
 * member, when present, must equal issuer (trailing slash aside).
 */
int oauth_parse_discovery(long status, const char *body, size_t len, const char *issuer,
                          bool allow_http, char **token_endpoint, char *err, size_t errlen);

/* application/x-www-form-urlencoded value of s (malloc'd). */
char *oauth_form_encode(const char *s);

/* The unsent token request; scope_string is token_cache_scope_string()'s. */
struct http_request *oauth_token_request(struct http_multi *http, const char *token_url,
                                         bool allow_http, const char *client_id,
                                         const char *client_secret, const char *scope_string,
                                         unsigned long *attempts);

/* The discovery URL of issuer (malloc'd). */
char *oauth_discovery_url(const char *issuer);

#endif
