/*
 * cmd_invoke.c - "loomlat invoke": options, start-up checks, the run, the
 * closing summary and the exit code.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/journal_setup.h"
#include "cli/options.h"
#include "event/signals.h"
#include "http/multi.h"
#include "measure/invoke_live.h"
#include "measure/run.h"
#include "sink/db.h"
#include "sink/journal.h"
#include "sink/spool.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/parse_num.h"

#define DEFAULT_PROMPT  "Hello"
#define MAX_PROMPT      (1024 * 1024)
#define MAX_COUNT       1000000000UL
#define MAX_CONCURRENCY 100000UL
#define GRACE_MS        5000
#define DRAIN_MS        10000
/* --max-event-size: one SSE event or JSON answer (Strands events average ~130 KB). */
#define DEFAULT_MAX_EVENT (16UL * 1024 * 1024)
#define MIN_MAX_EVENT     1024UL
#define MAX_MAX_EVENT     (1024UL * 1024 * 1024)
/* InvokeAgentRuntime's runtimeSessionId length constraints. */
#define AGENTCORE_SESSION_MIN 33
#define AGENTCORE_SESSION_MAX 256

struct invoke_options
{
	struct invoke_config call;
	struct token_config token;
	struct run_config load;
	const char *db;
	const char *journal_dir; /* NULL: journal_default_dir() */
	unsigned long long journal_max_bytes;
	bool no_journal;
	const char *agent_name;
	const char *prompt_file;
	const char **headers;
	size_t n_headers;
	const char **scopes;
	size_t n_scopes;
	double timeout_s;
	double connect_timeout_s;
	bool concurrency_given;
	bool json;
	bool json_records;
	enum log_level level;
};

enum
{
	OPT_URL = 256,
	OPT_FORMAT,
	OPT_AGENT_ID,
	OPT_AGENT_NAME,
	OPT_PROMPT,
	OPT_PROMPT_FILE,
	OPT_MODEL,
	OPT_SESSION,
	OPT_HEADER,
	OPT_RATE,
	OPT_WARMUP,
	OPT_CALLS_PER_SESSION,
	OPT_TIMEOUT,
	OPT_CONNECT_TIMEOUT,
	OPT_MAX_EVENT_SIZE,
	OPT_DB,
	OPT_TOKEN_URL,
	OPT_ISSUER,
	OPT_CLIENT_ID,
	OPT_SCOPE,
	OPT_CLIENT_SECRET_FILE,
	OPT_SECRET_ARN,
	OPT_AWS_ENDPOINT,
	OPT_AWS_REGION,
	OPT_BEARER_TOKEN_FILE,
	OPT_ALLOW_HTTP,
	OPT_HTTP11,
	OPT_JSON,
	OPT_JSON_RECORDS,
	OPT_JOURNAL_DIR,
	OPT_JOURNAL_MAX_BYTES,
	OPT_NO_JOURNAL
};

static const struct option long_options[] = {
    {"url", required_argument, NULL, OPT_URL},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"agent-id", required_argument, NULL, OPT_AGENT_ID},
    {"agent-name", required_argument, NULL, OPT_AGENT_NAME},
    {"prompt", required_argument, NULL, OPT_PROMPT},
    {"prompt-file", required_argument, NULL, OPT_PROMPT_FILE},
    {"model", required_argument, NULL, OPT_MODEL},
    {"session", required_argument, NULL, OPT_SESSION},
    {"header", required_argument, NULL, OPT_HEADER},
    {"count", required_argument, NULL, 'n'},
    {"concurrency", required_argument, NULL, 'c'},
    {"rate", required_argument, NULL, OPT_RATE},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"calls-per-session", required_argument, NULL, OPT_CALLS_PER_SESSION},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"max-event-size", required_argument, NULL, OPT_MAX_EVENT_SIZE},
    {"db", required_argument, NULL, OPT_DB},
    {"token-url", required_argument, NULL, OPT_TOKEN_URL},
    {"issuer", required_argument, NULL, OPT_ISSUER},
    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
    {"scope", required_argument, NULL, OPT_SCOPE},
    {"client-secret-file", required_argument, NULL, OPT_CLIENT_SECRET_FILE},
    {"secret-arn", required_argument, NULL, OPT_SECRET_ARN},
    {"aws-endpoint", required_argument, NULL, OPT_AWS_ENDPOINT},
    {"aws-region", required_argument, NULL, OPT_AWS_REGION},
    {"bearer-token-file", required_argument, NULL, OPT_BEARER_TOKEN_FILE},
    {"allow-http", no_argument, NULL, OPT_ALLOW_HTTP},
    {"http1.1", no_argument, NULL, OPT_HTTP11},
    {"json", no_argument, NULL, OPT_JSON},
    {"json-records", no_argument, NULL, OPT_JSON_RECORDS},
    {"journal-dir", required_argument, NULL, OPT_JOURNAL_DIR},
    {"journal-max-bytes", required_argument, NULL, OPT_JOURNAL_MAX_BYTES},
    {"no-journal", no_argument, NULL, OPT_NO_JOURNAL},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Help for "loomlat invoke". */
