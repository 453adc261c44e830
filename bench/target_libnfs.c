/*
 * The "libnfs" target: libnfs' sync high-level API with nothing in
 * between, the ceiling podfs's NFS overhead is measured against. One
 * context per job (libnfs contexts are not thread-safe), no retries.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <uuid/uuid.h>

#include <nfsc/libnfs.h>

#include "podfs-private.h"
#include "target.h"

/*
 * What one call may ask of libnfs 4.0, measured against ganesha:
 * - NFSv3 splits a READ or WRITE above the server's rsize/wsize itself,
 *   so a call can take any count; only the int it returns bounds it.
 * - NFSv4 cannot encode a WRITE of more than about 3.9 KiB ("ZDR error:
 *   Failed to encode COMPOUND4args", fixed in libnfs 5.0); podfs's
 *   backend stays at the same 3.5 KiB (handles are up to 128 bytes).
 * - NFSv4 reports no read maximum and takes no reply above 1 MiB + 4 KiB
 *   ("nfs_service failed", and the context is dead from then on).
 * Every raw libnfs user has to split this way; it is not podfs's cost.
 */
#define LIBNFS_V3_PIECE (1 << 30)
#define LIBNFS_V4_WRITE_PIECE 3584
#define LIBNFS_V4_READ_PIECE (1024 * 1024)

struct libnfs_target {
	struct podfs_config cfg;
	int timeout_ms;
};

/* One job's context, mounted. */
struct libnfs_conn {
	struct nfs_context *nfs;
	size_t rmax, wmax; /* the largest count one call takes */
};

/* A context for T's server and export, set up but not mounted. */
static struct nfs_context *libnfs_context(const struct libnfs_target *lt,
					  char *err, size_t errlen)
{
	const struct podfs_config *cfg = &lt->cfg;
	char url[1024], name[64], uuid[37];
	const char *path = cfg->path;
	struct nfs_context *nfs;
	struct nfs_url *u;
	uuid_t id;
	int n;

	nfs = nfs_init_context();
	if (!nfs) {
		snprintf(err, errlen, "cannot create an NFS context");
		return NULL;
	}
#if HAVE_DECL_NFS4_SET_CLIENT_NAME
	/* libnfs names every context "Libnfs pid:PID TIME": the jobs'
	 * contexts, made within one second, would be one NFSv4 client to
	 * the server, breaking each other's state. */
	if (cfg->vers == 4) {
		uuid_generate(id);
		uuid_unparse_lower(id, uuid);
		snprintf(name, sizeof(name), "podfs-bench-%s", uuid);
		nfs4_set_client_name(nfs, name);
	}
#else
	(void)id;
	(void)uuid;
	(void)name;
#endif
	/* libnfs' directory cache would answer a listing from memory;
	 * podfs turns it off in its backend too (its own cache sits
	 * above), so with it off both go to the server alike, and there
	 * is nothing for drop_caches to drop. */
	nfs_set_dircache(nfs, 0);

	/* libnfs 4.0 has no setters for the ports: only URL arguments set
	 * them. Only the path part of the URL is parsed for them; one
	 * with '?' or '&' would be split, and it is not used anyway. */
	if (strpbrk(path, "?&"))
		path = "/";
	n = snprintf(url, sizeof(url), "nfs://%s%s%s%s?version=%d",
		     strchr(cfg->server, ':') ? "[" : "", cfg->server,
		     strchr(cfg->server, ':') ? "]" : "", path, cfg->vers);
	if (cfg->port > 0 && n >= 0 && (size_t)n < sizeof(url))
		n += snprintf(url + n, sizeof(url) - n, "&nfsport=%d",
			      cfg->port);
	if (cfg->mountport > 0 && cfg->vers == 3 && n >= 0 &&
	    (size_t)n < sizeof(url))
		n += snprintf(url + n, sizeof(url) - n, "&mountport=%d",
			      cfg->mountport);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		snprintf(err, errlen, "%s: server name or path too long",
			 cfg->source);
		goto fail;
	}
	u = nfs_parse_url_dir(nfs, url);
	if (!u) {
		snprintf(err, errlen, "%s: libnfs refused %s: %s", cfg->source,
			 url, nfs_get_error(nfs));
		goto fail;
	}
	nfs_destroy_url(u);
	if (nfs_set_version(nfs, cfg->vers)) {
		snprintf(err, errlen, "%s: NFS version %d: %s", cfg->source,
			 cfg->vers, nfs_get_error(nfs));
		goto fail;
	}
	/* A server that went away fails the run instead of hanging it. */
	nfs_set_timeout(nfs, lt->timeout_ms);
	return nfs;
