/*
 * commands.h - the subcommands of the loomlat binary and their exit codes.
 *
 * Each command takes its own argv (argv[0] is the command name), prints its
 * errors on stderr and returns the process exit code:
 *   0  EXIT_SUCCESS    every invocation succeeded and every row was written
 *   2  EXIT_PARTIAL    the run completed, some invocations failed (rows written)
 *  64  EX_USAGE        bad command line
 *  65  EX_DATAERR      bad input data (unknown agent, unreadable prompt, bad spool)
 *  66  EX_NOINPUT      an input file does not exist
 *  65  (report, show) the database rejected an argument, or no such invocation
 *  69  EX_UNAVAILABLE  the database or the agent endpoint is unavailable at start
 *  73  EX_CANTCREAT    (report) the output file cannot be written
 *  70  EX_SOFTWARE     internal error
 *  73  EX_CANTCREAT    invoke, ingest: the journal directory cannot be created or used
 *  74  EX_IOERR        invoke, ingest: the journal could not be written (disk full...):
 *                      the run stopped starting invocations (reading lines) early
 *  75  EX_TEMPFAIL     rows could not be written; they are in the journal or in the
 *                      spool file named; ingest --journal DIR: another process is
 *                      replaying DIR
 */
#ifndef LOOMLAT_COMMANDS_H
#define LOOMLAT_COMMANDS_H

#include <stdio.h>
#include <sysexits.h>

#define EXIT_PARTIAL 2

int cmd_invoke(int argc, char **argv);
void cmd_invoke_usage(FILE *out);

int cmd_ingest(int argc, char **argv);
void cmd_ingest_usage(FILE *out);

int cmd_report(int argc, char **argv);
void cmd_report_usage(FILE *out);

int cmd_show(int argc, char **argv);
void cmd_show_usage(FILE *out);

int cmd_serve(int argc, char **argv);
void cmd_serve_usage(FILE *out);

#endif
