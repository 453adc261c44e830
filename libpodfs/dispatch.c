/*
 * The dispatch layer: one function per backend op, as libfuse's
 * fuse_fs_*() in lib/fuse.c. Each answers -ENOTSUP for an op the backend
 * lacks, times and counts the op (podfs_stats_foreach "ops.*"), makes sure
 * an error has a message, and is where the cache is consulted and fed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

const char *const dispatch_op_names[DISPATCH_OP_COUNT] = {
	[OP_LOOKUP] = "lookup",	    [OP_GETATTR] = "getattr",
	[OP_SETATTR] = "setattr",   [OP_READDIR] = "readdir",
	[OP_MKDIR] = "mkdir",	    [OP_MKNOD] = "mknod",
	[OP_SYMLINK] = "symlink",   [OP_CREATE] = "create",
	[OP_LINK] = "link",	    [OP_UNLINK] = "unlink",
	[OP_RMDIR] = "rmdir",	    [OP_RENAME] = "rename",
	[OP_READLINK] = "readlink", [OP_STATFS] = "statfs",
	[OP_OPEN] = "open",	    [OP_READ] = "read",
	[OP_WRITE] = "write",	    [OP_FSYNC] = "fsync",
	[OP_CLOSE] = "close",	    [OP_GETXATTR] = "getxattr",
	[OP_SETXATTR] = "setxattr", [OP_LISTXATTR] = "listxattr",
	[OP_REMOVEXATTR] = "removexattr", [OP_LOCK] = "lock",
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void add(uint64_t *counter, uint64_t v)
{
	__atomic_add_fetch(counter, v, __ATOMIC_RELAXED);
}

/* The start of op OP: -ENOTSUP (with a message) when the backend has
 * no such op, else 0 and the time it starts. */
static int op_begin(struct podfs_volume *vol, enum dispatch_op op,
		    const void *fn, uint64_t *t0)
{
	if (!fn)
		return podfs_set_error(vol, ENOTSUP,
				       "%s: %s is not supported on %s volumes",
				       vol->cfg.source, dispatch_op_names[op],
				       vol->ops->name);
	*t0 = now_us();
	return 0;
}

static ssize_t op_end(struct podfs_volume *vol, enum dispatch_op op,
		      uint64_t t0, ssize_t ret, const char *what)
{
	add(&vol->counters.ops[op].count, 1);
	add(&vol->counters.ops[op].usec, now_us() - t0);
	if (ret < 0) {
		add(&vol->counters.ops[op].errors, 1);
		error_ensure(vol, (int)ret, what);
	}
	return ret;
}

/* Calls vol->ops->OP(vol->be, ...) as op ID, with WHAT for a message. */
#define CALL(vol, id, op, what, ...)                                           \
	({                                                                     \
		uint64_t t0_;                                                  \
		ssize_t r_ = op_begin(vol, id, (const void *)vol->ops->op,     \
				      &t0_);                                   \
		if (!r_)                                                       \
			r_ = op_end(vol, id, t0_,                              \
				    vol->ops->op(vol->be, __VA_ARGS__), what); \
		r_;                                                            \
	})

/* ---- names ------------------------------------------------------------------ */

/* RET from a call on IN: -ESTALE says IN is no longer what its names
 * name, so no cached name leads to it until a lookup finds it again (a
 * cached name needs cached attributes: see lookup_cached). The kernel
 * looks a name up again after -ESTALE; it must reach the server. Changed
 * by another client, not by us: its cached data goes at the next open
 * (were the attributes merely dropped, the next ones, though changed,
 * would be taken for our own change). */
static int gone(struct podfs_inode *in, int ret)
{
	if (ret == -ESTALE)
		cache_attr_foreign(in);
	return ret;
}

/* NAME in DIR from the cache: 1 with OUT filled and *INP its inode (a
 * lookup reference), -ENOENT for a cached "no such name" (with a
 * message), 0 when the cache can't tell. */
static int lookup_cached(struct podfs_volume *vol, struct podfs_inode *dir,
			 const char *name, struct podfs_entry *out,
			 struct podfs_inode **inp)
{
	struct podfs_inode *in;
	struct stat st;
	uint64_t key;

	if (!cache_dentry_get(vol, dir, name, &key))
		return 0;
	if (!key)
		return podfs_set_error(vol, ENOENT, "%s: %s", name,
				       strerror(ENOENT));
	in = inode_ref_key(vol, key);
	if (!in)
		return 0; /* forgotten: the backend must name it again */
	if (!cache_attr_get(vol, in, &st)) {
		inode_release(vol, in, 0, 1);
		return 0;
	}
	entry_fill(vol, in, &st, out);
	*inp = in;
	return 1;
}

