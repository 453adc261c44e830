/*
 * NFSv3 (RFC 1813): each op is one RPC on the object's file handle, sent
 * with libnfs' rpc_nfs3_*_async() and decoded by its XDR code. The root
 * handle comes from the MOUNT protocol.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "internal.h"

/* One NFSv3 call: its procedure, arguments, and what its answer gave. */
struct v3call {
	struct nfs_call k;
	int proc;
	union {
		GETATTR3args getattr;
		SETATTR3args setattr;
		LOOKUP3args lookup;
		COMMIT3args commit;
		CREATE3args create;
		MKDIR3args mkdir;
		SYMLINK3args symlink;
		MKNOD3args mknod;
		REMOVE3args remove;
		RMDIR3args rmdir;
		RENAME3args rename;
		LINK3args link;
		READLINK3args readlink;
		READDIRPLUS3args readdirplus;
		FSSTAT3args fsstat;
		FSINFO3args fsinfo;
		PATHCONF3args pathconf;
	} a;

	/* results */
	struct nfs_fh fh;
	bool has_fh;
	struct stat st;
	bool has_st;
	char *text;	   /* READLINK: the target, NUL-terminated */
	size_t text_len;
	char verf[8];	   /* COMMIT */
	struct statvfs sv; /* FSSTAT, PATHCONF */
	uint32_t rtmax, wtmax;
	/* READDIRPLUS */
	podfs_bdirent_cb cb;
	void *cb_arg;
	struct nfs_be *nb;
	struct nfs_obj *dir;
	uint64_t cookie;
	cookieverf3 cookieverf;
	bool eof;
	struct nfs_dirents ents;
	struct nfs_listing *ls;

	/* what was wrong with a reply, if anything: the call fails EIO */
	const char *bad;
	char why[96];
};

/* A reply C cannot take: the call fails with -EIO saying WHY. */
static void bad_reply(struct v3call *c, const char *why)
{
	if (!c->bad)
		c->bad = why;
}

/* Attributes from the server, checked (the stat's type and size). */
static bool attrs_ok(struct v3call *c, const struct stat *st)
{
	const char *why = nfs_bad_attrs(st, true);

	if (why)
		bad_reply(c, why);
	return !why;
}

static const char *const proc_names[] = {
	[NFS3_GETATTR] = "getattr", [NFS3_SETATTR] = "setattr",
	[NFS3_LOOKUP] = "lookup",   [NFS3_READLINK] = "readlink",
	[NFS3_CREATE] = "create",   [NFS3_MKDIR] = "mkdir",
	[NFS3_SYMLINK] = "symlink", [NFS3_MKNOD] = "mknod",
	[NFS3_REMOVE] = "unlink",   [NFS3_RMDIR] = "rmdir",
	[NFS3_RENAME] = "rename",   [NFS3_LINK] = "link",
	[NFS3_READDIRPLUS] = "readdir", [NFS3_FSSTAT] = "statfs",
	[NFS3_FSINFO] = "fsinfo",   [NFS3_PATHCONF] = "pathconf",
	[NFS3_COMMIT] = "commit",
};

/* ---- attributes ------------------------------------------------------------ */

static mode_t type3(uint32_t type)
{
	static const mode_t bits[] = { 0,	S_IFREG, S_IFDIR,  S_IFBLK,
				       S_IFCHR, S_IFLNK, S_IFSOCK, S_IFIFO };

	return type < sizeof(bits) / sizeof(bits[0]) ? bits[type] : 0;
}

static void stat3(struct stat *st, const fattr3 *a)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = type3(a->type) | (a->mode & 07777);
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a->used + 511) / 512);
	st->st_rdev = makedev(a->rdev.specdata1, a->rdev.specdata2);
	st->st_dev = (dev_t)a->fsid;
	st->st_ino = a->fileid;
	st->st_atim.tv_sec = a->atime.seconds;
	st->st_atim.tv_nsec = a->atime.nseconds;
	st->st_mtim.tv_sec = a->mtime.seconds;
	st->st_mtim.tv_nsec = a->mtime.nseconds;
	st->st_ctim.tv_sec = a->ctime.seconds;
	st->st_ctim.tv_nsec = a->ctime.nseconds;
}

static void post_op(struct v3call *c, const post_op_attr *a)
{
	if (a->attributes_follow) {
		stat3(&c->st, &a->post_op_attr_u.attributes);
		c->has_st = attrs_ok(c, &c->st);
	}
}

/* Takes a handle from C's reply: false (and the call fails) if it is
 * longer than NFSv3 allows. */
static bool fh_copy(struct v3call *c, struct nfs_fh *dst, const nfs_fh3 *src)
{
	if (src->data.data_len > NFS3_FHSIZE) {
		bad_reply(c, "a file handle over 64 bytes");
		return false;
	}
	dst->len = src->data.data_len;
	memcpy(dst->data, src->data.data_val, dst->len);
	return true;
}

