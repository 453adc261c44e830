/*
 * FUSE low-level operations of mount.podfs, each a thin call into
 * libpodfs' inode level (podfs_ll_*): FUSE node ids are libpodfs inode
 * numbers, fi->fh holds a podfs_file or podfs_dir.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include "fuse_ops.h"

static struct podfs_fuse *pf_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static podfs_file *file_of(const struct fuse_file_info *fi)
{
	return (podfs_file *)(uintptr_t)fi->fh;
}

static podfs_dir *dir_of(const struct fuse_file_info *fi)
{
	return (podfs_dir *)(uintptr_t)fi->fh;
}

/* The owner of what the caller creates: the caller, or the pod's fsGroup. */
static struct podfs_cred cred_of(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct podfs_fuse *pf = pf_of(req);
	struct podfs_cred cred = { .uid = ctx->uid, .gid = ctx->gid };

	if (pf->fsgroup >= 0)
		cred.gid = (gid_t)pf->fsgroup;
	return cred;
}

/* The library's cache policy (ac*, noac, lookupcache) decides how long
 * the kernel may trust what it is told, so both caches agree. */
static struct fuse_entry_param entry_param(const struct podfs_entry *e)
{
	return (struct fuse_entry_param){
		.ino = e->ino,
		.generation = 1,
		.attr = e->attr,
		.attr_timeout = e->attr_timeout,
		.entry_timeout = e->entry_timeout,
	};
}

static void reply_entry(fuse_req_t req, const struct podfs_entry *e)
{
	struct fuse_entry_param ep = entry_param(e);

	if (fuse_reply_entry(req, &ep) == -ENOENT)
		/* the request was interrupted: the kernel never took it */
		podfs_ll_forget(pf_of(req)->vol, e->ino, 1);
}

static void reply_attr(fuse_req_t req, fuse_ino_t ino, const struct stat *st)
{
	fuse_reply_attr(req, st, podfs_ll_attr_timeout(pf_of(req)->vol, ino));
}

static void reply_status(fuse_req_t req, int ret)
{
	fuse_reply_err(req, -ret);
}

/* What the kernel caches of a file just opened: nothing with cache=none;
 * its pages kept when the library found the file unchanged
 * (close-to-open), else dropped together with its attributes, so the size
 * the kernel reads up to is the new one too. */
static void open_cache(fuse_req_t req, fuse_ino_t ino, podfs_file *f,
		       struct fuse_file_info *fi)
{
	struct podfs_fuse *pf = pf_of(req);

	fi->direct_io = podfs_file_direct_io(f);
	fi->keep_cache = podfs_file_keep_cache(f);
	if (!fi->keep_cache) {
		pthread_mutex_lock(&pf->notify_lock);
		if (pf->se)
			fuse_lowlevel_notify_inval_inode(pf->se, ino, -1, 0);
		pthread_mutex_unlock(&pf->notify_lock);
	}
}

void podfs_fuse_invalidate(void *arg, uint64_t ino, off_t off, off_t len)
{
	struct podfs_fuse *pf = arg;
	int ret;

	pthread_mutex_lock(&pf->notify_lock);
	/* attributes go too; -ENOENT: the kernel has forgotten the inode */
	ret = pf->se ? fuse_lowlevel_notify_inval_inode(pf->se, ino, off, len)
		     : 0;
	pthread_mutex_unlock(&pf->notify_lock);
	if (ret && ret != -ENOENT && pf->verbose)
		fprintf(stderr, "mount.podfs: cannot drop the kernel's cache "
			"of inode %llu: %s\n", (unsigned long long)ino,
			strerror(-ret));
}

void podfs_fuse_set_session(struct podfs_fuse *pf, struct fuse_session *se)
{
	pthread_mutex_lock(&pf->notify_lock);
	pf->se = se;
	pthread_mutex_unlock(&pf->notify_lock);
}