void
cmd_invoke_usage(FILE *out)
{
	fputs(
	    "Usage: loomlat invoke --url URL --agent-id N [OPTIONS]\n"
	    "\n"
	    "Invoke an agent, measure time to first token (TTFT), cold starts and where the\n"
	    "time went, and write one row per invocation to loomlat.invocations.\n"
	    "\n"
	    "Agent:\n"
	    "  --url URL                 agent endpoint, http:// or https:// (required)\n"
	    "  --format FORMAT           loom, agentcore, openai or anthropic (default agentcore)\n"
	    "  --agent-id N              loomlat.agents id, a positive integer (required)\n"
	    "  --agent-name NAME         create or rename the agent; without it the agent must exist\n"
	    "  --prompt TEXT             the prompt (default \"" DEFAULT_PROMPT "\")\n"
	    "  --prompt-file FILE        read the prompt from FILE\n"
	    "  --model NAME              model for the openai and anthropic formats\n"
	    "  --session ID              reuse this runtime session (default: a new one each time;\n"
	    "                            agentcore wants 33 to 256 characters)\n"
	    "  --header 'Name: value'    extra request header (repeatable)\n"
	    "  --http1.1                 use HTTP/1.1 (default: HTTP/2 where TLS offers it)\n"
	    "\n"
	    "Load:\n"
	    "  -n, --count N             invocations to measure (default 1)\n"
	    "  -c, --concurrency N       invocations in flight (default 1; caps --rate if given)\n"
	    "  --rate R                  start R invocations per second (open loop; with\n"
	    "                            --calls-per-session, R sessions per second)\n"
	    "  --warmup N                run N invocations first, neither written nor summarised\n"
	    "  --calls-per-session K     K invocations one after another in each runtime session\n"
	    "                            (default 1): its first call and K - 1 warm follow-ups,\n"
	    "                            summarised side by side; -n counts invocations and must\n"
	    "                            be a multiple of K; agentcore and loom only, not with\n"
	    "                            --session\n"
	    "  --timeout SECONDS         ceiling per invocation, token wait included (default 300)\n"
	    "  --connect-timeout SECONDS TCP/TLS connect ceiling (default 10)\n"
	    "  --max-event-size BYTES    largest SSE event or JSON answer; a larger one fails the\n"
	    "                            invocation (default 16777216 = 16 MiB, 1024 to 1 GiB)\n"
	    "\n"
	    "Database (libpq): --db CONNINFO|URI, else LOOMLAT_DATABASE_URL, else the PG* variables.\n"
	    "  --db CONNINFO|URI         e.g. \"host=/run/postgresql dbname=loom\" or postgresql://...\n"
	    "  --journal-dir DIR         write-ahead journal of the rows (default LOOMLAT_JOURNAL_DIR,\n"
	    "                            else $XDG_STATE_HOME/loomlat/journal, else\n"
	    "                            ~/.local/state/loomlat/journal); rows a killed run left there\n"
	    "                            for the same database are written first\n"
	    "  --journal-max-bytes N     pause new invocations while the journal holds N bytes\n"
	    "                            (default 1073741824 = 1 GiB, at least 65536)\n"
	    "  --no-journal              keep rows in memory only (and spool them at the end)\n"
	    "\n"
	    "Token (OAuth2 client credentials, or a fixed bearer token; none by default):\n"
	    "  --token-url URL           token endpoint\n"
	    "  --issuer URL              or find it by OpenID Connect discovery\n"
	    "  --client-id ID            client id\n"
	    "  --scope S                 scope (repeatable)\n"
	    "  --client-secret-file FILE client secret from FILE, else LOOMLAT_CLIENT_SECRET,\n"
	    "  --secret-arn ARN          else from AWS Secrets Manager\n"
	    "  --aws-endpoint URL        Secrets Manager endpoint override\n"
	    "  --aws-region R            Secrets Manager region (default: from the ARN)\n"
	    "  --bearer-token-file FILE  send this fixed bearer token instead\n"
	    "  --allow-http              allow http:// token and secret endpoints (tests)\n"
	    "  The client secret is never accepted on the command line.\n"
	    "\n"
	    "Output:\n"
	    "  --json                    closing summary as one JSON object on stdout\n"
	    "  --json-records            the same, with one record per invocation\n"
	    "  -v, --verbose             debug messages on stderr\n"
	    "  -q, --quiet               errors only, no progress line\n"
	    "  -h, --help                show this help\n"
	    "\n"
	    "Exit status: 0 all succeeded and were written; 2 some invocations failed (their\n"
	    "rows were written); 64 usage; 65 bad input (unknown agent, unreadable prompt);\n"
	    "66 input file missing; 69 database or agent unavailable; 70 internal error;\n"
	    "73 the journal directory cannot be used; 74 the journal could not be written\n"
	    "(disk full): new invocations stopped;\n"
	    "75 rows could not be written: they stay in the journal for the next run (or, with\n"
	    "--no-journal or rejected rows, in the spool file named on stderr: replay it with\n"
	    "\"loomlat ingest --spool FILE\").\n",
	    out);
}

