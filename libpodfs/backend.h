/*
 * The one seam between libpodfs' core (inode table, open files, the cache,
 * later the locks) and a storage backend (NFS, CephFS). A backend talks to
 * its server; one that keeps a coherent cache of its own (CephFS, through
 * libcephfs) says so (be->caches), and the core then caches nothing over
 * it.
 */
#ifndef PODFS_BACKEND_H
#define PODFS_BACKEND_H

#include <podfs/podfs.h>
#include <stdbool.h>
#include <sys/uio.h>

struct podfs_config;

/* A file system object as a backend knows it. Backends embed this as the
 * first member of their own struct and get back with container_of().
 * KEY identifies the object on the server (NFS: a hash of its file
 * handle and fileid; Ceph: its inode number): the core keeps one inode
 * per key. */
struct podfs_bobj {
	uint64_t key;
};

/* An open file of a backend; embedded first like podfs_bobj. */
struct podfs_bfile {
	struct podfs_bobj *obj;
	/* Set by an open asked to go by a name that found OBJ under it, with
	 * the attributes it read (NFSv4's OPEN by name): close-to-open's
	 * check of that name is done. */
	bool by_name;
	struct stat st;
};

/*
 * What a backend tells the core, from a thread of its own and never with
 * a call of the core's on this volume waiting for it (ganesha's
 * fsal_up_vector): the core keeps its cache right and passes on what its
 * caller must hear.
 */
struct podfs_up_ops {
	/* The object with KEY changed elsewhere: its attributes, and its
	 * data from OFF for LEN bytes (LEN 0: to the end), are stale. */
	void (*invalidate)(struct podfs_volume *vol, uint64_t key, off_t off,
			   off_t len);
	/* The server asks us to let go of the object with KEY (cache
	 * pressure): drop what is cached of it. */
	void (*release)(struct podfs_volume *vol, uint64_t key);
};

/* One attached backend instance; embedded first in the backend's struct. */
struct podfs_backend {
	const struct podfs_backend_ops *ops;
	struct podfs_volume *vol; /* for podfs_set_error() and up-calls */
	const struct podfs_up_ops *up;
	bool coherent; /* calls up->invalidate for every change elsewhere */
	/* answers from a coherent cache of its own (libcephfs, driven by
	 * the MDS's capabilities): the core caches nothing over it */
	bool caches;
	/* holds locks on the server (the lock op works on this volume) */
	bool locks;
};

/* Gets each entry of a directory, "." and ".." excluded. OBJ is a new
 * reference the callee takes over (it may be NULL where the backend cannot
 * name the entry cheaply); ST its attributes. A non-zero return stops the
 * walk and is returned by readdir. */
typedef int (*podfs_bdirent_cb)(void *arg, const char *name,
				struct podfs_bobj *obj, const struct stat *st);

/* The end of an asynchronous read or write: RESULT is what read or write
 * would have returned. Called once, on a thread of the backend's; it may
 * not wait for the backend. */
typedef void (*podfs_bio_done)(void *arg, ssize_t result);

/*
 * Every call returns 0 (or a count) or -errno, and on failure leaves a
 * message with podfs_set_error(be->vol, ...). Calls on one backend may come
 * from many threads at once. Objects returned through "struct podfs_bobj
 * **" are new references, released with put. A NULL op answers -ENOTSUP.
 */
struct podfs_backend_ops {
	int version; /* PODFS_BACKEND_OPS_VERSION */
	const char *name;

	/* Connects and checks the volume's root exists; from then on the
	 * backend may call UP. */
	int (*attach)(const struct podfs_config *cfg, struct podfs_volume *vol,
		      const struct podfs_up_ops *up,
		      struct podfs_backend **out);
	void (*detach)(struct podfs_backend *be);

	int (*root)(struct podfs_backend *be, struct podfs_bobj **obj,
		    struct stat *st);
	int (*lookup)(struct podfs_backend *be, struct podfs_bobj *dir,
		      const char *name, struct podfs_bobj **obj,
		      struct stat *st);
	/* Looks up PATH ("a/b/c": names only, no "." or "..") from DIR in
	 * as few requests as the backend can: OBJ and ST are the last
	 * name's; -ENOTDIR when a name before it is not a directory. NULL:
	 * the core looks each name up. */
	int (*lookup_path)(struct podfs_backend *be, struct podfs_bobj *dir,
			   const char *path, struct podfs_bobj **obj,
			   struct stat *st);
	/* The core found an object it already knows (same key) under a new
	 * name: OLD stays, NEW is released. A path-based backend points OLD
	 * at NEW's name, since the name it had may be gone. */
	void (*merge)(struct podfs_backend *be, struct podfs_bobj *old,
		      struct podfs_bobj *new_obj);
	void (*put)(struct podfs_backend *be, struct podfs_bobj *obj);

	/* FILE may be NULL, or an open file of OBJ to prefer. */
	int (*getattr)(struct podfs_backend *be, struct podfs_bobj *obj,
		       struct podfs_bfile *file, struct stat *st);
	int (*setattr)(struct podfs_backend *be, struct podfs_bobj *obj,
		       struct podfs_bfile *file, const struct stat *attr,
		       int to_set, struct stat *out);

	int (*readdir)(struct podfs_backend *be, struct podfs_bobj *dir,
		       podfs_bdirent_cb cb, void *arg);