static void post_fh(struct v3call *c, const post_op_fh3 *h)
{
	if (h->handle_follows)
		c->has_fh = fh_copy(c, &c->fh, &h->post_op_fh3_u.handle);
}

static nfs_fh3 fh3(const struct nfs_fh *fh)
{
	nfs_fh3 h = { .data = { .data_len = fh->len,
				.data_val = (char *)fh->data } };

	return h;
}

static void sattr(sattr3 *s, const struct stat *attr, int to_set)
{
	memset(s, 0, sizeof(*s));
	if (to_set & PODFS_SET_MODE) {
		s->mode.set_it = 1;
		s->mode.set_mode3_u.mode = attr->st_mode & 07777;
	}
	if (to_set & PODFS_SET_UID) {
		s->uid.set_it = 1;
		s->uid.set_uid3_u.uid = attr->st_uid;
	}
	if (to_set & PODFS_SET_GID) {
		s->gid.set_it = 1;
		s->gid.set_gid3_u.gid = attr->st_gid;
	}
	if (to_set & PODFS_SET_SIZE) {
		s->size.set_it = 1;
		s->size.set_size3_u.size = (uint64_t)attr->st_size;
	}
	if (to_set & PODFS_SET_ATIME_NOW) {
		s->atime.set_it = SET_TO_SERVER_TIME;
	} else if (to_set & PODFS_SET_ATIME) {
		s->atime.set_it = SET_TO_CLIENT_TIME;
		s->atime.set_atime_u.atime.seconds =
			(uint32_t)attr->st_atim.tv_sec;
		s->atime.set_atime_u.atime.nseconds =
			(uint32_t)attr->st_atim.tv_nsec;
	}
	if (to_set & PODFS_SET_MTIME_NOW) {
		s->mtime.set_it = SET_TO_SERVER_TIME;
	} else if (to_set & PODFS_SET_MTIME) {
		s->mtime.set_it = SET_TO_CLIENT_TIME;
		s->mtime.set_mtime_u.mtime.seconds =
			(uint32_t)attr->st_mtim.tv_sec;
		s->mtime.set_mtime_u.mtime.nseconds =
			(uint32_t)attr->st_mtim.tv_nsec;
	}
}

/* ---- sending and decoding ------------------------------------------------- */

static int v3_send(struct nfs_call *k, struct rpc_context *rpc, rpc_cb cb)
{
	struct v3call *c = container_of(k, struct v3call, k);

	switch (c->proc) {
	case NFS3_GETATTR:
		return rpc_nfs3_getattr_async(rpc, cb, &c->a.getattr, k);
	case NFS3_SETATTR:
		return rpc_nfs3_setattr_async(rpc, cb, &c->a.setattr, k);
	case NFS3_LOOKUP:
		return rpc_nfs3_lookup_async(rpc, cb, &c->a.lookup, k);
	case NFS3_READLINK:
		return rpc_nfs3_readlink_async(rpc, cb, &c->a.readlink, k);
	case NFS3_CREATE:
		return rpc_nfs3_create_async(rpc, cb, &c->a.create, k);
	case NFS3_MKDIR:
		return rpc_nfs3_mkdir_async(rpc, cb, &c->a.mkdir, k);
	case NFS3_SYMLINK:
		return nfs3_symlink_send(rpc, cb, &c->a.symlink, k);
	case NFS3_MKNOD:
		return rpc_nfs3_mknod_async(rpc, cb, &c->a.mknod, k);
	case NFS3_REMOVE:
		return rpc_nfs3_remove_async(rpc, cb, &c->a.remove, k);
	case NFS3_RMDIR:
		return rpc_nfs3_rmdir_async(rpc, cb, &c->a.rmdir, k);
	case NFS3_RENAME:
		return rpc_nfs3_rename_async(rpc, cb, &c->a.rename, k);
	case NFS3_LINK:
		return rpc_nfs3_link_async(rpc, cb, &c->a.link, k);
	case NFS3_READDIRPLUS:
		return rpc_nfs3_readdirplus_async(rpc, cb, &c->a.readdirplus,
						  k);
	case NFS3_FSSTAT:
		return rpc_nfs3_fsstat_async(rpc, cb, &c->a.fsstat, k);
	case NFS3_FSINFO:
		return rpc_nfs3_fsinfo_async(rpc, cb, &c->a.fsinfo, k);
	case NFS3_PATHCONF:
		return rpc_nfs3_pathconf_async(rpc, cb, &c->a.pathconf, k);
	case NFS3_COMMIT:
		return rpc_nfs3_commit_async(rpc, cb, &c->a.commit, k);
	}
	return -1;
}

static bool oom(struct nfs_call *k)
{
	k->err = -ENOMEM;
	snprintf(k->msg, sizeof(k->msg), "out of memory");
	return false;
}

