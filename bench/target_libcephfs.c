/*
 * podfs-bench's "libcephfs" target: the raw libcephfs client through its
 * path API, with no podfs in between — the ceiling podfs's CephFS overhead
 * is measured against. Set up with the library settings podfs uses.
 */
#include "config.h"

#include <cephfs/libcephfs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "podfs-private.h"
#include "target.h"

struct lc_target {
	struct podfs_config cfg; /* SPEC, parsed as podfs parses it */
	const char *root;
	struct ceph_mount_info *cmount;
};

/* A conn is the lc_target itself (libcephfs is thread-safe: every job
 * shares one client); a file is the client's fd. */
struct lc_file {
	int fd;
};

static const char *lc_user(const struct podfs_config *cfg)
{
	return cfg->user ? cfg->user : "admin";
}

/* libpodfs/ceph/main.c's bound on every wait: timeo, in seconds, at least 1 */
static int lc_secs(const struct podfs_config *cfg)
{
	return cfg->timeo > 10 ? cfg->timeo / 10 : 1;
}

static int lc_set(struct ceph_mount_info *cmount, const char *opt,
		  const char *val, char *err, size_t errlen)
{
	int ret = ceph_conf_set(cmount, opt, val);

	if (ret < 0)
		snprintf(err, errlen, "cannot set Ceph option %s: %s", opt,
			 strerror(-ret));
	return ret < 0 ? ret : 0;
}

/* The key from a secretfile, read as podfs reads it. */
static int lc_set_key(struct ceph_mount_info *cmount, const char *path,
		      char *err, size_t errlen)
{
	char key[1024];
	int ret = podfs_ceph_read_secretfile(path, key, sizeof(key), err,
					     errlen);

	if (!ret)
		ret = lc_set(cmount, "key", key, err, errlen);
	explicit_bzero(key, sizeof(key));
	return ret;
}

/* What libpodfs/ceph/main.c's ceph_be_configure sets, where it changes what the
 * client does or how fast: the same conf file (or none), no logging, no
 * admin socket, no permission checks in the client, the same timeouts,
 * file system and key. */
