/*
 * cmd_ingest.c - "loomlat ingest [FILE...|-] [--follow]": load JSON lines of
 * invocations (sink/jsonl.h) through the batched writer.
 *
 * Reading is paced by the writer: lines are read while fewer than HIGH_WATER
 * rows wait (three of the writer's batches), and again as soon as a batch is
 * confirmed, so one batch is always ready behind the one on the wire and a
 * file of any size loads in bounded memory.  A bad line, or a row the server
 * rejects, is reported with its line number (--rejects FILE, else stderr) and
 * every other line still loads.  With --follow one file is read as tail -F
 * reads it (appends, truncation, rotation by rename), polled every POLL_MS.
 * The checkpoint (--checkpoint FILE: "dev ino offset line") advances only
 * over lines whose rows were committed or rejected, since the writer confirms
 * rows in order; it is written by rename, so a restart resumes where the
 * last one stopped and rows are at worst sent twice (the merge makes that
 * harmless).  SIGINT/SIGTERM stop reading, drain the writer and checkpoint.
 *
 * Rows are journaled as invoke's are (sink/journal.h), unless --no-journal:
 * rows a killed ingest had read stay in its journal, and rows the database
 * did not take by the end stay there too (exit 75).  --journal DIR is an
 * input of its own: it writes what stopped runs (invoke or ingest) left in
 * DIR, holding DIR's replay lock until its rows are committed, so a second
 * replayer is refused meanwhile and a replay killed in turn loses nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/journal_setup.h"
#include "cli/options.h"
#include "event/signals.h"
#include "sink/db.h"
#include "sink/jsonl.h"
#include "sink/pg_writer.h"
#include "sink/spool.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/line_reader.h"
#include "util/log.h"
#include "util/parse_num.h"

#define DRAIN_MS         30000
#define POLL_MS          200
#define HIGH_WATER       (3 * PG_WRITER_BATCH_ROWS)
#define LOW_WATER        (2 * PG_WRITER_BATCH_ROWS)
#define DEFAULT_MAX_LINE (1024UL * 1024)
#define MIN_MAX_LINE     256UL
#define MAX_MAX_LINE     (64UL * 1024 * 1024)
#define EXIT_NOT_SET     (-1)

/* Where a row came from, carried to its done callback. */
struct row_ref
{
	struct ingest *ing;
	const char *label;
	unsigned long lineno;
	off_t end;
	dev_t dev;
	ino_t ino;
};

/* The input being read. */
struct source
{
	const char *label; /* the path, or "-" */
	int fd;            /* -1: none open */
	dev_t dev;
	ino_t ino;
	struct line_reader *reader;
	unsigned long lineno;
};

/* Where the committed lines end: the checkpoint. */
struct mark
{
	dev_t dev;
	ino_t ino;
	off_t offset;
	unsigned long lineno;
};

struct ingest
{
	struct loop *loop;
	struct pg_writer *writer;
	struct journal *journal; /* NULL: --no-journal */
	const char *journal_dir; /* NULL: journal_default_dir() */
	const char *replay;      /* --journal DIR */
	bool no_journal;
	struct journal_replay replayed;
	unsigned long replay_done; /* replayed rows whose fate is known */
	struct jsonl_options map;
	char **inputs;
	int n_inputs, next_input;
	struct source src;
	bool follow;
	const char *checkpoint;
	FILE *rejects;
	bool progress;

	struct mark committed;
	bool committed_dirty;
	bool stopping, draining, pump_deferred, taking;
	int signal_fd;
	struct loop_timer *poll_timer, *progress_timer;
	int rc; /* a reading error's exit code, or EXIT_NOT_SET */

	unsigned long lines, rejected, db_rejected;
	int64_t begin_ns;
};

enum
{
	OPT_SPOOL = 256,
	OPT_DB,
	OPT_AGENT_ID,
	OPT_FOLLOW,
	OPT_CHECKPOINT,
	OPT_REJECTS,
	OPT_MAX_LINE_BYTES,
	OPT_JOURNAL,
	OPT_JOURNAL_DIR,
	OPT_NO_JOURNAL
};

