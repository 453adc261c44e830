/* podfs-bench reports: the summary of each figure per target (median, min,
 * max, ratio to the first target) as a table, JSON, CSV or a gnuplot
 * chart, with the podfs cache's hit rates in the table and JSON, and the
 * progress line on a terminal. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void summarize_one(struct bench_result *r, unsigned target,
			  unsigned fig, struct bench_stat *st)
{
	double v[r->rounds];
	unsigned n = 0;

	memset(st, 0, sizeof(*st));
	for (unsigned k = 0; k < r->rounds; k++) {
		double s = *bench_sample(r, target, fig, k);

		if (s >= 0)
			v[n++] = s;
	}
	if (!n)
		return;
	qsort(v, n, sizeof(v[0]), cmp_double);
	st->measured = true;
	st->min = v[0];
	st->max = v[n - 1];
	st->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_summarize(struct bench_result *r, unsigned target, unsigned fig,
		     struct bench_stat *st)
{
	struct bench_stat first;

	summarize_one(r, target, fig, st);
	summarize_one(r, 0, fig, &first);
	if (st->measured && first.measured && first.median > 0)
		st->ratio = st->median / first.median;
}

static bool figure_measured(struct bench_result *r, unsigned fig)
{
	struct bench_stat st;

	bench_summarize(r, 0, fig, &st);
	return st.measured;
}

/* Three significant digits or all the integer part. */
static void fmt_num(char *buf, size_t len, double v)
{
	if (v >= 100)
		snprintf(buf, len, "%.0f", v);
	else if (v >= 10)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.2f", v);
}

static void fmt_size(char *buf, size_t len, uint64_t v)
{
	if (v >= (1ULL << 30) && !(v % (1ULL << 30)))
		snprintf(buf, len, "%llu GiB", (unsigned long long)(v >> 30));
	else if (v >= (1ULL << 20) && !(v % (1ULL << 20)))
		snprintf(buf, len, "%llu MiB", (unsigned long long)(v >> 20));
	else if (v >= 1024 && !(v % 1024))
		snprintf(buf, len, "%llu KiB", (unsigned long long)(v >> 10));
	else
		snprintf(buf, len, "%llu B", (unsigned long long)v);
}

/* HITS among HITS + MISSES as "97%", or "-" when there was no lookup;
 * never "100%" with a miss nor "0%" with a hit. */
static void fmt_hit_rate(char *buf, size_t len, uint64_t hits,
			 uint64_t misses)
{
	double pct;

	if (!hits && !misses) {
		snprintf(buf, len, "-");
		return;
	}
	pct = 100.0 * (double)hits / ((double)hits + (double)misses);
	if (misses && pct >= 99.5)
		snprintf(buf, len, ">99%%");
	else if (hits && pct < 0.5)
		snprintf(buf, len, "<1%%");
	else
		snprintf(buf, len, "%.0f%%", pct);
}

/* The hit rates of every target with cache counters, per figure; nothing
 * when no target has them. */
