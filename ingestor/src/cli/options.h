/*
 * options.h - validation of command-line values, shared by the subcommands.
 *
 * Contract: every parser accepts the whole string or nothing (no trailing
 * garbage, no silent wrap-around, no NaN or infinity) and returns 0 on
 * success, -1 on a bad value, leaving *out untouched then.
 */
#ifndef LOOMLAT_OPTIONS_H
#define LOOMLAT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

/* A finite number > 0 (seconds, a rate). */
int opt_parse_positive(const char *s, double *out);

/* "Name: value" with an RFC 9110 token as name and no CR, LF or NUL. */
bool opt_valid_header(const char *header);

/* An absolute http:// or https:// URL with a host. */
bool opt_valid_http_url(const char *url);

enum opt_file_status
{
	OPT_FILE_OK = 0,
	OPT_FILE_MISSING,    /* ENOENT: exit 66 */
	OPT_FILE_UNREADABLE, /* any other error, or too large: exit 65 */
};

/* Read a whole file of at most max_bytes into a NUL-terminated malloc'd
 * buffer; on failure *why is a static description. */
enum opt_file_status opt_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                                   const char **why);

#endif
