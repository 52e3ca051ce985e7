/*
 * record_rows.c
 *	  The parser of loomlat.record_invocations(): a JSON array of rows in,
 *	  every value checked and typed in one pass, rows and phases out.
 *
 * loomlat.record_rows(rows jsonb) returns the rows as loomlat.record_row[]
 * (in order) and their phase entries as loomlat.record_phase[], each with
 * its round (the k-th row of an invocation goes in round k, so that no
 * statement touches an invocation twice), plus how many rounds and distinct
 * invocations there are and whether any row names an agent.
 * record_invocations() writes them with set-based statements; the checks
 * that need the database (the keys a new invocation requires, an agent that
 * exists) stay there.
 *
 * A bad value raises the error record_invocations() documents, "row N
 * (invocation_id U): ..." naming the key, also in the error's COLUMN field:
 * SQLSTATE 42804 for a wrong JSON type or a row that is not an object, 22023
 * for a bad value or an unknown key, 23502 for a missing one.  Rows are
 * checked in order; within a row an unknown key comes first, then the keys
 * in RowKeys' order.  Values are converted by the server's own functions
 * (uuid_in, timestamptz_in, to_timestamp, float8in), so each accepts exactly
 * what the cast would.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

PG_FUNCTION_INFO_V1(loomlat_record_rows);

/* The columns of loomlat.record_row, in order. */
enum
{
	ROW_ORD,
	ROW_ROUND,
	ROW_INVOCATION_ID,
	ROW_AGENT_ID,
	ROW_AGENT_NAME,
	ROW_SESSION_ID,
	ROW_STATUS,
	ROW_CLIENT_INVOKE_TIME,
	ROW_AGENT_START_TIME,
	ROW_CLIENT_DONE_TIME,
	ROW_COLD_START_LATENCY_MS,
	ROW_TTFT_MS,
	ROW_CLIENT_DURATION_MS,
	ROW_INPUT_TOKENS,
	ROW_OUTPUT_TOKENS,
	ROW_TOKEN_CACHE_HIT,
	ROW_ERROR_MESSAGE,
	ROW_NATTS
};

/* The columns of loomlat.record_phase, in order. */
enum
{
	PHASE_ROUND,
	PHASE_INVOCATION_ID,
	PHASE_NAME,
	PHASE_START_MS,
	PHASE_DURATION_MS,
	PHASE_NATTS
};

/* The columns of record_rows()' result, in order. */
enum
{
	RESULT_INVOCATIONS,
	RESULT_ROUNDS,
	RESULT_NAMED,
	RESULT_ROWS,
	RESULT_PHASES,
	RESULT_NATTS
};

/* The JSON types, as bits, so that a kind can accept several. */
typedef enum JsonType
{
	JSON_NULL = 1 << 0,
	JSON_STRING = 1 << 1,
	JSON_NUMBER = 1 << 2,
	JSON_BOOLEAN = 1 << 3,
	JSON_ARRAY = 1 << 4,
	JSON_OBJECT = 1 << 5
} JsonType;

/* What a key's value must be. */
typedef enum ValueKind
{
	KIND_UUID,
	KIND_ID,
	KIND_COUNT,
	KIND_TEXT,
	KIND_BOOLEAN,
	KIND_STATUS,
	KIND_TIME,
	KIND_NUMBER,
	KIND_MS,
	KIND_PHASES
} ValueKind;

/* Each kind's JSON types and how the errors describe it, by ValueKind. */
static const struct
{
	int types;
	const char *expect;
} Kinds[] = {
    [KIND_UUID] = {JSON_STRING, "a UUID string"},
    [KIND_ID] = {JSON_NUMBER, "an integer"},
    [KIND_COUNT] = {JSON_NUMBER, "an integer >= 0"},
    [KIND_TEXT] = {JSON_STRING, "a string"},
    [KIND_BOOLEAN] = {JSON_BOOLEAN, "true or false"},
    [KIND_STATUS] = {JSON_STRING, "one of \"pending\", \"streaming\", \"complete\", \"error\""},
    [KIND_TIME] = {JSON_STRING | JSON_NUMBER, "a timestamptz string or Unix seconds"},
    [KIND_NUMBER] = {JSON_NUMBER, "a finite number"},
    [KIND_MS] = {JSON_NUMBER, "a finite number >= 0"},
    [KIND_PHASES] = {JSON_ARRAY, "an array of phases"},
};

