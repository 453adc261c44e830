/*
 * What the files of the NFS backend share: the backend's own structs, the
 * RPC engine (rpc.c), the NFSv3 (v3.c) and NFSv4 (v4.c, state4.c) ops, and
 * what works around libnfs 4.0 (libnfs40.c). libnfs is only our RPC
 * transport and XDR codec; objects are the server's file handles.
 */
#ifndef PODFS_NFS_INTERNAL_H
#define PODFS_NFS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "backend.h"
#include "podfs-private.h"

/* What a server reports for rsize/wsize is capped at PODFS_MAX_IOSIZE:
 * libnfs refuses an incoming record larger than 1 MiB + 4 KiB
 * (NFS_MAX_XFER_SIZE). */
#define NFS_MIN_IO 4096

/* Between attempts to reach a server that is away, or that asked us to
 * come back later: doubling from the first to the most. */
#define NFS_BACKOFF_MIN_MS 100
#define NFS_BACKOFF_MAX_MS 2000

/* A server's file handle: NFSv3 64 bytes at most, NFSv4 128. */
struct nfs_fh {
	uint32_t len;
	unsigned char data[NFS4_FHSIZE];
};

/* What a failed attempt says about what to do next. */
enum nfs_fault {
	FAULT_NONE,  /* an answer: success, or an error to return */
	FAULT_DELAY, /* the server asks to come back later (grace, jukebox) */
	FAULT_LOST,  /* no answer: the connection broke or the call timed out */
	FAULT_STATE, /* NFSv4: the server forgot our client (restart, lease) */
};

struct nfs_be;
struct nfs_io;
struct nfs_aio;
struct nfs_ioset;
struct nfs4_open;

/* An open by the name DIR/NAME: FOUND when the OPEN found the object
 * there, with attributes ST. */
struct nfs_open_by {
	const struct nfs_fh *dir;
	const char *name;
	bool found;
	struct stat st;
};

/* A file system object: the server's handle, plus one name it was seen
 * under (NFSv4.0 OPENs by name; NFSv3 renames an open file away rather
 * than remove it). */
struct nfs_obj {
	struct podfs_bobj b; /* key: nfs_key() of handle and fileid */
	atomic_int refs;
	struct nfs_fh fh;
	mode_t type; /* S_IFREG ... */

	/* Protected by nb->names. */
	struct nfs_fh hint_dir; /* len 0: no name known */
	char *hint_name;
	struct nfs_obj *open_prev, *open_next; /* nb->opened, while open */
	int opens;
	char *silly; /* NFSv3: renamed to this in hint_dir while open */

	/* NFSv4 open state; protected by lock, held across its OPEN and
	 * CLOSE calls. */
	pthread_mutex_t lock;
	struct nfs4_open *open;
	/* The stateid READ, WRITE and SETATTR carry (zeros: the anonymous
	 * one): read as a call is sent, so only under sid_lock, which is
	 * taken last of all locks. */
	pthread_mutex_t sid_lock;
	stateid4 sid;

	pthread_mutex_t alock; /* O_APPEND writes of this mount, one by one */

	/* lock states of its open that a server restart lost: its I/O
	 * fails (EIO) until their owners unlock or the file closes */
	atomic_int locks_lost;
	/* lock owners holding ranges of it (state4.c): while the lease is
	 * in doubt, its writes are not sent (nfs_fenced) */
	atomic_int held;

	/* Data written UNSTABLE, not yet committed (commit.c): sent again
	 * if the server answers COMMIT with another verifier (it
	 * restarted). Protected by wlock. */
	pthread_mutex_t wlock;
	struct nfs_chunk *dirty, *dirty_tail;
	size_t dirty_bytes;
	char verf[8];
	bool verf_known;
	bool verf_changed; /* a later WRITE answered another verifier */
};

/* A piece of memory uncommitted writes are copied into, records packed
 * one after another; kept in the volume's pool once committed, so a
 * stream of writes does not fault in new memory for every one. */
#define NFS_CHUNK_SIZE (PODFS_MAX_IOSIZE + 64)
struct nfs_chunk {
	struct nfs_chunk *next;
	size_t used;
	char data[NFS_CHUNK_SIZE];
};

/* An open file. */
struct nfs_file {
	struct podfs_bfile f;
	int flags; /* open(2)'s */
	/* NFSv3: holds an NFSv4 open of its object, for locks */
	atomic_bool v4_open;
};

