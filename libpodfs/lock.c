/*
 * Locks: POSIX byte-range locks and flock, held on the server through the
 * backend's lock op, so they exclude other clients too (the role of
 * nfs-ganesha's state layer, SAL, on the client side). Here: which owners
 * hold locks on an inode (a close drops a process's POSIX locks; a
 * release drops its file's flock and whatever the backend must not close
 * over), and waiting for a lock (the backend never waits: the core tries
 * again, at once after an unlock here, else after a growing pause, as
 * the Linux NFS client polls), and the cache's part: a lock
 * taken revalidates the file, an unlock sends what was written first.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/file.h>
#include <time.h>

#include "core.h"

/* An owner that took a lock on the inode through FILE. */
struct lock_hold {
	struct lock_hold *next;
	struct podfs_file *file;
	uint64_t owner; /* the backend's */
};

/* Pauses between tries while another client holds the lock: from
 * WAIT_MIN_MS, doubling, at most WAIT_MAX_MS (an unlock on this volume
 * wakes the waiters at once). */
#define WAIT_MIN_MS 2
#define WAIT_MAX_MS 100

/* POSIX owners and flock owners are separate spaces; the backend sees
 * one: the top bit tells them apart (FUSE's owners are hashes). */
#define FLOCK_OWNER (1ULL << 63)

static uint64_t posix_owner(uint64_t owner)
{
	return owner & ~FLOCK_OWNER;
}

static uint64_t flock_owner(const struct podfs_file *f)
{
	return FLOCK_OWNER | (uint64_t)(uintptr_t)f;
}

void lock_inode_init(struct podfs_inode *in)
{
	pthread_cond_init(&in->lkcond, NULL);
}

void lock_inode_free(struct podfs_inode *in)
{
	struct lock_hold *h, *next;

	for (h = in->holds; h; h = next) {
		next = h->next;
		free(h);
	}
	in->holds = NULL;
	pthread_cond_destroy(&in->lkcond);
}

/* ---- who holds what (inode lock held) ---------------------------------------- */

static struct lock_hold **hold_find(struct podfs_inode *in, uint64_t owner)
{
	struct lock_hold **pp;

	for (pp = &in->holds; *pp; pp = &(*pp)->next)
		if ((*pp)->owner == owner)
			return pp;
	return NULL;
}

static int hold_add(struct podfs_inode *in, struct podfs_file *f,
		    uint64_t owner)
{
	struct lock_hold *h;

	if (hold_find(in, owner))
		return 0;
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	*h = (struct lock_hold){ .next = in->holds, .file = f, .owner = owner };
	in->holds = h;
	return 0;
}

static void hold_drop(struct podfs_inode *in, uint64_t owner)
{
	struct lock_hold **pp = hold_find(in, owner), *h;

	if (pp) {
		h = *pp;
		*pp = h->next;
		free(h);
	}
}

/* ---- the cache's part ---------------------------------------------------------- */

/* A lock was taken: what this client cached of the file may be another
 * client's old data (the lock guarded its writes). The attributes are
 * asked again, and a change drops the cached data. The caller's cache
 * (the kernel's, through FUSE) drops its attributes, which may be older
 * than ours (an append would go at an old end), and the data too unless
 * the file is known unchanged: a coherent backend's news of a change may
 * still be on its way when the lock comes. */
static void lock_revalidate(struct podfs_volume *vol, struct podfs_file *f)
{
	struct podfs_inode *in = f->inode;
	bool changed = true;
	struct stat st;

	if (vol->cfg.cache_mode != PODFS_CACHE_NONE && !vol->be->coherent) {
		changed = false;
		if (dispatch_getattr(vol, in, f->bf, true, &st, &changed))
			changed = true;
		if (cache_attr_take_stale(in))
			changed = true;
		if (changed)
			data_invalidate(vol, in);
	}
	if (vol->inval_fn)
		vol->inval_fn(vol->inval_arg, in->ino, changed ? 0 : -1, 0);
}

/* An unlock is coming: what was written goes to the server first, so
 * the next holder reads it. */
static int lock_flush(struct podfs_volume *vol, struct podfs_file *f)
{
	int ret = 0;

	if (f->cached && data_unsettled(f->inode))
		ret = data_flush(vol, f->inode, NULL);
	return ret;
}

/* ---- taking, waiting, giving back ------------------------------------------- */

/* Unlocks LK's range for backend owner OWNER and wakes the waiters. */
static int unlock_range(struct podfs_volume *vol, struct podfs_file *f,
			uint64_t owner, const struct flock *lk)
{
	struct podfs_inode *in = f->inode;
	struct flock l = *lk;
	int ret, err;

	l.l_type = F_UNLCK;
	err = lock_flush(vol, f);
	ret = dispatch_lock(vol, f, owner, F_SETLK, &l);
	pthread_mutex_lock(&in->lock);
	in->unlocks++;
	pthread_cond_broadcast(&in->lkcond);
	pthread_mutex_unlock(&in->lock);
	/* the lock is gone either way; a write-back error is still news */
	return ret ? ret : err;
}

