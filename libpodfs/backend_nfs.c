/*
 * The NFS backend: podfs_backend_ops on libnfs' high-level, path-based API,
 * over a pool of nconnect connections. Objects are (parent, name) pairs;
 * every call builds the object's path from the export's root. A connection
 * the server dropped (a restart) is built again, its open files reopened.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "backend.h"
#include "podfs-private.h"

/* Exported by libnfs (4.0 and later) but declared only in its private
 * header; weak, so a libnfs without it still links (see conn_tune). */
extern void rpc_set_autoreconnect(struct rpc_context *rpc, int num_retries)
	__attribute__((weak));
/* Likewise: frees a handle without a CLOSE (see file_share). */
extern void nfs_free_nfsfh(struct nfsfh *nfsfh) __attribute__((weak));

/*
 * libnfs 4.0 cannot encode an NFSv4 WRITE of more than about 3.9 KiB
 * ("ZDR error: Failed to encode COMPOUND4args", fixed in libnfs 5.0):
 * measured 3944 bytes of data with ganesha's handles, and a handle may be
 * up to 128 bytes, so stay well below. Slow (one RPC per 3.5 KiB) but
 * correct; a failed encode would also leave the connection unusable.
 */
#define NFS4_WRITE_PIECE 3584
/* libnfs 4.0 reports no read maximum for NFSv4. A server that wants less
 * answers short, which the read loop handles. */
#define NFS4_READ_PIECE (1024 * 1024)
/* NFSv3 and a server that reported nothing. */
#define NFS_DEFAULT_PIECE (64 * 1024)

#define NFS_INDEX_MIN 1024

/* Between attempts to reach a server that is away: doubling from the
 * first to the most. */
#define NFS_BACKOFF_MIN_MS 100
#define NFS_BACKOFF_MAX_MS 2000
/* Rebuilt connections that failed again at once, before a call stops
 * blaming the connection (a guard against looping on a misread error). */
#define NFS_MAX_REBUILDS 8
/* How long the goodbye calls (CLOSE) on a replaced context may take. */
#define NFS_GOODBYE_MS 1000

/* What a failed call says about the context it ran on. */
enum conn_fault {
	FAULT_NONE,  /* the server answered: the error is the answer */
	FAULT_DELAY, /* the server asks to come back later (grace, jukebox) */
	FAULT_LOST,  /* no answer, or the server forgot our NFSv4 state */
};

/* One libnfs context: not thread-safe, so one caller at a time. */
struct nfs_conn {
	pthread_mutex_t lock;
	struct nfs_context *nfs;
	bool mounted;
	enum conn_fault fault; /* of the last failed call on it */
	char why[256];	       /* and libnfs' words for it */
};

/* Another name of an object, made by link(). */
struct nfs_alias {
	struct nfs_alias *next;
	struct nfs_obj *parent; /* a reference */
	char *name;
};

/* An object, named by its parent and its name there. */
struct nfs_obj {
	struct podfs_bobj b;
	atomic_int refs;
	struct nfs_obj *parent; /* a reference; NULL for the root */
	char *name;		/* NULL for the root */
	bool detached;		/* removed or replaced: no path any more */
	bool indexed;		/* in nfs_be.index under (parent, name) */
	bool silly;		/* renamed away while open (NFSv3) */
	atomic_int opens;	/* open files */
	struct nfs_alias *aliases; /* names to fall back on */
	struct nfs_obj *hnext;	/* index chain */
	struct nfs_obj *prev, *next; /* every object, for detach */
};

/* An open file: its handle belongs to the context that opened it, and
 * is replaced when that context is rebuilt (under the context's lock).
 * NFSv4: the files of one object on one context share one handle (see
 * file_share). */
struct nfs_file {
	struct podfs_bfile f;
	struct nfsfh *fh; /* NULL once lost: see lost */
	int conn;
	int oflags;	  /* to open it again: access mode, O_SYNC */
	int lost;	  /* -errno: could not be reopened after a reconnect */
	bool append;
	struct nfs_file *prev, *next;
};

/* One backend call's hold on a context, and how long it keeps trying. */
struct call {
	struct nfs_conn *c;
	struct timespec deadline; /* soft mounts give up then */
	int backoff_ms;
	int rebuilds;
	int retries; /* calls made again: a replayed one may find its own work */
};

struct nfs_be {
	struct podfs_backend be;
	char *prefix; /* "nfs://server/path", for messages */
	char *server;
	char *export; /* the mounted path, for our own NFSv4 compounds */
	int vers;
	int port, mountport; /* as configured, for reconnecting */
	bool soft;
	int timeout_ms; /* timeo * (retrans + 1) */
	int nconn;
	struct nfs_conn *conns;
	atomic_uint next_conn;
	atomic_uint silly_seq;
	size_t rmax, wmax;
	uid_t uid; /* the context's own AUTH_SYS identity */
	gid_t gid;

	/* Guards every object's parent, name, detached and the index. */
	pthread_rwlock_t tree;
	struct nfs_obj *root;
	struct nfs_obj **index;
	size_t index_size, index_count;
	struct nfs_obj *objs;

	/* Guards the list; a file is linked and unlinked with its context
	 * held too, so holding a context keeps its files. */
	pthread_mutex_t files_lock;
	struct nfs_file *files;
};

#define NB(p) container_of(p, struct nfs_be, be)
#define OBJ(p) container_of(p, struct nfs_obj, b)
#define FILE_OF(p) container_of(p, struct nfs_file, f)

/* ---- Errors ------------------------------------------------------------ */

static int be_fail(struct nfs_be *nb, int err, const char *fmt, ...)
	PODFS_PRINTF(3, 4);

static int be_fail(struct nfs_be *nb, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return podfs_set_error(nb->be.vol, err, "%s: %s", nb->prefix, msg);
}

/*
 * What a call that failed with RET and libnfs' message MSG says about its
 * context. libnfs 4.0 has no error classes, only words: a status from the
 * server is named (NFS3ERR_x, NFS4ERR_x); a call that got no answer says
 * so in the few ways below, or returns -EINTR (timed out, cancelled).
 */
static enum conn_fault fault_of(int ret, const char *msg)
{
	static const char *const lost_state[] = {
		/* the server restarted, or our lease ran out */
		"NFS4ERR_STALE_CLIENTID", "NFS4ERR_EXPIRED",
		"NFS4ERR_STALE_STATEID",  "NFS4ERR_BAD_STATEID",
		"NFS4ERR_ADMIN_REVOKED",  "NFS4ERR_LEASE_MOVED",
		/* our open state out of step with the server's: file_share
		 * prevents it, a new client sets it right */
		"NFS4ERR_OLD_STATEID",	  "NFS4ERR_BAD_SEQID",
	};
	static const char *const later[] = {
		"NFS4ERR_GRACE", "NFS4ERR_DELAY", "NFS3ERR_JUKEBOX",
	};
	static const char *const no_answer[] = {
		"nfs_service failed", "Socket", "socket", "Poll failed",
		"timed out", "cancelled", "RPC_STATUS_CANCEL",
		"Failed to start connection", "connect",
		"Connection", "POLLHUP", "POLLERR", "not connected",
	};
	size_t i;

	for (i = 0; i < sizeof(lost_state) / sizeof(lost_state[0]); i++)
		if (strstr(msg, lost_state[i]))
			return FAULT_LOST;
	for (i = 0; i < sizeof(later) / sizeof(later[0]); i++)
		if (strstr(msg, later[i]))
			return FAULT_DELAY;
	if (strstr(msg, "NFS3ERR_") || strstr(msg, "NFS4ERR_") ||
	    strstr(msg, "MNT3ERR_"))
		return FAULT_NONE;
	if (ret == -EINTR)
		return FAULT_LOST;
	for (i = 0; i < sizeof(no_answer) / sizeof(no_answer[0]); i++)
		if (strstr(msg, no_answer[i]))
			return FAULT_LOST;
	return FAULT_NONE;
}

/* Notes on C (held) what its failed call says about it, for call_retry. */
static void conn_fault(struct nfs_conn *c, enum conn_fault fault,
		       const char *msg)
{
	if (fault == FAULT_NONE)
		return;
	if (fault <= c->fault)
		return; /* the first loss explains the rest */
	c->fault = fault;
	snprintf(c->why, sizeof(c->why), "%s", msg);
}

/* A libnfs call on C failed with RET: records why, returns -errno. */
static int call_fail(struct nfs_be *nb, struct nfs_conn *c, int ret,
		     const char *what, const char *path)
{
	const char *msg = nfs_get_error(c->nfs);
	int err = ret;

	if (!msg)
		msg = "unknown error";
	conn_fault(c, fault_of(ret, msg), msg);
	/* libnfs' -EINTR is a timeout or a cancelled call. */
	if (err == -EINTR)
		err = -ETIMEDOUT;
	/* -1 is what libnfs returns when it could not even send the call
	 * (no connection, an encoding failure): not a permission problem. */
	if (err == -EPERM && !strstr(msg, "PERM"))
		err = -EIO;
	if (strstr(msg, "timed out"))
		err = -ETIMEDOUT;
	if (err >= 0)
		err = -EIO;
	return be_fail(nb, err, "%s %s: %s", what, path, msg);
}

/* ---- Shared NFSv4 open state ---------------------------------------- */

/*
 * libnfs 4.0 opens every file of a context with one NFSv4 open-owner, so
 * the opens of one object on one context are one open state on the
 * server: each OPEN upgrades it and bumps its stateid, leaving the older
 * handles' stateids OLD (a READ fails); a CLOSE ends it for all of them;
 * and libnfs counts the owner's seqid out of step after such a failure
 * (every later OPEN fails with BAD_SEQID). So those files share one
 * handle, the newest: it carries the current stateid, for the union of
 * their access, and is closed with the last of them.
 */

/* Frees FH, an older handle of an open state that lives on, without
 * the CLOSE that would end it. Without libnfs' private symbol it leaks. */
static void fh_forget(struct nfsfh *fh)
{
	if (nfs_free_nfsfh)
		nfs_free_nfsfh(fh);
}

/* Gives the other files of O on context C (held) FH, just opened there:
 * their handles are out of date now. */
static void file_share(struct nfs_be *nb, struct nfs_conn *c,
		       struct nfs_obj *o, struct nfsfh *fh)
{
	int idx = (int)(c - nb->conns);
	struct nfs_file *s, *t;
	struct nfsfh *old;

	if (nb->vers != 4)
		return; /* NFSv3 has no open state */
	pthread_mutex_lock(&nb->files_lock);
	for (s = nb->files; s; s = s->next) {
		if (s->conn != idx || s->f.obj != &o->b || !s->fh ||
		    s->fh == fh)
			continue;
		old = s->fh;
		for (t = s; t; t = t->next)
			if (t->fh == old)
				t->fh = fh;
		fh_forget(old);
	}
	pthread_mutex_unlock(&nb->files_lock);
}

/* Whether a file other than F shares F's handle; with files_lock. */
static bool fh_shared(struct nfs_be *nb, struct nfs_file *f, bool unsync)
{
	struct nfs_file *t;

	for (t = nb->files; t; t = t->next)
		if (t != f && t->fh == f->fh &&
		    (!unsync || !(t->oflags & O_SYNC)))
			return true;
	return false;
}

/* Whether F (O_SYNC, its context held) shares its handle with a file
 * opened without O_SYNC, so that its writes may not be stable. */
static bool fh_sync_shared(struct nfs_be *nb, struct nfs_file *f)
{
	bool shared;

	if (nb->vers != 4)
		return false;
	pthread_mutex_lock(&nb->files_lock);
	shared = f->fh && fh_shared(nb, f, true);
	pthread_mutex_unlock(&nb->files_lock);
	return shared;
}

/* ---- Connections ----------------------------------------------------- */

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* Takes C for K. A soft mount waits no longer than the call may last:
 * another caller may be holding C while it waits for the server. */
static int call_lock(struct nfs_be *nb, struct call *k, struct nfs_conn *c)
{
	if (!nb->soft)
		pthread_mutex_lock(&c->lock);
	else if (pthread_mutex_clocklock(&c->lock, CLOCK_MONOTONIC,
					 &k->deadline))
		return be_fail(nb, ETIMEDOUT,
			       "server %s not responding: no connection to it was free within %d s (soft mount)",
			       nb->server, (nb->timeout_ms + 999) / 1000);
	k->c = c;
	c->fault = FAULT_NONE;
	return 0;
}

static void call_init(struct nfs_be *nb, struct call *k)
{
	k->c = NULL;
	k->backoff_ms = NFS_BACKOFF_MIN_MS;
	k->rebuilds = 0;
	k->retries = 0;
	deadline_in(&k->deadline, nb->timeout_ms);
}

/* Starts call K on any free context, else waits for one (round-robin
 * start). 0 or -ETIMEDOUT (soft). */
static int call_begin(struct nfs_be *nb, struct call *k)
{
	unsigned int start = atomic_fetch_add(&nb->next_conn, 1) % nb->nconn;
	struct nfs_conn *c;
	int i;

	call_init(nb, k);
	for (i = 0; i < nb->nconn; i++) {
		c = &nb->conns[(start + i) % nb->nconn];
		if (pthread_mutex_trylock(&c->lock) == 0) {
			k->c = c;
			c->fault = FAULT_NONE;
			return 0;
		}
	}
	return call_lock(nb, k, &nb->conns[start]);
}

/* Starts call K on F's context: every call on a file goes through the
 * context that opened it, which also serialises them. */
static int call_begin_file(struct nfs_be *nb, struct nfs_file *f,
			   struct call *k)
{
	call_init(nb, k);
	return call_lock(nb, k, &nb->conns[f->conn]);
}

/* A new time budget for the next RPC of a long call (read, write). */
static void call_rearm(struct nfs_be *nb, struct call *k)
{
	k->backoff_ms = NFS_BACKOFF_MIN_MS;
	deadline_in(&k->deadline, nb->timeout_ms);
}

static void call_end(struct call *k)
{
	pthread_mutex_unlock(&k->c->lock);
}

/* F could not be opened again when its context was rebuilt. */
static int file_lost(struct nfs_be *nb, struct nfs_file *f)
{
	return be_fail(nb, f->lost,
		       "open file lost: it could not be opened again after reconnecting to server %s",
		       nb->server);
}

static int conn_rebuild(struct nfs_be *nb, struct call *k);

/*
 * Whether the call K just made on its context, which left RET, should be
 * made again: when the context is lost (the server went away, or
 * restarted and forgot our NFSv4 state), it is rebuilt first, and while
 * the server is away we wait for it, with a backoff. Hard mounts wait
 * until it is back, soft ones until timeo * (retrans + 1) after the call
 * began; then RET becomes -ETIMEDOUT. Only the caller holding a context
 * rebuilds it: the others wait for the context, and find it working.
 */
