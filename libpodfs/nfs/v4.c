/*
 * NFSv4.0 (RFC 7530): each op is one COMPOUND on the object's file handle
 * (PUTFH; op; GETFH/GETATTR as the op needs), encoded by libnfs' XDR code
 * into a buffer as large as the call (libnfs40.c). Attributes are
 * encoded and decoded here: libnfs 4.0 leaves fattr4 as opaque bytes.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "nfs4.h"

#define V4_MAXOPS 8

/* One COMPOUND: its ops, and what its answer gave. */
struct v4call {
	struct nfs_call k;
	nfs_argop4 ops[V4_MAXOPS];
	int nops;
	size_t size;	       /* encode room the variable parts need */
	char attrs[256];       /* SETATTR/CREATE values */
	uint32_t attrmask[2];

	/* the open owner whose seqid an op of this call carries */
	struct nfs4_owner *owner;
	/* the lock state whose seqid op SEQID_OP carries (LOCK, LOCKU) */
	struct nfs4_lock *lock;
	int seqid_op;	       /* its index, or -1 */
	bool renew;	       /* RENEW: the current client id at send */
	/* the object whose stateid op SID_OP carries, as it is sent */
	struct nfs_obj *sobj;
	int sid_op;
	stateid4 sent_sid;

	/* results */
	struct nfs_fh fh, fh_prev; /* the last GETFH's, the one before */
	bool has_fh, has_prev;
	struct stat st;
	bool has_st;
	stateid4 stateid;      /* OPEN, OPEN_CONFIRM */
	uint32_t rflags;       /* OPEN */
	char *text;	       /* READLINK */
	size_t text_len;
	char verf[8];	       /* COMMIT */
	struct statvfs sv;
	uint32_t lease, maxread, maxwrite, maxname;
	uint64_t clientid;     /* SETCLIENTID */
	verifier4 confirm;
	struct nfs4_denied denied; /* LOCK, LOCKT: NFS4ERR_DENIED */
	int failed;	       /* index of the op that failed, or -1 */
	/* READDIR */
	struct nfs_dirents ents;
	uint64_t cookie;
	verifier4 cookieverf;
	bool eof;
	struct nfs_listing *ls;
};

/* A reply C cannot take: the call fails with -EIO saying WHY (the
 * first thing found wrong). */
static void bad_reply(struct v4call *c, const char *why)
{
	if (c->k.err)
		return;
	c->k.err = -EIO;
	c->k.fault = FAULT_NONE;
	snprintf(c->k.msg, sizeof(c->k.msg), "the server sent %s", why);
}


/* ---- attributes -------------------------------------------------------------- */

#define B(n) (1u << ((n) % 32))
/* What a stat needs. */
static const uint32_t attrs_stat[2] = {
	B(FATTR4_TYPE) | B(FATTR4_CHANGE) | B(FATTR4_SIZE) | B(FATTR4_FSID) |
		B(FATTR4_FILEID),
	B(FATTR4_MODE) | B(FATTR4_NUMLINKS) | B(FATTR4_OWNER) |
		B(FATTR4_OWNER_GROUP) | B(FATTR4_RAWDEV) |
		B(FATTR4_SPACE_USED) | B(FATTR4_TIME_ACCESS) |
		B(FATTR4_TIME_METADATA) | B(FATTR4_TIME_MODIFY),
};
/* A listing's: the stat's and each entry's handle. */
static const uint32_t attrs_dirent[2] = {
	B(FATTR4_TYPE) | B(FATTR4_CHANGE) | B(FATTR4_SIZE) | B(FATTR4_FSID) |
		B(FATTR4_FILEHANDLE) | B(FATTR4_FILEID),
	B(FATTR4_MODE) | B(FATTR4_NUMLINKS) | B(FATTR4_OWNER) |
		B(FATTR4_OWNER_GROUP) | B(FATTR4_RAWDEV) |
		B(FATTR4_SPACE_USED) | B(FATTR4_TIME_ACCESS) |
		B(FATTR4_TIME_METADATA) | B(FATTR4_TIME_MODIFY),
};
static const uint32_t attrs_statfs[2] = {
	B(FATTR4_FILES_AVAIL) | B(FATTR4_FILES_FREE) | B(FATTR4_FILES_TOTAL) |
		B(FATTR4_MAXNAME),
	B(FATTR4_SPACE_AVAIL) | B(FATTR4_SPACE_FREE) | B(FATTR4_SPACE_TOTAL),
};
/* At mount: the root's, and the server's limits. */
static const uint32_t attrs_mount[2] = {
	B(FATTR4_TYPE) | B(FATTR4_CHANGE) | B(FATTR4_SIZE) | B(FATTR4_FSID) |
		B(FATTR4_LEASE_TIME) | B(FATTR4_FILEID) | B(FATTR4_MAXNAME) |
		B(FATTR4_MAXREAD) | B(FATTR4_MAXWRITE),
	B(FATTR4_MODE) | B(FATTR4_NUMLINKS) | B(FATTR4_OWNER) |
		B(FATTR4_OWNER_GROUP) | B(FATTR4_RAWDEV) |
		B(FATTR4_SPACE_USED) | B(FATTR4_TIME_ACCESS) |
		B(FATTR4_TIME_METADATA) | B(FATTR4_TIME_MODIFY),
};

/* An XDR reader over a reply's bytes. */
struct xdr_in {
	const unsigned char *p, *end;
	bool bad;
};

static uint32_t in_u32(struct xdr_in *x)
{
	uint32_t v;

	if (x->end - x->p < 4) {
		x->bad = true;
		return 0;
	}
	memcpy(&v, x->p, 4);
	x->p += 4;
	return ntohl(v);
}

static uint64_t in_u64(struct xdr_in *x)
{
	uint64_t hi = in_u32(x);

	return hi << 32 | in_u32(x);
}

/* An opaque<>: its bytes (not NUL-terminated) and length. */
static const unsigned char *in_opaque(struct xdr_in *x, uint32_t *len)
{
	const unsigned char *p;

	*len = in_u32(x);
	if (x->bad || (size_t)(x->end - x->p) < ((*len + 3) & ~3u)) {
		x->bad = true;
		return NULL;
	}
	p = x->p;
	x->p += (*len + 3) & ~3u;
	return p;
}

static void in_time(struct xdr_in *x, struct timespec *ts)
{
	ts->tv_sec = (time_t)(int64_t)in_u64(x);
	ts->tv_nsec = in_u32(x);
}

/* An owner as Only_Numeric_Owners servers send it ("1000"), or the
 * number before an "@domain"; anything else is nobody. */
static unsigned long in_owner(struct xdr_in *x)
{
	const unsigned char *p;
	unsigned long id = 0;
	uint32_t len, i;

	p = in_opaque(x, &len);
	if (!p || !len)
		return 65534;
	for (i = 0; i < len && p[i] != '@'; i++) {
		if (p[i] < '0' || p[i] > '9' || id > 0xffffffffUL / 10)
			return 65534;
		id = id * 10 + (p[i] - '0');
	}
	return i ? id : 65534;
}

static mode_t type4(uint32_t type)
{
	static const mode_t bits[] = { 0,	S_IFREG, S_IFDIR,  S_IFBLK,
				       S_IFCHR, S_IFLNK, S_IFSOCK, S_IFIFO };

	return type < sizeof(bits) / sizeof(bits[0]) ? bits[type] : 0;
}

/* What a fattr4 told; FH the FILEHANDLE attribute, when asked. */
struct attrs4 {
	struct stat st;
	struct nfs_fh fh;
	bool has_fh;
	bool typed; /* the type was in it */
	struct statvfs sv;
	uint32_t lease, maxread, maxwrite, maxname;
};

