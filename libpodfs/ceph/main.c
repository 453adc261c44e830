/*
 * The CephFS backend's mount: libcephfs set up from the volume's options
 * (never the host's /etc/ceph), the key from a secretfile, a keyring or
 * memory, the mount and its errors in words, a dead client's session
 * taken over; and detach.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ---- Attach and detach -------------------------------------------------- */

/* MDS cache pressure: it wants an inode reference back. */
static void ceph_be_ino_release(void *handle, vinodeno_t vino)
{
	struct ceph_be *cb = handle;

	cb->be.up->release(cb->be.vol, ceph_be_vkey(cb, vino.ino.val,
						    vino.snapid.val, true));
}

/* Another client is about to change the inode: the MDS recalls our right
 * to cache its data (and attributes), and libcephfs drops its own cache
 * and tells us, from its invalidator thread, so the caller drops its. */
static void ceph_be_ino_invalidate(void *handle, vinodeno_t vino,
				   int64_t off, int64_t len)
{
	struct ceph_be *cb = handle;

	cb->be.up->invalidate(cb->be.vol,
			      ceph_be_vkey(cb, vino.ino.val, vino.snapid.val,
					   true),
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

/* libcephfs keeps file data in its own object cacher (the core keeps
 * none over a coherent backend): cache_size= bounds it as it bounds the
 * core's cache on NFS, dirty data to half of it as there, and cache=none
 * turns it off. Its defaults (200 MiB, 100 MiB dirty) would not follow
 * the mount's option. */
static int ceph_be_cache(struct ceph_be *cb, const struct podfs_config *cfg)
{
	unsigned long long size = cfg->cache_size, dirty = size / 2;
	unsigned long long target = dirty / 2;
	char num[32];
	int ret;

	if (cfg->cache_mode == PODFS_CACHE_NONE)
		return ceph_be_set(cb, "client_oc", "false");
	if (target > 8ULL << 20)
		target = 8ULL << 20; /* Ceph's default: start early */
	snprintf(num, sizeof(num), "%llu", size);
	ret = ceph_be_set(cb, "client_oc_size", num);
	snprintf(num, sizeof(num), "%llu", dirty);
	if (!ret)
		ret = ceph_be_set(cb, "client_oc_max_dirty", num);
	snprintf(num, sizeof(num), "%llu", target);
	if (!ret)
		ret = ceph_be_set(cb, "client_oc_target_dirty", num);
	return ret;
}

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
	ret = ceph_be_cache(cb, cfg);
	if (ret)
		return ret;
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
	if (reclaim) {
		args.ino_cb = ceph_be_ino_invalidate;
		cb->be.coherent = true;
		cb->be.caches = true;
		cb->be.locks = true;
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
				   struct podfs_volume *vol,
				   const struct podfs_up_ops *up)
{
	struct ceph_be *cb = calloc(1, sizeof(*cb));

	if (!cb)
		return NULL;
	cb->be.ops = &podfs_ceph_backend;
	cb->be.vol = vol;
	cb->be.up = up;
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
	struct ceph_be *probe = ceph_be_new(cfg, cb->be.vol, cb->be.up);
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

int ceph_be_attach(const struct podfs_config *cfg, struct podfs_volume *vol,
		   const struct podfs_up_ops *up, struct podfs_backend **out)
{
	const char *root = cfg->root ? cfg->root : "/";
	struct ceph_be *cb;
	int ret;

	cb = ceph_be_new(cfg, vol, up);
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

void ceph_be_detach(struct podfs_backend *be)
{
	struct ceph_be *cb = to_cbe(be);

	/* unmount (flushing what is dirty) and release, even when the
	 * unmount fails: ceph_release alone would refuse and leak */
	ceph_shutdown(cb->cmount);
	ceph_be_free(cb);
}

