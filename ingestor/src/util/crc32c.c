/*
 * crc32c.c - CRC-32C with a 256-entry table built on first use (see crc32c.h).
 */
#include <stdbool.h>

#include "util/crc32c.h"

#define POLY 0x82f63b78u /* Castagnoli, reflected */

static uint32_t table[256];
static bool table_ready;

/* Fill the table (idempotent; only the loop thread computes CRCs: the
 * journal's sync thread writes bytes whose records are already summed). */
static void
build_table(void)
{
	for (uint32_t i = 0; i < 256; i++)
	{
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
		table[i] = c;
	}
	table_ready = true;
}

/* Continue crc over len bytes. */
uint32_t
crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!table_ready)
		build_table();
	crc = ~crc;
	while (len-- > 0)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
