/*
 * signals.c - the self-pipe for SIGINT/SIGTERM (see signals.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "event/signals.h"

static int write_fd = -1;

/* Async-signal-safe: one write, errno preserved. */
static void
on_signal(int signo)
{
	int saved = errno;
	char byte = (char) signo;

	if (write(write_fd, &byte, 1) < 0)
	{
		/* the pipe is full: enough signals are pending already */
	}
	errno = saved;
}

/* Set one signal's handler. */
static int
set_handler(int signo, void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	return sigaction(signo, &sa, NULL);
}

/* Make the pipe, then install the handlers. */
int
signals_open(void)
{
	int fds[2];

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
		return -1;
	write_fd = fds[1];
	if (set_handler(SIGPIPE, SIG_IGN) != 0 || set_handler(SIGINT, on_signal) != 0 ||
	    set_handler(SIGTERM, on_signal) != 0)
	{
		int saved = errno;

		signals_close(fds[0]);
		errno = saved;
		return -1;
	}
	return fds[0];
}

/* Count and discard the pending bytes. */
int
signals_take(int fd)
{
	char buf[16];
	ssize_t n;
	int count = 0;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		count += (int) n;
	return count;
}

/* Default actions back, pipe closed. */
void
signals_close(int fd)
{
	set_handler(SIGINT, SIG_DFL);
	set_handler(SIGTERM, SIG_DFL);
	if (fd >= 0)
		close(fd);
	if (write_fd >= 0)
		close(write_fd);
	write_fd = -1;
}
