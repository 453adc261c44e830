/*
 * Mounting and unmounting one podfs volume: check the server, mount through
 * FUSE, hand the mount to a daemon in its own session (and systemd scope),
 * and report only once the mount answers.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuse_ops.h"
#include "mount_podfs.h"

#define FUSE_SUPER_MAGIC 0x65735546

char *absolute_path(const char *dir)
{
	char cwd[PATH_MAX], *s;
	size_t n;

	if (dir[0] == '/')
		s = strdup(dir);
	else if (!getcwd(cwd, sizeof(cwd)) || asprintf(&s, "%s/%s", cwd, dir) < 0)
		return NULL;
	if (!s)
		return NULL;
	n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

void mount_request_init(struct mount_request *req)
{
	memset(req, 0, sizeof(*req));
	req->fsgroup = -1;
	req->allow_other = true;
	req->default_permissions = true;
}

void mount_request_free(struct mount_request *req)
{
	free(req->source);
	free(req->dir);
	free(req->lib_opts);
	free(req->fuse_opts);
	free(req->log);
	free(req->pod);
	if (req->secret) {
		explicit_bzero(req->secret, strlen(req->secret));
		free(req->secret);
	}
	mount_request_init(req);
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int opts_append(char **list, const char *key, const char *value)
{
	const char *old = *list ? *list : "";
	char *s;
	int n = value ? asprintf(&s, "%s%s%s=%s", old, *old ? "," : "", key,
				 value)
		      : asprintf(&s, "%s%s%s", old, *old ? "," : "", key);

	if (n < 0)
		return -1;
	free(*list);
	*list = s;
	return 0;
}

/* Generic mount flags that libfuse hands to the kernel for the mount. */
static const char *const kernel_flags[] = {
	"suid", "nosuid", "dev", "nodev", "exec", "noexec", "sync", "async",
	"dirsync", "atime", "noatime", NULL,
};

/* mount(8) and fstab options that mean nothing to the mount itself, and
 * atime variants FUSE mounts do not take (the server keeps atime). */
static const char *const userspace_flags[] = {
	"defaults", "auto", "noauto", "user", "nouser", "users", "owner",
	"group", "_netdev", "nofail", "diratime", "nodiratime", "relatime",
	"norelatime", "strictatime", "nostrictatime", "lazytime",
	"nolazytime", NULL,
};

static bool in_list(const char *const *list, const char *s, size_t n)
{
	for (; *list; list++)
		if (strlen(*list) == n && !strncmp(*list, s, n))
			return true;
	return false;
}

static int add_option(struct mount_request *req, const char *opt, size_t n,
		      char *err, size_t errlen)
{
	char *item = strndup(opt, n);
	int ret = 0;

	if (!item)
		return fail(err, errlen, "out of memory");
	if (!strcmp(item, "ro") || !strcmp(item, "rw")) {
		req->readonly = item[1] == 'o';
		ret = opts_append(&req->lib_opts, item, NULL);
	} else if (in_list(kernel_flags, opt, n)) {
		ret = opts_append(&req->fuse_opts, item, NULL);
	} else if (in_list(userspace_flags, opt, n) || !strncmp(item, "x-", 2) ||
		   !strncmp(item, "comment=", 8)) {
		ret = 0;
	} else if (!strncmp(item, "log=", 4)) {
		if (!item[4]) {
			free(item);
			return fail(err, errlen, "option 'log' needs a file");
		}
		free(req->log);
		req->log = strdup(item + 4);
		ret = req->log ? 0 : -1;
	} else if (!strcmp(item, "allow_other")) {
		req->allow_other = true;
	} else if (!strcmp(item, "noallow_other")) {
		req->allow_other = false;
	} else if (!strcmp(item, "default_permissions")) {
		req->default_permissions = true;
	} else if (!strcmp(item, "nodefault_permissions")) {
		req->default_permissions = false;
	} else {
		/* the library knows the rest, and refuses what it doesn't */
		ret = opts_append(&req->lib_opts, item, NULL);
	}
	free(item);
	return ret ? fail(err, errlen, "out of memory") : 0;
}

