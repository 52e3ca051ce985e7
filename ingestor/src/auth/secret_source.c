/*
 * secret_source.c - the client secret from a file, the environment or AWS
 * Secrets Manager, cached (see secret_source.h for the contract).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "auth/http_request.h"
#include "auth/secret_source.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/wipe.h"

#define SECRET_KEY       "client-secret"
#define MAX_SECRET_FILE  (64 * 1024)
#define AWS_TARGET       "X-Amz-Target: secretsmanager.GetSecretValue"
#define AWS_CONTENT_TYPE "Content-Type: application/x-amz-json-1.1"

enum secret_kind
{
	SECRET_FILE,
	SECRET_ENV,
	SECRET_AWS
};

struct secret_source
{
	enum secret_kind kind;
	struct http_multi *http;
	struct token_cache *cache;
	unsigned long *requests;
	bool allow_http;
	char *path;      /* SECRET_FILE */
	char *env_value; /* SECRET_ENV */
	char *arn;       /* SECRET_AWS ... */
	char *endpoint;
	char *sigv4; /* "aws:amz:<region>:secretsmanager" */
	char *access_key_id;
	char *secret_access_key;
	char *session_token_header;
	struct http_request *request; /* the GetSecretValue in flight */
};

/* Read a small regular file, trailing whitespace stripped. */
int
secret_read_file(const char *path, char **out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;

	*out = NULL;
	if (fd < 0)
	{
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_SECRET_FILE)
	{
		snprintf(err, errlen, "%s is not a regular file of at most 64 KiB", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		log_warning("%s is accessible by group or others; chmod 600 it", path);
	buf = xmalloc(MAX_SECRET_FILE + 1);
	while (len < MAX_SECRET_FILE && (n = read(fd, buf + len, MAX_SECRET_FILE - len)) != 0)
	{
		if (n > 0)
			len += (size_t) n;
		else if (errno != EINTR)
		{
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			close(fd);
			explicit_bzero(buf, len);
			free(buf);
			return -1;
		}
	}
	close(fd);
	while (len > 0 && strchr("\r\n\t ", buf[len - 1]) != NULL)
		len--;
	if (len == 0 || memchr(buf, '\0', len) != NULL)
	{
		snprintf(err, errlen, "%s is empty or holds a NUL byte", path);
		explicit_bzero(buf, MAX_SECRET_FILE + 1);
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*out = xstrdup(buf);
	explicit_bzero(buf, MAX_SECRET_FILE + 1);
	free(buf);
	return 0;
}

/* arn:<partition>:secretsmanager:<region>:<account>:secret:<name> */
char *
secret_arn_region(const char *arn)
{
	const char *p = arn, *region;
	size_t n;

	if (strncmp(p, "arn:", 4) != 0 || (p = strchr(p + 4, ':')) == NULL ||
	    strncmp(p, ":secretsmanager:", 16) != 0)
		return NULL;
	region = p + 16;
	n = strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-");
	if (n == 0 || region[n] != ':')
		return NULL;
	return xstrndup(region, n);
}

/* Pick the client secret out of a SecretString. */
static int
secret_from_string(const char *s, char **secret, char *err, size_t errlen)
{
	json_t *obj = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
	json_t *member;
	const char *key;
	int rc = -1;

	if (!json_is_object(obj))
	{
		/* Not a JSON object: the string is the secret itself. */
		json_decref(obj);
		if (*s == '\0')
		{
			snprintf(err, errlen, "the SecretString is empty");
			return -1;
		}
		*secret = xstrdup(s);
		return 0;
	}
	member = json_object_get(obj, "client_secret");
	if (!json_is_string(member) || json_string_length(member) == 0)
		snprintf(err, errlen, "the SecretString is a JSON object without a client_secret string");
	else
	{
		*secret = xstrdup(json_string_value(member));
		rc = 0;
	}
	/* The parsed object holds the secret too: wipe its strings before freeing. */
	json_object_foreach(obj, key, member)
	{
		if (json_is_string(member))
			explicit_bzero((char *) json_string_value(member), json_string_length(member));
	}
	json_decref(obj);
	return rc;
}

/* Take the secret from a GetSecretValue answer, or describe the AWS error. */
int
secret_parse_aws_response(long status, const char *body, size_t len, char **secret, char *err,
                          size_t errlen)
{
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *value;
	int rc = -1;

	*secret = NULL;
	if (status != 200)
	{
		json_t *type = json_object_get(root, "__type");
		json_t *message = json_object_get(root, "message");
		char type_text[161], message_text[161];

		if (message == NULL)
			message = json_object_get(root, "Message");
		if (json_is_string(type))
		{
			const char *hash = strrchr(json_string_value(type), '#');

			http_safe_text(type_text, sizeof(type_text), hash ? hash + 1 : json_string_value(type));
			http_safe_text(message_text, sizeof(message_text),
			               json_is_string(message) ? json_string_value(message) : "");
			snprintf(err, errlen, "HTTP %ld, %s%s%s", status, type_text,
			         message_text[0] ? ": " : "", message_text);
		}
		else
			snprintf(err, errlen, "HTTP %ld", status);
		json_decref(root);
		return -1;
	}
	if (!json_is_object(root))
		snprintf(err, errlen, "the response is not a JSON object");
	else if (json_is_string(value = json_object_get(root, "SecretString")))
		rc = secret_from_string(json_string_value(value), secret, err, errlen);
	else if (json_object_get(root, "SecretBinary") != NULL)
		snprintf(err, errlen, "the secret is binary; store the client secret as a string");
	else
		snprintf(err, errlen, "the response has no SecretString");
	if (json_is_string(value = json_object_get(root, "SecretString")))
		explicit_bzero((char *) json_string_value(value), json_string_length(value));
	json_decref(root);
	return rc;
}

/* A copy of an AWS credential from the environment; NULL if unset. */
static char *
copy_env(const char *name)
{
	const char *v = getenv(name);

	return v == NULL || *v == '\0' ? NULL : xstrdup(v);
}

/* Prepare the AWS Secrets Manager backend. */
static int
setup_aws(struct secret_source *source, const struct secret_config *config, char *err,
          size_t errlen)
{
	char *region =
	    config->aws_region ? xstrdup(config->aws_region) : secret_arn_region(config->arn);
	char *session_token = copy_env("AWS_SESSION_TOKEN");
	int rc = -1;

	source->access_key_id = copy_env("AWS_ACCESS_KEY_ID");
	source->secret_access_key = copy_env("AWS_SECRET_ACCESS_KEY");
	if (region == NULL || region[0] == '\0' ||
	    region[strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-")] != '\0')
		snprintf(
		    err, errlen,
		    "--secret-arn: cannot take a region from \"%s\"; give a Secrets Manager ARN or --aws-region",
		    config->arn);
	else if (source->access_key_id == NULL || source->secret_access_key == NULL)
		snprintf(
		    err, errlen,
		    "--secret-arn needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment");
	else
	{
		source->arn = xstrdup(config->arn);
		source->sigv4 = xasprintf("aws:amz:%s:secretsmanager", region);
		source->endpoint = config->aws_endpoint
		                       ? xstrdup(config->aws_endpoint)
		                       : xasprintf("https://secretsmanager.%s.amazonaws.com", region);
		if (session_token != NULL)
			source->session_token_header = xasprintf("X-Amz-Security-Token: %s", session_token);
		rc = http_url_check(source->endpoint, source->allow_http, err, errlen);
	}
	free(region);
	wipe_free(session_token);
	return rc;
}

/* One way of giving the secret, and the AWS options only with an ARN. */
int
secret_config_check(const struct secret_config *config, char *err, size_t errlen)
{
	int given = (config->file != NULL) + (config->env_value != NULL) + (config->arn != NULL);

	if ((config->aws_endpoint != NULL || config->aws_region != NULL) && config->arn == NULL)
		snprintf(err, errlen, "--aws-endpoint and --aws-region need --secret-arn");
	else if (given == 0)
		snprintf(err, errlen,
		         "the client credentials need a client secret: --client-secret-file FILE, "
		         "LOOMLAT_CLIENT_SECRET, or --secret-arn ARN");
	else if (given > 1)
		snprintf(
		    err, errlen,
		    "give the client secret one way: --client-secret-file, LOOMLAT_CLIENT_SECRET or --secret-arn");
	else if (config->env_value != NULL && config->env_value[0] == '\0')
		snprintf(err, errlen, "LOOMLAT_CLIENT_SECRET is empty");
	else
		return 0;
	return -1;
}

/* Check the configured secret source and keep what it needs. */
struct secret_source *
secret_source_new(const struct secret_config *config, bool allow_http, struct http_multi *http,
                  unsigned long *requests, char *err, size_t errlen)
{
	struct secret_source *source;
	int rc = 0;

	if (secret_config_check(config, err, errlen) != 0)
		return NULL;
	source = xcalloc(1, sizeof(*source));

	source->cache = token_cache_new();
	source->http = http;
	source->requests = requests;
	source->allow_http = allow_http;
	if (config->file != NULL)
	{
		source->kind = SECRET_FILE;
		source->path = xstrdup(config->file);
	}
	else if (config->env_value != NULL)
	{
		source->kind = SECRET_ENV;
		source->env_value = xstrdup(config->env_value);
	}
	else
	{
		source->kind = SECRET_AWS;
		rc = setup_aws(source, config, err, errlen);
	}
	if (rc != 0)
	{
		secret_source_free(source);
		return NULL;
	}
	return source;
}

/* Free the source, cancelling a fetch and wiping every secret. */
void
secret_source_free(struct secret_source *source)
{
	if (source == NULL)
		return;
	http_request_free(source->request);
	token_cache_free(source->cache);
	free(source->path);
	wipe_free(source->env_value);
	free(source->arn);
	free(source->endpoint);
	free(source->sigv4);
	wipe_free(source->access_key_id);
	wipe_free(source->secret_access_key);
	wipe_free(source->session_token_header);
	free(source);
}

/* Cache a fetched secret, or pass on the error, to every waiter. */
static void
complete(struct secret_source *source, const char *secret, const char *error)
{
	int64_t expires_ns = clock_mono_ns() + SECRET_SOURCE_TTL_S * NS_PER_S;

	token_cache_complete(source->cache, SECRET_KEY, secret, expires_ns, error);
}

/* The GetSecretValue answer arrived. */
static void
aws_done(void *arg, const struct http_response *response)
{
	struct secret_source *source = arg;
	char why[256], err[512];
	char *secret = NULL;

	if (response->error != NULL)
		snprintf(err, sizeof(err), "AWS Secrets Manager %s: %s", source->endpoint, response->error);
	else if (secret_parse_aws_response(response->status, response->body, response->body_len,
	                                   &secret, why, sizeof(why)) != 0)
		snprintf(err, sizeof(err), "AWS Secrets Manager %s: %s", source->endpoint, why);
	http_request_free(source->request);
	source->request = NULL;
	complete(source, secret, secret ? NULL : err);
	wipe_free(secret);
}

/* Send a signed GetSecretValue for the ARN. */
static void
aws_fetch(struct secret_source *source)
{
	struct http_request *request =
	    http_request_new(source->http, source->endpoint, source->allow_http, source->requests);
	json_t *body = json_pack("{s:s}", "SecretId", source->arn);
	char *text = json_dumps(body, JSON_COMPACT);
	CURL *easy;
	bool ok = false;

	if (request != NULL && http_request_add_header(request, AWS_CONTENT_TYPE) == 0 &&
	    http_request_add_header(request, AWS_TARGET) == 0 &&
	    (source->session_token_header == NULL ||
	     http_request_add_header(request, source->session_token_header) == 0))
	{
		easy = http_request_easy(request);
		ok = curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, text) == CURLE_OK &&
		     curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, source->sigv4) == CURLE_OK &&
		     curl_easy_setopt(easy, CURLOPT_USERNAME, source->access_key_id) == CURLE_OK &&
		     curl_easy_setopt(easy, CURLOPT_PASSWORD, source->secret_access_key) == CURLE_OK;
	}
	free(text);
	json_decref(body);
	if (!ok)
	{
		http_request_free(request);
		complete(source, NULL, "AWS Secrets Manager: libcurl cannot build the request");
		return;
	}
	source->request = request;
	http_request_start(request, aws_done, source);
}

/* Answer from the cache, or read / fetch the secret once for all waiters. */
void
secret_source_get(struct secret_source *source, struct token_cache_waiter *waiter)
{
	const char *cached;
	char *secret = NULL;
	char err[512];

	switch (token_cache_get(source->cache, SECRET_KEY, clock_mono_ns(), waiter, &cached))
	{
		case TOKEN_CACHE_HIT:
			waiter->done(waiter, cached, NULL);
			return;
		case TOKEN_CACHE_WAIT:
			return;
		case TOKEN_CACHE_FETCH:
			break;
	}
	switch (source->kind)
	{
		case SECRET_FILE:
			if (secret_read_file(source->path, &secret, err, sizeof(err)) != 0)
				complete(source, NULL, err);
			else
				complete(source, secret, NULL);
			wipe_free(secret);
			break;
		case SECRET_ENV:
			complete(source, source->env_value, NULL);
			break;
		case SECRET_AWS:
			aws_fetch(source);
			break;
	}
}

/* Drop the cached secret so the next get reads or fetches it again. */
void
secret_source_invalidate(struct secret_source *source)
{
	token_cache_invalidate(source->cache, SECRET_KEY, NULL);
}
