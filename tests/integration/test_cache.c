/*
 * Integration tests of libpodfs' client cache (issue 10) against the real
 * servers of tests/servers, each case on NFSv3, NFSv4 and CephFS: close-to-
 * open, bounded attribute staleness, one volume's open files sharing its
 * data cache, write-back (few large WRITEs, errors reported at fsync and
 * close), round trips per op, cache=none|strict|loose, the data cache's
 * bound, lookupcache=all|positive|none, and reads that lend the cache
 * (podfs_pread_lend). Two volumes attached to one
 * export stand in for two nodes: A writes, B reads. The counters of
 * podfs_stats_foreach() say what went over the wire.
 *
 * Needs PODFS_TEST_NFS3, PODFS_TEST_NFS4, PODFS_TEST_NFS_DIR (the exported
 * directory on local disk: the write-back error case makes a file of it
 * immutable), PODFS_TEST_CEPH, PODFS_TEST_CEPH_FS and
 * PODFS_TEST_CEPH_SECRETFILE: start the servers first
 * (tests/servers/README.md). PODFS_TEST_SMALL=1 scales the big transfers
 * down (tests/run.sh sets it under valgrind); PODFS_TEST_VERBOSE=1 prints
 * what the tests measured.
 */
#include <check.h>
#include <podfs/podfs.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define KiB (1024L)
#define MiB (1024L * 1024)

#define HOW_TO_START                                                           \
	"start the test servers first: tests/servers/servers.sh start DIR; "  \
	"set -a; . DIR/nfs.env; . DIR/ceph.env; set +a"

/* Directories of this run are named RUN_PREFIX<pid of main>-..., so what
 * a failed test leaves behind is found and removed at the end. */
#define RUN_PREFIX "podfs-cache-"

/* ---- backends ------------------------------------------------------------ */

struct backend {
	const char *name;	/* the suite's name */
	const char *kind;	/* what podfs_backend_name() says */
	int vers;		/* NFS version; 0 for Ceph */
	const char *source_var; /* the environment variable of the source */
	const char *source;
	char options[1024];	/* what every attach needs ("" for none) */
	char missing[1024];	/* why this backend cannot run, or "" */
};

