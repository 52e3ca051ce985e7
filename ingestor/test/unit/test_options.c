/*
 * test_options.c - command-line value validation.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/options.h"

/* Positive finite numbers only. */
static void
parse_positive(void **state)
{
	double v = 0;

	assert_int_equal(opt_parse_positive("2.5", &v), 0);
	assert_true(v == 2.5);
	assert_int_equal(opt_parse_positive("1e3", &v), 0);
	assert_true(v == 1000);
	v = 7;
	assert_int_equal(opt_parse_positive("0", &v), -1);
	assert_int_equal(opt_parse_positive("-1", &v), -1);
	assert_int_equal(opt_parse_positive("nan", &v), -1);
	assert_int_equal(opt_parse_positive("inf", &v), -1);
	assert_int_equal(opt_parse_positive("1e999", &v), -1);
	assert_int_equal(opt_parse_positive("3s", &v), -1);
	assert_int_equal(opt_parse_positive("", &v), -1);
	assert_true(v == 7);
}

/* "Name: value" with a token name and no line breaks. */
static void
headers(void **state)
{
	assert_true(opt_valid_header("X-Trace: abc"));
	assert_true(opt_valid_header("X-Empty:"));
	assert_false(opt_valid_header(": value"));
	assert_false(opt_valid_header("No colon"));
	assert_false(opt_valid_header("Bad Name: v"));
	assert_false(opt_valid_header("X-Inject: a\r\nHost: evil"));
	assert_false(opt_valid_header("X-Inject: a\nb"));
}

/* Absolute http(s) URLs with a host. */
static void
urls(void **state)
{
	assert_true(opt_valid_http_url("http://127.0.0.1:8080/invocations"));
	assert_true(opt_valid_http_url("HTTPS://agent.example/x?y=1"));
	assert_false(opt_valid_http_url("ftp://127.0.0.1/x"));
	assert_false(opt_valid_http_url("http://"));
	assert_false(opt_valid_http_url("http:///path"));
	assert_false(opt_valid_http_url("127.0.0.1:80"));
	assert_false(opt_valid_http_url("http://a b/"));
}

/* Whole files, missing files, and files over the limit. */
static void
read_file(void **state)
{
	char path[] = "/tmp/loomlat-test-options-XXXXXX";
	int fd = mkstemp(path);
	char *buf = NULL;
	size_t len = 0;
	const char *why = NULL;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello prompt", 12), 12);
	close(fd);
	assert_int_equal(opt_read_file(path, 100, &buf, &len, &why), OPT_FILE_OK);
	assert_int_equal(len, 12);
	assert_string_equal(buf, "hello prompt");
	free(buf);
	assert_int_equal(opt_read_file(path, 5, &buf, &len, &why), OPT_FILE_UNREADABLE);
	assert_non_null(why);
	unlink(path);
	assert_int_equal(opt_read_file(path, 100, &buf, &len, &why), OPT_FILE_MISSING);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_positive),
	    cmocka_unit_test(headers),
	    cmocka_unit_test(urls),
	    cmocka_unit_test(read_file),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
