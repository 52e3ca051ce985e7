/*
 * jsonl.h - one line of "loomlat ingest" input mapped to one row of
 * loomlat.record_invocations().
 *
 * Contract: a line is a JSON object whose keys are record_invocations' keys
 * (invocation_id, agent_id, agent_name, session_id, status,
 * client_invoke_time, agent_start_time, client_done_time,
 * cold_start_latency_ms, ttft_ms, client_duration_ms, input_tokens,
 * output_tokens, token_cache_hit, error_message, phases); times are ISO 8601
 * strings or Unix seconds (the Loom backend's floats), null means unknown.
 * The mapper checks what the client can (size, UTF-8, nesting, JSON syntax,
 * key names, JSON types, a NaN or an overflowing number cannot parse) and
 * leaves the value rules and the merge to the server.  A line without
 * agent_id gets the default agent; a line without invocation_id must carry
 * client_invoke_time and gets an id derived from its content, so the same
 * line always maps to the same row.  cold_start_latency_ms, when a line
 * has none, is the server's to derive (agent_start_time - client_invoke_time).
 * Pure: no I/O, no global state.
 */
#ifndef LOOMLAT_JSONL_H
#define LOOMLAT_JSONL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/uuid.h"

#define JSONL_MAX_DEPTH 8 /* a row, its phases, a phase: 3 */

struct jsonl_options
{
	int64_t agent_id;      /* for lines without one; 0: none */
	size_t max_line_bytes; /* longer lines are rejected */
};

/* Map one line (without its newline; need not be NUL-terminated) to a row,
 * as JSON text (malloc'd, NUL-terminated, *row_len bytes): the line itself
 * when it lacks nothing, so a row is not encoded twice; NULL with the reason
 * in why. */
char *jsonl_map_line(const char *line, size_t len, const struct jsonl_options *opts,
                     size_t *row_len, char *why, size_t whylen);

/* The id of a line without invocation_id: an RFC 9562 version 8 UUID holding
 * the 128-bit FNV-1a hash of the row's canonical text (sorted keys, compact). */
void jsonl_derive_id(const json_t *row, char out[UUID_STR_LEN]);

#endif
