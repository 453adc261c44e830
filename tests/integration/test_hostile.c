/*
 * A server that lies: podfs must check what an NFSv3 server sends before
 * it uses it. Each case starts tests/hostile/hostile-nfs.py in one mode
 * (one lie: a name with '/' or NUL in it, ".." twice, cookies that loop,
 * a READ longer than asked, a negative size, an unknown file type, a
 * 200-byte handle, a record of 1 GiB), attaches a soft volume to it and
 * does what meets the lie. What we want: the call fails with -EIO and
 * says why, or succeeds with data that is right; never bogus data handed
 * on, a crash or a hang. The "honest" mode proves the harness: every
 * call works and gives the server's tree byte for byte.
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

/* A call that has not returned after this long hangs: far above the
 * mount's own bound (timeo=10,retrans=1: 2 s a call). */
#define HANG_GUARD 20
/* Soft, and quick to give up: a lie must never make a test wait. */
#define OPTIONS "soft,timeo=10,retrans=1"
/* hostile-nfs.py's /file: FILE_SIZE bytes of file_byte(). */
#define FILE_SIZE 12345
/* More entries than the tree has many times over: a listing that goes
 * on past this does not end. */
#define MAX_ENTRIES 1000

static char script[1024];      /* tests/hostile/hostile-nfs.py */
static char python[256];       /* the interpreter that runs it */
static char env_problem[2048]; /* why the tests cannot run, or "" */

static unsigned char file_byte(size_t i)
{
	return (unsigned char)((i * 7 + 13) % 251);
}

/* ---- what each mode's lie must lead to ---------------------------------- */

enum want {
	WORKS, /* succeeds, with the server's true data */
	FAILS, /* -EIO with a message */
	EITHER /* -EIO with a message, or succeeds with sane data */
};

struct mode {
	const char *name;
	enum want stat;	/* podfs_stat("/file") */
	enum want read;	/* podfs_open + podfs_pread of "/file" */
	enum want list; /* podfs_opendir/readdir of "/", and the ll level's */
};

/* Not here, being lies podfs does not catch yet (docs/SECURITY.md, "Not
 * protected"), though hostile-nfs.py tells them: name-nul (libnfs's
 * NFSv3 decoder ends the name at the NUL, podfs sees "a") and
 * cookie-endless (new cookies for ever: the listing never ends). */
static const struct mode modes[] = {
	{ "honest", WORKS, WORKS, WORKS },
	{ "name-slash", WORKS, WORKS, FAILS },
	{ "name-dotdot", WORKS, WORKS, FAILS },
	{ "name-empty", WORKS, WORKS, FAILS },
	/* a ".." naming another directory is not handed out: no harm */
	{ "dotdot-other", WORKS, WORKS, EITHER },
	{ "cookie-loop", WORKS, WORKS, FAILS },
	{ "long-read", WORKS, FAILS, WORKS },
	/* the count word is redundant with the data's own length */
	{ "read-count", WORKS, EITHER, WORKS },
	/* READDIRPLUS carries /file's attributes and handle too: a
	 * listing may fail, or leave them out */
	{ "bad-size", FAILS, FAILS, EITHER },
	{ "bad-type", FAILS, FAILS, EITHER },
	{ "big-handle", FAILS, FAILS, EITHER },
	{ "big-reply", WORKS, WORKS, FAILS },
};

#define NMODES ((int)(sizeof(modes) / sizeof(modes[0])))

/* ---- the server ------------------------------------------------------------ */

static pid_t server_pid;
static int lifeline = -1; /* its stdin: it ends when we do */
static char port_dir[64];

static void find_script(void)
{
	const char *dir = getenv("PODFS_TEST_HOSTILE_DIR");
	const char *srcdir = getenv("srcdir"); /* automake's harness */
	const char *py = getenv("PYTHON");

	if (dir && *dir)
		snprintf(script, sizeof(script), "%s/hostile-nfs.py", dir);
	else
		snprintf(script, sizeof(script), "%s/tests/hostile/hostile-nfs.py",
			 srcdir && *srcdir ? srcdir : ".");
	snprintf(python, sizeof(python), "%s",
		 py && *py ? py : "/usr/bin/python3");
	if (access(script, R_OK))
		snprintf(env_problem, sizeof(env_problem),
			 "%s not found: run from the top of the tree, or set "
			 "PODFS_TEST_HOSTILE_DIR or srcdir",
			 script);
	else if (access(python, X_OK))
		snprintf(env_problem, sizeof(env_problem),
			 "%s not found (set PYTHON)", python);
}

