/*
 * clock.c - monotonic and wall clocks (see clock.h).
 */
#include <time.h>

#include "util/clock.h"

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t
clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Unix time in seconds with sub-microsecond fraction, from CLOCK_REALTIME. */
double
clock_wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}
