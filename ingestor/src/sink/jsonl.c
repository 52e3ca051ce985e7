/*
 * jsonl.c - the JSON-lines row mapper of "loomlat ingest" (see jsonl.h).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/jsonl.h"
#include "util/alloc.h"

enum kind
{
	K_STRING,
	K_INTEGER,
	K_NUMBER,
	K_TIME, /* string or number */
	K_BOOLEAN,
	K_PHASES
};

static const struct
{
	const char *key;
	enum kind kind;
} KEYS[] = {
    {"invocation_id", K_STRING},
    {"agent_id", K_INTEGER},
    {"agent_name", K_STRING},
    {"session_id", K_STRING},
    {"status", K_STRING},
    {"client_invoke_time", K_TIME},
    {"agent_start_time", K_TIME},
    {"client_done_time", K_TIME},
    {"cold_start_latency_ms", K_NUMBER},
    {"ttft_ms", K_NUMBER},
    {"client_duration_ms", K_NUMBER},
    {"input_tokens", K_INTEGER},
    {"output_tokens", K_INTEGER},
    {"token_cache_hit", K_BOOLEAN},
    {"error_message", K_STRING},
    {"phases", K_PHASES},
};

static const char *const KIND_NAMES[] = {"a string",  "an integer",
                                         "a number",  "a string or a number",
                                         "a boolean", "an array of phase objects"};

/* Deepest nesting of brackets outside strings (the line is not yet known to be JSON). */
static int
max_depth(const char *s, size_t len)
{
	int depth = 0, deepest = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++)
	{
		char c = s[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '[' || c == '{')
		{
			if (++depth > deepest)
				deepest = depth;
		}
		else if (c == ']' || c == '}')
			depth--;
	}
	return deepest;
}

/* One phase entry: an object with a string "phase" and numeric times. */
static bool
valid_phase(const json_t *phase)
{
	const json_t *start = json_object_get(phase, "start_ms");
	const json_t *duration = json_object_get(phase, "duration_ms");

	return json_is_object(phase) && json_is_string(json_object_get(phase, "phase")) &&
	       (start == NULL || json_is_null(start) || json_is_number(start)) &&
	       (duration == NULL || json_is_null(duration) || json_is_number(duration));
}

/* Does value have the key's JSON type (null always does)? */
static bool
has_kind(const json_t *value, enum kind kind)
{
	size_t i;
	const json_t *phase;

	if (json_is_null(value))
		return true;
	switch (kind)
	{
		case K_STRING:
			return json_is_string(value);
		case K_INTEGER:
			return json_is_integer(value);
		case K_NUMBER:
			return json_is_number(value);
		case K_TIME:
			return json_is_string(value) || json_is_number(value);
		case K_BOOLEAN:
			return json_is_boolean(value);
		case K_PHASES:
			if (!json_is_array(value))
				return false;
			json_array_foreach(value, i, phase) if (!valid_phase(phase)) return false;
			return true;
	}
	return false;
}

/* Check every key's name and type; false with the reason in why. */
static bool
check_keys(const json_t *row, char *why, size_t whylen)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *) row, key, value)
	{
		size_t k = 0;

		while (k < sizeof(KEYS) / sizeof(KEYS[0]) && strcmp(KEYS[k].key, key) != 0)
			k++;
		if (k == sizeof(KEYS) / sizeof(KEYS[0]))
		{
			snprintf(why, whylen, "unknown key \"%.64s\"", key);
			return false;
		}
		if (!has_kind(value, KEYS[k].kind))
		{
			snprintf(why, whylen, "\"%s\" must be %s", key, KIND_NAMES[KEYS[k].kind]);
			return false;
		}
	}
	return true;
}

/* Is the key absent or null? */
static bool
unknown(const json_t *row, const char *key)
{
	const json_t *value = json_object_get(row, key);

	return value == NULL || json_is_null(value);
}

