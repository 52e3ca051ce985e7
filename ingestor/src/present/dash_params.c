/*
 * dash_params.c - strict parsers of the dashboard's arguments (see dash_params.h).
 */
#include <ctype.h>
#include <string.h>

#include "present/dash_params.h"

const char *const dash_ranges[DASH_N_RANGES] = {"1h", "24h", "7d", "30d"};

/* Exact match against the fixed set. */
int
dash_parse_range(const char *s, const char **out)
{
	for (int i = 0; s != NULL && i < DASH_N_RANGES; i++)
		if (strcmp(s, dash_ranges[i]) == 0)
		{
			*out = dash_ranges[i];
			return 0;
		}
	return -1;
}

/* Hex digits with dashes at 8, 13, 18 and 23. */
bool
dash_valid_uuid(const char *s)
{
	if (s == NULL || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++)
	{
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char) s[i]))
			return false;
	}
	return true;
}
