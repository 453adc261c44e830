/*
 * fsx: a randomized file-operation exerciser, in the spirit of the
 * classic fsx (written from scratch for podfs). It keeps a model of a few
 * files in memory -- their contents, sizes, link counts and which names
 * point at which file -- and does random operations on a directory (a
 * podfs mount): writes at random offsets (past EOF too, making holes),
 * truncates that shrink or extend, appends through a second descriptor,
 * reads checked byte for byte against the model, renames (over existing
 * names too), hard links, unlinks (of an open file too: it stays readable
 * and writable through its descriptor), fsync, close and reopen, stat and
 * readdir checks.
 *
 * Every choice comes from one PRNG seeded by -s, so a seed and an op count
 * replay the same run; the first difference prints the seed, the op, the
 * last ops done and the bytes that differ, and exits 1.
 *
 * With -2 DIR2 (a second mount of the same volume: another client), a file
 * closed is also read through DIR2 now and then, and all of them at the
 * end: close-to-open across clients.
 *
 * Exit: 0 all checks passed, 1 a check failed, 2 usage or setup error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_KEEP	32	/* ops remembered for the failure report */
#define LOG_SHOW	20	/* ... and shown in it */
#define LOG_LINE	160

enum op_kind {
	OP_WRITE, OP_TRUNCATE, OP_APPEND, OP_READ, OP_READ_FULL, OP_READ_EOF,
	OP_CREATE, OP_RENAME, OP_LINK, OP_UNLINK, OP_FSYNC, OP_REOPEN,
	OP_STAT, OP_READDIR, OP_KINDS
};

static const char *const op_names[OP_KINDS] = {
	[OP_WRITE] = "write", [OP_TRUNCATE] = "truncate",
	[OP_APPEND] = "append", [OP_READ] = "read",
	[OP_READ_FULL] = "read-full", [OP_READ_EOF] = "read-eof",
	[OP_CREATE] = "create", [OP_RENAME] = "rename", [OP_LINK] = "link",
	[OP_UNLINK] = "unlink", [OP_FSYNC] = "fsync", [OP_REOPEN] = "reopen",
	[OP_STAT] = "stat", [OP_READDIR] = "readdir",
};

/* How often each op is drawn, out of the sum: data ops dominate, the
 * namespace ops come often enough that a run of a few thousand ops sees
 * every kind many times. */
static const unsigned op_weight[OP_KINDS] = {
	[OP_WRITE] = 20, [OP_TRUNCATE] = 6, [OP_APPEND] = 4, [OP_READ] = 20,
	[OP_READ_FULL] = 5, [OP_READ_EOF] = 5, [OP_CREATE] = 3,
	[OP_RENAME] = 5, [OP_LINK] = 4, [OP_UNLINK] = 3, [OP_FSYNC] = 4,
	[OP_REOPEN] = 8, [OP_STAT] = 6, [OP_READDIR] = 2,
};

/* One file of the model (an inode). nlink == 0 with fd >= 0 is a file
 * unlinked while open: it lives on through fd until closed. */
struct mfile {
	bool used;
	int fd;			/* -1: closed */
	int nlink;		/* names pointing at it */
	size_t size;
	unsigned char *data;	/* maxsize bytes, valid up to size */
	uint64_t *setby;	/* per byte: the op that last set it (0: none) */
};

static struct {
	uint64_t seed;
	uint64_t max_ops;	/* 0: until max_secs */
	double max_secs;
	int nfiles;		/* files (inodes) at most */
	int nnames;		/* name slots: twice nfiles, room for links */
	size_t maxsize;
	size_t maxlen;		/* one write or read at most */
	const char *dir, *dir2;
	bool keep;		/* leave the files at the end */
	bool no_orphans;	/* never keep a file open past its last unlink */
	bool verbose;
} opt = {
	.max_ops = 0, .max_secs = 0, .nfiles = 4, .maxsize = 256 * 1024,
	.maxlen = 64 * 1024,
};

