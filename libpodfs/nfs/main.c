/*
 * The NFS backend's ops table: objects are the server's file handles, and
 * each op is one RPC (NFSv3) or one COMPOUND (NFSv4) of v3.c or v4.c on
 * the RPC engine of rpc.c. Here: attach and detach, objects and their
 * names, open files, reads and writes split across the pool, COMMIT with
 * the write verifier checked, and NFSv3's renames of open files.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define VOPS(nb) ((nb)->vers == 4 ? &nfs_v4_ops : &nfs_v3_ops)

/* ---- errors ---------------------------------------------------------------- */

int nfs_fail(struct nfs_be *nb, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return podfs_set_error(nb->be.vol, err, "%s: %s", nb->prefix, msg);
}

int nfs_call_fail(struct nfs_be *nb, struct nfs_call *k, const char *name)
{
	int err = k->err ? k->err : -EIO;

	if (name)
		return nfs_fail(nb, err, "%s %s: %s", k->what, name, k->msg);
	return nfs_fail(nb, err, "%s: %s", k->what, k->msg);
}

int nfs_status_errno(uint32_t status)
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
	case NFS4ERR_BADNAME:
		return -EINVAL;
	case NFS4ERR_NOTSUPP:
	case NFS4ERR_ATTRNOTSUPP:
		return -ENOTSUP;
	case NFS4ERR_SYMLINK: /* a LOOKUP through a symlink, as Linux maps it */
		return -ELOOP;
	case NFS4ERR_FBIG:
		return -EFBIG;
	case NFS4ERR_ROFS:
		return -EROFS;
	case NFS4ERR_MLINK:
		return -EMLINK;
	case NFS4ERR_LOCKED:
	case NFS4ERR_DENIED:
	case NFS4ERR_SHARE_DENIED:
		return -EACCES;
	}
	if (status > 0 && status < 100)
		return -(int)status; /* NFS4ERR_PERM .. NFS4ERR_NXIO, ... */
	return -EIO;
}

void nfs_call_status(struct nfs_call *k, int vers, const char *op,
		     uint32_t status)
{
	if (status == 0)
		return;
	k->status = status;
	k->err = nfs_status_errno(status);
	switch (status) {
	case NFS4ERR_DELAY: /* NFS3ERR_JUKEBOX */
	case NFS4ERR_GRACE:
		k->fault = FAULT_DELAY;
		break;
	case NFS4ERR_STALE_CLIENTID:
	case NFS4ERR_STALE_STATEID:
	case NFS4ERR_EXPIRED:
	case NFS4ERR_ADMIN_REVOKED:
		if (vers == 4)
			k->fault = FAULT_STATE;
		break;
	}
	snprintf(k->msg, sizeof(k->msg), "NFS%d %s failed with status %u (%s)",
		 vers, op, (unsigned int)status, strerror(-k->err));
}

/* ---- objects --------------------------------------------------------------- */

uint64_t nfs_key(const struct nfs_fh *fh, uint64_t fileid)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a, 64 bits */

	for (uint32_t i = 0; i < fh->len; i++)
		h = (h ^ (unsigned char)fh->data[i]) * 1099511628211ULL;
	return h ^ fileid;
}

struct nfs_obj *nfs_obj_new(struct nfs_be *nb, const void *fh, uint32_t len,
			    uint64_t fileid, mode_t type)
{
	struct nfs_obj *o;

	if (len > sizeof(o->fh.data)) {
		nfs_fail(nb, EIO, "the server sent a %u-byte file handle",
			 (unsigned int)len);
		return NULL;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		nfs_fail(nb, ENOMEM, "out of memory");
		return NULL;
	}
	atomic_init(&o->refs, 1);
	o->type = type & S_IFMT;
	o->fh.len = len;
	memcpy(o->fh.data, fh, len);
	o->b.key = nfs_key(&o->fh, fileid);
	pthread_mutex_init(&o->lock, NULL);
	pthread_mutex_init(&o->sid_lock, NULL);
	pthread_mutex_init(&o->alock, NULL);
	pthread_mutex_init(&o->wlock, NULL);
	return o;
}

void nfs_obj_put(struct nfs_be *nb, struct nfs_obj *o)
{
	if (!o || atomic_fetch_sub(&o->refs, 1) != 1)
		return;
	nfs_unstable_drop(nb, o);
	free(o->hint_name);
	free(o->silly);
	pthread_mutex_destroy(&o->lock);
	pthread_mutex_destroy(&o->sid_lock);
	pthread_mutex_destroy(&o->alock);
	pthread_mutex_destroy(&o->wlock);
	free(o);
}