/* Copies the entries of a READDIRPLUS reply out of it. */
static void readdir_reply(struct v3call *c, READDIRPLUS3resok *ok)
{
	entryplus3 e, *next;
	struct nfs_dirent *v;

	memcpy(c->cookieverf, ok->cookieverf, sizeof(c->cookieverf));
	c->eof = ok->reply.eof;
	for (next = ok->reply.entries; next; next = e.nextentry) {
		int take;

		NFS_COPY_OUT(e, next);
		c->cookie = e.cookie;
		/* (libnfs ends a name at a NUL it holds: not seen here) */
		take = nfs_listing_name(c->ls, 3, e.name, strlen(e.name),
					c->why, sizeof(c->why));
		if (take < 0) {
			bad_reply(c, c->why);
			return;
		}
		if (!take)
			continue;
		v = nfs_dirent_add(&c->ents, e.name, strlen(e.name));
		if (!v) {
			oom(&c->k);
			return;
		}
		if (e.name_attributes.attributes_follow) {
			stat3(&v->st,
			      &e.name_attributes.post_op_attr_u.attributes);
			if (!attrs_ok(c, &v->st))
				return;
			v->has_st = true;
		} else {
			v->st.st_ino = e.fileid;
		}
		if (e.name_handle.handle_follows)
			v->has_fh = fh_copy(c, &v->fh,
					    &e.name_handle.post_op_fh3_u.handle);
	}
}

static void v3_reply(struct nfs_call *k, void *data)
{
	struct v3call *c = container_of(k, struct v3call, k);
	const char *op = proc_names[c->proc];
	uint32_t status = *(uint32_t *)data; /* every result starts so */

	nfs_call_status(k, 3, op, status);
	switch (c->proc) {
	case NFS3_GETATTR:
		if (!status) {
			stat3(&c->st, &((GETATTR3res *)data)
					       ->GETATTR3res_u.resok
					       .obj_attributes);
			c->has_st = attrs_ok(c, &c->st);
		}
		break;
	case NFS3_SETATTR: {
		SETATTR3res *r = data;

		post_op(c, status ? &r->SETATTR3res_u.resfail.obj_wcc.after :
				    &r->SETATTR3res_u.resok.obj_wcc.after);
		break;
	}
	case NFS3_LOOKUP:
		if (!status) {
			LOOKUP3resok *ok = &((LOOKUP3res *)data)
						    ->LOOKUP3res_u.resok;

			c->has_fh = fh_copy(c, &c->fh, &ok->object);
			post_op(c, &ok->obj_attributes);
		}
		break;
	case NFS3_READLINK:
		if (!status) {
			const char *t = ((READLINK3res *)data)
						->READLINK3res_u.resok.data;

			c->text_len = strlen(t);
			c->text = strdup(t);
			if (!c->text)
				oom(k);
		}
		break;
	case NFS3_COMMIT:
		if (!status)
			memcpy(c->verf,
			       ((COMMIT3res *)data)->COMMIT3res_u.resok.verf,
			       8);
		break;
	case NFS3_CREATE:
		if (!status) {
			CREATE3resok *ok = &((CREATE3res *)data)
						    ->CREATE3res_u.resok;

			post_fh(c, &ok->obj);
			post_op(c, &ok->obj_attributes);
		}
		break;
	case NFS3_MKDIR:
		if (!status) {
			MKDIR3resok *ok = &((MKDIR3res *)data)
						   ->MKDIR3res_u.resok;

			post_fh(c, &ok->obj);
			post_op(c, &ok->obj_attributes);
		}
		break;
	case NFS3_SYMLINK:
		if (!status) {
			SYMLINK3resok *ok = &((SYMLINK3res *)data)
						     ->SYMLINK3res_u.resok;

			post_fh(c, &ok->obj);
			post_op(c, &ok->obj_attributes);
		}
		break;
	case NFS3_MKNOD:
		if (!status) {
			MKNOD3resok *ok = &((MKNOD3res *)data)
						   ->MKNOD3res_u.resok;

			post_fh(c, &ok->obj);
			post_op(c, &ok->obj_attributes);
		}
		break;
	case NFS3_LINK:
		if (!status)
			post_op(c, &((LINK3res *)data)
					    ->LINK3res_u.resok.file_attributes);
		break;
	case NFS3_READDIRPLUS:
		if (!status)
			readdir_reply(c, &((READDIRPLUS3res *)data)
						  ->READDIRPLUS3res_u.resok);
		break;
	case NFS3_FSSTAT:
		if (!status) {
			FSSTAT3resok *ok = &((FSSTAT3res *)data)
						    ->FSSTAT3res_u.resok;

			c->sv.f_bsize = 4096;
			c->sv.f_frsize = 4096;
			c->sv.f_blocks = ok->tbytes / 4096;
			c->sv.f_bfree = ok->fbytes / 4096;
			c->sv.f_bavail = ok->abytes / 4096;
			c->sv.f_files = ok->tfiles;
			c->sv.f_ffree = ok->ffiles;
			c->sv.f_favail = ok->afiles;
		}
		break;
	case NFS3_FSINFO:
		if (!status) {
			FSINFO3resok *ok = &((FSINFO3res *)data)
						    ->FSINFO3res_u.resok;

			c->rtmax = ok->rtmax;
			c->wtmax = ok->wtmax;
		}
		break;
	case NFS3_PATHCONF:
		if (!status)
			c->sv.f_namemax = ((PATHCONF3res *)data)
						  ->PATHCONF3res_u.resok.name_max;
		break;
	}
	if (c->bad && !k->err) {
		k->err = -EIO;
		snprintf(k->msg, sizeof(k->msg), "the server sent %s", c->bad);
	}
}

