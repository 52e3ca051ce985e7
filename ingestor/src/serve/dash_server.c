/*
 * dash_server.c - the dashboard over HTTP with libmicrohttpd (see dash_server.h).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "present/dash_params.h"
#include "present/dash_query.h"
#include "present/html_report.h"
#include "serve/dash_server.h"
#include "serve/db_pool.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/parse_num.h"
#include "util/wipe.h"

#define CSP                                                                                        \
	"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

/* What a request is answered: a status and a malloc'd body of a content type. */
struct answer
{
	unsigned status;
	const char *type; /* static */
	char *body;
	size_t len;
};

/* A read that identical requests arriving meanwhile wait for instead of
 * querying again; its answer is theirs. */
struct flight
{
	struct flight *next;
	char key[96]; /* page or API, range, agent_id, min_invocations */
	pthread_cond_t landed_cond;
	bool landed;
	int refs; /* the leader and the waiters not yet served */
	struct answer answer;
};

struct dash_server
{
	struct MHD_Daemon *daemon;
	struct db_pool *pool;
	char *token; /* NULL: no authentication (loopback) */
	pthread_mutex_t flights_lock;
	struct flight *flights; /* in the air */
	atomic_int in_flight;   /* requests begun and not yet completed */
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
	    (k == 1 && parse_id(value, &q->args.agent_id) != 0) ||
	    (k == 2 && parse_ulong(value, 0, DASH_MIN_INVOCATIONS_MAX, &q->args.min_invocations) != 0))
	{
		/* an unknown name is reported as it was sent, cut short */
		q->bad = k >= 0 ? names[k] : "unknown parameter";
		return MHD_NO;
	}
	q->seen |= 1u << k;
	return MHD_YES;
}

/* A JSON document as the body; takes the reference. */
static struct answer
answer_json(unsigned status, json_t *doc)
{
	char *body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (body == NULL) /* not UTF-8, or out of memory */
	{
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		body = xstrdup("{\"error\":\"internal error\"}");
	}
	return (struct answer){status, "application/json", body, strlen(body)};
}

/* {"error": message[, "parameter": name]}. */
static struct answer
answer_error(unsigned status, const char *message, const char *parameter)
{
	json_t *doc = json_pack("{s:s}", "error", message);

	if (parameter != NULL)
		json_object_set_new(doc, "parameter", json_string(parameter));
	return answer_json(status, doc);
}

/* 400 for the caller's mistake, 404 for an unknown invocation, 503 for the database. */
static struct answer
answer_failure(enum dash_status status, const char *err)
{
	if (status == DASH_BAD_ARGUMENT)
		return answer_error(MHD_HTTP_BAD_REQUEST, err, NULL);
	if (status == DASH_NOT_FOUND)
		return answer_error(MHD_HTTP_NOT_FOUND, "no such invocation", NULL);
	log_warning("answering 503: %s", err);
	return answer_error(MHD_HTTP_SERVICE_UNAVAILABLE, "the database is unavailable", NULL);
}

