/*
 * Volumes: creating, parsing, attaching to a backend and detaching; the
 * up-calls a backend makes into the core; the volume's statistics.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

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
	pthread_mutex_init(&vol->be_lock, NULL);
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

/* ---- up-calls from the backend ------------------------------------------------- */

/* The inode number of the object with KEY, its cached attributes (and
 * names) dropped; 0 when the caller never got it. */
static uint64_t up_drop(struct podfs_volume *vol, uint64_t key)
{
	struct podfs_inode *in;
	uint64_t ino = 0;

	pthread_mutex_lock(&vol->lock);
	in = vol->inval_on ? table_find_key(&vol->table, key) : NULL;
	if (in) {
		ino = in->ino;
		cache_attr_foreign(in);
		cache_dentry_drop_all(in);
	}
	pthread_mutex_unlock(&vol->lock);
	return ino;
}

static void up_invalidate(struct podfs_volume *vol, uint64_t key, off_t off,
			  off_t len)
{
	uint64_t ino = up_drop(vol, key);

	if (ino && vol->inval_fn)
		vol->inval_fn(vol->inval_arg, ino, off, len);
}

static void up_release(struct podfs_volume *vol, uint64_t key)
{
	up_drop(vol, key);
}

static const struct podfs_up_ops core_up_ops = {
	.invalidate = up_invalidate,
	.release = up_release,
};

/* ---- attach and detach ---------------------------------------------------------- */

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
	atomic_store(&vol->shut_down, false);
	ret = table_init(&vol->table);
	if (ret)
		return podfs_set_error(vol, ret, "out of memory");
	vol->cfg.secret = vol->secret;
	error_begin();
	ret = ops->attach(&vol->cfg, vol, &core_up_ops, &be);
	vol->cfg.secret = NULL;
	if (ret)
		goto fail;
	ret = ops->root(be, &obj, &st);
	if (ret)
		goto fail_detach;
	root = inode_new(vol, obj);
	if (!root) {
		ops->put(be, obj);
		ret = podfs_set_error(vol, ENOMEM, "out of memory");
		goto fail_detach;
	}
	root->nlookup = 1;
	/* from here a backend's thread may look keys up (up-calls) */
	pthread_mutex_lock(&vol->lock);
	table_add(&vol->table, root);
	/* Inodes nobody holds stay a while with their cache, where the core
	 * keeps one (a backend with its own cache keeps its own objects). */
	vol->table.idle_max = be->caches ? 0 : IDLE_INODES;
	pthread_mutex_lock(&vol->be_lock);
	vol->ops = ops;
	vol->be = be;
	pthread_mutex_unlock(&vol->be_lock);
	vol->inval_on = true;
	pthread_mutex_unlock(&vol->lock);
	/* shut down while it attached: the backend hears it now */
	pthread_mutex_lock(&vol->be_lock);
	if (atomic_load(&vol->shut_down) && ops->shutdown)
		ops->shutdown(be);
	pthread_mutex_unlock(&vol->be_lock);
	cache_attr_set(vol, root, &st, cache_attr_since());
	ret = data_start(vol);
	if (ret) {
		podfs_detach(vol);
		return ret;
	}
	return 0;

fail_detach:
	ops->detach(be);
fail:
	free(vol->table.by_ino);
	free(vol->table.by_key);
	memset(&vol->table, 0, sizeof(vol->table));
	return error_ensure(vol, ret, vol->cfg.source);
}

PODFS_EXPORT unsigned int podfs_shutdown(podfs_volume *vol)
{
	if (!vol)
		return 0;
	/* not under vol->lock: the backend takes its own locks, which its
	 * threads hold while they call up */
	pthread_mutex_lock(&vol->be_lock);
	if (!atomic_exchange(&vol->shut_down, true) && vol->be &&
	    vol->ops->shutdown)
		vol->ops->shutdown(vol->be);
	pthread_mutex_unlock(&vol->be_lock);
	return podfs_config_timeout_ms(&vol->cfg);
}

PODFS_EXPORT int podfs_detach(podfs_volume *vol)
{
	int first = 0;

	if (!vol || !vol->be)
		return 0;
	podfs_shutdown(vol);
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
	data_stop(vol);
	table_free(vol);
	pthread_mutex_lock(&vol->be_lock);
	vol->ops->detach(vol->be);
	vol->be = NULL;
	vol->ops = NULL;
	pthread_mutex_unlock(&vol->be_lock);
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
	pthread_mutex_destroy(&vol->be_lock);
	error_forget_volume(vol);
	free(vol);
}

/* ---- statistics ------------------------------------------------------------------ */

PODFS_EXPORT int podfs_stats(podfs_volume *vol, struct podfs_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!vol->be)
		return podfs_set_error(vol, EINVAL, "the volume is not attached");
	if (vol->ops->stats)
		vol->ops->stats(vol->be, st);
	return 0;
}

static uint64_t get(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

PODFS_EXPORT int podfs_stats_foreach(podfs_volume *vol, podfs_stat_fn fn,
				     void *arg)
{
	const struct core_counters *c = &vol->counters;
	const struct data_cache *d = &vol->data;
	struct podfs_stats rpc;
	char name[64];
	int ret = podfs_stats(vol, &rpc);

	if (ret)
		return ret;
	fn(arg, "cache.attr.hits", get(&c->attr_hits));
	fn(arg, "cache.attr.misses", get(&c->attr_misses));
	fn(arg, "cache.entry.hits", get(&c->entry_hits));
	fn(arg, "cache.entry.misses", get(&c->entry_misses));
	fn(arg, "cache.data.hits", get(&d->hits));
	fn(arg, "cache.data.misses", get(&d->misses));
	fn(arg, "cache.data.bytes", get(&d->bytes));
	fn(arg, "cache.data.limit", d->on ? vol->cfg.cache_size : 0);
	fn(arg, "cache.data.readahead_bytes", get(&d->readahead));
	fn(arg, "writeback.queued_bytes", get(&d->dirty));
	fn(arg, "writeback.errors", get(&d->wb_errors));
	fn(arg, "bytes_read", get(&c->bytes_read));
	fn(arg, "bytes_written", get(&c->bytes_written));
	for (int i = 0; i < DISPATCH_OP_COUNT; i++) {
		static const char *const fields[] = { "count", "errors",
						      "usec" };
		const uint64_t *v[] = { &c->ops[i].count, &c->ops[i].errors,
					&c->ops[i].usec };

		for (int j = 0; j < 3; j++) {
			snprintf(name, sizeof(name), "ops.%s.%s",
				 dispatch_op_names[i], fields[j]);
			fn(arg, name, get(v[j]));
		}
	}
	if (vol->ops->stats) {
		fn(arg, "rpc.calls", rpc.calls);
		fn(arg, "rpc.reads", rpc.reads);
		fn(arg, "rpc.writes", rpc.writes);
		fn(arg, "rpc.commits", rpc.commits);
		fn(arg, "rpc.read_bytes", rpc.read_bytes);
		fn(arg, "rpc.write_bytes", rpc.write_bytes);
		fn(arg, "rpc.max_read", rpc.max_read);
		fn(arg, "rpc.max_write", rpc.max_write);
		fn(arg, "rpc.resent", rpc.resent);
		fn(arg, "rpc.max_in_flight", rpc.max_in_flight);
	}
	return 0;
}
