/*
 * dash_server.h - "loomlat serve": the dashboard and its JSON over HTTP.
 *
 * Contract: GET /                         the page (present/html_report.h)
 *           GET /api/admin/latency        latency_summary() itself
 *           GET /api/invocations/<uuid>   invocation_detail(), 404 when unknown
 *           GET /healthz                  {"status":"ok"} when the database answers
 * The first two take ?range=&agent_id=&min_invocations= (latency_summary()'s
 * defaults: 24h, all agents, 1).  A bad, unknown, repeated or NUL-carrying
 * parameter is 400 with {"error", "parameter"}; a database that is down or
 * slow is 503 within a bounded time (connect_timeout, statement_timeout:
 * DASH_STATEMENT_TIMEOUT_MS, the page's DASH_PAGE_TIMEOUT_MS, a
 * bounded wait for one of the DASH_DB_SLOTS pooled connections).  Every read
 * is read-only with bound parameters.  Identical requests for / or
 * /api/admin/latency that arrive while one is being read share its answer
 * (one query, computed for a moment at most one query's time earlier).  With a token, every path
 * but /healthz needs "Authorization: Bearer <token>" (compared in constant time), else 401.
 * Requests run one thread per connection, at most DASH_MAX_CONNECTIONS at once; stopping answers
 * the requests in flight first.
 */
#ifndef LOOMLAT_DASH_SERVER_H
#define LOOMLAT_DASH_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#define DASH_MAX_CONNECTIONS    128
#define DASH_CONNECTION_TIMEOUT 30 /* seconds a connection may stay idle */
#define DASH_DB_SLOTS           16
#define DASH_DB_WAIT_MS         5000
#define DASH_PAGE_TIMEOUT_MS    60000 /* statement_timeout of the page's four ranges */
#define DASH_DRAIN_MS           30000 /* the longest stop waits for requests in flight */

struct dash_server;

/* Listen on addr, IPv4 or IPv6 (port 0: any); NULL with err set when it
 * cannot.  token may be NULL. */
struct dash_server *dash_server_start(const struct sockaddr *addr, const char *conninfo,
                                      const char *token, char *err, size_t errlen);

/* The port listened on. */
uint16_t dash_server_port(const struct dash_server *server);

/* Stop accepting, let the requests in flight finish, free everything. */
void dash_server_stop(struct dash_server *server);

#endif
