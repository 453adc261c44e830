/*
 * The core's structs and the interfaces between its files (error.c,
 * inode.c, volume.c, dispatch.c, cache.c, ll.c, dir.c, file.c): what a
 * volume, an inode, an open file and a directory stream hold, and who
 * guards each field.
 */
#ifndef PODFS_CORE_H
#define PODFS_CORE_H

#include <pthread.h>
#include <stdatomic.h>
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
	/* cache_attr_since() of the newest reply stored, or of the last
	 * change of ours: a reply to a request sent before it is older than
	 * what we know, and is not stored */
	uint64_t gen;
	/* a directory's names are trusted until then (monotonic ns): our
	 * own changes to it keep them, since we update the names we change */
	uint64_t names_until;
	bool valid;
	/* changed by this client since they were read: the next attributes
	 * that differ show our change, not another client's (the Linux
	 * client's assumption when a reply carries no pre-op attributes) */
	bool own;
	/* another client changed the file since its data was last checked
	 * (at an open): what is cached of it must go at the next open */
	bool data_stale;
};

/* ---- the data cache (data.c) ------------------------------------------------ */

/* File data is cached in blocks of DBLOCK_SIZE bytes at multiples of it. */
#define DBLOCK_SHIFT 16
#define DBLOCK_SIZE (1U << DBLOCK_SHIFT)

/* One block of a file's data. Under its inode's lock, but for LRU, which
 * is the volume's data lock's. */
struct dblock {
	struct dblock *next; /* the inode's hash chain */
	TAILQ_ENTRY(dblock) lru; /* vol->data.lru, while clean and idle */
	struct podfs_inode *in;
	uint64_t index;	   /* its offset in the file >> DBLOCK_SHIFT */
	uint32_t vend;	   /* bytes [0, vend) hold the file's data */
	uint32_t dstart, dend; /* bytes written here, not yet sent; or 0, 0 */
	bool reading;	   /* a read from the server fills it: wait */
	bool on_lru;
	uint16_t lent;	   /* readers its data is lent to: it stays as it
			    * is (writers and fills wait) until they end */
	char *data;	   /* DBLOCK_SIZE bytes */
};

/* A volume's data cache: memory accounting, the LRU of clean blocks and
 * the write-back thread. Lock order: an inode's lock before this one;
 * the other way only with trylock (eviction). */
struct data_cache {
	bool on; /* cache=strict|loose over a backend that doesn't cache */
	pthread_mutex_t lock;
	pthread_cond_t room;	/* blocks or dirty bytes went, or I/O ended */
	pthread_cond_t kick;	/* the flusher has work */
	TAILQ_HEAD(, dblock) lru;
	uint64_t bytes, limit;	/* block memory and cache_size */
	uint64_t dirty, dirty_limit; /* bytes written, not yet sent */
	uint64_t io, io_limit;	/* bytes of reads and writes in flight */
	uint32_t run;		/* bytes one request carries: rsize/wsize
				 * times the connections it is cut over */
	/* free I/O buffers of RUN bytes, kept for the next request (a
	 * fresh one is a fresh mapping, faulted in page by page) */
	char **bufs;
	uint32_t nbufs, max_bufs;
	/* blocks gone, kept for new ones: bytes + spare_bytes <= limit */
	struct dblock *spare;
	uint64_t spare_bytes;
	pthread_t flusher;
	bool flusher_on, stop;
	/* counters (atomic) */
	uint64_t hits, misses, readahead, wb_errors;
};

struct podfs_inode {
	/* the table's, under vol->lock */
	uint64_t ino;
	uint64_t nlookup;	/* lookup references held by the caller */
	uint32_t users;		/* calls in flight, open files and dirs */
	struct podfs_bobj *obj; /* the backend's; NULL never while listed */
	struct podfs_inode *next_ino, *next_key; /* hash chains */
	/* on the table's idle list: no references when it went there (it
	 * may have some again: the list is only looked at to trim it) */
	TAILQ_ENTRY(podfs_inode) idle;
	bool on_idle;

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

	/* its data, under lock (data.c) */
	struct dblock **dblocks; /* hashed by index */
	uint32_t dbuckets, ndblocks;
	off_t dsize;		/* its size as this client sees it; -1: unknown */
	uint64_t ndirty;	/* bytes written, not sent (atomic reads too) */
	uint64_t dirty_at;	/* when the oldest of them was written (ns) */
	uint32_t io;		/* reads and writes in flight */
	uint32_t wb_io;		/* of which writes: the server is behind
				 * (atomic reads too) */
	uint32_t ra_due;	/* readers that replied and will read ahead
				 * through their file: its release waits */
	uint32_t wb_sent;	/* write-backs started so far */
	uint32_t data_gen;	/* changes of size or content that reads
				 * in flight may not show (truncate,
				 * invalidation) */
	int wb_err;		/* the last write-back error */
	uint32_t wb_seq;	/* write-back errors so far */
	pthread_cond_t dcond;	/* a read or a write-back ended */
	struct podfs_file *wfile; /* an open file to write back through */