static struct mfile *files;
static int *name_file;		/* name slot -> file index, -1: no such name */
static uint64_t rng_state;
static uint64_t opno;		/* the op being done, from 1 */
static unsigned char *buf, *gotbuf;
static char oplog[LOG_KEEP][LOG_LINE];

static struct {
	uint64_t ops[OP_KINDS];
	uint64_t bytes_written, bytes_read;
	uint64_t orphans, dir2_checks;
} st;

/* ---- PRNG (splitmix64: tiny, good enough, same on every platform) -- */

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* a number in [0, n) (n > 0); the modulo bias is irrelevant here */
static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

static bool one_in(unsigned n)
{
	return rnd_below(n) == 0;
}

/* ---- the op log and failure reports ------------------------------- */

static void log_op(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void log_op(const char *fmt, ...)
{
	char *line = oplog[opno % LOG_KEEP];
	va_list ap;
	int n;

	n = snprintf(line, LOG_LINE, "%8" PRIu64 " ", opno);
	va_start(ap, fmt);
	vsnprintf(line + n, LOG_LINE - n, fmt, ap);
	va_end(ap);
	if (opt.verbose)
		printf("%s\n", line);
}

static void dump_log(void)
{
	uint64_t first = opno > LOG_SHOW ? opno - LOG_SHOW + 1 : 1;
	uint64_t i;

	fprintf(stderr, "last ops (oldest first):\n");
	for (i = first; i <= opno; i++)
		if (oplog[i % LOG_KEEP][0])
			fprintf(stderr, "  %s\n", oplog[i % LOG_KEEP]);
}

static void failed(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void failed(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "fsx: FAILED at op %" PRIu64 " (seed %" PRIu64
		", dir %s): ", opno, opt.seed, opt.dir);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	dump_log();
	fprintf(stderr, "replay: fsx -s %" PRIu64 " -n %" PRIu64 " -f %d -m %zu -l %zu%s%s DIR\n",
		opt.seed, opno, opt.nfiles, opt.maxsize, opt.maxlen,
		opt.no_orphans ? " -U" : "", opt.dir2 ? " -2 DIR2" : "");
	exit(1);
}

/* an error of the system under test: a failure like a wrong byte */
static void sys_failed(const char *what, const char *path)
	__attribute__((noreturn));

static void sys_failed(const char *what, const char *path)
{
	failed("%s %s: %s", what, path ? path : "", strerror(errno));
}

/* ---- the model ------------------------------------------------------ */

static const char *name_path(const char *dir, int slot)
{
	static char path[2][4096];
	static int which;

	which ^= 1;	/* two live at once: rename and link */
	snprintf(path[which], sizeof(path[which]), "%s/f%d", dir, slot);
	return path[which];
}

/* a name slot of file f, picked at random; -1 if it has none */
static int pick_name_of(int f)
{
	int n = 0, slot, k;

	for (slot = 0; slot < opt.nnames; slot++)
		n += name_file[slot] == f;
	if (n == 0)
		return -1;
	k = (int)rnd_below(n);
	for (slot = 0; slot < opt.nnames; slot++)
		if (name_file[slot] == f && k-- == 0)
			return slot;
	return -1;
}

/* a used or unused name slot, at random; -1 if there is none */
static int pick_slot(bool used)
{
	int n = 0, slot, k;

	for (slot = 0; slot < opt.nnames; slot++)
		n += (name_file[slot] >= 0) == used;
	if (n == 0)
		return -1;
	k = (int)rnd_below(n);
	for (slot = 0; slot < opt.nnames; slot++)
		if ((name_file[slot] >= 0) == used && k-- == 0)
			return slot;
	return -1;
}

/* a live file at random (named, or open after its last unlink); -1 if none */
static int pick_file(void)
{
	int n = 0, f, k;

	for (f = 0; f < opt.nfiles; f++)
		n += files[f].used;
	if (n == 0)
		return -1;
	k = (int)rnd_below(n);
	for (f = 0; f < opt.nfiles; f++)
		if (files[f].used && k-- == 0)
			return f;
	return -1;
}

/* the file's descriptor, opening it through one of its names if closed */
static int file_fd(int f)
{
	struct mfile *m = &files[f];
	const char *path;
	int slot;

	if (m->fd >= 0)
		return m->fd;
	slot = pick_name_of(f);
	path = name_path(opt.dir, slot);
	m->fd = open(path, O_RDWR);
	if (m->fd < 0)
		sys_failed("open", path);
	return m->fd;
}

static void close_file(int f)
{
	struct mfile *m = &files[f];

	if (m->fd < 0)
		return;
	/* close reports write-back errors (NFS close-to-open): one is a
	 * failure, even for a file unlinked while open */
	if (close(m->fd) < 0) {
		m->fd = -1;
		failed("close of file #%d: %s", f, strerror(errno));
	}
	m->fd = -1;
	if (m->nlink == 0)
		m->used = false;
}

/* the model's side of a name going away: file f lost a link */
static void drop_link(int f)
{
	struct mfile *m = &files[f];

	if (--m->nlink > 0)
		return;
	if (m->fd >= 0) {
		st.orphans++;
		return;	/* an open file unlinked: lives until closed */
	}
	m->used = false;
}

/* Before a name of file f goes: unless orphans are wanted this time,
 * close the file if this is its last name, so it is gone at once. */
static void before_last_unlink(int f)
{
	if (files[f].nlink == 1 && files[f].fd >= 0 &&
	    (opt.no_orphans || one_in(2)))
		close_file(f);
}

static void fill(unsigned char *p, size_t len, uint64_t off)
{
	size_t i;

	/* a function of the op and the offset, so that data of another op
	 * or another place reads as wrong; never 0, so a hole shows as one */
	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(((opno * 29) + (off + i) % 251) % 255 + 1);
}

static void model_write(struct mfile *m, size_t off, const unsigned char *p, size_t len)
{
	size_t i;

	if (off > m->size) {	/* a hole: zeros */
		memset(m->data + m->size, 0, off - m->size);
		for (i = m->size; i < off; i++)
			m->setby[i] = opno;
	}
	memcpy(m->data + off, p, len);
	for (i = off; i < off + len; i++)
		m->setby[i] = opno;
	if (off + len > m->size)
		m->size = off + len;
}

/* ---- checks ----------------------------------------------------------- */

static void hexdump(const char *label, const unsigned char *p, size_t len)
{
	size_t i;

	fprintf(stderr, "  %-8s", label);
	for (i = 0; i < len; i++)
		fprintf(stderr, " %02x", p[i]);
	fprintf(stderr, "\n");
}

/* got (n bytes read at off) against file f's model; fails at a difference */
static void compare(int f, const char *how, size_t off, size_t want_len,
		    const unsigned char *got, size_t n)
{
	struct mfile *m = &files[f];
	size_t i, bad = 0, first = 0, from, len;

	for (i = 0; i < n && i < want_len; i++)
		if (got[i] != m->data[off + i] && bad++ == 0)
			first = i;
	if (bad == 0 && n == want_len)
		return;
	if (bad == 0)
		failed("%s of file #%d at %zu: read %zu bytes, want %zu (file size %zu)",
		       how, f, off, n, want_len, m->size);
	from = first >= 8 ? first - 8 : 0;
	len = n - from < 32 ? n - from : 32;
	fflush(stdout);
	fprintf(stderr, "fsx: %s of file #%d at %zu+%zu (size %zu): %zu bytes differ, the first at offset %zu,"
		" expected %02x (set by op %" PRIu64 "), got %02x\n",
		how, f, off, n, m->size, bad, off + first, m->data[off + first],
		m->setby[off + first], got[first]);
	fprintf(stderr, "  bytes from offset %zu:\n", off + from);
	hexdump("expected", m->data + off + from, len);
	hexdump("got", got + from, len);
	failed("%s: data differs from the model", how);
}

/* pread until len bytes or EOF: how many */
static size_t pread_full(int fd, unsigned char *p, size_t len, size_t off,
			 const char *what)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, p + done, len - done, off + done);
		if (n < 0)
			sys_failed(what, NULL);
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

