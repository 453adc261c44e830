/*
 * What libpodfs' own files share and the installed header does not show:
 * the parsed configuration of a volume and the error-message helpers.
 */
#ifndef PODFS_PRIVATE_H
#define PODFS_PRIVATE_H

#include <podfs/podfs.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

#define PODFS_EXPORT __attribute__((visibility("default")))
#define PODFS_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum podfs_kind { PODFS_KIND_NONE = 0, PODFS_KIND_NFS, PODFS_KIND_CEPH };

/* Defaults, named like the kernel NFS client's where the meaning is the
 * same. timeo is in tenths of a second. */
#define PODFS_DEFAULT_NCONNECT 4
#define PODFS_MAX_NCONNECT 16
#define PODFS_DEFAULT_TIMEO 600
#define PODFS_DEFAULT_RETRANS 2
/* NFS: the most podfs reads or writes in one RPC (libnfs takes no larger
 * record), and the requests one connection keeps in flight. */
#define PODFS_MAX_IOSIZE (1024 * 1024)
#define PODFS_DEFAULT_SLOTS 64
#define PODFS_MAX_SLOTS 1024
/* The cache's policy, as nfs(5) has it (seconds); cache_size in bytes. */
#define PODFS_DEFAULT_ACREGMIN 3
#define PODFS_DEFAULT_ACREGMAX 60
#define PODFS_DEFAULT_ACDIRMIN 30
#define PODFS_DEFAULT_ACDIRMAX 60
#define PODFS_MAX_ACTIMEO 86400
#define PODFS_DEFAULT_CACHE_SIZE (256ULL << 20)
#define PODFS_MIN_CACHE_SIZE (4ULL << 20)

enum podfs_lookupcache {
	PODFS_LOOKUPCACHE_POSITIVE = 0, /* the default: names that exist */
	PODFS_LOOKUPCACHE_ALL,		/* and names that don't */
	PODFS_LOOKUPCACHE_NONE,
};

enum podfs_cache_mode {
	PODFS_CACHE_STRICT = 0, /* close-to-open: the default */
	PODFS_CACHE_NONE,	/* every read and write goes to the server */
	PODFS_CACHE_LOOSE,	/* data trusted for the attribute timeout,
				 * across opens too */
};

/* Which locks stay on this client (local_lock=, nolock): bits. */
#define PODFS_LOCAL_FLOCK (1 << 0)
#define PODFS_LOCAL_POSIX (1 << 1)

/* A volume's source and options, parsed. Strings are owned (malloc). */
struct podfs_config {
	enum podfs_kind kind;
	char *source; /* as given, for messages; never holds a secret */
	bool readonly;
	bool soft;	 /* soft: calls fail after timeo * (retrans + 1) */
	int timeo;	 /* deciseconds, > 0 */
	int retrans;	 /* >= 0 */
	long uid, gid;	 /* present every object as owned by these; -1: no */
	long umask;	 /* and with these mode bits cleared; -1: no */

	/* NFS */
	char *server;	/* host name or address, no brackets */
	char *path;	/* absolute export path, with any subdir */
	int vers;	/* 3 or 4 */
	int port;	/* NFS port, 0: ask the portmapper (v3) / 2049 (v4) */
	int mountport;	/* MOUNT port (v3), 0: ask the portmapper */
	int nconnect;	/* connections in the pool */
	int rsize, wsize; /* bytes per READ/WRITE; 0: what the server says */
	int slots;	/* requests in flight per connection */

	/* the cache's policy, one for the library and the kernel */
	int acregmin, acregmax; /* seconds, regular files (and others) */
	int acdirmin, acdirmax; /* seconds, directories */
	enum podfs_lookupcache lookupcache;
	bool cto;		/* close-to-open: revalidate at every open */
	enum podfs_cache_mode cache_mode;
	unsigned long long cache_size; /* bytes of cached file data */
	int local_lock; /* PODFS_LOCAL_*: kept on the client, not the server */

	/* CephFS */
	char *mon_host; /* libcephfs mon_host, as written */
	char *user;	/* cephx id, without "client." */
	char *fsid;	/* from the mount.ceph form; may be NULL */
	char *fs_name;	/* NULL: the cluster's default filesystem */
	char *root;	/* path inside the filesystem, absolute */
	char *secretfile, *keyring, *conf;
	char *client_id; /* stable per mount: a restarted mount takes over
			  * the session a killed one left behind */
	const char *secret; /* borrowed from the volume (podfs_set_secret) */
};

void podfs_config_init(struct podfs_config *cfg);
void podfs_config_free(struct podfs_config *cfg);
/* A soft call's bound, timeo * (retrans + 1), in milliseconds: at most
 * an hour. */
unsigned int podfs_config_timeout_ms(const struct podfs_config *cfg);
/* Fills CFG from SOURCE and OPTIONS; on error returns -EINVAL with a
 * message in ERR naming the bad part. */
int podfs_config_parse(struct podfs_config *cfg, const char *source,
		       const char *options, char *err, size_t errlen);

/* Records a message for VOL (and this thread) and returns -ERR (ERR is a
 * positive or negative errno). */
int podfs_set_error(struct podfs_volume *vol, int err, const char *fmt, ...)
	PODFS_PRINTF(3, 4);

/* podfs_ll_lookup of every name of PATH ("a/b/c", names checked by the
 * caller), one inside the other: OUT is the last one's, with a lookup
 * reference (path.c). */
int podfs_ll_lookup_path(struct podfs_volume *vol, uint64_t parent,
			 const char *path, struct podfs_entry *out);

/* The backend's asynchronous read and write of an open file (the cache
 * layer's read-ahead and write-back): as podfs_pread/podfs_pwrite, but
 * DONE(ARG, result) is called once it ended, on a thread of the
 * backend's. 0 once started; -errno (and no DONE) when it could not be,
 * -ENOTSUP where the backend has none. */
int podfs_file_read_async(struct podfs_volume *vol, struct podfs_file *f,
			  void *buf, size_t count, off_t off,
			  podfs_bio_done done, void *arg);
int podfs_file_write_async(struct podfs_volume *vol, struct podfs_file *f,
			   const void *buf, size_t count, off_t off,
			   podfs_bio_done done, void *arg);

/* The next entry of a directory stream after "." and "..": 1, or 0 at
 * the end (path.c's podfs_readdir). */
int podfs_dir_next(struct podfs_volume *vol, struct podfs_dir *dir,
		   struct podfs_dirent *ent);

/* The libcephfs settings every client of ours takes (ceph/main.c):
 * no printing, no files or sockets of its own, permissions checked above
 * it. podfs-bench's raw libcephfs target takes the same. */
extern const char *const podfs_ceph_fixed_conf[][2];
extern const size_t podfs_ceph_fixed_conf_count;

/* mount.ceph's secretfile: the bare base64 key, maybe with a newline,
 * into KEY (to be wiped by the caller); 0, or -errno with ERR saying why
 * (KEY wiped). podfs-bench's raw libcephfs target reads it the same way. */
int podfs_ceph_read_secretfile(const char *path, char *key, size_t keylen,
			       char *err, size_t errlen);

/* Overwrites S with zeros (not optimised away) and frees it. */
void podfs_free_secret(char *s);

#endif /* PODFS_PRIVATE_H */
