/*
 * dlist.h - an intrusive doubly linked list (after PostgreSQL's ilist.h).
 *
 * A struct dlist_node is embedded in each element; a struct dlist_head owns
 * the list.  The list is circular through the head, so insertion and
 * removal never branch on the ends.  A zeroed head is a valid empty list, so
 * heads inside zero-initialised structs need no set-up.  The list does not
 * own its elements; dlist_container() gets an element back from its node.
 */
#ifndef LOOMLAT_DLIST_H
#define LOOMLAT_DLIST_H

#include <stdbool.h>
#include <stddef.h>

struct dlist_node
{
	struct dlist_node *prev;
	struct dlist_node *next;
};

struct dlist_head
{
	struct dlist_node head; /* head.next is the first element; all NULL = empty */
};

/* The element of type that holds node as its member. */
#define dlist_container(type, member, node) ((type *) ((char *) (node) -offsetof(type, member)))

/* True when the list has no element. */
static inline bool
dlist_is_empty(const struct dlist_head *list)
{
	return list->head.next == NULL || list->head.next == &list->head;
}

/* Insert node at the front. */
static inline void
dlist_push_head(struct dlist_head *list, struct dlist_node *node)
{
	if (list->head.next == NULL)
		list->head.next = list->head.prev = &list->head;
	node->next = list->head.next;
	node->prev = &list->head;
	node->next->prev = node;
	list->head.next = node;
}

/* Unlink node from whatever list holds it. */
static inline void
dlist_delete(struct dlist_node *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->prev = node->next = NULL;
}

/* The first node, or NULL when the list is empty. */
static inline struct dlist_node *
dlist_first(const struct dlist_head *list)
{
	return dlist_is_empty(list) ? NULL : list->head.next;
}

/* The node after node, or NULL at the end of list. */
static inline struct dlist_node *
dlist_next(const struct dlist_head *list, const struct dlist_node *node)
{
	return node->next == &list->head ? NULL : node->next;
}

#endif