static void report_cache_table(FILE *out, struct bench_target *targets,
			       unsigned ntargets, struct bench_result *r)
{
	char cell[FIG_COUNT][ntargets][64];
	size_t width[ntargets];
	unsigned last = ntargets;

	for (unsigned ti = 0; ti < ntargets; ti++) {
		if (r->cache_err[ti])
			continue;
		last = ti;
		width[ti] = strlen(targets[ti].label);
		for (unsigned f = 0; f < FIG_COUNT; f++) {
			struct bench_cache *c = bench_cache_sum(r, ti, f);
			char rate[CACHE_KINDS][16];

			for (int k = 0; k < CACHE_KINDS; k++)
				fmt_hit_rate(rate[k], sizeof(rate[k]),
					     c->hits[k], c->misses[k]);
			snprintf(cell[f][ti], sizeof(cell[f][ti]),
				 "%s / %s / %s", rate[CACHE_ATTR],
				 rate[CACHE_ENTRY], rate[CACHE_DATA]);
			if (figure_measured(r, f) &&
			    strlen(cell[f][ti]) > width[ti])
				width[ti] = strlen(cell[f][ti]);
		}
	}
	if (last == ntargets)
		return;
	fprintf(out, "\ncache hit rates (attr / entry / data), summed over "
		"rounds\n%-13s", "figure");
	for (unsigned ti = 0; ti <= last; ti++)
		if (!r->cache_err[ti])
			fprintf(out, "  %-*s", ti < last ? (int)width[ti] : 0,
				targets[ti].label);
	fputc('\n', out);
	for (unsigned f = 0; f < FIG_COUNT; f++) {
		if (!figure_measured(r, f))
			continue;
		fprintf(out, "%-13s", bench_figures[f].name);
		for (unsigned ti = 0; ti <= last; ti++)
			if (!r->cache_err[ti])
				fprintf(out, "  %-*s",
					ti < last ? (int)width[ti] : 0,
					cell[f][ti]);
		fputc('\n', out);
	}
}

void bench_report_table(FILE *out, const struct bench_params *p,
			struct bench_target *targets, unsigned ntargets,
			struct bench_result *r)
{
	char cell[FIG_COUNT][ntargets][128];
	size_t width[ntargets];
	char a[32], b[32], c[32], bs[32], size[32], rbs[32], fsz[32];

	fmt_size(bs, sizeof(bs), p->bs);
	fmt_size(size, sizeof(size), p->size);
	fmt_size(rbs, sizeof(rbs), p->rand_bs);
	fmt_size(fsz, sizeof(fsz), p->file_size);
	fprintf(out, "podfs-bench: %u round%s, %u job%s; sequential %s in %s "
		"blocks, random %s for %g s, %u files of %s per job\n",
		p->rounds, p->rounds == 1 ? "" : "s", p->jobs,
		p->jobs == 1 ? "" : "s", size, bs, rbs, p->rand_secs,
		p->files, fsz);
	fprintf(out, "median [min..max] of the rounds; x: ratio of medians "
		"to %s\n\n", targets[0].label);

	for (unsigned ti = 0; ti < ntargets; ti++)
		width[ti] = strlen(targets[ti].label);
	for (unsigned f = 0; f < FIG_COUNT; f++) {
		for (unsigned ti = 0; ti < ntargets; ti++) {
			struct bench_stat st;

			bench_summarize(r, ti, f, &st);
			if (!st.measured) {
				snprintf(cell[f][ti], sizeof(cell[f][ti]), "-");
			} else {
				fmt_num(a, sizeof(a), st.median);
				fmt_num(b, sizeof(b), st.min);
				fmt_num(c, sizeof(c), st.max);
				if (ti && st.ratio > 0)
					snprintf(cell[f][ti], sizeof(cell[f][ti]),
						 "%s [%s..%s] %.2fx", a, b, c,
						 st.ratio);
				else
					snprintf(cell[f][ti], sizeof(cell[f][ti]),
						 "%s [%s..%s]", a, b, c);
			}
			if (strlen(cell[f][ti]) > width[ti])
				width[ti] = strlen(cell[f][ti]);
		}
	}
	fprintf(out, "%-13s %-9s", "figure", "unit");
	for (unsigned ti = 0; ti < ntargets; ti++)
		fprintf(out, "  %-*s", ti + 1 < ntargets ? (int)width[ti] : 0,
			targets[ti].label);
	fputc('\n', out);
	for (unsigned f = 0; f < FIG_COUNT; f++) {
		if (!figure_measured(r, f))
			continue;
		fprintf(out, "%-13s %-9s", bench_figures[f].name,
			bench_figures[f].unit);
		for (unsigned ti = 0; ti < ntargets; ti++)
			fprintf(out, "  %-*s", ti + 1 < ntargets ?
				(int)width[ti] : 0, cell[f][ti]);
		fputc('\n', out);
	}
	report_cache_table(out, targets, ntargets, r);
	for (unsigned ti = 0; ti < ntargets; ti++)
		if (r->cache_err[ti] && r->cache_err[ti] != -ENOTSUP)
			fprintf(out, "\nnote: no cache hit rates for %s: its "
				"counters could not be read (%s)\n",
				targets[ti].label, strerror(-r->cache_err[ti]));
	if (!r->cold_dropped &&
	    (p->workloads & (1u << FIG_READDIR_COLD)))
		fprintf(out, "\nnote: readdir-cold of directory targets ran "
			"with the kernel's caches kept (dropping them needs "
			"root and a writable /proc/sys)\n");
	if (p->verify)
		fprintf(out, "\nverified: every byte written was read back "
			"and matched\n");
}

