/*
 * libpodfs: one C API over remote shared storage (NFS through libnfs,
 * CephFS through libcephfs). Two levels share one volume: an inode level
 * (podfs_ll_*) that a FUSE low-level filesystem sits on, and a path level
 * for programs that link the library directly. See libpodfs(3).
 */
#ifndef PODFS_PODFS_H
#define PODFS_PODFS_H

#include <fcntl.h> /* struct flock */
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Offsets and sizes are 64-bit; build with -D_FILE_OFFSET_BITS=64
 * (pkg-config --cflags libpodfs says so). */
_Static_assert(sizeof(off_t) == 8, "libpodfs needs -D_FILE_OFFSET_BITS=64");

#define PODFS_VERSION_MAJOR 0
#define PODFS_VERSION_MINOR 1

/* The inode number of a volume's root, as FUSE expects it. */
#define PODFS_ROOT_INO 1

typedef struct podfs_volume podfs_volume;
typedef struct podfs_file podfs_file;
typedef struct podfs_dir podfs_dir;

/* Who a new object belongs to (create, mkdir, mknod, symlink). */
struct podfs_cred {
	uid_t uid;
	gid_t gid;
};

/* A looked-up object: the inode number the caller now holds one lookup
 * reference on (release it with podfs_ll_forget) and its attributes, with
 * how long the volume's cache policy (ac*, noac, lookupcache) lets the
 * caller trust them: a FUSE filesystem hands both to the kernel. */
struct podfs_entry {
	uint64_t ino;
	struct stat attr;
	double attr_timeout;  /* seconds ATTR stays valid */
	double entry_timeout; /* seconds the name stays bound to INO */
};

/* ---- Volumes ----------------------------------------------------------- */

/* A new, unattached volume; NULL only when out of memory. Thread-safe
 * once attached: many threads may call into one volume at once. */
podfs_volume *podfs_new(void);

/* Hands a secret (the CephFS key, base64 as in a keyring) to the volume
 * from memory, so it never has to be in a file or argv. The copy is
 * wiped when the volume is freed. Call before podfs_attach. */
int podfs_set_secret(podfs_volume *vol, const char *key);

/* Parses SOURCE and OPTIONS (a comma-separated mount(8)-style list, may be
 * NULL) without touching the network: 0 or -EINVAL with a message naming
 * the bad part. podfs_attach does this too. */
int podfs_parse(podfs_volume *vol, const char *source, const char *options);

/* Connects to the server and attaches the volume.
 *   nfs://server[:port]/export[/subdir][?opt=val&...]   server:/export[/subdir]
 *   ceph://[user@]mon[:port][,mon...]/[path][?fs=NAME]  user@fsid.fsname=/path
 * Returns 0, or -EINVAL (bad source/option), -ENOENT (export or path not
 * found), -EACCES/-EPERM (authentication failed), -ETIMEDOUT,
 * -ECONNREFUSED, -EHOSTUNREACH (server not reachable), -ENOMEM. */
int podfs_attach(podfs_volume *vol, const char *source, const char *options);

/* Flushes and closes every open file and directory stream (their
 * handles are invalid afterwards), forgets every inode, then detaches.
 * Returns the first error a flush reported (it detaches anyway). Shuts
 * the volume down first (podfs_shutdown): detach ends within the
 * volume's timeout even when the server is gone. */
int podfs_detach(podfs_volume *vol);

/* The volume is about to be detached (its mount is gone, its owner told
 * to stop): from now on calls that wait for a server which does not
 * answer give up with -ETIMEDOUT within the volume's timeout (timeo x
 * (retrans + 1)), as on a soft mount, calls already waiting as well, and
 * waits for a lock end with -EINTR. Calls that get answers go on as
 * before. Returns that timeout in milliseconds. On CephFS libcephfs
 * bounds none of its calls: one stuck on a cluster that is gone stays
 * stuck, and a process that has to end leaves without it after that
 * time. Safe from any thread, while other threads are in calls; once is
 * enough, more is harmless. */
