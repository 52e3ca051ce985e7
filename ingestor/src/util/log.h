/*
 * log.h - leveled diagnostics on stderr.
 *
 * Contract: messages go to stderr prefixed "loomlat: " (and the level for
 * warnings and debug output).  Callers never pass a secret, a client secret,
 * an access token or an Authorization header value to these functions:
 * nothing here can redact what it is not told about.  log_fatal-style exits
 * do not exist; only main() chooses the exit code (and util/alloc.h's
 * out-of-memory exit).
 */
#ifndef LOOMLAT_LOG_H
#define LOOMLAT_LOG_H

enum log_level
{
	LOG_LEVEL_QUIET = 0,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...)   log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