/* Print a usage error and return EX_USAGE. */
static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("loomlat invoke: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry \"loomlat invoke --help\".\n", stderr);
	return EX_USAGE;
}

/* Append s to a growing array of strings. */
static void
push(const char ***array, size_t *n, const char *s)
{
	*array = xrealloc(*array, (*n + 1) * sizeof(char *));
	(*array)[(*n)++] = s;
}

/* A file named by an option must exist: 66 otherwise. */
static int
check_file(const char *option, const char *path)
{
	if (access(path, R_OK) == 0)
		return 0;
	fprintf(stderr, "loomlat invoke: %s %s: %s\n", option, path, strerror(errno));
	return errno == ENOENT ? EX_NOINPUT : EX_DATAERR;
}

/* The secret may only come from a file, the environment or a secret store;
 * "--client-secret" and its abbreviations (which getopt_long would take for
 * --client-secret-file, and then print the secret as a file name) are refused. */
static bool
secret_on_command_line(int argc, char **argv)
{
	static const char file_opt[] = "--client-secret-file";

	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
	{
		const char *arg = argv[i];
		size_t len = strcspn(arg, "=");

		if (len >= strlen("--client-s") && strncmp(arg, "--client-secret", len) == 0 &&
		    !(len == strlen(file_opt) && strncmp(arg, file_opt, len) == 0))
			return true;
	}
	return false;
}

/* What an option-group parser returns for an option of another group. */
#define NOT_MINE (-1)

