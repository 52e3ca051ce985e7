/*
 * test_timer_heap.c - the loop's deadline heap against a brute-force model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "event/timer_heap.h"

#define N_NODES 2000

/* Deterministic pseudo-random numbers (xorshift64). */
static uint64_t
next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Pops come out in deadline order, whatever the push order. */
static void
pops_are_sorted(void **state)
{
	static struct timer_node nodes[N_NODES];
	struct timer_heap heap;
	uint64_t rnd = 42;
	int64_t last = INT64_MIN;

	timer_heap_init(&heap);
	for (int i = 0; i < N_NODES; i++)
	{
		nodes[i].at_ns = (int64_t) (next_random(&rnd) % 100000);
		timer_heap_push(&heap, &nodes[i]);
	}
	for (int i = 0; i < N_NODES; i++)
	{
		struct timer_node *node = timer_heap_pop(&heap);

		assert_non_null(node);
		assert_true(node->at_ns >= last);
		assert_int_equal(node->index, TIMER_HEAP_NOT_QUEUED);
		last = node->at_ns;
	}
	assert_null(timer_heap_pop(&heap));
	timer_heap_destroy(&heap);
}

/* Equal deadlines fire in insertion order. */
static void
ties_are_fifo(void **state)
{
	struct timer_node nodes[50];
	struct timer_heap heap;

	timer_heap_init(&heap);
	for (int i = 0; i < 50; i++)
	{
		nodes[i].at_ns = 7;
		timer_heap_push(&heap, &nodes[i]);
	}
	for (int i = 0; i < 50; i++)
		assert_ptr_equal(timer_heap_pop(&heap), &nodes[i]);
	timer_heap_destroy(&heap);
}

/* Removing from the middle keeps the order of the rest; removing twice is harmless. */
static void
remove_from_middle(void **state)
{
	static struct timer_node nodes[N_NODES];
	static int removed[N_NODES];
	struct timer_heap heap;
	uint64_t rnd = 7;
	int64_t last = INT64_MIN;
	int left = N_NODES;

	timer_heap_init(&heap);
	for (int i = 0; i < N_NODES; i++)
	{
		nodes[i].at_ns = (int64_t) (next_random(&rnd) % 1000);
		timer_heap_push(&heap, &nodes[i]);
	}
	for (int i = 0; i < N_NODES; i += 3)
	{
		timer_heap_remove(&heap, &nodes[i]);
		timer_heap_remove(&heap, &nodes[i]);
		removed[i] = 1;
		left--;
	}
	assert_int_equal(heap.len, (size_t) left);
	for (int i = 0; i < left; i++)
	{
		struct timer_node *node = timer_heap_pop(&heap);

		assert_non_null(node);
		assert_false(removed[node - nodes]);
		assert_true(node->at_ns >= last);
		last = node->at_ns;
	}
	assert_null(timer_heap_peek(&heap));
	timer_heap_destroy(&heap);
}

/* Interleaved pushes, pops and removals match a brute-force minimum search. */
static void
matches_model(void **state)
{
	static struct timer_node nodes[N_NODES];
	static int queued[N_NODES];
	struct timer_heap heap;
	uint64_t rnd = 99;

	timer_heap_init(&heap);
	for (int step = 0; step < 20000; step++)
	{
		int i = (int) (next_random(&rnd) % N_NODES);
		int op = (int) (next_random(&rnd) % 3);
		struct timer_node *best = NULL;

		if (op == 0 && !queued[i])
		{
			nodes[i].at_ns = (int64_t) (next_random(&rnd) % 500);
			timer_heap_push(&heap, &nodes[i]);
			queued[i] = 1;
		}
		else if (op == 1 && queued[i])
		{
			timer_heap_remove(&heap, &nodes[i]);
			queued[i] = 0;
		}
		for (int k = 0; k < N_NODES; k++)
			if (queued[k] && (best == NULL || nodes[k].at_ns < best->at_ns ||
			                  (nodes[k].at_ns == best->at_ns && nodes[k].seq < best->seq)))
				best = &nodes[k];
		assert_ptr_equal(timer_heap_peek(&heap), best);
		if (op == 2 && best != NULL)
		{
			assert_ptr_equal(timer_heap_pop(&heap), best);
			queued[best - nodes] = 0;
		}
	}
	timer_heap_destroy(&heap);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pops_are_sorted),
	    cmocka_unit_test(ties_are_fifo),
	    cmocka_unit_test(remove_from_middle),
	    cmocka_unit_test(matches_model),
	};

	return cmocka_run_group_tests_name("timer_heap", tests, NULL, NULL);
}
