/*
 * signals.h - SIGINT and SIGTERM as readable bytes on a pipe.
 *
 * Contract: signals_open() ignores SIGPIPE (OpenSSL and closed sockets may
 * raise it) and makes SIGINT and SIGTERM write one byte each to a
 * non-blocking self-pipe, whose read end the event loop watches; nothing
 * else runs in the handler.  signals_close() restores the default actions.
 */
#ifndef LOOMLAT_SIGNALS_H
#define LOOMLAT_SIGNALS_H

/* Install the handlers; the pipe's read end, or -1 with errno set. */
int signals_open(void);

/* How many signals arrived since the last call (reads the pipe empty). */
int signals_take(int fd);

void signals_close(int fd);

#endif
