/*
 * split_input.h - cut a fuzz input into the pieces a network would deliver.
 *
 * Contract: the first byte of a fuzz input gives k = its low 4 bits, the next
 * k bytes are piece lengths (0..255, used in turn, 0 being an empty chunk),
 * and the rest is the payload.  split_feed() hands the payload to fn piece by
 * piece with each piece's offset; a whole round of empty pieces ends in one
 * piece holding the rest, so every payload byte is delivered exactly once.
 * The upper 4 bits of the first byte are left to the target (split_flags).
 */
#ifndef LOOMLAT_FUZZ_SPLIT_INPUT_H
#define LOOMLAT_FUZZ_SPLIT_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct split_input
{
	unsigned flags; /* the upper 4 bits of the first byte */
	const uint8_t *lens;
	size_t n_lens;
	const char *payload;
	size_t size;
};

typedef void (*split_piece_fn)(void *arg, const char *piece, size_t len, size_t offset);

/* Parse the header; 0 on success, -1 when the input is too short. */
static inline int
split_input_parse(struct split_input *in, const uint8_t *data, size_t size)
{
	size_t k;

	if (size == 0)
		return -1;
	k = data[0] & 15u;
	if (size < 1 + k)
		return -1;
	in->flags = data[0] >> 4;
	in->lens = data + 1;
	in->n_lens = k;
	in->payload = (const char *) data + 1 + k;
	in->size = size - 1 - k;
	return 0;
}

/* Feed the payload in pieces of the given lengths (NULL lens: one piece). */
static inline void
split_feed(const struct split_input *in, const uint8_t *lens, size_t n_lens, split_piece_fn fn,
           void *arg)
{
	size_t offset = 0, turn = 0, empty = 0;

	while (offset < in->size)
	{
		size_t len = n_lens > 0 ? lens[turn++ % n_lens] : in->size;

		if (len > in->size - offset)
			len = in->size - offset;
		if (len == 0 && ++empty > n_lens)
			len = in->size - offset;
		else if (len > 0)
			empty = 0;
		fn(arg, in->payload + offset, len, offset);
		offset += len;
	}
}

#endif
