/*
 * journal.c - segment files, group commit and recovery (see journal.h).
 *
 * The writer side keeps its segments in an array, oldest first, each with
 * the first seq it holds and how many of its rows are not done; the last is
 * the one appended to.  Appends and done marks go to one buffer.  A sync
 * hands that buffer to the sync thread as a job (a fresh buffer takes new
 * appends meanwhile); the job writes it to the last segment, fdatasyncs it,
 * creates the next segment when the last is full and deletes the all-done
 * ones, then signals the loop through an eventfd.  Every file operation of
 * the writer is in the job, so the loop thread never waits on the disk: a
 * write() into the page cache can block too (dirty-page throttling, a page
 * under writeback).  The job is the only state the two threads share; the
 * mutex orders its hand-over and its return, the thread touches nothing
 * else.  One job at a time: appends made while it runs form the next one (a
 * group commit).  Without a loop there is no thread and journal_sync() runs
 * the job itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sink/journal.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/crc32c.h"
#include "util/durable.h"
#include "util/log.h"

#define MAGIC         "LOOMJNL1"
#define HEADER_BYTES  16
#define RECORD_HEADER 17 /* length, crc, type, seq */
#define SEG_MIN_BYTES (64u << 10)
#define SEG_MAX_BYTES (64u << 20)

struct segment
{
	int fd; /* -1 while the job that creates it runs */
	char *path;
	uint64_t first_seq;
	uint64_t size; /* including what the running job writes */
	size_t live;
};

/* An open file and its name: a file read by recovery (deleted by
 * journal_recover_commit()), or an all-done segment a job deletes. */
struct open_file
{
	int fd;
	char *path;
};

/* One sync: prepared on the loop, run by the sync thread (or by
 * journal_sync()), its outcome read back on the loop. */
struct sync_job
{
	const char *dir;
	uint64_t target;
	int fd;        /* the segment written to */
	uint64_t base; /* its size before the write */
	char *buf;     /* the buffer taken from the journal */
	size_t len, cap;
	uint64_t last_seq; /* the last row in buf */
	char *seg_tmp;     /* non-NULL: then create the next segment */
	char *seg_path;
	struct open_file *drop; /* all-done segments to delete */
	size_t ndrop;

	int seg_fd; /* out: the segment created */
	int err;    /* out: errno of the failure, 0 when none */
	const char *what;
};

enum job_state
{
	JOB_IDLE,
	JOB_QUEUED, /* handed to the thread */
	JOB_DONE    /* finished, not yet collected by the loop */
};

/* A caller waiting for a row to be durable. */
struct waiter
{
	uint64_t seq;
	loop_fn fn;
	void *arg;
};

struct journal
{
	struct loop *loop;
	char *dir;
	uint64_t target;
	uint64_t max_bytes;
	uint64_t seg_bytes;
	long long group_time; /* wall-clock ns at open: with the pid, names the group */
	unsigned next_index;
	uint64_t next_seq;
	uint64_t synced; /* every row up to this seq is durable */
	struct segment *segs;
	size_t nsegs;
	char *buf; /* appends since the last job started */
	size_t len, cap;
	char *spare; /* the last job's buffer, for the next swap */
	size_t spare_cap;
	uint64_t bytes; /* segments plus buffer */
	size_t live;
	struct loop_timer *sync_timer; /* set while the buffer waits for its window */
	bool sync_due;                 /* the window ended while a job ran */
	bool failed;
	struct waiter *waiters;
	size_t nwaiters, wcap;

	/* The sync thread (only with a loop). */
	bool threaded;
	bool busy; /* a job is with the thread */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	enum job_state state; /* under mu */
	bool quit;            /* under mu */
	int event_fd;         /* written by the thread when a job is done */
	struct sync_job job;

	int lock_fd; /* held while recovered files are pending */
	struct open_file *rec;
	size_t nrec;
};

/* Little-endian fields. */
static void
put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char) (v >> (8 * i));
}

/* Little-endian fields. */
static void
put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char) (v >> (8 * i));
}

/* Little-endian fields. */
static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* Little-endian fields. */
static uint64_t
get_u64(const unsigned char *p)
{
	return (uint64_t) get_u32(p) | (uint64_t) get_u32(p + 4) << 32;
}

