/*
 * dash_server.c - the dashboard over HTTP with libmicrohttpd (see dash_server.h).
 */
#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <jansson.h>
#include <microhttpd.h>

#include "present/dash_params.h"
#include "present/dash_query.h"
#include "present/html_report.h"
#include "serve/dash_server.h"
#include "sink/db.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/wipe.h"

#define CSP                                                                                        \
	"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

struct dash_server
{
	struct MHD_Daemon *daemon;
	char *conninfo;
	char *token; /* NULL: no authentication (loopback) */
	sem_t db_slots;
	atomic_int in_flight; /* requests begun and not yet completed */
};

/* A request's query parameters, checked. */
struct query
{
	struct dash_args args;
	const char *range;
	const char *bad; /* the first bad parameter's name, or NULL */
	unsigned seen;   /* bit per known parameter, to refuse repeats */
};

/* One parameter: known, given once, no NUL inside, and a valid value. */
static enum MHD_Result
check_param(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size, const char *value,
            size_t value_size)
{
	static const char *const names[3] = {"range", "agent_id", "min_invocations"};
	struct query *q = cls;
	int k = -1;

	for (int i = 0; i < 3; i++)
		if (strlen(key) == key_size && strcmp(key, names[i]) == 0)
			k = i;
	if (k < 0 || (q->seen & (1u << k)) || value == NULL || strlen(value) != value_size ||
	    (k == 0 && dash_parse_range(value, &q->range) != 0) ||
	    (k == 1 && dash_parse_agent_id(value, &q->args.agent_id) != 0) ||
	    (k == 2 && dash_parse_min_invocations(value, &q->args.min_invocations) != 0))
	{
		/* an unknown name is reported as it was sent, cut short */
		q->bad = k >= 0 ? names[k] : "unknown parameter";
		return MHD_NO;
	}
	q->seen |= 1u << k;
	return MHD_YES;
}

/* Queue a response of len bytes taken from buf (freed by libmicrohttpd). */
static enum MHD_Result
respond(struct MHD_Connection *conn, unsigned status, const char *type, char *buf, size_t len)
{
	struct MHD_Response *res = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(res, "Content-Security-Policy", CSP);
	MHD_add_response_header(res, "Referrer-Policy", "no-referrer");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(res, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	ret = MHD_queue_response(conn, status, res);
	MHD_destroy_response(res);
	return ret;
}

/* A JSON document as the response body; takes the reference. */
static enum MHD_Result
respond_json(struct MHD_Connection *conn, unsigned status, json_t *doc)
{
	char *body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (body == NULL) /* not UTF-8, or out of memory */
		return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
		               xstrdup("{\"error\":\"internal error\"}"),
		               strlen("{\"error\":\"internal error\"}"));
	return respond(conn, status, "application/json", body, strlen(body));
}

/* {"error": message[, "parameter": name]}. */
static enum MHD_Result
respond_error(struct MHD_Connection *conn, unsigned status, const char *message,
              const char *parameter)
{
	json_t *doc = json_pack("{s:s}", "error", message);

	if (parameter != NULL)
		json_object_set_new(doc, "parameter", json_string(parameter));
	return respond_json(conn, status, doc);
}

/* Equal in time independent of where they differ (and of the length of a). */
static bool
token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char) a[i] ^ (unsigned char) b[lb > 0 ? i % lb : 0];
	return diff == 0 && lb > 0;
}

/* With a token configured: "Authorization: Bearer <token>". */
static bool
authorized(const struct dash_server *server, struct MHD_Connection *conn)
{
	const char *auth;

	if (server->token == NULL)
		return true;
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	return auth != NULL && strncmp(auth, "Bearer ", 7) == 0 && token_equal(auth + 7, server->token);
}

/* Wait a bounded time for a database slot, then connect (connect_timeout bounds it). */
static PGconn *
db_open(struct dash_server *server)
{
	struct timespec until;
	char err[512];
	PGconn *conn;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += DASH_DB_WAIT_MS / 1000;
	while (sem_timedwait(&server->db_slots, &until) != 0)
		if (errno != EINTR)
			return NULL;
	conn = db_connect_blocking(server->conninfo, err, sizeof(err));
	if (conn == NULL)
		sem_post(&server->db_slots);
	return conn;
}

/* Close and give the slot back. */
static void
db_close(struct dash_server *server, PGconn *conn)
{
	PQfinish(conn);
	sem_post(&server->db_slots);
}

/* 400 for the caller's mistake, 404 for an unknown invocation, 503 for the database. */
static enum MHD_Result
respond_failure(struct MHD_Connection *conn, enum dash_status status, const char *err)
{
	if (status == DASH_BAD_ARGUMENT)
		return respond_error(conn, MHD_HTTP_BAD_REQUEST, err, NULL);
	if (status == DASH_NOT_FOUND)
		return respond_error(conn, MHD_HTTP_NOT_FOUND, "no such invocation", NULL);
	log_warning("answering 503: %s", err != NULL ? err : "no database connection");
	return respond_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the database is unavailable", NULL);
}

