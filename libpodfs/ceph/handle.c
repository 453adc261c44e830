/*
 * The CephFS backend's calls on objects and open files (struct
 * podfs_backend_ops), on libcephfs' ceph_ll_* API: keys and attributes,
 * names, open files, extended attributes; and its ops table.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int ceph_be_error(struct ceph_be *cb, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return podfs_set_error(cb->be.vol, err, "%s: %s", cb->source, msg);
}

int ceph_be_op_error(struct ceph_be *cb, int err, const char *op,
			    const char *name)
{
	if (name)
		return ceph_be_error(cb, err, "%s '%s': %s", op, name,
				     strerror(err < 0 ? -err : err));
	return ceph_be_error(cb, err, "%s: %s", op,
			     strerror(err < 0 ? -err : err));
}

/* ---- Keys and attributes ------------------------------------------------ */

/* The key of an inode: its number, with a per-snapshot tag on top for
 * inodes seen through .snap (same number, different contents). Tags are
 * handed out as snapshots are first seen, unless only LOOKING. */
uint64_t ceph_be_vkey(struct ceph_be *cb, uint64_t ino, uint64_t snap,
			     bool looking)
{
	unsigned i;

	if (snap == CEPH_BE_NOSNAP)
		return ino;
	pthread_mutex_lock(&cb->snap_lock);
	for (i = 0; i < cb->nsnapids; i++)
		if (cb->snapids[i] == snap)
			break;
	if (i == cb->nsnapids && i < CEPH_BE_MAX_STAGS && !looking) {
		uint64_t *n = realloc(cb->snapids, (i + 1) * sizeof(*n));

		if (n) {
			n[i] = snap;
			cb->snapids = n;
			cb->nsnapids++;
		}
	}
	pthread_mutex_unlock(&cb->snap_lock);
	/* Out of tags (or memory): share the last one; better than the
	 * live inode's key. */
	if (i >= CEPH_BE_MAX_STAGS)
		i = CEPH_BE_MAX_STAGS - 1;
	ino &= (1ull << CEPH_BE_INO_BITS) - 1;
	return ino | ((uint64_t)(i + 1) << CEPH_BE_INO_BITS);
}

uint64_t ceph_be_key(struct ceph_be *cb, const struct ceph_statx *stx)
{
	/* libcephfs puts the snapshot id in stx_dev */
	return ceph_be_vkey(cb, stx->stx_ino, (uint64_t)stx->stx_dev, false);
}

void ceph_be_stat(uint64_t key, const struct ceph_statx *stx,
			 struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = key;
	st->st_mode = stx->stx_mode;
	st->st_nlink = stx->stx_nlink;
	st->st_uid = stx->stx_uid;
	st->st_gid = stx->stx_gid;
	st->st_rdev = stx->stx_rdev;
	st->st_size = (off_t)stx->stx_size;
	st->st_blksize = stx->stx_blksize;
	st->st_blocks = (blkcnt_t)stx->stx_blocks;
	st->st_atim = stx->stx_atime;
	st->st_mtim = stx->stx_mtime;
	st->st_ctim = stx->stx_ctime;
}

/* Wraps IN (a reference we now own) as a new object; on failure the
 * reference is dropped. */
int ceph_be_new_obj(struct ceph_be *cb, struct Inode *in,
			   const struct ceph_statx *stx,
			   struct podfs_bobj **obj, struct stat *st)
{
	struct ceph_obj *co = malloc(sizeof(*co));
	uint64_t key = ceph_be_key(cb, stx);

	if (!co) {
		ceph_ll_put(cb->cmount, in);
		return ceph_be_error(cb, ENOMEM, "out of memory");
	}
	co->obj.key = key;
	co->in = in;
	*obj = &co->obj;
	if (st)
		ceph_be_stat(key, stx, st);
	return 0;
}

/* A UserPerm for a creating call: the caller's identity, or the mount's. */
int ceph_be_perms(struct ceph_be *cb, const struct podfs_cred *cred,
			 UserPerm **perms)
{
	if (!cred) {
		*perms = cb->perms;
		return 0;
	}
	*perms = ceph_userperm_new(cred->uid, cred->gid, 0, NULL);
	if (!*perms)
		return ceph_be_error(cb, ENOMEM, "out of memory");
	return 0;
}

