/*
 * Asynchronous reads and writes, for the cache layer's read-ahead and
 * write-back: the pieces go out as a synchronous read's or write's do and
 * the caller returns at once. Once all are answered, a thread of the
 * volume's finishes the call (pieces worth another attempt sent again,
 * unstable data kept for COMMIT: both may wait, which a connection's
 * thread must not) and tells the caller.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct nfs_aio {
	struct nfs_ioset set;
	struct nfs_aio *next; /* in nb->aio_queue */
	struct nfs_be *nb;
	struct podfs_bfile *file;
	bool write;
	podfs_bio_done done;
	void *arg;
	struct iovec *iov; /* a read's, copied: after io[] */
	size_t n;
	struct nfs_io io[];
};

static ssize_t aio_finish(struct nfs_aio *a)
{
	struct nfs_be *nb = a->nb;
	int ret = nfs_io_retry(nb, a->io, a->n);

	if (ret)
		return ret;
	return a->write ? nfs_write_finish(nb, OBJ(a->file->obj), a->io, a->n) :
			  nfs_read_finish(nb, a->file, a->io, a->n);
}

static void *aio_thread(void *arg)
{
	struct nfs_be *nb = arg;
	struct nfs_aio *a;
	ssize_t result;

	pthread_mutex_lock(&nb->aio_lock);
	for (;;) {
		a = nb->aio_queue;
		if (!a) {
			if (nb->aio_stop)
				break;
			pthread_cond_wait(&nb->aio_cv, &nb->aio_lock);
			continue;
		}
		nb->aio_queue = a->next;
		pthread_mutex_unlock(&nb->aio_lock);
		result = aio_finish(a);
		a->done(a->arg, result);
		free(a);
		pthread_mutex_lock(&nb->aio_lock);
	}
	pthread_mutex_unlock(&nb->aio_lock);
	return NULL;
}

/* Every piece of A is answered: to the thread with it. */
static void aio_last(struct nfs_ioset *set)
{
	struct nfs_aio *a = container_of(set, struct nfs_aio, set);
	struct nfs_be *nb = a->nb;
	struct nfs_aio **p;

	pthread_mutex_lock(&nb->aio_lock);
	for (p = &nb->aio_queue; *p; p = &(*p)->next)
		;
	a->next = NULL;
	*p = a;
	pthread_cond_signal(&nb->aio_cv);
	pthread_mutex_unlock(&nb->aio_lock);
}

/* The volume's finishing thread, started with its first asynchronous
 * call. */
static int aio_start(struct nfs_be *nb)
{
	int ret = 0;

	pthread_mutex_lock(&nb->aio_lock);
	if (!nb->aio_started) {
		if (pthread_create(&nb->aio_thread, NULL, aio_thread, nb))
			ret = nfs_fail(nb, EAGAIN, "cannot start a thread");
		else
			nb->aio_started = true;
	}
	pthread_mutex_unlock(&nb->aio_lock);
	return ret;
}

/* Ends the thread once it finished what is queued (the connections are
 * stopped first: every piece in flight has been answered then). */
void nfs_aio_stop(struct nfs_be *nb)
{
	pthread_mutex_lock(&nb->aio_lock);
	nb->aio_stop = true;
	pthread_cond_signal(&nb->aio_cv);
	pthread_mutex_unlock(&nb->aio_lock);
	if (nb->aio_started)
		pthread_join(nb->aio_thread, NULL);
	nb->aio_started = false;
}

/* Starts a write of COUNT bytes at BUF, or a read into the IOVCNT pieces
 * of IOV (BUF NULL). */
static int aio_begin(struct podfs_backend *be, struct podfs_bfile *file,
		     char *buf, const struct iovec *iov, int iovcnt,
		     size_t count, off_t off, bool write,
		     podfs_bio_done done, void *arg)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = NFILE(file);
	size_t niov = buf ? 0 : (size_t)iovcnt;
	struct nfs_aio *a;
	uint32_t piece;
	size_t n;
	int ret;

	if (write && (f->flags & O_APPEND))
		return nfs_fail(nb, ENOTSUP,
				"no asynchronous writes to an O_APPEND file");
	if (!count)
		return nfs_fail(nb, EINVAL,
				"an asynchronous %s of 0 bytes",
				write ? "write" : "read");
	ret = nfs_locks_lost(nb, OBJ(file->obj));
	if (!ret)
		ret = aio_start(nb);
	if (ret)
		return ret;
	n = nfs_io_pieces(nb, count, write, &piece);
	a = calloc(1, sizeof(*a) + n * sizeof(a->io[0]) +
			      niov * sizeof(*iov));
	if (!a)
		return nfs_fail(nb, ENOMEM, "out of memory");
	if (niov) {
		a->iov = (struct iovec *)&a->io[n];
		memcpy(a->iov, iov, niov * sizeof(*iov));
	}
	a->set.last = aio_last;
	a->nb = nb;
	a->file = file;
	a->write = write;
	a->done = done;
	a->arg = arg;
	a->n = n;
	nfs_io_cut(a->io, n, OBJ(file->obj), buf, a->iov, off, count, piece,
		   write && (f->flags & (O_SYNC | O_DSYNC)));
	nfs_io_send(nb, &a->set, a->io, n, write, true);
	return 0;
}

int nfs_be_read_async(struct podfs_backend *be, struct podfs_bfile *file,
		      const struct iovec *iov, int iovcnt, off_t off,
		      podfs_bio_done done, void *arg)
{
	size_t count = 0;

	if (iovcnt < 0)
		return nfs_fail(NB(be), EINVAL, "a read into %d pieces", iovcnt);
	for (int i = 0; i < iovcnt; i++)
		count += iov[i].iov_len;
	return aio_begin(be, file, NULL, iov, iovcnt, count, off, false, done,
			 arg);
}

int nfs_be_write_async(struct podfs_backend *be, struct podfs_bfile *file,
		       const void *buf, size_t count, off_t off,
		       podfs_bio_done done, void *arg)
{
	return aio_begin(be, file, (char *)buf, NULL, 0, count, off, true, done,
			 arg);
}
