/* podfs-bench workloads: one round of every asked workload on one target,
 * with N jobs (threads) started together and timed from the common start
 * to the last job's end. Every byte written follows a pattern of its
 * offset, so a read-back can check it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

const struct bench_figure_info bench_figures[FIG_COUNT] = {
	[FIG_SEQWRITE] = { "seqwrite", "seqwrite", "MiB/s" },
	[FIG_SEQREAD] = { "seqread", "seqread", "MiB/s" },
	[FIG_RANDREAD] = { "randread", "randread", "IOPS" },
	[FIG_RANDWRITE] = { "randwrite", "randwrite", "IOPS" },
	[FIG_CREATE] = { "create", "create", "files/s" },
	[FIG_STAT] = { "stat", "stat", "files/s" },
	[FIG_READ] = { "read", "read", "files/s" },
	[FIG_READDIR_COLD] = { "readdir-cold", "readdir", "entries/s" },
	[FIG_READDIR_WARM] = { "readdir-warm", "readdir", "entries/s" },
	[FIG_UNLINK] = { "unlink", "unlink", "files/s" },
};

const char *const bench_cache_kinds[CACHE_KINDS] = {
	[CACHE_ATTR] = "attr", [CACHE_ENTRY] = "entry", [CACHE_DATA] = "data",
};

/* ---- the data pattern ----------------------------------------------------- */
/* Byte O of a stream with base B is pattern[(B + O) % PATTERN_PERIOD]; the
 * buffer is longer than the period by the largest block, so any block is
 * one pointer into it: writing costs no generation. The period is odd, so
 * a block landing at a wrong offset never matches by accident. */
#define PATTERN_PERIOD ((size_t)(1 << 20) + 4093)
static unsigned char *pattern;
static size_t pattern_len;
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;
static size_t pattern_extra;

static void pattern_make(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	pattern_len = PATTERN_PERIOD + pattern_extra;
	pattern = malloc(pattern_len);
	if (!pattern)
		return;
	for (size_t i = 0; i < pattern_len; i++) {
		if (i < PATTERN_PERIOD) {
			/* splitmix64, one byte per step: plenty fast once */
			uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
			pattern[i] = (unsigned char)(z ^ (z >> 31));
		} else {
			pattern[i] = pattern[i - PATTERN_PERIOD];
		}
	}
}

static const unsigned char *pattern_at(uint64_t base, uint64_t off)
{
	return pattern + (base + off) % PATTERN_PERIOD;
}

/* ---- jobs ----------------------------------------------------------------- */
enum phase {
	PH_SEQWRITE,
	PH_SEQREAD,
	PH_RANDREAD,
	PH_RANDWRITE,
	PH_VERIFY_DATA,
	PH_CREATE,
	PH_STAT,
	PH_READ,
	PH_VERIFY_FILES,
	PH_LIST,
	PH_UNLINK,
};

static const char *const phase_names[] = {
	[PH_SEQWRITE] = "sequential write", [PH_SEQREAD] = "sequential read",
	[PH_RANDREAD] = "random read",	   [PH_RANDWRITE] = "random write",
	[PH_VERIFY_DATA] = "verify",	   [PH_CREATE] = "create",
	[PH_STAT] = "stat",		   [PH_READ] = "read",
	[PH_VERIFY_FILES] = "verify",	   [PH_LIST] = "readdir",
	[PH_UNLINK] = "unlink",
};

struct run;

struct job {
	struct run *run;
	unsigned index;
	void *conn;
	pthread_t thread;
	char dir[256];	   /* this job's directory, relative to the root */
	uint64_t base;	   /* pattern base of its data file */
	uint64_t done;	   /* bytes, operations, files or entries */
	struct timespec end;
	int err;	   /* -errno, 0 */
	char msg[512];
	unsigned char *buf;
	uint64_t rng;
};

