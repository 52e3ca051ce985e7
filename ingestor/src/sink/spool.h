/*
 * spool.h - rows that could not be written, kept durably in a file.
 *
 * Format: JSON lines, one pg_writer row per line (the same objects the
 * writer sends), so replaying a spool is feeding its lines back to a writer:
 * the upserts make a replay of rows already written harmless.  A spool file
 * is created new (O_EXCL, mode 0600) and fsync'd with its directory before
 * its name is reported.
 */
#ifndef LOOMLAT_SPOOL_H
#define LOOMLAT_SPOOL_H

#include <stddef.h>

#include <jansson.h>

/* Write the rows of the array to a new file in $LOOMLAT_SPOOL_DIR, else the
 * current directory, else $TMPDIR or /tmp; its name goes to path.  Returns 0,
 * or -1 with a message in err. */
int spool_write(const json_t *rows, char *path, size_t pathlen, char *err, size_t errlen);

/* Spool the rows as spool_write() does and tell the user on stderr where
 * they are and how to replay them (and that in_doubt of them may already be
 * in the database).  path is left empty when they could not be saved. */
void spool_save(const json_t *rows, size_t in_doubt, char *path, size_t pathlen);

/* Read a spool file into a JSON array (new reference); NULL with a message
 * in err (and *missing set when the file does not exist). */
json_t *spool_read(const char *path, int *missing, char *err, size_t errlen);

#endif
