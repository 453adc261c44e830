/*
 * The inode level (podfs_ll_*): checks what the caller passed, holds the
 * inodes for the length of the call, and goes through the dispatch layer
 * (and so the cache) to the backend.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static int check_name(struct podfs_volume *vol, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || strchr(name, '/'))
		return podfs_set_error(vol, EINVAL, "bad file name '%s'",
				       name ? name : "");
	if (n > 255)
		return podfs_set_error(vol, ENAMETOOLONG,
				       "file name '%.40s...' is too long", name);
	return 0;
}

int check_writable(struct podfs_volume *vol)
{
	if (vol->cfg.readonly)
		return podfs_set_error(vol, EROFS, "%s is mounted read-only",
				       vol->cfg.source);
	return 0;
}

/* PATH's names one by one, for backends without lookup_path. */
static int lookup_names(struct podfs_volume *vol, uint64_t parent,
			const char *path, struct podfs_entry *out)
{
	char name[256];
	uint64_t cur = parent;
	const char *p = path;
	size_t len;
	int ret;

	for (;;) {
		len = strcspn(p, "/");
		if (len >= sizeof(name))
			return podfs_set_error(vol, ENAMETOOLONG,
					       "name '%.40s...' is too long", p);
		memcpy(name, p, len);
		name[len] = '\0';
		ret = podfs_ll_lookup(vol, cur, name, out);
		if (cur != parent)
			podfs_ll_forget(vol, cur, 1);
		if (ret || !p[len])
			return ret;
		if (!S_ISDIR(out->attr.st_mode)) {
			podfs_ll_forget(vol, out->ino, 1);
			return podfs_set_error(vol, ENOTDIR,
					       "'%s' in '%s' is not a directory",
					       name, path);
		}
		cur = out->ino;
		p += len + 1;
	}
}

PODFS_EXPORT int podfs_ll_lookup(podfs_volume *vol, uint64_t parent,
				 const char *name, struct podfs_entry *out)
{
	struct podfs_inode *dir;
	int ret;

	if (name && (!strcmp(name, ".") || !strcmp(name, "..")))
		return podfs_set_error(vol, EINVAL,
				       "lookup of '%s' is not supported", name);
	ret = check_name(vol, name);
	if (!ret)
		ret = inode_get(vol, parent, &dir);
	if (ret)
		return ret;
	ret = dispatch_lookup(vol, dir, name, out);
	inode_put(vol, dir);
	return ret;
}

int podfs_ll_lookup_path(struct podfs_volume *vol, uint64_t parent,
			 const char *path, struct podfs_entry *out)
{
	struct podfs_inode *dir;
	int ret;

	if (!strchr(path, '/') || !vol->ops->lookup_path)
		return lookup_names(vol, parent, path, out);
	ret = inode_get(vol, parent, &dir);
	if (ret)
		return ret;
	ret = dispatch_lookup_path(vol, dir, path, out);
	inode_put(vol, dir);
	return ret;
}

PODFS_EXPORT void podfs_ll_forget(podfs_volume *vol, uint64_t ino,
				  uint64_t nlookup)
{
	struct podfs_inode *in;

	if (inode_get(vol, ino, &in))
		return;
	inode_release(vol, in, 1, nlookup);
}

PODFS_EXPORT int podfs_ll_getattr(podfs_volume *vol, uint64_t ino,
				  struct stat *st)
{
	struct podfs_inode *in;
	int ret = inode_get(vol, ino, &in);

	if (ret)
		return ret;
	ret = dispatch_getattr(vol, in, NULL, false, st, NULL);
	if (!ret) {
		data_patch_size(in, st);
		present_attr(vol, st);
	}
	inode_put(vol, in);
	return ret;
}

PODFS_EXPORT double podfs_ll_attr_timeout(podfs_volume *vol, uint64_t ino)
{
	struct podfs_inode *in;
	double ttl;

	if (inode_get(vol, ino, &in))
		return 0;
	ttl = cache_attr_ttl(vol, in);
	inode_put(vol, in);
	return ttl;
}

