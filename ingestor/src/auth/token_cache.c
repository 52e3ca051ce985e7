/*
 * token_cache.c - expiring, single-flight cache of credentials (see
 * token_cache.h for the contract).
 *
 * The handful of keys a process uses (one token, one secret, maybe one
 * endpoint per token source) live in a singly linked list; entries stay until
 * the cache is freed, only their values come and go.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token_cache.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/wipe.h"

/* Lifetimes up to this many seconds are halved instead of cut by the margin. */
#define SHORT_LIFETIME_S 120
#define EXPIRY_MARGIN_S  60
/* A longer expires_in is clamped, so the arithmetic cannot overflow. */
#define MAX_LIFETIME_S (INT64_C(10) * 365 * 24 * 3600)

struct entry
{
	struct entry *next;
	char *key;
	char *value; /* NULL when nothing is cached */
	int64_t expires_ns;
	bool flying;
	struct token_cache_waiter *head, *tail;
};

struct token_cache
{
	struct entry *entries;
};

/* Wipe and free a cached value. */
static void
drop_value(struct entry *e)
{
	wipe_free(e->value);
	e->value = NULL;
}

/* Find key's entry, or NULL. */
static struct entry *
find_entry(struct token_cache *cache, const char *key)
{
	for (struct entry *e = cache->entries; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* Allocate an empty cache. */
struct token_cache *
token_cache_new(void)
{
	return xcalloc(1, sizeof(struct token_cache));
}

/* Wipe every value and free the cache; queued waiters are not called. */
void
token_cache_free(struct token_cache *cache)
{
	struct entry *e, *next;

	if (cache == NULL)
		return;
	for (e = cache->entries; e != NULL; e = next)
	{
		next = e->next;
		drop_value(e);
		free(e->key);
		free(e);
	}
	free(cache);
}

/* Answer a fresh value, or queue the waiter on key's (possibly new) flight. */
enum token_cache_status
token_cache_get(struct token_cache *cache, const char *key, int64_t now_ns,
                struct token_cache_waiter *waiter, const char **value)
{
	struct entry *e = find_entry(cache, key);
	bool start;

	if (e == NULL)
	{
		e = xcalloc(1, sizeof(*e));
		e->key = xstrdup(key);
		e->next = cache->entries;
		cache->entries = e;
	}
	if (e->value != NULL && now_ns < e->expires_ns)
	{
		*value = e->value;
		return TOKEN_CACHE_HIT;
	}
	drop_value(e);
	waiter->next = NULL;
	if (e->tail != NULL)
		e->tail->next = waiter;
	else
		e->head = waiter;
	e->tail = waiter;
	start = !e->flying;
	e->flying = true;
	return start ? TOKEN_CACHE_FETCH : TOKEN_CACHE_WAIT;
}

/* Store the flight's result, then hand it to every waiter of the flight. */
int
token_cache_complete(struct token_cache *cache, const char *key, const char *value,
                     int64_t expires_ns, const char *error)
{
	struct entry *e = find_entry(cache, key);
	struct token_cache_waiter *w, *next;
	char *copy;

	if (e == NULL || !e->flying)
		return -1;
	copy = value != NULL ? xstrdup(value) : NULL;
	/* Detach the flight first: a waiter may ask again, even for this key. */
	w = e->head;
	e->head = e->tail = NULL;
	e->flying = false;
	drop_value(e);
	if (copy != NULL)
	{
		e->value = xstrdup(copy);
		e->expires_ns = expires_ns;
	}
	for (; w != NULL; w = next)
	{
		next = w->next;
		w->next = NULL;
		w->done(w, copy, copy != NULL ? NULL : error);
	}
	wipe_free(copy);
	return 0;
}

/* Drop key's value when it is the one given (or any, for NULL). */
bool
token_cache_invalidate(struct token_cache *cache, const char *key, const char *value)
{
	struct entry *e = find_entry(cache, key);

	if (e == NULL || e->value == NULL || (value != NULL && strcmp(e->value, value) != 0))
		return false;
	drop_value(e);
	return true;
}

/* Expiry of a token sent at sent_ns: 60 s early, or at half of a short life. */
int64_t
token_cache_expiry(int64_t sent_ns, int64_t expires_in_s)
{
	int64_t life_ns;

	if (expires_in_s < 0)
		expires_in_s = 0;
	if (expires_in_s > MAX_LIFETIME_S)
		expires_in_s = MAX_LIFETIME_S;
	if (expires_in_s <= SHORT_LIFETIME_S)
		life_ns = expires_in_s * (NS_PER_S / 2);
	else
		life_ns = (expires_in_s - EXPIRY_MARGIN_S) * NS_PER_S;
	return sent_ns + life_ns;
}

/* qsort comparator for C strings. */
static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* True when s is a scope-token: 1*( %x21 / %x23-5B / %x5D-7E ). */
static bool
scope_token_valid(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\')
			return false;
	return true;
}

/* Sort, de-duplicate and space-join the scopes. */
char *
token_cache_scope_string(const char *const *scopes, size_t n_scopes, char *err, size_t errlen)
{
	const char **sorted;
	size_t len = 1;
	char *out, *p;

	for (size_t i = 0; i < n_scopes; i++)
	{
		if (!scope_token_valid(scopes[i]))
		{
			snprintf(
			    err, errlen,
			    "invalid scope \"%s\": a scope is printable ASCII without spaces, quotes or backslashes",
			    scopes[i]);
			return NULL;
		}
		len += strlen(scopes[i]) + 1;
	}
	sorted = xmalloc((n_scopes ? n_scopes : 1) * sizeof(*sorted));
	out = xmalloc(len);
	if (n_scopes > 0)
	{
		memcpy(sorted, scopes, n_scopes * sizeof(*sorted));
		qsort(sorted, n_scopes, sizeof(*sorted), compare_strings);
	}
	p = out;
	for (size_t i = 0; i < n_scopes; i++)
	{
		size_t n = strlen(sorted[i]);

		if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
			continue;
		if (p != out)
			*p++ = ' ';
		memcpy(p, sorted[i], n);
		p += n;
	}
	*p = '\0';
	free(sorted);
	return out;
}

/* "token_url\nclient_id\nscopes": newlines cannot occur in any of the parts. */
char *
token_cache_token_key(const char *token_url, const char *client_id, const char *scope_string)
{
	return xasprintf("%s\n%s\n%s", token_url, client_id, scope_string);
}