bool nfs_fh_eq(const struct nfs_fh *a, const struct nfs_fh *b)
{
	return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

/* Sets O's name (nb->names held); false if out of memory. */
static bool hint_set(struct nfs_obj *o, const struct nfs_fh *dir,
		     const char *name)
{
	char *copy = strdup(name);

	if (!copy)
		return false;
	free(o->hint_name);
	o->hint_name = copy;
	o->hint_dir = *dir;
	return true;
}

void nfs_obj_hint(struct nfs_be *nb, struct nfs_obj *o,
		  const struct nfs_fh *dir, const char *name)
{
	pthread_mutex_lock(&nb->names);
	hint_set(o, dir, name);
	pthread_mutex_unlock(&nb->names);
}

/* Was O last seen as DIR/NAME? (nb->names held) */
static bool hint_is(const struct nfs_obj *o, const struct nfs_fh *dir,
		    const char *name)
{
	return o->hint_name && !strcmp(o->hint_name, name) &&
	       nfs_fh_eq(&o->hint_dir, dir);
}

/* O's name is forgotten (nb->names held). */
static void hint_clear(struct nfs_obj *o)
{
	free(o->hint_name);
	o->hint_name = NULL;
	o->hint_dir.len = 0;
}

/* O's name is not DIR/NAME: forgotten if that is the one it has. */
void nfs_obj_unhint(struct nfs_be *nb, struct nfs_obj *o,
		    const struct nfs_fh *dir, const char *name)
{
	pthread_mutex_lock(&nb->names);
	if (hint_is(o, dir, name))
		hint_clear(o);
	pthread_mutex_unlock(&nb->names);
}

/* The open object last seen as DIR/NAME, with a reference, or NULL. */
static struct nfs_obj *open_named(struct nfs_be *nb, const struct nfs_obj *dir,
				  const char *name)
{
	struct nfs_obj *o;

	pthread_mutex_lock(&nb->names);
	for (o = nb->opened; o; o = o->open_next)
		if (!o->silly && hint_is(o, &dir->fh, name))
			break;
	if (o)
		atomic_fetch_add(&o->refs, 1);
	pthread_mutex_unlock(&nb->names);
	return o;
}

/* ---- attach and detach ----------------------------------------------------- */

static void nfs_be_free(struct nfs_be *nb)
{
	int i;

	/* The connections first: calls in flight are answered, and the
	 * renewer's next one finds the volume closing. */
	nfs_conns_stop(nb);
	nfs_aio_stop(nb);
	nfs4_client_stop(nb);
	nfs_obj_put(nb, nb->root);
	for (i = 0; nb->conns && i < nb->nconn; i++) {
		pthread_mutex_destroy(&nb->conns[i].lock);
		pthread_cond_destroy(&nb->conns[i].changed);
	}
	pthread_mutex_destroy(&nb->client.lock);
	pthread_mutex_destroy(&nb->client.owners_lock);
	pthread_mutex_destroy(&nb->v4_start);
	pthread_mutex_destroy(&nb->names);
	pthread_mutex_destroy(&nb->aio_lock);
	pthread_cond_destroy(&nb->aio_cv);
	nfs_pool_free(nb);
	pthread_mutex_destroy(&nb->pool_lock);
	free(nb->conns);
	free(nb->server);
	free(nb->export);
	free(nb->prefix);
	free(nb);
}

static int nfs_be_attach(const struct podfs_config *cfg,
			 struct podfs_volume *vol,
			 const struct podfs_up_ops *up,
			 struct podfs_backend **out)
{
	const struct nfs_vops *vops;
	struct nfs_be *nb;
	struct nfs_fh root;
	struct stat st;
	char why[256];
	int ret, i;

	nb = calloc(1, sizeof(*nb));
	if (!nb)
		return podfs_set_error(vol, ENOMEM, "out of memory");
	nb->be.ops = &podfs_nfs_backend;
	nb->be.vol = vol;
	nb->be.up = up;
	pthread_mutex_init(&nb->names, NULL);
	pthread_mutex_init(&nb->pool_lock, NULL);
	nfs_unstable_init(nb, cfg->cache_size);
	pthread_mutex_init(&nb->aio_lock, NULL);
	pthread_cond_init(&nb->aio_cv, NULL);
	pthread_mutex_init(&nb->client.lock, NULL);
	pthread_mutex_init(&nb->client.owners_lock, NULL);
	pthread_mutex_init(&nb->v4_start, NULL);
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
	nb->slots = cfg->slots > 0 ? cfg->slots : PODFS_DEFAULT_SLOTS;
	nb->nconn = cfg->nconnect < 1 ? 1 :
		    cfg->nconnect > PODFS_MAX_NCONNECT ? PODFS_MAX_NCONNECT :
							  cfg->nconnect;
	nb->timeout_ms = (int)podfs_config_timeout_ms(cfg);
	nb->uid = getuid();
	nb->gid = getgid();
	nb->rsize = cfg->rsize > 0 ? (uint32_t)cfg->rsize : PODFS_MAX_IOSIZE;
	nb->wsize = cfg->wsize > 0 ? (uint32_t)cfg->wsize : PODFS_MAX_IOSIZE;
	nb->namemax = 255;
	nb->conns = calloc(nb->nconn, sizeof(*nb->conns));
	if (!nb->server || !nb->export || !nb->conns) {
		ret = nfs_fail(nb, ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < nb->nconn; i++)
		nb->conns[i].efd = nb->conns[i].lfd = -1;
	vops = VOPS(nb);
	if (nfs4_compound_check(why, sizeof(why))) {
		ret = nfs_fail(nb, ENOTSUP, "%s", why);
		goto fail;
	}
	ret = nfs_conns_start(nb);
	if (ret)
		goto fail;
	ret = vops->mount(nb, &root);
	if (ret)
		goto fail;
	nb->root = nfs_obj_new(nb, root.data, root.len, 0, S_IFDIR);
	if (!nb->root) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = vops->getattr(nb, nb->root, &st);
	if (ret)
		goto fail;
	if (!S_ISDIR(st.st_mode)) {
		ret = nfs_fail(nb, ENOTDIR, "%s is not a directory", cfg->path);
		goto fail;
	}
	nb->root->b.key = nfs_key(&nb->root->fh, (uint64_t)st.st_ino);
	if (nb->vers == 4) {
		ret = nfs4_client_start(nb);
		if (ret)
			goto fail;
	}
	/* NFSv3 locks go through NFSv4 (nfs_be_lock), where the server
	 * has it and takes NFSv3's handles in it */
	nb->be.locks = nb->vers == 4 || !nfs4_probe(nb, &nb->root->fh);
	nfs_conns_attached(nb);
	*out = &nb->be;
	return 0;
fail:
	nfs_be_free(nb);
	return ret;
}

static void nfs_be_detach(struct podfs_backend *be)
{
	nfs_be_free(NB(be));
}

static void nfs_be_shutdown(struct podfs_backend *be)
{
	nfs_conns_give_up(NB(be));
}

/* ---- names ----------------------------------------------------------------- */

static int nfs_be_root(struct podfs_backend *be, struct podfs_bobj **obj,
		       struct stat *st)
{
	struct nfs_be *nb = NB(be);
	int ret;

	ret = VOPS(nb)->getattr(nb, nb->root, st);
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
	struct nfs_obj *o;
	int ret;

	ret = VOPS(nb)->lookup(nb, OBJ(dir), name, &o, st);
	if (!ret)
		*obj = &o->b;
	return ret;
}

static int nfs_be_lookup_path(struct podfs_backend *be, struct podfs_bobj *dir,
			      const char *path, struct podfs_bobj **obj,
			      struct stat *st)
{
	struct nfs_be *nb = NB(be);
	struct nfs_obj *at = OBJ(dir), *o = NULL;
	char name[256];
	const char *p = path;
	size_t len;
	int ret;

	if (VOPS(nb)->lookup_path) {
		ret = VOPS(nb)->lookup_path(nb, at, path, &o, st);
		if (!ret)
			*obj = &o->b;
		return ret;
	}
	/* NFSv3: a LOOKUP per name, as the protocol has it */
	for (;;) {
		len = strcspn(p, "/");
		if (len >= sizeof(name))
			return nfs_fail(nb, ENAMETOOLONG, "lookup %s: name too long",
					path);
		memcpy(name, p, len);
		name[len] = '\0';
		ret = VOPS(nb)->lookup(nb, at, name, &o, st);
		if (at != OBJ(dir))
			nfs_obj_put(nb, at);
		if (ret)
			return ret;
		if (!p[len])
			break;
		if (!S_ISDIR(st->st_mode)) {
			nfs_obj_put(nb, o);
			return nfs_fail(nb, ENOTDIR,
					"lookup %s: %s is not a directory", path,
					name);
		}
		at = o;
		p += len + 1;
	}
	*obj = &o->b;
	return 0;
}

/* The core already knows the object NEW names: OLD takes its name. */
static void nfs_be_merge(struct podfs_backend *be, struct podfs_bobj *old_obj,
			 struct podfs_bobj *new_obj)
{
	struct nfs_be *nb = NB(be);
	struct nfs_obj *old = OBJ(old_obj), *new = OBJ(new_obj);

	if (old != new && new->hint_name) {
		pthread_mutex_lock(&nb->names);
		/* an open file renamed away (NFSv3) keeps that name */
		if (!old->silly) {
			free(old->hint_name);
			old->hint_name = new->hint_name;
			old->hint_dir = new->hint_dir;
			new->hint_name = NULL;
		}
		pthread_mutex_unlock(&nb->names);
	}
	nfs_obj_put(nb, new);
}

static void nfs_be_put(struct podfs_backend *be, struct podfs_bobj *obj)
{
	nfs_obj_put(NB(be), OBJ(obj));
}

/* ---- attributes and directories ------------------------------------------- */

static int nfs_be_getattr(struct podfs_backend *be, struct podfs_bobj *obj,
			  struct podfs_bfile *file, struct stat *st)
{
	struct nfs_be *nb = NB(be);

	(void)file; /* the handle is the file */
	return VOPS(nb)->getattr(nb, OBJ(obj), st);
}

/* Sets O's size. What was written UNSTABLE before is committed first,
 * as Linux does (nfs_setattr syncs the inode): a server restart before
 * a later COMMIT would have it sent again, after the truncate, and the
 * file would grow back with data cut from it. fsx found it, with a
 * restart of the server during its run. */
static int set_size(struct nfs_be *nb, struct nfs_obj *o, struct nfs_file *f,
		    const struct stat *attr, int to_set, struct stat *out)
{
	int ret = nfs_commit(nb, o);

	if (ret)
		return ret;
	return VOPS(nb)->setattr(nb, o, f, attr, to_set, out);
}

static int nfs_be_setattr(struct podfs_backend *be, struct podfs_bobj *obj,
			  struct podfs_bfile *file, const struct stat *attr,
			  int to_set, struct stat *out)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = file ? NFILE(file) : NULL;
	struct stat st;

	if (to_set & PODFS_SET_SIZE)
		return set_size(nb, OBJ(obj), f, attr, to_set,
				out ? out : &st);
	return VOPS(nb)->setattr(nb, OBJ(obj), f, attr, to_set,
				 out ? out : &st);
}

static int nfs_be_readdir(struct podfs_backend *be, struct podfs_bobj *dir,
			  podfs_bdirent_cb cb, void *arg)
{
	struct nfs_be *nb = NB(be);

	return VOPS(nb)->readdir(nb, OBJ(dir), cb, arg);
}

struct nfs_dirent *nfs_dirent_add(struct nfs_dirents *l, const char *name,
				  size_t len)
{
	struct nfs_dirent *bigger, *e;

	if (l->n == l->cap) {
		bigger = realloc(l->e, (l->cap ? l->cap * 2 : 64) *
					       sizeof(*bigger));
		if (!bigger)
			return NULL;
		l->e = bigger;
		l->cap = l->cap ? l->cap * 2 : 64;
	}
	e = &l->e[l->n];
	memset(e, 0, sizeof(*e));
	e->name = strndup(name, len);
	if (!e->name)
		return NULL;
	l->n++;
	return e;
}

void nfs_dirents_free(struct nfs_dirents *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	l->e = NULL;
	l->n = l->cap = 0;
}

int nfs_listing_name(struct nfs_listing *l, int vers, const char *name,
		     size_t len, char *why, size_t whylen)
{
	bool *seen = NULL;

	if (len == 1 && name[0] == '.')
		seen = &l->dot;
	else if (len == 2 && name[0] == '.' && name[1] == '.')
		seen = &l->dotdot;
	if (seen) {
		if (vers == 3 && !*seen) {
			*seen = true;
			return 0;
		}
		snprintf(why, whylen, "a listing with \"%.*s\" %s", (int)len,
			 name, vers == 3 ? "twice" : "in it");
		return -EIO;
	}
	if (!len || len > NAME_MAX || memchr(name, '\0', len) ||
	    memchr(name, '/', len)) {
		snprintf(why, whylen, "an entry name %s",
			 !len		       ? "that is empty" :
			 len > NAME_MAX	       ? "longer than 255 bytes" :
			 memchr(name, '\0', len) ? "with a NUL byte in it" :
						   "with a '/' in it");
		return -EIO;
	}
	return 1;
}

int nfs_listing_next(struct nfs_be *nb, struct nfs_listing *l,
		     uint64_t cookie)
{
	uint64_t *bigger;
	size_t i;

	/* cookie 0 is the start again; pages are hundreds of entries, so
	 * a linear search costs little */
	for (i = 0; i < l->n && cookie && l->ends[i] != cookie; i++)
		;
	if (!cookie || i < l->n)
		return nfs_fail(nb, EIO, "readdir: the server's directory "
				"cookies loop (cookie %llu came again): a "
				"listing without end",
				(unsigned long long)cookie);
	if (l->n == l->cap) {
		bigger = realloc(l->ends, (l->cap ? l->cap * 2 : 16) *
						  sizeof(*bigger));
		if (!bigger)
			return nfs_fail(nb, ENOMEM, "out of memory");
		l->ends = bigger;
		l->cap = l->cap ? l->cap * 2 : 16;
	}
	l->ends[l->n++] = cookie;
	return 0;
}

void nfs_listing_free(struct nfs_listing *l)
{
	free(l->ends);
	memset(l, 0, sizeof(*l));
}

bool nfs_io_overrun(struct nfs_io *io, uint32_t count)
{
	if (count <= io->count)
		return false;
	io->call.err = -EIO;
	io->call.fault = FAULT_NONE;
	snprintf(io->call.msg, sizeof(io->call.msg),
		 "the server answered a %s of %u bytes with %u", io->call.what,
		 io->count, count);
	return true;
}

const char *nfs_bad_attrs(const struct stat *st, bool typed)
{
	if (typed && !(st->st_mode & S_IFMT))
		return "attributes of no known file type";
	if (st->st_size < 0)
		return "attributes with a size over 2^63 bytes";
	return NULL;
}

int nfs_dirents_emit(struct nfs_be *nb, struct nfs_obj *dir,
		     struct nfs_dirents *l, podfs_bdirent_cb cb, void *arg)
{
	struct nfs_dirent *e;
	struct nfs_obj *o;
	size_t i;
	int ret = 0;

	for (i = 0; i < l->n && !ret; i++) {
		e = &l->e[i];
		o = NULL;
		if (e->has_fh && e->has_st) {
			o = nfs_obj_new(nb, e->fh.data, e->fh.len, e->st.st_ino,
					e->st.st_mode);
			if (o)
				nfs_obj_hint(nb, o, &dir->fh, e->name);
		}
		ret = cb(arg, e->name, o ? &o->b : NULL, &e->st);
	}
	nfs_dirents_free(l);
	return ret;
}

static int make(struct nfs_be *nb, struct podfs_bobj *dir, const char *name,
		mode_t mode, dev_t rdev, const char *target,
		const struct podfs_cred *cred, struct podfs_bobj **obj,
		struct stat *st)
{
	struct nfs_obj *o;
	int ret;

	ret = VOPS(nb)->make(nb, OBJ(dir), name, mode, rdev, target, cred, &o,
			     st);
	if (!ret)
		*obj = &o->b;
	return ret;
}

static int nfs_be_mkdir(struct podfs_backend *be, struct podfs_bobj *dir,
			const char *name, mode_t mode,
			const struct podfs_cred *cred, struct podfs_bobj **obj,
			struct stat *st)
{
	return make(NB(be), dir, name, S_IFDIR | (mode & 07777), 0, NULL, cred,
		    obj, st);
}

static int nfs_be_mknod(struct podfs_backend *be, struct podfs_bobj *dir,
			const char *name, mode_t mode, dev_t rdev,
			const struct podfs_cred *cred, struct podfs_bobj **obj,
			struct stat *st)
{
	struct nfs_be *nb = NB(be);

	if (S_ISREG(mode) || !(mode & S_IFMT)) {
		/* a regular file: created, and closed again */
		struct nfs_obj *o;
		int ret;

		ret = VOPS(nb)->create(nb, OBJ(dir), name, S_IFREG | mode,
				       O_RDONLY | O_EXCL, cred, &o, st);
		if (ret)
			return ret;
		VOPS(nb)->close(nb, o);
		*obj = &o->b;
		return 0;
	}
	if (S_ISDIR(mode) || S_ISLNK(mode))
		return nfs_fail(nb, EINVAL, "mknod %s: use mkdir or symlink",
				name);
	return make(nb, dir, name, mode, rdev, NULL, cred, obj, st);
}

static int nfs_be_symlink(struct podfs_backend *be, struct podfs_bobj *dir,
			  const char *name, const char *target,
			  const struct podfs_cred *cred,
			  struct podfs_bobj **obj, struct stat *st)
{
	return make(NB(be), dir, name, S_IFLNK | 0777, 0, target, cred, obj,
		    st);
}

/* ---- open files ------------------------------------------------------------ */

static void file_opened(struct nfs_be *nb, struct nfs_obj *o)
{
	pthread_mutex_lock(&nb->names);
	if (o->opens++ == 0) {
		atomic_fetch_add(&o->refs, 1); /* the list's */
		o->open_prev = NULL;
		o->open_next = nb->opened;
		if (nb->opened)
			nb->opened->open_prev = o;
		nb->opened = o;
	}
	pthread_mutex_unlock(&nb->names);
}

static int file_new(struct nfs_be *nb, struct nfs_obj *o, int flags,
		    struct podfs_bfile **file)
{
	struct nfs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return nfs_fail(nb, ENOMEM, "out of memory");
	atomic_fetch_add(&o->refs, 1);
	f->f.obj = &o->b;
	f->flags = flags;
	file_opened(nb, o);
	*file = &f->f;
	return 0;
}

static int truncate_open(struct nfs_be *nb, struct nfs_obj *o,
			 struct nfs_file *f)
{
	struct stat attr = { .st_size = 0 }, st;

	return set_size(nb, o, f, &attr, PODFS_SET_SIZE, &st);
}

static int nfs_be_create(struct podfs_backend *be, struct podfs_bobj *dir,
			 const char *name, mode_t mode, int flags,
			 const struct podfs_cred *cred, struct podfs_bobj **obj,
			 struct stat *st, struct podfs_bfile **file)
{
	struct nfs_be *nb = NB(be);
	struct nfs_obj *o;
	int ret;

	ret = VOPS(nb)->create(nb, OBJ(dir), name, S_IFREG | (mode & 07777),
			       flags, cred, &o, st);
	if (ret)
		return ret;
	ret = file_new(nb, o, flags, file);
	if (!ret && (flags & O_TRUNC) && st->st_size) {
		struct nfs_file *f = NFILE(*file);

		ret = truncate_open(nb, o, f);
		if (ret) {
			podfs_nfs_backend.close(be, *file);
			nfs_obj_put(nb, o);
			return ret;
		}
		st->st_size = 0;
	}
	if (ret) {
		VOPS(nb)->close(nb, o);
		nfs_obj_put(nb, o);
		return ret;
	}
	*obj = &o->b;
	return 0;
}

static int nfs_be_open(struct podfs_backend *be, struct podfs_bobj *obj,
		       int flags, struct podfs_bobj *dir, const char *name,
		       struct podfs_bfile **file)
{
	struct nfs_be *nb = NB(be);
	struct nfs_obj *o = OBJ(obj);
	struct nfs_open_by by = { .name = name };
	int ret;

	if (dir && name)
		by.dir = &OBJ(dir)->fh;
	ret = VOPS(nb)->open(nb, o, flags, by.dir ? &by : NULL);
	if (ret)
		return ret;
	ret = file_new(nb, o, flags, file);
	if (ret) {
		VOPS(nb)->close(nb, o);
		return ret;
	}
	/* the OPEN's attributes are from before a truncation */
	(*file)->by_name = by.found && !(flags & O_TRUNC);
	(*file)->st = by.st;
	if (flags & O_TRUNC) {
		ret = truncate_open(nb, o, NFILE(*file));
		if (ret) {
			podfs_nfs_backend.close(be, *file);
			return ret;
		}
	}
	return 0;
}

/* ---- reads and writes ------------------------------------------------------ */

/*
 * The size of the pieces a read or write of COUNT bytes goes out in: one
 * per connection of the pool, so that the server works on them together
 * (measured on ganesha: a 1 MiB read as four 256 KiB READs in flight at
 * once is 1.3x one 1 MiB READ), but no smaller than 64 KiB nor larger
 * than MAX (rsize or wsize).
 */
static uint32_t piece_size(struct nfs_be *nb, size_t count, uint32_t max)
{
	size_t piece = (count + (size_t)nb->nconn - 1) / (size_t)nb->nconn;

	piece = (piece + 4095) & ~(size_t)4095;
	if (piece < 65536)
		piece = 65536;
	return piece < max ? (uint32_t)piece : max;
}

void nfs_io_cut(struct nfs_io *io, size_t n, struct nfs_obj *o, char *buf,
		const struct iovec *iov, off_t off, size_t count,
		uint32_t piece, bool stable)
{
	size_t i;

	memset(io, 0, n * sizeof(*io));
	for (i = 0; i < n; i++) {
		io[i].obj = o;
		if (buf) {
			io[i].buf = buf + i * piece;
		} else {
			io[i].iov = iov;
			io[i].skip = i * piece;
		}
		io[i].off = (uint64_t)off + i * piece;
		io[i].count = (uint32_t)(count - i * piece < piece ?
						 count - i * piece :
						 piece);
		io[i].stable = stable;
	}
}

void nfs_ioset_put(struct nfs_ioset *set)
{
	if (atomic_fetch_sub(&set->pending, 1) == 1)
		set->last(set);
}

static void piece_done(struct nfs_call *k)
{
	nfs_ioset_put(container_of(k, struct nfs_io, call)->set);
}

void nfs_io_send(struct nfs_be *nb, struct nfs_ioset *set, struct nfs_io *io,
		 size_t n, bool write, bool async)
{
	size_t i;

	atomic_store(&set->pending, (int)n + 1);
	for (i = 0; i < n; i++) {
		io[i].set = set;
		io[i].nb = nb;
		io[i].write = write;
		VOPS(nb)->io_call(nb, &io[i]);
		io[i].call.fence = write ? io[i].obj : NULL;
		io[i].call.complete = piece_done;
		io[i].call.done = false;
		/* A lone piece of a caller who waits goes through nfs_run:
		 * the caller then reads the answer off the socket itself. */
		if ((async || n > 1) && nfs_submit(nb, &io[i].call) == 0)
			continue;
		io[i].call.done = false;
		nfs_ioset_put(set);
	}
	nfs_ioset_put(set);
}

int nfs_io_retry(struct nfs_be *nb, struct nfs_io *io, size_t n)
{
	struct nfs_call *k;
	size_t i;
	int ret = 0;

	for (i = 0; i < n; i++) {
		k = &io[i].call;
		if (k->done && k->fault == FAULT_NONE) {
			if (k->err && !ret)
				ret = nfs_call_fail(nb, k, NULL);
			continue;
		}
		/* sent under a lock that may be another client's now: never
		 * sent again (it would land after that client's writes) */
		if (k->fence && nfs_fenced(nb, k->fence)) {
			if (!ret)
				ret = nfs_locks_lost(nb, k->fence);
			if (!ret)
				ret = nfs_fail(nb, EIO, "write: fenced");
			continue;
		}
		k->complete = NULL;
		k->conn = NULL;
		if (nfs_run(nb, k) && !ret)
			ret = k->err;
	}
	return ret;
}

/* A caller waiting for its pieces. */
struct io_wait {
	struct nfs_ioset set;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool over;
};

static void io_wait_last(struct nfs_ioset *set)
{
	struct io_wait *w = container_of(set, struct io_wait, set);

	pthread_mutex_lock(&w->lock);
	w->over = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->lock);
}