/* Whether a wait for a lock ends: the waiter was interrupted, or the
 * volume shuts down. */
static bool wait_ends(struct podfs_volume *vol,
		      const struct podfs_lock_wait *wait)
{
	return atomic_load(&vol->shut_down) ||
	       (wait->interrupted && wait->interrupted(wait->arg));
}

/* Takes LK (not F_UNLCK) for backend owner OWNER, waiting as WAIT says
 * (NULL: not at all). */
static int lock_take(struct podfs_volume *vol, struct podfs_file *f,
		     uint64_t owner, const struct flock *lk,
		     const struct podfs_lock_wait *wait)
{
	struct podfs_inode *in = f->inode;
	long pause = WAIT_MIN_MS;
	uint32_t seen;
	int ret;

	for (;;) {
		struct flock l = *lk;
		bool stop;

		pthread_mutex_lock(&in->lock);
		seen = in->unlocks;
		pthread_mutex_unlock(&in->lock);
		ret = dispatch_lock(vol, f, owner, F_SETLK, &l);
		if (ret != -EAGAIN || !wait)
			break;
		/* asked under the lock podfs_lock_cancel wakes us under */
		pthread_mutex_lock(&in->lock);
		stop = wait_ends(vol, wait);
		if (!stop && in->unlocks == seen) {
			struct timespec ts;

			deadline_in(&ts, (uint64_t)pause * 1000000);
			pthread_cond_timedwait(&in->lkcond, &in->lock, &ts);
			stop = wait_ends(vol, wait);
		}
		if (in->unlocks != seen)
			pause = WAIT_MIN_MS; /* freed here: try at once */
		else if ((pause *= 2) > WAIT_MAX_MS)
			pause = WAIT_MAX_MS;
		pthread_mutex_unlock(&in->lock);
		if (stop) {
			ret = podfs_set_error(vol, EINTR, "waiting for a lock: %s",
					      atomic_load(&vol->shut_down) ?
						      "the volume shuts down" :
						      "interrupted");
			break;
		}
	}
	if (ret)
		return ret;
	pthread_mutex_lock(&in->lock);
	ret = hold_add(in, f, owner);
	pthread_mutex_unlock(&in->lock);
	if (ret) {
		/* not recorded, so not to be left held */
		unlock_range(vol, f, owner, lk);
		return podfs_set_error(vol, ENOMEM, "out of memory");
	}
	lock_revalidate(vol, f);
	return 0;
}

PODFS_EXPORT int podfs_locks(podfs_volume *vol)
{
	int kinds = 0;

	if (!vol->be || !vol->ops->lock || !vol->be->locks)
		return 0;
	if (!(vol->cfg.local_lock & PODFS_LOCAL_POSIX))
		kinds |= PODFS_LOCKS_POSIX;
	if (!(vol->cfg.local_lock & PODFS_LOCAL_FLOCK))
		kinds |= PODFS_LOCKS_FLOCK;
	return kinds;
}

/* -ENOLCK unless the volume holds locks of KIND on the server. */
static int check_remote(struct podfs_volume *vol, int kind)
{
	if (podfs_locks(vol) & kind)
		return 0;
	if (!vol->ops->lock || !vol->be->locks)
		return podfs_set_error(vol, ENOLCK, "%s: this %s volume holds "
				       "no locks on the server",
				       vol->cfg.source, vol->ops->name);
	return podfs_set_error(vol, ENOLCK, "%s: %s locks are kept on the "
			       "client (local_lock=)", vol->cfg.source,
			       kind == PODFS_LOCKS_POSIX ? "POSIX" : "flock");
}

/* Checks a POSIX lock request (fcntl's rules, SEEK_SET only). */
static int check_flock(struct podfs_volume *vol, const struct flock *lk,
		       bool get)
{
	int ret = check_remote(vol, PODFS_LOCKS_POSIX);

	if (ret)
		return ret;
	if (lk->l_type != F_RDLCK && lk->l_type != F_WRLCK &&
	    (get || lk->l_type != F_UNLCK))
		return podfs_set_error(vol, EINVAL, "lock type %d: expected "
				       "F_RDLCK, F_WRLCK%s", lk->l_type,
				       get ? "" : " or F_UNLCK");
	if (lk->l_whence != SEEK_SET)
		return podfs_set_error(vol, EINVAL, "lock whence %d: only "
				       "SEEK_SET", lk->l_whence);
	if (lk->l_start < 0 || lk->l_len < 0)
		return podfs_set_error(vol, EINVAL, "lock range %lld+%lld: "
				       "negative", (long long)lk->l_start,
				       (long long)lk->l_len);
	return 0;
}

