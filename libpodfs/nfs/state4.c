/*
 * The NFSv4.0 state podfs owns: one client id per volume (a name unique
 * to the volume, libuuid), kept alive by RENEW and set up again when the
 * server forgot it; open owners with their seqids; one open state per
 * object, shared by the files open on it, made again (reclaimed in the
 * server's grace period) after the client was set up again. The lock
 * layer adds lock owners and LOCK/LOCKT/LOCKU beside the opens.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "nfs4.h"

uint64_t nfs4_clientid(struct nfs_be *nb)
{
	return atomic_load(&nb->client.clientid);
}

/* A new client id for the volume (lock held). */
static int client_setup(struct nfs_be *nb)
{
	struct nfs4_client *cl = &nb->client;
	uint64_t id;
	uuid_t u;
	int ret;

	/* A new verifier: the server takes us for a rebooted client and
	 * drops whatever it still held for the old one. */
	int64_t t0 = nfs_mono_ms();

	uuid_generate(u);
	memcpy(cl->verifier, u, sizeof(cl->verifier));
	ret = nfs4_setclientid(nb, cl->name, cl->verifier, &id);
	if (ret)
		return ret;
	atomic_store(&cl->clientid, id);
	atomic_store(&nb->renewed_ms, t0);
	/* set up again (a server restart, a lease lost): the renewer
	 * reclaims the locks held, while the server's grace period lasts */
	if (atomic_fetch_add(&cl->gen, 1) > 0 && cl->renewer_started) {
		cl->reclaim = true;
		pthread_cond_signal(&cl->stop);
	}
	return 0;
}

int nfs4_client_recover(struct nfs_be *nb, unsigned int seen_gen)
{
	struct nfs4_client *cl = &nb->client;
	int ret = 0;

	pthread_mutex_lock(&cl->lock);
	if (atomic_load(&cl->gen) == seen_gen)
		ret = client_setup(nb);
	pthread_mutex_unlock(&cl->lock);
	return ret;
}

static void nfs4_reclaim_locks(struct nfs_be *nb);
static void ranges_clear(struct nfs_be *nb, struct nfs_obj *o,
			 struct nfs4_lock *l);

/* One RENEW. Answered promptly (within PROMPT ms), it renews the lease
 * from when it was sent; a RENEW that waited out a network cut renews
 * nothing the fence can count on, but the server has answered: as the
 * same client (it kept our state, the locks are ours still) the doubt
 * ends; as a new one the locks are reclaimed, or lost, first. */
static void renew(struct nfs_be *nb, long prompt)
{
	struct nfs4_client *cl = &nb->client;
	int64_t t0 = nfs_mono_ms();

	if (nfs4_renew(nb))
		return;
	if (nfs_mono_ms() - t0 < prompt)
		atomic_store(&nb->renewed_ms, t0);
	if (atomic_load(&cl->gen) == atomic_load(&nb->fence_gen))
		atomic_store(&nb->lease_doubt, false);
}

/* Keeps the lease: a RENEW every third of it (the server's other traffic
 * would do too, but an idle mount has none); and, when the client was set
 * up again, reclaims the locks held (the role of the Linux client's state
 * manager thread). */
static void *renewer(void *arg)
{
	struct nfs_be *nb = arg;
	struct nfs4_client *cl = &nb->client;
	struct timespec at;
	long ms = (long)cl->lease_s * 1000 / 3;

	if (ms < 1000)
		ms = 1000;
	pthread_mutex_lock(&cl->lock);
	while (!atomic_load(&nb->closing)) {
		if (cl->reclaim) {
			cl->reclaim = false;
			pthread_mutex_unlock(&cl->lock);
			nfs4_reclaim_locks(nb);
			/* what the fence held back is decided: reclaimed, or
			 * lost (and told as lost) */
			atomic_store(&nb->lease_doubt, false);
			pthread_mutex_lock(&cl->lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += ms / 1000;
		at.tv_nsec += (ms % 1000) * 1000000;
		if (at.tv_nsec >= 1000000000) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&cl->stop, &cl->lock, &at) !=
		    ETIMEDOUT)
			continue;
		pthread_mutex_unlock(&cl->lock);
		/* an expired or forgotten client is set up again on the
		 * way (nfs_run); a failure is retried next time */
		renew(nb, ms * 3 / 2);
		pthread_mutex_lock(&cl->lock);
	}
	pthread_mutex_unlock(&cl->lock);
	return NULL;
}

