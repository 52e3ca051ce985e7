/*
 * latency_stats_by_agent.c
 *	  loomlat.latency_stats_by_agent: latency_stats per agent and over all
 *	  rows, in one pass without GROUP BY.
 *
 * The state keeps a LatencyStats per agent in its own hash table (cheaper
 * than a GROUP BY, and no second grouping set for the total), plus one for
 * the rows whose agent_id is NULL.  The final function returns every agent's
 * row, by agent_id, and the total's, computed over all of their values.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/typcache.h"

#include "latency_stats.h"
#include "loomlat.h"

/* Magic word of a serialized latency_stats_by_agent state: "LLA", version 2. */
#define BY_AGENT_WIRE_MAGIC WIRE_MAGIC('L', 'L', 'A', 2)

/* An agent's entry in the hash table. */
typedef struct AgentEntry
{
	int64 agent_id;
	char status; /* simplehash's */
	LatencyStats *stats;
} AgentEntry;

#define SH_PREFIX            agentmap
#define SH_ELEMENT_TYPE      AgentEntry
#define SH_KEY_TYPE          int64
#define SH_KEY               agent_id
#define SH_HASH_KEY(tb, key) murmurhash32((uint32) (key) ^ (uint32) ((uint64) (key) >> 32))
#define SH_EQUAL(tb, a, b)   ((a) == (b))
#define SH_SCOPE             static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* latency_stats_by_agent state. */
typedef struct AgentStats
{
	agentmap_hash *agents;
	LatencyStats *no_agent;        /* rows whose agent_id is NULL, or NULL */
	const HistogramBounds *bounds; /* NULL: no histograms */
} AgentStats;

PG_FUNCTION_INFO_V1(loomlat_latency_stats_by_agent_transfn);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_by_agent_final);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_by_agent_combine);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_by_agent_serialize);
PG_FUNCTION_INFO_V1(loomlat_latency_stats_by_agent_deserialize);

/* An empty by-agent state in mcxt. */
static AgentStats *
AgentStatsCreate(const HistogramBounds *bounds, MemoryContext mcxt)
{
	AgentStats *state = MemoryContextAllocZero(mcxt, sizeof(AgentStats));

	state->agents = agentmap_create(mcxt, 64, NULL);
	state->bounds = bounds;
	return state;
}

/* The slot of an agent's stats (has_agent false: the rows without one); NULL when new. */
static LatencyStats **
AgentSlot(AgentStats *state, bool has_agent, int64 agent_id)
{
	bool found;
	LatencyStats **stats;

	if (!has_agent)
		return &state->no_agent;
	stats = &agentmap_insert(state->agents, agent_id, &found)->stats;
	if (!found)
		*stats = NULL;
	return stats;
}

/* The stats of agent_id (or of the rows without an agent), created empty when new. */
static LatencyStats *
AgentStatsGet(AgentStats *state, bool has_agent, int64 agent_id, MemoryContext mcxt)
{
	LatencyStats **stats = AgentSlot(state, has_agent, agent_id);

	if (*stats == NULL)
		*stats = LatencyStatsCreate(state->bounds, mcxt);
	return *stats;
}

/* latency_stats_by_agent(agent_id, ttft_ms, duration_ms, cold, bounds_ms) transition. */
Datum
loomlat_latency_stats_by_agent_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = LoomlatAggContext(fcinfo, "latency_stats_by_agent");
	AgentStats *state = PG_ARGISNULL(0)
	                        ? AgentStatsCreate(HistogramBoundsArg(fcinfo, 5), aggcontext)
	                        : (AgentStats *) PG_GETARG_POINTER(0);
	LatencyStats *stats = AgentStatsGet(state, !PG_ARGISNULL(1),
	                                    PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1), aggcontext);

	LatencyStatsAdd(stats, fcinfo, 2, aggcontext);
	PG_RETURN_POINTER(state);
}

/* qsort comparator: agent entries by agent_id. */
static int
AgentEntryCmp(const void *a, const void *b)
{
	int64 x = (*(AgentEntry *const *) a)->agent_id;
	int64 y = (*(AgentEntry *const *) b)->agent_id;

	return (x > y) - (x < y);
}

