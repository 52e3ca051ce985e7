/*
 * db.h - where the database is, and the checks made once before a run.
 *
 * Contract: the connection string is --db, else LOOMLAT_DATABASE_URL, else
 * empty (libpq's PG* variables and defaults); it may be key=value or a URI.
 * Every connection reports fallback_application_name=loomlat.  The start-up
 * checks run blocking, before the event loop starts: nothing else is
 * running yet, and their failures decide the exit code.  Error texts say
 * what to do and never contain the password (libpq's messages do not).
 */
#ifndef LOOMLAT_DB_H
#define LOOMLAT_DB_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* The connection string to use: option if set, else the environment, else "". */
const char *db_conninfo(const char *option);

/* Start an asynchronous connection (PQconnectStartParams); NULL when libpq runs out of memory. */
PGconn *db_connect_start(const char *conninfo);

/* Connect and wait; NULL with a message in err when the database is unavailable. */
PGconn *db_connect_blocking(const char *conninfo, char *err, size_t errlen);

/* Which database rows go to: a hash of conn's host, port, name and user
 * (never the password), never 0; a journal's rows go back only there. */
uint64_t db_target(PGconn *conn);

enum db_check
{
	DB_CHECK_OK = 0,
	DB_CHECK_UNAVAILABLE, /* query failed, extension missing: exit 69 */
	DB_CHECK_NO_AGENT     /* unknown agent and no name to create it: exit 65 */
};

/* Make sure agent_id exists (upserting it with name when name is given), that
 * the installed extension is 0.2.0 or later (it has record_invocations), and
 * read loomlat.cold_start_threshold_ms() into *threshold_ms. */
enum db_check db_prepare_agent(PGconn *conn, int64_t agent_id, const char *name,
                               double *threshold_ms, char *err, size_t errlen);

#endif