int nfs4_client_start(struct nfs_be *nb)
{
	struct nfs4_client *cl = &nb->client;
	pthread_condattr_t a;
	char uuid[37];
	uuid_t u;
	int ret;

	/* Two volumes with one name would be one client to the server,
	 * sharing (and breaking) each other's state. */
	uuid_generate(u);
	uuid_unparse_lower(u, uuid);
	snprintf(cl->name, sizeof(cl->name), "podfs-%s", uuid);
	pthread_mutex_lock(&cl->lock);
	ret = client_setup(nb);
	pthread_mutex_unlock(&cl->lock);
	if (ret)
		return ret;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&cl->stop, &a);
	pthread_condattr_destroy(&a);
	if (pthread_create(&cl->renewer, NULL, renewer, nb))
		return nfs_fail(nb, EAGAIN, "cannot start a thread");
	cl->renewer_started = true;
	return 0;
}

/* Stops the renewer (the volume is closing: a RENEW in flight ends). */
void nfs4_client_stop(struct nfs_be *nb)
{
	struct nfs4_client *cl = &nb->client;
	struct nfs4_owner *ow, *next;

	if (cl->renewer_started) {
		pthread_mutex_lock(&cl->lock);
		pthread_cond_signal(&cl->stop);
		pthread_mutex_unlock(&cl->lock);
		pthread_join(cl->renewer, NULL);
		cl->renewer_started = false;
		pthread_cond_destroy(&cl->stop);
	}
	for (ow = cl->free_owners; ow; ow = next) {
		next = ow->next;
		free(ow);
	}
	cl->free_owners = NULL;
}

/* ---- open owners ---------------------------------------------------------- */

/*
 * An owner for one object's open state, used by it alone until its
 * CLOSE: no two objects wait for each other's seqids. Owners are kept
 * for the next open, so that each is confirmed (OPEN_CONFIRM) once.
 */
static struct nfs4_owner *owner_get(struct nfs_be *nb)
{
	struct nfs4_client *cl = &nb->client;
	struct nfs4_owner *ow;

	pthread_mutex_lock(&cl->owners_lock);
	ow = cl->free_owners;
	if (ow)
		cl->free_owners = ow->next;
	pthread_mutex_unlock(&cl->owners_lock);
	if (!ow) {
		ow = calloc(1, sizeof(*ow));
		if (!ow)
			return NULL;
		ow->id = atomic_fetch_add(&cl->next_owner, 1);
		snprintf(ow->name, sizeof(ow->name), "podfs-owner-%u", ow->id);
	}
	return ow;
}

static void owner_put(struct nfs_be *nb, struct nfs4_owner *ow)
{
	struct nfs4_client *cl = &nb->client;

	pthread_mutex_lock(&cl->owners_lock);
	ow->next = cl->free_owners;
	cl->free_owners = ow;
	pthread_mutex_unlock(&cl->owners_lock);
}

void nfs4_owner_stamp(struct nfs_be *nb, struct nfs4_owner *ow, nfs_argop4 *op)
{
	unsigned int gen = atomic_load(&nb->client.gen);

	/* A client set up anew knows none of our owners: start over, under
	 * a name it never saw (an owner's seqid is the server's too). */
	if (ow->client_gen != gen) {
		ow->client_gen = gen;
		ow->id = atomic_fetch_add(&nb->client.next_owner, 1);
		snprintf(ow->name, sizeof(ow->name), "podfs-owner-%u", ow->id);
		ow->seqid = 0;
		ow->confirmed = false;
	}
	switch (op->argop) {
	case OP_OPEN:
		op->nfs_argop4_u.opopen.seqid = ow->seqid;
		op->nfs_argop4_u.opopen.owner.clientid = nfs4_clientid(nb);
		op->nfs_argop4_u.opopen.owner.owner.owner_len =
			(u_int)strlen(ow->name);
		op->nfs_argop4_u.opopen.owner.owner.owner_val = ow->name;
		break;
	case OP_OPEN_CONFIRM:
		op->nfs_argop4_u.opopen_confirm.seqid = ow->seqid;
		break;
	case OP_CLOSE:
		op->nfs_argop4_u.opclose.seqid = ow->seqid;
		break;
	case OP_LOCK: /* a lock owner's first, from this open */
		op->nfs_argop4_u.oplock.locker.locker4_u.open_owner.open_seqid =
			ow->seqid;
		break;
	default:
		break;
	}
}

/* RFC 7530, 9.1.7: the seqid moves on with every answer but these. */
static bool seqid_moves(uint32_t status)
{
	switch (status) {
	case NFS4ERR_STALE_CLIENTID:
	case NFS4ERR_STALE_STATEID:
	case NFS4ERR_BAD_STATEID:
	case NFS4ERR_BAD_SEQID:
	case NFS4ERR_BADZDR:
	case NFS4ERR_RESOURCE:
	case NFS4ERR_NOFILEHANDLE:
	case NFS4ERR_MOVED:
		return false;
	default:
		return true;
	}
}