/*
 * The groups of state in output order, into parts and agent_ids/agent_nulls:
 * the agents by agent_id, then the rows without one.
 */
static void
AgentsInOrder(const AgentStats *state, LatencyStats **parts, Datum *agent_ids, bool *agent_nulls)
{
	AgentEntry **entries = palloc(mul_size(Max(state->agents->members, 1), sizeof(AgentEntry *)));
	agentmap_iterator it;
	AgentEntry *entry;
	int n = 0;

	agentmap_start_iterate(state->agents, &it);
	while ((entry = agentmap_iterate(state->agents, &it)) != NULL)
		entries[n++] = entry;
	qsort(entries, n, sizeof(AgentEntry *), AgentEntryCmp);
	for (int i = 0; i < n; i++)
	{
		parts[i] = entries[i]->stats;
		agent_ids[i] = Int64GetDatum(entries[i]->agent_id);
		agent_nulls[i] = false;
	}
	if (state->no_agent != NULL)
	{
		parts[n] = state->no_agent;
		agent_ids[n] = Int64GetDatum(0);
		agent_nulls[n] = true;
	}
	pfree(entries);
}

/*
 * latency_stats_by_agent final: a loomlat.latency_stats_rollup row, the
 * total over every row, then the agents (a NULL agent_id last) and their
 * rows in agent_id order.
 */