/* Each piece goes out on the next connection of the pool; one that
 * failed in a way worth another attempt goes again through nfs_run. */
int nfs_io_run(struct nfs_be *nb, struct nfs_io *io, size_t n, bool write)
{
	struct io_wait w = { .set.last = io_wait_last, .over = false };

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cv, NULL);
	nfs_io_send(nb, &w.set, io, n, write, false);
	pthread_mutex_lock(&w.lock);
	while (!w.over)
		pthread_cond_wait(&w.cv, &w.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.lock);
	return nfs_io_retry(nb, io, n);
}

/* How many pieces COUNT bytes go out in, and how large. */
size_t nfs_io_pieces(struct nfs_be *nb, size_t count, bool write,
		     uint32_t *piece)
{
	*piece = piece_size(nb, count, write ? nb->wsize : nb->rsize);
	return (count + *piece - 1) / *piece;
}

void nfs_io_take(struct nfs_io *io, const char *data, uint32_t n)
{
	const struct iovec *v = io->iov;
	size_t skip = io->skip;

	if (!v) {
		memcpy(io->buf, data, n);
		return;
	}
	for (; skip >= v->iov_len; v++)
		skip -= v->iov_len;
	while (n) {
		size_t k = v->iov_len - skip < n ? v->iov_len - skip : n;

		memcpy((char *)v->iov_base + skip, data, k);
		data += k;
		n -= (uint32_t)k;
		skip = 0;
		v++;
	}
}