/* Decodes ATTR: false if it holds an attribute we did not ask for. */
static bool attrs_decode(const fattr4 *attr, struct attrs4 *a)
{
	struct xdr_in x = {
		.p = (const unsigned char *)attr->attr_vals.attrlist4_val,
		.end = (const unsigned char *)attr->attr_vals.attrlist4_val +
		       attr->attr_vals.attrlist4_len,
	};
	uint32_t words = attr->attrmask.bitmap4_len, w, bit, len, v;
	const unsigned char *p;
	uint64_t major = 0, minor = 0;

	memset(a, 0, sizeof(*a));
	a->st.st_blksize = 4096;
	for (w = 0; w < words && w < 2; w++) {
		uint32_t mask;

		memcpy(&mask, &attr->attrmask.bitmap4_val[w], 4);
		for (bit = 0; bit < 32; bit++) {
			if (!(mask & (1u << bit)))
				continue;
			switch (w * 32 + bit) {
			case FATTR4_TYPE:
				a->st.st_mode |= type4(in_u32(&x));
				a->typed = true;
				break;
			case FATTR4_CHANGE:
				in_u64(&x); /* for the cache, later */
				break;
			case FATTR4_SIZE:
				a->st.st_size = (off_t)in_u64(&x);
				break;
			case FATTR4_FSID:
				major = in_u64(&x);
				minor = in_u64(&x);
				a->st.st_dev = (dev_t)(major ^ (minor << 8));
				break;
			case FATTR4_LEASE_TIME:
				a->lease = in_u32(&x);
				break;
			case FATTR4_FILEHANDLE:
				p = in_opaque(&x, &len);
				if (p && len <= sizeof(a->fh.data)) {
					a->fh.len = len;
					memcpy(a->fh.data, p, len);
					a->has_fh = true;
				}
				break;
			case FATTR4_FILEID:
				a->st.st_ino = in_u64(&x);
				break;
			case FATTR4_FILES_AVAIL:
				a->sv.f_favail = in_u64(&x);
				break;
			case FATTR4_FILES_FREE:
				a->sv.f_ffree = in_u64(&x);
				break;
			case FATTR4_FILES_TOTAL:
				a->sv.f_files = in_u64(&x);
				break;
			case FATTR4_MAXNAME:
				a->maxname = in_u32(&x);
				break;
			case FATTR4_MAXREAD:
				v = (uint32_t)in_u64(&x);
				a->maxread = v;
				break;
			case FATTR4_MAXWRITE:
				v = (uint32_t)in_u64(&x);
				a->maxwrite = v;
				break;
			case FATTR4_MODE:
				a->st.st_mode |= in_u32(&x) & 07777;
				break;
			case FATTR4_NUMLINKS:
				a->st.st_nlink = in_u32(&x);
				break;
			case FATTR4_OWNER:
				a->st.st_uid = (uid_t)in_owner(&x);
				break;
			case FATTR4_OWNER_GROUP:
				a->st.st_gid = (gid_t)in_owner(&x);
				break;
			case FATTR4_RAWDEV:
				major = in_u32(&x);
				minor = in_u32(&x);
				a->st.st_rdev = makedev(major, minor);
				break;
			case FATTR4_SPACE_AVAIL:
				a->sv.f_bavail = in_u64(&x) / 4096;
				break;
			case FATTR4_SPACE_FREE:
				a->sv.f_bfree = in_u64(&x) / 4096;
				break;
			case FATTR4_SPACE_TOTAL:
				a->sv.f_blocks = in_u64(&x) / 4096;
				break;
			case FATTR4_SPACE_USED:
				a->st.st_blocks =
					(blkcnt_t)((in_u64(&x) + 511) / 512);
				break;
			case FATTR4_TIME_ACCESS:
				in_time(&x, &a->st.st_atim);
				break;
			case FATTR4_TIME_METADATA:
				in_time(&x, &a->st.st_ctim);
				break;
			case FATTR4_TIME_MODIFY:
				in_time(&x, &a->st.st_mtim);
				break;
			default:
				return false;
			}
		}
	}
	return !x.bad;
}

/* Decoded attributes A, checked (their type and size). */
static bool attrs_ok(struct v4call *c, const struct attrs4 *a)
{
	const char *why = nfs_bad_attrs(&a->st, a->typed);

	if (why)
		bad_reply(c, why);
	return !why;
}

/* An XDR writer into C's attrs buffer. */
static void out_u32(struct v4call *c, size_t *len, uint32_t v)
{
	v = htonl(v);
	memcpy(c->attrs + *len, &v, 4);
	*len += 4;
}

static void out_u64(struct v4call *c, size_t *len, uint64_t v)
{
	out_u32(c, len, (uint32_t)(v >> 32));
	out_u32(c, len, (uint32_t)v);
}

/* An owner or group as a number, as Only_Numeric_Owners servers take
 * it. */
static void out_id(struct v4call *c, size_t *len, unsigned long id)
{
	char s[24];
	size_t n = (size_t)snprintf(s, sizeof(s), "%lu", id);

	out_u32(c, len, (uint32_t)n);
	memset(c->attrs + *len, 0, (n + 3) & ~(size_t)3);
	memcpy(c->attrs + *len, s, n);
	*len += (n + 3) & ~(size_t)3;
}

static void out_settime(struct v4call *c, size_t *len, bool now,
			const struct timespec *ts)
{
	if (now) {
		out_u32(c, len, SET_TO_SERVER_TIME4);
		return;
	}
	out_u32(c, len, SET_TO_CLIENT_TIME4);
	out_u64(c, len, (uint64_t)(int64_t)ts->tv_sec);
	out_u32(c, len, (uint32_t)ts->tv_nsec);
}

/* The fattr4 for what TO_SET names of ATTR, in C's buffers. */
static void attrs_encode(struct v4call *c, fattr4 *f, const struct stat *attr,
			 int to_set)
{
	size_t len = 0;

	c->attrmask[0] = c->attrmask[1] = 0;
	if (to_set & PODFS_SET_SIZE) {
		c->attrmask[0] |= B(FATTR4_SIZE);
		out_u64(c, &len, (uint64_t)attr->st_size);
	}
	if (to_set & PODFS_SET_MODE) {
		c->attrmask[1] |= B(FATTR4_MODE);
		out_u32(c, &len, attr->st_mode & 07777);
	}
	if (to_set & PODFS_SET_UID) {
		c->attrmask[1] |= B(FATTR4_OWNER);
		out_id(c, &len, attr->st_uid);
	}
	if (to_set & PODFS_SET_GID) {
		c->attrmask[1] |= B(FATTR4_OWNER_GROUP);
		out_id(c, &len, attr->st_gid);
	}
	if (to_set & (PODFS_SET_ATIME | PODFS_SET_ATIME_NOW)) {
		c->attrmask[1] |= B(FATTR4_TIME_ACCESS_SET);
		out_settime(c, &len, to_set & PODFS_SET_ATIME_NOW,
			    &attr->st_atim);
	}
	if (to_set & (PODFS_SET_MTIME | PODFS_SET_MTIME_NOW)) {
		c->attrmask[1] |= B(FATTR4_TIME_MODIFY_SET);
		out_settime(c, &len, to_set & PODFS_SET_MTIME_NOW,
			    &attr->st_mtim);
	}
	f->attrmask.bitmap4_len = 2;
	f->attrmask.bitmap4_val = c->attrmask;
	f->attr_vals.attrlist4_len = (u_int)len;
	f->attr_vals.attrlist4_val = c->attrs;
}