static struct backend backends[] = {
	{ .name = "nfs3", .kind = "nfs", .vers = 3,
	  .source_var = "PODFS_TEST_NFS3" },
	{ .name = "nfs4", .kind = "nfs", .vers = 4,
	  .source_var = "PODFS_TEST_NFS4" },
	{ .name = "ceph", .kind = "ceph", .vers = 0,
	  .source_var = "PODFS_TEST_CEPH" },
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

static struct backend *be; /* set by the tcase's first fixture */
static const char *export_dir; /* PODFS_TEST_NFS_DIR */
static pid_t main_pid;
static bool small;   /* PODFS_TEST_SMALL: big transfers scaled down */
static bool verbose; /* PODFS_TEST_VERBOSE: say what was measured */

static void select_nfs3(void) { be = &backends[0]; }
static void select_nfs4(void) { be = &backends[1]; }
static void select_ceph(void) { be = &backends[2]; }
static void (*const selectors[NBACKENDS])(void) = { select_nfs3, select_nfs4,
						    select_ceph };

static bool is_nfs(void) { return be->vers != 0; }
static bool is_v3(void) { return be->vers == 3; }

__attribute__((format(printf, 1, 2)))
static void note(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	fprintf(stderr, "[%s] ", be->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- assertions ---------------------------------------------------------- */

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

#define OKV(v, expr)                                                           \
	do {                                                                   \
		long long r_ = (long long)(expr);                              \
		const char *m_ = r_ < 0 ? podfs_errmsg(v) : "";                \
		ck_assert_msg(r_ == 0, "%s = %lld (%s): %s", #expr, r_,        \
			      ename(r_), m_);                                  \
	} while (0)

#define EQV(v, expr, want)                                                     \
	do {                                                                   \
		long long r_ = (long long)(expr), w_ = (long long)(want);      \
		const char *m_ = r_ < 0 ? podfs_errmsg(v) : "";                \
		ck_assert_msg(r_ == w_, "%s = %lld (%s), expected %lld %s",    \
			      #expr, r_, ename(r_), w_, m_);                   \
	} while (0)

#define ERRV(v, expr, err)                                                     \
	do {                                                                   \
		long long r_ = (long long)(expr);                              \
		const char *m_ = podfs_errmsg(v);                              \
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

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- deterministic data -------------------------------------------------- */

static uint64_t test_seed;

/* LEN bytes (a multiple of 8) that only SEED gives (with the test's
 * seed): what was written can be made again to compare. */
static void fill_chunk(void *buf, size_t len, uint64_t seed)
{
	uint64_t s = (test_seed + seed) * 0x9e3779b97f4a7c15ULL + 1;
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

/* ---- counters ------------------------------------------------------------ */

struct counter_ask {
	const char *name;
	uint64_t value;
	bool found;
};

static void counter_cb(void *arg, const char *name, uint64_t value)
{
	struct counter_ask *a = arg;

	if (!strcmp(name, a->name)) {
		a->value = value;
		a->found = true;
	}
}

static bool have_counter(podfs_volume *v, const char *name)
{
	struct counter_ask a = { .name = name };

	OKV(v, podfs_stats_foreach(v, counter_cb, &a));
	return a.found;
}

/* The counter NAME of V, which must exist. */
static uint64_t counter(podfs_volume *v, const char *name)
{
	struct counter_ask a = { .name = name };

	OKV(v, podfs_stats_foreach(v, counter_cb, &a));
	ck_assert_msg(a.found, "podfs_stats_foreach() has no counter %s",
		      name);
	return a.value;
}

static void ops_cb(void *arg, const char *name, uint64_t value)
{
	size_t n = strlen(name);

	if (!strncmp(name, "ops.", 4) && n > 6 &&
	    !strcmp(name + n - 6, ".count"))
		*(uint64_t *)arg += value;
}

/* Every backend op V sent so far (the sum of ops.*.count). */
static uint64_t ops_total(podfs_volume *v)
{
	uint64_t sum = 0;

	OKV(v, podfs_stats_foreach(v, ops_cb, &sum));
	return sum;
}

/* NFSv4 renews its lease from a thread of the volume's (a RENEW every
 * third of the lease), and an open owner whose CLOSE is still in flight
 * is not used again (a new one costs an OPEN_CONFIRM): an exact count of
 * requests is the fewest of TRIES runs, PAUSE seconds apart. */
#define TRIES 4
#define PAUSE 0.1

static void keep_fewest(uint64_t *best, uint64_t count)
{
	if (count < *best)
		*best = count;
}

/* ---- the volumes and directory of a test --------------------------------- */

#define MAX_VOLS 8

static podfs_volume *vols[MAX_VOLS]; /* every volume of the test */
static size_t nvols;
static podfs_volume *va, *vb;	     /* A, which made the directory, and B */
static uint64_t dir_a, dir_b;	     /* the directory on A and on B */
static char dir_name[128];	     /* "podfs-cache-<main pid>-<pid>-<be>" */
static char dir_path[130];	     /* the same with a leading "/" */
static struct podfs_cred cred;

/* "A,B" of two option lists either of which may be empty or NULL. */
static const char *join_opts(const char *a, const char *b)
{
	static char buf[2][2048];
	static unsigned next;
	char *o = buf[next++ % 2];

	snprintf(o, sizeof(buf[0]), "%s%s%s", a ? a : "",
		 a && *a && b && *b ? "," : "", b ? b : "");
	return o;
}

/* Another volume on the test's backend, with EXTRA options (NULL: none)
 * and the invalidate callback INVAL (NULL: none); finish() frees it. */
static podfs_volume *attach_with(const char *extra, podfs_invalidate_fn inval)
{
	const char *opts = join_opts(be->options, extra);
	podfs_volume *v = podfs_new();
	int ret;

	ck_assert_msg(v, "podfs_new: out of memory");
	ck_assert(nvols < MAX_VOLS);
	vols[nvols++] = v;
	if (inval)
		OKV(v, podfs_set_invalidate(v, inval, NULL));
	ret = podfs_attach(v, be->source, *opts ? opts : NULL);
	ck_assert_msg(ret == 0, "podfs_attach(%s, \"%s\") = %d (%s): %s",
		      be->source, opts, ret, ename(ret), podfs_errmsg(v));
	return v;
}

static podfs_volume *attach(const char *extra)
{
	return attach_with(extra, NULL);
}

/* The inode of NAME in DIR on V, holding a lookup reference (the volume
 * forgets it when it is freed). */
static uint64_t lookup(podfs_volume *v, uint64_t dir, const char *name)
{
	struct podfs_entry e;

	OKV(v, podfs_ll_lookup(v, dir, name, &e));
	return e.ino;
}

/* The test's directory on V (a lookup reference). */
static uint64_t test_dir(podfs_volume *v)
{
	return lookup(v, PODFS_ROOT_INO, dir_name);
}

/* What B's invalidate callback was told (podfs_set_invalidate): how many
 * calls, for the inode INVAL_INO (atomic; from the library's thread). */
static uint64_t inval_ino, inval_count;

static void on_invalidate(void *arg, uint64_t ino, off_t off, off_t len)
{
	(void)arg;
	(void)off;
	(void)len;
	if (ino == __atomic_load_n(&inval_ino, __ATOMIC_RELAXED))
		__atomic_add_fetch(&inval_count, 1, __ATOMIC_RELAXED);
}

/* Attaches A with OPTS_A and B with OPTS_B (NULL: the defaults), and
 * makes the test's own directory through A. B tells on_invalidate. */
static void begin(const char *opts_a, const char *opts_b)
{
	struct podfs_entry e;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	test_seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
	cred = (struct podfs_cred){ .uid = getuid(), .gid = getgid() };
	va = attach(opts_a);
	vb = attach_with(opts_b, on_invalidate);
	snprintf(dir_name, sizeof(dir_name), RUN_PREFIX "%d-%d-%s",
		 (int)main_pid, (int)getpid(), be->name);
	snprintf(dir_path, sizeof(dir_path), "/%s", dir_name);
	OKV(va, podfs_ll_mkdir(va, PODFS_ROOT_INO, dir_name, 0777, &cred, &e));
	dir_a = e.ino;
	dir_b = test_dir(vb);
}

/* The checked teardown: runs when the test passed (a failed one leaves
 * its directory to remove_leftovers). The directory goes through a fresh
 * volume, so nothing a test's volumes cached is in the way. */
static void finish(void)
{
	char msg[512] = "";
	podfs_volume *v;
	int ret, ret2;

	for (size_t i = 0; i < nvols; i++)
		podfs_free(vols[i]);
	nvols = 0;
	va = vb = NULL;
	if (!dir_name[0])
		return;
	v = podfs_new();
	ck_assert(v);
	ret = podfs_attach(v, be->source, *be->options ? be->options : NULL);
	if (!ret)
		ret = test_rm_tree(v, dir_path);
	if (ret)
		snprintf(msg, sizeof(msg), "%s", podfs_errmsg(v));
	ret2 = ret ? 0 : podfs_rmdir(v, dir_path);
	if (ret2)
		snprintf(msg, sizeof(msg), "%s", podfs_errmsg(v));
	podfs_free(v);
	ck_assert_msg(!ret && !ret2, "cleaning up %s failed (%s/%s): %s",
		      dir_path, ename(ret), ename(ret2), msg);
}

/* ---- file helpers -------------------------------------------------------- */

/* A new file NAME in DIR on V holding DATA (LEN bytes), written and
 * closed; its inode (a lookup reference). */
static uint64_t put_new(podfs_volume *v, uint64_t dir, const char *name,
			const void *data, size_t len)
{
	struct podfs_entry e;
	podfs_file *f;

	OKV(v, podfs_ll_create(v, dir, name, 0644, O_WRONLY | O_EXCL, &cred,
			       &e, &f));
	if (len)
		EQV(v, podfs_pwrite(v, f, data, len, 0), len);
	OKV(v, podfs_release(v, f));
	return e.ino;
}

/* INO on V holds DATA (LEN bytes) from now: opened with O_TRUNC,
 * written, closed. */
static void put_ino(podfs_volume *v, uint64_t ino, const void *data,
		    size_t len)
{
	podfs_file *f;

	OKV(v, podfs_ll_open(v, ino, O_WRONLY | O_TRUNC, &f));
	if (len)
		EQV(v, podfs_pwrite(v, f, data, len, 0), len);
	OKV(v, podfs_release(v, f));
}

/* The open file F holds exactly WANT (LEN bytes). */
static void expect_open(podfs_volume *v, podfs_file *f, const void *want,
			size_t len, const char *what)
{
	size_t cap = len + 4096;
	char *buf = xmalloc(cap);
	ssize_t r = podfs_pread(v, f, buf, cap, 0);

	ck_assert_msg(r == (ssize_t)len, "%s: podfs_pread = %zd (%s), "
		      "expected %zu bytes: %s", what, r, ename(r), len,
		      r < 0 ? podfs_errmsg(v) : "");
	expect_bytes(buf, want, len, what);
	free(buf);
}

/* Opens INO on V, expects WANT (LEN bytes) and closes; the open's
 * keep_cache. */
static int expect_ino(podfs_volume *v, uint64_t ino, const void *want,
		      size_t len, const char *what)
{
	podfs_file *f;
	int keep;

	OKV(v, podfs_ll_open(v, ino, O_RDONLY, &f));
	keep = podfs_file_keep_cache(f);
	expect_open(v, f, want, len, what);
	OKV(v, podfs_release(v, f));
	return keep;
}

/* What V's getattr says INO's size is. */
static off_t size_of(podfs_volume *v, uint64_t ino)
{
	struct stat st;

	OKV(v, podfs_ll_getattr(v, ino, &st));
	return st.st_size;
}

/* Appends LEN bytes of DATA to INO on V: opened O_APPEND, written,
 * closed. */
static void append_ino(podfs_volume *v, uint64_t ino, const void *data,
		       size_t len)
{
	podfs_file *f;

	OKV(v, podfs_ll_open(v, ino, O_WRONLY | O_APPEND, &f));
	EQV(v, podfs_pwrite(v, f, data, len, 0), len);
	OKV(v, podfs_release(v, f));
}

/* Margin over an attribute timeout for one change to show: the polling
 * and the calls' own time (valgrind makes them slow). */
static double margin(void)
{
	return small ? 2.0 : 1.0;
}

/* ==== 1. close-to-open ==================================================== */

#define CTO_SIZE 8192
#define CTO_VERSIONS 6

/* A coherent backend (CephFS) told B that A changed the file (version
 * I), within a second: a FUSE filesystem keeps the kernel's cache of the
 * file across opens (keep_cache) and drops it on this word alone. */
static void expect_invalidated(uint64_t before, int i)
{
	double t0 = now_mono();

	while (__atomic_load_n(&inval_count, __ATOMIC_RELAXED) == before &&
	       now_mono() - t0 < 1.0 + margin())
		sleep_s(0.01);
	ck_assert_msg(__atomic_load_n(&inval_count, __ATOMIC_RELAXED) > before,
		      "version %d: B's invalidate callback was not called for "
		      "the file A changed (%.1f s)", i, now_mono() - t0);
	note("version %d: B told of A's change after %.3f s", i,
	     now_mono() - t0);
}

/*
 * A writes a new version and closes; B, which read (and cached) the old
 * version and even keeps it open, opens and reads the new bytes, every
 * time. Odd versions keep the size, so only mtime and ctime tell them
 * apart: a pause of 20 ms between versions puts them in different
 * timestamp ticks of the server's file system (a kernel without
 * fine-grained timestamps stamps at jiffy granularity; two same-size
 * writes within one tick cannot be told apart by any NFS client). Even
 * versions change the size and come without a pause. Over CephFS, which
 * lets B keep its cache across opens, B's invalidate callback must hear
 * of each change.
 */
START_TEST(test_cto)
{
	char *want = xmalloc(CTO_SIZE);
	podfs_file *held, *f;
	uint64_t ia, ib, inval0;
	size_t len = CTO_SIZE;

	begin(NULL, NULL);
	fill_chunk(want, len, 0);
	ia = put_new(va, dir_a, "f", want, len);
	ib = lookup(vb, dir_b, "f");
	__atomic_store_n(&inval_ino, ib, __ATOMIC_RELAXED);
	expect_ino(vb, ib, want, len, "B, version 0");
	OKV(vb, podfs_ll_open(vb, ib, O_RDONLY, &held));
	for (int i = 1; i <= CTO_VERSIONS; i++) {
		char what[64];

		/* B has the version before cached: it just read it */
		expect_open(vb, held, want, len, "B's file held open, before "
			    "A writes");
		len = i % 2 ? len : CTO_SIZE - 8 * (size_t)i;
		if (i % 2)
			sleep_s(0.02);
		fill_chunk(want, len, (uint64_t)i);
		inval0 = __atomic_load_n(&inval_count, __ATOMIC_RELAXED);
		put_ino(va, ia, want, len);
		if (podfs_coherent(vb))
			expect_invalidated(inval0, i);

		OKV(vb, podfs_ll_open(vb, ib, O_RDONLY, &f));
		/* over NFS what B cached must go; CephFS recalls it from B
		 * before A writes, so B may keep what it has */
		if (!podfs_coherent(vb))
			ck_assert_msg(!podfs_file_keep_cache(f),
				      "version %d: B's open after A changed "
				      "the file says keep_cache", i);
		snprintf(what, sizeof(what), "B's read of version %d (%zu "
			 "bytes)", i, len);
		expect_open(vb, f, want, len, what);
		OKV(vb, podfs_release(vb, f));
	}
	OKV(vb, podfs_release(vb, held));
	/* unchanged since B's last open: what B cached is kept */
	ck_assert_msg(expect_ino(vb, ib, want, len, "B, unchanged"),
		      "B's open of the unchanged file drops its cache "
		      "(keep_cache 0)");
	free(want);
}
END_TEST

/* ==== 2. attribute staleness ============================================== */

#define STALE_ROUNDS 3

/* A appends and closes; B, which has the attributes cached, polls
 * podfs_ll_getattr until it sees the new size: within the attribute
 * timeout (actimeo=1) plus a margin, without opening the file. */
START_TEST(test_attr_actimeo)
{
	char data[64];
	uint64_t ia, ib, hits0;
	off_t size = 8;

	begin(NULL, "actimeo=1");
	fill_chunk(data, sizeof(data), 1);
	ia = put_new(va, dir_a, "f", data, (size_t)size);
	ib = lookup(vb, dir_b, "f");
	hits0 = counter(vb, "cache.attr.hits");
	for (int r = 0; r < STALE_ROUNDS; r++) {
		double t0, waited;
		off_t seen;

		EQV(vb, size_of(vb, ib), size);
		append_ino(va, ia, data, 8);
		size += 8;
		t0 = now_mono();
		while ((seen = size_of(vb, ib)) != size &&
		       now_mono() - t0 < 1.0 + margin() + 1.0)
			sleep_s(0.02);
		waited = now_mono() - t0;
		note("actimeo=1: B saw A's new size after %.3f s", waited);
		ck_assert_msg(seen == size, "round %d: B never saw size %lld "
			      "(still %lld after %.1f s)", r, (long long)size,
			      (long long)seen, waited);
		ck_assert_msg(waited <= 1.0 + margin(),
			      "round %d: B saw A's new size only after %.2f s "
			      "with actimeo=1 (margin %.1f s)", r, waited,
			      margin());
	}
	/* the bound is not met by caching nothing */
	if (is_nfs())
		ck_assert_msg(counter(vb, "cache.attr.hits") > hits0,
			      "actimeo=1: B's attribute cache never answered");
}
END_TEST

/* With noac B sees A's change at once, through both levels. */
START_TEST(test_attr_noac)
{
	char data[64];
	uint64_t ia, ib;
	struct stat st;
	char path[300];

	begin(NULL, "noac");
	fill_chunk(data, sizeof(data), 2);
	ia = put_new(va, dir_a, "f", data, 8);
	ib = lookup(vb, dir_b, "f");
	snprintf(path, sizeof(path), "%s/f", dir_path);
	for (int r = 1; r <= STALE_ROUNDS; r++) {
		EQV(vb, size_of(vb, ib), 8 * r);
		ck_assert_msg(podfs_ll_attr_timeout(vb, ib) == 0,
			      "noac: B keeps attributes for %.3f s",
			      podfs_ll_attr_timeout(vb, ib));
		append_ino(va, ia, data, 8);
		EQV(vb, size_of(vb, ib), 8 * (r + 1));
		OKV(vb, podfs_stat(vb, path, &st));
		EQV(vb, st.st_size, 8 * (r + 1));
	}
	if (is_nfs())
		EQV(vb, counter(vb, "cache.attr.hits"), 0);
}
END_TEST

/* ==== 3. one volume, two open files ======================================= */

/* A write through one open file is read through another open file of
 * the same volume at once: with the data cache they share its blocks (no
 * READ goes out), with cache=none both go to the server. */
static void shared_files(podfs_volume *v, uint64_t dir, const char *name)
{
	char a[3 * 4096], b[4096], got[sizeof(a) + 4096];
	struct podfs_entry e;
	podfs_file *w, *r;
	uint64_t reads0 = 0;
	bool cached = counter(v, "cache.data.limit") > 0;

	fill_chunk(a, sizeof(a), 3);
	fill_chunk(b, sizeof(b), 4);
	OKV(v, podfs_ll_create(v, dir, name, 0644, O_RDWR | O_EXCL, &cred, &e,
			       &w));
	OKV(v, podfs_ll_open(v, e.ino, O_RDONLY, &r));
	if (cached)
		reads0 = counter(v, "rpc.reads");
	EQV(v, podfs_pwrite(v, w, a, 2 * 4096, 0), 2 * 4096);
	expect_open(v, r, a, 2 * 4096, "the second file, after the first "
		    "wrote");

	/* overwrite the middle and grow the file through the first */
	EQV(v, podfs_pwrite(v, w, b, 100, 4000), 100);
	memcpy(a + 4000, b, 100);
	EQV(v, podfs_pwrite(v, w, a + 2 * 4096, 4096, 2 * 4096), 4096);
	expect_open(v, r, a, sizeof(a), "the second file, after the first "
		    "wrote again");
	EQV(v, podfs_pread(v, r, got, 10, sizeof(a)), 0);
	EQV(v, size_of(v, e.ino), sizeof(a));
	if (cached)
		ck_assert_msg(counter(v, "rpc.reads") == reads0,
			      "the second file's reads sent %llu READs: the "
			      "data cache is not shared",
			      (unsigned long long)(counter(v, "rpc.reads") -
						   reads0));
	OKV(v, podfs_release(v, r));
	OKV(v, podfs_release(v, w));
	podfs_ll_forget(v, e.ino, 1);
}

START_TEST(test_shared_open_files)
{
	podfs_volume *none;

	begin(NULL, NULL);
	shared_files(va, dir_a, "cached");
	none = attach("cache=none");
	shared_files(none, test_dir(none), "uncached");
}
END_TEST

/* ==== 4. write-back ======================================================= */

#define APPEND_SIZE 4096

/* 16 MiB (4 MiB with PODFS_TEST_SMALL) */
static size_t appends_total(void)
{
	return (small ? 4 : 16) * (size_t)MiB;
}

/* Appends appends_total() bytes in APPEND_SIZE pieces to a new file NAME
 * on V, fsyncs and closes; the WRITE requests that took (0 where the
 * backend counts none). */
static uint64_t append_many(podfs_volume *v, const char *name)
{
	size_t n = appends_total() / APPEND_SIZE;
	char buf[APPEND_SIZE];
	bool rpc = have_counter(v, "rpc.writes");
	uint64_t w0 = 0, b0 = 0, ops0, writes = 0;
	struct podfs_entry e;
	podfs_file *f;

	OKV(v, podfs_ll_create(v, test_dir(v), name, 0644,
			       O_WRONLY | O_APPEND | O_EXCL, &cred, &e, &f));
	if (rpc) {
		w0 = counter(v, "rpc.writes");
		b0 = counter(v, "rpc.write_bytes");
	}
	ops0 = counter(v, "ops.write.count");
	for (size_t i = 0; i < n; i++) {
		fill_chunk(buf, sizeof(buf), 100 + i);
		/* the offset is ignored: O_APPEND */
		EQV(v, podfs_pwrite(v, f, buf, sizeof(buf), 0), sizeof(buf));
	}
	OKV(v, podfs_fsync(v, f, 0));
	if (rpc) {
		writes = counter(v, "rpc.writes") - w0;
		/* each byte went once */
		EQV(v, counter(v, "rpc.write_bytes") - b0, appends_total());
	} else {
		/* CephFS: libcephfs gathers the writes itself (and counts
		 * no RPCs for us); the core must not stack a cache of its
		 * own on it, so every write reaches it */
		EQV(v, counter(v, "ops.write.count") - ops0, n);
		EQV(v, counter(v, "cache.data.bytes"), 0);
	}
	OKV(v, podfs_release(v, f));
	return writes;
}

/* NAME, read from another volume (B) after the fsync, holds exactly
 * what append_many wrote. */
static void expect_appends(const char *name)
{
	size_t total = appends_total(), piece = 1 * MiB;
	char *got = xmalloc(piece), *want = xmalloc(piece);
	uint64_t ino = lookup(vb, dir_b, name);
	podfs_file *f;

	OKV(vb, podfs_ll_open(vb, ino, O_RDONLY, &f));
	for (size_t off = 0; off < total; off += piece) {
		char what[128];

		for (size_t k = 0; k < piece / APPEND_SIZE; k++)
			fill_chunk(want + k * APPEND_SIZE, APPEND_SIZE,
				   100 + (off / APPEND_SIZE) + k);
		EQV(vb, podfs_pread(vb, f, got, piece, (off_t)off), piece);
		snprintf(what, sizeof(what), "%s read on B, MiB %zu", name,
			 off / MiB);
		expect_bytes(got, want, piece, what);
	}
	EQV(vb, podfs_pread(vb, f, got, 16, (off_t)total), 0);
	OKV(vb, podfs_release(vb, f));
	free(got);
	free(want);
}

/*
 * 4 KiB appends then fsync: with the data cache they go out as few large
 * WRITEs (at least 20 times fewer than the appends), with cache=none as
 * one WRITE each. Another volume reads every byte back after the fsync.
 */
START_TEST(test_writeback_appends)
{
	size_t n = appends_total() / APPEND_SIZE;
	uint64_t cached, uncached;

	begin(NULL, NULL);
	cached = append_many(va, "cached");
	expect_appends("cached");
	uncached = append_many(attach("cache=none"), "uncached");
	expect_appends("uncached");
	note("%zu appends of 4 KiB: %llu WRITEs cached, %llu with cache=none",
	     n, (unsigned long long)cached, (unsigned long long)uncached);
	if (!is_nfs())
		return; /* no RPC counters: the data was checked */
	ck_assert_msg(cached >= 1 && cached <= n / 20,
		      "%zu appends of 4 KiB went out as %llu WRITEs, expected "
		      "at most %zu (20 times fewer)", n,
		      (unsigned long long)cached, n / 20);
	ck_assert_msg(uncached >= n && uncached <= n + 2,
		      "cache=none: %zu appends of 4 KiB went out as %llu "
		      "WRITEs, expected one each", n,
		      (unsigned long long)uncached);
}
END_TEST

/* ---- 5. write-back errors ------------------------------------------------ */

/* The server's own copy of NAME in the test's directory (NFS). */
static const char *server_path(const char *name)
{
	static char path[1024];

	snprintf(path, sizeof(path), "%s/%s/%s", export_dir, dir_name, name);
	return path;
}

/* Sets or clears FS_IMMUTABLE_FL on PATH: 0 or -errno. */
static int set_immutable(const char *path, bool on)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK), flags, ret = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags))
		ret = -errno;
	if (!ret) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags))
			ret = -errno;
	}
	close(fd);
	return ret;
}