static const struct option long_options[] = {
    {"spool", required_argument, NULL, OPT_SPOOL},
    {"db", required_argument, NULL, OPT_DB},
    {"agent-id", required_argument, NULL, OPT_AGENT_ID},
    {"follow", no_argument, NULL, OPT_FOLLOW},
    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
    {"rejects", required_argument, NULL, OPT_REJECTS},
    {"max-line-bytes", required_argument, NULL, OPT_MAX_LINE_BYTES},
    {"journal", required_argument, NULL, OPT_JOURNAL},
    {"journal-dir", required_argument, NULL, OPT_JOURNAL_DIR},
    {"no-journal", no_argument, NULL, OPT_NO_JOURNAL},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

static void pump(void *arg);

/* Help for "loomlat ingest". */
void
cmd_ingest_usage(FILE *out)
{
	fputs("Usage: loomlat ingest [OPTION]... [FILE]...\n"
	      "\n"
	      "Load invocations, one JSON object per line, into loomlat.invocations and\n"
	      "loomlat.invocation_phases through loomlat.record_invocations() (its merge rules\n"
	      "apply, so loading a file twice adds nothing).  FILE \"-\" or none: standard input.\n"
	      "A line has record_invocations' keys (see the README), times as ISO 8601 strings or\n"
	      "Unix seconds; a line without invocation_id gets one derived from its content.\n"
	      "\n"
	      "  --agent-id N           agent of the lines that name none\n"
	      "  --spool FILE           a spool file left by \"loomlat invoke\" (an input like any)\n"
	      "  --journal DIR          write what killed runs (invoke or ingest) left in the\n"
	      "                         journal DIR, for this database (the only input then)\n"
	      "  --rejects FILE         append bad lines there as FILE:LINE: reason (default: stderr)\n"
	      "  --max-line-bytes N     longer lines are rejected (default 1048576 = 1 MiB)\n"
	      "  --follow               keep reading the one FILE as it grows, as tail -F does\n"
	      "                         (rotation by rename, truncation); stop with SIGINT/SIGTERM\n"
	      "  --checkpoint FILE      resume the one FILE where the last run's committed\n"
	      "                         lines ended, and keep that position there\n"
	      "  --journal-dir DIR      write-ahead journal of the rows read (default as for\n"
	      "                         \"loomlat invoke\"); what a killed run read waits there\n"
	      "  --no-journal           keep rows in memory only (and spool them at the end)\n"
	      "  --db CONNINFO|URI      database, else LOOMLAT_DATABASE_URL, else the PG* variables\n"
	      "  -v, --verbose          debug messages\n"
	      "  -q, --quiet            errors only, no progress line\n"
	      "  -h, --help             show this help\n"
	      "\n"
	      "Exit status: 0 every line loaded; 64 usage; 65 some lines rejected (the others\n"
	      "loaded), or a corrupt journal file; 66 an input missing or unreadable; 69\n"
	      "database unavailable; 73 the journal directory cannot be used; 74 the journal\n"
	      "could not be written; 75 rows could not be written (they stay in the journal,\n"
	      "or with --no-journal in a spool file named on stderr), or another process is\n"
	      "replaying the journal DIR.\n",
	      out);
}

/* Print a usage error and return EX_USAGE. */
static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("loomlat ingest: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry \"loomlat ingest --help\".\n", stderr);
	return EX_USAGE;
}

/* Write the checkpoint by rename; false (logged) when it cannot be. */
static bool
save_checkpoint(struct ingest *ing)
{
	char *tmp;
	FILE *f;
	bool ok;

	if (ing->checkpoint == NULL || !ing->committed_dirty)
		return true;
	tmp = xasprintf("%s.tmp", ing->checkpoint);
	f = fopen(tmp, "we");
	ok = f != NULL &&
	     fprintf(f, "%ju %ju %jd %lu\n", (uintmax_t) ing->committed.dev,
	             (uintmax_t) ing->committed.ino, (intmax_t) ing->committed.offset,
	             ing->committed.lineno) > 0 &&
	     fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (f != NULL && fclose(f) != 0)
		ok = false;
	if (ok && rename(tmp, ing->checkpoint) != 0)
		ok = false;
	if (!ok)
		log_error("cannot write checkpoint %s: %s", ing->checkpoint, strerror(errno));
	else
		ing->committed_dirty = false;
	free(tmp);
	return ok;
}