/* Append one record to the buffer. */
void
journal_encode(char **buf, size_t *len, size_t *cap, enum journal_record_type type, uint64_t seq,
               const char *data, size_t dlen)
{
	unsigned char *p;

	if (*len + RECORD_HEADER + dlen > *cap)
	{
		*cap = (*len + RECORD_HEADER + dlen) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	p = (unsigned char *) *buf + *len;
	put_u32(p, (uint32_t) dlen);
	p[8] = (unsigned char) type;
	put_u64(p + 9, seq);
	if (dlen > 0)
		memcpy(p + RECORD_HEADER, data, dlen);
	put_u32(p + 4, crc32c(crc32c(0, p + 8, 9), p + RECORD_HEADER, dlen));
	*len += RECORD_HEADER + dlen;
}

/* True when every byte of p[0..n) is zero. */
static bool
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Walk the records; the first bad one ends the walk as torn or corrupt. */
enum journal_scan_result
journal_scan(const void *data, size_t len, uint64_t *target, journal_record_fn fn, void *arg,
             size_t *good_len)
{
	const unsigned char *buf = data;
	size_t off = HEADER_BYTES;

	*good_len = 0;
	*target = 0;
	if (len < HEADER_BYTES)
		return memcmp(buf, MAGIC, len < 8 ? len : 8) == 0 ? JOURNAL_SCAN_TORN
		                                                  : JOURNAL_SCAN_CORRUPT;
	if (memcmp(buf, MAGIC, 8) != 0)
		return JOURNAL_SCAN_CORRUPT;
	*target = get_u64(buf + 8);
	*good_len = off;
	while (off < len)
	{
		const unsigned char *p = buf + off;
		size_t left = len - off;
		uint32_t dlen;
		struct journal_record rec;

		if (left < RECORD_HEADER)
			return JOURNAL_SCAN_TORN;
		dlen = get_u32(p);
		if (all_zero(p, left))
			return JOURNAL_SCAN_TORN;
		if (dlen > JOURNAL_MAX_RECORD)
			return JOURNAL_SCAN_CORRUPT;
		if (RECORD_HEADER + (size_t) dlen > left)
			return JOURNAL_SCAN_TORN;
		if (get_u32(p + 4) != crc32c(crc32c(0, p + 8, 9), p + RECORD_HEADER, dlen) ||
		    (p[8] != JOURNAL_ROW && p[8] != JOURNAL_DONE) || (p[8] == JOURNAL_DONE && dlen != 0))
			return JOURNAL_SCAN_CORRUPT;
		rec = (struct journal_record){(enum journal_record_type) p[8], get_u64(p + 9),
		                              (const char *) p + RECORD_HEADER, dlen};
		fn(arg, &rec);
		off += RECORD_HEADER + dlen;
		*good_len = off;
	}
	return JOURNAL_SCAN_OK;
}

/* Stop journaling after an I/O error, saying so once. */
static void
fail(struct journal *j, const char *what)
{
	if (!j->failed)
		log_error("journal: cannot %s in %s: %s; not starting new invocations, the running ones "
		          "are written to the database directly",
		          what, j->dir, strerror(errno));
	j->failed = true;
	j->len = 0;
}

/* A segment file name of this group: "j-<time>-<pid>-<index>.<ext>". */
static char *
segment_name(const struct journal *j, const char *ext)
{
	return xasprintf("%s/j-%lld-%ld-%u.%s", j->dir, j->group_time, (long) getpid(), j->next_index,
	                 ext);
}

/* Create a segment: made under a temporary name, locked, headed and synced,
 * then renamed, so no other process ever sees it unlocked.  Its fd, or -1
 * with errno. */
static int
create_segment(const char *dir, uint64_t target, const char *tmp, const char *path)
{
	unsigned char header[HEADER_BYTES];
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	memcpy(header, MAGIC, 8);
	put_u64(header + 8, target);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 ||
	    durable_write_all(fd, (const char *) header, HEADER_BYTES) != 0 || fdatasync(fd) != 0 ||
	    rename(tmp, path) != 0 || durable_sync_dir(dir) != 0)
	{
		int saved = errno;

		if (fd >= 0)
			close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Count a new last segment (fd -1 until its job created it). */
static void
add_segment(struct journal *j, int fd, char *path)
{
	j->next_index++;
	j->segs = xrealloc(j->segs, (j->nsegs + 1) * sizeof(*j->segs));
	j->segs[j->nsegs++] = (struct segment){fd, path, j->next_seq, HEADER_BYTES, 0};
	j->bytes += HEADER_BYTES;
}

/* The job's I/O: no journal state is touched here (it runs on the thread). */
static void
run_job(struct sync_job *job)
{
	job->err = 0;
	if (durable_write_all(job->fd, job->buf, job->len) != 0 || fdatasync(job->fd) != 0)
	{
		job->err = errno;
		job->what = "write the journal";
		if (ftruncate(job->fd, (off_t) job->base) == 0) /* leave no half record behind */
			lseek(job->fd, (off_t) job->base, SEEK_SET);
	}
	else if (job->seg_tmp != NULL &&
	         (job->seg_fd = create_segment(job->dir, job->target, job->seg_tmp, job->seg_path)) < 0)
	{
		job->err = errno;
		job->what = "create a segment";
	}
	/* Their rows are committed: deleting them is right whatever the write did. */
	for (size_t i = 0; i < job->ndrop; i++)
	{
		unlink(job->drop[i].path);
		close(job->drop[i].fd);
	}
	if (job->ndrop > 0)
		durable_sync_dir(job->dir);
}

/* Take the buffer into a job, with the segment rotation and deletions due. */
static void
prepare_job(struct journal *j)
{
	struct sync_job *job = &j->job;
	struct segment *last = &j->segs[j->nsegs - 1];
	size_t ndrop = 0;

	if (j->loop != NULL)
		loop_cancel_timer(j->loop, j->sync_timer);
	j->sync_timer = NULL;
	j->sync_due = false;
	*job = (struct sync_job){.dir = j->dir,
	                         .target = j->target,
	                         .fd = last->fd,
	                         .base = last->size,
	                         .buf = j->buf,
	                         .len = j->len,
	                         .cap = j->cap,
	                         .last_seq = j->next_seq - 1,
	                         .seg_fd = -1};
	last->size += j->len;
	j->buf = j->spare;
	j->cap = j->spare_cap;
	j->len = 0;
	j->spare = NULL;
	j->spare_cap = 0;
	while (ndrop + 1 < j->nsegs && j->segs[ndrop].live == 0)
		ndrop++;
	if (ndrop > 0)
	{
		job->drop = xmalloc(ndrop * sizeof(*job->drop));
		for (size_t i = 0; i < ndrop; i++)
		{
			job->drop[i] = (struct open_file){j->segs[i].fd, j->segs[i].path};
			j->bytes -= j->segs[i].size;
		}
		job->ndrop = ndrop;
		j->nsegs -= ndrop;
		memmove(j->segs, j->segs + ndrop, j->nsegs * sizeof(*j->segs));
	}
	if (j->segs[j->nsegs - 1].size >= j->seg_bytes)
	{
		job->seg_tmp = segment_name(j, "tmp");
		job->seg_path = segment_name(j, "seg");
		add_segment(j, -1, xstrdup(job->seg_path));
	}
}

/* Back on the loop's side: adopt what the job made, wake the waiters it served. */
static void
finish_job(struct journal *j)
{
	struct sync_job *job = &j->job;
	size_t kept = 0;

	free(j->spare);
	j->spare = job->buf;
	j->spare_cap = job->cap;
	if (job->seg_tmp != NULL)
		j->segs[j->nsegs - 1].fd = job->seg_fd;
	for (size_t i = 0; i < job->ndrop; i++)
		free(job->drop[i].path);
	free(job->drop);
	free(job->seg_tmp);
	free(job->seg_path);
	if (job->err != 0)
	{
		errno = job->err;
		fail(j, job->what);
	}
	else
		j->synced = job->last_seq;
	*job = (struct sync_job){0};
	for (size_t i = 0; i < j->nwaiters; i++)
	{
		if (j->failed || j->waiters[i].seq <= j->synced)
			loop_defer(j->loop, j->waiters[i].fn, j->waiters[i].arg);
		else
			j->waiters[kept++] = j->waiters[i];
	}
	j->nwaiters = kept;
}

/* The sync thread: run each job handed over, then say so on the eventfd. */
static void *
sync_thread(void *arg)
{
	struct journal *j = arg;
	const uint64_t one = 1;

	pthread_mutex_lock(&j->mu);
	for (;;)
	{
		while (j->state != JOB_QUEUED && !j->quit)
			pthread_cond_wait(&j->cond, &j->mu);
		if (j->state != JOB_QUEUED)
			break;
		pthread_mutex_unlock(&j->mu);
		run_job(&j->job);
		pthread_mutex_lock(&j->mu);
		j->state = JOB_DONE;
		pthread_cond_broadcast(&j->cond);
		/* Fails only when the counter is full: then the loop is woken already. */
		if (write(j->event_fd, &one, sizeof(one)) < 0)
			continue;
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* Start a job on the thread when a sync is wanted (a waiter, or the window
 * ended) and none runs. */
static void
kick(struct journal *j)
{
	if (j->busy || j->failed || j->len == 0 || (!j->sync_due && j->nwaiters == 0))
		return;
	prepare_job(j);
	j->busy = true;
	loop_hold(j->loop); /* the loop does not end with a sync under way */
	pthread_mutex_lock(&j->mu);
	j->state = JOB_QUEUED;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->mu);
}

/* Take the thread's finished job back; with wait, block until it is done.
 * Returns whether a job was collected. */
static bool
collect_job(struct journal *j, bool wait)
{
	bool done;

	if (!j->busy)
		return false;
	pthread_mutex_lock(&j->mu);
	while (wait && j->state != JOB_DONE)
		pthread_cond_wait(&j->cond, &j->mu);
	done = j->state == JOB_DONE;
	if (done)
		j->state = JOB_IDLE;
	pthread_mutex_unlock(&j->mu);
	if (!done)
		return false;
	j->busy = false;
	loop_release(j->loop);
	finish_job(j);
	return true;
}

/* The eventfd: a job is done. */
static void
on_job_done(void *arg, int fd, short revents)
{
	struct journal *j = arg;
	uint64_t count;

	if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warning("journal: reading the sync thread's eventfd: %s", strerror(errno));
	if (collect_job(j, false))
		kick(j);
}

/* Write and fdatasync everything appended, here and now. */
int
journal_sync(struct journal *j)
{
	collect_job(j, true);
	if (!j->failed && j->len > 0)
	{
		prepare_job(j);
		run_job(&j->job);
		finish_job(j);
	}
	return j->failed ? -1 : 0;
}

/* The group commit's window is over. */
static void
window_ended(void *arg)
{
	struct journal *j = arg;

	j->sync_timer = NULL;
	j->sync_due = true;
	kick(j);
}

/* Make sure a sync follows the appends within the window. */
static void
schedule_sync(struct journal *j)
{
	if (j->loop != NULL && j->sync_timer == NULL && !j->sync_due)
		j->sync_timer = loop_add_timer(
		    j->loop, loop_now(j->loop) + JOURNAL_SYNC_WINDOW_MS * NS_PER_MS, window_ended, j);
}

/* Every row up to the returned seq may go to the database. */
uint64_t
journal_synced(const struct journal *j)
{
	return j->failed ? UINT64_MAX : j->synced;
}

/* Call fn once seq is durable, starting a sync now if none runs. */
void
journal_wait(struct journal *j, uint64_t seq, loop_fn fn, void *arg)
{
	if (seq <= journal_synced(j))
	{
		loop_defer(j->loop, fn, arg);
		return;
	}
	if (j->nwaiters == j->wcap)
	{
		j->wcap = j->wcap ? j->wcap * 2 : 4;
		j->waiters = xrealloc(j->waiters, j->wcap * sizeof(*j->waiters));
	}
	j->waiters[j->nwaiters++] = (struct waiter){seq, fn, arg};
	kick(j);
}

/* A row: buffered, counted live in the last segment. */
uint64_t
journal_append(struct journal *j, const char *data, size_t len)
{
	uint64_t seq;

	if (j->failed)
		return 0;
	seq = j->next_seq++;
	journal_encode(&j->buf, &j->len, &j->cap, JOURNAL_ROW, seq, data, len);
	j->bytes += RECORD_HEADER + len;
	j->segs[j->nsegs - 1].live++;
	j->live++;
	schedule_sync(j);
	return seq;
}

/* A done mark: the segment holding seq has one live row fewer. */
void
journal_done(struct journal *j, uint64_t seq)
{
	size_t i = j->nsegs;

	if (seq == 0 || j->failed)
		return;
	while (i > 0 && j->segs[i - 1].first_seq > seq)
		i--;
	if (i == 0 || j->segs[i - 1].live == 0)
		return;
	j->segs[i - 1].live--;
	j->live--;
	journal_encode(&j->buf, &j->len, &j->cap, JOURNAL_DONE, seq, NULL, 0);
	j->bytes += RECORD_HEADER;
	schedule_sync(j);
}

/* Accessors. */
bool
journal_full(const struct journal *j)
{
	return j->bytes >= j->max_bytes;
}

bool
journal_failed(const struct journal *j)
{
	return j->failed;
}

uint64_t
journal_bytes(const struct journal *j)
{
	return j->bytes;
}

const char *
journal_dir(const struct journal *j)
{
	return j->dir;
}

size_t
journal_live(const struct journal *j)
{
	return j->live;
}

/* The first of the documented places that is set. */
char *
journal_default_dir(void)
{
	const char *env = getenv("LOOMLAT_JOURNAL_DIR");
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");

	if (env != NULL && env[0] != '\0')
		return xstrdup(env);
	if (state != NULL && state[0] == '/')
		return xasprintf("%s/loomlat/journal", state);
	if (home != NULL && home[0] == '/')
		return xasprintf("%s/.local/state/loomlat/journal", home);
	return xasprintf("/var/tmp/loomlat-%ld/journal", (long) getuid());
}

/* mkdir -p, the last level 0700; the directory must be the user's own. */
static int
make_dir(const char *dir, char *err, size_t errlen)
{
	char *path = xstrdup(dir);
	struct stat st;

	for (char *p = path + 1; *p != '\0'; p++)
	{
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	free(path);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
	{
		snprintf(err, errlen, "journal: cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
	{
		snprintf(err, errlen, "journal: %s is not a directory of this user", dir);
		return -1;
	}
	return 0;
}

/* Start the sync thread with every signal blocked (the loop takes them). */
static int
start_thread(struct journal *j)
{
	sigset_t all, old;
	int rc;

	j->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (j->event_fd < 0)
		return -1;
	if (loop_watch_fd(j->loop, j->event_fd, POLLIN | LOOP_WEAK, on_job_done, j) != 0)
	{
		close(j->event_fd);
		return -1;
	}
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cond, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&j->thread, NULL, sync_thread, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
	{
		loop_watch_fd(j->loop, j->event_fd, 0, NULL, NULL);
		close(j->event_fd);
		pthread_mutex_destroy(&j->mu);
		pthread_cond_destroy(&j->cond);
		errno = rc;
		return -1;
	}
	j->threaded = true;
	return 0;
}

/* Join the sync thread (its job collected already). */
static void
stop_thread(struct journal *j)
{
	if (!j->threaded)
		return;
	pthread_mutex_lock(&j->mu);
	j->quit = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->mu);
	pthread_join(j->thread, NULL);
	loop_watch_fd(j->loop, j->event_fd, 0, NULL, NULL);
	close(j->event_fd);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cond);
	j->threaded = false;
}

/* Create the directory, the group's first segment and, with a loop, the sync thread. */
struct journal *
journal_open(struct loop *loop, const char *dir, uint64_t target, uint64_t max_bytes, char *err,
             size_t errlen)
{
	struct journal *j;
	struct timespec now;
	char *tmp, *path;
	int fd;

	if (make_dir(dir, err, errlen) != 0)
		return NULL;
	j = xcalloc(1, sizeof(*j));
	j->loop = loop;
	j->dir = xstrdup(dir);
	j->target = target;
	j->max_bytes = max_bytes;
	j->seg_bytes = max_bytes / 8;
	if (j->seg_bytes < SEG_MIN_BYTES)
		j->seg_bytes = SEG_MIN_BYTES;
	if (j->seg_bytes > SEG_MAX_BYTES)
		j->seg_bytes = SEG_MAX_BYTES;
	clock_gettime(CLOCK_REALTIME, &now);
	j->group_time = (long long) now.tv_sec * 1000000000 + now.tv_nsec;
	j->next_seq = 1;
	j->lock_fd = -1;
	tmp = segment_name(j, "tmp");
	path = segment_name(j, "seg");
	fd = create_segment(j->dir, j->target, tmp, path);
	free(tmp);
	if (fd < 0)
	{
		snprintf(err, errlen, "journal: cannot create a segment in %s: %s", dir, strerror(errno));
		free(path);
		free(j->dir);
		free(j);
		return NULL;
	}
	add_segment(j, fd, path);
	if (loop != NULL && start_thread(j) != 0)
	{
		snprintf(err, errlen, "journal: cannot start its sync thread: %s", strerror(errno));
		journal_close(j, true);
		return NULL;
	}
	return j;
}

/* One segment file name taken apart. */
struct seg_name
{
	long long time;
	long pid;
	unsigned index;
	char *name;
};

/* Oldest group first, then by index. */
static int
cmp_seg_name(const void *a, const void *b)
{
	const struct seg_name *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* A group's rows, in seq order, with their done marks. */
struct group_rows
{
	struct journal_record *rows; /* data copied */
	bool *done;
	size_t n, cap;
	uint64_t *dones;
	size_t ndones, dcap;
};

/* Collect one record of a group. */
static void
collect(void *arg, const struct journal_record *rec)
{
	struct group_rows *g = arg;

	if (rec->type == JOURNAL_DONE)
	{
		if (g->ndones == g->dcap)
		{
			g->dcap = g->dcap ? g->dcap * 2 : 64;
			g->dones = xrealloc(g->dones, g->dcap * sizeof(*g->dones));
		}
		g->dones[g->ndones++] = rec->seq;
		return;
	}
	if (g->n == g->cap)
	{
		g->cap = g->cap ? g->cap * 2 : 64;
		g->rows = xrealloc(g->rows, g->cap * sizeof(*g->rows));
	}
	g->rows[g->n] = *rec;
	g->rows[g->n].data = xstrndup(rec->data, rec->len);
	g->n++;
}

/* Read a whole file; NULL on error. */
static char *
read_fd(int fd, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fstat(fd, &st) != 0)
		return NULL;
	buf = xmalloc((size_t) st.st_size + 1);
	while (got < (size_t) st.st_size)
	{
		ssize_t n = pread(fd, buf + got, (size_t) st.st_size - got, (off_t) got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t) n;
	}
	*len = got;
	return buf;
}

/* Find seq among the group's rows (they are in seq order). */
static size_t
find_row(const struct group_rows *g, uint64_t seq)
{
	size_t lo = 0, hi = g->n;

	while (lo < hi)
	{
		size_t mid = lo + (hi - lo) / 2;

		if (g->rows[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->n && g->rows[lo].seq == seq ? lo : g->n;
}

/* Read the files names[0..n) of one dead group (already locked in fds). */
static void
read_group(struct journal *j, struct seg_name *names, int *fds, size_t n, journal_row_fn fn,
           void *arg, struct journal_recovery *stats)
{
	struct group_rows g = {0};
	bool intact = true;

	for (size_t i = 0; i < n; i++)
	{
		char *path = xasprintf("%s/%s", j->dir, names[i].name);
		size_t len = 0, good = 0;
		uint64_t target;
		char *buf = read_fd(fds[i], &len);
		enum journal_scan_result r = buf != NULL
		                                 ? journal_scan(buf, len, &target, collect, &g, &good)
		                                 : JOURNAL_SCAN_CORRUPT;

		stats->files++;
		if (r == JOURNAL_SCAN_TORN && len > good)
		{
			log_warning("journal: %zu bytes of a torn record dropped from %s", len - good, path);
			stats->torn_bytes += len - good;
		}
		if (r == JOURNAL_SCAN_CORRUPT)
		{
			char *kept = xasprintf("%s.corrupt", path);

			log_error("journal: %s is corrupt at byte %zu; the %s records before it are "
			          "replayed, the file is kept as %s",
			          path, good, good > HEADER_BYTES ? "good" : "(no)", kept);
			if (rename(path, kept) == 0)
			{
				close(fds[i]);
				fds[i] = -1;
			}
			free(kept);
			stats->corrupt++;
			intact = false;
		}
		free(buf);
		if (fds[i] >= 0)
		{
			j->rec = xrealloc(j->rec, (j->nrec + 1) * sizeof(*j->rec));
			j->rec[j->nrec++] = (struct open_file){fds[i], path};
		}
		else
			free(path);
	}
	for (size_t i = 0; i < g.ndones; i++)
	{
		size_t k = find_row(&g, g.dones[i]);

		if (k < g.n)
			g.rows[k].type = JOURNAL_DONE;
	}
	for (size_t i = 0; i < g.n; i++)
	{
		if (g.rows[i].type == JOURNAL_ROW)
		{
			fn(arg, g.rows[i].data, g.rows[i].len, intact);
			stats->rows++;
		}
		free((char *) g.rows[i].data);
	}
	free(g.rows);
	free(g.dones);
}

/* A file's header target, or 0 when it has none. */
static uint64_t
file_target(int fd)
{
	unsigned char header[HEADER_BYTES];

	if (pread(fd, header, HEADER_BYTES, 0) != HEADER_BYTES || memcmp(header, MAGIC, 8) != 0)
		return 0;
	return get_u64(header + 8);
}

/* Lock the group names[0..n); read it when its owner is gone and it is ours. */
static void
try_group(struct journal *j, struct seg_name *names, size_t n, journal_row_fn fn, void *arg,
          struct journal_recovery *stats)
{
	int *fds = xcalloc(n, sizeof(int));
	bool usable = true;

	for (size_t i = 0; i < n; i++)
	{
		char *path = xasprintf("%s/%s", j->dir, names[i].name);
		uint64_t target;

		fds[i] = open(path, O_RDWR | O_CLOEXEC);
		free(path);
		if (fds[i] < 0 || flock(fds[i], LOCK_EX | LOCK_NB) != 0)
		{
			usable = false;
			continue;
		}
		target = file_target(fds[i]);
		if (target != 0 && target != j->target)
			usable = false;
	}
	if (usable)
		read_group(j, names, fds, n, fn, arg, stats);
	else
	{
		stats->skipped += n;
		for (size_t i = 0; i < n; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	free(fds);
}

/* Find the dead groups and read them. */
int
journal_recover(struct journal *j, journal_row_fn fn, void *arg, struct journal_recovery *stats)
{
	char *lock = xasprintf("%s/lock", j->dir);
	struct seg_name *names = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *e;

	*stats = (struct journal_recovery){0};
	j->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (j->lock_fd < 0 || flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0)
	{
		log_warning("journal: another loomlat is replaying %s; not replaying it", j->dir);
		if (j->lock_fd >= 0)
			close(j->lock_fd);
		j->lock_fd = -1;
		return -1;
	}
	d = opendir(j->dir);
	while (d != NULL && (e = readdir(d)) != NULL)
	{
		struct seg_name s;
		int end = 0;

		if (sscanf(e->d_name, "j-%lld-%ld-%u.seg%n", &s.time, &s.pid, &s.index, &end) != 3 ||
		    e->d_name[end] != '\0' || end == 0)
			continue;
		if (s.pid == (long) getpid() && s.time == j->group_time)
			continue;
		s.name = xstrdup(e->d_name);
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = s;
	}
	if (d != NULL)
		closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_seg_name);
	for (size_t i = 0; i < n;)
	{
		size_t k = i + 1;

		while (k < n && names[k].time == names[i].time && names[k].pid == names[i].pid)
			k++;
		try_group(j, names + i, k - i, fn, arg, stats);
		i = k;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i].name);
	free(names);
	return 0;
}

/* Sync j, then delete the recovered files. */
int
journal_recover_commit(struct journal *j)
{
	int rc = journal_sync(j);

	for (size_t i = 0; i < j->nrec; i++)
	{
		if (rc == 0)
			unlink(j->rec[i].path);
		close(j->rec[i].fd);
		free(j->rec[i].path);
	}
	free(j->rec);
	j->rec = NULL;
	j->nrec = 0;
	if (rc == 0)
		durable_sync_dir(j->dir);
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	j->lock_fd = -1;
	return rc;
}

/* Last sync; an all-done journal leaves no file.  Waiters are dropped
 * uncalled (their owners are going too). */
size_t
journal_close(struct journal *j, bool all_written)
{
	size_t live;
	bool remove;

	if (j == NULL)
		return 0;
	j->nwaiters = 0;
	journal_sync(j);
	stop_thread(j);
	if (j->loop != NULL)
		loop_cancel_timer(j->loop, j->sync_timer);
	live = all_written ? 0 : j->live;
	remove = all_written || (live == 0 && !j->failed);
	for (size_t i = 0; i < j->nrec; i++)
	{
		close(j->rec[i].fd);
		free(j->rec[i].path);
	}
	free(j->rec);
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	for (size_t i = 0; i < j->nsegs; i++)
	{
		if (remove)
			unlink(j->segs[i].path);
		if (j->segs[i].fd >= 0)
			close(j->segs[i].fd);
		free(j->segs[i].path);
	}
	if (remove)
		durable_sync_dir(j->dir);
	free(j->segs);
	free(j->buf);
	free(j->spare);
	free(j->waiters);
	free(j->dir);
	free(j);
	return live;
}