/* Makes the server's copy of NAME refuse writes, even through the
 * server's descriptors already open (as ext4 and xfs refuse a write to an
 * immutable file); checked through a descriptor opened before. */
static void freeze(const char *name)
{
	const char *path = server_path(name);
	int fd = open(path, O_WRONLY), ret;
	ssize_t w;

	ck_assert_msg(fd >= 0, "the server's copy %s: %s (PODFS_TEST_NFS_DIR "
		      "must be the exported directory)", path, strerror(errno));
	ret = set_immutable(path, true);
	if (ret) {
		close(fd);
		ck_abort_msg("cannot make the server's copy %s immutable "
			     "(FS_IOC_SETFLAGS): %s; this test needs root and "
			     "an export on ext4 or xfs", path, strerror(-ret));
	}
	w = pwrite(fd, "x", 1, 0);
	close(fd);
	if (w >= 0) {
		set_immutable(path, false);
		ck_abort_msg("the file system of %s still writes an immutable "
			     "file through an open descriptor: this test needs "
			     "an export on ext4 or xfs", path);
	}
}

static void thaw(const char *name)
{
	int ret = set_immutable(server_path(name), false);

	ck_assert_msg(ret == 0, "clearing FS_IMMUTABLE_FL of %s: %s",
		      server_path(name), strerror(-ret));
}