/* The server answered IO's READ short, not at the end of the file: the
 * rest of it, read at once (bytes or -errno). */
static ssize_t read_rest(struct nfs_be *nb, struct podfs_bfile *file,
			 struct nfs_io *io)
{
	uint32_t want = io->count - io->done;
	off_t at = (off_t)(io->off + io->done);
	struct nfs_io part;
	char *tmp;
	ssize_t got;

	if (!io->iov)
		return podfs_nfs_backend.read(&nb->be, file,
					      io->buf + io->done, want, at);
	tmp = malloc(want);
	if (!tmp)
		return nfs_fail(nb, ENOMEM, "out of memory");
	got = podfs_nfs_backend.read(&nb->be, file, tmp, want, at);
	if (got > 0) {
		part = *io;
		part.skip += io->done;
		nfs_io_take(&part, tmp, (uint32_t)got);
	}
	free(tmp);
	return got;
}

ssize_t nfs_read_finish(struct nfs_be *nb, struct podfs_bfile *file,
			struct nfs_io *io, size_t n)
{
	size_t i, done = 0;
	ssize_t more;

	/* Short only at the end of the file: the first short piece ends it
	 * (a server may answer less than asked: read the rest). */
	for (i = 0; i < n; i++) {
		done += io[i].done;
		if (io[i].done == io[i].count)
			continue;
		if (io[i].eof || io[i].done == 0)
			break;
		more = read_rest(nb, file, &io[i]);
		if (more < 0)
			return more;
		done += (size_t)more;
		break;
	}
	return (ssize_t)done;
}

