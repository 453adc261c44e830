/*
 * The data cache: a file's data in blocks hung off its inode, bounded by
 * cache_size for the whole volume (clean blocks go least recently used
 * first), read ahead of a sequential reader and written back behind a
 * writer, both through the backend's asynchronous calls. Used over
 * backends that keep no cache of their own (NFS); CephFS has libcephfs'.
 *
 * Writes land in blocks and return; the volume's flusher thread sends
 * full runs (up to WB_RUN bytes, one request) at once and the rest after
 * WB_AGE; fsync, flush (every close(2)) and getattr send everything and
 * wait. A failed write-back is counted on the inode (wb_seq) and reported
 * once to every open file by its next flush, fsync or close.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

#define NSEC 1000000000ULL
#define DBLOCK_MASK (DBLOCK_SIZE - 1)
/* The most one read or write-back carries: the backend cuts it into one
 * piece per connection, each up to the server's rsize/wsize. */
#define RUN_MAX (8 * 1024 * 1024)
/* Written data is sent within about this much time. */
#define WB_AGE (NSEC / 2)
#define FLUSH_TICK (NSEC / 10)
/* Read-ahead starts at RA_MIN past a sequential reader and doubles up to
 * RA_MAX (and a quarter of the cache). */
#define RA_MIN (256 * 1024)
#define RA_MAX (16 * 1024 * 1024)
/* What a backend may keep written and not yet committed, at most (NFS:
 * nfs_unstable_init): counted in cache_size. */
#define UNSTABLE_MAX (64ULL * 1024 * 1024)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static void add(uint64_t *counter, uint64_t v)
{
	__atomic_add_fetch(counter, v, __ATOMIC_RELAXED);
}

void deadline_in(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ns / NSEC);
	ts->tv_nsec += (long)(ns % NSEC);
	if (ts->tv_nsec >= (long)NSEC) {
		ts->tv_sec++;
		ts->tv_nsec -= (long)NSEC;
	}
}

/* ---- the blocks of an inode (its lock held) ------------------------------------ */

void data_inode_init(struct podfs_inode *in)
{
	in->dsize = -1;
	pthread_cond_init(&in->dcond, NULL);
}

static size_t dslot(const struct podfs_inode *in, uint64_t index)
{
	return (size_t)((index * 0x9e3779b97f4a7c15ULL) >> 32) &
	       (in->dbuckets - 1);
}

static struct dblock *dblock_find(struct podfs_inode *in, uint64_t index)
{
	struct dblock *b;

	if (!in->dbuckets)
		return NULL;
	for (b = in->dblocks[dslot(in, index)]; b; b = b->next)
		if (b->index == index)
			return b;
	return NULL;
}

static void dblock_link(struct podfs_inode *in, struct dblock *b)
{
	size_t i = dslot(in, b->index);

	b->next = in->dblocks[i];
	in->dblocks[i] = b;
}

static void dblocks_grow(struct podfs_inode *in)
{
	uint32_t old = in->dbuckets, n = old ? old * 2 : 16;
	struct dblock **buckets = calloc(n, sizeof(*buckets)), **prev;

	if (!buckets)
		return; /* the chains get longer */
	prev = in->dblocks;
	in->dblocks = buckets;
	in->dbuckets = n;
	for (uint32_t i = 0; i < old; i++) {
		struct dblock *b = prev[i], *next;

		for (; b; b = next) {
			next = b->next;
			dblock_link(in, b);
		}
	}
	free(prev);
}

static void dblock_unlink(struct podfs_inode *in, struct dblock *b)
{
	struct dblock **pp = &in->dblocks[dslot(in, b->index)];

	while (*pp != b)
		pp = &(*pp)->next;
	*pp = b->next;
	in->ndblocks--;
}

/* B goes (dc->lock held, B out of its inode and the LRU, its bytes off
 * dc->bytes): kept for the next block while the cache has room, since a
 * fresh one is memory faulted in page by page. */
static void dblock_free(struct data_cache *dc, struct dblock *b)
{
	if (!dc->stop &&
	    dc->bytes + dc->spare_bytes + DBLOCK_SIZE <= dc->limit) {
		b->next = dc->spare;
		dc->spare = b;
		dc->spare_bytes += DBLOCK_SIZE;
		return;
	}
	free(b->data);
	free(b);
}

static bool dblock_clean(const struct dblock *b)
{
	return b->dstart == b->dend;
}

/* B, clean and idle, may be evicted from now on (most recently used). */
static void dblock_settle(struct data_cache *dc, struct dblock *b)
{
	if (!dblock_clean(b) || b->reading || b->lent)
		return;
	pthread_mutex_lock(&dc->lock);
	if (b->on_lru)
		TAILQ_REMOVE(&dc->lru, b, lru);
	TAILQ_INSERT_TAIL(&dc->lru, b, lru);
	b->on_lru = true;
	pthread_mutex_unlock(&dc->lock);
}

/* B is about to be written or filled: not evictable meanwhile. */
static void dblock_busy(struct data_cache *dc, struct dblock *b)
{
	if (!b->on_lru)
		return;
	pthread_mutex_lock(&dc->lock);
	TAILQ_REMOVE(&dc->lru, b, lru);
	b->on_lru = false;
	pthread_mutex_unlock(&dc->lock);
}

/* Makes room for NEED more bytes by evicting clean idle blocks, least
 * recently used first (dc->lock held). SELF's lock is held by the caller;
 * other inodes' are only tried, never waited for. */