/* A write-back the server refused fails fsync: -WANT_ERR, or with
 * WANT_ERR 0 any error; counted in writeback.errors; reported once. */
static void expect_fsync_fails(podfs_volume *v, podfs_file *f, int want_err,
			       const char *how)
{
	uint64_t errs0 = counter(v, "writeback.errors");
	int ret = podfs_fsync(v, f, 0);

	if (want_err)
		ck_assert_msg(ret == -want_err, "%s: fsync = %d (%s), expected "
			      "-%s: %s", how, ret, ename(ret),
			      ename(-want_err), podfs_errmsg(v));
	else
		ck_assert_msg(ret < 0, "%s: fsync = %d: the refused write-back "
			      "was lost", how, ret);
	ck_assert_msg(counter(v, "writeback.errors") > errs0,
		      "%s: writeback.errors did not grow", how);
}

/*
 * A write-back the server refuses is reported at the next fsync and at
 * close, never lost. What makes an NFS server refuse a WRITE (nfs-ganesha
 * 4.3, FSAL VFS, measured):
 *  - NFSv3: another client (B) removes the file: the handle is stale and
 *    the WRITE fails with NFS3ERR_STALE (ganesha drops its descriptor of
 *    an object it removes). Over NFSv4 the open state keeps a removed file
 *    writable, as it should.
 *  - NFSv3 and NFSv4: the server's copy made immutable (FS_IOC_SETFLAGS on
 *    PODFS_TEST_NFS_DIR): the WRITE fails with NFS3ERR_PERM/NFS4ERR_PERM.
 * CephFS has no write-back in podfs (libcephfs buffers); a write past the
 * MDS's max_file_size (1 TiB by default) is refused, and the error must
 * come from the write or the fsync.
 */
START_TEST(test_writeback_error)
{
	char data[8192];
	struct podfs_entry e;
	podfs_file *f;
	int ret;

	begin(NULL, NULL);
	fill_chunk(data, sizeof(data), 5);
	if (!is_nfs()) {
		ssize_t w;

		OKV(va, podfs_ll_create(va, dir_a, "big", 0644,
					O_RDWR | O_EXCL, &cred, &e, &f));
		EQV(va, podfs_pwrite(va, f, data, sizeof(data), 0),
		    sizeof(data));
		OKV(va, podfs_fsync(va, f, 0));
		w = podfs_pwrite(va, f, data, sizeof(data), 2LL << 40);
		ret = podfs_fsync(va, f, 0);
		ck_assert_msg(w < 0 || ret < 0, "a write at 2 TiB (past "
			      "max_file_size) = %zd, fsync = %d: the error was "
			      "lost", w, ret);
		OKV(va, podfs_release(va, f));
		return;
	}

	if (is_v3()) {
		/* B removes the file A writes to: the WRITE is stale */
		OKV(va, podfs_ll_create(va, dir_a, "removed", 0644,
					O_RDWR | O_EXCL, &cred, &e, &f));
		EQV(va, podfs_pwrite(va, f, data, 4096, 0), 4096);
		OKV(va, podfs_fsync(va, f, 0));
		EQV(va, podfs_pwrite(va, f, data, 4096, 4096), 4096);
		OKV(vb, podfs_ll_unlink(vb, dir_b, "removed"));
		expect_fsync_fails(va, f, ESTALE, "NFSv3, file removed by B");
		/* and at close: another write goes nowhere */
		EQV(va, podfs_pwrite(va, f, data, 4096, 8192), 4096);
		ERRV(va, podfs_release(va, f), ESTALE);
	}

	/* the server's copy refuses writes: reported at fsync ... */
	OKV(va, podfs_ll_create(va, dir_a, "frozen", 0644, O_RDWR | O_EXCL,
				&cred, &e, &f));
	EQV(va, podfs_pwrite(va, f, data, 4096, 0), 4096);
	OKV(va, podfs_fsync(va, f, 0));
	EQV(va, podfs_pwrite(va, f, data, 4096, 4096), 4096);
	freeze("frozen");
	ret = podfs_fsync(va, f, 0);
	thaw("frozen");
	ck_assert_msg(ret == -EPERM || ret == -EACCES, "fsync after a WRITE "
		      "the server refused = %d (%s), expected -EPERM or "
		      "-EACCES: %s", ret, ename(ret), podfs_errmsg(va));
	/* ... once: the file is writable again */
	EQV(va, podfs_pwrite(va, f, data, 4096, 4096), 4096);
	OKV(va, podfs_fsync(va, f, 0));
	/* ... and at close */
	EQV(va, podfs_pwrite(va, f, data, 4096, 8192), 4096);
	freeze("frozen");
	ret = podfs_release(va, f);
	thaw("frozen");
	ck_assert_msg(ret == -EPERM || ret == -EACCES, "close after a WRITE "
		      "the server refused = %d (%s), expected -EPERM or "
		      "-EACCES: %s", ret, ename(ret), podfs_errmsg(va));
	/* what was acknowledged is there */
	ck_assert_int_eq(size_of(vb, lookup(vb, dir_b, "frozen")), 8192);
}
END_TEST

/* ==== 6. round trips per op =============================================== */

/* What reopening, reading and closing a small unchanged file costs on
 * NFSv4: OPEN and CLOSE. The issue aims at one GETATTR on NFSv3; NFSv4
 * needs OPEN and CLOSE anyway, and the OPEN, by the name the file was
 * looked up under with a GETATTR in its COMPOUND, is close-to-open's
 * revalidation too (no LOOKUP of its own). */
#define V4_REOPEN_CALLS 2

/* The requests (NFS: rpc.calls; CephFS: backend ops, as libcephfs
 * counts no RPCs for us) each op of the inode level costs, in TRIES
 * runs. */
START_TEST(test_round_trips)
{
	uint64_t mkdir_n = UINT64_MAX, create_n = UINT64_MAX;
	uint64_t getattr_n = UINT64_MAX, unlink_n = UINT64_MAX;
	uint64_t reopen_n = UINT64_MAX, reads = 0;
	uint64_t ino[TRIES], small_ino;
	char data[512], name[32];
	struct podfs_entry e;
	struct stat st;
	podfs_file *f;

	begin(NULL, NULL);
	/* on CephFS the backend ops stand in for round trips */
#define CALLS(v) (is_nfs() ? counter(v, "rpc.calls") : ops_total(v))
	for (int i = 0; i < TRIES; i++) {
		uint64_t c0;

		snprintf(name, sizeof(name), "d%d", i);
		c0 = CALLS(va);
		OKV(va, podfs_ll_mkdir(va, dir_a, name, 0755, &cred, &e));
		keep_fewest(&mkdir_n, CALLS(va) - c0);
		sleep_s(PAUSE);
	}
	for (int i = 0; i < TRIES; i++) {
		uint64_t c0;

		snprintf(name, sizeof(name), "c%d", i);
		c0 = CALLS(va);
		OKV(va, podfs_ll_create(va, dir_a, name, 0644,
					O_WRONLY | O_EXCL, &cred, &e, &f));
		OKV(va, podfs_release(va, f));
		keep_fewest(&create_n, CALLS(va) - c0);
		ino[i] = e.ino;
		sleep_s(PAUSE);
	}
	for (int i = 0; i < TRIES; i++) {
		uint64_t c0 = CALLS(va);

		OKV(va, podfs_ll_getattr(va, ino[i], &st));
		keep_fewest(&getattr_n, CALLS(va) - c0);
	}
	for (int i = 0; i < TRIES; i++) {
		uint64_t c0;

		snprintf(name, sizeof(name), "c%d", i);
		c0 = CALLS(va);
		OKV(va, podfs_ll_unlink(va, dir_a, name));
		keep_fewest(&unlink_n, CALLS(va) - c0);
		sleep_s(PAUSE);
	}
	/* a small file written, closed and read once: then reopened,
	 * read and closed again, unchanged */
	fill_chunk(data, sizeof(data), 6);
	small_ino = put_new(va, dir_a, "small", data, sizeof(data));
	expect_ino(va, small_ino, data, sizeof(data), "small, first read");
	for (int i = 0; i < TRIES; i++) {
		const char *rd = is_nfs() ? "rpc.reads" : "ops.read.count";
		uint64_t c0 = CALLS(va), r0 = counter(va, rd);

		ck_assert_msg(expect_ino(va, small_ino, data, sizeof(data),
					 "small, read again"),
			      "reopening the unchanged file drops its cache");
		keep_fewest(&reopen_n, CALLS(va) - c0);
		reads += counter(va, rd) - r0;
		sleep_s(PAUSE);
	}
#undef CALLS
	note("requests: mkdir %llu, create+close %llu, getattr %llu, unlink "
	     "%llu, reopen+read+close %llu (reads %llu)",
	     (unsigned long long)mkdir_n, (unsigned long long)create_n,
	     (unsigned long long)getattr_n, (unsigned long long)unlink_n,
	     (unsigned long long)reopen_n, (unsigned long long)reads);
	if (!is_nfs()) {
		/* CephFS: one backend op per op, nothing more (no lookups
		 * or getattrs of the core's own), and every read reaches
		 * libcephfs (no second cache over it) */
		EQV(va, mkdir_n, 1);
		EQV(va, create_n, 2);	/* create, close */
		EQV(va, getattr_n, 1);
		EQV(va, unlink_n, 1);
		EQV(va, reopen_n, 3);	/* open, read, close */
		EQV(va, reads, TRIES);
		return;
	}
	EQV(va, mkdir_n, 1);
	/* CREATE; OPEN, CLOSE. (NFSv4: an open owner's first OPEN is
	 * confirmed, OPEN_CONFIRM, one more; owners are kept for the next
	 * open once their CLOSE is answered.) */
	EQV(va, create_n, is_v3() ? 1 : 2);
	EQV(va, getattr_n, 0);
	EQV(va, unlink_n, 1);
	EQV(va, reopen_n, is_v3() ? 1 : V4_REOPEN_CALLS);
	/* the data came from the cache */
	EQV(va, reads, 0);
}
END_TEST

