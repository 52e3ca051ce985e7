/*
 * cmd_ingest.c - "loomlat ingest --spool FILE": write the rows that an
 * earlier run saved in a spool file.  The writes are upserts keyed by the
 * invocation id, so ingesting a file twice, or rows that did reach the
 * database, changes nothing.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "sink/db.h"
#include "sink/pg_writer.h"
#include "sink/spool.h"
#include "util/log.h"

#define DRAIN_MS 30000

enum
{
	OPT_SPOOL = 256,
	OPT_DB
};

static const struct option long_options[] = {{"spool", required_argument, NULL, OPT_SPOOL},
                                             {"db", required_argument, NULL, OPT_DB},
                                             {"verbose", no_argument, NULL, 'v'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

/* Help for "loomlat ingest". */
void
cmd_ingest_usage(FILE *out)
{
	fputs("Usage: loomlat ingest --spool FILE [--db CONNINFO|URI] [-v|-q]\n"
	      "\n"
	      "Write the rows of a spool file (left by \"loomlat invoke\" when the database\n"
	      "was unavailable) to loomlat.invocations and loomlat.invocation_phases.\n"
	      "Rows already written are left as they are, so a file may be ingested twice.\n"
	      "\n"
	      "  --spool FILE        the spool file (JSON lines)\n"
	      "  --db CONNINFO|URI   database, else LOOMLAT_DATABASE_URL, else the PG* variables\n"
	      "  -v, --verbose       debug messages\n"
	      "  -q, --quiet         errors only\n"
	      "  -h, --help          show this help\n"
	      "\n"
	      "Exit status: 0 all rows written; 64 usage; 65 not a spool file; 66 file missing;\n"
	      "69 database unavailable; 75 some rows could not be written (saved in a new\n"
	      "spool file named on stderr).\n",
	      out);
}

/* Loop callback: the writer drained. */
static void
stop_loop(void *arg)
{
	loop_stop(arg);
}

/* Send every row, wait for the writer, spool what is left. */
static int
ingest(json_t *rows, const char *conninfo)
{
	char err[1024];
	char path[4096];
	PGconn *conn = db_connect_blocking(conninfo, err, sizeof(err));
	struct loop *loop;
	struct pg_writer *writer;
	struct pg_writer_stats stats;
	json_t *left;
	size_t in_doubt;
	size_t i;
	json_t *row;
	int rc = 0;

	if (conn == NULL)
	{
		log_error("%s; check --db, LOOMLAT_DATABASE_URL or the PG* variables", err);
		return EX_UNAVAILABLE;
	}
	loop = loop_new();
	writer = loop != NULL ? pg_writer_new(loop, conninfo, conn) : NULL;
	if (writer == NULL)
	{
		PQfinish(conn);
		loop_free(loop);
		return EX_SOFTWARE;
	}
	json_array_foreach(rows, i, row) pg_writer_put(writer, json_incref(row), NULL, NULL);
	pg_writer_drain(writer, DRAIN_MS, stop_loop, loop);
	if (loop_run(loop) != 0)
		rc = EX_SOFTWARE;
	pg_writer_get_stats(writer, &stats);
	left = pg_writer_take_unwritten(writer, &in_doubt);
	if (json_array_size(left) > 0)
	{
		spool_save(left, in_doubt, path, sizeof(path));
		rc = EX_TEMPFAIL;
	}
	log_info("%lu rows written, %zu left", stats.rows_written, json_array_size(left));
	json_decref(left);
	pg_writer_free(writer);
	loop_free(loop);
	return rc;
}

/* Entry point of "loomlat ingest". */
int
cmd_ingest(int argc, char **argv)
{
	const char *spool = NULL;
	const char *db = NULL;
	char err[1024];
	json_t *rows;
	int missing;
	int opt;
	int rc;

	log_set_level(LOG_LEVEL_INFO);
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":vqh", long_options, NULL)) != -1)
	{
		switch (opt)
		{
			case OPT_SPOOL:
				spool = optarg;
				break;
			case OPT_DB:
				db = optarg;
				break;
			case 'v':
				log_set_level(LOG_LEVEL_DEBUG);
				break;
			case 'q':
				log_set_level(LOG_LEVEL_ERROR);
				break;
			case 'h':
				cmd_ingest_usage(stdout);
				return 0;
			default:
				fprintf(stderr, "loomlat ingest: bad option %s\nTry \"loomlat ingest --help\".\n",
				        argv[optind - 1]);
				return EX_USAGE;
		}
	}
	if (spool == NULL || optind < argc)
	{
		fputs("loomlat ingest: --spool FILE is required (and nothing else)\n"
		      "Try \"loomlat ingest --help\".\n",
		      stderr);
		return EX_USAGE;
	}
	rows = spool_read(spool, &missing, err, sizeof(err));
	if (rows == NULL)
	{
		log_error("%s", err);
		return missing ? EX_NOINPUT : EX_DATAERR;
	}
	rc = ingest(rows, db_conninfo(db));
	json_decref(rows);
	return rc;
}
