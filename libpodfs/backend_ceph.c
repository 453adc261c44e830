/*
 * The CephFS backend: struct podfs_backend_ops on libcephfs' low-level
 * inode API (ceph_ll_*), the way ceph-fuse and nfs-ganesha's FSAL_CEPH use
 * it. libcephfs holds the caps, so what it returns is coherent.
 */
#include "config.h"

#include <cephfs/libcephfs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "podfs-private.h"

/* Ceph's snapshot ids for the live tree and for a ".snap" directory. */
#define CEPH_BE_NOSNAP ((uint64_t)-2)
/* Inode numbers are below 2^48 (rank inode ranges start at 2^40), so a
 * snapshot's tag goes in the top 16 bits of a key, as ceph-fuse does. */
#define CEPH_BE_INO_BITS 48
#define CEPH_BE_MAX_STAGS 0xffff

/* libcephfs takes int lengths: move data in pieces of this size. */
#define CEPH_BE_IO_CHUNK (64u << 20)

struct ceph_be {
	struct podfs_backend be;
	struct ceph_mount_info *cmount;
	UserPerm *perms; /* the mount's own (root): not ours to free */
	char *source;	 /* for messages */

	pthread_mutex_t snap_lock;
	uint64_t *snapids; /* tag N (N >= 1) is snapids[N - 1] */
	unsigned nsnapids;

	/* Hook for the MDS asking us to drop inode references (cache
	 * pressure): the core or the mount helper may hang a function
	 * here later; until then the request is ignored. It is called
	 * from a libcephfs thread and must not block. */
	void (*release_hook)(void *arg, uint64_t key);
	void *release_arg;
};

struct ceph_obj {
	struct podfs_bobj obj;
	struct Inode *in;
};

struct ceph_file {
	struct podfs_bfile file;
	struct Fh *fh;
	int flags;
};

static inline struct ceph_be *to_cbe(struct podfs_backend *be)
{
	return container_of(be, struct ceph_be, be);
}

static inline struct ceph_obj *to_cobj(struct podfs_bobj *obj)
{
	return container_of(obj, struct ceph_obj, obj);
}

static inline struct ceph_file *to_cfile(struct podfs_bfile *file)
{
	return container_of(file, struct ceph_file, file);
}

/* One place for messages: "SOURCE: what failed: why". */
PODFS_PRINTF(3, 4)
static int ceph_be_error(struct ceph_be *cb, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return podfs_set_error(cb->be.vol, err, "%s: %s", cb->source, msg);
}

static int ceph_be_op_error(struct ceph_be *cb, int err, const char *op,
			    const char *name)
{
	if (name)
		return ceph_be_error(cb, err, "%s '%s': %s", op, name,
				     strerror(err < 0 ? -err : err));
	return ceph_be_error(cb, err, "%s: %s", op,
			     strerror(err < 0 ? -err : err));
}

/* ---- Keys and attributes ------------------------------------------------ */

/* The key of an inode: its number, with a per-snapshot tag on top for
 * inodes seen through .snap (same number, different contents). Tags are
 * handed out as snapshots are first seen, unless only LOOKING. */
static uint64_t ceph_be_vkey(struct ceph_be *cb, uint64_t ino, uint64_t snap,
			     bool looking)
{
	unsigned i;

	if (snap == CEPH_BE_NOSNAP)
		return ino;
	pthread_mutex_lock(&cb->snap_lock);
	for (i = 0; i < cb->nsnapids; i++)
		if (cb->snapids[i] == snap)
			break;
	if (i == cb->nsnapids && i < CEPH_BE_MAX_STAGS && !looking) {
		uint64_t *n = realloc(cb->snapids, (i + 1) * sizeof(*n));

		if (n) {
			n[i] = snap;
			cb->snapids = n;
			cb->nsnapids++;
		}
	}
	pthread_mutex_unlock(&cb->snap_lock);
	/* Out of tags (or memory): share the last one; better than the
	 * live inode's key. */
	if (i >= CEPH_BE_MAX_STAGS)
		i = CEPH_BE_MAX_STAGS - 1;
	ino &= (1ull << CEPH_BE_INO_BITS) - 1;
	return ino | ((uint64_t)(i + 1) << CEPH_BE_INO_BITS);
}

static uint64_t ceph_be_key(struct ceph_be *cb, const struct ceph_statx *stx)
{
	/* libcephfs puts the snapshot id in stx_dev */
	return ceph_be_vkey(cb, stx->stx_ino, (uint64_t)stx->stx_dev, false);
}

static void ceph_be_stat(uint64_t key, const struct ceph_statx *stx,
			 struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = key;
	st->st_mode = stx->stx_mode;
	st->st_nlink = stx->stx_nlink;
	st->st_uid = stx->stx_uid;
	st->st_gid = stx->stx_gid;
	st->st_rdev = stx->stx_rdev;
	st->st_size = (off_t)stx->stx_size;
	st->st_blksize = stx->stx_blksize;
	st->st_blocks = (blkcnt_t)stx->stx_blocks;
	st->st_atim = stx->stx_atime;
	st->st_mtim = stx->stx_mtime;
	st->st_ctim = stx->stx_ctime;
}

/* Wraps IN (a reference we now own) as a new object; on failure the
 * reference is dropped. */
static int ceph_be_new_obj(struct ceph_be *cb, struct Inode *in,
			   const struct ceph_statx *stx,
			   struct podfs_bobj **obj, struct stat *st)
{
	struct ceph_obj *co = malloc(sizeof(*co));
	uint64_t key = ceph_be_key(cb, stx);

