/*
 * wipe.h - release memory that held a secret or a token.
 *
 * Contract: wipe_free(s) overwrites the C string s with zeros
 * (explicit_bzero, which the compiler may not elide) and frees it; NULL is
 * accepted.  Every secret, access token or credential-bearing string of the
 * auth layer is released through it.
 */
#ifndef LOOMLAT_WIPE_H
#define LOOMLAT_WIPE_H

#include <stdlib.h>
#include <string.h>

static inline void
wipe_free(char *s)
{
	if (s != NULL)
	{
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

#endif
