/*
 * The NFS backend's RPC engine: a pool of TCP connections, each with a
 * thread that services its socket, so that many calls are in flight on
 * each (up to nb->slots) and a caller only waits for its own answer. One
 * exception loop (nfs_run) decides, for every op, whether a failed
 * attempt is tried again: as the Linux client's nfs4_handle_exception().
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* Exported by libnfs 4.0, but declared in its public header only later. */
#if !HAVE_DECL_RPC_SET_TIMEOUT
extern void rpc_set_timeout(struct rpc_context *rpc, int timeout);
#endif

/* ---- time ------------------------------------------------------------------ */

static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

void nfs_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
}

int64_t nfs_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The lease fence (nfs_be): should C (held, with calls in flight) be
 * dropped, as the lease ran out? Once per connection per lease: calls
 * sent again after it are not dropped for it again. "Ran out" is two
 * thirds of it without a prompt RENEW (one goes every third): ganesha
 * gave a cut-off client's lock away 9.1 s into a lease of 10 s from our
 * last RENEW, and the fence must come before. */
static bool lease_ran_out(struct nfs_conn *c)
{
	struct nfs_be *nb = c->nb;
	int64_t renewed = atomic_load(&nb->renewed_ms), seen;

	if (!renewed || !nb->client.lease_s || !atomic_load(&nb->locks_held) ||
	    nfs_mono_ms() - renewed < (int64_t)nb->client.lease_s * 2000 / 3 ||
	    c->fenced_for == renewed)
		return false;
	c->fenced_for = renewed;
	seen = atomic_load(&nb->fenced_for);
	if (seen != renewed &&
	    atomic_compare_exchange_strong(&nb->fenced_for, &seen, renewed)) {
		atomic_store(&nb->fence_gen, atomic_load(&nb->client.gen));
		atomic_store(&nb->lease_doubt, true);
	}
	return true;
}

/* ---- connecting ---------------------------------------------------------- */

/* Whether calls give up after timeo * (retrans + 1). */
static bool bounded(struct nfs_be *nb)
{
	return nb->soft || !atomic_load(&nb->attached) ||
	       atomic_load(&nb->giving_up);
}

/* The deadline a call that started hard has from the moment the volume
 * shut down on, or NULL while it has none. */
static const struct timespec *giveup_deadline(struct nfs_be *nb)
{
	return atomic_load(&nb->giving_up) ? &nb->giveup_at : NULL;
}

/* The deadline of a call starting now, in TS: timeo * (retrans + 1)
 * when bounded, never past the shutdown's (what a detach flushes goes
 * in the same time, not each call in its own); NULL: none (hard). */
static const struct timespec *call_deadline(struct nfs_be *nb,
					    struct timespec *ts)
{
	const struct timespec *at = giveup_deadline(nb);

	if (!bounded(nb))
		return NULL;
	deadline_in(ts, nb->timeout_ms);
	if (at && (at->tv_sec < ts->tv_sec ||
		   (at->tv_sec == ts->tv_sec && at->tv_nsec < ts->tv_nsec)))
		*ts = *at;
	return ts;
}

/* Connects to SERVER:PORT by TCP, to tell why a connection failed: 0,
 * or -errno (-EHOSTUNREACH: the name does not resolve). */
static int tcp_probe(const char *server, int port, int timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai;
	struct pollfd pfd;
	char portstr[16];
	socklen_t len;
	int fd, err = 0;

	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(server, portstr, &hints, &ai))
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
			goto out;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout_ms) <= 0) {
			err = -ETIMEDOUT;
			goto out;
		}
		len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		err = -err;
	}
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