fail:
	nfs_destroy_context(nfs);
	return NULL;
}

/* A mounted context, or -errno with the reason in ERR. */
static int libnfs_mount(const struct libnfs_target *lt,
			struct nfs_context **out, char *err, size_t errlen)
{
	const struct podfs_config *cfg = &lt->cfg;
	struct nfs_context *nfs;
	int ret;

	nfs = libnfs_context(lt, err, errlen);
	if (!nfs)
		return -EINVAL;
	ret = nfs_mount(nfs, cfg->server, cfg->path);
	if (ret) {
		snprintf(err, errlen, "%s: cannot mount %s on %s: %s",
			 cfg->source, cfg->path, cfg->server,
			 nfs_get_error(nfs) ? nfs_get_error(nfs) : "?");
		nfs_destroy_context(nfs);
		/* libnfs says -1 for "failed" (not EPERM) */
		return ret < 0 && ret != -EPERM ? ret : -EIO;
	}
	*out = nfs;
	return 0;
}

static int libnfs_open(struct bench_target *t, const char *spec, char *err,
		       size_t errlen)
{
	struct libnfs_target *lt;
	struct nfs_context *nfs;
	long ms;
	int ret;

	lt = calloc(1, sizeof(*lt));
	if (!lt) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	podfs_config_init(&lt->cfg);
	ret = podfs_config_parse(&lt->cfg, spec, NULL, err, errlen);
	if (ret)
		goto fail;
	if (lt->cfg.kind != PODFS_KIND_NFS) {
		snprintf(err, errlen,
			 "%s: not an NFS source (nfs://server/export or "
			 "server:/export)", spec);
		ret = -EINVAL;
		goto fail;
	}
	/* podfs's bound on a call, timeo * (retrans + 1); libnfs takes
	 * whole seconds. */
	ms = (long)lt->cfg.timeo * 100 * (lt->cfg.retrans + 1);
	ms = (ms + 999) / 1000 * 1000;
	lt->timeout_ms = ms > 0 && ms < 3600000 ? (int)ms : 3600000;

	/* Fail here, with the reason, rather than in every job. */
	ret = libnfs_mount(lt, &nfs, err, errlen);
	if (ret)
		goto fail;
	nfs_destroy_context(nfs);
	t->priv = lt;
	return 0;
fail:
	podfs_config_free(&lt->cfg);
	free(lt);
	return ret;
}

static void libnfs_close(struct bench_target *t)
{
	struct libnfs_target *lt = t->priv;

	if (!lt)
		return;
	podfs_config_free(&lt->cfg);
	free(lt);
	t->priv = NULL;
}

/* Every context runs without libnfs' directory cache (see
 * libnfs_context), and libnfs caches no attributes: nothing to drop. */
static int libnfs_drop_caches(struct bench_target *t)
{
	(void)t;
	return 0;
}