static void check_stat(int f, const struct stat *s, const char *how)
{
	struct mfile *m = &files[f];

	if ((size_t)s->st_size != m->size)
		failed("%s of file #%d: st_size %jd, want %zu", how, f,
		       (intmax_t)s->st_size, m->size);
	/* a file unlinked while open: its link count is whatever the
	 * client keeps it as (NFS clients rename it away), not checked */
	if (m->nlink > 0 && s->st_nlink != (nlink_t)m->nlink)
		failed("%s of file #%d: st_nlink %ju, want %d", how, f,
		       (uintmax_t)s->st_nlink, m->nlink);
}

/* the whole file read through path (another client's mount) */
static void check_via(int f, const char *path)
{
	struct mfile *m = &files[f];
	char how[4200];
	struct stat s;
	size_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		sys_failed("open (second mount)", path);
	if (fstat(fd, &s) < 0)
		sys_failed("fstat (second mount)", path);
	snprintf(how, sizeof(how), "fstat of %s (second mount)", path);
	check_stat(f, &s, how);
	n = pread_full(fd, gotbuf, opt.maxsize + 1, 0, "read (second mount)");
	snprintf(how, sizeof(how), "full read of %s (second mount)", path);
	compare(f, how, 0, m->size, gotbuf, n);
	if (close(fd) < 0)
		sys_failed("close (second mount)", path);
	st.dir2_checks++;
}