static bool call_retry(struct nfs_be *nb, struct call *k, int *ret)
{
	struct nfs_conn *c = k->c;
	enum conn_fault fault = c->fault;
	char why[sizeof(c->why)];
	long left;
	int err;

	c->fault = FAULT_NONE;
	if (*ret >= 0 || fault == FAULT_NONE)
		return false;
	snprintf(why, sizeof(why), "%s", c->why);
	for (;;) {
		left = nb->soft ? ms_left(&k->deadline) : LONG_MAX;
		if (left <= 0) {
			*ret = be_fail(nb, ETIMEDOUT,
				       "server %s not responding, gave up after %d s (soft mount): %s",
				       nb->server, (nb->timeout_ms + 999) / 1000,
				       why);
			return false;
		}
		if (fault == FAULT_LOST) {
			err = conn_rebuild(nb, k);
			if (!err) {
				if (++k->rebuilds > NFS_MAX_REBUILDS)
					return false; /* *ret stands */
				k->retries++;
				return true;
			}
			snprintf(why, sizeof(why), "%s", c->why);
			left = nb->soft ? ms_left(&k->deadline) : LONG_MAX;
			if (left <= 0)
				continue;
		}
		/* Never a busy loop, never past the deadline. */
		sleep_ms(k->backoff_ms < left ? k->backoff_ms : left);
		k->backoff_ms = k->backoff_ms * 2 < NFS_BACKOFF_MAX_MS ?
					k->backoff_ms * 2 :
					NFS_BACKOFF_MAX_MS;
		if (fault == FAULT_DELAY) {
			k->retries++;
			return true;
		}
	}
}

/* Creating calls run as the caller, so the server makes the new object
 * theirs; for that call only. */
static void conn_cred(struct nfs_conn *c, const struct podfs_cred *cred)
{
	if (cred) {
		nfs_set_uid(c->nfs, cred->uid);
		nfs_set_gid(c->nfs, cred->gid);
	}
}

static void conn_uncred(struct nfs_be *nb, struct nfs_conn *c,
			const struct podfs_cred *cred)
{
	if (cred) {
		nfs_set_uid(c->nfs, nb->uid);
		nfs_set_gid(c->nfs, nb->gid);
	}
}

/* ---- Attributes ---------------------------------------------------------- */

static void stat_from_nfs(struct stat *st, const struct nfs_stat_64 *ns)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = ns->nfs_dev;
	st->st_ino = ns->nfs_ino;
	st->st_mode = ns->nfs_mode;
	st->st_nlink = ns->nfs_nlink;
	st->st_uid = ns->nfs_uid;
	st->st_gid = ns->nfs_gid;
	st->st_rdev = ns->nfs_rdev;
	st->st_size = ns->nfs_size;
	st->st_blksize = ns->nfs_blksize;
	st->st_blocks = ns->nfs_blocks;
	st->st_atim.tv_sec = ns->nfs_atime;
	st->st_atim.tv_nsec = ns->nfs_atime_nsec;
	st->st_mtim.tv_sec = ns->nfs_mtime;
	st->st_mtim.tv_nsec = ns->nfs_mtime_nsec;
	st->st_ctim.tv_sec = ns->nfs_ctime;
	st->st_ctim.tv_nsec = ns->nfs_ctime_nsec;
}

/* NF3REG .. NF3FIFO, as READDIRPLUS names them. */
static mode_t type_bits(uint32_t type)
{
	static const mode_t bits[] = { 0,	    S_IFREG, S_IFDIR, S_IFBLK,
				       S_IFCHR, S_IFLNK, S_IFSOCK, S_IFIFO };

	return type < sizeof(bits) / sizeof(bits[0]) ? bits[type] : 0;
}

static void stat_from_dirent(struct stat *st, const struct nfsdirent *e)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = e->dev;
	st->st_ino = e->inode;
	st->st_mode = e->mode;
	if (!(st->st_mode & S_IFMT))
		st->st_mode |= type_bits(e->type);
	st->st_nlink = e->nlink;
	st->st_uid = e->uid;
	st->st_gid = e->gid;
	st->st_rdev = e->rdev;
	st->st_size = e->size;
	st->st_blksize = e->blksize;
	st->st_blocks = e->blocks;
	st->st_atim.tv_sec = e->atime.tv_sec;
	st->st_atim.tv_nsec = e->atime_nsec;
	st->st_mtim.tv_sec = e->mtime.tv_sec;
	st->st_mtim.tv_nsec = e->mtime_nsec;
	st->st_ctim.tv_sec = e->ctime.tv_sec;
	st->st_ctim.tv_nsec = e->ctime_nsec;
}

/* lstat of PATH on C (held). */
static int conn_lstat(struct nfs_be *nb, struct nfs_conn *c, const char *path,
		      struct stat *st)
{
	struct nfs_stat_64 ns;
	int ret;

	ret = nfs_lstat64(c->nfs, path, &ns);
	if (ret)
		return call_fail(nb, c, ret, "lstat", path);
	stat_from_nfs(st, &ns);
	return 0;
}

/* ---- Objects ------------------------------------------------------------- */

static size_t index_slot(struct nfs_be *nb, const struct nfs_obj *parent,
			 const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ (uintptr_t)parent;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return (h ^ (h >> 29)) & (nb->index_size - 1);
}

static struct nfs_obj *index_find(struct nfs_be *nb,
				  const struct nfs_obj *parent,
				  const char *name)
{
	struct nfs_obj *o = nb->index[index_slot(nb, parent, name)];

	for (; o; o = o->hnext)
		if (o->parent == parent && !strcmp(o->name, name))
			return o;
	return NULL;
}

static void index_insert(struct nfs_be *nb, struct nfs_obj *o)
{
	size_t slot = index_slot(nb, o->parent, o->name);

	o->hnext = nb->index[slot];
	nb->index[slot] = o;
	o->indexed = true;
	nb->index_count++;
}

static void index_grow(struct nfs_be *nb)
{
	struct nfs_obj **old = nb->index, *o, *next;
	size_t old_size = nb->index_size, i;
	struct nfs_obj **table = calloc(old_size * 2, sizeof(*table));

	if (!table)
		return; /* longer chains, still correct */
	nb->index = table;
	nb->index_size = old_size * 2;
	nb->index_count = 0;
	for (i = 0; i < old_size; i++) {
		for (o = old[i]; o; o = next) {
			next = o->hnext;
			index_insert(nb, o);
		}
	}
	free(old);
}

static void index_add(struct nfs_be *nb, struct nfs_obj *o)
{
	if (nb->index_count >= nb->index_size)
		index_grow(nb);
	index_insert(nb, o);
}

static void index_del(struct nfs_be *nb, struct nfs_obj *o)
{
	struct nfs_obj **pp = &nb->index[index_slot(nb, o->parent, o->name)];

	if (!o->indexed)
		return;
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == o) {
			*pp = o->hnext;
			break;
		}
	}
	o->hnext = NULL;
	o->indexed = false;
	nb->index_count--;
}

/* A new reference unless O is already on its way out (refs 0). */
static bool obj_tryget(struct nfs_obj *o)
{
	int refs = atomic_load(&o->refs);

	while (refs > 0)
		if (atomic_compare_exchange_weak(&o->refs, &refs, refs + 1))
			return true;
	return false;
}

static void obj_put(struct nfs_be *nb, struct nfs_obj *o);

static void aliases_free(struct nfs_be *nb, struct nfs_alias *a)
{
	struct nfs_alias *next;

	for (; a; a = next) {
		next = a->next;
		obj_put(nb, a->parent);
		free(a->name);
		free(a);
	}
}

static void obj_put(struct nfs_be *nb, struct nfs_obj *o)
{
	struct nfs_alias *aliases;
	struct nfs_obj *parent;

	while (o) {
		if (atomic_fetch_sub(&o->refs, 1) != 1)
			return;
		/* Nobody can take a new reference now (obj_tryget), and
		 * children hold theirs: it is ours alone. */
		pthread_rwlock_wrlock(&nb->tree);
		index_del(nb, o);
		if (o->prev)
			o->prev->next = o->next;
		else
			nb->objs = o->next;
		if (o->next)
			o->next->prev = o->prev;
		parent = o->parent;
		aliases = o->aliases;
		pthread_rwlock_unlock(&nb->tree);
		aliases_free(nb, aliases);
		free(o->name);
		free(o);
		o = parent;
	}
}

/*
 * A reference to the object named NAME in DIR whose identity is KEY:
 * the live one if we have it, else a new one. An object that held the
 * name with another identity was replaced behind our back: detached.
 */
static struct nfs_obj *obj_child(struct nfs_be *nb, struct nfs_obj *dir,
				 const char *name, uint64_t key)
{
	struct nfs_obj *o, *old;

	o = calloc(1, sizeof(*o));
	if (o)
		o->name = strdup(name);
	if (!o || !o->name) {
		free(o);
		return NULL;
	}
	pthread_rwlock_wrlock(&nb->tree);
	old = index_find(nb, dir, name);
	if (old) {
		if (old->b.key == key && obj_tryget(old)) {
			pthread_rwlock_unlock(&nb->tree);
			free(o->name);
			free(o);
			return old;
		}
		index_del(nb, old);
		if (old->b.key != key)
			old->detached = true;
	}
	o->b.key = key;
	atomic_init(&o->refs, 1);
	atomic_fetch_add(&dir->refs, 1);
	o->parent = dir;
	index_add(nb, o);
	o->next = nb->objs;
	if (nb->objs)
		nb->objs->prev = o;
	nb->objs = o;
	pthread_rwlock_unlock(&nb->tree);
	return o;
}

/* Points O at NAME in DIR. Returns the old parent, for the caller to put
 * once the tree lock is released. Called with the tree write-locked. */
static struct nfs_obj *obj_move(struct nfs_be *nb, struct nfs_obj *o,
				struct nfs_obj *dir, char *name)
{
	struct nfs_obj *old_parent = o->parent;

	index_del(nb, o);
	atomic_fetch_add(&dir->refs, 1);
	o->parent = dir;
	free(o->name);
	o->name = name;
	o->detached = false;
	index_add(nb, o);
	return old_parent;
}

/* O lost its name (tree write-locked): it takes another name it has
 * (a hard link we made), else it is detached. Returns a reference for
 * the caller to put once the lock is released. */
static struct nfs_obj *obj_unname(struct nfs_be *nb, struct nfs_obj *o)
{
	struct nfs_alias *a;
	struct nfs_obj *old_parent;

	index_del(nb, o);
	/* Stale aliases go: the name just lost (O may have been moved to
	 * an alias by merge), and names that now hold another object. */
	while ((a = o->aliases) &&
	       ((a->parent == o->parent && !strcmp(a->name, o->name)) ||
		index_find(nb, a->parent, a->name))) {
		o->aliases = a->next;
		/* (never the last reference: O or that object is a child) */
		atomic_fetch_sub(&a->parent->refs, 1);
		free(a->name);
		free(a);
	}
	if (!a) {
		o->detached = true;
		return NULL;
	}
	o->aliases = a->next;
	old_parent = obj_move(nb, o, a->parent, a->name);
	/* obj_move took a reference on the alias' parent for O: the
	 * alias' own cannot be the last one. */
	atomic_fetch_sub(&a->parent->refs, 1);
	free(a);
	return old_parent;
}

/* NAME in DIR was removed or replaced on the server. */
static void obj_gone(struct nfs_be *nb, struct nfs_obj *dir, const char *name)
{
	struct nfs_obj *o, *put = NULL;

	pthread_rwlock_wrlock(&nb->tree);
	o = index_find(nb, dir, name);
	if (o)
		put = obj_unname(nb, o);
	pthread_rwlock_unlock(&nb->tree);
	obj_put(nb, put);
}

/*
 * The path of O (with "/CHILD" after it if CHILD is set) from the
 * export's root, as libnfs takes it: "/" for the root. Under the tree
 * lock, so a concurrent rename cannot tear it.
 */
static int obj_path(struct nfs_be *nb, struct nfs_obj *o, const char *child,
		    char **out)
{
	const struct nfs_obj *p;
	size_t len = 0, pos, n;
	char *buf;

	pthread_rwlock_rdlock(&nb->tree);
	for (p = o; p->parent; p = p->parent) {
		if (p->detached) {
			pthread_rwlock_unlock(&nb->tree);
			return be_fail(nb, ESTALE,
				       "%s: removed or replaced on the server",
				       p->name);
		}
		len += strlen(p->name) + 1;
	}
	if (child)
		len += strlen(child) + 1;
	buf = malloc(len + 2);
	if (!buf) {
		pthread_rwlock_unlock(&nb->tree);
		return be_fail(nb, ENOMEM, "out of memory");
	}
	pos = len;
	buf[pos] = '\0';
	if (child) {
		n = strlen(child);
		pos -= n;
		memcpy(buf + pos, child, n);
		buf[--pos] = '/';
	}
	for (p = o; p->parent; p = p->parent) {
		n = strlen(p->name);
		pos -= n;
		memcpy(buf + pos, p->name, n);
		buf[--pos] = '/';
	}
	pthread_rwlock_unlock(&nb->tree);
	if (len == 0)
		strcpy(buf, "/");
	*out = buf;
	return 0;
}

/* lstat of NAME in DIR (PATH) on C, then its object. */
static int child_lookup(struct nfs_be *nb, struct nfs_conn *c,
			struct nfs_obj *dir, const char *name, const char *path,
			struct podfs_bobj **obj, struct stat *st)
{
	struct nfs_obj *o;
	int ret;

	ret = conn_lstat(nb, c, path, st);
	if (ret)
		return ret;
	o = obj_child(nb, dir, name, st->st_ino);
	if (!o)
		return be_fail(nb, ENOMEM, "out of memory");
	*obj = &o->b;
	return 0;
}

/* child_lookup for call K, through reconnects. */
static int child_lookup_retry(struct nfs_be *nb, struct call *k,
			      struct nfs_obj *dir, const char *name,
			      const char *path, struct podfs_bobj **obj,
			      struct stat *st)
{
	int ret;

	do
		ret = child_lookup(nb, k->c, dir, name, path, obj, st);
	while (call_retry(nb, k, &ret));
	return ret;
}

/* ---- Attach and detach ---------------------------------------------------- */

/* Connects to SERVER:PORT with a bound, to tell why a mount failed.
 * -EHOSTUNREACH: the name does not resolve. */
static int tcp_probe(const char *server, int port, int timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai;
	struct pollfd pfd;
	char portstr[16];
	socklen_t len;
	int fd, err = 0;

	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(server, portstr, &hints, &ai))
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
			goto out;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout_ms) <= 0) {
			err = -ETIMEDOUT;
			goto out;
		}
		len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		err = -err;
	}
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

/*
 * Frees a context, unless calls are still queued on it: libnfs would
 * cancel them, and the callbacks of its sync calls write into the stack
 * frames those calls had. Such a context (only possible without
 * rpc_set_autoreconnect) is left alone, its socket closed.
 */