/* Starts the server in MODE: its port. */
static int server_start(const char *mode)
{
	char port_file[128], buf[32];
	char *argv[] = { python,      script,	 "--mode", (char *)mode,
			 "--port-file", port_file, "--lifeline", NULL };
	posix_spawn_file_actions_t fa;
	int pipefd[2], port = 0, i;
	FILE *f;

	snprintf(port_dir, sizeof(port_dir), "/tmp/podfs-hostile.XXXXXX");
	ck_assert_msg(mkdtemp(port_dir), "mkdtemp: %s", strerror(errno));
	snprintf(port_file, sizeof(port_file), "%s/port", port_dir);
	ck_assert(!pipe2(pipefd, O_CLOEXEC));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[0], 0);
	ck_assert_msg(!posix_spawn(&server_pid, python, &fa, NULL, argv,
				   environ),
		      "cannot run %s %s", python, script);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[0]);
	lifeline = pipefd[1];

	/* it writes the port once it listens (by rename: never half) */
	for (i = 0; i < 200 && !port; i++) {
		f = fopen(port_file, "r");
		if (f) {
			if (fgets(buf, sizeof(buf), f))
				port = atoi(buf);
			fclose(f);
		}
		if (!port) {
			ck_assert_msg(waitpid(server_pid, NULL, WNOHANG) == 0,
				      "%s --mode %s exited at start", script,
				      mode);
			usleep(50000);
		}
	}
	/* read: gone at once, so a case that fails leaves nothing */
	unlink(port_file);
	rmdir(port_dir);
	port_dir[0] = '\0';
	ck_assert_msg(port > 0, "%s --mode %s wrote no port in 10 s", script,
		      mode);
	return port;
}

static void server_stop(void)
{
	char path[128];

	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		while (waitpid(server_pid, NULL, 0) < 0 && errno == EINTR)
			;
		server_pid = 0;
	}
	if (lifeline >= 0) {
		close(lifeline);
		lifeline = -1;
	}
	if (port_dir[0]) { /* a start that failed */
		snprintf(path, sizeof(path), "%s/port", port_dir);
		unlink(path);
		rmdir(port_dir);
		port_dir[0] = '\0';
	}
}

/* ---- the watchdog: a hang is a failure, with where it hung ------------- */

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cv = PTHREAD_COND_INITIALIZER;
static const char *watch_what; /* the call under way, NULL: none */
static const char *watch_mode;
static time_t watch_until;
static bool watch_started;
static struct timespec watch_t0;
static double watch_took; /* seconds the last watched call took */

/* PODFS_TEST_GDB=1: the stacks of every thread, before the abort. */
static void dump_stacks(void)
{
	char pid[16];
	char *argv[] = { "gdb", "-batch", "-p", pid, "-ex",
			 "thread apply all bt", NULL };
	const char *gdb = getenv("PODFS_TEST_GDB");
	pid_t child;

	if (!gdb || strcmp(gdb, "1"))
		return;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (!posix_spawnp(&child, "gdb", NULL, NULL, argv, environ))
		waitpid(child, NULL, 0);
}

static void *watchdog(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&watch_lock);
	for (;;) {
		struct timespec ts = { .tv_sec = time(NULL) + 1 };

		pthread_cond_timedwait(&watch_cv, &watch_lock, &ts);
		if (watch_what && time(NULL) >= watch_until) {
			fprintf(stderr,
				"hostile %s: %s has not returned after %d s: "
				"a hang\n",
				watch_mode, watch_what, HANG_GUARD);
			dump_stacks();
			if (server_pid > 0)
				kill(server_pid, SIGKILL);
			abort();
		}
	}
	return NULL;
}

/* From now on WHAT (NULL: nothing) must return within HANG_GUARD. */
static void watch(const char *what)
{
	pthread_t thread;

	pthread_mutex_lock(&watch_lock);
	if (!watch_started) {
		watch_started = !pthread_create(&thread, NULL, watchdog, NULL);
		if (watch_started)
			pthread_detach(thread);
	}
	if (what) {
		clock_gettime(CLOCK_MONOTONIC, &watch_t0);
	} else {
		struct timespec t;

		clock_gettime(CLOCK_MONOTONIC, &t);
		watch_took = (double)(t.tv_sec - watch_t0.tv_sec) +
			     (double)(t.tv_nsec - watch_t0.tv_nsec) / 1e9;
	}
	watch_what = what;
	watch_until = time(NULL) + HANG_GUARD;
	pthread_cond_signal(&watch_cv);
	pthread_mutex_unlock(&watch_lock);
}

