/*
 * crc32c.h - CRC-32C (Castagnoli, the polynomial of iSCSI, ext4 and
 * PostgreSQL's WAL), bitwise-table software version.
 *
 * Contract: crc32c(0, p, n) is the standard CRC-32C of n bytes (the check
 * value of "123456789" is 0xe3069283); passing a previous result as crc
 * continues it over more bytes.
 */
#ifndef LOOMLAT_CRC32C_H
#define LOOMLAT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
