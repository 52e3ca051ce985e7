/*
 * journal.h - the write-ahead journal of the rows given to the writer.
 *
 * A row is appended before it is sent and counts as taken only once it is
 * on disk: appends go to a buffer that one write() and one fdatasync() make
 * durable, a group commit, at most JOURNAL_SYNC_WINDOW_MS after the first
 * append, or as soon as a caller waits for a row (journal_wait()), whichever
 * comes first; the writer sends a row only once journal_synced() covers it.
 * With a loop, that I/O runs on the journal's own sync thread, and the loop
 * hears through an eventfd that it is done: the loop thread never waits for
 * the disk, so a sync does not delay a first-token timestamp.  Appends made
 * while a sync runs form the next one.  A row's record is marked done when
 * its transaction has committed (and, for a held row, when its holder
 * released it); a segment file whose records are all done is deleted once
 * every older one is, so the journal holds what the database may not have.
 *
 * Files, in one directory: "lock" (flock'd by a process replaying), and the
 * segments "j-<unix time ns>-<pid>-<n>.seg" of each process (a group), each
 * flock'd by its owner while it lives, so that another process replays only
 * the groups of processes that are gone.  A segment is a 16-byte header (the
 * magic "LOOMJNL1", then the 64-bit target: a hash of the database's host,
 * port, name and user, so rows go back to the database they were meant
 * for), then records, each
 *     u32 length of the payload, u32 CRC-32C of the rest, u8 type, u64 seq,
 *     payload
 * (little-endian).  Type 1 is a row (the payload is the row's JSON), type 2
 * marks the row with that seq done (no payload).  A record cut off by the
 * end of the file, or a tail of zero bytes, is a torn write: it is dropped
 * and reported.  Any other bad record (checksum, type, length) is
 * corruption: reading that file stops there, its records before it are used
 * and it is kept as "<name>.corrupt" for a human.
 *
 * Rows never hold secrets (tokens and client secrets stay out of rows), so
 * the journal holds none; files are 0600 in a 0700 directory.
 */
#ifndef LOOMLAT_JOURNAL_H
#define LOOMLAT_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event/loop.h"

#define JOURNAL_DEFAULT_MAX_BYTES (1ull << 30)
#define JOURNAL_MAX_RECORD        (16u << 20)
#define JOURNAL_SYNC_WINDOW_MS    5

enum journal_record_type
{
	JOURNAL_ROW = 1,
	JOURNAL_DONE = 2
};

struct journal_record
{
	enum journal_record_type type;
	uint64_t seq;
	const char *data; /* the payload, not NUL-terminated */
	size_t len;
};

enum journal_scan_result
{
	JOURNAL_SCAN_OK,
	JOURNAL_SCAN_TORN,   /* a torn last record: bytes from *good_len on are dropped */
	JOURNAL_SCAN_CORRUPT /* a bad record at *good_len */
};

typedef void (*journal_record_fn)(void *arg, const struct journal_record *record);

/* Parse a segment's bytes (untrusted): fn runs for every good record, in
 * order; *good_len is where the good records end, *target the header's. */
enum journal_scan_result journal_scan(const void *buf, size_t len, uint64_t *target,
                                      journal_record_fn fn, void *arg, size_t *good_len);

/* Encode one record at the end of *buf (grown with xrealloc). */
void journal_encode(char **buf, size_t *len, size_t *cap, enum journal_record_type type,
                    uint64_t seq, const char *data, size_t dlen);

struct journal;

/* The directory: $LOOMLAT_JOURNAL_DIR, else $XDG_STATE_HOME/loomlat/journal,
 * else $HOME/.local/state/loomlat/journal, else /var/tmp/loomlat-<uid>/journal
 * (a new string). */
char *journal_default_dir(void);

/* Open a new segment group in dir (created 0700, must be the user's own).
 * target names the database; max_bytes bounds the segments' total size.
 * loop may be NULL (then there is no sync thread and only journal_sync()
 * writes).  NULL with a message in err. */
struct journal *journal_open(struct loop *loop, const char *dir, uint64_t target,
                             uint64_t max_bytes, char *err, size_t errlen);

/* Append a row; returns its seq, or 0 when the journal has failed. */
uint64_t journal_append(struct journal *j, const char *data, size_t len);

/* The row with this seq needs keeping no longer (0 is ignored). */
void journal_done(struct journal *j, uint64_t seq);

/* Write and fdatasync what was appended, on the calling thread (after the
 * sync thread's job, if one runs); delete what is all done.  0, or -1 when
 * the journal has failed (said once on stderr).  Blocks: for start-up and
 * shutdown, and for journals without a loop. */
int journal_sync(struct journal *j);

/* Every row up to this seq is durable and may go to the database (after a
 * failure, every row may: UINT64_MAX). */
uint64_t journal_synced(const struct journal *j);

/* Call fn(arg) on the loop (deferred, never from inside this call) once the
 * row seq is durable or the journal has failed; starts a sync now unless
 * one runs (the next follows it).  Needs a loop. */
void journal_wait(struct journal *j, uint64_t seq, loop_fn fn, void *arg);

/* The total size reached max_bytes: take no new work until rows are done. */
bool journal_full(const struct journal *j);

/* A write or sync failed (disk full...): nothing more is journaled. */
bool journal_failed(const struct journal *j);

uint64_t journal_bytes(const struct journal *j);
const char *journal_dir(const struct journal *j);

/* Rows appended and not yet done. */
size_t journal_live(const struct journal *j);

struct journal_recovery
{
	unsigned long files;      /* segment files of dead processes read */
	unsigned long rows;       /* rows not done, given to fn */
	unsigned long torn_bytes; /* dropped from torn tails */
	unsigned long corrupt;    /* files renamed to .corrupt */
	unsigned long skipped;    /* segment files of live processes, or of another database */
};

/* Rows of a dead process's group: each not-done row once, in order; intact
 * is false when a file of the group was corrupt (rows may be missing). */
typedef void (*journal_row_fn)(void *arg, const char *data, size_t len, bool intact);

/* Read the groups of dead processes for the same target (unless another
 * process is replaying: then nothing) and give their rows to fn, which is
 * expected to append them to j (through the writer).  The files read stay
 * until journal_recover_commit().  Returns 0, or -1 when another process
 * is replaying (nothing is read). */
int journal_recover(struct journal *j, journal_row_fn fn, void *arg,
                    struct journal_recovery *stats);

/* The recovered rows are in j: sync it, then delete the files read and let
 * other processes replay again.  0, or -1 when j failed (the files stay). */
int journal_recover_commit(struct journal *j);

/* Sync and stop the sync thread (waiters are dropped uncalled); when no
 * row is left, or the caller knows every row reached the database
 * (all_written), delete the group's files; free.  Returns how many rows
 * were left in the journal. */
size_t journal_close(struct journal *j, bool all_written);

#endif