void nfs4_owner_answered(struct nfs_be *nb, struct nfs4_owner *ow,
			 uint32_t status)
{
	(void)nb;
	if (seqid_moves(status))
		ow->seqid++;
	else if (status == NFS4ERR_BAD_SEQID)
		ow->client_gen = 0; /* out of step: a new owner next time */
}

/* A CLOSE of OW's open is done: an owner whose last seqid went
 * unanswered is out of step with the server, and not used again. */
static void owner_closed(struct nfs_be *nb, struct nfs4_owner *ow,
			 bool answered)
{
	if (answered)
		owner_put(nb, ow);
	else
		free(ow);
}

/* ---- opens ------------------------------------------------------------------ */

static void locks_free(struct nfs_be *nb, struct nfs_obj *o,
		       struct nfs4_open *st);

stateid4 nfs4_stateid(struct nfs_obj *o)
{
	stateid4 sid;

	pthread_mutex_lock(&o->sid_lock);
	sid = o->sid;
	pthread_mutex_unlock(&o->sid_lock);
	return sid;
}

static void set_sid(struct nfs_obj *o, const stateid4 *sid)
{
	static const stateid4 anonymous;

	pthread_mutex_lock(&o->sid_lock);
	o->sid = sid ? *sid : anonymous;
	pthread_mutex_unlock(&o->sid_lock);
}

static uint32_t access_of(int flags)
{
	switch (flags & O_ACCMODE) {
	case O_WRONLY:
		return OPEN4_SHARE_ACCESS_WRITE;
	case O_RDWR:
		return OPEN4_SHARE_ACCESS_BOTH;
	default:
		return OPEN4_SHARE_ACCESS_READ;
	}
}

/* Confirms a new owner's first open (O's lock held). */
static int confirm(struct nfs_be *nb, struct nfs4_owner *ow,
		   struct nfs4_opened *op)
{
	int ret;

	if (!op->confirm)
		return 0;
	ret = nfs4_open_confirm(nb, ow, &op->fh, &op->stateid);
	if (!ret)
		ow->confirmed = true;
	return ret;
}

/*
 * Opens O for ACCESS under its state's owner (O's lock held): a reclaim
 * of an open the server lost in a restart, while its grace period lasts;
 * else by the name O was last seen under. With no usable name (the file
 * was renamed or removed by another client) the open is anonymous: I/O
 * with the special stateid, as RFC 7530 allows.
 */
/* Closes OP, which opened another object than asked, under a spare
 * owner: ST's own is busy until that CLOSE is answered. */
static void close_other(struct nfs_be *nb, struct nfs4_open *st,
			struct nfs4_opened *op)
{
	struct nfs4_owner *ow = st->owner;

	st->owner = owner_get(nb); /* NULL: the next open fails */
	nfs4_close_call(nb, ow, &op->fh, &op->stateid, owner_closed);
}

/* Whether NFSv4 handle V4 names the object of handle FH: the same bytes,
 * or (an NFSv3 mount's handle) those bytes padded with zeros to a
 * multiple of four, as ganesha pads its NFSv3 handles. */
static bool same_handle(const struct nfs_fh *v4, const struct nfs_fh *fh)
{
	if (v4->len == fh->len)
		return !memcmp(v4->data, fh->data, fh->len);
	if (v4->len > fh->len || (fh->len & 3) || fh->len - v4->len > 3 ||
	    memcmp(v4->data, fh->data, v4->len))
		return false;
	for (uint32_t i = v4->len; i < fh->len; i++)
		if (fh->data[i])
			return false;
	return true;
}

/* An OPEN of O by NAME in DIR: 0 with OP filled, -ENOENT when NAME is
 * gone or names another file now (O's lock held). */
static int open_by(struct nfs_be *nb, struct nfs_obj *o, uint32_t access,
		   const struct nfs_fh *dir, const char *name,
		   struct nfs4_opened *op)
{
	struct nfs4_open *st = o->open;
	int ret = nfs4_open_call(nb, st->owner, dir, name, access, -1, 0, NULL,
				 op, NULL);

	if (!ret && !same_handle(&op->fh, &o->fh)) {
		if (!confirm(nb, st->owner, op))
			close_other(nb, st, op);
		ret = -ENOENT;
	}
	return ret;
}

static int open_locked(struct nfs_be *nb, struct nfs_obj *o, uint32_t access,
		       struct nfs_open_by *by)
{
	struct nfs4_open *st = o->open;
	struct nfs4_opened op;
	struct nfs_fh dir;
	char *name = NULL;
	bool found = false;
	int ret = -ENOENT;