void ceph_be_perms_put(struct ceph_be *cb, UserPerm *perms)
{
	if (perms != cb->perms)
		ceph_userperm_destroy(perms);
}


/* ---- Objects ------------------------------------------------------------ */

static int ceph_be_root(struct podfs_backend *be, struct podfs_bobj **obj,
			struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	struct Inode *in;
	int ret;

	ret = ceph_ll_lookup_root(cb->cmount, &in);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "root", NULL);
	ret = ceph_ll_getattr(cb->cmount, in, &stx, CEPH_STATX_BASIC_STATS, 0,
			      cb->perms);
	if (ret < 0) {
		ceph_ll_put(cb->cmount, in);
		return ceph_be_op_error(cb, ret, "stat of the root", NULL);
	}
	return ceph_be_new_obj(cb, in, &stx, obj, st);
}

static int ceph_be_lookup(struct podfs_backend *be, struct podfs_bobj *dir,
			  const char *name, struct podfs_bobj **obj,
			  struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	struct Inode *in;
	int ret;

	ret = ceph_ll_lookup(cb->cmount, to_cobj(dir)->in, name, &in, &stx,
			     CEPH_STATX_BASIC_STATS, 0, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "lookup", name);
	return ceph_be_new_obj(cb, in, &stx, obj, st);
}

static void ceph_be_put(struct podfs_backend *be, struct podfs_bobj *obj)
{
	struct ceph_obj *co = to_cobj(obj);

	ceph_ll_put(to_cbe(be)->cmount, co->in);
	free(co);
}

/* Same key, same Inode: OLD already holds what NEW does. */
static void ceph_be_merge(struct podfs_backend *be, struct podfs_bobj *old,
			  struct podfs_bobj *new_obj)
{
	(void)old;
	ceph_be_put(be, new_obj);
}

static int ceph_be_getattr(struct podfs_backend *be, struct podfs_bobj *obj,
			   struct podfs_bfile *file, struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	int ret;

	(void)file; /* the Inode is the same either way */
	ret = ceph_ll_getattr(cb->cmount, to_cobj(obj)->in, &stx,
			      CEPH_STATX_BASIC_STATS, 0, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "stat", NULL);
	ceph_be_stat(obj->key, &stx, st);
	return 0;
}

static int ceph_be_setattr(struct podfs_backend *be, struct podfs_bobj *obj,
			   struct podfs_bfile *file, const struct stat *attr,
			   int to_set, struct stat *out)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	struct timespec now;
	int mask = 0, ret;

	(void)file;
	memset(&stx, 0, sizeof(stx));
	if (to_set & PODFS_SET_MODE) {
		mask |= CEPH_SETATTR_MODE;
		stx.stx_mode = attr->st_mode & 07777;
	}
	if (to_set & PODFS_SET_UID) {
		mask |= CEPH_SETATTR_UID;
		stx.stx_uid = attr->st_uid;
	}
	if (to_set & PODFS_SET_GID) {
		mask |= CEPH_SETATTR_GID;
		stx.stx_gid = attr->st_gid;
	}
	if (to_set & PODFS_SET_SIZE) {
		mask |= CEPH_SETATTR_SIZE;
		stx.stx_size = (uint64_t)attr->st_size;
	}
	/* The _NOW bits differ in order from FUSE's; as ganesha does, send
	 * our own clock too, for a libcephfs that ignores them. */
	if (to_set & (PODFS_SET_ATIME_NOW | PODFS_SET_MTIME_NOW))
		clock_gettime(CLOCK_REALTIME, &now);
	if (to_set & PODFS_SET_ATIME_NOW) {
		mask |= CEPH_SETATTR_ATIME | CEPH_SETATTR_ATIME_NOW;
		stx.stx_atime = now;
	} else if (to_set & PODFS_SET_ATIME) {
		mask |= CEPH_SETATTR_ATIME;
		stx.stx_atime = attr->st_atim;
	}
	if (to_set & PODFS_SET_MTIME_NOW) {
		mask |= CEPH_SETATTR_MTIME | CEPH_SETATTR_MTIME_NOW;
		stx.stx_mtime = now;
	} else if (to_set & PODFS_SET_MTIME) {
		mask |= CEPH_SETATTR_MTIME;
		stx.stx_mtime = attr->st_mtim;
	}
	if (mask) {
		ret = ceph_ll_setattr(cb->cmount, to_cobj(obj)->in, &stx, mask,
				      cb->perms);
		if (ret < 0)
			return ceph_be_op_error(cb, ret, "setattr", NULL);
	}
	if (out)
		return ceph_be_getattr(be, obj, file, out);
	return 0;
}