ssize_t nfs_write_finish(struct nfs_be *nb, struct nfs_obj *o,
			 struct nfs_io *io, size_t n)
{
	size_t i, done = 0;
	int ret = 0;

	for (i = 0; !ret && i < n; i++) {
		if (io[i].done != io[i].count) {
			/* A server writes all or fails (RFC 1813 allows less;
			 * no server we know does): say so, never drop it. */
			return nfs_fail(nb, EIO,
					"write: the server took %u of %u bytes",
					io[i].done, io[i].count);
		}
		done += io[i].done;
		if (io[i].committed != FILE_SYNC)
			ret = nfs_unstable_keep(nb, o, &io[i]);
	}
	if (!ret && nfs_unstable_full(nb, o))
		ret = nfs_commit(nb, o);
	return ret ? ret : (ssize_t)done;
}

bool nfs_fenced(struct nfs_be *nb, struct nfs_obj *o)
{
	return atomic_load(&o->locks_lost) ||
	       (atomic_load(&o->held) && atomic_load(&nb->lease_doubt));
}

int nfs_locks_lost(struct nfs_be *nb, struct nfs_obj *o)
{
	if (atomic_load(&o->locks_lost))
		return nfs_fail(nb, EIO, "a lock on this file was lost (a "
				"server restart, or a lease that ran out): no "
				"I/O until its owner unlocks or closes");
	if (atomic_load(&o->held) && atomic_load(&nb->lease_doubt))
		return nfs_fail(nb, EIO, "the lease ran out while the server "
				"was out of reach: the locks on this file may "
				"be another client's now");
	return 0;
}