static void v3_init(struct v3call *c, int proc)
{
	memset(c, 0, sizeof(*c));
	c->proc = proc;
	c->k.send = v3_send;
	c->k.reply = v3_reply;
	c->k.what = proc_names[proc];
}

/* Runs C; on failure the volume's message names NAME (may be NULL). */
static int v3_run(struct nfs_be *nb, struct v3call *c, const char *name)
{
	int ret = nfs_run(nb, &c->k);

	if (ret && name && c->k.fault == FAULT_NONE)
		ret = nfs_call_fail(nb, &c->k, name);
	return ret;
}

/* ---- ops ------------------------------------------------------------------- */

static int v3_getattr(struct nfs_be *nb, struct nfs_obj *o, struct stat *st)
{
	struct v3call c;
	int ret;

	v3_init(&c, NFS3_GETATTR);
	c.a.getattr.object = fh3(&o->fh);
	ret = v3_run(nb, &c, NULL);
	if (!ret)
		*st = c.st;
	return ret;
}

/* The object a reply named (C's handle and attributes), found as NAME in
 * DIR; a reply without attributes costs a GETATTR. */
static int v3_result(struct nfs_be *nb, struct v3call *c, struct nfs_obj *dir,
		     const char *name, struct nfs_obj **obj, struct stat *st)
{
	struct v3call l;
	struct nfs_obj *o;
	int ret;

	if (!c->has_fh) {
		/* no handle in the reply: look the new object up */
		v3_init(&l, NFS3_LOOKUP);
		l.a.lookup.what.dir = fh3(&dir->fh);
		l.a.lookup.what.name = (char *)name;
		ret = v3_run(nb, &l, name);
		if (ret)
			return ret;
		if (!l.has_fh)
			return nfs_fail(nb, EIO, "lookup %s: the server's "
					"answer lacks the object's handle",
					name);
		c->fh = l.fh;
		c->has_fh = l.has_fh;
		if (!c->has_st && l.has_st) {
			c->st = l.st;
			c->has_st = true;
		}
	}
	o = nfs_obj_new(nb, c->fh.data, c->fh.len, c->st.st_ino,
			c->st.st_mode);
	if (!o)
		return -ENOMEM;
	if (!c->has_st) {
		ret = v3_getattr(nb, o, &c->st);
		if (ret) {
			nfs_obj_put(nb, o);
			return ret;
		}
		o->b.key = nfs_key(&o->fh, (uint64_t)c->st.st_ino);
		o->type = c->st.st_mode & S_IFMT;
	}
	nfs_obj_hint(nb, o, &dir->fh, name);
	*st = c->st;
	*obj = o;
	return 0;
}

static int v3_lookup(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		     struct nfs_obj **obj, struct stat *st)
{
	struct v3call c;
	int ret;

	v3_init(&c, NFS3_LOOKUP);
	c.a.lookup.what.dir = fh3(&dir->fh);
	c.a.lookup.what.name = (char *)name;
	ret = v3_run(nb, &c, name);
	if (ret)
		return ret;
	return v3_result(nb, &c, dir, name, obj, st);
}

static int v3_setattr(struct nfs_be *nb, struct nfs_obj *o, struct nfs_file *f,
		      const struct stat *attr, int to_set, struct stat *out)
{
	struct v3call c;
	int ret;

	(void)f;
	v3_init(&c, NFS3_SETATTR);
	c.a.setattr.object = fh3(&o->fh);
	sattr(&c.a.setattr.new_attributes, attr, to_set);
	ret = v3_run(nb, &c, NULL);
	if (ret)
		return ret;
	if (c.has_st) {
		*out = c.st;
		return 0;
	}
	return v3_getattr(nb, o, out);
}

/* Bytes of directory entries (names and cookies) and of whole reply a
 * READDIRPLUS asks for: as the Linux client, the reply as large as a
 * read, so that a listing takes few round trips. */