Datum
loomlat_latency_stats_by_agent_final(PG_FUNCTION_ARGS)
{
	AgentStats *state = PG_ARGISNULL(0) ? NULL : (AgentStats *) PG_GETARG_POINTER(0);
	int nagents = state ? state->agents->members + (state->no_agent != NULL) : 0;
	LatencyStats **parts = palloc(mul_size(Max(nagents, 1), sizeof(LatencyStats *)));
	Datum *agent_ids = palloc(mul_size(Max(nagents, 1), sizeof(Datum)));
	bool *agent_nulls = palloc(mul_size(Max(nagents, 1), sizeof(bool)));
	Datum *agent_stats = palloc(mul_size(Max(nagents, 1), sizeof(Datum)));
	LatencyStats *total = NULL;
	TupleDesc tupdesc;
	TupleDesc stats_desc;
	Oid stats_type;
	Datum values[3];
	bool nulls[3] = {false, false, false};
	int dims[1] = {nagents};
	int lbs[1] = {1};

	LoomlatAggContext(fcinfo, "latency_stats_by_agent");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE || tupdesc->natts != 3)
		elog(ERROR, "latency_stats_by_agent must return a row of 3 columns");
	tupdesc = BlessTupleDesc(tupdesc);
	stats_type = TupleDescAttr(tupdesc, 0)->atttypid;
	stats_desc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(stats_type, -1));

	if (nagents > 0)
	{
		AgentsInOrder(state, parts, agent_ids, agent_nulls);
		total = LatencyStatsCreate(state->bounds, CurrentMemoryContext);
		for (int i = 0; i < nagents; i++)
		{
			agent_stats[i] = LatencyStatsDatum(parts[i], stats_desc);
			LatencyStatsAbsorb(total, parts[i], CurrentMemoryContext);
		}
	}
	values[0] = LatencyStatsDatum(total, stats_desc);
	values[1] =
	    PointerGetDatum(construct_md_array(agent_ids, agent_nulls, 1, dims, lbs, INT8OID,
	                                       sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(
	    construct_array(agent_stats, nagents, stats_type, -1, false, TYPALIGN_DOUBLE));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* CombineOps: an empty by-agent state with src's bounds. */
static void *
AgentStatsEmptyLike(const void *src, MemoryContext mcxt)
{
	return AgentStatsCreate(HistogramBoundsCopy(((const AgentStats *) src)->bounds, mcxt), mcxt);
}

/* CombineOps: both states must have the same bounds. */
static void
AgentStatsCheckSame(const void *dst, const void *src)
{
	if (!HistogramBoundsEqual(((const AgentStats *) dst)->bounds,
	                          ((const AgentStats *) src)->bounds))
		HistogramBoundsMismatch();
}

/* CombineOps: adds every agent's rows of src to the same agent of dst. */
static void
AgentStatsAbsorb(void *dst, const void *src, MemoryContext mcxt)
{
	AgentStats *to = dst;
	const AgentStats *from = src;
	agentmap_iterator it;
	AgentEntry *entry;

	agentmap_start_iterate(from->agents, &it);
	while ((entry = agentmap_iterate(from->agents, &it)) != NULL)
		LatencyStatsAbsorb(AgentStatsGet(to, true, entry->agent_id, mcxt), entry->stats, mcxt);
	if (from->no_agent != NULL)
		LatencyStatsAbsorb(AgentStatsGet(to, false, 0, mcxt), from->no_agent, mcxt);
}

static const CombineOps by_agent_combine_ops = {AgentStatsEmptyLike, AgentStatsCheckSame,
                                                AgentStatsAbsorb};

/* latency_stats_by_agent combine: every agent's rows of both states in the first. */
Datum
loomlat_latency_stats_by_agent_combine(PG_FUNCTION_ARGS)
{
	return LoomlatCombine(fcinfo, "latency_stats_by_agent_combine", &by_agent_combine_ops);
}

/*
 * latency_stats_by_agent serialize: the bounds, the number of groups, then
 * each group: a flag (1: an agent, 0: the rows without one), its agent_id
 * (0 without one) and its stats.
 */
Datum
loomlat_latency_stats_by_agent_serialize(PG_FUNCTION_ARGS)
{
	AgentStats *state;
	WireWriter w;
	agentmap_iterator it;
	AgentEntry *entry;

	LoomlatAggContext(fcinfo, "latency_stats_by_agent_serialize");
	state = (AgentStats *) PG_GETARG_POINTER(0);
	WireWriterBegin(&w, BY_AGENT_WIRE_MAGIC, "latency_stats_by_agent");
	HistogramBoundsWrite(&w, state->bounds);
	WirePutInt64(&w, state->agents->members + (state->no_agent != NULL));
	agentmap_start_iterate(state->agents, &it);
	while ((entry = agentmap_iterate(state->agents, &it)) != NULL)
	{
		WirePutInt32(&w, 1);
		WirePutInt64(&w, entry->agent_id);
		LatencyStatsWrite(&w, entry->stats);
	}
	if (state->no_agent != NULL)
	{
		WirePutInt32(&w, 0);
		WirePutInt64(&w, 0);
		LatencyStatsWrite(&w, state->no_agent);
	}
	PG_RETURN_BYTEA_P(WireWriterEnd(&w));
}

/* latency_stats_by_agent deserialize, validating every field; an agent may appear once. */
Datum
loomlat_latency_stats_by_agent_deserialize(PG_FUNCTION_ARGS)
{
	WireReader r;
	AgentStats *state;
	int64 ngroups;

	LoomlatAggContext(fcinfo, "latency_stats_by_agent_deserialize");
	WireReaderBegin(&r, PG_GETARG_BYTEA_PP(0), BY_AGENT_WIRE_MAGIC, "latency_stats_by_agent");
	state = AgentStatsCreate(HistogramBoundsRead(&r), CurrentMemoryContext);
	/* a group takes at least its flag, agent_id and two counts */
	ngroups = WireGetCount(&r, WireRemaining(&r) / (sizeof(int32) + 3 * sizeof(int64)));
	for (int64 i = 0; i < ngroups; i++)
	{
		int32 has_agent = WireGetInt32(&r);
		int64 agent_id = WireGetInt64(&r);
		LatencyStats **stats;

		if (has_agent != 0 && has_agent != 1)
			WireCorrupt(&r, "an agent flag is invalid");
		if (!has_agent && agent_id != 0)
			WireCorrupt(&r, "the rows without an agent have an agent_id");
		stats = AgentSlot(state, has_agent, agent_id);
		if (*stats != NULL)
			WireCorrupt(&r, "an agent appears twice");
		*stats = LatencyStatsRead(&r, state->bounds);
	}
	WireReaderEnd(&r);
	PG_RETURN_POINTER(state);
}