PODFS_EXPORT int podfs_ll_setattr(podfs_volume *vol, uint64_t ino,
				  podfs_file *file, const struct stat *attr,
				  int to_set, struct stat *out)
{
	struct podfs_inode *in;
	struct stat tmp;
	int ret = check_writable(vol);

	if (ret)
		return ret;
	if (to_set & PODFS_SET_SIZE && attr->st_size < 0)
		return podfs_set_error(vol, EINVAL, "negative file size");
	ret = inode_get(vol, ino, &in);
	if (ret)
		return ret;
	ret = dispatch_setattr(vol, in, file ? file->bf : NULL, attr, to_set,
			       out ? out : &tmp);
	inode_put(vol, in);
	if (!ret && out)
		present_attr(vol, out);
	return ret;
}

/* The flags the backend opens with: with the data cache, appends are
 * the cache's (at the end it knows of) and the backend writes where it
 * is told, as the server has no append. */
static int backend_flags(struct podfs_volume *vol, int flags)
{
	flags &= ~(O_CREAT | O_EXCL);
	return vol->data.on ? flags & ~O_APPEND : flags;
}

static int make_object(struct podfs_volume *vol, enum make_kind kind,
		       uint64_t parent, const char *name, mode_t mode,
		       dev_t rdev, const char *target,
		       const struct podfs_cred *cred, struct podfs_entry *out)
{
	struct podfs_inode *dir;
	int ret = check_writable(vol);

	if (!ret)
		ret = check_name(vol, name);
	if (!ret)
		ret = inode_get(vol, parent, &dir);
	if (ret)
		return ret;
	ret = dispatch_make(vol, kind, dir, name, mode, rdev, target, cred,
			    out);
	inode_put(vol, dir);
	return ret;
}

PODFS_EXPORT int podfs_ll_mkdir(podfs_volume *vol, uint64_t parent,
				const char *name, mode_t mode,
				const struct podfs_cred *cred,
				struct podfs_entry *out)
{
	return make_object(vol, MAKE_DIR, parent, name, mode, 0, NULL, cred,
			   out);
}

PODFS_EXPORT int podfs_ll_mknod(podfs_volume *vol, uint64_t parent,
				const char *name, mode_t mode, dev_t rdev,
				const struct podfs_cred *cred,
				struct podfs_entry *out)
{
	return make_object(vol, MAKE_NOD, parent, name, mode, rdev, NULL, cred,
			   out);
}

PODFS_EXPORT int podfs_ll_symlink(podfs_volume *vol, uint64_t parent,
				  const char *name, const char *target,
				  const struct podfs_cred *cred,
				  struct podfs_entry *out)
{
	if (!target || !*target)
		return podfs_set_error(vol, EINVAL, "empty symlink target");
	return make_object(vol, MAKE_SYMLINK, parent, name, 0, 0, target, cred,
			   out);
}

PODFS_EXPORT int podfs_ll_create(podfs_volume *vol, uint64_t parent,
				 const char *name, mode_t mode, int flags,
				 const struct podfs_cred *cred,
				 struct podfs_entry *out, podfs_file **file)
{
	struct podfs_inode *dir, *in;
	struct podfs_bfile *bf;
	int ret = check_writable(vol);

	if (!ret)
		ret = check_name(vol, name);
	if (!ret)
		ret = inode_get(vol, parent, &dir);
	if (ret)
		return ret;
	ret = dispatch_create(vol, dir, name, mode,
			      backend_flags(vol, flags) | O_CREAT |
				      (flags & O_EXCL),
			      cred, out, &in, &bf);
	inode_put(vol, dir);
	if (ret)
		return ret;
	/* a file we just made holds nothing anyone cached */
	*file = file_new(vol, in, bf, flags & ~(O_CREAT | O_EXCL | O_TRUNC),
			 false);
	if (!*file) {
		vol->ops->close(vol->be, bf);
		inode_release(vol, in, 1, 1);
		return podfs_set_error(vol, ENOMEM, "out of memory");
	}
	return 0;
}

PODFS_EXPORT int podfs_ll_link(podfs_volume *vol, uint64_t ino,
			       uint64_t newparent, const char *newname,
			       struct podfs_entry *out)
{
	struct podfs_inode *in, *dir;
	int ret = check_writable(vol);

