/*
 * The NFS backend: podfs_backend_ops on libnfs' high-level, path-based API,
 * over a pool of nconnect connections. Objects are (parent, name) pairs;
 * every call builds the object's path from the export's root.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <nfsc/libnfs-raw-nfs4.h>

#include "backend.h"
#include "podfs-private.h"

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

/* One libnfs context: not thread-safe, so one caller at a time. */
struct nfs_conn {
	pthread_mutex_t lock;
	struct nfs_context *nfs;
	bool mounted;
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

/* An open file: its handle belongs to the context that opened it. */
struct nfs_file {
	struct podfs_bfile f;
	struct nfsfh *fh;
	int conn;
	bool append;
	struct nfs_file *prev, *next;
};

struct nfs_be {
	struct podfs_backend be;
	char *prefix; /* "nfs://server/path", for messages */
	char *server;
	char *export; /* the mounted path, for our own NFSv4 compounds */
	int vers;
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

/* A libnfs call on C failed with RET: records why, returns -errno. */
static int call_fail(struct nfs_be *nb, struct nfs_conn *c, int ret,
		     const char *what, const char *path)
{
	const char *msg = nfs_get_error(c->nfs);
	int err = ret;

	if (!msg)
		msg = "unknown error";
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

/* ---- Connections ----------------------------------------------------- */

/* Any free context, else waits for one (round-robin start). */
static struct nfs_conn *conn_get(struct nfs_be *nb)
{
	unsigned int start = atomic_fetch_add(&nb->next_conn, 1) % nb->nconn;
	struct nfs_conn *c;
	int i;

	for (i = 0; i < nb->nconn; i++) {
		c = &nb->conns[(start + i) % nb->nconn];
		if (pthread_mutex_trylock(&c->lock) == 0)
			return c;
	}
	c = &nb->conns[start];
	pthread_mutex_lock(&c->lock);
	return c;
}

static void conn_put(struct nfs_conn *c)
{
	pthread_mutex_unlock(&c->lock);
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

/* Sets up C's context: a unique NFSv4 client, version, ports (libnfs 4.0
 * only takes those through URL arguments), bounded timeout. */
static int conn_init(struct nfs_be *nb, const struct podfs_config *cfg,
		     struct nfs_conn *c)
{
	char url[1024], name[64], uuid[37];
	const char *path = cfg->path;
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
	if (cfg->vers == 4) {
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

	/* Only the path part of the URL is parsed by libnfs; one with '?'
	 * or '&' would be split, and it is not used anyway. */
	if (strpbrk(path, "?&"))
		path = "/";
	n = snprintf(url, sizeof(url), "nfs://%s%s%s%s?version=%d",
		     strchr(cfg->server, ':') ? "[" : "", cfg->server,
		     strchr(cfg->server, ':') ? "]" : "", path, cfg->vers);
	if (cfg->port > 0)
		n += snprintf(url + n, sizeof(url) - n, "&nfsport=%d",
			      cfg->port);
	if (cfg->mountport > 0 && cfg->vers == 3)
		n += snprintf(url + n, sizeof(url) - n, "&mountport=%d",
			      cfg->mountport);
	if ((size_t)n >= sizeof(url))
		return be_fail(nb, EINVAL, "server name or path too long");
	u = nfs_parse_url_dir(c->nfs, url);
	if (!u)
		return be_fail(nb, EINVAL, "libnfs refused %s: %s", url,
			       nfs_get_error(c->nfs));
	nfs_destroy_url(u);
	if (nfs_set_version(c->nfs, cfg->vers))
		return be_fail(nb, EINVAL, "NFS version %d: %s", cfg->vers,
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
		if (conn_init(nb, cfg, &c))
			break;
		if (!nfs_mount(c.nfs, cfg->server, prefix)) {
			const char *rest = cfg->path + strlen(prefix);

			if (!strcmp(prefix, "/"))
				rest = cfg->path;
			err = nfs_lstat64(c.nfs, rest, &ns);
			nfs_destroy_context(c.nfs);
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
		nfs_destroy_context(c.nfs);
		c.nfs = NULL;
	}
	if (c.nfs)
		nfs_destroy_context(c.nfs);
	free(prefix);
	return be_fail(nb, ENOENT, "export %s not found on server %s%s",
		       cfg->path, cfg->server,
		       denied ? " (or not exported to this client)" : "");
}

/* Why did nfs_mount fail with RET? Connection problems first. */
static int mount_fail(struct nfs_be *nb, const struct podfs_config *cfg,
		      struct nfs_conn *c, int ret)
{
	char why[512];
	int ports[2], nports = 0, i, err;

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

	/* libnfs only says "nfs_service failed": find out ourselves. */
	if (cfg->vers == 3) {
		ports[nports++] = cfg->mountport > 0 ? cfg->mountport : 111;
		if (cfg->port > 0)
			ports[nports++] = cfg->port;
	} else {
		ports[nports++] = cfg->port > 0 ? cfg->port : 2049;
	}
	for (i = 0; i < nports; i++) {
		err = tcp_probe(cfg->server, ports[i], nb->timeout_ms);
		if (err == -EHOSTUNREACH)
			return be_fail(nb, EHOSTUNREACH,
				       "cannot resolve server name %s",
				       cfg->server);
		if (err == -ECONNREFUSED)
			return be_fail(nb, ECONNREFUSED,
				       "cannot connect to server %s port %d: connection refused",
				       cfg->server, ports[i]);
		if (err == -ETIMEDOUT)
			return be_fail(nb, ETIMEDOUT,
				       "cannot connect to server %s port %d: no answer within %d s",
				       cfg->server, ports[i],
				       nb->timeout_ms / 1000);
		if (err)
			return be_fail(nb, -err,
				       "cannot connect to server %s port %d: %s",
				       cfg->server, ports[i], strerror(-err));
	}
	if (ret >= 0 || ret == -EPERM)
		ret = -EIO;
	return be_fail(nb, ret, "mount of %s on server %s failed: %s",
		       cfg->path, cfg->server, why);
}

static int conn_open(struct nfs_be *nb, const struct podfs_config *cfg,
		     struct nfs_conn *c)
{
	int ret;

	ret = conn_init(nb, cfg, c);
	if (ret)
		return ret;
	ret = nfs_mount(c->nfs, cfg->server, cfg->path);
	if (ret)
		return mount_fail(nb, cfg, c, ret);
	c->mounted = true;
	/* hard (default): wait for the server for ever, and let libnfs
	 * reconnect, like the kernel's client; soft: give up after
	 * timeo * (retrans + 1). */
	nfs_set_timeout(c->nfs, cfg->soft ? nb->timeout_ms : -1);
	nfs_set_autoreconnect(c->nfs, -1);
	return 0;
}

static void nfs_be_free(struct nfs_be *nb)
{
	struct nfs_obj *o, *onext;
	struct nfs_file *f, *fnext;
	int i;

	for (f = nb->files; f; f = fnext) {
		fnext = f->next;
		nfs_close(nb->conns[f->conn].nfs, f->fh);
		free(f);
	}
	for (i = 0; nb->conns && i < nb->nconn && nb->conns[i].nfs; i++) {
		if (nb->conns[i].mounted)
			nfs_umount(nb->conns[i].nfs);
		if (nb->conns[i].nfs)
			nfs_destroy_context(nb->conns[i].nfs);
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
	struct nfs_conn *c = conn_get(nb);
	int ret;

	ret = conn_lstat(nb, c, "/", st);
	conn_put(c);
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
	struct nfs_conn *c;
	char *path;
	int ret;

	ret = obj_path(nb, OBJ(dir), name, &path);
	if (ret)
		return ret;
	c = conn_get(nb);
	ret = child_lookup(nb, c, OBJ(dir), name, path, obj, st);
	conn_put(c);
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
	struct nfs_stat_64 ns;
	struct nfs_conn *c;
	char *path;
	int ret;

	if (file) {
		c = &nb->conns[FILE_OF(file)->conn];
		pthread_mutex_lock(&c->lock);
		ret = nfs_fstat64(c->nfs, FILE_OF(file)->fh, &ns);
		if (ret)
			ret = call_fail(nb, c, ret, "fstat", "(open file)");
		else
			stat_from_nfs(st, &ns);
		conn_put(c);
		return ret;
	}
	ret = obj_path(nb, OBJ(obj), NULL, &path);
	if (ret)
		return ret;
	c = conn_get(nb);
	ret = conn_lstat(nb, c, path, st);
	conn_put(c);
	free(path);
	return ret;
}

/* ---- NFSv4 SETATTR by path ------------------------------------------------
 * libnfs 4.0 sets NFSv4 attributes by OPENing the object for a stateid,
 * which fails on directories (NFS4ERR_ISDIR) and symlinks (it follows
 * them), needs permission to open, and cannot set a time to the server's
 * clock. So we send PUTROOTFH, LOOKUP per component, SETATTR ourselves,
 * with the anonymous stateid, through libnfs' raw RPC layer.
 */

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

static int nfs4_errno(nfsstat4 status)
{
	if (status == NFS4ERR_STALE)
		return -ESTALE;
	if (status == NFS4ERR_BADOWNER)
		return -EINVAL;
	if (status == NFS4ERR_NOTSUPP || status == NFS4ERR_ATTRNOTSUPP)
		return -ENOTSUP;
	if (status > 0 && status < 100)
		return -(int)status; /* NFS4ERR_PERM .. match errno */
	return -EIO;
}

struct raw_call {
	bool done;
	int err;
	char msg[256];
};

static void raw_done(struct rpc_context *rpc, int status, void *data,
		     void *private_data)
{
	struct raw_call *rc = private_data;
	COMPOUND4res *res = data;
	nfs_resop4 *last;

	(void)rpc;
	rc->done = true;
	if (status != RPC_STATUS_SUCCESS) {
		rc->err = status == RPC_STATUS_TIMEOUT ? -ETIMEDOUT : -EIO;
		snprintf(rc->msg, sizeof(rc->msg), "%s",
			 status == RPC_STATUS_ERROR && data ? (char *)data :
			 status == RPC_STATUS_TIMEOUT	    ? "timed out" :
							      "cancelled");
		return;
	}
	if (res->status == NFS4_OK)
		return;
	rc->err = nfs4_errno(res->status);
	last = res->resarray.resarray_len ?
		       &res->resarray.resarray_val[res->resarray.resarray_len - 1] :
		       NULL;
	snprintf(rc->msg, sizeof(rc->msg), "NFS4 %s failed with status %d",
		 last && last->resop == OP_LOOKUP  ? "LOOKUP" :
		 last && last->resop == OP_SETATTR ? "SETATTR" :
						     "COMPOUND",
		 (int)res->status);
}

/* Sends ARGS on C (held) and waits for the answer, as libnfs' own
 * synchronous calls do. */
static int raw_compound(struct nfs_conn *c, COMPOUND4args *args,
			struct raw_call *rc)
{
	struct rpc_context *rpc = nfs_get_rpc_context(c->nfs);
	struct pollfd pfd;
	int n;

	if (rpc_nfs4_compound_async(rpc, raw_done, args, rc)) {
		snprintf(rc->msg, sizeof(rc->msg), "%s", nfs_get_error(c->nfs));
		return rc->err = -EIO;
	}
	while (!rc->done) {
		pfd.fd = rpc_get_fd(rpc);
		pfd.events = rpc_which_events(rpc);
		pfd.revents = 0;
		n = poll(&pfd, 1, 100); /* rpc_service also runs timeouts */
		if (n < 0 && errno != EINTR)
			pfd.revents = POLLERR;
		if (rpc_service(rpc, n > 0 ? pfd.revents : 0) < 0 &&
		    !rc->done) {
			snprintf(rc->msg, sizeof(rc->msg), "%s",
				 nfs_get_error(c->nfs));
			return rc->err = -EIO;
		}
	}
	return rc->err;
}

/* SETATTR of PATH (from the export's root) on C (held). */
static int conn_setattr4(struct nfs_be *nb, struct nfs_conn *c,
			 const char *path, const struct stat *attr, int to_set)
{
	uint32_t mask[2] = { 0, 0 };
	struct raw_call rc = { .done = false };
	COMPOUND4args args = { .minorversion = 0 };
	struct xdr_buf x = { .len = 0 };
	nfs_argop4 *ops;
	char *names, *tok, *save = NULL;
	size_t n = 0, max;
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

	if (asprintf(&names, "%s/%s", nb->export, path) < 0)
		return be_fail(nb, ENOMEM, "out of memory");
	max = 2;
	for (tok = names; *tok; tok++)
		max += *tok == '/';
	ops = calloc(max + 1, sizeof(*ops));
	if (!ops) {
		free(names);
		return be_fail(nb, ENOMEM, "out of memory");
	}
	ops[n++].argop = OP_PUTROOTFH;
	for (tok = strtok_r(names, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		ops[n].argop = OP_LOOKUP;
		ops[n].nfs_argop4_u.oplookup.objname.utf8string_len = strlen(tok);
		ops[n].nfs_argop4_u.oplookup.objname.utf8string_val = tok;
		n++;
	}
	ops[n].argop = OP_SETATTR;
	/* stateid left all zeros: the anonymous one */
	ops[n].nfs_argop4_u.opsetattr.obj_attributes.attrmask.bitmap4_len = 2;
	ops[n].nfs_argop4_u.opsetattr.obj_attributes.attrmask.bitmap4_val = mask;
	ops[n].nfs_argop4_u.opsetattr.obj_attributes.attr_vals.attrlist4_len =
		x.len;
	ops[n].nfs_argop4_u.opsetattr.obj_attributes.attr_vals.attrlist4_val =
		x.data;
	n++;
	args.argarray.argarray_len = n;
	args.argarray.argarray_val = ops;

	ret = raw_compound(c, &args, &rc);
	free(ops);
	free(names);
	if (ret)
		return be_fail(nb, ret, "setattr %s: %s", path, rc.msg);
	return 0;
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

	if (nb->vers == 3)
		return conn_setattr_libnfs(nb, c, fh, path, attr, to_set);
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
	struct nfs_conn *c;
	struct stat st;
	char *path = NULL;
	int ret;

	/* An open file, even one removed meanwhile, needs no path, except
	 * for its times (libnfs 4.0 has no futimes). */
	if (!file || (to_set & ~(PODFS_SET_SIZE | PODFS_SET_MODE |
				 PODFS_SET_UID | PODFS_SET_GID))) {
		ret = obj_path(nb, OBJ(obj), NULL, &path);
		if (ret)
			return ret;
	}
	if (file) {
		c = &nb->conns[FILE_OF(file)->conn];
		pthread_mutex_lock(&c->lock);
	} else {
		c = conn_get(nb);
	}
	ret = conn_setattr(nb, c, file ? FILE_OF(file)->fh : NULL, path, attr,
			   to_set);
	conn_put(c);
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

/*
 * Reads DIR (PATH) on C: every entry's name and attributes. NFSv3's
 * READDIRPLUS brings them; libnfs 4.0's NFSv4 entries have no usable
 * fileid (0 or another entry's), so there each entry is looked up.
 */
static int dir_read(struct nfs_be *nb, struct nfs_conn *c, const char *path,
		    struct dent **out, size_t *count)
{
	struct dent *d = NULL, *bigger;
	size_t n = 0, cap = 0, i;
	struct nfsdirent *e;
	struct nfsdir *dir;
	char *child;
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
		for (i = 0; i < n; i++) {
			if (asprintf(&child, "%s/%s", strcmp(path, "/") ? path : "",
				     d[i].name) < 0) {
				dents_free(d, n);
				return be_fail(nb, ENOMEM, "out of memory");
			}
			ret = conn_lstat(nb, c, child, &d[i].st);
			free(child);
			if (ret == -ENOENT) {
				/* removed meanwhile */
				free(d[i].name);
				d[i--] = d[--n];
				continue;
			}
			if (ret) {
				dents_free(d, n);
				return ret;
			}
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
	struct nfs_conn *c;
	struct dent *d = NULL;
	size_t n = 0, i;
	char *path;
	int ret;

	ret = obj_path(nb, OBJ(dir), NULL, &path);
	if (ret)
		return ret;
	c = conn_get(nb);
	ret = dir_read(nb, c, path, &d, &n);
	conn_put(c);
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
	struct nfs_conn *c;
	char *path;
	int ret;

	ret = obj_path(nb, OBJ(dir), name, &path);
	if (ret)
		return ret;
	c = conn_get(nb);
	conn_cred(c, cred);
	ret = nfs_mkdir2(c->nfs, path, mode & 07777);
	conn_uncred(nb, c, cred);
	if (ret)
		ret = call_fail(nb, c, ret, "mkdir", path);
	else
		ret = child_lookup(nb, c, OBJ(dir), name, path, obj, st);
	conn_put(c);
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
	struct nfs_conn *c;
	char *path;
	int ret;

	if (nb->vers == 4 && (S_ISFIFO(mode) || S_ISSOCK(mode)))
		return be_fail(nb, ENOTSUP,
			       "mknod %s: libnfs 4.0 cannot create FIFOs or sockets over NFSv4",
			       name);
	ret = obj_path(nb, OBJ(dir), name, &path);
	if (ret)
		return ret;
	c = conn_get(nb);
	if (S_ISREG(mode) || !(mode & S_IFMT)) {
		/* MKNOD makes special files only. */
		ret = conn_create(nb, c, path, O_RDONLY | O_EXCL, mode, cred,
				  &fh);
		if (!ret)
			nfs_close(c->nfs, fh);
	} else {
		conn_cred(c, cred);
		ret = nfs_mknod(c->nfs, path, mode, rdev);
		conn_uncred(nb, c, cred);
		if (ret)
			ret = call_fail(nb, c, ret, "mknod", path);
	}
	if (!ret)
		ret = child_lookup(nb, c, OBJ(dir), name, path, obj, st);
	conn_put(c);
	free(path);
	return ret;
}

static int nfs_be_symlink(struct podfs_backend *be, struct podfs_bobj *dir,
			  const char *name, const char *target,
			  const struct podfs_cred *cred,
			  struct podfs_bobj **obj, struct stat *st)
{
	struct nfs_be *nb = NB(be);
	struct nfs_conn *c;
	char *path;
	int ret;

	ret = obj_path(nb, OBJ(dir), name, &path);
	if (ret)
		return ret;
	c = conn_get(nb);
	conn_cred(c, cred);
	ret = nfs_symlink(c->nfs, target, path);
	conn_uncred(nb, c, cred);
	if (ret)
		ret = call_fail(nb, c, ret, "symlink", path);
	else
		ret = child_lookup(nb, c, OBJ(dir), name, path, obj, st);
	conn_put(c);
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
	f->append = flags & O_APPEND;
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
	struct nfs_conn *c;
	struct nfs_obj *o;
	struct nfsfh *fh;
	char *path;
	int ret;

	ret = obj_path(nb, OBJ(dir), name, &path);
	if (ret)
		return ret;
	c = conn_get(nb);
	ret = conn_create(nb, c, path, flags, mode, cred, &fh);
	if (ret)
		goto out;
	ret = nfs_fstat64(c->nfs, fh, &ns);
	if (ret) {
		ret = call_fail(nb, c, ret, "fstat", path);
		nfs_close(c->nfs, fh);
		goto out;
	}
	stat_from_nfs(st, &ns);
	o = obj_child(nb, OBJ(dir), name, st->st_ino);
	if (!o) {
		nfs_close(c->nfs, fh);
		ret = be_fail(nb, ENOMEM, "out of memory");
		goto out;
	}
	ret = file_new(nb, c, fh, o, flags, file);
	if (ret)
		obj_put(nb, o);
	else
		*obj = &o->b;
out:
	conn_put(c);
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
	struct nfs_conn *c;
	int ret;

	ret = obj_path(nb, OBJ(obj), NULL, &path);
	if (ret)
		return ret;
	ret = obj_path(nb, OBJ(newdir), newname, &newpath);
	if (ret) {
		free(path);
		return ret;
	}
	c = conn_get(nb);
	ret = nfs_link(c->nfs, path, newpath);
	if (ret)
		ret = call_fail(nb, c, ret, "link", newpath);
	else
		ret = conn_lstat(nb, c, newpath, st);
	conn_put(c);
	free(newpath);
	free(path);
	if (!ret)
		obj_add_alias(nb, OBJ(obj), OBJ(newdir), newname);
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
	struct nfs_conn *c;
	char *path;

	if (obj_path(nb, o, NULL, &path))
		return;
	c = conn_get(nb);
	nfs_unlink(c->nfs, path); /* best effort, as the kernel's */
	conn_put(c);
	free(path);
	pthread_rwlock_wrlock(&nb->tree);
	index_del(nb, o);
	o->detached = true;
	pthread_rwlock_unlock(&nb->tree);
}

/* Moves open O from NAME in DIR to a hidden name there. */
static int silly_rename(struct nfs_be *nb, struct nfs_obj *dir,
			const char *name, struct nfs_obj *o)
{
	struct nfs_obj *old_parent;
	char *path, *spath, *silly;
	struct nfs_conn *c;
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
	c = conn_get(nb);
	ret = nfs_rename(c->nfs, path, spath);
	if (ret)
		ret = call_fail(nb, c, ret, "rename", path);
	conn_put(c);
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
	struct nfs_conn *c;
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
	c = conn_get(nb);
	if (nb->vers == 4) {
		/* NFSv4 has one REMOVE for every type, and libnfs 4.0 sends
		 * it for both: look first. Racy against other clients. */
		struct stat st;

		ret = conn_lstat(nb, c, path, &st);
		if (!ret && is_dir && !S_ISDIR(st.st_mode))
			ret = be_fail(nb, ENOTDIR, "rmdir %s: not a directory",
				      path);
		else if (!ret && !is_dir && S_ISDIR(st.st_mode))
			ret = be_fail(nb, EISDIR, "unlink %s: is a directory",
				      path);
		if (ret) {
			conn_put(c);
			free(path);
			return ret;
		}
	}
	ret = is_dir ? nfs_rmdir(c->nfs, path) : nfs_unlink(c->nfs, path);
	if (ret)
		ret = call_fail(nb, c, ret, is_dir ? "rmdir" : "unlink", path);
	conn_put(c);
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
	struct nfs_conn *c;
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
	c = conn_get(nb);
	if (flags & PODFS_RENAME_NOREPLACE) {
		/* NFS has no such rename: look first. Racy against other
		 * clients creating NEWNAME in between. */
		ret = nfs_lstat64(c->nfs, newpath, &ns);
		if (!ret)
			ret = be_fail(nb, EEXIST, "rename to %s: file exists",
				      newpath);
		else if (ret == -ENOENT)
			ret = 0;
		else
			ret = call_fail(nb, c, ret, "lstat", newpath);
	}
	if (!ret) {
		ret = nfs_rename(c->nfs, path, newpath);
		if (ret)
			ret = call_fail(nb, c, ret, "rename", path);
	}
	conn_put(c);
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
	struct nfs_conn *c;
	char *path, *target = NULL;
	size_t len, max = SIZE_MAX;
	struct stat st;
	int ret;

	ret = obj_path(nb, OBJ(obj), NULL, &path);
	if (ret)
		return ret;
	c = conn_get(nb);
	if (nb->vers == 4) {
		/* libnfs 4.0's NFSv4 READLINK may leave the target without
		 * its NUL: the size tells where it ends. */
		ret = conn_lstat(nb, c, path, &st);
		if (!ret && !S_ISLNK(st.st_mode))
			ret = be_fail(nb, EINVAL, "readlink %s: not a symlink",
				      path);
		if (ret) {
			conn_put(c);
			free(path);
			return ret;
		}
		max = (size_t)st.st_size;
	}
	ret = nfs_readlink2(c->nfs, path, &target);
	if (ret)
		ret = call_fail(nb, c, ret, "readlink", path);
	conn_put(c);
	free(path);
	if (ret)
		return ret;
	len = strnlen(target, max);
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
	struct nfs_conn *c;
	int ret;

	(void)obj; /* one file system: ask at the root, never stale */
	c = conn_get(nb);
	ret = nfs_statvfs64(c->nfs, "/", &sv);
	if (ret)
		ret = call_fail(nb, c, ret, "statvfs", "/");
	conn_put(c);
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
	struct nfs_conn *c;
	struct nfsfh *fh;
	char *path;
	int ret;

	ret = obj_path(nb, OBJ(obj), NULL, &path);
	if (ret)
		return ret;
	c = conn_get(nb);
	/* O_APPEND is ours (see write); libnfs' own only works for
	 * nfs_write. */
	ret = nfs_open(c->nfs, path, flags & (O_ACCMODE | O_TRUNC | O_SYNC),
		       &fh);
	if (ret)
		ret = call_fail(nb, c, ret, "open", path);
	else
		ret = file_new(nb, c, fh, OBJ(obj), flags, file);
	conn_put(c);
	free(path);
	return ret;
}

/* Every call on a file goes through the context that opened it, which
 * also serialises them. */
static struct nfs_conn *file_conn(struct nfs_be *nb, struct nfs_file *f)
{
	struct nfs_conn *c = &nb->conns[f->conn];

	pthread_mutex_lock(&c->lock);
	return c;
}

static ssize_t nfs_be_read(struct podfs_backend *be, struct podfs_bfile *file,
			   void *buf, size_t count, off_t off)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = FILE_OF(file);
	struct nfs_conn *c = file_conn(nb, f);
	size_t done = 0, piece;
	int ret;

	while (done < count) {
		piece = count - done < nb->rmax ? count - done : nb->rmax;
#ifdef HAVE_LIBNFS_API_V2
		ret = nfs_pread(c->nfs, f->fh, (char *)buf + done, piece,
				off + done);
#else
		ret = nfs_pread(c->nfs, f->fh, off + done, piece,
				(char *)buf + done);
#endif
		if (ret < 0) {
			ret = call_fail(nb, c, ret, "read", "(open file)");
			conn_put(c);
			return ret;
		}
		if (ret == 0)
			break; /* end of file */
		done += ret;
	}
	conn_put(c);
	return (ssize_t)done;
}

static ssize_t nfs_be_write(struct podfs_backend *be, struct podfs_bfile *file,
			    const void *buf, size_t count, off_t off)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = FILE_OF(file);
	struct nfs_conn *c = file_conn(nb, f);
	struct nfs_stat_64 ns;
	size_t done = 0, piece;
	int ret;

	if (f->append) {
		/* Atomic against this file's other writers (the context
		 * is held), not against other clients: NFS has no append. */
		ret = nfs_fstat64(c->nfs, f->fh, &ns);
		if (ret) {
			ret = call_fail(nb, c, ret, "fstat", "(open file)");
			conn_put(c);
			return ret;
		}
		off = (off_t)ns.nfs_size;
	}
	while (done < count) {
		piece = count - done < nb->wmax ? count - done : nb->wmax;
#ifdef HAVE_LIBNFS_API_V2
		ret = nfs_pwrite(c->nfs, f->fh, (const char *)buf + done, piece,
				 off + done);
#else
		ret = nfs_pwrite(c->nfs, f->fh, off + done, piece,
				 (char *)buf + done);
#endif
		if (ret <= 0) {
			ret = call_fail(nb, c, ret ? ret : -EIO, "write",
					"(open file)");
			conn_put(c);
			return ret;
		}
		done += ret;
	}
	conn_put(c);
	return (ssize_t)done;
}

static int nfs_be_fsync(struct podfs_backend *be, struct podfs_bfile *file,
			int datasync)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = FILE_OF(file);
	struct nfs_conn *c = file_conn(nb, f);
	int ret;

	(void)datasync;
	/* libnfs writes UNSTABLE (FILE_SYNC with O_SYNC) and sends COMMIT
	 * here. It does not compare write verifiers, so data lost by a
	 * server reboot between a write and this COMMIT goes unnoticed. */
	ret = nfs_fsync(c->nfs, f->fh);
	if (ret)
		ret = call_fail(nb, c, ret, "fsync", "(open file)");
	conn_put(c);
	return ret;
}

static int nfs_be_close(struct podfs_backend *be, struct podfs_bfile *file)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = FILE_OF(file);
	struct nfs_obj *o = OBJ(f->f.obj);
	struct nfs_conn *c = file_conn(nb, f);
	bool last_silly;
	int ret;

	ret = nfs_close(c->nfs, f->fh);
	if (ret)
		ret = call_fail(nb, c, ret, "close", "(open file)");
	conn_put(c);
	pthread_mutex_lock(&nb->files_lock);
	if (f->prev)
		f->prev->next = f->next;
	else
		nb->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&nb->files_lock);
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