static int ceph_be_readdir(struct podfs_backend *be, struct podfs_bobj *dir,
			   podfs_bdirent_cb fill, void *arg)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_dir_result *dirp;
	struct ceph_statx stx;
	struct dirent de;
	struct Inode *in;
	int ret;

	ret = ceph_ll_opendir(cb->cmount, to_cobj(dir)->in, &dirp, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "opendir", NULL);
	for (;;) {
		struct podfs_bobj *obj = NULL;
		struct stat st;
		uint64_t key;

		/* The MDS sent the attributes with the entries: don't ask
		 * again for each one. */
		in = NULL;
		ret = ceph_readdirplus_r(cb->cmount, dirp, &de, &stx,
					 CEPH_STATX_BASIC_STATS,
					 AT_STATX_DONT_SYNC, &in);
		if (ret <= 0) {
			if (ret < 0)
				ret = ceph_be_op_error(cb, ret, "readdir",
						       NULL);
			break;
		}
		if (!strcmp(de.d_name, ".") || !strcmp(de.d_name, "..")) {
			if (in)
				ceph_ll_put(cb->cmount, in);
			continue;
		}
		key = ceph_be_key(cb, &stx);
		if (in) {
			/* short of memory, the entry goes without an object */
			struct ceph_obj *co = malloc(sizeof(*co));

			if (co) {
				co->in = in;
				co->obj.key = key;
				obj = &co->obj;
			} else {
				ceph_ll_put(cb->cmount, in);
			}
		}
		ceph_be_stat(key, &stx, &st);
		ret = fill(arg, de.d_name, obj, &st);
		if (ret)
			break;
	}
	ceph_ll_releasedir(cb->cmount, dirp);
	return ret;
}

/* ---- Names -------------------------------------------------------------- */

static int ceph_be_mkdir(struct podfs_backend *be, struct podfs_bobj *dir,
			 const char *name, mode_t mode,
			 const struct podfs_cred *cred, struct podfs_bobj **obj,
			 struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	struct Inode *in;
	UserPerm *perms;
	int ret;

	ret = ceph_be_perms(cb, cred, &perms);
	if (ret)
		return ret;
	ret = ceph_ll_mkdir(cb->cmount, to_cobj(dir)->in, name, mode, &in,
			    &stx, CEPH_STATX_BASIC_STATS, 0, perms);
	ceph_be_perms_put(cb, perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "mkdir", name);
	return ceph_be_new_obj(cb, in, &stx, obj, st);
}

static int ceph_be_mknod(struct podfs_backend *be, struct podfs_bobj *dir,
			 const char *name, mode_t mode, dev_t rdev,
			 const struct podfs_cred *cred, struct podfs_bobj **obj,
			 struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	struct Inode *in;
	UserPerm *perms;
	int ret;

	ret = ceph_be_perms(cb, cred, &perms);
	if (ret)
		return ret;
	ret = ceph_ll_mknod(cb->cmount, to_cobj(dir)->in, name, mode, rdev,
			    &in, &stx, CEPH_STATX_BASIC_STATS, 0, perms);
	ceph_be_perms_put(cb, perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "mknod", name);
	return ceph_be_new_obj(cb, in, &stx, obj, st);
}