/* ---- checks -------------------------------------------------------------- */

static const char *ename(long long r)
{
	const char *n;

	if (r >= 0)
		return "ok";
	n = r < -4095 ? NULL : strerrorname_np((int)-r);
	return n ? n : "?";
}

/* The message of a failure of our own, left in this thread before each
 * call: a call that fails and still gives it said nothing of its own
 * (podfs_errmsg would show a stale message from some earlier call). */
static char sentinel[512];

static void prime_errmsg(podfs_volume *v)
{
	struct stat st;
	int r = podfs_stat(v, "/../hostile-sentinel", &st);

	ck_assert_msg(r == -EINVAL, "podfs_stat with \"..\" = %d", r);
	snprintf(sentinel, sizeof(sentinel), "%s", podfs_errmsg(v));
}

/* R is what a call the lie reaches returned: -EIO with a message, as
 * WANT allows. True when it succeeded (its data is then checked). */
static bool outcome(const struct mode *m, enum want want, podfs_volume *v,
		    const char *what, long long r)
{
	const char *msg = podfs_errmsg(v);

	/* what each lie led to, for the log */
	fprintf(stderr, "hostile %s: %s = %lld (%s) in %.2f s%s%s\n", m->name,
		what, r, ename(r), watch_took, r < 0 ? ": " : "",
		r < 0 ? msg : "");
	if (r >= 0) {
		ck_assert_msg(want != FAILS,
			      "%s: %s = %lld: succeeded on the server's lie",
			      m->name, what, r);
		return true;
	}
	ck_assert_msg(want != WORKS, "%s: %s = %lld (%s): %s", m->name, what,
		      r, ename(r), msg);
	ck_assert_msg(r == -EIO, "%s: %s = %lld (%s), expected -EIO: %s",
		      m->name, what, r, ename(r), msg);
	ck_assert_msg(msg && *msg && strcmp(msg, sentinel),
		      "%s: %s = -EIO without a message of its own (podfs_errmsg "
		      "still says \"%s\")",
		      m->name, what, msg);
	return false;
}

/* Attributes no server should get through: a negative size, no file
 * type, or not the type NAME has in the tree. */
static void sane_attr(const struct mode *m, const char *name,
		      const struct stat *st)
{
	mode_t t = st->st_mode & S_IFMT;

	ck_assert_msg(st->st_size >= 0, "%s: %s has size %lld", m->name, name,
		      (long long)st->st_size);
	ck_assert_msg(t == S_IFREG || t == S_IFDIR || t == S_IFLNK ||
			      t == S_IFCHR || t == S_IFBLK || t == S_IFIFO ||
			      t == S_IFSOCK,
		      "%s: %s has file type %#o", m->name, name,
		      (unsigned int)t);
	if (!strcmp(name, "file") || !strcmp(name, "other"))
		ck_assert_msg(t == S_IFREG, "%s: %s is not a regular file (%#o)",
			      m->name, name, (unsigned int)t);
	if (!strcmp(name, "dir") || !strcmp(name, "/"))
		ck_assert_msg(t == S_IFDIR, "%s: %s is not a directory (%#o)",
			      m->name, name, (unsigned int)t);
	if (!strcmp(name, "file"))
		ck_assert_msg(st->st_size == FILE_SIZE,
			      "%s: file has size %lld, not %d", m->name,
			      (long long)st->st_size, FILE_SIZE);
}

/* What a listing of "/" handed out so far. */
struct seen {
	const struct mode *m;
	podfs_volume *vol;
	unsigned names; /* bits: file, dir, other */
	int dot, dotdot, n;
};

