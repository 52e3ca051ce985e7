/*
 * test_auth_parse.c - the auth layer's pure parts: token, discovery and
 * Secrets Manager response parsing, form encoding, ARN regions, URL checks
 * and the sanitising of server text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/http_request.h"
#include "auth/oauth_client.h"
#include "auth/secret_source.h"

#define ERR_LEN 512

/* Parse a token response given as a C string. */
static enum oauth_status
parse_token(long status, const char *body, struct oauth_token *token, char *err)
{
	err[0] = '\0';
	return oauth_parse_token_response(status, body, strlen(body), token, err, ERR_LEN);
}

/* A complete answer: token, any-case bearer, lifetime. */
static void
test_token_good(void **state)
{
	struct oauth_token token;
	char err[ERR_LEN];

	assert_int_equal(parse_token(200,
	                             "{\"access_token\":\"eyJ.abc-_~+/=\",\"token_type\":\"BeArEr\","
	                             "\"expires_in\":3599,\"scope\":\"a b\"}",
	                             &token, err),
	                 OAUTH_OK);
	assert_string_equal(token.access_token, "eyJ.abc-_~+/=");
	assert_int_equal(token.expires_in_s, 3599);
	oauth_token_clear(&token);
	assert_null(token.access_token);
}

/* expires_in: absent -> default; digit strings and reals are accepted. */
static void
test_token_expires_in_forms(void **state)
{
	struct oauth_token token;
	char err[ERR_LEN];

	assert_int_equal(
	    parse_token(200, "{\"access_token\":\"t\",\"token_type\":\"bearer\"}", &token, err),
	    OAUTH_OK);
	assert_int_equal(token.expires_in_s, OAUTH_DEFAULT_EXPIRES_IN);
	oauth_token_clear(&token);
	assert_int_equal(
	    parse_token(200,
	                "{\"access_token\":\"t\",\"token_type\":\"bearer\",\"expires_in\":\"300\"}",
	                &token, err),
	    OAUTH_OK);
	assert_int_equal(token.expires_in_s, 300);
	oauth_token_clear(&token);
	assert_int_equal(
	    parse_token(200, "{\"access_token\":\"t\",\"token_type\":\"bearer\",\"expires_in\":59.9}",
	                &token, err),
	    OAUTH_OK);
	assert_int_equal(token.expires_in_s, 59);
	oauth_token_clear(&token);
}

/* Every malformed 200 answer is an error that names the problem. */
static void
test_token_malformed(void **state)
{
	static const struct
	{
		const char *body;
		const char *why;
	} cases[] = {
	    {"", "not a JSON object"},
	    {"not json", "not a JSON object"},
	    {"[\"access_token\"]", "not a JSON object"},
	    {"\"token\"", "not a JSON object"},
	    {"{\"token_type\":\"bearer\"}", "no access_token"},
	    {"{\"access_token\":42,\"token_type\":\"bearer\"}", "no access_token"},
	    {"{\"access_token\":null,\"token_type\":\"bearer\"}", "no access_token"},
	    {"{\"access_token\":\"\",\"token_type\":\"bearer\"}", "empty"},
	    {"{\"access_token\":\"a b\",\"token_type\":\"bearer\"}", "printable"},
	    {"{\"access_token\":\"a\\r\\nX-Evil: 1\",\"token_type\":\"bearer\"}", "printable"},
	    {"{\"access_token\":\"t\"}", "no token_type"},
	    {"{\"access_token\":\"t\",\"token_type\":\"mac\"}", "must be bearer"},
	    {"{\"access_token\":\"t\",\"token_type\":\"bearer\",\"expires_in\":-1}", "expires_in"},
	    {"{\"access_token\":\"t\",\"token_type\":\"bearer\",\"expires_in\":\"12a\"}", "expires_in"},
	    {"{\"access_token\":\"t\",\"token_type\":\"bearer\",\"expires_in\":true}", "expires_in"},
	    {"{\"access_token\":\"t\",\"token_type\":\"bearer\",\"expires_in\":1e300}", "expires_in"},
	    {"{\"access_token\":\"t\",\"access_token\":\"u\",\"token_type\":\"bearer\"}", "JSON"},
	};
	struct oauth_token token;
	char err[ERR_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		assert_int_equal(parse_token(200, cases[i].body, &token, err), OAUTH_FAILED);
		assert_null(token.access_token);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].why);
	}
}