/* ==== 7. cache=none, strict, loose ======================================== */

#define MODE_SIZE 4096

/*
 * cache=loose: B reopening a file within the attribute timeout trusts
 * what it cached (over NFS it asks the server nothing, so it may read
 * A's old bytes; which it read is noted); once the timeout (actimeo=2)
 * has passed, its next open reads A's new bytes.
 */
START_TEST(test_mode_loose)
{
	char old[MODE_SIZE], new[MODE_SIZE], got[MODE_SIZE + 16];
	uint64_t ia, ib, asked0;
	double t_attr, t0;
	podfs_file *f;
	ssize_t r;

	begin(NULL, "cache=loose,actimeo=2");
	fill_chunk(old, sizeof(old), 7);
	fill_chunk(new, sizeof(new), 8);
	ia = put_new(va, dir_a, "f", old, sizeof(old));
	ib = lookup(vb, dir_b, "f");
	t_attr = now_mono(); /* B's attributes are this fresh, at least */
	expect_ino(vb, ib, old, sizeof(old), "B, before");
	sleep_s(0.02); /* a new timestamp tick (see test_cto) */
	put_ino(va, ia, new, sizeof(new));

	asked0 = counter(vb, "ops.lookup.count") +
		 counter(vb, "ops.getattr.count");
	OKV(vb, podfs_ll_open(vb, ib, O_RDONLY, &f));
	r = podfs_pread(vb, f, got, sizeof(got), 0);
	EQV(vb, r, MODE_SIZE);
	ck_assert_msg(!memcmp(got, old, MODE_SIZE) ||
		      !memcmp(got, new, MODE_SIZE),
		      "cache=loose: B read neither the old nor the new bytes");
	note("cache=loose: B's reopen within the attribute timeout read the "
	     "%s bytes", !memcmp(got, old, MODE_SIZE) ? "old (cached)" : "new");
	OKV(vb, podfs_release(vb, f));
	/* over NFS, while B's attributes are fresh, loose asks nothing */
	if (is_nfs() && now_mono() - t_attr < 2.0)
		ck_assert_msg(counter(vb, "ops.lookup.count") +
				      counter(vb, "ops.getattr.count") ==
			      asked0,
			      "cache=loose: B's reopen within the attribute "
			      "timeout revalidated with the server");

	/* past the timeout, B's next open reads the new bytes */
	t0 = now_mono();
	for (;;) {
		OKV(vb, podfs_ll_open(vb, ib, O_RDONLY, &f));
		EQV(vb, podfs_pread(vb, f, got, sizeof(got), 0), MODE_SIZE);
		OKV(vb, podfs_release(vb, f));
		if (!memcmp(got, new, MODE_SIZE))
			break;
		ck_assert_msg(now_mono() - t0 <= 2.0 + margin(),
			      "cache=loose,actimeo=2: B still reads the old "
			      "bytes %.1f s after A's change",
			      now_mono() - t0);
		sleep_s(0.05);
	}
}
END_TEST

/* cache=strict: B sees A's change at its next open, however fresh B's
 * cached attributes are (actimeo=60). */
START_TEST(test_mode_strict)
{
	char data[MODE_SIZE];
	uint64_t ia, ib;

	begin(NULL, "cache=strict,actimeo=60");
	fill_chunk(data, sizeof(data), 9);
	ia = put_new(va, dir_a, "f", data, sizeof(data));
	ib = lookup(vb, dir_b, "f");
	expect_ino(vb, ib, data, sizeof(data), "B, version 0");
	for (int i = 1; i <= 3; i++) {
		char what[64];

		sleep_s(0.02); /* a new timestamp tick (see test_cto) */
		fill_chunk(data, sizeof(data), 9 + (uint64_t)i);
		put_ino(va, ia, data, sizeof(data));
		snprintf(what, sizeof(what), "B, version %d", i);
		expect_ino(vb, ib, data, sizeof(data), what);
	}
}
END_TEST

/* cache=none: every read goes to the server (a READ each over NFS, a
 * read op each over CephFS), so B sees A's change at its next read of a
 * file it keeps open. */
START_TEST(test_mode_none)
{
	char data[MODE_SIZE], got[MODE_SIZE];
	const char *reads = is_nfs() ? "rpc.reads" : "ops.read.count";
	uint64_t ia, ib;
	podfs_file *f;

	begin(NULL, "cache=none");
	fill_chunk(data, sizeof(data), 13);
	ia = put_new(va, dir_a, "f", data, sizeof(data));
	ib = lookup(vb, dir_b, "f");
	OKV(vb, podfs_ll_open(vb, ib, O_RDONLY, &f));
	ck_assert_msg(podfs_file_direct_io(f), "cache=none: the open file "
		      "is not direct_io");
	for (int i = 0; i < 4; i++) {
		uint64_t r0 = counter(vb, reads);
		char what[64];

		if (i) {
			sleep_s(0.02); /* see test_cto */
			fill_chunk(data, sizeof(data), 13 + (uint64_t)i);
			put_ino(va, ia, data, sizeof(data));
		}
		snprintf(what, sizeof(what), "B's open file, version %d", i);
		/* twice: the second as much the server's as the first */
		for (int k = 0; k < 2; k++) {
			EQV(vb, podfs_pread(vb, f, got, sizeof(got), 0),
			    MODE_SIZE);
			expect_bytes(got, data, sizeof(data), what);
		}
		ck_assert_msg(counter(vb, reads) - r0 >= 2,
			      "cache=none: two reads sent %llu read requests",
			      (unsigned long long)(counter(vb, reads) - r0));
	}
	OKV(vb, podfs_release(vb, f));
	EQV(vb, counter(vb, "cache.data.bytes"), 0);
}
END_TEST

/* ==== 8. bounded memory =================================================== */

#define MEM_CACHE (4 * MiB) /* the smallest cache_size */
#define MEM_FILE (8 * MEM_CACHE)
#define MEM_READ (128 * KiB)

struct mem_watch {
	podfs_volume *v;
	pthread_t thread;
	bool stop; /* atomic */
	uint64_t samples, max_bytes, limit, over;
};

/* Samples cache.data.bytes and .limit while the test reads. */
static void *mem_watch_main(void *arg)
{
	struct mem_watch *w = arg;

	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		struct counter_ask b = { .name = "cache.data.bytes" };
		struct counter_ask l = { .name = "cache.data.limit" };

		if (podfs_stats_foreach(w->v, counter_cb, &b) ||
		    podfs_stats_foreach(w->v, counter_cb, &l))
			break;
		w->samples++;
		if (b.value > w->max_bytes)
			w->max_bytes = b.value;
		if (b.value > l.value) {
			w->over++;
			w->limit = l.value;
		}
		usleep(500);
	}
	return NULL;
}

/* A file 8 times cache_size=4M read sequentially: the data cache never
 * holds more than its limit (sampled by a thread and after every read),
 * and it did cache (over NFS). CephFS has no data cache in podfs (both 0):
 * libcephfs keeps its own. */