/* Queue the answer (its body is freed by libmicrohttpd). */
static enum MHD_Result
respond(struct MHD_Connection *conn, struct answer a)
{
	struct MHD_Response *res =
	    MHD_create_response_from_buffer(a.len, a.body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, a.type);
	MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(res, "Content-Security-Policy", CSP);
	MHD_add_response_header(res, "Referrer-Policy", "no-referrer");
	if (a.status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(res, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	ret = MHD_queue_response(conn, a.status, res);
	MHD_destroy_response(res);
	return ret;
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

/* The page or latency_summary() of q, read from a pooled connection. */
static struct answer
read_report(struct dash_server *server, const struct query *q, bool page)
{
	enum dash_status status;
	char err[1024];
	PGconn *db = db_pool_get(server->pool, DASH_DB_WAIT_MS, err, sizeof(err));
	json_t *doc;
	char *body = NULL;
	size_t len = 0;
	FILE *out;

	if (db == NULL)
		return answer_failure(DASH_UNAVAILABLE, err);
	doc = page ? dash_fetch_report(&db, 1, &q->args, &status, err, sizeof(err))
	           : dash_fetch_summary(db, &q->args, &status, err, sizeof(err));
	db_pool_put(server->pool, db);
	if (doc == NULL)
		return answer_failure(status, err);
	if (!page)
		return answer_json(MHD_HTTP_OK, doc);
	out = open_memstream(&body, &len);
	html_report(out, doc, q->range);
	fclose(out);
	json_decref(doc);
	return (struct answer){MHD_HTTP_OK, "text/html; charset=utf-8", body, len};
}

/* Take f off the list of flights in the air. */
static void
unlink_flight(struct dash_server *server, struct flight *f)
{
	for (struct flight **p = &server->flights; *p != NULL; p = &(*p)->next)
		if (*p == f)
		{
			*p = f->next;
			return;
		}
}

/* The answer to q: that of the identical read in the air when there is one,
 * else of a read this request leads (read_report) and shares with those who
 * join it meanwhile.  Each gets its own copy of the body. */
static struct answer
shared_report(struct dash_server *server, const struct query *q, bool page)
{
	struct flight *f;
	struct answer a;
	char key[sizeof(f->key)];

	snprintf(key, sizeof(key), "%d %s %" PRId64 " %lu", page, q->range, q->args.agent_id,
	         q->args.min_invocations);
	pthread_mutex_lock(&server->flights_lock);
	for (f = server->flights; f != NULL && strcmp(f->key, key) != 0; f = f->next)
		;
	if (f == NULL)
	{
		f = xcalloc(1, sizeof(*f));
		memcpy(f->key, key, sizeof(key));
		pthread_cond_init(&f->landed_cond, NULL);
		f->refs = 1;
		f->next = server->flights;
		server->flights = f;
		pthread_mutex_unlock(&server->flights_lock);
		a = read_report(server, q, page);
		pthread_mutex_lock(&server->flights_lock);
		f->answer = a;
		f->landed = true;
		unlink_flight(server, f); /* a request from now on reads afresh */
		pthread_cond_broadcast(&f->landed_cond);
	}
	else
	{
		f->refs++;
		while (!f->landed)
			pthread_cond_wait(&f->landed_cond, &server->flights_lock);
	}
	a = f->answer;
	a.body = xmalloc(a.len);
	memcpy(a.body, f->answer.body, a.len);
	if (--f->refs == 0)
	{
		pthread_cond_destroy(&f->landed_cond);
		free(f->answer.body);
		free(f);
	}
	pthread_mutex_unlock(&server->flights_lock);
	return a;
}

/* GET / and GET /api/admin/latency. */
static struct answer
serve_report(struct dash_server *server, struct MHD_Connection *conn, bool page)
{
	struct query q = {.args = {.min_invocations = 1}, .range = "24h"};

	MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, check_param, &q);
	if (q.bad != NULL)
		return answer_error(MHD_HTTP_BAD_REQUEST, "invalid query parameter", q.bad);
	q.args.ranges = page ? dash_ranges : &q.range;
	q.args.n_ranges = page ? DASH_N_RANGES : 1;
	q.args.series = page;
	q.args.timeout_ms = DASH_PAGE_TIMEOUT_MS;
	return shared_report(server, &q, page);
}

/* GET /api/invocations/<uuid>. */
static struct answer
serve_invocation(struct dash_server *server, const char *id)
{
	enum dash_status status;
	char err[1024];
	PGconn *db;
	json_t *doc;

	if (!dash_valid_uuid(id))
		return answer_error(MHD_HTTP_BAD_REQUEST, "not a uuid", "invocation_id");
	if ((db = db_pool_get(server->pool, DASH_DB_WAIT_MS, err, sizeof(err))) == NULL)
		return answer_failure(DASH_UNAVAILABLE, err);
	doc = dash_fetch_invocation(db, id, &status, err, sizeof(err));
	db_pool_put(server->pool, db);
	return doc != NULL ? answer_json(MHD_HTTP_OK, doc) : answer_failure(status, err);
}

/* GET /healthz: the database answers a query. */
static struct answer
serve_health(struct dash_server *server)
{
	char err[512];
	PGconn *db = db_pool_get(server->pool, DASH_DB_WAIT_MS, err, sizeof(err));
	PGresult *res;
	bool ok;

	if (db == NULL)
		return answer_failure(DASH_UNAVAILABLE, err);
	res = PQexec(db, "SELECT 1");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(err, sizeof(err), "%s", PQresultErrorMessage(res));
	PQclear(res);
	db_pool_put(server->pool, db);
	return ok ? answer_json(MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"))
	          : answer_failure(DASH_UNAVAILABLE, err);
}

/* The answer to url, the caller being authorized or not. */
static struct answer
route(struct dash_server *server, struct MHD_Connection *conn, const char *url, const char *method)
{
	static const char invocations[] = "/api/invocations/";

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer_error(MHD_HTTP_METHOD_NOT_ALLOWED, "only GET", NULL);
	if (strcmp(url, "/healthz") == 0)
		return serve_health(server);
	if (!authorized(server, conn))
		return answer_error(MHD_HTTP_UNAUTHORIZED, "a bearer token is required", NULL);
	if (strcmp(url, "/") == 0)
		return serve_report(server, conn, true);
	if (strcmp(url, "/api/admin/latency") == 0)
		return serve_report(server, conn, false);
	if (strncmp(url, invocations, sizeof(invocations) - 1) == 0)
		return serve_invocation(server, url + sizeof(invocations) - 1);
	return answer_error(MHD_HTTP_NOT_FOUND, "no such path", NULL);
}

/* One request; bodies are not read (GET and HEAD only). */
static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct dash_server *server = cls;

	if (*req_cls == NULL) /* counted until completed() */
	{
		*req_cls = server;
		atomic_fetch_add(&server->in_flight, 1);
	}
	return respond(conn, route(server, conn, url, method));
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
dash_server_start(const struct sockaddr *addr, const char *conninfo, const char *token, char *err,
                  size_t errlen)
{
	struct dash_server *server = xcalloc(1, sizeof(*server));

	server->pool = db_pool_new(conninfo, DASH_DB_SLOTS);
	server->token = token != NULL ? xstrdup(token) : NULL;
	pthread_mutex_init(&server->flights_lock, NULL);
	server->daemon = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
	        MHD_USE_ERROR_LOG | (addr->sa_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, handle, server, MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned) DASH_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned) DASH_CONNECTION_TIMEOUT, MHD_OPTION_NOTIFY_COMPLETED, completed, server,
	    MHD_OPTION_END);
	if (server->daemon == NULL)
	{
		snprintf(err, errlen, "in use, or not an address of this host");
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
	db_pool_free(server->pool);
	pthread_mutex_destroy(&server->flights_lock);
	if (server->token != NULL)
		wipe_free(server->token);
	free(server);
}