static void conn_destroy(struct nfs_context *nfs)
{
	int fd;

	if (nfs_queue_length(nfs) == 0) {
		nfs_destroy_context(nfs);
		return;
	}
	fd = nfs_get_fd(nfs);
	if (fd >= 0)
		close(fd);
}

/* Sets up C's context: a unique NFSv4 client, version, ports (libnfs 4.0
 * only takes those through URL arguments), bounded timeout. */
static int conn_init(struct nfs_be *nb, struct nfs_conn *c)
{
	char url[1024], name[64], uuid[37];
	const char *path = nb->export;
	struct nfs_url *u;
	uuid_t id;
	int n;

	c->nfs = nfs_init_context();
	if (!c->nfs)
		return be_fail(nb, ENOMEM, "cannot create an NFS context");
#if HAVE_DECL_NFS4_SET_CLIENT_NAME
	/* Two contexts with one client name would be one NFSv4 client to
	 * the server, sharing (and breaking) each other's state. libnfs'
	 * own name is "Libnfs pid:PID TIME": the same for contexts made
	 * within one second. (libnfs 4.0 leaks the name it replaces, so
	 * only where it matters.) */
	if (nb->vers == 4) {
		uuid_generate(id);
		uuid_unparse_lower(id, uuid);
		snprintf(name, sizeof(name), "podfs-%s", uuid);
		nfs4_set_client_name(c->nfs, name);
	}
#else
	(void)id;
	(void)uuid;
	(void)name;
#endif
	nfs_set_dircache(c->nfs, 0); /* the cache layer is above us */
	nfs_umask(c->nfs, 0);	     /* modes arrive with umask applied */
	nfs_set_autoreconnect(c->nfs, 1); /* see conn_tune */

	/* Only the path part of the URL is parsed by libnfs; one with '?'
	 * or '&' would be split, and it is not used anyway. */
	if (strpbrk(path, "?&"))
		path = "/";
	n = snprintf(url, sizeof(url), "nfs://%s%s%s%s?version=%d",
		     strchr(nb->server, ':') ? "[" : "", nb->server,
		     strchr(nb->server, ':') ? "]" : "", path, nb->vers);
	if (nb->port > 0)
		n += snprintf(url + n, sizeof(url) - n, "&nfsport=%d",
			      nb->port);
	if (nb->mountport > 0 && nb->vers == 3)
		n += snprintf(url + n, sizeof(url) - n, "&mountport=%d",
			      nb->mountport);
	if ((size_t)n >= sizeof(url))
		return be_fail(nb, EINVAL, "server name or path too long");
	u = nfs_parse_url_dir(c->nfs, url);
	if (!u)
		return be_fail(nb, EINVAL, "libnfs refused %s: %s", url,
			       nfs_get_error(c->nfs));
	nfs_destroy_url(u);
	if (nfs_set_version(c->nfs, nb->vers))
		return be_fail(nb, EINVAL, "NFS version %d: %s", nb->vers,
			       nfs_get_error(c->nfs));
	nfs_set_timeout(c->nfs, nb->timeout_ms);
	return 0;
}

/*
 * The mount of PATH failed with NFS or MOUNT saying "no such path" or
 * "access denied": finds the longest prefix of the path the server lets
 * us mount, to tell a missing export from a missing directory in one.
 */
static int mount_probe(struct nfs_be *nb, const struct podfs_config *cfg,
		       const char *why, bool denied)
{
	char *prefix = strdup(cfg->path), *slash;
	struct nfs_conn c = { .nfs = NULL };
	struct nfs_stat_64 ns;
	int err, tries = 0;

	if (!prefix)
		return be_fail(nb, ENOMEM, "out of memory");
	for (;;) {
		slash = strrchr(prefix, '/');
		if (!slash || ++tries > 8)
			break;
		if (slash == prefix) {
			/* "/" is the NFSv4 pseudo root: it always mounts
			 * and says nothing about exports. */
			if (cfg->vers == 4 || !prefix[1])
				break;
			prefix[1] = '\0';
		} else {
			*slash = '\0';
		}
		if (conn_init(nb, &c))
			break;
		if (!nfs_mount(c.nfs, cfg->server, prefix)) {
			const char *rest = cfg->path + strlen(prefix);

			if (!strcmp(prefix, "/"))
				rest = cfg->path;
			err = nfs_lstat64(c.nfs, rest, &ns);
			conn_destroy(c.nfs);
			if (err == -ENOENT) {
				err = be_fail(nb, ENOENT,
					      "directory %s not found in export %s on server %s",
					      rest, prefix, cfg->server);
			} else {
				err = be_fail(nb, EACCES,
					      "server %s denied access to %s (%s)",
					      cfg->server, cfg->path, why);
			}
			free(prefix);
			return err;
		}
		conn_destroy(c.nfs);
		c.nfs = NULL;
	}
	if (c.nfs)
		conn_destroy(c.nfs);
	free(prefix);
	return be_fail(nb, ENOENT, "export %s not found on server %s%s",
		       cfg->path, cfg->server,
		       denied ? " (or not exported to this client)" : "");
}

/*
 * Why can a mount not reach the server? libnfs only says "nfs_service
 * failed": we find out ourselves, with a TCP connection to each port a
 * mount uses. 0 when all answer, else -errno and the reason in WHY.
 */
static int server_probe(struct nfs_be *nb, int timeout_ms, char *why,
			size_t size)
{
	int ports[2], nports = 0, i, err;

	if (nb->vers == 3) {
		ports[nports++] = nb->mountport > 0 ? nb->mountport : 111;
		if (nb->port > 0)
			ports[nports++] = nb->port;
	} else {
		ports[nports++] = nb->port > 0 ? nb->port : 2049;
	}
	for (i = 0; i < nports; i++) {
		err = tcp_probe(nb->server, ports[i], timeout_ms);
		if (err == -EHOSTUNREACH)
			snprintf(why, size, "cannot resolve server name %s",
				 nb->server);
		else if (err == -ECONNREFUSED)
			snprintf(why, size,
				 "cannot connect to server %s port %d: connection refused",
				 nb->server, ports[i]);
		else if (err == -ETIMEDOUT)
			snprintf(why, size,
				 "cannot connect to server %s port %d: no answer within %d s",
				 nb->server, ports[i], (timeout_ms + 999) / 1000);
		else if (err)
			snprintf(why, size,
				 "cannot connect to server %s port %d: %s",
				 nb->server, ports[i], strerror(-err));
		if (err)
			return err;
	}
	return 0;
}

/* Why did nfs_mount fail with RET? Connection problems first. */
static int mount_fail(struct nfs_be *nb, const struct podfs_config *cfg,
		      struct nfs_conn *c, int ret)
{
	char why[512], probe[512];
	int err;

	snprintf(why, sizeof(why), "%s",
		 nfs_get_error(c->nfs) ? nfs_get_error(c->nfs) : "?");
	if (strstr(why, "timed out"))
		return be_fail(nb, ETIMEDOUT,
			       "server %s did not answer within %d s",
			       cfg->server, nb->timeout_ms / 1000);
	if (strstr(why, "MNT3ERR_NOENT") || strstr(why, "NFS4ERR_NOENT") ||
	    strstr(why, "NFS3ERR_NOENT"))
		return mount_probe(nb, cfg, why, false);
	/* ganesha and knfsd answer MNT3ERR_ACCES for a path they do not
	 * export at all. */
	if (strstr(why, "MNT3ERR_ACCES"))
		return mount_probe(nb, cfg, why, true);
	/* (not ret == -EPERM: that is libnfs' bare -1) */
	if (ret == -EACCES || strstr(why, "ACCES") || strstr(why, "ERR_PERM"))
		return be_fail(nb, EACCES, "server %s denied the mount of %s: %s",
			       cfg->server, cfg->path, why);

	err = server_probe(nb, nb->timeout_ms, probe, sizeof(probe));
	if (err)
		return be_fail(nb, err, "%s", probe);
	if (ret >= 0 || ret == -EPERM)
		ret = -EIO;
	return be_fail(nb, ret, "mount of %s on server %s failed: %s",
		       cfg->path, cfg->server, why);
}

/*
 * A mounted context's timeouts: hard (default) waits for an answer for
 * ever, like the kernel's client; soft gives up after timeo * (retrans +
 * 1). libnfs reconnects once when the connection drops: that hides a
 * dropped idle connection, and fails the calls in flight when the server
 * is away. Waiting for it is call_retry's job: libnfs 4.0 retries
 * without a pause (a busy loop), and with no retry at all it leaves the
 * calls in flight queued, their callbacks pointing into the stack frames
 * of sync calls long returned (see conn_destroy).
 */
static void conn_tune(struct nfs_be *nb, struct nfs_conn *c)
{
	nfs_set_timeout(c->nfs, nb->soft ? nb->timeout_ms : -1);
	/* NFSv3 takes this at mount time, NFSv4 never; the rpc layer's
	 * own setter takes both. */
	if (rpc_set_autoreconnect)
		rpc_set_autoreconnect(nfs_get_rpc_context(c->nfs), 1);
}

static int conn_open(struct nfs_be *nb, const struct podfs_config *cfg,
		     struct nfs_conn *c)
{
	int ret;

	ret = conn_init(nb, c);
	if (ret)
		return ret;
	ret = nfs_mount(c->nfs, cfg->server, cfg->path);
	if (ret)
		return mount_fail(nb, cfg, c, ret);
	c->mounted = true;
	conn_tune(nb, c);
	return 0;
}

/* One open file of a context being rebuilt, and what it becomes. */
struct reopen {
	struct nfs_file *f;
	struct nfsfh *fh; /* on the new context; NULL: lost */
	int lost;
};

/*
 * Opens F again by its path on context NEW: O_TRUNC is long done, and
 * O_CREAT/O_EXCL never reach an open file. A file whose name now holds
 * another object (or nothing) is lost: R->lost. Returns -errno only when
 * NEW cannot be used (the server went away again), with NEW's fault set.
 */
static int file_reopen(struct nfs_be *nb, struct nfs_conn *new,
		       struct reopen *r)
{
	struct nfs_obj *o = OBJ(r->f->f.obj);
	struct nfs_stat_64 ns;
	char *path;
	int ret;

	r->fh = NULL;
	r->lost = obj_path(nb, o, NULL, &path);
	if (r->lost)
		return 0;
	ret = nfs_open(new->nfs, path, r->f->oflags, &r->fh);
	if (ret) {
		r->fh = NULL;
		r->lost = call_fail(nb, new, ret, "reopen", path);
	} else {
		ret = nfs_fstat64(new->nfs, r->fh, &ns);
		if (ret)
			r->lost = call_fail(nb, new, ret, "fstat", path);
		else if (ns.nfs_ino != o->b.key)
			r->lost = be_fail(nb, ESTALE,
					  "%s: replaced on the server while reconnecting",
					  path);
		if (r->lost) {
			nfs_close(new->nfs, r->fh);
			r->fh = NULL;
		}
	}
	free(path);
	return new->fault != FAULT_NONE ? -EIO : 0;
}

/* R[I], just reopened, and the files before it that shared its old
 * handle: they take its new one (see file_share). */
static void reopen_share(struct reopen *r, size_t i)
{
	struct nfsfh *old = NULL;
	size_t j;

	for (j = 0; j < i; j++) {
		if (r[j].f->fh != r[i].f->fh || !r[j].fh)
			continue;
		old = r[j].fh; /* the same for all of them */
		r[j].fh = r[i].fh;
	}
	if (old)
		fh_forget(old);
}

/* Whether a file before R[I] has the same old (OLD) or new handle. */
static bool reopen_dup(struct reopen *r, size_t i, bool old)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (old ? r[j].f->fh == r[i].f->fh : r[j].fh == r[i].fh)
			return true;
	return false;
}

/* The files open on C (held: none can come or go). */
static int conn_files(struct nfs_be *nb, struct nfs_conn *c,
		      struct reopen **out, size_t *count)
{
	int idx = (int)(c - nb->conns);
	struct reopen *r = NULL, *bigger;
	size_t n = 0, cap = 0;
	struct nfs_file *f;

	pthread_mutex_lock(&nb->files_lock);
	for (f = nb->files; f; f = f->next) {
		if (f->conn != idx || !f->fh)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			bigger = realloc(r, cap * sizeof(*r));
			if (!bigger) {
				pthread_mutex_unlock(&nb->files_lock);
				free(r);
				return be_fail(nb, ENOMEM, "out of memory");
			}
			r = bigger;
		}
		r[n++] = (struct reopen){ .f = f };
	}
	pthread_mutex_unlock(&nb->files_lock);
	*out = r;
	*count = n;
	return 0;
}

/*
 * Replaces the context of call K (held) by a new one: a new connection,
 * for NFSv4 a new client, and every file open on it opened again there.
 * All or nothing: on failure (the server is still away) the context is
 * left as it was and its why says what went wrong.
 */
static int conn_rebuild(struct nfs_be *nb, struct call *k)
{
	struct nfs_conn *c = k->c, new = { .fault = FAULT_NONE };
	struct reopen *r = NULL;
	size_t n = 0, i;
	long left;
	int ret;

	/* Each attempt is bounded; a soft one by what is left of the call
	 * (libnfs counts whole seconds). */
	left = nb->soft ? ms_left(&k->deadline) : nb->timeout_ms;
	left = (left < 1000 ? 1000 : left + 999) / 1000 * 1000;
	/* A server still away refuses a bare TCP connection: cheaper than
	 * a context per attempt (and libnfs 4.0 leaks a little of each). */
	ret = server_probe(nb, (int)left, c->why, sizeof(c->why));
	if (ret)
		return ret;
	ret = conn_files(nb, c, &r, &n);
	if (ret)
		return ret;
	snprintf(c->why, sizeof(c->why), "cannot set up a new NFS context");
	ret = conn_init(nb, &new);
	if (ret)
		goto fail;
	nfs_set_timeout(new.nfs, (int)left);
	ret = nfs_mount(new.nfs, nb->server, nb->export);
	if (ret) {
		snprintf(c->why, sizeof(c->why), "reconnecting: %s",
			 nfs_get_error(new.nfs) ? nfs_get_error(new.nfs) :
						  "mount failed");
		ret = call_fail(nb, &new, ret, "mount", nb->export);
		goto fail;
	}
	new.mounted = true;
	for (i = 0; i < n; i++) {
		ret = file_reopen(nb, &new, &r[i]);
		if (ret) {
			snprintf(c->why, sizeof(c->why),
				 "reopening files: %.200s", new.why);
			goto fail;
		}
		/* Files that shared a handle share the newest again. */
		if (r[i].fh)
			reopen_share(r, i);
	}

	/* The old context goes: its files' handles with it (a dead NFSv4
	 * connection fails the CLOSE at once; a live one is bounded). */
	nfs_set_timeout(c->nfs, NFS_GOODBYE_MS);
	for (i = 0; i < n; i++)
		if (!reopen_dup(r, i, true))
			nfs_close(c->nfs, r[i].f->fh);
	for (i = 0; i < n; i++) {
		r[i].f->fh = r[i].fh;
		r[i].f->lost = r[i].lost;
	}
	conn_destroy(c->nfs);
	c->nfs = new.nfs;
	c->mounted = true;
	conn_tune(nb, c);
	free(r);
	return 0;

fail:
	for (i = 0; i < n; i++)
		if (r[i].fh && !reopen_dup(r, i, false))
			nfs_close(new.nfs, r[i].fh);
	if (new.nfs)
		conn_destroy(new.nfs);
	free(r);
	return ret;
}