	if (!co) {
		ceph_ll_put(cb->cmount, in);
		return ceph_be_error(cb, ENOMEM, "out of memory");
	}
	co->obj.key = key;
	co->in = in;
	*obj = &co->obj;
	if (st)
		ceph_be_stat(key, stx, st);
	return 0;
}

/* A UserPerm for a creating call: the caller's identity, or the mount's. */
static int ceph_be_perms(struct ceph_be *cb, const struct podfs_cred *cred,
			 UserPerm **perms)
{
	if (!cred) {
		*perms = cb->perms;
		return 0;
	}
	*perms = ceph_userperm_new(cred->uid, cred->gid, 0, NULL);
	if (!*perms)
		return ceph_be_error(cb, ENOMEM, "out of memory");
	return 0;
}

static void ceph_be_perms_put(struct ceph_be *cb, UserPerm *perms)
{
	if (perms != cb->perms)
		ceph_userperm_destroy(perms);
}

/* ---- Attach and detach -------------------------------------------------- */

/* MDS cache pressure: it wants an inode reference back. */
static void ceph_be_ino_release(void *handle, vinodeno_t vino)
{
	struct ceph_be *cb = handle;

	if (cb->release_hook)
		cb->release_hook(cb->release_arg,
				 ceph_be_vkey(cb, vino.ino.val,
					      vino.snapid.val, true));
}

/* Another client is about to change the inode: the MDS recalls our right
 * to cache its data (and attributes), and libcephfs drops its own cache
 * and tells us, from its invalidator thread, so the caller drops its. */
static void ceph_be_ino_invalidate(void *handle, vinodeno_t vino,
				   int64_t off, int64_t len)
{
	struct ceph_be *cb = handle;

	podfs_invalidate(cb->be.vol,
			 ceph_be_vkey(cb, vino.ino.val, vino.snapid.val, true),
			 (off_t)off, (off_t)len);
}

static const char *ceph_be_user(const struct podfs_config *cfg)
{
	return cfg->user ? cfg->user : "admin";
}

static int ceph_be_secs(const struct podfs_config *cfg)
{
	return cfg->timeo > 10 ? cfg->timeo / 10 : 1;
}

static int ceph_be_set(struct ceph_be *cb, const char *opt, const char *val)
{
	int ret = ceph_conf_set(cb->cmount, opt, val);

	if (ret < 0)
		return ceph_be_error(cb, ret, "cannot set Ceph option %s: %s",
				     opt, strerror(-ret));
	return 0;
}

int podfs_ceph_read_secretfile(const char *path, char *key, size_t keylen,
			       char *err, size_t errlen)
{
	char *start, *end;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot read secretfile %s: %s", path,
			 strerror(-ret));
		return ret;
	}
	n = read(fd, key, keylen - 1);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret) {
		snprintf(err, errlen, "cannot read secretfile %s: %s", path,
			 strerror(-ret));
		return ret;
	}
	key[n] = '\0';
	start = key + strspn(key, " \t\r\n");
	end = start + strlen(start);
	while (end > start && strchr(" \t\r\n", end[-1]))
		*--end = '\0';
	memmove(key, start, (size_t)(end - start) + 1);
	if (n == (ssize_t)keylen - 1)
		snprintf(err, errlen, "secretfile %s is too long to hold a key "
			 "(it should hold only the base64 key)", path);
	else if (!*key)
		snprintf(err, errlen, "secretfile %s is empty", path);
	else if (strpbrk(key, " \t\n\r[]"))
		snprintf(err, errlen, "secretfile %s does not hold a bare key "
			 "(a keyring? use keyring=)", path);
	else
		return 0;
	explicit_bzero(key, keylen);
	return -EINVAL;
}

static int ceph_be_read_secretfile(struct ceph_be *cb, const char *path)
{
	char key[1024], err[512];
	int ret = podfs_ceph_read_secretfile(path, key, sizeof(key), err,
					     sizeof(err));

	if (ret)
		return ceph_be_error(cb, ret, "%s", err);
	ret = ceph_be_set(cb, "key", key);
	explicit_bzero(key, sizeof(key));
	return ret;
}

const char *const podfs_ceph_fixed_conf[][2] = {
	{ "log_to_stderr", "false" },
	{ "err_to_stderr", "false" },
	{ "log_to_syslog", "false" },
	{ "err_to_syslog", "false" },
	{ "log_file", "" },
	{ "admin_socket", "" },
	/* Permissions are checked above us (the kernel, with the
	 * caller's full group list, which a podfs_cred lacks); a
	 * cred only names the owner of what it creates. The ll_*
	 * calls skip their checks on fuse_default_permissions. */
	{ "client_permissions", "false" },
	{ "fuse_default_permissions", "true" },
};
const size_t podfs_ceph_fixed_conf_count =
	sizeof(podfs_ceph_fixed_conf) / sizeof(podfs_ceph_fixed_conf[0]);

/* Options that make libcephfs behave as a library inside a mount helper:
 * no printing, no files or sockets of its own, and no limit longer than
 * the volume's timeo. */
