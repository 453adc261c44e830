/*
 * The core's structs and the interfaces between its files (error.c,
 * inode.c, volume.c, dispatch.c, cache.c, ll.c, dir.c, file.c): what a
 * volume, an inode, an open file and a directory stream hold, and who
 * guards each field.
 */
#ifndef PODFS_CORE_H
#define PODFS_CORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "backend.h"
#include "podfs-private.h"

#define MSG_LEN 512

/* ---- the attribute and entry cache of one inode (cache.c) ---------------- */

/* A cached name in a directory: positive (KEY of the object it names) or
 * negative (no such name). It answers lookups while the directory's
 * attributes are fresh and unchanged since it was seen (GEN is the
 * directory's dentry_gen then); an older one still tells the core what
 * the name last named (which object an unlink takes a link from). */
struct cache_dentry {
	struct cache_dentry *next;
	uint64_t key; /* 0: negative */
	uint32_t gen;
	char name[];
};

struct cache_attr {
	struct stat st;	   /* as the server said, before present_attr */
	uint64_t read_at;  /* monotonic ns the server said it */
	uint64_t timeo;	   /* ns they are trusted after read_at */
	uint64_t timeo_at; /* when timeo last grew or shrank */
	bool valid;
};

struct podfs_inode {
	/* the table's, under vol->lock */
	uint64_t ino;
	uint64_t nlookup;	/* lookup references held by the caller */
	uint32_t users;		/* calls in flight, open files and dirs */
	struct podfs_bobj *obj; /* the backend's; NULL never while listed */
	struct podfs_inode *next_ino, *next_key; /* hash chains */

	/* the cache's, under lock */
	pthread_mutex_t lock;
	struct cache_attr attr;
	struct cache_dentry **dentries; /* a directory's names, hashed */
	uint32_t ndentries, dentry_buckets;
	uint32_t dentry_gen; /* moves when the directory changed elsewhere */
	/* a name it was last found under: directory PARENT (an inode
	 * number, 0: none known), NAME; close-to-open checks it at open */
	uint64_t parent;
	char *name;
};

struct inode_table {
	struct podfs_inode **by_ino, **by_key;
	size_t nbuckets; /* a power of two */
	size_t count;
	uint64_t next_ino;
};

struct podfs_file {
	struct podfs_inode *inode;
	struct podfs_bfile *bf;
	int flags;
	bool keep_cache; /* what was cached before this open is still valid */
	bool direct_io;	 /* nothing of it may be cached (cache=none) */
	int error; /* a write error not yet reported by flush/fsync (vol->lock) */
	LIST_ENTRY(podfs_file) link; /* the volume's open files (vol->lock) */
};

struct dir_entry {
	char *name;
	struct stat st;
	struct podfs_bobj *obj; /* reference for PLUS, NULL once used */
};

struct podfs_dir {
	struct podfs_inode *inode;
	struct dir_entry *ents; /* [0] ".", [1] "..", then the directory */
	size_t count, cap;
	size_t pos; /* path-level podfs_readdir */
	LIST_ENTRY(podfs_dir) link; /* the volume's open dirs (vol->lock) */
};

/* The backend ops the dispatch layer counts (dispatch_op_names). */
enum dispatch_op {
	OP_LOOKUP, OP_GETATTR, OP_SETATTR, OP_READDIR, OP_MKDIR, OP_MKNOD,
	OP_SYMLINK, OP_CREATE, OP_LINK, OP_UNLINK, OP_RMDIR, OP_RENAME,
	OP_READLINK, OP_STATFS, OP_OPEN, OP_READ, OP_WRITE, OP_FSYNC,
	OP_CLOSE, OP_GETXATTR, OP_SETXATTR, OP_LISTXATTR, OP_REMOVEXATTR,
	DISPATCH_OP_COUNT
};
extern const char *const dispatch_op_names[DISPATCH_OP_COUNT];

/* What the core counts per volume; every field only grows. Atomic adds,
 * no lock: one cache line each would be faster, one struct is plainer. */
struct core_counters {
	uint64_t attr_hits, attr_misses;
	uint64_t entry_hits, entry_misses;
	uint64_t bytes_read, bytes_written;
	struct {
		uint64_t count, errors, usec;
	} ops[DISPATCH_OP_COUNT];
};

struct podfs_volume {
	pthread_mutex_t lock; /* table, files, dirs, msg */
	struct podfs_config cfg;
	char *secret;
	struct podfs_backend *be;
	const struct podfs_backend_ops *ops;
	struct inode_table table;
	LIST_HEAD(, podfs_file) files;
	LIST_HEAD(, podfs_dir) dirs;
	char msg[MSG_LEN];
	podfs_invalidate_fn inval_fn;
	void *inval_arg;
	bool inval_on; /* the table is there to map keys (under lock) */
	struct core_counters counters;
};

