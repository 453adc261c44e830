/* podfs-bench: throughput and metadata benchmark of podfs and its peers.
 * Parses the command line, opens every target, alternates them round by
 * round (A B A B ...) and reports each figure side by side. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define PROG "podfs-bench"

static void usage(FILE *out)
{
	fprintf(out,
"Usage: " PROG " [OPTION]... TARGET...\n"
"Benchmarks TARGETs side by side: rounds alternate between them and each\n"
"figure is reported as median [min..max] with its ratio to the first.\n"
"\n"
"Targets ([LABEL=] names one in reports, LABEL of [A-Za-z0-9_.-]):\n"
"  [LABEL=]DIR, [LABEL=]dir:DIR   a directory: a podfs or ceph-fuse mount, a local disk\n"
"  [LABEL=]podfs:SOURCE           a volume source through libpodfs (no FUSE)\n"
#if HAVE_NFS
"  [LABEL=]libnfs:SOURCE          an nfs:// source through libnfs alone\n"
#endif
#if HAVE_CEPH
"  [LABEL=]libcephfs:SOURCE       a ceph:// source through libcephfs alone\n"
#endif
"  SOURCE: as mount.podfs takes it, options as query arguments, e.g.\n"
"  nfs://server/export?vers=4  ceph://user@mon:3300/?fs=NAME&secretfile=FILE\n"
"\n"
"Options:\n"
"  -w, --workloads LIST  of seqwrite,seqread,randread,randwrite,create,stat,\n"
"                        read,readdir,unlink, or all (default), or\n"
"                        data (the first four), meta (the rest)\n"
"  -b, --bs SIZE         sequential block (1M)\n"
"  -s, --size SIZE       sequential file per job (256M)\n"
"      --rand-bs SIZE    random block (4K)\n"
"  -t, --time SECS       each random phase (5)\n"
"  -n, --files N         small files per job (1000)\n"
"      --file-size SIZE  of each small file (4K)\n"
"  -j, --jobs N          parallel jobs, each on its own file and directory (1)\n"
"  -r, --rounds N        rounds per target (3)\n"
"      --verify          read back and check every byte written\n"
"      --json FILE       results as JSON (- for standard output)\n"
"      --csv FILE        results as CSV (- for standard output)\n"
"      --plot FILE       a chart, FILE.svg or FILE.png (needs gnuplot)\n"
"  -q, --quiet           no table, no progress line\n"
"  -h, --help            this text\n"
"      --version\n"
"SIZE: bytes, or with K, M, G (powers of 1024).\n");
}

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see " PROG " --help)\n", stderr);
	exit(2);
}

/* A positive size with an optional K/M/G suffix, at most MAX. */
static uint64_t parse_size(const char *opt, const char *s, uint64_t max)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		die_usage("%s: '%s' is not a size", opt, s);
	v = strtoull(s, &end, 10);
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end == 'i' && shift)
		end++;
	if ((*end == 'b' || *end == 'B') && shift)
		end++;
	if (errno || *end || v > (max >> shift))
		die_usage("%s: '%s' is not a size of at most %llu bytes", opt,
			  s, (unsigned long long)max);
	if (!v)
		die_usage("%s: the size must be more than 0", opt);
	return (uint64_t)v << shift;
}

static unsigned parse_count(const char *opt, const char *s, unsigned max)
{
	unsigned long v;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		die_usage("%s: '%s' is not a positive number", opt, s);
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > max)
		die_usage("%s: '%s' is not a number from 1 to %u", opt, s, max);
	return (unsigned)v;
}

static double parse_secs(const char *opt, const char *s)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 86400)
		die_usage("%s: '%s' is not a time in seconds (0 < t <= 86400)",
			  opt, s);
	return v;
}

static unsigned parse_workloads(const char *list)
{
	char *copy = strdup(list), *save = NULL, *w;
	unsigned bits = 0;

	if (!copy)
		die_usage("out of memory");
	for (w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		bool found = false;

		if (!strcmp(w, "all")) {
			bits |= (1u << FIG_COUNT) - 1;
			continue;
		}
		if (!strcmp(w, "data")) {
			bits |= (1u << FIG_SEQWRITE) | (1u << FIG_SEQREAD) |
				(1u << FIG_RANDREAD) | (1u << FIG_RANDWRITE);
			continue;
		}
		if (!strcmp(w, "meta")) {
			bits |= ((1u << FIG_COUNT) - 1) & ~((1u << FIG_CREATE) - 1);
			continue;
		}
		for (unsigned f = 0; f < FIG_COUNT; f++) {
			if (!strcmp(w, bench_figures[f].workload)) {
				bits |= 1u << f;
				found = true;
			}
		}
		if (!found) {
			fprintf(stderr, PROG ": -w: unknown workload '%s' (see "
				PROG " --help)\n", w);
			free(copy);
			exit(2);
		}
	}
	free(copy);
	if (!bits)
		die_usage("-w: no workload given");
	return bits;
}

