/*
 * oauth_client.c - client-credentials token requests, token and discovery
 * response parsing (see oauth_client.h for the rules).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "auth/oauth_client.h"
#include "util/alloc.h"
#include "util/wipe.h"

/* Longest expires_in digit string accepted (about 300 years of seconds). */
#define MAX_EXPIRES_DIGITS 10

/* Parse body as one JSON object, or NULL. */
static json_t *
load_object(const char *body, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);

	if (root != NULL && !json_is_object(root))
	{
		json_decref(root);
		return NULL;
	}
	return root;
}

/* True when s is a usable bearer token: printable ASCII, no space. */
bool
oauth_token_chars_valid(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

/* Read expires_in; -1 when it is malformed. */
static int64_t
read_expires_in(json_t *value)
{
	if (value == NULL)
		return OAUTH_DEFAULT_EXPIRES_IN;
	if (json_is_integer(value))
		return json_integer_value(value) >= 0 ? (int64_t) json_integer_value(value) : -1;
	if (json_is_real(value))
	{
		double d = json_real_value(value);

		return d >= 0 && d < 1e10 ? (int64_t) d : -1;
	}
	if (json_is_string(value))
	{
		const char *s = json_string_value(value);
		size_t n = json_string_length(value);

		if (n == 0 || n > MAX_EXPIRES_DIGITS || strspn(s, "0123456789") != n)
			return -1;
		return strtoll(s, NULL, 10);
	}
	return -1;
}

/* Describe an error response (RFC 6749 section 5.2) and classify it. */
static enum oauth_status
error_response(long status, json_t *root, char *err, size_t errlen)
{
	json_t *code = root ? json_object_get(root, "error") : NULL;
	json_t *desc = root ? json_object_get(root, "error_description") : NULL;
	char code_text[161], desc_text[161];

	if (!json_is_string(code))
	{
		snprintf(err, errlen, "HTTP %ld without an OAuth error response", status);
		return status == 401 ? OAUTH_INVALID_CLIENT : OAUTH_FAILED;
	}
	http_safe_text(code_text, sizeof(code_text), json_string_value(code));
	if (json_is_string(desc))
	{
		http_safe_text(desc_text, sizeof(desc_text), json_string_value(desc));
		snprintf(err, errlen, "HTTP %ld, error %s: %s", status, code_text, desc_text);
	}
	else
		snprintf(err, errlen, "HTTP %ld, error %s", status, code_text);
	return strcmp(json_string_value(code), "invalid_client") == 0 ? OAUTH_INVALID_CLIENT
	                                                              : OAUTH_FAILED;
}

/* Validate a token response and take its token and lifetime. */
enum oauth_status
oauth_parse_token_response(long status, const char *body, size_t len, struct oauth_token *token,
                           char *err, size_t errlen)
{
	json_t *root = load_object(body, len);
	json_t *access, *type;
	enum oauth_status rc = OAUTH_FAILED;

	token->access_token = NULL;
	token->expires_in_s = 0;
	if (status != 200)
	{
		rc = error_response(status, root, err, errlen);
		json_decref(root);
		return rc;
	}
	if (root == NULL)
	{
		snprintf(err, errlen, "HTTP 200 with a body that is not a JSON object");
		return OAUTH_FAILED;
	}
	access = json_object_get(root, "access_token");
	type = json_object_get(root, "token_type");
	if (!json_is_string(access))
		snprintf(err, errlen, "response has no access_token string");
	else if (!oauth_token_chars_valid(json_string_value(access), json_string_length(access)))
		snprintf(err, errlen, "access_token is empty or has characters outside printable ASCII");
	else if (!json_is_string(type))
		snprintf(err, errlen, "response has no token_type string");
	else if (strcasecmp(json_string_value(type), "bearer") != 0)
		snprintf(err, errlen, "token_type must be bearer");
	else if ((token->expires_in_s = read_expires_in(json_object_get(root, "expires_in"))) < 0)
		snprintf(err, errlen, "expires_in is not a non-negative number of seconds");
	else
	{
		token->access_token = xstrdup(json_string_value(access));
		rc = OAUTH_OK;
	}
	json_decref(root);
	return rc;
}

/* Wipe and free a parsed token. */
void
oauth_token_clear(struct oauth_token *token)
{
	wipe_free(token->access_token);
	token->access_token = NULL;
}

/* Length of s without one trailing slash. */
static size_t
issuer_len(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '/' ? n - 1 : n;
}

/* Take token_endpoint from an OpenID provider configuration. */
int
oauth_parse_discovery(long status, const char *body, size_t len, const char *issuer,
                      bool allow_http, char **token_endpoint, char *err, size_t errlen)
{
	json_t *root, *endpoint, *iss;
	char why[256];
	int rc = -1;

	*token_endpoint = NULL;
	if (status != 200)
	{
		snprintf(err, errlen, "HTTP %ld", status);
		return -1;
	}
	if ((root = load_object(body, len)) == NULL)
	{
		snprintf(err, errlen, "the configuration is not a JSON object");
		return -1;
	}
	endpoint = json_object_get(root, "token_endpoint");
	iss = json_object_get(root, "issuer");
	if (iss != NULL &&
	    (!json_is_string(iss) || issuer_len(json_string_value(iss)) != issuer_len(issuer) ||
	     strncmp(json_string_value(iss), issuer, issuer_len(issuer)) != 0))
		snprintf(err, errlen, "the configuration is for another issuer");
	else if (!json_is_string(endpoint))
		snprintf(err, errlen, "the configuration has no token_endpoint string");
	else if (strlen(json_string_value(endpoint)) != json_string_length(endpoint) ||
	         http_url_check(json_string_value(endpoint), allow_http, why, sizeof(why)) != 0)
		snprintf(err, errlen, "unusable token_endpoint");
	else
	{
		*token_endpoint = xstrdup(json_string_value(endpoint));
		rc = 0;
	}
	json_decref(root);
	return rc;
}

/* Form-urlencode s: unreserved bytes stay, space becomes '+', others %XX. */
char *
oauth_form_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = xmalloc(3 * n + 1), *p = out;

	for (; *s != '\0'; s++)
	{
		unsigned char c = (unsigned char) *s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			*p++ = (char) c;
		else if (c == ' ')
			*p++ = '+';
		else
		{
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

/* Build the client-credentials POST with Basic client authentication. */
struct http_request *
oauth_token_request(struct http_multi *http, const char *token_url, bool allow_http,
                    const char *client_id, const char *client_secret, const char *scope_string,
                    unsigned long *attempts)
{
	struct http_request *request = http_request_new(http, token_url, allow_http, attempts);
	char *user = oauth_form_encode(client_id);
	char *password = oauth_form_encode(client_secret);
	char *scope = oauth_form_encode(scope_string);
	char *form = xasprintf("grant_type=client_credentials%s%s", scope[0] ? "&scope=" : "", scope);
	CURL *easy;
	bool ok = false;

	if (request != NULL &&
	    http_request_add_header(request, "Content-Type: application/x-www-form-urlencoded") == 0 &&
	    http_request_add_header(request, "Accept: application/json") == 0)
	{
		easy = http_request_easy(request);
		ok = curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, form) == CURLE_OK &&
		     curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC) == CURLE_OK &&
		     curl_easy_setopt(easy, CURLOPT_USERNAME, user) == CURLE_OK &&
		     curl_easy_setopt(easy, CURLOPT_PASSWORD, password) == CURLE_OK;
	}
	free(form);
	free(scope);
	free(user);
	wipe_free(password);
	if (!ok)
	{
		http_request_free(request);
		return NULL;
	}
	return request;
}

/* <issuer without one trailing slash>/.well-known/openid-configuration */
char *
oauth_discovery_url(const char *issuer)
{
	return xasprintf("%.*s/.well-known/openid-configuration", (int) issuer_len(issuer), issuer);
}