static void pf_init(void *userdata, struct fuse_conn_info *conn)
{
	struct podfs_fuse *pf = userdata;

	/* Large requests: the backends split them for the server. */
	conn->max_write = PODFS_FUSE_IO_MAX;
	conn->max_readahead = PODFS_FUSE_IO_MAX;
	/* Writers can truncate in open; readdir hands back attributes;
	 * lookups and creates in one directory run in parallel. */
	conn->want |= conn->capable & (FUSE_CAP_ATOMIC_O_TRUNC |
				       FUSE_CAP_READDIRPLUS |
				       FUSE_CAP_READDIRPLUS_AUTO |
				       FUSE_CAP_PARALLEL_DIROPS |
				       FUSE_CAP_ASYNC_READ |
				       FUSE_CAP_ASYNC_DIO |
				       FUSE_CAP_SPLICE_WRITE |
				       FUSE_CAP_SPLICE_MOVE);
	/* Locks the volume holds on the server come here; the kernel keeps
	 * the others (local_lock=, nolock), correct within the pod. No
	 * write-back cache in the kernel, so writes reach podfs (and the
	 * server) in order. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (!(podfs_locks(pf->vol) & PODFS_LOCKS_POSIX))
		conn->want &= ~FUSE_CAP_POSIX_LOCKS;
	else
		conn->want |= conn->capable & FUSE_CAP_POSIX_LOCKS;
	if (!(podfs_locks(pf->vol) & PODFS_LOCKS_FLOCK))
		conn->want &= ~FUSE_CAP_FLOCK_LOCKS;
	else
		conn->want |= conn->capable & FUSE_CAP_FLOCK_LOCKS;
	/* Told of every change by others, the kernel needn't guess from a
	 * new mtime (which our own writes make too) that its data is stale. */
	if (pf->coherent)
		conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
}

static void pf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct podfs_entry e;
	int ret = podfs_ll_lookup(pf_of(req)->vol, parent, name, &e);

	if (ret == -ENOENT && e.entry_timeout > 0) {
		/* a negative entry (lookupcache=all), kept as the library's */
		struct fuse_entry_param ep = { .entry_timeout = e.entry_timeout };

		fuse_reply_entry(req, &ep);
	} else if (ret) {
		reply_status(req, ret);
	} else {
		reply_entry(req, &e);
	}
}

static void pf_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	podfs_ll_forget(pf_of(req)->vol, ino, nlookup);
	fuse_reply_none(req);
}

static void pf_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		podfs_ll_forget(pf_of(req)->vol, forgets[i].ino,
				forgets[i].nlookup);
	fuse_reply_none(req);
}

static void pf_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	int ret;

	(void)fi;
	ret = podfs_ll_getattr(pf_of(req)->vol, ino, &st);
	if (ret)
		reply_status(req, ret);
	else
		reply_attr(req, ino, &st);
}

static void pf_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct stat st;
	int ret;

	/* PODFS_SET_* are FUSE_SET_ATTR_*; ctime follows any change */
	to_set &= PODFS_SET_MODE | PODFS_SET_UID | PODFS_SET_GID |
		  PODFS_SET_SIZE | PODFS_SET_ATIME | PODFS_SET_MTIME |
		  PODFS_SET_ATIME_NOW | PODFS_SET_MTIME_NOW;
	ret = podfs_ll_setattr(pf_of(req)->vol, ino, fi ? file_of(fi) : NULL,
			       attr, to_set, &st);
	if (ret)
		reply_status(req, ret);
	else
		reply_attr(req, ino, &st);
}

static void pf_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t n = podfs_ll_readlink(pf_of(req)->vol, ino, buf, sizeof(buf));

	if (n < 0)
		reply_status(req, (int)n);
	else if ((size_t)n >= sizeof(buf))
		fuse_reply_err(req, ENAMETOOLONG);
	else
		fuse_reply_readlink(req, buf);
}

static void pf_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct podfs_cred cred = cred_of(req);
	struct podfs_entry e;
	int ret = podfs_ll_mknod(pf_of(req)->vol, parent, name, mode, rdev,
				 &cred, &e);

	if (ret)
		reply_status(req, ret);
	else
		reply_entry(req, &e);
}

static void pf_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct podfs_cred cred = cred_of(req);
	struct podfs_entry e;
	int ret = podfs_ll_mkdir(pf_of(req)->vol, parent, name, mode, &cred,
				 &e);

	if (ret)
		reply_status(req, ret);
	else
		reply_entry(req, &e);
}