/* RFC 6749 section 5.2 errors: code and description, invalid_client apart. */
static void
test_token_error_responses(void **state)
{
	struct oauth_token token;
	char err[ERR_LEN];

	assert_int_equal(parse_token(400,
	                             "{\"error\":\"invalid_scope\",\"error_description\":\"no such "
	                             "scope: admin\"}",
	                             &token, err),
	                 OAUTH_FAILED);
	assert_string_equal(err, "HTTP 400, error invalid_scope: no such scope: admin");
	assert_int_equal(parse_token(401, "{\"error\":\"invalid_client\"}", &token, err),
	                 OAUTH_INVALID_CLIENT);
	assert_string_equal(err, "HTTP 401, error invalid_client");
	assert_int_equal(parse_token(401, "<html>denied</html>", &token, err), OAUTH_INVALID_CLIENT);
	assert_string_equal(err, "HTTP 401 without an OAuth error response");
	assert_int_equal(parse_token(503, "", &token, err), OAUTH_FAILED);
	assert_string_equal(err, "HTTP 503 without an OAuth error response");
	/* A 200-shaped body under an error status is still an error. */
	assert_int_equal(
	    parse_token(403, "{\"access_token\":\"t\",\"token_type\":\"bearer\"}", &token, err),
	    OAUTH_FAILED);
	assert_null(token.access_token);
	/* Control characters and long descriptions are neutralised. */
	assert_int_equal(
	    parse_token(400, "{\"error\":\"x\\u001b[31m\",\"error_description\":\"line\\nbreak\"}",
	                &token, err),
	    OAUTH_FAILED);
	assert_string_equal(err, "HTTP 400, error x?[31m: line?break");
}

/* Garbage and huge bodies fail cleanly. */
static void
test_token_garbage(void **state)
{
	size_t n = HTTP_REQUEST_MAX_BODY;
	char *big = malloc(n);
	struct oauth_token token;
	char err[ERR_LEN];

	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char) (i * 131 + 7);
	assert_int_equal(oauth_parse_token_response(200, big, n, &token, err, sizeof(err)),
	                 OAUTH_FAILED);
	memset(big, '[', n); /* deeper than jansson's depth limit */
	assert_int_equal(oauth_parse_token_response(200, big, n, &token, err, sizeof(err)),
	                 OAUTH_FAILED);
	/* An embedded NUL ends nothing: the whole buffer is parsed. */
	assert_int_equal(
	    oauth_parse_token_response(200, "{\"access_token\":\"t\",\"token_type\":\"bearer\"}\0junk",
	                               48, &token, err, sizeof(err)),
	    OAUTH_FAILED);
	free(big);
}

/* Discovery: token_endpoint taken, issuer checked, URL checked. */
static void
test_discovery(void **state)
{
	const char *good = "{\"issuer\":\"https://idp.example/\",\"token_endpoint\":"
	                   "\"https://idp.example/oauth2/token\"}";
	char err[ERR_LEN];
	char *endpoint;

	assert_int_equal(oauth_parse_discovery(200, good, strlen(good), "https://idp.example", false,
	                                       &endpoint, err, sizeof(err)),
	                 0);
	assert_string_equal(endpoint, "https://idp.example/oauth2/token");
	free(endpoint);

	static const struct
	{
		long status;
		const char *body;
		const char *why;
	} bad[] = {
	    {404, "{}", "HTTP 404"},
	    {200, "nope", "not a JSON object"},
	    {200, "{\"issuer\":\"https://evil.example\",\"token_endpoint\":\"https://evil.example/t\"}",
	     "another issuer"},
	    {200, "{\"issuer\":\"https://idp.example\"}", "no token_endpoint"},
	    {200, "{\"token_endpoint\":7}", "no token_endpoint"},
	    {200, "{\"token_endpoint\":\"http://idp.example/t\"}", "unusable"},
	    {200, "{\"token_endpoint\":\"/relative\"}", "unusable"},
	    {200, "{\"token_endpoint\":\"https://u:p@idp.example/t\"}", "unusable"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		assert_int_equal(oauth_parse_discovery(bad[i].status, bad[i].body, strlen(bad[i].body),
		                                       "https://idp.example/", false, &endpoint, err,
		                                       sizeof(err)),
		                 -1);
		assert_null(endpoint);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, bad[i].why);
	}
	{
		char *url = oauth_discovery_url("https://idp.example/");

		assert_string_equal(url, "https://idp.example/.well-known/openid-configuration");
		free(url);
	}
}

/* Form encoding (RFC 6749 appendix B): unreserved kept, space '+', rest %XX. */
static void
test_form_encode(void **state)
{
	char *s = oauth_form_encode("a Z09-._~ +/:%\xc3\xa9");

	assert_string_equal(s, "a+Z09-._~+%2B%2F%3A%25%C3%A9");
	free(s);
	s = oauth_form_encode("");
	assert_string_equal(s, "");
	free(s);
}

