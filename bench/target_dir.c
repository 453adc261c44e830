/* The "dir" target of podfs-bench: plain POSIX calls under a directory (a
 * podfs mount, a ceph-fuse mount, a local disk), relative to an fd of it,
 * so every kind of mount goes through the same kernel paths. In a podfs
 * mount, its daemon's cache counters come from the mount's root. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "target.h"

/* A podfs mount's daemon answers its statistics as JSON in this attribute
 * of the mount's root ("mount.podfs stats" in mount.podfs(8)); it holds
 * at most STATS_MAX bytes, as that command reads it too. */
#define PODFS_STATS_XATTR "user.podfs.stats"
#define STATS_MAX (256 * 1024)

struct dir_target {
	int root;	/* the directory, open */
	int mount_root; /* the root of the podfs mount it is in; -1: none */
	char *stats;	/* STATS_MAX + 1 bytes, when in a podfs mount */
};

#define DT(t) ((struct dir_target *)(t)->priv)
#define ROOT(conn) ((int)(intptr_t)(conn))

/* The root of the mount that holds the directory FD, open, or -1: up
 * ".." while the parent is on the same device and is not the directory
 * itself (as "/" is). Stops early where a parent can't be opened. */
static int dir_mount_root(int fd)
{
	int cur = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st, up;

	if (cur < 0)
		return -1;
	if (fstat(cur, &st)) {
		close(cur);
		return -1;
	}
	for (;;) {
		int parent = openat(cur, "..",
				    O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (parent < 0)
			break;
		if (fstat(parent, &up) || up.st_dev != st.st_dev ||
		    up.st_ino == st.st_ino) {
			close(parent);
			break;
		}
		close(cur);
		cur = parent;
		st = up;
	}
	return cur;
}

/* HITS and MISSES of OBJ (the daemon's {"hits": N, "misses": N}). */
static bool stats_pair(json_object *obj, uint64_t *hits, uint64_t *misses)
{
	json_object *h, *m;

	if (!json_object_object_get_ex(obj, "hits", &h) ||
	    !json_object_object_get_ex(obj, "misses", &m) ||
	    !json_object_is_type(h, json_type_int) ||
	    !json_object_is_type(m, json_type_int))
		return false;
	*hits = json_object_get_uint64(h);
	*misses = json_object_get_uint64(m);
	return true;
}

static int dir_read_cache(struct dir_target *dt, struct bench_cache *out)
{
	json_object *stats, *cache, *kind;
	ssize_t n;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (dt->mount_root < 0)
		return -ENOTSUP;
	n = fgetxattr(dt->mount_root, PODFS_STATS_XATTR, dt->stats, STATS_MAX);
	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP ? -ENOTSUP : -errno;
	dt->stats[n] = '\0';
	stats = json_tokener_parse(dt->stats);
	if (!json_object_object_get_ex(stats, "cache", &cache))
		ret = -EPROTO;
	for (int k = 0; !ret && k < CACHE_KINDS; k++) {
		if (!json_object_object_get_ex(cache, bench_cache_kinds[k],
					       &kind) ||
		    !stats_pair(kind, &out->hits[k], &out->misses[k]))
			ret = -EPROTO;
	}
	json_object_put(stats);
	return ret;
}

static int dir_cache_counters(struct bench_target *t, struct bench_cache *out)
{
	return dir_read_cache(DT(t), out);
}

/* Whether the directory is in a podfs mount whose statistics answer: if
 * not, the target simply has no cache counters. */
static void dir_find_stats(struct dir_target *dt)
{
	struct bench_cache c;

	dt->mount_root = dir_mount_root(dt->root);
	dt->stats = dt->mount_root >= 0 ? malloc(STATS_MAX + 1) : NULL;
	if (dt->stats && !dir_read_cache(dt, &c))
		return;
	if (dt->mount_root >= 0)
		close(dt->mount_root);
	dt->mount_root = -1;
	free(dt->stats);
	dt->stats = NULL;
}

static int dir_open(struct bench_target *t, const char *spec, char *err,
		    size_t errlen)
{
	struct dir_target *dt = calloc(1, sizeof(*dt));

	if (!dt) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	dt->root = open(spec, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dt->root < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", spec, strerror(e));
		free(dt);
		return -e;
	}
	dir_find_stats(dt);
	t->priv = dt;
	return 0;
}

static void dir_close(struct bench_target *t)
{
	struct dir_target *dt = DT(t);

	close(dt->root);
	if (dt->mount_root >= 0)
		close(dt->mount_root);
	free(dt->stats);
	free(dt);
	t->priv = NULL;
}

/* The kernel's dentries and inodes of every file system (the only handle
 * on a FUSE mount's or ceph-fuse's names the kernel gives): root only. A
 * mount's daemon may keep its own cache beyond that, as a user sees it. */
static int dir_drop_caches(struct bench_target *t)
{
	int fd, ret = 0;

	syncfs(DT(t)->root);
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, "2", 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

static int dir_conn_open(struct bench_target *t, void **conn)
{
	/* the kernel is thread-safe: every job shares the root fd */
	*conn = (void *)(intptr_t)DT(t)->root;
	return 0;
}

static void dir_conn_close(struct bench_target *t, void *conn)
{
	(void)t;
	(void)conn;
}

static int dir_file_open(void *conn, const char *path, int flags, mode_t mode,
			 void **file)
{
	int fd = openat(ROOT(conn), path, flags | O_CLOEXEC, mode);

	if (fd < 0)
		return -errno;
	*file = (void *)(intptr_t)fd;
	return 0;
}

static ssize_t dir_pread(void *conn, void *file, void *buf, size_t n, off_t off)
{
	ssize_t r;

	(void)conn;
	r = pread((int)(intptr_t)file, buf, n, off);
	return r < 0 ? -errno : r;
}

static ssize_t dir_pwrite(void *conn, void *file, const void *buf, size_t n,
			  off_t off)
{
	ssize_t r;

	(void)conn;
	r = pwrite((int)(intptr_t)file, buf, n, off);
	return r < 0 ? -errno : r;
}

static int dir_fsync(void *conn, void *file)
{
	(void)conn;
	return fsync((int)(intptr_t)file) ? -errno : 0;
}

static int dir_file_close(void *conn, void *file)
{
	(void)conn;
	/* close(2) reports a failed flush (NFS, FUSE): keep it */
	return close((int)(intptr_t)file) ? -errno : 0;
}

static int dir_stat(void *conn, const char *path, struct stat *st)
{
	return fstatat(ROOT(conn), path, st, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int dir_unlink(void *conn, const char *path)
{
	return unlinkat(ROOT(conn), path, 0) ? -errno : 0;
}

static int dir_mkdir(void *conn, const char *path, mode_t mode)
{
	return mkdirat(ROOT(conn), path, mode) ? -errno : 0;
}

static int dir_rmdir(void *conn, const char *path)
{
	return unlinkat(ROOT(conn), path, AT_REMOVEDIR) ? -errno : 0;
}

static int dir_list(void *conn, const char *path, uint64_t *entries)
{
	struct dirent *de;
	uint64_t n = 0;
	DIR *d;
	int fd;

	fd = openat(ROOT(conn), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		return -e;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
		errno = 0;
	}
	if (errno) {
		int e = errno;

		closedir(d);
		return -e;
	}
	closedir(d);
	*entries = n;
	return 0;
}

const struct bench_ops bench_dir_ops = {
	.kind = "dir",
	.open = dir_open,
	.close = dir_close,
	.drop_caches = dir_drop_caches,
	.conn_open = dir_conn_open,
	.conn_close = dir_conn_close,
	.file_open = dir_file_open,
	.pread = dir_pread,
	.pwrite = dir_pwrite,
	.fsync = dir_fsync,
	.file_close = dir_file_close,
	.stat = dir_stat,
	.unlink = dir_unlink,
	.mkdir = dir_mkdir,
	.rmdir = dir_rmdir,
	.list = dir_list,
	.cache_counters = dir_cache_counters,
};
