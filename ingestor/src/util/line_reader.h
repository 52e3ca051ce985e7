/*
 * line_reader.h - newline-terminated lines from a file descriptor, with a
 * bound on the line length and the byte offset after each line.
 *
 * Contract: a line longer than max_line bytes is never buffered whole: it is
 * skipped to its newline and reported as LR_OVERSIZE with its length.  At
 * the end of the data an unterminated tail is returned as a line only when
 * the caller says the input is final; otherwise it stays buffered and more
 * may be appended (tail -f).  The offset is the file position just after the
 * last line returned (newline included), counted from the start offset.
 */
#ifndef LOOMLAT_LINE_READER_H
#define LOOMLAT_LINE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum lr_status
{
	LR_LINE,     /* *line, *len: one line without its newline */
	LR_OVERSIZE, /* a line of *len bytes was skipped */
	LR_EOF,      /* no complete line until more data arrives */
	LR_ERROR     /* read(2) failed: errno */
};

struct line_reader;

/* Read fd (positioned at offset) with lines of at most max_line bytes. */
struct line_reader *line_reader_new(int fd, size_t max_line, off_t offset);
void line_reader_free(struct line_reader *reader);

/* The next line; final: the end of the data is the end of the input. */
enum lr_status line_reader_next(struct line_reader *reader, bool final, const char **line,
                                size_t *len);

/* The file offset just after the last line returned. */
off_t line_reader_offset(const struct line_reader *reader);

/* Forget buffered data and continue at offset (after truncation or a seek). */
void line_reader_reset(struct line_reader *reader, off_t offset);

#endif