/* Read the checkpoint; false when there is none yet. */
static bool
load_checkpoint(const char *path, struct mark *mark)
{
	FILE *f = fopen(path, "re");
	uintmax_t dev, ino;
	intmax_t offset;
	bool ok;

	if (f == NULL)
		return false;
	ok = fscanf(f, "%ju %ju %jd %lu", &dev, &ino, &offset, &mark->lineno) == 4 && offset >= 0;
	fclose(f);
	mark->dev = (dev_t) dev;
	mark->ino = (ino_t) ino;
	mark->offset = (off_t) offset;
	return ok;
}

/* Every line read so far is done: the checkpoint may move to the reader. */
static void
commit_all_read(struct ingest *ing)
{
	if (ing->src.fd < 0 || pg_writer_pending(ing->writer) > 0)
		return;
	ing->committed = (struct mark){ing->src.dev, ing->src.ino, line_reader_offset(ing->src.reader),
	                               ing->src.lineno};
	ing->committed_dirty = true;
}

/* Report a bad line. */
static void
reject(struct ingest *ing, const char *label, unsigned long lineno, const char *why)
{
	size_t len = strcspn(why, "\n");

	ing->rejected++;
	fprintf(ing->rejects, "%s:%lu: %.*s\n", label, lineno, (int) len, why);
}

/* Open src.label (at the checkpoint when it names this file). */
static int
open_source(struct ingest *ing, const char *label, bool resume)
{
	struct source *src = &ing->src;
	struct stat st;
	struct mark mark;
	off_t offset = 0;

	src->label = label;
	src->lineno = 0;
	src->fd = strcmp(label, "-") == 0 ? STDIN_FILENO : open(label, O_RDONLY | O_CLOEXEC);
	if (src->fd < 0 || fstat(src->fd, &st) != 0)
	{
		log_error("cannot open %s: %s", label, strerror(errno));
		src->fd = -1;
		return EX_NOINPUT;
	}
	src->dev = st.st_dev;
	src->ino = st.st_ino;
	if (resume && load_checkpoint(ing->checkpoint, &mark) && mark.dev == st.st_dev &&
	    mark.ino == st.st_ino && mark.offset <= st.st_size &&
	    lseek(src->fd, mark.offset, SEEK_SET) == mark.offset)
	{
		offset = mark.offset;
		src->lineno = mark.lineno;
		log_info("resuming %s at byte %jd (line %lu)", label, (intmax_t) offset, mark.lineno);
	}
	ing->committed = (struct mark){src->dev, src->ino, offset, src->lineno};
	src->reader = line_reader_new(src->fd, ing->map.max_line_bytes, offset);
	return 0;
}

/* Close the current input. */
static void
close_source(struct ingest *ing)
{
	if (ing->src.fd < 0)
		return;
	line_reader_free(ing->src.reader);
	ing->src.reader = NULL;
	if (ing->src.fd != STDIN_FILENO)
		close(ing->src.fd);
	ing->src.fd = -1;
}

/* The writer confirmed a row, or gave up on it. */
static void
row_done(void *arg, bool written)
{
	struct row_ref *ref = arg;
	struct ingest *ing = ref->ing;

	if (!written && !ing->taking)
	{
		const char *msg = pg_writer_last_error(ing->writer);

		ing->db_rejected++;
		reject(ing, ref->label, ref->lineno, msg != NULL ? msg : "rejected by the database");
	}
	if (!ing->taking)
	{
		ing->committed = (struct mark){ref->dev, ref->ino, ref->end, ref->lineno};
		ing->committed_dirty = true;
		if (ref->dev == ing->src.dev && ref->ino == ing->src.ino)
			commit_all_read(ing);
	}
	free(ref);
	if (!ing->pump_deferred && !ing->draining && pg_writer_pending(ing->writer) <= LOW_WATER)
	{
		ing->pump_deferred = true;
		loop_defer(ing->loop, pump, ing);
	}
}