/* One TCP connection to the server, with a thread that services it. */
struct nfs_conn {
	struct nfs_be *nb;
	int idx;
	pthread_mutex_t lock; /* everything below, and every use of rpc */
	pthread_cond_t changed; /* up, or a slot free */
	struct rpc_context *rpc; /* NULL while down */
	bool broken;		 /* the thread must build it anew */
	int64_t fenced_for;	 /* the lease it was last dropped for */
	bool abort;		 /* dropped so: its unsent data discarded */
	unsigned int gen;	 /* connections made so far */
	int inflight;		 /* calls sent, not answered */
	/*
	 * Who reads the socket: a caller waiting for its answer does (the
	 * leader; the other waiters sleep, in a queue), so that a lone
	 * caller is woken by the socket itself, not by a thread between
	 * them; the thread reads only for calls nobody waits for (async).
	 */
	bool led;		 /* a waiting caller is the leader */
	bool leader_servicing;	 /* ... and is in rpc_service now */
	bool thread_turn;	 /* the thread is at the socket */
	struct nfs_call *waiting; /* callers waiting, not leading (FIFO) */
	int efd;		 /* eventfd: wakes the thread out of poll */
	int lfd;		 /* eventfd: wakes the leader out of poll */
	pthread_t thread;
	bool thread_started;
	char why[256]; /* why it is down */
};

struct nfs_call;
/* Queues the call on RPC (the connection's lock held): libnfs' *_async
 * status (0 queued, < 0 not sent). CB and the call go as the callback. */
typedef int (*nfs_send_fn)(struct nfs_call *k, struct rpc_context *rpc,
			   rpc_cb cb);
/* The reply arrived (RES is libnfs' decoded result, valid only in this
 * call): sets k->err (and k->fault) and copies out what the op needs.
 * Runs on the connection's thread with its lock held: no RPC from here. */
typedef void (*nfs_reply_fn)(struct nfs_call *k, void *res);

/*
 * One operation's RPC. The op fills the first part and calls nfs_run()
 * (which retries as the mount's rules say) or nfs_submit() + nfs_wait().
 */
struct nfs_call {
	nfs_send_fn send;
	nfs_reply_fn reply;
	void *op;			/* the op's own arguments and results */
	const char *what;		/* for messages: "lookup", "write" ... */
	const struct podfs_cred *cred;	/* NULL: the mount's identity */
	struct nfs_conn *conn;		/* NULL: any connection */
	/* A WRITE of this object: not sent again once its locks may be
	 * another client's (nfs_fenced). */
	struct nfs_obj *fence;
	/* Called on the connection's thread once the call is answered (or
	 * failed), after reply; NULL for a waiting caller. */
	void (*complete)(struct nfs_call *k);
	/* NFSv4: the server refused the stateid the call carried (or forgot
	 * our client): sets up what the next attempt carries. NULL: the
	 * client is set up again, unless no_state. */
	int (*recover)(struct nfs_be *nb, struct nfs_call *k);
	bool no_state; /* a state error is an answer, not a fault */
	bool nowait;   /* nfs_submit: not sent (-EAGAIN) unless a connection
			* is up with a free slot now */

	/* Set by the engine and reply. */
	int err;		/* 0 or -errno */
	uint32_t status;	/* the server's NFS status, when it answered */
	enum nfs_fault fault;
	unsigned int gen;	/* of the connection it went on */
	unsigned int state_gen;	/* NFSv4 client it was sent under */
	int retries;		/* sent again after a fault */
	bool done;
	bool leading;		/* its caller reads the socket */
	struct nfs_call *wnext;	/* in conn->waiting */
	pthread_cond_t *cv;	/* a waiting caller's */
	char msg[200];
};

/* The NFSv4 client: one per volume (state4.c). */
struct nfs4_client {
	pthread_mutex_t lock;	  /* recovery; everything below */
	_Atomic uint64_t clientid;
	verifier4 verifier;	  /* ours, per SETCLIENTID */
	char name[64];		  /* "podfs-UUID": unique per volume */
	atomic_uint gen;	  /* client ids had: 0 none yet */
	uint32_t lease_s;
	pthread_t renewer;
	bool renewer_started;
	pthread_cond_t stop;	  /* and wakes the renewer to reclaim */
	bool reclaim;		  /* set up again: locks to reclaim */