/* ---- building a COMPOUND ------------------------------------------------------ */

static nfs_argop4 *op_add(struct v4call *c, nfs_opnum4 op)
{
	nfs_argop4 *a = &c->ops[c->nops++];

	memset(a, 0, sizeof(*a));
	a->argop = op;
	return a;
}

static void op_putfh(struct v4call *c, const struct nfs_fh *fh)
{
	nfs_argop4 *a = op_add(c, OP_PUTFH);

	a->nfs_argop4_u.opputfh.object.nfs_fh4_len = fh->len;
	a->nfs_argop4_u.opputfh.object.nfs_fh4_val = (char *)fh->data;
	c->size += fh->len;
}

static void op_getattr(struct v4call *c, const uint32_t mask[2])
{
	nfs_argop4 *a = op_add(c, OP_GETATTR);

	a->nfs_argop4_u.opgetattr.attr_request.bitmap4_len = 2;
	a->nfs_argop4_u.opgetattr.attr_request.bitmap4_val = (uint32_t *)mask;
}

static void name4(struct v4call *c, component4 *comp, const char *name)
{
	comp->utf8string_len = (u_int)strlen(name);
	comp->utf8string_val = (char *)name;
	c->size += comp->utf8string_len;
}

static void op_lookup(struct v4call *c, const char *name)
{
	name4(c, &op_add(c, OP_LOOKUP)->nfs_argop4_u.oplookup.objname, name);
}

static void op_getfh(struct v4call *c)
{
	op_add(c, OP_GETFH);
}

static const char *op_name(nfs_opnum4 op)
{
	switch (op) {
	case OP_PUTFH:
		return "PUTFH";
	case OP_PUTROOTFH:
		return "PUTROOTFH";
	case OP_LOOKUP:
		return "LOOKUP";
	case OP_GETATTR:
		return "GETATTR";
	case OP_GETFH:
		return "GETFH";
	case OP_SETATTR:
		return "SETATTR";
	case OP_READ:
		return "READ";
	case OP_WRITE:
		return "WRITE";
	case OP_COMMIT:
		return "COMMIT";
	case OP_CREATE:
		return "CREATE";
	case OP_OPEN:
		return "OPEN";
	case OP_OPEN_CONFIRM:
		return "OPEN_CONFIRM";
	case OP_CLOSE:
		return "CLOSE";
	case OP_REMOVE:
		return "REMOVE";
	case OP_RENAME:
		return "RENAME";
	case OP_LINK:
		return "LINK";
	case OP_READLINK:
		return "READLINK";
	case OP_READDIR:
		return "READDIR";
	case OP_VERIFY:
		return "VERIFY";
	case OP_NVERIFY:
		return "NVERIFY";
	case OP_RENEW:
		return "RENEW";
	case OP_SETCLIENTID:
		return "SETCLIENTID";
	case OP_SETCLIENTID_CONFIRM:
		return "SETCLIENTID_CONFIRM";
	case OP_LOCK:
		return "LOCK";
	case OP_LOCKT:
		return "LOCKT";
	case OP_LOCKU:
		return "LOCKU";
	case OP_RELEASE_LOCKOWNER:
		return "RELEASE_LOCKOWNER";
	default:
		return "COMPOUND";
	}
}

static int v4_send(struct nfs_call *k, struct rpc_context *rpc, rpc_cb cb)
{
	struct v4call *c = container_of(k, struct v4call, k);
	struct nfs_be *nb = k->conn->nb;
	COMPOUND4args args = { .minorversion = 0 };

	/* The client id and seqid as they are now: a retry after the
	 * client was set up again carries the new ones. */
	if (c->renew)
		c->ops[0].nfs_argop4_u.oprenew.clientid = nfs4_clientid(nb);
	if (c->owner && c->seqid_op >= 0)
		nfs4_owner_stamp(nb, c->owner, &c->ops[c->seqid_op]);
	if (c->lock && c->seqid_op >= 0)
		nfs4_lock_stamp(nb, c->lock, &c->ops[c->seqid_op]);
	if (c->sobj) {
		c->sent_sid = nfs4_stateid(c->sobj);
		c->ops[c->sid_op].nfs_argop4_u.opsetattr.stateid = c->sent_sid;
	}
	args.argarray.argarray_len = (u_int)c->nops;
	args.argarray.argarray_val = c->ops;
	return nfs4_compound_send(rpc, cb, &args, k, c->size + 512);
}

/* Copies a READDIR reply's entries out of it. */
static void readdir_reply(struct v4call *c, READDIR4resok *ok)
{
	entry4 e, *next;
	struct nfs_dirent *v;
	struct attrs4 a;

	memcpy(c->cookieverf, ok->cookieverf, sizeof(c->cookieverf));
	c->eof = ok->reply.eof;
	for (next = ok->reply.entries; next; next = e.nextentry) {
		char why[96];

		NFS_COPY_OUT(e, next);
		c->cookie = e.cookie;
		if (nfs_listing_name(c->ls, 4, e.name.utf8string_val,
				     e.name.utf8string_len, why,
				     sizeof(why)) <= 0) {
			bad_reply(c, why);
			return;
		}
		v = nfs_dirent_add(&c->ents, e.name.utf8string_val,
				   e.name.utf8string_len);
		if (!v) {
			c->k.err = -ENOMEM;
			snprintf(c->k.msg, sizeof(c->k.msg), "out of memory");
			return;
		}
		if (attrs_decode(&e.attrs, &a)) {
			if (!attrs_ok(c, &a))
				return;
			v->st = a.st;
			v->has_st = true;
			v->fh = a.fh;
			v->has_fh = a.has_fh;
		}
	}
}

/* The lock a LOCK or LOCKT was denied by. */
static void denied_reply(struct v4call *c, const LOCK4denied *d)
{
	c->denied.offset = d->offset;
	c->denied.length = d->length;
	c->denied.write = d->locktype == WRITE_LT || d->locktype == WRITEW_LT;
	c->denied.ours = d->owner.clientid == nfs4_clientid(c->k.conn->nb);
}