/* ---- errors (error.c) ----------------------------------------------------- */

/* A call begins: the message of an earlier call is no longer this one's. */
void error_begin(void);
/* RET, with a message "WHAT: strerror" when it is an error the callee
 * gave no message for. */
int error_ensure(struct podfs_volume *vol, int ret, const char *what);
void error_forget_volume(const struct podfs_volume *vol);

/* ---- the inode table (inode.c) --------------------------------------------- */

int table_init(struct inode_table *t);
/* Adds IN (ino and obj set) to the table; under vol->lock. */
void table_add(struct inode_table *t, struct podfs_inode *in);
struct podfs_inode *table_find_key(struct inode_table *t, uint64_t key);
struct podfs_inode *table_find_ino(struct inode_table *t, uint64_t ino);
/* Frees every inode and the table, putting each object back. */
void table_free(struct podfs_volume *vol);

struct podfs_inode *inode_new(struct podfs_volume *vol,
			      struct podfs_bobj *obj);
/* Takes a user reference on INO for the length of a call (and starts it:
 * error_begin). */
int inode_get(struct podfs_volume *vol, uint64_t ino,
	      struct podfs_inode **out);
void inode_put(struct podfs_volume *vol, struct podfs_inode *in);
/* Drops USERS user and NLOOKUP lookup references; the inode and its
 * backend object go once both are zero. */
void inode_release(struct podfs_volume *vol, struct podfs_inode *in,
		   uint32_t users, uint64_t nlookup);
/* Turns a new backend reference into a lookup reference on an inode (the
 * one with OBJ's key, or a new one) and caches ST there; takes OBJ over.
 * With USERS, also takes user references (an open file). */
int inode_from_obj(struct podfs_volume *vol, struct podfs_bobj *obj,
		   const struct stat *st, uint32_t users,
		   struct podfs_entry *out, struct podfs_inode **inp);
/* One more lookup reference on the inode with KEY, if the table has it. */
struct podfs_inode *inode_ref_key(struct podfs_volume *vol, uint64_t key);
/* The uid, gid and mode bits the volume presents (uid=, gid=, umask=). */
void present_attr(const struct podfs_volume *vol, struct stat *st);
/* OUT from IN and its attributes ST (as the server said them). */
void entry_fill(struct podfs_volume *vol, struct podfs_inode *in,
		const struct stat *st, struct podfs_entry *out);

/* ---- inode-level calls, open files (ll.c, file.c) ------------------------------ */

/* -EROFS (with a message) on a read-only volume. */
int check_writable(struct podfs_volume *vol);
/* A new open file of IN (its user reference goes to the file), listed
 * in the volume; NULL when out of memory. */
struct podfs_file *file_new(struct podfs_volume *vol, struct podfs_inode *in,
			    struct podfs_bfile *bf, int flags, bool keep_cache);

/* The name IN was found under: NAME in directory PARENT. */
void inode_set_name(struct podfs_inode *in, uint64_t parent, const char *name);
/* IN lost the name NAME in PARENT, if that is the one it keeps. */
void inode_drop_name(struct podfs_inode *in, uint64_t parent, const char *name);
/* The name IN keeps, into NAME (256 bytes): its directory, or 0. */
uint64_t inode_name(struct podfs_inode *in, char *name);

/* ---- the cache (cache.c) ----------------------------------------------------- */

void cache_inode_init(struct podfs_inode *in);
void cache_inode_free(struct podfs_inode *in);

/* IN's attributes if they are fresh (a hit), else false (a miss). */
bool cache_attr_get(struct podfs_volume *vol, struct podfs_inode *in,
		    struct stat *st);
/* The server said ST of IN just now; true when that differs from what
 * was cached (or nothing was). */
bool cache_attr_set(struct podfs_volume *vol, struct podfs_inode *in,
		    const struct stat *st);
/* IN changed in a way not yet seen (our own write, a new link). */
void cache_attr_drop(struct podfs_inode *in);
/* Seconds the attributes IN holds stay fresh, from now. */
double cache_attr_ttl(struct podfs_volume *vol, struct podfs_inode *in);

/* Looks NAME up in DIR's cached names: 1 and KEY (0: a cached "no such
 * name"), or 0 when the cache can't tell. DIR's attributes must be
 * fresh (the caller revalidates them first). */
int cache_dentry_get(struct podfs_volume *vol, struct podfs_inode *dir,
		     const char *name, uint64_t *key);
/* The same, not counted as a hit or miss, and whether or not DIR's
 * attributes are fresh (the core's own look, to find what NAME named). */
int cache_dentry_peek(struct podfs_volume *vol, struct podfs_inode *dir,
		      const char *name, uint64_t *key);
/* NAME in DIR names KEY (0: nothing), as of DIR's cached attributes. */
void cache_dentry_set(struct podfs_volume *vol, struct podfs_inode *dir,
		      const char *name, uint64_t key);
