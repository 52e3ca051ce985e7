/*
 * dash_cli.c - shared plumbing of the read-only commands (see dash_cli.h).
 */
#include <stdlib.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/dash_cli.h"
#include "sink/db.h"
#include "util/log.h"

#define CONNECT_TIMEOUT_S "5"

/* A bounded connect: a database that accepts and never answers is "unavailable". */
PGconn *
dash_cli_connect(const char *db_option)
{
	char err[1024];
	PGconn *conn;

	setenv("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT_S, 0);
	conn = db_connect_blocking(db_conninfo(db_option), err, sizeof(err));
	if (conn == NULL)
		log_error("%s; check --db, LOOMLAT_DATABASE_URL or the PG* variables", err);
	return conn;
}

/* The first connection as dash_cli_connect(); the others only if they come. */
size_t
dash_cli_connect_many(const char *db_option, PGconn **conns, size_t want)
{
	char err[1024];
	size_t n;

	conns[0] = dash_cli_connect(db_option);
	if (conns[0] == NULL)
		return 0;
	for (n = 1; n < want; n++)
		if ((conns[n] = db_connect_blocking(db_conninfo(db_option), err, sizeof(err))) == NULL)
			break;
	return n;
}

/* 65 for what the caller asked, 69 for the database. */
int
dash_cli_exit(enum dash_status status, const char *what, const char *err)
{
	switch (status)
	{
		case DASH_OK:
			return 0;
		case DASH_BAD_ARGUMENT:
		case DASH_NOT_FOUND:
			log_error("%s: %s", what, err);
			return EX_DATAERR;
		case DASH_UNAVAILABLE:
			break;
	}
	log_error("%s: the database is unavailable: %s", what, err);
	return EX_UNAVAILABLE;
}

/* isatty and https://no-color.org. */
bool
dash_cli_color(FILE *out)
{
	const char *no_color = getenv("NO_COLOR");

	return isatty(fileno(out)) && (no_color == NULL || no_color[0] == '\0');
}