static int ceph_be_configure(struct ceph_be *cb, const struct podfs_config *cfg)
{
	char num[32];
	int ret;

	/* Even without conf= a file must be read: until one is, Ceph has
	 * no cluster name and applies none of the settings below (the
	 * log would still print to stderr). /dev/null is an empty one. */
	ret = ceph_conf_read_file(cb->cmount, cfg->conf ? cfg->conf
							: "/dev/null");
	if (ret < 0)
		return ceph_be_error(cb, ret, "cannot read %s: %s",
				     cfg->conf ? cfg->conf : "/dev/null",
				     strerror(-ret));
	for (size_t i = 0; i < podfs_ceph_fixed_conf_count; i++) {
		ret = ceph_be_set(cb, podfs_ceph_fixed_conf[i][0],
				  podfs_ceph_fixed_conf[i][1]);
		if (ret)
			return ret;
	}
	if (cfg->mon_host) {
		ret = ceph_be_set(cb, "mon_host", cfg->mon_host);
		if (ret)
			return ret;
	}
	/* A mount that times out also waits this long to close the MDS
	 * session it never had: keep it short until mounted. */
	snprintf(num, sizeof(num), "%d", ceph_be_secs(cfg));
	ret = ceph_be_set(cb, "client_mount_timeout", num);
	if (!ret)
		ret = ceph_be_set(cb, "client_shutdown_timeout", "1");
	if (ret)
		return ret;
	if (cfg->soft) {
		/* Only the OSD and monitor requests can time out: a call
		 * waiting on an unreachable MDS still waits. */
		snprintf(num, sizeof(num), "%d",
			 ceph_be_secs(cfg) * (cfg->retrans + 1));
		ret = ceph_be_set(cb, "rados_osd_op_timeout", num);
		if (!ret)
			ret = ceph_be_set(cb, "rados_mon_op_timeout", num);
		if (ret)
			return ret;
	}
	if (cfg->fs_name) {
		/* client_fs is Pacific's name; client_mds_namespace the old */
		ret = ceph_be_set(cb, "client_fs", cfg->fs_name);
		if (ret)
			return ret;
	}
	if (cfg->secret)
		return ceph_be_set(cb, "key", cfg->secret);
	if (cfg->secretfile)
		return ceph_be_read_secretfile(cb, cfg->secretfile);
	if (cfg->keyring)
		return ceph_be_set(cb, "keyring", cfg->keyring);
	/* Without conf= nothing of the host's /etc/ceph is used: not its
	 * ceph.conf, and not its keyrings (an admin key a volume source
	 * must not be able to borrow just by naming client.admin). */
	if (!cfg->conf)
		return ceph_be_set(cb, "keyring", "");
	return 0;
}

/* ceph_init's and ceph_mount's errors, in words for the person who typed
 * the source. */
static int ceph_be_mount_error(struct ceph_be *cb,
			       const struct podfs_config *cfg, int ret,
			       const char *root, bool mounting)
{
	const char *user = ceph_be_user(cfg);

	switch (-ret) {
	case EACCES:
	case EPERM:
		if (!cfg->secret && !cfg->secretfile && !cfg->keyring &&
		    !cfg->conf)
			return ceph_be_error(cb, -EACCES,
					     "authentication failed for "
					     "client.%s: no key given (use "
					     "secretfile= or keyring=)", user);
		return ceph_be_error(cb, -EACCES,
				     "authentication failed for client.%s "
				     "(wrong key or user?)", user);
	case ETIMEDOUT:
		/* ceph_init waits for the monitors, ceph_mount for an MDS */
		if (mounting)
			return ceph_be_error(cb, ret,
					     "no metadata server of file "
					     "system %s answered within %d s",
					     cfg->fs_name ? cfg->fs_name :
					     "(default)", ceph_be_secs(cfg));
		return ceph_be_error(cb, ret,
				     "no answer from the Ceph monitors %s "
				     "within %d s", cfg->mon_host ?
				     cfg->mon_host : cfg->conf,
				     ceph_be_secs(cfg));
	case ENOENT:
		/* The root of a file system always exists. */
		if (!strcmp(root, "/") && cfg->fs_name)
			return ceph_be_error(cb, ret,
					     "no CephFS file system named %s",
					     cfg->fs_name);
		if (!strcmp(root, "/"))
			return ceph_be_error(cb, ret,
					     "the cluster has no CephFS file "
					     "system");
		return ceph_be_error(cb, ret, "path %s not found", root);
	case ENOTDIR:
		return ceph_be_error(cb, ret, "path %s is not a directory",
				     root);
	default:
		return ceph_be_error(cb, ret, "cannot mount: %s",
				     strerror(-ret));
	}
}

/* The cluster a fsid= (mount.ceph's fsid.fsname= form) names must be
 * the one the monitors answer for; libcephfs doesn't check. */
static int ceph_be_check_fsid(struct ceph_be *cb,
			      const struct podfs_config *cfg)
{
	char fsid[64];
	int ret;

	if (!cfg->fsid)
		return 0;
	/* after ceph_init this is the monitors' fsid */
	ret = ceph_conf_get(cb->cmount, "fsid", fsid, sizeof(fsid));
	if (ret < 0)
		return ceph_be_error(cb, ret, "cannot get the cluster's fsid: "
				     "%s", strerror(-ret));
	if (strcasecmp(fsid, cfg->fsid))
		return ceph_be_error(cb, EINVAL,
				     "the monitors serve cluster %s, not %s",
				     fsid, cfg->fsid);
	return 0;
}

static int ceph_be_explain_enoent(struct ceph_be *cb,
				  const struct podfs_config *cfg,
				  const char *root);