/* The timeouts of a name found in DIR (or found missing: RET -ENOENT). */
static int entry_timeouts(struct podfs_volume *vol, struct podfs_inode *dir,
			  int ret, struct podfs_entry *out)
{
	if (!ret) {
		out->entry_timeout =
			cache_dentry_ttl(vol, dir, out->attr.st_mode);
	} else if (ret == -ENOENT) {
		out->ino = 0;
		out->entry_timeout =
			vol->cfg.lookupcache == PODFS_LOOKUPCACHE_ALL
				? cache_dentry_ttl(vol, dir, S_IFDIR)
				: 0;
	}
	return ret;
}

int dispatch_lookup(struct podfs_volume *vol, struct podfs_inode *dir,
		    const char *name, struct podfs_entry *out)
{
	struct podfs_inode *in;
	struct podfs_bobj *obj;
	struct stat st;
	uint64_t key;
	uint64_t since;
	int ret = lookup_cached(vol, dir, name, out, &in);

	if (ret < 0)
		return entry_timeouts(vol, dir, ret, out);
	if (ret == 0) {
		since = cache_attr_since();
		ret = (int)CALL(vol, OP_LOOKUP, lookup, name, dir->obj, name,
				&obj, &st);
		if (ret == -ENOENT)
			cache_dentry_set(vol, dir, name, 0);
		if (ret)
			return entry_timeouts(vol, dir, ret, out);
		key = obj->key;
		ret = inode_from_obj(vol, obj, &st, since, 0, out, &in);
		if (ret)
			return ret;
		cache_dentry_set(vol, dir, name, key);
	}
	inode_set_name(in, dir->ino, name);
	return entry_timeouts(vol, dir, 0, out);
}

/* The names of PATH the cache knows, one by one; the rest (two names or
 * more) in one request where the backend can. */
