/*
 * libpodfs core: volumes, error messages, the inode table that turns
 * backend objects into stable inode numbers, open files and directory
 * streams. Every public inode-level call goes through here to one backend
 * op (and, later, through the cache and lock layers first).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "backend.h"
#include "podfs-private.h"

#define MSG_LEN 512

struct podfs_inode {
	uint64_t ino;
	uint64_t nlookup;	/* lookup references held by the caller */
	uint32_t users;		/* calls in flight, open files and dirs */
	struct podfs_bobj *obj; /* NULL once forgotten */
	struct podfs_inode *next_ino, *next_key; /* hash chains */
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
	int error; /* a write error not yet reported by flush/fsync */
	LIST_ENTRY(podfs_file) link; /* the volume's open files */
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
	LIST_ENTRY(podfs_dir) link; /* the volume's open dirs */
};

struct podfs_volume {
	pthread_mutex_t lock; /* table, files, msg */
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
};

/* The message of the last failed call of this thread, and its volume. */
static __thread struct {
	const struct podfs_volume *vol;
	bool fresh; /* set since the current call began */
	char msg[MSG_LEN];
} tls_err;

/* ---- errors ------------------------------------------------------------ */

int podfs_set_error(struct podfs_volume *vol, int err, const char *fmt, ...)
{
	va_list ap;

	if (err < 0)
		err = -err;
	va_start(ap, fmt);
	vsnprintf(tls_err.msg, sizeof(tls_err.msg), fmt, ap);
	va_end(ap);
	tls_err.vol = vol;
	tls_err.fresh = true;
	pthread_mutex_lock(&vol->lock);
	memcpy(vol->msg, tls_err.msg, sizeof(vol->msg));
	pthread_mutex_unlock(&vol->lock);
	return -err;
}

/* A message for an error a backend returned without one of its own. */
static int ensure_error(struct podfs_volume *vol, int ret, const char *what)
{
	if (ret >= 0)
		return ret;
	if (tls_err.vol != vol || !tls_err.fresh)
		podfs_set_error(vol, ret, "%s: %s", what, strerror(-ret));
	return ret;
}

PODFS_EXPORT const char *podfs_errmsg(podfs_volume *vol)
{
	if (!vol)
		return "no volume";
	if (tls_err.vol != vol) {
		pthread_mutex_lock(&vol->lock);
		memcpy(tls_err.msg, vol->msg, sizeof(tls_err.msg));
		pthread_mutex_unlock(&vol->lock);
		tls_err.vol = vol;
	}
	return tls_err.msg[0] ? tls_err.msg : "no error";
}

void podfs_free_secret(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* ---- the inode table ---------------------------------------------------- */

static size_t hash64(uint64_t v, size_t nbuckets)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (size_t)v & (nbuckets - 1);
}

static int table_init(struct inode_table *t)
{
	t->nbuckets = 256;
	t->by_ino = calloc(t->nbuckets, sizeof(*t->by_ino));
	t->by_key = calloc(t->nbuckets, sizeof(*t->by_key));
	t->count = 0;
	t->next_ino = PODFS_ROOT_INO;
	if (!t->by_ino || !t->by_key) {
		free(t->by_ino);
		free(t->by_key);
		return -ENOMEM;
	}
	return 0;
}

static void table_link(struct inode_table *t, struct podfs_inode *in)
{
	size_t hi = hash64(in->ino, t->nbuckets);
	size_t hk = hash64(in->obj->key, t->nbuckets);

	in->next_ino = t->by_ino[hi];
	t->by_ino[hi] = in;
	in->next_key = t->by_key[hk];
	t->by_key[hk] = in;
}

/* Doubles the buckets when full; on ENOMEM the chains just get longer. */
static void table_grow(struct inode_table *t)
{
	struct inode_table old = *t;

	if (t->count < t->nbuckets)
		return;
	t->nbuckets = old.nbuckets * 2;
	t->by_ino = calloc(t->nbuckets, sizeof(*t->by_ino));
	t->by_key = calloc(t->nbuckets, sizeof(*t->by_key));
	if (!t->by_ino || !t->by_key) {
		free(t->by_ino);
		free(t->by_key);
		*t = old;
		return;
	}
	for (size_t i = 0; i < old.nbuckets; i++) {
		struct podfs_inode *in = old.by_ino[i], *next;

		for (; in; in = next) {
			next = in->next_ino;
			table_link(t, in);
		}
	}
	free(old.by_ino);
	free(old.by_key);
}

static struct podfs_inode *table_find_ino(struct inode_table *t, uint64_t ino)
{
	struct podfs_inode *in = t->by_ino[hash64(ino, t->nbuckets)];

	while (in && in->ino != ino)
		in = in->next_ino;
	return in;
}

static struct podfs_inode *table_find_key(struct inode_table *t, uint64_t key)
{
	struct podfs_inode *in = t->by_key[hash64(key, t->nbuckets)];

	while (in && in->obj->key != key)
		in = in->next_key;
	return in;
}