static bool evict(struct data_cache *dc, struct podfs_inode *self,
		  uint64_t need)
{
	int busy = 0;

	while (dc->bytes + need > dc->limit) {
		struct dblock *b = TAILQ_FIRST(&dc->lru);
		struct podfs_inode *owner;

		if (!b || busy > 64)
			return false;
		owner = b->in;
		if (owner != self && pthread_mutex_trylock(&owner->lock)) {
			TAILQ_REMOVE(&dc->lru, b, lru);
			TAILQ_INSERT_TAIL(&dc->lru, b, lru);
			busy++;
			continue;
		}
		TAILQ_REMOVE(&dc->lru, b, lru);
		dblock_unlink(owner, b);
		dc->bytes -= DBLOCK_SIZE;
		if (owner != self)
			pthread_mutex_unlock(&owner->lock);
		dblock_free(dc, b);
	}
	return true;
}

/* A new, empty, busy block INDEX of IN; NULL when the cache is full of
 * dirty or busy blocks (or memory ran out). */
static struct dblock *dblock_new(struct podfs_volume *vol,
				 struct podfs_inode *in, uint64_t index)
{
	struct data_cache *dc = &vol->data;
	struct dblock *b;
	bool room;

	pthread_mutex_lock(&dc->lock);
	room = evict(dc, in, DBLOCK_SIZE);
	b = room ? dc->spare : NULL;
	if (b) {
		dc->spare = b->next;
		dc->spare_bytes -= DBLOCK_SIZE;
	}
	if (room)
		dc->bytes += DBLOCK_SIZE;
	pthread_mutex_unlock(&dc->lock);
	if (!room)
		return NULL;
	if (b) {
		char *data = b->data;

		memset(b, 0, sizeof(*b));
		b->data = data;
	} else {
		b = calloc(1, sizeof(*b));
		if (b)
			b->data = malloc(DBLOCK_SIZE);
		if (!b || !b->data) {
			free(b);
			pthread_mutex_lock(&dc->lock);
			dc->bytes -= DBLOCK_SIZE;
			pthread_mutex_unlock(&dc->lock);
			return NULL;
		}
	}
	b->in = in;
	b->index = index;
	if (in->ndblocks >= in->dbuckets)
		dblocks_grow(in);
	if (!in->dbuckets) {
		pthread_mutex_lock(&dc->lock);
		dc->bytes -= DBLOCK_SIZE;
		dblock_free(dc, b);
		pthread_mutex_unlock(&dc->lock);
		return NULL;
	}
	dblock_link(in, b);
	in->ndblocks++;
	return b;
}

/* The cache is full of what can't go yet: let the flusher work, and wait
 * a little (IN's lock is let go meanwhile). */
static void wait_room(struct podfs_volume *vol, struct podfs_inode *in)
{
	struct data_cache *dc = &vol->data;
	struct timespec ts;

	pthread_mutex_unlock(&in->lock);
	deadline_in(&ts, FLUSH_TICK);
	pthread_mutex_lock(&dc->lock);
	pthread_cond_signal(&dc->kick);
	pthread_cond_timedwait(&dc->room, &dc->lock, &ts);
	pthread_mutex_unlock(&dc->lock);
	pthread_mutex_lock(&in->lock);
}

void data_inode_free(struct podfs_volume *vol, struct podfs_inode *in)
{
	struct data_cache *dc = &vol->data;

	pthread_mutex_lock(&dc->lock);
	for (uint32_t i = 0; i < in->dbuckets; i++) {
		struct dblock *b = in->dblocks[i], *next;

		for (; b; b = next) {
			next = b->next;
			if (b->on_lru)
				TAILQ_REMOVE(&dc->lru, b, lru);
			dc->bytes -= DBLOCK_SIZE;
			dc->dirty -= b->dend - b->dstart;
			dblock_free(dc, b);
		}
	}
	pthread_mutex_unlock(&dc->lock);
	free(in->dblocks);
	in->dblocks = NULL;
	in->dbuckets = in->ndblocks = 0;
	pthread_cond_destroy(&in->dcond);
}

void data_invalidate(struct podfs_volume *vol, struct podfs_inode *in)
{
	struct data_cache *dc = &vol->data;

	pthread_mutex_lock(&in->lock);
	/* reads in flight may bring what is invalid now */
	in->data_gen++;
	pthread_mutex_lock(&dc->lock);
	for (uint32_t i = 0; i < in->dbuckets; i++) {
		struct dblock **pp = &in->dblocks[i], *b;

		while ((b = *pp)) {
			if (!dblock_clean(b) || b->reading) {
				pp = &b->next;
				continue;
			}
			if (b->lent) {
				/* stays until its readers end, empty */
				b->vend = 0;
				pp = &b->next;
				continue;
			}
			*pp = b->next;
			in->ndblocks--;
			if (b->on_lru)
				TAILQ_REMOVE(&dc->lru, b, lru);
			dc->bytes -= DBLOCK_SIZE;
			dblock_free(dc, b);
		}
	}
	pthread_cond_broadcast(&dc->room);
	pthread_mutex_unlock(&dc->lock);
	pthread_mutex_unlock(&in->lock);
}

void data_server_size(struct podfs_inode *in, off_t size)
{
	/* what we wrote and the server does not have yet counts too */
	if (in->ndirty || in->io)
		in->dsize = size > in->dsize ? size : in->dsize;
	else
		in->dsize = size;
}

void data_set_size(struct podfs_inode *in, off_t size)
{
	pthread_mutex_lock(&in->lock);
	/* a read sent before may say the end of file was elsewhere */
	in->data_gen++;
	in->dsize = size;
	pthread_mutex_unlock(&in->lock);
}

void data_patch_size(struct podfs_inode *in, struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return;
	pthread_mutex_lock(&in->lock);
	if ((in->ndirty || in->io) && in->dsize > st->st_size)
		st->st_size = in->dsize;
	pthread_mutex_unlock(&in->lock);
}

void data_forget_size(struct podfs_inode *in)
{
	pthread_mutex_lock(&in->lock);
	in->dsize = -1;
	pthread_mutex_unlock(&in->lock);
}

bool data_dirty(struct podfs_inode *in)
{
	return __atomic_load_n(&in->ndirty, __ATOMIC_RELAXED) != 0;
}