static void v4_reply(struct nfs_call *k, void *data)
{
	struct v4call *c = container_of(k, struct v4call, k);
	COMPOUND4res *res = data;
	nfs_resop4 r;
	struct attrs4 a;
	uint32_t status;
	u_int i;

	c->failed = -1;
	for (i = 0; i < res->resarray.resarray_len; i++) {
		NFS_COPY_OUT(r, &res->resarray.resarray_val[i]);
		/* every result starts with its status */
		memcpy(&status, &r.nfs_resop4_u, sizeof(status));
		if (c->owner && (int)i == c->seqid_op)
			nfs4_owner_answered(k->conn->nb, c->owner, status);
		if (c->lock && (int)i == c->seqid_op)
			nfs4_lock_answered(c->lock, status);
		if (status == NFS4ERR_DENIED &&
		    (r.resop == OP_LOCK || r.resop == OP_LOCKT))
			denied_reply(c, r.resop == OP_LOCK ?
				     &r.nfs_resop4_u.oplock.LOCK4res_u.denied :
				     &r.nfs_resop4_u.oplockt.LOCKT4res_u.denied);
		if (status) {
			c->failed = (int)i;
			nfs_call_status(k, 4, op_name(r.resop), status);
			if (c->sobj && (status == NFS4ERR_BAD_STATEID ||
					status == NFS4ERR_OLD_STATEID))
				k->fault = FAULT_STATE;
			break;
		}
		switch (r.resop) {
		case OP_GETFH: {
			nfs_fh4 *h = &r.nfs_resop4_u.opgetfh.GETFH4res_u.resok4
					      .object;

			if (h->nfs_fh4_len > sizeof(c->fh.data)) {
				bad_reply(c, "a file handle over 128 bytes");
				break;
			}
			c->fh_prev = c->fh;
			c->has_prev = c->has_fh;
			c->fh.len = h->nfs_fh4_len;
			memcpy(c->fh.data, h->nfs_fh4_val, c->fh.len);
			c->has_fh = true;
			break;
		}
		case OP_GETATTR:
			if (attrs_decode(&r.nfs_resop4_u.opgetattr.GETATTR4res_u
						   .resok4.obj_attributes,
					 &a)) {
				c->st = a.st;
				c->has_st = attrs_ok(c, &a);
				c->sv = a.sv;
				c->lease = a.lease;
				c->maxread = a.maxread;
				c->maxwrite = a.maxwrite;
				c->maxname = a.maxname;
			}
			break;
		case OP_OPEN:
			c->stateid = r.nfs_resop4_u.opopen.OPEN4res_u.resok4
					     .stateid;
			c->rflags = r.nfs_resop4_u.opopen.OPEN4res_u.resok4
					    .rflags;
			break;
		case OP_OPEN_CONFIRM:
			c->stateid = r.nfs_resop4_u.opopen_confirm
					     .OPEN_CONFIRM4res_u.resok4
					     .open_stateid;
			break;
		case OP_LOCK:
			c->stateid = r.nfs_resop4_u.oplock.LOCK4res_u.resok4
					     .lock_stateid;
			break;
		case OP_LOCKU:
			c->stateid =
				r.nfs_resop4_u.oplocku.LOCKU4res_u.lock_stateid;
			break;
		case OP_READLINK: {
			utf8string *l = &r.nfs_resop4_u.opreadlink
						 .READLINK4res_u.resok4.link;

			/* an XDR opaque: no NUL after it */
			c->text = strndup(l->utf8string_val, l->utf8string_len);
			c->text_len = l->utf8string_len;
			if (!c->text) {
				k->err = -ENOMEM;
				snprintf(k->msg, sizeof(k->msg),
					 "out of memory");
			}
			break;
		}
		case OP_COMMIT:
			memcpy(c->verf,
			       r.nfs_resop4_u.opcommit.COMMIT4res_u.resok4
				       .writeverf,
			       8);
			break;
		case OP_READDIR:
			readdir_reply(c, &r.nfs_resop4_u.opreaddir
						  .READDIR4res_u.resok4);
			break;
		case OP_SETCLIENTID:
			c->clientid = r.nfs_resop4_u.opsetclientid
					      .SETCLIENTID4res_u.resok4.clientid;
			memcpy(c->confirm,
			       r.nfs_resop4_u.opsetclientid.SETCLIENTID4res_u
				       .resok4.setclientid_confirm,
			       sizeof(c->confirm));
			break;
		default:
			break;
		}
	}
	if (!k->err && res->status) {
		/* a status with no op's result: the COMPOUND itself */
		nfs_call_status(k, 4, "COMPOUND", res->status);
	}
}

static void nfs4_call_init(struct v4call *c, const char *what)
{
	memset(c, 0, sizeof(*c));
	c->k.send = v4_send;
	c->k.reply = v4_reply;
	c->k.what = what;
	c->seqid_op = -1;
	c->sid_op = -1;
	c->failed = -1;
}

/* A stateid the call carried was refused: the object's open is made
 * again, and the next attempt carries the new one. */
static int v4_restate(struct nfs_be *nb, struct nfs_call *k)
{
	struct v4call *c = container_of(k, struct v4call, k);

	return nfs4_restate(nb, k, c->sobj, &c->sent_sid);
}

/* The op of C that failed, by name. */
static nfs_opnum4 failed_op(const struct v4call *c)
{
	return c->failed >= 0 && c->failed < c->nops ?
		       c->ops[c->failed].argop :
		       OP_ILLEGAL;
}

/* Runs C; on failure the volume's message names NAME (may be NULL). */
static int v4_run(struct nfs_be *nb, struct v4call *c, const char *name)
{
	int ret = nfs_run(nb, &c->k);

	if (ret && name && c->k.fault == FAULT_NONE)
		ret = nfs_call_fail(nb, &c->k, name);
	return ret;
}

/* ---- ops -------------------------------------------------------------------- */

static int v4_getattr(struct nfs_be *nb, struct nfs_obj *o, struct stat *st)
{
	struct v4call c;
	int ret;

	nfs4_call_init(&c, "getattr");
	op_putfh(&c, &o->fh);
	op_getattr(&c, attrs_stat);
	ret = v4_run(nb, &c, NULL);
	if (ret)
		return ret;
	if (!c.has_st)
		return nfs_fail(nb, EIO, "getattr: the server's attributes could not be read");
	*st = c.st;
	return 0;
}

/* The object C's GETFH and GETATTR named, found as NAME in DIR. */
static int v4_result(struct nfs_be *nb, struct v4call *c, struct nfs_obj *dir,
		     const char *name, struct nfs_obj **obj, struct stat *st)
{
	struct nfs_obj *o;

	if (!c->has_fh || !c->has_st)
		return nfs_fail(nb, EIO, "%s %s: the server's answer lacks the object's handle or attributes",
				c->k.what, name);
	o = nfs_obj_new(nb, c->fh.data, c->fh.len, c->st.st_ino,
			c->st.st_mode);
	if (!o)
		return -ENOMEM;
	nfs_obj_hint(nb, o, &dir->fh, name);
	*st = c->st;
	*obj = o;
	return 0;
}

static int v4_lookup(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		     struct nfs_obj **obj, struct stat *st)
{
	struct v4call c;
	int ret;

	nfs4_call_init(&c, "lookup");
	op_putfh(&c, &dir->fh);
	op_lookup(&c, name);
	op_getfh(&c);
	op_getattr(&c, attrs_stat);
	ret = v4_run(nb, &c, name);
	if (ret)
		return ret;
	return v4_result(nb, &c, dir, name, obj, st);
}

/*
 * The names of PATH one inside the other, from DIR: one COMPOUND for up
 * to V4_PATH_NAMES of them (PUTFH; LOOKUP...; GETFH; LOOKUP; GETFH;
 * GETATTR, the first GETFH for the last name's directory).
 */
#define V4_PATH_NAMES (V4_MAXOPS - 4)

static int v4_lookup_path(struct nfs_be *nb, struct nfs_obj *dir,
			  const char *path, struct nfs_obj **obj,
			  struct stat *st)
{
	char *names = strdup(path), *name[V4_PATH_NAMES], *p, *save = NULL;
	struct nfs_fh at = dir->fh;
	struct nfs_obj *o;
	struct v4call c;
	int n = 0, i, ret = 0;

