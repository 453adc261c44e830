/* The "dir" target of podfs-bench: plain POSIX calls under a directory (a
 * podfs mount, a ceph-fuse mount, a local disk), relative to an fd of it,
 * so every kind of mount goes through the same kernel paths. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target.h"

struct dir_target {
	int root; /* the directory, open */
};

#define DT(t) ((struct dir_target *)(t)->priv)
#define ROOT(conn) ((int)(intptr_t)(conn))

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
	t->priv = dt;
	return 0;
}

static void dir_close(struct bench_target *t)
{
	struct dir_target *dt = DT(t);

	close(dt->root);
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
};
