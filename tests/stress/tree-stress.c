/*
 * tree-stress: threads creating, rewriting, renaming and deleting files in
 * a few shared directories through two mounts of one volume (two clients),
 * then a check that both mounts show exactly the tree the threads left.
 *
 * Thread t works through mount t % 2 and only ever touches names of its
 * own, "t<t>-<k>" (and "t<t>-<k>.tmp" while replacing one), so what the
 * tree must hold at the end is known exactly, however the threads
 * interleave: no error is expected, not even ENOENT. Each file holds a
 * header naming its thread, number and generation, and a body whose
 * length and bytes follow the generation, so a stale or mixed-up file
 * shows.
 *
 * usage: tree-stress [-t SECONDS] [-j THREADS] [-d DIRS] [-k NAMES]
 *                    [-s SEED] [-w WAIT] DIR_A DIR_B
 * DIR_A and DIR_B are the same directory of the volume through the two
 * mounts. The final check through each mount is retried for up to WAIT
 * seconds (default 0: mount with noac, or the check may see the client's
 * cache of names and attributes, which is allowed to be that old).
 *
 * Exit: 0 both mounts show the expected tree, 1 they do not or an
 * operation failed, 2 usage or setup error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS	64
#define MAX_DIRS	16
#define MAX_NAMES	256
#define MAX_BODY	16384

enum { OP_CREATE, OP_REWRITE, OP_REPLACE, OP_RENAME, OP_MOVE, OP_DELETE,
       OP_READ, OP_KINDS };

static const char *const op_names[OP_KINDS] = {
	"create", "rewrite", "replace", "rename", "move", "delete", "read",
};

/* what a thread knows of one of its names: where it is, which version */
struct owned {
	int dir;		/* -1: no such file */
	unsigned gen;
};

struct worker {
	pthread_t thread;
	int id;
	const char *root;	/* the mount this thread goes through */
	uint64_t rng;
	struct owned names[MAX_NAMES];
	uint64_t ops[OP_KINDS];
	char error[512];	/* the first failure, empty if none */
};

static struct {
	double secs;
	int threads, dirs, names;
	uint64_t seed;
	double wait;
	const char *root[2];
} opt = { .secs = 10, .threads = 8, .dirs = 4, .names = 16, .wait = 0 };

static struct worker workers[MAX_THREADS];
static volatile int stop;

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void path_of(char *p, size_t size, const char *root, int dir,
		    int t, int k, const char *suffix)
{
	snprintf(p, size, "%s/d%d/t%d-%d%s", root, dir, t, k, suffix);
}

/* the content of version GEN of file t<t>-<k>: a header line and a body
 * of a length and bytes that follow t, k and gen; its length */
static size_t content(char *buf, int t, int k, unsigned gen)
{
	size_t n, len, i;

	n = (size_t)sprintf(buf, "tree-stress t=%d k=%d gen=%u\n", t, k, gen);
	len = ((size_t)gen * 7919 + (size_t)k * 131 + (size_t)t * 17) % MAX_BODY;
	for (i = 0; i < len; i++)
		buf[n + i] = (char)('a' + (gen + k + i) % 26);
	return n + len;
}