static void pf_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	struct podfs_cred cred = cred_of(req);
	struct podfs_entry e;
	int ret = podfs_ll_symlink(pf_of(req)->vol, parent, name, target,
				   &cred, &e);

	if (ret)
		reply_status(req, ret);
	else
		reply_entry(req, &e);
}

static void pf_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_status(req, podfs_ll_unlink(pf_of(req)->vol, parent, name));
}

static void pf_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_status(req, podfs_ll_rmdir(pf_of(req)->vol, parent, name));
}

static void pf_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	unsigned pflags = 0;

	if (flags & ~RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL); /* RENAME_EXCHANGE, WHITEOUT */
		return;
	}
	if (flags & RENAME_NOREPLACE)
		pflags |= PODFS_RENAME_NOREPLACE;
	reply_status(req, podfs_ll_rename(pf_of(req)->vol, parent, name,
					  newparent, newname, pflags));
}

static void pf_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct podfs_entry e;
	int ret = podfs_ll_link(pf_of(req)->vol, ino, newparent, newname, &e);

	if (ret)
		reply_status(req, ret);
	else
		reply_entry(req, &e);
}

static void pf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	podfs_file *f;
	int ret = podfs_ll_open(pf_of(req)->vol, ino, fi->flags, &f);

	if (ret) {
		reply_status(req, ret);
		return;
	}
	fi->fh = (uintptr_t)f;
	open_cache(req, ino, f, fi);
	if (fuse_reply_open(req, fi) == -ENOENT)
		podfs_release(pf_of(req)->vol, f);
}

static void pf_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct podfs_fuse *pf = pf_of(req);
	struct podfs_cred cred = cred_of(req);
	struct fuse_entry_param ep;
	struct podfs_entry e;
	podfs_file *f;
	int ret = podfs_ll_create(pf->vol, parent, name, mode, fi->flags,
				  &cred, &e, &f);

	if (ret) {
		reply_status(req, ret);
		return;
	}
	ep = entry_param(&e);
	fi->fh = (uintptr_t)f;
	fi->direct_io = podfs_file_direct_io(f);
	if (fuse_reply_create(req, &ep, fi) == -ENOENT) {
		podfs_release(pf->vol, f);
		podfs_ll_forget(pf->vol, e.ino, 1);
	}
}

/* Each FUSE thread reads into a buffer of its own, kept while the thread
 * lives: a fresh megabyte per read is, for malloc, often a fresh mapping
 * faulted in page by page. */
static pthread_key_t read_buf_key;
static pthread_once_t read_buf_once = PTHREAD_ONCE_INIT;
static bool read_buf_keyed;

struct read_buf {
	size_t size;
	char data[];
};

static void read_buf_init(void)
{
	read_buf_keyed = !pthread_key_create(&read_buf_key, free);
}

/* A buffer of SIZE bytes for this thread's read; *OWN when the caller
 * must free it (no thread key to keep it under). */
static char *read_buf(size_t size, bool *own)
{
	struct read_buf *b;

	pthread_once(&read_buf_once, read_buf_init);
	*own = !read_buf_keyed;
	if (*own)
		return malloc(size ? size : 1);
	b = pthread_getspecific(read_buf_key);
	if (b && b->size >= size)
		return b->data;
	free(b);
	if (size < PODFS_FUSE_IO_MAX)
		size = PODFS_FUSE_IO_MAX;
	b = malloc(sizeof(*b) + size);
	if (b)
		b->size = size;
	pthread_setspecific(read_buf_key, b);
	return b ? b->data : NULL;
}

static void reply_iov(void *req, const struct iovec *iov, int iovcnt)
{
	fuse_reply_iov(req, iov, iovcnt);
}

static void pf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	bool own;
	char *buf = read_buf(size, &own);
	ssize_t n;

	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* straight from the cache where it holds the data */
	n = podfs_pread_lend(pf_of(req)->vol, file_of(fi), buf, size, off,
			     reply_iov, req);
	if (n < 0)
		reply_status(req, (int)n);
	if (own)
		free(buf);
}

