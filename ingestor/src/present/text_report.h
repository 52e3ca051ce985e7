/*
 * text_report.h - the terminal views: the latency report and one invocation.
 *
 * Contract: input is one element of dash_fetch_report()'s array, or
 * dash_fetch_invocation()'s document.  Lines fit in 100 columns.  With
 * color false no escape sequence is written; strings from the database are
 * written with control characters replaced by '?', so an agent name cannot
 * drive the terminal.
 */
#ifndef LOOMLAT_TEXT_REPORT_H
#define LOOMLAT_TEXT_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

/* Totals, TTFT overall and cold vs warm, agents, histogram, where the time goes. */
void text_report(FILE *out, const json_t *report, bool color);

/* One invocation: TTFT, badge, status, timings, error, the phases as a waterfall. */
void text_invocation(FILE *out, const json_t *detail, bool color);

#endif
