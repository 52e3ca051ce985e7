/*
 * timer_heap.h - a binary min-heap of deadlines, for the event loop's timers.
 *
 * Contract: nodes are owned by the caller and embedded in its own structs;
 * the heap only stores pointers and keeps each node's index current, so a
 * node can be removed from the middle in O(log n).  Nodes with equal
 * deadlines come out in insertion order (a sequence number breaks ties), so
 * timers due at the same instant fire in the order they were added.
 */
#ifndef LOOMLAT_TIMER_HEAP_H
#define LOOMLAT_TIMER_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define TIMER_HEAP_NOT_QUEUED SIZE_MAX

struct timer_node
{
	int64_t at_ns; /* deadline, monotonic ns */
	uint64_t seq;  /* insertion order, set by timer_heap_push() */
	size_t index;  /* position in the heap, or TIMER_HEAP_NOT_QUEUED */
};

struct timer_heap
{
	struct timer_node **nodes;
	size_t len;
	size_t cap;
	uint64_t next_seq;
};

void timer_heap_init(struct timer_heap *heap);
void timer_heap_destroy(struct timer_heap *heap);

/* Queue node (its at_ns already set). */
void timer_heap_push(struct timer_heap *heap, struct timer_node *node);

/* The earliest node, or NULL when the heap is empty. */
struct timer_node *timer_heap_peek(const struct timer_heap *heap);

/* Remove and return the earliest node, or NULL when empty. */
struct timer_node *timer_heap_pop(struct timer_heap *heap);

/* Remove a queued node from anywhere in the heap; a node not queued is ignored. */
void timer_heap_remove(struct timer_heap *heap, struct timer_node *node);

#endif