/* ---- the ops ----------------------------------------------------------- */

static void op_write(int f)
{
	struct mfile *m = &files[f];
	size_t off, len;
	ssize_t n;
	int fd;

	/* past EOF a third of the time: holes */
	if (m->size > 0 && !one_in(3))
		off = rnd_below(m->size);
	else
		off = rnd_below(opt.maxsize);
	len = 1 + rnd_below(opt.maxlen);
	if (off + len > opt.maxsize)
		len = opt.maxsize - off;
	log_op("write    #%d %zu+%zu (size %zu%s)", f, off, len, m->size,
	       off > m->size ? ", hole" : "");
	fill(buf, len, off);
	fd = file_fd(f);
	n = pwrite(fd, buf, len, off);
	if (n < 0)
		sys_failed("pwrite", NULL);
	if ((size_t)n != len)
		failed("pwrite of %zu bytes wrote %zd", len, n);
	model_write(m, off, buf, len);
	st.bytes_written += len;
}

static void op_truncate(int f)
{
	struct mfile *m = &files[f];
	size_t size = rnd_below(opt.maxsize + 1), i;

	/* half of them near the end: small shrinks and extends */
	if (one_in(2) && m->size > 0) {
		size_t d = rnd_below(8192);

		size = one_in(2) ? (m->size > d ? m->size - d : 0) : m->size + d;
		if (size > opt.maxsize)
			size = opt.maxsize;
	}
	log_op("truncate #%d %zu -> %zu", f, m->size, size);
	if (ftruncate(file_fd(f), size) < 0)
		sys_failed("ftruncate", NULL);
	if (size > m->size) {
		memset(m->data + m->size, 0, size - m->size);
		for (i = m->size; i < size; i++)
			m->setby[i] = opno;
	}
	m->size = size;
}

/* a write through a second descriptor opened O_APPEND, while the first
 * may be open with cached data */