/* NAME, handed out by a listing: one of the tree's, and once. */
static void sane_name(struct seen *s, const char *name)
{
	static const char *const tree[] = { "file", "dir", "other" };
	size_t len = strnlen(name, 256);
	int i;

	ck_assert_msg(len > 0, "%s: an empty name listed", s->m->name);
	ck_assert_msg(len < 256, "%s: a name of 256 bytes or more listed",
		      s->m->name);
	ck_assert_msg(!strchr(name, '/'), "%s: name \"%s\" listed", s->m->name,
		      name);
	ck_assert_msg(++s->n <= MAX_ENTRIES,
		      "%s: more than %d entries listed: the listing does not "
		      "end",
		      s->m->name, MAX_ENTRIES);
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		int *k = name[1] ? &s->dotdot : &s->dot;

		ck_assert_msg(++*k == 1, "%s: \"%s\" listed %d times",
			      s->m->name, name, *k);
		return;
	}
	for (i = 0; i < 3 && strcmp(name, tree[i]); i++)
		;
	/* "a\0b" would come out as "a": a name the server never gave */
	ck_assert_msg(i < 3, "%s: name \"%s\" (%zu bytes) is not in the tree",
		      s->m->name, name, len);
	ck_assert_msg(!(s->names & 1u << i), "%s: \"%s\" listed twice",
		      s->m->name, name);
	s->names |= 1u << i;
}

/* ---- what meets the lies ------------------------------------------------ */

static void do_stat(const struct mode *m, podfs_volume *v)
{
	struct stat st;
	int r;

	prime_errmsg(v);
	watch("podfs_stat(\"/file\")");
	r = podfs_stat(v, "/file", &st);
	watch(NULL);
	if (outcome(m, m->stat, v, "podfs_stat(\"/file\")", r))
		sane_attr(m, "file", &st);
}

/* Reads "/file" from OFF, COUNT bytes, into a buffer with a guard zone
 * after them that must stay as it was. */
static void read_at(const struct mode *m, podfs_volume *v, podfs_file *f,
		    off_t off, size_t count)
{
	const size_t guard = 65536 + 8192;
	unsigned char *buf = malloc(count + guard);
	size_t want, i;
	char what[96];
	ssize_t n;

	ck_assert(buf);
	memset(buf, 0xC3, count + guard);
	snprintf(what, sizeof(what), "podfs_pread(\"/file\", %zu, %lld)",
		 count, (long long)off);
	prime_errmsg(v);
	watch(what);
	n = podfs_pread(v, f, buf, count, off);
	watch(NULL);
	for (i = count; i < count + guard; i++)
		ck_assert_msg(buf[i] == 0xC3,
			      "%s: %s wrote past the buffer (byte %zu after "
			      "it)",
			      m->name, what, i - count);
	if (outcome(m, m->read, v, what, n)) {
		want = off >= FILE_SIZE		   ? 0 :
		       off + count > FILE_SIZE ? (size_t)(FILE_SIZE - off) :
						       count;
		ck_assert_msg((size_t)n <= count,
			      "%s: %s returned %zd bytes, more than asked",
			      m->name, what, n);
		ck_assert_msg((size_t)n == want, "%s: %s returned %zd, not %zu",
			      m->name, what, n, want);
		for (i = 0; i < (size_t)n; i++)
			ck_assert_msg(buf[i] == file_byte((size_t)off + i),
				      "%s: %s: byte %zu is 0x%02x, not 0x%02x",
				      m->name, what, i, buf[i],
				      file_byte((size_t)off + i));
	}
	free(buf);
}

static void do_read(const struct mode *m, podfs_volume *v)
{
	podfs_file *f = NULL;
	int r;

	prime_errmsg(v);
	watch("podfs_open(\"/file\")");
	r = podfs_open(v, "/file", O_RDONLY, 0, &f);
	watch(NULL);
	/* open looks the file up: the lies of LOOKUP reach it, a READ's
	 * do not */
	if (!outcome(m, m->stat == WORKS ? WORKS : m->read, v,
		     "podfs_open(\"/file\")", r))
		return;
	read_at(m, v, f, 0, FILE_SIZE + 100); /* across the end */
	read_at(m, v, f, 5000, 100);
	read_at(m, v, f, 4096, 4096);
	watch("podfs_close");
	podfs_close(v, f);
	watch(NULL);
}

static void do_list(const struct mode *m, podfs_volume *v)
{
	struct seen s = { .m = m, .vol = v };
	struct podfs_dirent ent;
	podfs_dir *d = NULL;
	int r;

	prime_errmsg(v);
	watch("podfs_opendir(\"/\") and podfs_readdir");
	r = podfs_opendir(v, "/", &d);
	/* the stream reads the directory at its first podfs_readdir: the
	 * open may fail on the lie, or not */
	if (!outcome(m, m->list == FAILS ? EITHER : m->list, v,
		     "podfs_opendir(\"/\")", r)) {
		watch(NULL);
		return;
	}
	while ((r = podfs_readdir(v, d, &ent)) == 1) {
		ck_assert_msg(strcmp(ent.name, ".") && strcmp(ent.name, ".."),
			      "%s: podfs_readdir handed out \"%s\"", m->name,
			      ent.name);
		sane_name(&s, ent.name);
		sane_attr(m, ent.name, &ent.attr);
	}
	watch(NULL);
	podfs_closedir(v, d);
	if (outcome(m, m->list, v, "podfs_readdir(\"/\")", r))
		ck_assert_msg(s.names == 7,
			      "%s: the listing lacks some of file, dir, other "
			      "(has %#x)",
			      m->name, s.names);
}

