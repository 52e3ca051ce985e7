/*
 * wire.c
 *	  Writer and reader of the format in which aggregate states travel
 *	  between parallel processes.
 *
 * Each aggregate's serialize and deserialize functions describe their
 * state as a sequence of fields; this file owns the layout (magic word,
 * native integers, double-aligned arrays), the 1 GB limit of a bytea and
 * the validation of every byte read (see wire.h).
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "wire.h"

/* Where a field at payload offset pos starts once aligned for an array. */
static inline Size
AlignedOffset(Size pos)
{
	return TYPEALIGN(sizeof(double), VARHDRSZ + pos) - VARHDRSZ;
}

/* Raises the error for a state too large for a bytea. */
static void
WireTooLarge(const WireWriter *w, int64 count)
{
	ereport(ERROR,
	        (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
	         errmsg("%s state of %lld values is too large to pass between processes", w->what,
	                (long long) count),
	         errdetail("A partial aggregate state is limited to 1 GB, about 134 million values."),
	         errhint("Aggregate this group without parallel workers (SET "
	                 "max_parallel_workers_per_gather = 0).")));
}

/* Appends n raw bytes. */
static inline void
WirePutBytes(WireWriter *w, const void *data, Size n)
{
	appendBinaryStringInfo(&w->buf, (const char *) data, (int) n);
}

/* Starts a state of the kind magic; what names it in errors. */
void
WireWriterBegin(WireWriter *w, uint32 magic, const char *what)
{
	initStringInfo(&w->buf);
	w->what = what;
	appendStringInfoSpaces(&w->buf, VARHDRSZ);
	WirePutBytes(w, &magic, sizeof(magic));
}

/* Puts a 32-bit integer. */
void
WirePutInt32(WireWriter *w, int32 value)
{
	WirePutBytes(w, &value, sizeof(value));
}

/* Puts a 64-bit integer. */
void
WirePutInt64(WireWriter *w, int64 value)
{
	WirePutBytes(w, &value, sizeof(value));
}

/* Puts count elements of elsize bytes, zero-padded to double alignment first. */
void
WirePutArray(WireWriter *w, const void *data, int64 count, Size elsize)
{
	static const char zeros[sizeof(double)] = {0};
	Size start = VARHDRSZ + AlignedOffset(w->buf.len - VARHDRSZ);

	Assert(count >= 0);
	/* appendBinaryStringInfo keeps one byte for a terminating zero */
	if ((uint64) count > (MaxAllocSize - start - 1) / elsize)
		WireTooLarge(w, count);
	WirePutBytes(w, zeros, start - w->buf.len);
	if (count > 0)
		WirePutBytes(w, data, count * elsize);
}

/* The finished bytea. */
bytea *
WireWriterEnd(WireWriter *w)
{
	SET_VARSIZE(w->buf.data, w->buf.len);
	return (bytea *) w->buf.data;
}

/* Raises the error for a serialized state that fails validation. */
void
WireCorrupt(const WireReader *r, const char *detail)
{
	ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("invalid %s state", r->what),
	                errdetail_internal("%s", detail)));
}

/* Opens a state that must be of the kind magic. */
void
WireReaderBegin(WireReader *r, bytea *bytes, uint32 magic, const char *what)
{
	uint32 found;

	r->data = VARDATA_ANY(bytes);
	r->len = VARSIZE_ANY_EXHDR(bytes);
	r->pos = 0;
	r->what = what;
	if (r->len < sizeof(found))
		WireCorrupt(r, "header is truncated");
	memcpy(&found, r->data, sizeof(found));
	if (found != magic)
		WireCorrupt(r, "unknown format or version");
	r->pos = sizeof(found);
}

/* Copies the next n bytes into dst. */
static void
WireGetBytes(WireReader *r, void *dst, Size n)
{
	if (n > r->len - r->pos)
		WireCorrupt(r, "state is truncated");
	memcpy(dst, r->data + r->pos, n);
	r->pos += n;
}

/* Reads a 32-bit integer. */
int32
WireGetInt32(WireReader *r)
{
	int32 value;

	WireGetBytes(r, &value, sizeof(value));
	return value;
}

/* Reads a 64-bit integer. */
int64
WireGetInt64(WireReader *r)
{
	int64 value;

	WireGetBytes(r, &value, sizeof(value));
	return value;
}

/* Reads a count, which must lie in [0, max]. */
int64
WireGetCount(WireReader *r, int64 max)
{
	int64 count = WireGetInt64(r);

	if (count < 0 || count > max)
		WireCorrupt(r, "a count is out of range");
	return count;
}

/*
 * Reads count elements of elsize bytes after their zero padding.  They are
 * used in place when the bytea keeps them aligned, else copied.
 */
const void *
WireGetArray(WireReader *r, int64 count, Size elsize)
{
	Size start = AlignedOffset(r->pos);
	const char *p;
	void *copy;

	if (count < 0 || start > r->len || (uint64) count > (r->len - start) / elsize)
		WireCorrupt(r, "an array is truncated");
	for (Size i = r->pos; i < start; i++)
		if (r->data[i] != 0)
			WireCorrupt(r, "padding is not zero");
	p = r->data + start;
	r->pos = start + count * elsize;
	if ((uintptr_t) p % sizeof(double) == 0)
		return p;
	copy = palloc_extended(Max(count * elsize, 1), MCXT_ALLOC_HUGE);
	memcpy(copy, p, count * elsize);
	return copy;
}

/* Bytes not read yet. */
Size
WireRemaining(const WireReader *r)
{
	return r->len - r->pos;
}

/* Checks that the whole state was read. */
void
WireReaderEnd(WireReader *r)
{
	if (r->pos != r->len)
		WireCorrupt(r, "state has trailing bytes");
}