	/* its locks, under lock (lock.c) */
	struct lock_hold *holds; /* owners that may hold locks on it */
	uint32_t unlocks;	 /* unlocks here so far: a waiter tries again */
	pthread_cond_t lkcond;	 /* an unlock here, or podfs_lock_cancel */
};

/* Inodes nobody holds that a volume keeps, with their cache (data blocks
 * stay within cache_size either way). */
#define IDLE_INODES 4096

struct inode_table {
	struct podfs_inode **by_ino, **by_key;
	size_t nbuckets; /* a power of two */
	size_t count;
	uint64_t next_ino;
	/* Inodes nobody holds, kept (least recently released first) with
	 * what is cached of them, so that the next open of the same file
	 * finds its attributes and data; at most idle_max. */
	TAILQ_HEAD(, podfs_inode) idle;
	size_t nidle, idle_max;
};

struct podfs_file {
	struct podfs_inode *inode;
	struct podfs_bfile *bf;
	int flags;
	bool keep_cache; /* what was cached before this open is still valid */
	bool direct_io;	 /* nothing of it may be cached (cache=none) */
	bool cached;	 /* its data goes through the data cache */
	bool closing;	 /* released: never to write back through (inode lock) */
	bool written;	 /* written through (atomic): flush commits */
	bool flocked;	 /* flock held (inode lock): released with it */
	uint32_t wb_seen; /* the inode's wb_seq reported to it (inode lock) */
	off_t ra_next;	 /* read-ahead: where a sequential read goes on */
	uint32_t ra_window; /* bytes read ahead of it, growing (inode lock) */
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
	uint64_t since; /* cache_attr_since() when the listing was asked */
	bool listed;	/* the listing came (at the first read) */
	LIST_ENTRY(podfs_dir) link; /* the volume's open dirs (vol->lock) */
};

/* The backend ops the dispatch layer counts (dispatch_op_names). */
enum dispatch_op {
	OP_LOOKUP, OP_GETATTR, OP_SETATTR, OP_READDIR, OP_MKDIR, OP_MKNOD,
	OP_SYMLINK, OP_CREATE, OP_LINK, OP_UNLINK, OP_RMDIR, OP_RENAME,
	OP_READLINK, OP_STATFS, OP_OPEN, OP_READ, OP_WRITE, OP_FSYNC,
	OP_CLOSE, OP_GETXATTR, OP_SETXATTR, OP_LISTXATTR, OP_REMOVEXATTR,
	OP_LOCK, DISPATCH_OP_COUNT
};
extern const char *const dispatch_op_names[DISPATCH_OP_COUNT];

/* What the core counts per volume; every field only grows. Atomic adds,
 * no lock: one cache line each would be faster, one struct is plainer. */
struct core_counters {
	uint64_t attr_hits, attr_misses;
	uint64_t entry_hits, entry_misses;
	uint64_t bytes_read, bytes_written; /* by the caller */
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
	atomic_bool shut_down; /* podfs_shutdown: no more waiting for ever */
	pthread_mutex_t be_lock; /* shutdown against detach */
	struct core_counters counters;
	struct data_cache data;
};

/* ---- errors (error.c) ----------------------------------------------------- */

/* A call begins: the message of an earlier call is no longer this one's. */
void error_begin(void);
/* RET, with a message "WHAT: strerror" when it is an error the callee
 * gave no message for. */
int error_ensure(struct podfs_volume *vol, int ret, const char *what);
/* This thread's message on VOL, copied (malloc), or NULL: to carry a
 * call's message from the backend thread that finished it ... */
char *error_copy(const struct podfs_volume *vol);
/* ... to the thread that waited for it. Takes no lock (VOL's message
 * has it already): fine under an inode's lock. */
void error_set_mine(struct podfs_volume *vol, const char *msg);
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
		   const struct stat *st, uint64_t since, uint32_t users,
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
/* A point in the order of attribute news, taken before a request is
 * sent: its reply may be stored only if nothing newer came since (as the
 * Linux client's attribute generation counter). */
uint64_t cache_attr_since(void);
/* The server said ST of IN in reply to a request sent at SINCE: 1 when
 * that differs from what was cached (or nothing was), 0 when not, and -1
 * (not stored) when the reply is older than the inode's last news. */
int cache_attr_set(struct podfs_volume *vol, struct podfs_inode *in,
		    const struct stat *st, uint64_t since);
/* The same for the reply to a change of ours that just ended (SETATTR):
 * replies to requests sent before it ended may show IN before it, so
 * they are refused from now on; if one was stored meanwhile, the
 * attributes are asked again. */
void cache_attr_set_changed(struct podfs_volume *vol, struct podfs_inode *in,
			    const struct stat *st, uint64_t since);
/* We changed IN in a way not yet seen (our own write, a new link): its
 * attributes are asked again, and the change they show is ours. */
void cache_attr_drop(struct podfs_inode *in);
/* The same, with IN's lock held. */
void cache_attr_drop_locked(struct podfs_inode *in);
/* Someone else changed IN (the backend said so): its attributes and a
 * directory's names go, and the next change seen is theirs. */