static void op_append(int f)
{
	struct mfile *m = &files[f];
	const char *path;
	size_t len;
	ssize_t n;
	int slot, fd;

	slot = pick_name_of(f);
	if (slot < 0 || m->size >= opt.maxsize) {
		log_op("append   #%d skipped (%s)", f, slot < 0 ? "no name" : "full");
		return;
	}
	len = 1 + rnd_below(opt.maxlen / 4 + 1);
	if (m->size + len > opt.maxsize)
		len = opt.maxsize - m->size;
	path = name_path(opt.dir, slot);
	log_op("append   #%d f%d %zu+%zu", f, slot, m->size, len);
	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		sys_failed("open O_APPEND", path);
	fill(buf, len, m->size);
	n = write(fd, buf, len);
	if (n < 0)
		sys_failed("append write", path);
	if ((size_t)n != len)
		failed("append of %zu bytes wrote %zd", len, n);
	if (close(fd) < 0)
		sys_failed("close after append", path);
	model_write(m, m->size, buf, len);
	st.bytes_written += len;
}

static void op_read(int f, enum op_kind kind)
{
	struct mfile *m = &files[f];
	size_t off, len, want, n;

	switch (kind) {
	case OP_READ_FULL:
		off = 0;
		len = opt.maxsize + 1;	/* asks past EOF: must stop there */
		break;
	case OP_READ_EOF:	/* across EOF, or wholly past it */
		off = m->size > 4096 ? m->size - rnd_below(4096) : rnd_below(m->size + 1);
		if (one_in(4))
			off = m->size + rnd_below(4096);
		len = 1 + rnd_below(8192);
		break;
	default:
		off = m->size > 0 ? rnd_below(m->size) : 0;
		len = 1 + rnd_below(opt.maxlen);
		break;
	}
	want = off >= m->size ? 0 : (m->size - off < len ? m->size - off : len);
	log_op("%-8s #%d %zu+%zu (size %zu)", op_names[kind], f, off, len, m->size);
	n = pread_full(file_fd(f), gotbuf, len, off, "pread");
	compare(f, op_names[kind], off, want, gotbuf, n);
	st.bytes_read += n;
}

static void op_create(void)
{
	const char *path;
	int slot, f;

	for (f = 0; f < opt.nfiles && files[f].used; f++)
		;
	slot = pick_slot(false);
	if (f == opt.nfiles || slot < 0) {
		log_op("create   skipped (no free %s)", slot < 0 ? "name" : "file");
		return;
	}
	path = name_path(opt.dir, slot);
	log_op("create   #%d f%d", f, slot);
	files[f].fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (files[f].fd < 0)
		sys_failed("create", path);
	files[f].used = true;
	files[f].nlink = 1;
	files[f].size = 0;
	name_file[slot] = f;
}

static void op_rename(void)
{
	int from = pick_slot(true), to, f, g;
	const char *pfrom, *pto;

	if (from < 0) {
		log_op("rename   skipped (no names)");
		return;
	}
	do
		to = (int)rnd_below(opt.nnames);
	while (to == from);
	f = name_file[from];
	g = name_file[to];
	pfrom = name_path(opt.dir, from);
	pto = name_path(opt.dir, to);
	if (g < 0)
		log_op("rename   f%d (#%d) -> f%d (new)", from, f, to);
	else
		log_op("rename   f%d (#%d) -> f%d (%s #%d)", from, f, to,
		       g == f ? "a link of the same file" : "replaces", g);
	if (g >= 0 && g != f)
		before_last_unlink(g);
	if (rename(pfrom, pto) < 0)
		sys_failed("rename", pfrom);
	/* POSIX: two links of one file renamed onto each other, nothing
	 * happens, both names stay */
	if (g == f)
		return;
	if (g >= 0)
		drop_link(g);
	name_file[to] = f;
	name_file[from] = -1;
}

static void op_link(int f)
{
	int from = pick_name_of(f), to = pick_slot(false);
	const char *pfrom, *pto;

	if (from < 0 || to < 0) {
		log_op("link     #%d skipped (no %s)", f, from < 0 ? "name" : "free name");
		return;
	}
	pfrom = name_path(opt.dir, from);
	pto = name_path(opt.dir, to);
	log_op("link     #%d f%d -> f%d", f, from, to);
	if (link(pfrom, pto) < 0)
		sys_failed("link", pfrom);
	name_file[to] = f;
	files[f].nlink++;
}

