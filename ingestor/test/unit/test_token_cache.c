/*
 * test_token_cache.c - the credential cache with a hand-driven clock.
 *
 * A fake fetcher stands for the network: it counts the TOKEN_CACHE_FETCH
 * answers (each one means "start a request") and completes flights when the
 * test says so.  Time only moves when the test passes a later "now".
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

#include "auth/token_cache.h"
#include "util/clock.h"

#define KEY       "https://idp.example/token\nclient\na b"
#define N_WAITERS 100

struct waiter
{
	struct token_cache_waiter base; /* first */
	int order;                      /* position in the completion sequence, -1 = not called */
	char value[64];
	char error[64];
};

struct fake
{
	struct token_cache *cache;
	int fetches;
	int completed;
	struct waiter waiters[N_WAITERS];
};

static struct fake *current;

/* Record what the flight handed to this waiter. */
static void
record(struct token_cache_waiter *base, const char *value, const char *error)
{
	struct waiter *w = (struct waiter *) base;

	assert_true((value == NULL) != (error == NULL));
	assert_int_equal(w->order, -1);
	w->order = current->completed++;
	snprintf(w->value, sizeof(w->value), "%s", value ? value : "");
	snprintf(w->error, sizeof(w->error), "%s", error ? error : "");
}

/* Look key up like a token source would; count the fetches it must start. */
static enum token_cache_status
ask(struct fake *f, const char *key, int64_t now, struct waiter *w, const char **value)
{
	enum token_cache_status status;

	w->base.done = record;
	w->order = -1;
	status = token_cache_get(f->cache, key, now, &w->base, value);
	if (status == TOKEN_CACHE_FETCH)
		f->fetches++;
	return status;
}

static int
setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->cache = token_cache_new();
	assert_non_null(f->cache);
	current = f;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fake *f = *state;

	token_cache_free(f->cache);
	free(f);
	return 0;
}

/* Scopes are sorted, de-duplicated and joined by one space. */
static void
test_scope_string_normalises(void **state)
{
	const char *scopes[] = {"write", "read", "write", "admin", "read"};
	const char *reversed[] = {"read", "admin", "write"};
	char err[256];
	char *a = token_cache_scope_string(scopes, 5, err, sizeof(err));
	char *b = token_cache_scope_string(reversed, 3, err, sizeof(err));
	char *none = token_cache_scope_string(NULL, 0, err, sizeof(err));

	assert_string_equal(a, "admin read write");
	assert_string_equal(b, a);
	assert_string_equal(none, "");
	free(a);
	free(b);
	free(none);
}

/* Empty scopes and scopes with space, quote, backslash or controls are refused. */
static void
test_scope_string_rejects_bad_scopes(void **state)
{
	const char *bad[] = {"", "a b", "say\"hi\"", "back\\slash", "tab\there", "caf\xc3\xa9"};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		const char *one[] = {"ok", bad[i]};

		err[0] = '\0';
		assert_null(token_cache_scope_string(one, 2, err, sizeof(err)));
		assert_non_null(strstr(err, "invalid scope"));
	}
}

/* The key separates URL, client and scopes; scope order does not matter. */
static void
test_token_key(void **state)
{
	char *k1 = token_cache_token_key("https://a/token", "client", "a b");
	char *k2 = token_cache_token_key("https://a/token", "client2", "a b");
	char *k3 = token_cache_token_key("https://b/token", "client", "a b");

	assert_string_equal(k1, "https://a/token\nclient\na b");
	assert_string_not_equal(k1, k2);
	assert_string_not_equal(k1, k3);
	free(k1);
	free(k2);
	free(k3);
}

/* 60 s before expires_in runs out; half of a lifetime of 120 s or less. */
static void
test_expiry_arithmetic(void **state)
{
	const int64_t sent = 1000 * NS_PER_S;

	assert_int_equal(token_cache_expiry(sent, 3600), sent + 3540 * NS_PER_S);
	assert_int_equal(token_cache_expiry(sent, 121), sent + 61 * NS_PER_S);
	assert_int_equal(token_cache_expiry(sent, 120), sent + 60 * NS_PER_S);
	assert_int_equal(token_cache_expiry(sent, 65), sent + 32500 * NS_PER_MS);
	assert_int_equal(token_cache_expiry(sent, 1), sent + 500 * NS_PER_MS);
	assert_int_equal(token_cache_expiry(sent, 0), sent);
	assert_int_equal(token_cache_expiry(sent, -5), sent);
	/* Absurd lifetimes are clamped instead of overflowing. */
	assert_true(token_cache_expiry(sent, INT64_MAX) > sent);
	assert_true(token_cache_expiry(sent, INT64_MAX / 2) > sent);
}