static int ceph_be_symlink(struct podfs_backend *be, struct podfs_bobj *dir,
			   const char *name, const char *target,
			   const struct podfs_cred *cred,
			   struct podfs_bobj **obj, struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	struct Inode *in;
	UserPerm *perms;
	int ret;

	ret = ceph_be_perms(cb, cred, &perms);
	if (ret)
		return ret;
	ret = ceph_ll_symlink(cb->cmount, to_cobj(dir)->in, name, target, &in,
			      &stx, CEPH_STATX_BASIC_STATS, 0, perms);
	ceph_be_perms_put(cb, perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "symlink", name);
	return ceph_be_new_obj(cb, in, &stx, obj, st);
}

static int ceph_be_create(struct podfs_backend *be, struct podfs_bobj *dir,
			  const char *name, mode_t mode, int flags,
			  const struct podfs_cred *cred,
			  struct podfs_bobj **obj, struct stat *st,
			  struct podfs_bfile **file)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_file *cf;
	struct ceph_statx stx;
	struct Inode *in;
	struct Fh *fh;
	UserPerm *perms;
	int ret;

	cf = calloc(1, sizeof(*cf));
	if (!cf)
		return ceph_be_error(cb, ENOMEM, "out of memory");
	ret = ceph_be_perms(cb, cred, &perms);
	if (ret) {
		free(cf);
		return ret;
	}
	flags |= O_CREAT;
	ret = ceph_ll_create(cb->cmount, to_cobj(dir)->in, name, mode, flags,
			     &in, &fh, &stx, CEPH_STATX_BASIC_STATS, 0, perms);
	ceph_be_perms_put(cb, perms);
	if (ret < 0) {
		free(cf);
		return ceph_be_op_error(cb, ret, "create", name);
	}
	ret = ceph_be_new_obj(cb, in, &stx, obj, st);
	if (ret) {
		ceph_ll_close(cb->cmount, fh);
		free(cf);
		return ret;
	}
	cf->file.obj = *obj;
	cf->fh = fh;
	cf->flags = flags;
	*file = &cf->file;
	return 0;
}

static int ceph_be_link(struct podfs_backend *be, struct podfs_bobj *obj,
			struct podfs_bobj *newdir, const char *newname,
			struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_link(cb->cmount, to_cobj(obj)->in, to_cobj(newdir)->in,
			   newname, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "link", newname);
	return ceph_be_getattr(be, obj, NULL, st);
}

static int ceph_be_unlink(struct podfs_backend *be, struct podfs_bobj *dir,
			  const char *name)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_unlink(cb->cmount, to_cobj(dir)->in, name, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "unlink", name);
	return 0;
}

static int ceph_be_rmdir(struct podfs_backend *be, struct podfs_bobj *dir,
			 const char *name)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_rmdir(cb->cmount, to_cobj(dir)->in, name, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "rmdir", name);
	return 0;
}

static int ceph_be_rename(struct podfs_backend *be, struct podfs_bobj *dir,
			  const char *name, struct podfs_bobj *newdir,
			  const char *newname, unsigned flags)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	if (flags & ~PODFS_RENAME_NOREPLACE)
		return ceph_be_error(cb, EINVAL, "rename '%s': flags %#x "
				     "not supported", name, flags);
	if (flags & PODFS_RENAME_NOREPLACE) {
		struct ceph_statx stx;
		struct Inode *in;

		/* libcephfs has no RENAME_NOREPLACE: look first. Racy
		 * against another client creating NEWNAME in between. */
		ret = ceph_ll_lookup(cb->cmount, to_cobj(newdir)->in, newname,
				     &in, &stx, 0, 0, cb->perms);
		if (ret == 0) {
			ceph_ll_put(cb->cmount, in);
			return ceph_be_op_error(cb, -EEXIST, "rename to",
						newname);
		}
		if (ret != -ENOENT)
			return ceph_be_op_error(cb, ret, "rename to", newname);
	}
	ret = ceph_ll_rename(cb->cmount, to_cobj(dir)->in, name,
			     to_cobj(newdir)->in, newname, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "rename", name);
	return 0;
}

static ssize_t ceph_be_readlink(struct podfs_backend *be,
				struct podfs_bobj *obj, char *buf, size_t size)
{
	struct ceph_be *cb = to_cbe(be);
	struct Inode *in = to_cobj(obj)->in;
	size_t len = 4096;
	char *tmp;
	int ret;

