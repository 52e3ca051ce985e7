/*
 * journal_setup.c - open a command's journal and replay what stopped runs
 * left in it (see journal_setup.h).
 */
#include <stdlib.h>

#include "cli/journal_setup.h"
#include "measure/invoke_row.h"
#include "sink/db.h"
#include "util/alloc.h"
#include "util/log.h"

/* Rows recovered from a journal, split by whether their group was intact. */
struct recovered_rows
{
	json_t *intact;
	json_t *damaged;
};

/* One recovered record: a row, unless it is not one. */
static void
collect_row(void *arg, const char *data, size_t len, bool intact)
{
	struct recovered_rows *rows = arg;
	json_t *row = json_loadb(data, len, 0, NULL);

	if (!json_is_object(row))
	{
		log_error("journal: a record that is not a row was skipped");
		json_decref(row);
		return;
	}
	json_array_append_new(intact ? rows->intact : rows->damaged, row);
}

/* Open the group and attach it. */
struct journal *
journal_setup_open(struct loop *loop, const char *dir, PGconn *conn, uint64_t max_bytes,
                   struct pg_writer *writer)
{
	char *path = dir != NULL ? xstrdup(dir) : journal_default_dir();
	char err[1024];
	struct journal *j = journal_open(loop, path, db_target(conn), max_bytes, err, sizeof(err));

	free(path);
	if (j == NULL)
	{
		log_error("%s; choose another with --journal-dir, or run with --no-journal", err);
		return NULL;
	}
	pg_writer_set_journal(writer, j);
	return j;
}

/* Queue the rows stopped runs left (closing the invocations they left
 * pending, in intact groups only: a corrupt file may have lost a final row). */
int
journal_setup_replay(struct journal *j, struct pg_writer *writer, pg_writer_done_fn done, void *arg,
                     struct journal_replay *out)
{
	struct recovered_rows rows = {json_array(), json_array()};
	size_t i;
	json_t *row;
	int rc = journal_recover(j, collect_row, &rows, &out->found);

	out->closed = invoke_row_close_orphans(rows.intact);
	json_array_extend(rows.intact, rows.damaged);
	out->rows = json_array_size(rows.intact);
	json_array_foreach(rows.intact, i, row)
	{
		json_incref(row);
		pg_writer_put(writer, row, done, arg);
	}
	if (out->rows > 0)
		log_warning("journal: writing %zu rows left in %s by a stopped run (%zu invocations it "
		            "left unfinished are closed as errors)",
		            out->rows, journal_dir(j), out->closed);
	json_decref(rows.intact);
	json_decref(rows.damaged);
	return rc;
}
