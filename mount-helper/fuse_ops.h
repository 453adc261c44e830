/*
 * The FUSE low-level filesystem of mount.podfs: one ops table over
 * libpodfs' inode level.
 */
#ifndef PODFS_FUSE_OPS_H
#define PODFS_FUSE_OPS_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <podfs/podfs.h>
#include <stdbool.h>

struct podfs_fuse {
	podfs_volume *vol;
	double attr_timeout;  /* seconds the kernel may keep attributes */
	double entry_timeout; /* and names */
	long fsgroup;	      /* new objects get this group; -1: the caller's */
	bool verbose;
};

extern const struct fuse_lowlevel_ops podfs_fuse_ops;

#endif /* PODFS_FUSE_OPS_H */
