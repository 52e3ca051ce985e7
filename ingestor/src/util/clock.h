/*
 * clock.h - the two clocks of a measurement.
 *
 * Contract: every duration is a difference of clock_mono_ns() readings
 * (CLOCK_MONOTONIC, immune to wall-clock steps).  clock_wall_s() is used only
 * for absolute timestamps stored in the database (Unix seconds, as float8),
 * such as client_invoke_time.  Code that must be testable with a fake clock
 * takes "now" as a parameter instead of calling these.
 */
#ifndef LOOMLAT_CLOCK_H
#define LOOMLAT_CLOCK_H

#include <stdint.h>

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S  INT64_C(1000000000)

int64_t clock_mono_ns(void);
double clock_wall_s(void);

/* Milliseconds between two monotonic readings, as a double. */
static inline double
clock_ms_between(int64_t from_ns, int64_t to_ns)
{
	return (double) (to_ns - from_ns) / (double) NS_PER_MS;
}

#endif