#define V3_DIRCOUNT 65536

static int v3_readdir(struct nfs_be *nb, struct nfs_obj *dir,
		      podfs_bdirent_cb cb, void *arg)
{
	struct nfs_listing ls = { 0 };
	uint64_t cookie = 0;
	cookieverf3 verf = { 0 };
	struct v3call c;
	bool eof = false;
	int ret = 0;

	while (!eof && !ret) {
		v3_init(&c, NFS3_READDIRPLUS);
		c.ls = &ls;
		c.a.readdirplus.dir = fh3(&dir->fh);
		c.a.readdirplus.cookie = cookie;
		memcpy(c.a.readdirplus.cookieverf, verf, sizeof(verf));
		c.a.readdirplus.dircount = V3_DIRCOUNT;
		c.a.readdirplus.maxcount = nb->rsize;
		ret = v3_run(nb, &c, NULL);
		if (ret) {
			nfs_dirents_free(&c.ents);
			break;
		}
		cookie = c.cookie;
		memcpy(verf, c.cookieverf, sizeof(verf));
		eof = c.eof || !c.ents.n;
		ret = nfs_dirents_emit(nb, dir, &c.ents, cb, arg);
		if (!eof && !ret)
			ret = nfs_listing_next(nb, &ls, cookie);
	}
	nfs_listing_free(&ls);
	return ret;
}

static int v3_make(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		   mode_t mode, dev_t rdev, const char *target,
		   const struct podfs_cred *cred, struct nfs_obj **obj,
		   struct stat *st)
{
	struct stat attr = { .st_mode = mode };
	struct v3call c;
	sattr3 *sa;
	int ret;

	if (S_ISDIR(mode)) {
		v3_init(&c, NFS3_MKDIR);
		c.a.mkdir.where.dir = fh3(&dir->fh);
		c.a.mkdir.where.name = (char *)name;
		sa = &c.a.mkdir.attributes;
	} else if (S_ISLNK(mode)) {
		v3_init(&c, NFS3_SYMLINK);
		c.a.symlink.where.dir = fh3(&dir->fh);
		c.a.symlink.where.name = (char *)name;
		c.a.symlink.symlink.symlink_data = (char *)target;
		sa = &c.a.symlink.symlink.symlink_attributes;
	} else {
		mknoddata3 *m;

		v3_init(&c, NFS3_MKNOD);
		c.a.mknod.where.dir = fh3(&dir->fh);
		c.a.mknod.where.name = (char *)name;
		m = &c.a.mknod.what;
		switch (mode & S_IFMT) {
		case S_IFCHR:
		case S_IFBLK:
			m->type = S_ISCHR(mode) ? NF3CHR : NF3BLK;
			m->mknoddata3_u.chr_device.spec.specdata1 = major(rdev);
			m->mknoddata3_u.chr_device.spec.specdata2 = minor(rdev);
			sa = &m->mknoddata3_u.chr_device.dev_attributes;
			break;
		case S_IFSOCK:
			m->type = NF3SOCK;
			sa = &m->mknoddata3_u.sock_attributes;
			break;
		case S_IFIFO:
			m->type = NF3FIFO;
			sa = &m->mknoddata3_u.pipe_attributes;
			break;
		default:
			return nfs_fail(nb, EINVAL,
					"mknod %s: unknown file type %#o", name,
					(unsigned int)(mode & S_IFMT));
		}
	}
	if (!S_ISLNK(mode))
		sattr(sa, &attr, PODFS_SET_MODE);
	c.k.cred = cred;
	ret = nfs_run(nb, &c.k);
	/* Sent again after a lost answer, a call the server did before
	 * finds its own work: take an object of that type as ours. */
	if (ret == -EEXIST && c.k.retries > 0) {
		ret = v3_lookup(nb, dir, name, obj, st);
		if (!ret && (st->st_mode & S_IFMT) != (mode & S_IFMT)) {
			nfs_obj_put(nb, *obj);
			ret = nfs_fail(nb, EEXIST, "%s %s: file exists",
				       c.k.what, name);
		}
		return ret;
	}
	if (ret)
		return nfs_call_fail(nb, &c.k, name);
	return v3_result(nb, &c, dir, name, obj, st);
}

static int v3_create(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		     mode_t mode, int flags, const struct podfs_cred *cred,
		     struct nfs_obj **obj, struct stat *st)
{
	struct stat attr = { .st_mode = mode };
	struct v3call c;
	int ret;

