/*
 * Recovery of NFS volumes from a server restart, NFSv3 and NFSv4, against
 * a real nfs-ganesha of the test's own (tests/servers/nfs-server.sh in a
 * scratch directory, restarted on the same ports): hard mounts wait and
 * then succeed with the right data; soft ones fail in bounded time and
 * work again once the server is back; data a restart lost before its
 * COMMIT is sent again.
 */
#include <check.h>
#include <podfs/podfs.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* A call that does not come back within this long is a hang, whatever the
 * mount's options (a guard, not a speed figure). */
#define HANG_GUARD 15.0
/* How long `restart` keeps the server down. */
#define DOWN_SECONDS "2"
/* The server's NFSv4 lease: short, so that an idle open file outlives
 * it within the test (podfs must renew it). */
#define LEASE_SECONDS 3

#define PODFS_STR_(x) #x
#define PODFS_STR(x) PODFS_STR_(x)

#define BLOCK 4096
#define NBLOCKS 16
#define FILE_SIZE (BLOCK * NBLOCKS)
#define NWORKERS 3

/* ---- the test's own server ----------------------------------------------- */

static char script[1024];     /* tests/servers/nfs-server.sh */
static char scratch[256];     /* its scratch directory */
static char export_dir[1024]; /* the directory ganesha exports */
static char url3[1024], url4[1024];
static char env_problem[2048]; /* why the tests cannot run, or "" */
static pid_t main_pid;

/* Runs `nfs-server.sh CMD SCRATCH` (with ENV added to the environment)
 * and returns its exit status, -1 if it could not run. Safe in a process
 * with threads: posix_spawn, no shell. */
static int server_cmd_env(const char *cmd, const char *env)
{
	static char lease[] = "NFS_LEASE_LIFETIME=" PODFS_STR(LEASE_SECONDS);
	char *argv[] = { script, (char *)cmd, scratch, NULL };
	size_t n = 0, i;
	char **envp;
	pid_t pid;
	int status;

	while (environ[n])
		n++;
	envp = calloc(n + 3, sizeof(*envp));
	if (!envp)
		return -1;
	for (i = 0; i < n; i++)
		envp[i] = environ[i];
	envp[n++] = lease; /* every start: the config is written anew */
	if (env)
		envp[n++] = (char *)env;
	if (posix_spawn(&pid, script, NULL, NULL, argv, envp)) {
		free(envp);
		return -1;
	}
	free(envp);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int server_cmd(const char *cmd)
{
	return server_cmd_env(cmd, NULL);
}

static void server_do(const char *cmd, const char *env)
{
	int st = server_cmd_env(cmd, env);

	ck_assert_msg(st == 0, "%s %s %s failed (status %d)", script, cmd,
		      scratch, st);
}

/* The value of NAME in SCRATCH/nfs.env (NAME=value or NAME='value'). */
static bool env_value(const char *name, char *out, size_t size)
{
	char path[512], line[2048];
	size_t len = strlen(name);
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/nfs.env", scratch);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *v = line + len + 1, *end;

		if (strncmp(line, name, len) || line[len] != '=')
			continue;
		v[strcspn(v, "\n")] = '\0';
		if (*v == '\'') {
			v++;
			end = strrchr(v, '\'');
			if (end)
				*end = '\0';
		}
		snprintf(out, size, "%s", v);
		found = true;
	}
	fclose(f);
	return found;
}

static void find_script(void)
{
	const char *dir = getenv("PODFS_TEST_SERVERS_DIR");
	const char *srcdir = getenv("srcdir"); /* automake's harness */

	if (dir && *dir)
		snprintf(script, sizeof(script), "%s/nfs-server.sh", dir);
	else
		snprintf(script, sizeof(script), "%s/tests/servers/nfs-server.sh",
			 srcdir && *srcdir ? srcdir : ".");
}

/* Starts the test's own server; on failure says why in env_problem. */
static void start_server(void)
{
	char tmpl[] = "/tmp/podfs-recovery.XXXXXX";

	find_script();
	if (access(script, X_OK)) {
		snprintf(env_problem, sizeof(env_problem),
			 "%s not found: run from the top of the tree, or set "
			 "PODFS_TEST_SERVERS_DIR or srcdir",
			 script);
		return;
	}
	if (!mkdtemp(tmpl)) {
		snprintf(env_problem, sizeof(env_problem), "mkdtemp: %s",
			 strerror(errno));
		return;
	}
	snprintf(scratch, sizeof(scratch), "%s", tmpl);
	if (server_cmd("start")) {
		snprintf(env_problem, sizeof(env_problem),
			 "%s start %s failed (it needs root, nfs-ganesha, "
			 "nfs-ganesha-vfs and rpcbind; see its messages above)",
			 script, scratch);
		return;
	}
	if (!env_value("PODFS_TEST_NFS3", url3, sizeof(url3)) ||
	    !env_value("PODFS_TEST_NFS4", url4, sizeof(url4)) ||
	    !env_value("PODFS_TEST_NFS_DIR", export_dir, sizeof(export_dir)))
		snprintf(env_problem, sizeof(env_problem),
			 "%s/nfs.env lacks PODFS_TEST_NFS3/NFS4/NFS_DIR",
			 scratch);
}

static void stop_server(void)
{
	char *argv[] = { "rm", "-rf", "--", scratch, NULL };
	pid_t pid;

	if (!scratch[0])
		return;
	server_cmd("stop");
	if (!posix_spawnp(&pid, "rm", NULL, NULL, argv, environ))
		waitpid(pid, NULL, 0);
}