static void op_unlink(void)
{
	int slot = pick_slot(true), f;
	const char *path;

	if (slot < 0) {
		log_op("unlink   skipped (no names)");
		return;
	}
	f = name_file[slot];
	path = name_path(opt.dir, slot);
	before_last_unlink(f);
	log_op("unlink   f%d (#%d, nlink %d%s)", slot, f, files[f].nlink,
	       files[f].nlink == 1 && files[f].fd >= 0 ? ", open" : "");
	if (unlink(path) < 0)
		sys_failed("unlink", path);
	name_file[slot] = -1;
	drop_link(f);
}

static void op_fsync(int f)
{
	log_op("fsync    #%d", f);
	if (fsync(file_fd(f)) < 0)
		sys_failed("fsync", NULL);
}

/* close, and open again through one of its names (close-to-open) */
static void op_reopen(int f)
{
	bool via2 = one_in(3);	/* drawn alike without -2: the same ops */
	int slot = -1;

	if (files[f].nlink > 0 && opt.dir2 && via2)
		slot = pick_name_of(f);
	log_op("reopen   #%d%s", f, files[f].nlink == 0 ? " (unlinked: close only)" :
	       slot >= 0 ? " (and read through the second mount)" : "");
	close_file(f);
	if (files[f].nlink == 0)
		return;
	if (slot >= 0)
		check_via(f, name_path(opt.dir2, slot));
	file_fd(f);
}

static void op_stat(int f)
{
	struct stat s, s0;
	const char *path;
	int slot, first = 1;

	log_op("stat     #%d (size %zu, nlink %d)", f, files[f].size, files[f].nlink);
	if (files[f].fd >= 0) {
		if (fstat(files[f].fd, &s) < 0)
			sys_failed("fstat", NULL);
		check_stat(f, &s, "fstat");
	}
	/* every name of the file: same size, links and inode number */
	for (slot = 0; slot < opt.nnames; slot++) {
		if (name_file[slot] != f)
			continue;
		path = name_path(opt.dir, slot);
		if (stat(path, &s) < 0)
			sys_failed("stat", path);
		check_stat(f, &s, "stat");
		if (first) {
			s0 = s;
			first = 0;
		} else if (s.st_ino != s0.st_ino) {
			failed("stat of file #%d: f%d has inode %ju, another link %ju",
			       f, slot, (uintmax_t)s.st_ino, (uintmax_t)s0.st_ino);
		}
	}
}

/* our names are f<N>; anything else (an NFS client's renamed-away open
 * file, say) is not ours to judge */
static int our_slot(const char *name)
{
	char *end;
	long v;

	if (name[0] != 'f' || name[1] < '0' || name[1] > '9')
		return -1;
	v = strtol(name + 1, &end, 10);
	if (*end || v < 0 || v >= opt.nnames)
		return -1;
	return (int)v;
}

static void op_readdir(void)
{
	bool *seen = calloc(opt.nnames, sizeof(*seen));
	struct dirent *de;
	DIR *d;
	int slot;

	log_op("readdir");
	if (!seen)
		abort();
	d = opendir(opt.dir);
	if (!d)
		sys_failed("opendir", opt.dir);
	errno = 0;
	while ((de = readdir(d))) {
		slot = our_slot(de->d_name);
		if (slot < 0)
			continue;
		if (seen[slot])
			failed("readdir: %s listed twice", de->d_name);
		seen[slot] = true;
		if (name_file[slot] < 0)
			failed("readdir: %s listed, but it was removed", de->d_name);
	}
	if (errno)
		sys_failed("readdir", opt.dir);
	closedir(d);
	for (slot = 0; slot < opt.nnames; slot++)
		if (name_file[slot] >= 0 && !seen[slot])
			failed("readdir: f%d (file #%d) missing", slot, name_file[slot]);
	free(seen);
}