/* The agent and the request: --url ... --http1.1; 0, an exit code or NOT_MINE. */
static int
parse_agent_option(struct invoke_options *o, int opt, const char *arg)
{
	switch (opt)
	{
		case OPT_URL:
			if (!opt_valid_http_url(arg))
				return usage_error("--url must be an http:// or https:// URL");
			o->call.url = arg;
			return 0;
		case OPT_FORMAT:
			if (agent_format_parse(arg, &o->call.format) != 0)
				return usage_error("--format must be loom, agentcore, openai or anthropic");
			return 0;
		case OPT_AGENT_ID:
			if (parse_id(arg, &o->call.agent_id) != 0)
				return usage_error("--agent-id must be a positive integer");
			return 0;
		case OPT_AGENT_NAME:
			if (arg[0] == '\0')
				return usage_error("--agent-name must not be empty");
			o->agent_name = arg;
			return 0;
		case OPT_PROMPT:
			o->call.prompt = arg;
			return 0;
		case OPT_PROMPT_FILE:
			o->prompt_file = arg;
			return 0;
		case OPT_MODEL:
			o->call.model = arg;
			return 0;
		case OPT_SESSION:
			if (arg[0] == '\0')
				return usage_error("--session must not be empty");
			o->call.session_id = arg;
			return 0;
		case OPT_HEADER:
			if (!opt_valid_header(arg))
				return usage_error("--header must look like 'Name: value'");
			push(&o->headers, &o->n_headers, arg);
			return 0;
		case OPT_HTTP11:
			o->call.http1_1 = true;
			return 0;
	}
	return NOT_MINE;
}

/* The load shape: -n, -c, --rate, --warmup, --calls-per-session and the timeouts;
 * 0, an exit code or NOT_MINE. */
static int
parse_load_option(struct invoke_options *o, int opt, const char *arg)
{
	switch (opt)
	{
		case 'n':
			if (parse_ulong(arg, 1, MAX_COUNT, &o->load.count) != 0)
				return usage_error("-n/--count must be an integer from 1 to %lu", MAX_COUNT);
			return 0;
		case 'c':
			if (parse_ulong(arg, 1, MAX_CONCURRENCY, &o->load.concurrency) != 0)
				return usage_error("-c/--concurrency must be an integer from 1 to %lu",
				                   MAX_CONCURRENCY);
			o->concurrency_given = true;
			return 0;
		case OPT_RATE:
			if (opt_parse_positive(arg, &o->load.rate) != 0)
				return usage_error("--rate must be a positive number (invocations per second)");
			return 0;
		case OPT_WARMUP:
			if (parse_ulong(arg, 0, MAX_COUNT, &o->load.warmup) != 0)
				return usage_error("--warmup must be an integer from 0 to %lu", MAX_COUNT);
			return 0;
		case OPT_CALLS_PER_SESSION:
			if (parse_ulong(arg, 1, MAX_COUNT, &o->load.calls_per_session) != 0)
				return usage_error("--calls-per-session must be an integer from 1 to %lu",
				                   MAX_COUNT);
			return 0;
		case OPT_TIMEOUT:
			if (opt_parse_positive(arg, &o->timeout_s) != 0 || o->timeout_s > 86400)
				return usage_error("--timeout must be a number of seconds, at most 86400");
			return 0;
		case OPT_CONNECT_TIMEOUT:
			if (opt_parse_positive(arg, &o->connect_timeout_s) != 0 || o->connect_timeout_s > 86400)
				return usage_error("--connect-timeout must be a number of seconds, at most 86400");
			return 0;
		case OPT_MAX_EVENT_SIZE:
		{
			unsigned long bytes;

			if (parse_ulong(arg, MIN_MAX_EVENT, MAX_MAX_EVENT, &bytes) != 0)
				return usage_error("--max-event-size must be a number of bytes from %lu to %lu",
				                   MIN_MAX_EVENT, MAX_MAX_EVENT);
			o->call.max_event_bytes = bytes;
			return 0;
		}
	}
	return NOT_MINE;
}

/* The token options, taken as given (token_config_check() judges them later);
 * 0 or NOT_MINE. */