	/* libcephfs truncates silently: a target that fills the buffer
	 * may be longer, so read again with more room until it doesn't. */
	if (size > 1) {
		ret = ceph_ll_readlink(cb->cmount, in, buf, size - 1,
				       cb->perms);
		if (ret < 0)
			return ceph_be_op_error(cb, ret, "readlink", NULL);
		if ((size_t)ret < size - 1) {
			buf[ret] = '\0';
			return ret;
		}
		len = size * 2;
	}
	for (;;) {
		tmp = malloc(len);
		if (!tmp)
			return ceph_be_error(cb, ENOMEM, "out of memory");
		ret = ceph_ll_readlink(cb->cmount, in, tmp, len, cb->perms);
		if (ret < 0) {
			free(tmp);
			return ceph_be_op_error(cb, ret, "readlink", NULL);
		}
		if ((size_t)ret < len)
			break;
		free(tmp);
		len *= 2;
	}
	if (size) {
		size_t n = (size_t)ret < size - 1 ? (size_t)ret : size - 1;

		memcpy(buf, tmp, n);
		buf[n] = '\0';
	}
	free(tmp);
	return ret;
}

static int ceph_be_statfs(struct podfs_backend *be, struct podfs_bobj *obj,
			  struct statvfs *st)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_statfs(cb->cmount, to_cobj(obj)->in, st);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "statfs", NULL);
	return 0;
}

/* ---- Open files --------------------------------------------------------- */

static int ceph_be_open(struct podfs_backend *be, struct podfs_bobj *obj,
			int flags, struct podfs_bobj *dir, const char *name,
			struct podfs_bfile **file)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_file *cf;
	struct Fh *fh;
	int ret;

	(void)dir; /* libcephfs opens by inode; the MDS keeps names coherent */
	(void)name;
	cf = calloc(1, sizeof(*cf));
	if (!cf)
		return ceph_be_error(cb, ENOMEM, "out of memory");
	flags &= ~(O_CREAT | O_EXCL);
	ret = ceph_ll_open(cb->cmount, to_cobj(obj)->in, flags, &fh,
			   cb->perms);
	if (ret < 0) {
		free(cf);
		return ceph_be_op_error(cb, ret, "open", NULL);
	}
	cf->file.obj = obj;
	cf->fh = fh;
	cf->flags = flags;
	*file = &cf->file;
	return 0;
}

/* POSIX locks through the MDS (ceph_ll_getlk/ceph_ll_setlk, never
 * waiting: the core waits), so clients of other nodes are excluded. */
static int ceph_be_lock(struct podfs_backend *be, struct podfs_bfile *file,
			uint64_t owner, int cmd, struct flock *lk)
{
	struct ceph_be *cb = to_cbe(be);
	struct Fh *fh = to_cfile(file)->fh;
	int ret;

	if (cmd == F_GETLK)
		ret = ceph_ll_getlk(cb->cmount, fh, lk, owner);
	else
		ret = ceph_ll_setlk(cb->cmount, fh, lk, owner, 0);
	if (ret == -EWOULDBLOCK || ret == -EACCES)
		return ceph_be_error(cb, EAGAIN, "lock held by another owner");
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "lock", NULL);
	return 0;
}

/* libcephfs reads short only at end of file (it zero-fills holes and
 * rechecks the size), so a short piece ends the read. */
static ssize_t ceph_be_read(struct podfs_backend *be, struct podfs_bfile *file,
			    void *buf, size_t count, off_t off)
{
	struct ceph_be *cb = to_cbe(be);
	struct Fh *fh = to_cfile(file)->fh;
	size_t done = 0;

	while (done < count) {
		size_t want = count - done;
		int ret;

		if (want > CEPH_BE_IO_CHUNK)
			want = CEPH_BE_IO_CHUNK;
		ret = ceph_ll_read(cb->cmount, fh, off + (off_t)done, want,
				   (char *)buf + done);
		if (ret < 0)
			return ceph_be_op_error(cb, ret, "read", NULL);
		done += (size_t)ret;
		if ((size_t)ret < want)
			break;
	}
	return (ssize_t)done;
}