/* FNV-1a, 64 bits, continuing from H. */
static uint64_t ceph_be_fnv(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* With client_id= the session carries a uuid derived from the volume and
 * that id, and takes over (the MDS evicts at once) a session a killed
 * mount with the same uuid left behind: otherwise its caps block every
 * client until the MDS times it out. nfs-ganesha's FSAL_CEPH does the
 * same after a restart. Without client_id= two attaches to one volume
 * must not evict each other, so nothing happens. */
static void ceph_be_reclaim(struct ceph_be *cb, const struct podfs_config *cfg)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	char uuid[32];

	if (!cfg->client_id)
		return;
	h = ceph_be_fnv(h, cfg->source);
	h = ceph_be_fnv(h, "\n");
	h = ceph_be_fnv(h, cfg->root ? cfg->root : "/");
	h = ceph_be_fnv(h, "\n");
	h = ceph_be_fnv(h, ceph_be_user(cfg));
	h = ceph_be_fnv(h, "\n");
	h = ceph_be_fnv(h, cfg->client_id);
	snprintf(uuid, sizeof(uuid), "podfs-%016llx", (unsigned long long)h);
	/* -ENOENT: no such session (the usual case); -EOPNOTSUPP: an old
	 * MDS. Either way mount as usual: a leftover session then only
	 * times out as it would have. */
	ceph_start_reclaim(cb->cmount, uuid, CEPH_RECLAIM_RESET);
	ceph_finish_reclaim(cb->cmount);
	ceph_set_uuid(cb->cmount, uuid);
}

/* Creates CB's client and mounts ROOT; on failure leaves no client.
 * RECLAIM: this is the volume's own session (not a probe), which may
 * take over a dead one's and reports changes made elsewhere. */
static int ceph_be_connect(struct ceph_be *cb, const struct podfs_config *cfg,
			   const char *root, bool reclaim)
{
	struct ceph_client_callback_args args = { 0 };
	const char *user = ceph_be_user(cfg);
	char num[32];
	int ret;

	ret = ceph_create(&cb->cmount, user);
	if (ret < 0) {
		cb->cmount = NULL;
		return ceph_be_error(cb, ret, "cannot create a Ceph client "
				     "for client.%s: %s", user,
				     strerror(-ret));
	}
	ret = ceph_be_configure(cb, cfg);
	if (ret)
		goto fail;
	/* ceph_init already talks to the monitors and authenticates. */
	ret = ceph_init(cb->cmount);
	if (ret < 0) {
		ret = ceph_be_mount_error(cb, cfg, ret, root, false);
		goto fail;
	}
	ret = ceph_be_check_fsid(cb, cfg);
	if (ret)
		goto fail;
	args.handle = cb;
	args.ino_release_cb = ceph_be_ino_release;
	if (reclaim && podfs_wants_invalidate(cb->be.vol)) {
		args.ino_cb = ceph_be_ino_invalidate;
		cb->be.coherent = true;
	}
	ceph_ll_register_callbacks(cb->cmount, &args);
	if (reclaim)
		ceph_be_reclaim(cb, cfg);
	ret = ceph_mount(cb->cmount, root);
	if (ret == -ENOENT && strcmp(root, "/"))
		ret = ceph_be_explain_enoent(cb, cfg, root);
	else if (ret < 0)
		ret = ceph_be_mount_error(cb, cfg, ret, root, true);
	if (ret)
		goto fail;
	/* Unmounting (detach) flushes dirty data: give it timeo. */
	snprintf(num, sizeof(num), "%d", ceph_be_secs(cfg));
	ret = ceph_be_set(cb, "client_shutdown_timeout", num);
	if (ret)
		goto fail;
	return 0;

fail:
	ceph_shutdown(cb->cmount);
	cb->cmount = NULL;
	return ret;
}

static void ceph_be_free(struct ceph_be *cb)
{
	pthread_mutex_destroy(&cb->snap_lock);
	free(cb->snapids);
	free(cb->source);
	free(cb);
}

static struct ceph_be *ceph_be_new(const struct podfs_config *cfg,
				   struct podfs_volume *vol)
{
	struct ceph_be *cb = calloc(1, sizeof(*cb));

	if (!cb)
		return NULL;
	cb->be.ops = &podfs_ceph_backend;
	cb->be.vol = vol;
	pthread_mutex_init(&cb->snap_lock, NULL);
	cb->source = strdup(cfg->source ? cfg->source : "ceph");
	if (!cb->source) {
		ceph_be_free(cb);
		return NULL;
	}
	return cb;
}

/* ceph_mount didn't find ROOT: is it the path or the whole file system?
 * Mounting the file system's root tells (unless the key may only see
 * ROOT). */
static int ceph_be_explain_enoent(struct ceph_be *cb,
				  const struct podfs_config *cfg,
				  const char *root)
{
	struct ceph_be *probe = ceph_be_new(cfg, cb->be.vol);
	int ret = -ENOENT;

	if (probe) {
		ret = ceph_be_connect(probe, cfg, "/", false);
		if (!ret)
			ceph_shutdown(probe->cmount);
		ceph_be_free(probe);
	}
	if (ret == -ENOENT)
		return ceph_be_mount_error(cb, cfg, ret, "/", true);
	if (ret == 0 && cfg->fs_name)
		return ceph_be_error(cb, ENOENT, "path %s not found in file "
				     "system %s", root, cfg->fs_name);
	if (ret == 0 || !cfg->fs_name)
		return ceph_be_error(cb, ENOENT, "path %s not found", root);
	return ceph_be_error(cb, ENOENT, "path %s not found (or no file "
			     "system named %s)", root, cfg->fs_name);
}