/* Why a connection to PORT (0: the portmapper's) failed with WHY. */
static int connect_fail(struct nfs_be *nb, int port, const char *why)
{
	int err;

	if (port <= 0)
		port = 111;
	err = tcp_probe(nb->server, port, nb->timeout_ms);
	if (err == -EHOSTUNREACH)
		return nfs_fail(nb, EHOSTUNREACH, "cannot resolve server name %s",
				nb->server);
	if (err == -ETIMEDOUT || (!err && strstr(why, "no answer")))
		return nfs_fail(nb, ETIMEDOUT,
				"cannot connect to server %s port %d: no answer within %d s",
				nb->server, port, (nb->timeout_ms + 999) / 1000);
	if (err)
		return nfs_fail(nb, -err, "cannot connect to server %s port %d: %s",
				nb->server, port, strerror(-err));
	return nfs_fail(nb, ECONNREFUSED,
			"cannot connect to server %s port %d: %s", nb->server,
			port, why);
}

struct connect_wait {
	bool done;
	int status;
	char why[200];
};

static void connect_cb(struct rpc_context *rpc, int status, void *data,
		       void *private_data)
{
	struct connect_wait *w = private_data;

	(void)rpc;
	w->done = true;
	w->status = status;
	if (status != RPC_STATUS_SUCCESS)
		snprintf(w->why, sizeof(w->why), "%s",
			 data ? (const char *)data : "connection failed");
}

/* The identity calls go with: the mount's, or a creating caller's. */
static struct AUTH *auth_for(uid_t uid, gid_t gid)
{
	return libnfs_authunix_create("podfs", uid, gid, 0, NULL);
}

/*
 * A new connection to PROGRAM VERSION of the server at PORT (0: ask the
 * portmapper), within TIMEOUT_MS. Made without any lock: nobody else sees
 * it yet. NULL with WHY on failure.
 */
static struct rpc_context *rpc_connect(struct nfs_be *nb, int program,
				       int version, int port, int timeout_ms,
				       char *why, size_t len)
{
	struct connect_wait w = { .done = false };
	struct rpc_context *rpc;
	struct timespec deadline;
	struct pollfd pfd;
	int ret;

	rpc = rpc_init_context();
	if (!rpc) {
		snprintf(why, len, "out of memory");
		return NULL;
	}
	rpc_set_auth(rpc, auth_for(nb->uid, nb->gid));
	/* Soft calls give up when their time is up; hard ones never. */
	rpc_set_timeout(rpc, bounded(nb) ? nb->timeout_ms : -1);
	if (port <= 0)
		ret = rpc_connect_program_async(rpc, nb->server, program,
						version, connect_cb, &w);
	else
		ret = rpc_connect_async(rpc, nb->server, port, connect_cb, &w);
	if (ret) {
		snprintf(why, len, "%s", rpc_get_error(rpc));
		rpc_destroy_context(rpc);
		return NULL;
	}
	deadline_in(&deadline, timeout_ms);
	while (!w.done) {
		if (ms_left(&deadline) <= 0) {
			snprintf(why, len, "no answer within %d s",
				 (timeout_ms + 999) / 1000);
			break;
		}
		if (atomic_load(&nb->closing)) {
			snprintf(why, len, "volume detached");
			break;
		}
		pfd.fd = rpc_get_fd(rpc);
		pfd.events = (short)rpc_which_events(rpc);
		pfd.revents = 0;
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			break;
		if (rpc_service(rpc, pfd.revents) < 0 && !w.done) {
			snprintf(w.why, sizeof(w.why), "%s",
				 rpc_get_error(rpc));
			w.done = true;
			w.status = RPC_STATUS_ERROR;
		}
	}
	if (w.done && w.status == RPC_STATUS_SUCCESS)
		return rpc;
	if (w.done)
		snprintf(why, len, "%s", w.why);
	rpc_destroy_context(rpc); /* cancels the connect: w stays ours */
	return NULL;
}

/* A connection to the server's NFS service. */
static struct rpc_context *conn_connect(struct nfs_be *nb, int timeout_ms,
					char *why, size_t len)
{
	int port = nb->port > 0 ? nb->port : nb->vers == 4 ? 2049 : 0;

	return rpc_connect(nb, NFS_PROGRAM, nb->vers == 4 ? NFS_V4 : NFS_V3,
			   port, timeout_ms, why, len);
}

/* Drops C's connection (its lock held): every call on it is answered
 * RPC_STATUS_CANCEL, which the callers take as a lost connection. */
