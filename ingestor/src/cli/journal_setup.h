/*
 * journal_setup.h - the journal as the commands use it: opened for one
 * database, and what stopped runs left in it written again first.
 *
 * Shared by "invoke" (which replays at start) and "ingest" (which journals
 * its rows, and with --journal DIR only replays).  A journal belongs to the
 * database its rows were meant for (db_target()); recovered rows go through
 * the writer into this process's own journal group, so a replay killed in
 * turn loses nothing, and an invocation whose pending row is there without
 * its final row is closed as an error (measure/invoke_row.h).
 */
#ifndef LOOMLAT_JOURNAL_SETUP_H
#define LOOMLAT_JOURNAL_SETUP_H

#include <stdint.h>

#include <libpq-fe.h>

#include "event/loop.h"
#include "sink/journal.h"
#include "sink/pg_writer.h"

/* What a replay found. */
struct journal_replay
{
	struct journal_recovery found; /* files, rows, torn bytes, corrupt files */
	size_t rows;                   /* rows queued, closing rows included */
	size_t closed;                 /* invocations closed as errors */
};

/* Open a journal group in dir (NULL: journal_default_dir()) for conn's
 * database and attach it to writer; NULL (said on stderr) when the
 * directory cannot be used. */
struct journal *journal_setup_open(struct loop *loop, const char *dir, PGconn *conn,
                                   uint64_t max_bytes, struct pg_writer *writer);

/* Queue through writer (done and arg for every row) the rows of j's
 * directory that stopped processes left; their files, and the directory's
 * replay lock, stay until journal_recover_commit(j).  0, or -1 when another
 * process is replaying the directory (nothing is read). */
int journal_setup_replay(struct journal *j, struct pg_writer *writer, pg_writer_done_fn done,
                         void *arg, struct journal_replay *out);

#endif