/* 100 waiters on a cold key: one fetch, every waiter gets the same token. */
static void
test_single_flight(void **state)
{
	struct fake *f = *state;
	const char *value = NULL;

	assert_int_equal(ask(f, KEY, 0, &f->waiters[0], &value), TOKEN_CACHE_FETCH);
	for (int i = 1; i < N_WAITERS; i++)
		assert_int_equal(ask(f, KEY, i * NS_PER_MS, &f->waiters[i], &value), TOKEN_CACHE_WAIT);
	assert_int_equal(f->fetches, 1);
	assert_int_equal(f->completed, 0);

	assert_int_equal(token_cache_complete(f->cache, KEY, "tok-1", 3540 * NS_PER_S, NULL), 0);
	assert_int_equal(f->completed, N_WAITERS);
	for (int i = 0; i < N_WAITERS; i++)
	{
		assert_int_equal(f->waiters[i].order, i); /* arrival order */
		assert_string_equal(f->waiters[i].value, "tok-1");
		assert_string_equal(f->waiters[i].error, "");
	}
	/* Warm: 200 more lookups, no fetch and no waiting. */
	for (int i = 0; i < 200; i++)
	{
		assert_int_equal(ask(f, KEY, 10 * NS_PER_S, &f->waiters[0], &value), TOKEN_CACHE_HIT);
		assert_string_equal(value, "tok-1");
	}
	assert_int_equal(f->fetches, 1);
}

/* A token is handed out until its expiry, then exactly one refetch starts. */
static void
test_refetch_at_margin(void **state)
{
	struct fake *f = *state;
	const int64_t sent = 5 * NS_PER_S;
	const int64_t expires = token_cache_expiry(sent, 3600);
	const char *value = NULL;

	ask(f, KEY, sent, &f->waiters[0], &value);
	token_cache_complete(f->cache, KEY, "tok-1", expires, NULL);
	assert_int_equal(ask(f, KEY, expires - 1, &f->waiters[1], &value), TOKEN_CACHE_HIT);
	assert_string_equal(value, "tok-1");
	assert_int_equal(f->fetches, 1);
	/* 60 s before expires_in runs out the token is stale. */
	assert_int_equal(ask(f, KEY, sent + 3540 * NS_PER_S, &f->waiters[1], &value),
	                 TOKEN_CACHE_FETCH);
	assert_int_equal(ask(f, KEY, sent + 3541 * NS_PER_S, &f->waiters[2], &value), TOKEN_CACHE_WAIT);
	assert_int_equal(f->fetches, 2);
	token_cache_complete(f->cache, KEY, "tok-2", expires + 3600 * NS_PER_S, NULL);
	assert_string_equal(f->waiters[1].value, "tok-2");
	assert_string_equal(f->waiters[2].value, "tok-2");
	assert_int_equal(ask(f, KEY, expires + NS_PER_S, &f->waiters[3], &value), TOKEN_CACHE_HIT);
	assert_string_equal(value, "tok-2");
}

/* A short lifetime (65 s) is cached for half of it, not 5 s. */
static void
test_short_lifetime(void **state)
{
	struct fake *f = *state;
	const char *value = NULL;

	ask(f, KEY, 0, &f->waiters[0], &value);
	token_cache_complete(f->cache, KEY, "short", token_cache_expiry(0, 65), NULL);
	assert_int_equal(ask(f, KEY, 32 * NS_PER_S, &f->waiters[1], &value), TOKEN_CACHE_HIT);
	assert_int_equal(ask(f, KEY, 33 * NS_PER_S, &f->waiters[1], &value), TOKEN_CACHE_FETCH);
}

/* Invalidation drops only the token it names. */
static void
test_invalidate_matching_only(void **state)
{
	struct fake *f = *state;
	const char *value = NULL;

	ask(f, KEY, 0, &f->waiters[0], &value);
	token_cache_complete(f->cache, KEY, "tok-1", TOKEN_CACHE_FOREVER, NULL);
	assert_false(token_cache_invalidate(f->cache, KEY, "tok-old"));
	assert_false(token_cache_invalidate(f->cache, "other-key", "tok-1"));
	assert_int_equal(ask(f, KEY, 1, &f->waiters[1], &value), TOKEN_CACHE_HIT);
	assert_true(token_cache_invalidate(f->cache, KEY, "tok-1"));
	assert_false(token_cache_invalidate(f->cache, KEY, "tok-1"));
	assert_int_equal(ask(f, KEY, 2, &f->waiters[2], &value), TOKEN_CACHE_FETCH);
	/* NULL drops whatever is cached. */
	token_cache_complete(f->cache, KEY, "tok-2", TOKEN_CACHE_FOREVER, NULL);
	assert_true(token_cache_invalidate(f->cache, KEY, NULL));
	assert_int_equal(ask(f, KEY, 3, &f->waiters[3], &value), TOKEN_CACHE_FETCH);
}