static void table_unlink(struct inode_table *t, struct podfs_inode *in)
{
	struct podfs_inode **pp = &t->by_ino[hash64(in->ino, t->nbuckets)];

	while (*pp != in)
		pp = &(*pp)->next_ino;
	*pp = in->next_ino;
	pp = &t->by_key[hash64(in->obj->key, t->nbuckets)];
	while (*pp != in)
		pp = &(*pp)->next_key;
	*pp = in->next_key;
	t->count--;
}

/* Takes a user reference on INO for the length of a call. */
static int inode_get(struct podfs_volume *vol, uint64_t ino,
		     struct podfs_inode **out)
{
	struct podfs_inode *in;

	tls_err.fresh = false;
	if (!vol->be)
		return podfs_set_error(vol, ENOTCONN, "volume is not attached");
	pthread_mutex_lock(&vol->lock);
	in = table_find_ino(&vol->table, ino);
	if (in)
		in->users++;
	pthread_mutex_unlock(&vol->lock);
	if (!in)
		return podfs_set_error(vol, ESTALE,
				       "inode %llu is not known (forgotten?)",
				       (unsigned long long)ino);
	*out = in;
	return 0;
}

/* Drops a user reference (users) or lookup references (nlookup); the
 * inode and its backend object go once both are zero. */
static void inode_release(struct podfs_volume *vol, struct podfs_inode *in,
			  uint32_t users, uint64_t nlookup)
{
	struct podfs_bobj *obj = NULL;

	pthread_mutex_lock(&vol->lock);
	in->users -= users;
	in->nlookup = nlookup > in->nlookup ? 0 : in->nlookup - nlookup;
	if (in->users == 0 && in->nlookup == 0 && in->ino != PODFS_ROOT_INO) {
		table_unlink(&vol->table, in);
		obj = in->obj;
	}
	pthread_mutex_unlock(&vol->lock);
	if (obj) {
		vol->ops->put(vol->be, obj);
		free(in);
	}
}

static void inode_put(struct podfs_volume *vol, struct podfs_inode *in)
{
	inode_release(vol, in, 1, 0);
}

static void present_attr(const struct podfs_volume *vol, struct stat *st)
{
	if (vol->cfg.uid >= 0)
		st->st_uid = (uid_t)vol->cfg.uid;
	if (vol->cfg.gid >= 0)
		st->st_gid = (gid_t)vol->cfg.gid;
	if (vol->cfg.umask >= 0)
		st->st_mode &= ~(mode_t)vol->cfg.umask;
}

/* Turns a new backend reference into a lookup reference on an inode:
 * the one that already has OBJ's key, or a new one. Takes OBJ over. With
 * USERS, also takes a user reference (for an open file). */
static int inode_from_obj(struct podfs_volume *vol, struct podfs_bobj *obj,
			  const struct stat *st, uint32_t users,
			  struct podfs_entry *out, struct podfs_inode **inp)
{
	struct podfs_inode *in, *fresh = calloc(1, sizeof(*fresh));

	pthread_mutex_lock(&vol->lock);
	in = table_find_key(&vol->table, obj->key);
	if (in) {
		in->nlookup++;
		in->users += users;
		vol->ops->merge(vol->be, in->obj, obj);
	} else if (fresh) {
		in = fresh;
		fresh = NULL;
		in->ino = vol->table.next_ino++;
		in->nlookup = 1;
		in->users = users;
		in->obj = obj;
		table_link(&vol->table, in);
		vol->table.count++;
		table_grow(&vol->table);
	}
	pthread_mutex_unlock(&vol->lock);
	free(fresh);
	if (!in) {
		vol->ops->put(vol->be, obj);
		return podfs_set_error(vol, ENOMEM, "out of memory");
	}
	if (out) {
		out->ino = in->ino;
		out->attr = *st;
		present_attr(vol, &out->attr);
	}
	if (inp)
		*inp = in;
	return 0;
}

/* ---- volumes ------------------------------------------------------------ */

static const struct podfs_backend_ops *backend_for(enum podfs_kind kind)
{
	switch (kind) {
#ifdef HAVE_NFS
	case PODFS_KIND_NFS:
		return &podfs_nfs_backend;
#endif
#ifdef HAVE_CEPH
	case PODFS_KIND_CEPH:
		return &podfs_ceph_backend;
#endif
	default:
		return NULL;
	}
}

PODFS_EXPORT podfs_volume *podfs_new(void)
{
	struct podfs_volume *vol = calloc(1, sizeof(*vol));

	if (!vol)
		return NULL;
	pthread_mutex_init(&vol->lock, NULL);
	podfs_config_init(&vol->cfg);
	LIST_INIT(&vol->files);
	LIST_INIT(&vol->dirs);
	return vol;
}

PODFS_EXPORT int podfs_set_secret(podfs_volume *vol, const char *key)
{
	char *copy;

	if (!key || !*key)
		return podfs_set_error(vol, EINVAL, "empty secret");
	if (vol->be)
		return podfs_set_error(vol, EBUSY,
				       "set the secret before attaching");
	copy = strdup(key);
	if (!copy)
		return podfs_set_error(vol, ENOMEM, "out of memory");
	podfs_free_secret(vol->secret);
	vol->secret = copy;
	return 0;
}