static ssize_t nfs_be_read(struct podfs_backend *be, struct podfs_bfile *file,
			   void *buf, size_t count, off_t off)
{
	struct nfs_be *nb = NB(be);
	struct nfs_io stack[4], *io;
	uint32_t piece;
	size_t n = nfs_io_pieces(nb, count, false, &piece);
	ssize_t ret;

	if (!count)
		return 0;
	ret = nfs_locks_lost(nb, OBJ(file->obj));
	if (ret)
		return ret;
	io = n <= 4 ? stack : calloc(n, sizeof(*io));
	if (!io)
		return nfs_fail(nb, ENOMEM, "out of memory");
	nfs_io_cut(io, n, OBJ(file->obj), buf, NULL, off, count, piece, false);
	ret = nfs_io_run(nb, io, n, false);
	if (!ret)
		ret = nfs_read_finish(nb, file, io, n);
	if (io != stack)
		free(io);
	return ret;
}

static ssize_t nfs_be_write(struct podfs_backend *be, struct podfs_bfile *file,
			    const void *buf, size_t count, off_t off)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = NFILE(file);
	struct nfs_obj *o = OBJ(file->obj);
	bool append = f->flags & O_APPEND;
	struct nfs_io stack[4], *io;
	uint32_t piece;
	size_t n = nfs_io_pieces(nb, count, true, &piece);
	struct stat st;
	ssize_t ret = 0;

	if (!count)
		return 0;
	ret = nfs_locks_lost(nb, o);
	if (ret)
		return ret;
	io = n <= 4 ? stack : calloc(n, sizeof(*io));
	if (!io)
		return nfs_fail(nb, ENOMEM, "out of memory");
	if (append) {
		/* Atomic against this mount's other appenders to the
		 * object, not against other clients: NFS has no append. */
		pthread_mutex_lock(&o->alock);
		ret = VOPS(nb)->getattr(nb, o, &st);
		if (!ret)
			off = st.st_size;
	}
	if (!ret) {
		nfs_io_cut(io, n, o, (char *)buf, NULL, off, count, piece,
			   f->flags & (O_SYNC | O_DSYNC));
		ret = nfs_io_run(nb, io, n, true);
	}
	if (!ret)
		ret = nfs_write_finish(nb, o, io, n);
	if (append)
		pthread_mutex_unlock(&o->alock);
	if (io != stack)
		free(io);
	return ret;
}

static int nfs_be_fsync(struct podfs_backend *be, struct podfs_bfile *file,
			int datasync)
{
	(void)datasync;
	return nfs_commit(NB(be), OBJ(file->obj));
}

/* ---- removing a name that is open ------------------------------------------ */

/*
 * An NFSv3 server forgets a removed file at once. An NFSv4.0 server
 * holding an OPEN of it need not: ganesha's READs go on (through its own
 * descriptor), its GETATTRs fail with NFS4ERR_STALE, and an open without
 * a known name has no OPEN. So a file open here, when this client
 * removes or renames over its last name, is renamed away instead
 * (".podfs-KEY-N" in its directory) and removed when the last file
 * closes, as the Linux client's nfs_sillyrename() does for both
 * versions. Another client's remove is the server's business.
 */
