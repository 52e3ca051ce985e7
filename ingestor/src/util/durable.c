/*
 * durable.c - writing files that must survive a crash (see durable.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "util/durable.h"

int
durable_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0)
	{
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t) n;
	}
	return 0;
}

int
durable_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}