static void pf_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	(void)ino;
	n = podfs_pwrite(pf_of(req)->vol, file_of(fi), buf, size, off);
	if (n < 0)
		reply_status(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void pf_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	podfs_volume *vol = pf_of(req)->vol;
	int ret = podfs_flush(vol, file_of(fi));
	int ret2 = 0;

	(void)ino;
	/* a close(2): the process's POSIX locks on the file go (the kernel
	 * keeps none of them itself once they are the server's) */
	if (podfs_locks(vol) & PODFS_LOCKS_POSIX)
		ret2 = podfs_unlock_owner(vol, file_of(fi), fi->lock_owner);
	reply_status(req, ret ? ret : ret2);
}

static void pf_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	/* the file's flock goes with it (fi->flock_release) */
	reply_status(req, podfs_release(pf_of(req)->vol, file_of(fi)));
}

/* ---- locks: on the server (podfs_locks), the kernel keeps the rest ------- */

static int lock_interrupted(void *arg)
{
	return fuse_req_interrupted(arg);
}

/* A signal to the waiting process: the kernel sends INTERRUPT. */
static void lock_interrupt(fuse_req_t req, void *data)
{
	(void)req;
	podfs_lock_cancel(pf_of(req)->vol, data);
}

/* A lock call that may wait: interruptible while it does. */
static int wait_lock(fuse_req_t req, podfs_file *f, uint64_t owner,
		     const struct flock *lk, int flock_op, bool sleep)
{
	struct podfs_lock_wait w = { lock_interrupted, req };
	podfs_volume *vol = pf_of(req)->vol;
	int ret;

	if (sleep)
		fuse_req_interrupt_func(req, lock_interrupt, f);
	ret = lk ? podfs_setlk(vol, f, owner, lk, sleep ? &w : NULL)
		 : podfs_flock(vol, f, flock_op, &w);
	if (sleep) /* waits for a running lock_interrupt to end */
		fuse_req_interrupt_func(req, NULL, NULL);
	return ret;
}

static void pf_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct flock *lock)
{
	int ret = podfs_getlk(pf_of(req)->vol, file_of(fi), fi->lock_owner,
			      lock);

	(void)ino;
	if (ret)
		reply_status(req, ret);
	else
		fuse_reply_lock(req, lock);
}

static void pf_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct flock *lock, int sleep)
{
	(void)ino;
	reply_status(req, wait_lock(req, file_of(fi), fi->lock_owner, lock, 0,
				    sleep));
}

static void pf_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     int op)
{
	(void)ino;
	reply_status(req, wait_lock(req, file_of(fi), 0, NULL, op,
				    !(op & LOCK_NB)));
}

static void pf_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	(void)ino;
	reply_status(req, podfs_fsync(pf_of(req)->vol, file_of(fi), datasync));
}

static void pf_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	podfs_dir *d;
	int ret = podfs_ll_opendir(pf_of(req)->vol, ino, &d);

	if (ret) {
		reply_status(req, ret);
		return;
	}
	fi->fh = (uintptr_t)d;
	/* A listing is kept by the kernel for the next ls (the listing
	 * cache): it starts a listing anew when the directory's mtime moved,
	 * asked for once its attributes time out (auto_inval_data, on where
	 * the backend does not tell of changes itself), or when this mount
	 * changed it. So a listing is as fresh as the directory's
	 * attributes, as the kernel NFS client's. */
	if (!pf_of(req)->coherent) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	if (fuse_reply_open(req, fi) == -ENOENT)
		podfs_ll_releasedir(pf_of(req)->vol, d);
}

struct dir_buf {
	fuse_req_t req;
	char *buf;
	size_t size, used;
	bool plus;
};

static int fill_entry(void *arg, const char *name,
		      const struct podfs_entry *entry, off_t next)
{
	struct dir_buf *b = arg;
	size_t n;

	if (b->plus) {
		struct fuse_entry_param ep = entry_param(entry);

		n = fuse_add_direntry_plus(b->req, b->buf + b->used,
					   b->size - b->used, name, &ep, next);
	} else {
		n = fuse_add_direntry(b->req, b->buf + b->used,
				      b->size - b->used, name, &entry->attr,
				      next);
	}
	if (n > b->size - b->used)
		return 1; /* full: this entry goes in the next call */
	b->used += n;
	return 0;
}

