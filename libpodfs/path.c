/*
 * The path level of libpodfs, for programs that link the library: each
 * call looks its path up from the root (in one request where the backend
 * can) and lets go of the inodes it looked up before it returns.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podfs-private.h"

/* Names in PATH, one at a time: "" and "." are skipped, ".." is refused
 * (a path never leaves the volume's root). */
struct walker {
	const char *p;
	char name[256];
};

/* 1 with the next name, 0 at the end, or -errno. */
static int next_name(podfs_volume *vol, struct walker *w)
{
	size_t len;

	for (;;) {
		while (*w->p == '/')
			w->p++;
		if (!*w->p)
			return 0;
		len = strcspn(w->p, "/");
		if (len >= sizeof(w->name))
			return podfs_set_error(vol, ENAMETOOLONG,
					       "name '%.40s...' is too long",
					       w->p);
		memcpy(w->name, w->p, len);
		w->name[len] = '\0';
		w->p += len;
		if (!strcmp(w->name, "."))
			continue;
		if (!strcmp(w->name, ".."))
			return podfs_set_error(vol, EINVAL,
					       "'..' is not allowed in a path");
		return 1;
	}
}

/* PATH's names, checked, joined by '/' into NAMES ("" for the root), and
 * where its last name starts: a backend may look them up in one request
 * (NFSv4: one COMPOUND). */
static int clean_path(podfs_volume *vol, const char *path, char **names,
		      size_t *last)
{
	struct walker w = { .p = path ? path : "" };
	size_t len = 0;
	char *out;
	int ret;

	out = malloc(strlen(w.p) + 1);
	if (!out)
		return podfs_set_error(vol, ENOMEM, "out of memory");
	*last = 0;
	while ((ret = next_name(vol, &w)) == 1) {
		if (len)
			out[len++] = '/';
		*last = len;
		memcpy(out + len, w.name, strlen(w.name));
		len += strlen(w.name);
	}
	out[len] = '\0';
	if (ret < 0) {
		free(out);
		return ret;
	}
	*names = out;
	return 0;
}

/* Looks up every name of PATH but the last: *DIR is the parent (holding a
 * lookup reference unless it is the root), NAME the last name ("" for the
 * root itself). */
static int walk_parent(podfs_volume *vol, const char *path, uint64_t *dir,
		       char name[256])
{
	struct podfs_entry e;
	size_t last;
	char *names;
	int ret;

	ret = clean_path(vol, path, &names, &last);
	if (ret)
		return ret;
	snprintf(name, 256, "%s", names + last);
	*dir = PODFS_ROOT_INO;
	if (last) {
		names[last - 1] = '\0';
		ret = podfs_ll_lookup_path(vol, PODFS_ROOT_INO, names, &e);
		if (!ret && !S_ISDIR(e.attr.st_mode)) {
			podfs_ll_forget(vol, e.ino, 1);
			ret = podfs_set_error(vol, ENOTDIR,
					      "'%s' in '%s' is not a directory",
					      names, path);
		}
		if (!ret)
			*dir = e.ino;
	}
	free(names);
	return ret;
}

static void put_dir(podfs_volume *vol, uint64_t dir)
{
	if (dir != PODFS_ROOT_INO)
		podfs_ll_forget(vol, dir, 1);
}

/* The inode of PATH itself, with a lookup reference unless it is the
 * root; release with put_dir. All its names in one go. */
static int walk(podfs_volume *vol, const char *path, struct podfs_entry *e)
{
	size_t last;
	char *names;
	int ret;

	ret = clean_path(vol, path, &names, &last);
	if (ret)
		return ret;
	if (!names[0]) {
		e->ino = PODFS_ROOT_INO;
		ret = podfs_ll_getattr(vol, PODFS_ROOT_INO, &e->attr);
	} else {
		ret = podfs_ll_lookup_path(vol, PODFS_ROOT_INO, names, e);
	}
	free(names);
	return ret;
}

/* The parent of PATH and its last name, which must exist (not the root). */
static int walk_to_name(podfs_volume *vol, const char *path, uint64_t *dir,
			char name[256])
{
	int ret = walk_parent(vol, path, dir, name);

	if (ret)
		return ret;
	if (!name[0])
		return podfs_set_error(vol, EINVAL,
				       "'%s' names the volume's root", path);
	return 0;
}

/* Opens E, found at PATH (its lookup reference is let go of). */
static int open_found(podfs_volume *vol, const char *path, int flags,
		      struct podfs_entry *e, podfs_file **file)
{
	int ret;

	if (S_ISLNK(e->attr.st_mode))
		ret = podfs_set_error(vol, ELOOP,
				      "'%s' is a symlink (not followed)", path);
	else if (S_ISDIR(e->attr.st_mode) && (flags & O_ACCMODE) != O_RDONLY)
		ret = podfs_set_error(vol, EISDIR, "'%s' is a directory", path);
	else
		ret = podfs_ll_open(vol, e->ino, flags, file);
	/* the open file holds the inode itself */
	podfs_ll_forget(vol, e->ino, 1);
	return ret;
}

