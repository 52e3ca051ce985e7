/*
 * spool.c - JSON-lines spool files (see spool.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sink/spool.h"
#include "util/durable.h"
#include "util/log.h"

/* One line per row, then fsync of file and directory. */
static int
write_file(const json_t *rows, const char *dir, char *path, size_t pathlen)
{
	size_t i;
	json_t *row;
	int fd;

	snprintf(path, pathlen, "%s/loomlat-spool-%ld-%ld.jsonl", dir, (long) time(NULL),
	         (long) getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	json_array_foreach(rows, i, row)
	{
		char *line = json_dumps(row, JSON_COMPACT);
		int rc = durable_write_all(fd, line, strlen(line));

		if (rc == 0)
			rc = durable_write_all(fd, "\n", 1);
		free(line);
		if (rc != 0)
		{
			close(fd);
			unlink(path);
			return -1;
		}
	}
	if (fsync(fd) != 0 || close(fd) != 0 || durable_sync_dir(dir) != 0)
	{
		unlink(path);
		return -1;
	}
	return 0;
}

/* Try the spool directories in order. */
int
spool_write(const json_t *rows, char *path, size_t pathlen, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	const char *dirs[] = {getenv("LOOMLAT_SPOOL_DIR"), ".", tmp != NULL ? tmp : "/tmp"};
	int saved = 0;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
	{
		if (dirs[i] == NULL || dirs[i][0] == '\0')
			continue;
		if (write_file(rows, dirs[i], path, pathlen) == 0)
			return 0;
		saved = errno;
	}
	snprintf(err, errlen, "cannot write a spool file (last error: %s); set LOOMLAT_SPOOL_DIR",
	         strerror(saved));
	return -1;
}

/* Parse every non-empty line as one JSON object. */
json_t *
spool_read(const char *path, int *missing, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	json_t *rows;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;

	*missing = 0;
	if (f == NULL)
	{
		*missing = errno == ENOENT;
		snprintf(err, errlen, "cannot open spool file %s: %s", path, strerror(errno));
		return NULL;
	}
	rows = json_array();
	while (rows != NULL && (len = getline(&line, &cap, f)) >= 0)
	{
		json_error_t jerr;
		json_t *row;

		lineno++;
		if (len == 0 || line[0] == '\n')
			continue;
		row = json_loadb(line, (size_t) len, 0, &jerr);
		if (!json_is_object(row) || !json_is_string(json_object_get(row, "invocation_id")))
		{
			snprintf(err, errlen, "%s:%lu: not a spool row%s%s", path, lineno,
			         row == NULL ? ": " : "", row == NULL ? jerr.text : "");
			json_decref(row);
			json_decref(rows);
			rows = NULL;
			break;
		}
		json_array_append_new(rows, row);
	}
	free(line);
	fclose(f);
	return rows;
}

/* Write the spool and say where it is, or why it is not. */
void
spool_save(const json_t *rows, size_t in_doubt, char *path, size_t pathlen)
{
	char err[256];
	size_t n = json_array_size(rows);

	if (spool_write(rows, path, pathlen, err, sizeof(err)) != 0)
	{
		log_error("%zu rows could not be written to the database, and %s", n, err);
		path[0] = '\0';
		return;
	}
	log_error("%zu rows could not be written to the database; they are saved in %s; write them "
	          "later with: loomlat ingest --spool %s",
	          n, path, path);
	if (in_doubt > 0)
		log_warning("%zu of them were sent as the connection dropped and may be in the database "
		            "already; writing them again is harmless",
		            in_doubt);
}
