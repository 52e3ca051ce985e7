/*
 * html_report.h - the latency dashboard as one self-contained HTML page.
 *
 * Contract: input is dash_fetch_report()'s array (one element per range).
 * The page loads nothing: its Content-Security-Policy forbids every fetch,
 * styles and the few lines of script are inline, charts are inline SVG.
 * Every range is in the page as its own section, readable without script;
 * the script only shows the selected one and sorts the agent tables.
 * Every string from the database is HTML-escaped.
 */
#ifndef LOOMLAT_HTML_REPORT_H
#define LOOMLAT_HTML_REPORT_H

#include <stdio.h>

#include <jansson.h>

/* Write the page; selected names the range shown first (one of the array's). */
void html_report(FILE *out, const json_t *reports, const char *selected);

#endif