	if (!st->owner)
		return nfs_fail(nb, ENOMEM, "out of memory");
	/* an open of a client the server has forgotten: reclaim it */
	if (st->client_gen && !st->anonymous &&
	    st->client_gen != atomic_load(&nb->client.gen))
		ret = nfs4_open_call(nb, st->owner, &o->fh, NULL, access, -1, 0,
				     NULL, &op, NULL);
	/* the caller's name: the OPEN then checks it too */
	if (ret && by) {
		ret = open_by(nb, o, access, by->dir, by->name, &op);
		found = !ret;
		if (!ret)
			nfs_obj_hint(nb, o, by->dir, by->name);
		else if (ret == -ENOENT)
			nfs_obj_unhint(nb, o, by->dir, by->name);
	}
	/* else the name O was last seen under, forgotten if it is not */
	if (ret && (!by || ret == -ENOENT)) {
		pthread_mutex_lock(&nb->names);
		if (o->hint_name) {
			dir = o->hint_dir;
			name = strdup(o->hint_name);
		}
		pthread_mutex_unlock(&nb->names);
		ret = -ENOENT;
		if (name) {
			ret = open_by(nb, o, access, &dir, name, &op);
			if (ret == -ENOENT)
				nfs_obj_unhint(nb, o, &dir, name);
			free(name);
		}
	}
	if (ret == -ENOENT || ret == -ESTALE) {
		st->anonymous = true;
		st->access = OPEN4_SHARE_ACCESS_BOTH;
		st->client_gen = atomic_load(&nb->client.gen);
		set_sid(o, NULL);
		return 0;
	}
	if (!ret)
		ret = confirm(nb, st->owner, &op);
	if (ret)
		return ret;
	if (found) {
		by->found = true;
		by->st = op.st;
	}
	st->anonymous = false;
	st->access = access;
	st->client_gen = atomic_load(&nb->client.gen);
	set_sid(o, &op.stateid);
	return 0;
}

int nfs4_open(struct nfs_be *nb, struct nfs_obj *o, int flags,
	      struct nfs_open_by *by)
{
	uint32_t access = access_of(flags);
	struct nfs4_open *st;
	int ret = 0;

	pthread_mutex_lock(&o->lock);
	st = o->open;
	if (!st) {
		st = calloc(1, sizeof(*st));
		if (st)
			st->owner = owner_get(nb);
		if (!st || !st->owner) {
			free(st);
			pthread_mutex_unlock(&o->lock);
			return nfs_fail(nb, ENOMEM, "out of memory");
		}
		o->open = st;
	}
	if (!st->count || (st->access & access) != access ||
	    st->client_gen != atomic_load(&nb->client.gen))
		ret = open_locked(nb, o, access | (st->count ? st->access : 0),
				  by);
	if (!ret)
		st->count++;
	if (!st->count) {
		o->open = NULL;
		if (st->owner)
			owner_put(nb, st->owner);
		free(st);
	}
	pthread_mutex_unlock(&o->lock);
	return ret;
}

void nfs4_close(struct nfs_be *nb, struct nfs_obj *o)
{
	struct nfs4_open *st;
	stateid4 sid;

	pthread_mutex_lock(&o->lock);
	st = o->open;
	if (st && --st->count == 0) {
		sid = nfs4_stateid(o);
		if (st->owner && !st->anonymous &&
		    st->client_gen == atomic_load(&nb->client.gen))
			nfs4_close_call(nb, st->owner, &o->fh, &sid,
					owner_closed);
		else if (st->owner)
			owner_put(nb, st->owner);
		locks_free(nb, o, st);
		set_sid(o, NULL);
		o->open = NULL;
		free(st);
	}
	pthread_mutex_unlock(&o->lock);
}

/* ---- locks ------------------------------------------------------------------ */

/* L under a lock_owner4 name the server never saw, from seqid 0. */
static void lock_fresh(struct nfs_be *nb, struct nfs4_lock *l)
{
	snprintf(l->name, sizeof(l->name), "podfs-lock-%u",
		 atomic_fetch_add(&nb->client.next_owner, 1));
	l->seqid = 0;
	l->has_sid = false;
	l->client_gen = atomic_load(&nb->client.gen);
}

void nfs4_lock_stamp(struct nfs_be *nb, struct nfs4_lock *l, nfs_argop4 *op)
{
	if (op->argop == OP_LOCKU) {
		op->nfs_argop4_u.oplocku.seqid = l->seqid;
		return;
	}
	if (op->argop != OP_LOCK)
		return;
	if (op->nfs_argop4_u.oplock.locker.new_lock_owner) {
		open_to_lock_owner4 *o =
			&op->nfs_argop4_u.oplock.locker.locker4_u.open_owner;

		o->lock_seqid = l->seqid;
		o->lock_owner.clientid = nfs4_clientid(nb);
		o->lock_owner.owner.owner_len = (u_int)strlen(l->name);
		o->lock_owner.owner.owner_val = l->name;
	} else {
		op->nfs_argop4_u.oplock.locker.locker4_u.lock_owner.lock_seqid =
			l->seqid;
	}
}