unsigned int podfs_shutdown(podfs_volume *vol);

/* Detaches if needed and frees the volume. NULL is fine. */
void podfs_free(podfs_volume *vol);

/* The message of the last call on VOL that failed in this thread, in
 * words for people ("nfs://h/x: export /x not found on server h").
 * Valid until the next call on VOL from this thread. Never NULL. */
const char *podfs_errmsg(podfs_volume *vol);

/* "nfs" or "ceph" once parsed, else NULL. */
const char *podfs_backend_name(podfs_volume *vol);

/* Called when another client changed inode INO: what the caller caches of
 * it (attributes, and data from OFF for LEN bytes; LEN 0: to the end) is
 * stale. Called from a thread of the library's own, never from inside a
 * podfs call; it must not call into VOL. */
typedef void (*podfs_invalidate_fn)(void *arg, uint64_t ino, off_t off,
				    off_t len);
/* Sets the callback, before podfs_attach. 0, or -EBUSY once attached. */
int podfs_set_invalidate(podfs_volume *vol, podfs_invalidate_fn fn,
			 void *arg);
/* After podfs_attach: 1 when the backend reports every change another
 * client makes through the invalidate callback (CephFS, whose server
 * recalls a client's cache rights before others write), so a caller may
 * keep file data cached across opens; 0 when it can't (NFS: close-to-open,
 * revalidate at each open). */
int podfs_coherent(podfs_volume *vol);

/* What an attached volume has sent its server so far, for tests and
 * benchmarks. Counters only grow; an op sent again after a fault counts
 * again. CephFS volumes leave the counters 0 (libcephfs keeps its own). */
struct podfs_stats {
	uint64_t calls;		/* requests sent (NFS: RPCs, COMPOUNDs) */
	uint64_t reads, writes, commits; /* READ, WRITE, COMMIT requests */
	uint64_t read_bytes, write_bytes;
	uint64_t max_read, max_write; /* largest READ, WRITE sent, bytes */
	uint64_t resent;	/* COMMITs that found a server restarted and
				 * sent the uncommitted data again */
	uint32_t max_in_flight;	/* most requests outstanding at once on
				 * one connection */
	uint32_t rsize, wsize;	/* bytes a READ, WRITE carries at most */
};
/* Fills ST: 0, or -EINVAL when VOL is not attached. */
int podfs_stats(podfs_volume *vol, struct podfs_stats *st);

/* Every counter of an attached volume, one call of FN each, NAME dotted
 * ("cache.attr.hits"); the names are listed in libpodfs(3). Counters only
 * grow, but for the levels "cache.data.bytes", "cache.data.limit" and
 * "writeback.queued_bytes". "ops.OP.count", ".errors", ".usec": backend ops sent (what the
 * cache answered is not among them) and the time they took;
 * "rpc.*": podfs_stats. 0, or -EINVAL when VOL is not attached. */
typedef void (*podfs_stat_fn)(void *arg, const char *name, uint64_t value);
int podfs_stats_foreach(podfs_volume *vol, podfs_stat_fn fn, void *arg);

/* ---- Inode level (what a FUSE low-level filesystem needs) -------------- */
/* Inode numbers come from lookups: each call that fills a podfs_entry adds
 * one lookup reference, released with podfs_ll_forget. */

/* On -ENOENT, OUT->ino is 0 and OUT->entry_timeout is how long the
 * caller may remember that NAME does not exist (lookupcache=all), else 0. */
int podfs_ll_lookup(podfs_volume *vol, uint64_t parent, const char *name,
		    struct podfs_entry *out);
void podfs_ll_forget(podfs_volume *vol, uint64_t ino, uint64_t nlookup);
/* From the volume's cache while it is fresh (ac*; never with noac). */
int podfs_ll_getattr(podfs_volume *vol, uint64_t ino, struct stat *st);
/* Seconds the attributes the volume last gave for INO (getattr, setattr)
 * stay valid in its cache; 0 when they are not cached. */