	if (!ret)
		ret = check_name(vol, newname);
	if (!ret)
		ret = inode_get(vol, ino, &in);
	if (ret)
		return ret;
	ret = inode_get(vol, newparent, &dir);
	if (!ret) {
		ret = dispatch_link(vol, in, dir, newname, out);
		inode_put(vol, dir);
	}
	inode_put(vol, in);
	return ret;
}

static int remove_name(struct podfs_volume *vol, uint64_t parent,
		       const char *name, bool is_dir)
{
	struct podfs_inode *dir;
	int ret = check_writable(vol);

	if (!ret)
		ret = check_name(vol, name);
	if (!ret)
		ret = inode_get(vol, parent, &dir);
	if (ret)
		return ret;
	ret = dispatch_remove(vol, dir, name, is_dir);
	inode_put(vol, dir);
	return ret;
}

PODFS_EXPORT int podfs_ll_unlink(podfs_volume *vol, uint64_t parent,
				 const char *name)
{
	return remove_name(vol, parent, name, false);
}

PODFS_EXPORT int podfs_ll_rmdir(podfs_volume *vol, uint64_t parent,
				const char *name)
{
	return remove_name(vol, parent, name, true);
}

PODFS_EXPORT int podfs_ll_rename(podfs_volume *vol, uint64_t parent,
				 const char *name, uint64_t newparent,
				 const char *newname, unsigned flags)
{
	struct podfs_inode *dir, *newdir;
	int ret = check_writable(vol);

	if (!ret)
		ret = check_name(vol, name);
	if (!ret)
		ret = check_name(vol, newname);
	if (!ret && flags & ~PODFS_RENAME_NOREPLACE)
		ret = podfs_set_error(vol, EINVAL, "rename flags %#x", flags);
	if (!ret)
		ret = inode_get(vol, parent, &dir);
	if (ret)
		return ret;
	ret = inode_get(vol, newparent, &newdir);
	if (!ret) {
		ret = dispatch_rename(vol, dir, name, newdir, newname, flags);
		inode_put(vol, newdir);
	}
	inode_put(vol, dir);
	return ret;
}

PODFS_EXPORT ssize_t podfs_ll_readlink(podfs_volume *vol, uint64_t ino,
				       char *buf, size_t size)
{
	struct podfs_inode *in;
	ssize_t ret;

	if (size == 0)
		return podfs_set_error(vol, EINVAL, "readlink buffer is empty");
	ret = inode_get(vol, ino, &in);
	if (ret)
		return ret;
	ret = dispatch_readlink(vol, in, buf, size);
	inode_put(vol, in);
	return ret;
}

PODFS_EXPORT int podfs_ll_statfs(podfs_volume *vol, uint64_t ino,
				 struct statvfs *st)
{
	struct podfs_inode *in;
	int ret = inode_get(vol, ino, &in);

	if (ret)
		return ret;
	ret = dispatch_statfs(vol, in, st);
	inode_put(vol, in);
	return ret;
}

/* Close-to-open: may what was cached of IN's data before this open be
 * kept (KEEP)? With cto (and cache=strict, or cache=none, which keeps no
 * data but caches attributes) the server is asked even when the cached
 * attributes are fresh, by looking the file's name up again
 * (one request, as a GETATTR): a change of size, mtime or ctime says no,
 * and a name that names another file now (replaced by a rename) fails
 * the open with -ESTALE, so the caller looks it up again (the kernel
 * does, with LOOKUP_REVAL). An open that went by that name and found the
 * file there (NFSv4's OPEN, bf->by_name) has asked already: its reply's
 * attributes, read since SINCE, are the answer. A backend that reports
 * every change needs no asking. */
static bool cto_asks(const struct podfs_volume *vol)
{
	return vol->cfg.cto && vol->cfg.cache_mode != PODFS_CACHE_LOOSE;
}

static int open_revalidate(struct podfs_volume *vol, struct podfs_inode *in,
			   struct podfs_bfile *bf, uint64_t since, bool *keep)
{
	bool force = cto_asks(vol);
	bool changed = false;
	struct stat st;
	int ret;