struct run {
	const struct bench_params *p;
	struct bench_target *t;
	enum phase phase;
	/* the jobs start together when GO is set; CANCEL: don't start */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool go, cancel;
	struct timespec t0;
	struct job *jobs;
	uint64_t round_base;
	struct bench_result *res; /* where the figures go */
	unsigned ti, round;	  /* the target's number in the run, the round */
};

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static int job_fail(struct job *j, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int job_fail(struct job *j, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->err)
		return j->err;
	j->err = err < 0 ? err : -EIO;
	va_start(ap, fmt);
	n = vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
	va_end(ap);
	if (err < 0 && n >= 0 && (size_t)n < sizeof(j->msg))
		snprintf(j->msg + n, sizeof(j->msg) - n, ": %s",
			 strerror(-err));
	return j->err;
}

static uint64_t job_rand(struct job *j)
{
	/* xorshift64*: per job, no shared state between threads */
	j->rng ^= j->rng >> 12;
	j->rng ^= j->rng << 25;
	j->rng ^= j->rng >> 27;
	return j->rng * 2685821657736338717ULL;
}

static void data_path(const struct job *j, char *buf, size_t len)
{
	snprintf(buf, len, "%s/data", j->dir);
}

static void small_path(const struct job *j, unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "%s/f%07u", j->dir, i);
}

/* The pattern base of small file I of job J: each file its own content. */
static uint64_t small_base(const struct job *j, unsigned i)
{
	return j->base + (uint64_t)i * 4099;
}