/* libcephfs mounts a file as happily as a directory. */
static int ceph_be_check_root(struct ceph_be *cb, const char *root)
{
	struct ceph_statx stx;
	struct Inode *in;
	int ret;

	ret = ceph_ll_lookup_root(cb->cmount, &in);
	if (ret < 0)
		return ceph_be_error(cb, ret, "cannot find path %s: %s", root,
				     strerror(-ret));
	ret = ceph_ll_getattr(cb->cmount, in, &stx, CEPH_STATX_MODE, 0,
			      cb->perms);
	ceph_ll_put(cb->cmount, in);
	if (ret < 0)
		return ceph_be_error(cb, ret, "cannot stat path %s: %s", root,
				     strerror(-ret));
	if (!S_ISDIR(stx.stx_mode))
		return ceph_be_error(cb, ENOTDIR, "path %s is not a directory",
				     root);
	return 0;
}

static int ceph_be_attach(const struct podfs_config *cfg,
			  struct podfs_volume *vol, struct podfs_backend **out)
{
	const char *root = cfg->root ? cfg->root : "/";
	struct ceph_be *cb;
	int ret;

	cb = ceph_be_new(cfg, vol);
	if (!cb)
		return podfs_set_error(vol, ENOMEM, "out of memory");
	ret = ceph_be_connect(cb, cfg, root, true);
	if (ret) {
		ceph_be_free(cb);
		return ret;
	}
	cb->perms = ceph_mount_perms(cb->cmount);
	ret = ceph_be_check_root(cb, root);
	if (ret) {
		ceph_shutdown(cb->cmount);
		ceph_be_free(cb);
		return ret;
	}
	*out = &cb->be;
	return 0;
}

static void ceph_be_detach(struct podfs_backend *be)
{
	struct ceph_be *cb = to_cbe(be);

	/* unmount (flushing what is dirty) and release, even when the
	 * unmount fails: ceph_release alone would refuse and leak */
	ceph_shutdown(cb->cmount);
	ceph_be_free(cb);
}

/* ---- Objects ------------------------------------------------------------ */

static int ceph_be_root(struct podfs_backend *be, struct podfs_bobj **obj,
			struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	struct Inode *in;
	int ret;

	ret = ceph_ll_lookup_root(cb->cmount, &in);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "root", NULL);
	ret = ceph_ll_getattr(cb->cmount, in, &stx, CEPH_STATX_BASIC_STATS, 0,
			      cb->perms);
	if (ret < 0) {
		ceph_ll_put(cb->cmount, in);
		return ceph_be_op_error(cb, ret, "stat of the root", NULL);
	}
	return ceph_be_new_obj(cb, in, &stx, obj, st);
}

static int ceph_be_lookup(struct podfs_backend *be, struct podfs_bobj *dir,
			  const char *name, struct podfs_bobj **obj,
			  struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	struct Inode *in;
	int ret;

	ret = ceph_ll_lookup(cb->cmount, to_cobj(dir)->in, name, &in, &stx,
			     CEPH_STATX_BASIC_STATS, 0, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "lookup", name);
	return ceph_be_new_obj(cb, in, &stx, obj, st);
}

static void ceph_be_put(struct podfs_backend *be, struct podfs_bobj *obj)
{
	struct ceph_obj *co = to_cobj(obj);

	ceph_ll_put(to_cbe(be)->cmount, co->in);
	free(co);
}

/* Same key, same Inode: OLD already holds what NEW does. */
static void ceph_be_merge(struct podfs_backend *be, struct podfs_bobj *old,
			  struct podfs_bobj *new_obj)
{
	(void)old;
	ceph_be_put(be, new_obj);
}

static int ceph_be_getattr(struct podfs_backend *be, struct podfs_bobj *obj,
			   struct podfs_bfile *file, struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	int ret;

	(void)file; /* the Inode is the same either way */
	ret = ceph_ll_getattr(cb->cmount, to_cobj(obj)->in, &stx,
			      CEPH_STATX_BASIC_STATS, 0, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "stat", NULL);
	ceph_be_stat(obj->key, &stx, st);
	return 0;
}