START_TEST(test_bounded_memory)
{
	char *want = xmalloc(MiB), *got = xmalloc(MEM_READ);
	struct mem_watch w = { .stop = false };
	uint64_t ino, limit, most = 0;
	struct podfs_entry e;
	podfs_volume *r;
	podfs_file *f;

	begin(NULL, NULL);
	OKV(va, podfs_ll_create(va, dir_a, "big", 0644, O_WRONLY | O_EXCL,
				&cred, &e, &f));
	for (long off = 0; off < MEM_FILE; off += MiB) {
		fill_chunk(want, MiB, 200 + (uint64_t)(off / MiB));
		EQV(va, podfs_pwrite(va, f, want, MiB, off), MiB);
	}
	OKV(va, podfs_release(va, f));

	r = attach("cache_size=4M");
	limit = counter(r, "cache.data.limit");
	if (is_nfs())
		EQV(r, limit, MEM_CACHE);
	else
		EQV(r, limit, 0);
	ino = lookup(r, test_dir(r), "big");
	w.v = r;
	ck_assert_int_eq(pthread_create(&w.thread, NULL, mem_watch_main, &w),
			 0);
	OKV(r, podfs_ll_open(r, ino, O_RDONLY, &f));
	for (long off = 0; off < MEM_FILE; off += MEM_READ) {
		uint64_t bytes;

		if (off % MiB == 0)
			fill_chunk(want, MiB, 200 + (uint64_t)(off / MiB));
		EQV(r, podfs_pread(r, f, got, MEM_READ, off), MEM_READ);
		if (memcmp(got, want + off % MiB, MEM_READ)) {
			__atomic_store_n(&w.stop, true, __ATOMIC_RELAXED);
			pthread_join(w.thread, NULL);
			expect_bytes(got, want + off % MiB, MEM_READ,
				     "the big file");
		}
		bytes = counter(r, "cache.data.bytes");
		if (bytes > most)
			most = bytes;
		ck_assert_msg(bytes <= limit, "after reading %ld bytes: "
			      "cache.data.bytes %llu > cache.data.limit %llu",
			      off + MEM_READ, (unsigned long long)bytes,
			      (unsigned long long)limit);
	}
	EQV(r, podfs_pread(r, f, got, MEM_READ, MEM_FILE), 0);
	OKV(r, podfs_release(r, f));
	__atomic_store_n(&w.stop, true, __ATOMIC_RELAXED);
	pthread_join(w.thread, NULL);
	if (w.max_bytes > most)
		most = w.max_bytes;
	note("%ld MiB read with cache_size=4M: cache.data.bytes at most %llu "
	     "(limit %llu; %llu samples), read ahead %llu bytes",
	     MEM_FILE / MiB, (unsigned long long)most,
	     (unsigned long long)limit, (unsigned long long)w.samples,
	     (unsigned long long)counter(r, "cache.data.readahead_bytes"));
	ck_assert_msg(!w.over, "cache.data.bytes went over its limit %llu "
		      "in %llu of %llu samples, at most %llu",
		      (unsigned long long)w.limit, (unsigned long long)w.over,
		      (unsigned long long)w.samples,
		      (unsigned long long)w.max_bytes);
	if (is_nfs()) {
		ck_assert_msg(most > 0, "the data cache held nothing");
		ck_assert_msg(counter(r, "cache.data.readahead_bytes") > 0,
			      "no read-ahead on a sequential read");
	} else {
		EQV(r, most, 0);
	}
	free(want);
	free(got);
}
END_TEST

/* ==== 9. lookupcache ====================================================== */

/* Looks NAME up in DIR on V twice: both -ENOENT; how many backend
 * lookups (LOOKUP requests over NFS) that took. ENTRY_TIMEOUT: what the
 * first said it may be remembered for. */
static uint64_t lookup_missing_twice(podfs_volume *v, uint64_t dir,
				     const char *name, double *entry_timeout)
{
	uint64_t l0 = counter(v, "ops.lookup.count");
	struct podfs_entry e;

	ERRV(v, podfs_ll_lookup(v, dir, name, &e), ENOENT);
	EQV(v, e.ino, 0);
	*entry_timeout = e.entry_timeout;
	ERRV(v, podfs_ll_lookup(v, dir, name, &e), ENOENT);
	return counter(v, "ops.lookup.count") - l0;
}

/* The same for a NAME that exists. */
static uint64_t lookup_twice(podfs_volume *v, uint64_t dir, const char *name)
{
	uint64_t l0 = counter(v, "ops.lookup.count");

	lookup(v, dir, name);
	lookup(v, dir, name);
	return counter(v, "ops.lookup.count") - l0;
}

/* A creates NAME, which B had looked up as missing: B's lookup finds it
 * within BOUND seconds (0: at once). */
static void expect_appears(podfs_volume *b, uint64_t dir, const char *name,
			   double bound)
{
	struct podfs_entry e;
	double t0;
	int ret;

	put_new(va, dir_a, name, "x", 1);
	t0 = now_mono();
	while ((ret = podfs_ll_lookup(b, dir, name, &e)) == -ENOENT &&
	       now_mono() - t0 <= bound)
		sleep_s(0.02);
	ck_assert_msg(ret == 0, "lookup of %s, created by A %.2f s before: "
		      "%d (%s): %s", name, now_mono() - t0, ret, ename(ret),
		      podfs_errmsg(b));
	note("%s: B found the new name after %.3f s", name, now_mono() - t0);
}

/* lookupcache=all: a missing name looked up twice costs one LOOKUP, and
 * may be remembered; A creating it shows once B's directory attributes
 * time out (actimeo=1 on a third volume). */
START_TEST(test_lookupcache_all)
{
	podfs_volume *quick;
	double timeout;
	uint64_t n, qdir;

	begin(NULL, "lookupcache=all");
	n = lookup_missing_twice(vb, dir_b, "missing", &timeout);
	note("lookupcache=all: two lookups of a missing name: %llu LOOKUPs, "
	     "entry_timeout %.1f s", (unsigned long long)n, timeout);
	put_new(va, dir_a, "there", "x", 1);
	if (is_nfs()) {
		EQV(vb, n, 1);
		ck_assert_msg(timeout > 0, "lookupcache=all: a missing name "
			      "may not be remembered (entry_timeout 0)");
		EQV(vb, lookup_twice(vb, dir_b, "there"), 1);
	}
	quick = attach("lookupcache=all,actimeo=1");
	qdir = test_dir(quick);
	lookup_missing_twice(quick, qdir, "late", &timeout);
	expect_appears(quick, qdir, "late", 1.0 + margin());
}
END_TEST

/* lookupcache=positive: a missing name is asked for every time (two
 * LOOKUPs), and A creating it shows at once; a name that exists is
 * cached (one LOOKUP for two lookups). */
START_TEST(test_lookupcache_positive)
{
	double timeout;
	uint64_t n;

	begin(NULL, "lookupcache=positive");
	n = lookup_missing_twice(vb, dir_b, "missing", &timeout);
	ck_assert_msg(timeout == 0, "lookupcache=positive: a missing name may "
		      "be remembered for %.1f s", timeout);
	if (is_nfs())
		EQV(vb, n, 2);
	expect_appears(vb, dir_b, "missing", 0);
	put_new(va, dir_a, "there", "x", 1);
	if (is_nfs())
		EQV(vb, lookup_twice(vb, dir_b, "there"), 1);
}
END_TEST

/* lookupcache=none: every lookup is asked for, missing or not. */
START_TEST(test_lookupcache_none)
{
	double timeout;
	uint64_t n;

	begin(NULL, "lookupcache=none");
	n = lookup_missing_twice(vb, dir_b, "missing", &timeout);
	ck_assert_msg(timeout == 0, "lookupcache=none: a missing name may be "
		      "remembered for %.1f s", timeout);
	EQV(vb, n, 2);
	expect_appears(vb, dir_b, "missing", 0);
	put_new(va, dir_a, "there", "x", 1);
	EQV(vb, lookup_twice(vb, dir_b, "there"), 2);
}
END_TEST

/* ==== lending reads ===================================================== */

/* What a lending read's function saw: the bytes in order, how many of its
 * pieces pointed outside the caller's buffer (into the cache). */
struct lent {
	char *got;
	size_t len, cap;
	const char *buf; /* the caller's buffer */
	size_t buf_len;
	int calls, outside;
	/* test_lend_holds: a writer started inside the function */
	podfs_volume *v;
	podfs_file *wf;
	const char *new_data;
	size_t new_len;
	pthread_t writer;
	int writer_done; /* atomic */
	ssize_t written;
};

static void lent_take(void *arg, const struct iovec *iov, int iovcnt)
{
	struct lent *l = arg;

	l->calls++;
	for (int i = 0; i < iovcnt; i++) {
		const char *p = iov[i].iov_base;

		ck_assert_msg(l->len + iov[i].iov_len <= l->cap,
			      "lent %zu bytes, more than the %zu asked",
			      l->len + iov[i].iov_len, l->cap);
		memcpy(l->got + l->len, p, iov[i].iov_len);
		l->len += iov[i].iov_len;
		if (p < l->buf || p >= l->buf + l->buf_len)
			l->outside++;
	}
}

/* Reads COUNT bytes at OFF of F on V with podfs_pread_lend and expects
 * WANT (the file's WANT_LEN bytes from 0): the right bytes, FN called
 * once; the number of pieces lent from the cache. */
static int expect_lend(podfs_volume *v, podfs_file *f, off_t off,
		       size_t count, const char *want, size_t want_len)
{
	size_t expect = (size_t)off >= want_len ? 0 :
			want_len - (size_t)off < count ? want_len - (size_t)off :
							 count;
	struct lent l = { .cap = count, .buf_len = count };
	char *buf = xmalloc(count);
	ssize_t r;

	l.got = xmalloc(count);
	l.buf = buf;
	r = podfs_pread_lend(v, f, buf, count, off, lent_take, &l);
	ck_assert_msg(r == (ssize_t)expect,
		      "podfs_pread_lend(%zu at %lld) = %zd (%s), expected %zu: %s",
		      count, (long long)off, r, ename(r), expect,
		      r < 0 ? podfs_errmsg(v) : "");
	ck_assert_msg(l.calls == 1, "the function was called %d times", l.calls);
	ck_assert_msg(l.len == expect, "the function got %zu bytes, not %zu",
		      l.len, expect);
	expect_bytes(l.got, want + off, expect, "lent read");
	free(l.got);
	free(buf);
	return l.outside;
}

static void lend_fail_fn(void *arg, const struct iovec *iov, int iovcnt)
{
	(void)iov;
	(void)iovcnt;
	(*(int *)arg)++;
}

/*
 * podfs_pread_lend hands over the bytes podfs_pread would copy, in
 * order, at any offset, across blocks and the end of the file; where the
 * library caches data (NFS) the second read of a file lends pieces of the
 * cache itself, not copies in the caller's buffer. A failed read never
 * calls the function; a missing one is refused.
 */