double podfs_ll_attr_timeout(podfs_volume *vol, uint64_t ino);

/* Bits of TO_SET (same values as FUSE_SET_ATTR_*). */
#define PODFS_SET_MODE (1 << 0)
#define PODFS_SET_UID (1 << 1)
#define PODFS_SET_GID (1 << 2)
#define PODFS_SET_SIZE (1 << 3)
#define PODFS_SET_ATIME (1 << 4)
#define PODFS_SET_MTIME (1 << 5)
#define PODFS_SET_ATIME_NOW (1 << 7)
#define PODFS_SET_MTIME_NOW (1 << 8)

/* Changes the attributes named in TO_SET (truncate with PODFS_SET_SIZE,
 * st_size). FILE may be NULL or an open file of INO. OUT may be NULL. */
int podfs_ll_setattr(podfs_volume *vol, uint64_t ino, podfs_file *file,
		     const struct stat *attr, int to_set, struct stat *out);

int podfs_ll_mkdir(podfs_volume *vol, uint64_t parent, const char *name,
		   mode_t mode, const struct podfs_cred *cred,
		   struct podfs_entry *out);
int podfs_ll_mknod(podfs_volume *vol, uint64_t parent, const char *name,
		   mode_t mode, dev_t rdev, const struct podfs_cred *cred,
		   struct podfs_entry *out);
int podfs_ll_symlink(podfs_volume *vol, uint64_t parent, const char *name,
		     const char *target, const struct podfs_cred *cred,
		     struct podfs_entry *out);
/* Creates and opens a regular file (O_EXCL honoured). */
int podfs_ll_create(podfs_volume *vol, uint64_t parent, const char *name,
		    mode_t mode, int flags, const struct podfs_cred *cred,
		    struct podfs_entry *out, podfs_file **file);
/* A new name NEWPARENT/NEWNAME for INO; OUT gets a lookup reference. */
int podfs_ll_link(podfs_volume *vol, uint64_t ino, uint64_t newparent,
		  const char *newname, struct podfs_entry *out);
int podfs_ll_unlink(podfs_volume *vol, uint64_t parent, const char *name);
int podfs_ll_rmdir(podfs_volume *vol, uint64_t parent, const char *name);

#define PODFS_RENAME_NOREPLACE (1 << 0)
/* Replaces an existing NEWNAME (a file, or an empty directory) atomically
 * unless FLAGS has PODFS_RENAME_NOREPLACE. */
int podfs_ll_rename(podfs_volume *vol, uint64_t parent, const char *name,
		    uint64_t newparent, const char *newname, unsigned flags);

/* Copies the target into BUF (NUL-terminated, truncated to SIZE-1);
 * returns its full length or -errno. */
ssize_t podfs_ll_readlink(podfs_volume *vol, uint64_t ino, char *buf,
			  size_t size);
int podfs_ll_statfs(podfs_volume *vol, uint64_t ino, struct statvfs *st);

/* FLAGS as open(2): O_RDONLY/O_WRONLY/O_RDWR, O_APPEND, O_TRUNC. */
int podfs_ll_open(podfs_volume *vol, uint64_t ino, int flags,
		  podfs_file **file);

/* A directory stream: a snapshot taken at its first read (a caller that
 * never reads it, such as a FUSE kernel that kept the last listing, costs
 * the server no listing), read from any offset. */
int podfs_ll_opendir(podfs_volume *vol, uint64_t ino, podfs_dir **dir);

/* Called once per entry from offset OFF on: NAME, its attributes and the
 * offset of the entry after it. With PODFS_READDIR_PLUS, ENTRY->ino holds
 * a lookup reference when the callback returns 0 ("." and ".." carry no
 * reference and ino 0). A non-zero return stops the walk without taking
 * that entry (the reference is dropped again). */
typedef int (*podfs_filldir_t)(void *arg, const char *name,
			       const struct podfs_entry *entry, off_t next);