/* The keys of a row, in the order they are checked; column -1: not a column of record_row. */
static const struct
{
	const char *name;
	ValueKind kind;
	int column;
} RowKeys[] = {
    {"agent_id", KIND_ID, ROW_AGENT_ID},
    {"agent_name", KIND_TEXT, ROW_AGENT_NAME},
    {"agent_start_time", KIND_TIME, ROW_AGENT_START_TIME},
    {"client_done_time", KIND_TIME, ROW_CLIENT_DONE_TIME},
    {"client_duration_ms", KIND_MS, ROW_CLIENT_DURATION_MS},
    {"client_invoke_time", KIND_TIME, ROW_CLIENT_INVOKE_TIME},
    {"cold_start_latency_ms", KIND_NUMBER, ROW_COLD_START_LATENCY_MS},
    {"error_message", KIND_TEXT, ROW_ERROR_MESSAGE},
    {"input_tokens", KIND_COUNT, ROW_INPUT_TOKENS},
    {"invocation_id", KIND_UUID, ROW_INVOCATION_ID},
    {"output_tokens", KIND_COUNT, ROW_OUTPUT_TOKENS},
    {"phases", KIND_PHASES, -1},
    {"session_id", KIND_TEXT, ROW_SESSION_ID},
    {"status", KIND_STATUS, ROW_STATUS},
    {"token_cache_hit", KIND_BOOLEAN, ROW_TOKEN_CACHE_HIT},
    {"ttft_ms", KIND_MS, ROW_TTFT_MS},
};

#define NUM_ROW_KEYS ((int) lengthof(RowKeys))

#define PHASE_IS     "{\"phase\": name, \"start_ms\": number or null, \"duration_ms\": number >= 0}"

/* One call's parse: the output types, the rows' ids and rounds, the phases so far. */
typedef struct RecordRows
{
	TupleDesc rowDesc;   /* loomlat.record_row */
	TupleDesc phaseDesc; /* loomlat.record_phase */
	Oid statusType;      /* loomlat.invocation_status */
	Datum *ids;          /* each row's invocation_id, 0 when unreadable */
	int *rounds;         /* each row's round, 0 when its id is unreadable */
	Datum *phases;       /* loomlat.record_phase values */
	int nphases;
	int phasesAllocated;
} RecordRows;

/* A row's invocation id and position, to sort the rows of one invocation together. */
typedef struct RowId
{
	const pg_uuid_t *id;
	int ord;
} RowId;

/* A phase entry's name and position, to find names used twice in a row. */
typedef struct PhaseName
{
	const char *name;
	int len;
	int index;
} PhaseName;

/* The JSON type of v. */
static JsonType
JsonTypeOf(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return JSON_NULL;
		case jbvString:
			return JSON_STRING;
		case jbvNumeric:
			return JSON_NUMBER;
		case jbvBool:
			return JSON_BOOLEAN;
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? JSON_ARRAY : JSON_OBJECT;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	pg_unreachable();
}

/* The name jsonb_typeof() gives a JSON type. */
static const char *
JsonTypeName(const JsonbValue *v)
{
	switch (JsonTypeOf(v))
	{
		case JSON_NULL:
			return "null";
		case JSON_STRING:
			return "string";
		case JSON_NUMBER:
			return "number";
		case JSON_BOOLEAN:
			return "boolean";
		case JSON_ARRAY:
			return "array";
		case JSON_OBJECT:
			return "object";
	}
	pg_unreachable();
}

/* v as JSON text, for an error message. */
static char *
JsonText(JsonbValue *v)
{
	Jsonb *jb = JsonbValueToJsonb(v);

	return JsonbToCString(NULL, &jb->root, VARSIZE(jb));
}