/* The writer confirmed a replayed journal row, or gave up on it. */
static void
replayed_done(void *arg, bool written)
{
	struct ingest *ing = arg;
	const char *msg = pg_writer_last_error(ing->writer);

	ing->replay_done++;
	if (!written && !ing->taking)
	{
		ing->db_rejected++;
		reject(ing, ing->replay, ing->replay_done, msg != NULL ? msg : "rejected by the database");
	}
}

/* Map one line and queue it, or reject it. */
static void
take_line(struct ingest *ing, enum lr_status status, const char *line, size_t len)
{
	char why[512];
	char *row;
	size_t row_len;
	struct row_ref *ref;
	size_t blank = 0;

	ing->lines++;
	ing->src.lineno++;
	if (status == LR_OVERSIZE)
	{
		snprintf(why, sizeof(why), "line of %zu bytes is longer than --max-line-bytes %zu", len,
		         ing->map.max_line_bytes);
		reject(ing, ing->src.label, ing->src.lineno, why);
		commit_all_read(ing);
		return;
	}
	while (blank < len && strchr(" \t\r", line[blank]) != NULL)
		blank++;
	if (blank == len)
	{
		ing->lines--; /* empty lines are not counted */
		commit_all_read(ing);
		return;
	}
	row = jsonl_map_line(line, len, &ing->map, &row_len, why, sizeof(why));
	if (row == NULL)
	{
		reject(ing, ing->src.label, ing->src.lineno, why);
		commit_all_read(ing);
		return;
	}
	ref = xmalloc(sizeof(*ref));
	*ref = (struct row_ref){
	    ing,          ing->src.label, ing->src.lineno, line_reader_offset(ing->src.reader),
	    ing->src.dev, ing->src.ino};
	pg_writer_put_text(ing->writer, row, row_len, row_done, ref);
}

/* Loop callback: the writer drained. */
static void
drained(void *arg)
{
	struct ingest *ing = arg;

	loop_stop(ing->loop);
}

/* No more input: wait for the writer. */
static void
finish(struct ingest *ing)
{
	if (ing->draining)
		return;
	ing->draining = true;
	loop_cancel_timer(ing->loop, ing->poll_timer);
	ing->poll_timer = NULL;
	pg_writer_drain(ing->writer, DRAIN_MS, drained, ing);
}

/* Poll timer: look for more data. */
static void
poll_tick(void *arg)
{
	struct ingest *ing = arg;

	ing->poll_timer = NULL;
	save_checkpoint(ing);
	pump(ing);
}

/* At the end of a followed file: switch to a new file under its name, or
 * rewind a truncated one.  Returns true when there is something new to read. */
static bool
follow_check(struct ingest *ing)
{
	struct source *src = &ing->src;
	struct stat now, st;
	off_t pos = lseek(src->fd, 0, SEEK_CUR);
	enum lr_status status;
	const char *line;
	size_t len;

	if (fstat(src->fd, &st) == 0 && pos > st.st_size)
	{
		log_info("%s was truncated: reading it from the start", src->label);
		lseek(src->fd, 0, SEEK_SET);
		line_reader_reset(src->reader, 0);
		src->lineno = 0;
		return true;
	}
	if (stat(src->label, &now) != 0 || (now.st_dev == src->dev && now.st_ino == src->ino))
		return false;
	log_info("%s was replaced (rotated): reading the new file", src->label);
	status = line_reader_next(src->reader, true, &line, &len); /* an unterminated last line */
	if (status == LR_LINE || status == LR_OVERSIZE)
		take_line(ing, status, line, len);
	close_source(ing);
	if (open_source(ing, src->label, false) != 0)
		return false;
	return true;
}

/* Read lines while the writer has room, a batch's worth at a time: the
 * writer sends between two calls. */
