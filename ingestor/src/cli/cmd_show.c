/*
 * cmd_show.c - "loomlat show ID": one invocation from
 * loomlat.invocation_detail(), as text (its phases as a waterfall) or JSON.
 */
#include <getopt.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/dash_cli.h"
#include "present/dash_params.h"
#include "present/text_report.h"
#include "util/log.h"

enum
{
	OPT_FORMAT = 256,
	OPT_DB
};

static const struct option long_options[] = {{"format", required_argument, NULL, OPT_FORMAT},
                                             {"db", required_argument, NULL, OPT_DB},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

/* Help for "loomlat show". */
void
cmd_show_usage(FILE *out)
{
	fputs("Usage: loomlat show INVOCATION_ID [--format text|json] [--db CONNINFO|URI]\n"
	      "\n"
	      "One invocation as loomlat.invocation_detail() returns it: TTFT, cold/warm\n"
	      "badge, status, duration, cold-start latency, token cache, error, and its\n"
	      "phases as a waterfall scaled to the invocation's duration.\n"
	      "\n"
	      "  --format F          text (default; colours on a terminal unless NO_COLOR) or json\n"
	      "  --db CONNINFO|URI   database, else LOOMLAT_DATABASE_URL, else the PG* variables\n"
	      "  -h, --help          show this help\n"
	      "\n"
	      "Exit status: 0 shown; 64 usage or not a uuid; 65 no such invocation;\n"
	      "69 database unavailable.\n",
	      out);
}

/* Parse, query, print. */
int
cmd_show(int argc, char **argv)
{
	const char *db = NULL;
	bool json = false;
	enum dash_status status;
	char err[1024];
	PGconn *conn;
	json_t *detail;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1)
		switch (c)
		{
			case OPT_FORMAT:
				if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				{
					log_error("invalid value \"%s\" for --format; run \"loomlat help show\"",
					          optarg);
					return EX_USAGE;
				}
				json = strcmp(optarg, "json") == 0;
				break;
			case OPT_DB:
				db = optarg;
				break;
			case 'h':
				cmd_show_usage(stdout);
				return 0;
			default:
				log_error("unknown option or missing value: %s; run \"loomlat help show\"",
				          argv[optind - 1]);
				return EX_USAGE;
		}
	if (optind + 1 != argc || !dash_valid_uuid(argv[optind]))
	{
		log_error("expected one INVOCATION_ID (a uuid); run \"loomlat help show\"");
		return EX_USAGE;
	}
	conn = dash_cli_connect(db);
	if (conn == NULL)
		return EX_UNAVAILABLE;
	detail = dash_fetch_invocation(conn, argv[optind], &status, err, sizeof(err));
	PQfinish(conn);
	if (detail == NULL)
	{
		if (status == DASH_NOT_FOUND)
			snprintf(err, sizeof(err), "no invocation %s", argv[optind]);
		return dash_cli_exit(status, "show", err);
	}
	if (json)
	{
		json_dumpf(detail, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	}
	else
		text_invocation(stdout, detail, dash_cli_color(stdout));
	json_decref(detail);
	return fflush(stdout) == 0 ? 0 : EX_IOERR;
}