/* FILE, or standard output for "-". */
static FILE *report_open(const char *file, char *err, size_t errlen)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "w") : stdout;

	if (!f)
		snprintf(err, errlen, "cannot write %s: %s", file,
			 strerror(errno));
	return f;
}

static int report_close(FILE *f, const char *file, char *err, size_t errlen)
{
	int ret = ferror(f) ? -1 : 0;

	if (f == stdout ? fflush(f) : fclose(f))
		ret = -1;
	if (ret)
		snprintf(err, errlen, "cannot write %s: %s", file,
			 strerror(errno));
	return ret;
}

/* {"attr": {"hits": N, "misses": N}, "entry": ..., "data": ...}, as the
 * mount's statistics nest them. */
static json_object *cache_json(const struct bench_cache *c)
{
	json_object *o = json_object_new_object();

	for (int k = 0; k < CACHE_KINDS; k++) {
		json_object *kind = json_object_new_object();

		json_object_object_add(kind, "hits", json_object_new_uint64(c->hits[k]));
		json_object_object_add(kind, "misses", json_object_new_uint64(c->misses[k]));
		json_object_object_add(o, bench_cache_kinds[k], kind);
	}
	return o;
}

int bench_report_json(const char *file, const struct bench_params *p,
		      struct bench_target *targets, unsigned ntargets,
		      struct bench_result *r, char *err, size_t errlen)
{
	json_object *root = json_object_new_object();
	json_object *params = json_object_new_object();
	json_object *tarr = json_object_new_array();
	json_object *figs = json_object_new_array();
	json_object *wl = json_object_new_array();
	char host[256] = "", date[64];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;
	int ret;