/* GET / and GET /api/admin/latency. */
static enum MHD_Result
serve_report(struct dash_server *server, struct MHD_Connection *conn, bool page)
{
	struct query q = {.args = {.min_invocations = 1}, .range = "24h"};
	enum dash_status status;
	char err[1024];
	PGconn *db;
	json_t *doc;

	MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, check_param, &q);
	if (q.bad != NULL)
		return respond_error(conn, MHD_HTTP_BAD_REQUEST, "invalid query parameter", q.bad);
	q.args.ranges = page ? dash_ranges : &q.range;
	q.args.n_ranges = page ? DASH_N_RANGES : 1;
	if ((db = db_open(server)) == NULL)
		return respond_failure(conn, DASH_UNAVAILABLE, NULL);
	doc = page ? dash_fetch_report(db, &q.args, &status, err, sizeof(err))
	           : dash_fetch_summary(db, &q.args, &status, err, sizeof(err));
	db_close(server, db);
	if (doc == NULL)
		return respond_failure(conn, status, err);
	if (!page)
		return respond_json(conn, MHD_HTTP_OK, doc);
	{
		char *body = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&body, &len);

		html_report(out, doc, q.range);
		fclose(out);
		json_decref(doc);
		return respond(conn, MHD_HTTP_OK, "text/html; charset=utf-8", body, len);
	}
}

/* GET /api/invocations/<uuid>. */
static enum MHD_Result
serve_invocation(struct dash_server *server, struct MHD_Connection *conn, const char *id)
{
	enum dash_status status;
	char err[1024];
	PGconn *db;
	json_t *doc;

	if (!dash_valid_uuid(id))
		return respond_error(conn, MHD_HTTP_BAD_REQUEST, "not a uuid", "invocation_id");
	if ((db = db_open(server)) == NULL)
		return respond_failure(conn, DASH_UNAVAILABLE, NULL);
	doc = dash_fetch_invocation(db, id, &status, err, sizeof(err));
	db_close(server, db);
	return doc != NULL ? respond_json(conn, MHD_HTTP_OK, doc) : respond_failure(conn, status, err);
}

/* GET /healthz: the database answers a query. */
static enum MHD_Result
serve_health(struct dash_server *server, struct MHD_Connection *conn)
{
	PGconn *db = db_open(server);
	PGresult *res;
	bool ok;

	if (db == NULL)
		return respond_failure(conn, DASH_UNAVAILABLE, NULL);
	res = PQexec(db, "SELECT 1");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	db_close(server, db);
	return ok ? respond_json(conn, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"))
	          : respond_failure(conn, DASH_UNAVAILABLE, NULL);
}

/* Route one request; bodies are not read (GET and HEAD only). */
static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct dash_server *server = cls;
	static const char invocations[] = "/api/invocations/";

	if (*req_cls == NULL) /* counted until completed() */
	{
		*req_cls = server;
		atomic_fetch_add(&server->in_flight, 1);
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET", NULL);
	if (strcmp(url, "/healthz") == 0)
		return serve_health(server, conn);
	if (!authorized(server, conn))
		return respond_error(conn, MHD_HTTP_UNAUTHORIZED, "a bearer token is required", NULL);
	if (strcmp(url, "/") == 0)
		return serve_report(server, conn, true);
	if (strcmp(url, "/api/admin/latency") == 0)
		return serve_report(server, conn, false);
	if (strncmp(url, invocations, sizeof(invocations) - 1) == 0)
		return serve_invocation(server, conn, url + sizeof(invocations) - 1);
	return respond_error(conn, MHD_HTTP_NOT_FOUND, "no such path", NULL);
}

/* MHD_OPTION_NOTIFY_COMPLETED: the response was sent, or the connection failed. */
static void
completed(void *cls, struct MHD_Connection *conn, void **req_cls,
          enum MHD_RequestTerminationCode toe)
{
	struct dash_server *server = cls;

	if (*req_cls != NULL)
		atomic_fetch_sub(&server->in_flight, 1);
	*req_cls = NULL;
}

/* Thread per connection: the handlers block on the database. */
struct dash_server *
dash_server_start(const struct sockaddr_in *addr, const char *conninfo, const char *token,
                  char *err, size_t errlen)
{
	struct dash_server *server = xcalloc(1, sizeof(*server));

	server->conninfo = xstrdup(conninfo);
	server->token = token != NULL ? xstrdup(token) : NULL;
	sem_init(&server->db_slots, 0, DASH_DB_SLOTS);
	server->daemon = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
	        MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handle, server, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *) addr,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned) DASH_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned) DASH_CONNECTION_TIMEOUT, MHD_OPTION_NOTIFY_COMPLETED, completed, server,
	    MHD_OPTION_END);
	if (server->daemon == NULL)
	{
		snprintf(err, errlen, "cannot listen on %s:%u (in use, or not an address of this host)",
		         inet_ntoa(addr->sin_addr), ntohs(addr->sin_port));
		dash_server_stop(server);
		return NULL;
	}
	return server;
}

/* MHD_DAEMON_INFO_BIND_PORT. */
uint16_t
dash_server_port(const struct dash_server *server)
{
	return MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
}

/* Close the listening socket, wait (bounded) for the requests in flight to
 * be answered, then MHD_stop_daemon closes idle connections and joins. */
void
dash_server_stop(struct dash_server *server)
{
	if (server->daemon != NULL)
	{
		struct timespec tick = {0, 10 * 1000 * 1000};

		MHD_quiesce_daemon(server->daemon);
		for (int waited = 0; atomic_load(&server->in_flight) > 0 && waited < DASH_DRAIN_MS;
		     waited += 10)
			nanosleep(&tick, NULL);
		MHD_stop_daemon(server->daemon);
	}
	sem_destroy(&server->db_slots);
	if (server->token != NULL)
		wipe_free(server->token);
	free(server->conninfo);
	free(server);
}
