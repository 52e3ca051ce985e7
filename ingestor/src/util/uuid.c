/*
 * uuid.c - version 7 UUIDs (see uuid.h).
 */
#include <sys/random.h>

#include "util/uuid.h"

/* Canonical text form. */
void
uuid_format(const uint8_t bytes[16], char out[UUID_STR_LEN])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (int i = 0; i < 16; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[bytes[i] >> 4];
		*p++ = hex[bytes[i] & 0x0f];
	}
	*p = '\0';
}

/* Timestamp in bytes 0-5, version nibble 7, variant bits 10, the rest random. */
int
uuid_v7(uint64_t unix_ms, char out[UUID_STR_LEN])
{
	uint8_t b[16];

	if (getrandom(b + 6, sizeof(b) - 6, 0) != (ssize_t) (sizeof(b) - 6))
		return -1;
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t) (unix_ms >> (8 * (5 - i)));
	b[6] = (uint8_t) (0x70 | (b[6] & 0x0f));
	b[8] = (uint8_t) (0x80 | (b[8] & 0x3f));
	uuid_format(b, out);
	return 0;
}
