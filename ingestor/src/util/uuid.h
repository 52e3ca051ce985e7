/*
 * uuid.h - client-generated invocation and session ids.
 *
 * Contract: uuid_v7() makes an RFC 9562 version 7 UUID: 48 bits of Unix time
 * in milliseconds (so ids sort by creation time and keep B-tree inserts
 * local) followed by 74 random bits from getrandom(2).  Ids are generated on
 * the client so that a retried database write is recognised as the same row.
 */
#ifndef LOOMLAT_UUID_H
#define LOOMLAT_UUID_H

#include <stdint.h>

#define UUID_STR_LEN 37 /* 36 characters and the NUL */

/* Fill out with a new version 7 UUID for unix_ms; returns 0, or -1 if no randomness. */
int uuid_v7(uint64_t unix_ms, char out[UUID_STR_LEN]);

/* Format 16 bytes in the canonical lowercase 8-4-4-4-12 form. */
void uuid_format(const uint8_t bytes[16], char out[UUID_STR_LEN]);

#endif