void cache_attr_foreign(struct podfs_inode *in);
/* Was IN changed by us since its attributes were last read? */
bool cache_attr_own(struct podfs_inode *in);
/* Did attributes read since the last call show another client's change
 * of the file (whatever read them: a lookup, a getattr)? Clears it. */
bool cache_attr_take_stale(struct podfs_inode *in);
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

/* ---- the data cache (data.c) ----------------------------------------------- */

/* Starts (attach) and stops (detach, after every file is closed) the
 * volume's data cache and its write-back thread. */
int data_start(struct podfs_volume *vol);
void data_stop(struct podfs_volume *vol);
void data_inode_init(struct podfs_inode *in);
/* Frees IN's blocks (nothing is in flight or dirty any more). */
void data_inode_free(struct podfs_volume *vol, struct podfs_inode *in);
/* pread/pwrite through the cache (F->cached). data_read reads into BUF;
 * or, with FN, lends what the cache holds to FN(ARG, ...) (BUF only for
 * the rest), as podfs_pread_lend. */
ssize_t data_read(struct podfs_volume *vol, struct podfs_file *f, char *buf,
		  size_t count, off_t off, podfs_read_fn fn, void *arg);
ssize_t data_write(struct podfs_volume *vol, struct podfs_file *f,
		   const char *buf, size_t count, off_t off);
/* Sends what is written to IN and waits for it (and for reads in
 * flight); then the first write-back error F has not yet been told of. */
int data_flush(struct podfs_volume *vol, struct podfs_inode *in,
	       struct podfs_file *f);
/* F closes: flushed, and no longer used to write back. */
int data_release(struct podfs_volume *vol, struct podfs_file *f);
/* Drops IN's clean cached data (someone else changed the file). */
void data_invalidate(struct podfs_volume *vol, struct podfs_inode *in);
/* The server said IN's size is SIZE (its attributes). */
void data_server_size(struct podfs_inode *in, off_t size);
/* IN was truncated (or extended) to SIZE here: its size now, whatever
 * reads in flight were sent before. */
void data_set_size(struct podfs_inode *in, off_t size);
/* ST (IN's, as the server said) with the size this client sees: what it
 * wrote and did not send yet counts. */
void data_patch_size(struct podfs_inode *in, struct stat *st);
/* IN's size is not known any more (written around the cache). */
void data_forget_size(struct podfs_inode *in);
/* Is anything written to IN not yet sent? */
bool data_dirty(struct podfs_inode *in);
/* Is anything written to IN not yet the server's: not sent, or sent and
 * not answered (the flusher's write-back)? What must land before a
 * truncate, an unlock or a GETATTR goes. */
bool data_unsettled(struct podfs_inode *in);
/* TS := NS nanoseconds from now, on CLOCK_REALTIME (the inodes'
 * condition variables' clock). */
void deadline_in(struct timespec *ts, uint64_t ns);

/* ---- locks (lock.c) ------------------------------------------------------------- */
void lock_inode_init(struct podfs_inode *in);
void lock_inode_free(struct podfs_inode *in);
/* F closes: its flock and the locks taken through it go first. */
int lock_release(struct podfs_volume *vol, struct podfs_file *f);

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
/* The directory IN was last seen in (a user reference, inode_put it),
 * its NAME there; NULL when none is known. */
struct podfs_inode *dispatch_name_of(struct podfs_volume *vol,
				     struct podfs_inode *in, char name[256]);
/* Close-to-open by name: does the name IN was last found under still
 * name it? 0 (its attributes refreshed; CHANGED: they moved), -ESTALE
 * when the name names another object now or nothing (the name is
 * forgotten: a new lookup asks the server), 1 when no name is known. */
int dispatch_revalidate_name(struct podfs_volume *vol, struct podfs_inode *in,
			     bool *changed);
/* DIR (or NULL) and NAME: where IN was last seen, for a backend that
 * opens by name (bf->by_name then says it found IN there). */
int dispatch_open(struct podfs_volume *vol, struct podfs_inode *in, int flags,
		  struct podfs_inode *dir, const char *name,
		  struct podfs_bfile **bf);
ssize_t dispatch_read(struct podfs_volume *vol, struct podfs_file *f,
		      void *buf, size_t count, off_t off);
ssize_t dispatch_write(struct podfs_volume *vol, struct podfs_file *f,
		       const void *buf, size_t count, off_t off);
int dispatch_read_async(struct podfs_volume *vol, struct podfs_file *f,
			const struct iovec *iov, int iovcnt, off_t off,
			podfs_bio_done done, void *arg);
int dispatch_write_async(struct podfs_volume *vol, struct podfs_file *f,
			 const void *buf, size_t count, off_t off,
			 podfs_bio_done done, void *arg);
int dispatch_fsync(struct podfs_volume *vol, struct podfs_file *f,
		   int datasync);
int dispatch_close(struct podfs_volume *vol, struct podfs_inode *in,
		   struct podfs_bfile *bf);
int dispatch_lock(struct podfs_volume *vol, struct podfs_file *f,
		  uint64_t owner, int cmd, struct flock *lk);
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
