/*
 * invoke_live.h - the invocation ports of a real run (see invoke.h): tokens
 * from env->tokens, rows through env->writer, and the request as a libcurl
 * transfer on env->http.
 *
 * The transfer: the format's body and headers, the extra --header lines,
 * X-Loomlat-Invocation-Id, and the bearer token (its header line is wiped
 * when freed); body bytes are stamped with loop_now() as they arrive, before
 * any parsing; the final status (not a 1xx, not trailers) is reported when its
 * header block ends; libcurl's error text becomes the end's error, and a
 * failure to connect or to resolve the host makes it unreachable.
 */
#ifndef LOOMLAT_INVOKE_LIVE_H
#define LOOMLAT_INVOKE_LIVE_H

#include "measure/invoke.h"

extern const struct invoke_ports invoke_live_ports;

#endif