PODFS_EXPORT int podfs_parse(podfs_volume *vol, const char *source,
			     const char *options)
{
	char err[MSG_LEN - 64];
	int ret;

	if (vol->be)
		return podfs_set_error(vol, EBUSY, "volume is attached");
	podfs_config_free(&vol->cfg);
	err[0] = '\0';
	ret = podfs_config_parse(&vol->cfg, source, options, err, sizeof(err));
	if (ret == -ENOMEM)
		return podfs_set_error(vol, ENOMEM, "out of memory");
	if (ret)
		return podfs_set_error(vol, ret, "%s", err);
	if (!backend_for(vol->cfg.kind))
		return podfs_set_error(vol, EPROTONOSUPPORT,
				       "'%s': this libpodfs was built without "
				       "the %s backend",
				       source,
				       vol->cfg.kind == PODFS_KIND_NFS ? "NFS"
								      : "CephFS");
	return 0;
}

PODFS_EXPORT const char *podfs_backend_name(podfs_volume *vol)
{
	switch (vol->cfg.kind) {
	case PODFS_KIND_NFS:
		return "nfs";
	case PODFS_KIND_CEPH:
		return "ceph";
	default:
		return NULL;
	}
}

PODFS_EXPORT int podfs_set_invalidate(podfs_volume *vol,
				      podfs_invalidate_fn fn, void *arg)
{
	if (vol->be)
		return podfs_set_error(vol, EBUSY, "set the invalidate "
				       "callback before attaching");
	vol->inval_fn = fn;
	vol->inval_arg = arg;
	return 0;
}

PODFS_EXPORT int podfs_coherent(podfs_volume *vol)
{
	return vol->be && vol->be->coherent;
}

PODFS_EXPORT int podfs_stats(podfs_volume *vol, struct podfs_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!vol->be)
		return podfs_set_error(vol, EINVAL, "the volume is not attached");
	if (vol->ops->stats)
		vol->ops->stats(vol->be, st);
	return 0;
}

bool podfs_wants_invalidate(const struct podfs_volume *vol)
{
	return vol->inval_fn != NULL;
}

void podfs_invalidate(struct podfs_volume *vol, uint64_t key, off_t off,
		      off_t len)
{
	struct podfs_inode *in;
	uint64_t ino = 0;

	pthread_mutex_lock(&vol->lock);
	if (vol->inval_on) {
		in = table_find_key(&vol->table, key);
		if (in)
			ino = in->ino;
	}
	pthread_mutex_unlock(&vol->lock);
	/* an inode the caller never got can't be cached there */
	if (ino)
		vol->inval_fn(vol->inval_arg, ino, off, len);
}

PODFS_EXPORT int podfs_attach(podfs_volume *vol, const char *source,
			      const char *options)
{
	const struct podfs_backend_ops *ops;
	struct podfs_backend *be = NULL;
	struct podfs_inode *root;
	struct podfs_bobj *obj;
	struct stat st;
	int ret;

	ret = podfs_parse(vol, source, options);
	if (ret)
		return ret;
	ops = backend_for(vol->cfg.kind);
	ret = table_init(&vol->table);
	if (ret)
		return podfs_set_error(vol, ret, "out of memory");
	vol->cfg.secret = vol->secret;
	tls_err.fresh = false;
	ret = ops->attach(&vol->cfg, vol, &be);
	vol->cfg.secret = NULL;
	if (ret)
		goto fail;
	ret = ops->root(be, &obj, &st);
	if (ret)
		goto fail_detach;
	root = calloc(1, sizeof(*root));
	if (!root) {
		ops->put(be, obj);
		ret = podfs_set_error(vol, ENOMEM, "out of memory");
		goto fail_detach;
	}
	root->ino = vol->table.next_ino++;
	root->nlookup = 1;
	root->obj = obj;
	/* from here a backend's thread may look keys up (podfs_invalidate) */
	pthread_mutex_lock(&vol->lock);
	table_link(&vol->table, root);
	vol->table.count++;
	vol->ops = ops;
	vol->be = be;
	vol->inval_on = vol->inval_fn != NULL;
	pthread_mutex_unlock(&vol->lock);
	return 0;

fail_detach:
	ops->detach(be);
fail:
	free(vol->table.by_ino);
	free(vol->table.by_key);
	memset(&vol->table, 0, sizeof(vol->table));
	return ensure_error(vol, ret, vol->cfg.source);
}

PODFS_EXPORT int podfs_detach(podfs_volume *vol)
{
	int first = 0;

	if (!vol || !vol->be)
		return 0;
	pthread_mutex_lock(&vol->lock);
	vol->inval_on = false; /* the table goes, the backend's threads stay */
	pthread_mutex_unlock(&vol->lock);
	while (!LIST_EMPTY(&vol->files)) {
		int ret = podfs_release(vol, LIST_FIRST(&vol->files));

		if (ret && !first)
			first = ret;
	}
	while (!LIST_EMPTY(&vol->dirs))
		podfs_ll_releasedir(vol, LIST_FIRST(&vol->dirs));
	for (size_t i = 0; i < vol->table.nbuckets; i++) {
		struct podfs_inode *in = vol->table.by_ino[i], *next;

		for (; in; in = next) {
			next = in->next_ino;
			vol->ops->put(vol->be, in->obj);
			free(in);
		}
	}
	free(vol->table.by_ino);
	free(vol->table.by_key);
	memset(&vol->table, 0, sizeof(vol->table));
	vol->ops->detach(vol->be);
	vol->be = NULL;
	vol->ops = NULL;
	return first;
}