int mount_request_add_options(struct mount_request *req, const char *opts,
			      char *err, size_t errlen)
{
	const char *p = opts;

	while (p && *p) {
		size_t n = strcspn(p, ",");

		if (n == 0)
			return fail(err, errlen, "empty option in '%s'", opts);
		if (add_option(req, p, n, err, errlen))
			return -1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

bool mountinfo_parse(char *line, struct mountinfo_entry *e)
{
	char *f[5], *sep, *p = line, *w;
	int i;

	/* id parent major:minor root mountpoint ... - fstype source ... */
	for (i = 0; i < 5; i++) {
		f[i] = strsep(&p, " ");
		if (!f[i] || !p)
			return false;
	}
	sep = strstr(p, "- ");
	if (!sep || (sep != p && sep[-1] != ' '))
		return false;
	p = sep + 2;
	e->dev = f[2];
	e->point = f[4];
	e->fstype = strsep(&p, " \n");
	/* the mount point's octal escapes ("\040" a space) */
	for (p = w = f[4]; *p; w++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' &&
		    p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			*w = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 +
				    (p[3] - '0'));
			p += 4;
		} else {
			*w = *p++;
		}
	}
	*w = '\0';
	return true;
}

/* Is DIR (absolute, as the kernel shows it) a mount point? Read from
 * mountinfo, so a dead FUSE daemon can't make us hang on a stat. */
static bool is_mount_point(const char *dir)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[PATH_MAX * 4 + 256];
	struct mountinfo_entry e;
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = mountinfo_parse(line, &e) && !strcmp(e.point, dir);
	fclose(f);
	return found;
}

/* Is this process in the cgroup of UNIT? */
static bool in_unit(const char *unit)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[1024];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, unit) != NULL;
	fclose(f);
	return found;
}

/* The daemon joins a systemd scope of its own where systemd runs, so a
 * restart of kubelet (and its cgroup) does not take the volume down:
 * systemd-run --scope does the same for a new command. busctl returns
 * once the job is queued, so wait until the move is done. */
static void escape_to_scope(void)
{
	char unit[64], pidbuf[32];
	pid_t pid = getpid(), child;
	int status = -1;

	if (access("/run/systemd/system", F_OK))
		return;
	snprintf(unit, sizeof(unit), "podfs-%d.scope", (int)pid);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	child = fork();
	if (child == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		execlp("busctl", "busctl", "call", "--quiet",
		       "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
		       "org.freedesktop.systemd1.Manager", "StartTransientUnit",
		       "ssa(sv)a(sa(sv))", unit, "fail", "2", "PIDs", "au", "1",
		       pidbuf, "CollectMode", "s", "inactive-or-failed", "0",
		       (char *)NULL);
		_exit(127);
	}
	if (child > 0)
		waitpid(child, &status, 0);
	for (int i = 0; i < 100 && status == 0 && !in_unit(unit); i++)
		usleep(20000);
	if (status != 0 || !in_unit(unit))
		fprintf(stderr,
			PROG ": warning: could not move the daemon into systemd "
			"scope %s (busctl %s); it stays in the caller's cgroup\n",
			unit, status == 0 ? "timed out" : "failed");
}

/* The daemon's stdio: /dev/null, or the log file (never world-readable). */
static int redirect_stdio(const char *log, char *err, size_t errlen)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int out = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			     0600)
		      : null;

	if (null < 0 || out < 0)
		return fail(err, errlen, "cannot open %s: %s",
			    log ? log : "/dev/null", strerror(errno));
	dup2(null, STDIN_FILENO);
	dup2(out, STDOUT_FILENO);
	dup2(out, STDERR_FILENO);
	if (out != null)
		close(out);
	close(null);
	return 0;
}

/* The FUSE mount options: fsname shows the source in mountinfo. */
static int fuse_args_for(const struct mount_request *req,
			 struct fuse_args *args)
{
	char *opts = NULL;
	int ret = 0;

