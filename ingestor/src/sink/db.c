/*
 * db.c - connection settings and start-up checks (see db.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/db.h"

/* --db, else LOOMLAT_DATABASE_URL, else "" (libpq defaults). */
const char *
db_conninfo(const char *option)
{
	const char *env;

	if (option != NULL)
		return option;
	env = getenv("LOOMLAT_DATABASE_URL");
	return env != NULL ? env : "";
}

/* Keyword/value pairs for both ways of connecting; dbname is expanded. */
static void
conn_params(const char *conninfo, const char *keywords[3], const char *values[3])
{
	keywords[0] = "fallback_application_name";
	values[0] = "loomlat";
	keywords[1] = "dbname";
	values[1] = conninfo[0] ? conninfo : NULL;
	keywords[2] = NULL;
	values[2] = NULL;
}

/* Asynchronous connect. */
PGconn *
db_connect_start(const char *conninfo)
{
	const char *keywords[3];
	const char *values[3];

	conn_params(conninfo, keywords, values);
	return PQconnectStartParams(keywords, values, 1);
}

/* Copy libpq's message without its trailing newline. */
static void
copy_message(char *err, size_t errlen, const char *prefix, const char *message)
{
	size_t len;

	snprintf(err, errlen, "%s%s", prefix, message);
	len = strlen(err);
	while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
		err[--len] = '\0';
}

/* Blocking connect, for start-up. */
PGconn *
db_connect_blocking(const char *conninfo, char *err, size_t errlen)
{
	const char *keywords[3];
	const char *values[3];
	PGconn *conn;

	conn_params(conninfo, keywords, values);
	conn = PQconnectdbParams(keywords, values, 1);

	if (conn == NULL)
	{
		snprintf(err, errlen, "out of memory connecting to the database");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK)
	{
		copy_message(err, errlen, "cannot connect to the database: ", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Run one statement with parameters; the result, or NULL with err set. */
static PGresult *
exec(PGconn *conn, const char *sql, int n, const char *const *params, ExecStatusType want,
     char *err, size_t errlen)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) == want)
		return res;
	copy_message(err, errlen, "", PQresultErrorMessage(res));
	PQclear(res);
	return NULL;
}

/* Agent check or upsert, then the extension version and the cold-start threshold. */
enum db_check
db_prepare_agent(PGconn *conn, int64_t agent_id, const char *name, double *threshold_ms, char *err,
                 size_t errlen)
{
	char id[24];
	const char *params[2] = {id, name};
	char msg[512];
	PGresult *res;

	snprintf(id, sizeof(id), "%" PRId64, agent_id);
	if (name != NULL)
		res = exec(conn,
		           "INSERT INTO loomlat.agents (agent_id, name) VALUES ($1, $2) "
		           "ON CONFLICT (agent_id) DO UPDATE SET name = EXCLUDED.name",
		           2, params, PGRES_COMMAND_OK, msg, sizeof(msg));
	else
		res = exec(conn, "SELECT 1 FROM loomlat.agents WHERE agent_id = $1", 1, params,
		           PGRES_TUPLES_OK, msg, sizeof(msg));
	if (res == NULL)
	{
		snprintf(err, errlen,
		         "cannot use table loomlat.agents: %s (is the extension installed? run CREATE "
		         "EXTENSION loomlat in this database)",
		         msg);
		return DB_CHECK_UNAVAILABLE;
	}
	if (name == NULL && PQntuples(res) == 0)
	{
		PQclear(res);
		snprintf(err, errlen,
		         "agent %s does not exist in loomlat.agents; pass --agent-name NAME to create it",
		         id);
		return DB_CHECK_NO_AGENT;
	}
	PQclear(res);

	/* rows are written through loomlat.record_invocations(), new in 0.2.0 */
	res = PQexec(conn, "SELECT pg_catalog.to_regprocedure("
	                   "'loomlat.record_invocations(pg_catalog.jsonb)') IS NOT NULL, "
	                   "loomlat.cold_start_threshold_ms()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQgetisnull(res, 0, 1))
	{
		copy_message(err, errlen,
		             "cannot read the cold-start threshold: ", PQresultErrorMessage(res));
		PQclear(res);
		return DB_CHECK_UNAVAILABLE;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
	{
		snprintf(err, errlen,
		         "the loomlat extension in this database is older than 0.2.0 (it lacks "
		         "loomlat.record_invocations); run ALTER EXTENSION loomlat UPDATE");
		PQclear(res);
		return DB_CHECK_UNAVAILABLE;
	}
	*threshold_ms = strtod(PQgetvalue(res, 0, 1), NULL);
	PQclear(res);
	return DB_CHECK_OK;
}

/* FNV-1a of host, port, name and user, each ended by a byte no string holds. */
uint64_t
db_target(PGconn *conn)
{
	const char *parts[] = {PQhost(conn), PQport(conn), PQdb(conn), PQuser(conn)};
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
	{
		for (const char *p = parts[i] ? parts[i] : ""; *p != '\0'; p++)
			h = (h ^ (unsigned char) *p) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull;
	}
	return h != 0 ? h : 1;
}