	if (!names)
		return nfs_fail(nb, ENOMEM, "out of memory");
	p = strtok_r(names, "/", &save);
	if (!p) {
		free(names);
		return nfs_fail(nb, EINVAL, "lookup of an empty path");
	}
	while (p && !ret) {
		for (n = 0; p && n < V4_PATH_NAMES; n++) {
			name[n] = p;
			p = strtok_r(NULL, "/", &save);
		}
		nfs4_call_init(&c, "lookup");
		op_putfh(&c, &at);
		for (i = 0; i < n; i++) {
			if (i == n - 1)
				op_getfh(&c);
			op_lookup(&c, name[i]);
		}
		op_getfh(&c);
		op_getattr(&c, attrs_stat);
		ret = nfs_run(nb, &c.k);
		if (ret == -ELOOP || ret == -ENOTDIR) {
			/* through a symlink or a file: not a directory */
			ret = nfs_fail(nb, ENOTDIR,
				       "lookup %s: a name before the last is not a directory",
				       path);
		} else if (ret) {
			ret = nfs_call_fail(nb, &c.k, path);
		} else if (!c.has_fh || !c.has_prev || !c.has_st) {
			ret = nfs_fail(nb, EIO, "lookup %s: the server's answer lacks handles or attributes",
				       path);
		} else if (p && !S_ISDIR(c.st.st_mode)) {
			ret = nfs_fail(nb, ENOTDIR,
				       "lookup %s: %s is not a directory", path,
				       name[n - 1]);
		}
		at = c.fh;
	}
	if (!ret) {
		o = nfs_obj_new(nb, c.fh.data, c.fh.len, c.st.st_ino,
				c.st.st_mode);
		if (!o)
			ret = -ENOMEM;
		else {
			nfs_obj_hint(nb, o, &c.fh_prev, name[n - 1]);
			*obj = o;
			*st = c.st;
		}
	}
	free(names);
	return ret;
}

static int v4_setattr(struct nfs_be *nb, struct nfs_obj *o, struct nfs_file *f,
		      const struct stat *attr, int to_set, struct stat *out)
{
	struct v4call c;
	nfs_argop4 *a;
	int ret;

	(void)f;
	nfs4_call_init(&c, "setattr");
	op_putfh(&c, &o->fh);
	a = op_add(&c, OP_SETATTR);
	/* A size change carries the open's stateid where there is one
	 * (it may hold a share reservation); the rest the anonymous one. */
	if (to_set & PODFS_SET_SIZE) {
		c.sobj = o;
		c.sid_op = c.nops - 1;
		c.k.recover = v4_restate;
	}
	attrs_encode(&c, &a->nfs_argop4_u.opsetattr.obj_attributes, attr,
		     to_set);
	op_getattr(&c, attrs_stat);
	ret = v4_run(nb, &c, NULL);
	if (ret)
		return ret;
	if (c.has_st) {
		*out = c.st;
		return 0;
	}
	return v4_getattr(nb, o, out);
}

/* Bytes of names and cookies a READDIR asks for; the whole reply is up
 * to rsize. */
#define V4_DIRCOUNT 65536