int dispatch_lookup_path(struct podfs_volume *vol, struct podfs_inode *dir,
			 const char *path, struct podfs_entry *out)
{
	struct podfs_inode *cur = dir, *held = NULL, *in;
	struct podfs_bobj *obj;
	const char *p = path;
	struct stat st;
	char name[256];
	int ret;

	for (;;) {
		size_t len = strcspn(p, "/");

		if (len >= sizeof(name)) {
			ret = podfs_set_error(vol, ENAMETOOLONG,
					      "name '%.40s...' is too long", p);
			break;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		if (!p[len]) {
			ret = dispatch_lookup(vol, cur, name, out);
			break;
		}
		ret = lookup_cached(vol, cur, name, out, &in);
		if (ret < 0)
			break;
		if (ret == 0) {
			uint64_t since = cache_attr_since();

			ret = (int)CALL(vol, OP_LOOKUP, lookup_path, path,
					cur->obj, p, &obj, &st);
			if (!ret)
				ret = inode_from_obj(vol, obj, &st, since, 0,
						     out, NULL);
			if (!ret)
				out->entry_timeout = 0; /* no parent */
			break;
		}
		if (held)
			inode_release(vol, held, 0, 1);
		held = cur = in;
		if (!S_ISDIR(out->attr.st_mode)) {
			ret = podfs_set_error(vol, ENOTDIR,
					      "'%s' in '%s' is not a directory",
					      name, path);
			break;
		}
		p += len + 1;
	}
	if (held)
		inode_release(vol, held, 0, 1);
	return ret;
}

/* ---- attributes -------------------------------------------------------------- */

int dispatch_getattr(struct podfs_volume *vol, struct podfs_inode *in,
		     struct podfs_bfile *bf, bool force, struct stat *st,
		     bool *changed)
{
	int ret, diff;

	if (changed)
		*changed = false;
	/* what we wrote goes first: size and mtime are the server's */
	if (data_unsettled(in))
		data_flush(vol, in, NULL);
	if (!force && cache_attr_get(vol, in, st))
		return 0;
	/* a reply overtaken by news of ours (a write landed meanwhile) is
	 * asked again: it may say a size the file no longer has */
	for (int tries = 0;; tries++) {
		uint64_t since = cache_attr_since();

		ret = (int)CALL(vol, OP_GETATTR, getattr, "getattr", in->obj,
				bf, st);
		if (ret)
			return gone(in, ret);
		diff = cache_attr_set(vol, in, st, since);
		if (diff >= 0 || tries == 2)
			break;
	}
	if (changed)
		*changed = diff > 0;
	return 0;
}

int dispatch_setattr(struct podfs_volume *vol, struct podfs_inode *in,
		     struct podfs_bfile *bf, const struct stat *attr,
		     int to_set, struct stat *out)
{
	uint64_t since;
	int ret;

	/* written data lands before a truncate (and its mtime before a
	 * new one): sent, by the flusher say, is not enough, as a WRITE
	 * answered after the SETATTR grows the file again */
	if (data_unsettled(in))
		data_flush(vol, in, NULL);
	since = cache_attr_since();
	ret = (int)CALL(vol, OP_SETATTR, setattr, "setattr", in->obj, bf, attr,
			to_set, out);
	if (to_set & PODFS_SET_SIZE)
		data_invalidate(vol, in);
	if (ret) {
		cache_attr_drop(in); /* it may have half happened */
		return ret;
	}
	cache_attr_set_changed(vol, in, out, since);
	/* a read in flight (read-ahead) keeps the size it had before */
	if (to_set & PODFS_SET_SIZE)
		data_set_size(in, attr->st_size);
	return 0;
}

/* ---- directories --------------------------------------------------------------- */

int dispatch_readdir(struct podfs_volume *vol, struct podfs_inode *dir,
		     podfs_bdirent_cb cb, void *arg)
{
	return (int)CALL(vol, OP_READDIR, readdir, "readdir", dir->obj, cb,
			 arg);
}

/* A change we made to NAME in DIR: DIR's mtime moved, and NAME names KEY
 * now (0: nothing). RET: the change failed, and may have half happened. */
static void dir_changed(struct podfs_volume *vol, struct podfs_inode *dir,
			const char *name, uint64_t key, int ret)
{
	cache_attr_drop(dir);
	if (ret)
		cache_dentry_drop(dir, name);
	else
		cache_dentry_set(vol, dir, name, key);
}

int dispatch_make(struct podfs_volume *vol, enum make_kind kind,
		  struct podfs_inode *dir, const char *name, mode_t mode,
		  dev_t rdev, const char *target, const struct podfs_cred *cred,
		  struct podfs_entry *out)
{
	struct podfs_inode *in;
	struct podfs_bobj *obj;
	struct stat st;
	uint64_t since = cache_attr_since();
	int ret = 0;

	switch (kind) {
	case MAKE_DIR:
		ret = (int)CALL(vol, OP_MKDIR, mkdir, name, dir->obj, name,
				mode, cred, &obj, &st);
		break;
	case MAKE_NOD:
		ret = (int)CALL(vol, OP_MKNOD, mknod, name, dir->obj, name,
				mode, rdev, cred, &obj, &st);
		break;
	case MAKE_SYMLINK:
		ret = (int)CALL(vol, OP_SYMLINK, symlink, name, dir->obj, name,
				target, cred, &obj, &st);
		break;
	}
	dir_changed(vol, dir, name, ret ? 0 : obj->key, ret);
	if (ret)
		return ret;
	ret = inode_from_obj(vol, obj, &st, since, 0, out, &in);
	if (ret)
		return ret;
	inode_set_name(in, dir->ino, name);
	return entry_timeouts(vol, dir, 0, out);
}

int dispatch_create(struct podfs_volume *vol, struct podfs_inode *dir,
		    const char *name, mode_t mode, int flags,
		    const struct podfs_cred *cred, struct podfs_entry *out,
		    struct podfs_inode **in, struct podfs_bfile **bf)
{
	struct podfs_bobj *obj;
	struct stat st;
	uint64_t since = cache_attr_since();
	int ret = (int)CALL(vol, OP_CREATE, create, name, dir->obj, name, mode,
			    flags, cred, &obj, &st, bf);

	dir_changed(vol, dir, name, ret ? 0 : obj->key, ret);
	if (ret)
		return ret;
	ret = inode_from_obj(vol, obj, &st, since, 1, out, in);
	if (ret) {
		vol->ops->close(vol->be, *bf);
		return ret;
	}
	inode_set_name(*in, dir->ino, name);
	return entry_timeouts(vol, dir, 0, out);
}

int dispatch_link(struct podfs_volume *vol, struct podfs_inode *in,
		  struct podfs_inode *newdir, const char *newname,
		  struct podfs_entry *out)
{
	struct stat st;
	uint64_t since = cache_attr_since();
	int ret = (int)CALL(vol, OP_LINK, link, newname, in->obj, newdir->obj,
			    newname, &st);

	dir_changed(vol, newdir, newname, in->obj->key, ret);
	if (ret) {
		cache_attr_drop(in);
		return ret;
	}
	/* the new name is one more lookup reference on the same inode */
	pthread_mutex_lock(&vol->lock);
	in->nlookup++;
	pthread_mutex_unlock(&vol->lock);
	cache_attr_set(vol, in, &st, since);
	entry_fill(vol, in, &st, out);
	inode_set_name(in, newdir->ino, newname);
	return entry_timeouts(vol, newdir, 0, out);
}

/* The object with KEY lost (or is about to lose) the name NAME in DIR:
 * its nlink and ctime move. With NEWDIR, it is called NEWNAME there now. */
static void name_moved(struct podfs_volume *vol, uint64_t key,
		       struct podfs_inode *dir, const char *name,
		       struct podfs_inode *newdir, const char *newname)
{
	struct podfs_inode *in;

	if (!key)
		return;
	pthread_mutex_lock(&vol->lock);
	in = table_find_key(&vol->table, key);
	if (in) {
		cache_attr_drop(in);
		inode_drop_name(in, dir->ino, name);
		if (newdir)
			inode_set_name(in, newdir->ino, newname);
	}
	pthread_mutex_unlock(&vol->lock);
}

/* What NAME in DIR names, as far as the core knows (0: it can't tell). */
static uint64_t named(struct podfs_volume *vol, struct podfs_inode *dir,
		      const char *name)
{
	uint64_t key = 0;

	if (!cache_dentry_peek(vol, dir, name, &key))
		key = 0;
	return key;
}

int dispatch_remove(struct podfs_volume *vol, struct podfs_inode *dir,
		    const char *name, bool is_dir)
{
	uint64_t key = named(vol, dir, name);
	int ret;

	ret = is_dir ? (int)CALL(vol, OP_RMDIR, rmdir, name, dir->obj, name)
		     : (int)CALL(vol, OP_UNLINK, unlink, name, dir->obj, name);
	name_moved(vol, key, dir, name, NULL, NULL);
	dir_changed(vol, dir, name, 0, ret);
	return ret;
}

int dispatch_rename(struct podfs_volume *vol, struct podfs_inode *dir,
		    const char *name, struct podfs_inode *newdir,
		    const char *newname, unsigned flags)
{
	uint64_t key = named(vol, dir, name);
	uint64_t replaced = named(vol, newdir, newname);
	int ret;

	ret = (int)CALL(vol, OP_RENAME, rename, name, dir->obj, name,
			newdir->obj, newname, flags);
	if (replaced != key)
		name_moved(vol, replaced, newdir, newname, NULL, NULL);
	name_moved(vol, key, dir, name, ret ? NULL : newdir, newname);
	dir_changed(vol, dir, name, 0, ret);
	dir_changed(vol, newdir, newname, key, ret || !key);
	return ret;
}

ssize_t dispatch_readlink(struct podfs_volume *vol, struct podfs_inode *in,
			  char *buf, size_t size)
{
	return CALL(vol, OP_READLINK, readlink, "readlink", in->obj, buf,
		    size);
}

int dispatch_statfs(struct podfs_volume *vol, struct podfs_inode *in,
		    struct statvfs *st)
{
	return (int)CALL(vol, OP_STATFS, statfs, "statfs", in->obj, st);
}

struct podfs_inode *dispatch_name_of(struct podfs_volume *vol,
				     struct podfs_inode *in, char name[256])
{
	struct podfs_inode *dir = NULL;
	uint64_t parent = inode_name(in, name);

	if (!parent)
		return NULL;
	pthread_mutex_lock(&vol->lock);
	dir = table_find_ino(&vol->table, parent);
	if (dir)
		dir->users++;
	pthread_mutex_unlock(&vol->lock);
	return dir;
}

int dispatch_revalidate_name(struct podfs_volume *vol, struct podfs_inode *in,
			     bool *changed)
{
	struct podfs_inode *dir;
	struct podfs_bobj *obj;
	char name[256];
	struct stat st;
	uint64_t since;
	int ret;

	dir = dispatch_name_of(vol, in, name);
	if (!dir)
		return 1;
	since = cache_attr_since();
	ret = (int)CALL(vol, OP_LOOKUP, lookup, name, dir->obj, name, &obj,
			&st);
	if (!ret && obj->key == in->obj->key) {
		pthread_mutex_lock(&vol->lock);
		vol->ops->merge(vol->be, in->obj, obj);
		pthread_mutex_unlock(&vol->lock);
		*changed = cache_attr_set(vol, in, &st, since) != 0;
		cache_dentry_set(vol, dir, name, in->obj->key);
	} else if (!ret || ret == -ENOENT) {
		if (!ret)
			vol->ops->put(vol->be, obj);
		cache_dentry_drop(dir, name);
		inode_drop_name(in, dir->ino, name);
		gone(in, -ESTALE);
		ret = podfs_set_error(vol, ESTALE,
				      "%s: replaced or removed by another "
				      "client since it was looked up", name);
	}
	inode_put(vol, dir);
	return ret;
}

/* ---- open files ----------------------------------------------------------------- */

int dispatch_open(struct podfs_volume *vol, struct podfs_inode *in, int flags,
		  struct podfs_inode *dir, const char *name,
		  struct podfs_bfile **bf)
{
	int ret = (int)CALL(vol, OP_OPEN, open, "open", in->obj, flags,
			    dir ? dir->obj : NULL, dir ? name : NULL, bf);

	if (!ret && flags & O_TRUNC)
		cache_attr_drop(in);
	return gone(in, ret);
}

ssize_t dispatch_read(struct podfs_volume *vol, struct podfs_file *f,
		      void *buf, size_t count, off_t off)
{
	return CALL(vol, OP_READ, read, "read", f->bf, buf, count, off);
}

ssize_t dispatch_write(struct podfs_volume *vol, struct podfs_file *f,
		       const void *buf, size_t count, off_t off)
{
	ssize_t ret = CALL(vol, OP_WRITE, write, "write", f->bf, buf, count,
			   off);

	/* size and mtime moved (or may have, on an error) */
	cache_attr_drop(f->inode);
	return ret;
}

/* Asynchronous I/O is counted when it starts: its time is not the
 * caller's. */
int dispatch_read_async(struct podfs_volume *vol, struct podfs_file *f,
			const struct iovec *iov, int iovcnt, off_t off,
			podfs_bio_done done, void *arg)
{
	uint64_t t0;
	int ret = op_begin(vol, OP_READ, (const void *)vol->ops->read_async,
			   &t0);

	if (!ret)
		ret = (int)op_end(vol, OP_READ, t0,
				  vol->ops->read_async(vol->be, f->bf, iov,
						       iovcnt, off, done, arg),
				  "read");
	return ret;
}

int dispatch_write_async(struct podfs_volume *vol, struct podfs_file *f,
			 const void *buf, size_t count, off_t off,
			 podfs_bio_done done, void *arg)
{
	uint64_t t0;
	int ret = op_begin(vol, OP_WRITE, (const void *)vol->ops->write_async,
			   &t0);

	if (!ret)
		ret = (int)op_end(vol, OP_WRITE, t0,
				  vol->ops->write_async(vol->be, f->bf, buf,
							count, off, done, arg),
				  "write");
	cache_attr_drop(f->inode);
	return ret;
}

int dispatch_fsync(struct podfs_volume *vol, struct podfs_file *f,
		   int datasync)
{
	return (int)CALL(vol, OP_FSYNC, fsync, "fsync", f->bf, datasync);
}

int dispatch_close(struct podfs_volume *vol, struct podfs_inode *in,
		   struct podfs_bfile *bf)
{
	(void)in;
	return (int)CALL(vol, OP_CLOSE, close, "close", bf);
}

int dispatch_lock(struct podfs_volume *vol, struct podfs_file *f,
		  uint64_t owner, int cmd, struct flock *lk)
{
	return (int)CALL(vol, OP_LOCK, lock, "lock", f->bf, owner, cmd, lk);
}

/* ---- extended attributes ---------------------------------------------------------- */

ssize_t dispatch_getxattr(struct podfs_volume *vol, struct podfs_inode *in,
			  const char *name, void *value, size_t size)
{
	return CALL(vol, OP_GETXATTR, getxattr, name, in->obj, name, value,
		    size);
}

int dispatch_setxattr(struct podfs_volume *vol, struct podfs_inode *in,
		      const char *name, const void *value, size_t size,
		      int flags)
{
	int ret = (int)CALL(vol, OP_SETXATTR, setxattr, name, in->obj, name,
			    value, size, flags);

	cache_attr_drop(in); /* ctime */
	return ret;
}

ssize_t dispatch_listxattr(struct podfs_volume *vol, struct podfs_inode *in,
			   char *list, size_t size)
{
	return CALL(vol, OP_LISTXATTR, listxattr, "listxattr", in->obj, list,
		    size);
}

int dispatch_removexattr(struct podfs_volume *vol, struct podfs_inode *in,
			 const char *name)
{
	int ret = (int)CALL(vol, OP_REMOVEXATTR, removexattr, name, in->obj,
			    name);

	cache_attr_drop(in);
	return ret;
}