static void nfs_be_free(struct nfs_be *nb)
{
	struct nfs_obj *o, *onext;
	struct nfs_file *f, *fnext;
	int i;

	for (f = nb->files; f; f = fnext) {
		struct nfs_file *t;

		fnext = f->next;
		if (f->fh) {
			for (t = fnext; t; t = t->next)
				if (t->fh == f->fh)
					t->fh = NULL; /* shared: one close */
			nfs_close(nb->conns[f->conn].nfs, f->fh);
		}
		free(f);
	}
	for (i = 0; nb->conns && i < nb->nconn && nb->conns[i].nfs; i++) {
		if (nb->conns[i].mounted)
			nfs_umount(nb->conns[i].nfs);
		if (nb->conns[i].nfs)
			conn_destroy(nb->conns[i].nfs);
		pthread_mutex_destroy(&nb->conns[i].lock);
	}
	for (o = nb->objs; o; o = onext) {
		struct nfs_alias *a, *anext;

		onext = o->next;
		for (a = o->aliases; a; a = anext) {
			anext = a->next;
			free(a->name);
			free(a);
		}
		free(o->name);
		free(o);
	}
	if (nb->root) {
		free(nb->root);
	}
	pthread_rwlock_destroy(&nb->tree);
	pthread_mutex_destroy(&nb->files_lock);
	free(nb->index);
	free(nb->conns);
	free(nb->server);
	free(nb->export);
	free(nb->prefix);
	free(nb);
}

static int nfs_be_attach(const struct podfs_config *cfg,
			 struct podfs_volume *vol, struct podfs_backend **out)
{
	struct nfs_be *nb;
	struct stat st;
	int ret, i;
	long ms;

	nb = calloc(1, sizeof(*nb));
	if (!nb)
		return podfs_set_error(vol, ENOMEM, "out of memory");
	nb->be.ops = &podfs_nfs_backend;
	nb->be.vol = vol;
	pthread_rwlock_init(&nb->tree, NULL);
	pthread_mutex_init(&nb->files_lock, NULL);
	if (asprintf(&nb->prefix, "nfs://%s%s%s%s",
		     strchr(cfg->server, ':') ? "[" : "", cfg->server,
		     strchr(cfg->server, ':') ? "]" : "", cfg->path) < 0) {
		nb->prefix = NULL;
		ret = podfs_set_error(vol, ENOMEM, "out of memory");
		goto fail;
	}
	nb->server = strdup(cfg->server);
	nb->export = strdup(cfg->path);
	nb->vers = cfg->vers;
	nb->port = cfg->port;
	nb->mountport = cfg->mountport;
	nb->soft = cfg->soft;
	nb->nconn = cfg->nconnect;
	if (nb->nconn < 1)
		nb->nconn = 1;
	if (nb->nconn > PODFS_MAX_NCONNECT)
		nb->nconn = PODFS_MAX_NCONNECT;
	/* libnfs takes whole seconds. */
	ms = (long)cfg->timeo * 100 * (cfg->retrans + 1);
	ms = (ms + 999) / 1000 * 1000;
	nb->timeout_ms = ms > 0 && ms < 3600000 ? (int)ms : 3600000;
	nb->uid = getuid();
	nb->gid = getgid();
	nb->index_size = NFS_INDEX_MIN;
	nb->index = calloc(nb->index_size, sizeof(*nb->index));
	nb->conns = calloc(nb->nconn, sizeof(*nb->conns));
	if (!nb->server || !nb->export || !nb->index || !nb->conns) {
		ret = be_fail(nb, ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < nb->nconn; i++) {
		pthread_mutex_init(&nb->conns[i].lock, NULL);
		ret = conn_open(nb, cfg, &nb->conns[i]);
		if (ret)
			goto fail;
	}

	nb->rmax = nfs_get_readmax(nb->conns[0].nfs);
	nb->wmax = nfs_get_writemax(nb->conns[0].nfs);
	if (nb->vers == 4) {
		if (!nb->rmax)
			nb->rmax = NFS4_READ_PIECE;
		nb->wmax = NFS4_WRITE_PIECE;
	}
	if (!nb->rmax)
		nb->rmax = NFS_DEFAULT_PIECE;
	if (!nb->wmax)
		nb->wmax = NFS_DEFAULT_PIECE;

	ret = conn_lstat(nb, &nb->conns[0], "/", &st);
	if (ret)
		goto fail;
	if (!S_ISDIR(st.st_mode)) {
		ret = be_fail(nb, ENOTDIR, "%s is not a directory", cfg->path);
		goto fail;
	}
	nb->root = calloc(1, sizeof(*nb->root));
	if (!nb->root) {
		ret = be_fail(nb, ENOMEM, "out of memory");
		goto fail;
	}
	nb->root->b.key = st.st_ino;
	atomic_init(&nb->root->refs, 1); /* ours, until detach */
	*out = &nb->be;
	return 0;
fail:
	nfs_be_free(nb);
	return ret;
}

static void nfs_be_detach(struct podfs_backend *be)
{
	struct nfs_be *nb = NB(be);
	int i;

	/* A hard mount waits for ever; detach must not. */
	for (i = 0; i < nb->nconn; i++)
		nfs_set_timeout(nb->conns[i].nfs, nb->timeout_ms);
	nfs_be_free(nb);
}

/* ---- Names ------------------------------------------------------------- */

static int nfs_be_root(struct podfs_backend *be, struct podfs_bobj **obj,
		       struct stat *st)
{
	struct nfs_be *nb = NB(be);
	struct call k;
	int ret;

	ret = call_begin(nb, &k);
	if (ret)
		return ret;
	do
		ret = conn_lstat(nb, k.c, "/", st);
	while (call_retry(nb, &k, &ret));
	call_end(&k);
	if (ret)
		return ret;
	atomic_fetch_add(&nb->root->refs, 1);
	*obj = &nb->root->b;
	return 0;
}

static int nfs_be_lookup(struct podfs_backend *be, struct podfs_bobj *dir,
			 const char *name, struct podfs_bobj **obj,
			 struct stat *st)
{
	struct nfs_be *nb = NB(be);
	struct call k;
	char *path;
	int ret;

	ret = obj_path(nb, OBJ(dir), name, &path);
	if (ret)
		return ret;
	ret = call_begin(nb, &k);
	if (!ret) {
		do
			ret = child_lookup(nb, k.c, OBJ(dir), name, path, obj,
					   st);
		while (call_retry(nb, &k, &ret));
		call_end(&k);
	}
	free(path);
	return ret;
}

static void nfs_be_merge(struct podfs_backend *be, struct podfs_bobj *old_obj,
			 struct podfs_bobj *new_obj)
{
	struct nfs_be *nb = NB(be);
	struct nfs_obj *old = OBJ(old_obj), *new = OBJ(new_obj);
	struct nfs_obj *old_parent = NULL;
	char *name;

	if (old != new && new->parent) {
		name = strdup(new->name);
		pthread_rwlock_wrlock(&nb->tree);
		if (name && !new->detached) {
			/* OLD takes NEW's place in the index. */
			index_del(nb, new);
			old_parent = obj_move(nb, old, new->parent, name);
		} else {
			free(name);
		}
		pthread_rwlock_unlock(&nb->tree);
		obj_put(nb, old_parent);
	}
	obj_put(nb, new);
}

static void nfs_be_put(struct podfs_backend *be, struct podfs_bobj *obj)
{
	obj_put(NB(be), OBJ(obj));
}

/* ---- Attributes ------------------------------------------------------------ */

static int nfs_be_getattr(struct podfs_backend *be, struct podfs_bobj *obj,
			  struct podfs_bfile *file, struct stat *st)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = file ? FILE_OF(file) : NULL;
	struct nfs_stat_64 ns;
	struct call k;
	char *path;
	int ret;

	if (f) {
		ret = call_begin_file(nb, f, &k);
		if (ret)
			return ret;
		do {
			ret = 1; /* lost in a reconnect: by path below */
			if (!f->fh)
				break;
			ret = nfs_fstat64(k.c->nfs, f->fh, &ns);
			if (ret)
				ret = call_fail(nb, k.c, ret, "fstat",
						"(open file)");
			else
				stat_from_nfs(st, &ns);
		} while (call_retry(nb, &k, &ret));
		call_end(&k);
		if (ret <= 0)
			return ret;
	}
	ret = obj_path(nb, OBJ(obj), NULL, &path);
	if (ret)
		return ret;
	ret = call_begin(nb, &k);
	if (!ret) {
		do
			ret = conn_lstat(nb, k.c, path, st);
		while (call_retry(nb, &k, &ret));
		call_end(&k);
	}
	free(path);
	return ret;
}

/* ---- Our own calls, through libnfs' raw RPC layer --------------------------
 * Where libnfs 4.0's own calls are wrong we send the call ourselves on the
 * context's connection, and wait for its answer as libnfs' synchronous
 * calls do:
 *  - NFSv4 SETATTR: libnfs OPENs the object for a stateid, which fails on
 *    directories (NFS4ERR_ISDIR) and symlinks (it follows them), needs
 *    permission to open, and cannot set a time to the server's clock. We
 *    send PUTROOTFH, LOOKUP per component, SETATTR with the anonymous
 *    stateid.
 *  - NFSv4 READLINK: libnfs strdup()s the target, which the XDR decoder
 *    leaves without a NUL (a read past the reply's buffer). We copy it
 *    with its length.
 *  - NFSv3 SETATTR of times: libnfs' utimes takes microseconds. We LOOKUP
 *    the object from the mount's root and SETATTR it with nanoseconds.
 */

/* Exported by libnfs 4.0 (and later) but declared only in its private
 * header, as a struct nfs_fh { int len; char *val; }: an nfs_fh3's
 * layout. Under our own name, so that a header declaring it one day
 * cannot clash; weak, so a libnfs without it still links (NFSv3 times
 * then go through libnfs, in microseconds). */
extern const struct nfs_fh3 *podfs_nfs_get_rootfh(struct nfs_context *nfs)
	__asm__("nfs_get_rootfh") __attribute__((weak));

struct xdr_buf {
	char data[128];
	size_t len;
};

static void xdr_u32(struct xdr_buf *x, uint32_t v)
{
	v = htonl(v);
	memcpy(x->data + x->len, &v, 4);
	x->len += 4;
}

static void xdr_u64(struct xdr_buf *x, uint64_t v)
{
	xdr_u32(x, v >> 32);
	xdr_u32(x, v & 0xffffffff);
}

/* An owner or group as a numeric string, as libnfs 4.0 sends them. */
static void xdr_id(struct xdr_buf *x, unsigned long id)
{
	char s[24];
	size_t n = (size_t)snprintf(s, sizeof(s), "%lu", id);

	xdr_u32(x, n);
	memset(x->data + x->len, 0, (n + 3) & ~3u);
	memcpy(x->data + x->len, s, n);
	x->len += (n + 3) & ~3u;
}

/* settime4: SET_TO_SERVER_TIME4 for _NOW, else the given time. */
static void xdr_settime(struct xdr_buf *x, bool now, const struct timespec *ts)
{
	if (now) {
		xdr_u32(x, SET_TO_SERVER_TIME4);
		return;
	}
	xdr_u32(x, SET_TO_CLIENT_TIME4);
	xdr_u64(x, (uint64_t)(int64_t)ts->tv_sec);
	xdr_u32(x, (uint32_t)ts->tv_nsec);
}

/* An NFS3ERR_x or NFS4ERR_x status (one numbering below 10000) as -errno. */
static int nfs_status_errno(uint32_t status)
{
	switch (status) {
	case NFS4ERR_NAMETOOLONG:
		return -ENAMETOOLONG;
	case NFS4ERR_NOTEMPTY:
		return -ENOTEMPTY;
	case NFS4ERR_DQUOT:
		return -EDQUOT;
	case NFS4ERR_STALE:
	case NFS4ERR_BADHANDLE:
	case NFS4ERR_FHEXPIRED:
		return -ESTALE;
	case NFS4ERR_BADOWNER:
		return -EINVAL;
	case NFS4ERR_NOTSUPP:
	case NFS4ERR_ATTRNOTSUPP:
		return -ENOTSUP;
	case NFS4ERR_SYMLINK: /* a LOOKUP in a symlink, as Linux maps it */
		return -ELOOP;
	}
	if (status > 0 && status < 100)
		return -(int)status; /* NFS4ERR_PERM .. match errno */
	return -EIO;
}

/* One call of ours: on the heap, as a call libnfs still holds when the
 * connection broke is left to it (raw_free). */
struct raw_call {
	bool done;
	int err;
	enum conn_fault fault;
	char msg[256];
	/* What a successful answer brings, copied out of libnfs' reply. */
	char *link; /* READLINK: the target, with a NUL */
	size_t link_len;
	char fh[NFS3_FHSIZE]; /* NFSv3 LOOKUP: the object's handle */
	u_int fh_len;
};

static struct raw_call *raw_new(struct nfs_be *nb)
{
	struct raw_call *rc = calloc(1, sizeof(*rc));

	if (!rc)
		be_fail(nb, ENOMEM, "out of memory");
	return rc;
}

static void raw_free(struct raw_call *rc)
{
	if (rc && rc->done) {
		free(rc->link);
		free(rc);
	}
}

/* Whether the call got an answer at all; if not, RC says why. */
static bool raw_answered(struct raw_call *rc, int status, void *data)
{
	rc->done = true;
	if (status == RPC_STATUS_SUCCESS)
		return true;
	rc->fault = FAULT_LOST;
	rc->err = status == RPC_STATUS_TIMEOUT ? -ETIMEDOUT : -EIO;
	snprintf(rc->msg, sizeof(rc->msg), "%s",
		 status == RPC_STATUS_ERROR && data ? (char *)data :
		 status == RPC_STATUS_TIMEOUT	    ? "timed out" :
						      "cancelled");
	return false;
}

/* The server answered OP of NFS version VERS with STATUS. */
static void raw_status(struct raw_call *rc, int vers, const char *op,
		       uint32_t status)
{
	if (status == 0)
		return;
	rc->err = nfs_status_errno(status);
	/* NFS3ERR_JUKEBOX is NFS4ERR_DELAY */
	if (status == NFS4ERR_DELAY || (vers == 4 && status == NFS4ERR_GRACE))
		rc->fault = FAULT_DELAY;
	snprintf(rc->msg, sizeof(rc->msg),
		 "NFS%d %s failed with status %u (%s)", vers, op,
		 (unsigned int)status, strerror(-rc->err));
}