#define PODFS_READDIR_PLUS (1 << 0)
int podfs_ll_readdir(podfs_volume *vol, podfs_dir *dir, off_t off,
		     int flags, podfs_filldir_t fill, void *arg);
int podfs_ll_releasedir(podfs_volume *vol, podfs_dir *dir);

/* Extended attributes, where the backend has them (-ENOTSUP otherwise).
 * get/list return the value's size; with SIZE 0 they only report it. */
ssize_t podfs_ll_getxattr(podfs_volume *vol, uint64_t ino, const char *name,
			  void *value, size_t size);
int podfs_ll_setxattr(podfs_volume *vol, uint64_t ino, const char *name,
		      const void *value, size_t size, int flags);
ssize_t podfs_ll_listxattr(podfs_volume *vol, uint64_t ino, char *list,
			   size_t size);
int podfs_ll_removexattr(podfs_volume *vol, uint64_t ino, const char *name);

/* ---- Open files (both levels) ------------------------------------------ */

/* A short read happens only at end of file. */
ssize_t podfs_pread(podfs_volume *vol, podfs_file *file, void *buf,
		    size_t count, off_t off);
/* Reads as podfs_pread does, but lends what the cache holds instead of
 * copying it: FN(ARG, IOV, IOVCNT) gets the bytes read, in order, as
 * pieces pointing into the cache and into BUF (COUNT bytes, used for the
 * rest), valid only until FN returns; the cached data stays as it is
 * until then (writes to it wait). FN is called once when the read
 * succeeds (with no pieces at the end of the file), never when it fails.
 * Returns the bytes read, or -errno. A FUSE server replies from FN with
 * fuse_reply_iov(): one copy of the data fewer. */
typedef void (*podfs_read_fn)(void *arg, const struct iovec *iov,
			      int iovcnt);
ssize_t podfs_pread_lend(podfs_volume *vol, podfs_file *file, void *buf,
			 size_t count, off_t off, podfs_read_fn fn, void *arg);
/* Writes everything or fails; on an O_APPEND file OFF is ignored and the
 * data goes at the end of the file. */
ssize_t podfs_pwrite(podfs_volume *vol, podfs_file *file, const void *buf,
		     size_t count, off_t off);
/* Returns once the server holds the data stably. */
int podfs_fsync(podfs_volume *vol, podfs_file *file, int datasync);
/* Reports any error a write to FILE met that was not yet reported (FUSE
 * flush, once per close(2) of a descriptor). */
int podfs_flush(podfs_volume *vol, podfs_file *file);
/* Flushes and frees FILE; returns a flush error, FILE is gone anyway. */
int podfs_release(podfs_volume *vol, podfs_file *file);
/* ---- Locks (both levels) ------------------------------------------------- */
/* Locks are held on the server, so they exclude other clients (other
 * mounts, other nodes) as well as other owners here. OWNER names the
 * holder: a process for POSIX locks (FUSE's lock_owner), an open file
 * for flock; owners of different volumes never meet.
 *
 * POSIX byte-range locks, fcntl(2)'s semantics: LK->l_type F_RDLCK,
 * F_WRLCK or F_UNLCK; l_whence SEEK_SET; l_start >= 0; l_len 0 means to
 * the end of the file, > 0 that many bytes (negative is refused). An
 * owner's locks merge and split as fcntl's do. podfs_getlk answers as
 * F_GETLK: l_type F_UNLCK when the lock could be had, else a conflicting
 * lock (l_pid 0 when its holder is on another client). */
int podfs_getlk(podfs_volume *vol, podfs_file *file, uint64_t owner,
		struct flock *lk);
/* How a lock call waits for another owner's lock to go: a NULL wait
 * does not (-EAGAIN on a conflict); otherwise until the lock is granted,
 * or until INTERRUPTED(ARG) returns non-zero (-EINTR). It is asked
 * before every pause; podfs_lock_cancel() makes waiters ask at once (a
 * FUSE server: fuse_req_interrupted() and fuse_req_interrupt_func()). */