static void readdir_common(fuse_req_t req, size_t size, off_t off,
			   struct fuse_file_info *fi, bool plus)
{
	struct dir_buf b = { .req = req, .size = size, .plus = plus };
	int ret;

	b.buf = malloc(size ? size : 1);
	if (!b.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ret = podfs_ll_readdir(pf_of(req)->vol, dir_of(fi), off,
			       plus ? PODFS_READDIR_PLUS : 0, fill_entry, &b);
	if (ret)
		reply_status(req, ret);
	else
		fuse_reply_buf(req, b.buf, b.used);
	free(b.buf);
}

static void pf_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	readdir_common(req, size, off, fi, false);
}

static void pf_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	readdir_common(req, size, off, fi, true);
}

static void pf_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	(void)ino;
	reply_status(req, podfs_ll_releasedir(pf_of(req)->vol, dir_of(fi)));
}

static void pf_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	/* directory changes are synchronous on the server already */
	fuse_reply_err(req, 0);
}

static void pf_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	int ret = podfs_ll_statfs(pf_of(req)->vol, ino, &st);

	if (ret)
		reply_status(req, ret);
	else
		fuse_reply_statfs(req, &st);
}

static void pf_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	reply_status(req, podfs_ll_setxattr(pf_of(req)->vol, ino, name, value,
					    size, flags));
}

/* get and list share their shape: size 0 asks for the size only */
static void reply_xattr(fuse_req_t req, size_t size, ssize_t n,
			const char *buf)
{
	if (n < 0)
		reply_status(req, (int)n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if ((size_t)n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

/* The statistics, from the root's virtual attribute; a size query is
 * answered with room to spare, as the numbers grow between two calls. */
static void reply_stats(fuse_req_t req, size_t size)
{
	char *json = stats_json(pf_of(req)->vol);
	size_t n = json ? strlen(json) : 0;

	if (!json)
		fuse_reply_err(req, ENOMEM);
	else if (size == 0)
		fuse_reply_xattr(req, n + 4096);
	else if (n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, json, n);
	free(json);
}

static void pf_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char *buf;
	ssize_t n;

	if (ino == FUSE_ROOT_ID && !strcmp(name, PODFS_STATS_XATTR)) {
		reply_stats(req, size);
		return;
	}
	buf = size ? malloc(size) : NULL;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = podfs_ll_getxattr(pf_of(req)->vol, ino, name, buf, size);
	reply_xattr(req, size, n, buf);
	free(buf);
}

static void pf_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	ssize_t n;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = podfs_ll_listxattr(pf_of(req)->vol, ino, buf, size);
	reply_xattr(req, size, n, buf);
	free(buf);
}

static void pf_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	reply_status(req, podfs_ll_removexattr(pf_of(req)->vol, ino, name));
}

const struct fuse_lowlevel_ops podfs_fuse_ops = {
	.init = pf_init,
	.lookup = pf_lookup,
	.forget = pf_forget,
	.forget_multi = pf_forget_multi,
	.getattr = pf_getattr,
	.setattr = pf_setattr,
	.readlink = pf_readlink,
	.mknod = pf_mknod,
	.mkdir = pf_mkdir,
	.symlink = pf_symlink,
	.unlink = pf_unlink,
	.rmdir = pf_rmdir,
	.rename = pf_rename,
	.link = pf_link,
	.open = pf_open,
	.create = pf_create,
	.read = pf_read,
	.write = pf_write,
	.flush = pf_flush,
	.release = pf_release,
	.getlk = pf_getlk,
	.setlk = pf_setlk,
	.flock = pf_flock,
	.fsync = pf_fsync,
	.opendir = pf_opendir,
	.readdir = pf_readdir,
	.readdirplus = pf_readdirplus,
	.releasedir = pf_releasedir,
	.fsyncdir = pf_fsyncdir,
	.statfs = pf_statfs,
	.setxattr = pf_setxattr,
	.getxattr = pf_getxattr,
	.listxattr = pf_listxattr,
	.removexattr = pf_removexattr,
};