START_TEST(test_lend_reads)
{
	size_t len = 3 * MiB + 5000;
	char *data = xmalloc(len);
	podfs_file *f, *w;
	uint64_t ino;
	int outside, calls = 0;
	char buf[16];

	begin(NULL, NULL);
	fill_chunk(data, len, 31);
	ino = put_new(va, dir_a, "lend", data, len);
	OKV(va, podfs_ll_open(va, ino, O_RDONLY, &f));
	expect_lend(va, f, 0, len, data, len);
	outside = expect_lend(va, f, 0, 1 * MiB, data, len);
	outside += expect_lend(va, f, 12345, 700000, data, len);
	outside += expect_lend(va, f, (off_t)len - 1000, 64 * KiB, data, len);
	expect_lend(va, f, (off_t)len, 4096, data, len);
	expect_lend(va, f, (off_t)len + 1 * MiB, 4096, data, len);
	note("lending reads: %d pieces lent from the cache", outside);
	if (is_nfs())
		ck_assert_msg(outside > 0, "reads of cached data lent nothing "
			      "from the cache: every piece was copied");
	else
		ck_assert_msg(outside == 0, "a piece outside the caller's "
			      "buffer where the library caches no data");
	ERRV(va, podfs_pread_lend(va, f, buf, sizeof(buf), 0, NULL, NULL), EINVAL);
	OKV(va, podfs_release(va, f));
	OKV(va, podfs_ll_open(va, ino, O_WRONLY, &w));
	ERRV(va, podfs_pread_lend(va, w, buf, sizeof(buf), 0, lend_fail_fn,
				  &calls),
	    EBADF);
	ck_assert_msg(calls == 0, "a failed read called the function");
	OKV(va, podfs_release(va, w));
	free(data);
}
END_TEST