/* Secrets Manager: plain SecretString, JSON object, errors. */
static void
test_aws_response(void **state)
{
	static const struct
	{
		long status;
		const char *body;
		const char *secret; /* NULL: an error containing why */
		const char *why;
	} cases[] = {
	    {200, "{\"ARN\":\"arn\",\"SecretString\":\"s3cr3t\"}", "s3cr3t", NULL},
	    {200, "{\"SecretString\":\"{\\\"client_secret\\\":\\\"from-json\\\",\\\"x\\\":1}\"}",
	     "from-json", NULL},
	    {200, "{\"SecretString\":\"\\\"quoted\\\"\"}", "\"quoted\"", NULL},
	    {200, "{\"SecretString\":\"{\\\"other\\\":\\\"v\\\"}\"}", NULL, "client_secret"},
	    {200, "{\"SecretString\":\"\"}", NULL, "empty"},
	    {200, "{\"SecretBinary\":\"AAEC\"}", NULL, "binary"},
	    {200, "{}", NULL, "no SecretString"},
	    {200, "[]", NULL, "not a JSON object"},
	    {400,
	     "{\"__type\":\"com.amazonaws#ResourceNotFoundException\",\"message\":\"Secrets Manager "
	     "can't find the specified secret.\"}",
	     NULL, "HTTP 400, ResourceNotFoundException: Secrets Manager can't find"},
	    {403, "{\"__type\":\"AccessDeniedException\",\"Message\":\"denied\"}", NULL,
	     "HTTP 403, AccessDeniedException: denied"},
	    {500, "garbage", NULL, "HTTP 500"},
	};
	char err[ERR_LEN];
	char *secret;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		int rc = secret_parse_aws_response(cases[i].status, cases[i].body, strlen(cases[i].body),
		                                   &secret, err, sizeof(err));

		if (cases[i].secret != NULL)
		{
			assert_int_equal(rc, 0);
			assert_string_equal(secret, cases[i].secret);
			free(secret);
		}
		else
		{
			assert_int_equal(rc, -1);
			assert_null(secret);
			if (strstr(err, cases[i].why) == NULL)
				fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].why);
		}
	}
}

/* The region is the ARN's fourth field; anything else is refused. */
static void
test_arn_region(void **state)
{
	char *r = secret_arn_region("arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbCd");

	assert_string_equal(r, "eu-west-1");
	free(r);
	r = secret_arn_region("arn:aws-cn:secretsmanager:cn-north-1:1:secret:x");
	assert_string_equal(r, "cn-north-1");
	free(r);
	assert_null(secret_arn_region("arn:aws:s3:::bucket"));
	assert_null(secret_arn_region("arn:aws:secretsmanager::1:secret:x"));
	assert_null(secret_arn_region("arn:aws:secretsmanager:EU/../x:1:secret:x"));
	assert_null(secret_arn_region("secretsmanager:eu-west-1"));
	assert_null(secret_arn_region(""));
}

/* https only unless allowed; no user info; absolute URLs only. */
static void
test_url_check(void **state)
{
	char err[ERR_LEN];

	assert_int_equal(http_url_check("https://idp.example/token", false, err, sizeof(err)), 0);
	assert_int_equal(http_url_check("http://127.0.0.1:8080/token", true, err, sizeof(err)), 0);
	assert_int_equal(http_url_check("http://127.0.0.1:8080/token", false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--allow-http"));
	assert_int_equal(http_url_check("ftp://idp.example/", true, err, sizeof(err)), -1);
	assert_int_equal(http_url_check("idp.example/token", true, err, sizeof(err)), -1);
	assert_int_equal(http_url_check("https://id:pw@idp.example/", false, err, sizeof(err)), -1);
	assert_null(strstr(err, "pw"));
}

/* Server text is cut to 160 bytes and cleaned of control characters. */
static void
test_safe_text(void **state)
{
	char long_text[400], out[400];

	http_safe_text(out, sizeof(out), "tab\there\x7f\x80");
	assert_string_equal(out, "tab?here??");
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	http_safe_text(out, sizeof(out), long_text);
	assert_int_equal(strlen(out), 160);
	assert_string_equal(out + 157, "...");
	http_safe_text(out, 8, "abcdefghij");
	assert_string_equal(out, "abcd...");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_good),      cmocka_unit_test(test_token_expires_in_forms),
	    cmocka_unit_test(test_token_malformed), cmocka_unit_test(test_token_error_responses),
	    cmocka_unit_test(test_token_garbage),   cmocka_unit_test(test_discovery),
	    cmocka_unit_test(test_form_encode),     cmocka_unit_test(test_aws_response),
	    cmocka_unit_test(test_arn_region),      cmocka_unit_test(test_url_check),
	    cmocka_unit_test(test_safe_text),
	};

	return cmocka_run_group_tests_name("auth_parse", tests, NULL, NULL);
}
