/*
 * test_token_source.c - token sources on the real loop against the loopback
 * mocks of test/mock (a token endpoint that counts its requests, a Secrets
 * Manager), both started as child processes on 127.0.0.1.
 *
 * Every loop run is bounded by a guard timer; every mock is killed by pid.
 */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "auth/token_source.h"
#include "http/multi.h"
#include "util/clock.h"
#include "util/log.h"

#define SECRET       "s3cr3t with spaces&symbols"
#define ARN          "arn:aws:secretsmanager:eu-west-1:123456789012:secret:loomlat-AbCdEf"
#define MAX_RESULTS  256
#define GUARD_S      20
#define MOCK_START_S 10

struct mock
{
	pid_t pid;
	int port;
};

struct outcome
{
	int calls;
	bool inside_get; /* set while token_source_get() runs */
	int called_inside;
	char token[MAX_RESULTS][128];
	char error[MAX_RESULTS][512];
	bool hit[MAX_RESULTS];
};

struct fixture
{
	struct mock token_mock;
	struct mock secret_mock;
	struct loop *loop;
	struct http_multi *http; /* on loop */
	struct outcome out;
	int expected;
	char url[128];
	char base[64];
	char secret_url[64];
};

/* Start a mock: python3 <script> <args...>; its first line says the port. */
static struct mock
start_mock(const char *script, const char *const *args)
{
	struct mock m = {-1, 0};
	const char *argv[16] = {"python3", script};
	char line[64] = "";
	size_t len = 0;
	int fds[2];
	int64_t deadline = clock_mono_ns() + MOCK_START_S * NS_PER_S;

	for (int i = 0; args[i] != NULL && i < 13; i++)
		argv[i + 2] = args[i];
	assert_int_equal(pipe(fds), 0);
	m.pid = fork();
	assert_true(m.pid >= 0);
	if (m.pid == 0)
	{
		/* Die with the test, even when it crashes before its teardown. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp("python3", (char *const *) argv);
		_exit(127);
	}
	close(fds[1]);
	while (len < sizeof(line) - 1 && strchr(line, '\n') == NULL && clock_mono_ns() < deadline)
	{
		struct pollfd p = {fds[0], POLLIN, 0};
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((n = read(fds[0], line + len, sizeof(line) - 1 - len)) <= 0)
			break;
		len += (size_t) n;
		line[len] = '\0';
	}
	close(fds[0]);
	if (sscanf(line, "PORT %d", &m.port) != 1)
		fail_msg("mock %s did not report its port", script);
	return m;
}

/* Stop a mock we started. */
static void
stop_mock(struct mock *m)
{
	if (m->pid > 0)
	{
		kill(m->pid, SIGTERM);
		waitpid(m->pid, NULL, 0);
		m->pid = -1;
	}
}

/* Collect libcurl's body of a control request. */
static size_t
collect(char *data, size_t size, size_t nmemb, void *arg)
{
	json_t **root = arg;
	json_error_t jerr;

	*root = json_loadb(data, size * nmemb, 0, &jerr);
	return size * nmemb;
}

/* GET /stats of the token mock (blocking; test side only) and return a counter. */
static long
mock_counter(const struct mock *m, const char *name)
{
	CURL *easy = curl_easy_init();
	char url[96];
	json_t *root = NULL;
	long value;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/stats", m->port);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &root);
	assert_int_equal(curl_easy_perform(easy), CURLE_OK);
	curl_easy_cleanup(easy);
	assert_non_null(root);
	value = (long) json_integer_value(json_object_get(root, name));
	json_decref(root);
	return value;
}

/* POST /control to the token mock. */
static void
mock_control(const struct mock *m, const char *json)
{
	CURL *easy = curl_easy_init();
	char url[96];
	json_t *root = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/control", m->port);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &root);
	assert_int_equal(curl_easy_perform(easy), CURLE_OK);
	curl_easy_cleanup(easy);
	json_decref(root);
}

/* Record one result; stop the loop when all expected results are in. */
static void
on_token(void *arg, const struct token_result *result)
{
	struct fixture *f = arg;
	int i = f->out.calls++;

	if (f->out.inside_get)
		f->out.called_inside++;
	if (i < MAX_RESULTS)
	{
		snprintf(f->out.token[i], sizeof(f->out.token[i]), "%s",
		         result->access_token ? result->access_token : "");
		snprintf(f->out.error[i], sizeof(f->out.error[i]), "%s",
		         result->error ? result->error : "");
		f->out.hit[i] = result->cache_hit;
		assert_true(result->wait_ms >= 0);
	}
	if (f->out.calls == f->expected)
		loop_stop(f->loop);
}

/* Guard timer: a run that takes too long fails instead of hanging. */
static void
guard(void *arg)
{
	struct fixture *f = arg;

	loop_stop(f->loop);
}

/* Ask n times, then run the loop until n results arrived (or the guard). */
static void
ask(struct fixture *f, struct token_source *source, int n)
{
	struct loop_timer *timer;

	memset(&f->out, 0, sizeof(f->out));
	f->expected = n;
	f->out.inside_get = true;
	for (int i = 0; i < n; i++)
		token_source_get(source, on_token, f);
	f->out.inside_get = false;
	timer = loop_add_timer(f->loop, clock_mono_ns() + GUARD_S * NS_PER_S, guard, f);
	assert_int_equal(loop_run(f->loop), 0);
	loop_cancel_timer(f->loop, f->out.calls == n ? timer : NULL);
	assert_int_equal(f->out.calls, n);
	assert_int_equal(f->out.called_inside, 0);
}

/* Let the loop sleep for ms milliseconds. */
static void
sleep_on_loop(struct fixture *f, int ms)
{
	loop_add_timer(f->loop, clock_mono_ns() + ms * NS_PER_MS, guard, f);
	assert_int_equal(loop_run(f->loop), 0);
}

static int
setup(void **state)
{
	static const char *const token_args[] = {"--client-id", "loomlat:test", "--client-secret",
	                                         SECRET,        "--scope",      "read",
	                                         "--scope",     "write",        NULL};
	static const char *const secret_args[] = {"--secret", ARN "=" SECRET, "--region", "eu-west-1",
	                                          NULL};
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->token_mock = start_mock("test/mock/token_server.py", token_args);
	f->secret_mock = start_mock("test/mock/secrets_server.py", secret_args);
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->token_mock.port);
	snprintf(f->url, sizeof(f->url), "%s/oauth2/token", f->base);
	snprintf(f->secret_url, sizeof(f->secret_url), "http://127.0.0.1:%d", f->secret_mock.port);
	f->loop = loop_new();
	assert_non_null(f->loop);
	f->http = http_multi_new(f->loop);
	assert_non_null(f->http);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	http_multi_free(f->http); /* closes the kept-alive connections */
	loop_free(f->loop);
	stop_mock(&f->token_mock);
	stop_mock(&f->secret_mock);
	free(f);
	return 0;
}

/* A client-credentials config against the token mock, secret from env. */
static struct token_config
cc_config(const struct fixture *f)
{
	static const char *const scopes[] = {"write", "read", "write"};

	return (struct token_config){
	    .mode = TOKEN_CLIENT_CREDENTIALS,
	    .token_url = f->url,
	    .client_id = "loomlat:test",
	    .scopes = scopes,
	    .n_scopes = 3,
	    .secret.env_value = SECRET,
	    .allow_insecure_http = true,
	};
}

/* Build a source or fail with its message. */
static struct token_source *
new_source(struct fixture *f, const struct token_config *config)
{
	char err[512] = "";
	struct token_source *source = token_source_new(config, f->http, err, sizeof(err));

	if (source == NULL)
		fail_msg("token_source_new: %s", err);
	return source;
}

/* 100 cold waiters: one token request; 200 warm asks: none. */
static void
test_cold_single_flight_then_warm(void **state)
{
	struct fixture *f = *state;
	struct token_config config = cc_config(f);
	struct token_source *source = new_source(f, &config);
	struct token_source_stats stats;

	ask(f, source, 100);
	for (int i = 0; i < 100; i++)
	{
		assert_string_equal(f->out.error[i], "");
		assert_string_equal(f->out.token[i], f->out.token[0]);
		assert_false(f->out.hit[i]);
	}
	assert_int_equal(strncmp(f->out.token[0], "tok-", 4), 0);
	assert_int_equal(mock_counter(&f->token_mock, "token_requests"), 1);

	ask(f, source, 200);
	for (int i = 0; i < 200; i++)
		assert_true(f->out.hit[i]);
	token_source_get_stats(source, &stats);
	assert_int_equal(stats.token_requests, 1);
	assert_int_equal(stats.hits, 200);
	assert_int_equal(stats.misses, 100);
	assert_int_equal(mock_counter(&f->token_mock, "token_requests"), 1);
	token_source_free(source);
}

/* A 2 s token is kept for 1 s (half of a short lifetime), then refetched. */
static void
test_refetch_after_expiry(void **state)
{
	struct fixture *f = *state;
	struct token_config config = cc_config(f);
	struct token_source *source;
	struct token_source_stats stats;
	char first[128];

	mock_control(&f->token_mock, "{\"expires_in\": 2}");
	source = new_source(f, &config);
	ask(f, source, 1);
	snprintf(first, sizeof(first), "%s", f->out.token[0]);
	ask(f, source, 1);
	assert_true(f->out.hit[0]);
	assert_string_equal(f->out.token[0], first);
	sleep_on_loop(f, 1100);
	ask(f, source, 3);
	assert_false(f->out.hit[0]);
	assert_string_not_equal(f->out.token[0], first);
	token_source_get_stats(source, &stats);
	assert_int_equal(stats.token_requests, 2);
	token_source_free(source);
}

/* A 401 from the agent drops the token it names, and only that one. */
static void
test_invalidate(void **state)
{
	struct fixture *f = *state;
	struct token_config config = cc_config(f);
	struct token_source *source = new_source(f, &config);
	struct token_source_stats stats;
	char first[128];

	ask(f, source, 1);
	snprintf(first, sizeof(first), "%s", f->out.token[0]);
	token_source_invalidate(source, "tok-someone-else");
	ask(f, source, 1);
	assert_true(f->out.hit[0]);
	token_source_invalidate(source, first);
	ask(f, source, 1);
	assert_false(f->out.hit[0]);
	assert_string_not_equal(f->out.token[0], first);
	token_source_get_stats(source, &stats);
	assert_int_equal(stats.token_requests, 2);
	token_source_free(source);
}

/* OIDC discovery runs once, then the token endpoint it names is used. */
static void
test_discovery(void **state)
{
	struct fixture *f = *state;
	struct token_config config = cc_config(f);
	struct token_source *source;
	struct token_source_stats stats;

	config.token_url = NULL;
	config.issuer = f->base;
	source = new_source(f, &config);
	ask(f, source, 50);
	for (int i = 0; i < 50; i++)
		assert_string_equal(f->out.error[i], "");
	ask(f, source, 5);
	token_source_get_stats(source, &stats);
	assert_int_equal(stats.discovery_requests, 1);
	assert_int_equal(stats.token_requests, 1);
	assert_int_equal(stats.hits, 5);
	assert_int_equal(mock_counter(&f->token_mock, "discovery_requests"), 1);
	token_source_free(source);
}

/* A wrong secret: invalid_client, one retry, an error without the secret. */
static void
test_invalid_client(void **state)
{
	struct fixture *f = *state;
	struct token_config config = cc_config(f);
	struct token_source *source;
	struct token_source_stats stats;

	config.secret.env_value = "wrong-secret";
	source = new_source(f, &config);
	ask(f, source, 10);
	for (int i = 0; i < 10; i++)
	{
		assert_non_null(strstr(f->out.error[i], "invalid_client"));
		assert_null(strstr(f->out.error[i], "wrong-secret"));
		assert_string_equal(f->out.token[i], "");
	}
	token_source_get_stats(source, &stats);
	assert_int_equal(stats.token_requests, 2);
	token_source_free(source);
}

/* 5xx is retried a bounded number of times, then reported. */
static void
test_server_error_retried(void **state)
{
	struct fixture *f = *state;
	struct token_config config = cc_config(f);
	struct token_source *source;
	struct token_source_stats stats;

	mock_control(&f->token_mock, "{\"mode\": \"http500\"}");
	source = new_source(f, &config);
	ask(f, source, 3);
	assert_non_null(strstr(f->out.error[0], "HTTP 500"));
	token_source_get_stats(source, &stats);
	assert_int_equal(stats.token_requests, 3);
	/* The failure is not cached: once the server recovers, a token comes. */
	mock_control(&f->token_mock, "{\"mode\": \"ok\"}");
	ask(f, source, 1);
	assert_string_equal(f->out.error[0], "");
	token_source_free(source);
}

/* The secret from the Secrets Manager mock, SigV4-signed, fetched once. */
static void
test_secrets_manager(void **state)
{
	struct fixture *f = *state;
	struct token_config config = cc_config(f);
	struct token_source *source;
	struct token_source_stats stats;

	setenv("AWS_ACCESS_KEY_ID", "AKIDLOOMLATTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
	setenv("AWS_SESSION_TOKEN", "session-token", 1);
	config.secret.env_value = NULL;
	config.secret.arn = ARN;
	config.secret.aws_endpoint = f->secret_url;
	source = new_source(f, &config);
	ask(f, source, 20);
	for (int i = 0; i < 20; i++)
		assert_string_equal(f->out.error[i], "");
	token_source_get_stats(source, &stats);
	assert_int_equal(stats.secret_requests, 1);
	assert_int_equal(stats.token_requests, 1);
	token_source_free(source);

	/* An unknown ARN is reported with AWS's error type. */
	config.secret.arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:missing";
	source = new_source(f, &config);
	ask(f, source, 1);
	assert_non_null(strstr(f->out.error[0], "ResourceNotFoundException"));
	token_source_free(source);
	unsetenv("AWS_SESSION_TOKEN");
}

/* A fixed bearer token from a file; no token at all in TOKEN_NONE. */
static void
test_bearer_file_and_none(void **state)
{
	struct fixture *f = *state;
	char path[] = "/tmp/loomlat-bearer-XXXXXX";
	int fd = mkstemp(path);
	struct token_config config = {.mode = TOKEN_BEARER_FILE, .bearer_file = path};
	struct token_source *source;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "fixed-token\r\n", 13), 13);
	close(fd);
	source = new_source(f, &config);
	ask(f, source, 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(f->out.token[i], "fixed-token");
	ask(f, source, 1);
	assert_true(f->out.hit[0]);
	/* Rotated file: the agent's 401 drops the old token, the file is read again. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "rotated-token\n", 14), 14);
	close(fd);
	token_source_invalidate(source, "fixed-token");
	ask(f, source, 1);
	assert_false(f->out.hit[0]);
	assert_string_equal(f->out.token[0], "rotated-token");
	token_source_free(source);
	unlink(path);

	config = (struct token_config){.mode = TOKEN_NONE};
	source = new_source(f, &config);
	ask(f, source, 2);
	assert_string_equal(f->out.token[0], "");
	assert_string_equal(f->out.error[0], "");
	token_source_free(source);
}

/* Bad configurations are refused with a message that names the problem. */
static void
test_config_errors(void **state)
{
	struct fixture *f = *state;
	static const char *const bad_scope[] = {"a b"};
	struct token_config config;
	char err[512];

	config = cc_config(f);
	config.allow_insecure_http = false;
	assert_null(token_source_new(&config, f->http, err, sizeof(err)));
	assert_non_null(strstr(err, "https"));

	config = cc_config(f);
	config.issuer = f->base;
	assert_null(token_source_new(&config, f->http, err, sizeof(err)));
	assert_non_null(strstr(err, "exactly one"));

	config = cc_config(f);
	config.secret.env_value = NULL;
	assert_null(token_source_new(&config, f->http, err, sizeof(err)));
	assert_non_null(strstr(err, "client secret"));

	config = cc_config(f);
	config.scopes = bad_scope;
	config.n_scopes = 1;
	assert_null(token_source_new(&config, f->http, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid scope"));

	config = cc_config(f);
	config.secret.env_value = NULL;
	config.secret.arn = "not-an-arn";
	assert_null(token_source_new(&config, f->http, err, sizeof(err)));
	assert_non_null(strstr(err, "region"));

	config =
	    (struct token_config){.mode = TOKEN_BEARER_FILE, .bearer_file = "/nonexistent/loomlat"};
	assert_null(token_source_new(&config, f->http, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/loomlat"));
}

/* Freeing once the loop has stopped for good releases queued and in-flight
 * requests without calling them (the sanitizers check leaks and stale
 * pointers).  Each part uses a loop of its own that never runs again. */
static void
test_free_with_pending(void **state)
{
	struct fixture *f = *state;
	struct token_config config = cc_config(f);
	struct token_source *source = new_source(f, &config);

	/* Asked, but the fetch is not even started. */
	for (int i = 0; i < 5; i++)
		token_source_get(source, on_token, f);
	token_source_free(source);
	http_multi_free(f->http);
	loop_free(f->loop);

	/* Asked, and the token request is in flight. */
	f->loop = loop_new();
	f->http = http_multi_new(f->loop);
	mock_control(&f->token_mock, "{\"delay_ms\": 3000}");
	source = new_source(f, &config);
	memset(&f->out, 0, sizeof(f->out));
	f->expected = -1;
	for (int i = 0; i < 5; i++)
		token_source_get(source, on_token, f);
	sleep_on_loop(f, 300);
	assert_int_equal(f->out.calls, 0);
	token_source_free(source);
	assert_int_equal(f->out.calls, 0);
}

/* At debug level, hits, misses and failures are logged, but never a secret
 * or a token: stderr is captured while every flow runs. */
static void
test_no_secret_in_logs(void **state)
{
	struct fixture *f = *state;
	struct token_config config = cc_config(f);
	struct token_source *source;
	char path[] = "/tmp/loomlat-log-XXXXXX";
	char tokens[3][128];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	char log[16384];
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	log_set_level(LOG_LEVEL_DEBUG);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);

	source = new_source(f, &config);
	ask(f, source, 5);
	snprintf(tokens[0], sizeof(tokens[0]), "%s", f->out.token[0]);
	ask(f, source, 5);
	token_source_invalidate(source, tokens[0]);
	ask(f, source, 1);
	snprintf(tokens[1], sizeof(tokens[1]), "%s", f->out.token[0]);
	token_source_free(source);

	setenv("AWS_ACCESS_KEY_ID", "AKIDLOOMLATTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
	config.secret.env_value = NULL;
	config.secret.arn = ARN;
	config.secret.aws_endpoint = f->secret_url;
	source = new_source(f, &config);
	ask(f, source, 1);
	snprintf(tokens[2], sizeof(tokens[2]), "%s", f->out.token[0]);
	token_source_free(source);

	config = cc_config(f);
	config.secret.env_value = "wrong-secret";
	source = new_source(f, &config);
	ask(f, source, 1);
	token_source_free(source);

	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	log_set_level(LOG_LEVEL_WARNING);
	n = pread(fd, log, sizeof(log) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	log[n] = '\0';
	assert_non_null(strstr(log, "token cache hit"));
	assert_non_null(strstr(log, "token cache miss"));
	assert_non_null(strstr(log, "invalid_client"));
	assert_null(strstr(log, SECRET));
	assert_null(strstr(log, "wrong-secret"));
	assert_null(strstr(log, "EXAMPLEKEY"));
	for (int i = 0; i < 3; i++)
	{
		assert_int_equal(strncmp(tokens[i], "tok-", 4), 0);
		assert_null(strstr(log, tokens[i]));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_cold_single_flight_then_warm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refetch_after_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalidate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discovery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_client, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_error_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secrets_manager, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bearer_file_and_none, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_with_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_secret_in_logs, setup, teardown),
	};
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	failed = cmocka_run_group_tests_name("token_source", tests, NULL, NULL);
	curl_global_cleanup();
	return failed;
}
