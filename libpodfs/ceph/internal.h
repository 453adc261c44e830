/*
 * What the files of the CephFS backend share: its structs and the helpers
 * both the mount (main.c) and the object calls (handle.c) use. The
 * backend rides on libcephfs' low-level inode API (ceph_ll_*), the way
 * ceph-fuse and nfs-ganesha's FSAL_CEPH use it; libcephfs holds the caps,
 * so what it returns is coherent.
 */
#ifndef PODFS_CEPH_INTERNAL_H
#define PODFS_CEPH_INTERNAL_H

#include <cephfs/libcephfs.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "podfs-private.h"

/* Ceph's snapshot ids for the live tree and for a ".snap" directory. */
#define CEPH_BE_NOSNAP ((uint64_t)-2)
/* Inode numbers are below 2^48 (rank inode ranges start at 2^40), so a
 * snapshot's tag goes in the top 16 bits of a key, as ceph-fuse does. */
#define CEPH_BE_INO_BITS 48
#define CEPH_BE_MAX_STAGS 0xffff

/* libcephfs takes int lengths: move data in pieces of this size. */
#define CEPH_BE_IO_CHUNK (64u << 20)

struct ceph_be {
	struct podfs_backend be;
	struct ceph_mount_info *cmount;
	UserPerm *perms; /* the mount's own (root): not ours to free */
	char *source;	 /* for messages */

	pthread_mutex_t snap_lock;
	uint64_t *snapids; /* tag N (N >= 1) is snapids[N - 1] */
	unsigned nsnapids;
};

struct ceph_obj {
	struct podfs_bobj obj;
	struct Inode *in;
};

struct ceph_file {
	struct podfs_bfile file;
	struct Fh *fh;
	int flags;
};

static inline struct ceph_be *to_cbe(struct podfs_backend *be)
{
	return container_of(be, struct ceph_be, be);
}

static inline struct ceph_obj *to_cobj(struct podfs_bobj *obj)
{
	return container_of(obj, struct ceph_obj, obj);
}

static inline struct ceph_file *to_cfile(struct podfs_bfile *file)
{
	return container_of(file, struct ceph_file, file);
}

/* One place for messages: "SOURCE: what failed: why" (handle.c). */
int ceph_be_error(struct ceph_be *cb, int err, const char *fmt, ...)
	PODFS_PRINTF(3, 4);
int ceph_be_op_error(struct ceph_be *cb, int err, const char *op,
		     const char *name);
/* The key of an inode: its number, with a per-snapshot tag on top
 * (handle.c). */
uint64_t ceph_be_vkey(struct ceph_be *cb, uint64_t ino, uint64_t snap,
		      bool looking);
uint64_t ceph_be_key(struct ceph_be *cb, const struct ceph_statx *stx);
void ceph_be_stat(uint64_t key, const struct ceph_statx *stx,
		  struct stat *st);
int ceph_be_new_obj(struct ceph_be *cb, struct Inode *in,
		    const struct ceph_statx *stx, struct podfs_bobj **obj,
		    struct stat *st);
int ceph_be_perms(struct ceph_be *cb, const struct podfs_cred *cred,
		  UserPerm **perms);
void ceph_be_perms_put(struct ceph_be *cb, UserPerm *perms);
/* main.c */
int ceph_be_attach(const struct podfs_config *cfg, struct podfs_volume *vol,
		   const struct podfs_up_ops *up, struct podfs_backend **out);
void ceph_be_detach(struct podfs_backend *be);

#endif /* PODFS_CEPH_INTERNAL_H */