PODFS_EXPORT void podfs_free(podfs_volume *vol)
{
	if (!vol)
		return;
	podfs_detach(vol);
	podfs_config_free(&vol->cfg);
	podfs_free_secret(vol->secret);
	pthread_mutex_destroy(&vol->lock);
	if (tls_err.vol == vol)
		tls_err.vol = NULL;
	free(vol);
}

/* ---- inode level ---------------------------------------------------------- */

static int check_name(struct podfs_volume *vol, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || strchr(name, '/'))
		return podfs_set_error(vol, EINVAL, "bad file name '%s'",
				       name ? name : "");
	if (n > 255)
		return podfs_set_error(vol, ENAMETOOLONG,
				       "file name '%.40s...' is too long", name);
	return 0;
}

static int check_writable(struct podfs_volume *vol)
{
	if (vol->cfg.readonly)
		return podfs_set_error(vol, EROFS, "%s is mounted read-only",
				       vol->cfg.source);
	return 0;
}

/* PATH's names one by one, for backends without lookup_path. */
static int podfs_ll_lookup_names(struct podfs_volume *vol, uint64_t parent,
				 const char *path, struct podfs_entry *out)
{
	char name[256];
	uint64_t cur = parent;
	const char *p = path;
	size_t len;
	int ret;

	for (;;) {
		len = strcspn(p, "/");
		if (len >= sizeof(name))
			return podfs_set_error(vol, ENAMETOOLONG,
					       "name '%.40s...' is too long", p);
		memcpy(name, p, len);
		name[len] = '\0';
		ret = podfs_ll_lookup(vol, cur, name, out);
		if (cur != parent)
			podfs_ll_forget(vol, cur, 1);
		if (ret || !p[len])
			return ret;
		if (!S_ISDIR(out->attr.st_mode)) {
			podfs_ll_forget(vol, out->ino, 1);
			return podfs_set_error(vol, ENOTDIR,
					       "'%s' in '%s' is not a directory",
					       name, path);
		}
		cur = out->ino;
		p += len + 1;
	}
}

PODFS_EXPORT int podfs_ll_lookup(podfs_volume *vol, uint64_t parent,
				 const char *name, struct podfs_entry *out)
{
	struct podfs_inode *dir;
	struct podfs_bobj *obj;
	struct stat st;
	int ret;

	if (name && (!strcmp(name, ".") || !strcmp(name, "..")))
		return podfs_set_error(vol, EINVAL,
				       "lookup of '%s' is not supported", name);
	ret = check_name(vol, name);
	if (ret)
		return ret;
	ret = inode_get(vol, parent, &dir);
	if (ret)
		return ret;
	ret = vol->ops->lookup(vol->be, dir->obj, name, &obj, &st);
	inode_put(vol, dir);
	if (ret)
		return ensure_error(vol, ret, name);
	return inode_from_obj(vol, obj, &st, 0, out, NULL);
}

int podfs_ll_lookup_path(struct podfs_volume *vol, uint64_t parent,
			 const char *path, struct podfs_entry *out)
{
	struct podfs_inode *dir;
	struct podfs_bobj *obj;
	struct stat st;
	int ret;

	if (!strchr(path, '/') || !vol->ops->lookup_path)
		return podfs_ll_lookup_names(vol, parent, path, out);
	ret = inode_get(vol, parent, &dir);
	if (ret)
		return ret;
	ret = vol->ops->lookup_path(vol->be, dir->obj, path, &obj, &st);
	inode_put(vol, dir);
	if (ret)
		return ensure_error(vol, ret, path);
	return inode_from_obj(vol, obj, &st, 0, out, NULL);
}

PODFS_EXPORT void podfs_ll_forget(podfs_volume *vol, uint64_t ino,
				  uint64_t nlookup)
{
	struct podfs_inode *in;

	if (inode_get(vol, ino, &in))
		return;
	inode_release(vol, in, 1, nlookup);
}

PODFS_EXPORT int podfs_ll_getattr(podfs_volume *vol, uint64_t ino,
				  struct stat *st)
{
	struct podfs_inode *in;
	int ret = inode_get(vol, ino, &in);

	if (ret)
		return ret;
	ret = vol->ops->getattr(vol->be, in->obj, NULL, st);
	inode_put(vol, in);
	if (ret)
		return ensure_error(vol, ret, "getattr");
	present_attr(vol, st);
	return 0;
}

PODFS_EXPORT int podfs_ll_setattr(podfs_volume *vol, uint64_t ino,
				  podfs_file *file, const struct stat *attr,
				  int to_set, struct stat *out)
{
	struct podfs_inode *in;
	struct stat tmp;
	int ret = check_writable(vol);

	if (ret)
		return ret;
	if (to_set & PODFS_SET_SIZE && attr->st_size < 0)
		return podfs_set_error(vol, EINVAL, "negative file size");
	ret = inode_get(vol, ino, &in);
	if (ret)
		return ret;
	ret = vol->ops->setattr(vol->be, in->obj, file ? file->bf : NULL, attr,
				to_set, out ? out : &tmp);
	inode_put(vol, in);
	if (ret)
		return ensure_error(vol, ret, "setattr");
	if (out)
		present_attr(vol, out);
	return 0;
}

