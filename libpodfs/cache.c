/*
 * The client cache kept in each inode: attributes with the NFS client's
 * timing rules, and a directory's names (positive and negative entries).
 * An inode's cache state is guarded by its own lock, never taken with
 * vol->lock held the other way round (vol->lock first, when both).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

#define NSEC 1000000000ULL
/* A directory keeps at most this many names; past it they all go (a
 * program probing random names must not grow the daemon without end). */
#define DENTRY_MAX 65536

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static void count(uint64_t *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

/* The backend answers from a coherent cache of its own (CephFS): the core
 * keeps none over it, only the timeouts it hands the caller. */
static bool core_caches(const struct podfs_volume *vol)
{
	return !vol->be->caches;
}

void cache_inode_init(struct podfs_inode *in)
{
	pthread_mutex_init(&in->lock, NULL);
}

static void dentries_clear(struct podfs_inode *dir)
{
	for (uint32_t i = 0; i < dir->dentry_buckets; i++) {
		struct cache_dentry *d = dir->dentries[i], *next;

		for (; d; d = next) {
			next = d->next;
			free(d);
		}
		dir->dentries[i] = NULL;
	}
	dir->ndentries = 0;
}

void cache_inode_free(struct podfs_inode *in)
{
	dentries_clear(in);
	free(in->dentries);
	pthread_mutex_destroy(&in->lock);
}

/* ---- attributes ------------------------------------------------------------ */

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Did the object change between two sets of its attributes? What the
 * Linux client checks (nfs_update_inode): size, mtime, ctime. */
static bool attr_changed(const struct stat *a, const struct stat *b)
{
	return a->st_size != b->st_size || !same_time(&a->st_mtim, &b->st_mtim) ||
	       !same_time(&a->st_ctim, &b->st_ctim) ||
	       a->st_mode != b->st_mode;
}

static void ac_bounds(const struct podfs_config *cfg, mode_t mode,
		      uint64_t *min, uint64_t *max)
{
	bool dir = S_ISDIR(mode);

	*min = (uint64_t)(dir ? cfg->acdirmin : cfg->acregmin) * NSEC;
	*max = (uint64_t)(dir ? cfg->acdirmax : cfg->acregmax) * NSEC;
	if (*max < *min)
		*max = *min;
}

/* One order for all inodes: a request's SINCE is compared with news of
 * any inode, so one counter serves them all. */
static uint64_t attr_news;

uint64_t cache_attr_since(void)
{
	return __atomic_add_fetch(&attr_news, 1, __ATOMIC_RELAXED);
}

/* cache_attr_set, IN's lock held. */
static int attr_store(struct podfs_volume *vol, struct podfs_inode *in,
		      const struct stat *st, uint64_t since)
{
	struct cache_attr *a = &in->attr;
	uint64_t now = now_ns(), min, max;
	bool known, changed, foreign;

	ac_bounds(&vol->cfg, st->st_mode, &min, &max);
	/* sent before our own write landed, or before a newer reply was
	 * stored: it may say a size the file had before */
	if (since < a->gen)
		return -1;
	a->gen = since;
	known = a->read_at != 0;
	changed = !known || attr_changed(&a->st, st);
	/* what moved since our own change is that change: not news */
	foreign = changed && !(known && a->own);
	a->own = false;
	/* As the Linux client: a change brings the timeout down to the
	 * minimum; attributes found unchanged after a whole timeout double
	 * it, up to the maximum. So what changes often is asked often. */
	if (changed) {
		a->timeo = min;
		a->timeo_at = now;
	} else if (now - a->timeo_at >= a->timeo) {
		a->timeo = a->timeo * 2 > max ? max : a->timeo * 2;
		if (a->timeo < min)
			a->timeo = min;
		a->timeo_at = now;
	}
	/* the directory changed elsewhere: its names may be gone */
	if (known && foreign && S_ISDIR(st->st_mode))
		in->dentry_gen++;
	/* the file did: its cached data goes at the next open, whichever
	 * request saw the change first */
	if (known && foreign && S_ISREG(st->st_mode))
		a->data_stale = true;
	a->st = *st;
	a->read_at = now;
	a->names_until = now + a->timeo;
	a->valid = true;
	if (S_ISREG(st->st_mode))
		data_server_size(in, st->st_size);
	return foreign;
}

int cache_attr_set(struct podfs_volume *vol, struct podfs_inode *in,
		   const struct stat *st, uint64_t since)
{
	int ret;

	pthread_mutex_lock(&in->lock);
	ret = attr_store(vol, in, st, since);
	pthread_mutex_unlock(&in->lock);
	return ret;
}

/* A GETATTR sent after the SETATTR and answered before it (on another
 * connection, say) is newer by SINCE and older in truth: fsx saw a
 * truncated file keep its size before, when a release's GETATTR crossed
 * an ftruncate. */
void cache_attr_set_changed(struct podfs_volume *vol, struct podfs_inode *in,
			    const struct stat *st, uint64_t since)
{
	pthread_mutex_lock(&in->lock);
	in->attr.own = true; /* what it shows changed is our change */
	if (attr_store(vol, in, st, since) < 0)
		cache_attr_drop_locked(in);
	else
		in->attr.gen = cache_attr_since();
	pthread_mutex_unlock(&in->lock);
}

bool cache_attr_get(struct podfs_volume *vol, struct podfs_inode *in,
		    struct stat *st)
{
	struct cache_attr *a = &in->attr;
	bool hit;

	if (!core_caches(vol))
		return false;
	pthread_mutex_lock(&in->lock);
	hit = a->valid && now_ns() - a->read_at < a->timeo;
	if (hit)
		*st = a->st;
	pthread_mutex_unlock(&in->lock);
	count(hit ? &vol->counters.attr_hits : &vol->counters.attr_misses);
	return hit;
}

void cache_attr_drop_locked(struct podfs_inode *in)
{
	in->attr.valid = false;
	in->attr.own = true;
	/* our own change: what changes is asked for often */
	in->attr.timeo = 0;
	/* replies to requests already sent may not show it */
	in->attr.gen = cache_attr_since();
}

void cache_attr_foreign(struct podfs_inode *in)
{
	pthread_mutex_lock(&in->lock);
	in->attr.valid = false;
	in->attr.own = false;
	in->attr.data_stale = true;
	in->attr.timeo = 0;
	in->attr.names_until = 0;
	in->attr.gen = cache_attr_since();
	in->dentry_gen++;
	pthread_mutex_unlock(&in->lock);
}

bool cache_attr_take_stale(struct podfs_inode *in)
{
	bool stale;

	pthread_mutex_lock(&in->lock);
	stale = in->attr.data_stale;
	in->attr.data_stale = false;
	pthread_mutex_unlock(&in->lock);
	return stale;
}

bool cache_attr_own(struct podfs_inode *in)
{
	bool own;

	pthread_mutex_lock(&in->lock);
	own = in->attr.own;
	pthread_mutex_unlock(&in->lock);
	return own;
}

void cache_attr_drop(struct podfs_inode *in)
{
	pthread_mutex_lock(&in->lock);
	cache_attr_drop_locked(in);
	pthread_mutex_unlock(&in->lock);
}

double cache_attr_ttl(struct podfs_volume *vol, struct podfs_inode *in)
{
	struct cache_attr *a = &in->attr;
	uint64_t now = now_ns(), left = 0;

	(void)vol;
	pthread_mutex_lock(&in->lock);
	if (a->valid && now - a->read_at < a->timeo)
		left = a->read_at + a->timeo - now;
	pthread_mutex_unlock(&in->lock);
	return (double)left / NSEC;
}

/* ---- names ------------------------------------------------------------------ */

static uint32_t name_hash(const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

static struct cache_dentry **dentry_slot(struct podfs_inode *dir,
					 const char *name)
{
	struct cache_dentry **pp;

	if (!dir->dentry_buckets)
		return NULL;
	pp = &dir->dentries[name_hash(name) & (dir->dentry_buckets - 1)];
	while (*pp && strcmp((*pp)->name, name))
		pp = &(*pp)->next;
	return pp;
}

/* Names are cached while the directory's attributes were fresh when
 * last read, and not changed by another client since (cache_attr_set
 * drops them then); our own changes keep them, as we set the names we
 * change. */
static bool dir_fresh(struct podfs_inode *dir)
{
	return now_ns() < dir->attr.names_until;
}

static int dentry_find(struct podfs_volume *vol, struct podfs_inode *dir,
		       const char *name, uint64_t *key, bool fresh)
{
	struct cache_dentry **pp;
	int found = 0;

	if (!core_caches(vol) || vol->cfg.lookupcache == PODFS_LOOKUPCACHE_NONE)
		return 0;
	pthread_mutex_lock(&dir->lock);
	if (!fresh || dir_fresh(dir)) {
		pp = dentry_slot(dir, name);
		if (pp && *pp && (!fresh || (*pp)->gen == dir->dentry_gen) &&
		    ((*pp)->key || vol->cfg.lookupcache == PODFS_LOOKUPCACHE_ALL)) {
			*key = (*pp)->key;
			found = 1;
		}
	}
	pthread_mutex_unlock(&dir->lock);
	return found;
}

int cache_dentry_get(struct podfs_volume *vol, struct podfs_inode *dir,
		     const char *name, uint64_t *key)
{
	int found = dentry_find(vol, dir, name, key, true);

	/* no cache of names (CephFS, lookupcache=none): nothing to count */
	if (core_caches(vol) && vol->cfg.lookupcache != PODFS_LOOKUPCACHE_NONE)
		count(found ? &vol->counters.entry_hits
			    : &vol->counters.entry_misses);
	return found;
}

int cache_dentry_peek(struct podfs_volume *vol, struct podfs_inode *dir,
		      const char *name, uint64_t *key)
{
	return dentry_find(vol, dir, name, key, false);
}

static bool dentries_grow(struct podfs_inode *dir)
{
	uint32_t n = dir->dentry_buckets ? dir->dentry_buckets * 2 : 16;
	struct cache_dentry **b = calloc(n, sizeof(*b));

	if (!b)
		return false;
	for (uint32_t i = 0; i < dir->dentry_buckets; i++) {
		struct cache_dentry *d = dir->dentries[i], *next;

		for (; d; d = next) {
			next = d->next;
			d->next = b[name_hash(d->name) & (n - 1)];
			b[name_hash(d->name) & (n - 1)] = d;
		}
	}
	free(dir->dentries);
	dir->dentries = b;
	dir->dentry_buckets = n;
	return true;
}

void cache_dentry_set(struct podfs_volume *vol, struct podfs_inode *dir,
		      const char *name, uint64_t key)
{
	struct cache_dentry **pp, *d;
	size_t len = strlen(name);

	if (!core_caches(vol) || vol->cfg.lookupcache == PODFS_LOOKUPCACHE_NONE)
		return;
	/* kept even while the directory's attributes are stale: the server
	 * just said it, and a change it missed shows when they are asked
	 * again (and drops it) */
	pthread_mutex_lock(&dir->lock);
	if (dir->ndentries >= DENTRY_MAX)
		dentries_clear(dir);
	if (dir->ndentries >= dir->dentry_buckets && !dentries_grow(dir) &&
	    !dir->dentry_buckets)
		goto out;
	pp = dentry_slot(dir, name);
	if (*pp) {
		(*pp)->key = key;
		(*pp)->gen = dir->dentry_gen;
		goto out;
	}
	d = malloc(sizeof(*d) + len + 1);
	if (!d)
		goto out;
	d->key = key;
	d->gen = dir->dentry_gen;
	memcpy(d->name, name, len + 1);
	d->next = NULL;
	*pp = d;
	dir->ndentries++;
out:
	pthread_mutex_unlock(&dir->lock);
}

void cache_dentry_drop(struct podfs_inode *dir, const char *name)
{
	struct cache_dentry **pp, *d;

	pthread_mutex_lock(&dir->lock);
	pp = dentry_slot(dir, name);
	if (pp && *pp) {
		d = *pp;
		*pp = d->next;
		free(d);
		dir->ndentries--;
	}
	pthread_mutex_unlock(&dir->lock);
}

void cache_dentry_drop_all(struct podfs_inode *dir)
{
	pthread_mutex_lock(&dir->lock);
	dentries_clear(dir);
	pthread_mutex_unlock(&dir->lock);
}

double cache_dentry_ttl(struct podfs_volume *vol, struct podfs_inode *dir,
			mode_t mode)
{
	uint64_t now, left;

	if (vol->cfg.lookupcache == PODFS_LOOKUPCACHE_NONE)
		return 0;
	/* Close-to-open over a backend that checks no name at open (it
	 * caches, coherently, on its own): a file replaced by a rename
	 * elsewhere shows only if every open looks its name up again. */
	if (vol->be->caches && vol->cfg.cto && !S_ISDIR(mode))
		return 0;
	if (!core_caches(vol))
		return cache_attr_ttl(vol, dir);
	pthread_mutex_lock(&dir->lock);
	now = now_ns();
	left = dir_fresh(dir) ? dir->attr.names_until - now : 0;
	pthread_mutex_unlock(&dir->lock);
	return (double)left / NSEC;
}
