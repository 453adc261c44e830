/*
 * Directory streams: a snapshot of a directory taken at its first read
 * (not at opendir: a FUSE kernel that kept the last listing never reads,
 * and then the server is not asked for one), read from any offset; with
 * PODFS_READDIR_PLUS each entry comes with a lookup reference, from the
 * object the backend's listing named.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static int dir_add(struct podfs_dir *d, const char *name,
		   struct podfs_bobj *obj, const struct stat *st)
{
	struct dir_entry *e;

	if (d->count == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct dir_entry *ents = realloc(d->ents, cap * sizeof(*ents));

		if (!ents)
			return -ENOMEM;
		d->ents = ents;
		d->cap = cap;
	}
	e = &d->ents[d->count];
	e->name = strdup(name);
	if (!e->name)
		return -ENOMEM;
	e->st = *st;
	e->obj = obj;
	d->count++;
	return 0;
}

struct dir_fill {
	struct podfs_volume *vol;
	struct podfs_dir *dir;
};

static int dir_collect(void *arg, const char *name, struct podfs_bobj *obj,
		       const struct stat *st)
{
	struct dir_fill *f = arg;
	int ret = dir_add(f->dir, name, obj, st);

	if (ret && obj)
		f->vol->ops->put(f->vol->be, obj);
	return ret;
}

static void dir_free(struct podfs_volume *vol, struct podfs_dir *d)
{
	for (size_t i = 0; i < d->count; i++) {
		if (d->ents[i].obj)
			vol->ops->put(vol->be, d->ents[i].obj);
		free(d->ents[i].name);
	}
	free(d->ents);
	free(d);
}

PODFS_EXPORT int podfs_ll_opendir(podfs_volume *vol, uint64_t ino,
				  podfs_dir **dirp)
{
	struct podfs_dir *d;
	struct stat st;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d)
		return podfs_set_error(vol, ENOMEM, "out of memory");
	ret = inode_get(vol, ino, &d->inode);
	if (ret) {
		free(d);
		return ret;
	}
	/* a new listing is asked for: a change of the directory shows (and
	 * drops the names cached of it) */
	ret = dispatch_getattr(vol, d->inode, NULL,
			       vol->cfg.cto &&
				       vol->cfg.cache_mode == PODFS_CACHE_STRICT,
			       &st, NULL);
	if (!ret && !S_ISDIR(st.st_mode))
		ret = podfs_set_error(vol, ENOTDIR, "not a directory");
	if (!ret)
		ret = dir_add(d, ".", NULL, &st);
	if (!ret) {
		/* ".." is named but never looked up through here */
		struct stat dotdot = { .st_ino = 1, .st_mode = S_IFDIR | 0755 };

		ret = dir_add(d, "..", NULL, &dotdot);
	}
	if (ret) {
		inode_put(vol, d->inode);
		dir_free(vol, d);
		return error_ensure(vol, ret, "readdir");
	}
	pthread_mutex_lock(&vol->lock);
	LIST_INSERT_HEAD(&vol->dirs, d, link);
	pthread_mutex_unlock(&vol->lock);
	*dirp = d;
	return 0;
}

/* D's listing from the server, once. */
static int dir_list(struct podfs_volume *vol, struct podfs_dir *d)
{
	struct dir_fill fill = { .vol = vol, .dir = d };
	int ret;

	if (d->listed)
		return 0;
	d->since = cache_attr_since();
	ret = dispatch_readdir(vol, d->inode, dir_collect, &fill);
	if (ret) {
		/* what came before the error goes: the next read asks again */
		while (d->count > 2) {
			struct dir_entry *e = &d->ents[--d->count];

			if (e->obj)
				vol->ops->put(vol->be, e->obj);
			free(e->name);
		}
		return error_ensure(vol, ret, "readdir");
	}
	d->listed = true;
	return 0;
}

/* A lookup reference for entry E of D, from the object readdir gave. */
static int dir_entry_ref(struct podfs_volume *vol, struct podfs_dir *d,
			 struct dir_entry *e, struct podfs_entry *out)
{
	struct podfs_bobj *obj = e->obj;
	struct podfs_inode *in;
	uint64_t key;
	int ret;

	if (!obj) {
		return dispatch_lookup(vol, d->inode, e->name, out);
	}
	e->obj = NULL;
	key = obj->key;
	/* the attributes came with the listing: as fresh as a lookup's */
	ret = inode_from_obj(vol, obj, &e->st, d->since, 0, out, &in);
	if (!ret) {
		cache_dentry_set(vol, d->inode, e->name, key);
		inode_set_name(in, d->inode->ino, e->name);
		out->entry_timeout =
			cache_dentry_ttl(vol, d->inode, e->st.st_mode);
	}
	return ret;
}

PODFS_EXPORT int podfs_ll_readdir(podfs_volume *vol, podfs_dir *d, off_t off,
				  int flags, podfs_filldir_t fill, void *arg)
{
	int ret;

	error_begin();
	ret = dir_list(vol, d);
	if (ret)
		return ret;
	for (size_t i = off < 0 ? 0 : (size_t)off; i < d->count; i++) {
		struct dir_entry *e = &d->ents[i];
		struct podfs_entry ent = { .ino = 0, .attr = e->st };
		bool ref = flags & PODFS_READDIR_PLUS && i >= 2;

		present_attr(vol, &ent.attr);
		if (ref) {
			ret = dir_entry_ref(vol, d, e, &ent);
			/* gone since the listing: skip it, as a fresh read
			 * would */
			if (ret == -ENOENT)
				continue;
			if (ret)
				return ret;
		}
		if (fill(arg, e->name, &ent, (off_t)(i + 1))) {
			if (ref)
				podfs_ll_forget(vol, ent.ino, 1);
			break;
		}
	}
	return 0;
}

PODFS_EXPORT int podfs_ll_releasedir(podfs_volume *vol, podfs_dir *d)
{
	if (!d)
		return 0;
	pthread_mutex_lock(&vol->lock);
	LIST_REMOVE(d, link);
	pthread_mutex_unlock(&vol->lock);
	inode_put(vol, d->inode);
	dir_free(vol, d);
	return 0;
}

int podfs_dir_next(podfs_volume *vol, podfs_dir *d, struct podfs_dirent *ent)
{
	int ret = dir_list(vol, d);

	if (ret)
		return ret;
	if (d->pos < 2)
		d->pos = 2;
	if (d->pos >= d->count)
		return 0;
	snprintf(ent->name, sizeof(ent->name), "%s", d->ents[d->pos].name);
	ent->attr = d->ents[d->pos].st;
	present_attr(vol, &ent->attr);
	d->pos++;
	return 1;
}