	ret |= fuse_opt_add_arg(args, PROG);
	ret |= fuse_opt_add_opt_escaped(&opts, req->source);
	if (!ret) {
		char *fsname = NULL;

		if (asprintf(&fsname, "fsname=%s", opts) < 0)
			ret = -1;
		free(opts);
		opts = fsname;
	}
	ret |= fuse_opt_add_opt(&opts, "subtype=podfs");
	if (req->allow_other)
		ret |= fuse_opt_add_opt(&opts, "allow_other");
	if (req->default_permissions)
		ret |= fuse_opt_add_opt(&opts, "default_permissions");
	if (req->readonly)
		ret |= fuse_opt_add_opt(&opts, "ro");
	if (req->fuse_opts)
		ret |= fuse_opt_add_opt(&opts, req->fuse_opts);
	ret |= fuse_opt_add_arg(args, "-o");
	ret |= fuse_opt_add_arg(args, opts);
	free(opts);
	return ret ? -1 : 0;
}

/* Tells the waiting parent how the mount went: "" for mounted, else the
 * message. */
static void report(int fd, const char *msg)
{
	if (fd < 0)
		return;
	if (write(fd, msg, strlen(msg) + 1) < 0) {
		/* the parent is gone; nothing to tell */
	}
	close(fd);
}

/* Attaches, mounts and serves until unmounted or signalled. STATUS_FD,
 * if not -1, hears "" once mounted or the error. Returns the exit code. */
static int serve(struct mount_request *req, int status_fd)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct podfs_fuse pf = {
		.fsgroup = req->fsgroup,
		.verbose = req->verbose,
		.notify_lock = PTHREAD_MUTEX_INITIALIZER,
	};
	struct fuse_session *se = NULL;
	struct fuse_loop_config *loop = NULL;
	struct podfs_watch *watch = NULL;
	char msg[1024], *real = NULL;
	int ret = EX_FAIL, err;

	/* before the library starts threads: they all leave SIGTERM to
	 * the watch */
	err = podfs_watch_signals();
	if (err) {
		report(status_fd, "cannot set up signals");
		return EX_SYSERR;
	}

	/* Sixteen FUSE threads and the backend's would each get a malloc
	 * arena of their own (up to 8 per CPU), every one keeping freed
	 * I/O buffers: the daemon's memory would follow its thread count,
	 * not cache_size. Two arenas keep contention low and memory flat.
	 * (A fixed mmap threshold would bound libcephfs' heap as well, but
	 * measured reads over CephFS 2.5 times slower with it.) */
	mallopt(M_ARENA_MAX, 2);
	pf.vol = podfs_new();
	if (!pf.vol) {
		report(status_fd, "out of memory");
		return EX_SYSERR;
	}
	if (req->secret && podfs_set_secret(pf.vol, req->secret)) {
		snprintf(msg, sizeof(msg), "%s", podfs_errmsg(pf.vol));
		goto out;
	}
	podfs_set_invalidate(pf.vol, podfs_fuse_invalidate, &pf);
	err = podfs_attach(pf.vol, req->source, req->lib_opts);
	if (err) {
		snprintf(msg, sizeof(msg), "%s", podfs_errmsg(pf.vol));
		goto out;
	}
	pf.coherent = podfs_coherent(pf.vol);
	if (fuse_args_for(req, &args)) {
		snprintf(msg, sizeof(msg), "out of memory");
		goto out;
	}
	se = fuse_session_new(&args, &podfs_fuse_ops, sizeof(podfs_fuse_ops),
			      &pf);
	if (!se) {
		snprintf(msg, sizeof(msg), "cannot start a FUSE session");
		goto out;
	}
	/* resolved now: once mounted, resolving would ask the mount,
	 * which does not answer before its loop runs */
	real = realpath(req->dir, NULL);
	if (fuse_session_mount(se, req->dir)) {
		snprintf(msg, sizeof(msg),
			 "cannot mount on %s (is /dev/fuse there, and are "
			 "we root?)", req->dir);
		goto out;
	}
	if (status_fd >= 0 && redirect_stdio(req->log, msg, sizeof(msg))) {
		fuse_session_unmount(se);
		goto out;
	}
	report(status_fd, "");
	status_fd = -1;
	fprintf(stderr, PROG ": %s mounted on %s%s%s\n", req->source, req->dir,
		req->pod ? " for pod " : "", req->pod ? req->pod : "");
	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, 16);
	podfs_fuse_set_session(&pf, se);
	err = podfs_watch_start(&watch, pf.vol, se, real ? real : req->dir);
	if (err)
		fprintf(stderr, PROG ": %s: cannot watch for SIGTERM and "
				"unmounts: %s\n",
			req->dir, strerror(-err));
	/* a positive value is the signal that ended the loop: a clean stop */
	ret = fuse_session_loop_mt(se, loop) < 0 ? EX_FAIL : 0;
	podfs_watch_loop_done(watch);
	podfs_fuse_set_session(&pf, NULL);
	fuse_loop_cfg_destroy(loop);
	fuse_session_unmount(se);
	msg[0] = '\0';