void nfs4_lock_answered(struct nfs4_lock *l, uint32_t status)
{
	if (seqid_moves(status))
		l->seqid++;
}

/* The lock state of OWNER on ST (O's lock held); MAKE: a new one if it
 * has none. One the server forgot (a new client) starts over. */
static struct nfs4_lock *lock_state(struct nfs_be *nb, struct nfs4_open *st,
				    uint64_t owner, bool make)
{
	struct nfs4_lock *l;

	for (l = st->locks; l; l = l->next)
		if (l->owner == owner)
			break;
	if (l && l->client_gen != atomic_load(&nb->client.gen))
		lock_fresh(nb, l);
	if (!l && make) {
		l = calloc(1, sizeof(*l));
		if (!l)
			return NULL;
		l->owner = owner;
		lock_fresh(nb, l);
		l->next = st->locks;
		st->locks = l;
	}
	return l;
}

/* ST's lock states go with it (its files are closed: the core unlocked
 * what they held); the server may forget their owners. */
static void locks_free(struct nfs_be *nb, struct nfs_obj *o,
		       struct nfs4_open *st)
{
	struct nfs4_lock *l, *next;

	for (l = st->locks; l; l = next) {
		next = l->next;
		if (l->has_sid &&
		    l->client_gen == atomic_load(&nb->client.gen))
			nfs4_release_lockowner(nb, l->name);
		if (l->lost)
			atomic_fetch_sub(&o->locks_lost, 1);
		ranges_clear(nb, o, l);
		free(l);
	}
	st->locks = NULL;
}

/* FL's range as NFSv4 has it: length all ones is "to the end". */
static uint64_t lock_length(const struct flock *fl)
{
	return fl->l_len ? (uint64_t)fl->l_len : UINT64_MAX;
}

/* A conflicting lock, told as F_GETLK tells it. */
static void denied_flock(const struct nfs4_denied *d, struct flock *fl)
{
	fl->l_type = d->write ? F_WRLCK : F_RDLCK;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)d->offset;
	fl->l_len = d->length == UINT64_MAX || d->length > (uint64_t)INT64_MAX
			    ? 0
			    : (off_t)d->length;
	fl->l_pid = 0; /* on another client, or another owner here */
}

static bool state_lost(uint32_t status)
{
	switch (status) {
	case NFS4ERR_STALE_CLIENTID:
	case NFS4ERR_STALE_STATEID:
	case NFS4ERR_EXPIRED:
	case NFS4ERR_ADMIN_REVOKED:
	case NFS4ERR_BAD_STATEID:
	case NFS4ERR_OLD_STATEID:
		return true;
	default:
		return false;
	}
}

/* ---- what a lock owner holds: kept to reclaim it ---------------------------- */

static uint64_t range_end(uint64_t offset, uint64_t length)
{
	return length == UINT64_MAX || offset + length < offset
		       ? UINT64_MAX
		       : offset + length;
}

/* L's ranges without [START, END) (a range cut in the middle is split);
 * then, with ADD, [START, END) of type WRITE: POSIX's merge and split. */
/* L (of O) holds ranges now, or not, where it did (HAD) or not: the
 * counts the lease fence reads follow. */
static void held_moved(struct nfs_be *nb, struct nfs_obj *o,
		       const struct nfs4_lock *l, bool had)
{
	if (!had && l->nranges) {
		atomic_fetch_add(&o->held, 1);
		atomic_fetch_add(&nb->locks_held, 1);
	} else if (had && !l->nranges) {
		atomic_fetch_sub(&o->held, 1);
		atomic_fetch_sub(&nb->locks_held, 1);
	}
}

static int ranges_set(struct nfs_be *nb, struct nfs_obj *o,
		      struct nfs4_lock *l, uint64_t start, uint64_t end,
		      bool add, bool write)
{
	bool had = l->nranges;
	struct nfs4_range *v = malloc((l->nranges * 2 + 1) * sizeof(*v));
	uint32_t n = 0;

	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < l->nranges; i++) {
		struct nfs4_range r = l->ranges[i];

		if (r.end <= start || r.start >= end) {
			v[n++] = r;
			continue;
		}
		if (r.start < start)
			v[n++] = (struct nfs4_range){ r.start, start, r.write };
		if (r.end > end)
			v[n++] = (struct nfs4_range){ end, r.end, r.write };
	}
	if (add)
		v[n++] = (struct nfs4_range){ start, end, write };
	free(l->ranges);
	l->ranges = v;
	l->nranges = n;
	held_moved(nb, o, l, had);
	return 0;
}