static int
parse_token_option(struct invoke_options *o, int opt, const char *arg)
{
	struct token_config *t = &o->token;

	switch (opt)
	{
		case OPT_TOKEN_URL:
			t->token_url = arg;
			return 0;
		case OPT_ISSUER:
			t->issuer = arg;
			return 0;
		case OPT_CLIENT_ID:
			t->client_id = arg;
			return 0;
		case OPT_SCOPE:
			push(&o->scopes, &o->n_scopes, arg);
			return 0;
		case OPT_CLIENT_SECRET_FILE:
			t->secret.file = arg;
			return 0;
		case OPT_SECRET_ARN:
			t->secret.arn = arg;
			return 0;
		case OPT_AWS_ENDPOINT:
			t->secret.aws_endpoint = arg;
			return 0;
		case OPT_AWS_REGION:
			t->secret.aws_region = arg;
			return 0;
		case OPT_BEARER_TOKEN_FILE:
			t->bearer_file = arg;
			return 0;
		case OPT_ALLOW_HTTP:
			t->allow_insecure_http = true;
			return 0;
	}
	return NOT_MINE;
}

/* Where rows and the summary go, and how loud: --db, --json, -v, -q; 0 or NOT_MINE. */
static int
parse_output_option(struct invoke_options *o, int opt, const char *arg)
{
	switch (opt)
	{
		case OPT_DB:
			o->db = arg;
			return 0;
		case OPT_JOURNAL_DIR:
			o->journal_dir = arg;
			return 0;
		case OPT_JOURNAL_MAX_BYTES:
		{
			unsigned long n;

			if (parse_ulong(arg, 65536, ULONG_MAX, &n) != 0)
				return usage_error("--journal-max-bytes: a number of bytes >= 65536, not \"%s\"",
				                   arg);
			o->journal_max_bytes = n;
			return 0;
		}
		case OPT_NO_JOURNAL:
			o->no_journal = true;
			return 0;
		case OPT_JSON:
			o->json = true;
			return 0;
		case OPT_JSON_RECORDS:
			o->json = true;
			o->json_records = true;
			return 0;
		case 'v':
			o->level = LOG_LEVEL_DEBUG;
			return 0;
		case 'q':
			o->level = LOG_LEVEL_ERROR;
			return 0;
	}
	return NOT_MINE;
}

static int (*const option_groups[])(struct invoke_options *, int, const char *) = {
    parse_agent_option, parse_load_option, parse_token_option, parse_output_option};

/* Hand one option to the group that knows it; 0 or an exit code. */
static int
parse_option(struct invoke_options *o, int opt, const char *arg)
{
	for (size_t i = 0; i < sizeof(option_groups) / sizeof(option_groups[0]); i++)
	{
		int rc = option_groups[i](o, opt, arg);

		if (rc != NOT_MINE)
			return rc;
	}
	return usage_error("unknown option");
}

/* The agent options together: the required ones, the prompt once, AgentCore's session rule. */
static int
check_agent_options(struct invoke_options *o)
{
	size_t session_len = o->call.session_id != NULL ? strlen(o->call.session_id) : 0;

	if (o->call.url == NULL)
		return usage_error("--url is required");
	if (o->call.agent_id == 0)
		return usage_error("--agent-id is required");
	if (o->call.prompt != NULL && o->prompt_file != NULL)
		return usage_error("give --prompt or --prompt-file, not both");
	if (o->call.format == AGENT_FORMAT_AGENTCORE && o->call.session_id != NULL &&
	    (session_len < AGENTCORE_SESSION_MIN || session_len > AGENTCORE_SESSION_MAX))
		return usage_error("--session for agentcore must be %d to %d characters long (AgentCore "
		                   "refuses other runtime session ids); a UUID is 36",
		                   AGENTCORE_SESSION_MIN, AGENTCORE_SESSION_MAX);
	o->call.headers = o->headers;
	o->call.n_headers = o->n_headers;
	o->call.timeout_ms = (long) ceil(o->timeout_s * 1e3);
	o->call.connect_timeout_ms = (long) ceil(o->connect_timeout_s * 1e3);
	return 0;
}

/* The load options together: sessions of several calls need a format that
 * carries a session and whole sessions; --rate without -c has no cap. */