/* An error reaches every waiter, and nothing is cached. */
static void
test_error_propagates(void **state)
{
	struct fake *f = *state;
	const char *value = NULL;

	for (int i = 0; i < 5; i++)
		ask(f, KEY, i, &f->waiters[i], &value);
	token_cache_complete(f->cache, KEY, NULL, 0, "HTTP 400, error invalid_scope");
	for (int i = 0; i < 5; i++)
	{
		assert_string_equal(f->waiters[i].error, "HTTP 400, error invalid_scope");
		assert_string_equal(f->waiters[i].value, "");
	}
	assert_int_equal(ask(f, KEY, 10, &f->waiters[5], &value), TOKEN_CACHE_FETCH);
	assert_int_equal(f->fetches, 2);
}

/* Keys are independent: each has its own value and flight. */
static void
test_keys_independent(void **state)
{
	struct fake *f = *state;
	const char *value = NULL;

	assert_int_equal(ask(f, "k1", 0, &f->waiters[0], &value), TOKEN_CACHE_FETCH);
	assert_int_equal(ask(f, "k2", 0, &f->waiters[1], &value), TOKEN_CACHE_FETCH);
	token_cache_complete(f->cache, "k2", "v2", TOKEN_CACHE_FOREVER, NULL);
	assert_int_equal(f->waiters[0].order, -1);
	assert_string_equal(f->waiters[1].value, "v2");
	token_cache_complete(f->cache, "k1", "v1", TOKEN_CACHE_FOREVER, NULL);
	assert_string_equal(f->waiters[0].value, "v1");
}

static struct waiter reentrant_inner;
static enum token_cache_status reentrant_status;
static char reentrant_value[64];

/* A waiter that asks for the same key again from inside its callback. */
static void
ask_again(struct token_cache_waiter *base, const char *value, const char *error)
{
	const char *again = NULL;

	record(base, value, error);
	reentrant_status = ask(current, KEY, 1, &reentrant_inner, &again);
	snprintf(reentrant_value, sizeof(reentrant_value), "%s", again ? again : "");
}

/* Callbacks may re-enter the cache: they see the new value, or a new flight. */
static void
test_reentrant_waiter(void **state)
{
	struct fake *f = *state;
	const char *value = NULL;

	ask(f, KEY, 0, &f->waiters[0], &value);
	f->waiters[0].base.done = ask_again;
	token_cache_complete(f->cache, KEY, "tok-1", TOKEN_CACHE_FOREVER, NULL);
	assert_int_equal(reentrant_status, TOKEN_CACHE_HIT);
	assert_string_equal(reentrant_value, "tok-1");

	token_cache_invalidate(f->cache, KEY, NULL);
	ask(f, KEY, 0, &f->waiters[1], &value);
	f->waiters[1].base.done = ask_again;
	token_cache_complete(f->cache, KEY, NULL, 0, "boom");
	assert_int_equal(reentrant_status, TOKEN_CACHE_FETCH); /* a new flight */
	assert_int_equal(reentrant_inner.order, -1);
	token_cache_complete(f->cache, KEY, "tok-2", TOKEN_CACHE_FOREVER, NULL);
	assert_string_equal(reentrant_inner.value, "tok-2");
}

/* Completing a key without a flight is refused and calls nobody. */
static void
test_complete_without_flight(void **state)
{
	struct fake *f = *state;
	const char *value = NULL;

	assert_int_equal(token_cache_complete(f->cache, KEY, "x", 1, NULL), -1);
	ask(f, KEY, 0, &f->waiters[0], &value);
	assert_int_equal(token_cache_complete(f->cache, KEY, "x", 1, NULL), 0);
	assert_int_equal(token_cache_complete(f->cache, KEY, "y", 1, NULL), -1);
	assert_int_equal(f->completed, 1);
}

/* Freeing with waiters queued and values cached releases everything. */
static void
test_free_with_pending(void **state)
{
	struct fake *f = *state;
	const char *value = NULL;

	ask(f, "a", 0, &f->waiters[0], &value);
	token_cache_complete(f->cache, "a", "secret-a", TOKEN_CACHE_FOREVER, NULL);
	ask(f, "b", 0, &f->waiters[1], &value);
	ask(f, "b", 0, &f->waiters[2], &value);
	/* teardown frees the cache: the sanitizers check for leaks */
	assert_int_equal(f->completed, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scope_string_normalises),
	    cmocka_unit_test(test_scope_string_rejects_bad_scopes),
	    cmocka_unit_test(test_token_key),
	    cmocka_unit_test(test_expiry_arithmetic),
	    cmocka_unit_test_setup_teardown(test_single_flight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refetch_at_margin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_short_lifetime, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalidate_matching_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_propagates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys_independent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reentrant_waiter, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_complete_without_flight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_with_pending, setup, teardown),
	};

	return cmocka_run_group_tests_name("token_cache", tests, NULL, NULL);
}