static void
pump(void *arg)
{
	struct ingest *ing = arg;
	size_t taken = 0;

	ing->pump_deferred = false;
	if (ing->journal != NULL && journal_failed(ing->journal) && !ing->draining)
	{
		log_error("journal: stopped reading: rows can no longer be journaled");
		ing->rc = EX_IOERR;
		finish(ing);
	}
	while (!ing->stopping && !ing->draining && ing->poll_timer == NULL &&
	       pg_writer_pending(ing->writer) < HIGH_WATER)
	{
		const char *line;
		size_t len;
		enum lr_status status;

		if (taken++ == PG_WRITER_BATCH_ROWS)
		{
			ing->pump_deferred = true;
			loop_defer(ing->loop, pump, ing);
			return;
		}

		if (ing->src.fd < 0)
		{
			int rc;

			if (ing->next_input == ing->n_inputs)
			{
				finish(ing);
				return;
			}
			rc = open_source(ing, ing->inputs[ing->next_input++], ing->checkpoint != NULL);
			if (rc != 0)
			{
				ing->rc = rc;
				continue;
			}
		}
		status = line_reader_next(ing->src.reader, !ing->follow, &line, &len);
		if (status == LR_LINE || status == LR_OVERSIZE)
			take_line(ing, status, line, len);
		else if (status == LR_ERROR)
		{
			log_error("cannot read %s: %s", ing->src.label, strerror(errno));
			ing->rc = EX_NOINPUT;
			close_source(ing);
		}
		else if (!ing->follow)
			close_source(ing);
		else if (!follow_check(ing))
			ing->poll_timer = loop_add_timer(ing->loop, loop_now(ing->loop) + POLL_MS * NS_PER_MS,
			                                 poll_tick, ing);
	}
}

/* SIGINT/SIGTERM: stop reading, drain. */
static void
on_signal(void *arg, int fd, short revents)
{
	struct ingest *ing = arg;

	if (signals_take(fd) <= 0)
		return;
	if (ing->stopping)
	{
		log_warning("interrupted again: stopping now");
		loop_stop(ing->loop);
		return;
	}
	log_warning("interrupted: writing the %zu queued rows, then stopping",
	            pg_writer_pending(ing->writer));
	ing->stopping = true;
	finish(ing);
}

/* The progress line. */
static void
on_progress(void *arg)
{
	struct ingest *ing = arg;
	struct batcher_stats stats;
	int64_t now = clock_mono_ns();

	pg_writer_get_stats(ing->writer, &stats);
	fprintf(stderr,
	        "\r\033[Kloomlat ingest %.0f s: %lu lines, %lu loaded, %lu rejected, %zu queued",
	        clock_ms_between(ing->begin_ns, now) / 1e3, ing->lines, stats.rows_written,
	        ing->rejected, pg_writer_pending(ing->writer));
	ing->progress_timer = loop_add_timer(ing->loop, now + NS_PER_S, on_progress, ing);
}

/* The closing summary on stdout. */
static void
summary(struct ingest *ing, double seconds)
{
	struct batcher_stats stats;

	pg_writer_get_stats(ing->writer, &stats);
	if (ing->progress)
		fputs("\r\033[K", stderr);
	printf("lines read:      %lu\n"
	       "loaded:          %lu (inserted %lu, updated %lu, unchanged %lu)\n"
	       "rejected:        %lu (%lu by the database)\n"
	       "rows per second: %.0f\n",
	       ing->lines, stats.rows_written, stats.inserted, stats.updated, stats.unchanged,
	       ing->rejected, ing->db_rejected, seconds > 0 ? stats.rows_written / seconds : 0.0);
}

/* Journal the rows (unless --no-journal); with --journal DIR, queue what
 * stopped runs left there.  0 or an exit code. */
static int
start_journal(struct ingest *ing, PGconn *conn)
{
	if (ing->no_journal)
		return 0;
	ing->journal =
	    journal_setup_open(ing->loop, ing->replay != NULL ? ing->replay : ing->journal_dir, conn,
	                       JOURNAL_DEFAULT_MAX_BYTES, ing->writer);
	if (ing->journal == NULL)
		return EX_CANTCREAT;
	if (ing->replay == NULL)
		return 0;
	if (journal_setup_replay(ing->journal, ing->writer, replayed_done, ing, &ing->replayed) != 0)
	{
		log_error("another loomlat is replaying %s; try again when it is done", ing->replay);
		return EX_TEMPFAIL;
	}
	return 0;
}

