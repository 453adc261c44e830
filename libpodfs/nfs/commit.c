/*
 * Stable writes: data goes out UNSTABLE (the server may keep it in memory)
 * and a COMMIT on fsync and close makes it stable. Each WRITE and COMMIT
 * answers the server's write verifier, which changes when the server
 * restarts: data written under another verifier than COMMIT's may be lost,
 * so until its COMMIT it is kept here, and sent again, FILE_SYNC, when the
 * verifiers differ (RFC 1813, 3.3.7; RFC 7530, 16.3.5).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Uncommitted data the volume holds (all its files together) before a
 * write commits its file: what a server restart could lose is kept this
 * long. A quarter of cache_size, within these bounds, so the daemon's
 * memory follows the one size the user set. */
#define NFS_UNSTABLE_MIN (4ull * 1024 * 1024)
#define NFS_UNSTABLE_MAX (64ull * 1024 * 1024)

void nfs_unstable_init(struct nfs_be *nb, unsigned long long cache_size)
{
	size_t max = cache_size / 4;

	if (max < NFS_UNSTABLE_MIN)
		max = NFS_UNSTABLE_MIN;
	if (max > NFS_UNSTABLE_MAX)
		max = NFS_UNSTABLE_MAX;
	nb->unstable_max = max;
	/* Free chunks kept for the next writes, which take them first:
	 * chunks in use and kept stay within the bound, and a stream of
	 * writes reuses memory rather than faulting it in anew (the core
	 * counts this bound in cache_size, data.c's UNSTABLE_MAX). */
	nb->pool_max = max / NFS_CHUNK_SIZE;
}

/* A record in a chunk: where the data was written, and how much. */
struct record {
	uint64_t off;
	uint64_t len;
};

#define RECORD_SPACE(len) ((sizeof(struct record) + (len) + 7) & ~(size_t)7)

static struct nfs_chunk *chunk_get(struct nfs_be *nb)
{
	struct nfs_chunk *c;

	pthread_mutex_lock(&nb->pool_lock);
	c = nb->pool;
	if (c) {
		nb->pool = c->next;
		nb->pool_count--;
	}
	pthread_mutex_unlock(&nb->pool_lock);
	if (!c)
		c = malloc(sizeof(*c));
	if (c) {
		c->next = NULL;
		c->used = 0;
	}
	return c;
}

static void chunks_put(struct nfs_be *nb, struct nfs_chunk *c)
{
	struct nfs_chunk *next;

	for (; c; c = next) {
		next = c->next;
		pthread_mutex_lock(&nb->pool_lock);
		if (nb->pool_count < nb->pool_max) {
			c->next = nb->pool;
			nb->pool = c;
			nb->pool_count++;
			c = NULL;
		}
		pthread_mutex_unlock(&nb->pool_lock);
		free(c);
	}
}

void nfs_pool_free(struct nfs_be *nb)
{
	struct nfs_chunk *c, *next;

	for (c = nb->pool; c; c = next) {
		next = c->next;
		free(c);
	}
	nb->pool = NULL;
	nb->pool_count = 0;
}

int nfs_unstable_keep(struct nfs_be *nb, struct nfs_obj *o,
		      const struct nfs_io *io)
{
	size_t need = RECORD_SPACE(io->done);
	struct nfs_chunk *c;
	struct record r = { .off = io->off, .len = io->done };

	pthread_mutex_lock(&o->wlock);
	c = o->dirty_tail;
	if (!c || NFS_CHUNK_SIZE - c->used < need) {
		c = chunk_get(nb);
		if (!c) {
			pthread_mutex_unlock(&o->wlock);
			return nfs_fail(nb, ENOMEM, "out of memory");
		}
		if (o->dirty_tail)
			o->dirty_tail->next = c;
		else
			o->dirty = c;
		o->dirty_tail = c;
	}
	memcpy(c->data + c->used, &r, sizeof(r));
	memcpy(c->data + c->used + sizeof(r), io->buf, io->done);
	c->used += need;
	o->dirty_bytes += io->done;
	atomic_fetch_add(&nb->unstable_bytes, io->done);
	if (!o->verf_known) {
		memcpy(o->verf, io->verf, 8);
		o->verf_known = true;
	} else if (memcmp(o->verf, io->verf, 8)) {
		o->verf_changed = true;
	}
	pthread_mutex_unlock(&o->wlock);
	return 0;
}

bool nfs_unstable_full(struct nfs_be *nb, struct nfs_obj *o)
{
	bool full;

	pthread_mutex_lock(&o->wlock);
	full = o->dirty_bytes &&
	       atomic_load(&nb->unstable_bytes) > nb->unstable_max;
	pthread_mutex_unlock(&o->wlock);
	return full;
}

/* O's uncommitted data goes (wlock held). */
static void unstable_clear(struct nfs_be *nb, struct nfs_obj *o)
{
	chunks_put(nb, o->dirty);
	atomic_fetch_sub(&nb->unstable_bytes, o->dirty_bytes);
	o->dirty = o->dirty_tail = NULL;
	o->dirty_bytes = 0;
}

/* Sends every record of O's again, FILE_SYNC (wlock held). */
static int resend(struct nfs_be *nb, struct nfs_obj *o)
{
	struct nfs_io io;
	struct nfs_chunk *c;
	struct record r;
	size_t at, off;
	int ret;

	for (c = o->dirty; c; c = c->next) {
		for (at = 0; at < c->used; at += RECORD_SPACE(r.len)) {
			memcpy(&r, c->data + at, sizeof(r));
			for (off = 0; off < r.len; off += nb->wsize) {
				nfs_io_cut(&io, 1, o,
					   c->data + at + sizeof(r) + off, NULL,
					   (off_t)(r.off + off),
					   r.len - off < nb->wsize ?
						   r.len - off :
						   nb->wsize,
					   nb->wsize, true);
				ret = nfs_io_run(nb, &io, 1, true);
				if (ret)
					return ret;
			}
		}
	}
	return 0;
}

int nfs_commit(struct nfs_be *nb, struct nfs_obj *o)
{
	char verf[8];
	int ret;

	pthread_mutex_lock(&o->wlock);
	if (!o->dirty) {
		pthread_mutex_unlock(&o->wlock);
		return 0;
	}
	atomic_fetch_add(&nb->n_commit, 1);
	ret = nb->vers == 4 ? nfs_v4_ops.commit(nb, o, verf) :
			      nfs_v3_ops.commit(nb, o, verf);
	if (!ret && (o->verf_changed || memcmp(verf, o->verf, 8))) {
		atomic_fetch_add(&nb->n_resent, 1);
		ret = resend(nb, o);
	}
	if (!ret) {
		unstable_clear(nb, o);
		o->verf_known = false;
		o->verf_changed = false;
	}
	pthread_mutex_unlock(&o->wlock);
	return ret;
}

void nfs_unstable_drop(struct nfs_be *nb, struct nfs_obj *o)
{
	unstable_clear(nb, o);
}