static void conn_drop(struct nfs_conn *c)
{
	struct rpc_context *rpc = c->rpc;

	c->rpc = NULL;
	c->broken = false;
	if (rpc && c->abort) {
		/* A reset, not a close: the kernel would go on sending
		 * what the server did not acknowledge, and deliver it
		 * once the link heals. */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		if (setsockopt(rpc_get_fd(rpc), SOL_SOCKET, SO_LINGER, &lg,
			       sizeof(lg))) {
			/* then it closes as usual */
		}
	}
	c->abort = false;
	if (rpc)
		rpc_destroy_context(rpc);
	pthread_cond_broadcast(&c->changed);
}

static void fd_wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* full (it cannot be): the reader is awake anyway */
	}
}

static void fd_drain(int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0) {
		/* nothing to drain */
	}
}

/* Whoever reads C's socket (C held) has more to do: the leader or the
 * thread out of poll, or the idle thread up. */
static void conn_kick(struct nfs_conn *c)
{
	if (c->led)
		fd_wake(c->lfd);
	else if (c->thread_turn)
		fd_wake(c->efd);
	else
		pthread_cond_broadcast(&c->changed);
}

/* Sends what is queued on C (held) now, rather than at a later turn at
 * the socket; what the socket does not take waits for the reader. */
static void conn_flush(struct nfs_conn *c)
{
	if (rpc_service(c->rpc, POLLOUT) < 0) {
		snprintf(c->why, sizeof(c->why), "%s", rpc_get_error(c->rpc));
		c->broken = true;
	}
	if (c->broken || (c->rpc && (rpc_which_events(c->rpc) & POLLOUT)))
		conn_kick(c);
}

/*
 * One turn at C's socket (C held, released while polling): waits up to
 * 100 ms for it or for WAKEFD (rpc_service also times soft calls out),
 * then services it: replies' callbacks run here.
 */
static void conn_turn(struct nfs_conn *c, int wakefd, bool leader)
{
	struct rpc_context *rpc = c->rpc;
	struct pollfd pfd[2] = {
		{ .fd = rpc_get_fd(rpc), .events = (short)rpc_which_events(rpc) },
		{ .fd = wakefd, .events = POLLIN },
	};

	pthread_mutex_unlock(&c->lock);
	poll(pfd, 2, 100);
	if (pfd[1].revents & POLLIN)
		fd_drain(wakefd);
	pthread_mutex_lock(&c->lock);
	if (c->rpc != rpc || c->broken)
		return;
	/* Calls sent while the mount was hard have no timeout of their
	 * own: once the shutdown's deadline has passed, dropping the
	 * connection answers them. */
	if (c->inflight && giveup_deadline(c->nb) &&
	    ms_left(&c->nb->giveup_at) <= 0) {
		snprintf(c->why, sizeof(c->why),
			 "no answer before the volume shut down");
		c->broken = true;
		pthread_cond_broadcast(&c->changed);
		return;
	}
	/* The lease ran out with these calls unanswered (the network cut,
	 * say): dropped, the socket's unsent and unacknowledged data goes
	 * with it, so none of them reaches the server once the link heals,
	 * after another client took our locks. Those sent again are
	 * fenced (nfs_fenced). */
	if (c->inflight && lease_ran_out(c)) {
		snprintf(c->why, sizeof(c->why),
			 "no answer within the lease (%u s)",
			 c->nb->client.lease_s);
		c->broken = true;
		c->abort = true;
		pthread_cond_broadcast(&c->changed);
		return;
	}
	c->leader_servicing = leader;
	/* another caller may have queued more since: POLLOUT is harmless
	 * when the socket is not ready */
	if (rpc_service(rpc, pfd[0].revents |
				     (rpc_which_events(rpc) & POLLOUT)) < 0) {
		snprintf(c->why, sizeof(c->why), "%s", rpc_get_error(rpc));
		c->broken = true;
		pthread_cond_broadcast(&c->changed); /* the thread rebuilds */
	}
	c->leader_servicing = false;
}