PODFS_EXPORT int podfs_getlk(podfs_volume *vol, podfs_file *f, uint64_t owner,
			     struct flock *lk)
{
	int ret;

	error_begin();
	ret = check_flock(vol, lk, true);
	if (!ret)
		ret = dispatch_lock(vol, f, posix_owner(owner), F_GETLK, lk);
	return ret;
}

PODFS_EXPORT int podfs_setlk(podfs_volume *vol, podfs_file *f, uint64_t owner,
			     const struct flock *lk,
			     const struct podfs_lock_wait *wait)
{
	int ret;

	error_begin();
	ret = check_flock(vol, lk, false);
	if (ret)
		return ret;
	if ((lk->l_type == F_WRLCK && (f->flags & O_ACCMODE) == O_RDONLY) ||
	    (lk->l_type == F_RDLCK && (f->flags & O_ACCMODE) == O_WRONLY))
		return podfs_set_error(vol, EBADF, "a %s lock needs the file "
				       "open for %s",
				       lk->l_type == F_WRLCK ? "write" : "read",
				       lk->l_type == F_WRLCK ? "writing"
							     : "reading");
	if (lk->l_type == F_UNLCK)
		return unlock_range(vol, f, posix_owner(owner), lk);
	return lock_take(vol, f, posix_owner(owner), lk, wait);
}

/* Drops backend owner OWNER's locks on F's inode, if it took any. */
static int unlock_all(struct podfs_volume *vol, struct podfs_file *f,
		      uint64_t owner)
{
	static const struct flock all = { .l_type = F_UNLCK,
					  .l_whence = SEEK_SET };
	struct podfs_inode *in = f->inode;
	bool held;

	pthread_mutex_lock(&in->lock);
	held = hold_find(in, owner) != NULL;
	hold_drop(in, owner);
	pthread_mutex_unlock(&in->lock);
	return held ? unlock_range(vol, f, owner, &all) : 0;
}

PODFS_EXPORT int podfs_unlock_owner(podfs_volume *vol, podfs_file *f,
				    uint64_t owner)
{
	error_begin();
	if (!(podfs_locks(vol) & PODFS_LOCKS_POSIX))
		return 0; /* none taken here */
	return unlock_all(vol, f, posix_owner(owner));
}

PODFS_EXPORT int podfs_flock(podfs_volume *vol, podfs_file *f, int op,
			     const struct podfs_lock_wait *wait)
{
	static const struct flock whole = { .l_whence = SEEK_SET };
	struct flock lk = whole;
	int ret;

	error_begin();
	ret = check_remote(vol, PODFS_LOCKS_FLOCK);
	if (ret)
		return ret;
	switch (op & ~LOCK_NB) {
	case LOCK_UN:
		ret = unlock_all(vol, f, flock_owner(f));
		pthread_mutex_lock(&f->inode->lock);
		f->flocked = false;
		pthread_mutex_unlock(&f->inode->lock);
		return ret;
	case LOCK_SH:
		lk.l_type = F_RDLCK;
		break;
	case LOCK_EX:
		lk.l_type = F_WRLCK;
		break;
	default:
		return podfs_set_error(vol, EINVAL, "flock operation %d: "
				       "expected LOCK_SH, LOCK_EX or LOCK_UN",
				       op);
	}
	/* flock(2) takes either lock on any open file; a backend whose
	 * server ties locks to the open's access may refuse (NFSv4, as
	 * the Linux NFS client: -EBADF) */
	ret = lock_take(vol, f, flock_owner(f), &lk, op & LOCK_NB ? NULL : wait);
	if (!ret) {
		pthread_mutex_lock(&f->inode->lock);
		f->flocked = true;
		pthread_mutex_unlock(&f->inode->lock);
	}
	return ret;
}

PODFS_EXPORT void podfs_lock_cancel(podfs_volume *vol, podfs_file *f)
{
	struct podfs_inode *in = f->inode;

	(void)vol;
	pthread_mutex_lock(&in->lock);
	pthread_cond_broadcast(&in->lkcond);
	pthread_mutex_unlock(&in->lock);
}

/* F closes: its flock goes, and so do the locks of owners that took
 * theirs through it (a backend's lock state may hang off the open). */
int lock_release(struct podfs_volume *vol, struct podfs_file *f)
{
	struct podfs_inode *in = f->inode;
	int err = 0;

	for (;;) {
		struct lock_hold *h;
		uint64_t owner = 0;
		bool found = false;
		int ret;

		pthread_mutex_lock(&in->lock);
		for (h = in->holds; h; h = h->next)
			if (h->file == f) {
				owner = h->owner;
				found = true;
				break;
			}
		pthread_mutex_unlock(&in->lock);
		if (!found)
			break;
		ret = unlock_all(vol, f, owner);
		if (ret && !err)
			err = ret;
	}
	f->flocked = false;
	return err;
}