bool data_unsettled(struct podfs_inode *in)
{
	return data_dirty(in) ||
	       __atomic_load_n(&in->wb_io, __ATOMIC_RELAXED) != 0;
}

/* ---- reading ---------------------------------------------------------------------- */

/* A read of blocks FIRST.. (N of them, busy and clean) from the server,
 * straight into their memory (IOV: one piece per block). */
struct dread {
	struct podfs_volume *vol;
	struct podfs_inode *in;
	uint64_t first;
	uint32_t n;
	uint32_t wb_sent; /* the inode's when the read was sent */
	uint32_t gen;	  /* the inode's data_gen then */
	bool waited;	  /* a reader waits for it (and frees it) */
	bool ended;
	bool stale;	  /* the size or data changed meanwhile: unused */
	ssize_t result;
	char *msg; /* why it failed, from the thread that finished it */
	struct iovec iov[];
};

/* The read of R ended with RESULT (bytes or -errno): its blocks hold
 * what it read (IN's lock held). */
static void dread_fill(struct dread *r, ssize_t result)
{
	struct podfs_inode *in = r->in;
	uint64_t len = (uint64_t)r->n * DBLOCK_SIZE;

	/* A truncate (or another client's change) since it was sent: what
	 * it read may be of the file before, its end of file too. A read
	 * that extended a file would otherwise end where it ended before;
	 * one that shrank it would keep the bytes cut off. */
	r->stale = in->data_gen != r->gen;
	for (uint32_t k = 0; k < r->n; k++) {
		struct dblock *b = dblock_find(in, r->first + k);
		ssize_t got = result - (ssize_t)k * DBLOCK_SIZE;

		if (!b)
			continue;
		if (r->stale)
			got = 0;
		else if (got > (ssize_t)DBLOCK_SIZE)
			got = DBLOCK_SIZE;
		b->vend = result >= 0 && got > 0 ? (uint32_t)got : 0;
		b->reading = false;
		dblock_settle(&r->vol->data, b);
	}
	/* the server's end of the file, unless we wrote past it, or wrote
	 * meanwhile (the server may have answered the read first) */
	if (result >= 0 && (uint64_t)result < len && !in->ndirty &&
	    !in->wb_io && in->wb_sent == r->wb_sent && !r->stale) {
		off_t end = (off_t)(r->first << DBLOCK_SHIFT) + result;

		if (in->dsize < 0 || end < in->dsize)
			in->dsize = end;
	}
	in->io--;
	r->result = result;
	r->ended = true;
	pthread_cond_broadcast(&in->dcond);
}

/* A buffer for one request of LEN bytes: from the pool when it fits. */
static char *io_buf_get(struct data_cache *dc, size_t len)
{
	char *buf = NULL;

	if (len > dc->run)
		return malloc(len);
	pthread_mutex_lock(&dc->lock);
	if (dc->nbufs)
		buf = dc->bufs[--dc->nbufs];
	pthread_mutex_unlock(&dc->lock);
	return buf ? buf : malloc(dc->run);
}

static void io_buf_put(struct data_cache *dc, char *buf, size_t len)
{
	if (len <= dc->run) {
		pthread_mutex_lock(&dc->lock);
		if (dc->nbufs < dc->max_bufs) {
			dc->bufs[dc->nbufs++] = buf;
			buf = NULL;
		}
		pthread_mutex_unlock(&dc->lock);
	}
	free(buf);
}

/* A request of LEN bytes is over. The last thing its end does with the
 * volume: once the I/O in flight is none, data_stop may free the cache
 * (an inode's waiter, woken before, may have closed the last file). */
static void io_ended(struct data_cache *dc, uint64_t len)
{
	pthread_mutex_lock(&dc->lock);
	dc->io -= len;
	pthread_cond_broadcast(&dc->room);
	pthread_mutex_unlock(&dc->lock);
}

static void dread_free(struct dread *r)
{
	struct data_cache *dc = &r->vol->data;
	uint64_t len = (uint64_t)r->n * DBLOCK_SIZE;

	free(r->msg);
	free(r);
	io_ended(dc, len);
}

static void dread_done(void *arg, ssize_t result)
{
	struct dread *r = arg;
	bool waited;

	pthread_mutex_lock(&r->in->lock);
	waited = r->waited;
	if (result < 0 && waited)
		r->msg = error_copy(r->vol);
	dread_fill(r, result);
	pthread_mutex_unlock(&r->in->lock);
	if (!waited)
		dread_free(r);
}

/* Marks up to MAX blocks from FIRST busy for a read from the server (the
 * absent ones made; FIRST may be one that exists, clean): the run stops
 * at a block that exists or can't be made. NULL when not even FIRST. */
static struct dread *dread_prepare(struct podfs_volume *vol,
				   struct podfs_inode *in, uint64_t first,
				   uint32_t max)
{
	struct data_cache *dc = &vol->data;
	struct dread *r = calloc(1, sizeof(*r) + max * sizeof(r->iov[0]));
	uint32_t n = 0;

	if (!r)
		return NULL;
	for (; n < max; n++) {
		struct dblock *b = dblock_find(in, first + n);

		if (b && (n > 0 || b->reading || b->lent || !dblock_clean(b)))
			break;
		if (!b)
			b = dblock_new(vol, in, first + n);
		if (!b)
			break;
		dblock_busy(dc, b);
		b->reading = true;
		b->vend = 0;
		r->iov[n].iov_base = b->data;
		r->iov[n].iov_len = DBLOCK_SIZE;
	}
	if (!n) {
		free(r);
		return NULL;
	}
	r->vol = vol;
	r->in = in;
	r->first = first;
	r->n = n;
	r->wb_sent = in->wb_sent;
	r->gen = in->data_gen;
	in->io++;
	pthread_mutex_lock(&dc->lock);
	dc->io += (uint64_t)n * DBLOCK_SIZE;
	pthread_mutex_unlock(&dc->lock);
	return r;
}