static int ceph_be_setattr(struct podfs_backend *be, struct podfs_bobj *obj,
			   struct podfs_bfile *file, const struct stat *attr,
			   int to_set, struct stat *out)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	struct timespec now;
	int mask = 0, ret;

	(void)file;
	memset(&stx, 0, sizeof(stx));
	if (to_set & PODFS_SET_MODE) {
		mask |= CEPH_SETATTR_MODE;
		stx.stx_mode = attr->st_mode & 07777;
	}
	if (to_set & PODFS_SET_UID) {
		mask |= CEPH_SETATTR_UID;
		stx.stx_uid = attr->st_uid;
	}
	if (to_set & PODFS_SET_GID) {
		mask |= CEPH_SETATTR_GID;
		stx.stx_gid = attr->st_gid;
	}
	if (to_set & PODFS_SET_SIZE) {
		mask |= CEPH_SETATTR_SIZE;
		stx.stx_size = (uint64_t)attr->st_size;
	}
	/* The _NOW bits differ in order from FUSE's; as ganesha does, send
	 * our own clock too, for a libcephfs that ignores them. */
	if (to_set & (PODFS_SET_ATIME_NOW | PODFS_SET_MTIME_NOW))
		clock_gettime(CLOCK_REALTIME, &now);
	if (to_set & PODFS_SET_ATIME_NOW) {
		mask |= CEPH_SETATTR_ATIME | CEPH_SETATTR_ATIME_NOW;
		stx.stx_atime = now;
	} else if (to_set & PODFS_SET_ATIME) {
		mask |= CEPH_SETATTR_ATIME;
		stx.stx_atime = attr->st_atim;
	}
	if (to_set & PODFS_SET_MTIME_NOW) {
		mask |= CEPH_SETATTR_MTIME | CEPH_SETATTR_MTIME_NOW;
		stx.stx_mtime = now;
	} else if (to_set & PODFS_SET_MTIME) {
		mask |= CEPH_SETATTR_MTIME;
		stx.stx_mtime = attr->st_mtim;
	}
	if (mask) {
		ret = ceph_ll_setattr(cb->cmount, to_cobj(obj)->in, &stx, mask,
				      cb->perms);
		if (ret < 0)
			return ceph_be_op_error(cb, ret, "setattr", NULL);
	}
	if (out)
		return ceph_be_getattr(be, obj, file, out);
	return 0;
}

static int ceph_be_readdir(struct podfs_backend *be, struct podfs_bobj *dir,
			   podfs_bdirent_cb fill, void *arg)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_dir_result *dirp;
	struct ceph_statx stx;
	struct dirent de;
	struct Inode *in;
	int ret;

	ret = ceph_ll_opendir(cb->cmount, to_cobj(dir)->in, &dirp, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "opendir", NULL);
	for (;;) {
		struct podfs_bobj *obj = NULL;
		struct stat st;
		uint64_t key;

		/* The MDS sent the attributes with the entries: don't ask
		 * again for each one. */
		in = NULL;
		ret = ceph_readdirplus_r(cb->cmount, dirp, &de, &stx,
					 CEPH_STATX_BASIC_STATS,
					 AT_STATX_DONT_SYNC, &in);
		if (ret <= 0) {
			if (ret < 0)
				ret = ceph_be_op_error(cb, ret, "readdir",
						       NULL);
			break;
		}
		if (!strcmp(de.d_name, ".") || !strcmp(de.d_name, "..")) {
			if (in)
				ceph_ll_put(cb->cmount, in);
			continue;
		}
		key = ceph_be_key(cb, &stx);
		if (in) {
			/* short of memory, the entry goes without an object */
			struct ceph_obj *co = malloc(sizeof(*co));

			if (co) {
				co->in = in;
				co->obj.key = key;
				obj = &co->obj;
			} else {
				ceph_ll_put(cb->cmount, in);
			}
		}
		ceph_be_stat(key, &stx, &st);
		ret = fill(arg, de.d_name, obj, &st);
		if (ret)
			break;
	}
	ceph_ll_releasedir(cb->cmount, dirp);
	return ret;
}

/* ---- Names -------------------------------------------------------------- */

static int ceph_be_mkdir(struct podfs_backend *be, struct podfs_bobj *dir,
			 const char *name, mode_t mode,
			 const struct podfs_cred *cred, struct podfs_bobj **obj,
			 struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	struct Inode *in;
	UserPerm *perms;
	int ret;

	ret = ceph_be_perms(cb, cred, &perms);
	if (ret)
		return ret;
	ret = ceph_ll_mkdir(cb->cmount, to_cobj(dir)->in, name, mode, &in,
			    &stx, CEPH_STATX_BASIC_STATS, 0, perms);
	ceph_be_perms_put(cb, perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "mkdir", name);
	return ceph_be_new_obj(cb, in, &stx, obj, st);
}

static int ceph_be_mknod(struct podfs_backend *be, struct podfs_bobj *dir,
			 const char *name, mode_t mode, dev_t rdev,
			 const struct podfs_cred *cred, struct podfs_bobj **obj,
			 struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	struct Inode *in;
	UserPerm *perms;
	int ret;

	ret = ceph_be_perms(cb, cred, &perms);
	if (ret)
		return ret;
	ret = ceph_ll_mknod(cb->cmount, to_cobj(dir)->in, name, mode, rdev,
			    &in, &stx, CEPH_STATX_BASIC_STATS, 0, perms);
	ceph_be_perms_put(cb, perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "mknod", name);
	return ceph_be_new_obj(cb, in, &stx, obj, st);
}

static int ceph_be_symlink(struct podfs_backend *be, struct podfs_bobj *dir,
			   const char *name, const char *target,
			   const struct podfs_cred *cred,
			   struct podfs_bobj **obj, struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_statx stx;
	struct Inode *in;
	UserPerm *perms;
	int ret;

	ret = ceph_be_perms(cb, cred, &perms);
	if (ret)
		return ret;
	ret = ceph_ll_symlink(cb->cmount, to_cobj(dir)->in, name, target, &in,
			      &stx, CEPH_STATX_BASIC_STATS, 0, perms);
	ceph_be_perms_put(cb, perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "symlink", name);
	return ceph_be_new_obj(cb, in, &stx, obj, st);
}