static const char *op4_name(const nfs_resop4 *op)
{
	switch (op ? op->resop : 0) {
	case OP_PUTROOTFH:
		return "PUTROOTFH";
	case OP_LOOKUP:
		return "LOOKUP";
	case OP_SETATTR:
		return "SETATTR";
	case OP_READLINK:
		return "READLINK";
	default:
		return "COMPOUND";
	}
}

static void raw_done4(struct rpc_context *rpc, int status, void *data,
		      void *private_data)
{
	struct raw_call *rc = private_data;
	COMPOUND4res *res = data;
	nfs_resop4 lastop, *last = NULL;
	utf8string *link;

	(void)rpc;
	if (!raw_answered(rc, status, data))
		return;
	/* The failed op is the last one answered. libnfs 4.0's decoder
	 * places the results 4-byte aligned: copy before reading. */
	if (res->resarray.resarray_len) {
		memcpy(&lastop,
		       (const char *)res->resarray.resarray_val +
			       (res->resarray.resarray_len - 1) * sizeof(lastop),
		       sizeof(lastop));
		last = &lastop;
	}
	if (res->status != NFS4_OK) {
		raw_status(rc, 4, op4_name(last), res->status);
		return;
	}
	if (last && last->resop == OP_READLINK) {
		/* an XDR opaque: no NUL after it */
		link = &last->nfs_resop4_u.opreadlink.READLINK4res_u.resok4
				.link;
		rc->link = malloc(link->utf8string_len + 1);
		if (!rc->link) {
			rc->err = -ENOMEM;
			snprintf(rc->msg, sizeof(rc->msg), "out of memory");
			return;
		}
		memcpy(rc->link, link->utf8string_val, link->utf8string_len);
		rc->link[link->utf8string_len] = '\0';
		rc->link_len = link->utf8string_len;
	}
}

static void raw_done3_lookup(struct rpc_context *rpc, int status, void *data,
			     void *private_data)
{
	struct raw_call *rc = private_data;
	LOOKUP3res *res = data;
	nfs_fh3 *fh;

	(void)rpc;
	if (!raw_answered(rc, status, data))
		return;
	raw_status(rc, 3, "LOOKUP", res->status);
	if (res->status != NFS3_OK)
		return;
	fh = &res->LOOKUP3res_u.resok.object;
	if (fh->data.data_len > sizeof(rc->fh)) {
		rc->err = -EIO;
		snprintf(rc->msg, sizeof(rc->msg),
			 "NFS3 LOOKUP answered a %u-byte file handle (at most %zu)",
			 fh->data.data_len, sizeof(rc->fh));
		return;
	}
	memcpy(rc->fh, fh->data.data_val, fh->data.data_len);
	rc->fh_len = fh->data.data_len;
}

static void raw_done3_setattr(struct rpc_context *rpc, int status, void *data,
			      void *private_data)
{
	struct raw_call *rc = private_data;
	SETATTR3res *res = data;

	(void)rpc;
	if (raw_answered(rc, status, data))
		raw_status(rc, 3, "SETATTR", res->status);
}

/* One turn of a connection's event loop, for calls we sent ourselves:
 * waits up to 100 ms for its socket (rpc_service also runs the calls'
 * timeouts) and services it. rpc_service's result. */
static int rpc_turn(struct rpc_context *rpc)
{
	struct pollfd pfd = { .fd = rpc_get_fd(rpc),
			      .events = (short)rpc_which_events(rpc) };
	int n = poll(&pfd, 1, 100);

	return rpc_service(rpc, n > 0 ? pfd.revents : 0);
}

/*
 * Waits on C (held) for the answer to call RC, which QUEUED (what the
 * rpc_*_async that sent it returned) says was sent, as libnfs' own
 * synchronous calls do. Returns RC's -errno, with C's fault noted.
 */
static int raw_wait(struct nfs_conn *c, int queued, struct raw_call *rc)
{
	struct rpc_context *rpc = nfs_get_rpc_context(c->nfs);

	if (queued) {
		/* Not sent, and RC is ours again. libnfs 4.0 returns -2 when
		 * it cannot encode the call: the connection is not to blame. */
		rc->done = true;
		snprintf(rc->msg, sizeof(rc->msg), "%s", nfs_get_error(c->nfs));
		rc->fault = queued == -2 ? FAULT_NONE : FAULT_LOST;
		rc->err = -EIO;
	}
	while (!rc->done) {
		if (rpc_turn(rpc) < 0 && !rc->done) {
			/* RC stays queued: the caller must leave it be */
			snprintf(rc->msg, sizeof(rc->msg), "%s",
				 nfs_get_error(c->nfs));
			rc->fault = FAULT_LOST;
			rc->err = -EIO;
			break;
		}
	}
	conn_fault(c, rc->fault, rc->msg);
	return rc->err;
}

/* Sends compound ARGS on C (held); raw_wait. */
static int raw_compound(struct nfs_conn *c, COMPOUND4args *args,
			struct raw_call *rc)
{
	struct rpc_context *rpc = nfs_get_rpc_context(c->nfs);

	return raw_wait(c, rpc_nfs4_compound_async(rpc, raw_done4, args, rc),
			rc);
}

/*
 * Sends PUTROOTFH, a LOOKUP per component of the export and of PATH, and
 * OP, on C (held). *RC is the answer, for the caller to raw_free; NULL
 * when the call could not even be made (the volume's message says why).
 */
static int path_compound4(struct nfs_be *nb, struct nfs_conn *c,
			  const char *path, const nfs_argop4 *op,
			  struct raw_call **rc)
{
	COMPOUND4args args = { .minorversion = 0 };
	char *names, *tok, *save = NULL;
	size_t max = 3, n = 0; /* PUTROOTFH, OP; components <= '/'s + 1 */
	nfs_argop4 *ops;
	int ret;

	*rc = NULL;
	if (asprintf(&names, "%s/%s", nb->export, path) < 0)
		return be_fail(nb, ENOMEM, "out of memory");
	for (tok = names; *tok; tok++)
		max += *tok == '/';
	ops = calloc(max, sizeof(*ops));
	if (!ops) {
		free(names);
		return be_fail(nb, ENOMEM, "out of memory");
	}
	ops[n++].argop = OP_PUTROOTFH;
	for (tok = strtok_r(names, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		ops[n].argop = OP_LOOKUP;
		ops[n].nfs_argop4_u.oplookup.objname.utf8string_len =
			strlen(tok);
		ops[n].nfs_argop4_u.oplookup.objname.utf8string_val = tok;
		n++;
	}
	ops[n++] = *op;
	args.argarray.argarray_len = n;
	args.argarray.argarray_val = ops;

	*rc = raw_new(nb);
	ret = *rc ? raw_compound(c, &args, *rc) : -ENOMEM;
	free(ops);
	free(names);
	return ret;
}

/* SETATTR of PATH (from the export's root) on C (held). */
static int conn_setattr4(struct nfs_be *nb, struct nfs_conn *c,
			 const char *path, const struct stat *attr, int to_set)
{
	nfs_argop4 op = { .argop = OP_SETATTR };
	SETATTR4args *sa = &op.nfs_argop4_u.opsetattr;
	uint32_t mask[2] = { 0, 0 };
	struct xdr_buf x = { .len = 0 };
	struct raw_call *rc;
	int ret;

	if (to_set & PODFS_SET_SIZE) {
		mask[0] |= 1u << FATTR4_SIZE;
		xdr_u64(&x, (uint64_t)attr->st_size);
	}
	if (to_set & PODFS_SET_MODE) {
		mask[1] |= 1u << (FATTR4_MODE - 32);
		xdr_u32(&x, attr->st_mode & 07777);
	}
	if (to_set & PODFS_SET_UID) {
		mask[1] |= 1u << (FATTR4_OWNER - 32);
		xdr_id(&x, attr->st_uid);
	}
	if (to_set & PODFS_SET_GID) {
		mask[1] |= 1u << (FATTR4_OWNER_GROUP - 32);
		xdr_id(&x, attr->st_gid);
	}
	if (to_set & (PODFS_SET_ATIME | PODFS_SET_ATIME_NOW)) {
		mask[1] |= 1u << (FATTR4_TIME_ACCESS_SET - 32);
		xdr_settime(&x, to_set & PODFS_SET_ATIME_NOW, &attr->st_atim);
	}
	if (to_set & (PODFS_SET_MTIME | PODFS_SET_MTIME_NOW)) {
		mask[1] |= 1u << (FATTR4_TIME_MODIFY_SET - 32);
		xdr_settime(&x, to_set & PODFS_SET_MTIME_NOW, &attr->st_mtim);
	}
	/* stateid left all zeros: the anonymous one */
	sa->obj_attributes.attrmask.bitmap4_len = 2;
	sa->obj_attributes.attrmask.bitmap4_val = mask;
	sa->obj_attributes.attr_vals.attrlist4_len = x.len;
	sa->obj_attributes.attr_vals.attrlist4_val = x.data;

	ret = path_compound4(nb, c, path, &op, &rc);
	if (ret && rc)
		ret = be_fail(nb, -ret, "setattr %s: %s", path, rc->msg);
	raw_free(rc);
	return ret;
}

/* READLINK of PATH (from the export's root) on C (held): the target,
 * for the caller to free, and its length. */
static int conn_readlink4(struct nfs_be *nb, struct nfs_conn *c,
			  const char *path, char **target, size_t *len)
{
	const nfs_argop4 op = { .argop = OP_READLINK };
	struct raw_call *rc;
	int ret;

	ret = path_compound4(nb, c, path, &op, &rc);
	if (!rc)
		return ret;
	if (ret == -EISDIR)
		ret = -EINVAL; /* as readlink(2) on a non-symlink */
	if (ret == -EINVAL) {
		ret = be_fail(nb, EINVAL, "readlink %s: not a symlink", path);
	} else if (ret) {
		ret = be_fail(nb, -ret, "readlink %s: %s", path, rc->msg);
	} else {
		*target = rc->link;
		*len = rc->link_len;
		rc->link = NULL;
	}
	raw_free(rc);
	return ret;
}

/* An NFSv3 file handle. */
struct fh3 {
	u_int len;
	char data[NFS3_FHSIZE];
};

/* The NFSv3 file handle of PATH (from the export's root) on C (held),
 * by a LOOKUP per component. -ENOTSUP when libnfs does not tell the
 * mount's own. */
static int conn_fh3(struct nfs_be *nb, struct nfs_conn *c, const char *path,
		    struct fh3 *fh)
{
	struct rpc_context *rpc = nfs_get_rpc_context(c->nfs);
	const struct nfs_fh3 *root;
	char *names, *tok, *save = NULL;
	struct raw_call *rc;
	LOOKUP3args la;
	int ret = 0;