	pthread_mutex_t owners_lock; /* the free list */
	struct nfs4_owner *free_owners;
	atomic_uint next_owner;
};

/* An NFSv4 open owner: used by one object's open state at a time, and
 * back on the free list after CLOSE, confirmed, for the next. */
struct nfs4_owner {
	struct nfs4_owner *next;
	uint32_t id;
	char name[24];	/* the open_owner4's bytes: "podfs-owner-ID" */
	uint32_t seqid;
	unsigned int client_gen; /* the client it is known to */
	bool confirmed;
};

/* An object's NFSv4 open state: the files open on it share it; its
 * stateid is the object's sid. */
/* An NFSv4 lock state: one lock owner of the core's on one object. As
 * the Linux client does, each gets its own lock_owner4, so that no two
 * files share a seqid sequence (and one denied LOCK holds up nothing
 * else). Under the object's lock. */
struct nfs4_lock {
	struct nfs4_lock *next;
	uint64_t owner;		 /* the core's */
	char name[32];		 /* the lock_owner4's bytes: "podfs-lock-ID" */
	uint32_t seqid;
	bool has_sid;		 /* a LOCK was granted: sid is its stateid */
	stateid4 sid;
	unsigned int client_gen; /* of the client it is known to */
	/* what it holds, POSIX-merged, to reclaim after a server restart */
	struct nfs4_range *ranges;
	uint32_t nranges;
	bool lost;		 /* held before a restart, not reclaimed */
};

/* A byte range a lock owner holds: [start, end), end UINT64_MAX for "to
 * the end of the file". */
struct nfs4_range {
	uint64_t start, end;
	bool write;
};

struct nfs4_open {
	struct nfs4_lock *locks;
	struct nfs4_owner *owner;
	uint32_t access;	 /* OPEN4_SHARE_ACCESS_* held */
	int count;		 /* files */
	unsigned int client_gen; /* of the client it was opened under */
	bool anonymous;		 /* no open could be had: stateid 0 */
};

struct nfs_be {
	struct podfs_backend be;
	char *prefix; /* "nfs://server/path", for messages */
	char *server;
	char *export;
	int vers;
	int port;	   /* the NFS port; 0: portmapper (v3), 2049 (v4) */
	int mountport;	   /* v3 MOUNT port; 0: portmapper */
	bool soft;
	int timeout_ms;	   /* timeo * (retrans + 1): a soft call's bound */
	int slots;	   /* per connection */
	uint32_t rsize, wsize;
	uint32_t namemax;
	uid_t uid;
	gid_t gid;
	atomic_bool closing;
	/* Until attach has ended, every call is bounded as on a soft mount:
	 * a server that does not answer fails the mount. */
	atomic_bool attached;
	/* Shut down (podfs_shutdown, detach): a hard mount's calls give up
	 * as a soft one's would, by GIVEUP_AT at the latest. */
	atomic_bool giving_up;
	struct timespec giveup_at;
	/*
	 * The lease fence. A lease that ran out (no prompt RENEW for a whole
	 * lease, as when the network is cut) may have let another client
	 * take our locks: connections with calls in flight are dropped, so
	 * that none of those calls reaches the server later (when the link
	 * heals), and until the server has said whether it kept our state
	 * (lease_doubt), writes of objects with locks fail with EIO rather
	 * than go out. See state4.c's renewer.
	 */
	atomic_int locks_held;	     /* lock owners holding ranges */
	_Atomic int64_t renewed_ms;  /* when the lease was last renewed */
	_Atomic int64_t fenced_for;  /* the renewed_ms a fence ran out */
	atomic_bool lease_doubt;
	atomic_uint fence_gen;	     /* the client's gen at the fence */

	int nconn;
	struct nfs_conn *conns;
	atomic_uint next_conn;
	atomic_uint silly_seq;

	struct nfs_obj *root;

	pthread_mutex_t names; /* hints, opens, silly names */
	struct nfs_obj *opened;

	/* Asynchronous reads and writes whose pieces are all answered,
	 * finished by a thread of their own (aio.c). */
	pthread_mutex_t aio_lock;
	pthread_cond_t aio_cv;
	struct nfs_aio *aio_queue;
	pthread_t aio_thread;
	bool aio_started, aio_stop;