static void *lend_writer(void *arg)
{
	struct lent *l = arg;

	l->written = podfs_pwrite(l->v, l->wf, l->new_data, l->new_len, 0);
	__atomic_store_n(&l->writer_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Starts a writer over the lent range, then holds the pieces a while:
 * they must not change meanwhile, and the writer must still wait. */
static void lent_hold(void *arg, const struct iovec *iov, int iovcnt)
{
	struct lent *l = arg;

	ck_assert(pthread_create(&l->writer, NULL, lend_writer, l) == 0);
	sleep_s(0.3);
	l->calls++;
	l->outside = __atomic_load_n(&l->writer_done, __ATOMIC_ACQUIRE);
	for (int i = 0; i < iovcnt; i++) {
		memcpy(l->got + l->len, iov[i].iov_base, iov[i].iov_len);
		l->len += iov[i].iov_len;
	}
}

/*
 * Lent cache stays as it is until the function returns: a write to the
 * same bytes through another open file of the volume waits for it (the
 * function, holding the pieces 0.3 s, sees the old bytes and the writer
 * not done), then lands, and the next read has the new bytes. Only where
 * the library lends its cache (NFS).
 */
START_TEST(test_lend_holds)
{
	size_t len = 256 * KiB;
	char *old = xmalloc(len), *fresh = xmalloc(len), *buf = xmalloc(len);
	struct lent l = { .cap = len };
	podfs_file *f;
	uint64_t ino;

	begin(NULL, NULL);
	fill_chunk(old, len, 41);
	fill_chunk(fresh, len, 42);
	ino = put_new(va, dir_a, "held", old, len);
	OKV(va, podfs_ll_open(va, ino, O_RDONLY, &f));
	expect_open(va, f, old, len, "before the write");
	OKV(va, podfs_ll_open(va, ino, O_WRONLY, &l.wf));
	l.v = va;
	l.new_data = fresh;
	l.new_len = len;
	l.got = xmalloc(len);
	l.buf = buf;
	l.buf_len = len;
	EQV(va, podfs_pread_lend(va, f, buf, len, 0, lent_hold, &l), len);
	ck_assert(pthread_join(l.writer, NULL) == 0);
	EQV(va, l.written, len);
	expect_bytes(l.got, old, len, "bytes lent while a writer waited");
	if (is_nfs())
		ck_assert_msg(!l.outside, "a write to lent cache did not wait "
			      "for the reader to be done with it");
	expect_open(va, f, fresh, len, "after the write");
	OKV(va, podfs_release(va, l.wf));
	OKV(va, podfs_release(va, f));
	free(l.got);
	free(old);
	free(fresh);
	free(buf);
}
END_TEST

/* ==== a volume's own changes ============================================ */

/* Both tests fail over NFS against the library as of 0e82f23 (issue 10
 * not yet met): the core drops a file's attributes when its write-back
 * ends, and a directory's when it changed the directory itself, instead
 * of taking the replies' attributes (WRITE, CREATE, REMOVE wcc data), so
 * its own change looks like another client's. */

/*
 * A read across the server's end of file inside a block, while this
 * client has written further on and not sent it yet: what the server
 * holds up to its end, then zeros up to what was written (a hole). The
 * cache once took the whole block for a hole (fsx found it: written
 * data read back as zeros).
 */
START_TEST(test_read_across_server_eof)
{
	const size_t len = 100000, at = 200000, span = 65536;
	char *data = xmalloc(len), *got = xmalloc(span), *want = xmalloc(span);
	podfs_file *f;
	uint64_t ino;

	begin(NULL, NULL);
	fill_chunk(data, len, test_seed);
	put_new(va, dir_a, "eof", data, len);
	ino = lookup(vb, dir_b, "eof");
	OKV(vb, podfs_ll_open(vb, ino, O_RDWR, &f));
	EQV(vb, podfs_pwrite(vb, f, "written late", 12, at), 12);
	/* the block from 65536 holds the server's end of file (100000) */
	memset(want, 0, span);
	memcpy(want, data + span, len - span);
	EQV(vb, podfs_pread(vb, f, got, span, span), span);
	expect_bytes(got, want, span, "a block across the server's end");
	EQV(vb, podfs_pread(vb, f, got, 12, at), 12);
	expect_bytes(got, "written late", 12, "what was written past it");
	OKV(vb, podfs_release(vb, f));
	podfs_ll_forget(vb, ino, 1);
	free(data);
	free(got);
	free(want);
}
END_TEST

/*
 * A truncate while read-ahead is in flight: what those reads bring is of
 * the file before. An extending truncate once ended the file where the
 * read-ahead found the end (a read past it got 0 bytes), and a shrinking
 * one kept the bytes cut off, shown again by the next extension (fsx
 * found the first). Repeated: the read-ahead must still be in flight.
 */
START_TEST(test_truncate_under_read_ahead)
{
	const size_t len = 200000, cut = 100000, big = 400000;
	char *data = xmalloc(len), *got = xmalloc(len), *zeros = xmalloc(len);
	struct stat attr = { .st_size = 0 };
	podfs_file *f;
	uint64_t ino_a, ino;

	begin(NULL, NULL);
	fill_chunk(data, len, test_seed);
	memset(zeros, 0, len);
	ino_a = put_new(va, dir_a, "ra", data, len);
	ino = lookup(vb, dir_b, "ra");
	for (int i = 0; i < 40; i++) {
		put_ino(va, ino_a, data, len);
		/* B reads from 0: read-ahead goes out for the rest of the
		 * file, past its end, and the truncate follows at once */
		OKV(vb, podfs_ll_open(vb, ino, O_RDWR, &f));
		EQV(vb, podfs_pread(vb, f, got, 4096, 0), 4096);
		attr.st_size = (off_t)(i % 2 ? cut : big);
		OKV(vb, podfs_ll_setattr(vb, ino, f, &attr, PODFS_SET_SIZE,
					 NULL));
		if (i % 2) {
			/* cut, then extended: a hole where data was */
			attr.st_size = (off_t)len;
			OKV(vb, podfs_ll_setattr(vb, ino, f, &attr,
						 PODFS_SET_SIZE, NULL));
			EQV(vb, podfs_pread(vb, f, got, len - cut, cut),
			    len - cut);
			expect_bytes(got, zeros, len - cut,
				     "a hole after a cut under read-ahead");
		} else {
			EQV(vb, podfs_pread(vb, f, got, 1000, 300000), 1000);
			expect_bytes(got, zeros, 1000,
				     "past the old end after an extension "
				     "under read-ahead");
		}
		OKV(vb, podfs_release(vb, f));
	}
	podfs_ll_forget(vb, ino, 1);
	free(data);
	free(got);
	free(zeros);
}
END_TEST

/*
 * A GETATTR sent after a truncate's SETATTR may be answered before it
 * (another connection, another server thread): newer by the order of
 * sending, older in truth. Stored, it kept the size before the truncate
 * for a whole attribute timeout (fsx found it, a release's GETATTR
 * crossing an ftruncate). A thread asks the attributes over and over
 * while the file is written and truncated; after each truncate its size
 * must be the new one.
 */
struct asker {
	podfs_volume *v;
	uint64_t ino;
	volatile bool stop;
};

static void *asker_main(void *arg)
{
	struct asker *a = arg;
	struct stat st;

	while (!a->stop) {
		podfs_ll_getattr(a->v, a->ino, &st);
		/* valgrind runs one thread at a time: a spinning asker
		 * would starve the truncating one */
		if (small)
			usleep(2000);
	}
	return NULL;
}

START_TEST(test_getattr_crossing_truncate)
{
	struct stat attr = { .st_size = 0 };
	struct asker a = { .stop = false };
	pthread_t thread;
	podfs_file *f;
	char c = 'x';

	begin(NULL, NULL);
	a.v = va;
	a.ino = put_new(va, dir_a, "crossed", NULL, 0);
	OKV(va, podfs_ll_open(va, a.ino, O_RDWR, &f));
	ck_assert_int_eq(pthread_create(&thread, NULL, asker_main, &a), 0);
	/* under valgrind (small) the threads take turns: fewer rounds */
	for (int i = 0; i < (small ? 20 : 200); i++) {
		off_t size = 1000 + i % 7;

		/* the write ends with its attributes unknown: the asker
		 * sends GETATTRs while the truncate is on its way */
		EQV(va, podfs_pwrite(va, f, &c, 1, 5000 + i), 1);
		attr.st_size = size;
		OKV(va, podfs_ll_setattr(va, a.ino, f, &attr, PODFS_SET_SIZE,
					 NULL));
		if (size_of(va, a.ino) != size) {
			a.stop = true;
			pthread_join(thread, NULL);
			ck_abort_msg("round %d: truncated to %lld, the size is "
				     "%lld", i, (long long)size,
				     (long long)size_of(va, a.ino));
		}
	}
	a.stop = true;
	pthread_join(thread, NULL);
	OKV(va, podfs_release(va, f));
}
END_TEST

/*
 * What a volume changed itself is no news to it (issue 10: "Attributes
 * returned by every reply (READDIRPLUS, WRITE, SETATTR, COMPOUND GETATTRs)
 * refresh it"): after A writes a file and closes it, A's next open keeps
 * what it cached and reads from it, sending no READ. Over CephFS libcephfs
 * answers from its own cache: only keep_cache is checked.
 */
START_TEST(test_reread_own_write)
{
	char data[4096];
	uint64_t ino, r0 = 0;
	int keep;

	begin(NULL, NULL);
	fill_chunk(data, sizeof(data), 20);
	ino = put_new(va, dir_a, "f", data, sizeof(data));
	if (is_nfs())
		r0 = counter(va, "rpc.reads");
	keep = expect_ino(va, ino, data, sizeof(data), "A's own write");
	if (is_nfs())
		note("reopen after A's own write: keep_cache %d, %llu READs",
		     keep, (unsigned long long)(counter(va, "rpc.reads") - r0));
	ck_assert_msg(keep, "A's open of the file it wrote and closed itself "
		      "drops what it cached (keep_cache 0)");
	if (is_nfs())
		EQV(va, counter(va, "rpc.reads") - r0, 0);
}
END_TEST

/*
 * A name A created itself is known to A: the entry may be trusted
 * (entry_timeout > 0, so a FUSE kernel does not ask again at once) and
 * looking it up again asks the server nothing; a missing name in the same
 * directory is cached with lookupcache=all. Over CephFS a file's name is
 * never trusted by design (close-to-open by name, cache_dentry_ttl), and
 * libcephfs answers lookups itself: nothing to measure.
 */
START_TEST(test_names_after_own_create)
{
	struct podfs_entry e;
	podfs_volume *all;
	double timeout;
	uint64_t dir, n, own;
	podfs_file *f;

	begin(NULL, NULL);
	OKV(va, podfs_ll_create(va, dir_a, "f", 0644, O_WRONLY | O_EXCL, &cred,
				&e, &f));
	OKV(va, podfs_release(va, f));
	note("entry_timeout of a name A created: %.2f s", e.entry_timeout);
	own = lookup_twice(va, dir_a, "f");
	note("two lookups of a name A created: %llu LOOKUPs",
	     (unsigned long long)own);
	all = attach("lookupcache=all");
	dir = test_dir(all);
	put_new(all, dir, "g", "x", 1);
	n = lookup_missing_twice(all, dir, "missing", &timeout);
	note("lookupcache=all, after a create of its own in the directory: "
	     "two lookups of a missing name: %llu LOOKUPs",
	     (unsigned long long)n);
	if (!is_nfs())
		return;
	ck_assert_msg(e.entry_timeout > 0, "the entry of a file A created "
		      "itself has entry_timeout 0");
	EQV(va, own, 0);
	EQV(all, n, 1);
}
END_TEST

/* ==== the suites ========================================================== */

START_TEST(test_environment)
{
	ck_abort_msg("%s", be->missing);
}
END_TEST

static void read_env(struct backend *b)
{
	const char *src = getenv(b->source_var), *sf, *fs;

	if (!src || !*src) {
		snprintf(b->missing, sizeof(b->missing),
			 "%s is not set, so the %s tests cannot run: "
			 HOW_TO_START, b->source_var, b->name);
		return;
	}
	b->source = src;
	if (b->vers) {
		if (!export_dir || !*export_dir)
			snprintf(b->missing, sizeof(b->missing),
				 "PODFS_TEST_NFS_DIR (the server's exported "
				 "directory) is not set, so the %s tests "
				 "cannot run: " HOW_TO_START, b->name);
		return;
	}
	sf = getenv("PODFS_TEST_CEPH_SECRETFILE");
	fs = getenv("PODFS_TEST_CEPH_FS");
	if (!sf || !*sf || !fs || !*fs) {
		snprintf(b->missing, sizeof(b->missing),
			 "%s is not set, so the ceph tests cannot run: "
			 HOW_TO_START, !sf || !*sf ?
				"PODFS_TEST_CEPH_SECRETFILE" :
				"PODFS_TEST_CEPH_FS");
		return;
	}
	snprintf(b->options, sizeof(b->options), "fs=%s,secretfile=%s", fs,
		 sf);
}

/* Clears FS_IMMUTABLE_FL of the file test_writeback_error freezes in DIR
 * of the server's export (it failed between freeze and thaw), so that
 * the file can go. */
static void thaw_all(const char *dir)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s/frozen", export_dir, dir);
	if (!access(path, F_OK))
		set_immutable(path, false);
}

/* Removes the directories failed tests left (a test that fails stops
 * before its teardown), in a child so that no client threads live in
 * this process. */
static void remove_leftovers(void)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), RUN_PREFIX "%d-", (int)main_pid);
	for (size_t b = 0; b < NBACKENDS; b++) {
		pid_t pid;

		if (backends[b].missing[0])
			continue;
		pid = fork();
		if (pid == 0) {
			podfs_volume *v = podfs_new();
			struct podfs_dirent ent;
			char **names = NULL;
			size_t n = 0;
			podfs_dir *d;

			if (!v || podfs_attach(v, backends[b].source,
					       *backends[b].options ?
						       backends[b].options :
						       NULL) ||
			    podfs_opendir(v, "/", &d))
				_exit(1);
			while (podfs_readdir(v, d, &ent) == 1) {
				if (strncmp(ent.name, prefix, strlen(prefix)))
					continue;
				names = realloc(names,
						(n + 1) * sizeof(*names));
				if (!names || !(names[n] = strdup(ent.name)))
					_exit(1);
				n++;
			}
			podfs_closedir(v, d);
			for (size_t i = 0; i < n; i++) {
				char path[300];

				if (backends[b].vers)
					thaw_all(names[i]);
				snprintf(path, sizeof(path), "/%s", names[i]);
				test_rm_tree(v, path);
				podfs_rmdir(v, path);
				free(names[i]);
			}
			free(names);
			podfs_free(v);
			_exit(0);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
}

static TCase *new_tcase(Suite *s, size_t b, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, selectors[b], NULL);
	tcase_add_checked_fixture(tc, NULL, finish);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *backend_suite(size_t b)
{
	Suite *s = suite_create(backends[b].name);
	TCase *tc;

	if (backends[b].missing[0]) {
		tc = tcase_create("environment");
		tcase_add_checked_fixture(tc, selectors[b], NULL);
		tcase_add_test(tc, test_environment);
		suite_add_tcase(s, tc);
		return s;
	}
	tc = new_tcase(s, b, "coherence");
	tcase_add_test(tc, test_cto);
	tcase_add_test(tc, test_attr_actimeo);
	tcase_add_test(tc, test_attr_noac);
	tcase_add_test(tc, test_shared_open_files);

	tc = new_tcase(s, b, "writeback");
	tcase_add_test(tc, test_writeback_appends);
	tcase_add_test(tc, test_writeback_error);

	tc = new_tcase(s, b, "round_trips");
	tcase_add_test(tc, test_round_trips);

	tc = new_tcase(s, b, "modes");
	tcase_add_test(tc, test_mode_loose);
	tcase_add_test(tc, test_mode_strict);
	tcase_add_test(tc, test_mode_none);

	tc = new_tcase(s, b, "memory");
	tcase_add_test(tc, test_bounded_memory);

	tc = new_tcase(s, b, "lookupcache");
	tcase_add_test(tc, test_lookupcache_all);
	tcase_add_test(tc, test_lookupcache_positive);
	tcase_add_test(tc, test_lookupcache_none);

	tc = new_tcase(s, b, "lend");
	tcase_add_test(tc, test_lend_reads);
	tcase_add_test(tc, test_lend_holds);

	tc = new_tcase(s, b, "own_changes");
	tcase_add_test(tc, test_reread_own_write);
	tcase_add_test(tc, test_names_after_own_create);
	tcase_add_test(tc, test_read_across_server_eof);
	tcase_add_test(tc, test_truncate_under_read_ahead);
	tcase_add_test(tc, test_getattr_crossing_truncate);
	return s;
}

static bool env_flag(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0");
}

int main(void)
{
	SRunner *sr = NULL;
	int failed;

	main_pid = getpid();
	export_dir = getenv("PODFS_TEST_NFS_DIR");
	small = env_flag("PODFS_TEST_SMALL");
	verbose = env_flag("PODFS_TEST_VERBOSE");
	for (size_t b = 0; b < NBACKENDS; b++) {
		Suite *s;

		read_env(&backends[b]);
		s = backend_suite(b);
		if (!sr)
			sr = srunner_create(s);
		else
			srunner_add_suite(sr, s);
	}
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	/* a passed test removed its own directory (finish) */
	if (failed)
		remove_leftovers();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