static int lc_configure(struct ceph_mount_info *cmount,
			const struct podfs_config *cfg, char *err,
			size_t errlen)
{
	const char *conf = cfg->conf ? cfg->conf : "/dev/null";
	char num[32];
	int ret;

	/* until a file is read Ceph applies none of the settings below */
	ret = ceph_conf_read_file(cmount, conf);
	if (ret < 0) {
		snprintf(err, errlen, "cannot read %s: %s", conf,
			 strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < podfs_ceph_fixed_conf_count; i++) {
		ret = lc_set(cmount, podfs_ceph_fixed_conf[i][0],
			     podfs_ceph_fixed_conf[i][1], err, errlen);
		if (ret)
			return ret;
	}
	if (cfg->mon_host) {
		ret = lc_set(cmount, "mon_host", cfg->mon_host, err, errlen);
		if (ret)
			return ret;
	}
	/* a failed mount waits this long to close the session it never
	 * had: short until mounted (lc_connect), as in podfs */
	snprintf(num, sizeof(num), "%d", lc_secs(cfg));
	ret = lc_set(cmount, "client_mount_timeout", num, err, errlen);
	if (!ret)
		ret = lc_set(cmount, "client_shutdown_timeout", "1", err,
			     errlen);
	if (ret)
		return ret;
	if (cfg->soft) {
		snprintf(num, sizeof(num), "%d",
			 lc_secs(cfg) * (cfg->retrans + 1));
		ret = lc_set(cmount, "rados_osd_op_timeout", num, err, errlen);
		if (!ret)
			ret = lc_set(cmount, "rados_mon_op_timeout", num, err,
				     errlen);
		if (ret)
			return ret;
	}
	if (cfg->fs_name) {
		ret = lc_set(cmount, "client_fs", cfg->fs_name, err, errlen);
		if (ret)
			return ret;
	}
	if (cfg->secretfile)
		return lc_set_key(cmount, cfg->secretfile, err, errlen);
	if (cfg->keyring)
		return lc_set(cmount, "keyring", cfg->keyring, err, errlen);
	/* as podfs: without conf= nothing of the host's /etc/ceph */
	if (!cfg->conf)
		return lc_set(cmount, "keyring", "", err, errlen);
	return 0;
}

/* ceph_init's (MOUNTING false) and ceph_mount's errors, in words. */
static void lc_mount_error(const struct lc_target *lt, int ret, bool mounting,
			   char *err, size_t errlen)
{
	const struct podfs_config *cfg = &lt->cfg;

	switch (-ret) {
	case EACCES:
	case EPERM:
		snprintf(err, errlen, "authentication failed for client.%s "
			 "(%s)", lc_user(cfg),
			 cfg->secretfile || cfg->keyring || cfg->conf ?
			 "wrong key or user?" :
			 "no key given: use secretfile= or keyring=");
		break;
	case ETIMEDOUT:
		if (mounting)
			snprintf(err, errlen, "no metadata server of file "
				 "system %s answered within %d s",
				 cfg->fs_name ? cfg->fs_name : "(default)",
				 lc_secs(cfg));
		else
			snprintf(err, errlen, "no answer from the Ceph "
				 "monitors %s within %d s",
				 cfg->mon_host ? cfg->mon_host : cfg->conf,
				 lc_secs(cfg));
		break;
	case ENOENT:
		/* a file system's root always exists */
		if (!strcmp(lt->root, "/") && cfg->fs_name) {
			snprintf(err, errlen, "no CephFS file system named %s",
				 cfg->fs_name);
			break;
		}
		/* the same answer for a missing path and a missing fs */
		snprintf(err, errlen, "cannot mount %s%s%s: %s", lt->root,
			 cfg->fs_name ? " of file system " : "",
			 cfg->fs_name ? cfg->fs_name : "", strerror(-ret));
		break;
	default:
		snprintf(err, errlen, "cannot mount %s: %s", lt->root,
			 strerror(-ret));
	}
}

/* A new client, mounted on the root; on failure none and ERR says why. */
static int lc_connect(struct lc_target *lt, char *err, size_t errlen)
{
	struct ceph_mount_info *cmount;
	char num[32];
	int ret;

	ret = ceph_create(&cmount, lc_user(&lt->cfg));
	if (ret < 0) {
		snprintf(err, errlen, "cannot create a Ceph client: %s",
			 strerror(-ret));
		return ret;
	}
	ret = lc_configure(cmount, &lt->cfg, err, errlen);
	if (ret)
		goto fail;
	ret = ceph_init(cmount);
	if (ret < 0) {
		lc_mount_error(lt, ret, false, err, errlen);
		goto fail;
	}
	ret = ceph_mount(cmount, lt->root);
	if (ret < 0) {
		lc_mount_error(lt, ret, true, err, errlen);
		goto fail;
	}
	/* unmounting flushes what is dirty: give it timeo */
	snprintf(num, sizeof(num), "%d", lc_secs(&lt->cfg));
	ret = lc_set(cmount, "client_shutdown_timeout", num, err, errlen);
	if (ret)
		goto fail;
	lt->cmount = cmount;
	return 0;

fail:
	ceph_shutdown(cmount);
	return ret;
}

static void lc_free(struct lc_target *lt)
{
	podfs_config_free(&lt->cfg);
	free(lt);
}

static int lc_open(struct bench_target *t, const char *spec, char *err,
		   size_t errlen)
{
	struct lc_target *lt = calloc(1, sizeof(*lt));
	char msg[512];
	int ret;

	if (!lt) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	podfs_config_init(&lt->cfg);
	ret = podfs_config_parse(&lt->cfg, spec, NULL, err, errlen);
	if (ret) {
		lc_free(lt);
		return ret;
	}
	if (lt->cfg.kind != PODFS_KIND_CEPH) {
		snprintf(err, errlen, "'%s' is not a CephFS source "
			 "(ceph://[user@]mon[:port]/[path][?options])", spec);
		lc_free(lt);
		return -EINVAL;
	}
	lt->root = lt->cfg.root ? lt->cfg.root : "/";
	ret = lc_connect(lt, msg, sizeof(msg));
	if (ret) {
		/* the source as podfs keeps it holds no secret */
		snprintf(err, errlen, "%s: %s", lt->cfg.source, msg);
		lc_free(lt);
		return ret;
	}
	t->priv = lt;
	return 0;
}

static void lc_close(struct bench_target *t)
{
	struct lc_target *lt = t->priv;

	/* unmounts (flushing what is dirty) and releases, even when the
	 * unmount fails, which ceph_release alone would refuse */
	if (lt->cmount)
		ceph_shutdown(lt->cmount);
	lc_free(lt);
	t->priv = NULL;
}

/* A fresh client: the old one's caches of names, attributes and data go
 * with it. Only called with no conn open (workload.c closes them all
 * first): their open files would die with the old client. */
static int lc_drop_caches(struct bench_target *t)
{
	struct lc_target *lt = t->priv;
	char msg[512];
	int ret, ret2;

	if (!lt->cmount)
		return -ENOTCONN;
	ret = ceph_unmount(lt->cmount);
	if (!ret)
		ret = ceph_release(lt->cmount);
	if (ret < 0)
		ceph_shutdown(lt->cmount); /* what ceph_release refused */
	lt->cmount = NULL;
	/* a failure leaves no client: the next calls fail with -ENOTCONN */
	ret2 = lc_connect(lt, msg, sizeof(msg));
	return ret < 0 ? ret : ret2;
}

static int lc_conn_open(struct bench_target *t, void **conn)
{
	struct lc_target *lt = t->priv;

	if (!lt->cmount)
		return -ENOTCONN;
	*conn = lt;
	return 0;
}

static void lc_conn_close(struct bench_target *t, void *conn)
{
	(void)t;
	(void)conn;
}

static struct ceph_mount_info *lc_cmount(void *conn)
{
	return ((struct lc_target *)conn)->cmount;
}

/* Paths come relative to the target's root; relative ceph_* paths start
 * at the client's cwd, which is the mounted root. "" is that root. */
static const char *lc_path(const char *path)
{
	return *path ? path : ".";
}

static int lc_file_open(void *conn, const char *path, int flags, mode_t mode,
			void **file)
{
	struct lc_file *lf = malloc(sizeof(*lf));
	int fd;

	if (!lf)
		return -ENOMEM;
	fd = ceph_open(lc_cmount(conn), lc_path(path), flags, mode);
	if (fd < 0) {
		free(lf);
		return fd;
	}
	lf->fd = fd;
	*file = lf;
	return 0;
}

/* ceph_read and ceph_write return an int: at most this much at a time */
#define LC_MAX_IO (1 << 30)

static ssize_t lc_pread(void *conn, void *file, void *buf, size_t n,
			off_t off)
{
	struct lc_file *lf = file;
	size_t done = 0;

	while (done < n) {
		size_t want = n - done < LC_MAX_IO ? n - done : LC_MAX_IO;
		int ret = ceph_read(lc_cmount(conn), lf->fd,
				    (char *)buf + done, (int64_t)want,
				    (int64_t)(off + (off_t)done));

		if (ret < 0)
			return ret;
		if (ret == 0)
			break;
		done += (size_t)ret;
	}
	return (ssize_t)done;
}

static ssize_t lc_pwrite(void *conn, void *file, const void *buf, size_t n,
			 off_t off)
{
	struct lc_file *lf = file;
	size_t done = 0;

	while (done < n) {
		size_t want = n - done < LC_MAX_IO ? n - done : LC_MAX_IO;
		int ret = ceph_write(lc_cmount(conn), lf->fd,
				     (const char *)buf + done, (int64_t)want,
				     (int64_t)(off + (off_t)done));

		if (ret < 0)
			return ret;
		if (ret == 0)
			return -EIO;
		done += (size_t)ret;
	}
	return (ssize_t)done;
}

static int lc_fsync(void *conn, void *file)
{
	return ceph_fsync(lc_cmount(conn), ((struct lc_file *)file)->fd, 0);
}

static int lc_file_close(void *conn, void *file)
{
	struct lc_file *lf = file;
	int ret = ceph_close(lc_cmount(conn), lf->fd);

	free(lf);
	return ret;
}

static int lc_stat(void *conn, const char *path, struct stat *st)
{
	struct ceph_statx stx;
	int ret;

	ret = ceph_statx(lc_cmount(conn), lc_path(path), &stx,
			 CEPH_STATX_BASIC_STATS, 0);
	if (ret < 0)
		return ret;
	memset(st, 0, sizeof(*st));
	st->st_dev = stx.stx_dev;
	st->st_ino = stx.stx_ino;
	st->st_mode = stx.stx_mode;
	st->st_nlink = stx.stx_nlink;
	st->st_uid = stx.stx_uid;
	st->st_gid = stx.stx_gid;
	st->st_rdev = stx.stx_rdev;
	st->st_size = (off_t)stx.stx_size;
	st->st_blksize = stx.stx_blksize;
	st->st_blocks = (blkcnt_t)stx.stx_blocks;
	st->st_atim = stx.stx_atime;
	st->st_mtim = stx.stx_mtime;
	st->st_ctim = stx.stx_ctime;
	return 0;
}

static int lc_unlink(void *conn, const char *path)
{
	return ceph_unlink(lc_cmount(conn), lc_path(path));
}

static int lc_mkdir(void *conn, const char *path, mode_t mode)
{
	return ceph_mkdir(lc_cmount(conn), lc_path(path), mode);
}

static int lc_rmdir(void *conn, const char *path)
{
	return ceph_rmdir(lc_cmount(conn), lc_path(path));
}

static int lc_list(void *conn, const char *path, uint64_t *entries)
{
	struct ceph_mount_info *cmount = lc_cmount(conn);
	struct ceph_dir_result *dirp;
	struct dirent de;
	uint64_t n = 0;
	int ret;

	ret = ceph_opendir(cmount, lc_path(path), &dirp);
	if (ret < 0)
		return ret;
	while ((ret = ceph_readdir_r(cmount, dirp, &de)) == 1)
		if (strcmp(de.d_name, ".") && strcmp(de.d_name, ".."))
			n++;
	ceph_closedir(cmount, dirp);
	if (ret < 0)
		return ret;
	*entries = n;
	return 0;
}

const struct bench_ops bench_libcephfs_ops = {
	.kind = "libcephfs",
	.open = lc_open,
	.close = lc_close,
	.drop_caches = lc_drop_caches,
	.conn_open = lc_conn_open,
	.conn_close = lc_conn_close,
	.file_open = lc_file_open,
	.pread = lc_pread,
	.pwrite = lc_pwrite,
	.fsync = lc_fsync,
	.file_close = lc_file_close,
	.stat = lc_stat,
	.unlink = lc_unlink,
	.mkdir = lc_mkdir,
	.rmdir = lc_rmdir,
	.list = lc_list,
};