	root = podfs_nfs_get_rootfh ? podfs_nfs_get_rootfh(c->nfs) : NULL;
	if (!root || !root->data.data_len ||
	    root->data.data_len > sizeof(fh->data))
		return -ENOTSUP;
	fh->len = root->data.data_len;
	memcpy(fh->data, root->data.data_val, fh->len);
	names = strdup(path);
	if (!names)
		return be_fail(nb, ENOMEM, "out of memory");
	for (tok = strtok_r(names, "/", &save); tok && !ret;
	     tok = strtok_r(NULL, "/", &save)) {
		rc = raw_new(nb);
		if (!rc) {
			ret = -ENOMEM;
			break;
		}
		la.what.dir.data.data_len = fh->len;
		la.what.dir.data.data_val = fh->data;
		la.what.name = tok;
		ret = raw_wait(c,
			       rpc_nfs3_lookup_async(rpc, raw_done3_lookup, &la,
						     rc),
			       rc);
		if (ret) {
			ret = be_fail(nb, -ret, "lookup %s in %s: %s", tok,
				      path, rc->msg);
		} else {
			fh->len = rc->fh_len;
			memcpy(fh->data, rc->fh, rc->fh_len);
		}
		raw_free(rc);
	}
	free(names);
	return ret;
}

/* set_atime/set_mtime: the server's clock for _NOW, else the given time. */
static time_how settime3(bool now, bool set, const struct timespec *ts,
			 nfstime3 *t)
{
	if (now)
		return SET_TO_SERVER_TIME;
	if (!set)
		return DONT_CHANGE;
	t->seconds = (uint32_t)ts->tv_sec;
	t->nseconds = (uint32_t)ts->tv_nsec;
	return SET_TO_CLIENT_TIME;
}

/* SETATTR of PATH (from the export's root) on C (held), in one call.
 * -ENOTSUP: see conn_fh3. */
static int conn_setattr3(struct nfs_be *nb, struct nfs_conn *c,
			 const char *path, const struct stat *attr, int to_set)
{
	SETATTR3args args;
	sattr3 *sa = &args.new_attributes;
	struct raw_call *rc;
	struct fh3 fh;
	int ret;

	ret = conn_fh3(nb, c, path, &fh);
	if (ret)
		return ret;
	memset(&args, 0, sizeof(args)); /* no guard */
	args.object.data.data_len = fh.len;
	args.object.data.data_val = fh.data;
	if (to_set & PODFS_SET_MODE) {
		sa->mode.set_it = 1;
		sa->mode.set_mode3_u.mode = attr->st_mode & 07777;
	}
	if (to_set & PODFS_SET_UID) {
		sa->uid.set_it = 1;
		sa->uid.set_uid3_u.uid = attr->st_uid;
	}
	if (to_set & PODFS_SET_GID) {
		sa->gid.set_it = 1;
		sa->gid.set_gid3_u.gid = attr->st_gid;
	}
	if (to_set & PODFS_SET_SIZE) {
		sa->size.set_it = 1;
		sa->size.set_size3_u.size = (uint64_t)attr->st_size;
	}
	sa->atime.set_it = settime3(to_set & PODFS_SET_ATIME_NOW,
				    to_set & PODFS_SET_ATIME, &attr->st_atim,
				    &sa->atime.set_atime_u.atime);
	sa->mtime.set_it = settime3(to_set & PODFS_SET_MTIME_NOW,
				    to_set & PODFS_SET_MTIME, &attr->st_mtim,
				    &sa->mtime.set_mtime_u.mtime);

	rc = raw_new(nb);
	if (!rc)
		return -ENOMEM;
	ret = raw_wait(c,
		       rpc_nfs3_setattr_async(nfs_get_rpc_context(c->nfs),
					      raw_done3_setattr, &args, rc),
		       rc);
	if (ret)
		ret = be_fail(nb, -ret, "setattr %s: %s", path, rc->msg);
	raw_free(rc);
	return ret;
}

static void timeval_of(struct timeval *tv, const struct timespec *ts)
{
	tv->tv_sec = ts->tv_sec;
	tv->tv_usec = ts->tv_nsec / 1000;
}

/*
 * Changes what TO_SET names through libnfs, on C (held): through FH
 * where libnfs can (size, mode, owner), else by PATH. libnfs 4.0 has no
 * futimes, and no way to set a time to the server's clock: _NOW uses
 * ours.
 */
static int conn_setattr_libnfs(struct nfs_be *nb, struct nfs_conn *c,
			       struct nfsfh *fh, const char *path,
			       const struct stat *attr, int to_set)
{
	const char *where = path ? path : "(open file)";
	struct timeval tv[2];
	struct stat cur;
	int ret = 0;


	if (to_set & PODFS_SET_SIZE) {
		ret = fh ? nfs_ftruncate(c->nfs, fh, attr->st_size) :
			   nfs_truncate(c->nfs, path, attr->st_size);
		if (ret)
			return call_fail(nb, c, ret, "truncate", where);
	}
	if (to_set & PODFS_SET_MODE) {
		ret = fh ? nfs_fchmod(c->nfs, fh, attr->st_mode & 07777) :
			   nfs_lchmod(c->nfs, path, attr->st_mode & 07777);
		if (ret)
			return call_fail(nb, c, ret, "chmod", where);
	}
	if (to_set & (PODFS_SET_UID | PODFS_SET_GID)) {
		int uid = to_set & PODFS_SET_UID ? (int)attr->st_uid : -1;
		int gid = to_set & PODFS_SET_GID ? (int)attr->st_gid : -1;

		ret = fh ? nfs_fchown(c->nfs, fh, uid, gid) :
			   nfs_lchown(c->nfs, path, uid, gid);
		if (ret)
			return call_fail(nb, c, ret, "chown", where);
	}
	if (to_set & (PODFS_SET_ATIME | PODFS_SET_MTIME | PODFS_SET_ATIME_NOW |
		      PODFS_SET_MTIME_NOW)) {
		struct timeval now;
		bool a = to_set & (PODFS_SET_ATIME | PODFS_SET_ATIME_NOW);
		bool m = to_set & (PODFS_SET_MTIME | PODFS_SET_MTIME_NOW);

		/* libnfs sets both times at once: keep the other one. */
		if (!a || !m) {
			ret = conn_lstat(nb, c, path, &cur);
			if (ret)
				return ret;
			timeval_of(&tv[0], &cur.st_atim);
			timeval_of(&tv[1], &cur.st_mtim);
		}
		gettimeofday(&now, NULL);
		if (to_set & PODFS_SET_ATIME_NOW)
			tv[0] = now;
		else if (to_set & PODFS_SET_ATIME)
			timeval_of(&tv[0], &attr->st_atim);
		if (to_set & PODFS_SET_MTIME_NOW)
			tv[1] = now;
		else if (to_set & PODFS_SET_MTIME)
			timeval_of(&tv[1], &attr->st_mtim);
		ret = nfs_lutimes(c->nfs, path, tv);
		if (ret)
			return call_fail(nb, c, ret, "utimes", path);
	}
	return 0;
}

/* Changes what TO_SET names on C (held), through FH if set. */
static int conn_setattr(struct nfs_be *nb, struct nfs_conn *c,
			struct nfsfh *fh, const char *path,
			const struct stat *attr, int to_set)
{
	const int by_fh = PODFS_SET_SIZE | PODFS_SET_MODE | PODFS_SET_UID |
			  PODFS_SET_GID;
	int ret;

	if (nb->vers == 3) {
		/* libnfs' utimes would drop the nanoseconds */
		if (to_set & ~by_fh) {
			ret = conn_setattr3(nb, c, path, attr, to_set);
			if (ret != -ENOTSUP)
				return ret;
		}
		return conn_setattr_libnfs(nb, c, fh, path, attr, to_set);
	}
	if (!fh)
		return conn_setattr4(nb, c, path, attr, to_set);
	/* An open NFSv4 file: libnfs' calls use its open stateid and work
	 * even once the file is removed; its times go by path. */
	if (to_set & by_fh) {
		ret = conn_setattr_libnfs(nb, c, fh, path, attr,
					  to_set & by_fh);
		if (ret)
			return ret;
	}
	if (to_set & ~by_fh)
		return conn_setattr4(nb, c, path, attr, to_set & ~by_fh);
	return 0;
}

static int nfs_be_setattr(struct podfs_backend *be, struct podfs_bobj *obj,
			  struct podfs_bfile *file, const struct stat *attr,
			  int to_set, struct stat *out)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = file ? FILE_OF(file) : NULL;
	struct stat st;
	struct call k;
	char *path = NULL;
	int ret;

	/* An open file, even one removed meanwhile, needs no path, except
	 * for its times (libnfs 4.0 has no futimes). */
	ret = obj_path(nb, OBJ(obj), NULL, &path);
	if (ret && (!f || (to_set & ~(PODFS_SET_SIZE | PODFS_SET_MODE |
				      PODFS_SET_UID | PODFS_SET_GID))))
		return ret;
	ret = f ? call_begin_file(nb, f, &k) : call_begin(nb, &k);
	if (!ret) {
		do {
			if (f && !f->fh && !path)
				ret = file_lost(nb, f);
			else
				ret = conn_setattr(nb, k.c, f ? f->fh : NULL,
						   path, attr, to_set);
		} while (call_retry(nb, &k, &ret));
		call_end(&k);
	}
	free(path);
	if (!ret && out) {
		ret = nfs_be_getattr(be, obj, file, &st);
		if (!ret)
			*out = st;
	}
	return ret;
}

/* ---- Directories ------------------------------------------------------- */

struct dent {
	char *name;
	struct stat st;
};

static void dents_free(struct dent *d, size_t n)
{
	while (n--)
		free(d[n].name);
	free(d);
}

/* The entries' attributes in flight (dir_stat4). libnfs' callbacks may
 * run after we gave up on a broken connection (when libnfs cancels the
 * calls): each call in flight holds a reference, as does dir_stat4, and
 * the last one frees the batch. */
struct dir_stat {
	struct dir_stat_batch *batch;
	char *path; /* what libnfs was given, kept while it may look */
	struct stat st;
	int err;
	bool done;
};

struct dir_stat_batch {
	size_t refs;
	size_t n;
	struct dir_stat ds[];
};

static void dir_stat_put(struct dir_stat_batch *b)
{
	if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		for (size_t i = 0; i < b->n; i++)
			free(b->ds[i].path);
		free(b);
	}
}

static void dir_stat_done(int err, struct nfs_context *nfs, void *data,
			  void *private_data)
{
	struct dir_stat *ds = private_data;

	(void)nfs;
	ds->err = err;
	if (!err)
		stat_from_nfs(&ds->st, data);
	ds->done = true;
	dir_stat_put(ds->batch);
}

/* Calls in flight at once: enough to hide the round trip. */
#define DIR_STAT_WINDOW 64

/*
 * The attributes of every entry D[0..*N) of directory PATH, on C (held),
 * for NFSv4, whose libnfs 4.0 READDIR gives no usable fileid. The LOOKUPs
 * go out together, DIR_STAT_WINDOW at a time, not one round trip after
 * another. Entries removed meanwhile are dropped (*N shrinks).
 */
static int dir_stat4(struct nfs_be *nb, struct nfs_conn *c, const char *path,
		     struct dent *d, size_t *n)
{
	struct rpc_context *rpc = nfs_get_rpc_context(c->nfs);
	size_t next = 0, done = 0, i, kept;
	struct dir_stat_batch *b;
	struct dir_stat *ds;
	int ret = 0;

	if (!*n)
		return 0;
	b = calloc(1, sizeof(*b) + *n * sizeof(b->ds[0]));
	if (!b)
		return be_fail(nb, ENOMEM, "out of memory");
	b->refs = 1;
	b->n = *n;
	ds = b->ds;
	while (done < *n) {
		while (next < *n && next - done < DIR_STAT_WINDOW) {
			ds[next].batch = b;
			if (asprintf(&ds[next].path, "%s/%s",
				     strcmp(path, "/") ? path : "",
				     d[next].name) < 0) {
				ds[next].path = NULL;
				ds[next].err = -ENOMEM;
				ds[next++].done = true;
				continue;
			}
			__atomic_add_fetch(&b->refs, 1, __ATOMIC_ACQ_REL);
			if (nfs_lstat64_async(c->nfs, ds[next].path,
					      dir_stat_done, &ds[next])) {
				dir_stat_put(b);
				ds[next].err = -EIO;
				ds[next].done = true;
			}
			next++;
		}
		while (done < next && ds[done].done)
			done++;
		if (done == next)
			continue;
		if (rpc_turn(rpc) < 0) {
			/* calls still queued hold the batch */
			ret = call_fail(nb, c, -EIO, "lstat", path);
			dir_stat_put(b);
			return ret;
		}
	}
	/* in order; -ENOENT: removed meanwhile */
	for (i = kept = 0; i < *n; i++) {
		if (ds[i].err == -ENOENT) {
			free(d[i].name);
			continue;
		}
		if (ds[i].err && !ret)
			ret = ds[i].err == -ENOMEM
				      ? be_fail(nb, ENOMEM, "out of memory")
				      : call_fail(nb, c, ds[i].err, "lstat",
						  ds[i].path);
		d[i].st = ds[i].st;
		d[kept++] = d[i];
	}
	*n = kept;
	dir_stat_put(b);
	return ret;
}

/*
 * Reads DIR (PATH) on C: every entry's name and attributes. NFSv3's
 * READDIRPLUS brings them; libnfs 4.0's NFSv4 entries have no usable
 * fileid (0 or another entry's), so there the entries are looked up
 * (dir_stat4).
 */
static int dir_read(struct nfs_be *nb, struct nfs_conn *c, const char *path,
		    struct dent **out, size_t *count)
{
	struct dent *d = NULL, *bigger;
	size_t n = 0, cap = 0;
	struct nfsdirent *e;
	struct nfsdir *dir;
	int ret;

	ret = nfs_opendir(c->nfs, path, &dir);
	if (ret)
		return call_fail(nb, c, ret, "opendir", path);
	while ((e = nfs_readdir(c->nfs, dir))) {
		if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			bigger = realloc(d, cap * sizeof(*d));
			if (!bigger)
				goto nomem;
			d = bigger;
		}
		d[n].name = strdup(e->name);
		if (!d[n].name)
			goto nomem;
		stat_from_dirent(&d[n].st, e);
		n++;
	}
	nfs_closedir(c->nfs, dir);

	if (nb->vers == 4) {
		ret = dir_stat4(nb, c, path, d, &n);
		if (ret) {
			dents_free(d, n);
			return ret;
		}
	}
	*out = d;
	*count = n;
	return 0;
nomem:
	nfs_closedir(c->nfs, dir);
	dents_free(d, n);
	return be_fail(nb, ENOMEM, "out of memory");
}

static int nfs_be_readdir(struct podfs_backend *be, struct podfs_bobj *dir,
			  podfs_bdirent_cb cb, void *arg)
{
	struct nfs_be *nb = NB(be);
	struct nfs_obj *o;
	struct dent *d = NULL;
	size_t n = 0, i;
	struct call k;
	char *path;
	int ret;

	ret = obj_path(nb, OBJ(dir), NULL, &path);
	if (ret)
		return ret;
	ret = call_begin(nb, &k);
	if (!ret) {
		do
			ret = dir_read(nb, k.c, path, &d, &n);
		while (call_retry(nb, &k, &ret));
		call_end(&k);
	}
	free(path);
	if (ret)
		return ret;
	/* No context held: the callback may call back into us. */
	for (i = 0; i < n && !ret; i++) {
		o = obj_child(nb, OBJ(dir), d[i].name, d[i].st.st_ino);
		ret = cb(arg, d[i].name, o ? &o->b : NULL, &d[i].st);
	}
	dents_free(d, n);
	return ret;
}

static int nfs_be_mkdir(struct podfs_backend *be, struct podfs_bobj *dir,
			const char *name, mode_t mode,
			const struct podfs_cred *cred, struct podfs_bobj **obj,
			struct stat *st)
{
	struct nfs_be *nb = NB(be);
	bool replayed;
	struct call k;
	char *path;
	int ret;

	ret = obj_path(nb, OBJ(dir), name, &path);
	if (ret)
		return ret;
	ret = call_begin(nb, &k);
	if (ret)
		goto out;
	do {
		conn_cred(k.c, cred);
		ret = nfs_mkdir2(k.c->nfs, path, mode & 07777);
		conn_uncred(nb, k.c, cred);
		if (ret)
			ret = call_fail(nb, k.c, ret, "mkdir", path);
	} while (call_retry(nb, &k, &ret));
	/* Made again after a reconnect, a MKDIR the server did before it
	 * went away finds its own directory (its reply cache is gone):
	 * take a directory there as ours, as close as a client can tell. */
	replayed = ret == -EEXIST && k.retries > 0;
	if (!ret || replayed)
		ret = child_lookup_retry(nb, &k, OBJ(dir), name, path, obj, st);
	if (!ret && replayed && !S_ISDIR(st->st_mode)) {
		obj_put(nb, OBJ(*obj));
		ret = be_fail(nb, EEXIST, "mkdir %s: file exists", path);
	}
	call_end(&k);
out:
	free(path);
	return ret;
}

/* Creates PATH on C (held) exclusively unless FLAGS lacks O_EXCL, and
 * opens it. libnfs 4.0's NFSv4 non-exclusive create ignores MODE, so the
 * exclusive form is always tried first; an existing file is then opened
 * when the caller allowed that. */
static int conn_create(struct nfs_be *nb, struct nfs_conn *c, const char *path,
		       int flags, mode_t mode, const struct podfs_cred *cred,
		       struct nfsfh **fh)
{
	int oflags = flags & (O_ACCMODE | O_SYNC);
	int ret;

	conn_cred(c, cred);
	ret = nfs_create(c->nfs, path, oflags | O_CREAT | O_EXCL, mode & 07777,
			 fh);
	conn_uncred(nb, c, cred);
	if (ret == -EEXIST && !(flags & O_EXCL)) {
		ret = nfs_open(c->nfs, path, oflags | (flags & O_TRUNC), fh);
		if (ret)
			return call_fail(nb, c, ret, "open", path);
		return 0;
	}
	if (ret)
		return call_fail(nb, c, ret, "create", path);
	if (nb->vers == 4) {
		/* An NFSv4 exclusive create keeps its verifier in the
		 * times until the client sets them; libnfs 4.0 does not. */
		struct stat now = { .st_mode = 0 };

		ret = conn_setattr4(nb, c, path, &now,
				    PODFS_SET_ATIME_NOW | PODFS_SET_MTIME_NOW);
		if (ret) {
			nfs_close(c->nfs, *fh);
			return ret;
		}
	}
	return 0;
}

static int nfs_be_mknod(struct podfs_backend *be, struct podfs_bobj *dir,
			const char *name, mode_t mode, dev_t rdev,
			const struct podfs_cred *cred, struct podfs_bobj **obj,
			struct stat *st)
{
	struct nfs_be *nb = NB(be);
	struct nfsfh *fh;
	struct call k;
	char *path;
	int ret;

