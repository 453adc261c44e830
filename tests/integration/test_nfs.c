/*
 * Integration tests of the NFS backend's engine against the real
 * nfs-ganesha of tests/servers (NFSv3 and NFSv4): full-size READs and
 * WRITEs split into pieces, requests in flight together on one
 * connection, the slots= limit, the server's name length, and open files
 * whose names are unlinked, linked or renamed over. The counters of
 * podfs_stats() say what went over the wire; nothing here measures time.
 *
 * Needs PODFS_TEST_NFS3, PODFS_TEST_NFS4 and PODFS_TEST_NFS_DIR (the
 * exported directory on local disk, to compare with what the server
 * stored): start the servers first (tests/servers/README.md).
 */
#include <check.h>
#include <podfs/podfs.h>

/* The backend's asynchronous calls are the library's own (no public
 * API): this test links libpodfs' internals to reach them. */
#include "podfs-private.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define KiB (1024L)
#define MiB (1024L * 1024)

#define HOW_TO_START                                                           \
	"start the test servers first: tests/servers/servers.sh start DIR; "  \
	"set -a; . DIR/nfs.env; set +a"

/* Directories of this run are named RUN_PREFIX<pid of main>-..., so what
 * a failed test leaves behind is found and removed at the end. */
#define RUN_PREFIX "podfs-nfs-"

/* The smallest rsize/wsize a server must offer us: the old NFSv4 code
 * wrote 3584 bytes per WRITE, whatever the server said. */
#define MIN_IOSIZE 65536

/* ---- the NFS version of the running test ---------------------------------- */

struct version {
	const char *name;   /* the tcase's name */
	const char *var;    /* the environment variable of its URL */
	const char *url;
	char missing[1024]; /* why it cannot run, or "" */
};

static struct version versions[] = {
	{ .name = "nfs3", .var = "PODFS_TEST_NFS3" },
	{ .name = "nfs4", .var = "PODFS_TEST_NFS4" },
};
#define NVERSIONS (sizeof(versions) / sizeof(versions[0]))

static struct version *ver; /* set by the tcase's first fixture */
static const char *export_dir; /* PODFS_TEST_NFS_DIR */
static pid_t main_pid;

static void select_nfs3(void) { ver = &versions[0]; }
static void select_nfs4(void) { ver = &versions[1]; }
static void (*const selectors[NVERSIONS])(void) = { select_nfs3,
						    select_nfs4 };

/* ---- assertions ------------------------------------------------------------- */

static const char *ename(long long r)
{
	const char *n;

	if (r >= 0)
		return "ok";
	if (r < -4095)
		return "?";
	n = strerrorname_np((int)-r);
	return n ? n : "?";
}

static podfs_volume *vol; /* the test's volume */

#define OK(expr)                                                               \
	do {                                                                   \
		long long r_ = (long long)(expr);                              \
		const char *m_ = r_ < 0 ? podfs_errmsg(vol) : "";              \
		ck_assert_msg(r_ == 0, "%s = %lld (%s): %s", #expr, r_,        \
			      ename(r_), m_);                                  \
	} while (0)

#define EQ(expr, want)                                                         \
	do {                                                                   \
		long long r_ = (long long)(expr), w_ = (long long)(want);      \
		const char *m_ = r_ < 0 ? podfs_errmsg(vol) : "";              \
		ck_assert_msg(r_ == w_, "%s = %lld (%s), expected %lld %s",    \
			      #expr, r_, ename(r_), w_, m_);                   \
	} while (0)

#define ERR(expr, err)                                                         \
	do {                                                                   \
		long long r_ = (long long)(expr);                              \
		const char *m_ = podfs_errmsg(vol);                            \
		ck_assert_msg(r_ == -(long long)(err),                         \
			      "%s = %lld (%s), expected -%s; errmsg: %s",      \
			      #expr, r_, ename(r_), ename(-(long long)(err)),  \
			      m_);                                             \
	} while (0)

static void expect_bytes(const void *got, const void *want, size_t len,
			 const char *what)
{
	const unsigned char *g = got, *w = want;

	if (!memcmp(got, want, len))
		return;
	for (size_t i = 0; i < len; i++)
		if (g[i] != w[i])
			ck_abort_msg("%s: byte %zu of %zu is 0x%02x, expected "
				     "0x%02x", what, i, len, g[i], w[i]);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	ck_assert_msg(p, "out of memory (%zu bytes)", n);
	return p;
}

/* ---- deterministic data ------------------------------------------------------- */

/* LEN bytes (a multiple of 8) that only SEED gives: the content of a
 * chunk can be made again to compare, so 64 MiB never sit in memory. */
static void fill_chunk(void *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
	unsigned char *p = buf;

	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t v;

		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		v = s * 0x2545f4914f6cdd1dULL;
		memcpy(p + i, &v, 8);
	}
}