/* The value of key in obj, or NULL when it is absent or JSON null. */
static JsonbValue *
GetKey(JsonbContainer *obj, const char *key, JsonbValue *value)
{
	JsonbValue *v = getKeyJsonValueFromContainer(obj, key, strlen(key), value);

	return v != NULL && v->type != jbvNull ? v : NULL;
}

/*
 * fn(arg, InvalidOid, -1), a server input or conversion function; false,
 * the error discarded, when it raises a data exception (SQLSTATE class 22).
 * The caller raises its own error right away, and that abort releases
 * whatever fn held, so no subtransaction is needed.  Other errors propagate.
 */
static bool
TryConvert(PGFunction fn, Datum arg, Datum *result)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		*result = DirectFunctionCall3(fn, arg, ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	}
	PG_CATCH();
	{
		ErrorData *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			PG_RE_THROW();
		FlushErrorState();
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* A JSON string as a NUL-terminated C string. */
static char *
StringOf(const JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* The JSON number as a float8; false when float8 cannot hold it (as float8in decides). */
static bool
NumberToFloat8(Numeric num, double *result)
{
	char *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	bool error = false;

	*result = float8in_internal_opt_error(text, NULL, "double precision", text, &error);
	pfree(text);
	return !error;
}

/* The JSON number as an int64; false when it is written with a fraction or is out of range. */
static bool
NumberToInt64(Numeric num, int64 *result)
{
	char *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
	char *end;
	bool ok;

	errno = 0;
	*result = strtoll(text, &end, 10);
	ok = errno == 0 && end != text && *end == '\0';
	pfree(text);
	return ok;
}

/* A timestamptz string or Unix seconds; false unless it makes a finite timestamptz. */
static bool
ReadTime(const JsonbValue *v, Datum *result)
{
	double seconds;

	if (v->type == jbvNumeric)
	{
		if (!NumberToFloat8(v->val.numeric, &seconds) ||
		    !TryConvert(float8_timestamptz, Float8GetDatum(seconds), result))
			return false;
	}
	else if (!TryConvert(timestamptz_in, CStringGetDatum(StringOf(v)), result))
		return false;
	return !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(*result));
}

/* A label of loomlat.invocation_status; false when it is not one. */
static bool
ReadStatus(Oid statusType, const JsonbValue *v, Datum *result)
{
	char label[NAMEDATALEN];
	HeapTuple tuple;

	if (v->val.string.len >= NAMEDATALEN)
		return false;
	memcpy(label, v->val.string.val, v->val.string.len);
	label[v->val.string.len] = '\0';
	tuple = SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(statusType), CStringGetDatum(label));
	if (!HeapTupleIsValid(tuple))
		return false;
	*result = ObjectIdGetDatum(((Form_pg_enum) GETSTRUCT(tuple))->oid);
	ReleaseSysCache(tuple);
	return true;
}

/* A number that is finite and, when nonnegative is set, >= 0. */
static bool
ReadMs(const JsonbValue *v, bool nonnegative, double *result)
{
	return NumberToFloat8(v->val.numeric, result) && !(nonnegative && *result < 0);
}

/* "row N (invocation_id U)", or "row N" when the row has no readable id. */
static char *
RowPlace(const RecordRows *rr, int ord)
{
	Datum id = rr->ids[ord - 1];

	if (id == (Datum) 0)
		return psprintf("row %d", ord);
	return psprintf("row %d (invocation_id %s)", ord,
	                DatumGetCString(DirectFunctionCall1(uuid_out, id)));
}

/* Orders rows by invocation id, then position. */
static int
CompareRowIds(const void *a, const void *b)
{
	const RowId *x = a;
	const RowId *y = b;
	int c = memcmp(x->id->data, y->id->data, UUID_LEN);

	return c != 0 ? c : (x->ord > y->ord) - (x->ord < y->ord);
}