static bool dblock_has(const struct dblock *b, uint32_t off, uint32_t n)
{
	return off + n <= b->vend ||
	       (off >= b->dstart && off + n <= b->dend);
}

/* N bytes of B from BOFF into OUT, where the server's data ends inside
 * them (B's lock held): what B holds (the server's, up to vend, and what
 * was written here), zeros for the rest, a hole the server does not have
 * yet. */
static void dblock_copy_hole(const struct dblock *b, uint32_t boff,
			     uint32_t n, char *out)
{
	bool dirty = !dblock_clean(b);
	uint32_t at = boff, end = boff + n, to;

	while (at < end) {
		if (at < b->vend || (dirty && at >= b->dstart && at < b->dend)) {
			to = at < b->vend ? b->vend : b->dend;
			to = to < end ? to : end;
			memcpy(out + (at - boff), b->data + at, to - at);
		} else {
			to = dirty && b->dstart > at && b->dstart < end ?
				     b->dstart : end;
			memset(out + (at - boff), 0, to - at);
		}
		at = to;
	}
}

/* Reads from the server into the blocks from INDEX on (IN's lock held,
 * let go meanwhile): 1 when it read, 2 when the caller should look again
 * (nothing read: it waited for room or a flush, or what it read was
 * stale by the time it came), -errno. */
static int read_miss(struct podfs_volume *vol, struct podfs_file *f,
		     uint64_t index, size_t want)
{
	struct podfs_inode *in = f->inode;
	uint32_t max = (uint32_t)((want + DBLOCK_SIZE - 1) >> DBLOCK_SHIFT);
	struct dblock *b = dblock_find(in, index);
	struct dread *r;
	ssize_t got;
	bool stale;

	if (b && !dblock_clean(b)) {
		/* part written here, part not: the server gets ours first */
		pthread_mutex_unlock(&in->lock);
		data_flush(vol, in, NULL);
		pthread_mutex_lock(&in->lock);
		return 2;
	}
	if (in->wb_io) {
		/* what we sent must be the server's before we read it */
		pthread_cond_wait(&in->dcond, &in->lock);
		return 2;
	}
	if (max > vol->data.run / DBLOCK_SIZE)
		max = vol->data.run / DBLOCK_SIZE;
	if (max < 1)
		max = 1;
	r = dread_prepare(vol, in, index, max);
	if (!r) {
		wait_room(vol, in);
		return 2;
	}
	r->waited = true;
	pthread_mutex_unlock(&in->lock);
	got = dispatch_read_async(vol, f, r->iov, (int)r->n,
				  (off_t)(index << DBLOCK_SHIFT), dread_done, r);
	pthread_mutex_lock(&in->lock);
	if (got)
		dread_fill(r, got);
	while (!r->ended)
		pthread_cond_wait(&in->dcond, &in->lock);
	got = r->result;
	if (got < 0 && r->msg)
		error_set_mine(vol, r->msg);
	stale = r->stale;
	/* the lock is let go only to account, never while filling */
	pthread_mutex_unlock(&in->lock);
	dread_free(r);
	pthread_mutex_lock(&in->lock);
	if (got < 0)
		return (int)got;
	return stale ? 2 : 1;
}

/* Read-ahead for F, whose reader just read up to END (IN's lock held). */
static void read_ahead(struct podfs_volume *vol, struct podfs_file *f,
		       off_t end)
{
	struct podfs_inode *in = f->inode;
	struct data_cache *dc = &vol->data;
	uint64_t idx, last;
	uint32_t cap = RA_MAX;
	off_t ahead;

	if (in->wb_io)
		return; /* the server is behind our writes: not now */
	if ((uint64_t)cap > dc->limit / 4)
		cap = (uint32_t)(dc->limit / 4);
	f->ra_window = f->ra_window ? f->ra_window * 2 : RA_MIN;
	if (f->ra_window > cap)
		f->ra_window = cap;
	ahead = end + (off_t)f->ra_window;
	if (in->dsize >= 0 && ahead > in->dsize)
		ahead = in->dsize;
	if (ahead <= end)
		return;
	idx = (uint64_t)end >> DBLOCK_SHIFT;
	last = ((uint64_t)ahead - 1) >> DBLOCK_SHIFT;
	while (idx <= last) {
		uint32_t max = (uint32_t)(last - idx + 1);
		struct dread *r;
		int ret;

		if (dblock_find(in, idx)) {
			idx++;
			continue;
		}
		pthread_mutex_lock(&dc->lock);
		ret = dc->io >= dc->io_limit;
		pthread_mutex_unlock(&dc->lock);
		if (ret)
			return; /* enough in flight: the next read goes on */
		if (max > dc->run / DBLOCK_SIZE)
			max = dc->run / DBLOCK_SIZE;
		r = dread_prepare(vol, in, idx, max);
		if (!r)
			return;
		idx += r->n;
		add(&dc->readahead, (uint64_t)r->n * DBLOCK_SIZE);
		pthread_mutex_unlock(&in->lock);
		ret = dispatch_read_async(vol, f, r->iov, (int)r->n,
					  (off_t)(r->first << DBLOCK_SHIFT),
					  dread_done, r);
		if (ret)
			dread_done(r, ret);
		pthread_mutex_lock(&in->lock);
		if (ret)
			return;
	}
}

/* What a lending read hands over: pieces of blocks (lent) and of the
 * caller's buffer (BLOCK NULL). Once LEND_MAX - 1 pieces are taken it
 * copies the rest into the buffer: one piece, which the last slot keeps
 * (the buffer's pieces follow one another in it, each where the one
 * before ended). */
#define LEND_MAX 64

struct lend {
	struct iovec iov[LEND_MAX];
	struct dblock *block[LEND_MAX];
	int n;
};

/* The N bytes at P (in block B, or the caller's buffer) are the next of
 * the read: 1 when they went into L; 0, for a block, when L has no room
 * left for blocks (the caller copies). */
