/*
 * Open files: reads, writes, fsync, flush and close, through the dispatch
 * layer; a write error is kept on the file until fsync or close reports it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "core.h"

struct podfs_file *file_new(struct podfs_volume *vol, struct podfs_inode *in,
			    struct podfs_bfile *bf, int flags, bool keep_cache)
{
	struct podfs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->inode = in;
	f->bf = bf;
	f->flags = flags;
	f->keep_cache = keep_cache;
	f->direct_io = vol->cfg.cache_mode == PODFS_CACHE_NONE;
	f->cached = vol->data.on;
	pthread_mutex_lock(&in->lock);
	f->wb_seen = in->wb_seq; /* told only of what fails from now on */
	pthread_mutex_unlock(&in->lock);
	pthread_mutex_lock(&vol->lock);
	LIST_INSERT_HEAD(&vol->files, f, link);
	pthread_mutex_unlock(&vol->lock);
	return f;
}

/* A read into BUF, or lent to FN (podfs_pread_lend). */
static ssize_t file_read(podfs_volume *vol, podfs_file *f, void *buf,
			 size_t count, off_t off, podfs_read_fn fn, void *arg)
{
	ssize_t ret;

	error_begin();
	if (off < 0)
		return podfs_set_error(vol, EINVAL, "negative offset");
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return podfs_set_error(vol, EBADF, "file is not open for reading");
	if (count && f->cached) {
		/* lends what it holds itself */
		ret = data_read(vol, f, buf, count, off, fn, arg);
	} else {
		ret = count ? dispatch_read(vol, f, buf, count, off) : 0;
		if (fn && ret >= 0) {
			struct iovec iov = { .iov_base = buf,
					     .iov_len = (size_t)ret };

			fn(arg, &iov, ret ? 1 : 0);
		}
	}
	if (ret > 0)
		__atomic_add_fetch(&vol->counters.bytes_read, (uint64_t)ret,
				   __ATOMIC_RELAXED);
	return ret;
}

PODFS_EXPORT ssize_t podfs_pread(podfs_volume *vol, podfs_file *f, void *buf,
				 size_t count, off_t off)
{
	return file_read(vol, f, buf, count, off, NULL, NULL);
}

PODFS_EXPORT ssize_t podfs_pread_lend(podfs_volume *vol, podfs_file *f,
				      void *buf, size_t count, off_t off,
				      podfs_read_fn fn, void *arg)
{
	if (!fn) {
		error_begin();
		return podfs_set_error(vol, EINVAL, "no function to lend to");
	}
	return file_read(vol, f, buf, count, off, fn, arg);
}

int podfs_file_read_async(struct podfs_volume *vol, struct podfs_file *f,
			  void *buf, size_t count, off_t off,
			  podfs_bio_done done, void *arg)
{
	struct iovec iov = { .iov_base = buf, .iov_len = count };

	error_begin();
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return podfs_set_error(vol, EBADF, "file is not open for reading");
	return dispatch_read_async(vol, f, &iov, 1, off, done, arg);
}

int podfs_file_write_async(struct podfs_volume *vol, struct podfs_file *f,
			   const void *buf, size_t count, off_t off,
			   podfs_bio_done done, void *arg)
{
	int ret;

	error_begin();
	ret = check_writable(vol);
	if (ret)
		return ret;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return podfs_set_error(vol, EBADF, "file is not open for writing");
	if (f->flags & O_APPEND)
		return podfs_set_error(vol, ENOTSUP, "no asynchronous writes "
				       "to a file opened O_APPEND");
	/* around the data cache: what it holds of the file is not the
	 * file's any more, nor the size it knows */
	if (f->cached) {
		data_flush(vol, f->inode, NULL);
		data_invalidate(vol, f->inode);
		data_forget_size(f->inode);
	}
	__atomic_store_n(&f->written, true, __ATOMIC_RELAXED);
	return dispatch_write_async(vol, f, buf, count, off, done, arg);
}

PODFS_EXPORT ssize_t podfs_pwrite(podfs_volume *vol, podfs_file *f,
				  const void *buf, size_t count, off_t off)
{
	ssize_t ret;

	error_begin();
	if (off < 0)
		return podfs_set_error(vol, EINVAL, "negative offset");
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return podfs_set_error(vol, EBADF, "file is not open for writing");
	if (count == 0)
		return 0;
	if (!f->cached)
		ret = dispatch_write(vol, f, buf, count, off);
	else
		ret = data_write(vol, f, buf, count, off);
	if (ret > 0)
		__atomic_store_n(&f->written, true, __ATOMIC_RELAXED);
	/* O_SYNC, O_DSYNC: stable on the server before the write returns */
	if (ret > 0 && f->cached && f->flags & (O_SYNC | O_DSYNC)) {
		int err = data_flush(vol, f->inode, f);

		if (!err)
			err = dispatch_fsync(vol, f, !(f->flags & O_SYNC));
		if (err)
			ret = err;
	}
	if (ret > 0)
		__atomic_add_fetch(&vol->counters.bytes_written, (uint64_t)ret,
				   __ATOMIC_RELAXED);
	return ret;
}

PODFS_EXPORT int podfs_fsync(podfs_volume *vol, podfs_file *f, int datasync)
{
	int err = 0, ret;

	error_begin();
	if (f->cached)
		err = data_flush(vol, f->inode, f);
	ret = dispatch_fsync(vol, f, datasync);
	return err ? err : ret;
}

/* FUSE's flush, at every close(2) of a descriptor: what was written goes
 * to the server and is made stable there (as the Linux NFS client's
 * close), and an error writing it back is told. A backend with a cache of
 * its own (CephFS) sends its writes at release, and makes them stable on
 * fsync only, as ceph-fuse does. */
PODFS_EXPORT int podfs_flush(podfs_volume *vol, podfs_file *f)
{
	int err = 0;

	error_begin();
	if (f->cached)
		err = data_flush(vol, f->inode, f);
	if (!err && !vol->be->caches &&
	    __atomic_load_n(&f->written, __ATOMIC_RELAXED))
		err = dispatch_fsync(vol, f, 1);
	return err;
}

PODFS_EXPORT int podfs_release(podfs_volume *vol, podfs_file *f)
{
	int err = 0, ret;

	if (!f)
		return 0;
	error_begin();
	err = lock_release(vol, f);
	if (f->cached) {
		ret = data_release(vol, f);
		err = err ? err : ret;
		/* What it wrote has landed: its attributes now tell our own
		 * change, read before anyone else's can come into them. Later
		 * changes are another client's: the next open (close-to-open)
		 * sees them and drops what is cached. */
		if ((f->flags & O_ACCMODE) != O_RDONLY &&
		    cache_attr_own(f->inode)) {
			struct stat st;

			dispatch_getattr(vol, f->inode, f->bf, true, &st, NULL);
		}
	}
	ret = dispatch_close(vol, f->inode, f->bf);
	pthread_mutex_lock(&vol->lock);
	LIST_REMOVE(f, link);
	pthread_mutex_unlock(&vol->lock);
	inode_put(vol, f->inode);
	free(f);
	return err ? err : ret;
}

PODFS_EXPORT uint64_t podfs_file_ino(const podfs_file *f)
{
	return f->inode->ino;
}

PODFS_EXPORT int podfs_file_keep_cache(const podfs_file *f)
{
	return f->keep_cache;
}

PODFS_EXPORT int podfs_file_direct_io(const podfs_file *f)
{
	return f->direct_io;
}