/* Orders phase names by length and bytes, then position. */
static int
ComparePhaseNames(const void *a, const void *b)
{
	const PhaseName *x = a;
	const PhaseName *y = b;

	if (x->len != y->len)
		return (x->len > y->len) - (x->len < y->len);
	if (x->len > 0)
	{
		int c = memcmp(x->name, y->name, x->len);

		if (c != 0)
			return c;
	}
	return (x->index > y->index) - (x->index < y->index);
}

/*
 * Reads every row's invocation id, when it is a readable UUID, and gives
 * each row its round; returns the number of distinct invocations and sets
 * *rounds to the largest round.  Bad ids are left for ReadRow() to name.
 */
static int64
AssignRounds(RecordRows *rr, JsonbValue **rows, int nrows, int *rounds)
{
	RowId *sorted = palloc(sizeof(RowId) * nrows);
	int nsorted = 0;
	int64 invocations = 0;

	for (int i = 0; i < nrows; i++)
	{
		JsonbValue value;
		JsonbValue *id = NULL;

		if (JsonTypeOf(rows[i]) == JSON_OBJECT)
			id = GetKey(rows[i]->val.binary.data, "invocation_id", &value);
		if (id != NULL && id->type == jbvString &&
		    TryConvert(uuid_in, CStringGetDatum(StringOf(id)), &rr->ids[i]))
			sorted[nsorted++] = (RowId){DatumGetUUIDP(rr->ids[i]), i + 1};
	}
	qsort(sorted, nsorted, sizeof(RowId), CompareRowIds);
	*rounds = 0;
	for (int i = 0; i < nsorted; i++)
	{
		bool same = i > 0 && memcmp(sorted[i].id, sorted[i - 1].id, UUID_LEN) == 0;
		int round = same ? rr->rounds[sorted[i - 1].ord - 1] + 1 : 1;

		rr->rounds[sorted[i].ord - 1] = round;
		*rounds = Max(*rounds, round);
		invocations += !same;
	}
	pfree(sorted);
	return invocations;
}

/* Adds one loomlat.record_phase to the call's phases. */
static void
AddPhase(RecordRows *rr, Datum *values, bool *nulls)
{
	if (rr->nphases == rr->phasesAllocated)
	{
		rr->phasesAllocated = Max(16, rr->phasesAllocated * 2);
		rr->phases = rr->phases == NULL ? palloc(sizeof(Datum) * rr->phasesAllocated)
		                                : repalloc(rr->phases, sizeof(Datum) * rr->phasesAllocated);
	}
	rr->phases[rr->nphases++] = HeapTupleGetDatum(heap_form_tuple(rr->phaseDesc, values, nulls));
}

