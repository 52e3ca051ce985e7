/*
 * options.c - value validation (see options.h).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/options.h"
#include "util/alloc.h"

/* strtod, whole string, finite and positive. */
int
opt_parse_positive(const char *s, double *out)
{
	double v;
	char *end;

	if (s == NULL || s[0] == '\0' || isspace((unsigned char) s[0]))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v <= 0)
		return -1;
	*out = v;
	return 0;
}

/* RFC 9110 tchar. */
static bool
is_tchar(char c)
{
	return isalnum((unsigned char) c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Token, colon, a value without line breaks. */
bool
opt_valid_header(const char *header)
{
	const char *p = header;

	while (is_tchar(*p))
		p++;
	if (p == header || *p != ':')
		return false;
	return strpbrk(p, "\r\n") == NULL;
}

/* Scheme http or https, then a non-empty authority. */
bool
opt_valid_http_url(const char *url)
{
	size_t skip;

	if (strncasecmp(url, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		skip = 8;
	else
		return false;
	return url[skip] != '\0' && url[skip] != '/' && strpbrk(url, " \t\r\n") == NULL;
}

/* Read up to max_bytes + 1 to detect an oversized file. */
enum opt_file_status
opt_read_file(const char *path, size_t max_bytes, char **out, size_t *len, const char **why)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (f == NULL)
	{
		*why = strerror(errno);
		return errno == ENOENT ? OPT_FILE_MISSING : OPT_FILE_UNREADABLE;
	}
	buf = xmalloc(max_bytes + 2);
	n = fread(buf, 1, max_bytes + 1, f);
	if (ferror(f) || n > max_bytes)
	{
		*why = ferror(f) ? strerror(EIO) : "file too large";
		fclose(f);
		free(buf);
		return OPT_FILE_UNREADABLE;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return OPT_FILE_OK;
}