/* The shape shared by mkdir, mknod and symlink. */
enum make_kind { MAKE_DIR, MAKE_NOD, MAKE_SYMLINK };

static int make_object(struct podfs_volume *vol, enum make_kind kind,
		       uint64_t parent, const char *name, mode_t mode,
		       dev_t rdev, const char *target,
		       const struct podfs_cred *cred, struct podfs_entry *out)
{
	struct podfs_inode *dir;
	struct podfs_bobj *obj;
	struct stat st;
	int ret = check_writable(vol);

	if (!ret)
		ret = check_name(vol, name);
	if (!ret)
		ret = inode_get(vol, parent, &dir);
	if (ret)
		return ret;
	switch (kind) {
	case MAKE_DIR:
		ret = vol->ops->mkdir(vol->be, dir->obj, name, mode, cred, &obj,
				      &st);
		break;
	case MAKE_NOD:
		ret = vol->ops->mknod
			      ? vol->ops->mknod(vol->be, dir->obj, name, mode,
						rdev, cred, &obj, &st)
			      : podfs_set_error(vol, ENOTSUP,
						"%s: mknod is not supported",
						name);
		break;
	case MAKE_SYMLINK:
		ret = vol->ops->symlink(vol->be, dir->obj, name, target, cred,
					&obj, &st);
		break;
	}
	inode_put(vol, dir);
	if (ret)
		return ensure_error(vol, ret, name);
	return inode_from_obj(vol, obj, &st, 0, out, NULL);
}

PODFS_EXPORT int podfs_ll_mkdir(podfs_volume *vol, uint64_t parent,
				const char *name, mode_t mode,
				const struct podfs_cred *cred,
				struct podfs_entry *out)
{
	return make_object(vol, MAKE_DIR, parent, name, mode, 0, NULL, cred,
			   out);
}

PODFS_EXPORT int podfs_ll_mknod(podfs_volume *vol, uint64_t parent,
				const char *name, mode_t mode, dev_t rdev,
				const struct podfs_cred *cred,
				struct podfs_entry *out)
{
	return make_object(vol, MAKE_NOD, parent, name, mode, rdev, NULL, cred,
			   out);
}

PODFS_EXPORT int podfs_ll_symlink(podfs_volume *vol, uint64_t parent,
				  const char *name, const char *target,
				  const struct podfs_cred *cred,
				  struct podfs_entry *out)
{
	if (!target || !*target)
		return podfs_set_error(vol, EINVAL, "empty symlink target");
	return make_object(vol, MAKE_SYMLINK, parent, name, 0, 0, target, cred,
			   out);
}

static struct podfs_file *file_new(struct podfs_volume *vol,
				   struct podfs_inode *in,
				   struct podfs_bfile *bf, int flags)
{
	struct podfs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->inode = in;
	f->bf = bf;
	f->flags = flags;
	pthread_mutex_lock(&vol->lock);
	LIST_INSERT_HEAD(&vol->files, f, link);
	pthread_mutex_unlock(&vol->lock);
	return f;
}

static int check_open_flags(struct podfs_volume *vol, int flags)
{
	if ((flags & O_ACCMODE) != O_RDONLY || flags & O_TRUNC)
		return check_writable(vol);
	return 0;
}

PODFS_EXPORT int podfs_ll_create(podfs_volume *vol, uint64_t parent,
				 const char *name, mode_t mode, int flags,
				 const struct podfs_cred *cred,
				 struct podfs_entry *out, podfs_file **file)
{
	struct podfs_inode *dir, *in;
	struct podfs_bfile *bf;
	struct podfs_bobj *obj;
	struct stat st;
	int ret = check_writable(vol);

	if (!ret)
		ret = check_name(vol, name);
	if (!ret)
		ret = inode_get(vol, parent, &dir);
	if (ret)
		return ret;
	ret = vol->ops->create(vol->be, dir->obj, name, mode, flags | O_CREAT,
			       cred, &obj, &st, &bf);
	inode_put(vol, dir);
	if (ret)
		return ensure_error(vol, ret, name);
	ret = inode_from_obj(vol, obj, &st, 1, out, &in);
	if (ret) {
		vol->ops->close(vol->be, bf);
		return ret;
	}
	*file = file_new(vol, in, bf, flags & ~(O_CREAT | O_EXCL | O_TRUNC));
	if (!*file) {
		vol->ops->close(vol->be, bf);
		inode_release(vol, in, 1, 1);
		return podfs_set_error(vol, ENOMEM, "out of memory");
	}
	return 0;
}

PODFS_EXPORT int podfs_ll_link(podfs_volume *vol, uint64_t ino,
			       uint64_t newparent, const char *newname,
			       struct podfs_entry *out)
{
	struct podfs_inode *in, *dir;
	struct stat st;
	int ret = check_writable(vol);