/* What the replay of --journal DIR found and did. */
static void
replay_summary(const struct ingest *ing)
{
	const struct journal_recovery *found = &ing->replayed.found;

	printf("journal:         %zu rows replayed from %lu files (%zu invocations closed as "
	       "errors), %lu bytes of torn records dropped, %lu corrupt files kept, %lu files of "
	       "live processes or other databases left\n",
	       ing->replayed.rows, found->files, ing->replayed.closed, found->torn_bytes,
	       found->corrupt, found->skipped);
}

/* What the writer did not take: spooled without a journal, else left in it
 * (the rejected rows are in the reject file already).  0 or EX_TEMPFAIL. */
static int
keep_unwritten(struct ingest *ing, size_t *left)
{
	struct batcher_stats stats;
	char path[4096];
	size_t in_doubt;
	json_t *rows;

	ing->taking = true;
	if (ing->journal != NULL && !journal_failed(ing->journal))
	{
		json_decref(pg_writer_take_rejected(ing->writer));
		*left = pg_writer_pending(ing->writer);
		if (*left > 0)
			log_error("%zu rows could not be written to the database; they stay in the journal "
			          "%s: \"loomlat ingest --journal %s\" writes them",
			          *left, journal_dir(ing->journal), journal_dir(ing->journal));
		return *left > 0 ? EX_TEMPFAIL : 0;
	}
	pg_writer_get_stats(ing->writer, &stats);
	rows = pg_writer_take_unwritten(ing->writer, &in_doubt);
	*left = json_array_size(rows) - stats.rejected;
	if (*left > 0)
		spool_save(rows, in_doubt, path, sizeof(path));
	json_decref(rows);
	return *left > 0 ? EX_TEMPFAIL : 0;
}

/* Run the loop over every input; returns the exit code. */
static int
run(struct ingest *ing, const char *conninfo)
{
	char err[1024];
	PGconn *conn = db_connect_blocking(conninfo, err, sizeof(err));
	size_t left = 0;
	int rc;

	if (conn == NULL)
	{
		log_error("%s; check --db, LOOMLAT_DATABASE_URL or the PG* variables", err);
		return EX_UNAVAILABLE;
	}
	ing->loop = loop_new();
	ing->writer = ing->loop != NULL ? pg_writer_new(ing->loop, conninfo, conn) : NULL;
	ing->signal_fd = signals_open();
	if (ing->writer == NULL || ing->signal_fd < 0 ||
	    loop_watch_fd(ing->loop, ing->signal_fd, POLLIN | LOOP_WEAK, on_signal, ing) != 0)
		rc = EX_SOFTWARE;
	else
		rc = start_journal(ing, conn);
	if (rc != 0)
	{
		if (ing->writer == NULL)
			PQfinish(conn);
		if (ing->signal_fd >= 0)
			signals_close(ing->signal_fd);
		pg_writer_free(ing->writer);
		journal_close(ing->journal, false);
		loop_free(ing->loop);
		return rc;
	}
	ing->begin_ns = clock_mono_ns();
	if (ing->progress)
		ing->progress_timer = loop_add_timer(ing->loop, ing->begin_ns + NS_PER_S, on_progress, ing);
	loop_defer(ing->loop, pump, ing);
	if (loop_run(ing->loop) != 0)
		rc = EX_SOFTWARE;
	loop_watch_fd(ing->loop, ing->signal_fd, 0, NULL, NULL);
	signals_close(ing->signal_fd);
	loop_cancel_timer(ing->loop, ing->progress_timer);
	loop_cancel_timer(ing->loop, ing->poll_timer);
	if (keep_unwritten(ing, &left) != 0)
		rc = EX_TEMPFAIL;
	if (!save_checkpoint(ing))
		rc = EX_SOFTWARE;
	if (ing->replay != NULL && left == 0)
		journal_recover_commit(ing->journal); /* the replayed files can go */
	summary(ing, clock_ms_between(ing->begin_ns, clock_mono_ns()) / 1e3);
	if (ing->replay != NULL)
		replay_summary(ing);
	close_source(ing);
	pg_writer_free(ing->writer);
	journal_close(ing->journal, left == 0);
	loop_free(ing->loop);
	if (rc == 0 && ing->rc != EXIT_NOT_SET)
		rc = ing->rc;
	if (rc == 0 && (ing->rejected > 0 || ing->replayed.found.corrupt > 0))
		rc = EX_DATAERR;
	return rc;
}