static enum op_kind pick_op(void)
{
	unsigned sum = 0, k;
	int i;

	for (i = 0; i < OP_KINDS; i++)
		sum += op_weight[i];
	k = (unsigned)rnd_below(sum);
	for (i = 0; i < OP_KINDS; i++) {
		if (k < op_weight[i])
			return i;
		k -= op_weight[i];
	}
	return OP_READ;
}

static void do_op(void)
{
	enum op_kind kind = pick_op();
	int f = pick_file();

	/* no file yet: make one first */
	if (f < 0 && kind != OP_READDIR)
		kind = OP_CREATE;
	st.ops[kind]++;
	switch (kind) {
	case OP_WRITE:		op_write(f); break;
	case OP_TRUNCATE:	op_truncate(f); break;
	case OP_APPEND:		op_append(f); break;
	case OP_READ:
	case OP_READ_FULL:
	case OP_READ_EOF:	op_read(f, kind); break;
	case OP_CREATE:		op_create(); break;
	case OP_RENAME:		op_rename(); break;
	case OP_LINK:		op_link(f); break;
	case OP_UNLINK:		op_unlink(); break;
	case OP_FSYNC:		op_fsync(f); break;
	case OP_REOPEN:		op_reopen(f); break;
	case OP_STAT:		op_stat(f); break;
	case OP_READDIR:	op_readdir(); break;
	default:		abort();
	}
}

/* ---- setup, the final check, main ---------------------------------- */

/* The end: every file closed (written back), then each read whole again
 * through a fresh open of every name, and through DIR2. */
static void final_check(void)
{
	int f, slot;

	opno++;
	log_op("final check");
	for (f = 0; f < opt.nfiles; f++)
		if (files[f].used)
			close_file(f);
	op_readdir();
	for (slot = 0; slot < opt.nnames; slot++) {
		f = name_file[slot];
		if (f < 0)
			continue;
		files[f].fd = open(name_path(opt.dir, slot), O_RDONLY);
		if (files[f].fd < 0)
			sys_failed("open", name_path(opt.dir, slot));
		op_stat(f);
		op_read(f, OP_READ_FULL);
		close_file(f);
		if (opt.dir2)
			check_via(f, name_path(opt.dir2, slot));
	}
}

static void cleanup(void)
{
	int slot;

	for (slot = 0; slot < opt.nnames; slot++)
		if (name_file[slot] >= 0 && unlink(name_path(opt.dir, slot)) < 0)
			fprintf(stderr, "fsx: unlink %s: %s\n",
				name_path(opt.dir, slot), strerror(errno));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fsx [-s SEED] [-n OPS | -t SECONDS] [-f NFILES] [-m MAXSIZE]\n"
		"           [-l MAXLEN] [-2 DIR2] [-U] [-k] [-v] DIR\n"
		"  -s SEED     the PRNG's seed (default: from the time, printed)\n"
		"  -n OPS      ops to do (default 10000 unless -t)\n"
		"  -t SECONDS  do ops for this long instead\n"
		"  -f NFILES   files at most at once (default 4)\n"
		"  -m MAXSIZE  the largest file size (default 262144)\n"
		"  -l MAXLEN   the largest write or read (default 65536)\n"
		"  -2 DIR2     the same directory through a second mount: files\n"
		"              closed are read through it too\n"
		"  -U          never keep a file open after its last unlink\n"
		"  -k          keep the files at the end\n"
		"  -v          print every op\n");
	exit(2);
}

static unsigned long long parse_num(const char *s, const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		fprintf(stderr, "fsx: bad %s: %s\n", what, s), usage();
	return v;
}