static void ranges_clear(struct nfs_be *nb, struct nfs_obj *o,
			 struct nfs4_lock *l)
{
	bool had = l->nranges;

	free(l->ranges);
	l->ranges = NULL;
	l->nranges = 0;
	held_moved(nb, o, l, had);
}

/* L's locks are gone with a server restart: told to its owner (its next
 * lock call) and to the file's I/O, until the owner lets go. */
static void lock_lost(struct nfs_be *nb, struct nfs_obj *o,
		      struct nfs4_lock *l)
{
	ranges_clear(nb, o, l);
	if (!l->lost) {
		l->lost = true;
		atomic_fetch_add(&o->locks_lost, 1);
	}
}

/* The owner was told: L starts over. */
static void lost_told(struct nfs_be *nb, struct nfs_obj *o,
		      struct nfs4_lock *l)
{
	if (l->lost) {
		l->lost = false;
		atomic_fetch_sub(&o->locks_lost, 1);
	}
	lock_fresh(nb, l);
}

/* Reclaims L's ranges on O (O's lock held), after the open was made
 * again: LOCKs with reclaim set, which the server takes only in its grace
 * period. What cannot be reclaimed is lost. */
static void lock_reclaim(struct nfs_be *nb, struct nfs_obj *o,
			 struct nfs4_lock *l)
{
	struct nfs4_open *st = o->open;
	struct nfs4_denied d;
	uint32_t status;
	stateid4 open_sid;
	int ret = 0;

	lock_fresh(nb, l);
	for (uint32_t i = 0; i < l->nranges && !ret; i++) {
		struct nfs4_range *r = &l->ranges[i];

		open_sid = nfs4_stateid(o);
		ret = nfs4_lock_call(nb, st->owner, l, &o->fh, &open_sid,
				     r->write, true, r->start,
				     r->end == UINT64_MAX ? UINT64_MAX
							  : r->end - r->start,
				     &d, &status);
	}
	if (ret) {
		/* what was reclaimed goes too: a lock is whole or lost */
		if (l->has_sid)
			nfs4_locku_call(nb, l, &o->fh, 0, UINT64_MAX, &status);
		lock_lost(nb, o, l);
	}
}

/* Reclaims what O's open held before the client was set up again (O's
 * lock held): the open, then each lock owner's ranges. */
static void reclaim_open(struct nfs_be *nb, struct nfs_obj *o)
{
	unsigned int gen = atomic_load(&nb->client.gen);
	struct nfs4_open *st = o->open;
	struct nfs4_lock *l;
	bool due = false;

	if (!st || !st->count || atomic_load(&nb->closing))
		return;
	for (l = st->locks; l; l = l->next)
		due |= l->nranges && l->client_gen != gen;
	if (!due)
		return;
	/* the open first (itself a reclaim), unless I/O made it again */
	if (st->client_gen != gen)
		open_locked(nb, o, st->access, NULL);
	for (l = st->locks; l; l = l->next) {
		if (!l->nranges || l->client_gen == gen)
			continue;
		if (st->client_gen != gen || st->anonymous)
			lock_lost(nb, o, l);
		else
			lock_reclaim(nb, o, l);
	}
}

/* Every object open with locks: its open and its locks reclaimed. */
static void nfs4_reclaim_locks(struct nfs_be *nb)
{
	struct nfs_obj **objs = NULL, *o;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&nb->names);
	for (o = nb->opened; o; o = o->open_next) {
		if (n == cap) {
			struct nfs_obj **v;

			cap = cap ? cap * 2 : 16;
			v = realloc(objs, cap * sizeof(*v));
			if (!v)
				break;
			objs = v;
		}
		atomic_fetch_add(&o->refs, 1);
		objs[n++] = o;
	}
	pthread_mutex_unlock(&nb->names);
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&objs[i]->lock);
		reclaim_open(nb, objs[i]);
		pthread_mutex_unlock(&objs[i]->lock);
		nfs_obj_put(nb, objs[i]);
	}
	free(objs);
}

/* A lock call of L found that the server forgot O's state, a restart or
 * a lost lease (O's lock held): the client and the open are made again,
 * and what L held is reclaimed or reported lost (-EIO), never taken anew
 * as if it had been held all along. */
static int lock_recover(struct nfs_be *nb, struct nfs_obj *o,
			struct nfs4_lock *l)
{
	struct nfs4_open *st = o->open;
	int ret = nfs4_client_recover(nb, st->client_gen);