/*
 * C's thread: reads the socket for the calls nobody waits for, and
 * builds the connection anew when it broke, backing off while the
 * server is away.
 */
static void *conn_thread(void *arg)
{
	struct nfs_conn *c = arg;
	struct nfs_be *nb = c->nb;
	struct rpc_context *rpc;
	struct pollfd pfd;
	struct timespec at;
	int backoff = NFS_BACKOFF_MIN_MS;
	char why[256];

	pthread_mutex_lock(&c->lock);
	while (!atomic_load(&nb->closing)) {
		if (c->broken || !c->rpc) {
			if (c->led) { /* its poll is on the socket */
				pthread_cond_wait(&c->changed, &c->lock);
				continue;
			}
			conn_drop(c);
			pthread_mutex_unlock(&c->lock);
			rpc = conn_connect(nb, nb->timeout_ms, why,
					   sizeof(why));
			pthread_mutex_lock(&c->lock);
			if (!rpc) {
				snprintf(c->why, sizeof(c->why), "%s", why);
				pthread_mutex_unlock(&c->lock);
				/* woken early by detach */
				pfd.fd = c->efd;
				pfd.events = POLLIN;
				poll(&pfd, 1, backoff);
				backoff = backoff * 2 > NFS_BACKOFF_MAX_MS ?
						  NFS_BACKOFF_MAX_MS :
						  backoff * 2;
				pthread_mutex_lock(&c->lock);
				continue;
			}
			backoff = NFS_BACKOFF_MIN_MS;
			c->rpc = rpc;
			c->gen++;
			pthread_cond_broadcast(&c->changed);
			continue;
		}
		if (c->led || c->waiting || !c->inflight) {
			/* a caller reads, or there is nothing to read */
			deadline_in(&at, 1000);
			pthread_cond_timedwait(&c->changed, &c->lock, &at);
			continue;
		}
		c->thread_turn = true;
		conn_turn(c, c->efd, false);
		c->thread_turn = false;
	}
	while (c->led)
		pthread_cond_wait(&c->changed, &c->lock);
	conn_drop(c);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/*
 * Waits on C (held) for K's answer. The first waiter reads the socket
 * itself (and answers the others' calls as they come); the rest sleep
 * in a queue until their answer comes or the socket is theirs to read.
 */
static void wait_answer(struct nfs_conn *c, struct nfs_call *k)
{
	struct nfs_call **p;

	while (!k->done) {
		/* not while the volume closes: the thread drops the
		 * connection then, which answers every call */
		if (!c->led && c->rpc && !c->broken &&
		    !atomic_load(&c->nb->closing)) {
			c->led = k->leading = true;
			if (c->thread_turn)
				fd_wake(c->efd); /* step aside */
			conn_turn(c, c->lfd, true);
			c->led = k->leading = false;
			if (c->broken || atomic_load(&c->nb->closing))
				pthread_cond_broadcast(&c->changed);
			continue;
		}
		k->wnext = NULL;
		for (p = &c->waiting; *p; p = &(*p)->wnext)
			;
		*p = k;
		pthread_cond_wait(k->cv, &c->lock);
		for (p = &c->waiting; *p && *p != k; p = &(*p)->wnext)
			;
		if (*p)
			*p = k->wnext;
	}
	/* the socket is free: the next waiter reads it, or the thread does
	 * for calls nobody waits for, or it is rebuilt */
	if (!c->led) {
		if (c->waiting)
			pthread_cond_signal(c->waiting->cv);
		else if (c->inflight || c->broken)
			pthread_cond_broadcast(&c->changed);
	}
}

/* Connects every connection of the pool (an error says why the first
 * could not), then starts their threads. */
int nfs_conns_start(struct nfs_be *nb)
{
	struct nfs_conn *c;
	char why[256];
	int i;

	for (i = 0; i < nb->nconn; i++) {
		c = &nb->conns[i];
		c->nb = nb;
		c->idx = i;
		pthread_mutex_init(&c->lock, NULL);
		cond_init_mono(&c->changed);
		c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		c->lfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (c->efd < 0 || c->lfd < 0)
			return nfs_fail(nb, errno, "eventfd: %s",
					strerror(errno));
		c->rpc = conn_connect(nb, nb->timeout_ms, why, sizeof(why));
		if (!c->rpc)
			return connect_fail(nb, nb->port > 0	? nb->port :
						nb->vers == 4	? 2049 :
								  0,
					    why);
		c->gen = 1;
	}
	for (i = 0; i < nb->nconn; i++) {
		c = &nb->conns[i];
		if (pthread_create(&c->thread, NULL, conn_thread, c))
			return nfs_fail(nb, EAGAIN, "cannot start a thread");
		c->thread_started = true;
	}
	return 0;
}

/* Stops the threads; every call still waiting is answered. */
void nfs_conns_stop(struct nfs_be *nb)
{
	struct nfs_conn *c;
	int i;

	atomic_store(&nb->closing, true);
	for (i = 0; nb->conns && i < nb->nconn; i++) {
		c = &nb->conns[i];
		if (!c->thread_started) {
			if (c->rpc) {
				pthread_mutex_lock(&c->lock);
				conn_drop(c);
				pthread_mutex_unlock(&c->lock);
			}
			continue;
		}
		pthread_mutex_lock(&c->lock);
		pthread_cond_broadcast(&c->changed);
		if (c->led)
			fd_wake(c->lfd);
		pthread_mutex_unlock(&c->lock);
		fd_wake(c->efd);
		pthread_join(c->thread, NULL);
		c->thread_started = false;
	}
	for (i = 0; nb->conns && i < nb->nconn; i++) {
		c = &nb->conns[i];
		if (c->efd >= 0)
			close(c->efd);
		if (c->lfd >= 0)
			close(c->lfd);
		c->efd = c->lfd = -1;
	}
}

/* ---- calls --------------------------------------------------------------- */

/* Whether libnfs dropped RPC's connection over a record larger than it
 * takes (libnfs 4.0: "Incoming PDU exceeds limit of N bytes."). */
static bool rpc_oversized(struct rpc_context *rpc)
{
	const char *e = rpc ? rpc_get_error(rpc) : NULL;

	return e && strstr(e, "exceeds limit");
}

/*
 * An RPC-level refusal in libnfs' words (RPC_STATUS_ERROR comes for a lost
 * connection too): the server answered, so the call is done, with this
 * -errno; 0 for anything else. libnfs 4.0's rpc_process_reply() words.
 */
static int rpc_refusal(const char *why)
{
	static const struct {
		const char *text;
		int err;
	} refusals[] = {
		{ "Server responded: Program not available", -EPROTONOSUPPORT },
		{ "Server responded: Program version mismatch",
		  -EPROTONOSUPPORT },
		{ "Server responded: Procedure not available", -EOPNOTSUPP },
		{ "Server responded: Garbage arguments", -EIO },
		{ "Server responded: System Error", -EIO },
		{ "RPC Packet not accepted by the server", -EACCES },
		{ "Message rejected by server", -EIO },
		{ "Unknown rpc response from server", -EIO },
	};
	size_t i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (!strcmp(why, refusals[i].text))
			return refusals[i].err;
	return 0;
}

void nfs_rpc_cb(struct rpc_context *rpc, int status, void *data,
		void *private_data)
{
	struct nfs_call *k = private_data;
	struct nfs_conn *c = k->conn;

	if (status == RPC_STATUS_SUCCESS) {
		k->reply(k, data);
	} else if (status == RPC_STATUS_ERROR && data &&
		   (k->err = rpc_refusal(data))) {
		/* the server's answer: sending again gets the same one */
		k->fault = FAULT_NONE;
		snprintf(k->msg, sizeof(k->msg), "%s", (const char *)data);
	} else if (status == RPC_STATUS_ERROR && rpc_oversized(rpc)) {
		/* libnfs 4.0 drops the connection on a record over
		 * NFS_MAX_XFER_SIZE + 4096 ("Incoming PDU exceeds limit of
		 * N bytes."): a server that sends one is not to be asked
		 * again, whatever it is asked */
		k->fault = FAULT_NONE;
		k->err = -EIO;
		snprintf(k->msg, sizeof(k->msg),
			 "the server sent a reply larger than any call asks "
			 "for: %.100s", rpc_get_error(rpc));
	} else {
		k->fault = FAULT_LOST;
		k->err = status == RPC_STATUS_TIMEOUT ? -ETIMEDOUT : -EIO;
		snprintf(k->msg, sizeof(k->msg), "%s",
			 status == RPC_STATUS_TIMEOUT ? "no answer in time" :
			 status == RPC_STATUS_ERROR && data ?
							(const char *)data :
							"connection lost");
	}
	if (c->inflight-- == c->nb->slots)
		pthread_cond_broadcast(&c->changed);
	k->done = true;
	if (k->complete)
		k->complete(k);
	else if (!k->leading)
		pthread_cond_signal(k->cv);
	else if (!c->leader_servicing)
		fd_wake(c->lfd); /* out of its poll */
}

/* The connection K goes on, locked once it is up and has a free slot:
 * 0, or -errno (soft: not up by DEADLINE; detached). */
static int call_conn(struct nfs_be *nb, struct nfs_call *k,
		     const struct timespec *deadline)
{
	struct nfs_conn *c = k->conn;

	if (!c) {
		c = &nb->conns[atomic_fetch_add(&nb->next_conn, 1) %
			       (unsigned int)nb->nconn];
		k->conn = c;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->rpc || c->broken || c->inflight >= nb->slots) {
		if (k->nowait) {
			pthread_mutex_unlock(&c->lock);
			snprintf(k->msg, sizeof(k->msg), "no connection free");
			return -EAGAIN;
		}
		if (atomic_load(&nb->closing)) {
			pthread_mutex_unlock(&c->lock);
			snprintf(k->msg, sizeof(k->msg), "volume detached");
			return -EIO;
		}
		if (!deadline)
			deadline = giveup_deadline(nb);
		if (!deadline) {
			pthread_cond_wait(&c->changed, &c->lock);
		} else if (pthread_cond_timedwait(&c->changed, &c->lock,
						  deadline) == ETIMEDOUT) {
			snprintf(k->msg, sizeof(k->msg),
				 "server not responding: %.150s",
				 c->rpc ? "every request slot busy" : c->why);
			pthread_mutex_unlock(&c->lock);
			return -ETIMEDOUT;
		}
	}
	return 0;
}

/* Sends K on its connection (held, up): 0, or -errno when it could not
 * be queued (then no callback comes). */
static int call_send(struct nfs_be *nb, struct nfs_call *k)
{
	struct nfs_conn *c = k->conn;
	bool as_caller = k->cred && (k->cred->uid != nb->uid ||
				     k->cred->gid != nb->gid);
	int ret;

	k->done = false;
	k->err = 0;
	k->status = 0;
	k->fault = FAULT_NONE;
	k->msg[0] = '\0';
	k->gen = c->gen;
	k->state_gen = atomic_load(&nb->client.gen);
	/* Creating calls run as the caller, so that the server makes the
	 * new object theirs: the credential is encoded with the call. */
	if (as_caller)
		rpc_set_auth(c->rpc, auth_for(k->cred->uid, k->cred->gid));
	ret = k->send(k, c->rpc, nfs_rpc_cb);
	if (as_caller)
		rpc_set_auth(c->rpc, auth_for(nb->uid, nb->gid));
	if (ret) {
		snprintf(k->msg, sizeof(k->msg), "%s", rpc_get_error(c->rpc));
		return -EIO;
	}
	if (++c->inflight > (int)atomic_load(&nb->max_in_flight))
		atomic_store(&nb->max_in_flight, (unsigned int)c->inflight);
	atomic_fetch_add(&nb->n_calls, 1);
	conn_flush(c);
	return 0;
}

static int attempt(struct nfs_be *nb, struct nfs_call *k,
		   const struct timespec *deadline)
{
	pthread_cond_t cv;
	int ret;

	ret = call_conn(nb, k, deadline);
	if (ret) {
		k->err = ret;
		k->fault = ret == -ETIMEDOUT ? FAULT_LOST : FAULT_NONE;
		return ret;
	}
	pthread_cond_init(&cv, NULL);
	k->cv = &cv;
	k->complete = NULL;
	ret = call_send(nb, k);
	if (ret) {
		k->err = ret;
		k->fault = FAULT_NONE;
	} else {
		wait_answer(k->conn, k);
	}
	pthread_mutex_unlock(&k->conn->lock);
	pthread_cond_destroy(&cv);
	return k->err;
}

/* From now on every call gives up within timeo * (retrans + 1), those
 * waiting already as well (podfs_shutdown). */
void nfs_conns_give_up(struct nfs_be *nb)
{
	struct nfs_conn *c;
	int i;

	if (atomic_load(&nb->giving_up))
		return;
	deadline_in(&nb->giveup_at, nb->timeout_ms);
	atomic_store(&nb->giving_up, true);
	for (i = 0; nb->conns && i < nb->nconn; i++) {
		c = &nb->conns[i];
		pthread_mutex_lock(&c->lock);
		if (c->rpc)
			rpc_set_timeout(c->rpc, nb->timeout_ms);
		pthread_cond_broadcast(&c->changed);
		pthread_mutex_unlock(&c->lock);
	}
}

void nfs_conns_attached(struct nfs_be *nb)
{
	struct nfs_conn *c;
	int i;

	atomic_store(&nb->attached, true);
	for (i = 0; i < nb->nconn; i++) {
		c = &nb->conns[i];
		pthread_mutex_lock(&c->lock);
		if (c->rpc)
			rpc_set_timeout(c->rpc, bounded(nb) ? nb->timeout_ms :
							      -1);
		pthread_mutex_unlock(&c->lock);
	}
}

int nfs_submit(struct nfs_be *nb, struct nfs_call *k)
{
	struct timespec deadline;
	int ret;

	ret = call_conn(nb, k, call_deadline(nb, &deadline));
	if (ret)
		return ret;
	ret = call_send(nb, k);
	/* nobody waits on this connection: the thread reads for it */
	if (!ret && !k->conn->led && !k->conn->waiting)
		pthread_cond_broadcast(&k->conn->changed);
	pthread_mutex_unlock(&k->conn->lock);
	return ret;
}

/* A hard call goes on as a soft one from the moment the volume shuts
 * down, until the shutdown's deadline. */
static void hard_gives_up(struct nfs_be *nb, bool *soft,
			  struct timespec *deadline)
{
	const struct timespec *at;

	if (*soft || !(at = giveup_deadline(nb)))
		return;
	*soft = true;
	*deadline = *at;
}

/*
 * The exception loop every op shares. A connection that broke is built
 * again by its thread (the next attempt waits for it, on any
 * connection); a server that asks for time (NFS3ERR_JUKEBOX,
 * NFS4ERR_DELAY, NFS4ERR_GRACE) gets it; an NFSv4 client the server
 * forgot is set up again. Hard mounts try until the volume is detached,
 * soft ones until timeo * (retrans + 1) has passed.
 */
int nfs_run(struct nfs_be *nb, struct nfs_call *k)
{
	struct timespec deadline;
	int backoff = NFS_BACKOFF_MIN_MS;
	struct nfs_conn *pinned = k->conn;
	bool soft = call_deadline(nb, &deadline);
	int state_faults = 0;
	long left;
	int ret;

	k->retries = 0;
	for (;;) {
		hard_gives_up(nb, &soft, &deadline);
		ret = attempt(nb, k, soft ? &deadline : NULL);
		switch (k->fault) {
		case FAULT_NONE:
			return ret ? nfs_call_fail(nb, k, NULL) : 0;
		case FAULT_STATE:
			/* A few rounds at most: a server that refuses what
			 * it just gave is not to be argued with. */
			if (k->no_state || ++state_faults > 8)
				return nfs_call_fail(nb, k, NULL);
			ret = k->recover ? k->recover(nb, k) :
					   nfs4_client_recover(nb,
							       k->state_gen);
			if (ret)
				return ret;
			break;
		case FAULT_DELAY:
			left = soft ? ms_left(&deadline) : backoff;
			nfs_sleep_ms(left < backoff ? (left > 0 ? left : 0) :
						      backoff);
			backoff = backoff * 2 > NFS_BACKOFF_MAX_MS ?
					  NFS_BACKOFF_MAX_MS :
					  backoff * 2;
			break;
		case FAULT_LOST:
			/* Its connection is being built again: the next
			 * attempt takes whichever is up first. */
			if (!pinned)
				k->conn = NULL;
			break;
		}
		if (atomic_load(&nb->closing)) {
			k->err = -EIO;
			snprintf(k->msg, sizeof(k->msg), "volume detached");
			return nfs_call_fail(nb, k, NULL);
		}
		if (k->fence && nfs_fenced(nb, k->fence)) {
			k->err = -EIO;
			snprintf(k->msg, sizeof(k->msg),
				 "not sent again: the lease ran out, the "
				 "locks it was written under may be another "
				 "client's now");
			return nfs_call_fail(nb, k, NULL);
		}
		hard_gives_up(nb, &soft, &deadline);
		if (soft && ms_left(&deadline) <= 0) {
			char why[sizeof(k->msg)];

			snprintf(why, sizeof(why), "%s", k->msg);
			k->err = -ETIMEDOUT;
			snprintf(k->msg, sizeof(k->msg),
				 "server %s not responding, timed out after %d s%s: %.120s",
				 nb->server, (nb->timeout_ms + 999) / 1000,
				 nb->soft ? " (soft mount)" :
				 atomic_load(&nb->giving_up) ? " (shutting down)" : "",
				 why);
			return nfs_call_fail(nb, k, NULL);
		}
		k->retries++;
	}
}

/*
 * K, alone on a connection of its own to PROGRAM VERSION at PORT (0: the
 * portmapper's word), within the mount's timeout: the NFSv3 MOUNT call.
 * k->err, with k->msg saying why.
 */
static void oneshot_done(struct nfs_call *k)
{
	(void)k; /* the loop below looks at k->done */
}

int nfs_oneshot(struct nfs_be *nb, int program, int version, int port,
		struct nfs_call *k, bool *connected)
{
	struct nfs_conn c = { .nb = nb };
	struct timespec deadline;
	struct pollfd pfd;

	k->conn = &c;
	k->complete = oneshot_done;
	k->done = false;
	k->err = 0;
	k->fault = FAULT_NONE;
	c.rpc = rpc_connect(nb, program, version, port, nb->timeout_ms,
			    k->msg, sizeof(k->msg));
	*connected = c.rpc != NULL;
	if (!c.rpc) {
		k->err = connect_fail(nb, port, k->msg);
		return k->err;
	}
	pthread_mutex_init(&c.lock, NULL);
	cond_init_mono(&c.changed);
	if (k->send(k, c.rpc, nfs_rpc_cb)) {
		snprintf(k->msg, sizeof(k->msg), "%s", rpc_get_error(c.rpc));
		k->err = -EIO;
		k->done = true;
	} else {
		c.inflight++;
	}
	deadline_in(&deadline, nb->timeout_ms);
	while (!k->done) {
		if (ms_left(&deadline) <= 0) {
			snprintf(k->msg, sizeof(k->msg),
				 "no answer within %d s",
				 (nb->timeout_ms + 999) / 1000);
			break;
		}
		pfd.fd = rpc_get_fd(c.rpc);
		pfd.events = (short)rpc_which_events(c.rpc);
		pfd.revents = 0;
		poll(&pfd, 1, 100);
		if (rpc_service(c.rpc, pfd.revents) < 0)
			break;
	}
	/* a call still queued is cancelled: its callback runs here */
	rpc_destroy_context(c.rpc);
	if (!k->done || k->fault == FAULT_LOST) {
		if (!k->err || k->err == -EIO)
			k->err = -ETIMEDOUT;
	}
	pthread_cond_destroy(&c.changed);
	pthread_mutex_destroy(&c.lock);
	return k->err;
}
