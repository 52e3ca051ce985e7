/*
 * durable.h - writing files that must survive a crash.
 *
 * Contract: durable_write_all() writes every byte or fails (-1, errno set);
 * it retries EINTR and short writes, and syncs nothing.  durable_sync_dir()
 * fsyncs a directory, so that a name created, renamed or removed in it is on
 * disk; callers sync the file's data themselves first (fsync/fdatasync).
 */
#ifndef LOOMLAT_DURABLE_H
#define LOOMLAT_DURABLE_H

#include <stddef.h>

/* Write all of buf to fd; 0, or -1 with errno. */
int durable_write_all(int fd, const char *buf, size_t len);

/* fsync the directory dir; 0, or -1 with errno. */
int durable_sync_dir(const char *dir);

#endif