out:
	if (se)
		fuse_session_destroy(se);
	free(real);
	fuse_opt_free_args(&args);
	/* detach flushes what the pod wrote */
	if (podfs_detach(pf.vol) && ret == 0) {
		fprintf(stderr, PROG ": %s: %s\n", req->dir,
			podfs_errmsg(pf.vol));
		ret = EX_FAIL;
	}
	podfs_watch_stop(watch);
	podfs_free(pf.vol);
	if (status_fd >= 0) {
		report(status_fd, msg[0] ? msg : "failed");
	} else if (msg[0]) {
		fprintf(stderr, PROG ": %s\n", msg);
	}
	return ret;
}

/* The kernel reads ahead no more than the mount's read_ahead_kb (128 KiB
 * by default), whatever FUSE's max_readahead says: a sequential reader
 * then waits on a round trip to the server per 128 KiB. Raise it to what
 * the daemon takes in one read. Best effort: without root or with a
 * read-only /sys reads just come in smaller pieces. */
static void raise_readahead(const char *dir)
{
	char path[64], kb[16];
	struct stat st;
	int fd, n;

	if (stat(dir, &st))
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		 major(st.st_dev), minor(st.st_dev));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = snprintf(kb, sizeof(kb), "%u", PODFS_FUSE_IO_MAX / 1024);
	if (write(fd, kb, (size_t)n) != n) {
		/* keeps the default */
	}
	close(fd);
}

/* Blocks until the mount at DIR answers (the daemon's loop serves). */
static int check_answers(const char *dir, char *err, size_t errlen)
{
	struct statfs st;

	if (statfs(dir, &st))
		return fail(err, errlen, "%s does not answer: %s", dir,
			    strerror(errno));
	if (st.f_type != FUSE_SUPER_MAGIC)
		return fail(err, errlen, "%s is not a FUSE mount after mounting",
			    dir);
	raise_readahead(dir);
	return 0;
}

/* Drops option NAME (the whole "NAME" or "NAME=..." item) from LIST. */
static void drop_option(char *list, const char *name, size_t n)
{
	char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");

		if ((len == n || (len > n && p[n] == '=')) && !strncmp(p, name, n)) {
			char *next = p + len + (p[len] == ',');

			memmove(p, next, strlen(next) + 1);
			if (!*p && p > list)
				p[-1] = '\0';
			return;
		}
		p += len + (p[len] == ',');
	}
}

/* A CephFS mount names its client after its mount point, so the daemon
 * of a remount takes over the session a killed one left, instead of
 * everyone waiting for the MDS to time it out. An explicit client_id=
 * wins. */
static int set_client_id(struct mount_request *req, char *err, size_t errlen)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	char id[32];

	if (req->lib_opts && (!strncmp(req->lib_opts, "client_id=", 10) ||
			      strstr(req->lib_opts, ",client_id=")))
		return 0;
	for (const char *p = req->dir; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	snprintf(id, sizeof(id), "mnt-%016llx", (unsigned long long)h);
	if (opts_append(&req->lib_opts, "client_id", id))
		return fail(err, errlen, "out of memory");
	return 0;
}