	if (nb->vers == 4 && (S_ISFIFO(mode) || S_ISSOCK(mode)))
		return be_fail(nb, ENOTSUP,
			       "mknod %s: libnfs 4.0 cannot create FIFOs or sockets over NFSv4",
			       name);
	ret = obj_path(nb, OBJ(dir), name, &path);
	if (ret)
		return ret;
	ret = call_begin(nb, &k);
	if (ret)
		goto out;
	do {
		if (S_ISREG(mode) || !(mode & S_IFMT)) {
			/* MKNOD makes special files only. */
			ret = conn_create(nb, k.c, path, O_RDONLY | O_EXCL,
					  mode, cred, &fh);
			if (!ret)
				nfs_close(k.c->nfs, fh);
		} else {
			conn_cred(k.c, cred);
			ret = nfs_mknod(k.c->nfs, path, mode, rdev);
			conn_uncred(nb, k.c, cred);
			if (ret)
				ret = call_fail(nb, k.c, ret, "mknod", path);
		}
	} while (call_retry(nb, &k, &ret));
	if (!ret)
		ret = child_lookup_retry(nb, &k, OBJ(dir), name, path, obj, st);
	call_end(&k);
out:
	free(path);
	return ret;
}

/*
 * libnfs 4.0 encodes a call into a buffer of a fixed 4096 bytes, less the
 * TCP record marker, and cannot send a longer one: a SYMLINK to a target
 * of about 3.9 KiB fails (ENOMEM on NFSv3, EIO on NFSv4) where Linux
 * allows 4095 bytes. The sizes below were measured against it; the RPC
 * header, with libnfs' AUTH_SYS credential ("libnfs", no groups) and
 * verifier, takes 68 bytes.
 */
#define LIBNFS_CALL_ROOM (4096 - 4 - 68)
/* An XDR string or opaque of N bytes: length, data, padding. */
#define XDR_STRING(n) (4 + (((long)(n) + 3) & ~3L))

/* The longest target libnfs 4.0 can send in a SYMLINK of PATH, starting
 * from a handle of FHLEN bytes: NFSv3 the parent's, NFSv4 the mount's
 * root (a LOOKUP of each parent follows). */
static long symlink_max(struct nfs_be *nb, const char *path, size_t fhlen)
{
	const char *name = strrchr(path, '/') + 1, *p, *slash;
	long room = LIBNFS_CALL_ROOM;

	if (nb->vers == 3) {
		/* diropargs3; sattr3 with the mode; the target's length */
		room -= XDR_STRING(fhlen) + XDR_STRING(strlen(name)) + 28 + 4;
	} else {
		/* tag, minor version, op count; PUTFH; LOOKUPs */
		room -= 12 + 4 + XDR_STRING(fhlen);
		for (p = path + 1; p < name; p = slash + 1) {
			slash = strchr(p, '/');
			room -= 4 + XDR_STRING(slash - p);
		}
		/* GETATTR of two bitmap words; CREATE: type, name, no
		 * attributes, the target's length */
		room -= 16 + 4 + 4 + XDR_STRING(strlen(name)) + 8 + 4;
	}
	return room < 0 ? 0 : room & ~3L;
}

/* -ENAMETOOLONG, before libnfs tries, for a TARGET libnfs 4.0 cannot
 * send in a SYMLINK of PATH on C (held). */
static int symlink_fits(struct nfs_be *nb, struct nfs_conn *c,
			const char *path, const char *target)
{
	const struct nfs_fh3 *root =
		podfs_nfs_get_rootfh ? podfs_nfs_get_rootfh(c->nfs) : NULL;
	size_t len = strlen(target);
	struct fh3 fh;
	char *parent;
	long max;
	int ret;

	if (nb->vers == 4) {
		max = symlink_max(nb, path,
				  root ? root->data.data_len : NFS4_FHSIZE);
	} else {
		max = symlink_max(nb, path, NFS3_FHSIZE);
		if ((long)len > max && root) {
			/* the parent's handle may well be shorter: ask */
			parent = strndup(path, strrchr(path, '/') - path);
			if (!parent)
				return be_fail(nb, ENOMEM, "out of memory");
			ret = conn_fh3(nb, c, parent, &fh);
			free(parent);
			if (ret)
				return ret;
			max = symlink_max(nb, path, fh.len);
		}
	}
	if ((long)len <= max)
		return 0;
	return be_fail(nb, ENAMETOOLONG,
		       "symlink %s: a target of %zu bytes is longer than libnfs 4.0 can send (max %ld here)",
		       path, len, max);
}

static int nfs_be_symlink(struct podfs_backend *be, struct podfs_bobj *dir,
			  const char *name, const char *target,
			  const struct podfs_cred *cred,
			  struct podfs_bobj **obj, struct stat *st)
{
	struct nfs_be *nb = NB(be);
	struct call k;
	char *path;
	int ret;

	ret = obj_path(nb, OBJ(dir), name, &path);
	if (ret)
		return ret;
	ret = call_begin(nb, &k);
	if (ret)
		goto out;
	do {
		ret = symlink_fits(nb, k.c, path, target);
		if (ret)
			continue;
		conn_cred(k.c, cred);
		ret = nfs_symlink(k.c->nfs, target, path);
		conn_uncred(nb, k.c, cred);
		if (ret)
			ret = call_fail(nb, k.c, ret, "symlink", path);
	} while (call_retry(nb, &k, &ret));
	if (!ret)
		ret = child_lookup_retry(nb, &k, OBJ(dir), name, path, obj, st);
	call_end(&k);
out:
	free(path);
	return ret;
}

static int file_new(struct nfs_be *nb, struct nfs_conn *c, struct nfsfh *fh,
		    struct nfs_obj *o, int flags, struct podfs_bfile **file)
{
	struct nfs_file *f = calloc(1, sizeof(*f));

	if (!f) {
		nfs_close(c->nfs, fh);
		return be_fail(nb, ENOMEM, "out of memory");
	}
	/* The file holds its object: its name is needed at the last
	 * close of a silly-renamed file. */
	atomic_fetch_add(&o->refs, 1);
	atomic_fetch_add(&o->opens, 1);
	f->f.obj = &o->b;
	f->fh = fh;
	f->conn = (int)(c - nb->conns);
	f->oflags = flags & (O_ACCMODE | O_SYNC);
	f->append = flags & O_APPEND;
	file_share(nb, c, o, fh);
	pthread_mutex_lock(&nb->files_lock);
	f->next = nb->files;
	if (nb->files)
		nb->files->prev = f;
	nb->files = f;
	pthread_mutex_unlock(&nb->files_lock);
	*file = &f->f;
	return 0;
}

static int nfs_be_create(struct podfs_backend *be, struct podfs_bobj *dir,
			 const char *name, mode_t mode, int flags,
			 const struct podfs_cred *cred,
			 struct podfs_bobj **obj, struct stat *st,
			 struct podfs_bfile **file)
{
	struct nfs_be *nb = NB(be);
	struct nfs_stat_64 ns;
	struct nfsfh *fh = NULL;
	struct nfs_obj *o;
	struct call k;
	char *path;
	int ret;

	ret = obj_path(nb, OBJ(dir), name, &path);
	if (ret)
		return ret;
	ret = call_begin(nb, &k);
	if (ret)
		goto out;
	do
		ret = conn_create(nb, k.c, path, flags, mode, cred, &fh);
	while (call_retry(nb, &k, &ret));
	if (ret)
		goto out_call;
	do {
		/* The file exists now: after a reconnect, open it again. */
		if (!fh) {
			ret = nfs_open(k.c->nfs, path,
				       flags & (O_ACCMODE | O_SYNC), &fh);
			if (ret) {
				fh = NULL;
				ret = call_fail(nb, k.c, ret, "open", path);
				continue;
			}
		}
		ret = nfs_fstat64(k.c->nfs, fh, &ns);
		if (ret) {
			ret = call_fail(nb, k.c, ret, "fstat", path);
			nfs_close(k.c->nfs, fh);
			fh = NULL;
		}
	} while (call_retry(nb, &k, &ret));
	if (ret)
		goto out_call;
	stat_from_nfs(st, &ns);
	o = obj_child(nb, OBJ(dir), name, st->st_ino);
	if (!o) {
		nfs_close(k.c->nfs, fh);
		ret = be_fail(nb, ENOMEM, "out of memory");
		goto out_call;
	}
	ret = file_new(nb, k.c, fh, o, flags, file);
	if (ret)
		obj_put(nb, o);
	else
		*obj = &o->b;
out_call:
	call_end(&k);
out:
	free(path);
	return ret;
}

/* Remembers NAME in DIR as another name of O, to fall back on when O's
 * own name goes. Best effort: without it O only goes stale sooner. */
static void obj_add_alias(struct nfs_be *nb, struct nfs_obj *o,
			  struct nfs_obj *dir, const char *name)
{
	struct nfs_alias *a = calloc(1, sizeof(*a));

	if (a)
		a->name = strdup(name);
	if (!a || !a->name) {
		free(a);
		return;
	}
	atomic_fetch_add(&dir->refs, 1);
	a->parent = dir;
	pthread_rwlock_wrlock(&nb->tree);
	a->next = o->aliases;
	o->aliases = a;
	pthread_rwlock_unlock(&nb->tree);
}

static int nfs_be_link(struct podfs_backend *be, struct podfs_bobj *obj,
		       struct podfs_bobj *newdir, const char *newname,
		       struct stat *st)
{
	struct nfs_be *nb = NB(be);
	char *path, *newpath;
	bool replayed;
	struct call k;
	int ret;

	ret = obj_path(nb, OBJ(obj), NULL, &path);
	if (ret)
		return ret;
	ret = obj_path(nb, OBJ(newdir), newname, &newpath);
	if (ret) {
		free(path);
		return ret;
	}
	ret = call_begin(nb, &k);
	if (ret)
		goto out;
	do {
		ret = nfs_link(k.c->nfs, path, newpath);
		if (ret)
			ret = call_fail(nb, k.c, ret, "link", newpath);
	} while (call_retry(nb, &k, &ret));
	/* A LINK replayed after a reconnect finds its own link (mkdir) */
	replayed = ret == -EEXIST && k.retries > 0;
	if (!ret || replayed) {
		do
			ret = conn_lstat(nb, k.c, newpath, st);
		while (call_retry(nb, &k, &ret));
		if (!ret && replayed && st->st_ino != obj->key)
			ret = be_fail(nb, EEXIST, "link %s: file exists",
				      newpath);
	}
	call_end(&k);
	if (!ret)
		obj_add_alias(nb, OBJ(obj), OBJ(newdir), newname);
out:
	free(newpath);
	free(path);
	return ret;
}

/*
 * NFSv3 has no open state: a removed file is gone for its open handles
 * too. Like the kernel's client, an open file that is unlinked or renamed
 * over is renamed to a hidden name instead, and removed at its last close.
 */
static struct nfs_obj *open_child(struct nfs_be *nb, struct nfs_obj *dir,
				  const char *name)
{
	struct nfs_obj *o = NULL;

	if (nb->vers != 3)
		return NULL;
	pthread_rwlock_rdlock(&nb->tree);
	o = index_find(nb, dir, name);
	if (o && (atomic_load(&o->opens) == 0 || !obj_tryget(o)))
		o = NULL;
	pthread_rwlock_unlock(&nb->tree);
	return o;
}

static void silly_unlink(struct nfs_be *nb, struct nfs_obj *o)
{
	struct call k;
	char *path;
	int ret;

	if (obj_path(nb, o, NULL, &path))
		return;
	/* best effort, as the kernel's */
	if (!call_begin(nb, &k)) {
		do {
			ret = nfs_unlink(k.c->nfs, path);
			if (ret)
				ret = call_fail(nb, k.c, ret, "unlink", path);
		} while (call_retry(nb, &k, &ret));
		call_end(&k);
	}
	free(path);
	pthread_rwlock_wrlock(&nb->tree);
	index_del(nb, o);
	o->detached = true;
	pthread_rwlock_unlock(&nb->tree);
}

/* A RENAME of PATH to NEWPATH that failed with RET: replayed after a
 * reconnect, one the server did before it went away finds PATH gone
 * (mkdir). Taken as done when PATH is gone and NEWPATH is there. */
static int rename_replayed(struct nfs_be *nb, struct call *k, int ret,
			   const char *path, const char *newpath)
{
	struct stat st;
	int err;

	if (ret != -ENOENT || k->retries == 0)
		return ret;
	do
		err = conn_lstat(nb, k->c, path, &st);
	while (call_retry(nb, k, &err));
	if (err != -ENOENT)
		return ret;
	do
		err = conn_lstat(nb, k->c, newpath, &st);
	while (call_retry(nb, k, &err));
	return err ? ret : 0;
}

/* Moves open O from NAME in DIR to a hidden name there. */
static int silly_rename(struct nfs_be *nb, struct nfs_obj *dir,
			const char *name, struct nfs_obj *o)
{
	struct nfs_obj *old_parent;
	char *path, *spath, *silly;
	struct call k;
	bool closed;
	int ret;

	if (asprintf(&silly, ".podfs-silly-%016llx-%u",
		     (unsigned long long)o->b.key,
		     atomic_fetch_add(&nb->silly_seq, 1)) < 0)
		return be_fail(nb, ENOMEM, "out of memory");
	ret = obj_path(nb, dir, name, &path);
	if (!ret) {
		ret = obj_path(nb, dir, silly, &spath);
		if (ret)
			free(path);
	}
	if (ret) {
		free(silly);
		return ret;
	}
	ret = call_begin(nb, &k);
	if (!ret) {
		do {
			ret = nfs_rename(k.c->nfs, path, spath);
			if (ret)
				ret = call_fail(nb, k.c, ret, "rename", path);
		} while (call_retry(nb, &k, &ret));
		ret = rename_replayed(nb, &k, ret, path, spath);
		call_end(&k);
	}
	free(spath);
	free(path);
	if (ret) {
		free(silly);
		return ret;
	}
	pthread_rwlock_wrlock(&nb->tree);
	old_parent = obj_move(nb, o, dir, silly);
	o->silly = true;
	closed = atomic_load(&o->opens) == 0; /* closed meanwhile */
	if (closed)
		o->silly = false;
	pthread_rwlock_unlock(&nb->tree);
	obj_put(nb, old_parent);
	if (closed)
		silly_unlink(nb, o);
	return 0;
}

