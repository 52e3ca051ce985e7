/*
 * dash_format.c - document getters and number formatting (see dash_format.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "present/dash_format.h"

/* A number member, or NAN. */
double
dash_num(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A string member, or "". */
const char *
dash_str(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : "";
}

/* An array member, or NULL. */
const json_t *
dash_array(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_array(v) ? v : NULL;
}

/* A linear search: the arrays are a few dozen rows. */
const json_t *
dash_find_row(const json_t *rows, const char *key1, const char *val1, const char *key2,
              const char *val2)
{
	size_t i;
	const json_t *row;

	json_array_foreach(rows, i, row)
	{
		if (strcmp(dash_str(row, key1), val1) == 0 &&
		    (key2 == NULL || strcmp(dash_str(row, key2), val2) == 0))
			return row;
	}
	return NULL;
}

/* Not the "(ttft)" row of a class. */
bool
dash_is_phase_row(const json_t *row)
{
	return strcmp(dash_str(row, "phase"), "(ttft)") != 0;
}

/* Whole ms below 999.5, seconds with one decimal below 59.95 s, then minutes
 * and whole seconds; round() rounds half away from zero as ttft_display() does. */
const char *
dash_fmt_ms(double ms, char buf[DASH_FMT_LEN])
{
	double s;

	if (!isfinite(ms) || ms < 0)
		snprintf(buf, DASH_FMT_LEN, "-");
	else if (round(ms) < 1000)
		snprintf(buf, DASH_FMT_LEN, "%.0fms", round(ms));
	else if ((s = round(ms / 100) / 10) < 60)
		snprintf(buf, DASH_FMT_LEN, "%.1fs", s);
	else
	{
		s = round(ms / 1000);
		snprintf(buf, DASH_FMT_LEN, "%.0fm %02.0fs", floor(s / 60), fmod(s, 60));
	}
	return buf;
}

/* 0.273 -> "27.3%". */
const char *
dash_fmt_pct(double share, char buf[DASH_FMT_LEN])
{
	if (!isfinite(share))
		snprintf(buf, DASH_FMT_LEN, "-");
	else
		snprintf(buf, DASH_FMT_LEN, "%.1f%%", share * 100);
	return buf;
}