static int lend_add(struct data_cache *dc, struct lend *l, struct dblock *b,
		    char *p, size_t n)
{
	struct iovec *last = l->n ? &l->iov[l->n - 1] : NULL;

	if (!b && last && !l->block[l->n - 1]) {
		last->iov_len += n; /* P is where LAST ends */
		return 1;
	}
	if (b && l->n >= LEND_MAX - 1)
		return 0;
	if (b) {
		dblock_busy(dc, b);
		b->lent++;
	}
	l->iov[l->n].iov_base = p;
	l->iov[l->n].iov_len = n;
	l->block[l->n++] = b;
	return 1;
}

/* The reader is done with L's blocks (IN's lock held). */
static void lend_end(struct data_cache *dc, struct podfs_inode *in,
		     struct lend *l)
{
	bool woke = false;

	for (int i = 0; i < l->n; i++) {
		struct dblock *b = l->block[i];

		if (b && !--b->lent) {
			dblock_settle(dc, b);
			woke = true;
		}
	}
	if (woke)
		pthread_cond_broadcast(&in->dcond);
}

ssize_t data_read(struct podfs_volume *vol, struct podfs_file *f, char *buf,
		  size_t count, off_t off, podfs_read_fn fn, void *arg)
{
	struct podfs_inode *in = f->inode;
	struct data_cache *dc = &vol->data;
	uint64_t missed = UINT64_MAX; /* the block a miss just filled */
	struct lend lend;
	size_t done = 0;
	bool lending;
	int ret = 0;

	lend.n = 0;
	pthread_mutex_lock(&in->lock);
	if (in->dsize < 0) {
		struct stat st;

		pthread_mutex_unlock(&in->lock);
		ret = dispatch_getattr(vol, in, NULL, false, &st, NULL);
		pthread_mutex_lock(&in->lock);
	}
	while (!ret && done < count) {
		off_t pos = off + (off_t)done;
		uint64_t index = (uint64_t)pos >> DBLOCK_SHIFT;
		uint32_t boff = (uint32_t)(pos & DBLOCK_MASK);
		size_t n = count - done;
		struct dblock *b;

		if (in->dsize >= 0 && pos >= in->dsize)
			break;
		if (in->dsize >= 0 && (off_t)n > in->dsize - pos)
			n = (size_t)(in->dsize - pos);
		if (n > DBLOCK_SIZE - boff)
			n = DBLOCK_SIZE - boff;
		b = dblock_find(in, index);
		if (b && (b->reading ||
			  (b->lent && !dblock_has(b, boff, (uint32_t)n)))) {
			/* being filled; or emptied, yet lent to a reader */
			pthread_cond_wait(&in->dcond, &in->lock);
			continue;
		}
		if (b && dblock_has(b, boff, (uint32_t)n)) {
			if (!fn || !lend_add(dc, &lend, b, b->data + boff, n)) {
				memcpy(buf + done, b->data + boff, n);
				if (fn)
					lend_add(dc, &lend, NULL, buf + done, n);
			}
			done += n;
			if (index != missed)
				add(&dc->hits, 1);
			if (b->on_lru)
				dblock_settle(dc, b);
			continue;
		}
		add(&dc->misses, 1);
		missed = index;
		ret = read_miss(vol, f, index, count - done + boff);
		if (ret < 0)
			break;
		b = ret == 1 ? dblock_find(in, index) : NULL;
		ret = 0;
		if (!b || b->reading || dblock_has(b, boff, (uint32_t)n))
			continue;
		/* the server ends inside or before this: a hole up to what
		 * we wrote further on and have not sent yet, or the end of
		 * file */
		if (in->dsize >= 0 && pos < in->dsize) {
			dblock_copy_hole(b, boff, (uint32_t)n, buf + done);
			if (fn)
				lend_add(dc, &lend, NULL, buf + done, n);
			done += n;
		} else {
			break;
		}
	}
	/* FN is told of every read that did not fail */
	lending = fn && (done || !ret);
	if (lending) {
		/* The reader has its data before read-ahead goes out (which
		 * may wait for a connection busy with a reply). Told, it may
		 * close F: its release waits for ra_due. */
		in->ra_due++;
		pthread_mutex_unlock(&in->lock);
		fn(arg, lend.iov, lend.n);
		pthread_mutex_lock(&in->lock);
	}
	lend_end(dc, in, &lend);
	if (!ret && done) {
		/* sequential, give or take the order concurrent requests of
		 * one reader arrive in */
		off_t slack = f->ra_window > dc->run ? f->ra_window : dc->run;

		if (off == 0 || (off >= f->ra_next - slack &&
				 off <= f->ra_next + slack))
			read_ahead(vol, f, off + (off_t)done);
		else
			f->ra_window = 0;
		if (off + (off_t)done > f->ra_next || off == 0)
			f->ra_next = off + (off_t)done;
	}
	if (lending && !--in->ra_due)
		pthread_cond_broadcast(&in->dcond);
	pthread_mutex_unlock(&in->lock);
	return done ? (ssize_t)done : ret;
}

/* ---- writing ---------------------------------------------------------------------- */