/* Writes or reads N bytes at OFF in full (short transfers continue). */
static ssize_t full_pwrite(const struct bench_ops *ops, void *conn, void *f,
			   const void *buf, size_t n, off_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = ops->pwrite(conn, f, (const char *)buf + done,
					n - done, off + (off_t)done);
		if (r < 0)
			return r;
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static ssize_t full_pread(const struct bench_ops *ops, void *conn, void *f,
			  void *buf, size_t n, off_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = ops->pread(conn, f, (char *)buf + done, n - done,
				       off + (off_t)done);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int seq_write(struct job *j)
{
	const struct bench_params *p = j->run->p;
	const struct bench_ops *ops = j->run->t->ops;
	char path[300];
	void *f;
	int ret;

	data_path(j, path, sizeof(path));
	ret = ops->file_open(j->conn, path, O_CREAT | O_TRUNC | O_WRONLY, 0644,
			     &f);
	if (ret)
		return job_fail(j, ret, "create %s", path);
	for (uint64_t off = 0; off < p->size; off += p->bs) {
		size_t n = p->size - off < p->bs ? p->size - off : p->bs;
		ssize_t r = full_pwrite(ops, j->conn, f,
					pattern_at(j->base, off), n,
					(off_t)off);
		if (r < 0) {
			ops->file_close(j->conn, f);
			return job_fail(j, (int)r, "write %s at %llu", path,
					(unsigned long long)off);
		}
		j->done += n;
	}
	ret = ops->fsync(j->conn, f);
	if (ret) {
		ops->file_close(j->conn, f);
		return job_fail(j, ret, "fsync %s", path);
	}
	ret = ops->file_close(j->conn, f);
	if (ret)
		return job_fail(j, ret, "close %s", path);
	return 0;
}

/* Reads the data file in blocks; VERIFY: compares every byte. */
static int seq_read(struct job *j, bool verify)
{
	const struct bench_params *p = j->run->p;
	const struct bench_ops *ops = j->run->t->ops;
	char path[300];
	void *f;
	int ret;

	data_path(j, path, sizeof(path));
	ret = ops->file_open(j->conn, path, O_RDONLY, 0, &f);
	if (ret)
		return job_fail(j, ret, "open %s", path);
	for (uint64_t off = 0;; off += p->bs) {
		ssize_t r = full_pread(ops, j->conn, f, j->buf, p->bs,
				       (off_t)off);
		if (r < 0) {
			ops->file_close(j->conn, f);
			return job_fail(j, (int)r, "read %s at %llu", path,
					(unsigned long long)off);
		}
		if (verify && memcmp(j->buf, pattern_at(j->base, off),
				     (size_t)r)) {
			ops->file_close(j->conn, f);
			return job_fail(j, 0, "%s: data read back at %llu "
					"is not what was written", path,
					(unsigned long long)off);
		}
		j->done += (uint64_t)r;
		if ((size_t)r < p->bs)
			break;
	}
	ops->file_close(j->conn, f);
	if (j->done != p->size)
		return job_fail(j, 0, "%s: read %llu bytes of %llu", path,
				(unsigned long long)j->done,
				(unsigned long long)p->size);
	return 0;
}

/* Random blocks of rand_bs anywhere in the data file until the phase's
 * time is up; writes end with an fsync, inside the time. */
static int rand_io(struct job *j, bool write)
{
	const struct bench_params *p = j->run->p;
	const struct bench_ops *ops = j->run->t->ops;
	uint64_t blocks = p->size / p->rand_bs;
	struct timespec now;
	char path[300];
	void *f;
	int ret;

	data_path(j, path, sizeof(path));
	ret = ops->file_open(j->conn, path, write ? O_WRONLY : O_RDONLY, 0,
			     &f);
	if (ret)
		return job_fail(j, ret, "open %s", path);
	do {
		off_t off = (off_t)((job_rand(j) % blocks) * p->rand_bs);
		ssize_t r;

		if (write)
			r = full_pwrite(ops, j->conn, f,
					pattern_at(j->base, (uint64_t)off),
					p->rand_bs, off);
		else
			r = full_pread(ops, j->conn, f, j->buf, p->rand_bs,
				       off);
		if (r != (ssize_t)p->rand_bs) {
			ops->file_close(j->conn, f);
			return job_fail(j, r < 0 ? (int)r : 0,
					"%s %s at %lld%s",
					write ? "write" : "read", path,
					(long long)off,
					r < 0 ? "" : ": short transfer");
		}
		j->done++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (elapsed(&j->run->t0, &now) < p->rand_secs);
	if (write) {
		ret = ops->fsync(j->conn, f);
		if (ret) {
			ops->file_close(j->conn, f);
			return job_fail(j, ret, "fsync %s", path);
		}
	}
	ret = ops->file_close(j->conn, f);
	if (ret)
		return job_fail(j, ret, "close %s", path);
	return 0;
}

static int small_create(struct job *j)
{
	const struct bench_params *p = j->run->p;
	const struct bench_ops *ops = j->run->t->ops;
	char path[300];
	void *f;
	int ret;

	for (unsigned i = 0; i < p->files; i++) {
		ssize_t r = 0;

		small_path(j, i, path, sizeof(path));
		ret = ops->file_open(j->conn, path,
				     O_CREAT | O_EXCL | O_WRONLY, 0644, &f);
		if (ret)
			return job_fail(j, ret, "create %s", path);
		if (p->file_size)
			r = full_pwrite(ops, j->conn, f,
					pattern_at(small_base(j, i), 0),
					p->file_size, 0);
		ret = ops->file_close(j->conn, f);
		if (r < 0)
			return job_fail(j, (int)r, "write %s", path);
		if (ret)
			return job_fail(j, ret, "close %s", path);
		j->done++;
	}
	return 0;
}

static int small_stat(struct job *j)
{
	const struct bench_params *p = j->run->p;
	const struct bench_ops *ops = j->run->t->ops;
	char path[300];
	struct stat st;
	int ret;

	for (unsigned i = 0; i < p->files; i++) {
		small_path(j, i, path, sizeof(path));
		ret = ops->stat(j->conn, path, &st);
		if (ret)
			return job_fail(j, ret, "stat %s", path);
		if (!S_ISREG(st.st_mode) || (size_t)st.st_size != p->file_size)
			return job_fail(j, 0, "stat %s: a %s of %lld bytes, "
					"not a file of %zu", path,
					S_ISREG(st.st_mode) ? "file" : "non-file",
					(long long)st.st_size, p->file_size);
		j->done++;
	}
	return 0;
}

static int small_read(struct job *j, bool verify)
{
	const struct bench_params *p = j->run->p;
	const struct bench_ops *ops = j->run->t->ops;
	char path[300];
	void *f;
	int ret;

	for (unsigned i = 0; i < p->files; i++) {
		ssize_t r;

		small_path(j, i, path, sizeof(path));
		ret = ops->file_open(j->conn, path, O_RDONLY, 0, &f);
		if (ret)
			return job_fail(j, ret, "open %s", path);
		/* one byte more than the file: the end is seen too */
		r = full_pread(ops, j->conn, f, j->buf, p->file_size + 1, 0);
		ops->file_close(j->conn, f);
		if (r < 0)
			return job_fail(j, (int)r, "read %s", path);
		if ((size_t)r != p->file_size)
			return job_fail(j, 0, "read %s: %zd bytes, not %zu",
					path, r, p->file_size);
		if (verify && memcmp(j->buf, pattern_at(small_base(j, i), 0),
				     p->file_size))
			return job_fail(j, 0, "%s: data read back is not "
					"what was written", path);
		j->done++;
	}
	return 0;
}

static int small_list(struct job *j)
{
	const struct bench_ops *ops = j->run->t->ops;
	uint64_t n = 0;
	int ret;

	ret = ops->list(j->conn, j->dir, &n);
	if (ret)
		return job_fail(j, ret, "readdir %s", j->dir);
	/* the data file of the sequential workloads is gone by now */
	if (n != j->run->p->files)
		return job_fail(j, 0, "readdir %s: %llu entries, not %u",
				j->dir, (unsigned long long)n,
				j->run->p->files);
	j->done += n;
	return 0;
}

static int small_unlink(struct job *j)
{
	const struct bench_ops *ops = j->run->t->ops;
	char path[300];
	int ret;

	for (unsigned i = 0; i < j->run->p->files; i++) {
		small_path(j, i, path, sizeof(path));
		ret = ops->unlink(j->conn, path);
		if (ret)
			return job_fail(j, ret, "unlink %s", path);
		j->done++;
	}
	return 0;
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	struct run *run = j->run;
	bool cancel;

	pthread_mutex_lock(&run->lock);
	while (!run->go)
		pthread_cond_wait(&run->cond, &run->lock);
	cancel = run->cancel;
	pthread_mutex_unlock(&run->lock);
	if (cancel)
		return NULL;
	switch (run->phase) {
	case PH_SEQWRITE:
		seq_write(j);
		break;
	case PH_SEQREAD:
		seq_read(j, false);
		break;
	case PH_VERIFY_DATA:
		seq_read(j, true);
		break;
	case PH_RANDREAD:
	case PH_RANDWRITE:
		rand_io(j, run->phase == PH_RANDWRITE);
		break;
	case PH_CREATE:
		small_create(j);
		break;
	case PH_STAT:
		small_stat(j);
		break;
	case PH_READ:
		small_read(j, false);
		break;
	case PH_VERIFY_FILES:
		small_read(j, true);
		break;
	case PH_LIST:
		small_list(j);
		break;
	case PH_UNLINK:
		small_unlink(j);
		break;
	}
	clock_gettime(CLOCK_MONOTONIC, &j->end);
	return NULL;
}

/* Runs PHASE on every job at once; the rate (done per second, summed over
 * jobs, from the common start to the last end) in *RATE. */
static int run_phase(struct run *run, enum phase phase, double *rate,
		     char *err, size_t errlen)
{
	unsigned n = run->p->jobs, started;
	struct timespec last;
	uint64_t done = 0;
	int ret = 0;

	run->phase = phase;
	for (unsigned i = 0; i < n; i++) {
		run->jobs[i].done = 0;
		run->jobs[i].err = 0;
		run->jobs[i].msg[0] = '\0';
	}
	run->go = run->cancel = false;
	for (started = 0; started < n; started++) {
		ret = pthread_create(&run->jobs[started].thread, NULL,
				     job_main, &run->jobs[started]);
		if (ret)
			break;
	}
	pthread_mutex_lock(&run->lock);
	clock_gettime(CLOCK_MONOTONIC, &run->t0);
	run->go = true;
	run->cancel = started < n;
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
	if (started < n) {
		for (unsigned i = 0; i < started; i++)
			pthread_join(run->jobs[i].thread, NULL);
		snprintf(err, errlen, "cannot start job %u: %s", started,
			 strerror(ret));
		return -1;
	}
	last = run->t0;
	for (unsigned i = 0; i < n; i++) {
		struct job *j = &run->jobs[i];

		pthread_join(j->thread, NULL);
		if (elapsed(&last, &j->end) > 0)
			last = j->end;
		done += j->done;
	}
	for (unsigned i = 0; i < n; i++) {
		if (run->jobs[i].err) {
			snprintf(err, errlen, "%s: job %u: %s", run->t->label,
				 i, run->jobs[i].msg);
			return -1;
		}
	}
	if (rate) {
		double secs = elapsed(&run->t0, &last);
		*rate = (double)done / (secs > 0 ? secs : 1e-9);
	}
	return 0;
}

static int conns_open(struct run *run, char *err, size_t errlen)
{
	for (unsigned i = 0; i < run->p->jobs; i++) {
		int ret = run->t->ops->conn_open(run->t, &run->jobs[i].conn);

		if (ret) {
			snprintf(err, errlen, "%s: cannot open connection "
				 "%u: %s", run->t->label, i, strerror(-ret));
			while (i--) {
				run->t->ops->conn_close(run->t,
							run->jobs[i].conn);
				run->jobs[i].conn = NULL;
			}
			return -1;
		}
	}
	return 0;
}

static void conns_close(struct run *run)
{
	for (unsigned i = 0; i < run->p->jobs; i++) {
		if (run->jobs[i].conn)
			run->t->ops->conn_close(run->t, run->jobs[i].conn);
		run->jobs[i].conn = NULL;
	}
}

static bool asked(const struct bench_params *p, enum bench_figure f)
{
	return p->workloads & (1u << f);
}

/* The target's cache counters into C; false when it has none or reading
 * them failed, which drops its hit rates for the rest of the run. */
static bool cache_read(struct run *run, struct bench_cache *c)
{
	int *err = &run->res->cache_err[run->ti];

	if (!*err)
		*err = bench_target_cache(run->t, c);
	return !*err;
}

/* NOW - BEFORE of a counter; one that went back (a fresh client) counts
 * from 0. */
static uint64_t counted_since(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : now;
}

/* Runs PHASE. When figure FIG was asked for, its rate is the round's
 * sample, and what the target's cache counted meanwhile (read before the
 * jobs start and after the last one ends, so outside the timed span) is
 * added to the figure's sum; otherwise the phase runs untimed, for what
 * it leaves. */
static int measure(struct run *run, enum phase phase, enum bench_figure fig,
		   char *err, size_t errlen)
{
	bool want = asked(run->p, fig);
	struct bench_cache before, after, *sum;
	bool counted = want && cache_read(run, &before);
	double rate;

	if (run_phase(run, phase, want ? &rate : NULL, err, errlen))
		return -1;
	if (!want)
		return 0;
	/* the sequential figures are in MiB/s, the rest per second */
	*bench_sample(run->res, run->ti, fig, run->round) =
		fig == FIG_SEQWRITE || fig == FIG_SEQREAD ? rate / 1048576.0
							   : rate;
	if (counted && cache_read(run, &after)) {
		sum = bench_cache_sum(run->res, run->ti, fig);
		for (int k = 0; k < CACHE_KINDS; k++) {
			sum->hits[k] += counted_since(after.hits[k],
						      before.hits[k]);
			sum->misses[k] += counted_since(after.misses[k],
							before.misses[k]);
		}
	}
	return 0;
}

/* The round's working directory on the target: unique per process and
 * round, so that several benchmarks can share a volume. */
static void work_dir(unsigned round, char *buf, size_t len)
{
	char host[64] = "host";

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, len, "podfs-bench.%s.%ld.%u", host, (long)getpid(),
		 round);
}

/* Phases in order; a figure not asked for still runs, untimed, when a
 * later one needs what it leaves (the data file, the small files). */
static int run_all(struct run *run, char *err, size_t errlen)
{
	const struct bench_params *p = run->p;
	unsigned round = run->round;
	bool data = asked(p, FIG_SEQWRITE) || asked(p, FIG_SEQREAD) ||
		    asked(p, FIG_RANDREAD) || asked(p, FIG_RANDWRITE);
	bool small = asked(p, FIG_CREATE) || asked(p, FIG_STAT) ||
		     asked(p, FIG_READ) || asked(p, FIG_READDIR_COLD) ||
		     asked(p, FIG_READDIR_WARM) || asked(p, FIG_UNLINK);
	static const struct {
		enum phase phase;
		enum bench_figure fig;
	} data_phases[] = {
		{ PH_SEQWRITE, FIG_SEQWRITE },
		{ PH_SEQREAD, FIG_SEQREAD },
		{ PH_RANDREAD, FIG_RANDREAD },
		{ PH_RANDWRITE, FIG_RANDWRITE },
	}, small_phases[] = {
		{ PH_CREATE, FIG_CREATE },
		{ PH_STAT, FIG_STAT },
		{ PH_READ, FIG_READ },
	};
	const struct bench_ops *ops = run->t->ops;
	char path[300];
	int ret;

	if (data) {
		for (size_t i = 0; i < sizeof(data_phases) / sizeof(data_phases[0]); i++) {
			enum bench_figure f = data_phases[i].fig;

			if (!asked(p, f) && f != FIG_SEQWRITE)
				continue;
			bench_progress(p, "round %u/%u %s: %s", round + 1,
				       p->rounds, run->t->label,
				       phase_names[data_phases[i].phase]);
			if (measure(run, data_phases[i].phase, f, err, errlen))
				return -1;
		}
		if (p->verify) {
			bench_progress(p, "round %u/%u %s: verify", round + 1,
				       p->rounds, run->t->label);
			if (run_phase(run, PH_VERIFY_DATA, NULL, err, errlen))
				return -1;
		}
		for (unsigned i = 0; i < p->jobs; i++) {
			data_path(&run->jobs[i], path, sizeof(path));
			ret = ops->unlink(run->jobs[i].conn, path);
			if (ret) {
				snprintf(err, errlen, "%s: unlink %s: %s",
					 run->t->label, path, strerror(-ret));
				return -1;
			}
		}
	}
	if (!small)
		return 0;

	for (size_t i = 0; i < sizeof(small_phases) / sizeof(small_phases[0]); i++) {
		enum bench_figure f = small_phases[i].fig;

		if (!asked(p, f) && f != FIG_CREATE)
			continue;
		bench_progress(p, "round %u/%u %s: %s", round + 1, p->rounds,
			       run->t->label, phase_names[small_phases[i].phase]);
		if (measure(run, small_phases[i].phase, f, err, errlen))
			return -1;
	}
	if (p->verify) {
		bench_progress(p, "round %u/%u %s: verify", round + 1,
			       p->rounds, run->t->label);
		if (run_phase(run, PH_VERIFY_FILES, NULL, err, errlen))
			return -1;
	}
	if (asked(p, FIG_READDIR_COLD) || asked(p, FIG_READDIR_WARM)) {
		/* cold: a client that has no names or attributes cached */
		conns_close(run);
		ret = ops->drop_caches(run->t);
		/* not root, or /proc/sys read-only (a container) */
		if (ret == -EPERM || ret == -EACCES || ret == -EROFS)
			run->res->cold_dropped = false;
		else if (ret) {
			snprintf(err, errlen, "%s: cannot drop caches: %s",
				 run->t->label, strerror(-ret));
			return -1;
		}
		if (conns_open(run, err, errlen))
			return -1;
		bench_progress(p, "round %u/%u %s: readdir", round + 1,
			       p->rounds, run->t->label);
		if (measure(run, PH_LIST, FIG_READDIR_COLD, err, errlen) ||
		    measure(run, PH_LIST, FIG_READDIR_WARM, err, errlen))
			return -1;
	}
	bench_progress(p, "round %u/%u %s: unlink", round + 1, p->rounds,
		       run->t->label);
	return measure(run, PH_UNLINK, FIG_UNLINK, err, errlen);
}

int bench_round(const struct bench_params *p, struct bench_target *t,
		unsigned ti, unsigned round, struct bench_result *res,
		char *err, size_t errlen)
{
	size_t buflen = p->bs > p->rand_bs ? p->bs : p->rand_bs;
	struct run run = { .p = p, .t = t, .res = res, .ti = ti,
			   .round = round,
			   .lock = PTHREAD_MUTEX_INITIALIZER,
			   .cond = PTHREAD_COND_INITIALIZER };
	const struct bench_ops *ops = t->ops;
	char top[200], path[300];
	bool made_top = false;
	unsigned made = 0;
	int ret, failed = -1;

	if (p->file_size + 1 > buflen)
		buflen = p->file_size + 1;
	pattern_extra = buflen;
	pthread_once(&pattern_once, pattern_make);
	if (!pattern || pattern_extra > pattern_len - PATTERN_PERIOD) {
		snprintf(err, errlen, "out of memory for the data pattern");
		return -1;
	}
	run.jobs = calloc(p->jobs, sizeof(*run.jobs));
	if (!run.jobs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	work_dir(round, top, sizeof(top));
	for (unsigned i = 0; i < p->jobs; i++) {
		struct job *j = &run.jobs[i];

		j->run = &run;
		j->index = i;
		/* content differs per target, round and job: a stale read
		 * of an earlier round or a neighbour fails verification */
		j->base = ((uint64_t)ti * 15485863 + (uint64_t)round * 104729 +
			   (uint64_t)i * 7919) % PATTERN_PERIOD;
		j->rng = 0x2545f4914f6cdd1dULL ^ ((uint64_t)i << 32 | round);
		snprintf(j->dir, sizeof(j->dir), "%s/job%u", top, i);
		j->buf = malloc(buflen);
		if (!j->buf) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (conns_open(&run, err, errlen))
		goto out;
	ret = ops->mkdir(run.jobs[0].conn, top, 0755);
	if (ret) {
		snprintf(err, errlen, "%s: mkdir %s: %s", t->label, top,
			 strerror(-ret));
		goto out;
	}
	made_top = true;
	for (; made < p->jobs; made++) {
		ret = ops->mkdir(run.jobs[made].conn, run.jobs[made].dir, 0755);
		if (ret) {
			snprintf(err, errlen, "%s: mkdir %s: %s", t->label,
				 run.jobs[made].dir, strerror(-ret));
			goto out;
		}
	}
	failed = run_all(&run, err, errlen);

out:
	/* leave the volume as found, even after a failure */
	if (!run.jobs[0].conn && made_top)
		conns_open(&run, path, sizeof(path));
	if (run.jobs[0].conn) {
		for (unsigned i = 0; failed && i < made; i++) {
			data_path(&run.jobs[i], path, sizeof(path));
			ops->unlink(run.jobs[i].conn, path);
			for (unsigned k = 0; k < p->files; k++) {
				small_path(&run.jobs[i], k, path, sizeof(path));
				ops->unlink(run.jobs[i].conn, path);
			}
		}
		for (unsigned i = 0; i < made; i++) {
			ret = ops->rmdir(run.jobs[0].conn, run.jobs[i].dir);
			if (ret && !failed) {
				snprintf(err, errlen, "%s: rmdir %s: %s",
					 t->label, run.jobs[i].dir,
					 strerror(-ret));
				failed = -1;
			}
		}
		if (made_top) {
			ret = ops->rmdir(run.jobs[0].conn, top);
			if (ret && !failed) {
				snprintf(err, errlen, "%s: rmdir %s: %s",
					 t->label, top, strerror(-ret));
				failed = -1;
			}
		}
	}
	conns_close(&run);
	for (unsigned i = 0; i < p->jobs; i++)
		free(run.jobs[i].buf);
	free(run.jobs);
	return failed ? -1 : 0;
}