static int ll_fill(void *arg, const char *name,
		   const struct podfs_entry *entry, off_t next)
{
	struct seen *s = arg;

	(void)next;
	sane_name(s, name);
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		ck_assert_msg(entry->ino == 0,
			      "%s: \"%s\" handed out with inode %llu",
			      s->m->name, name,
			      (unsigned long long)entry->ino);
		return 0;
	}
	sane_attr(s->m, name, &entry->attr);
	if (entry->ino)
		podfs_ll_forget(s->vol, entry->ino, 1);
	return 0;
}

static void do_ll_list(const struct mode *m, podfs_volume *v)
{
	struct seen s = { .m = m, .vol = v };
	podfs_dir *d = NULL;
	int r;

	prime_errmsg(v);
	watch("podfs_ll_opendir(root) and podfs_ll_readdir(PLUS)");
	r = podfs_ll_opendir(v, PODFS_ROOT_INO, &d);
	if (!outcome(m, m->list == FAILS ? EITHER : m->list, v,
		     "podfs_ll_opendir(root)", r)) {
		watch(NULL);
		return;
	}
	r = podfs_ll_readdir(v, d, 0, PODFS_READDIR_PLUS, ll_fill, &s);
	watch(NULL);
	podfs_ll_releasedir(v, d);
	if (outcome(m, m->list, v, "podfs_ll_readdir(root, PLUS)", r))
		ck_assert_msg(s.names == 7,
			      "%s: the ll listing lacks some of file, dir, "
			      "other (has %#x)",
			      m->name, s.names);
}

/* ---- the cases ------------------------------------------------------------- */

START_TEST(test_environment)
{
	ck_abort_msg("%s", env_problem);
}
END_TEST

START_TEST(test_mode)
{
	const struct mode *m = &modes[_i];
	const char *only = getenv("PODFS_HOSTILE_MODE");
	const char *options = getenv("PODFS_HOSTILE_OPTIONS");
	podfs_volume *v;
	char url[256];
	int port;

	/* PODFS_HOSTILE_MODE=name: that mode only (the others pass) */
	if (only && *only && strcmp(only, m->name))
		return;
	/* PODFS_HOSTILE_OPTIONS: other mount options, to see what a hard
	 * mount does (the wants stay those of a soft one) */
	if (!options || !*options)
		options = OPTIONS;
	watch_mode = m->name;
	port = server_start(m->name);
	snprintf(url, sizeof(url),
		 "nfs://127.0.0.1/export?vers=3&nfsport=%d&mountport=%d", port,
		 port);
	v = podfs_new();
	ck_assert(v);
	watch("podfs_attach");
	ck_assert_msg(!podfs_attach(v, url, options), "%s: attach %s: %s",
		      m->name, url, podfs_errmsg(v));
	watch(NULL);
	fprintf(stderr, "hostile %s: podfs_attach in %.2f s\n", m->name,
		watch_took);

	/* the lies of attributes and data first: a listing that broke the
	 * connection must not hide what they do */
	do_stat(m, v);
	do_read(m, v);
	do_list(m, v);
	do_ll_list(m, v);
	/* and a lie leaves the volume working */
	do_stat(m, v);

	watch("podfs_free");
	podfs_free(v);
	watch(NULL);
	server_stop();
}
END_TEST

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc;

	if (env_problem[0]) {
		tc = tcase_create("environment");
		tcase_add_test(tc, test_environment);
		suite_add_tcase(s, tc);
		return s;
	}
	tc = tcase_create("nfs3");
	tcase_add_checked_fixture(tc, NULL, server_stop);
	/* each case: a few calls of at most HANG_GUARD each */
	tcase_set_timeout(tc, 6 * HANG_GUARD);
	tcase_add_loop_test(tc, test_mode, 0, NMODES);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* the server's pipe closed under a write must not kill us */
	signal(SIGPIPE, SIG_IGN);
	find_script();
	sr = srunner_create(hostile_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