static int libnfs_conn_open(struct bench_target *t, void **conn)
{
	struct libnfs_target *lt = t->priv;
	struct libnfs_conn *c;
	char why[512];
	uint64_t max;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	ret = libnfs_mount(lt, &c->nfs, why, sizeof(why));
	if (ret) {
		free(c);
		return ret;
	}
	if (lt->cfg.vers == 4) {
		max = nfs_get_readmax(c->nfs);
		c->rmax = max > 0 && max < LIBNFS_V4_READ_PIECE ?
				  (size_t)max : LIBNFS_V4_READ_PIECE;
		c->wmax = LIBNFS_V4_WRITE_PIECE;
	} else {
		c->rmax = c->wmax = LIBNFS_V3_PIECE;
	}
	*conn = c;
	return 0;
}

static void libnfs_conn_close(struct bench_target *t, void *conn)
{
	struct libnfs_conn *c = conn;

	(void)t;
	nfs_destroy_context(c->nfs);
	free(c);
}

/* libnfs takes paths from the mount's root, with a leading '/'. */
static int libnfs_path(const char *path, char *buf, size_t len)
{
	int n;

	while (*path == '/')
		path++;
	n = snprintf(buf, len, "/%s", path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int libnfs_file_open(void *conn, const char *path, int flags,
			    mode_t mode, void **file)
{
	struct libnfs_conn *c = conn;
	int oflags = flags & (O_ACCMODE | O_TRUNC | O_SYNC);
	struct nfsfh *fh;
	char p[PATH_MAX];
	int ret;

	ret = libnfs_path(path, p, sizeof(p));
	if (ret)
		return ret;
	if (flags & O_CREAT) {
		ret = nfs_open2(c->nfs, p, oflags | (flags & (O_CREAT | O_EXCL)),
				(int)mode, &fh);
		/* libnfs 4.0's NFSv4 create fails on an existing file
		 * with or without O_EXCL (-EEXIST): open it as it is. */
		if (ret == -EEXIST && !(flags & O_EXCL))
			ret = nfs_open(c->nfs, p, oflags, &fh);
	} else {
		ret = nfs_open(c->nfs, p, oflags, &fh);
	}
	if (ret)
		return ret;
	*file = fh;
	return 0;
}

static ssize_t libnfs_pread(void *conn, void *file, void *buf, size_t n,
			    off_t off)
{
	struct libnfs_conn *c = conn;
	size_t done = 0, piece;
	int ret = 0;

	while (done < n) {
		piece = n - done < c->rmax ? n - done : c->rmax;
#ifdef HAVE_LIBNFS_API_V2
		ret = nfs_pread(c->nfs, file, (char *)buf + done, piece,
				(uint64_t)off + done);
#else
		ret = nfs_pread(c->nfs, file, (uint64_t)off + done, piece,
				(char *)buf + done);
#endif
		if (ret <= 0)
			break; /* an error, or the end of the file */
		done += (size_t)ret;
	}
	return ret < 0 ? ret : (ssize_t)done;
}

static ssize_t libnfs_pwrite(void *conn, void *file, const void *buf,
			     size_t n, off_t off)
{
	struct libnfs_conn *c = conn;
	size_t done = 0, piece;
	int ret = 0;

	while (done < n) {
		piece = n - done < c->wmax ? n - done : c->wmax;
#ifdef HAVE_LIBNFS_API_V2
		ret = nfs_pwrite(c->nfs, file, (const char *)buf + done, piece,
				 (uint64_t)off + done);
#else
		ret = nfs_pwrite(c->nfs, file, (uint64_t)off + done, piece,
				 (char *)buf + done);
#endif
		if (ret < 0)
			return ret;
		if (ret == 0)
			return done ? (ssize_t)done : -EIO; /* no progress */
		done += (size_t)ret;
	}
	return (ssize_t)done;
}

static int libnfs_fsync(void *conn, void *file)
{
	struct libnfs_conn *c = conn;

	return nfs_fsync(c->nfs, file);
}

static int libnfs_file_close(void *conn, void *file)
{
	struct libnfs_conn *c = conn;

	return nfs_close(c->nfs, file);
}

static int libnfs_stat(void *conn, const char *path, struct stat *st)
{
	struct libnfs_conn *c = conn;
	struct nfs_stat_64 ns;
	char p[PATH_MAX];
	int ret;

	ret = libnfs_path(path, p, sizeof(p));
	if (ret)
		return ret;
	ret = nfs_stat64(c->nfs, p, &ns);
	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	st->st_dev = (dev_t)ns.nfs_dev;
	st->st_ino = (ino_t)ns.nfs_ino;
	st->st_mode = (mode_t)ns.nfs_mode;
	st->st_nlink = (nlink_t)ns.nfs_nlink;
	st->st_uid = (uid_t)ns.nfs_uid;
	st->st_gid = (gid_t)ns.nfs_gid;
	st->st_rdev = (dev_t)ns.nfs_rdev;
	st->st_size = (off_t)ns.nfs_size;
	st->st_blksize = (blksize_t)ns.nfs_blksize;
	st->st_blocks = (blkcnt_t)ns.nfs_blocks;
	st->st_atim.tv_sec = (time_t)ns.nfs_atime;
	st->st_atim.tv_nsec = (long)ns.nfs_atime_nsec;
	st->st_mtim.tv_sec = (time_t)ns.nfs_mtime;
	st->st_mtim.tv_nsec = (long)ns.nfs_mtime_nsec;
	st->st_ctim.tv_sec = (time_t)ns.nfs_ctime;
	st->st_ctim.tv_nsec = (long)ns.nfs_ctime_nsec;
	return 0;
}

static int libnfs_unlink(void *conn, const char *path)
{
	struct libnfs_conn *c = conn;
	char p[PATH_MAX];
	int ret;

	ret = libnfs_path(path, p, sizeof(p));
	return ret ? ret : nfs_unlink(c->nfs, p);
}

static int libnfs_mkdir(void *conn, const char *path, mode_t mode)
{
	struct libnfs_conn *c = conn;
	char p[PATH_MAX];
	int ret;

	ret = libnfs_path(path, p, sizeof(p));
	return ret ? ret : nfs_mkdir2(c->nfs, p, (int)mode);
}

static int libnfs_rmdir(void *conn, const char *path)
{
	struct libnfs_conn *c = conn;
	char p[PATH_MAX];
	int ret;

	ret = libnfs_path(path, p, sizeof(p));
	return ret ? ret : nfs_rmdir(c->nfs, p);
}

/* nfs_opendir reads the whole directory (READDIRPLUS on NFSv3, with the
 * attributes); nfs_readdir only walks what it read. */
static int libnfs_list(void *conn, const char *path, uint64_t *entries)
{
	struct libnfs_conn *c = conn;
	struct nfsdirent *de;
	struct nfsdir *dir;
	char p[PATH_MAX];
	uint64_t count = 0;
	int ret;

	ret = libnfs_path(path, p, sizeof(p));
	if (ret)
		return ret;
	ret = nfs_opendir(c->nfs, p, &dir);
	if (ret)
		return ret;
	while ((de = nfs_readdir(c->nfs, dir)))
		if (strcmp(de->name, ".") && strcmp(de->name, ".."))
			count++;
	nfs_closedir(c->nfs, dir);
	*entries = count;
	return 0;
}

const struct bench_ops bench_libnfs_ops = {
	.kind = "libnfs",
	.open = libnfs_open,
	.close = libnfs_close,
	.drop_caches = libnfs_drop_caches,
	.conn_open = libnfs_conn_open,
	.conn_close = libnfs_conn_close,
	.file_open = libnfs_file_open,
	.pread = libnfs_pread,
	.pwrite = libnfs_pwrite,
	.fsync = libnfs_fsync,
	.file_close = libnfs_file_close,
	.stat = libnfs_stat,
	.unlink = libnfs_unlink,
	.mkdir = libnfs_mkdir,
	.rmdir = libnfs_rmdir,
	.list = libnfs_list,
};
