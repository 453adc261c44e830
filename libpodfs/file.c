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
	pthread_mutex_lock(&vol->lock);
	LIST_INSERT_HEAD(&vol->files, f, link);
	pthread_mutex_unlock(&vol->lock);
	return f;
}

PODFS_EXPORT ssize_t podfs_pread(podfs_volume *vol, podfs_file *f, void *buf,
				 size_t count, off_t off)
{
	error_begin();
	if (off < 0)
		return podfs_set_error(vol, EINVAL, "negative offset");
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return podfs_set_error(vol, EBADF, "file is not open for reading");
	if (count == 0)
		return 0;
	return dispatch_read(vol, f, buf, count, off);
}

int podfs_file_read_async(struct podfs_volume *vol, struct podfs_file *f,
			  void *buf, size_t count, off_t off,
			  podfs_bio_done done, void *arg)
{
	error_begin();
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return podfs_set_error(vol, EBADF, "file is not open for reading");
	return dispatch_read_async(vol, f, buf, count, off, done, arg);
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
	return dispatch_write_async(vol, f, buf, count, off, done, arg);
}

PODFS_EXPORT ssize_t podfs_pwrite(podfs_volume *vol, podfs_file *f,
				  const void *buf, size_t count, off_t off)
{
	error_begin();
	if (off < 0)
		return podfs_set_error(vol, EINVAL, "negative offset");
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return podfs_set_error(vol, EBADF, "file is not open for writing");
	if (count == 0)
		return 0;
	return dispatch_write(vol, f, buf, count, off);
}

/* The sticky error of F, reported once. */
static int take_error(struct podfs_volume *vol, struct podfs_file *f)
{
	int err;

	pthread_mutex_lock(&vol->lock);
	err = f->error;
	f->error = 0;
	pthread_mutex_unlock(&vol->lock);
	return err;
}

PODFS_EXPORT int podfs_fsync(podfs_volume *vol, podfs_file *f, int datasync)
{
	int err = take_error(vol, f);
	int ret;

	error_begin();
	ret = dispatch_fsync(vol, f, datasync);
	return err ? err : ret;
}

PODFS_EXPORT int podfs_flush(podfs_volume *vol, podfs_file *f)
{
	/* writes go to the server as they are made: nothing is held back */
	return take_error(vol, f);
}

PODFS_EXPORT int podfs_release(podfs_volume *vol, podfs_file *f)
{
	int err, ret;

	if (!f)
		return 0;
	err = take_error(vol, f);
	error_begin();
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