/* Exits (usage) unless FILE can be written; "-" is standard output. */
static void check_writable(const char *opt, const char *file)
{
	int fd;

	if (!file || !strcmp(file, "-"))
		return;
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		die_usage("%s: cannot write %s: %s", opt, file,
			  strerror(errno));
	close(fd);
}

/* Is PROG an executable in $PATH? */
static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	while (path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n ? path : ".",
			 prog);
		if (!access(buf, X_OK))
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

static const struct {
	const char *prefix;
	const struct bench_ops *ops;
} kinds[] = {
	{ "dir:", &bench_dir_ops },
	{ "podfs:", &bench_podfs_ops },
#if HAVE_NFS
	{ "libnfs:", &bench_libnfs_ops },
#endif
#if HAVE_CEPH
	{ "libcephfs:", &bench_libcephfs_ops },
#endif
};

/* [LABEL=][KIND:]SPEC; returns whether a label was given */
static bool parse_target(const char *arg, struct bench_target *t)
{
	const char *eq = strchr(arg, '='), *spec = arg;
	size_t lablen = 0;

	if (eq && eq > arg &&
	    strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789_.-") == (size_t)(eq - arg)) {
		lablen = (size_t)(eq - arg);
		spec = eq + 1;
	}
	t->ops = NULL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);

		if (!strncmp(spec, kinds[i].prefix, n)) {
			t->ops = kinds[i].ops;
			spec += n;
			break;
		}
	}
	if (!t->ops && strstr(spec, "://"))
		die_usage("%s: give the kind of target before a volume source: "
			  "podfs:"
#if HAVE_NFS
			  ", libnfs:"
#endif
#if HAVE_CEPH
			  ", libcephfs:"
#endif
			  , arg);
	if (!t->ops)
		t->ops = &bench_dir_ops;
	if (!*spec)
		die_usage("%s: empty target", arg);
	t->spec = strdup(spec);
	if (lablen)
		t->label = strndup(arg, lablen);
	else if (t->ops == &bench_dir_ops)
		t->label = strdup(spec);
	else
		/* a source's query may be long: the kind and up to '?' */
		t->label = strndup(arg, strcspn(arg, "?"));
	if (!t->spec || !t->label)
		die_usage("out of memory");
	return lablen > 0;
}

