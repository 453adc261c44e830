/*
 * The inode table: one inode per server object (by the backend's key),
 * with a stable inode number for the caller (a FUSE node id) and the
 * cache state of that object. The table and the references are guarded
 * by vol->lock; an inode's cache state by its own lock (cache.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static size_t hash64(uint64_t v, size_t nbuckets)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (size_t)v & (nbuckets - 1);
}

int table_init(struct inode_table *t)
{
	t->nbuckets = 256;
	t->by_ino = calloc(t->nbuckets, sizeof(*t->by_ino));
	t->by_key = calloc(t->nbuckets, sizeof(*t->by_key));
	t->count = 0;
	t->next_ino = PODFS_ROOT_INO;
	TAILQ_INIT(&t->idle);
	t->nidle = 0;
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

void table_add(struct inode_table *t, struct podfs_inode *in)
{
	in->ino = t->next_ino++;
	table_link(t, in);
	t->count++;
	table_grow(t);
}

struct podfs_inode *table_find_ino(struct inode_table *t, uint64_t ino)
{
	struct podfs_inode *in = t->by_ino[hash64(ino, t->nbuckets)];

	while (in && in->ino != ino)
		in = in->next_ino;
	return in;
}

struct podfs_inode *table_find_key(struct inode_table *t, uint64_t key)
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

static void idle_remove(struct inode_table *t, struct podfs_inode *in)
{
	if (in->on_idle) {
		TAILQ_REMOVE(&t->idle, in, idle);
		in->on_idle = false;
		t->nidle--;
	}
}

static void inode_free(struct podfs_volume *vol, struct podfs_inode *in)
{
	vol->ops->put(vol->be, in->obj);
	data_inode_free(vol, in);
	cache_inode_free(in);
	lock_inode_free(in);
	free(in->name);
	free(in);
}

void table_free(struct podfs_volume *vol)
{
	struct inode_table *t = &vol->table;

	for (size_t i = 0; i < t->nbuckets; i++) {
		struct podfs_inode *in = t->by_ino[i], *next;

		for (; in; in = next) {
			next = in->next_ino;
			inode_free(vol, in);
		}
	}
	free(t->by_ino);
	free(t->by_key);
	memset(t, 0, sizeof(*t));
	TAILQ_INIT(&t->idle);
}

struct podfs_inode *inode_new(struct podfs_volume *vol, struct podfs_bobj *obj)
{
	struct podfs_inode *in = calloc(1, sizeof(*in));

	(void)vol;
	if (!in)
		return NULL;
	in->obj = obj;
	cache_inode_init(in);
	data_inode_init(in);
	lock_inode_init(in);
	return in;
}

int inode_get(struct podfs_volume *vol, uint64_t ino, struct podfs_inode **out)
{
	struct podfs_inode *in;

	error_begin();
	if (!vol->be)
		return podfs_set_error(vol, ENOTCONN, "volume is not attached");
	pthread_mutex_lock(&vol->lock);
	in = table_find_ino(&vol->table, ino);
	/* one kept idle was forgotten by the caller: not its to use */
	if (in && !in->users && !in->nlookup && in->ino != PODFS_ROOT_INO)
		in = NULL;
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

void inode_release(struct podfs_volume *vol, struct podfs_inode *in,
		   uint32_t users, uint64_t nlookup)
{
	struct inode_table *t = &vol->table;
	struct podfs_inode *gone = NULL;

	pthread_mutex_lock(&vol->lock);
	in->users -= users;
	in->nlookup = nlookup > in->nlookup ? 0 : in->nlookup - nlookup;
	if (in->users == 0 && in->nlookup == 0 && in->ino != PODFS_ROOT_INO) {
		/* kept a while, most recently released last */
		idle_remove(t, in);
		TAILQ_INSERT_TAIL(&t->idle, in, idle);
		in->on_idle = true;
		t->nidle++;
	}
	/* past the bound the least recently released goes (one that was
	 * taken again in the meantime only leaves the list) */
	while (!gone && t->nidle > t->idle_max) {
		struct podfs_inode *old = TAILQ_FIRST(&t->idle);

		idle_remove(t, old);
		if (old->users == 0 && old->nlookup == 0) {
			table_unlink(t, old);
			gone = old;
		}
	}
	pthread_mutex_unlock(&vol->lock);
	if (gone)
		inode_free(vol, gone);
}