	pthread_mutex_t pool_lock; /* the free chunks */
	struct nfs_chunk *pool;
	size_t pool_count, pool_max;
	/* uncommitted data of all files, and the most kept (commit.c) */
	atomic_size_t unstable_bytes;
	size_t unstable_max;

	struct nfs4_client client;
	/* NFSv3: locks go through an NFSv4 client on the same connections,
	 * set up at the first lock */
	pthread_mutex_t v4_start;
	bool v4_started;

	/* Counters, for tests and podfs-bench (podfs_stats). */
	atomic_ulong n_calls, n_read, n_write, n_commit, n_read_bytes,
		n_write_bytes, n_resent, max_read, max_write;
	atomic_uint max_in_flight;
};

#define NB(p) container_of(p, struct nfs_be, be)
#define OBJ(p) container_of(p, struct nfs_obj, b)
#define NFILE(p) container_of(p, struct nfs_file, f)

/* ---- errors (main.c) ---------------------------------------------------- */
int nfs_fail(struct nfs_be *nb, int err, const char *fmt, ...)
	PODFS_PRINTF(3, 4);
/* K failed: records its message for the volume, returns k->err. */
int nfs_call_fail(struct nfs_be *nb, struct nfs_call *k, const char *name);
/* An NFS3ERR_x or NFS4ERR_x status (one numbering below 10000) as
 * -errno. */
int nfs_status_errno(uint32_t status);
/* Sets K's error from the server's STATUS for OP. */
void nfs_call_status(struct nfs_call *k, int vers, const char *op,
		     uint32_t status);

/* The core's key for an object: its fileid alone would merge a file
 * with a new one that reuses its number (a local file system reuses inode
 * numbers at once), whose handle differs; the handle alone is what tells
 * objects apart, so both go in (as the Linux client's nfs_find_actor
 * compares fileid and handle). */
uint64_t nfs_key(const struct nfs_fh *fh, uint64_t fileid);

/* ---- objects (main.c) --------------------------------------------------- */
struct nfs_obj *nfs_obj_new(struct nfs_be *nb, const void *fh, uint32_t len,
			    uint64_t fileid, mode_t type);
void nfs_obj_put(struct nfs_be *nb, struct nfs_obj *o);
bool nfs_fh_eq(const struct nfs_fh *a, const struct nfs_fh *b);
/* Forgets DIR/NAME as O's name, if it is the one O has. */
void nfs_obj_unhint(struct nfs_be *nb, struct nfs_obj *o,
		    const struct nfs_fh *dir, const char *name);
/* Remembers DIR/NAME as a name of O. */
void nfs_obj_hint(struct nfs_be *nb, struct nfs_obj *o,
		  const struct nfs_fh *dir, const char *name);

/* ---- uncommitted data and COMMIT (commit.c) ---------------------------- */
/* Sizes what the volume keeps uncommitted by its CACHE_SIZE. */
void nfs_unstable_init(struct nfs_be *nb, unsigned long long cache_size);
/* Keeps what IO wrote UNSTABLE until a COMMIT, with its verifier. */
int nfs_unstable_keep(struct nfs_be *nb, struct nfs_obj *o,
		      const struct nfs_io *io);
/* Whether the volume holds more uncommitted data than it should wait
 * with, and O some of it: O's write then commits. */
bool nfs_unstable_full(struct nfs_be *nb, struct nfs_obj *o);
/* Makes O's data stable: COMMIT, and what the server may have lost in a
 * restart (another verifier) sent again. 0 or -errno. */
int nfs_commit(struct nfs_be *nb, struct nfs_obj *o);
/* O is going: its uncommitted data too (a close that failed). */
void nfs_unstable_drop(struct nfs_be *nb, struct nfs_obj *o);
void nfs_pool_free(struct nfs_be *nb);
/* ---- reads and writes in pieces (main.c, aio.c) ---------------------------- */
/* How many pieces COUNT bytes go out in, and how large (*PIECE). */
size_t nfs_io_pieces(struct nfs_be *nb, size_t count, bool write,
		     uint32_t *piece);
/* Cuts COUNT bytes at BUF (or, BUF NULL, read into IOV), file offset
 * OFF, into the N pieces IO[] of PIECE bytes (the last one shorter). */
void nfs_io_cut(struct nfs_io *io, size_t n, struct nfs_obj *o, char *buf,
		const struct iovec *iov, off_t off, size_t count,
		uint32_t piece, bool stable);
