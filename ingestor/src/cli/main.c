/*
 * main.c - the loomlat binary: subcommand dispatch, global help and version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/commands.h"
#include "util/alloc.h"
#include "util/version.h"

struct command
{
	const char *name;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *out);
	const char *summary;
};

static const struct command commands[] = {
    {"invoke", cmd_invoke, cmd_invoke_usage,
     "invoke an agent, measure TTFT and cold starts, record them"},
    {"ingest", cmd_ingest, cmd_ingest_usage,
     "write the rows of a spool file left by an earlier run"},
    {"report", cmd_report, cmd_report_usage,
     "the latency report of a window: text, JSON or a self-contained HTML page"},
    {"show", cmd_show, cmd_show_usage, "one invocation: TTFT, badge, phases as a waterfall"},
    {"serve", cmd_serve, cmd_serve_usage, "serve the dashboard and its JSON over HTTP"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Top-level usage. */
static void
usage(FILE *out)
{
	fprintf(out,
	        "loomlat %s - time to first token and cold starts of AI agents\n\n"
	        "Usage: loomlat COMMAND [OPTIONS]\n\nCommands:\n",
	        LOOMLAT_VERSION);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "  %-8s %s\n\n", "help", "show the help of a command (loomlat help invoke)");
	fprintf(out, "Options:\n  -h, --help     show this help\n  -V, --version  show the version\n\n"
	             "Run \"loomlat COMMAND --help\" for the options of a command.\n");
}

/* The command called name, or NULL. */
static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2)
	{
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
	{
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)
	{
		printf("loomlat %s\n", LOOMLAT_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0)
	{
		if (argc < 3)
		{
			usage(stdout);
			return 0;
		}
		cmd = find_command(argv[2]);
		if (cmd == NULL)
		{
			fprintf(stderr, "loomlat: unknown command \"%s\"; run \"loomlat --help\"\n", argv[2]);
			return EX_USAGE;
		}
		cmd->usage(stdout);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (cmd == NULL)
	{
		fprintf(stderr, "loomlat: unknown command \"%s\"; run \"loomlat --help\"\n", argv[1]);
		return EX_USAGE;
	}
	json_set_alloc_funcs(xmalloc, free); /* jansson runs out of memory as we do */
	return cmd->run(argc - 1, argv + 1);
}