static int
check_load_options(struct invoke_options *o)
{
	unsigned long k = o->load.calls_per_session;

	if (k > 1 && o->call.format != AGENT_FORMAT_AGENTCORE && o->call.format != AGENT_FORMAT_LOOM)
		return usage_error("--calls-per-session needs a format with runtime sessions (agentcore "
		                   "or loom): %s requests carry no session id",
		                   agent_format_name(o->call.format));
	if (k > 1 && o->call.session_id != NULL)
		return usage_error("give --session or --calls-per-session, not both: --calls-per-session "
		                   "opens a new session for every %lu calls",
		                   k);
	if (o->load.count % k != 0)
		return usage_error("-n/--count (%lu) must be a multiple of --calls-per-session (%lu): -n "
		                   "counts invocations, %lu per session",
		                   o->load.count, k, k);
	if (o->load.rate > 0 && !o->concurrency_given)
		o->load.concurrency = 0; /* open loop: no cap unless -c says so */
	return 0;
}

/* The way of getting a token follows from the options given; token_config_check()
 * holds the rules, and the files it names must exist (66 otherwise). */
static int
check_token_options(struct invoke_options *o)
{
	struct token_config *t = &o->token;
	char err[512];

	t->scopes = o->scopes;
	t->n_scopes = o->n_scopes;
	if (t->bearer_file != NULL)
		t->mode = TOKEN_BEARER_FILE;
	else if (t->token_url != NULL || t->issuer != NULL)
		t->mode = TOKEN_CLIENT_CREDENTIALS;
	else
		t->mode = TOKEN_NONE;
	if (t->mode == TOKEN_CLIENT_CREDENTIALS && t->secret.file == NULL && t->secret.arn == NULL)
	{
		const char *env = getenv("LOOMLAT_CLIENT_SECRET");

		if (env != NULL && env[0] != '\0')
			t->secret.env_value = env;
	}
	if (token_config_check(t, err, sizeof(err)) != 0)
		return usage_error("%s", err);
	if (t->bearer_file != NULL)
		return check_file("--bearer-token-file", t->bearer_file);
	if (t->secret.file != NULL)
		return check_file("--client-secret-file", t->secret.file);
	return 0;
}

/* getopt_long over argv, then the cross-option rules; -1 after --help. */
static int
parse_options(int argc, char **argv, struct invoke_options *o)
{
	int opt;
	int rc;

	*o = (struct invoke_options){
	    .call.format = AGENT_FORMAT_AGENTCORE,
	    .call.max_event_bytes = DEFAULT_MAX_EVENT,
	    .load = {.count = 1, .concurrency = 1, .calls_per_session = 1},
	    .timeout_s = 300,
	    .connect_timeout_s = 10,
	    .journal_max_bytes = JOURNAL_DEFAULT_MAX_BYTES,
	    .level = LOG_LEVEL_WARNING,
	};
	if (secret_on_command_line(argc, argv))
		return usage_error("the client secret is never accepted on the command line; use "
		                   "--client-secret-file FILE or LOOMLAT_CLIENT_SECRET");
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":n:c:vqh", long_options, NULL)) != -1)
	{
		if (opt == 'h')
		{
			cmd_invoke_usage(stdout);
			return -1;
		}
		if (opt == ':')
			return usage_error("%s needs a value", argv[optind - 1]);
		if (opt == '?')
			return usage_error("unknown option %s", argv[optind - 1]);
		if ((rc = parse_option(o, opt, optarg)) != 0)
			return rc;
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if ((rc = check_agent_options(o)) != 0 || (rc = check_load_options(o)) != 0)
		return rc;
	return check_token_options(o);
}

/* Let a thousand streams have their sockets. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
	{
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warning("cannot raise the open-file limit: %s", strerror(errno));
	}
}

/* Print the closing report, text or JSON. */
static void
print_report(const struct invoke_options *o, const struct report *report,
             const struct report_totals *totals, const char *spool_path)
{
	json_t *json;

	if (!o->json)
	{
		report_print(report, totals, stdout);
		if (spool_path[0] != '\0')
			printf("  spool: %s\n", spool_path);
		return;
	}
	json = report_json(report, totals, o->json_records);
	json_object_set_new(json, "spool_file", spool_path[0] ? json_string(spool_path) : json_null());
	json_dumpf(json, stdout, JSON_COMPACT | JSON_REAL_PRECISION(16));
	putchar('\n');
	json_decref(json);
}

