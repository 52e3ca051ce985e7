/*
 * fuzz_jsonl.c - the ingest line mapper on arbitrary bytes.
 *
 * Each input is mapped as one line, and also split at its newlines as a file
 * through the line reader.  Besides the sanitizers' checks, the oracle is the
 * mapper's contract: a row is the text of one object without duplicate keys
 * (what the mapper splices in never repeats a key), with a string
 * invocation_id and an agent_id, mapping its own canonical text again gives
 * the same row (so ids are stable), and a refusal gives a non-empty reason.
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
	size_t row_len, again_len;
	char *text = jsonl_map_line(line, len, &OPTS, &row_len, why, sizeof(why));
	char *canonical, *again;
	json_t *row, *again_row;

	if (text == NULL)
	{
		if (why[0] == '\0')
			abort();
		return;
	}
	row = json_loadb(text, row_len, JSON_REJECT_DUPLICATES, NULL);
	if (strlen(text) != row_len || !json_is_object(row) ||
	    !json_is_string(json_object_get(row, "invocation_id")) ||
	    !json_is_integer(json_object_get(row, "agent_id")))
		abort();
	canonical = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
	again = jsonl_map_line(canonical, strlen(canonical), &OPTS, &again_len, why, sizeof(why));
	again_row = again != NULL ? json_loadb(again, again_len, 0, NULL) : NULL;
	if (again_row == NULL || !json_equal(row, again_row))
		abort();
	free(text);
	free(canonical);
	free(again);
	json_decref(again_row);
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