/* The N bytes at DATA a READ answered go where IO reads into. */
void nfs_io_take(struct nfs_io *io, const char *data, uint32_t n);
/* Sends the N pieces IO[] of SET, each on the next connection; SET's
 * last follows. Unless ASYNC, a lone piece is left for nfs_io_retry. */
void nfs_io_send(struct nfs_be *nb, struct nfs_ioset *set, struct nfs_io *io,
		 size_t n, bool write, bool async);
void nfs_ioset_put(struct nfs_ioset *set);
/* Sends again, and waits for, the pieces not answered or worth another
 * attempt: 0 or the first error. */
int nfs_io_retry(struct nfs_be *nb, struct nfs_io *io, size_t n);
/* Runs the N pieces IO[] together: send, wait, retry. */
int nfs_io_run(struct nfs_be *nb, struct nfs_io *io, size_t n, bool write);
/* The result of a read or write whose pieces were all answered. */
ssize_t nfs_read_finish(struct nfs_be *nb, struct podfs_bfile *file,
			struct nfs_io *io, size_t n);
ssize_t nfs_write_finish(struct nfs_be *nb, struct nfs_obj *o,
			 struct nfs_io *io, size_t n);
/* aio.c */
int nfs_be_read_async(struct podfs_backend *be, struct podfs_bfile *file,
		      const struct iovec *iov, int iovcnt, off_t off,
		      podfs_bio_done done, void *arg);
int nfs_be_write_async(struct podfs_backend *be, struct podfs_bfile *file,
		       const void *buf, size_t count, off_t off,
		       podfs_bio_done done, void *arg);
void nfs_aio_stop(struct nfs_be *nb);

/* A directory entry, copied out of a READDIR(PLUS) reply: the core's
 * callback runs once the reply is gone. */
struct nfs_dirent {
	char *name;
	struct nfs_fh fh;
	struct stat st; /* st_mode 0 where the reply had no attributes */
	bool has_fh, has_st;
};

struct nfs_dirents {
	struct nfs_dirent *e;
	size_t n, cap;
};

/*
 * What one listing of a directory has seen, to refuse a server that lies:
 * the cookie each page ended at (cookies that come round again would make
 * the listing endless), and whether "." and ".." came (NFSv3 may list each
 * once; NFSv4 never does).
 */
struct nfs_listing {
	uint64_t *ends;
	size_t n, cap;
	bool dot, dotdot;
};

/* Checks an entry NAME (LEN bytes) of a listing L: 1 to take it, 0 to
 * skip it ("." or ".." the first time, on NFSv3), or -EIO with WHY
 * (WHYLEN bytes) saying what was wrong with it. */
int nfs_listing_name(struct nfs_listing *l, int vers, const char *name,
		     size_t len, char *why, size_t whylen);
/* The page that ended at COOKIE was not the last: 0, or -EIO with the
 * volume's message when a page ended there before (the cookies loop). */
int nfs_listing_next(struct nfs_be *nb, struct nfs_listing *l,
		     uint64_t cookie);
void nfs_listing_free(struct nfs_listing *l);

/* A READ or WRITE reply of COUNT bytes to IO: more than asked fails it
 * with -EIO (true); a server that does so cannot be trusted with the
 * rest of the reply either. */
bool nfs_io_overrun(struct nfs_io *io, uint32_t count);

/* Checks attributes ST from the server, type (if TYPED: they had one)
 * and size: NULL, or what is wrong with them, for a message. */
const char *nfs_bad_attrs(const struct stat *st, bool typed);

/* A new, zeroed entry NAME (LEN bytes) at the end of L; NULL: out of
 * memory. */
struct nfs_dirent *nfs_dirent_add(struct nfs_dirents *l, const char *name,
				  size_t len);
/* Hands every entry of L to CB (with an object where the reply gave its
 * handle and attributes), then empties L: CB's non-zero result, or 0. */
int nfs_dirents_emit(struct nfs_be *nb, struct nfs_obj *dir,
		     struct nfs_dirents *l, podfs_bdirent_cb cb, void *arg);
void nfs_dirents_free(struct nfs_dirents *l);

/* Counts a READ or WRITE piece as it is sent. */
void nfs_count_io(struct nfs_be *nb, const struct nfs_io *io);

