/*
 * cmd_serve.c - "loomlat serve": the dashboard page and its JSON over HTTP
 * (serve/dash_server.h), until SIGTERM or SIGINT.
 *
 * It listens on loopback unless told otherwise; any other address needs
 * --token-file, whose token every request but /healthz must present.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "serve/dash_server.h"
#include "sink/db.h"
#include "util/log.h"
#include "util/parse_num.h"
#include "util/wipe.h"

#define DEFAULT_LISTEN    "127.0.0.1:8080"
#define TOKEN_MAX_BYTES   4096
#define CONNECT_TIMEOUT_S "5"

enum
{
	OPT_LISTEN = 256,
	OPT_DB,
	OPT_TOKEN_FILE
};

static const struct option long_options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"db", required_argument, NULL, OPT_DB},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Help for "loomlat serve". */
void
cmd_serve_usage(FILE *out)
{
	fputs(
	    "Usage: loomlat serve [--listen ADDRESS:PORT] [--db CONNINFO|URI] [--token-file FILE]\n"
	    "\n"
	    "Serve the latency dashboard until SIGTERM or SIGINT (then finish the requests\n"
	    "in flight and exit 0):\n"
	    "  GET /                        the page (?range=1h|24h|7d|30d&agent_id=N&min_invocations=N)\n"
	    "  GET /api/admin/latency       loomlat.latency_summary() as JSON, same parameters\n"
	    "  GET /api/invocations/UUID    loomlat.invocation_detail() as JSON\n"
	    "  GET /healthz                 200 when the database answers, else 503\n"
	    "\n"
	    "  --listen ADDRESS:PORT  IPv4 address and port, or [IPv6]:PORT (default " DEFAULT_LISTEN
	    ";\n"
	    "                         port 0: any); an address other than 127.0.0.0/8 and\n"
	    "                         [::1] needs --token-file\n"
	    "  --db CONNINFO|URI      database, else LOOMLAT_DATABASE_URL, else the PG* variables\n"
	    "  --token-file FILE      require \"Authorization: Bearer <token>\" (the file's content)\n"
	    "  -h, --help             show this help\n"
	    "\n"
	    "Exit status: 0 stopped by a signal; 64 usage; 65 empty token file; 66 token file\n"
	    "missing; 69 cannot listen.\n",
	    out);
}

/* "A.B.C.D:PORT" or "[IPv6]:PORT" into addr; the host part, brackets
 * removed, into host. */
static int
parse_listen(const char *s, struct sockaddr_storage *addr, char host[INET6_ADDRSTRLEN])
{
	const char *colon = strrchr(s, ':');
	bool bracketed = s[0] == '[';
	size_t len = colon != NULL ? (size_t) (colon - s) : 0;
	unsigned long port;

	if (colon == NULL || (bracketed && (len < 2 || colon[-1] != ']')) ||
	    len - 2 * bracketed >= INET6_ADDRSTRLEN || parse_ulong(colon + 1, 0, 65535, &port) != 0)
		return -1;
	memcpy(host, s + bracketed, len - 2 * bracketed);
	host[len - 2 * bracketed] = '\0';
	memset(addr, 0, sizeof(*addr));
	if (bracketed)
	{
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) addr;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t) port);
		return inet_pton(AF_INET6, host, &in6->sin6_addr) == 1 ? 0 : -1;
	}
	else
	{
		struct sockaddr_in *in = (struct sockaddr_in *) addr;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t) port);
		return inet_pton(AF_INET, host, &in->sin_addr) == 1 ? 0 : -1;
	}
}

/* 127.0.0.0/8 or ::1. */
static bool
is_loopback(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *) addr)->sin6_addr);
	return (ntohl(((const struct sockaddr_in *) addr)->sin_addr.s_addr) >> 24) == 127;
}

/* The token: the file without trailing white space; exit code on failure. */
static int
read_token(const char *path, char **token)
{
	const char *why;
	size_t len;
	enum opt_file_status st = opt_read_file(path, TOKEN_MAX_BYTES, token, &len, &why);

	if (st != OPT_FILE_OK)
	{
		log_error("cannot read --token-file %s: %s", path, why);
		return st == OPT_FILE_MISSING ? EX_NOINPUT : EX_DATAERR;
	}
	while (len > 0 && strchr(" \t\r\n", (*token)[len - 1]) != NULL)
		(*token)[--len] = '\0';
	if (len == 0 || strpbrk(*token, "\r\n") != NULL)
	{
		log_error("--token-file %s must hold one non-empty line", path);
		wipe_free(*token);
		return EX_DATAERR;
	}
	return 0;
}

/* Parse, listen, wait for a signal, drain. */
int
cmd_serve(int argc, char **argv)
{
	const char *listen = DEFAULT_LISTEN;
	const char *db = NULL;
	const char *token_file = NULL;
	struct sockaddr_storage addr;
	char host[INET6_ADDRSTRLEN];
	struct dash_server *server;
	char *token = NULL;
	char err[512];
	sigset_t stop;
	int sig;
	int c;
	int rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1)
		switch (c)
		{
			case OPT_LISTEN:
				listen = optarg;
				break;
			case OPT_DB:
				db = optarg;
				break;
			case OPT_TOKEN_FILE:
				token_file = optarg;
				break;
			case 'h':
				cmd_serve_usage(stdout);
				return 0;
			default:
				log_error("unknown option or missing value: %s; run \"loomlat help serve\"",
				          argv[optind - 1]);
				return EX_USAGE;
		}
	if (optind < argc)
	{
		log_error("unexpected argument \"%s\"; run \"loomlat help serve\"", argv[optind]);
		return EX_USAGE;
	}
	if (parse_listen(listen, &addr, host) != 0)
	{
		log_error("invalid value \"%s\" for --listen: want IPV4:PORT or [IPV6]:PORT", listen);
		return EX_USAGE;
	}
	if (!is_loopback(&addr) && token_file == NULL)
	{
		log_error("--listen %s is not a loopback address: it needs --token-file", listen);
		return EX_USAGE;
	}
	if (token_file != NULL && (rc = read_token(token_file, &token)) != 0)
		return rc;

	/* before any thread exists: the handlers' threads inherit the mask and
	 * read the environment */
	setenv("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT_S, 0);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	server = dash_server_start((const struct sockaddr *) &addr, db_conninfo(db), token, err,
	                           sizeof(err));
	if (token != NULL)
		wipe_free(token);
	if (server == NULL)
	{
		log_error("cannot listen on %s: %s", listen, err);
		return EX_UNAVAILABLE;
	}
	fprintf(stderr, "loomlat: listening on http://%s%s%s:%u/\n",
	        addr.ss_family == AF_INET6 ? "[" : "", host, addr.ss_family == AF_INET6 ? "]" : "",
	        dash_server_port(server));
	sigwait(&stop, &sig);
	log_info("%s: finishing the requests in flight", strsignal(sig));
	dash_server_stop(server);
	return 0;
}
