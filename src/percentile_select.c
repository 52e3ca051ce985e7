/*
 * percentile_select.c
 *	  Exact percentile_cont by selection: the engine behind every percentile
 *	  the extension computes.
 *
 * PercentileCompute() (contract in percentile.h) moves NaNs to the end
 * (PostgreSQL sorts NaN above +Infinity), selects the wanted ranks in
 * ascending order, each on what the previous one left above it, and
 * interpolates with the formula of float8_lerp in orderedsetaggs.c, so its
 * answers are percentile_cont's bit for bit.  Selection is Hoare
 * partitioning with a heapsort fallback, so no input costs more than
 * O(n log n); on large inputs with few ranks a sample first narrows the
 * work to a short prefix (Floyd-Rivest).  It reorders the values but never
 * changes them, which lets callers keep using them.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/float.h"

#include "percentile.h"

/*
 * Selection on at least NARROW_MIN_VALUES values is first narrowed by a
 * sample of one value in NARROW_SAMPLE_DIVISOR (at most NARROW_MAX_SAMPLE),
 * when there are at most NARROW_MAX_RANKS distinct ranks to find.
 */
#define NARROW_MIN_VALUES     65536
#define NARROW_SAMPLE_DIVISOR 64
#define NARROW_MAX_SAMPLE     8192
#define NARROW_MAX_RANKS      8

/* Moves the NaNs of v[0..n) behind the other values; returns how many others. */
static int64
PartitionNans(double *v, int64 n)
{
	int64 end = n;

	for (int64 i = 0; i < end;)
	{
		if (isnan(v[i]))
		{
			double t = v[i];

			v[i] = v[--end];
			v[end] = t;
		}
		else
			i++;
	}
	return end;
}

/* Swaps two values. */
static inline void
SwapValues(double *a, double *b)
{
	double t = *a;

	*a = *b;
	*b = t;
}

/* Restores the max-heap v[0..n) below root. */
static void
SiftDown(double *v, int64 root, int64 n)
{
	for (;;)
	{
		int64 child = 2 * root + 1;

		if (child >= n)
			return;
		if (child + 1 < n && v[child + 1] > v[child])
			child++;
		if (!(v[child] > v[root]))
			return;
		SwapValues(&v[root], &v[child]);
		root = child;
	}
}

/* Heapsorts v[0..n): the O(n log n) bound behind SelectRank. */
static void
HeapSort(double *v, int64 n)
{
	for (int64 i = n / 2; i-- > 0;)
		SiftDown(v, i, n);
	for (int64 end = n - 1; end > 0; end--)
	{
		SwapValues(&v[0], &v[end]);
		SiftDown(v, 0, end);
	}
}

/*
 * Puts into v[k] the value sorted order puts there, with no greater value
 * before it and no smaller one after it in v[lo..hi] (NaN-free).  Hoare
 * partitioning around a median-of-3 pivot, which makes sorted, reversed and
 * equal runs linear; after 2*log2(n) rounds it heapsorts what is left, so no
 * input costs more than O(n log n).  Extremes are found by one scan.
 */
static void
SelectRank(double *v, int64 lo, int64 hi, int64 k)
{
	int rounds = 2 * (pg_leftmost_one_pos64((uint64) (hi - lo + 1)) + 1);

	while (lo < hi)
	{
		int64 mid = lo + (hi - lo) / 2;
		int64 i = lo;
		int64 j = hi;
		double pivot;

		CHECK_FOR_INTERRUPTS();
		if (k == lo || k == hi)
		{
			int64 best = k;

			for (int64 x = lo; x <= hi; x++)
				if (k == lo ? v[x] < v[best] : v[x] > v[best])
					best = x;
			SwapValues(&v[k], &v[best]);
			return;
		}
		if (rounds-- == 0)
		{
			HeapSort(v + lo, hi - lo + 1);
			return;
		}

		if (v[mid] < v[lo])
			SwapValues(&v[mid], &v[lo]);
		if (v[hi] < v[mid])
		{
			SwapValues(&v[hi], &v[mid]);
			if (v[mid] < v[lo])
				SwapValues(&v[mid], &v[lo]);
		}
		pivot = v[mid];

		while (i <= j)
		{
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j)
				SwapValues(&v[i++], &v[j--]);
		}
		/* now v[lo..j] <= pivot, v[j+1..i-1] == pivot, v[i..hi] >= pivot */
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return;
	}
}

/*
 * The value of sorted rank r once the ranks are selected: a NaN from the
 * tail at or above ordered, else the selected position of r.
 */
static double
RankValue(const double *v, int64 ordered, const int64 *rank, const int64 *where, int nrank, int64 r)
{
	int lo = 0;
	int hi = nrank - 1;

	if (r >= ordered)
		return v[r];
	while (lo < hi)
	{
		int mid = lo + (hi - lo) / 2;

		if (rank[mid] < r)
			lo = mid + 1;
		else
			hi = mid;
	}
	Assert(rank[lo] == r);
	return v[where[lo]];
}

/* qsort comparator for NaN-free doubles. */
static int
DoubleCmp(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;

	return (x > y) - (x < y);
}