static int silly_rename(struct nfs_be *nb, struct nfs_obj *dir,
			const char *name, struct nfs_obj *o)
{
	char silly[64];
	int ret;

	snprintf(silly, sizeof(silly), ".podfs-%016llx-%u",
		 (unsigned long long)o->b.key,
		 atomic_fetch_add(&nb->silly_seq, 1));
	ret = VOPS(nb)->rename(nb, dir, name, dir, silly);
	if (ret)
		return ret;
	pthread_mutex_lock(&nb->names);
	if (o->opens) {
		hint_set(o, &dir->fh, silly);
		o->silly = strdup(silly);
		ret = o->silly ? 0 : -ENOMEM;
	} else {
		ret = 1; /* closed meanwhile: remove it now */
	}
	pthread_mutex_unlock(&nb->names);
	if (ret)
		VOPS(nb)->remove(nb, dir, silly, false);
	return 0;
}

/* The object NAME of DIR names, if it is open here (not renamed away
 * already) and NAME is its last name, with a reference; else NULL. Asked
 * with a LOOKUP of NAME only if an open file was last seen under NAME or
 * has no name known (this client moves the names it changes: the
 * others' changes are theirs). NAME, going, is forgotten as any open
 * file's name but the one returned. */
static struct nfs_obj *open_named_now(struct nfs_be *nb, struct nfs_obj *dir,
				      const char *name)
{
	struct nfs_obj *o, *found, *victim = NULL;
	struct stat st;
	uint64_t key;
	bool ask = false;

	pthread_mutex_lock(&nb->names);
	for (o = nb->opened; o && !ask; o = o->open_next)
		ask = !o->silly &&
		      (!o->hint_name || hint_is(o, &dir->fh, name));
	pthread_mutex_unlock(&nb->names);
	if (!ask || VOPS(nb)->lookup(nb, dir, name, &found, &st))
		return NULL;
	key = found->b.key;
	nfs_obj_put(nb, found);
	pthread_mutex_lock(&nb->names);
	for (o = nb->opened; o; o = o->open_next) {
		if (o->b.key == key && !o->silly && st.st_nlink <= 1) {
			victim = o;
			atomic_fetch_add(&victim->refs, 1);
		} else if (hint_is(o, &dir->fh, name)) {
			hint_clear(o);
		}
	}
	pthread_mutex_unlock(&nb->names);
	return victim;
}

/* Whether NAME in DIR is object O now. */
static bool is_named(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		     struct nfs_obj *o)
{
	struct nfs_obj *found;
	struct stat st;
	bool same;

	if (VOPS(nb)->lookup(nb, dir, name, &found, &st))
		return false;
	same = found->b.key == o->b.key;
	nfs_obj_put(nb, found);
	return same;
}

/* NAME of DIR is going: renamed away (1) if it names a file open here,
 * else 0, or -errno. */
static int release_name(struct nfs_be *nb, struct nfs_obj *dir,
			const char *name)
{
	struct nfs_obj *o = open_named_now(nb, dir, name);
	int ret;

	if (!o)
		return 0;
	ret = silly_rename(nb, dir, name, o);
	nfs_obj_put(nb, o);
	return ret ? ret : 1;
}

static void file_closed(struct nfs_be *nb, struct nfs_obj *o)
{
	struct nfs_fh dir;
	char *silly = NULL;
	bool last;

	pthread_mutex_lock(&nb->names);
	last = --o->opens == 0;
	if (last) {
		if (o->open_prev)
			o->open_prev->open_next = o->open_next;
		else
			nb->opened = o->open_next;
		if (o->open_next)
			o->open_next->open_prev = o->open_prev;
		silly = o->silly;
		o->silly = NULL;
		dir = o->hint_dir;
	}
	pthread_mutex_unlock(&nb->names);
	if (silly) {
		struct nfs_obj *d = nfs_obj_new(nb, dir.data, dir.len, 0,
						S_IFDIR);

		if (d)
			VOPS(nb)->remove(nb, d, silly, false);
		nfs_obj_put(nb, d);
		free(silly);
	}
	if (last)
		nfs_obj_put(nb, o); /* the list's */
}

static int nfs_be_close(struct podfs_backend *be, struct podfs_bfile *file)
{
	struct nfs_be *nb = NB(be);
	struct nfs_file *f = NFILE(file);
	struct nfs_obj *o = OBJ(file->obj);
	int ret;

	/* close-to-open: what was written is stable before close returns */
	ret = nfs_commit(nb, o);
	VOPS(nb)->close(nb, o);
	if (atomic_load(&f->v4_open))
		nfs4_close(nb, o); /* NFSv3's, for locks */
	file_closed(nb, o);
	free(f);
	nfs_obj_put(nb, o);
	return ret;
}

/*
 * NFSv3 has no locks of its own (NLM, beside it, needs the server's
 * statd and a callback service of ours). podfs takes them through NFSv4
 * on the same connections instead: a LOCK on an NFSv4 open of the file
 * (by the name it was found under). ganesha and knfsd keep one lock
 * table for NFSv4 and NLM clients, and their file handles are the same
 * for both versions. The NFSv4 client is set up at the first lock; each
 * file that locks holds an NFSv4 open of its object until it closes.
 */
static int v3_lock_open(struct nfs_be *nb, struct nfs_file *f)
{
	struct nfs_obj *o = OBJ(f->f.obj);
	int ret = 0;

	if (atomic_load(&f->v4_open))
		return 0;
	pthread_mutex_lock(&nb->v4_start);
	if (!nb->v4_started) {
		ret = nfs4_client_start(nb);
		nb->v4_started = !ret;
	}
	pthread_mutex_unlock(&nb->v4_start);
	if (!ret)
		ret = nfs4_open(nb, o, f->flags, NULL);
	/* two first locks at once: one open is enough */
	if (!ret && atomic_exchange(&f->v4_open, true))
		nfs4_close(nb, o);
	return ret;
}