int main(int argc, char **argv)
{
	bool seeded = false;
	double t0, secs;
	int c, i, slot;

	while ((c = getopt(argc, argv, "s:n:t:f:m:l:2:Ukv")) != -1) {
		switch (c) {
		case 's': opt.seed = parse_num(optarg, "seed"); seeded = true; break;
		case 'n': opt.max_ops = parse_num(optarg, "op count"); break;
		case 't': opt.max_secs = (double)parse_num(optarg, "seconds"); break;
		case 'f': opt.nfiles = (int)parse_num(optarg, "file count"); break;
		case 'm': opt.maxsize = parse_num(optarg, "size"); break;
		case 'l': opt.maxlen = parse_num(optarg, "length"); break;
		case '2': opt.dir2 = optarg; break;
		case 'U': opt.no_orphans = true; break;
		case 'k': opt.keep = true; break;
		case 'v': opt.verbose = true; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || opt.nfiles < 1 || opt.nfiles > 1000 ||
	    opt.maxsize < 1 || opt.maxsize > (1 << 30) || opt.maxlen < 1)
		usage();
	opt.dir = argv[optind];
	if (opt.max_ops == 0 && opt.max_secs == 0)
		opt.max_ops = 10000;
	if (!seeded)
		opt.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (opt.maxlen > opt.maxsize)
		opt.maxlen = opt.maxsize;
	opt.nnames = 2 * opt.nfiles;
	rng_state = opt.seed;

	files = calloc(opt.nfiles, sizeof(*files));
	name_file = malloc(opt.nnames * sizeof(*name_file));
	buf = malloc(opt.maxsize + 1);
	gotbuf = malloc(opt.maxsize + 1);
	if (!files || !name_file || !buf || !gotbuf)
		abort();
	for (i = 0; i < opt.nfiles; i++) {
		files[i].fd = -1;
		files[i].data = malloc(opt.maxsize);
		files[i].setby = malloc(opt.maxsize * sizeof(*files[i].setby));
		if (!files[i].data || !files[i].setby)
			abort();
	}
	/* leftovers of an earlier run would break the model */
	for (slot = 0; slot < opt.nnames; slot++) {
		name_file[slot] = -1;
		if (unlink(name_path(opt.dir, slot)) < 0 && errno != ENOENT) {
			fprintf(stderr, "fsx: unlink %s: %s\n",
				name_path(opt.dir, slot), strerror(errno));
			return 2;
		}
	}

	printf("fsx: seed %" PRIu64 ", %s %.0f%s, %d files of up to %zu bytes, ops up to %zu bytes, dir %s%s%s\n",
	       opt.seed, opt.max_ops ? "ops" : "for",
	       opt.max_ops ? (double)opt.max_ops : opt.max_secs,
	       opt.max_ops ? "" : " s", opt.nfiles, opt.maxsize, opt.maxlen,
	       opt.dir, opt.dir2 ? ", second mount " : "", opt.dir2 ? opt.dir2 : "");
	fflush(stdout);
	t0 = now();
	for (;;) {
		if (opt.max_ops ? opno >= opt.max_ops :
		    ((opno & 15) == 0 && now() - t0 >= opt.max_secs))
			break;
		opno++;
		do_op();
	}
	final_check();
	if (!opt.keep)
		cleanup();
	secs = now() - t0;

	printf("fsx: %" PRIu64 " ops in %.1f s (%.0f ops/s), seed %" PRIu64 ": all checks passed\n",
	       opno - 1, secs, (opno - 1) / secs, opt.seed);
	printf("fsx: ");
	for (i = 0; i < OP_KINDS; i++)
		printf("%s %" PRIu64 "%s", op_names[i], st.ops[i],
		       i + 1 < OP_KINDS ? ", " : "\n");
	printf("fsx: %.1f MiB written, %.1f MiB read, %" PRIu64 " files unlinked while open, %" PRIu64 " reads through the second mount\n",
	       st.bytes_written / 1048576.0, st.bytes_read / 1048576.0,
	       st.orphans, st.dir2_checks);
	return 0;
}
