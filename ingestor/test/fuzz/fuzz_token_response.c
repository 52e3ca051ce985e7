/*
 * fuzz_token_response.c - the auth layer's parsers of untrusted responses.
 *
 * Every input is offered to the token response parser (as a 200, a 400 and a
 * 401), to the OIDC discovery parser and to the Secrets Manager parser (as a
 * 200 and a 400).  Besides the sanitizers' checks, the oracle is the
 * parsers' contract: a success yields a usable value, a failure yields none,
 * and an error message is printable ASCII whatever the server sent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/http_request.h"
#include "auth/oauth_client.h"
#include "auth/secret_source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort unless err is a terminated, printable message. */
static void
check_message(const char *err)
{
	size_t n = strnlen(err, 512);

	if (n == 0 || n == 512)
		abort();
	for (size_t i = 0; i < n; i++)
		if (err[i] < 0x20 || err[i] > 0x7e)
			abort();
}

/* Run the token parser and check its contract. */
static void
token(long status, const char *body, size_t len)
{
	struct oauth_token tok;
	char err[512];

	if (oauth_parse_token_response(status, body, len, &tok, err, sizeof(err)) == OAUTH_OK)
	{
		if (status != 200 || tok.access_token == NULL || tok.expires_in_s < 0 ||
		    !oauth_token_chars_valid(tok.access_token, strlen(tok.access_token)))
			abort();
		oauth_token_clear(&tok);
	}
	else
	{
		if (tok.access_token != NULL)
			abort();
		check_message(err);
	}
}

/* Run the Secrets Manager parser and check its contract. */
static void
secret(long status, const char *body, size_t len)
{
	char err[512];
	char *value;

	if (secret_parse_aws_response(status, body, len, &value, err, sizeof(err)) == 0)
	{
		if (status != 200 || value == NULL || value[0] == '\0')
			abort();
		free(value);
	}
	else
	{
		if (value != NULL)
			abort();
		check_message(err);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *) data;
	char err[512];
	char *endpoint;

	if (size > HTTP_REQUEST_MAX_BODY)
		return 0;
	token(200, body, size);
	token(400, body, size);
	token(401, body, size);
	if (oauth_parse_discovery(200, body, size, "https://idp.example", false, &endpoint, err,
	                          sizeof(err)) == 0)
	{
		if (http_url_check(endpoint, false, err, sizeof(err)) != 0)
			abort();
		free(endpoint);
	}
	else if (endpoint != NULL)
		abort();
	else
		check_message(err);
	secret(200, body, size);
	secret(400, body, size);
	return 0;
}