	if (!ret)
		ret = check_name(vol, newname);
	if (!ret)
		ret = inode_get(vol, ino, &in);
	if (ret)
		return ret;
	ret = inode_get(vol, newparent, &dir);
	if (ret) {
		inode_put(vol, in);
		return ret;
	}
	ret = vol->ops->link(vol->be, in->obj, dir->obj, newname, &st);
	inode_put(vol, dir);
	if (ret) {
		inode_put(vol, in);
		return ensure_error(vol, ret, newname);
	}
	/* The new name is one more lookup reference on the same inode. */
	pthread_mutex_lock(&vol->lock);
	in->nlookup++;
	pthread_mutex_unlock(&vol->lock);
	out->ino = in->ino;
	out->attr = st;
	present_attr(vol, &out->attr);
	inode_put(vol, in);
	return 0;
}

/* The shape shared by unlink and rmdir. */
static int remove_name(struct podfs_volume *vol, uint64_t parent,
		       const char *name, bool is_dir)
{
	struct podfs_inode *dir;
	int ret = check_writable(vol);

	if (!ret)
		ret = check_name(vol, name);
	if (!ret)
		ret = inode_get(vol, parent, &dir);
	if (ret)
		return ret;
	ret = is_dir ? vol->ops->rmdir(vol->be, dir->obj, name)
		     : vol->ops->unlink(vol->be, dir->obj, name);
	inode_put(vol, dir);
	return ensure_error(vol, ret, name);
}

PODFS_EXPORT int podfs_ll_unlink(podfs_volume *vol, uint64_t parent,
				 const char *name)
{
	return remove_name(vol, parent, name, false);
}

PODFS_EXPORT int podfs_ll_rmdir(podfs_volume *vol, uint64_t parent,
				const char *name)
{
	return remove_name(vol, parent, name, true);
}

PODFS_EXPORT int podfs_ll_rename(podfs_volume *vol, uint64_t parent,
				 const char *name, uint64_t newparent,
				 const char *newname, unsigned flags)
{
	struct podfs_inode *dir, *newdir;
	int ret = check_writable(vol);

	if (!ret)
		ret = check_name(vol, name);
	if (!ret)
		ret = check_name(vol, newname);
	if (!ret && flags & ~PODFS_RENAME_NOREPLACE)
		ret = podfs_set_error(vol, EINVAL, "rename flags %#x", flags);
	if (!ret)
		ret = inode_get(vol, parent, &dir);
	if (ret)
		return ret;
	ret = inode_get(vol, newparent, &newdir);
	if (ret) {
		inode_put(vol, dir);
		return ret;
	}
	ret = vol->ops->rename(vol->be, dir->obj, name, newdir->obj, newname,
			       flags);
	inode_put(vol, newdir);
	inode_put(vol, dir);
	return ensure_error(vol, ret, name);
}

PODFS_EXPORT ssize_t podfs_ll_readlink(podfs_volume *vol, uint64_t ino,
				       char *buf, size_t size)
{
	struct podfs_inode *in;
	ssize_t ret;

	if (size == 0)
		return podfs_set_error(vol, EINVAL, "readlink buffer is empty");
	ret = inode_get(vol, ino, &in);
	if (ret)
		return ret;
	ret = vol->ops->readlink(vol->be, in->obj, buf, size);
	inode_put(vol, in);
	if (ret < 0)
		ensure_error(vol, (int)ret, "readlink");
	return ret;
}

PODFS_EXPORT int podfs_ll_statfs(podfs_volume *vol, uint64_t ino,
				 struct statvfs *st)
{
	struct podfs_inode *in;
	int ret = inode_get(vol, ino, &in);

	if (ret)
		return ret;
	ret = vol->ops->statfs(vol->be, in->obj, st);
	inode_put(vol, in);
	return ensure_error(vol, ret, "statfs");
}

PODFS_EXPORT int podfs_ll_open(podfs_volume *vol, uint64_t ino, int flags,
			       podfs_file **file)
{
	struct podfs_inode *in;
	struct podfs_bfile *bf;
	int ret = check_open_flags(vol, flags);

	if (!ret)
		ret = inode_get(vol, ino, &in);
	if (ret)
		return ret;
	ret = vol->ops->open(vol->be, in->obj, flags & ~(O_CREAT | O_EXCL),
			     &bf);
	if (ret) {
		inode_put(vol, in);
		return ensure_error(vol, ret, "open");
	}
	/* the user reference from inode_get now belongs to the file */
	*file = file_new(vol, in, bf, flags & ~(O_CREAT | O_EXCL | O_TRUNC));
	if (!*file) {
		vol->ops->close(vol->be, bf);
		inode_put(vol, in);
		return podfs_set_error(vol, ENOMEM, "out of memory");
	}
	return 0;
}

/* ---- directories -------------------------------------------------------- */

static int dir_add(struct podfs_dir *d, const char *name,
		   struct podfs_bobj *obj, const struct stat *st)
{
	struct dir_entry *e;

	if (d->count == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct dir_entry *ents = realloc(d->ents, cap * sizeof(*ents));

		if (!ents)
			return -ENOMEM;
		d->ents = ents;
		d->cap = cap;
	}
	e = &d->ents[d->count];
	e->name = strdup(name);
	if (!e->name)
		return -ENOMEM;
	e->st = *st;
	e->obj = obj;
	d->count++;
	return 0;
}

