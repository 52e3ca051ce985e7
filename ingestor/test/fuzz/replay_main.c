/*
 * replay_main.c - run a libFuzzer target over its corpus without libFuzzer.
 *
 * Linked with one fuzz_*.c file, it feeds every file of the directories named
 * on the command line to LLVMFuzzerTestOneInput() and prints one TAP line, so
 * the corpora (and the crashes once found) replay in every test run, under
 * the sanitizers when built with SAN=1.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed one file to the target; returns -1 when it cannot be read. */
static int
replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return -1;
	do
	{
		if (len == cap)
		{
			uint8_t *grown;

			cap = cap ? cap * 2 : 4096;
			grown = realloc(buf, cap);
			if (grown == NULL)
			{
				free(buf);
				fclose(f);
				return -1;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	int files = 0;

	for (int i = 1; i < argc; i++)
	{
		DIR *dir = opendir(argv[i]);
		struct dirent *entry;

		if (dir == NULL)
		{
			printf("not ok 1 - cannot open corpus %s\n", argv[i]);
			return 1;
		}
		while ((entry = readdir(dir)) != NULL)
		{
			char path[4096];

			if (entry->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], entry->d_name);
			if (replay_file(path) != 0)
			{
				printf("not ok 1 - cannot read %s\n", path);
				closedir(dir);
				return 1;
			}
			files++;
		}
		closedir(dir);
	}
	printf("ok 1 - replayed %d corpus files\n", files);
	return files > 0 ? 0 : 1;
}
