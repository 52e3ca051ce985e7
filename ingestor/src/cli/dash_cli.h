/*
 * dash_cli.h - what "loomlat report", "show" and "serve" share on the command line.
 *
 * Contract: dash_cli_connect() connects with a bounded connect_timeout
 * (PGCONNECT_TIMEOUT when unset) and prints why it failed; dash_cli_exit()
 * maps a dash_status to the exit code documented in commands.h.
 */
#ifndef LOOMLAT_DASH_CLI_H
#define LOOMLAT_DASH_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "present/dash_query.h"

/* Connect to --db / LOOMLAT_DATABASE_URL / PG*; NULL after printing the reason. */
PGconn *dash_cli_connect(const char *db_option);

/* Up to want connections into conns: how many, 0 after printing why the
 * first failed (a server short of connections gives fewer, silently). */
size_t dash_cli_connect_many(const char *db_option, PGconn **conns, size_t want);

/* Exit code for a failed read, after printing err: 65 bad argument or unknown
 * invocation, 69 database unavailable. */
int dash_cli_exit(enum dash_status status, const char *what, const char *err);

/* Colours for out: a terminal, and NO_COLOR unset or empty. */
bool dash_cli_color(FILE *out);

#endif
