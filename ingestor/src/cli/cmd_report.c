/*
 * cmd_report.c - "loomlat report": the latency summary of a window as text
 * for a terminal, as one JSON document, or as a self-contained HTML page.
 *
 * Everything comes from read-only statements on up to three connections
 * sharing one snapshot (present/dash_query.h): the JSON's "summary" member is
 * latency_summary()'s value itself.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/dash_cli.h"
#include "present/dash_params.h"
#include "present/html_report.h"
#include "present/text_report.h"
#include "util/log.h"
#include "util/parse_num.h"

#define REPORT_TIMEOUT_MS (10 * 60 * 1000) /* a month of many millions of rows takes seconds */

enum
{
	OPT_RANGE = 256,
	OPT_AGENT_ID,
	OPT_MIN_INVOCATIONS,
	OPT_AS_OF,
	OPT_FORMAT,
	OPT_DB
};

enum report_format
{
	FORMAT_TEXT,
	FORMAT_JSON,
	FORMAT_HTML
};

static const struct option long_options[] = {
    {"range", required_argument, NULL, OPT_RANGE},
    {"agent-id", required_argument, NULL, OPT_AGENT_ID},
    {"min-invocations", required_argument, NULL, OPT_MIN_INVOCATIONS},
    {"as-of", required_argument, NULL, OPT_AS_OF},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"output", required_argument, NULL, 'o'},
    {"db", required_argument, NULL, OPT_DB},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Help for "loomlat report". */
void
cmd_report_usage(FILE *out)
{
	fputs("Usage: loomlat report [--range 1h|24h|7d|30d] [--agent-id N] [--min-invocations N]\n"
	      "                      [--as-of TIMESTAMP] [--format text|json|html] [-o FILE]\n"
	      "                      [--db CONNINFO|URI]\n"
	      "\n"
	      "The latency of the window (as-of - range, as-of]: invocations, cold starts, TTFT\n"
	      "percentiles overall and cold vs warm, the agents (slow ones marked), the TTFT\n"
	      "histogram and where the time goes, from loomlat.latency_summary(),\n"
	      "phase_breakdown() and latency_over_time(), read side by side on up to three\n"
	      "connections sharing one snapshot.\n"
	      "\n"
	      "  --range R             1h, 24h (default), 7d or 30d\n"
	      "  --agent-id N          only this agent\n"
	      "  --min-invocations N   list agents with at least N invocations (default 1)\n"
	      "  --as-of TIMESTAMP     end of the window (default: now)\n"
	      "  --format F            text (default; colours on a terminal unless NO_COLOR),\n"
	      "                        json (one document) or html (one self-contained page\n"
	      "                        holding all four ranges, --range shown first)\n"
	      "  -o, --output FILE     write there instead of standard output\n"
	      "  --db CONNINFO|URI     database, else LOOMLAT_DATABASE_URL, else the PG* variables\n"
	      "  -h, --help            show this help\n"
	      "\n"
	      "Exit status: 0 done; 64 usage; 65 rejected by the database (unknown agent, bad\n"
	      "--as-of); 69 database unavailable; 73 cannot write FILE.\n",
	      out);
}

/* Print "bad VALUE for --OPTION" and the usage hint; EX_USAGE. */
static int
bad_option(const char *option, const char *value)
{
	log_error("invalid value \"%s\" for --%s; run \"loomlat help report\"", value, option);
	return EX_USAGE;
}

/* Write the document in format to out. */
static void
render(FILE *out, enum report_format format, const json_t *reports, const char *range)
{
	if (format == FORMAT_JSON)
	{
		json_dumpf(json_array_get(reports, 0), out, JSON_INDENT(2));
		fputc('\n', out);
	}
	else if (format == FORMAT_HTML)
		html_report(out, reports, range);
	else
		text_report(out, json_array_get(reports, 0), dash_cli_color(out));
}

/* Parse, query, write. */
int
cmd_report(int argc, char **argv)
{
	struct dash_args args = {.ranges = NULL, .min_invocations = 1};
	const char *range = "24h";
	const char *db = NULL;
	const char *path = NULL;
	enum report_format format = FORMAT_TEXT;
	enum dash_status status;
	char err[1024];
	PGconn *conns[3];
	size_t n_conns;
	json_t *reports;
	FILE *out;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", long_options, NULL)) != -1)
		switch (c)
		{
			case OPT_RANGE:
				if (dash_parse_range(optarg, &range) != 0)
					return bad_option("range", optarg);
				break;
			case OPT_AGENT_ID:
				if (parse_id(optarg, &args.agent_id) != 0)
					return bad_option("agent-id", optarg);
				break;
			case OPT_MIN_INVOCATIONS:
				if (parse_ulong(optarg, 0, DASH_MIN_INVOCATIONS_MAX, &args.min_invocations) != 0)
					return bad_option("min-invocations", optarg);
				break;
			case OPT_AS_OF:
				args.as_of = optarg;
				break;
			case OPT_FORMAT:
				if (strcmp(optarg, "text") == 0)
					format = FORMAT_TEXT;
				else if (strcmp(optarg, "json") == 0)
					format = FORMAT_JSON;
				else if (strcmp(optarg, "html") == 0)
					format = FORMAT_HTML;
				else
					return bad_option("format", optarg);
				break;
			case 'o':
				path = optarg;
				break;
			case OPT_DB:
				db = optarg;
				break;
			case 'h':
				cmd_report_usage(stdout);
				return 0;
			default:
				log_error("unknown option or missing value: %s; run \"loomlat help report\"",
				          argv[optind - 1]);
				return EX_USAGE;
		}
	if (optind < argc)
	{
		log_error("unexpected argument \"%s\"; run \"loomlat help report\"", argv[optind]);
		return EX_USAGE;
	}
	/* the page holds every range, the other formats the one asked for */
	args.ranges = format == FORMAT_HTML ? dash_ranges : &range;
	args.n_ranges = format == FORMAT_HTML ? DASH_N_RANGES : 1;
	args.series = format != FORMAT_TEXT; /* the text has no chart over time */
	args.timeout_ms = REPORT_TIMEOUT_MS;

	/* a connection per statement (summary, breakdown, series), as the server allows */
	n_conns = dash_cli_connect_many(db, conns, args.series ? 3 : 2);
	if (n_conns == 0)
		return EX_UNAVAILABLE;
	reports = dash_fetch_report(conns, n_conns, &args, &status, err, sizeof(err));
	for (size_t i = 0; i < n_conns; i++)
		PQfinish(conns[i]);
	if (reports == NULL)
		return dash_cli_exit(status, "report", err);

	out = path != NULL ? fopen(path, "we") : stdout;
	if (out == NULL)
	{
		log_error("cannot write %s: %m", path);
		json_decref(reports);
		return EX_CANTCREAT;
	}
	render(out, format, reports, range);
	json_decref(reports);
	if ((path != NULL ? fclose(out) : fflush(out)) != 0)
	{
		log_error("cannot write %s: %m", path != NULL ? path : "standard output");
		return EX_CANTCREAT;
	}
	return 0;
}
