/*
 * wire.h
 *	  The one format in which every aggregate state travels between parallel
 *	  processes.
 *
 * A serialized state is a bytea: a 32-bit magic word naming the state's
 * kind and format version, then the fields the state's serialize function
 * puts, in native byte order (states never leave one server).  Arrays are
 * padded so that they are aligned as doubles within the bytea, which lets a
 * reader use them in place.  The length of an array is not stored with it:
 * the writer puts the counts it needs as fields and the reader checks each
 * count against the bytes that are left before it takes the array.
 *
 * WireReader never trusts its input: a wrong magic word, a read past the end,
 * a count out of range or bytes left over raise ERRCODE_DATA_CORRUPTED
 * ("invalid <what> state"), as does any failed check a caller makes with
 * WireCorrupt().  A state over 1 GB, which a bytea cannot hold, is refused
 * with ERRCODE_PROGRAM_LIMIT_EXCEEDED when it is written.
 */
#ifndef LOOMLAT_WIRE_H
#define LOOMLAT_WIRE_H

#include "lib/stringinfo.h"

/* A magic word: three tag bytes and a format version. */
#define WIRE_MAGIC(a, b, c, version)                                                               \
	((uint32) (a) << 24 | (uint32) (b) << 16 | (uint32) (c) << 8 | (uint32) (version))

typedef struct WireWriter
{
	StringInfoData buf; /* the bytea being built, varlena header included */
	const char *what;   /* the state's name, for errors */
} WireWriter;

typedef struct WireReader
{
	const char *data; /* the bytea's payload */
	Size len;
	Size pos; /* offset of the next field in data */
	const char *what;
} WireReader;

extern void WireWriterBegin(WireWriter *w, uint32 magic, const char *what);
extern void WirePutInt32(WireWriter *w, int32 value);
extern void WirePutInt64(WireWriter *w, int64 value);
/* count elements of elsize bytes from data (NULL allowed for 0). */
extern void WirePutArray(WireWriter *w, const void *data, int64 count, Size elsize);
extern bytea *WireWriterEnd(WireWriter *w);

extern void WireReaderBegin(WireReader *r, bytea *bytes, uint32 magic, const char *what);
extern int32 WireGetInt32(WireReader *r);
extern int64 WireGetInt64(WireReader *r);
/* A count in [0, max], else the state is corrupt. */
extern int64 WireGetCount(WireReader *r, int64 max);
/* count elements of elsize bytes, aligned; valid while the bytea lives. */
extern const void *WireGetArray(WireReader *r, int64 count, Size elsize);
/* Bytes not read yet: an upper bound for a count before allocating for it. */
extern Size WireRemaining(const WireReader *r);
extern void WireReaderEnd(WireReader *r);
extern pg_attribute_noreturn() void WireCorrupt(const WireReader *r, const char *detail);

#endif
