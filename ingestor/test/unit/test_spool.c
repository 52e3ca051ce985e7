/*
 * test_spool.c - spool files: a private new file per write, one row per
 * line, read back exactly; missing and corrupt files are told apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sink/spool.h"

static char dir[] = "/tmp/loomlat-test-spool-XXXXXX";

static int
setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	return setenv("LOOMLAT_SPOOL_DIR", dir, 1);
}

static int
teardown(void **state)
{
	return rmdir(dir);
}

/* Rows with awkward strings survive the round trip, in order, in a 0600 file. */
static void
round_trip(void **state)
{
	json_t *rows = json_pack("[{s:s,s:s,s:f},{s:s,s:s,s:[{s:s,s:f}]}]", "invocation_id",
	                         "01a20388-9382-7871-8537-1193c8b41fc0", "error_message",
	                         "line\nbreak \"quoted\" \xc3\xa9", "ttft_ms", 12.5, "invocation_id",
	                         "01a20388-9382-72f7-b93e-fac5349119b9", "status", "error", "phases",
	                         "phase", "db", "duration_ms", 3.25);
	char path[4096];
	char err[256];
	struct stat st;
	json_t *back;
	int missing = -1;
	FILE *f;
	int lines = 0;
	int c;

	assert_int_equal(spool_write(rows, path, sizeof(path), err, sizeof(err)), 0);
	assert_memory_equal(path, dir, strlen(dir));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	while ((c = fgetc(f)) != EOF)
		lines += c == '\n';
	fclose(f);
	assert_int_equal(lines, 2);
	back = spool_read(path, &missing, err, sizeof(err));
	assert_non_null(back);
	assert_int_equal(missing, 0);
	assert_true(json_equal(rows, back));
	json_decref(back);
	json_decref(rows);
	unlink(path);
}

/* A missing file is "missing"; a line that is not a row is an error with its line number. */
static void
missing_and_corrupt(void **state)
{
	char path[4096];
	char err[256];
	int missing = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/absent.jsonl", dir);
	assert_null(spool_read(path, &missing, err, sizeof(err)));
	assert_int_equal(missing, 1);
	assert_non_null(strstr(err, "absent.jsonl"));

	snprintf(path, sizeof(path), "%s/corrupt.jsonl", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"invocation_id\":\"x\"}\n\n{\"no_id\":1}\n", f);
	fclose(f);
	assert_null(spool_read(path, &missing, err, sizeof(err)));
	assert_int_equal(missing, 0);
	assert_non_null(strstr(err, ":3:"));
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(round_trip),
	    cmocka_unit_test(missing_and_corrupt),
	};

	return cmocka_run_group_tests_name("spool", tests, setup, teardown);
}
