/*
 * line_reader.c - bounded line reading (see line_reader.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/line_reader.h"

#define INITIAL_CAP 65536

struct line_reader
{
	int fd;
	size_t max_line;
	char *buf;
	size_t cap, start, end; /* buffered data is buf[start, end) */
	bool skipping;          /* inside an oversize line */
	size_t skipped;         /* its bytes so far */
	off_t offset;
};

/* A reader on fd at offset. */
struct line_reader *
line_reader_new(int fd, size_t max_line, off_t offset)
{
	struct line_reader *r = xcalloc(1, sizeof(*r));

	r->fd = fd;
	r->max_line = max_line;
	r->cap = max_line + 2 < INITIAL_CAP ? max_line + 2 : INITIAL_CAP;
	r->buf = xmalloc(r->cap);
	r->offset = offset;
	return r;
}

/* Free the reader (the descriptor is the caller's). */
void
line_reader_free(struct line_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r);
}

/* Hand out buf[start, start + len) as a line followed by skip bytes. */
static enum lr_status
take(struct line_reader *r, size_t len, size_t skip, const char **line, size_t *out_len)
{
	enum lr_status status = r->skipping ? LR_OVERSIZE : LR_LINE;

	*line = r->buf + r->start;
	*out_len = r->skipped + len;
	r->start += len + skip;
	r->offset += (off_t) (r->skipped + len + skip);
	r->skipping = false;
	r->skipped = 0;
	if (*out_len > r->max_line)
		status = LR_OVERSIZE;
	return status;
}

/* Find a newline, reading more as needed. */
enum lr_status
line_reader_next(struct line_reader *r, bool final, const char **line, size_t *len)
{
	for (;;)
	{
		char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		ssize_t n;

		if (nl != NULL)
			return take(r, (size_t) (nl - (r->buf + r->start)), 1, line, len);
		if (r->end - r->start > r->max_line)
		{
			r->skipping = true;
			r->skipped += r->end - r->start;
			r->start = r->end;
		}
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
		if (r->end == r->cap)
		{
			r->cap *= 2;
			r->buf = xrealloc(r->buf, r->cap);
		}
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return LR_ERROR;
		if (n > 0)
		{
			r->end += (size_t) n;
			continue;
		}
		if (final && (r->end > 0 || r->skipping))
			return take(r, r->end, 0, line, len);
		return LR_EOF;
	}
}

/* Offset after the last line. */
off_t
line_reader_offset(const struct line_reader *r)
{
	return r->offset;
}

/* Drop the buffer; continue at offset. */
void
line_reader_reset(struct line_reader *r, off_t offset)
{
	r->start = r->end = 0;
	r->skipping = false;
	r->skipped = 0;
	r->offset = offset;
}