/* Checks the phase entries of row ord and adds them; an error names the first bad one. */
static void
ReadPhases(RecordRows *rr, int ord, JsonbContainer *array)
{
	int n = JsonContainerSize(array);
	JsonbValue **entries = palloc(sizeof(JsonbValue *) * n);
	PhaseName *names = palloc(sizeof(PhaseName) * n);
	bool *repeated = palloc0(sizeof(bool) * n);
	int nnames = 0;

	/* a name used before in the row: every one after the first of its group */
	for (int i = 0; i < n; i++)
	{
		JsonbValue value;
		JsonbValue *name;

		entries[i] = getIthJsonbValueFromContainer(array, i);
		if (JsonTypeOf(entries[i]) != JSON_OBJECT)
			continue;
		name = GetKey(entries[i]->val.binary.data, "phase", &value);
		if (name != NULL && name->type == jbvString)
			names[nnames++] = (PhaseName){name->val.string.val, name->val.string.len, i};
	}
	qsort(names, nnames, sizeof(PhaseName), ComparePhaseNames);
	for (int i = 1; i < nnames; i++)
		repeated[names[i].index] = names[i].len == names[i - 1].len &&
		                           memcmp(names[i].name, names[i - 1].name, names[i].len) == 0;

	for (int i = 0; i < n; i++)
	{
		JsonbValue nameValue, startValue, durationValue;
		JsonbValue *name = NULL, *start = NULL, *duration = NULL;
		Datum values[PHASE_NATTS];
		bool nulls[PHASE_NATTS] = {false};
		double startMs = 0, durationMs;
		bool ok = JsonTypeOf(entries[i]) == JSON_OBJECT && !repeated[i];

		if (ok)
		{
			JsonbContainer *entry = entries[i]->val.binary.data;

			name = GetKey(entry, "phase", &nameValue);
			start = GetKey(entry, "start_ms", &startValue);
			duration = GetKey(entry, "duration_ms", &durationValue);
			ok = name != NULL && name->type == jbvString && name->val.string.len > 0 &&
			     (start == NULL || (start->type == jbvNumeric && ReadMs(start, false, &startMs))) &&
			     duration != NULL && duration->type == jbvNumeric &&
			     ReadMs(duration, true, &durationMs);
		}
		if (!ok)
			ereport(
			    ERROR,
			    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			     err_generic_string(PG_DIAG_COLUMN_NAME, "phases"),
			     errmsg(
			         "%s: \"phases\"[%d] must be %s with a name not used before in the row, not %s",
			         RowPlace(rr, ord), i + 1, PHASE_IS, JsonText(entries[i]))));
		values[PHASE_ROUND] = Int32GetDatum(rr->rounds[ord - 1]);
		values[PHASE_INVOCATION_ID] = rr->ids[ord - 1];
		/* a row without an id fails in ReadRow() once its values are checked */
		nulls[PHASE_INVOCATION_ID] = rr->ids[ord - 1] == (Datum) 0;
		values[PHASE_NAME] =
		    PointerGetDatum(cstring_to_text_with_len(name->val.string.val, name->val.string.len));
		values[PHASE_START_MS] = Float8GetDatum(startMs);
		nulls[PHASE_START_MS] = start == NULL;
		values[PHASE_DURATION_MS] = Float8GetDatum(durationMs);
		AddPhase(rr, values, nulls);
	}
	pfree(entries);
	pfree(names);
	pfree(repeated);
}

/* The name of the first key of obj that is not one of RowKeys. */
static char *
UnknownKey(JsonbContainer *obj)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue v;
	JsonbIteratorToken token;

	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool known = false;

		if (token != WJB_KEY)
			continue;
		for (int k = 0; k < NUM_ROW_KEYS && !known; k++)
			known = (int) strlen(RowKeys[k].name) == v.val.string.len &&
			        memcmp(RowKeys[k].name, v.val.string.val, v.val.string.len) == 0;
		if (!known)
			return StringOf(&v);
	}
	elog(ERROR, "row object has no unknown key");
	pg_unreachable();
}

/* The keys of a row, for a hint. */
static char *
KeyList(void)
{
	StringInfoData list;

	initStringInfo(&list);
	for (int k = 0; k < NUM_ROW_KEYS; k++)
		appendStringInfo(&list, "%s%s", k > 0 ? ", " : "", RowKeys[k].name);
	return list.data;
}

/* One key's value, checked and converted into values[] and nulls[]; an error when it is bad. */
static void
ReadValue(RecordRows *rr, int ord, int key, JsonbValue *v, Datum *values, bool *nulls)
{
	const char *name = RowKeys[key].name;
	ValueKind kind = RowKeys[key].kind;
	Datum converted = (Datum) 0;
	Datum *out = &converted;
	int64 integer;
	double number;
	bool ok = true;

	if ((JsonTypeOf(v) & Kinds[kind].types) == 0)
		ereport(ERROR,
		        (errcode(ERRCODE_DATATYPE_MISMATCH), err_generic_string(PG_DIAG_COLUMN_NAME, name),
		         errmsg("%s: \"%s\" must be %s, not a JSON %s", RowPlace(rr, ord), name,
		                Kinds[kind].expect, JsonTypeName(v))));
	switch (kind)
	{
		case KIND_UUID:
			ok = rr->ids[ord - 1] != (Datum) 0; /* read by AssignRounds() */
			*out = rr->ids[ord - 1];
			break;
		case KIND_ID:
			ok = NumberToInt64(v->val.numeric, &integer);
			*out = Int64GetDatum(integer);
			break;
		case KIND_COUNT:
			ok = NumberToInt64(v->val.numeric, &integer) && integer >= 0 && integer <= PG_INT32_MAX;
			*out = Int32GetDatum((int32) integer);
			break;
		case KIND_TEXT:
			*out = PointerGetDatum(cstring_to_text_with_len(v->val.string.val, v->val.string.len));
			break;
		case KIND_BOOLEAN:
			*out = BoolGetDatum(v->val.boolean);
			break;
		case KIND_STATUS:
			ok = ReadStatus(rr->statusType, v, out);
			break;
		case KIND_TIME:
			ok = ReadTime(v, out);
			break;
		case KIND_NUMBER:
		case KIND_MS:
			ok = ReadMs(v, kind == KIND_MS, &number);
			*out = Float8GetDatum(number);
			break;
		case KIND_PHASES:
			ReadPhases(rr, ord, v->val.binary.data);
			break;
	}
	if (!ok)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                err_generic_string(PG_DIAG_COLUMN_NAME, name),
		                errmsg("%s: \"%s\" must be %s, not %s", RowPlace(rr, ord), name,
		                       Kinds[kind].expect, JsonText(v))));
	if (RowKeys[key].column >= 0)
	{
		values[RowKeys[key].column] = converted;
		nulls[RowKeys[key].column] = false;
	}
}