	gethostname(host, sizeof(host) - 1);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ",
		 gmtime_r(&now, &tm));
	json_object_object_add(root, "tool", json_object_new_string("podfs-bench"));
	json_object_object_add(root, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(root, "date", json_object_new_string(date));
	json_object_object_add(root, "host", json_object_new_string(host));

	for (unsigned fi = 0; fi < FIG_COUNT; fi++)
		if (p->workloads & (1u << fi))
			json_object_array_add(wl, json_object_new_string(bench_figures[fi].name));
	json_object_object_add(params, "figures", wl);
	json_object_object_add(params, "bs", json_object_new_int64((int64_t)p->bs));
	json_object_object_add(params, "size", json_object_new_int64((int64_t)p->size));
	json_object_object_add(params, "rand_bs", json_object_new_int64((int64_t)p->rand_bs));
	json_object_object_add(params, "time", json_object_new_double(p->rand_secs));
	json_object_object_add(params, "files", json_object_new_int64(p->files));
	json_object_object_add(params, "file_size", json_object_new_int64((int64_t)p->file_size));
	json_object_object_add(params, "jobs", json_object_new_int64(p->jobs));
	json_object_object_add(params, "rounds", json_object_new_int64(p->rounds));
	json_object_object_add(params, "verify", json_object_new_boolean(p->verify));
	json_object_object_add(root, "parameters", params);

	for (unsigned ti = 0; ti < ntargets; ti++) {
		json_object *t = json_object_new_object();

		json_object_object_add(t, "label", json_object_new_string(targets[ti].label));
		json_object_object_add(t, "kind", json_object_new_string(targets[ti].ops->kind));
		json_object_object_add(t, "spec", json_object_new_string(targets[ti].spec));
		if (r->cache_err[ti] && r->cache_err[ti] != -ENOTSUP)
			json_object_object_add(t, "cache_error",
					       json_object_new_string(strerror(-r->cache_err[ti])));
		json_object_array_add(tarr, t);
	}
	json_object_object_add(root, "targets", tarr);

	for (unsigned fi = 0; fi < FIG_COUNT; fi++) {
		json_object *fo, *res;

		if (!figure_measured(r, fi))
			continue;
		fo = json_object_new_object();
		res = json_object_new_array();
		json_object_object_add(fo, "name", json_object_new_string(bench_figures[fi].name));
		json_object_object_add(fo, "unit", json_object_new_string(bench_figures[fi].unit));
		for (unsigned ti = 0; ti < ntargets; ti++) {
			json_object *ro = json_object_new_object();
			json_object *samples = json_object_new_array();
			struct bench_stat st;

			bench_summarize(r, ti, fi, &st);
			for (unsigned k = 0; k < r->rounds; k++) {
				double s = *bench_sample(r, ti, fi, k);

				if (s >= 0)
					json_object_array_add(samples, json_object_new_double(s));
			}
			json_object_object_add(ro, "target", json_object_new_string(targets[ti].label));
			json_object_object_add(ro, "samples", samples);
			json_object_object_add(ro, "median", json_object_new_double(st.median));
			json_object_object_add(ro, "min", json_object_new_double(st.min));
			json_object_object_add(ro, "max", json_object_new_double(st.max));
			json_object_object_add(ro, "ratio", json_object_new_double(st.ratio));
			if (!r->cache_err[ti])
				json_object_object_add(ro, "cache",
						       cache_json(bench_cache_sum(r, ti, fi)));
			json_object_array_add(res, ro);
		}
		json_object_object_add(fo, "results", res);
		json_object_array_add(figs, fo);
	}
	json_object_object_add(root, "figures", figs);
	json_object_object_add(root, "verified", json_object_new_boolean(p->verify));
	if (p->workloads & (1u << FIG_READDIR_COLD))
		json_object_object_add(root, "cold_dropped",
				       json_object_new_boolean(r->cold_dropped));

	f = report_open(file, err, errlen);
	if (!f) {
		json_object_put(root);
		return -1;
	}
	fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_NOSLASHESCAPE), f);
	fputc('\n', f);
	json_object_put(root);
	ret = report_close(f, file, err, errlen);
	return ret;
}