/* Everything the run needs, created in order and freed in reverse. */
struct invoke_run
{
	PGconn *conn;
	struct loop *loop;
	struct http_multi *http;
	struct token_source *tokens;
	struct pg_writer *writer;
	struct journal *journal;
	bool all_written; /* every row reached the database: the journal can go */
	struct report *report;
	int signal_fd;
	struct invoke_env env;
};

/* Open the journal and write first what a stopped run left in it. */
static int
open_journal(const struct invoke_options *o, struct invoke_run *r)
{
	struct journal_replay replayed;

	r->journal =
	    journal_setup_open(r->loop, o->journal_dir, r->conn, o->journal_max_bytes, r->writer);
	if (r->journal == NULL)
		return EX_CANTCREAT;
	journal_setup_replay(r->journal, r->writer, NULL, NULL, &replayed);
	journal_recover_commit(r->journal); /* the rows are in this run's journal now */
	return 0;
}

/* Free in reverse order of creation; callbacks still owed are dropped. */
static void
teardown(struct invoke_run *r)
{
	if (r->signal_fd >= 0)
		signals_close(r->signal_fd);
	token_source_free(r->tokens);
	invoke_env_cleanup(&r->env);
	if (r->writer != NULL)
		pg_writer_free(r->writer);
	else
		PQfinish(r->conn);
	journal_close(r->journal, r->all_written);
	http_multi_free(r->http);
	loop_free(r->loop);
	report_free(r->report);
}