struct dir_fill {
	struct podfs_volume *vol;
	struct podfs_dir *dir;
};

static int dir_collect(void *arg, const char *name, struct podfs_bobj *obj,
		       const struct stat *st)
{
	struct dir_fill *f = arg;
	int ret = dir_add(f->dir, name, obj, st);

	if (ret && obj)
		f->vol->ops->put(f->vol->be, obj);
	return ret;
}

static void dir_free(struct podfs_volume *vol, struct podfs_dir *d)
{
	for (size_t i = 0; i < d->count; i++) {
		if (d->ents[i].obj)
			vol->ops->put(vol->be, d->ents[i].obj);
		free(d->ents[i].name);
	}
	free(d->ents);
	free(d);
}

PODFS_EXPORT int podfs_ll_opendir(podfs_volume *vol, uint64_t ino,
				  podfs_dir **dirp)
{
	struct podfs_dir *d;
	struct dir_fill fill;
	struct stat st;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d)
		return podfs_set_error(vol, ENOMEM, "out of memory");
	ret = inode_get(vol, ino, &d->inode);
	if (ret) {
		free(d);
		return ret;
	}
	ret = vol->ops->getattr(vol->be, d->inode->obj, NULL, &st);
	if (!ret && !S_ISDIR(st.st_mode))
		ret = podfs_set_error(vol, ENOTDIR, "not a directory");
	if (!ret)
		ret = dir_add(d, ".", NULL, &st);
	if (!ret) {
		/* ".." is named but never looked up through here */
		struct stat dotdot = { .st_ino = 1, .st_mode = S_IFDIR | 0755 };

		ret = dir_add(d, "..", NULL, &dotdot);
	}
	fill.vol = vol;
	fill.dir = d;
	if (!ret)
		ret = vol->ops->readdir(vol->be, d->inode->obj, dir_collect,
					&fill);
	if (ret) {
		inode_put(vol, d->inode);
		dir_free(vol, d);
		return ensure_error(vol, ret, "readdir");
	}
	for (size_t i = 0; i < d->count; i++)
		present_attr(vol, &d->ents[i].st);
	pthread_mutex_lock(&vol->lock);
	LIST_INSERT_HEAD(&vol->dirs, d, link);
	pthread_mutex_unlock(&vol->lock);
	*dirp = d;
	return 0;
}

/* A lookup reference for entry E of D, from the object readdir gave. */
static int dir_entry_ref(struct podfs_volume *vol, struct podfs_dir *d,
			 struct dir_entry *e, struct podfs_entry *out)
{
	struct podfs_bobj *obj = e->obj;
	struct stat st;
	int ret;

	if (!obj) {
		ret = vol->ops->lookup(vol->be, d->inode->obj, e->name, &obj,
				       &st);
		if (ret)
			return ensure_error(vol, ret, e->name);
		e->st = st;
		present_attr(vol, &e->st);
	}
	e->obj = NULL;
	return inode_from_obj(vol, obj, &e->st, 0, out, NULL);
}

PODFS_EXPORT int podfs_ll_readdir(podfs_volume *vol, podfs_dir *d, off_t off,
				  int flags, podfs_filldir_t fill, void *arg)
{
	for (size_t i = off < 0 ? 0 : (size_t)off; i < d->count; i++) {
		struct dir_entry *e = &d->ents[i];
		struct podfs_entry ent = { .ino = 0, .attr = e->st };
		bool ref = flags & PODFS_READDIR_PLUS && i >= 2;

		if (ref) {
			int ret = dir_entry_ref(vol, d, e, &ent);

			/* gone since opendir: skip it, as a fresh read would */
			if (ret == -ENOENT)
				continue;
			if (ret)
				return ret;
		}
		if (fill(arg, e->name, &ent, (off_t)(i + 1))) {
			if (ref)
				podfs_ll_forget(vol, ent.ino, 1);
			break;
		}
	}
	return 0;
}

PODFS_EXPORT int podfs_ll_releasedir(podfs_volume *vol, podfs_dir *d)
{
	if (!d)
		return 0;
	pthread_mutex_lock(&vol->lock);
	LIST_REMOVE(d, link);
	pthread_mutex_unlock(&vol->lock);
	inode_put(vol, d->inode);
	dir_free(vol, d);
	return 0;
}

/* ---- extended attributes --------------------------------------------------- */

#define XATTR_CALL(vol, ino, op, what, ...)                                    \
	({                                                                     \
		struct podfs_inode *in_;                                       \
		ssize_t ret_ = inode_get(vol, ino, &in_);                      \
		if (!ret_) {                                                   \
			ret_ = vol->ops->op                                    \
				       ? vol->ops->op(vol->be, in_->obj,       \
						      __VA_ARGS__)             \
				       : -ENOTSUP;                             \
			inode_put(vol, in_);                                   \
			if (ret_ < 0)                                          \
				ensure_error(vol, (int)ret_, what);            \
		}                                                              \
		ret_;                                                          \
	})

PODFS_EXPORT ssize_t podfs_ll_getxattr(podfs_volume *vol, uint64_t ino,
				       const char *name, void *value,
				       size_t size)
{
	return XATTR_CALL(vol, ino, getxattr, name, name, value, size);
}