/* ---- the volume and directory of a test ---------------------------------- */

static char dir_name[128]; /* "podfs-nfs-<main pid>-<pid>-<version>" */
static char dir_path[130]; /* the same with a leading "/" */

/* "/DIR/NAME" (four live at a time). */
static const char *tp(const char *name)
{
	static char bufs[4][1024];
	static unsigned next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir_path, name);
	return b;
}

/* Attaches the test's volume with OPTIONS (NULL: none) and makes its own
 * directory, named after this process so runs never meet. */
static void begin(const char *options)
{
	int ret;

	vol = podfs_new();
	ck_assert_msg(vol, "podfs_new: out of memory");
	ret = podfs_attach(vol, ver->url, options);
	ck_assert_msg(ret == 0, "podfs_attach(%s, \"%s\") = %d (%s): %s",
		      ver->url, options ? options : "(null)", ret, ename(ret),
		      podfs_errmsg(vol));
	snprintf(dir_name, sizeof(dir_name), RUN_PREFIX "%d-%d-%s",
		 (int)main_pid, (int)getpid(), ver->name);
	snprintf(dir_path, sizeof(dir_path), "/%s", dir_name);
	OK(podfs_mkdir(vol, dir_path, 0755));
}

/* The checked teardown: runs when the test passed (a failed one leaves
 * its directory to remove_leftovers). */
static void finish(void)
{
	char msg[512] = "";
	int ret, ret2;

	if (!vol)
		return;
	ret = test_rm_tree(vol, dir_path);
	if (ret)
		snprintf(msg, sizeof(msg), "%s", podfs_errmsg(vol));
	ret2 = podfs_rmdir(vol, dir_path);
	if (ret2 && !ret)
		snprintf(msg, sizeof(msg), "%s", podfs_errmsg(vol));
	podfs_free(vol);
	vol = NULL;
	ck_assert_msg(!ret && !ret2, "cleaning up %s failed (%s/%s): %s",
		      dir_path, ename(ret), ename(ret2), msg);
}

static struct podfs_stats stats(void)
{
	struct podfs_stats st;

	OK(podfs_stats(vol, &st));
	/* whatever the server offered, never the old 3.5 KiB */
	ck_assert_msg(st.wsize >= MIN_IOSIZE && st.rsize >= MIN_IOSIZE,
		      "rsize %u, wsize %u: expected at least %d each",
		      st.rsize, st.wsize, MIN_IOSIZE);
	return st;
}