static int ceph_be_create(struct podfs_backend *be, struct podfs_bobj *dir,
			  const char *name, mode_t mode, int flags,
			  const struct podfs_cred *cred,
			  struct podfs_bobj **obj, struct stat *st,
			  struct podfs_bfile **file)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_file *cf;
	struct ceph_statx stx;
	struct Inode *in;
	struct Fh *fh;
	UserPerm *perms;
	int ret;

	cf = malloc(sizeof(*cf));
	if (!cf)
		return ceph_be_error(cb, ENOMEM, "out of memory");
	ret = ceph_be_perms(cb, cred, &perms);
	if (ret) {
		free(cf);
		return ret;
	}
	flags |= O_CREAT;
	ret = ceph_ll_create(cb->cmount, to_cobj(dir)->in, name, mode, flags,
			     &in, &fh, &stx, CEPH_STATX_BASIC_STATS, 0, perms);
	ceph_be_perms_put(cb, perms);
	if (ret < 0) {
		free(cf);
		return ceph_be_op_error(cb, ret, "create", name);
	}
	ret = ceph_be_new_obj(cb, in, &stx, obj, st);
	if (ret) {
		ceph_ll_close(cb->cmount, fh);
		free(cf);
		return ret;
	}
	cf->file.obj = *obj;
	cf->fh = fh;
	cf->flags = flags;
	*file = &cf->file;
	return 0;
}

static int ceph_be_link(struct podfs_backend *be, struct podfs_bobj *obj,
			struct podfs_bobj *newdir, const char *newname,
			struct stat *st)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_link(cb->cmount, to_cobj(obj)->in, to_cobj(newdir)->in,
			   newname, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "link", newname);
	return ceph_be_getattr(be, obj, NULL, st);
}

static int ceph_be_unlink(struct podfs_backend *be, struct podfs_bobj *dir,
			  const char *name)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_unlink(cb->cmount, to_cobj(dir)->in, name, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "unlink", name);
	return 0;
}

static int ceph_be_rmdir(struct podfs_backend *be, struct podfs_bobj *dir,
			 const char *name)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_rmdir(cb->cmount, to_cobj(dir)->in, name, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "rmdir", name);
	return 0;
}

static int ceph_be_rename(struct podfs_backend *be, struct podfs_bobj *dir,
			  const char *name, struct podfs_bobj *newdir,
			  const char *newname, unsigned flags)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	if (flags & ~PODFS_RENAME_NOREPLACE)
		return ceph_be_error(cb, EINVAL, "rename '%s': flags %#x "
				     "not supported", name, flags);
	if (flags & PODFS_RENAME_NOREPLACE) {
		struct ceph_statx stx;
		struct Inode *in;

		/* libcephfs has no RENAME_NOREPLACE: look first. Racy
		 * against another client creating NEWNAME in between. */
		ret = ceph_ll_lookup(cb->cmount, to_cobj(newdir)->in, newname,
				     &in, &stx, 0, 0, cb->perms);
		if (ret == 0) {
			ceph_ll_put(cb->cmount, in);
			return ceph_be_op_error(cb, -EEXIST, "rename to",
						newname);
		}
		if (ret != -ENOENT)
			return ceph_be_op_error(cb, ret, "rename to", newname);
	}
	ret = ceph_ll_rename(cb->cmount, to_cobj(dir)->in, name,
			     to_cobj(newdir)->in, newname, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "rename", name);
	return 0;
}

static ssize_t ceph_be_readlink(struct podfs_backend *be,
				struct podfs_bobj *obj, char *buf, size_t size)
{
	struct ceph_be *cb = to_cbe(be);
	struct Inode *in = to_cobj(obj)->in;
	size_t len = 4096;
	char *tmp;
	int ret;

	/* libcephfs truncates silently: a target that fills the buffer
	 * may be longer, so read again with more room until it doesn't. */
	if (size > 1) {
		ret = ceph_ll_readlink(cb->cmount, in, buf, size - 1,
				       cb->perms);
		if (ret < 0)
			return ceph_be_op_error(cb, ret, "readlink", NULL);
		if ((size_t)ret < size - 1) {
			buf[ret] = '\0';
			return ret;
		}
		len = size * 2;
	}
	for (;;) {
		tmp = malloc(len);
		if (!tmp)
			return ceph_be_error(cb, ENOMEM, "out of memory");
		ret = ceph_ll_readlink(cb->cmount, in, tmp, len, cb->perms);
		if (ret < 0) {
			free(tmp);
			return ceph_be_op_error(cb, ret, "readlink", NULL);
		}
		if ((size_t)ret < len)
			break;
		free(tmp);
		len *= 2;
	}
	if (size) {
		size_t n = (size_t)ret < size - 1 ? (size_t)ret : size - 1;

		memcpy(buf, tmp, n);
		buf[n] = '\0';
	}
	free(tmp);
	return ret;
}

static int ceph_be_statfs(struct podfs_backend *be, struct podfs_bobj *obj,
			  struct statvfs *st)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_statfs(cb->cmount, to_cobj(obj)->in, st);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "statfs", NULL);
	return 0;
}

/* ---- Open files --------------------------------------------------------- */

static int ceph_be_open(struct podfs_backend *be, struct podfs_bobj *obj,
			int flags, struct podfs_bfile **file)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_file *cf;
	struct Fh *fh;
	int ret;

	cf = malloc(sizeof(*cf));
	if (!cf)
		return ceph_be_error(cb, ENOMEM, "out of memory");
	flags &= ~(O_CREAT | O_EXCL);
	ret = ceph_ll_open(cb->cmount, to_cobj(obj)->in, flags, &fh,
			   cb->perms);
	if (ret < 0) {
		free(cf);
		return ceph_be_op_error(cb, ret, "open", NULL);
	}
	cf->file.obj = obj;
	cf->fh = fh;
	cf->flags = flags;
	*file = &cf->file;
	return 0;
}