ssize_t data_write(struct podfs_volume *vol, struct podfs_file *f,
		   const char *buf, size_t count, off_t off)
{
	struct podfs_inode *in = f->inode;
	struct data_cache *dc = &vol->data;
	bool kick, over;
	size_t done = 0;

	pthread_mutex_lock(&in->lock);
	if (f->flags & O_APPEND && in->dsize < 0) {
		struct stat st;
		int ret;

		pthread_mutex_unlock(&in->lock);
		ret = dispatch_getattr(vol, in, NULL, true, &st, NULL);
		if (ret)
			return ret;
		pthread_mutex_lock(&in->lock);
	}
	if (f->flags & O_APPEND)
		off = in->dsize < 0 ? 0 : in->dsize;
	if (!in->wfile)
		in->wfile = f;
	while (done < count) {
		off_t pos = off + (off_t)done;
		uint64_t index = (uint64_t)pos >> DBLOCK_SHIFT;
		uint32_t boff = (uint32_t)(pos & DBLOCK_MASK);
		uint32_t n = DBLOCK_SIZE - boff, before;
		struct dblock *b;

		if (n > count - done)
			n = (uint32_t)(count - done);
		b = dblock_find(in, index);
		if (b && (b->reading || b->lent)) {
			pthread_cond_wait(&in->dcond, &in->lock);
			continue;
		}
		if (b && !dblock_clean(b) &&
		    (boff > b->dend || boff + n < b->dstart)) {
			/* a second, separate range in one block: the first
			 * goes to the server before it */
			pthread_mutex_unlock(&in->lock);
			data_flush(vol, in, NULL);
			pthread_mutex_lock(&in->lock);
			continue;
		}
		if (!b)
			b = dblock_new(vol, in, index);
		if (!b) {
			wait_room(vol, in);
			continue;
		}
		dblock_busy(dc, b);
		memcpy(b->data + boff, buf + done, n);
		before = b->dend - b->dstart;
		if (dblock_clean(b)) {
			b->dstart = boff;
			b->dend = boff + n;
		} else {
			b->dstart = boff < b->dstart ? boff : b->dstart;
			b->dend = boff + n > b->dend ? boff + n : b->dend;
		}
		if (b->dstart <= b->vend && b->dend > b->vend)
			b->vend = b->dend;
		if (!in->ndirty)
			in->dirty_at = now_ns();
		__atomic_add_fetch(&in->ndirty, b->dend - b->dstart - before,
				   __ATOMIC_RELAXED);
		pthread_mutex_lock(&dc->lock);
		dc->dirty += b->dend - b->dstart - before;
		pthread_mutex_unlock(&dc->lock);
		done += n;
	}
	if (off + (off_t)count > in->dsize)
		in->dsize = off + (off_t)count;
	kick = in->ndirty >= dc->run;
	pthread_mutex_unlock(&in->lock);
	cache_attr_drop(in);

	/* a full request's worth goes now; past the dirty limit the writer
	 * waits for the flusher (memory stays bounded) */
	pthread_mutex_lock(&dc->lock);
	over = dc->dirty > dc->dirty_limit;
	if (kick || over)
		pthread_cond_signal(&dc->kick);
	while (dc->dirty > dc->dirty_limit && !dc->stop) {
		struct timespec ts;

		deadline_in(&ts, FLUSH_TICK);
		pthread_cond_signal(&dc->kick);
		pthread_cond_timedwait(&dc->room, &dc->lock, &ts);
	}
	pthread_mutex_unlock(&dc->lock);
	return (ssize_t)count;
}

/* ---- write-back ------------------------------------------------------------------- */

struct dwrite {
	struct podfs_volume *vol;
	struct podfs_inode *in;
	size_t len;
	char *buf;
};

static void dwrite_done(void *arg, ssize_t result)
{
	struct dwrite *w = arg;
	struct podfs_inode *in = w->in;
	struct data_cache *dc = &w->vol->data;
	size_t len = w->len;

	pthread_mutex_lock(&in->lock);
	if (result < 0 || (size_t)result != w->len) {
		in->wb_err = result < 0 ? (int)-result : EIO;
		in->wb_seq++;
		add(&dc->wb_errors, 1);
	}
	in->io--;
	__atomic_sub_fetch(&in->wb_io, 1, __ATOMIC_RELAXED);
	/* the server's size and mtime moved: replies to requests sent
	 * before this landed no longer tell them */
	cache_attr_drop_locked(in);
	pthread_cond_broadcast(&in->dcond);
	pthread_mutex_unlock(&in->lock);
	io_buf_put(dc, w->buf, len);
	free(w);
	io_ended(dc, len);
}

static int cmp_index(const void *a, const void *b)
{
	uint64_t x = (*(struct dblock *const *)a)->index;
	uint64_t y = (*(struct dblock *const *)b)->index;

	return x < y ? -1 : x > y;
}

/* IN's dirty blocks in file order (IN's lock held); *N of them. */
static struct dblock **dirty_blocks(struct podfs_inode *in, size_t *n)
{
	struct dblock **v = malloc(in->ndblocks * sizeof(*v) + 1);

	*n = 0;
	if (!v)
		return NULL;
	for (uint32_t i = 0; i < in->dbuckets; i++)
		for (struct dblock *b = in->dblocks[i]; b; b = b->next)
			if (!dblock_clean(b))
				v[(*n)++] = b;
	qsort(v, *n, sizeof(*v), cmp_index);
	return v;
}

/* Takes the written data of V[0..N) (one contiguous run) out of its
 * blocks into one request to send (IN's lock held); NULL when out of
 * memory (it stays dirty, for later). */
static struct dwrite *take_run(struct podfs_volume *vol,
			       struct podfs_inode *in, struct dblock **v,
			       size_t n, off_t *off)
{
	struct data_cache *dc = &vol->data;
	struct dwrite *w = calloc(1, sizeof(*w));
	size_t len = 0;

	for (size_t k = 0; k < n; k++)
		len += v[k]->dend - v[k]->dstart;
	if (w)
		w->buf = io_buf_get(dc, len);
	if (!w || !w->buf) {
		free(w);
		return NULL;
	}
	*off = (off_t)(v[0]->index << DBLOCK_SHIFT) + v[0]->dstart;
	w->vol = vol;
	w->in = in;
	w->len = len;
	len = 0;
	for (size_t k = 0; k < n; k++) {
		struct dblock *b = v[k];

		memcpy(w->buf + len, b->data + b->dstart, b->dend - b->dstart);
		len += b->dend - b->dstart;
		b->dstart = b->dend = 0;
		dblock_settle(dc, b);
	}
	__atomic_sub_fetch(&in->ndirty, len, __ATOMIC_RELAXED);
	if (!in->ndirty)
		in->dirty_at = 0;
	in->io++;
	__atomic_add_fetch(&in->wb_io, 1, __ATOMIC_RELAXED);
	in->wb_sent++;
	pthread_mutex_lock(&dc->lock);
	dc->dirty -= len;
	dc->io += len;
	pthread_mutex_unlock(&dc->lock);
	return w;
}