	int (*mkdir)(struct podfs_backend *be, struct podfs_bobj *dir,
		     const char *name, mode_t mode,
		     const struct podfs_cred *cred, struct podfs_bobj **obj,
		     struct stat *st);
	int (*mknod)(struct podfs_backend *be, struct podfs_bobj *dir,
		     const char *name, mode_t mode, dev_t rdev,
		     const struct podfs_cred *cred, struct podfs_bobj **obj,
		     struct stat *st);
	int (*symlink)(struct podfs_backend *be, struct podfs_bobj *dir,
		       const char *name, const char *target,
		       const struct podfs_cred *cred, struct podfs_bobj **obj,
		       struct stat *st);
	/* Creates (honouring O_EXCL) and opens. */
	int (*create)(struct podfs_backend *be, struct podfs_bobj *dir,
		      const char *name, mode_t mode, int flags,
		      const struct podfs_cred *cred, struct podfs_bobj **obj,
		      struct stat *st, struct podfs_bfile **file);
	int (*link)(struct podfs_backend *be, struct podfs_bobj *obj,
		    struct podfs_bobj *newdir, const char *newname,
		    struct stat *st);
	int (*unlink)(struct podfs_backend *be, struct podfs_bobj *dir,
		      const char *name);
	int (*rmdir)(struct podfs_backend *be, struct podfs_bobj *dir,
		     const char *name);
	int (*rename)(struct podfs_backend *be, struct podfs_bobj *dir,
		      const char *name, struct podfs_bobj *newdir,
		      const char *newname, unsigned flags);
	/* Fills BUF (NUL-terminated, truncated); returns the full length. */
	ssize_t (*readlink)(struct podfs_backend *be, struct podfs_bobj *obj,
			    char *buf, size_t size);
	int (*statfs)(struct podfs_backend *be, struct podfs_bobj *obj,
		      struct statvfs *st);

	/* FLAGS as open(2); O_CREAT/O_EXCL never reach open. DIR and NAME
	 * (or NULL): where the caller last saw OBJ. A backend whose open
	 * goes by name goes by that one, and sets (*file)->by_name when it
	 * found OBJ there. */
	int (*open)(struct podfs_backend *be, struct podfs_bobj *obj, int flags,
		    struct podfs_bobj *dir, const char *name,
		    struct podfs_bfile **file);
	/* Short only at end of file; any size (the backend splits it). */
	ssize_t (*read)(struct podfs_backend *be, struct podfs_bfile *file,
			void *buf, size_t count, off_t off);
	/* All or an error; appends when the file was opened O_APPEND. */
	ssize_t (*write)(struct podfs_backend *be, struct podfs_bfile *file,
			 const void *buf, size_t count, off_t off);
	/* Start a read or write as read and write do, and return once it
	 * is sent (waiting for a free request slot at most); DONE follows,
	 * and the memory read into or written from stays the caller's until
	 * then (a read's IOV array itself may go once the call returned: it
	 * fills the IOVCNT pieces in turn, as preadv does). 0, or -errno
	 * when it could not start (then DONE never comes); -ENOTSUP for a
	 * write to a file opened O_APPEND. NULL: not offered. The cache
	 * layer's read-ahead and write-back run on them, reading straight
	 * into its blocks. */
	int (*read_async)(struct podfs_backend *be, struct podfs_bfile *file,
			  const struct iovec *iov, int iovcnt, off_t off,
			  podfs_bio_done done, void *arg);
	int (*write_async)(struct podfs_backend *be, struct podfs_bfile *file,
			   const void *buf, size_t count, off_t off,
			   podfs_bio_done done, void *arg);
	int (*fsync)(struct podfs_backend *be, struct podfs_bfile *file,
		     int datasync);
	int (*close)(struct podfs_backend *be, struct podfs_bfile *file);
	/* A POSIX lock on the server, for OWNER (the core's: unique in the
	 * volume). CMD F_GETLK, or F_SETLK, which never waits: -EAGAIN on
	 * a conflict (the core waits, and tries again). LK as fcntl's with
	 * l_whence SEEK_SET, l_len 0 to the end of the file; F_GETLK writes
	 * a conflicting lock into it, or l_type F_UNLCK. The core unlocks
	 * what an owner holds through FILE before it closes FILE. */
	int (*lock)(struct podfs_backend *be, struct podfs_bfile *file,
		    uint64_t owner, int cmd, struct flock *lk);

	ssize_t (*getxattr)(struct podfs_backend *be, struct podfs_bobj *obj,
			    const char *name, void *value, size_t size);
	int (*setxattr)(struct podfs_backend *be, struct podfs_bobj *obj,
			const char *name, const void *value, size_t size,
			int flags);
	ssize_t (*listxattr)(struct podfs_backend *be, struct podfs_bobj *obj,
			     char *list, size_t size);
	int (*removexattr)(struct podfs_backend *be, struct podfs_bobj *obj,
			   const char *name);

	/* What was sent so far (podfs_stats); ST is zeroed. */
	void (*stats)(struct podfs_backend *be, struct podfs_stats *st);

	/* podfs_shutdown: calls, those already waiting too, end within the
	 * volume's timeout even where they would wait for ever (hard).
	 * From any thread, while other calls run; a second call changes
	 * nothing. NULL: the
	 * backend's calls are bounded anyway. */
	void (*shutdown)(struct podfs_backend *be);
};

#define PODFS_BACKEND_OPS_VERSION 2

#ifdef HAVE_NFS
extern const struct podfs_backend_ops podfs_nfs_backend;
#endif
#ifdef HAVE_CEPH
extern const struct podfs_backend_ops podfs_ceph_backend;
#endif

#endif /* PODFS_BACKEND_H */