/* ---- the RPC engine (rpc.c) --------------------------------------------- */
int nfs_conns_start(struct nfs_be *nb);
void nfs_conns_stop(struct nfs_be *nb);
/* Attach has ended: calls of a hard mount wait for ever from now on. */
void nfs_conns_attached(struct nfs_be *nb);
void nfs_conns_give_up(struct nfs_be *nb);
/* Attempts K until it has an answer, as the mount's rules say: a hard
 * mount waits for a server that is away, a soft one gives up after
 * timeo * (retrans + 1); NFSv4 client state is recovered on the way.
 * 0 or -errno, with the volume's message set on failure. */
int nfs_run(struct nfs_be *nb, struct nfs_call *k);
/* Sends K without waiting; k->complete is called once it is done (also
 * when it could not be sent). 0, or -errno when it was not sent (then
 * complete is not called). */
int nfs_submit(struct nfs_be *nb, struct nfs_call *k);
/* K, alone on a connection of its own to PROGRAM VERSION at PORT (0:
 * ask the portmapper): the NFSv3 MOUNT call. k->err, k->msg; when no
 * connection could be made (*CONNECTED false) the volume's message says
 * why. */
int nfs_oneshot(struct nfs_be *nb, int program, int version, int port,
		struct nfs_call *k, bool *connected);
/* The callback every call goes with. */
void nfs_rpc_cb(struct rpc_context *rpc, int status, void *data,
		void *private_data);
void nfs_sleep_ms(long ms);

/* ---- libnfs version differences (libnfs40.c) ---------------------------- */
/* Queues COMPOUND ARGS on RPC, its encode buffer SIZE bytes beyond the
 * RPC header (libnfs 4.0's own call has room for 4 KiB only). */
int nfs4_compound_send(struct rpc_context *rpc, rpc_cb cb,
		       COMPOUND4args *args, void *priv, size_t size);
/* Queues an NFSv3 SYMLINK, whatever the target's length (to PATH_MAX). */
int nfs3_symlink_send(struct rpc_context *rpc, rpc_cb cb, SYMLINK3args *args,
		      void *priv);
/* Checks, once, that this libnfs is the one nfs4_compound_send was built
 * for: 0, or -ENOTSUP with WHY filled. */
int nfs4_compound_check(char *why, size_t len);
/* libnfs' decoder places arrays and list entries only 4-byte aligned:
 * their structs are copied out before they are read. */
#define NFS_COPY_OUT(dst, src) memcpy(&(dst), (src), sizeof(dst))

/* ---- NFSv3 and NFSv4 ops (v3.c, v4.c) ------------------------------------ */
/* What each version implements below the ops table of main.c. */
struct nfs_vops {
	int (*mount)(struct nfs_be *nb, struct nfs_fh *root);
	int (*getattr)(struct nfs_be *nb, struct nfs_obj *o, struct stat *st);
	int (*lookup)(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		      struct nfs_obj **obj, struct stat *st);
	/* NULL: a lookup per name */
	int (*lookup_path)(struct nfs_be *nb, struct nfs_obj *dir,
			   const char *path, struct nfs_obj **obj,
			   struct stat *st);
	int (*setattr)(struct nfs_be *nb, struct nfs_obj *o,
		       struct nfs_file *f, const struct stat *attr, int to_set,
		       struct stat *out);
	int (*readdir)(struct nfs_be *nb, struct nfs_obj *dir,
		       podfs_bdirent_cb cb, void *arg);
	/* MKDIR, SYMLINK, MKNOD (by MODE's type) */
	int (*make)(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		    mode_t mode, dev_t rdev, const char *target,
		    const struct podfs_cred *cred, struct nfs_obj **obj,
		    struct stat *st);
	/* Creates (O_EXCL honoured) or opens NAME in DIR: OBJ, ST, and for
	 * NFSv4 the open. */
	int (*create)(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		      mode_t mode, int flags, const struct podfs_cred *cred,
		      struct nfs_obj **obj, struct stat *st);
	int (*link)(struct nfs_be *nb, struct nfs_obj *o, struct nfs_obj *dir,
		    const char *name, struct stat *st);
	int (*remove)(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		      bool is_dir);
	int (*rename)(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		      struct nfs_obj *newdir, const char *newname);
	int (*readlink)(struct nfs_be *nb, struct nfs_obj *o, char **target,
			size_t *len);
	int (*statfs)(struct nfs_be *nb, struct nfs_obj *o, struct statvfs *st);
	/* Open state for a file of O opened with FLAGS (NFSv4). */
	/* BY: NULL, or the name to open O by where the protocol opens by
	 * name (NFSv4), told whether O was found there */
	int (*open)(struct nfs_be *nb, struct nfs_obj *o, int flags,
		    struct nfs_open_by *by);
	void (*close)(struct nfs_be *nb, struct nfs_obj *o);
	/* Makes IO's call (one READ or WRITE of at most rsize/wsize). */
	void (*io_call)(struct nfs_be *nb, struct nfs_io *io);
	int (*commit)(struct nfs_be *nb, struct nfs_obj *o, char verf[8]);
};

