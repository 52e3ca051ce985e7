/*
 * fuzz_journal.c - the journal's record reader on untrusted bytes.
 *
 * The input is a segment file.  The oracle: the good prefix the reader
 * reports is exactly the header followed by the records it delivered
 * (re-encoding them reproduces those bytes), an OK result covers the whole
 * input, and reading the good prefix alone is OK with the same records.
 * Any mismatch aborts; the sanitizers catch memory errors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sink/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The records re-encoded, after a copy of the header. */
struct copy
{
	char *buf;
	size_t len, cap;
	size_t records;
};

static void
reencode(void *arg, const struct journal_record *rec)
{
	struct copy *c = arg;

	journal_encode(&c->buf, &c->len, &c->cap, rec->type, rec->seq, rec->data, rec->len);
	c->records++;
}

/* Scan, check the oracle, scan the good prefix again. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copy c = {malloc(16), 0, 16, 0};
	struct copy again = {malloc(16), 0, 16, 0};
	uint64_t target, target2;
	size_t good, good2;
	enum journal_scan_result r;

	if (size >= 16)
	{
		memcpy(c.buf, data, 16);
		memcpy(again.buf, data, 16);
		c.len = again.len = 16;
	}
	r = journal_scan(data, size, &target, reencode, &c, &good);
	if (good > size || (r == JOURNAL_SCAN_OK && good != size))
		abort();
	if (good > 0 && (c.len != good || memcmp(c.buf, data, good) != 0))
		abort();
	if (good == 0 && c.records != 0)
		abort();
	if (good > 0)
	{
		if (journal_scan(data, good, &target2, reencode, &again, &good2) != JOURNAL_SCAN_OK ||
		    good2 != good || again.records != c.records || target2 != target)
			abort();
	}
	free(c.buf);
	free(again.buf);
	return 0;
}
