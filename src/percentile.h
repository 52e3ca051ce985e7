/*
 * percentile.h
 *	  Exact percentile_cont selection, shared by every aggregate that reports
 *	  percentiles (percentile.c, latency_stats.c).
 *
 * PercentileCompute() sets result[i] to what percentile_cont(fraction[i])
 * WITHIN GROUP (ORDER BY x) returns over v[0..count), bit for bit.  It needs
 * count > 0 and n > 0 fractions, each in [0, 1]; it reorders v (selection,
 * not sorting) but never changes its values.  Memory comes from the current
 * memory context.
 */
#ifndef LOOMLAT_PERCENTILE_H
#define LOOMLAT_PERCENTILE_H

extern void PercentileCompute(double *v, int64 count, const double *fraction, int n,
                              double *result);

#endif