static ssize_t ceph_be_write(struct podfs_backend *be,
			     struct podfs_bfile *file, const void *buf,
			     size_t count, off_t off)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_file *cf = to_cfile(file);
	size_t done = 0;

	/* libcephfs appends only for writes at the file position (offset
	 * -1): an explicit offset is taken as given. */
	if (cf->flags & O_APPEND)
		off = -1;
	while (done < count) {
		size_t want = count - done;
		int ret;

		if (want > CEPH_BE_IO_CHUNK)
			want = CEPH_BE_IO_CHUNK;
		ret = ceph_ll_write(cb->cmount, cf->fh,
				    off < 0 ? -1 : off + (off_t)done, want,
				    (const char *)buf + done);
		if (ret < 0)
			return ceph_be_op_error(cb, ret, "write", NULL);
		if (ret == 0)
			return ceph_be_op_error(cb, -EIO, "write", NULL);
		done += (size_t)ret;
	}
	return (ssize_t)done;
}

static int ceph_be_fsync(struct podfs_backend *be, struct podfs_bfile *file,
			 int datasync)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_fsync(cb->cmount, to_cfile(file)->fh, datasync);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "fsync", NULL);
	return 0;
}

static int ceph_be_close(struct podfs_backend *be, struct podfs_bfile *file)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_file *cf = to_cfile(file);
	int ret;

	ret = ceph_ll_close(cb->cmount, cf->fh);
	free(cf);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "close", NULL);
	return 0;
}

/* ---- Extended attributes ------------------------------------------------ */

static ssize_t ceph_be_getxattr(struct podfs_backend *be,
				struct podfs_bobj *obj, const char *name,
				void *value, size_t size)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_getxattr(cb->cmount, to_cobj(obj)->in, name, value, size,
			       cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "getxattr", name);
	return ret;
}

static int ceph_be_setxattr(struct podfs_backend *be, struct podfs_bobj *obj,
			    const char *name, const void *value, size_t size,
			    int flags)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_setxattr(cb->cmount, to_cobj(obj)->in, name, value, size,
			       flags, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "setxattr", name);
	return 0;
}

static ssize_t ceph_be_listxattr(struct podfs_backend *be,
				 struct podfs_bobj *obj, char *list,
				 size_t size)
{
	struct ceph_be *cb = to_cbe(be);
	size_t len = 0;
	int ret;

	ret = ceph_ll_listxattr(cb->cmount, to_cobj(obj)->in, list, size, &len,
				cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "listxattr", NULL);
	return (ssize_t)len;
}

static int ceph_be_removexattr(struct podfs_backend *be,
			       struct podfs_bobj *obj, const char *name)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_removexattr(cb->cmount, to_cobj(obj)->in, name,
				  cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "removexattr", name);
	return 0;
}

const struct podfs_backend_ops podfs_ceph_backend = {
	.version = PODFS_BACKEND_OPS_VERSION,
	.name = "ceph",
	.attach = ceph_be_attach,
	.detach = ceph_be_detach,
	.root = ceph_be_root,
	.lookup = ceph_be_lookup,
	.merge = ceph_be_merge,
	.put = ceph_be_put,
	.getattr = ceph_be_getattr,
	.setattr = ceph_be_setattr,
	.readdir = ceph_be_readdir,
	.mkdir = ceph_be_mkdir,
	.mknod = ceph_be_mknod,
	.symlink = ceph_be_symlink,
	.create = ceph_be_create,
	.link = ceph_be_link,
	.unlink = ceph_be_unlink,
	.rmdir = ceph_be_rmdir,
	.rename = ceph_be_rename,
	.readlink = ceph_be_readlink,
	.statfs = ceph_be_statfs,
	.open = ceph_be_open,
	.read = ceph_be_read,
	.write = ceph_be_write,
	.fsync = ceph_be_fsync,
	.close = ceph_be_close,
	.lock = ceph_be_lock,
	.getxattr = ceph_be_getxattr,
	.setxattr = ceph_be_setxattr,
	.listxattr = ceph_be_listxattr,
	.removexattr = ceph_be_removexattr,
};