/* Interrupted: the server must not outlive us. */
static void on_signal(int sig)
{
	if (getpid() == main_pid && scratch[0]) {
		char *argv[] = { script, "stop", scratch, NULL };
		pid_t pid;

		if (!posix_spawn(&pid, script, NULL, NULL, argv, environ))
			waitpid(pid, NULL, 0);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- helpers ------------------------------------------------------------- */

static const char *ename(long long r)
{
	const char *n;

	if (r >= 0)
		return "ok";
	n = r < -4095 ? NULL : strerrorname_np((int)-r);
	return n ? n : "?";
}

#define OK(v, expr)                                                            \
	do {                                                                   \
		long long r_ = (long long)(expr);                              \
		ck_assert_msg(r_ >= 0, "%s = %lld (%s): %s", #expr, r_,        \
			      ename(r_), podfs_errmsg(v));                     \
	} while (0)

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* BLOCK bytes only (ID, N) give. */
static void fill(unsigned char *p, size_t len, unsigned id, unsigned n)
{
	uint32_t x = id * 2654435761u ^ (n + 1) * 40503u;

	for (size_t i = 0; i < len; i++) {
		x = x * 1664525u + 1013904223u;
		p[i] = (unsigned char)(x >> 24);
	}
}

static void expect_bytes(const unsigned char *got, const unsigned char *want,
			 size_t len, const char *what)
{
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			ck_abort_msg("%s: byte %zu of %zu is 0x%02x, expected "
				     "0x%02x", what, i, len, got[i], want[i]);
}

/* Reads all of PATH (FILE_SIZE bytes) through FILE. */
static void expect_file(podfs_volume *v, podfs_file *file,
			const unsigned char *want, const char *what)
{
	unsigned char buf[FILE_SIZE];
	ssize_t n = podfs_pread(v, file, buf, sizeof(buf), 0);

	ck_assert_msg(n == FILE_SIZE, "%s: pread = %zd (%s): %s", what, n,
		      ename(n), podfs_errmsg(v));
	expect_bytes(buf, want, FILE_SIZE, what);
}

/* The server's own copy of NAME (under the export): LEN bytes, WANT's. */
static void expect_on_server_n(const char *name, const unsigned char *want,
			       size_t len)
{
	unsigned char buf[FILE_SIZE + 1];
	char path[2048];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", export_dir, name);
	f = fopen(path, "rb");
	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	ck_assert_msg(n == len, "%s holds %zu bytes, expected %zu", path, n,
		      len);
	expect_bytes(buf, want, len, path);
}

static void expect_on_server(const char *name, const unsigned char *want)
{
	expect_on_server_n(name, want, FILE_SIZE);
}

static const char *vers_url(int vers)
{
	return vers == 3 ? url3 : url4;
}

static podfs_volume *attach(int vers, const char *options)
{
	podfs_volume *v = podfs_new();

	ck_assert(v);
	ck_assert_msg(!podfs_attach(v, vers_url(vers), options),
		      "attach %s (%s): %s", vers_url(vers),
		      options ? options : "", podfs_errmsg(v));
	return v;
}

/* A file NAME of FILE_SIZE bytes made of (ID, block) data, open. */
static podfs_file *make_file(podfs_volume *v, const char *name, unsigned id,
			     unsigned char *content)
{
	podfs_file *f;

	OK(v, podfs_open(v, name, O_RDWR | O_CREAT | O_TRUNC, 0644, &f));
	for (unsigned b = 0; b < NBLOCKS; b++)
		fill(content + b * BLOCK, BLOCK, id, 1000000 + b);
	ck_assert_msg(podfs_pwrite(v, f, content, FILE_SIZE, 0) == FILE_SIZE,
		      "write %s: %s", name, podfs_errmsg(v));
	OK(v, podfs_fsync(v, f, 0));
	return f;
}

/* Every test starts with the server up, whatever a failed one left. */
static void server_up(void)
{
	if (!env_problem[0])
		server_do("up", NULL);
}

START_TEST(test_environment)
{
	ck_abort_msg("%s", env_problem);
}
END_TEST

/* ---- hard: calls in flight wait for the server, then succeed ------------- */

struct worker {
	podfs_volume *vol;
	podfs_file *file;
	char path[256];
	unsigned id;
	unsigned char shadow[FILE_SIZE]; /* what the file must hold */
	atomic_bool *stop;
	atomic_long ops;
	double max_call; /* the longest call, seconds */
	long errors;
	char first_error[1024];
};

static void worker_fail(struct worker *w, const char *call, long long r)
{
	if (!w->errors++)
		snprintf(w->first_error, sizeof(w->first_error),
			 "%s %s: %lld (%s): %s", call, w->path, r, ename(r),
			 r < 0 ? podfs_errmsg(w->vol) : "wrong data");
}

static void worker_time(struct worker *w, double t0)
{
	double d = now_mono() - t0;

	if (d > w->max_call)
		w->max_call = d;
}

/* Writes, reads back and stats its own file until told to stop: no call
 * may fail, every read must see the last write. */
static void *data_worker(void *arg)
{
	struct worker *w = arg;
	unsigned char block[BLOCK], got[BLOCK];
	struct stat st;
	unsigned n = 0;

	while (!atomic_load(w->stop)) {
		unsigned b = (n * 7 + w->id) % NBLOCKS;
		off_t off = (off_t)b * BLOCK;
		double t0;
		ssize_t r;

		fill(block, BLOCK, w->id, n);
		t0 = now_mono();
		r = podfs_pwrite(w->vol, w->file, block, BLOCK, off);
		worker_time(w, t0);
		if (r != BLOCK) {
			worker_fail(w, "pwrite", r);
			break;
		}
		memcpy(w->shadow + off, block, BLOCK);
		t0 = now_mono();
		r = podfs_pread(w->vol, w->file, got, BLOCK, off);
		worker_time(w, t0);
		if (r != BLOCK || memcmp(got, block, BLOCK)) {
			worker_fail(w, "pread", r);
			break;
		}
		t0 = now_mono();
		r = podfs_stat(w->vol, w->path, &st);
		worker_time(w, t0);
		if (r || st.st_size != FILE_SIZE) {
			worker_fail(w, "stat", r ? r : st.st_size);
			break;
		}
		n++;
		atomic_fetch_add(&w->ops, 1);
	}
	return NULL;
}

/* Lists the test's directory over and over. */
static void *dir_worker(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(w->stop)) {
		struct podfs_dirent ent;
		int count = 0, r;
		podfs_dir *d;
		double t0;

		t0 = now_mono();
		r = podfs_opendir(w->vol, w->path, &d);
		if (r) {
			worker_time(w, t0);
			worker_fail(w, "opendir", r);
			break;
		}
		while ((r = podfs_readdir(w->vol, d, &ent)) == 1)
			count++;
		podfs_closedir(w->vol, d);
		worker_time(w, t0);
		if (r || count != NWORKERS + 1) {
			worker_fail(w, "readdir", r ? r : count);
			break;
		}
		atomic_fetch_add(&w->ops, 1);
	}
	return NULL;
}

static void hard_restart(int vers)
{
	static struct worker workers[NWORKERS + 1];
	unsigned char idle_data[FILE_SIZE];
	pthread_t threads[NWORKERS + 1];
	atomic_bool stop = false;
	char dir[128], name[256];
	podfs_file *idle, *f;
	long ops_at_up[NWORKERS + 1];
	double t_down, t_up, max_call = 0, deadline;
	podfs_volume *v;
	int i;

	v = attach(vers, NULL); /* hard is the default */
	snprintf(dir, sizeof(dir), "/hard%d-%d", vers, (int)getpid());
	OK(v, podfs_mkdir(v, dir, 0755));
	for (i = 0; i < NWORKERS; i++) {
		struct worker *w = &workers[i];

		memset(w, 0, sizeof(*w));
		w->vol = v;
		w->id = (unsigned)i + 1;
		w->stop = &stop;
		snprintf(w->path, sizeof(w->path), "%s/w%d", dir, i);
		w->file = make_file(v, w->path, w->id, w->shadow);
	}
	/* Open before the restart, untouched during it. */
	snprintf(name, sizeof(name), "%s/idle", dir);
	idle = make_file(v, name, 99, idle_data);
	memset(&workers[NWORKERS], 0, sizeof(workers[NWORKERS]));
	workers[NWORKERS].vol = v;
	workers[NWORKERS].stop = &stop;
	snprintf(workers[NWORKERS].path, sizeof(workers[0].path), "%s", dir);

	for (i = 0; i < NWORKERS; i++)
		ck_assert(!pthread_create(&threads[i], NULL, data_worker,
					  &workers[i]));
	ck_assert(!pthread_create(&threads[NWORKERS], NULL, dir_worker,
				  &workers[NWORKERS]));
	sleep_s(0.3);
	t_down = now_mono();
	server_do("restart", "NFS_RESTART_DOWN=" DOWN_SECONDS);
	t_up = now_mono();
	for (i = 0; i <= NWORKERS; i++)
		ops_at_up[i] = atomic_load(&workers[i].ops);
	/* Every worker must get going again (or fail: then it stops). */
	deadline = now_mono() + 30;
	for (i = 0; i <= NWORKERS && now_mono() < deadline;) {
		if (atomic_load(&workers[i].ops) >= ops_at_up[i] + 10 ||
		    workers[i].errors)
			i++;
		else
			sleep_s(0.05);
	}
	atomic_store(&stop, true);
	for (i = 0; i <= NWORKERS; i++)
		pthread_join(threads[i], NULL);

	for (i = 0; i <= NWORKERS; i++) {
		struct worker *w = &workers[i];

		ck_assert_msg(!w->errors, "NFSv%d, hard: %ld failed calls; first: %s",
			      vers, w->errors, w->first_error);
		ck_assert_msg(atomic_load(&w->ops) >= ops_at_up[i] + 10,
			      "NFSv%d: worker %d made only %ld calls in 30 s after the restart",
			      vers, i, atomic_load(&w->ops) - ops_at_up[i]);
		if (w->max_call > max_call)
			max_call = w->max_call;
	}
	fprintf(stderr,
		"NFSv%d hard: server down %.2f s (restart took %.2f s); the "
		"longest call waited %.2f s; no call failed\n",
		vers, atof(DOWN_SECONDS), t_up - t_down, max_call);
	/* Calls were made all along: some must have waited for the server. */
	ck_assert_msg(max_call > 1.0,
		      "NFSv%d: no call waited for the server (longest %.2f s): "
		      "did it restart?", vers, max_call);

	/* Byte-exact, through the same open files, and on the server. */
	for (i = 0; i < NWORKERS; i++) {
		struct worker *w = &workers[i];

		OK(v, podfs_fsync(v, w->file, 0));
		expect_file(v, w->file, w->shadow, w->path);
		expect_on_server(w->path + 1, w->shadow);
	}
	expect_file(v, idle, idle_data, "the idle file open across the restart");
	OK(v, podfs_pwrite(v, idle, "x", 1, 0));
	idle_data[0] = 'x';
	OK(v, podfs_close(v, idle));
	expect_on_server(name + 1, idle_data);

	/* And opened afresh. */
	OK(v, podfs_close(v, workers[0].file));
	OK(v, podfs_open(v, workers[0].path, O_RDONLY, 0, &f));
	expect_file(v, f, workers[0].shadow, "reopened after the restart");
	OK(v, podfs_close(v, f));

	for (i = 1; i < NWORKERS; i++)
		OK(v, podfs_close(v, workers[i].file));
	for (i = 0; i < NWORKERS; i++)
		OK(v, podfs_unlink(v, workers[i].path));
	OK(v, podfs_unlink(v, name));
	OK(v, podfs_rmdir(v, dir));
	podfs_free(v);
}

START_TEST(test_hard_restart_v3)
{
	hard_restart(3);
}
END_TEST

START_TEST(test_hard_restart_v4)
{
	hard_restart(4);
}
END_TEST

/* ---- soft: bounded failure while down, working again once up ------------- */

/* timeo=10 (1 s) and retrans=1: calls give up after about 2 s. Without
 * the data cache, so that every read and write here asks the server (a
 * cached read needs no server, and a write is sent later). */
#define SOFT_OPTIONS "soft,timeo=10,retrans=1,cache=none"

struct soft_caller {
	podfs_volume *vol;
	char path[64];
	int ret;
	double took;
};

static void *soft_stat(void *arg)
{
	struct soft_caller *s = arg;
	struct stat st;
	double t0 = now_mono();

	s->ret = podfs_stat(s->vol, s->path, &st);
	s->took = now_mono() - t0;
	return NULL;
}

/* A failed call while the server is down: -ETIMEDOUT (or -EIO), within
 * the guard, with a message. */
static void expect_down(podfs_volume *v, long long r, double took,
			const char *call, int vers)
{
	const char *m = podfs_errmsg(v);

	ck_assert_msg(r == -ETIMEDOUT || r == -EIO,
		      "NFSv%d, soft, server down: %s = %lld (%s), expected "
		      "-ETIMEDOUT or -EIO: %s",
		      vers, call, r, ename(r), m);
	ck_assert_msg(took < HANG_GUARD,
		      "NFSv%d, soft: %s took %.1f s with the server down", vers,
		      call, took);
	ck_assert_msg(m && *m, "%s failed without a message", call);
	fprintf(stderr, "NFSv%d soft, server down: %s -> %s after %.2f s: %s\n",
		vers, call, ename(r), took, m);
}

static void soft_down(int vers)
{
	struct soft_caller callers[6];
	pthread_t threads[6];
	unsigned char data[FILE_SIZE], buf[FILE_SIZE];
	char dir[128], name[256], other[256];
	podfs_volume *v, *hard;
	podfs_file *f, *g, *h;
	struct stat st;
	double t0;
	ssize_t r;
	int i;

	v = attach(vers, SOFT_OPTIONS);
	snprintf(dir, sizeof(dir), "/soft%d-%d", vers, (int)getpid());
	OK(v, podfs_mkdir(v, dir, 0755));
	snprintf(name, sizeof(name), "%s/f", dir);
	f = make_file(v, name, 7, data);
	/* A hard volume with a file open, to be let go of while down. */
	hard = attach(vers, NULL);
	OK(hard, podfs_open(hard, name, O_RDONLY, 0, &h));

	server_do("down", NULL);

	t0 = now_mono();
	r = podfs_pread(v, f, buf, BLOCK, 0);
	expect_down(v, r, now_mono() - t0, "pread", vers);
	t0 = now_mono();
	r = podfs_pwrite(v, f, buf, BLOCK, 0);
	expect_down(v, r, now_mono() - t0, "pwrite", vers);
	t0 = now_mono();
	r = podfs_stat(v, "/never-looked-up", &st);
	expect_down(v, r, now_mono() - t0, "stat", vers);

	/* More callers than connections: the ones waiting for a connection
	 * are bounded too. */
	for (i = 0; i < 6; i++) {
		callers[i].vol = v;
		snprintf(callers[i].path, sizeof(callers[i].path),
			 "/never-%d", i);
		ck_assert(!pthread_create(&threads[i], NULL, soft_stat,
					  &callers[i]));
	}
	for (i = 0; i < 6; i++) {
		pthread_join(threads[i], NULL);
		ck_assert_msg(callers[i].ret == -ETIMEDOUT ||
				      callers[i].ret == -EIO,
			      "NFSv%d, soft, server down: stat from thread %d = %d (%s)",
			      vers, i, callers[i].ret, ename(callers[i].ret));
		ck_assert_msg(callers[i].took < HANG_GUARD,
			      "NFSv%d, soft: stat from thread %d took %.1f s",
			      vers, i, callers[i].took);
	}

	/* Detaching never waits for the server, even a hard volume's. */
	t0 = now_mono();
	podfs_free(hard);
	ck_assert_msg(now_mono() - t0 < HANG_GUARD,
		      "NFSv%d: detaching with the server down took %.1f s", vers,
		      now_mono() - t0);
	fprintf(stderr, "NFSv%d: a hard volume with an open file detached in "
		"%.2f s with the server down\n", vers, now_mono() - t0);

	server_do("up", NULL);

	/* The same volume and open file work again. */
	t0 = now_mono();
	expect_file(v, f, data, "the open file after the server came back");
	fprintf(stderr, "NFSv%d soft: first call after the server came back "
		"took %.2f s\n", vers, now_mono() - t0);
	fill(data, BLOCK, 8, 0);
	ck_assert_msg(podfs_pwrite(v, f, data, BLOCK, 0) == BLOCK,
		      "pwrite after the server came back: %s", podfs_errmsg(v));
	OK(v, podfs_fsync(v, f, 0));
	expect_file(v, f, data, "written after the server came back");
	OK(v, podfs_stat(v, name, &st));
	ck_assert_int_eq(st.st_size, FILE_SIZE);
	snprintf(other, sizeof(other), "%s/new", dir);
	OK(v, podfs_open(v, other, O_RDWR | O_CREAT | O_EXCL, 0644, &g));
	OK(v, podfs_close(v, g));
	OK(v, podfs_close(v, f));
	expect_on_server(name + 1, data);
	OK(v, podfs_unlink(v, name));
	OK(v, podfs_unlink(v, other));
	OK(v, podfs_rmdir(v, dir));
	podfs_free(v);
}

START_TEST(test_soft_down_v3)
{
	soft_down(3);
}
END_TEST

START_TEST(test_soft_down_v4)
{
	soft_down(4);
}
END_TEST

/* ---- shutdown: a hard volume stops waiting for a server that is gone ------ */

/* A hard volume (timeo=10, retrans=1: a 2 s timeout) whose server went
 * away: a call waits (hard), podfs_shutdown makes it give up within the
 * timeout, and detach, with written data it can no longer send, ends in
 * the same time and says so. What was fsynced before stays. */
static void shutdown_down(int vers)
{
	unsigned char data[FILE_SIZE], buf[BLOCK];
	struct soft_caller waiter;
	char name[256];
	podfs_volume *v;
	podfs_file *f;
	pthread_t th;
	unsigned int ms;
	double t0;
	int ret;

	v = attach(vers, "hard,timeo=10,retrans=1");
	snprintf(name, sizeof(name), "/shutdown%d-%d", vers, (int)getpid());
	f = make_file(v, name, 9, data);
	/* written, not sent yet: the data cache holds it */
	fill(buf, BLOCK, 10, 0);
	ck_assert_int_eq(podfs_pwrite(v, f, buf, BLOCK, FILE_SIZE), BLOCK);

	server_do("down", NULL);
	waiter.vol = v;
	snprintf(waiter.path, sizeof(waiter.path), "/never-%d", vers);
	waiter.ret = 1;
	ck_assert(!pthread_create(&th, NULL, soft_stat, &waiter));
	sleep_s(3); /* longer than the timeout: a hard call still waits */
	ck_assert_msg(waiter.ret == 1,
		      "NFSv%d, hard, server down: stat returned %d (%s) "
		      "before the shutdown", vers, waiter.ret,
		      ename(waiter.ret));

	t0 = now_mono();
	ms = podfs_shutdown(v);
	ck_assert_uint_eq(ms, 2000);
	pthread_join(th, NULL);
	ck_assert_msg(waiter.ret == -ETIMEDOUT || waiter.ret == -EIO,
		      "NFSv%d: stat after the shutdown = %d (%s)", vers,
		      waiter.ret, ename(waiter.ret));
	ck_assert_msg(now_mono() - t0 < 2.0 + 1.5,
		      "NFSv%d: the waiting stat ended %.1f s after the "
		      "shutdown, its timeout is 2 s", vers, now_mono() - t0);
	fprintf(stderr, "NFSv%d, hard, server gone: the waiting stat ended "
		"%.2f s after the shutdown\n", vers, now_mono() - t0);

	/* detach: the written block cannot go; it says so, in time */
	t0 = now_mono();
	ret = podfs_detach(v);
	ck_assert_msg(ret < 0, "NFSv%d: detach lost a written block and "
		      "returned %d", vers, ret);
	ck_assert_msg(now_mono() - t0 < 2.0 + 1.5,
		      "NFSv%d: detach after the shutdown took %.1f s", vers,
		      now_mono() - t0);
	fprintf(stderr, "NFSv%d: detach after the shutdown: %.2f s, %s: %s\n",
		vers, now_mono() - t0, ename(ret), podfs_errmsg(v));
	podfs_free(v);

	server_do("up", NULL);
	/* the fsynced part, whatever became of the block after it */
	{
		unsigned char got[FILE_SIZE];
		char path[2048];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/%s", export_dir, name + 1);
		fp = fopen(path, "rb");
		ck_assert_msg(fp, "%s: %s", path, strerror(errno));
		ck_assert_msg(fread(got, 1, FILE_SIZE, fp) == FILE_SIZE,
			      "%s lost fsynced data", path);
		fclose(fp);
		expect_bytes(got, data, FILE_SIZE, path);
	}
	v = attach(vers, NULL);
	OK(v, podfs_unlink(v, name));
	podfs_free(v);
}

START_TEST(test_shutdown_v3)
{
	shutdown_down(3);
}
END_TEST

START_TEST(test_shutdown_v4)
{
	shutdown_down(4);
}
END_TEST

/* ---- NFSv4: an open file outliving its lease ----------------------------- */

/* A file left open and idle longer than the lease keeps its open state:
 * podfs renews the lease (RENEW, a third of the lease apart), so the
 * first read after the idle time is one READ, not a recovery (new client
 * id, OPENs and their confirmations, then the READ). */
START_TEST(test_lease_expiry_v4)
{
	struct podfs_stats s0, s1, s2;
	unsigned char data[FILE_SIZE];
	char name[128];
	podfs_volume *v;
	podfs_file *f;
	double t0;

	/* no data cache: the read after the idle time must be a READ */
	v = attach(4, "cache=none");
	snprintf(name, sizeof(name), "/lease-%d", (int)getpid());
	f = make_file(v, name, 11, data);
	OK(v, podfs_stats(v, &s0));
	sleep_s(2 * LEASE_SECONDS + 1);
	OK(v, podfs_stats(v, &s1));
	ck_assert_msg(s1.calls - s0.calls >= 2,
		      "%llu requests while idle for %d s: the lease of %d s "
		      "was not renewed",
		      (unsigned long long)(s1.calls - s0.calls),
		      2 * LEASE_SECONDS + 1, LEASE_SECONDS);
	t0 = now_mono();
	expect_file(v, f, data, "an open file idle longer than its lease");
	OK(v, podfs_stats(v, &s2));
	/* one READ, maybe beside a RENEW */
	ck_assert_msg(s2.calls - s1.calls <= 2,
		      "the first read after the idle time took %llu requests: "
		      "the open state was lost and recovered",
		      (unsigned long long)(s2.calls - s1.calls));
	fprintf(stderr, "NFSv4: read of a file idle for %d s (lease %d s) "
		"took %.2f s\n", 2 * LEASE_SECONDS + 1, LEASE_SECONDS,
		now_mono() - t0);
	fill(data, BLOCK, 12, 0);
	ck_assert_msg(podfs_pwrite(v, f, data, BLOCK, 0) == BLOCK,
		      "pwrite after the lease expired: %s", podfs_errmsg(v));
	OK(v, podfs_fsync(v, f, 0));
	OK(v, podfs_close(v, f));
	expect_on_server(name + 1, data);
	OK(v, podfs_unlink(v, name));
	podfs_free(v);
}
END_TEST

/* ---- NFSv4: open state reclaimed in the server's grace period -------------- */

/* Longer than HANG_GUARD: what works before it ends worked by reclaim. */
#define GRACE_SECONDS "40"

/*
 * After a restart the server lets its old clients reclaim their opens
 * (OPEN with CLAIM_PREVIOUS) for its grace period, and refuses any other
 * OPEN, and I/O without a reclaimed stateid, with NFS4ERR_GRACE until it
 * ends. A file open across the restart must be read and written well
 * before the grace period ends: only a reclaim makes that possible.
 */
START_TEST(test_grace_reclaim_v4)
{
	unsigned char data[FILE_SIZE];
	char name[128];
	podfs_volume *v;
	podfs_file *f;
	double t0, took;

	v = attach(4, NULL);
	snprintf(name, sizeof(name), "/grace-%d", (int)getpid());
	f = make_file(v, name, 21, data);
	server_do("down", NULL);
	server_do("up", "NFS_GRACE_PERIOD=" GRACE_SECONDS);

	t0 = now_mono();
	expect_file(v, f, data, "an open file in the server's grace period");
	fill(data, BLOCK, 22, 0);
	ck_assert_msg(podfs_pwrite(v, f, data, BLOCK, 0) == BLOCK,
		      "pwrite in the grace period: %s", podfs_errmsg(v));
	OK(v, podfs_fsync(v, f, 0));
	took = now_mono() - t0;
	ck_assert_msg(took < HANG_GUARD,
		      "I/O on a file open across a restart waited %.1f s in "
		      "a grace period of " GRACE_SECONDS " s: its open was "
		      "not reclaimed", took);
	fprintf(stderr, "NFSv4: an open file reclaimed in the grace period; "
		"read, write and fsync took %.2f s\n", took);
	OK(v, podfs_close(v, f));
	expect_on_server(name + 1, data);
	podfs_free(v);

	/* the next tests want a server without a grace period */
	server_do("down", NULL);
	server_do("up", NULL);
	v = attach(4, NULL);
	OK(v, podfs_unlink(v, name));
	podfs_free(v);
}
END_TEST

/* ---- locks across a restart: reclaimed in the grace period, else lost ----- */

/* Long enough for A's renewer (a third of the lease apart) to notice. */
#define LOCK_GRACE_SECONDS "8"

static struct flock lk(short type, off_t start, off_t len)
{
	struct flock l = { .l_type = type, .l_whence = SEEK_SET,
			   .l_start = start, .l_len = len };

	return l;
}

#define ERRV(v, expr, err)                                                     	do {                                                                   		int r_ = (expr);                                               		ck_assert_msg(r_ == -(err), "%s = %d, expected -%s: %s",      			      #expr, r_, #err, podfs_errmsg(v));              	} while (0)

/*
 * A holds a write lock on 0..99 and a read lock from 200 to the end when
 * the server restarts. With a grace period A reclaims both (its renewer
 * notices the restart within a lease): B, another client, is refused the
 * ranges A held (after the grace period: a new lock waits for its end)
 * and gets what A did not hold. Without one nothing can be reclaimed: the
 * locks are lost, and A is told (-EIO at its next lock call and unlock,
 * and on the file's I/O) instead of going on as if it held them.
 */
static void lock_restart(int vers)
{
	struct flock w = lk(F_WRLCK, 0, 100), r = lk(F_RDLCK, 200, 0);
	struct flock all = lk(F_UNLCK, 0, 0);
	podfs_volume *a = attach(vers, "cache=none"), *b = attach(vers, NULL);
	unsigned char data[FILE_SIZE];
	podfs_file *fa, *fb;
	char name[128];
	double t0, took;
	ssize_t n;

	snprintf(name, sizeof(name), "/locks-%d-v%d", (int)getpid(), vers);
	fa = make_file(a, name, 31, data);
	OK(b, podfs_open(b, name, O_RDWR, 0, &fb));
	OK(a, podfs_setlk(a, fa, 1, &w, NULL));
	OK(a, podfs_setlk(a, fa, 1, &r, NULL));

	server_do("down", NULL);
	server_do("up", "NFS_GRACE_PERIOD=" LOCK_GRACE_SECONDS);
	/* A's renewer reclaims within a lease; B's new locks wait for the
	 * grace period's end, then meet A's reclaimed ones */
	sleep_s(LEASE_SECONDS);
	t0 = now_mono();
	ERRV(b, podfs_setlk(b, fb, 2, &(struct flock){ .l_type = F_WRLCK,
			    .l_whence = SEEK_SET, .l_start = 50, .l_len = 10 },
			    NULL), EAGAIN);
	took = now_mono() - t0;
	ERRV(b, podfs_setlk(b, fb, 2, &(struct flock){ .l_type = F_WRLCK,
			    .l_whence = SEEK_SET, .l_start = 1 << 20,
			    .l_len = 1 }, NULL), EAGAIN);
	OK(b, podfs_setlk(b, fb, 2, &(struct flock){ .l_type = F_RDLCK,
			   .l_whence = SEEK_SET, .l_start = 300, .l_len = 1 },
			   NULL));
	OK(b, podfs_setlk(b, fb, 2, &(struct flock){ .l_type = F_WRLCK,
			   .l_whence = SEEK_SET, .l_start = 100, .l_len = 100 },
			   NULL));
	fprintf(stderr, "NFSv%d: locks reclaimed in the grace period; "
		"another client's lock was refused after %.1f s (grace %s s)\n",
		vers, took, LOCK_GRACE_SECONDS);
	/* A's locks are A's: it unlocks, B gets them */
	OK(a, podfs_setlk(a, fa, 1, &all, NULL));
	OK(b, podfs_setlk(b, fb, 2, &w, NULL));
	OK(b, podfs_setlk(b, fb, 2, &all, NULL));

	/* no grace period: A's lock is lost, and A is told */
	OK(a, podfs_setlk(a, fa, 1, &w, NULL));
	server_do("down", NULL);
	server_do("up", NULL);
	OK(b, podfs_setlk(b, fb, 2, &w, NULL)); /* it is free: the server's */
	ERRV(a, podfs_setlk(a, fa, 1, &r, NULL), EIO);
	n = podfs_pread(a, fa, data, BLOCK, 0);
	ck_assert_msg(n == -EIO, "a read with a lost lock: %zd (%s)", n,
		      podfs_errmsg(a));
	ERRV(a, podfs_setlk(a, fa, 1, &all, NULL), EIO); /* told at unlock */
	/* told once: the owner starts over */
	ERRV(a, podfs_setlk(a, fa, 1, &w, NULL), EAGAIN);
	ck_assert_msg(podfs_pread(a, fa, data, BLOCK, 0) == BLOCK,
		      "read after the lost lock was told: %s",
		      podfs_errmsg(a));
	OK(b, podfs_setlk(b, fb, 2, &all, NULL));
	OK(a, podfs_close(a, fa));
	OK(b, podfs_close(b, fb));
	OK(a, podfs_unlink(a, name));
	podfs_free(a);
	podfs_free(b);
}

START_TEST(test_lock_restart_v3)
{
	lock_restart(3);
}
END_TEST

START_TEST(test_lock_restart_v4)
{
	lock_restart(4);
}
END_TEST

/* ---- stable writes: what a restart lost is sent again ---------------------- */

/* Waits for V's write-back to send FILE_SIZE bytes (UNSTABLE) and checks
 * that nothing committed them: what the cache's write-back leaves behind
 * when it sends written data on its timer (flush, as close, commits). */
static void sent_uncommitted(podfs_volume *v, int vers)
{
	struct podfs_stats before, after;

	OK(v, podfs_stats(v, &before));
	for (int i = 0; i < 100; i++) {
		OK(v, podfs_stats(v, &after));
		if (after.write_bytes - before.write_bytes >= FILE_SIZE)
			break;
		sleep_s(0.05);
	}
	ck_assert_msg(after.write_bytes - before.write_bytes >= FILE_SIZE,
		      "NFSv%d: the write-back did not send %d bytes within 5 s",
		      vers, FILE_SIZE);
	ck_assert_msg(after.commits == before.commits,
		      "NFSv%d: the write-back committed: nothing to lose", vers);
}

/*
 * Data written UNSTABLE lives in the server's memory until a COMMIT; a
 * server that crashes loses it, and says so with a new write verifier.
 * The test makes that loss real: while the server is down it zeroes the
 * file on disk (what a crash before the data reached the disk leaves),
 * and fsync afterwards must bring the data back, byte for byte.
 */
static void commit_after_restart(int vers)
{
	unsigned char data[FILE_SIZE], zeros[FILE_SIZE];
	struct podfs_stats before, after;
	char name[256], path[2048];
	podfs_volume *v;
	podfs_file *f;
	FILE *disk;

	v = attach(vers, NULL);
	snprintf(name, sizeof(name), "/commit%d-%d", vers, (int)getpid());
	OK(v, podfs_open(v, name, O_RDWR | O_CREAT | O_TRUNC, 0644, &f));
	fill(data, FILE_SIZE, 40 + vers, 1);
	ck_assert_msg(podfs_pwrite(v, f, data, FILE_SIZE, 0) == FILE_SIZE,
		      "write %s: %s", name, podfs_errmsg(v));
	sent_uncommitted(v, vers);
	server_do("down", NULL);
	memset(zeros, 0, sizeof(zeros));
	snprintf(path, sizeof(path), "%s%s", export_dir, name);
	disk = fopen(path, "r+b");
	ck_assert_msg(disk, "%s: %s", path, strerror(errno));
	ck_assert(fwrite(zeros, 1, sizeof(zeros), disk) == sizeof(zeros));
	ck_assert(fclose(disk) == 0);
	/* the server's write verifier comes from its start time */
	sleep_s(1.1);
	server_do("up", NULL);

	OK(v, podfs_stats(v, &before));
	OK(v, podfs_fsync(v, f, 0));
	OK(v, podfs_stats(v, &after));
	ck_assert_msg(after.resent > before.resent,
		      "NFSv%d: fsync after a restart did not send the "
		      "uncommitted data again", vers);
	expect_on_server(name + 1, data);
	expect_file(v, f, data, "read back after the restart");
	OK(v, podfs_close(v, f));
	OK(v, podfs_unlink(v, name));
	podfs_free(v);
	fprintf(stderr, "NFSv%d: fsync after a server restart sent the "
		"uncommitted data again\n", vers);
}

START_TEST(test_commit_restart_v3)
{
	commit_after_restart(3);
}
END_TEST

START_TEST(test_commit_restart_v4)
{
	commit_after_restart(4);
}
END_TEST

/*
 * A truncate after UNSTABLE writes, then a restart: what was cut off must
 * stay cut off. The uncommitted data is kept to be sent again if the
 * server lost it; sent after the truncate, it would grow the file back
 * (fsx saw it, when another test restarted the server during its run).
 */
static void truncate_then_restart(int vers)
{
	unsigned char data[FILE_SIZE];
	struct stat st;
	char name[256];
	podfs_volume *v;
	podfs_file *f;

	v = attach(vers, NULL);
	snprintf(name, sizeof(name), "/cut%d-%d", vers, (int)getpid());
	OK(v, podfs_open(v, name, O_RDWR | O_CREAT | O_TRUNC, 0644, &f));
	fill(data, FILE_SIZE, 50 + vers, 1);
	ck_assert_msg(podfs_pwrite(v, f, data, FILE_SIZE, 0) == FILE_SIZE,
		      "write %s: %s", name, podfs_errmsg(v));
	sent_uncommitted(v, vers);
	OK(v, podfs_truncate(v, name, BLOCK));

	server_do("down", NULL);
	/* the server's write verifier comes from its start time */
	sleep_s(1.1);
	server_do("up", NULL);

	OK(v, podfs_fsync(v, f, 0));
	OK(v, podfs_close(v, f));
	expect_on_server_n(name + 1, data, BLOCK);
	OK(v, podfs_stat(v, name, &st));
	ck_assert_msg(st.st_size == BLOCK,
		      "NFSv%d: truncated to %d bytes, the file has %lld after "
		      "a restart", vers, BLOCK, (long long)st.st_size);
	OK(v, podfs_unlink(v, name));
	podfs_free(v);
}

START_TEST(test_truncate_restart_v3)
{
	truncate_then_restart(3);
}
END_TEST

START_TEST(test_truncate_restart_v4)
{
	truncate_then_restart(4);
}
END_TEST

/* ---- main ---------------------------------------------------------------- */

static Suite *recovery_suite(void)
{
	Suite *s = suite_create("recovery");
	TCase *tc;

	if (env_problem[0]) {
		tc = tcase_create("environment");
		tcase_add_test(tc, test_environment);
		suite_add_tcase(s, tc);
		return s;
	}
	tc = tcase_create("hard");
	tcase_add_checked_fixture(tc, server_up, NULL);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_hard_restart_v3);
	tcase_add_test(tc, test_hard_restart_v4);
	suite_add_tcase(s, tc);

	tc = tcase_create("soft");
	tcase_add_checked_fixture(tc, server_up, NULL);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_soft_down_v3);
	tcase_add_test(tc, test_soft_down_v4);
	suite_add_tcase(s, tc);

	tc = tcase_create("shutdown");
	tcase_add_checked_fixture(tc, server_up, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_shutdown_v3);
	tcase_add_test(tc, test_shutdown_v4);
	suite_add_tcase(s, tc);

	tc = tcase_create("grace");
	tcase_add_checked_fixture(tc, server_up, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_grace_reclaim_v4);
	suite_add_tcase(s, tc);

	tc = tcase_create("locks");
	tcase_add_checked_fixture(tc, server_up, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_lock_restart_v3);
	tcase_add_test(tc, test_lock_restart_v4);
	suite_add_tcase(s, tc);

	tc = tcase_create("commit");
	tcase_add_checked_fixture(tc, server_up, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_commit_restart_v3);
	tcase_add_test(tc, test_commit_restart_v4);
	tcase_add_test(tc, test_truncate_restart_v3);
	tcase_add_test(tc, test_truncate_restart_v4);
	suite_add_tcase(s, tc);

	tc = tcase_create("lease");
	tcase_add_checked_fixture(tc, server_up, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_lease_expiry_v4);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	main_pid = getpid();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	start_server();
	sr = srunner_create(recovery_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	stop_server();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
