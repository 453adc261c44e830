// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The daemon's watch: what ends a mount from outside. SIGTERM or SIGINT
 * stops the daemon; its mount vanishing from the mount table (umount -l
 * while a process still waits in it) shuts the volume down. Either way
 * the volume stops waiting for a server that is gone (podfs_shutdown),
 * so that the daemon exits within the mount's timeout: without it a
 * hard mount whose server vanished would keep its FUSE threads, and the
 * daemon, for ever.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "mount_podfs.h"

struct podfs_watch {
	podfs_volume *vol;
	pthread_mutex_t lock;
	struct fuse_session *se; /* NULL once the loop is over */
	struct timespec leave_at; /* tv_sec 0: no hurry */
	pthread_t main; /* runs the FUSE loop */
	pthread_t thread;
	bool started;
	int sigfd, infofd, stopfd[2];
	char dev[32]; /* "major:minor" of the mount, "" if not found */
	char *dir;    /* realpath of the mount point */
};

/* The signals the watch takes: blocked in every thread. */
static void watched(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

static void wake(int sig)
{
	(void)sig; /* interrupts the loop's wait: it sees it has to end */
}

/* Call before any thread starts (podfs_attach starts the backend's):
 * the watched signals are blocked in every thread, to be read by the
 * watch's. */
int podfs_watch_signals(void)
{
	struct sigaction sa = { .sa_handler = wake };
	sigset_t set;

	watched(&set);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) || signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -errno;
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/*
 * Reads the mount table: with DIR, writes into DEV the device of the last
 * FUSE mount on DIR (the one on top) and returns whether there is one;
 * without, whether a mount of device DEV is still there.
 */
static bool mount_table(int fd, const char *dir, char *dev, size_t devlen)
{
	char line[PATH_MAX * 4 + 256];
	struct mountinfo_entry e;
	bool found = false;
	FILE *f;
	int fd2;

	fd2 = dup(fd);
	if (fd2 < 0)
		return !dir; /* cannot tell: still there */
	f = fdopen(fd2, "r");
	if (!f) {
		close(fd2);
		return !dir;
	}
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		if (!mountinfo_parse(line, &e))
			continue;
		if (!dir && !strcmp(e.dev, dev)) {
			found = true;
			break;
		}
		if (dir && !strcmp(e.point, dir) &&
		    !strcmp(e.fstype, "fuse.podfs")) {
			snprintf(dev, devlen, "%s", e.dev);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* Shuts the volume down, and gives the daemon twice the volume's
 * timeout (and some) to end: NFS calls end within the timeout, a
 * reconnect too, but libcephfs' never do on a cluster that is gone. */
static void shut_down(struct podfs_watch *w, const char *why)
{
	unsigned int ms = podfs_shutdown(w->vol);

	if (why)
		fprintf(stderr, PROG ": %s: %s; from now on no call waits "
				"for the server longer than %u s\n",
			w->dir, why, (ms + 999) / 1000);
	pthread_mutex_lock(&w->lock);
	if (!w->leave_at.tv_sec) {
		clock_gettime(CLOCK_MONOTONIC, &w->leave_at);
		w->leave_at.tv_sec += 2 * (ms / 1000) + 5;
	}
	pthread_mutex_unlock(&w->lock);
	if (w->started && write(w->stopfd[1], "w", 1) != 1) {
		/* the watch is awake anyway */
	}
}

/* The poll timeout until the daemon has to leave: -1 while it has no
 * such hurry. */
static int leave_in(struct podfs_watch *w)
{
	struct timespec now;
	long ms;

	pthread_mutex_lock(&w->lock);
	if (!w->leave_at.tv_sec) {
		pthread_mutex_unlock(&w->lock);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (w->leave_at.tv_sec - now.tv_sec) * 1000 +
	     (w->leave_at.tv_nsec - now.tv_nsec) / 1000000;
	pthread_mutex_unlock(&w->lock);
	return ms > 0 ? (int)ms : 0;
}

/* Stuck in a call nothing ends: what the server acknowledged is there,
 * the rest is lost anyway. A mount still ours (told to stop, its loop
 * still busy) is detached first, as the loop's end would have. */
static void leave(struct podfs_watch *w)
{
	char top[sizeof(w->dev)];
	bool serving;

	fprintf(stderr, PROG ": %s: still not done since it was shut down; "
			"leaving without waiting\n",
		w->dir);
	pthread_mutex_lock(&w->lock);
	serving = w->se != NULL;
	pthread_mutex_unlock(&w->lock);
	if (serving && w->dev[0] &&
	    mount_table(w->infofd, w->dir, top, sizeof(top)) &&
	    !strcmp(top, w->dev))
		umount2(w->dir, MNT_DETACH | UMOUNT_NOFOLLOW);
	_exit(EX_FAIL);
}

static void *watch_thread(void *arg)
{
	struct podfs_watch *w = arg;
	struct pollfd pfd[3] = {
		{ .fd = w->stopfd[0], .events = POLLIN },
		{ .fd = w->sigfd, .events = POLLIN },
		{ .fd = w->infofd, .events = POLLPRI },
	};
	struct signalfd_siginfo si;
	bool gone = false;

	for (;;) {
		int n = poll(pfd, w->dev[0] && !gone ? 3 : 2, leave_in(w));
		char c;

		if (n < 0 && errno != EINTR)
			break;
		if (n == 0)
			leave(w);
		if (n < 0)
			continue;
		if (pfd[0].revents) {
			if (read(w->stopfd[0], &c, 1) == 1 && c == 'w')
				continue; /* a new deadline */
			break;
		}
		if ((pfd[1].revents & POLLIN) &&
		    read(w->sigfd, &si, sizeof(si)) == sizeof(si)) {
			char why[64];

			snprintf(why, sizeof(why), "%s: unmounting",
				 strsignal((int)si.ssi_signo));
			shut_down(w, why);
			pthread_mutex_lock(&w->lock);
			if (w->se) {
				fuse_session_exit(w->se);
				pthread_kill(w->main, SIGUSR1);
			}
			pthread_mutex_unlock(&w->lock);
			continue;
		}
		if ((pfd[2].revents & (POLLPRI | POLLERR)) &&
		    !mount_table(w->infofd, NULL, w->dev, sizeof(w->dev))) {
			/* Detached (umount -l) while a process is in it: the
			 * kernel ends the session only when that process is
			 * done, which may wait for a server that is gone. */
			gone = true;
			shut_down(w, "unmounted");
		}
	}
	return NULL;
}

/* Watches the mount of SE at DIR (mounted; its realpath REAL) for VOL,
 * the FUSE loop running in this thread: 0 or -errno. */
int podfs_watch_start(struct podfs_watch **out, podfs_volume *vol,
		      struct fuse_session *se, const char *real)
{
	struct podfs_watch *w;
	sigset_t set;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->vol = vol;
	w->se = se;
	pthread_mutex_init(&w->lock, NULL);
	w->main = pthread_self();
	w->sigfd = w->infofd = w->stopfd[0] = w->stopfd[1] = -1;
	watched(&set);
	w->dir = strdup(real);
	w->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	w->infofd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (!w->dir || w->sigfd < 0 || pipe2(w->stopfd, O_CLOEXEC)) {
		ret = w->dir ? -errno : -ENOMEM;
		goto fail;
	}
	/* without /proc the signals are still watched */
	if (w->infofd >= 0 &&
	    !mount_table(w->infofd, w->dir, w->dev, sizeof(w->dev)))
		fprintf(stderr, PROG ": %s: not in the mount table; an "
				"umount -l will not be noticed\n",
			w->dir);
	ret = -pthread_create(&w->thread, NULL, watch_thread, w);
	if (ret)
		goto fail;
	w->started = true;
	*out = w;
	return 0;

fail:
	podfs_watch_stop(w);
	return ret;
}

void podfs_watch_loop_done(struct podfs_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->se = NULL;
	pthread_mutex_unlock(&w->lock);
	shut_down(w, NULL);
}

void podfs_watch_stop(struct podfs_watch *w)
{
	if (!w)
		return;
	if (w->started) {
		if (write(w->stopfd[1], "", 1) != 1) {
			/* a pipe with room: cannot fail */
		}
		pthread_join(w->thread, NULL);
	}
	if (w->sigfd >= 0)
		close(w->sigfd);
	if (w->infofd >= 0)
		close(w->infofd);
	if (w->stopfd[0] >= 0) {
		close(w->stopfd[0]);
		close(w->stopfd[1]);
	}
	pthread_mutex_destroy(&w->lock);
	free(w->dir);
	free(w);
}
