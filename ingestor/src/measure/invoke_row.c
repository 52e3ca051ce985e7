/*
 * invoke_row.c - an invocation's rows and record from its facts (see
 * invoke_row.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "measure/invoke_row.h"
#include "util/clock.h"

/* Set a number, or leave the key out when it is not finite. */
static void
set_number(json_t *obj, const char *key, double v)
{
	if (isfinite(v))
		json_object_set_new(obj, key, json_real(v));
}

/* The columns every row of this invocation carries. */
static json_t *
base_row(const struct invoke_facts *f, const char *status)
{
	return json_pack("{s:s,s:I,s:s,s:s,s:f}", "invocation_id", f->invocation_id, "agent_id",
	                 (json_int_t) f->agent_id, "session_id", f->session_id, "status", status,
	                 "client_invoke_time", f->t0_wall);
}

/* Append a phase when its numbers are valid (start NAN = unknown). */
static void
add_phase(json_t *phases, const char *name, double start_ms, double duration_ms)
{
	json_t *phase;

	if (!isfinite(duration_ms) || duration_ms < 0)
		return;
	phase = json_pack("{s:s,s:f}", "phase", name, "duration_ms", duration_ms);
	if (isfinite(start_ms))
		json_object_set_new(phase, "start_ms", json_real(start_ms));
	else
		json_object_set_new(phase, "start_ms", json_null());
	json_array_append_new(phases, phase);
}

/* libcurl's DNS, connect, TLS and first-byte times, placed on the invocation's timeline. */
static void
add_http_phases(const struct invoke_facts *f, json_t *phases)
{
	const struct invoke_http_times *t = f->http;
	double off = clock_ms_between(f->t0_ns, f->http_start_ns);
	double dns = t->reused ? 0 : (double) t->dns_us / 1e3;
	double connect = t->reused ? 0 : (double) t->connect_us / 1e3;
	double tls = t->reused ? 0 : (double) t->tls_us / 1e3;
	double pre = (double) t->pretransfer_us / 1e3;
	double first = (double) t->first_byte_us / 1e3;

	add_phase(phases, "dns", off, dns);
	add_phase(phases, "connect", off + dns, connect - dns);
	if (tls > 0)
		add_phase(phases, "tls", off + connect, tls - connect);
	if (first > 0)
		add_phase(phases, "first_byte", off + pre, first - pre);
}

/* The agent's own phases as agent.<name>; a name reported twice keeps its last value. */
static void
add_agent_phases(const struct stream_result *r, json_t *phases)
{
	for (size_t i = 0; i < r->n_phases; i++)
	{
		const struct stream_phase *p = &r->phases[i];
		char name[80];
		bool later = false;

		for (size_t j = i + 1; j < r->n_phases && !later; j++)
			later = strcmp(r->phases[j].name, p->name) == 0;
		if (later || p->name[0] == '\0')
			continue;
		snprintf(name, sizeof(name), "agent.%s", p->name);
		add_phase(phases, name, p->start_ms == -1 ? NAN : p->start_ms, p->duration_ms);
	}
}

/* When the invocation ended: the stream layer knows each format's end, else the conclusion. */
static int64_t
done_ns(const struct invoke_facts *f)
{
	return f->stream != NULL && f->stream->done_ns != 0 ? f->stream->done_ns : f->end_ns;
}

/* The agent's reported cold start, else agent_start_time against t0; NAN: neither. */
static double
cold_start_ms(const struct invoke_facts *f)
{
	const struct stream_result *r = f->stream;

	if (r != NULL && r->has_cold_start)
		return r->cold_start_latency_ms;
	if (r != NULL && r->has_agent_start)
		return (r->agent_start_time - f->t0_wall) * 1e3;
	return NAN;
}

/* t0 to the first answer text; NAN: none arrived. */
static double
ttft_ms(const struct invoke_facts *f)
{
	return f->stream != NULL && f->stream->first_text_ns != 0
	           ? clock_ms_between(f->t0_ns, f->stream->first_text_ns)
	           : NAN;
}

/* Pending: only the columns every row carries. */
json_t *
invoke_row_pending(const struct invoke_facts *facts)
{
	return base_row(facts, "pending");
}