/*
 * Row ord (1-based) as a loomlat.record_row, its phases added to rr's; sets
 * *named when it gives agent_name.  An error names the row's first problem.
 */
static Datum
ReadRow(RecordRows *rr, int ord, JsonbValue *row, bool *named)
{
	JsonbContainer *obj;
	JsonbValue found[NUM_ROW_KEYS];
	JsonbValue *given[NUM_ROW_KEYS];
	uint32 nkeys = 0;
	Datum values[ROW_NATTS];
	bool nulls[ROW_NATTS];

	if (JsonTypeOf(row) != JSON_OBJECT)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
		                errmsg("row %d: a row must be a JSON object, not a JSON %s", ord,
		                       JsonTypeName(row))));
	obj = row->val.binary.data;
	for (int k = 0; k < NUM_ROW_KEYS; k++)
	{
		given[k] =
		    getKeyJsonValueFromContainer(obj, RowKeys[k].name, strlen(RowKeys[k].name), &found[k]);
		nkeys += given[k] != NULL;
		if (given[k] != NULL && given[k]->type == jbvNull)
			given[k] = NULL;
	}
	if (nkeys < JsonContainerSize(obj))
	{
		char *key = UnknownKey(obj);

		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                err_generic_string(PG_DIAG_COLUMN_NAME, key),
		                errmsg("%s: unknown key \"%s\"", RowPlace(rr, ord), key),
		                errhint("The keys are %s.", KeyList())));
	}

	memset(nulls, true, sizeof(nulls));
	values[ROW_ORD] = Int32GetDatum(ord);
	values[ROW_ROUND] = Int32GetDatum(rr->rounds[ord - 1]);
	nulls[ROW_ORD] = nulls[ROW_ROUND] = false;
	for (int k = 0; k < NUM_ROW_KEYS; k++)
		if (given[k] != NULL)
			ReadValue(rr, ord, k, given[k], values, nulls);

	if (nulls[ROW_INVOCATION_ID])
		ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION),
		                err_generic_string(PG_DIAG_COLUMN_NAME, "invocation_id"),
		                errmsg("%s: \"invocation_id\" is required", RowPlace(rr, ord))));
	if (!nulls[ROW_AGENT_NAME] && nulls[ROW_AGENT_ID])
		ereport(ERROR,
		        (errcode(ERRCODE_NOT_NULL_VIOLATION),
		         err_generic_string(PG_DIAG_COLUMN_NAME, "agent_id"),
		         errmsg("%s: \"agent_name\" names the agent of \"agent_id\", which the row lacks",
		                RowPlace(rr, ord))));
	*named |= !nulls[ROW_AGENT_NAME];
	return HeapTupleGetDatum(heap_form_tuple(rr->rowDesc, values, nulls));
}