#define WB_BATCH 32

/* Takes runs of IN's written data to send (IN's lock held): all of it
 * (ALL), else only full runs; no more than the volume's room for I/O in
 * flight allows (one run whatever its size when nothing is in flight).
 * Their requests in W and OFF; how many. *FULL: it stopped for want of
 * room. Sixty-four writers each sending "at least one" run of 4 MiB
 * held 256 MiB in flight with cache_size=64M. */
static size_t take_runs(struct podfs_volume *vol, struct podfs_inode *in,
			bool all, struct dwrite **w, off_t *off, bool *full)
{
	struct data_cache *dc = &vol->data;
	struct dblock **v;
	size_t n, i = 0, taken = 0;
	uint64_t room;
	bool idle;

	*full = false;
	pthread_mutex_lock(&dc->lock);
	room = dc->io < dc->io_limit ? dc->io_limit - dc->io : 0;
	idle = dc->io == 0;
	pthread_mutex_unlock(&dc->lock);
	v = dirty_blocks(in, &n);
	while (v && i < n && taken < WB_BATCH) {
		size_t j = i + 1, len = v[i]->dend - v[i]->dstart;

		/* a run: each block written to its end, the next from 0 */
		while (j < n && v[j]->index == v[j - 1]->index + 1 &&
		       v[j - 1]->dend == DBLOCK_SIZE && v[j]->dstart == 0 &&
		       len + v[j]->dend <= dc->run) {
			len += v[j]->dend;
			j++;
		}
		if (len > room && (taken || !idle)) {
			*full = true;
			break;
		}
		if (all || len >= dc->run) {
			w[taken] = take_run(vol, in, v + i, j - i, &off[taken]);
			if (!w[taken])
				break;
			taken++;
			room = len > room ? 0 : room - len;
		}
		i = j;
	}
	free(v);
	return taken;
}

/* Waits a while for one of the requests in flight to end. */
static void wait_io_room(struct data_cache *dc)
{
	struct timespec ts;

	deadline_in(&ts, FLUSH_TICK);
	pthread_mutex_lock(&dc->lock);
	if (dc->io)
		pthread_cond_timedwait(&dc->room, &dc->lock, &ts);
	pthread_mutex_unlock(&dc->lock);
}

/* Sends IN's written data: all of it (ALL) or what is due: full runs,
 * and everything once the oldest waited WB_AGE. */
static void write_back(struct podfs_volume *vol, struct podfs_inode *in,
		       bool all)
{
	struct dwrite *w[WB_BATCH];
	off_t off[WB_BATCH];

	pthread_mutex_lock(&in->lock);
	while (in->ndirty && in->wfile) {
		struct podfs_file *wf = in->wfile;
		bool full;
		size_t n;

		if (in->dirty_at && now_ns() - in->dirty_at >= WB_AGE)
			all = true;
		n = take_runs(vol, in, all, w, off, &full);
		if (!n && full && all) {
			/* a flush waits for room as long as it takes */
			pthread_mutex_unlock(&in->lock);
			wait_io_room(&vol->data);
			pthread_mutex_lock(&in->lock);
			continue;
		}
		if (!n)
			break;
		/* the requests hold in->io: WF stays open until they end */
		pthread_mutex_unlock(&in->lock);
		for (size_t k = 0; k < n; k++) {
			int ret = dispatch_write_async(vol, wf, w[k]->buf,
						       w[k]->len, off[k],
						       dwrite_done, w[k]);

			if (ret)
				dwrite_done(w[k], ret);
		}
		pthread_mutex_lock(&in->lock);
		if (!all)
			break;
		if (in->ndirty) {
			/* more than fits in flight: wait for some to end */
			struct timespec ts;

			deadline_in(&ts, FLUSH_TICK);
			pthread_cond_timedwait(&in->dcond, &in->lock, &ts);
		}
	}
	pthread_mutex_unlock(&in->lock);
}

int data_flush(struct podfs_volume *vol, struct podfs_inode *in,
	       struct podfs_file *f)
{
	char name[256] = "a file";
	int err = 0;

	write_back(vol, in, true);
	pthread_mutex_lock(&in->lock);
	while (in->io)
		pthread_cond_wait(&in->dcond, &in->lock);
	if (f && f->wb_seen != in->wb_seq) {
		f->wb_seen = in->wb_seq;
		err = in->wb_err;
		if (in->name)
			snprintf(name, sizeof(name), "%s", in->name);
	}
	pthread_mutex_unlock(&in->lock);
	/* the message takes vol->lock: never under an inode's */
	if (err)
		err = podfs_set_error(vol, err, "writing back to %s failed: %s",
				      name, strerror(err));
	return err;
}

int data_release(struct podfs_volume *vol, struct podfs_file *f)
{
	struct podfs_inode *in = f->inode;
	int err = data_flush(vol, in, f);

	/* another open file of the inode writes back from now on: one
	 * that is not being released itself */
	pthread_mutex_lock(&vol->lock);
	pthread_mutex_lock(&in->lock);
	f->closing = true;
	if (in->wfile == f) {
		struct podfs_file *g;

		in->wfile = NULL;
		LIST_FOREACH(g, &vol->files, link)
			if (g->inode == in && g->cached && !g->closing &&
			    (g->flags & O_ACCMODE) != O_RDONLY) {
				in->wfile = g;
				break;
			}
	}
	pthread_mutex_unlock(&vol->lock);
	/* and what went out through F meanwhile has ended, and readers
	 * that may yet read ahead through it are done */
	while (in->io || in->ra_due)
		pthread_cond_wait(&in->dcond, &in->lock);
	pthread_mutex_unlock(&in->lock);
	return err;
}