	if (ret)
		return ret;
	if (!l->nranges)
		lock_fresh(nb, l); /* nothing held: starts over */
	reclaim_open(nb, o);
	if (st->client_gen != atomic_load(&nb->client.gen)) {
		ret = open_locked(nb, o, st->access, NULL);
		if (ret)
			return ret;
	}
	if (l->lost)
		return nfs_fail(nb, EIO, "locks held on this file were lost "
				"in a server restart (not reclaimed)");
	if (st->anonymous)
		return nfs_fail(nb, ENOLCK, "lock: the file could not be "
				"opened again on the server");
	return 0;
}

/* Takes FL for OWNER (O's lock held). */
static int lock_set(struct nfs_be *nb, struct nfs_obj *o, uint64_t owner,
		    const struct flock *fl)
{
	struct nfs4_open *st = o->open;
	struct nfs4_denied d;
	struct nfs4_lock *l;
	stateid4 open_sid;
	uint32_t status;
	int ret;

	for (int tries = 0;; tries++) {
		l = lock_state(nb, st, owner, true);
		if (!l)
			return nfs_fail(nb, ENOMEM, "out of memory");
		if (l->lost)
			return nfs_fail(nb, EIO, "locks held on this file "
					"were lost in a server restart (not "
					"reclaimed): unlock or close first");
		open_sid = nfs4_stateid(o);
		ret = nfs4_lock_call(nb, st->owner, l, &o->fh, &open_sid,
				     fl->l_type == F_WRLCK, false,
				     (uint64_t)fl->l_start, lock_length(fl), &d,
				     &status);
		if (!ret) {
			/* kept for a reclaim; without it, the lock is still
			 * held, only not reclaimable */
			ranges_set(nb, o, l, (uint64_t)fl->l_start,
				   range_end((uint64_t)fl->l_start,
					     lock_length(fl)),
				   true, fl->l_type == F_WRLCK);
			break;
		}
		if (tries == 2)
			break;
		switch (status) {
		case NFS4ERR_DENIED:
			return nfs_fail(nb, EAGAIN, "lock held by %s",
					d.ours ? "another owner of this mount"
					       : "another client");
		case NFS4ERR_OPENMODE:
			return nfs_fail(nb, EBADF, "a %s lock needs the file "
					"open for %s (NFSv4)",
					fl->l_type == F_WRLCK ? "write"
							      : "read",
					fl->l_type == F_WRLCK ? "writing"
							      : "reading");
		case NFS4ERR_BAD_SEQID:
			/* out of step with the server: a new lock owner */
			lock_fresh(nb, l);
			continue;
		}
		if (!state_lost(status))
			break;
		ret = lock_recover(nb, o, l);
		if (ret)
			return ret;
	}
	return ret;
}

int nfs4_lock(struct nfs_be *nb, struct nfs_obj *o, uint64_t owner, int cmd,
	      struct flock *fl)
{
	struct nfs4_denied d;
	struct nfs4_open *st;
	struct nfs4_lock *l;
	uint32_t status;
	int ret = 0;

	pthread_mutex_lock(&o->lock);
	st = o->open;
	if (!st || !st->count || st->anonymous) {
		pthread_mutex_unlock(&o->lock);
		return nfs_fail(nb, ENOLCK, "lock: the file has no open state "
				"on the server (renamed or removed by another "
				"client while closed)");
	}
	/* what was held before the client was set up again: reclaimed
	 * here if the renewer has not yet; an open from before, made again */
	reclaim_open(nb, o);
	if (st->client_gen != atomic_load(&nb->client.gen))
		ret = open_locked(nb, o, st->access, NULL);
	if (ret) {
		/* ret says why */
	} else if (cmd == F_GETLK) {
		char name[32];

		/* an owner that holds nothing here tests under a name the
		 * server never saw, so that only others' locks conflict */
		l = lock_state(nb, st, owner, false);
		snprintf(name, sizeof(name), "%s", l ? l->name : "podfs-lockt");
		ret = nfs4_lockt_call(nb, &o->fh, name, fl->l_type == F_WRLCK,
				      (uint64_t)fl->l_start, lock_length(fl),
				      &d, &status);
		if (!ret) {
			fl->l_type = F_UNLCK;
		} else if (status == NFS4ERR_DENIED) {
			denied_flock(&d, fl);
			ret = 0;
		}
	} else if (fl->l_type == F_UNLCK) {
		l = lock_state(nb, st, owner, false);
		if (l && l->lost) {
			/* told once, at its unlock (a close's too) */
			lost_told(nb, o, l);
			ret = nfs_fail(nb, EIO, "locks held on this file were "
				       "lost in a server restart (not "
				       "reclaimed)");
		} else if (l && l->has_sid) {
			ret = nfs4_locku_call(nb, l, &o->fh,
					      (uint64_t)fl->l_start,
					      lock_length(fl), &status);
			if (!ret) {
				ranges_set(nb, o, l, (uint64_t)fl->l_start,
					   range_end((uint64_t)fl->l_start,
						     lock_length(fl)),
					   false, false);
			} else if (state_lost(status)) {
				/* reclaimed (then unlocked), or lost */
				ret = lock_recover(nb, o, l);
				if (!ret && l->has_sid)
					ret = nfs4_locku_call(
						nb, l, &o->fh,
						(uint64_t)fl->l_start,
						lock_length(fl), &status);
				if (!ret)
					ranges_set(nb, o, l, (uint64_t)fl->l_start,
						   range_end((uint64_t)fl->l_start,
							     lock_length(fl)),
						   false, false);
				else if (l->lost)
					lost_told(nb, o, l);
			} else if (status == NFS4ERR_BAD_SEQID) {
				lock_fresh(nb, l);
			}
		}
	} else {
		ret = lock_set(nb, o, owner, fl);
	}
	pthread_mutex_unlock(&o->lock);
	return ret;
}