void cache_dentry_drop(struct podfs_inode *dir, const char *name);
void cache_dentry_drop_all(struct podfs_inode *dir);
/* Seconds a name found in DIR, naming an object of MODE, stays trusted
 * from now. */
double cache_dentry_ttl(struct podfs_volume *vol, struct podfs_inode *dir,
			mode_t mode);

/* ---- dispatch (dispatch.c) ---------------------------------------------------
 * One function per backend op: each answers -ENOTSUP for an op the
 * backend lacks, counts it, gives every error a message, and consults and
 * feeds the cache. Attributes come back as the server said them (callers
 * apply present_attr). Inodes passed in carry a user reference. */

enum make_kind { MAKE_DIR, MAKE_NOD, MAKE_SYMLINK };

int dispatch_lookup(struct podfs_volume *vol, struct podfs_inode *dir,
		    const char *name, struct podfs_entry *out);
int dispatch_lookup_path(struct podfs_volume *vol, struct podfs_inode *dir,
			 const char *path, struct podfs_entry *out);
/* From the cache when fresh, unless FORCE; CHANGED (may be NULL): the
 * server's answer differs from what was cached. */
int dispatch_getattr(struct podfs_volume *vol, struct podfs_inode *in,
		     struct podfs_bfile *bf, bool force, struct stat *st,
		     bool *changed);
int dispatch_setattr(struct podfs_volume *vol, struct podfs_inode *in,
		     struct podfs_bfile *bf, const struct stat *attr,
		     int to_set, struct stat *out);
int dispatch_readdir(struct podfs_volume *vol, struct podfs_inode *dir,
		     podfs_bdirent_cb cb, void *arg);
int dispatch_make(struct podfs_volume *vol, enum make_kind kind,
		  struct podfs_inode *dir, const char *name, mode_t mode,
		  dev_t rdev, const char *target, const struct podfs_cred *cred,
		  struct podfs_entry *out);
int dispatch_create(struct podfs_volume *vol, struct podfs_inode *dir,
		    const char *name, mode_t mode, int flags,
		    const struct podfs_cred *cred, struct podfs_entry *out,
		    struct podfs_inode **in, struct podfs_bfile **bf);
int dispatch_link(struct podfs_volume *vol, struct podfs_inode *in,
		  struct podfs_inode *newdir, const char *newname,
		  struct podfs_entry *out);
int dispatch_remove(struct podfs_volume *vol, struct podfs_inode *dir,
		    const char *name, bool is_dir);
int dispatch_rename(struct podfs_volume *vol, struct podfs_inode *dir,
		    const char *name, struct podfs_inode *newdir,
		    const char *newname, unsigned flags);
ssize_t dispatch_readlink(struct podfs_volume *vol, struct podfs_inode *in,
			  char *buf, size_t size);
int dispatch_statfs(struct podfs_volume *vol, struct podfs_inode *in,
		    struct statvfs *st);
/* Close-to-open by name: does the name IN was last found under still
 * name it? 0 (its attributes refreshed; CHANGED: they moved), -ESTALE
 * when the name names another object now or nothing (the name is
 * forgotten: a new lookup asks the server), 1 when no name is known. */
int dispatch_revalidate_name(struct podfs_volume *vol, struct podfs_inode *in,
			     bool *changed);
int dispatch_open(struct podfs_volume *vol, struct podfs_inode *in, int flags,
		  struct podfs_bfile **bf);
ssize_t dispatch_read(struct podfs_volume *vol, struct podfs_file *f,
		      void *buf, size_t count, off_t off);
ssize_t dispatch_write(struct podfs_volume *vol, struct podfs_file *f,
		       const void *buf, size_t count, off_t off);
int dispatch_read_async(struct podfs_volume *vol, struct podfs_file *f,
			void *buf, size_t count, off_t off,
			podfs_bio_done done, void *arg);
int dispatch_write_async(struct podfs_volume *vol, struct podfs_file *f,
			 const void *buf, size_t count, off_t off,
			 podfs_bio_done done, void *arg);
int dispatch_fsync(struct podfs_volume *vol, struct podfs_file *f,
		   int datasync);
int dispatch_close(struct podfs_volume *vol, struct podfs_inode *in,
		   struct podfs_bfile *bf);
ssize_t dispatch_getxattr(struct podfs_volume *vol, struct podfs_inode *in,
			  const char *name, void *value, size_t size);
int dispatch_setxattr(struct podfs_volume *vol, struct podfs_inode *in,
		      const char *name, const void *value, size_t size,
		      int flags);
ssize_t dispatch_listxattr(struct podfs_volume *vol, struct podfs_inode *in,
			   char *list, size_t size);
int dispatch_removexattr(struct podfs_volume *vol, struct podfs_inode *in,
			 const char *name);

#endif /* PODFS_CORE_H */