/* Parses source and options as the daemon will, so a bad one fails here
 * at once; with -s (sloppy) options the library does not know are dropped. */
static int check_options(struct mount_request *req, char *err, size_t errlen)
{
	static const char unknown[] = "unknown option '";
	podfs_volume *vol = podfs_new();
	int ret;

	if (!vol)
		return fail(err, errlen, "out of memory");
	for (;;) {
		const char *msg, *name;

		ret = podfs_parse(vol, req->source, req->lib_opts);
		if (!ret || !req->sloppy || !req->lib_opts)
			break;
		msg = podfs_errmsg(vol);
		name = strstr(msg, unknown);
		if (ret != -EINVAL || !name)
			break;
		name += strlen(unknown);
		if (req->verbose)
			fprintf(stderr, PROG ": ignoring %.*s (-s)\n",
				(int)strcspn(name, "'"), name);
		drop_option(req->lib_opts, name, strcspn(name, "'"));
	}
	if (ret)
		fail(err, errlen, "%s", podfs_errmsg(vol));
	else if (req->secret && strcmp(podfs_backend_name(vol), "ceph"))
		ret = fail(err, errlen, "a key was given, but %s volumes take none",
			   podfs_backend_name(vol));
	else if (!strcmp(podfs_backend_name(vol), "ceph"))
		ret = set_client_id(req, err, errlen);
	podfs_free(vol);
	return ret ? -1 : 0;
}

int mount_volume(struct mount_request *req, char *err, size_t errlen)
{
	struct stat st;
	char msg[1024];
	int pipefd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	if (stat(req->dir, &st))
		return fail(err, errlen, "mount point %s: %s", req->dir,
			    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(err, errlen, "mount point %s is not a directory",
			    req->dir);
	if (is_mount_point(req->dir))
		return fail(err, errlen, "%s is already mounted", req->dir);
	if (check_options(req, err, errlen))
		return -1;
	if (req->foreground)
		return serve(req, -1) ? fail(err, errlen, "%s: unmounted with an error",
					   req->dir)
				      : 0;

	/* Fork before the library starts threads (libcephfs does); the
	 * parent waits to hear how the mount went. */
	if (pipe2(pipefd, O_CLOEXEC))
		return fail(err, errlen, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return fail(err, errlen, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(pipefd[0]);
		setsid();
		signal(SIGHUP, SIG_IGN);
		escape_to_scope();
		/* a second fork: the daemon is no session leader, and the
		 * mount(8) that waits for us can't be its parent */
		pid = fork();
		if (pid != 0)
			_exit(pid < 0 ? EX_SYSERR : 0);
		if (chdir("/")) {
			/* stay where we are */
		}
		_exit(serve(req, pipefd[1]));
	}
	close(pipefd[1]);
	waitpid(pid, &status, 0);
	while (got < (ssize_t)sizeof(msg) - 1 &&
	       (n = read(pipefd[0], msg + got, sizeof(msg) - 1 - (size_t)got)) > 0)
		got += n;
	close(pipefd[0]);
	msg[got] = '\0';
	if (got == 0)
		return fail(err, errlen, "the mount daemon died before mounting");
	if (msg[0])
		return fail(err, errlen, "%s", msg);
	return check_answers(req->dir, err, errlen);
}

int unmount_volume(const char *dir, char *err, size_t errlen)
{
	/* done already: kubelet may ask twice */
	if (!is_mount_point(dir))
		return 0;
	if (umount2(dir, 0) == 0)
		return 0;
	/* A dead daemon leaves "Transport endpoint is not connected"; a
	 * busy mount goes once its last user lets go. */
	if ((errno == EBUSY || errno == ENOTCONN) &&
	    umount2(dir, MNT_DETACH) == 0)
		return 0;
	return fail(err, errlen, "cannot unmount %s: %s", dir, strerror(errno));
}