	/* GUARDED: an existing file is EEXIST, and opened if the caller
	 * allowed that (UNCHECKED would not tell us it existed). */
	v3_init(&c, NFS3_CREATE);
	c.a.create.where.dir = fh3(&dir->fh);
	c.a.create.where.name = (char *)name;
	c.a.create.how.mode = GUARDED;
	sattr(&c.a.create.how.createhow3_u.obj_attributes, &attr,
	      PODFS_SET_MODE);
	c.k.cred = cred;
	ret = nfs_run(nb, &c.k);
	if (ret == -EEXIST && (!(flags & O_EXCL) || c.k.retries > 0)) {
		/* an existing file, or our own create answered late */
		ret = v3_lookup(nb, dir, name, obj, st);
		if (!ret && !S_ISREG(st->st_mode)) {
			bool dir_ = S_ISDIR(st->st_mode);

			nfs_obj_put(nb, *obj);
			ret = nfs_fail(nb, dir_ ? EISDIR : EEXIST,
				       "create %s: %s", name,
				       dir_ ? "is a directory" : "file exists");
		}
		return ret;
	}
	if (ret)
		return nfs_call_fail(nb, &c.k, name);
	return v3_result(nb, &c, dir, name, obj, st);
}

static int v3_link(struct nfs_be *nb, struct nfs_obj *o, struct nfs_obj *dir,
		   const char *name, struct stat *st)
{
	struct v3call c;
	int ret;

	v3_init(&c, NFS3_LINK);
	c.a.link.file = fh3(&o->fh);
	c.a.link.link.dir = fh3(&dir->fh);
	c.a.link.link.name = (char *)name;
	ret = nfs_run(nb, &c.k);
	if (ret == -EEXIST && c.k.retries > 0) {
		struct nfs_obj *found;

		ret = v3_lookup(nb, dir, name, &found, st);
		if (!ret && found->b.key != o->b.key)
			ret = nfs_fail(nb, EEXIST, "link %s: file exists",
				       name);
		if (found)
			nfs_obj_put(nb, found);
		return ret;
	}
	if (ret)
		return nfs_call_fail(nb, &c.k, name);
	if (c.has_st) {
		*st = c.st;
		return 0;
	}
	return v3_getattr(nb, o, st);
}

static int v3_remove(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		     bool is_dir)
{
	struct v3call c;
	int ret;

	v3_init(&c, is_dir ? NFS3_RMDIR : NFS3_REMOVE);
	if (is_dir) {
		c.a.rmdir.object.dir = fh3(&dir->fh);
		c.a.rmdir.object.name = (char *)name;
	} else {
		c.a.remove.object.dir = fh3(&dir->fh);
		c.a.remove.object.name = (char *)name;
	}
	ret = nfs_run(nb, &c.k);
	/* sent again after a lost answer: our own work is done */
	if (ret == -ENOENT && c.k.retries > 0)
		return 0;
	/* REMOVE of a directory: ganesha says EISDIR or EPERM, as does
	 * unlink(2) on some systems; Linux's own is EISDIR. */
	if (!is_dir && ret == -EPERM) {
		struct nfs_obj *o;
		struct stat st;

		if (!v3_lookup(nb, dir, name, &o, &st)) {
			nfs_obj_put(nb, o);
			if (S_ISDIR(st.st_mode))
				return nfs_fail(nb, EISDIR,
						"unlink %s: is a directory",
						name);
		}
	}
	return ret ? nfs_call_fail(nb, &c.k, name) : 0;
}

static int v3_rename(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		     struct nfs_obj *newdir, const char *newname)
{
	struct v3call c;
	int ret;

	v3_init(&c, NFS3_RENAME);
	c.a.rename.from.dir = fh3(&dir->fh);
	c.a.rename.from.name = (char *)name;
	c.a.rename.to.dir = fh3(&newdir->fh);
	c.a.rename.to.name = (char *)newname;
	ret = nfs_run(nb, &c.k);
	if (ret == -ENOENT && c.k.retries > 0) {
		/* our own rename answered late, if NEWNAME is there now */
		struct nfs_obj *o;
		struct stat st;

		if (!v3_lookup(nb, newdir, newname, &o, &st)) {
			nfs_obj_put(nb, o);
			return 0;
		}
	}
	return ret ? nfs_call_fail(nb, &c.k, name) : 0;
}

static int v3_readlink(struct nfs_be *nb, struct nfs_obj *o, char **target,
		       size_t *len)
{
	struct v3call c;
	int ret;

	v3_init(&c, NFS3_READLINK);
	c.a.readlink.symlink = fh3(&o->fh);
	ret = v3_run(nb, &c, NULL);
	if (ret == -EINVAL)
		return nfs_fail(nb, EINVAL, "readlink: not a symlink");
	if (ret)
		return ret;
	if (!c.text)
		return nfs_fail(nb, ENOMEM, "out of memory");
	*target = c.text;
	*len = c.text_len;
	return 0;
}

static int v3_statfs(struct nfs_be *nb, struct nfs_obj *o, struct statvfs *st)
{
	struct v3call c;
	int ret;

	v3_init(&c, NFS3_FSSTAT);
	c.a.fsstat.fsroot = fh3(&o->fh);
	ret = v3_run(nb, &c, NULL);
	if (ret)
		return ret;
	*st = c.sv;
	st->f_namemax = nb->namemax;
	return 0;
}