static int remove_name(struct nfs_be *nb, struct nfs_obj *dir,
		       const char *name, bool is_dir)
{
	struct nfs_obj *open;
	struct call k;
	char *path;
	int ret;

	if (!is_dir && (open = open_child(nb, dir, name))) {
		ret = silly_rename(nb, dir, name, open);
		obj_put(nb, open);
		return ret;
	}
	ret = obj_path(nb, dir, name, &path);
	if (ret)
		return ret;
	ret = call_begin(nb, &k);
	if (ret)
		goto out;
	if (nb->vers == 4) {
		/* NFSv4 has one REMOVE for every type, and libnfs 4.0 sends
		 * it for both: look first. Racy against other clients. */
		struct stat st;

		do
			ret = conn_lstat(nb, k.c, path, &st);
		while (call_retry(nb, &k, &ret));
		if (!ret && is_dir && !S_ISDIR(st.st_mode))
			ret = be_fail(nb, ENOTDIR, "rmdir %s: not a directory",
				      path);
		else if (!ret && !is_dir && S_ISDIR(st.st_mode))
			ret = be_fail(nb, EISDIR, "unlink %s: is a directory",
				      path);
		if (ret)
			goto out_call;
		k.retries = 0;
	}
	do {
		ret = is_dir ? nfs_rmdir(k.c->nfs, path) :
			       nfs_unlink(k.c->nfs, path);
		if (ret)
			ret = call_fail(nb, k.c, ret,
					is_dir ? "rmdir" : "unlink", path);
	} while (call_retry(nb, &k, &ret));
	/* A REMOVE replayed after a reconnect finds its own work done
	 * (mkdir). */
	if (ret == -ENOENT && k.retries > 0)
		ret = 0;
out_call:
	call_end(&k);
out:
	free(path);
	if (!ret)
		obj_gone(nb, dir, name);
	return ret;
}

static int nfs_be_unlink(struct podfs_backend *be, struct podfs_bobj *dir,
			 const char *name)
{
	return remove_name(NB(be), OBJ(dir), name, false);
}

static int nfs_be_rmdir(struct podfs_backend *be, struct podfs_bobj *dir,
			const char *name)
{
	return remove_name(NB(be), OBJ(dir), name, true);
}

static int nfs_be_rename(struct podfs_backend *be, struct podfs_bobj *dir,
			 const char *name, struct podfs_bobj *newdir,
			 const char *newname, unsigned int flags)
{
	struct nfs_be *nb = NB(be);
	struct nfs_obj *moved, *victim, *old_parent = NULL, *victim_put = NULL;
	struct nfs_stat_64 ns;
	char *path, *newpath, *name_copy;
	struct call k;
	int ret;

	if (flags & ~PODFS_RENAME_NOREPLACE)
		return be_fail(nb, EINVAL, "rename %s: unsupported flags %#x",
			       name, flags);
	if (!(flags & PODFS_RENAME_NOREPLACE) &&
	    (victim = open_child(nb, OBJ(newdir), newname))) {
		bool same; /* two links of one file: rename does nothing */

		pthread_rwlock_rdlock(&nb->tree);
		same = index_find(nb, OBJ(dir), name) == victim;
		pthread_rwlock_unlock(&nb->tree);
		ret = same ? 0 : silly_rename(nb, OBJ(newdir), newname, victim);
		obj_put(nb, victim);
		if (ret)
			return ret;
	}
	name_copy = strdup(newname);
	if (!name_copy)
		return be_fail(nb, ENOMEM, "out of memory");
	ret = obj_path(nb, OBJ(dir), name, &path);
	if (ret) {
		free(name_copy);
		return ret;
	}
	ret = obj_path(nb, OBJ(newdir), newname, &newpath);
	if (ret) {
		free(name_copy);
		free(path);
		return ret;
	}
	ret = call_begin(nb, &k);
	if (ret)
		goto out;
	if (flags & PODFS_RENAME_NOREPLACE) {
		/* NFS has no such rename: look first. Racy against other
		 * clients creating NEWNAME in between. */
		do {
			ret = nfs_lstat64(k.c->nfs, newpath, &ns);
			if (!ret)
				ret = be_fail(nb, EEXIST,
					      "rename to %s: file exists",
					      newpath);
			else if (ret == -ENOENT)
				ret = 0;
			else
				ret = call_fail(nb, k.c, ret, "lstat", newpath);
		} while (call_retry(nb, &k, &ret));
		k.retries = 0;
	}
	if (!ret) {
		do {
			ret = nfs_rename(k.c->nfs, path, newpath);
			if (ret)
				ret = call_fail(nb, k.c, ret, "rename", path);
		} while (call_retry(nb, &k, &ret));
		ret = rename_replayed(nb, &k, ret, path, newpath);
	}
	call_end(&k);
out:
	free(newpath);
	free(path);
	if (ret) {
		free(name_copy);
		return ret;
	}

	pthread_rwlock_wrlock(&nb->tree);
	moved = index_find(nb, OBJ(dir), name);
	victim = index_find(nb, OBJ(newdir), newname);
	if (victim && victim != moved)
		victim_put = obj_unname(nb, victim);
	if (moved) {
		/* Its descendants follow through their parent pointers. */
		old_parent = obj_move(nb, moved, OBJ(newdir), name_copy);
		name_copy = NULL;
	}
	pthread_rwlock_unlock(&nb->tree);
	free(name_copy);
	obj_put(nb, old_parent);
	obj_put(nb, victim_put);
	return 0;
}

static ssize_t nfs_be_readlink(struct podfs_backend *be, struct podfs_bobj *obj,
			       char *buf, size_t size)
{
	struct nfs_be *nb = NB(be);
	char *path, *target = NULL;
	size_t len = 0;
	struct call k;
	int ret;

	ret = obj_path(nb, OBJ(obj), NULL, &path);
	if (ret)
		return ret;
	ret = call_begin(nb, &k);
	if (ret)
		goto out;
	do {
		if (nb->vers == 4) {
			/* libnfs 4.0's would read past the target */
			ret = conn_readlink4(nb, k.c, path, &target, &len);
			continue;
		}
		ret = nfs_readlink2(k.c->nfs, path, &target);
		if (ret)
			ret = call_fail(nb, k.c, ret, "readlink", path);
		else
			len = strlen(target);
	} while (call_retry(nb, &k, &ret));
	call_end(&k);
out:
	free(path);
	if (ret)
		return ret;
	if (size) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(buf, target, n);
		buf[n] = '\0';
	}
	free(target);
	return (ssize_t)len;
}

static int nfs_be_statfs(struct podfs_backend *be, struct podfs_bobj *obj,
			 struct statvfs *st)
{
	struct nfs_be *nb = NB(be);
	struct nfs_statvfs_64 sv;
	struct call k;
	int ret;

	(void)obj; /* one file system: ask at the root, never stale */
	ret = call_begin(nb, &k);
	if (ret)
		return ret;
	do {
		ret = nfs_statvfs64(k.c->nfs, "/", &sv);
		if (ret)
			ret = call_fail(nb, k.c, ret, "statvfs", "/");
	} while (call_retry(nb, &k, &ret));
	call_end(&k);
	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	st->f_bsize = sv.f_bsize;
	st->f_frsize = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
	st->f_blocks = sv.f_blocks;
	st->f_bfree = sv.f_bfree;
	st->f_bavail = sv.f_bavail;
	st->f_files = sv.f_files;
	st->f_ffree = sv.f_ffree;
	st->f_favail = sv.f_favail;
	st->f_fsid = sv.f_fsid;
	st->f_flag = sv.f_flag;
	st->f_namemax = sv.f_namemax;
	return 0;
}

/* ---- Open files ------------------------------------------------------------ */

static int nfs_be_open(struct podfs_backend *be, struct podfs_bobj *obj,
		       int flags, struct podfs_bfile **file)
{
	struct nfs_be *nb = NB(be);
	struct nfsfh *fh;
	struct call k;
	char *path;
	int ret;

	ret = obj_path(nb, OBJ(obj), NULL, &path);
	if (ret)
		return ret;
	ret = call_begin(nb, &k);
	if (!ret) {
		/* O_APPEND is ours (see write); libnfs' own only works for
		 * nfs_write. */
		do {
			ret = nfs_open(k.c->nfs, path,
				       flags & (O_ACCMODE | O_TRUNC | O_SYNC),
				       &fh);
			if (ret)
				ret = call_fail(nb, k.c, ret, "open", path);
		} while (call_retry(nb, &k, &ret));
		if (!ret)
			ret = file_new(nb, k.c, fh, OBJ(obj), flags, file);
		call_end(&k);
	}
	free(path);
	return ret;
}

static ssize_t nfs_be_read(struct podfs_backend *be, struct podfs_bfile *file,
			   void *buf, size_t count, off_t off)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = FILE_OF(file);
	size_t done = 0, piece;
	struct call k;
	int ret;

	ret = call_begin_file(nb, f, &k);
	if (ret)
		return ret;
	while (done < count) {
		piece = count - done < nb->rmax ? count - done : nb->rmax;
		call_rearm(nb, &k);
		do {
			if (!f->fh) {
				ret = file_lost(nb, f);
				break;
			}
#ifdef HAVE_LIBNFS_API_V2
			ret = nfs_pread(k.c->nfs, f->fh, (char *)buf + done,
					piece, off + done);
#else
			ret = nfs_pread(k.c->nfs, f->fh, off + done, piece,
					(char *)buf + done);
#endif
			if (ret < 0)
				ret = call_fail(nb, k.c, ret, "read",
						"(open file)");
		} while (call_retry(nb, &k, &ret));
		if (ret <= 0)
			break; /* an error, or the end of the file */
		done += ret;
	}
	call_end(&k);
	return ret < 0 ? ret : (ssize_t)done;
}

static ssize_t nfs_be_write(struct podfs_backend *be, struct podfs_bfile *file,
			    const void *buf, size_t count, off_t off)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = FILE_OF(file);
	struct nfs_stat_64 ns;
	size_t done = 0, piece;
	struct call k;
	int ret;

	ret = call_begin_file(nb, f, &k);
	if (ret)
		return ret;
	if (f->append) {
		/* Atomic against this file's other writers (the context
		 * is held), not against other clients: NFS has no append. */
		do {
			if (!f->fh) {
				ret = file_lost(nb, f);
				break;
			}
			ret = nfs_fstat64(k.c->nfs, f->fh, &ns);
			if (ret)
				ret = call_fail(nb, k.c, ret, "fstat",
						"(open file)");
		} while (call_retry(nb, &k, &ret));
		if (ret) {
			call_end(&k);
			return ret;
		}
		off = (off_t)ns.nfs_size;
	}
	while (done < count) {
		piece = count - done < nb->wmax ? count - done : nb->wmax;
		call_rearm(nb, &k);
		do {
			if (!f->fh) {
				ret = file_lost(nb, f);
				break;
			}
#ifdef HAVE_LIBNFS_API_V2
			ret = nfs_pwrite(k.c->nfs, f->fh,
					 (const char *)buf + done, piece,
					 off + done);
#else
			ret = nfs_pwrite(k.c->nfs, f->fh, off + done, piece,
					 (char *)buf + done);
#endif
			if (ret <= 0)
				ret = call_fail(nb, k.c, ret ? ret : -EIO,
						"write", "(open file)");
		} while (call_retry(nb, &k, &ret));
		if (ret < 0)
			break;
		done += ret;
	}
	if (ret >= 0 && (f->oflags & O_SYNC) && fh_sync_shared(nb, f)) {
		/* The shared handle may write UNSTABLE: commit. */
		call_rearm(nb, &k);
		do {
			if (!f->fh) {
				ret = file_lost(nb, f);
				break;
			}
			ret = nfs_fsync(k.c->nfs, f->fh);
			if (ret)
				ret = call_fail(nb, k.c, ret, "fsync",
						"(open file)");
		} while (call_retry(nb, &k, &ret));
	}
	call_end(&k);
	return ret < 0 ? ret : (ssize_t)done;
}

static int nfs_be_fsync(struct podfs_backend *be, struct podfs_bfile *file,
			int datasync)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = FILE_OF(file);
	struct call k;
	int ret;

	(void)datasync;
	ret = call_begin_file(nb, f, &k);
	if (ret)
		return ret;
	/* libnfs writes UNSTABLE (FILE_SYNC with O_SYNC) and sends COMMIT
	 * here. It does not compare write verifiers, so data lost by a
	 * server reboot between a write and this COMMIT goes unnoticed
	 * (a restarted server process loses nothing: the data is in the
	 * server's page cache). */
	do {
		if (!f->fh) {
			ret = file_lost(nb, f);
			break;
		}
		ret = nfs_fsync(k.c->nfs, f->fh);
		if (ret)
			ret = call_fail(nb, k.c, ret, "fsync", "(open file)");
	} while (call_retry(nb, &k, &ret));
	call_end(&k);
	return ret;
}

static int nfs_be_close(struct podfs_backend *be, struct podfs_bfile *file)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = FILE_OF(file);
	struct nfs_obj *o = OBJ(f->f.obj);
	struct nfs_conn *c = &nb->conns[f->conn];
	bool last_silly, shared;
	int ret = 0;

	/* Waits for the context even on a soft mount: F must go, and
	 * only its context's holder may unlink it (see conn_rebuild). */
	pthread_mutex_lock(&c->lock);
	c->fault = FAULT_NONE;
	pthread_mutex_lock(&nb->files_lock);
	/* A shared handle is closed with the last of its files. */
	shared = f->fh && fh_shared(nb, f, false);
	if (f->prev)
		f->prev->next = f->next;
	else
		nb->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&nb->files_lock);
	if (f->fh && !shared) {
		ret = nfs_close(c->nfs, f->fh);
		if (ret)
			ret = call_fail(nb, c, ret, "close", "(open file)");
		/* Not retried: on a lost connection the server forgot the
		 * open anyway (restart) or will (lease). */
		if (c->fault != FAULT_NONE)
			ret = 0;
	}
	pthread_mutex_unlock(&c->lock);
	free(f);
	pthread_rwlock_wrlock(&nb->tree);
	last_silly = atomic_fetch_sub(&o->opens, 1) == 1 && o->silly;
	if (last_silly)
		o->silly = false;
	pthread_rwlock_unlock(&nb->tree);
	if (last_silly)
		silly_unlink(nb, o);
	obj_put(nb, o);
	return ret;
}

const struct podfs_backend_ops podfs_nfs_backend = {
	.version = PODFS_BACKEND_OPS_VERSION,
	.name = "nfs",
	.attach = nfs_be_attach,
	.detach = nfs_be_detach,
	.root = nfs_be_root,
	.lookup = nfs_be_lookup,
	.merge = nfs_be_merge,
	.put = nfs_be_put,
	.getattr = nfs_be_getattr,
	.setattr = nfs_be_setattr,
	.readdir = nfs_be_readdir,
	.mkdir = nfs_be_mkdir,
	.mknod = nfs_be_mknod,
	.symlink = nfs_be_symlink,
	.create = nfs_be_create,
	.link = nfs_be_link,
	.unlink = nfs_be_unlink,
	.rmdir = nfs_be_rmdir,
	.rename = nfs_be_rename,
	.readlink = nfs_be_readlink,
	.statfs = nfs_be_statfs,
	.open = nfs_be_open,
	.read = nfs_be_read,
	.write = nfs_be_write,
	.fsync = nfs_be_fsync,
	.close = nfs_be_close,
	/* xattrs: NFSv3 has none, libnfs 4.0 none for NFSv4. */
};