	*keep = false;
	if (vol->be->coherent) {
		*keep = vol->cfg.cache_mode != PODFS_CACHE_NONE;
		return 0;
	}
	if (force && bf->by_name) {
		changed = cache_attr_set(vol, in, &bf->st, since) != 0;
		ret = 0;
	} else {
		ret = force ? dispatch_revalidate_name(vol, in, &changed) : 1;
	}
	if (ret == -ESTALE)
		return ret;
	if (ret)
		ret = dispatch_getattr(vol, in, bf, force, &st, &changed);
	/* gone from the server: the name the caller opened by is stale */
	if (ret == -ESTALE)
		return ret;
	/* another error: can't tell, so nothing is kept; nor when attributes
	 * read since the last open (a lookup's) showed a change */
	*keep = !cache_attr_take_stale(in) && !ret && !changed &&
		vol->cfg.cache_mode != PODFS_CACHE_NONE;
	if (!*keep)
		data_invalidate(vol, in);
	return 0;
}

PODFS_EXPORT int podfs_ll_open(podfs_volume *vol, uint64_t ino, int flags,
			       podfs_file **file)
{
	struct podfs_inode *in, *dir = NULL;
	struct podfs_bfile *bf;
	char name[256];
	uint64_t since;
	bool keep;
	int ret = 0;

	if ((flags & O_ACCMODE) != O_RDONLY || flags & O_TRUNC)
		ret = check_writable(vol);
	if (!ret)
		ret = inode_get(vol, ino, &in);
	if (ret)
		return ret;
	/* what we wrote lands before a truncating open */
	if (flags & O_TRUNC && data_unsettled(in))
		data_flush(vol, in, NULL);
	/* close-to-open by name: an open by name may do the check */
	if (cto_asks(vol) && !vol->be->coherent)
		dir = dispatch_name_of(vol, in, name);
	since = cache_attr_since();
	ret = dispatch_open(vol, in, backend_flags(vol, flags), dir, name,
			    &bf);
	if (dir)
		inode_put(vol, dir);
	if (ret) {
		inode_put(vol, in);
		return ret;
	}
	if (flags & O_TRUNC)
		data_invalidate(vol, in);
	ret = open_revalidate(vol, in, bf, since, &keep);
	if (ret) {
		dispatch_close(vol, in, bf);
		inode_put(vol, in);
		return ret;
	}
	/* the user reference from inode_get now belongs to the file */
	*file = file_new(vol, in, bf, flags & ~(O_CREAT | O_EXCL | O_TRUNC),
			 keep);
	if (!*file) {
		vol->ops->close(vol->be, bf);
		inode_put(vol, in);
		return podfs_set_error(vol, ENOMEM, "out of memory");
	}
	return 0;
}

/* ---- extended attributes ------------------------------------------------------- */

PODFS_EXPORT ssize_t podfs_ll_getxattr(podfs_volume *vol, uint64_t ino,
				       const char *name, void *value,
				       size_t size)
{
	struct podfs_inode *in;
	ssize_t ret = inode_get(vol, ino, &in);

	if (ret)
		return ret;
	ret = dispatch_getxattr(vol, in, name, value, size);
	inode_put(vol, in);
	return ret;
}

PODFS_EXPORT int podfs_ll_setxattr(podfs_volume *vol, uint64_t ino,
				   const char *name, const void *value,
				   size_t size, int flags)
{
	struct podfs_inode *in;
	int ret = check_writable(vol);

	if (!ret)
		ret = inode_get(vol, ino, &in);
	if (ret)
		return ret;
	ret = dispatch_setxattr(vol, in, name, value, size, flags);
	inode_put(vol, in);
	return ret;
}

PODFS_EXPORT ssize_t podfs_ll_listxattr(podfs_volume *vol, uint64_t ino,
					char *list, size_t size)
{
	struct podfs_inode *in;
	ssize_t ret = inode_get(vol, ino, &in);

	if (ret)
		return ret;
	ret = dispatch_listxattr(vol, in, list, size);
	inode_put(vol, in);
	return ret;
}

PODFS_EXPORT int podfs_ll_removexattr(podfs_volume *vol, uint64_t ino,
				      const char *name)
{
	struct podfs_inode *in;
	int ret = check_writable(vol);

	if (!ret)
		ret = inode_get(vol, ino, &in);
	if (ret)
		return ret;
	ret = dispatch_removexattr(vol, in, name);
	inode_put(vol, in);
	return ret;
}
