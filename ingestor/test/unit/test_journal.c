/*
 * test_journal.c - the write-ahead journal: records round-trip, a dead
 * process's rows come back minus the done ones, a live process's never do,
 * a torn tail (cut at every byte) loses only the torn record and says how
 * much, a bad checksum keeps the file as .corrupt, done segments are deleted
 * and the size limit is seen.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "event/loop.h"
#include "sink/journal.h"
#include "util/crc32c.h"

#define TARGET 42

static char dir[] = "/tmp/loomlat-test-journal-XXXXXX";

/* Rows given back by recovery. */
struct got
{
	char rows[64][64];
	size_t n;
	bool intact;
};

static void
collect(void *arg, const char *data, size_t len, bool intact)
{
	struct got *g = arg;

	assert_true(len < sizeof(g->rows[0]) && g->n < 64);
	memcpy(g->rows[g->n], data, len);
	g->rows[g->n++][len] = '\0';
	g->intact = intact;
}

/* Files in dir ending in suffix. */
static int
count_files(const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)) != NULL)
	{
		size_t len = strlen(e->d_name), sl = strlen(suffix);

		n += len > sl && strcmp(e->d_name + len - sl, suffix) == 0;
	}
	closedir(d);
	return n;
}

/* Remove every file of dir. */
static void
empty_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
		{
			char path[512];

			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
}

/* Recover with a new journal for target, then close it. */
static struct journal_recovery
recover(uint64_t target, struct got *got)
{
	char err[256];
	struct journal *j =
	    journal_open(NULL, dir, target, JOURNAL_DEFAULT_MAX_BYTES, err, sizeof(err));
	struct journal_recovery stats;

	assert_non_null(j);
	memset(got, 0, sizeof(*got));
	got->intact = true;
	assert_int_equal(journal_recover(j, collect, got, &stats), 0);
	assert_int_equal(journal_recover_commit(j), 0);
	assert_int_equal(journal_close(j, false), 0);
	return stats;
}