/* Entry point of "loomlat ingest". */
int
cmd_ingest(int argc, char **argv)
{
	char *one[1];
	struct ingest ing = {.map = {0, DEFAULT_MAX_LINE}, .src = {.fd = -1}, .rc = EXIT_NOT_SET};
	const char *spool = NULL;
	const char *db = NULL;
	const char *rejects = NULL;
	enum log_level level = LOG_LEVEL_INFO;
	unsigned long max_line;
	int opt;
	int rc;

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
			case OPT_AGENT_ID:
				if (parse_id(optarg, &ing.map.agent_id) != 0)
					return usage_error("--agent-id: not a positive integer: %s", optarg);
				break;
			case OPT_FOLLOW:
				ing.follow = true;
				break;
			case OPT_CHECKPOINT:
				ing.checkpoint = optarg;
				break;
			case OPT_REJECTS:
				rejects = optarg;
				break;
			case OPT_JOURNAL:
				ing.replay = optarg;
				break;
			case OPT_JOURNAL_DIR:
				ing.journal_dir = optarg;
				break;
			case OPT_NO_JOURNAL:
				ing.no_journal = true;
				break;
			case OPT_MAX_LINE_BYTES:
				if (parse_ulong(optarg, MIN_MAX_LINE, MAX_MAX_LINE, &max_line) != 0)
					return usage_error("--max-line-bytes: not an integer from %lu to %lu: %s",
					                   MIN_MAX_LINE, MAX_MAX_LINE, optarg);
				ing.map.max_line_bytes = max_line;
				break;
			case 'v':
				level = LOG_LEVEL_DEBUG;
				break;
			case 'q':
				level = LOG_LEVEL_ERROR;
				break;
			case 'h':
				cmd_ingest_usage(stdout);
				return 0;
			case ':':
				return usage_error("%s needs a value", argv[optind - 1]);
			default:
				return usage_error("bad option %s", argv[optind - 1]);
		}
	}
	log_set_level(level);
	ing.inputs = argv + optind;
	ing.n_inputs = argc - optind;
	if (spool != NULL && ing.n_inputs > 0)
		return usage_error("--spool FILE is one input: give no other");
	if (ing.replay != NULL &&
	    (spool != NULL || ing.n_inputs > 0 || ing.follow || ing.checkpoint != NULL))
		return usage_error("--journal DIR is the one input: give no FILE, --spool, --follow or "
		                   "--checkpoint");
	if (ing.replay != NULL && (ing.no_journal || ing.journal_dir != NULL))
		return usage_error("--journal DIR replays into DIR: give no --journal-dir or --no-journal");
	if (ing.replay == NULL && (spool != NULL || ing.n_inputs == 0))
	{
		one[0] = (char *) (spool != NULL ? spool : "-");
		ing.inputs = one;
		ing.n_inputs = 1;
	}
	if ((ing.follow || ing.checkpoint != NULL) &&
	    (ing.n_inputs != 1 || strcmp(ing.inputs[0], "-") == 0))
		return usage_error("--follow and --checkpoint take exactly one FILE (not standard input)");
	for (int i = 0; i < ing.n_inputs; i++)
		if (strcmp(ing.inputs[i], "-") != 0 && access(ing.inputs[i], R_OK) != 0)
		{
			log_error("cannot read %s: %s", ing.inputs[i], strerror(errno));
			return EX_NOINPUT;
		}
	ing.rejects = rejects != NULL ? fopen(rejects, "ae") : stderr;
	if (ing.rejects == NULL)
	{
		log_error("cannot open %s: %s", rejects, strerror(errno));
		return EX_NOINPUT;
	}
	ing.progress = isatty(STDERR_FILENO) && level != LOG_LEVEL_ERROR;
	rc = run(&ing, db_conninfo(db));
	if (ing.rejects != stderr && fclose(ing.rejects) != 0)
		log_error("cannot write %s: %s", rejects, strerror(errno));
	return rc;
}
