/* podfs-bench targets: where the workloads' calls go. One ops table per
 * kind (a directory through POSIX calls, libpodfs, raw libnfs, raw
 * libcephfs); the workloads in bench.c only call through it. */
#ifndef PODFS_BENCH_TARGET_H
#define PODFS_BENCH_TARGET_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct bench_target;

/* The kinds of lookups a podfs cache answers, as libpodfs names its
 * counters ("cache.attr.hits" ...). */
enum bench_cache_kind { CACHE_ATTR, CACHE_ENTRY, CACHE_DATA, CACHE_KINDS };
extern const char *const bench_cache_kinds[CACHE_KINDS]; /* "attr" ... */

/* A client cache's counters: per kind, the lookups it answered itself
 * (hits) and those it sent on to the server (misses). Counters of a
 * moment only grow; a difference of two is what happened in between. */
struct bench_cache {
	uint64_t hits[CACHE_KINDS], misses[CACHE_KINDS];
};

/* Every call returns 0 (or a byte count) or -errno. Paths are relative to
 * the target's root, without a leading '/'. A "conn" is what one job
 * (thread) uses: kinds whose client is not thread-safe give each job its
 * own; a "file" is an open file of that conn. */
struct bench_ops {
	const char *kind; /* "dir", "podfs", "libnfs", "libcephfs" */

	/* Connects to SPEC (the part after "KIND:"); on failure a one-line
	 * reason in ERR. Sets t->priv. */
	int (*open)(struct bench_target *t, const char *spec, char *err,
		    size_t errlen);
	void (*close)(struct bench_target *t);
	/* Makes the next directory listing cold: what this client caches
	 * of names and attributes is dropped (a fresh client for the
	 * libraries, the kernel's dentry and inode caches for a directory).
	 * Returns 0, or -errno (e.g. -EPERM) when it cannot. */
	int (*drop_caches)(struct bench_target *t);

	int (*conn_open)(struct bench_target *t, void **conn);
	void (*conn_close)(struct bench_target *t, void *conn);

	int (*file_open)(void *conn, const char *path, int flags, mode_t mode,
			 void **file);
	ssize_t (*pread)(void *conn, void *file, void *buf, size_t n, off_t off);
	ssize_t (*pwrite)(void *conn, void *file, const void *buf, size_t n,
			  off_t off);
	int (*fsync)(void *conn, void *file);
	int (*file_close)(void *conn, void *file);

	int (*stat)(void *conn, const char *path, struct stat *st);
	int (*unlink)(void *conn, const char *path);
	int (*mkdir)(void *conn, const char *path, mode_t mode);
	int (*rmdir)(void *conn, const char *path);
	/* Lists PATH to the end (with each entry's name; attributes only if
	 * the client gets them anyway), counting entries without "." and
	 * "..". */
	int (*list)(void *conn, const char *path, uint64_t *entries);

	/* Optional: the counters of podfs's cache behind this target as of
	 * now. 0, or -ENOTSUP when the target has none (a directory that is
	 * not in a podfs mount), or -errno. Called between phases only, from
	 * one thread. Call it through bench_target_cache. */
	int (*cache_counters)(struct bench_target *t, struct bench_cache *out);
};

struct bench_target {
	const struct bench_ops *ops;
	char *label; /* as shown in reports */
	char *spec;  /* as given on the command line */
	void *priv;  /* the kind's own state */
};

/* The one place a missing cache_counters op becomes -ENOTSUP. */
static inline int bench_target_cache(struct bench_target *t,
				     struct bench_cache *out)
{
	if (!t->ops->cache_counters)
		return -ENOTSUP;
	return t->ops->cache_counters(t, out);
}

extern const struct bench_ops bench_dir_ops;
extern const struct bench_ops bench_podfs_ops;
#if HAVE_NFS
extern const struct bench_ops bench_libnfs_ops;
#endif
#if HAVE_CEPH
extern const struct bench_ops bench_libcephfs_ops;
#endif

#endif /* PODFS_BENCH_TARGET_H */