static int v3_open(struct nfs_be *nb, struct nfs_obj *o, int flags,
		   struct nfs_open_by *by)
{
	(void)nb;
	(void)o;
	(void)flags; /* NFSv3 has no open */
	(void)by;
	return 0;
}

static void v3_close(struct nfs_be *nb, struct nfs_obj *o)
{
	(void)nb;
	(void)o;
}

static int v3_commit(struct nfs_be *nb, struct nfs_obj *o, char verf[8])
{
	struct v3call c;
	int ret;

	v3_init(&c, NFS3_COMMIT);
	c.a.commit.file = fh3(&o->fh);
	ret = v3_run(nb, &c, NULL);
	if (!ret)
		memcpy(verf, c.verf, 8);
	return ret;
}

/* ---- mounting ------------------------------------------------------------ */

struct mnt_call {
	struct nfs_call k;
	char *path;
	struct nfs_fh fh;
	uint32_t status;
};

static int mnt_send(struct nfs_call *k, struct rpc_context *rpc, rpc_cb cb)
{
	struct mnt_call *m = container_of(k, struct mnt_call, k);

	return rpc_mount3_mnt_async(rpc, cb, m->path, k);
}

static void mnt_reply(struct nfs_call *k, void *data)
{
	struct mnt_call *m = container_of(k, struct mnt_call, k);
	mountres3 *r = data;
	fhandle3 *h;

	m->status = r->fhs_status;
	if (r->fhs_status != MNT3_OK) {
		k->err = r->fhs_status == MNT3ERR_NOENT	 ? -ENOENT :
			 r->fhs_status == MNT3ERR_ACCES	 ? -EACCES :
			 r->fhs_status == MNT3ERR_NOTDIR ? -ENOTDIR :
							   -EIO;
		snprintf(k->msg, sizeof(k->msg), "MOUNT failed with status %u",
			 (unsigned int)r->fhs_status);
		return;
	}
	h = &r->mountres3_u.mountinfo.fhandle;
	if (h->fhandle3_len > NFS3_FHSIZE) {
		k->err = -EIO;
		snprintf(k->msg, sizeof(k->msg), "a %u-byte root handle",
			 (unsigned int)h->fhandle3_len);
		return;
	}
	m->fh.len = h->fhandle3_len;
	memcpy(m->fh.data, h->fhandle3_val, m->fh.len);
}

static int mnt(struct nfs_be *nb, const char *path, struct mnt_call *m)
{
	bool connected;
	int ret;

	memset(m, 0, sizeof(*m));
	m->k.send = mnt_send;
	m->k.reply = mnt_reply;
	m->k.what = "mount";
	m->path = (char *)path;
	ret = nfs_oneshot(nb, MOUNT_PROGRAM, MOUNT_V3, nb->mountport, &m->k,
			  &connected);
	/* the volume's message says why we could not connect */
	m->k.no_state = !connected;
	return ret;
}

/* Walks NAMES (a path) from DIR by LOOKUPs: 0 with FH, or -errno. */
static int walk(struct nfs_be *nb, const struct nfs_fh *dir, const char *names,
		struct nfs_fh *fh)
{
	char *copy = strdup(names), *tok, *save = NULL;
	struct v3call c;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	*fh = *dir;
	for (tok = strtok_r(copy, "/", &save); tok && !ret;
	     tok = strtok_r(NULL, "/", &save)) {
		v3_init(&c, NFS3_LOOKUP);
		c.a.lookup.what.dir = fh3(fh);
		c.a.lookup.what.name = tok;
		ret = nfs_run(nb, &c.k);
		if (!ret)
			*fh = c.fh;
	}
	free(copy);
	return ret;
}

/*
 * The mount of the export's path failed with ERR: tells a missing export
 * from a missing directory in one, by mounting the path's prefixes
 * (ganesha and knfsd answer MNT3ERR_ACCES for a path they do not export).
 */
