/*
 * The FUSE low-level filesystem of mount.podfs: one ops table over
 * libpodfs' inode level.
 */
#ifndef PODFS_FUSE_OPS_H
#define PODFS_FUSE_OPS_H

/* 3.12: fuse_session_loop_mt() takes a fuse_loop_config from
 * fuse_loop_cfg_create() (with 3.4 it would read it as the old struct
 * and start a thread per request) */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <podfs/podfs.h>
#include <pthread.h>
#include <stdbool.h>

/* The largest read or write the kernel sends us, and its read-ahead. */
#define PODFS_FUSE_IO_MAX (1u << 20)

struct podfs_fuse {
	podfs_volume *vol;
	long fsgroup; /* new objects get this group; -1: the caller's */
	bool verbose;
	/* the library reports others' changes: file data stays cached in
	 * the kernel across opens, dropped when another client writes */
	bool coherent;
	pthread_mutex_t notify_lock; /* se, against unmounting */
	struct fuse_session *se;     /* NULL: no kernel to tell */
};

extern const struct fuse_lowlevel_ops podfs_fuse_ops;

/* The attribute of a mount's root that holds its statistics (JSON). */
#define PODFS_STATS_XATTR "user.podfs.stats"
/* VOL's statistics as JSON (stats.c; malloc'd), NULL when out of memory. */
char *stats_json(podfs_volume *vol);

/* podfs_invalidate_fn for a struct podfs_fuse: tells the kernel. */
void podfs_fuse_invalidate(void *arg, uint64_t ino, off_t off, off_t len);
/* Starts (SE) or stops (NULL) telling the kernel. */
void podfs_fuse_set_session(struct podfs_fuse *pf, struct fuse_session *se);

#endif /* PODFS_FUSE_OPS_H */