/* The final row with its measured columns and phases. */
json_t *
invoke_row_final(const struct invoke_facts *f)
{
	const struct stream_result *r = f->stream;
	json_t *row = base_row(f, f->error == NULL ? "complete" : "error");
	json_t *phases = json_array();
	double duration = clock_ms_between(f->t0_ns, done_ns(f));
	double ttft = ttft_ms(f);

	set_number(row, "client_done_time", f->t0_wall + duration / 1e3);
	set_number(row, "client_duration_ms", duration);
	set_number(row, "ttft_ms", ttft);
	set_number(row, "cold_start_latency_ms", cold_start_ms(f));
	if (f->error != NULL)
		json_object_set_new(row, "error_message", json_string(f->error));
	if (f->token_known)
	{
		json_object_set_new(row, "token_cache_hit", json_boolean(f->token_cache_hit));
		add_phase(phases, "token", 0, f->token_ms);
	}
	add_phase(phases, "db", 0, f->db_ms);
	if (f->http != NULL)
		add_http_phases(f, phases);
	if (r != NULL)
	{
		double http_off = clock_ms_between(f->t0_ns, f->http_start_ns);

		if (r->has_agent_start)
			set_number(row, "agent_start_time", r->agent_start_time);
		if (r->input_tokens >= 0)
			json_object_set_new(row, "input_tokens", json_integer(r->input_tokens));
		if (r->output_tokens >= 0)
			json_object_set_new(row, "output_tokens", json_integer(r->output_tokens));
		/* reasoning is timed apart from the answer: it never ends TTFT */
		if (r->first_reasoning_ns != 0)
			add_phase(phases, "first_reasoning", http_off,
			          clock_ms_between(f->http_start_ns, r->first_reasoning_ns));
		if (r->first_text_ns != 0)
		{
			add_phase(phases, "first_token", http_off,
			          clock_ms_between(f->http_start_ns, r->first_text_ns));
			add_phase(phases, "stream", ttft, clock_ms_between(r->first_text_ns, done_ns(f)));
		}
		add_agent_phases(r, phases);
	}
	json_object_set_new(row, "phases", phases);
	return row;
}

/* {"invocation_id", "phases": [db]}: merged into the row already written. */
json_t *
invoke_row_late_db(const char *invocation_id, double db_ms)
{
	json_t *phases = json_array();
	json_t *row = json_pack("{s:s}", "invocation_id", invocation_id);

	add_phase(phases, "db", 0, db_ms);
	json_object_set_new(row, "phases", phases);
	return row;
}

/* Pending rows seen without a final row get an error row each. */
size_t
invoke_row_close_orphans(json_t *rows)
{
	json_t *open = json_object(); /* invocation_id -> its pending row, while no final row */
	json_t *closed = json_object();
	const char *id;
	json_t *row;
	size_t i, added = 0;

	json_array_foreach(rows, i, row)
	{
		const char *status = json_string_value(json_object_get(row, "status"));

		id = json_string_value(json_object_get(row, "invocation_id"));
		if (id == NULL || status == NULL)
			continue;
		if (strcmp(status, "pending") != 0)
		{
			json_object_del(open, id);
			json_object_set(closed, id, json_true());
		}
		else if (json_object_get(closed, id) == NULL)
			json_object_set(open, id, row);
	}
	json_object_foreach(open, id, row)
	{
		json_t *error = json_deep_copy(row);

		json_object_set_new(error, "status", json_string("error"));
		json_object_set_new(error, "error_message",
		                    json_string("the ingestor stopped before the invocation finished"));
		json_array_append_new(rows, error);
		added++;
	}
	json_decref(open);
	json_decref(closed);
	return added;
}

/* The figures the closing report needs. */
void
invoke_row_record(const struct invoke_facts *f, struct report_record *record)
{
	snprintf(record->invocation_id, sizeof(record->invocation_id), "%s", f->invocation_id);
	record->client_invoke_time = f->t0_wall;
	record->ttft_ms = ttft_ms(f);
	record->duration_ms = clock_ms_between(f->t0_ns, done_ns(f));
	record->cold_start_latency_ms = cold_start_ms(f);
	record->ok = f->error == NULL;
	record->token_cache_hit = f->token_known && f->token_cache_hit;
	record->error = f->error;
}