/* FNV-1a over the canonical text, stamped as a version 8, variant 10 UUID. */
void
jsonl_derive_id(const json_t *row, char out[UUID_STR_LEN])
{
	const unsigned __int128 prime = ((unsigned __int128) 0x1000000ULL << 64) | 0x13BULL;
	unsigned __int128 hash =
	    ((unsigned __int128) 0x6c62272e07bb0142ULL << 64) | 0x62b821756295c58dULL;
	char *text = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
	uint8_t bytes[16];

	for (const unsigned char *p = (const unsigned char *) text; *p != '\0'; p++)
		hash = (hash ^ *p) * prime;
	free(text);
	for (int i = 0; i < 16; i++)
		bytes[i] = (uint8_t) (hash >> (8 * (15 - i)));
	bytes[6] = (uint8_t) ((bytes[6] & 0x0f) | 0x80);
	bytes[8] = (uint8_t) ((bytes[8] & 0x3f) | 0x80);
	uuid_format(bytes, out);
}

/* The row's text: the line itself, with the keys it lacks spliced in after
 * its "{" (the object has a member already, so a comma follows), or the row
 * encoded again when a lacking key is there as null. */
static char *
encode(json_t *row, const char *line, size_t len, const char *id, int64_t agent_id, size_t *row_len)
{
	const char *open = memchr(line, '{', len);
	size_t rest = len - (size_t) (open + 1 - line);
	char head[128];
	int n;
	char *text;

	if ((id != NULL && json_object_get(row, "invocation_id") != NULL) ||
	    (agent_id > 0 && json_object_get(row, "agent_id") != NULL))
	{
		if (id != NULL)
			json_object_set_new(row, "invocation_id", json_string(id));
		if (agent_id > 0)
			json_object_set_new(row, "agent_id", json_integer(agent_id));
		text = json_dumps(row, JSON_COMPACT);
		if (text == NULL)
			abort(); /* out of memory */
		*row_len = strlen(text);
		return text;
	}
	n = snprintf(head, sizeof(head), "{%s%s%s", id != NULL ? "\"invocation_id\":\"" : "",
	             id != NULL ? id : "", id != NULL ? "\"," : "");
	if (agent_id > 0)
		n += snprintf(head + n, sizeof(head) - (size_t) n, "\"agent_id\":%" PRId64 ",", agent_id);
	text = xmalloc((size_t) n + rest + 1);
	memcpy(text, head, (size_t) n);
	memcpy(text + n, open + 1, rest);
	text[(size_t) n + rest] = '\0';
	*row_len = (size_t) n + rest;
	return text;
}

/* Parse, check, fill in the id and the agent. */
char *
jsonl_map_line(const char *line, size_t len, const struct jsonl_options *opts, size_t *row_len,
               char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *row;
	char *text = NULL;

	if (len > opts->max_line_bytes)
	{
		snprintf(why, whylen, "line of %zu bytes is longer than --max-line-bytes %zu", len,
		         opts->max_line_bytes);
		return NULL;
	}
	if (max_depth(line, len) > JSONL_MAX_DEPTH)
	{
		snprintf(why, whylen, "nested deeper than %d levels", JSONL_MAX_DEPTH);
		return NULL;
	}
	row = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (row == NULL)
	{
		snprintf(why, whylen, "invalid JSON at column %d: %s", jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(row))
		snprintf(why, whylen, "not a JSON object");
	else if (check_keys(row, why, whylen))
	{
		char id[UUID_STR_LEN];
		bool need_id = unknown(row, "invocation_id");

		if (need_id && unknown(row, "client_invoke_time"))
			snprintf(why, whylen,
			         "missing \"invocation_id\" (or \"client_invoke_time\" to derive it)");
		else
		{
			if (need_id)
				jsonl_derive_id(row, id);
			text = encode(row, line, len, need_id ? id : NULL,
			              unknown(row, "agent_id") ? opts->agent_id : 0, row_len);
		}
	}
	json_decref(row);
	return text;
}
