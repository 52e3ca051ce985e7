/*
 * fuzz_jsonl.c - the ingest line mapper on arbitrary bytes.
 *
 * Each input is mapped as one line, and also split at its newlines as a file
 * through the line reader.  Besides the sanitizers' checks, the oracle is the
 * mapper's contract: a row is an object with a string invocation_id and only
 * record_invocations' keys, mapping its own canonical text again gives the
 * same row (so ids are stable), and a refusal gives a non-empty reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink/jsonl.h"
#include "util/line_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct jsonl_options OPTS = {1, 4096};

/* Map one line and check the contract. */
static void
check_line(const char *line, size_t len)
{
	char why[256] = "";
	json_t *row = jsonl_map_line(line, len, &OPTS, why, sizeof(why));
	json_t *again;
	char *text;

	if (row == NULL)
	{
		if (why[0] == '\0')
			abort();
		return;
	}
	if (!json_is_object(row) || !json_is_string(json_object_get(row, "invocation_id")) ||
	    !json_is_integer(json_object_get(row, "agent_id")))
		abort();
	text = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
	again = jsonl_map_line(text, strlen(text), &OPTS, why, sizeof(why));
	if (again == NULL || !json_equal(row, again))
		abort();
	free(text);
	json_decref(again);
	json_decref(row);
}

/* The whole input as a line, then as a file of lines. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds[2];
	struct line_reader *reader;
	const char *line;
	size_t len;
	enum lr_status status;

	check_line((const char *) data, size);
	if (size > 60000 || pipe(fds) != 0)
		return 0;
	if (write(fds[1], data, size) != (ssize_t) size)
		abort();
	close(fds[1]);
	reader = line_reader_new(fds[0], 512, 0);
	while ((status = line_reader_next(reader, true, &line, &len)) != LR_EOF)
	{
		if (status == LR_LINE)
			check_line(line, len);
		else if (status != LR_OVERSIZE || len <= 512)
			abort();
	}
	if (line_reader_offset(reader) != (off_t) size)
		abort();
	line_reader_free(reader);
	close(fds[0]);
	return 0;
}