extern const struct nfs_vops nfs_v3_ops;
extern const struct nfs_vops nfs_v4_ops;

/* A READ or WRITE piece, and its call. */
struct nfs_io {
	struct nfs_obj *obj;
	bool write;
	stateid4 stateid; /* NFSv4: what it was sent with */
	char *buf;
	/* a READ into pieces of memory: from byte SKIP of IOV on (BUF
	 * unused); nfs_io_take puts the answer there */
	const struct iovec *iov;
	size_t skip;
	uint64_t off;
	uint32_t count;
	uint32_t done;	  /* bytes read or written */
	bool eof;
	bool stable;	  /* WRITE: FILE_SYNC asked */
	int committed;	  /* WRITE: what the server says it did */
	char verf[8];	  /* WRITE: the server's verifier */
	struct nfs_be *nb;
	struct nfs_ioset *set; /* the pieces it goes with */
	struct nfs_call call;
};

/* Pieces in flight together: LAST runs once all are answered (or could
 * not be sent), on whichever thread that is. */
struct nfs_ioset {
	atomic_int pending;
	void (*last)(struct nfs_ioset *set);
};

/* ---- NFSv4 state (state4.c) --------------------------------------------- */
int nfs4_client_start(struct nfs_be *nb);
void nfs4_client_stop(struct nfs_be *nb);
/* A call sent under client SEEN_GEN found the server had forgotten our
 * client: it is set up again, unless that was done since. 0 or -errno. */
int nfs4_client_recover(struct nfs_be *nb, unsigned int seen_gen);
uint64_t nfs4_clientid(struct nfs_be *nb);
/* The stateid I/O on O carries now. */
stateid4 nfs4_stateid(struct nfs_obj *o);
/* Call K on O, carrying SENT, was refused: the client is set up again if
 * the server forgot it (a restart: the open is then reclaimed), and O's
 * open made again, unless that was done since. 0 or -errno. */
int nfs4_restate(struct nfs_be *nb, struct nfs_call *k, struct nfs_obj *o,
		 const stateid4 *sent);
int nfs4_open(struct nfs_be *nb, struct nfs_obj *o, int flags,
	      struct nfs_open_by *by);
void nfs4_close(struct nfs_be *nb, struct nfs_obj *o);
int nfs4_lock(struct nfs_be *nb, struct nfs_obj *o, uint64_t owner, int cmd,
	      struct flock *fl);
/* -EIO (with a message) while a lock on O is lost (state4.c), or O has
 * locks and the lease is in doubt, else 0. */
int nfs_locks_lost(struct nfs_be *nb, struct nfs_obj *o);
/* Whether O's writes are fenced: a lock lost, or held under a lease in
 * doubt. */
bool nfs_fenced(struct nfs_be *nb, struct nfs_obj *o);
/* Milliseconds on CLOCK_MONOTONIC. */
int64_t nfs_mono_ms(void);
/* 0 when the server answers NFSv4.0 COMPOUNDs and takes handle FH (an
 * NFSv3 one) in them. */
int nfs4_probe(struct nfs_be *nb, const struct nfs_fh *fh);
int nfs4_create(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		mode_t mode, int flags, const struct podfs_cred *cred,
		struct nfs_obj **obj, struct stat *st);
/* Writes OW's current seqid (and for OPEN its name and client id) into
 * OP, as the call is sent. */
void nfs4_owner_stamp(struct nfs_be *nb, struct nfs4_owner *ow,
		      nfs_argop4 *op);
/* The server answered STATUS to OW's seqid-mutating op. */
void nfs4_owner_answered(struct nfs_be *nb, struct nfs4_owner *ow,
			 uint32_t status);

#endif /* PODFS_NFS_INTERNAL_H */