/* The composite type of the elements of result column attno, with its natts checked. */
static TupleDesc
ElementDesc(TupleDesc result, int attno, int natts, Oid *elementType)
{
	TupleDesc desc;

	*elementType = get_element_type(TupleDescAttr(result, attno)->atttypid);
	desc = lookup_rowtype_tupdesc_copy(*elementType, -1);
	if (desc->natts != natts)
		elog(ERROR, "type %s has %d attributes, expected %d", format_type_be(*elementType),
		     desc->natts, natts);
	return desc;
}

/* An array of composite elems of type elementType. */
static Datum
CompositeArray(Datum *elems, int n, Oid elementType)
{
	int16 typlen;
	bool typbyval;
	char typalign;

	get_typlenbyvalalign(elementType, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_array(elems, n, elementType, typlen, typbyval, typalign));
}

/*
 * record_rows(rows jsonb): the rows checked and typed, with their rounds,
 * the number of distinct invocations and whether any row names an agent.
 */
Datum
loomlat_record_rows(PG_FUNCTION_ARGS)
{
	RecordRows rr = {0};
	TupleDesc resultDesc;
	Oid rowType, phaseType;
	Jsonb *jb;
	JsonbValue **rows;
	int nrows;
	int rounds;
	bool named = false;
	Datum *typed;
	Datum result[RESULT_NATTS];
	bool nulls[RESULT_NATTS] = {false};

	if (PG_ARGISNULL(0))
		ereport(ERROR,
		        (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
		         errmsg("loomlat.record_invocations() needs a JSON array of rows, not NULL")));
	jb = PG_GETARG_JSONB_P(0);
	if (JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
		        (errcode(ERRCODE_DATATYPE_MISMATCH),
		         errmsg("loomlat.record_invocations() needs a JSON array of rows, not a JSON %s",
		                JsonTypeName(getIthJsonbValueFromContainer(&jb->root, 0)))));

	if (get_call_result_type(fcinfo, NULL, &resultDesc) != TYPEFUNC_COMPOSITE ||
	    resultDesc->natts != RESULT_NATTS)
		elog(ERROR, "loomlat.record_rows() must return %d columns", RESULT_NATTS);
	rr.rowDesc = ElementDesc(resultDesc, RESULT_ROWS, ROW_NATTS, &rowType);
	rr.phaseDesc = ElementDesc(resultDesc, RESULT_PHASES, PHASE_NATTS, &phaseType);
	rr.statusType = TupleDescAttr(rr.rowDesc, ROW_STATUS)->atttypid;

	/* a single object is an array of one row */
	if (JB_ROOT_IS_OBJECT(jb))
	{
		nrows = 1;
		rows = palloc(sizeof(JsonbValue *));
		rows[0] = palloc(sizeof(JsonbValue));
		rows[0]->type = jbvBinary;
		rows[0]->val.binary.data = &jb->root;
		rows[0]->val.binary.len = VARSIZE(jb) - VARHDRSZ;
	}
	else
	{
		nrows = JB_ROOT_COUNT(jb);
		rows = palloc(sizeof(JsonbValue *) * nrows);
		for (int i = 0; i < nrows; i++)
			rows[i] = getIthJsonbValueFromContainer(&jb->root, i);
	}

	rr.ids = palloc0(sizeof(Datum) * nrows);
	rr.rounds = palloc0(sizeof(int) * nrows);
	result[RESULT_INVOCATIONS] = Int64GetDatum(AssignRounds(&rr, rows, nrows, &rounds));
	typed = palloc(sizeof(Datum) * nrows);
	for (int i = 0; i < nrows; i++)
		typed[i] = ReadRow(&rr, i + 1, rows[i], &named);
	result[RESULT_ROUNDS] = Int32GetDatum(rounds);
	result[RESULT_NAMED] = BoolGetDatum(named);
	result[RESULT_ROWS] = CompositeArray(typed, nrows, rowType);
	result[RESULT_PHASES] = CompositeArray(rr.phases, rr.nphases, phaseType);
	BlessTupleDesc(resultDesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(resultDesc, result, nulls)));
}