/* qsort comparator for ranks. */
static int
RankCmp(const void *a, const void *b)
{
	int64 x = *(const int64 *) a;
	int64 y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * Sorts rank[0..nrank) and keeps the distinct ranks below ordered (those at
 * or above it fall among the NaNs and need no selection); returns how many.
 */
static int
DistinctRanksBelow(int64 *rank, int nrank, int64 ordered)
{
	int distinct = 0;

	qsort(rank, nrank, sizeof(int64), RankCmp);
	for (int r = 0; r < nrank && rank[r] < ordered; r++)
		if (distinct == 0 || rank[r] != rank[distinct - 1])
			rank[distinct++] = rank[r];
	return distinct;
}

/*
 * Narrows the selection of the sorted ranks rank[0..nrank) in the NaN-free
 * v[0..n) to a short prefix of v, Floyd-Rivest style.  A sorted, evenly
 * spaced sample gives each rank a value bracket that holds it with high
 * probability; one branch-free pass counts the values below each bracket
 * and swaps those inside to the front.  On success it stores in where[i]
 * the position rank[i] has in that prefix and returns the prefix length;
 * when a rank falls outside its bracket (an unlucky sample) it returns -1.
 * Either way v keeps the same values.
 */
static int64
NarrowRanks(double *v, int64 n, const int64 *rank, int nrank, int64 *where)
{
	int64 nsample = Min(n / NARROW_SAMPLE_DIVISOR, NARROW_MAX_SAMPLE);
	int64 stride = n / nsample;
	double *sample = palloc(nsample * sizeof(double));
	double lo[NARROW_MAX_RANKS];
	double hi[NARROW_MAX_RANKS];
	int64 hist[4][2 * NARROW_MAX_RANKS + 1] = {{0}};
	int bracket_of[NARROW_MAX_RANKS];
	int nbracket = 0;
	int64 front = 0;

	for (int64 i = 0; i < nsample; i++)
		sample[i] = v[i * stride];
	qsort(sample, nsample, sizeof(double), DoubleCmp);

	/* brackets of about four standard deviations of the sample rank */
	for (int r = 0; r < nrank; r++)
	{
		double p = (double) rank[r] / (n - 1);
		double delta = 4 * sqrt(nsample * p * (1 - p)) + 4;
		int64 a = (int64) floor(p * (nsample - 1) - delta);
		int64 b = (int64) ceil(p * (nsample - 1) + delta);
		double blo = a > 0 ? sample[a] : -get_float8_infinity();
		double bhi = b < nsample - 1 ? sample[b] : get_float8_infinity();

		if (nbracket > 0 && blo <= hi[nbracket - 1])
			hi[nbracket - 1] = Max(hi[nbracket - 1], bhi);
		else
		{
			lo[nbracket] = blo;
			hi[nbracket] = bhi;
			nbracket++;
		}
		bracket_of[r] = nbracket - 1;
	}
	pfree(sample);

	/*
	 * slot 2k + 1: inside bracket k; slot 2k: between brackets k - 1 and k.
	 * Four interleaved histograms keep the increments independent.
	 */
	CHECK_FOR_INTERRUPTS();
	for (int64 i = 0; i < n; i++)
	{
		double x = v[i];
		int slot = 0;

		for (int k = 0; k < nbracket; k++)
			slot += (x >= lo[k]) + (x > hi[k]);
		hist[i & 3][slot]++;
		/* v[0..front) are inside a bracket, v[front..i) are not */
		v[i] = v[front];
		v[front] = x;
		front += slot & 1;
	}

	for (int r = 0; r < nrank; r++)
	{
		int k = bracket_of[r];
		int64 below = 0;
		int64 inside = 0;
		int64 before = 0;

		for (int h = 0; h < 4; h++)
		{
			for (int slot = 0; slot < 2 * k; slot++)
			{
				below += hist[h][slot];
				before += (slot & 1) ? hist[h][slot] : 0;
			}
			below += hist[h][2 * k];
			inside += hist[h][2 * k + 1];
		}
		if (rank[r] < below || rank[r] >= below + inside)
			return -1;
		where[r] = rank[r] - below + before;
	}
	return front;
}

/*
 * Sets result[i] to percentile_cont at fraction[i] over v[0..count)
 * (count > 0, n > 0 fractions, all in [0, 1]).  Reorders the values.
 */
void
PercentileCompute(double *v, int64 count, const double *fraction, int n, double *result)
{
	int64 ordered = PartitionNans(v, count);
	int64 *rank = palloc(mul_size(n, 2 * sizeof(int64)));
	int64 *where = palloc(mul_size(n, 2 * sizeof(int64)));
	int nrank = 0;
	int64 len = ordered;
	int64 next = 0;

	Assert(count > 0);
	/* the rows percentile_cont reads: floor and ceil of p * (N - 1) */
	for (int i = 0; i < n; i++)
	{
		double pos = fraction[i] * (count - 1);

		rank[nrank++] = (int64) floor(pos);
		rank[nrank++] = (int64) ceil(pos);
	}
	nrank = DistinctRanksBelow(rank, nrank, ordered);

	memcpy(where, rank, nrank * sizeof(int64));
	if (ordered >= NARROW_MIN_VALUES && nrank > 0 && nrank <= NARROW_MAX_RANKS)
	{
		int64 prefix = NarrowRanks(v, ordered, rank, nrank, where);

		if (prefix >= 0)
			len = prefix;
		else
			memcpy(where, rank, nrank * sizeof(int64));
	}
	for (int r = 0; r < nrank; r++)
	{
		SelectRank(v, next, len - 1, where[r]);
		next = where[r] + 1;
	}

	for (int i = 0; i < n; i++)
	{
		double pos = fraction[i] * (count - 1);
		double lo = RankValue(v, ordered, rank, where, nrank, (int64) floor(pos));
		double hi = RankValue(v, ordered, rank, where, nrank, (int64) ceil(pos));

		/* float8_lerp, to the operation, when the two rows differ */
		if (ceil(pos) > floor(pos))
			result[i] = lo + ((pos - floor(pos)) * (hi - lo));
		else
			result[i] = lo;
	}
	pfree(where);
	pfree(rank);
}