static void werr(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void werr(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
	stop = 1;	/* the first failure ends the run: the state is unknown */
}

static int write_file(struct worker *w, const char *path, int flags,
		      int k, unsigned gen)
{
	static __thread char buf[MAX_BODY + 128];
	size_t len = content(buf, w->id, k, gen);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | flags, 0644);
	if (fd < 0) {
		werr(w, "open %s: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, buf, len);
	if (n != (ssize_t)len) {
		werr(w, "write %s: %s", path, n < 0 ? strerror(errno) : "short");
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		werr(w, "close %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* reads PATH and compares it with version GEN of t<t>-<k>: NULL if it
 * matches, else what is wrong (in msg) */
static const char *check_file(const char *path, int t, int k, unsigned gen,
			      char *msg, size_t msize)
{
	static __thread char want[MAX_BODY + 128], got[MAX_BODY + 256];
	size_t wlen = content(want, t, k, gen), glen = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		snprintf(msg, msize, "open %s: %s", path, strerror(errno));
		return msg;
	}
	while (glen < sizeof(got) &&
	       (n = read(fd, got + glen, sizeof(got) - glen)) > 0)
		glen += (size_t)n;
	if (n < 0) {
		snprintf(msg, msize, "read %s: %s", path, strerror(errno));
		close(fd);
		return msg;
	}
	close(fd);
	if (glen != wlen || memcmp(got, want, wlen)) {
		char *nl = memchr(got, '\n', glen < 80 ? glen : 80);

		snprintf(msg, msize, "%s: %zu bytes \"%.*s\", want %zu bytes of gen %u",
			 path, glen, nl ? (int)(nl - got) : (int)(glen < 40 ? glen : 40),
			 got, wlen, gen);
		return msg;
	}
	return NULL;
}

static void do_op(struct worker *w)
{
	char p1[4096], p2[4096], msg[600];
	int k = (int)(rnd(&w->rng) % opt.names), k2, d2, kind;
	struct owned *o = &w->names[k];
	uint64_t r = rnd(&w->rng);

	if (o->dir < 0) {
		kind = OP_CREATE;
	} else {
		static const int live_ops[] = { OP_REWRITE, OP_REPLACE, OP_RENAME,
			OP_MOVE, OP_MOVE, OP_DELETE, OP_READ, OP_READ };

		kind = live_ops[r % (sizeof(live_ops) / sizeof(live_ops[0]))];
	}
	d2 = (int)(rnd(&w->rng) % opt.dirs);
	w->ops[kind]++;
	switch (kind) {
	case OP_CREATE:
		path_of(p1, sizeof(p1), w->root, d2, w->id, k, "");
		if (write_file(w, p1, O_CREAT | O_EXCL, k, o->gen + 1) == 0) {
			o->gen++;
			o->dir = d2;
		}
		break;
	case OP_REWRITE:	/* in place, truncating */
		path_of(p1, sizeof(p1), w->root, o->dir, w->id, k, "");
		if (write_file(w, p1, O_TRUNC, k, o->gen + 1) == 0)
			o->gen++;
		break;
	case OP_REPLACE:	/* the atomic way: a new file renamed over it */
		path_of(p1, sizeof(p1), w->root, d2, w->id, k, ".tmp");
		path_of(p2, sizeof(p2), w->root, o->dir, w->id, k, "");
		if (write_file(w, p1, O_CREAT | O_EXCL, k, o->gen + 1) < 0)
			break;
		if (rename(p1, p2) < 0) {
			werr(w, "rename %s %s: %s", p1, p2, strerror(errno));
			break;
		}
		o->gen++;
		break;
	case OP_RENAME:	/* to another name of ours, maybe over one */
		do
			k2 = (int)(rnd(&w->rng) % opt.names);
		while (k2 == k && opt.names > 1);
		if (k2 == k)
			break;
		path_of(p1, sizeof(p1), w->root, o->dir, w->id, k, "");
		path_of(p2, sizeof(p2), w->root, d2, w->id, k2, "");
		/* over k2 only if k2 is in that directory: a name of ours
		 * lives in one directory at a time */
		if (w->names[k2].dir >= 0 && w->names[k2].dir != d2) {
			w->ops[kind]--;
			break;
		}
		if (rename(p1, p2) < 0) {
			werr(w, "rename %s %s: %s", p1, p2, strerror(errno));
			break;
		}
		/* the content still says t<t>-<k>: rewrite it as k2's
		 * next generation, so that the check stays exact */
		w->names[k2].dir = d2;
		w->names[k2].gen = w->names[k2].gen > o->gen ? w->names[k2].gen : o->gen;
		o->dir = -1;
		if (write_file(w, p2, O_TRUNC, k2, w->names[k2].gen + 1) == 0)
			w->names[k2].gen++;
		break;
	case OP_MOVE:		/* same name, to another shared directory */
		if (d2 == o->dir)
			d2 = (d2 + 1) % opt.dirs;
		path_of(p1, sizeof(p1), w->root, o->dir, w->id, k, "");
		path_of(p2, sizeof(p2), w->root, d2, w->id, k, "");
		if (rename(p1, p2) < 0) {
			werr(w, "rename %s %s: %s", p1, p2, strerror(errno));
			break;
		}
		o->dir = d2;
		break;
	case OP_DELETE:
		path_of(p1, sizeof(p1), w->root, o->dir, w->id, k, "");
		if (unlink(p1) < 0) {
			werr(w, "unlink %s: %s", p1, strerror(errno));
			break;
		}
		o->dir = -1;
		break;
	case OP_READ:		/* our own last write, through our own mount */
		path_of(p1, sizeof(p1), w->root, o->dir, w->id, k, "");
		if (check_file(p1, w->id, k, o->gen, msg, sizeof(msg)))
			werr(w, "read back: %s", msg);
		break;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!stop)
		do_op(w);
	return NULL;
}

/* the whole tree through ROOT against the workers' final state: the
 * number of differences, the first few printed when PRINT */
static int check_tree(const char *root, bool print)
{
	static bool seen[MAX_THREADS][MAX_NAMES];
	char path[4096], msg[600];
	struct dirent *de;
	int d, t, k, bad = 0;
	DIR *dp;

	memset(seen, 0, sizeof(seen));
#define BAD(...) do { if (print && bad < 20) fprintf(stderr, "tree-stress: " __VA_ARGS__); bad++; } while (0)
	for (d = 0; d < opt.dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%d", root, d);
		dp = opendir(path);
		if (!dp) {
			BAD("opendir %s: %s\n", path, strerror(errno));
			continue;
		}
		errno = 0;
		while ((de = readdir(dp))) {
			char tail;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (sscanf(de->d_name, "t%d-%d%c", &t, &k, &tail) != 2 ||
			    t < 0 || t >= opt.threads || k < 0 || k >= opt.names) {
				BAD("%s/%s: a name nobody left there\n", path, de->d_name);
				continue;
			}
			if (workers[t].names[k].dir != d) {
				BAD("%s/%s: listed, but it is %s\n", path, de->d_name,
				    workers[t].names[k].dir < 0 ? "deleted" : "in another directory");
				continue;
			}
			seen[t][k] = true;
			snprintf(path, sizeof(path), "%s/d%d/%s", root, d, de->d_name);
			if (check_file(path, t, k, workers[t].names[k].gen, msg, sizeof(msg)))
				BAD("%s\n", msg);
			snprintf(path, sizeof(path), "%s/d%d", root, d);
		}
		if (errno)
			BAD("readdir %s: %s\n", path, strerror(errno));
		closedir(dp);
	}
	for (t = 0; t < opt.threads; t++)
		for (k = 0; k < opt.names; k++)
			if (workers[t].names[k].dir >= 0 && !seen[t][k])
				BAD("%s/d%d/t%d-%d: missing from the listing\n", root,
				    workers[t].names[k].dir, t, k);
#undef BAD
	return bad;
}

static void usage(void)
{
	fprintf(stderr, "usage: tree-stress [-t SECONDS] [-j THREADS] [-d DIRS] [-k NAMES] [-s SEED] [-w WAIT] DIR_A DIR_B\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t total[OP_KINDS] = { 0 }, sum = 0;
	char path[4096];
	int c, t, d, i, m, bad = 0, failed = 0;
	double t0, secs, waited;
	struct stat s;

	opt.seed = (uint64_t)time(NULL);
	while ((c = getopt(argc, argv, "t:j:d:k:s:w:")) != -1) {
		switch (c) {
		case 't': opt.secs = atof(optarg); break;
		case 'j': opt.threads = atoi(optarg); break;
		case 'd': opt.dirs = atoi(optarg); break;
		case 'k': opt.names = atoi(optarg); break;
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'w': opt.wait = atof(optarg); break;
		default: usage();
		}
	}
	if (argc - optind != 2 || opt.threads < 1 || opt.threads > MAX_THREADS ||
	    opt.dirs < 1 || opt.dirs > MAX_DIRS || opt.names < 1 ||
	    opt.names > MAX_NAMES || opt.secs <= 0)
		usage();
	opt.root[0] = argv[optind];
	opt.root[1] = argv[optind + 1];

	for (t = 0; t < MAX_THREADS; t++)
		for (i = 0; i < MAX_NAMES; i++)
			workers[t].names[i].dir = -1;

	/* the shared directories, made through A, empty */
	for (d = 0; d < opt.dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%d", opt.root[0], d);
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "tree-stress: mkdir %s: %s\n", path, strerror(errno));
			return 2;
		}
	}
	/* ... and seen through B (a new name shows at once there: no
	 * negative lookup caching by default) */
	for (d = 0; d < opt.dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%d", opt.root[1], d);
		if (stat(path, &s) < 0) {
			fprintf(stderr, "tree-stress: %s (made through %s): %s\n",
				path, opt.root[0], strerror(errno));
			return 2;
		}
	}
	if (check_tree(opt.root[0], false) || check_tree(opt.root[1], false)) {
		fprintf(stderr, "tree-stress: the directories d0..d%d are not empty\n", opt.dirs - 1);
		return 2;
	}
	printf("tree-stress: seed %" PRIu64 ", %d threads over %s and %s, %d directories, %d names each, %.0f s\n",
	       opt.seed, opt.threads, opt.root[0], opt.root[1], opt.dirs, opt.names, opt.secs);
	fflush(stdout);

	t0 = now();
	for (t = 0; t < opt.threads; t++) {
		struct worker *w = &workers[t];

		w->id = t;
		w->root = opt.root[t % 2];
		w->rng = opt.seed * 1000003 + (uint64_t)t;
		if (pthread_create(&w->thread, NULL, worker_main, w)) {
			fprintf(stderr, "tree-stress: pthread_create failed\n");
			return 2;
		}
	}
	while (!stop && now() - t0 < opt.secs)
		usleep(50 * 1000);
	stop = 1;
	for (t = 0; t < opt.threads; t++)
		pthread_join(workers[t].thread, NULL);
	secs = now() - t0;
	for (t = 0; t < opt.threads; t++) {
		for (i = 0; i < OP_KINDS; i++) {
			total[i] += workers[t].ops[i];
			sum += workers[t].ops[i];
		}
		if (workers[t].error[0]) {
			fprintf(stderr, "tree-stress: thread %d (through %s): %s\n",
				t, workers[t].root, workers[t].error);
			failed = 1;
		}
	}
	printf("tree-stress: %" PRIu64 " ops in %.1f s (%.0f ops/s):", sum, secs, sum / secs);
	for (i = 0; i < OP_KINDS; i++)
		printf(" %s %" PRIu64, op_names[i], total[i]);
	printf("\n");
	fflush(stdout);
	sync();

	/* the tree through both mounts, until it matches or WAIT is over */
	for (m = 0; m < 2; m++) {
		t0 = now();
		while ((bad = check_tree(opt.root[m], false)) && now() - t0 < opt.wait)
			sleep(1);
		waited = now() - t0;
		if (bad) {
			fprintf(stderr, "tree-stress: %s: %d difference(s) from the expected tree%s:\n",
				opt.root[m], bad, opt.wait > 0 ? " after waiting" : "");
			check_tree(opt.root[m], true);
			failed = 1;
		} else {
			printf("tree-stress: %s shows the expected tree (checked in %.1f s)\n",
			       opt.root[m], waited);
		}
	}
	if (failed) {
		fprintf(stderr, "tree-stress: FAILED (seed %" PRIu64 ")\n", opt.seed);
		return 1;
	}
	/* leave the directories empty, as found */
	for (t = 0; t < opt.threads; t++)
		for (i = 0; i < opt.names; i++)
			if (workers[t].names[i].dir >= 0) {
				path_of(path, sizeof(path), opt.root[0],
					workers[t].names[i].dir, t, i, "");
				if (unlink(path) < 0)
					fprintf(stderr, "tree-stress: unlink %s: %s\n", path, strerror(errno));
			}
	for (d = 0; d < opt.dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%d", opt.root[0], d);
		rmdir(path);
	}
	return 0;
}