int nfs4_restate(struct nfs_be *nb, struct nfs_call *k, struct nfs_obj *o,
		 const stateid4 *sent)
{
	stateid4 now;
	bool open;
	int ret = 0;

	/* A server that restarted (or let the lease go) forgot the client:
	 * set it up first, so that the open below is a reclaim, which the
	 * server allows in its grace period, where a new open waits. */
	switch (k->status) {
	case NFS4ERR_STALE_STATEID:
	case NFS4ERR_STALE_CLIENTID:
	case NFS4ERR_EXPIRED:
	case NFS4ERR_ADMIN_REVOKED: {
		/* the client the open was made under, unless it was set up
		 * again since (then that is done) */
		unsigned int gen;

		pthread_mutex_lock(&o->lock);
		gen = o->open ? o->open->client_gen :
				atomic_load(&nb->client.gen);
		pthread_mutex_unlock(&o->lock);
		ret = nfs4_client_recover(nb, gen);
		if (ret)
			return ret;
		break;
	}
	}

	pthread_mutex_lock(&o->lock);
	now = nfs4_stateid(o);
	open = o->open && o->open->count;
	/* Unless made again since SENT went out (the next attempt carries
	 * the new one), the open is made again now. */
	if (open && !memcmp(&now, sent, sizeof(now)))
		ret = open_locked(nb, o, o->open->access, NULL);
	pthread_mutex_unlock(&o->lock);
	/* No open of ours: the anonymous stateid was refused, which means
	 * the client is gone. */
	if (!open)
		ret = nfs4_client_recover(nb, atomic_load(&nb->client.gen));
	return ret;
}

int nfs4_create(struct nfs_be *nb, struct nfs_obj *dir, const char *name,
		mode_t mode, int flags, const struct podfs_cred *cred,
		struct nfs_obj **obj, struct stat *st)
{
	uint32_t access = access_of(flags);
	struct nfs4_opened op;
	struct nfs4_open *os;
	struct nfs4_owner *ow;
	struct nfs_obj *o;
	int ret, retries = 0;

	os = calloc(1, sizeof(*os));
	ow = os ? owner_get(nb) : NULL;
	if (!ow) {
		free(os);
		return nfs_fail(nb, ENOMEM, "out of memory");
	}
	/* GUARDED4 tells an existing file (EEXIST); UNCHECKED4 would open
	 * it, with no word of whether it was new. */
	ret = nfs4_open_call(nb, ow, &dir->fh, name, access,
			     (flags & O_EXCL) ? GUARDED4 : UNCHECKED4,
			     mode & 07777, cred, &op, &retries);
	if (ret == -EEXIST && (flags & O_EXCL) && retries > 0)
		/* our own create, answered late */
		ret = nfs4_open_call(nb, ow, &dir->fh, name, access, -1, 0,
				     NULL, &op, NULL);
	if (!ret)
		ret = confirm(nb, ow, &op);
	if (ret) {
		owner_put(nb, ow);
		free(os);
		return ret;
	}
	o = nfs_obj_new(nb, op.fh.data, op.fh.len, op.st.st_ino,
			op.st.st_mode);
	if (!o) {
		nfs4_close_call(nb, ow, &op.fh, &op.stateid, owner_closed);
		free(os);
		return -ENOMEM;
	}
	nfs_obj_hint(nb, o, &dir->fh, name);
	os->owner = ow;
	os->access = access;
	os->count = 1;
	os->client_gen = atomic_load(&nb->client.gen);
	o->open = os;
	set_sid(o, &op.stateid);
	*obj = o;
	*st = op.st;
	return 0;
}
