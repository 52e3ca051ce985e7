/*
 * asan_first.c - lets AddressSanitizer's runtime, preloaded into Debian's
 * postgres and its tools, start without deadlocking.  test/regress_san.sh
 * preloads it right after libasan.
 *
 * Library constructors run before ASan has initialised, and some of them
 * call into glibc code that allocates while holding a lock:
 * bindtextdomain() (libgpg-error) and newlocale() (p11-kit).  ASan then
 * initialises inside that allocation, and its start-up reaches gettext,
 * which releases the lock from under its holder.  The process hangs later,
 * at the next bindtextdomain() in main() or in a destructor's freelocale()
 * at exit.  Allocating once before either call runs ASan's start-up outside
 * the locks.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <locale.h>
#include <stdlib.h>

typedef char *(*bindtextdomain_fn)(const char *domain, const char *dir);
typedef locale_t (*newlocale_fn)(int mask, const char *name, locale_t base);

char *bindtextdomain(const char *domain, const char *dir);
locale_t newlocale(int mask, const char *name, locale_t base);

/* glibc's definition of name, ASan started first. */
static void *
next_after_asan_start(const char *name)
{
	void *volatile first = malloc(1); /* volatile: the pair must not be optimised away */
	void *fn;

	free(first);
	fn = dlsym(RTLD_NEXT, name);
	if (fn == NULL)
		abort();
	return fn;
}

/* bindtextdomain(3), after starting ASan. */
char *
bindtextdomain(const char *domain, const char *dir)
{
	static bindtextdomain_fn real;

	if (real == NULL)
		real = (bindtextdomain_fn) next_after_asan_start("bindtextdomain");
	return real(domain, dir);
}

/* newlocale(3), after starting ASan. */
locale_t
newlocale(int mask, const char *name, locale_t base)
{
	static newlocale_fn real;

	if (real == NULL)
		real = (newlocale_fn) next_after_asan_start("newlocale");
	return real(mask, name, base);
}