/* RFC 4180: quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

int bench_report_csv(const char *file, struct bench_target *targets,
		     unsigned ntargets, struct bench_result *r, char *err,
		     size_t errlen)
{
	FILE *f = report_open(file, err, errlen);

	if (!f)
		return -1;
	fputs("figure,unit,target,kind,median,min,max,ratio,samples\n", f);
	for (unsigned fi = 0; fi < FIG_COUNT; fi++) {
		if (!figure_measured(r, fi))
			continue;
		for (unsigned ti = 0; ti < ntargets; ti++) {
			struct bench_stat st;
			const char *sep = "";

			bench_summarize(r, ti, fi, &st);
			fprintf(f, "%s,", bench_figures[fi].name);
			csv_field(f, bench_figures[fi].unit);
			fputc(',', f);
			csv_field(f, targets[ti].label);
			fprintf(f, ",%s,%.1f,%.1f,%.1f,%.4f,", targets[ti].ops->kind,
				st.median, st.min, st.max, st.ratio);
			for (unsigned k = 0; k < r->rounds; k++) {
				double s = *bench_sample(r, ti, fi, k);

				if (s >= 0) {
					fprintf(f, "%s%.1f", sep, s);
					sep = ";";
				}
			}
			fputc('\n', f);
		}
	}
	return report_close(f, file, err, errlen);
}

const char *bench_plot_terminal(const char *file)
{
	const char *dot = strrchr(file, '.');

	if (!dot)
		return NULL;
	if (!strcasecmp(dot, ".svg"))
		return "svg size 1200,560 dynamic font 'sans,10'";
	if (!strcasecmp(dot, ".png"))
		return "png size 1200,560";
	return NULL;
}

/* gnuplot's string literal of S (single quotes, doubled). */
static void gp_string(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

/* Bars of each figure's median relative to the first target (units
 * differ per figure; ratios share one axis), the first's absolute median
 * under each figure's name. Through gnuplot, fed on its stdin. */
int bench_report_plot(const char *file, struct bench_target *targets,
		      unsigned ntargets, struct bench_result *r, char *err,
		      size_t errlen)
{
	char script[] = "/tmp/podfs-bench-plot.XXXXXX";
	char *argv[] = { "gnuplot", script, NULL };
	posix_spawn_file_actions_t fa;
	int fd, status, ret;
	char num[32], label[512];
	pid_t pid;
	FILE *f;

	fd = mkstemp(script);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		snprintf(err, errlen, "cannot write a gnuplot script: %s",
			 strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(script);
		}
		return -1;
	}
	fprintf(f, "set terminal %s\nset output ", bench_plot_terminal(file));
	gp_string(f, file);
	fputs("\nset style data histograms\nset style histogram clustered "
	      "gap 1\nset style fill solid 0.8 border -1\nset boxwidth 0.9\n"
	      "set key outside right top\nset grid ytics\n"
	      /* ratios from 0.01 to 100 side by side: a log axis, 1 marked */
	      "set logscale y 10\nset yrange [*:*]\n"
	      "set arrow from graph 0, first 1 to graph 1, first 1 nohead "
	      "dashtype 2 lc rgb 'black'\n"
	      "set xtics nomirror\nset bmargin 5\nset ylabel ", f);
	snprintf(label, sizeof(label),
		 "median relative to %s (1 = same, log scale)",
		 targets[0].label);
	gp_string(f, label);
	fputc('\n', f);
	fputs("set title 'podfs-bench'\n$data << EOD\n", f);
	for (unsigned fi = 0; fi < FIG_COUNT; fi++) {
		struct bench_stat first;

		if (!figure_measured(r, fi))
			continue;
		bench_summarize(r, 0, fi, &first);
		fmt_num(num, sizeof(num), first.median);
		fprintf(f, "\"%s\\n%s\\n%s\"", bench_figures[fi].name, num,
			bench_figures[fi].unit);
		for (unsigned ti = 0; ti < ntargets; ti++) {
			struct bench_stat st;

			bench_summarize(r, ti, fi, &st);
			fprintf(f, " %.4f", st.measured ? st.ratio : 0.0);
		}
		fputc('\n', f);
	}
	fputs("EOD\nplot ", f);
	for (unsigned ti = 0; ti < ntargets; ti++) {
		fprintf(f, "%s$data using %u:xtic(1) title ", ti ? ", " : "",
			ti + 2);
		gp_string(f, targets[ti].label);
	}
	fputc('\n', f);
	if (fclose(f)) {
		snprintf(err, errlen, "cannot write a gnuplot script: %s",
			 strerror(errno));
		unlink(script);
		return -1;
	}
	/* gnuplot's chatter goes to our stderr, its stdin is not ours */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	ret = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret) {
		unlink(script);
		snprintf(err, errlen, "cannot run gnuplot for %s: %s%s", file,
			 strerror(ret), ret == ENOENT ? " (install gnuplot, "
			 "Debian: gnuplot-nox)" : "");
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	unlink(script);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(err, errlen, "gnuplot failed to draw %s", file);
		return -1;
	}
	return 0;
}

void bench_progress(const struct bench_params *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->progress)
		return;
	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}

void bench_progress_clear(const struct bench_params *p)
{
	if (p->progress)
		fputs("\r\033[K", stderr);
}