/* libcephfs reads short only at end of file (it zero-fills holes and
 * rechecks the size), so a short piece ends the read. */
static ssize_t ceph_be_read(struct podfs_backend *be, struct podfs_bfile *file,
			    void *buf, size_t count, off_t off)
{
	struct ceph_be *cb = to_cbe(be);
	struct Fh *fh = to_cfile(file)->fh;
	size_t done = 0;

	while (done < count) {
		size_t want = count - done;
		int ret;

		if (want > CEPH_BE_IO_CHUNK)
			want = CEPH_BE_IO_CHUNK;
		ret = ceph_ll_read(cb->cmount, fh, off + (off_t)done, want,
				   (char *)buf + done);
		if (ret < 0)
			return ceph_be_op_error(cb, ret, "read", NULL);
		done += (size_t)ret;
		if ((size_t)ret < want)
			break;
	}
	return (ssize_t)done;
}

static ssize_t ceph_be_write(struct podfs_backend *be,
			     struct podfs_bfile *file, const void *buf,
			     size_t count, off_t off)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_file *cf = to_cfile(file);
	size_t done = 0;

	/* libcephfs appends only for writes at the file position (offset
	 * -1): an explicit offset is taken as given. */
	if (cf->flags & O_APPEND)
		off = -1;
	while (done < count) {
		size_t want = count - done;
		int ret;

		if (want > CEPH_BE_IO_CHUNK)
			want = CEPH_BE_IO_CHUNK;
		ret = ceph_ll_write(cb->cmount, cf->fh,
				    off < 0 ? -1 : off + (off_t)done, want,
				    (const char *)buf + done);
		if (ret < 0)
			return ceph_be_op_error(cb, ret, "write", NULL);
		if (ret == 0)
			return ceph_be_op_error(cb, -EIO, "write", NULL);
		done += (size_t)ret;
	}
	return (ssize_t)done;
}

static int ceph_be_fsync(struct podfs_backend *be, struct podfs_bfile *file,
			 int datasync)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_fsync(cb->cmount, to_cfile(file)->fh, datasync);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "fsync", NULL);
	return 0;
}

static int ceph_be_close(struct podfs_backend *be, struct podfs_bfile *file)
{
	struct ceph_be *cb = to_cbe(be);
	struct ceph_file *cf = to_cfile(file);
	int ret;

	ret = ceph_ll_close(cb->cmount, cf->fh);
	free(cf);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "close", NULL);
	return 0;
}

/* ---- Extended attributes ------------------------------------------------ */

static ssize_t ceph_be_getxattr(struct podfs_backend *be,
				struct podfs_bobj *obj, const char *name,
				void *value, size_t size)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_getxattr(cb->cmount, to_cobj(obj)->in, name, value, size,
			       cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "getxattr", name);
	return ret;
}

static int ceph_be_setxattr(struct podfs_backend *be, struct podfs_bobj *obj,
			    const char *name, const void *value, size_t size,
			    int flags)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_setxattr(cb->cmount, to_cobj(obj)->in, name, value, size,
			       flags, cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "setxattr", name);
	return 0;
}

static ssize_t ceph_be_listxattr(struct podfs_backend *be,
				 struct podfs_bobj *obj, char *list,
				 size_t size)
{
	struct ceph_be *cb = to_cbe(be);
	size_t len = 0;
	int ret;

	ret = ceph_ll_listxattr(cb->cmount, to_cobj(obj)->in, list, size, &len,
				cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "listxattr", NULL);
	return (ssize_t)len;
}

static int ceph_be_removexattr(struct podfs_backend *be,
			       struct podfs_bobj *obj, const char *name)
{
	struct ceph_be *cb = to_cbe(be);
	int ret;

	ret = ceph_ll_removexattr(cb->cmount, to_cobj(obj)->in, name,
				  cb->perms);
	if (ret < 0)
		return ceph_be_op_error(cb, ret, "removexattr", name);
	return 0;
}

const struct podfs_backend_ops podfs_ceph_backend = {
	.version = PODFS_BACKEND_OPS_VERSION,
	.name = "ceph",
	.attach = ceph_be_attach,
	.detach = ceph_be_detach,
	.root = ceph_be_root,
	.lookup = ceph_be_lookup,
	.merge = ceph_be_merge,
	.put = ceph_be_put,
	.getattr = ceph_be_getattr,
	.setattr = ceph_be_setattr,
	.readdir = ceph_be_readdir,
	.mkdir = ceph_be_mkdir,
	.mknod = ceph_be_mknod,
	.symlink = ceph_be_symlink,
	.create = ceph_be_create,
	.link = ceph_be_link,
	.unlink = ceph_be_unlink,
	.rmdir = ceph_be_rmdir,
	.rename = ceph_be_rename,
	.readlink = ceph_be_readlink,
	.statfs = ceph_be_statfs,
	.open = ceph_be_open,
	.read = ceph_be_read,
	.write = ceph_be_write,
	.fsync = ceph_be_fsync,
	.close = ceph_be_close,
	.getxattr = ceph_be_getxattr,
	.setxattr = ceph_be_setxattr,
	.listxattr = ceph_be_listxattr,
	.removexattr = ceph_be_removexattr,
};