struct podfs_lock_wait {
	int (*interrupted)(void *arg); /* NULL: wait until granted */
	void *arg;
};
/* Taking a lock revalidates the file (stale cached data is dropped);
 * unlocking sends what was written first: data guarded by a lock is
 * coherent across clients. */
int podfs_setlk(podfs_volume *vol, podfs_file *file, uint64_t owner,
		const struct flock *lk, const struct podfs_lock_wait *wait);
/* What a POSIX close does: drops all of OWNER's POSIX locks on FILE's
 * file (FUSE: flush with a lock owner). */
int podfs_unlock_owner(podfs_volume *vol, podfs_file *file, uint64_t owner);
/* BSD flock(2): OP LOCK_SH, LOCK_EX or LOCK_UN, with LOCK_NB not to
 * wait (-EAGAIN on a conflict), else waiting as WAIT says. The lock belongs to FILE (its owner) and
 * goes with it at the latest. On NFS and CephFS it is a whole-file lock
 * on the server, as the Linux NFS client emulates flock: it excludes
 * other clients' flock and POSIX locks alike. */
int podfs_flock(podfs_volume *vol, podfs_file *file, int op,
		const struct podfs_lock_wait *wait);
/* Which locks the volume holds on the server: PODFS_LOCKS_POSIX and
 * PODFS_LOCKS_FLOCK. The others (local_lock=, nolock, or a backend
 * without locks) are the caller's to keep on its own client: the calls
 * above refuse them with -ENOLCK. */
#define PODFS_LOCKS_POSIX (1 << 0)
#define PODFS_LOCKS_FLOCK (1 << 1)
int podfs_locks(podfs_volume *vol);
/* Makes the lock calls waiting on FILE's file ask their INTERRUPTED at
 * once (safe from any thread). */
void podfs_lock_cancel(podfs_volume *vol, podfs_file *file);

/* The inode number of an open file. */
uint64_t podfs_file_ino(const podfs_file *file);
/* 1 when what the caller cached of FILE's data before this open is still
 * valid (close-to-open found the file unchanged, or the volume reports
 * every change: podfs_coherent), 0 when it must be dropped. */
int podfs_file_keep_cache(const podfs_file *file);
/* 1 when FILE's data must not be cached at all (cache=none). */
int podfs_file_direct_io(const podfs_file *file);

/* ---- Path level (programs that link the library) ----------------------- */
/* Paths are relative to the volume's root ("/a/b" and "a/b" alike); a ".."
 * component is refused (-EINVAL) and symlinks are not followed: podfs_stat
 * is lstat(2), and podfs_open of a symlink fails with -ELOOP. */

int podfs_open(podfs_volume *vol, const char *path, int flags, mode_t mode,
	       podfs_file **file);
/* Same as podfs_release: */
int podfs_close(podfs_volume *vol, podfs_file *file);
int podfs_stat(podfs_volume *vol, const char *path, struct stat *st);
int podfs_mkdir(podfs_volume *vol, const char *path, mode_t mode);
int podfs_rmdir(podfs_volume *vol, const char *path);
int podfs_unlink(podfs_volume *vol, const char *path);
int podfs_rename(podfs_volume *vol, const char *from, const char *to);
int podfs_truncate(podfs_volume *vol, const char *path, off_t size);

struct podfs_dirent {
	char name[256];
	struct stat attr;
};
int podfs_opendir(podfs_volume *vol, const char *path, podfs_dir **dir);
/* 1 and the next entry, 0 at the end, or -errno. Skips "." and "..". */
int podfs_readdir(podfs_volume *vol, podfs_dir *dir, struct podfs_dirent *ent);
int podfs_closedir(podfs_volume *vol, podfs_dir *dir);

#ifdef __cplusplus
}
#endif

#endif /* PODFS_PODFS_H */