/* A child appends rows, marks some done, and dies without closing. */
static void
die_with(uint64_t target, int nrows, const int *done, int ndone)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
	{
		char err[256];
		struct journal *j = journal_open(NULL, dir, target, JOURNAL_DEFAULT_MAX_BYTES, err, 256);
		uint64_t seq[16];

		if (j == NULL)
			_exit(1);
		for (int i = 0; i < nrows; i++)
		{
			char row[32];

			snprintf(row, sizeof(row), "{\"row\":%d}", i);
			seq[i] = journal_append(j, row, strlen(row));
		}
		if (journal_sync(j) != 0)
			_exit(1);
		for (int i = 0; i < ndone; i++)
			journal_done(j, seq[done[i]]);
		_exit(journal_sync(j) != 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int
setup(void **state)
{
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	empty_dir();
	return rmdir(dir);
}

/* The standard check value. */
static void
crc_check_value(void **state)
{
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

/* The rows not marked done come back in order, once; the files go after the commit. */
static void
dead_process_replayed(void **state)
{
	const int done[] = {1};
	struct got got;
	struct journal_recovery stats;

	die_with(TARGET, 3, done, 1);
	assert_int_equal(count_files(".seg"), 1);
	stats = recover(TARGET, &got);
	assert_int_equal(stats.files, 1);
	assert_int_equal(stats.rows, 2);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.rows[0], "{\"row\":0}");
	assert_string_equal(got.rows[1], "{\"row\":2}");
	assert_true(got.intact);
	assert_int_equal(count_files(".seg"), 0);
	stats = recover(TARGET, &got);
	assert_int_equal(got.n, 0);
}

/* Another database's rows and a live process's rows are left alone. */
static void
live_and_foreign_skipped(void **state)
{
	char err[256];
	struct journal *live = journal_open(NULL, dir, TARGET, 1 << 20, err, sizeof(err));
	struct journal_recovery stats;
	struct got got;

	assert_non_null(live);
	assert_int_not_equal(journal_append(live, "{\"live\":1}", 10), 0);
	assert_int_equal(journal_sync(live), 0);
	die_with(TARGET + 1, 2, NULL, 0);
	stats = recover(TARGET, &got);
	assert_int_equal(got.n, 0);
	assert_int_equal(stats.skipped, 2);
	assert_int_equal(journal_live(live), 1);
	assert_int_equal(journal_close(live, false), 1); /* a row left: the file stays */
	stats = recover(TARGET, &got);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.rows[0], "{\"live\":1}");
	stats = recover(TARGET + 1, &got);
	assert_int_equal(got.n, 2);
	assert_int_equal(count_files(".seg"), 0);
}

/* A segment of two rows, as bytes. */
static char *
two_rows(size_t *len, size_t *end1)
{
	char *buf = malloc(16);
	size_t cap = 16;

	memcpy(buf, "LOOMJNL1", 8);
	memset(buf + 8, 0, 8);
	buf[8] = TARGET;
	*len = 16;
	journal_encode(&buf, len, &cap, JOURNAL_ROW, 1, "{\"a\":1}", 7);
	*end1 = *len;
	journal_encode(&buf, len, &cap, JOURNAL_ROW, 2, "{\"b\":2}", 7);
	return buf;
}

static void
count_record(void *arg, const struct journal_record *rec)
{
	(*(int *) arg)++;
}

/* Write bytes as a dead process's segment. */
static void
write_segment(const char *buf, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/j-1-%d-0.seg", dir, 999999);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* Cut anywhere in the last record: the first row survives, the rest is torn. */
static void
torn_at_every_byte(void **state)
{
	size_t len, end1, good;
	uint64_t target;
	char *buf = two_rows(&len, &end1);
	struct journal_recovery stats;
	struct got got;

	for (size_t cut = end1; cut <= len; cut++)
	{
		int n = 0;
		enum journal_scan_result r = journal_scan(buf, cut, &target, count_record, &n, &good);

		assert_int_equal(r, cut == end1 || cut == len ? JOURNAL_SCAN_OK : JOURNAL_SCAN_TORN);
		assert_int_equal(n, cut == len ? 2 : 1);
		assert_int_equal(good, cut == len ? len : end1);
		assert_int_equal(target, TARGET);
	}
	for (size_t cut = 0; cut < 16; cut++)
	{
		int n = 0;

		assert_int_equal(journal_scan(buf, cut, &target, count_record, &n, &good),
		                 JOURNAL_SCAN_TORN);
		assert_int_equal(n, 0);
	}
	write_segment(buf, len - 3);
	stats = recover(TARGET, &got);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.rows[0], "{\"a\":1}");
	assert_int_equal(stats.torn_bytes, len - 3 - end1);
	assert_int_equal(count_files(".seg"), 0);
	free(buf);
}

/* A tail of zeros (a file extended but not written) is torn, not corrupt. */
static void
zero_tail_is_torn(void **state)
{
	size_t len, end1, good;
	uint64_t target;
	char *buf = two_rows(&len, &end1);
	char *padded = calloc(1, len + 100);
	int n = 0;

	memcpy(padded, buf, len);
	assert_int_equal(journal_scan(padded, len + 100, &target, count_record, &n, &good),
	                 JOURNAL_SCAN_TORN);
	assert_int_equal(n, 2);
	assert_int_equal(good, len);
	free(padded);
	free(buf);
}

/* A flipped byte before the end: corrupt there; the prefix is used, the file kept. */
static void
checksum_mismatch(void **state)
{
	size_t len, end1, good;
	uint64_t target;
	char *buf = two_rows(&len, &end1);
	struct journal_recovery stats;
	struct got got;
	int n = 0;

	buf[end1 + 18] ^= 1; /* the second row's payload */
	assert_int_equal(journal_scan(buf, len, &target, count_record, &n, &good),
	                 JOURNAL_SCAN_CORRUPT);
	assert_int_equal(n, 1);
	assert_int_equal(good, end1);
	write_segment(buf, len);
	stats = recover(TARGET, &got);
	assert_int_equal(stats.corrupt, 1);
	assert_int_equal(got.n, 1);
	assert_false(got.intact);
	assert_int_equal(count_files(".corrupt"), 1);
	assert_int_equal(count_files(".seg"), 0);
	empty_dir();
	buf[0] = 'X'; /* not a segment at all */
	n = 0;
	assert_int_equal(journal_scan(buf, len, &target, count_record, &n, &good),
	                 JOURNAL_SCAN_CORRUPT);
	assert_int_equal(n, 0);
	free(buf);
}

/* Segments rotate; all-done ones are deleted; the limit is reported. */
static void
compaction_and_limit(void **state)
{
	char err[256];
	struct journal *j = journal_open(NULL, dir, TARGET, 512 << 10, err, sizeof(err));
	static uint64_t seqs[700];
	char row[1024];

	assert_non_null(j);
	memset(row, 'x', sizeof(row));
	for (int i = 0; i < 700; i++)
	{
		seqs[i] = journal_append(j, row, sizeof(row));
		if (i % 10 == 9)
			assert_int_equal(journal_sync(j), 0);
	}
	assert_int_equal(journal_sync(j), 0);
	assert_true(journal_full(j));
	assert_true(count_files(".seg") >= 8);
	for (int i = 0; i < 700; i++)
	{
		journal_done(j, seqs[i]);
		journal_done(j, seqs[i]); /* twice is once */
	}
	assert_int_equal(journal_sync(j), 0);
	assert_false(journal_full(j));
	assert_int_equal(journal_live(j), 0);
	assert_true(count_files(".seg") <= 2);
	assert_true(journal_bytes(j) < (128 << 10));
	assert_int_equal(journal_close(j, false), 0);
	assert_int_equal(count_files(".seg"), 0);
}

/* A waiter's callback: stop the loop. */
static void
woken(void *arg)
{
	loop_stop(arg);
}

/* Append n rows of size bytes; the last seq. */
static uint64_t
append_rows(struct journal *j, int n, size_t size, uint64_t *seqs)
{
	char row[1024];
	uint64_t seq = 0;

	assert_true(size <= sizeof(row));
	memset(row, 'y', size);
	for (int i = 0; i < n; i++)
	{
		seq = journal_append(j, row, size);
		assert_int_not_equal(seq, 0);
		if (seqs != NULL)
			seqs[i] = seq;
	}
	return seq;
}

/* The sync thread: a waiter is called once its row is durable, the window
 * alone makes rows durable (and keeps the loop alive until then), a
 * blocking sync takes over from a running job, segments rotate and are
 * deleted off the loop thread, and what it synced is what a replay finds. */
static void
sync_thread_durability(void **state)
{
	char err[256];
	struct loop *loop = loop_new();
	struct journal *j = journal_open(loop, dir, TARGET, 512 << 10, err, sizeof(err));
	static uint64_t seqs[300];
	struct got got;
	uint64_t last;

	assert_non_null(j);
	last = append_rows(j, 3, 10, NULL);
	assert_true(journal_synced(j) < last);
	journal_wait(j, last, woken, loop);
	assert_int_equal(loop_run(loop), 0);
	assert_true(journal_synced(j) >= last);

	last = append_rows(j, 2, 10, NULL);  /* no waiter: the window syncs them */
	assert_int_equal(loop_run(loop), 0); /* returns once nothing is left, the sync included */
	assert_true(journal_synced(j) >= last);

	last = append_rows(j, 2, 10, NULL);
	journal_wait(j, last, woken, loop); /* a job starts on the thread */
	last = append_rows(j, 2, 10, NULL);
	assert_int_equal(journal_sync(j), 0); /* waits for that job, then syncs the rest */
	assert_true(journal_synced(j) >= last);
	assert_int_equal(loop_run(loop), 0); /* the waiter, called from the loop */

	for (int i = 0; i < 300; i += 10)
	{
		last = append_rows(j, 10, 1000, seqs + i);
		journal_wait(j, last, woken, loop);
		assert_int_equal(loop_run(loop), 0);
	}
	assert_true(count_files(".seg") >= 4);
	for (uint64_t seq = 1; seq <= 9; seq++) /* the first rows */
		journal_done(j, seq);
	for (int i = 0; i < 300; i++)
		journal_done(j, seqs[i]);
	last = append_rows(j, 1, 10, NULL);
	journal_wait(j, last, woken, loop); /* the done marks go, all-done segments are deleted */
	assert_int_equal(loop_run(loop), 0);
	last = append_rows(j, 1, 10, NULL);
	journal_wait(j, last, woken, loop);
	assert_int_equal(loop_run(loop), 0);
	assert_true(count_files(".seg") <= 2);
	assert_int_equal(journal_live(j), 2);
	assert_int_equal(journal_close(j, false), 2);
	loop_free(loop);
	recover(TARGET, &got);
	assert_int_equal(got.n, 2);
	assert_int_equal(count_files(".seg"), 0);
}

/* A write that fails on the sync thread (here: past RLIMIT_FSIZE) fails the
 * journal: the waiter is called, every row may go to the database, nothing
 * more is appended. */
static void
sync_thread_write_error(void **state)
{
	char err[256];
	struct loop *loop = loop_new();
	struct journal *j = journal_open(loop, dir, TARGET, JOURNAL_DEFAULT_MAX_BYTES, err, 256);
	struct rlimit old, small;
	uint64_t last;

	assert_non_null(j);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = (struct rlimit){32 << 10, old.rlim_max};
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	last = append_rows(j, 40, 1000, NULL);
	journal_wait(j, last, woken, loop);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_true(journal_failed(j));
	assert_true(journal_synced(j) == UINT64_MAX);
	assert_int_equal(journal_append(j, "{}", 2), 0);
	assert_int_equal(journal_sync(j), -1);
	journal_close(j, true);
	loop_free(loop);
	assert_int_equal(count_files(".seg"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(crc_check_value),          cmocka_unit_test(dead_process_replayed),
	    cmocka_unit_test(live_and_foreign_skipped), cmocka_unit_test(torn_at_every_byte),
	    cmocka_unit_test(zero_tail_is_torn),        cmocka_unit_test(checksum_mismatch),
	    cmocka_unit_test(compaction_and_limit),     cmocka_unit_test(sync_thread_durability),
	    cmocka_unit_test(sync_thread_write_error),
	};

	return cmocka_run_group_tests_name("journal", tests, setup, teardown);
}
