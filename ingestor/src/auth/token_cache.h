/*
 * token_cache.h - expiring, single-flight cache of credentials.
 *
 * A pure data structure: no I/O, no allocation per waiter and no clock of its
 * own.  Every call takes "now" (monotonic ns) from the caller, so tests drive
 * time by hand.  The auth layer keeps access tokens, client secrets and the
 * discovered token endpoint in it.
 *
 * Each key holds at most one value with its expiry, and at most one flight,
 * the fetch running for it.  token_cache_get() answers a fresh value at once
 * (TOKEN_CACHE_HIT); otherwise it queues the caller's waiter on the key's
 * flight and says whether that flight already runs (TOKEN_CACHE_WAIT) or the
 * caller must now start the fetch (TOKEN_CACHE_FETCH).  However many callers
 * ask, one fetch runs per key.  token_cache_complete() ends the flight: it
 * stores the value (none on error) and calls every waiter, in arrival order,
 * with the same result.  A waiter may call back into the cache, even for the
 * same key; it must not free the cache.
 *
 * Values are wiped with explicit_bzero() when replaced, dropped or freed.
 */
#ifndef LOOMLAT_TOKEN_CACHE_H
#define LOOMLAT_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A value that never expires (a discovered endpoint, a fixed bearer token). */
#define TOKEN_CACHE_FOREVER INT64_MAX

struct token_cache;

/*
 * A caller embeds one waiter in its own request and recovers the request from
 * the pointer in done().  Exactly one of value and error is non-NULL; both
 * are valid only during the call.
 */
struct token_cache_waiter
{
	void (*done)(struct token_cache_waiter *waiter, const char *value, const char *error);
	struct token_cache_waiter *next;
};

enum token_cache_status
{
	TOKEN_CACHE_HIT,  /* *value is fresh; valid until the next call on the cache */
	TOKEN_CACHE_WAIT, /* joined the flight already running for the key */
	TOKEN_CACHE_FETCH /* joined a new flight: start the fetch, then complete it */
};

struct token_cache *token_cache_new(void);

/* Wipe and free every value; waiters still queued are dropped uncalled. */
void token_cache_free(struct token_cache *cache);

/* Look key up at now_ns; see enum token_cache_status for what happens. */
enum token_cache_status token_cache_get(struct token_cache *cache, const char *key, int64_t now_ns,
                                        struct token_cache_waiter *waiter, const char **value);

/*
 * End key's flight: keep value until expires_ns (a value already expired is
 * still handed to the waiters, just not kept), or with value NULL hand error
 * to every waiter.  Returns -1 when key has no flight.
 */
int token_cache_complete(struct token_cache *cache, const char *key, const char *value,
                         int64_t expires_ns, const char *error);

/* Drop key's value if it equals value, or whatever it is when value is NULL.
 * Returns true when a value was dropped. */
bool token_cache_invalidate(struct token_cache *cache, const char *key, const char *value);

/*
 * When a token fetched at sent_ns with lifetime expires_in_s (seconds) stops
 * being handed out: 60 s before it runs out, or halfway through a lifetime of
 * 120 s or less so that a short-lived token is not already stale on arrival.
 */
int64_t token_cache_expiry(int64_t sent_ns, int64_t expires_in_s);

/*
 * The scope string of a token request and its cache key (RFC 6749 section
 * 3.3): the scopes sorted, de-duplicated and joined by single spaces ("" for
 * none).  A scope must be non-empty printable ASCII without space, '"' or
 * '\\'.  Returns a malloc'd string, or NULL with a message in err.
 */
char *token_cache_scope_string(const char *const *scopes, size_t n_scopes, char *err,
                               size_t errlen);

/* The cache key of a token: token URL, client id and normalised scopes. */
char *token_cache_token_key(const char *token_url, const char *client_id, const char *scope_string);

#endif