static int v4_readdir(struct nfs_be *nb, struct nfs_obj *dir,
		      podfs_bdirent_cb cb, void *arg)
{
	uint64_t cookie = 0;
	verifier4 verf = { 0 };
	struct v4call c;
	struct nfs_listing ls = { 0 };
	READDIR4args *rd;
	bool eof = false;
	int ret = 0;

	while (!eof && !ret) {
		nfs4_call_init(&c, "readdir");
		c.ls = &ls;
		op_putfh(&c, &dir->fh);
		rd = &op_add(&c, OP_READDIR)->nfs_argop4_u.opreaddir;
		rd->cookie = cookie;
		memcpy(rd->cookieverf, verf, sizeof(verf));
		rd->dircount = V4_DIRCOUNT;
		rd->maxcount = nb->rsize;
		rd->attr_request.bitmap4_len = 2;
		rd->attr_request.bitmap4_val = (uint32_t *)attrs_dirent;
		ret = v4_run(nb, &c, NULL);
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

static int v4_make(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		   mode_t mode, dev_t rdev, const char *target,
		   const struct podfs_cred *cred, struct nfs_obj **obj,
		   struct stat *st)
{
	struct stat attr = { .st_mode = mode };
	struct v4call c;
	CREATE4args *cr;
	int ret;

	nfs4_call_init(&c, S_ISDIR(mode)   ? "mkdir" :
			   S_ISLNK(mode) ? "symlink" :
					   "mknod");
	op_putfh(&c, &dir->fh);
	cr = &op_add(&c, OP_CREATE)->nfs_argop4_u.opcreate;
	switch (mode & S_IFMT) {
	case S_IFDIR:
		cr->objtype.type = NF4DIR;
		break;
	case S_IFLNK:
		cr->objtype.type = NF4LNK;
		name4(&c, &cr->objtype.createtype4_u.linkdata, target);
		break;
	case S_IFCHR:
	case S_IFBLK:
		cr->objtype.type = S_ISCHR(mode) ? NF4CHR : NF4BLK;
		cr->objtype.createtype4_u.devdata.specdata1 = major(rdev);
		cr->objtype.createtype4_u.devdata.specdata2 = minor(rdev);
		break;
	case S_IFSOCK:
		cr->objtype.type = NF4SOCK;
		break;
	case S_IFIFO:
		cr->objtype.type = NF4FIFO;
		break;
	default:
		return nfs_fail(nb, EINVAL, "mknod %s: unknown file type %#o",
				name, (unsigned int)(mode & S_IFMT));
	}
	name4(&c, &cr->objname, name);
	attrs_encode(&c, &cr->createattrs, &attr,
		     S_ISLNK(mode) ? 0 : PODFS_SET_MODE);
	op_getfh(&c);
	op_getattr(&c, attrs_stat);
	c.k.cred = cred;
	ret = nfs_run(nb, &c.k);
	/* Sent again after a lost answer, a CREATE the server did before
	 * finds its own work: take an object of that type as ours. */
	if (ret == -EEXIST && c.k.retries > 0) {
		ret = v4_lookup(nb, dir, name, obj, st);
		if (!ret && (st->st_mode & S_IFMT) != (mode & S_IFMT)) {
			nfs_obj_put(nb, *obj);
			ret = nfs_fail(nb, EEXIST, "%s %s: file exists",
				       c.k.what, name);
		}
		return ret;
	}
	if (ret)
		return nfs_call_fail(nb, &c.k, name);
	return v4_result(nb, &c, dir, name, obj, st);
}

static int v4_link(struct nfs_be *nb, struct nfs_obj *o, struct nfs_obj *dir,
		   const char *name, struct stat *st)
{
	struct v4call c;
	int ret;

	nfs4_call_init(&c, "link");
	op_putfh(&c, &o->fh);
	op_add(&c, OP_SAVEFH);
	op_putfh(&c, &dir->fh);
	name4(&c, &op_add(&c, OP_LINK)->nfs_argop4_u.oplink.newname, name);
	op_add(&c, OP_RESTOREFH);
	op_getattr(&c, attrs_stat);
	ret = nfs_run(nb, &c.k);
	if (ret == -EEXIST && c.k.retries > 0) {
		struct nfs_obj *found;

		ret = v4_lookup(nb, dir, name, &found, st);
		if (!ret) {
			if (found->b.key != o->b.key)
				ret = nfs_fail(nb, EEXIST,
					       "link %s: file exists", name);
			nfs_obj_put(nb, found);
		}
		return ret;
	}
	if (ret)
		return nfs_call_fail(nb, &c.k, name);
	if (c.has_st) {
		*st = c.st;
		return 0;
	}
	return v4_getattr(nb, o, st);
}

/* A fattr4 saying "type: directory", for (N)VERIFY. */
static void type_is_dir(struct v4call *c, fattr4 *f)
{
	size_t len = 0;

	c->attrmask[0] = B(FATTR4_TYPE);
	c->attrmask[1] = 0;
	out_u32(c, &len, NF4DIR);
	f->attrmask.bitmap4_len = 1;
	f->attrmask.bitmap4_val = c->attrmask;
	f->attr_vals.attrlist4_len = (u_int)len;
	f->attr_vals.attrlist4_val = c->attrs;
}

static int v4_remove(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		     bool is_dir)
{
	struct v4call c;
	nfs_argop4 *v;
	int ret;

	/* NFSv4 has one REMOVE for every type: (N)VERIFY the type first,
	 * in the same COMPOUND, as unlink(2) and rmdir(2) tell them. */
	nfs4_call_init(&c, is_dir ? "rmdir" : "unlink");
	op_putfh(&c, &dir->fh);
	op_lookup(&c, name);
	v = op_add(&c, is_dir ? OP_VERIFY : OP_NVERIFY);
	type_is_dir(&c, is_dir ? &v->nfs_argop4_u.opverify.obj_attributes :
				 &v->nfs_argop4_u.opnverify.obj_attributes);
	op_putfh(&c, &dir->fh);
	name4(&c, &op_add(&c, OP_REMOVE)->nfs_argop4_u.opremove.target, name);
	ret = nfs_run(nb, &c.k);
	if (ret == -ENOENT && c.k.retries > 0)
		return 0; /* our own, answered late */
	if (ret && (failed_op(&c) == OP_VERIFY || failed_op(&c) == OP_NVERIFY))
		return nfs_fail(nb, is_dir ? ENOTDIR : EISDIR, "%s %s: %s",
				c.k.what, name,
				is_dir ? "not a directory" : "is a directory");
	return ret ? nfs_call_fail(nb, &c.k, name) : 0;
}

static int v4_rename(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		     struct nfs_obj *newdir, const char *newname)
{
	struct v4call c;
	RENAME4args *r;
	int ret;

	nfs4_call_init(&c, "rename");
	op_putfh(&c, &dir->fh);
	op_add(&c, OP_SAVEFH);
	op_putfh(&c, &newdir->fh);
	r = &op_add(&c, OP_RENAME)->nfs_argop4_u.oprename;
	name4(&c, &r->oldname, name);
	name4(&c, &r->newname, newname);
	ret = nfs_run(nb, &c.k);
	if (ret == -ENOENT && c.k.retries > 0) {
		struct nfs_obj *o;
		struct stat st;

		if (!v4_lookup(nb, newdir, newname, &o, &st)) {
			nfs_obj_put(nb, o);
			return 0;
		}
	}
	return ret ? nfs_call_fail(nb, &c.k, name) : 0;
}

static int v4_readlink(struct nfs_be *nb, struct nfs_obj *o, char **target,
		       size_t *len)
{
	struct v4call c;
	int ret;

	nfs4_call_init(&c, "readlink");
	op_putfh(&c, &o->fh);
	op_add(&c, OP_READLINK);
	ret = v4_run(nb, &c, NULL);
	if (ret == -EINVAL || ret == -EISDIR)
		return nfs_fail(nb, EINVAL, "readlink: not a symlink");
	if (ret)
		return ret;
	if (!c.text)
		return nfs_call_fail(nb, &c.k, NULL);
	*target = c.text;
	*len = c.text_len;
	return 0;
}

static int v4_statfs(struct nfs_be *nb, struct nfs_obj *o, struct statvfs *st)
{
	struct v4call c;
	int ret;

	nfs4_call_init(&c, "statfs");
	op_putfh(&c, &o->fh);
	op_getattr(&c, attrs_statfs);
	ret = v4_run(nb, &c, NULL);
	if (ret)
		return ret;
	*st = c.sv;
	st->f_bsize = st->f_frsize = 4096;
	st->f_namemax = nb->namemax;
	return 0;
}

static int v4_commit(struct nfs_be *nb, struct nfs_obj *o, char verf[8])
{
	struct v4call c;
	int ret;

	nfs4_call_init(&c, "commit");
	op_putfh(&c, &o->fh);
	op_add(&c, OP_COMMIT); /* offset 0, count 0: the whole file */
	ret = v4_run(nb, &c, NULL);
	if (!ret)
		memcpy(verf, c.verf, 8);
	return ret;
}

/* ---- client and opens -------------------------------------------------------- */

int nfs4_setclientid(struct nfs_be *nb, const char *name,
		     const verifier4 verifier, uint64_t *clientid)
{
	SETCLIENTID4args *sc;
	struct v4call c;
	int ret;

	nfs4_call_init(&c, "setclientid");
	sc = &op_add(&c, OP_SETCLIENTID)->nfs_argop4_u.opsetclientid;
	memcpy(sc->client.verifier, verifier, sizeof(verifier4));
	sc->client.id.id_len = (u_int)strlen(name);
	sc->client.id.id_val = (char *)name;
	/* no callback service: the server grants no delegations */
	sc->callback.cb_program = 0;
	sc->callback.cb_location.r_netid = "tcp";
	sc->callback.cb_location.r_addr = "0.0.0.0.0.0";
	c.k.no_state = true;
	ret = v4_run(nb, &c, NULL);
	if (ret)
		return ret;
	*clientid = c.clientid;

	nfs4_call_init(&c, "setclientid");
	c.ops[0].argop = OP_SETCLIENTID_CONFIRM;
	c.ops[0].nfs_argop4_u.opsetclientid_confirm.clientid = *clientid;
	memcpy(c.ops[0].nfs_argop4_u.opsetclientid_confirm.setclientid_confirm,
	       c.confirm, sizeof(verifier4));
	c.nops = 1;
	c.k.no_state = true;
	return v4_run(nb, &c, NULL);
}

int nfs4_probe(struct nfs_be *nb, const struct nfs_fh *fh)
{
	static const uint32_t attrs_lease[2] = { B(FATTR4_LEASE_TIME), 0 };
	struct v4call c;
	int ret;

	nfs4_call_init(&c, "NFSv4 check");
	op_putfh(&c, fh);
	/* the lease NFSv3's locks are held under (the renewer, the fence) */
	op_getattr(&c, attrs_lease);
	c.k.no_state = true;
	ret = v4_run(nb, &c, NULL);
	if (!ret)
		nb->client.lease_s = c.lease ? c.lease : 90;
	return ret;
}

int nfs4_renew(struct nfs_be *nb)
{
	struct v4call c;

	nfs4_call_init(&c, "renew");
	op_add(&c, OP_RENEW);
	c.renew = true;
	return v4_run(nb, &c, NULL);
}

int nfs4_open_call(struct nfs_be *nb, struct nfs4_owner *ow,
		   const struct nfs_fh *fh, const char *name, uint32_t access,
		   int create, mode_t mode, const struct podfs_cred *cred,
		   struct nfs4_opened *out, int *retries)
{
	struct stat attr = { .st_mode = mode };
	struct v4call c;
	OPEN4args *op;
	int ret;

	nfs4_call_init(&c, create >= 0 ? "create" : "open");
	op_putfh(&c, fh);
	c.seqid_op = c.nops;
	c.owner = ow;
	op = &op_add(&c, OP_OPEN)->nfs_argop4_u.opopen;
	op->share_access = access;
	op->share_deny = OPEN4_SHARE_DENY_NONE;
	/* owner and seqid: nfs4_owner_stamp, as it is sent */
	if (create >= 0) {
		op->openhow.opentype = OPEN4_CREATE;
		op->openhow.openflag4_u.how.mode = (createmode4)create;
		attrs_encode(&c, &op->openhow.openflag4_u.how.createhow4_u
					  .createattrs,
			     &attr, PODFS_SET_MODE);
	} else {
		op->openhow.opentype = OPEN4_NOCREATE;
	}
	if (name) {
		op->claim.claim = CLAIM_NULL;
		name4(&c, &op->claim.open_claim4_u.file, name);
	} else {
		op->claim.claim = CLAIM_PREVIOUS;
		op->claim.open_claim4_u.delegate_type = OPEN_DELEGATE_NONE;
	}
	op_getfh(&c);
	op_getattr(&c, attrs_stat);
	c.k.cred = cred;
	ret = nfs_run(nb, &c.k);
	if (retries)
		*retries = c.k.retries;
	if (ret)
		return ret;
	if (!c.has_fh || !c.has_st)
		return nfs_fail(nb, EIO, "open %s: the server's answer lacks the file's handle or attributes",
				name ? name : "");
	out->fh = c.fh;
	out->st = c.st;
	out->stateid = c.stateid;
	out->confirm = c.rflags & OPEN4_RESULT_CONFIRM;
	return 0;
}

int nfs4_open_confirm(struct nfs_be *nb, struct nfs4_owner *ow,
		      const struct nfs_fh *fh, stateid4 *stateid)
{
	struct v4call c;
	int ret;

	nfs4_call_init(&c, "open");
	op_putfh(&c, fh);
	c.seqid_op = c.nops;
	c.owner = ow;
	op_add(&c, OP_OPEN_CONFIRM)->nfs_argop4_u.opopen_confirm.open_stateid =
		*stateid;
	ret = v4_run(nb, &c, NULL);
	if (!ret)
		*stateid = c.stateid;
	return ret;
}

/* A CLOSE sent and not waited for, as the Linux client sends it. */
struct v4close {
	struct v4call c;
	struct nfs_be *nb;
	void (*done)(struct nfs_be *nb, struct nfs4_owner *ow, bool answered);
};

static void close_done(struct nfs_call *k)
{
	struct v4close *cl = container_of(k, struct v4close, c.k);

	/* runs on the connection's thread: no RPC from here */
	cl->done(cl->nb, cl->c.owner, k->fault == FAULT_NONE);
	free(cl);
}

void nfs4_close_call(struct nfs_be *nb, struct nfs4_owner *ow,
		     const struct nfs_fh *fh, const stateid4 *stateid,
		     void (*done)(struct nfs_be *nb, struct nfs4_owner *ow,
				  bool answered))
{
	struct v4close *cl = malloc(sizeof(*cl));

	if (!cl) {
		done(nb, ow, false);
		return;
	}
	cl->nb = nb;
	cl->done = done;
	nfs4_call_init(&cl->c, "close");
	op_putfh(&cl->c, fh);
	cl->c.seqid_op = cl->c.nops;
	cl->c.owner = ow;
	op_add(&cl->c, OP_CLOSE)->nfs_argop4_u.opclose.open_stateid = *stateid;
	/* Not retried: a server that restarted or let our lease go has
	 * forgotten the open anyway. Never waits for a server that is
	 * away: detaching a volume must not. */
	cl->c.k.no_state = true;
	cl->c.k.nowait = true;
	cl->c.k.complete = close_done;
	if (nfs_submit(nb, &cl->c.k)) {
		done(nb, ow, false);
		free(cl);
	}
}

/* ---- byte-range locks (state4.c keeps the lock states) -------------------------- */

/* A state error is the caller's to handle (nfs4_lock): the lock states
 * hang off the open, which the caller holds locked. *STATUS: the
 * server's answer (0: none, or NFS4_OK). */
static int lock_run(struct nfs_be *nb, struct v4call *c, uint32_t *status)
{
	int ret;

	c->k.no_state = true;
	ret = v4_run(nb, c, NULL);
	*status = ret ? c->k.status : 0;
	return ret;
}

int nfs4_lock_call(struct nfs_be *nb, struct nfs4_owner *ow,
		   struct nfs4_lock *l, const struct nfs_fh *fh,
		   const stateid4 *open_sid, bool write, bool reclaim,
		   uint64_t offset, uint64_t length,
		   struct nfs4_denied *denied, uint32_t *status)
{
	struct v4call c;
	LOCK4args *a;
	int ret;

	nfs4_call_init(&c, "lock");
	op_putfh(&c, fh);
	c.seqid_op = c.nops;
	c.lock = l;
	a = &op_add(&c, OP_LOCK)->nfs_argop4_u.oplock;
	a->locktype = write ? WRITE_LT : READ_LT;
	a->reclaim = reclaim;
	a->offset = offset;
	a->length = length;
	if (l->has_sid) {
		a->locker.new_lock_owner = false;
		a->locker.locker4_u.lock_owner.lock_stateid = l->sid;
	} else {
		/* the first LOCK of this owner on the file: from the open,
		 * whose owner's seqid it carries too */
		a->locker.new_lock_owner = true;
		a->locker.locker4_u.open_owner.open_stateid = *open_sid;
		c.owner = ow;
		c.size += sizeof(l->name);
	}
	/* seqids, owner: nfs4_owner_stamp and nfs4_lock_stamp as it goes */
	ret = lock_run(nb, &c, status);
	if (!ret) {
		l->sid = c.stateid;
		l->has_sid = true;
	} else if (c.k.status == NFS4ERR_DENIED) {
		*denied = c.denied;
	}
	return ret;
}

int nfs4_locku_call(struct nfs_be *nb, struct nfs4_lock *l,
		    const struct nfs_fh *fh, uint64_t offset, uint64_t length,
		    uint32_t *status)
{
	struct v4call c;
	LOCKU4args *a;
	int ret;

	nfs4_call_init(&c, "unlock");
	op_putfh(&c, fh);
	c.seqid_op = c.nops;
	c.lock = l;
	a = &op_add(&c, OP_LOCKU)->nfs_argop4_u.oplocku;
	a->locktype = WRITE_LT;
	a->lock_stateid = l->sid;
	a->offset = offset;
	a->length = length;
	ret = lock_run(nb, &c, status);
	if (!ret)
		l->sid = c.stateid;
	return ret;
}

int nfs4_lockt_call(struct nfs_be *nb, const struct nfs_fh *fh,
		    const char *name, bool write, uint64_t offset,
		    uint64_t length, struct nfs4_denied *denied,
		    uint32_t *status)
{
	struct v4call c;
	LOCKT4args *a;
	int ret;

	nfs4_call_init(&c, "lock test");
	op_putfh(&c, fh);
	a = &op_add(&c, OP_LOCKT)->nfs_argop4_u.oplockt;
	a->locktype = write ? WRITE_LT : READ_LT;
	a->offset = offset;
	a->length = length;
	a->owner.clientid = nfs4_clientid(nb);
	a->owner.owner.owner_len = (u_int)strlen(name);
	a->owner.owner.owner_val = (char *)name;
	c.size += strlen(name);
	ret = lock_run(nb, &c, status);
	if (ret && c.k.status == NFS4ERR_DENIED)
		*denied = c.denied;
	return ret;
}

/* A RELEASE_LOCKOWNER sent and not waited for (as a CLOSE). */
struct v4release {
	struct v4call c;
	char name[32];
};

static void release_done(struct nfs_call *k)
{
	free(container_of(k, struct v4release, c.k));
}

void nfs4_release_lockowner(struct nfs_be *nb, const char *name)
{
	struct v4release *rl = malloc(sizeof(*rl));
	RELEASE_LOCKOWNER4args *a;

	if (!rl)
		return; /* the server forgets it with the client */
	snprintf(rl->name, sizeof(rl->name), "%s", name);
	nfs4_call_init(&rl->c, "release lock owner");
	a = &op_add(&rl->c, OP_RELEASE_LOCKOWNER)->nfs_argop4_u
		     .oprelease_lockowner;
	a->lock_owner.clientid = nfs4_clientid(nb);
	a->lock_owner.owner.owner_len = (u_int)strlen(rl->name);
	a->lock_owner.owner.owner_val = rl->name;
	rl->c.size += sizeof(rl->name);
	rl->c.k.no_state = true;
	rl->c.k.nowait = true;
	rl->c.k.complete = release_done;
	if (nfs_submit(nb, &rl->c.k))
		free(rl);
}

static int v4_create(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		     mode_t mode, int flags, const struct podfs_cred *cred,
		     struct nfs_obj **obj, struct stat *st)
{
	return nfs4_create(nb, dir, name, mode, flags, cred, obj, st);
}

/* ---- reads and writes -------------------------------------------------------- */

static int v4_io_send(struct nfs_call *k, struct rpc_context *rpc, rpc_cb cb)
{
	struct nfs_io *io = container_of(k, struct nfs_io, call);
	COMPOUND4args args = { .minorversion = 0 };
	nfs_argop4 ops[2];

	nfs_count_io(k->conn->nb, io);
	io->stateid = nfs4_stateid(io->obj);
	memset(ops, 0, sizeof(ops));
	ops[0].argop = OP_PUTFH;
	ops[0].nfs_argop4_u.opputfh.object.nfs_fh4_len = io->obj->fh.len;
	ops[0].nfs_argop4_u.opputfh.object.nfs_fh4_val =
		(char *)io->obj->fh.data;
	if (io->write) {
		WRITE4args *w = &ops[1].nfs_argop4_u.opwrite;

		ops[1].argop = OP_WRITE;
		w->stateid = io->stateid;
		w->offset = io->off;
		w->stable = io->stable ? FILE_SYNC4 : UNSTABLE4;
		w->data.data_len = io->count;
		w->data.data_val = io->buf;
	} else {
		READ4args *r = &ops[1].nfs_argop4_u.opread;

		ops[1].argop = OP_READ;
		r->stateid = io->stateid;
		r->offset = io->off;
		r->count = io->count;
	}
	args.argarray.argarray_len = 2;
	args.argarray.argarray_val = ops;
	return nfs4_compound_send(rpc, cb, &args, k,
				  (io->write ? io->count : 0) +
					  io->obj->fh.len + 512);
}

static void v4_io_reply(struct nfs_call *k, void *data)
{
	struct nfs_io *io = container_of(k, struct nfs_io, call);
	COMPOUND4res *res = data;
	nfs_resop4 r;
	uint32_t status;
	u_int i;

	for (i = 0; i < res->resarray.resarray_len; i++) {
		NFS_COPY_OUT(r, &res->resarray.resarray_val[i]);
		memcpy(&status, &r.nfs_resop4_u, sizeof(status));
		if (status) {
			nfs_call_status(k, 4, op_name(r.resop), status);
			if (status == NFS4ERR_BAD_STATEID ||
			    status == NFS4ERR_OLD_STATEID)
				k->fault = FAULT_STATE;
			return;
		}
		if (r.resop == OP_WRITE) {
			WRITE4resok *ok =
				&r.nfs_resop4_u.opwrite.WRITE4res_u.resok4;

			if (nfs_io_overrun(io, ok->count))
				return;
			io->done = ok->count;
			io->committed = ok->committed;
			memcpy(io->verf, ok->writeverf, 8);
		} else if (r.resop == OP_READ) {
			READ4resok *ok = &r.nfs_resop4_u.opread.READ4res_u.resok4;
			uint32_t n = ok->data.data_len;

			if (nfs_io_overrun(io, n))
				return;
			nfs_io_take(io, ok->data.data_val, n);
			io->done = n;
			io->eof = ok->eof;
		}
	}
	if (res->status && !k->err)
		nfs_call_status(k, 4, "COMPOUND", res->status);
}

static int v4_io_restate(struct nfs_be *nb, struct nfs_call *k)
{
	struct nfs_io *io = container_of(k, struct nfs_io, call);

	return nfs4_restate(nb, k, io->obj, &io->stateid);
}

static void v4_io_call(struct nfs_be *nb, struct nfs_io *io)
{
	(void)nb;
	io->call.send = v4_io_send;
	io->call.reply = v4_io_reply;
	io->call.what = io->write ? "write" : "read";
	io->call.recover = v4_io_restate;
}

/* ---- mounting ------------------------------------------------------------------ */

static int v4_mount(struct nfs_be *nb, struct nfs_fh *root)
{
	char *names = strdup(nb->export), *tok, *save = NULL;
	const char *comp[V4_MAXOPS];
	struct v4call c;
	int n = 0, ret, i;

	if (!names)
		return nfs_fail(nb, ENOMEM, "out of memory");
	nfs4_call_init(&c, "mount");
	op_add(&c, OP_PUTROOTFH);
	for (tok = strtok_r(names, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		if (c.nops >= V4_MAXOPS - 2) {
			free(names);
			return nfs_fail(nb, ENAMETOOLONG,
					"export path %s: more than %d components",
					nb->export, V4_MAXOPS - 3);
		}
		comp[n++] = tok;
		op_lookup(&c, tok);
	}
	op_getfh(&c);
	op_getattr(&c, attrs_mount);
	ret = nfs_run(nb, &c.k);
	if (ret == -ENOENT && failed_op(&c) == OP_LOOKUP) {
		/* the components before the failed LOOKUP were found */
		char found[1024] = "";
		size_t len = 0;

		for (i = 0; i < c.failed - 1 && i < n; i++)
			len += (size_t)snprintf(found + len,
						sizeof(found) - len, "/%s",
						comp[i]);
		ret = i == 0 ? nfs_fail(nb, ENOENT,
					"export %s not found on server %s",
					nb->export, nb->server) :
			       nfs_fail(nb, ENOENT,
					"directory %s not found in %s on server %s (export path %s)",
					comp[i], found, nb->server,
					nb->export);
	} else if (ret == -ETIMEDOUT) {
		ret = nfs_fail(nb, ETIMEDOUT,
			       "server %s did not answer the mount of %s within %d s",
			       nb->server, nb->export,
			       (nb->timeout_ms + 999) / 1000);
	} else if (ret) {
		ret = nfs_fail(nb, -ret, "mount of %s on server %s failed: %s",
			       nb->export, nb->server, c.k.msg);
	}
	free(names);
	if (ret)
		return ret;
	if (!c.has_fh || !c.has_st)
		return nfs_fail(nb, EIO, "mount of %s: the server's answer lacks the root's handle",
				nb->export);
	*root = c.fh;
	if (c.maxread >= NFS_MIN_IO && c.maxread < nb->rsize)
		nb->rsize = c.maxread & ~(uint32_t)4095;
	if (c.maxwrite >= NFS_MIN_IO && c.maxwrite < nb->wsize)
		nb->wsize = c.maxwrite & ~(uint32_t)4095;
	if (c.maxname && c.maxname < nb->namemax)
		nb->namemax = c.maxname;
	nb->client.lease_s = c.lease ? c.lease : 90;
	return 0;
}

const struct nfs_vops nfs_v4_ops = {
	.mount = v4_mount,
	.getattr = v4_getattr,
	.lookup = v4_lookup,
	.lookup_path = v4_lookup_path,
	.setattr = v4_setattr,
	.readdir = v4_readdir,
	.make = v4_make,
	.create = v4_create,
	.link = v4_link,
	.remove = v4_remove,
	.rename = v4_rename,
	.readlink = v4_readlink,
	.statfs = v4_statfs,
	.open = nfs4_open,
	.close = nfs4_close,
	.io_call = v4_io_call,
	.commit = v4_commit,
};