/* Connect, check the agent, build the loop's actors; returns 0 or an exit code. */
static int
setup(struct invoke_options *o, struct invoke_run *r)
{
	const char *conninfo = db_conninfo(o->db);
	double threshold_ms = NAN;
	char err[1024];
	int rc;

	r->conn = db_connect_blocking(conninfo, err, sizeof(err));
	if (r->conn == NULL)
	{
		log_error("%s; check --db, LOOMLAT_DATABASE_URL or the PG* variables", err);
		return EX_UNAVAILABLE;
	}
	switch (
	    db_prepare_agent(r->conn, o->call.agent_id, o->agent_name, &threshold_ms, err, sizeof(err)))
	{
		case DB_CHECK_OK:
			break;
		case DB_CHECK_NO_AGENT:
			log_error("%s", err);
			return EX_DATAERR;
		case DB_CHECK_UNAVAILABLE:
			log_error("%s", err);
			return EX_UNAVAILABLE;
	}
	r->loop = loop_new();
	r->http = r->loop != NULL ? http_multi_new(r->loop) : NULL;
	r->report = report_new(threshold_ms);
	if (r->http == NULL)
		return EX_SOFTWARE;
	curl_multi_setopt(http_multi_handle(r->http), CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	curl_multi_setopt(http_multi_handle(r->http), CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
	curl_multi_setopt(http_multi_handle(r->http), CURLMOPT_MAXCONNECTS,
	                  (long) (o->load.concurrency ? o->load.concurrency : 1000) + 16);
	r->tokens = token_source_new(&o->token, r->http, err, sizeof(err));
	if (r->tokens == NULL)
	{
		log_error("%s", err);
		return EX_USAGE;
	}
	r->writer = pg_writer_new(r->loop, conninfo, r->conn);
	if (r->writer == NULL)
		return EX_SOFTWARE;
	if (!o->no_journal && (rc = open_journal(o, r)) != 0)
		return rc;
	r->signal_fd = signals_open();
	if (r->signal_fd < 0)
	{
		log_error("cannot install signal handlers: %s", strerror(errno));
		return EX_SOFTWARE;
	}
	r->env = (struct invoke_env){.loop = r->loop,
	                             .ports = &invoke_live_ports,
	                             .http = r->http,
	                             .tokens = r->tokens,
	                             .writer = r->writer,
	                             .journal = r->journal,
	                             .config = &o->call};
	return 0;
}

/* Setup, run, spool, report; the exit code. */
static int
execute(struct invoke_options *o)
{
	struct invoke_run r = {.signal_fd = -1};
	struct run_result result;
	struct report_totals totals;
	char spool_path[4096] = "";
	json_t *unwritten;
	size_t in_doubt;
	size_t kept = 0;
	int rc = setup(o, &r);

	if (rc != 0)
	{
		teardown(&r);
		return rc;
	}
	o->load.progress = isatty(STDERR_FILENO) && o->level >= LOG_LEVEL_WARNING;
	o->load.grace_ms = GRACE_MS;
	o->load.drain_ms = DRAIN_MS;
	if (run_execute(&r.env, &o->load, r.report, r.signal_fd, &result) != 0)
		rc = EX_SOFTWARE;
	if (r.journal != NULL && !journal_failed(r.journal))
	{
		/* the rows not written stay in the journal; only rejected ones are spooled */
		in_doubt = 0;
		kept = pg_writer_pending(r.writer);
		unwritten = pg_writer_take_rejected(r.writer);
	}
	else
		unwritten = pg_writer_take_unwritten(r.writer, &in_doubt);
	if (pg_writer_last_error(r.writer) != NULL)
		log_error("the database rejected rows, kept for the spool; the last: %.*s",
		          (int) strcspn(pg_writer_last_error(r.writer), "\n"),
		          pg_writer_last_error(r.writer));
	r.all_written = rc == 0 && kept == 0 && json_array_size(unwritten) == 0;
	if (json_array_size(unwritten) > 0)
	{
		spool_save(unwritten, in_doubt, spool_path, sizeof(spool_path));
		rc = EX_TEMPFAIL;
	}
	if (kept > 0)
	{
		log_error("%zu rows could not be written to the database; they stay in the journal %s, "
		          "and the next \"loomlat invoke\" with that journal and database writes them",
		          kept, journal_dir(r.journal));
		rc = EX_TEMPFAIL;
	}
	if (result.journal_failed)
		rc = EX_IOERR;
	totals = (struct report_totals){.token_requests = result.token_requests,
	                                .rows_written = r.env.rows_written,
	                                .rows_unwritten = json_array_size(unwritten) + kept,
	                                .rows_in_doubt = in_doubt,
	                                .elapsed_s = result.elapsed_s,
	                                .calls_per_session = o->load.calls_per_session};
	json_decref(unwritten);
	print_report(o, r.report, &totals, spool_path);
	if (rc == 0 && report_count(r.report) > 0 && result.unreachable == report_count(r.report))
	{
		log_error("the agent at %s could not be reached; check --url", o->call.url);
		rc = EX_UNAVAILABLE;
	}
	else if (rc == 0 && (report_errors(r.report) > 0 || report_count(r.report) < o->load.count))
		rc = EXIT_PARTIAL;
	teardown(&r);
	return rc;
}

/* Entry point of "loomlat invoke". */
int
cmd_invoke(int argc, char **argv)
{
	struct invoke_options o = {0};
	char *prompt = NULL;
	int rc = parse_options(argc, argv, &o);

	if (rc == 0)
	{
		log_set_level(o.level);
		if (o.prompt_file != NULL)
		{
			size_t len;
			const char *why;

			switch (opt_read_file(o.prompt_file, MAX_PROMPT, &prompt, &len, &why))
			{
				case OPT_FILE_OK:
					o.call.prompt = prompt;
					break;
				case OPT_FILE_MISSING:
					log_error("--prompt-file %s: %s", o.prompt_file, why);
					rc = EX_NOINPUT;
					break;
				case OPT_FILE_UNREADABLE:
					log_error("--prompt-file %s: %s", o.prompt_file, why);
					rc = EX_DATAERR;
					break;
			}
		}
		else if (o.call.prompt == NULL)
			o.call.prompt = DEFAULT_PROMPT;
	}
	if (rc == 0 && o.call.prompt[0] == '\0')
	{
		log_error("the prompt is empty");
		rc = EX_DATAERR;
	}
	if (rc == 0)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			rc = EX_SOFTWARE;
		else
		{
			raise_fd_limit();
			rc = execute(&o);
			curl_global_cleanup();
		}
	}
	free(prompt);
	free(o.headers);
	free(o.scopes);
	return rc < 0 ? 0 : rc;
}
