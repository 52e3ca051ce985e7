/*
 * timer_heap.c - binary min-heap of deadlines (see timer_heap.h).
 */
#include <stdbool.h>
#include <stdlib.h>

#include "event/timer_heap.h"
#include "util/alloc.h"

/* Strict order: earlier deadline first, then earlier insertion. */
static bool
node_before(const struct timer_node *a, const struct timer_node *b)
{
	if (a->at_ns != b->at_ns)
		return a->at_ns < b->at_ns;
	return a->seq < b->seq;
}

/* Put node at position i and record the position in the node. */
static void
place(struct timer_heap *heap, size_t i, struct timer_node *node)
{
	heap->nodes[i] = node;
	node->index = i;
}

/* Move the node at i towards the root until its parent is earlier. */
static void
sift_up(struct timer_heap *heap, size_t i)
{
	struct timer_node *node = heap->nodes[i];

	while (i > 0)
	{
		size_t parent = (i - 1) / 2;

		if (!node_before(node, heap->nodes[parent]))
			break;
		place(heap, i, heap->nodes[parent]);
		i = parent;
	}
	place(heap, i, node);
}

/* Move the node at i towards the leaves until both children are later. */
static void
sift_down(struct timer_heap *heap, size_t i)
{
	struct timer_node *node = heap->nodes[i];

	for (;;)
	{
		size_t child = 2 * i + 1;

		if (child >= heap->len)
			break;
		if (child + 1 < heap->len && node_before(heap->nodes[child + 1], heap->nodes[child]))
			child++;
		if (!node_before(heap->nodes[child], node))
			break;
		place(heap, i, heap->nodes[child]);
		i = child;
	}
	place(heap, i, node);
}

/* Start with an empty heap. */
void
timer_heap_init(struct timer_heap *heap)
{
	heap->nodes = NULL;
	heap->len = 0;
	heap->cap = 0;
	heap->next_seq = 0;
}

/* Free the pointer array; the nodes belong to the caller. */
void
timer_heap_destroy(struct timer_heap *heap)
{
	free(heap->nodes);
	timer_heap_init(heap);
}

/* Queue a node, growing the array geometrically. */
void
timer_heap_push(struct timer_heap *heap, struct timer_node *node)
{
	if (heap->len == heap->cap)
	{
		heap->cap = heap->cap ? heap->cap * 2 : 64;
		heap->nodes = xrealloc(heap->nodes, heap->cap * sizeof(*heap->nodes));
	}
	node->seq = heap->next_seq++;
	heap->nodes[heap->len] = node;
	sift_up(heap, heap->len++);
}

/* The root, without removing it. */
struct timer_node *
timer_heap_peek(const struct timer_heap *heap)
{
	return heap->len ? heap->nodes[0] : NULL;
}

/* Remove and return the root. */
struct timer_node *
timer_heap_pop(struct timer_heap *heap)
{
	struct timer_node *root = timer_heap_peek(heap);

	if (root != NULL)
		timer_heap_remove(heap, root);
	return root;
}

/* Replace the node by the last one and restore the order around that spot. */
void
timer_heap_remove(struct timer_heap *heap, struct timer_node *node)
{
	size_t i = node->index;
	struct timer_node *last;

	if (i == TIMER_HEAP_NOT_QUEUED || i >= heap->len || heap->nodes[i] != node)
		return;
	node->index = TIMER_HEAP_NOT_QUEUED;
	last = heap->nodes[--heap->len];
	if (last == node)
		return;
	place(heap, i, last);
	if (i > 0 && node_before(last, heap->nodes[(i - 1) / 2]))
		sift_up(heap, i);
	else
		sift_down(heap, i);
}
