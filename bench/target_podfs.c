/* The "podfs" target of podfs-bench: a volume source through libpodfs'
 * path-level API, no FUSE: podfs's own cost over the raw library. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <podfs/podfs.h>

#include "target.h"

struct podfs_target {
	podfs_volume *vol; /* thread-safe: every job shares it */
	char *source;
};

#define PT(t) ((struct podfs_target *)(t)->priv)

static int podfs_target_attach(struct podfs_target *pt, char *err,
			       size_t errlen)
{
	int ret;

	pt->vol = podfs_new();
	if (!pt->vol) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = podfs_attach(pt->vol, pt->source, NULL);
	if (ret) {
		/* the message names the source and says why */
		snprintf(err, errlen, "%s", podfs_errmsg(pt->vol));
		podfs_free(pt->vol);
		pt->vol = NULL;
	}
	return ret;
}

static int podfs_target_open(struct bench_target *t, const char *spec,
			     char *err, size_t errlen)
{
	struct podfs_target *pt = calloc(1, sizeof(*pt));
	int ret;

	if (!pt || !(pt->source = strdup(spec))) {
		free(pt);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = podfs_target_attach(pt, err, errlen);
	if (ret) {
		free(pt->source);
		free(pt);
		return ret;
	}
	t->priv = pt;
	return 0;
}

static void podfs_target_close(struct bench_target *t)
{
	struct podfs_target *pt = PT(t);

	if (pt->vol) {
		podfs_detach(pt->vol);
		podfs_free(pt->vol);
	}
	free(pt->source);
	free(pt);
	t->priv = NULL;
}

/* A fresh volume: nothing of the old client's is cached. */
static int podfs_target_drop_caches(struct bench_target *t)
{
	struct podfs_target *pt = PT(t);
	char err[256];

	podfs_detach(pt->vol);
	podfs_free(pt->vol);
	return podfs_target_attach(pt, err, sizeof(err));
}

static int podfs_target_conn_open(struct bench_target *t, void **conn)
{
	*conn = PT(t)->vol;
	return PT(t)->vol ? 0 : -ENOTCONN;
}

static void podfs_target_conn_close(struct bench_target *t, void *conn)
{
	(void)t;
	(void)conn;
}

static int podfs_target_file_open(void *conn, const char *path, int flags,
				  mode_t mode, void **file)
{
	podfs_file *f;
	int ret = podfs_open(conn, path, flags, mode, &f);

	if (!ret)
		*file = f;
	return ret;
}

static ssize_t podfs_target_pread(void *conn, void *file, void *buf, size_t n,
				  off_t off)
{
	return podfs_pread(conn, file, buf, n, off);
}

static ssize_t podfs_target_pwrite(void *conn, void *file, const void *buf,
				   size_t n, off_t off)
{
	return podfs_pwrite(conn, file, buf, n, off);
}

static int podfs_target_fsync(void *conn, void *file)
{
	return podfs_fsync(conn, file, 0);
}

static int podfs_target_file_close(void *conn, void *file)
{
	return podfs_close(conn, file);
}

static int podfs_target_stat(void *conn, const char *path, struct stat *st)
{
	return podfs_stat(conn, path, st);
}

static int podfs_target_unlink(void *conn, const char *path)
{
	return podfs_unlink(conn, path);
}

static int podfs_target_mkdir(void *conn, const char *path, mode_t mode)
{
	return podfs_mkdir(conn, path, mode);
}

static int podfs_target_rmdir(void *conn, const char *path)
{
	return podfs_rmdir(conn, path);
}

static int podfs_target_list(void *conn, const char *path, uint64_t *entries)
{
	struct podfs_dirent ent;
	podfs_dir *dir;
	uint64_t n = 0;
	int ret;

	ret = podfs_opendir(conn, path, &dir);
	if (ret)
		return ret;
	while ((ret = podfs_readdir(conn, dir, &ent)) > 0)
		n++;
	podfs_closedir(conn, dir);
	if (ret < 0)
		return ret;
	*entries = n;
	return 0;
}

/* One counter of podfs_stats_foreach: the cache's hits and misses by kind
 * ("cache.attr.hits" ...) go into the bench_cache ARG. */
static void podfs_target_count(void *arg, const char *name, uint64_t value)
{
	struct bench_cache *c = arg;

	if (strncmp(name, "cache.", 6))
		return;
	name += 6;
	for (int k = 0; k < CACHE_KINDS; k++) {
		size_t n = strlen(bench_cache_kinds[k]);

		if (strncmp(name, bench_cache_kinds[k], n) || name[n] != '.')
			continue;
		if (!strcmp(name + n + 1, "hits"))
			c->hits[k] = value;
		else if (!strcmp(name + n + 1, "misses"))
			c->misses[k] = value;
	}
}

static int podfs_target_cache_counters(struct bench_target *t,
				       struct bench_cache *out)
{
	struct podfs_target *pt = PT(t);

	memset(out, 0, sizeof(*out));
	if (!pt->vol)
		return -ENOTCONN;
	return podfs_stats_foreach(pt->vol, podfs_target_count, out);
}

const struct bench_ops bench_podfs_ops = {
	.kind = "podfs",
	.open = podfs_target_open,
	.close = podfs_target_close,
	.drop_caches = podfs_target_drop_caches,
	.conn_open = podfs_target_conn_open,
	.conn_close = podfs_target_conn_close,
	.file_open = podfs_target_file_open,
	.pread = podfs_target_pread,
	.pwrite = podfs_target_pwrite,
	.fsync = podfs_target_fsync,
	.file_close = podfs_target_file_close,
	.stat = podfs_target_stat,
	.unlink = podfs_target_unlink,
	.mkdir = podfs_target_mkdir,
	.rmdir = podfs_target_rmdir,
	.list = podfs_target_list,
	.cache_counters = podfs_target_cache_counters,
};