static int mount_fail(struct nfs_be *nb, struct mnt_call *m, int err)
{
	char *prefix, *slash;
	struct mnt_call p;
	struct nfs_fh fh;
	int ret;

	if (m->k.no_state)
		return err; /* no connection: said so */
	prefix = strdup(nb->export);
	if (err == -ETIMEDOUT) {
		free(prefix);
		return nfs_fail(nb, ETIMEDOUT,
				"server %s did not answer the MOUNT of %s within %d s",
				nb->server, nb->export,
				(nb->timeout_ms + 999) / 1000);
	}
	if (err != -ENOENT && err != -EACCES) {
		free(prefix);
		return nfs_fail(nb, err == -ECONNREFUSED ? ECONNREFUSED : EIO,
				"mount of %s on server %s failed: %s",
				nb->export, nb->server, m->k.msg);
	}
	while (prefix && (slash = strrchr(prefix, '/')) && slash != prefix) {
		*slash = '\0';
		if (mnt(nb, prefix, &p))
			continue;
		ret = walk(nb, &p.fh, nb->export + strlen(prefix), &fh);
		if (ret == -ENOENT)
			ret = nfs_fail(nb, ENOENT,
				       "directory %s not found in export %s on server %s",
				       nb->export + strlen(prefix), prefix,
				       nb->server);
		else
			ret = nfs_fail(nb, EACCES,
				       "server %s denied access to %s (%s)",
				       nb->server, nb->export, m->k.msg);
		free(prefix);
		return ret;
	}
	free(prefix);
	return nfs_fail(nb, ENOENT, "export %s not found on server %s%s",
			nb->export, nb->server,
			err == -EACCES ? " (or not exported to this client)" :
					 "");
}

static int v3_mount(struct nfs_be *nb, struct nfs_fh *root)
{
	struct mnt_call m;
	struct v3call c;
	int ret;

	ret = mnt(nb, nb->export, &m);
	if (ret)
		return mount_fail(nb, &m, ret);
	*root = m.fh;

	/* The server's transfer sizes and name length. */
	v3_init(&c, NFS3_FSINFO);
	c.a.fsinfo.fsroot = fh3(root);
	ret = v3_run(nb, &c, NULL);
	if (ret)
		return ret;
	if (c.rtmax >= NFS_MIN_IO && c.rtmax < nb->rsize)
		nb->rsize = c.rtmax & ~(uint32_t)4095;
	if (c.wtmax >= NFS_MIN_IO && c.wtmax < nb->wsize)
		nb->wsize = c.wtmax & ~(uint32_t)4095;
	v3_init(&c, NFS3_PATHCONF);
	c.a.pathconf.object = fh3(root);
	if (!v3_run(nb, &c, NULL) && c.sv.f_namemax &&
	    c.sv.f_namemax < nb->namemax)
		nb->namemax = (uint32_t)c.sv.f_namemax;
	return 0;
}

/* ---- reads and writes -------------------------------------------------------- */

/* A READ or WRITE piece of an nfs_io: its arguments are made as it is
 * sent (libnfs encodes them at once), its answer lands in the nfs_io. */
static int v3_io_send(struct nfs_call *k, struct rpc_context *rpc, rpc_cb cb)
{
	struct nfs_io *io = container_of(k, struct nfs_io, call);

	nfs_count_io(k->conn->nb, io);
	if (io->write) {
		WRITE3args a = {
			.file = fh3(&io->obj->fh),
			.offset = io->off,
			.count = io->count,
			.stable = io->stable ? FILE_SYNC : UNSTABLE,
			.data = { .data_len = io->count, .data_val = io->buf },
		};

		return rpc_nfs3_write_async(rpc, cb, &a, k);
	} else {
		READ3args a = { .file = fh3(&io->obj->fh),
				.offset = io->off,
				.count = io->count };

		return rpc_nfs3_read_async(rpc, cb, &a, k);
	}
}

static void v3_io_reply(struct nfs_call *k, void *data)
{
	struct nfs_io *io = container_of(k, struct nfs_io, call);
	uint32_t status = *(uint32_t *)data;

	nfs_call_status(k, 3, k->what, status);
	if (status)
		return;
	if (io->write) {
		WRITE3resok *ok = &((WRITE3res *)data)->WRITE3res_u.resok;

		if (nfs_io_overrun(io, ok->count))
			return;
		io->done = ok->count;
		io->committed = ok->committed;
		memcpy(io->verf, ok->verf, 8);
	} else {
		READ3resok *ok = &((READ3res *)data)->READ3res_u.resok;
		uint32_t n = ok->data.data_len;

		if (nfs_io_overrun(io, n))
			return;
		nfs_io_take(io, ok->data.data_val, n);
		io->done = n;
		io->eof = ok->eof;
	}
}

static void v3_io_call(struct nfs_be *nb, struct nfs_io *io)
{
	(void)nb;
	io->call.send = v3_io_send;
	io->call.reply = v3_io_reply;
	io->call.what = io->write ? "write" : "read";
}

const struct nfs_vops nfs_v3_ops = {
	.mount = v3_mount,
	.getattr = v3_getattr,
	.lookup = v3_lookup,
	.setattr = v3_setattr,
	.readdir = v3_readdir,
	.make = v3_make,
	.create = v3_create,
	.link = v3_link,
	.remove = v3_remove,
	.rename = v3_rename,
	.readlink = v3_readlink,
	.statfs = v3_statfs,
	.open = v3_open,
	.close = v3_close,
	.io_call = v3_io_call,
	.commit = v3_commit,
};