PODFS_EXPORT int podfs_ll_setxattr(podfs_volume *vol, uint64_t ino,
				   const char *name, const void *value,
				   size_t size, int flags)
{
	int ret = check_writable(vol);

	if (ret)
		return ret;
	return (int)XATTR_CALL(vol, ino, setxattr, name, name, value, size,
			       flags);
}

PODFS_EXPORT ssize_t podfs_ll_listxattr(podfs_volume *vol, uint64_t ino,
					char *list, size_t size)
{
	return XATTR_CALL(vol, ino, listxattr, "listxattr", list, size);
}

PODFS_EXPORT int podfs_ll_removexattr(podfs_volume *vol, uint64_t ino,
				      const char *name)
{
	int ret = check_writable(vol);

	if (ret)
		return ret;
	return (int)XATTR_CALL(vol, ino, removexattr, name, name);
}

/* ---- open files ------------------------------------------------------------- */

PODFS_EXPORT ssize_t podfs_pread(podfs_volume *vol, podfs_file *f, void *buf,
				 size_t count, off_t off)
{
	ssize_t ret;

	if (off < 0)
		return podfs_set_error(vol, EINVAL, "negative offset");
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return podfs_set_error(vol, EBADF, "file is not open for reading");
	if (count == 0)
		return 0;
	tls_err.fresh = false;
	ret = vol->ops->read(vol->be, f->bf, buf, count, off);
	if (ret < 0)
		ensure_error(vol, (int)ret, "read");
	return ret;
}

int podfs_file_read_async(struct podfs_volume *vol, struct podfs_file *f,
			  void *buf, size_t count, off_t off,
			  podfs_bio_done done, void *arg)
{
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return podfs_set_error(vol, EBADF, "file is not open for reading");
	if (!vol->ops->read_async)
		return podfs_set_error(vol, ENOTSUP,
				       "%s volumes have no asynchronous reads",
				       vol->ops->name);
	tls_err.fresh = false;
	return ensure_error(vol, vol->ops->read_async(vol->be, f->bf, buf,
						      count, off, done, arg),
			    "read");
}

int podfs_file_write_async(struct podfs_volume *vol, struct podfs_file *f,
			   const void *buf, size_t count, off_t off,
			   podfs_bio_done done, void *arg)
{
	int ret = check_writable(vol);

	if (ret)
		return ret;
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return podfs_set_error(vol, EBADF, "file is not open for writing");
	if (!vol->ops->write_async)
		return podfs_set_error(vol, ENOTSUP,
				       "%s volumes have no asynchronous writes",
				       vol->ops->name);
	tls_err.fresh = false;
	return ensure_error(vol, vol->ops->write_async(vol->be, f->bf, buf,
						       count, off, done, arg),
			    "write");
}

PODFS_EXPORT ssize_t podfs_pwrite(podfs_volume *vol, podfs_file *f,
				  const void *buf, size_t count, off_t off)
{
	ssize_t ret;

	if (off < 0)
		return podfs_set_error(vol, EINVAL, "negative offset");
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return podfs_set_error(vol, EBADF, "file is not open for writing");
	if (count == 0)
		return 0;
	tls_err.fresh = false;
	ret = vol->ops->write(vol->be, f->bf, buf, count, off);
	if (ret < 0)
		ensure_error(vol, (int)ret, "write");
	return ret;
}

/* The sticky error of F, reported once. */
static int take_error(struct podfs_volume *vol, struct podfs_file *f)
{
	int err;

	pthread_mutex_lock(&vol->lock);
	err = f->error;
	f->error = 0;
	pthread_mutex_unlock(&vol->lock);
	return err;
}

PODFS_EXPORT int podfs_fsync(podfs_volume *vol, podfs_file *f, int datasync)
{
	int err = take_error(vol, f);
	int ret;

	tls_err.fresh = false;
	ret = vol->ops->fsync(vol->be, f->bf, datasync);

	if (err)
		return err;
	return ensure_error(vol, ret, "fsync");
}

PODFS_EXPORT int podfs_flush(podfs_volume *vol, podfs_file *f)
{
	/* writes go to the server as they are made: nothing is held back */
	return take_error(vol, f);
}

PODFS_EXPORT int podfs_release(podfs_volume *vol, podfs_file *f)
{
	int err, ret;

	if (!f)
		return 0;
	err = take_error(vol, f);
	tls_err.fresh = false;
	ret = vol->ops->close(vol->be, f->bf);
	pthread_mutex_lock(&vol->lock);
	LIST_REMOVE(f, link);
	pthread_mutex_unlock(&vol->lock);
	inode_put(vol, f->inode);
	free(f);
	if (err)
		return err;
	return ensure_error(vol, ret, "close");
}

PODFS_EXPORT uint64_t podfs_file_ino(const podfs_file *f)
{
	return f->inode->ino;
}

int podfs_dir_next(podfs_volume *vol, podfs_dir *d, struct podfs_dirent *ent)
{
	(void)vol;
	if (d->pos < 2)
		d->pos = 2;
	if (d->pos >= d->count)
		return 0;
	snprintf(ent->name, sizeof(ent->name), "%s", d->ents[d->pos].name);
	ent->attr = d->ents[d->pos].st;
	d->pos++;
	return 1;
}
