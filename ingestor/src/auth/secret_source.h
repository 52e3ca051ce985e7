/*
 * secret_source.h - the OAuth2 client secret, read from a file, taken from
 * LOOMLAT_CLIENT_SECRET, or fetched from AWS Secrets Manager; cached.
 *
 * The secret is kept for SECRET_SOURCE_TTL_S seconds and re-read after that,
 * or at once after secret_source_invalidate() (the token endpoint said
 * invalid_client: the secret may have been rotated).  One read or fetch runs
 * at a time however many callers wait (single flight, via token_cache).
 *
 * AWS Secrets Manager: GetSecretValue is POSTed to
 * https://secretsmanager.<region>.amazonaws.com (or the --aws-endpoint
 * override) and signed by libcurl (CURLOPT_AWS_SIGV4) with AWS_ACCESS_KEY_ID
 * and AWS_SECRET_ACCESS_KEY; AWS_SESSION_TOKEN, when set, is sent as
 * X-Amz-Security-Token.  The region is --aws-region or the ARN's fourth
 * field.  The SecretString is the client secret itself, or, when it is a JSON
 * object, that object's "client_secret" member.  SecretBinary is refused.
 *
 * Files: the whole file with trailing CR, LF, space and tab removed; it must
 * be a regular file of at most 64 KiB; a file that group or others may read
 * draws a warning.  Secrets are wiped when dropped and never logged.
 */
#ifndef LOOMLAT_SECRET_SOURCE_H
#define LOOMLAT_SECRET_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/token_cache.h"
#include "http/multi.h"

#define SECRET_SOURCE_TTL_S 300

/* Where the secret comes from: exactly one of file, env_value and arn. */
struct secret_config
{
	const char *file;         /* --client-secret-file */
	const char *env_value;    /* value of LOOMLAT_CLIENT_SECRET, if used */
	const char *arn;          /* AWS Secrets Manager secret ARN */
	const char *aws_endpoint; /* override, e.g. http://127.0.0.1:PORT; NULL = AWS */
	const char *aws_region;   /* NULL = taken from the ARN */
};

struct secret_source;

/* The rules a secret_config must follow: exactly one of file, a non-empty
 * env_value and arn; aws_endpoint and aws_region only with arn.  0, or -1
 * with a message in err naming the options. */
int secret_config_check(const struct secret_config *config, char *err, size_t errlen);

/* Check the config (secret_config_check()) and the AWS environment; NULL with a message in err on
 * bad input.  allow_http admits an http:// endpoint (loopback tests).  Each
 * secret store request bumps *requests. */
struct secret_source *secret_source_new(const struct secret_config *config, bool allow_http,
                                        struct http_multi *http, unsigned long *requests, char *err,
                                        size_t errlen);
void secret_source_free(struct secret_source *source);

/* Ask for the secret; waiter->done runs on the loop, possibly before this
 * returns (a cached secret, a file).  Call it only from loop callbacks. */
void secret_source_get(struct secret_source *source, struct token_cache_waiter *waiter);

/* Forget the cached secret. */
void secret_source_invalidate(struct secret_source *source);

/* Read a credential file as described above into a malloc'd string. */
int secret_read_file(const char *path, char **out, char *err, size_t errlen);

/* The region of a Secrets Manager ARN (malloc'd), or NULL if malformed. */
char *secret_arn_region(const char *arn);

/* Take the client secret from a GetSecretValue response (untrusted input). */
int secret_parse_aws_response(long status, const char *body, size_t len, char **secret, char *err,
                              size_t errlen);

#endif