void inode_put(struct podfs_volume *vol, struct podfs_inode *in)
{
	inode_release(vol, in, 1, 0);
}

void present_attr(const struct podfs_volume *vol, struct stat *st)
{
	if (vol->cfg.uid >= 0)
		st->st_uid = (uid_t)vol->cfg.uid;
	if (vol->cfg.gid >= 0)
		st->st_gid = (gid_t)vol->cfg.gid;
	if (vol->cfg.umask >= 0)
		st->st_mode &= ~(mode_t)vol->cfg.umask;
}

void entry_fill(struct podfs_volume *vol, struct podfs_inode *in,
		const struct stat *st, struct podfs_entry *out)
{
	out->ino = in->ino;
	out->attr = *st;
	data_patch_size(in, &out->attr);
	present_attr(vol, &out->attr);
	out->attr_timeout = cache_attr_ttl(vol, in);
	out->entry_timeout = out->attr_timeout;
}

int inode_from_obj(struct podfs_volume *vol, struct podfs_bobj *obj,
		   const struct stat *st, uint64_t since, uint32_t users,
		   struct podfs_entry *out, struct podfs_inode **inp)
{
	struct podfs_inode *in, *fresh = inode_new(vol, obj);
	struct stat now;

	pthread_mutex_lock(&vol->lock);
	in = table_find_key(&vol->table, obj->key);
	if (in) {
		in->nlookup++;
		in->users += users;
		vol->ops->merge(vol->be, in->obj, obj);
	} else if (fresh) {
		in = fresh;
		fresh = NULL;
		in->nlookup = 1;
		in->users = users;
		table_add(&vol->table, in);
	}
	pthread_mutex_unlock(&vol->lock);
	if (fresh) {
		data_inode_free(vol, fresh);
		cache_inode_free(fresh);
		lock_inode_free(fresh);
		free(fresh);
	}
	if (!in) {
		vol->ops->put(vol->be, obj);
		return podfs_set_error(vol, ENOMEM, "out of memory");
	}
	/* a reply older than a write of ours that landed since would hand
	 * the caller a size the file had before: ask again */
	if (cache_attr_set(vol, in, st, since) < 0 &&
	    !dispatch_getattr(vol, in, NULL, true, &now, NULL))
		st = &now;
	if (out)
		entry_fill(vol, in, st, out);
	if (inp)
		*inp = in;
	return 0;
}

struct podfs_inode *inode_ref_key(struct podfs_volume *vol, uint64_t key)
{
	struct podfs_inode *in;

	pthread_mutex_lock(&vol->lock);
	in = table_find_key(&vol->table, key);
	if (in)
		in->nlookup++;
	pthread_mutex_unlock(&vol->lock);
	return in;
}

void inode_set_name(struct podfs_inode *in, uint64_t parent, const char *name)
{
	pthread_mutex_lock(&in->lock);
	if (in->parent != parent || !in->name || strcmp(in->name, name)) {
		char *copy = strdup(name);

		free(in->name);
		in->name = copy;
		in->parent = copy ? parent : 0;
	}
	pthread_mutex_unlock(&in->lock);
}

void inode_drop_name(struct podfs_inode *in, uint64_t parent, const char *name)
{
	pthread_mutex_lock(&in->lock);
	if (in->parent == parent && in->name && !strcmp(in->name, name)) {
		free(in->name);
		in->name = NULL;
		in->parent = 0;
	}
	pthread_mutex_unlock(&in->lock);
}

uint64_t inode_name(struct podfs_inode *in, char *name)
{
	uint64_t parent;

	pthread_mutex_lock(&in->lock);
	parent = in->parent;
	if (parent)
		snprintf(name, 256, "%s", in->name);
	pthread_mutex_unlock(&in->lock);
	return parent;
}