PODFS_EXPORT int podfs_open(podfs_volume *vol, const char *path, int flags,
			    mode_t mode, podfs_file **file)
{
	struct podfs_entry e;
	uint64_t dir;
	char name[256];
	int ret;

	if (!(flags & O_CREAT)) {
		/* an existing file: its whole path in one go; once more
		 * when the name turned out to name another file now (the
		 * open dropped the cached name: the server is asked) */
		for (int tries = 0;; tries++) {
			ret = walk(vol, path, &e);
			if (ret)
				return ret;
			if (e.ino == PODFS_ROOT_INO)
				return podfs_set_error(vol, EINVAL,
						       "'%s' names the volume's root",
						       path);
			ret = open_found(vol, path, flags, &e, file);
			if (ret != -ESTALE || tries)
				return ret;
		}
	}
	ret = walk_to_name(vol, path, &dir, name);
	if (ret)
		return ret;
	ret = podfs_ll_create(vol, dir, name, mode, flags, NULL, &e, file);
	/* an existing file is opened as open(2) does */
	if (ret != -EEXIST || flags & O_EXCL) {
		put_dir(vol, dir);
		if (!ret)
			podfs_ll_forget(vol, e.ino, 1);
		return ret;
	}
	ret = podfs_ll_lookup(vol, dir, name, &e);
	put_dir(vol, dir);
	if (ret)
		return ret;
	return open_found(vol, path, flags, &e, file);
}

PODFS_EXPORT int podfs_close(podfs_volume *vol, podfs_file *file)
{
	return podfs_release(vol, file);
}

PODFS_EXPORT int podfs_stat(podfs_volume *vol, const char *path,
			    struct stat *st)
{
	struct podfs_entry e;
	int ret = walk(vol, path, &e);

	if (ret)
		return ret;
	*st = e.attr;
	put_dir(vol, e.ino);
	return 0;
}

PODFS_EXPORT int podfs_mkdir(podfs_volume *vol, const char *path, mode_t mode)
{
	struct podfs_entry e;
	uint64_t dir;
	char name[256];
	int ret = walk_to_name(vol, path, &dir, name);

	if (ret)
		return ret;
	ret = podfs_ll_mkdir(vol, dir, name, mode, NULL, &e);
	put_dir(vol, dir);
	if (!ret)
		podfs_ll_forget(vol, e.ino, 1);
	return ret;
}

PODFS_EXPORT int podfs_rmdir(podfs_volume *vol, const char *path)
{
	uint64_t dir;
	char name[256];
	int ret = walk_to_name(vol, path, &dir, name);

	if (ret)
		return ret;
	ret = podfs_ll_rmdir(vol, dir, name);
	put_dir(vol, dir);
	return ret;
}

PODFS_EXPORT int podfs_unlink(podfs_volume *vol, const char *path)
{
	uint64_t dir;
	char name[256];
	int ret = walk_to_name(vol, path, &dir, name);

	if (ret)
		return ret;
	ret = podfs_ll_unlink(vol, dir, name);
	put_dir(vol, dir);
	return ret;
}

PODFS_EXPORT int podfs_rename(podfs_volume *vol, const char *from,
			      const char *to)
{
	uint64_t dir, newdir;
	char name[256], newname[256];
	int ret = walk_to_name(vol, from, &dir, name);

	if (ret)
		return ret;
	ret = walk_to_name(vol, to, &newdir, newname);
	if (ret) {
		put_dir(vol, dir);
		return ret;
	}
	ret = podfs_ll_rename(vol, dir, name, newdir, newname, 0);
	put_dir(vol, newdir);
	put_dir(vol, dir);
	return ret;
}

PODFS_EXPORT int podfs_truncate(podfs_volume *vol, const char *path,
				off_t size)
{
	struct podfs_entry e;
	struct stat attr = { .st_size = size };
	int ret = walk(vol, path, &e);

	if (ret)
		return ret;
	ret = podfs_ll_setattr(vol, e.ino, NULL, &attr, PODFS_SET_SIZE, NULL);
	put_dir(vol, e.ino);
	return ret;
}

PODFS_EXPORT int podfs_opendir(podfs_volume *vol, const char *path,
			       podfs_dir **dir)
{
	struct podfs_entry e;
	int ret = walk(vol, path, &e);

	if (ret)
		return ret;
	ret = podfs_ll_opendir(vol, e.ino, dir);
	put_dir(vol, e.ino);
	return ret;
}

PODFS_EXPORT int podfs_readdir(podfs_volume *vol, podfs_dir *dir,
			       struct podfs_dirent *ent)
{
	return podfs_dir_next(vol, dir, ent);
}

PODFS_EXPORT int podfs_closedir(podfs_volume *vol, podfs_dir *dir)
{
	return podfs_ll_releasedir(vol, dir);
}