/* The names in the test's directory, sorted by nothing (free_names). */
static char **list_names(size_t *count)
{
	struct podfs_dirent ent;
	char **names = NULL;
	size_t n = 0;
	podfs_dir *d;
	int ret;

	OK(podfs_opendir(vol, dir_path, &d));
	while ((ret = podfs_readdir(vol, d, &ent)) == 1) {
		names = realloc(names, (n + 1) * sizeof(*names));
		ck_assert(names);
		names[n] = strdup(ent.name);
		ck_assert(names[n]);
		n++;
	}
	EQ(ret, 0);
	OK(podfs_closedir(vol, d));
	*count = n;
	return names;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Reads all of F from 0 and expects WANT (LEN bytes) and then its end. */
static void expect_open_file(podfs_file *f, const char *want, size_t len,
			     const char *what)
{
	char buf[256];
	ssize_t r;

	ck_assert(len < sizeof(buf));
	r = podfs_pread(vol, f, buf, sizeof(buf), 0);
	ck_assert_msg(r == (ssize_t)len, "%s: podfs_pread = %zd (%s), "
		      "expected %zu bytes: %s", what, r, ename(r), len,
		      r < 0 ? podfs_errmsg(vol) : "");
	expect_bytes(buf, want, len, what);
}

/* PATH holds exactly the string WANT. */
static void expect_str(const char *path, const char *want)
{
	podfs_file *f;
	struct stat st;

	OK(podfs_stat(vol, path, &st));
	ck_assert_msg(st.st_size == (off_t)strlen(want),
		      "%s: size %lld, expected %zu", path,
		      (long long)st.st_size, strlen(want));
	OK(podfs_open(vol, path, O_RDONLY, 0, &f));
	expect_open_file(f, want, strlen(want), path);
	OK(podfs_close(vol, f));
}

/* ---- a. full-size READs and WRITEs ------------------------------------------- */

#define BIG_SIZE (64 * MiB)
#define CALL_SIZE (4 * MiB)
#define NCALLS (BIG_SIZE / CALL_SIZE)

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

/* The server's own copy, read from its disk, holds the chunks SEED+i. */
static void expect_server_copy(const char *name, uint64_t seed, char *want,
			       char *got)
{
	char path[1024];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", export_dir, dir_name, name);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "the server's copy %s: %s (PODFS_TEST_NFS_DIR "
		      "must be the exported directory)", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_msg(st.st_size == BIG_SIZE,
		      "the server's copy %s has %lld bytes, expected %ld",
		      path, (long long)st.st_size, BIG_SIZE);
	for (long i = 0; i < NCALLS; i++) {
		char what[1200];
		ssize_t n = pread(fd, got, CALL_SIZE, i * CALL_SIZE);

		ck_assert_msg(n == CALL_SIZE, "pread of %s at %ld = %zd: %s",
			      path, i * CALL_SIZE, n, strerror(errno));
		fill_chunk(want, CALL_SIZE, seed + (uint64_t)i);
		snprintf(what, sizeof(what), "the server's copy %s, 4 MiB "
			 "chunk %ld", path, i);
		expect_bytes(got, want, CALL_SIZE, what);
	}
	close(fd);
}

/*
 * 64 MiB written and read in 4 MiB calls. Each call goes out as pieces
 * of at most wsize/rsize (one per connection, at least 64 KiB): with the
 * default four connections a 4 MiB call is pieces of exactly wsize
 * (wsize <= 1 MiB = 4 MiB / 4), so the counters must show exactly
 * NCALLS * ceil(4 MiB / wsize) WRITEs of wsize bytes -- ceil(64 MiB /
 * wsize) when wsize divides 4 MiB, as ganesha's 1 MiB does. Any WRITE
 * more (split too small) or less (too big for the server) is a bug.
 */
START_TEST(test_full_size_io)
{
	uint64_t seed = ((uint64_t)getpid() << 20) ^ 0x5eed;
	char *want = xmalloc(CALL_SIZE), *got = xmalloc(CALL_SIZE);
	struct podfs_stats s0, s1, s2, s3;
	uint64_t expect_n;
	podfs_file *f;

	/* the engine's own pieces: no data cache gathering or answering */
	begin("cache=none");
	OK(podfs_open(vol, tp("big"), O_RDWR | O_CREAT | O_EXCL, 0644, &f));

	/* write */
	s0 = stats();
	for (long i = 0; i < NCALLS; i++) {
		fill_chunk(want, CALL_SIZE, seed + (uint64_t)i);
		EQ(podfs_pwrite(vol, f, want, CALL_SIZE, i * CALL_SIZE),
		   CALL_SIZE);
	}
	s1 = stats();
	ck_assert_msg(s1.max_write == s1.wsize,
		      "largest WRITE sent %llu bytes, wsize is %u: pieces are "
		      "not full-size", (unsigned long long)s1.max_write,
		      s1.wsize);
	expect_n = NCALLS * ceil_div(CALL_SIZE, s1.wsize);
	ck_assert_msg(s1.writes - s0.writes == expect_n,
		      "%llu WRITEs for 64 MiB in 4 MiB calls, expected %llu "
		      "(wsize %u)", (unsigned long long)(s1.writes - s0.writes),
		      (unsigned long long)expect_n, s1.wsize);
	ck_assert_msg(s1.write_bytes - s0.write_bytes == (uint64_t)BIG_SIZE,
		      "WRITEs carried %llu bytes, expected %ld",
		      (unsigned long long)(s1.write_bytes - s0.write_bytes),
		      BIG_SIZE);
	/* no server restart here: nothing may have been sent twice */
	ck_assert_uint_eq(s1.resent, s0.resent);

	/* fsync makes the unstable data stable: a COMMIT */
	OK(podfs_fsync(vol, f, 0));
	s2 = stats();
	ck_assert_msg(s2.commits >= s1.commits + 1,
		      "fsync after 64 MiB of writes sent no COMMIT (commits "
		      "%llu before, %llu after)",
		      (unsigned long long)s1.commits,
		      (unsigned long long)s2.commits);
	ck_assert_uint_eq(s2.writes, s1.writes);

	/* read it back once: exactly one READ per piece */
	for (long i = 0; i < NCALLS; i++) {
		char what[64];

		EQ(podfs_pread(vol, f, got, CALL_SIZE, i * CALL_SIZE),
		   CALL_SIZE);
		fill_chunk(want, CALL_SIZE, seed + (uint64_t)i);
		snprintf(what, sizeof(what), "read back, 4 MiB chunk %ld", i);
		expect_bytes(got, want, CALL_SIZE, what);
	}
	s3 = stats();
	ck_assert_msg(s3.max_read == s3.rsize,
		      "largest READ sent %llu bytes, rsize is %u: pieces are "
		      "not full-size", (unsigned long long)s3.max_read,
		      s3.rsize);
	expect_n = NCALLS * ceil_div(CALL_SIZE, s3.rsize);
	ck_assert_msg(s3.reads - s2.reads == expect_n,
		      "%llu READs for 64 MiB in 4 MiB calls, expected %llu "
		      "(rsize %u)", (unsigned long long)(s3.reads - s2.reads),
		      (unsigned long long)expect_n, s3.rsize);
	ck_assert_msg(s3.read_bytes - s2.read_bytes == (uint64_t)BIG_SIZE,
		      "READs carried %llu bytes, expected %ld",
		      (unsigned long long)(s3.read_bytes - s2.read_bytes),
		      BIG_SIZE);
	EQ(podfs_pread(vol, f, got, 16, BIG_SIZE), 0);
	OK(podfs_close(vol, f));

	/* what the server stored, from its disk */
	expect_server_copy("big", seed, want, got);
	free(want);
	free(got);
	OK(podfs_unlink(vol, tp("big")));
}
END_TEST

/* ---- b, c. requests in flight together on one connection ------------------- */

#define NTHREADS 8
#define STATS_PER_THREAD 400

struct statter {
	pthread_t thread;
	const char *path;
	int failures;
	int first_err;
	char first_msg[256];
};

/* No ck_assert here (not the test's thread): failures are counted and
 * the first one kept for the main thread to report. */
static void *statter_main(void *arg)
{
	struct statter *s = arg;
	struct stat st;

	for (int i = 0; i < STATS_PER_THREAD; i++) {
		int ret = podfs_stat(vol, s->path, &st);

		if (ret == 0 && S_ISREG(st.st_mode))
			continue;
		if (s->failures++ == 0) {
			s->first_err = ret;
			if (ret)
				snprintf(s->first_msg, sizeof(s->first_msg),
					 "%s", podfs_errmsg(vol));
			else
				snprintf(s->first_msg, sizeof(s->first_msg),
					 "not a file: mode %o, ino %llu, size "
					 "%lld, nlink %lu, call %d",
					 (unsigned)st.st_mode,
					 (unsigned long long)st.st_ino,
					 (long long)st.st_size,
					 (unsigned long)st.st_nlink, i);
		}
	}
	return NULL;
}

/* NTHREADS threads stat one file STATS_PER_THREAD times each; all must
 * succeed. Returns max_in_flight afterwards. */
static uint32_t stat_storm(void)
{
	struct statter s[NTHREADS];
	podfs_file *f;

	OK(podfs_open(vol, tp("target"), O_WRONLY | O_CREAT | O_EXCL, 0644,
		      &f));
	OK(podfs_close(vol, f));
	for (int i = 0; i < NTHREADS; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].path = tp("target");
		ck_assert_int_eq(pthread_create(&s[i].thread, NULL,
						statter_main, &s[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(s[i].thread, NULL);
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_msg(s[i].failures == 0,
			      "thread %d: %d of %d podfs_stat calls failed, "
			      "the first = %d (%s): %s", i, s[i].failures,
			      STATS_PER_THREAD, s[i].first_err,
			      ename(s[i].first_err), s[i].first_msg);
	return stats().max_in_flight;
}

/* Many callers on one connection do not wait for each other's round
 * trips: several requests are outstanding at once. */
START_TEST(test_in_flight)
{
	uint32_t most;

	begin("nconnect=1");
	most = stat_storm();
	ck_assert_msg(most >= 4,
		      "%d threads calling podfs_stat on one connection had at "
		      "most %u request(s) in flight at once, expected >= 4",
		      NTHREADS, most);
}
END_TEST

/* slots= caps the requests in flight on a connection. Its smallest value
 * is 2 (nfs(5)-like, as the kernel's RPC slot table; libpodfs(3) says
 * "2 to 1024"), so the cap tested is 2: never more, and with eight
 * callers it is reached. */
START_TEST(test_slots)
{
	uint32_t most;

	begin("nconnect=1,slots=2");
	most = stat_storm();
	ck_assert_msg(most <= 2,
		      "slots=2 not obeyed: %u requests were in flight at once "
		      "on one connection", most);
	ck_assert_msg(most == 2,
		      "%d threads on one connection with slots=2 never had 2 "
		      "requests in flight at once (at most %u)", NTHREADS,
		      most);
}
END_TEST

/* ---- d. the server's name length ---------------------------------------------- */

/* ---- asynchronous reads and writes (the cache layer's) -------------------- */

#define AIO_CALLS 8
#define AIO_SIZE (2 * MiB)

/* Calls ended, and their results, counted as they come (on the
 * backend's thread). */
struct aio_wait {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	int ended;
	ssize_t results[AIO_CALLS];
};

struct aio_call {
	struct aio_wait *w;
	int i;
};

static void aio_done(void *arg, ssize_t result)
{
	struct aio_call *c = arg;

	pthread_mutex_lock(&c->w->lock);
	c->w->results[c->i] = result;
	c->w->ended++;
	pthread_cond_signal(&c->w->cv);
	pthread_mutex_unlock(&c->w->lock);
}

/* Starts AIO_CALLS reads or writes of AIO_SIZE, all at once, and waits
 * for every one: each must have moved all its bytes. */
static void aio_all(podfs_file *f, char *buf, bool write)
{
	struct aio_wait w = { .ended = 0 };
	struct aio_call calls[AIO_CALLS];
	int i;

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cv, NULL);
	/* Held while the calls start: a DONE waits for it, so a start that
	 * waited for its call's end (not asynchronous) never returns, and
	 * the test times out. */
	pthread_mutex_lock(&w.lock);
	for (i = 0; i < AIO_CALLS; i++) {
		calls[i] = (struct aio_call){ .w = &w, .i = i };
		if (write)
			OK(podfs_file_write_async(vol, f, buf + i * AIO_SIZE,
						  AIO_SIZE, i * AIO_SIZE,
						  aio_done, &calls[i]));
		else
			OK(podfs_file_read_async(vol, f, buf + i * AIO_SIZE,
						 AIO_SIZE, i * AIO_SIZE,
						 aio_done, &calls[i]));
	}
	while (w.ended < AIO_CALLS)
		pthread_cond_wait(&w.cv, &w.lock);
	pthread_mutex_unlock(&w.lock);
	for (i = 0; i < AIO_CALLS; i++)
		ck_assert_msg(w.results[i] == AIO_SIZE,
			      "%s call %d ended with %zd, expected %ld",
			      write ? "write" : "read", i, w.results[i],
			      AIO_SIZE);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.lock);
}

/*
 * Writes and reads that return before they are answered: all of them
 * start before any ends, each reports its own end, the data is what was written
 * (through the synchronous path too), fsync commits what the
 * asynchronous writes left unstable, and the calls a file cannot take
 * are refused at once.
 */
START_TEST(test_async_io)
{
	char *data = xmalloc(AIO_CALLS * AIO_SIZE);
	char *back = xmalloc(AIO_CALLS * AIO_SIZE);
	struct podfs_stats before, after;
	podfs_file *f, *g;

	begin(NULL);
	fill_chunk(data, AIO_CALLS * AIO_SIZE, 77);
	OK(podfs_open(vol, tp("async"), O_RDWR | O_CREAT | O_EXCL, 0644, &f));
	before = stats();
	aio_all(f, data, true);
	after = stats();
	EQ(after.write_bytes - before.write_bytes, AIO_CALLS * AIO_SIZE);
	OK(podfs_fsync(vol, f, 0));
	ck_assert_msg(stats().commits > before.commits,
		      "fsync after asynchronous writes sent no COMMIT");
	EQ(podfs_pread(vol, f, back, AIO_CALLS * AIO_SIZE, 0),
	   AIO_CALLS * AIO_SIZE);
	expect_bytes(back, data, AIO_CALLS * AIO_SIZE, "read back (sync)");
	memset(back, 0, AIO_CALLS * AIO_SIZE);
	aio_all(f, back, false);
	expect_bytes(back, data, AIO_CALLS * AIO_SIZE, "read back (async)");
	/* nothing to do, and what a file's mode forbids */
	ERR(podfs_file_read_async(vol, f, back, 0, 0, aio_done, NULL), EINVAL);
	OK(podfs_close(vol, f));
	OK(podfs_open(vol, tp("async"), O_WRONLY | O_APPEND, 0, &g));
	ERR(podfs_file_write_async(vol, g, data, 10, 0, aio_done, NULL),
	    ENOTSUP);
	ERR(podfs_file_read_async(vol, g, back, 10, 0, aio_done, NULL), EBADF);
	OK(podfs_close(vol, g));
	free(data);
	free(back);
}
END_TEST

START_TEST(test_namemax)
{
	struct podfs_entry e;
	struct statvfs sv;
	podfs_file *f;
	struct stat st;
	char name[512];
	size_t max;

	begin(NULL);
	OK(podfs_ll_lookup(vol, PODFS_ROOT_INO, dir_name, &e));
	OK(podfs_ll_statfs(vol, e.ino, &sv));
	podfs_ll_forget(vol, e.ino, 1);
	ck_assert_msg(sv.f_namemax >= 1 && sv.f_namemax <= 255,
		      "f_namemax %lu: expected 1 to 255", sv.f_namemax);
	max = sv.f_namemax;

	/* a name of exactly f_namemax bytes works */
	memset(name, 'n', max);
	name[max] = '\0';
	OK(podfs_open(vol, tp(name), O_WRONLY | O_CREAT | O_EXCL, 0644, &f));
	EQ(podfs_pwrite(vol, f, "x", 1, 0), 1);
	OK(podfs_close(vol, f));
	OK(podfs_stat(vol, tp(name), &st));
	ck_assert_int_eq(st.st_size, 1);
	OK(podfs_unlink(vol, tp(name)));

	/* one byte more does not, and leaves nothing behind */
	memset(name, 'n', max + 1);
	name[max + 1] = '\0';
	ERR(podfs_open(vol, tp(name), O_WRONLY | O_CREAT | O_EXCL, 0644, &f),
	    ENAMETOOLONG);
	{
		size_t n;
		char **names = list_names(&n);

		ck_assert_msg(n == 0, "after the refused create: %zu names, "
			      "the first %zu bytes long", n,
			      n ? strlen(names[0]) : 0);
		free_names(names, n);
	}
}
END_TEST

/* ---- e. open files whose names go away ---------------------------------------- */

#define DATA_A "data of A"
#define DATA_C "old data of C, longer"

/*
 * A file stays usable through its open handle when its name is unlinked
 * or renamed over: its last name is renamed away (".podfs-...") until
 * its last close. A hard link made by handle names the same object.
 */
START_TEST(test_open_names)
{
	podfs_file *fa, *fb, *fc;
	struct podfs_entry d, eb;
	struct stat st;
	char **names;
	size_t n;

	begin(NULL);
	OK(podfs_ll_lookup(vol, PODFS_ROOT_INO, dir_name, &d));

	/* A, written, linked to B by its handle, then unlinked */
	OK(podfs_open(vol, tp("A"), O_RDWR | O_CREAT | O_EXCL, 0644, &fa));
	EQ(podfs_pwrite(vol, fa, DATA_A, strlen(DATA_A), 0), strlen(DATA_A));
	OK(podfs_ll_link(vol, podfs_file_ino(fa), d.ino, "B", &eb));
	ck_assert_uint_eq(eb.ino, podfs_file_ino(fa));
	ck_assert_uint_eq(eb.attr.st_nlink, 2);
	podfs_ll_forget(vol, eb.ino, 1);
	OK(podfs_unlink(vol, tp("A")));
	ERR(podfs_stat(vol, tp("A"), &st), ENOENT);
	expect_open_file(fa, DATA_A, strlen(DATA_A), "A after its unlink");
	expect_str(tp("B"), DATA_A);
	OK(podfs_open(vol, tp("B"), O_RDONLY, 0, &fb));
	expect_open_file(fb, DATA_A, strlen(DATA_A), "B, opened");

	/* C, open, renamed over by B: the open C keeps its own data */
	OK(podfs_open(vol, tp("C"), O_RDWR | O_CREAT | O_EXCL, 0644, &fc));
	EQ(podfs_pwrite(vol, fc, DATA_C, strlen(DATA_C), 0), strlen(DATA_C));
	OK(podfs_rename(vol, tp("B"), tp("C")));
	ERR(podfs_stat(vol, tp("B"), &st), ENOENT);
	expect_open_file(fc, DATA_C, strlen(DATA_C),
			 "C, open while renamed over");
	expect_str(tp("C"), DATA_A);
	/* and the handles of A and B are the file named C now */
	expect_open_file(fa, DATA_A, strlen(DATA_A), "A after the rename");
	EQ(podfs_pwrite(vol, fa, "D", 1, 0), 1);
	OK(podfs_fsync(vol, fa, 0));
	expect_open_file(fb, "Data of A", strlen(DATA_A),
			 "B, written through A");
	expect_str(tp("C"), "Data of A");

	/* While open: C's replacement, its last name, was renamed away
	 * (".podfs-..."), on NFSv3 whose server forgets a removed file at
	 * once and on NFSv4, whose server (ganesha) fails GETATTRs of a
	 * removed file even while it is open; A's unlink was not, as B
	 * named the file still. (ganesha happens to keep removed files
	 * readable through its own open descriptors, so the reads above
	 * alone would not tell.) */
	names = list_names(&n);
	{
		size_t hidden = 0, want = 1;
		bool c = false;

		for (size_t i = 0; i < n; i++) {
			if (!strcmp(names[i], "C"))
				c = true;
			else if (!strncmp(names[i], ".podfs-", 7))
				hidden++;
			else
				ck_abort_msg("while open: unexpected name "
					     "\"%s\"", names[i]);
		}
		ck_assert_msg(c, "while open: no name C");
		ck_assert_msg(hidden == want,
			      "while open: %zu hidden .podfs- names, expected "
			      "%zu (%s)", hidden, want, ver->name);
	}
	free_names(names, n);

	OK(podfs_close(vol, fa));
	OK(podfs_close(vol, fb));
	OK(podfs_close(vol, fc));
	podfs_ll_forget(vol, d.ino, 1);

	/* after the last close nothing hidden is left */
	names = list_names(&n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strncmp(names[i], ".podfs-", 7) != 0,
			      "after the last close: \"%s\" was left behind",
			      names[i]);
	ck_assert_msg(n == 1 && !strcmp(names[0], "C"),
		      "after the last close: %zu names, the first \"%s\"", n,
		      n ? names[0] : "");
	free_names(names, n);
	expect_str(tp("C"), "Data of A");
	OK(podfs_unlink(vol, tp("C")));
}
END_TEST

/* ---- the suite ------------------------------------------------------------------ */

START_TEST(test_environment)
{
	ck_abort_msg("%s", ver->missing);
}
END_TEST

static void read_env(struct version *v)
{
	const char *url = getenv(v->var);

	if (!url || !*url) {
		snprintf(v->missing, sizeof(v->missing),
			 "%s is not set, so the %s tests cannot run: "
			 HOW_TO_START, v->var, v->name);
		return;
	}
	if (!export_dir || !*export_dir) {
		snprintf(v->missing, sizeof(v->missing),
			 "PODFS_TEST_NFS_DIR (the server's exported directory) "
			 "is not set, so the %s tests cannot run: "
			 HOW_TO_START, v->name);
		return;
	}
	v->url = url;
}

/* Removes the directories failed tests left (a failed test stops before
 * its teardown), in a child so that no client threads live here. */
static void remove_leftovers(void)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), RUN_PREFIX "%d-", (int)main_pid);
	for (size_t i = 0; i < NVERSIONS; i++) {
		pid_t pid;

		if (versions[i].missing[0])
			continue;
		pid = fork();
		if (pid == 0) {
			podfs_volume *v = podfs_new();
			struct podfs_dirent ent;
			char **names = NULL;
			size_t n = 0;
			podfs_dir *d;

			if (!v || podfs_attach(v, versions[i].url, NULL) ||
			    podfs_opendir(v, "/", &d))
				_exit(1);
			while (podfs_readdir(v, d, &ent) == 1) {
				if (strncmp(ent.name, prefix, strlen(prefix)))
					continue;
				names = realloc(names, (n + 1) * sizeof(*names));
				if (!names || !(names[n] = strdup(ent.name)))
					_exit(1);
				n++;
			}
			podfs_closedir(v, d);
			for (size_t k = 0; k < n; k++) {
				char path[300];

				snprintf(path, sizeof(path), "/%s", names[k]);
				test_rm_tree(v, path);
				podfs_rmdir(v, path);
				free(names[k]);
			}
			free(names);
			podfs_free(v);
			_exit(0);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
}

static Suite *nfs_suite(void)
{
	Suite *s = suite_create("nfs");

	for (size_t i = 0; i < NVERSIONS; i++) {
		TCase *tc = tcase_create(versions[i].name);

		tcase_add_checked_fixture(tc, selectors[i], NULL);
		tcase_set_timeout(tc, 120);
		if (versions[i].missing[0]) {
			tcase_add_test(tc, test_environment);
		} else {
			tcase_add_checked_fixture(tc, NULL, finish);
			tcase_add_test(tc, test_full_size_io);
			tcase_add_test(tc, test_in_flight);
			tcase_add_test(tc, test_slots);
			tcase_add_test(tc, test_namemax);
			tcase_add_test(tc, test_async_io);
			tcase_add_test(tc, test_open_names);
		}
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	main_pid = getpid();
	export_dir = getenv("PODFS_TEST_NFS_DIR");
	for (size_t i = 0; i < NVERSIONS; i++)
		read_env(&versions[i]);
	sr = srunner_create(nfs_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	/* a passed test removed its own directory (finish) */
	if (failed)
		remove_leftovers();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
