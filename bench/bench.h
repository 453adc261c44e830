/* podfs-bench: what the command line, the workloads and the reports share:
 * the run's parameters, the figures measured and their samples. */
#ifndef PODFS_BENCH_H
#define PODFS_BENCH_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "target.h"

/* What is measured, in report order. A workload may give two figures
 * (readdir: cold and warm). */
enum bench_figure {
	FIG_SEQWRITE,
	FIG_SEQREAD,
	FIG_RANDREAD,
	FIG_RANDWRITE,
	FIG_CREATE,
	FIG_STAT,
	FIG_READ,
	FIG_READDIR_COLD,
	FIG_READDIR_WARM,
	FIG_UNLINK,
	FIG_COUNT
};

struct bench_figure_info {
	const char *name;     /* as in reports */
	const char *workload; /* as given to -w */
	const char *unit;
};
extern const struct bench_figure_info bench_figures[FIG_COUNT];

struct bench_params {
	unsigned workloads; /* bit (1 << FIG_x) per figure asked for */
	size_t bs;	    /* sequential block */
	uint64_t size;	    /* sequential file, per job */
	size_t rand_bs;
	double rand_secs;   /* each random phase */
	unsigned files;	    /* small files per job */
	size_t file_size;
	unsigned jobs;
	unsigned rounds;
	bool verify;
	bool progress; /* a progress line on stderr (a TTY) */
};

struct bench_result {
	/* samples[target][figure][round]; < 0: not measured */
	double *samples;
	unsigned ntargets, rounds;
	bool cold_dropped; /* every cold listing really started cold */
	/* cache[target][figure]: what the target's cache counted during the
	 * figure's timed phases (no verify pass, no set-up), summed over
	 * the rounds */
	struct bench_cache *cache;
	/* per target: 0 while its counters answer; -ENOTSUP: it has none;
	 * another -errno: reading them failed, its hit rates are dropped */
	int *cache_err;
};

static inline double *bench_sample(struct bench_result *r, unsigned target,
				   unsigned fig, unsigned round)
{
	return &r->samples[((size_t)target * FIG_COUNT + fig) * r->rounds +
			   round];
}

static inline struct bench_cache *bench_cache_sum(struct bench_result *r,
						  unsigned target,
						  unsigned fig)
{
	return &r->cache[(size_t)target * FIG_COUNT + fig];
}

/* Runs one round of every asked workload on target T (number TI of the
 * run) and stores its figures; 0, or -1 with a one-line message in ERR. */
int bench_round(const struct bench_params *p, struct bench_target *t,
		unsigned ti, unsigned round, struct bench_result *res,
		char *err, size_t errlen);

/* Summary of one target's samples of one figure. */
struct bench_stat {
	bool measured;
	double median, min, max;
	double ratio; /* median over the first target's median; 0: none */
};
void bench_summarize(struct bench_result *r, unsigned target, unsigned fig,
		     struct bench_stat *st);

void bench_report_table(FILE *out, const struct bench_params *p,
			struct bench_target *targets, unsigned ntargets,
			struct bench_result *r);
int bench_report_json(const char *file, const struct bench_params *p,
		      struct bench_target *targets, unsigned ntargets,
		      struct bench_result *r, char *err, size_t errlen);
int bench_report_csv(const char *file, struct bench_target *targets,
		     unsigned ntargets, struct bench_result *r, char *err,
		     size_t errlen);
int bench_report_plot(const char *file, struct bench_target *targets,
		      unsigned ntargets, struct bench_result *r, char *err,
		      size_t errlen);
/* The gnuplot terminal for FILE's extension, or NULL. */
const char *bench_plot_terminal(const char *file);

/* Progress line (only when p->progress): "round R/N TARGET: WHAT". */
void bench_progress(const struct bench_params *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void bench_progress_clear(const struct bench_params *p);

#endif /* PODFS_BENCH_H */