/* ---- the flusher ------------------------------------------------------------------ */

#define FLUSH_BATCH 64

/* Writes back what is due for every open file's inode. */
static void flush_due(struct podfs_volume *vol)
{
	struct podfs_inode *ins[FLUSH_BATCH];
	struct podfs_file *f;
	size_t n = 0;

	pthread_mutex_lock(&vol->lock);
	LIST_FOREACH(f, &vol->files, link) {
		size_t k;

		if (!f->cached || !data_dirty(f->inode))
			continue;
		for (k = 0; k < n && ins[k] != f->inode; k++)
			;
		if (k < n)
			continue;
		f->inode->users++;
		ins[n++] = f->inode;
		if (n == FLUSH_BATCH)
			break;
	}
	pthread_mutex_unlock(&vol->lock);
	for (size_t k = 0; k < n; k++) {
		bool over;

		pthread_mutex_lock(&vol->data.lock);
		over = vol->data.dirty > vol->data.dirty_limit / 2;
		pthread_mutex_unlock(&vol->data.lock);
		write_back(vol, ins[k], over);
		inode_put(vol, ins[k]);
	}
}

static void *flusher_main(void *arg)
{
	struct podfs_volume *vol = arg;
	struct data_cache *dc = &vol->data;

	pthread_mutex_lock(&dc->lock);
	while (!dc->stop) {
		struct timespec ts;

		deadline_in(&ts, FLUSH_TICK);
		pthread_cond_timedwait(&dc->kick, &dc->lock, &ts);
		if (dc->stop || (!dc->dirty))
			continue;
		pthread_mutex_unlock(&dc->lock);
		flush_due(vol);
		pthread_mutex_lock(&dc->lock);
	}
	pthread_mutex_unlock(&dc->lock);
	return NULL;
}

int data_start(struct podfs_volume *vol)
{
	struct data_cache *dc = &vol->data;
	const struct podfs_backend_ops *ops = vol->ops;
	uint64_t size = vol->cfg.cache_size, run, reserve;
	struct podfs_stats st;

	memset(dc, 0, sizeof(*dc));
	pthread_mutex_init(&dc->lock, NULL);
	pthread_cond_init(&dc->room, NULL);
	pthread_cond_init(&dc->kick, NULL);
	TAILQ_INIT(&dc->lru);
	dc->limit = size;
	dc->on = vol->cfg.cache_mode != PODFS_CACHE_NONE && !vol->be->caches &&
		 ops->read_async && ops->write_async;
	if (!dc->on)
		return 0;
	podfs_stats(vol, &st);
	run = (uint64_t)(st.wsize < st.rsize ? st.wsize : st.rsize) *
	      (uint64_t)(vol->cfg.nconnect > 0 ? vol->cfg.nconnect : 1);
	run &= ~(uint64_t)DBLOCK_MASK;
	dc->run = run < DBLOCK_SIZE ? DBLOCK_SIZE
		  : run > RUN_MAX  ? RUN_MAX
				   : (uint32_t)run;
	/* cache_size holds all the data the volume keeps: the blocks, the
	 * requests in flight (an eighth, at least two), and what the
	 * backend keeps written but not yet committed (NFS: a quarter, at
	 * most 64 MiB, nfs_unstable_init) */
	dc->io_limit = size / 8;
	if (dc->io_limit < 2ULL * dc->run)
		dc->io_limit = 2ULL * dc->run;
	reserve = size / 4 < UNSTABLE_MAX ? size / 4 : UNSTABLE_MAX;
	dc->limit = size > dc->io_limit + reserve + size / 4
			    ? size - dc->io_limit - reserve
			    : size / 4;
	dc->dirty_limit = dc->limit / 2;
	dc->max_bufs = (uint32_t)(dc->io_limit / dc->run);
	dc->bufs = calloc(dc->max_bufs, sizeof(*dc->bufs));
	if (!dc->bufs) {
		dc->on = false;
		return podfs_set_error(vol, ENOMEM, "out of memory");
	}
	if (pthread_create(&dc->flusher, NULL, flusher_main, vol)) {
		dc->on = false;
		free(dc->bufs);
		dc->bufs = NULL;
		return podfs_set_error(vol, EAGAIN, "cannot start a thread");
	}
	dc->flusher_on = true;
	return 0;
}

void data_stop(struct podfs_volume *vol)
{
	struct data_cache *dc = &vol->data;
	bool busy;

	pthread_mutex_lock(&dc->lock);
	dc->stop = true;
	pthread_cond_broadcast(&dc->kick);
	pthread_cond_broadcast(&dc->room);
	pthread_mutex_unlock(&dc->lock);
	if (dc->flusher_on)
		pthread_join(dc->flusher, NULL);
	dc->flusher_on = false;
	/* the ends of the last requests may still be running (every file is
	 * closed, so they are short); one that never ends (a backend that
	 * lost its server and did not end its requests) keeps the pools */
	pthread_mutex_lock(&dc->lock);
	for (int i = 0; dc->io && i < 100; i++) {
		struct timespec ts;

		deadline_in(&ts, FLUSH_TICK);
		pthread_cond_timedwait(&dc->room, &dc->lock, &ts);
	}
	busy = dc->io != 0;
	pthread_mutex_unlock(&dc->lock);
	dc->on = false;
	if (busy)
		return;
	while (dc->nbufs)
		free(dc->bufs[--dc->nbufs]);
	while (dc->spare) {
		struct dblock *b = dc->spare;

		dc->spare = b->next;
		free(b->data);
		free(b);
	}
	dc->spare_bytes = 0;
	free(dc->bufs);
	dc->bufs = NULL;
}
