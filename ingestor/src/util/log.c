/*
 * log.c - leveled diagnostics on stderr (see log.h for the contract).
 */
#include <stdarg.h>
#include <stdio.h>

#include "util/log.h"

static enum log_level current_level = LOG_LEVEL_WARNING;

/* Set the most verbose level that is still printed. */
void
log_set_level(enum log_level level)
{
	current_level = level;
}

/* Return the current level, so callers can skip building costly messages. */
enum log_level
log_get_level(void)
{
	return current_level;
}

/* Print one message on stderr when its level is enabled. */
void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {"", "", "warning: ", "", "debug: "};
	va_list ap;

	if (level > current_level || level == LOG_LEVEL_QUIET)
		return;
	fprintf(stderr, "loomlat: %s", prefix[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