/* Locks: on the NFSv4 open state (state4.c). */
static int nfs_be_lock(struct podfs_backend *be, struct podfs_bfile *file,
		       uint64_t owner, int cmd, struct flock *lk)
{
	struct nfs_be *nb = NB(be);
	int ret = 0;

	if (!nb->be.locks)
		return nfs_fail(nb, ENOLCK, "the server has no NFSv4 to hold "
				"locks");
	if (nb->vers == 3)
		ret = v3_lock_open(nb, NFILE(file));
	if (!ret)
		ret = nfs4_lock(nb, OBJ(file->obj), owner, cmd, lk);
	return ret;
}

/* ---- the namespace ---------------------------------------------------------- */

static int nfs_be_create_link(struct podfs_backend *be, struct podfs_bobj *obj,
			      struct podfs_bobj *newdir, const char *newname,
			      struct stat *st)
{
	struct nfs_be *nb = NB(be);

	return VOPS(nb)->link(nb, OBJ(obj), OBJ(newdir), newname, st);
}

static int remove_name(struct nfs_be *nb, struct nfs_obj *dir,
		       const char *name, bool is_dir)
{
	int ret;

	if (!is_dir) {
		ret = release_name(nb, dir, name);
		if (ret)
			return ret < 0 ? ret : 0;
	}
	return VOPS(nb)->remove(nb, dir, name, is_dir);
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
	struct nfs_obj *d = OBJ(dir), *nd = OBJ(newdir), *o, *moved;
	struct stat st;
	int ret;

	if (flags & ~PODFS_RENAME_NOREPLACE)
		return nfs_fail(nb, EINVAL, "rename %s: unsupported flags %#x",
				name, flags);
	if (flags & PODFS_RENAME_NOREPLACE) {
		/* NFS has no such rename: look first. Racy against other
		 * clients creating NEWNAME in between. */
		ret = VOPS(nb)->lookup(nb, nd, newname, &o, &st);
		if (!ret) {
			nfs_obj_put(nb, o);
			return nfs_fail(nb, EEXIST, "rename to %s: file exists",
					newname);
		}
		if (ret != -ENOENT)
			return ret;
	} else if ((o = open_named_now(nb, nd, newname))) {
		/* An open file renamed over: moved away first, unless the
		 * two names are links of it. */
		ret = 0;
		if (!is_named(nb, d, name, o))
			ret = silly_rename(nb, nd, newname, o);
		nfs_obj_put(nb, o);
		if (ret)
			return ret;
	}
	ret = VOPS(nb)->rename(nb, d, name, nd, newname);
	if (ret)
		return ret;
	/* An open object keeps its name for NFSv4 OPENs and NFSv3 removes. */
	moved = open_named(nb, d, name);
	if (moved) {
		nfs_obj_hint(nb, moved, &nd->fh, newname);
		nfs_obj_put(nb, moved);
	}
	return 0;
}

static ssize_t nfs_be_readlink(struct podfs_backend *be, struct podfs_bobj *obj,
			       char *buf, size_t size)
{
	struct nfs_be *nb = NB(be);
	char *target;
	size_t len, n;
	int ret;

	ret = VOPS(nb)->readlink(nb, OBJ(obj), &target, &len);
	if (ret)
		return ret;
	if (size) {
		n = len < size - 1 ? len : size - 1;
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

	(void)obj; /* one file system: ask at the root, never stale */
	return VOPS(nb)->statfs(nb, nb->root, st);
}

static void atomic_max(atomic_ulong *m, unsigned long v)
{
	unsigned long old = atomic_load(m);

	while (v > old && !atomic_compare_exchange_weak(m, &old, v))
		;
}

void nfs_count_io(struct nfs_be *nb, const struct nfs_io *io)
{
	if (io->write) {
		atomic_fetch_add(&nb->n_write, 1);
		atomic_fetch_add(&nb->n_write_bytes, io->count);
		atomic_max(&nb->max_write, io->count);
	} else {
		atomic_fetch_add(&nb->n_read, 1);
		atomic_fetch_add(&nb->n_read_bytes, io->count);
		atomic_max(&nb->max_read, io->count);
	}
}

static void nfs_be_stats(struct podfs_backend *be, struct podfs_stats *st)
{
	struct nfs_be *nb = NB(be);

	st->calls = atomic_load(&nb->n_calls);
	st->reads = atomic_load(&nb->n_read);
	st->writes = atomic_load(&nb->n_write);
	st->commits = atomic_load(&nb->n_commit);
	st->read_bytes = atomic_load(&nb->n_read_bytes);
	st->write_bytes = atomic_load(&nb->n_write_bytes);
	st->max_read = atomic_load(&nb->max_read);
	st->max_write = atomic_load(&nb->max_write);
	st->resent = atomic_load(&nb->n_resent);
	st->max_in_flight = atomic_load(&nb->max_in_flight);
	st->rsize = nb->rsize;
	st->wsize = nb->wsize;
}

const struct podfs_backend_ops podfs_nfs_backend = {
	.version = PODFS_BACKEND_OPS_VERSION,
	.name = "nfs",
	.attach = nfs_be_attach,
	.detach = nfs_be_detach,
	.shutdown = nfs_be_shutdown,
	.root = nfs_be_root,
	.lookup = nfs_be_lookup,
	.lookup_path = nfs_be_lookup_path,
	.merge = nfs_be_merge,
	.put = nfs_be_put,
	.getattr = nfs_be_getattr,
	.setattr = nfs_be_setattr,
	.readdir = nfs_be_readdir,
	.mkdir = nfs_be_mkdir,
	.mknod = nfs_be_mknod,
	.symlink = nfs_be_symlink,
	.create = nfs_be_create,
	.link = nfs_be_create_link,
	.unlink = nfs_be_unlink,
	.rmdir = nfs_be_rmdir,
	.rename = nfs_be_rename,
	.readlink = nfs_be_readlink,
	.statfs = nfs_be_statfs,
	.open = nfs_be_open,
	.read = nfs_be_read,
	.write = nfs_be_write,
	.read_async = nfs_be_read_async,
	.write_async = nfs_be_write_async,
	.fsync = nfs_be_fsync,
	.close = nfs_be_close,
	.lock = nfs_be_lock,
	.stats = nfs_be_stats,
	/* xattrs: NFSv3 has none; NFSv4.0 none either (RFC 8276 is 4.2). */
};