int main(int argc, char **argv)
{
	enum { OPT_RAND_BS = 256, OPT_FILE_SIZE, OPT_VERIFY, OPT_JSON, OPT_CSV,
	       OPT_PLOT, OPT_VERSION };
	static const struct option longopts[] = {
		{ "workloads", required_argument, NULL, 'w' },
		{ "bs", required_argument, NULL, 'b' },
		{ "size", required_argument, NULL, 's' },
		{ "rand-bs", required_argument, NULL, OPT_RAND_BS },
		{ "time", required_argument, NULL, 't' },
		{ "files", required_argument, NULL, 'n' },
		{ "file-size", required_argument, NULL, OPT_FILE_SIZE },
		{ "jobs", required_argument, NULL, 'j' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "csv", required_argument, NULL, OPT_CSV },
		{ "plot", required_argument, NULL, OPT_PLOT },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_params p = {
		.bs = 1 << 20,
		.size = 256 << 20,
		.rand_bs = 4096,
		.rand_secs = 5,
		.files = 1000,
		.file_size = 4096,
		.jobs = 1,
		.rounds = 3,
	};
	const char *json = NULL, *csv = NULL, *plot = NULL;
	struct bench_result res = { .cold_dropped = true };
	struct bench_target *targets;
	bool quiet = false, *labelled;
	unsigned ntargets, opened = 0;
	char err[1024];
	int c, status = 0;

	opterr = 0; /* one line of our own instead */
	while ((c = getopt_long(argc, argv, "w:b:s:t:n:j:r:qh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'w': p.workloads |= parse_workloads(optarg); break;
		case 'b': p.bs = parse_size("-b", optarg, 1u << 30); break;
		case 's': p.size = parse_size("-s", optarg, 1ULL << 50); break;
		case OPT_RAND_BS: p.rand_bs = parse_size("--rand-bs", optarg, 1u << 30); break;
		case 't': p.rand_secs = parse_secs("-t", optarg); break;
		case 'n': p.files = parse_count("-n", optarg, 10000000); break;
		case OPT_FILE_SIZE: p.file_size = parse_size("--file-size", optarg, 1u << 30); break;
		case 'j': p.jobs = parse_count("-j", optarg, 1024); break;
		case 'r': p.rounds = parse_count("-r", optarg, 1000); break;
		case OPT_VERIFY: p.verify = true; break;
		case OPT_JSON: json = optarg; break;
		case OPT_CSV: csv = optarg; break;
		case OPT_PLOT: plot = optarg; break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return 0;
		case OPT_VERSION: puts(PROG " " PACKAGE_VERSION); return 0;
		default:
			die_usage("%s: unknown option or missing argument",
				  argv[optind - 1]);
		}
	}
	if (!p.workloads)
		p.workloads = (1u << FIG_COUNT) - 1;
	ntargets = (unsigned)(argc - optind);
	if (!ntargets)
		die_usage("no target given");
	if ((p.workloads & ((1u << FIG_RANDREAD) | (1u << FIG_RANDWRITE))) &&
	    p.size < p.rand_bs)
		die_usage("-s: the file (%llu bytes) is smaller than one random "
			  "block (%zu)", (unsigned long long)p.size, p.rand_bs);
	if (plot && !bench_plot_terminal(plot))
		die_usage("--plot: %s: give a name ending in .svg or .png", plot);
	if (plot && !in_path("gnuplot")) {
		/* before the run, not after an hour of it */
		fprintf(stderr, PROG ": --plot needs gnuplot, which is not "
			"installed (Debian: apt-get install gnuplot-nox)\n");
		return 2;
	}
	if (json && csv && !strcmp(json, "-") && !strcmp(csv, "-"))
		die_usage("--json and --csv can't both go to standard output");
	/* machine output on stdout: the table goes nowhere */
	if ((json && !strcmp(json, "-")) || (csv && !strcmp(csv, "-")))
		quiet = true;
	p.progress = !quiet && isatty(STDERR_FILENO);
	/* a report that can't be written is found before the run */
	check_writable("--json", json);
	check_writable("--csv", csv);
	check_writable("--plot", plot);

	targets = calloc(ntargets, sizeof(*targets));
	labelled = calloc(ntargets, sizeof(*labelled));
	res.ntargets = ntargets;
	res.rounds = p.rounds;
	res.samples = malloc(sizeof(double) * ntargets * FIG_COUNT * p.rounds);
	res.cache = calloc((size_t)ntargets * FIG_COUNT, sizeof(*res.cache));
	res.cache_err = calloc(ntargets, sizeof(*res.cache_err));
	if (!targets || !labelled || !res.samples || !res.cache ||
	    !res.cache_err)
		die_usage("out of memory");
	for (size_t i = 0; i < (size_t)ntargets * FIG_COUNT * p.rounds; i++)
		res.samples[i] = -1;
	for (unsigned i = 0; i < ntargets; i++)
		labelled[i] = parse_target(argv[optind + i], &targets[i]);

	/* every target must answer before any work starts */
	for (; opened < ntargets; opened++) {
		struct bench_target *t = &targets[opened];

		bench_progress(&p, "connecting to %s", t->label);
		if (t->ops->open(t, t->spec, err, sizeof(err))) {
			/* the message names the directory or source */
			bench_progress_clear(&p);
			if (labelled[opened])
				fprintf(stderr, PROG ": %s: %s\n", t->label, err);
			else
				fprintf(stderr, PROG ": %s\n", err);
			status = 1;
			goto out;
		}
	}
	for (unsigned round = 0; round < p.rounds; round++) {
		for (unsigned ti = 0; ti < ntargets; ti++) {
			if (bench_round(&p, &targets[ti], ti, round, &res, err,
					sizeof(err))) {
				bench_progress_clear(&p);
				fprintf(stderr, PROG ": %s\n", err);
				status = 1;
				goto out;
			}
		}
	}
	bench_progress_clear(&p);
	if (!quiet)
		bench_report_table(stdout, &p, targets, ntargets, &res);
	if (json && bench_report_json(json, &p, targets, ntargets, &res, err,
				      sizeof(err))) {
		fprintf(stderr, PROG ": %s\n", err);
		status = 1;
	}
	if (csv && bench_report_csv(csv, targets, ntargets, &res, err,
				    sizeof(err))) {
		fprintf(stderr, PROG ": %s\n", err);
		status = 1;
	}
	if (plot && bench_report_plot(plot, targets, ntargets, &res, err,
				      sizeof(err))) {
		fprintf(stderr, PROG ": %s\n", err);
		status = 1;
	}
out:
	while (opened--)
		targets[opened].ops->close(&targets[opened]);
	for (unsigned i = 0; i < ntargets; i++) {
		free(targets[i].spec);
		free(targets[i].label);
	}
	free(targets);
	free(labelled);
	free(res.samples);
	free(res.cache);
	free(res.cache_err);
	return status;
}
