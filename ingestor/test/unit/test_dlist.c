/*
 * test_dlist.c - the intrusive list: a zeroed head is empty, push_head
 * orders newest first, delete unlinks from any position.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/dlist.h"

struct item
{
	int value;
	struct dlist_node node;
};

/* The values of list, front to back, into out; returns how many. */
static int
values(const struct dlist_head *list, int *out)
{
	int n = 0;

	for (struct dlist_node *node = dlist_first(list); node != NULL; node = dlist_next(list, node))
		out[n++] = dlist_container(struct item, node, node)->value;
	return n;
}

static void
zeroed_head_is_empty(void **state)
{
	struct dlist_head list = {0};

	assert_true(dlist_is_empty(&list));
	assert_null(dlist_first(&list));
}

static void
push_and_delete(void **state)
{
	struct dlist_head list = {0};
	struct item items[4] = {{.value = 1}, {.value = 2}, {.value = 3}, {.value = 4}};
	int got[4];

	for (int i = 0; i < 4; i++)
		dlist_push_head(&list, &items[i].node);
	assert_int_equal(values(&list, got), 4);
	assert_int_equal(got[0], 4);
	assert_int_equal(got[3], 1);
	dlist_delete(&items[2].node); /* middle */
	dlist_delete(&items[3].node); /* front */
	dlist_delete(&items[0].node); /* back */
	assert_int_equal(values(&list, got), 1);
	assert_int_equal(got[0], 2);
	dlist_delete(&items[1].node);
	assert_true(dlist_is_empty(&list));
	dlist_push_head(&list, &items[0].node); /* an emptied list takes elements again */
	assert_int_equal(values(&list, got), 1);
	assert_int_equal(got[0], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(zeroed_head_is_empty),
	    cmocka_unit_test(push_and_delete),
	};

	return cmocka_run_group_tests_name("dlist", tests, NULL, NULL);
}
