/*
 * Parsing of a volume's source string and options into struct podfs_config.
 * Strict: every part is understood or named in an error; URL query
 * arguments and mount(8)-style options are one namespace.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podfs-private.h"

void podfs_config_init(struct podfs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->timeo = PODFS_DEFAULT_TIMEO;
	cfg->retrans = PODFS_DEFAULT_RETRANS;
	cfg->uid = cfg->gid = cfg->umask = -1;
	cfg->vers = 3;
	cfg->nconnect = PODFS_DEFAULT_NCONNECT;
	cfg->acregmin = PODFS_DEFAULT_ACREGMIN;
	cfg->acregmax = PODFS_DEFAULT_ACREGMAX;
	cfg->acdirmin = PODFS_DEFAULT_ACDIRMIN;
	cfg->acdirmax = PODFS_DEFAULT_ACDIRMAX;
	cfg->lookupcache = PODFS_LOOKUPCACHE_POSITIVE;
	cfg->cto = true;
	cfg->cache_mode = PODFS_CACHE_STRICT;
	cfg->cache_size = PODFS_DEFAULT_CACHE_SIZE;
}

unsigned int podfs_config_timeout_ms(const struct podfs_config *cfg)
{
	uint64_t ms = (uint64_t)cfg->timeo * 100 * ((uint64_t)cfg->retrans + 1);

	return ms > 0 && ms < 3600000 ? (unsigned int)ms : 3600000;
}

void podfs_config_free(struct podfs_config *cfg)
{
	free(cfg->source);
	free(cfg->server);
	free(cfg->path);
	free(cfg->mon_host);
	free(cfg->user);
	free(cfg->fsid);
	free(cfg->fs_name);
	free(cfg->root);
	free(cfg->secretfile);
	free(cfg->keyring);
	free(cfg->conf);
	free(cfg->client_id);
	/* cfg->secret is borrowed from the volume (podfs_set_secret) */
	podfs_config_init(cfg);
}

PODFS_PRINTF(3, 4)
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int set_string(char **dst, const char *s, size_t n)
{
	char *copy = strndup(s, n);

	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/* A canonical absolute path: "/" joined components, no "." or "..", no
 * empty components. ".." is refused so a subdir can't escape its export. */
static int normalize_path(const char *in, size_t n, char **out, char *err,
			  size_t errlen, const char *what)
{
	char *p = malloc(n + 2);
	size_t i = 0, o = 0;

	if (!p)
		return -ENOMEM;
	while (i < n) {
		size_t start, len;

		while (i < n && in[i] == '/')
			i++;
		start = i;
		while (i < n && in[i] != '/')
			i++;
		len = i - start;
		if (len == 0 || (len == 1 && in[start] == '.'))
			continue;
		if (len == 2 && in[start] == '.' && in[start + 1] == '.') {
			free(p);
			return fail(err, errlen, "%s '%.*s': '..' is not allowed",
				    what, (int)n, in);
		}
		p[o++] = '/';
		memcpy(p + o, in + start, len);
		o += len;
	}
	if (o == 0)
		p[o++] = '/';
	p[o] = '\0';
	*out = p;
	return 0;
}

static int parse_int(const char *key, const char *val, long min, long max,
		     int base, long *out, char *err, size_t errlen)
{
	char *end;
	long v;

	if (!val || !*val)
		return fail(err, errlen, "option '%s' needs a value", key);
	errno = 0;
	v = strtol(val, &end, base);
	if (errno || *end || v < min || v > max)
		return fail(err, errlen,
			    "option '%s=%s': expected %s from %ld to %ld", key,
			    val, base == 8 ? "an octal number" : "a number",
			    min, max);
	*out = v;
	return 0;
}

/* A byte count with an optional binary suffix (k, M, G: 1024-based, as
 * mount options usually mean them), at least PODFS_MIN_CACHE_SIZE. */
static int parse_size(const char *key, const char *val,
		      unsigned long long *out, char *err, size_t errlen)
{
	unsigned long long v, mult = 1;
	char *end;

	if (!isdigit((unsigned char)val[0]))
		goto bad;
	errno = 0;
	v = strtoull(val, &end, 10);
	if (errno)
		goto bad;
	switch (*end) {
	case 'k': case 'K':
		mult = 1ULL << 10;
		end++;
		break;
	case 'm': case 'M':
		mult = 1ULL << 20;
		end++;
		break;
	case 'g': case 'G':
		mult = 1ULL << 30;
		end++;
		break;
	}
	if (*end || v > (1ULL << 50) / mult || v * mult < PODFS_MIN_CACHE_SIZE)
		goto bad;
	*out = v * mult;
	return 0;
bad:
	return fail(err, errlen,
		    "option '%s=%s': expected bytes (with k, M or G) from 4M to 1P",
		    key, val);
}

enum applies { ANY, NFS_ONLY, CEPH_ONLY };

enum opt_id {
	OPT_RO, OPT_RW, OPT_HARD, OPT_SOFT, OPT_TIMEO, OPT_RETRANS, OPT_UID,
	OPT_GID, OPT_UMASK, OPT_VERS, OPT_PORT, OPT_MOUNTPORT, OPT_NCONNECT,
	OPT_FS, OPT_NAME, OPT_SECRETFILE, OPT_KEYRING, OPT_CONF, OPT_MON_ADDR,
	OPT_SECRET, OPT_CLIENT_ID, OPT_RSIZE, OPT_WSIZE, OPT_PROTO, OPT_SEC,
	OPT_SLOTS, OPT_AC, OPT_NOAC, OPT_ACTIMEO, OPT_ACREGMIN, OPT_ACREGMAX,
	OPT_ACDIRMIN, OPT_ACDIRMAX, OPT_LOOKUPCACHE, OPT_CTO, OPT_NOCTO,
	OPT_CACHE, OPT_CACHE_SIZE, OPT_LOCAL_LOCK, OPT_LOCK, OPT_NOLOCK,
};

static const struct option_def {
	const char *name;
	enum opt_id id;
	enum applies applies;
	bool has_value;
} option_defs[] = {
	{ "ro", OPT_RO, ANY, false },
	{ "rw", OPT_RW, ANY, false },
	{ "hard", OPT_HARD, ANY, false },
	{ "soft", OPT_SOFT, ANY, false },
	{ "timeo", OPT_TIMEO, ANY, true },
	{ "retrans", OPT_RETRANS, ANY, true },
	{ "uid", OPT_UID, ANY, true },
	{ "gid", OPT_GID, ANY, true },
	{ "umask", OPT_UMASK, ANY, true },
	{ "vers", OPT_VERS, NFS_ONLY, true },
	{ "version", OPT_VERS, NFS_ONLY, true },
	{ "nfsvers", OPT_VERS, NFS_ONLY, true },
	{ "port", OPT_PORT, NFS_ONLY, true },
	{ "nfsport", OPT_PORT, NFS_ONLY, true },
	{ "mountport", OPT_MOUNTPORT, NFS_ONLY, true },
	{ "nconnect", OPT_NCONNECT, NFS_ONLY, true },
	{ "rsize", OPT_RSIZE, NFS_ONLY, true },
	{ "wsize", OPT_WSIZE, NFS_ONLY, true },
	{ "proto", OPT_PROTO, NFS_ONLY, true },
	{ "sec", OPT_SEC, NFS_ONLY, true },
	{ "slots", OPT_SLOTS, NFS_ONLY, true },
	{ "ac", OPT_AC, ANY, false },
	{ "noac", OPT_NOAC, ANY, false },
	{ "actimeo", OPT_ACTIMEO, ANY, true },
	{ "acregmin", OPT_ACREGMIN, ANY, true },
	{ "acregmax", OPT_ACREGMAX, ANY, true },
	{ "acdirmin", OPT_ACDIRMIN, ANY, true },
	{ "acdirmax", OPT_ACDIRMAX, ANY, true },
	{ "lookupcache", OPT_LOOKUPCACHE, ANY, true },
	{ "cto", OPT_CTO, ANY, false },
	{ "nocto", OPT_NOCTO, ANY, false },
	{ "cache", OPT_CACHE, ANY, true },
	{ "cache_size", OPT_CACHE_SIZE, ANY, true },
	{ "local_lock", OPT_LOCAL_LOCK, ANY, true },
	{ "lock", OPT_LOCK, ANY, false },
	{ "nolock", OPT_NOLOCK, ANY, false },
	{ "fs", OPT_FS, CEPH_ONLY, true },
	{ "mds_namespace", OPT_FS, CEPH_ONLY, true },
	{ "name", OPT_NAME, CEPH_ONLY, true },
	{ "secretfile", OPT_SECRETFILE, CEPH_ONLY, true },
	{ "keyring", OPT_KEYRING, CEPH_ONLY, true },
	{ "conf", OPT_CONF, CEPH_ONLY, true },
	{ "mon_addr", OPT_MON_ADDR, CEPH_ONLY, true },
	{ "secret", OPT_SECRET, CEPH_ONLY, true },
	{ "client_id", OPT_CLIENT_ID, CEPH_ONLY, true },
};

/* mount.ceph's mon_addr separates monitors with '/'; mon_host wants ','. */
static int set_mon_addr(struct podfs_config *cfg, const char *val)
{
	char *s = strdup(val);

	if (!s)
		return -ENOMEM;
	for (char *p = s; *p; p++)
		if (*p == '/')
			*p = ',';
	free(cfg->mon_host);
	cfg->mon_host = s;
	return 0;
}

static int apply_option(struct podfs_config *cfg, const char *key,
			size_t keylen, const char *val, char *err,
			size_t errlen)
{
	const struct option_def *def = NULL;
	const char *kind = cfg->kind == PODFS_KIND_NFS ? "NFS" : "CephFS";
	long v = 0; /* a refused value leaves 0 behind, not garbage */
	int ret;

	for (size_t i = 0; i < sizeof(option_defs) / sizeof(option_defs[0]); i++)
		if (strlen(option_defs[i].name) == keylen &&
		    !strncmp(option_defs[i].name, key, keylen)) {
			def = &option_defs[i];
			break;
		}
	if (!def)
		return fail(err, errlen, "unknown option '%.*s'", (int)keylen,
			    key);
	if ((def->applies == NFS_ONLY && cfg->kind != PODFS_KIND_NFS) ||
	    (def->applies == CEPH_ONLY && cfg->kind != PODFS_KIND_CEPH))
		return fail(err, errlen,
			    "option '%s' does not apply to a %s volume",
			    def->name, kind);
	if (def->has_value && (!val || !*val))
		return fail(err, errlen, "option '%s' needs a value",
			    def->name);
	if (!def->has_value && val)
		return fail(err, errlen, "option '%s' takes no value",
			    def->name);

	switch (def->id) {
	case OPT_RO:
		cfg->readonly = true;
		return 0;
	case OPT_RW:
		cfg->readonly = false;
		return 0;
	case OPT_HARD:
		cfg->soft = false;
		return 0;
	case OPT_SOFT:
		cfg->soft = true;
		return 0;
	case OPT_TIMEO:
		ret = parse_int(def->name, val, 1, 36000, 10, &v, err, errlen);
		cfg->timeo = (int)v;
		return ret;
	case OPT_RETRANS:
		ret = parse_int(def->name, val, 0, 100, 10, &v, err, errlen);
		cfg->retrans = (int)v;
		return ret;
	case OPT_UID:
		return parse_int(def->name, val, 0, INT_MAX, 10, &cfg->uid,
				 err, errlen);
	case OPT_GID:
		return parse_int(def->name, val, 0, INT_MAX, 10, &cfg->gid,
				 err, errlen);
	case OPT_UMASK:
		return parse_int(def->name, val, 0, 0777, 8, &cfg->umask, err,
				 errlen);
	case OPT_VERS:
		/* 4.0 is NFSv4 as podfs speaks it; 4.1 and 4.2 need
		 * sessions, which it does not (yet) */
		if (strcmp(val, "3") && strcmp(val, "4") && strcmp(val, "4.0"))
			return fail(err, errlen,
				    "option '%s=%s': podfs speaks NFS versions 3 and 4.0 (vers=3, vers=4)",
				    def->name, val);
		cfg->vers = val[0] - '0';
		return 0;
	case OPT_RSIZE:
	case OPT_WSIZE:
		/* as nfs(5): a multiple of 1024, at most 1 MiB here (the
		 * most libnfs takes in one record); the server may lower
		 * it further */
		ret = parse_int(def->name, val, 4096, PODFS_MAX_IOSIZE, 10, &v,
				err, errlen);
		if (def->id == OPT_RSIZE)
			cfg->rsize = (int)(v & ~1023L);
		else
			cfg->wsize = (int)(v & ~1023L);
		return ret;
	case OPT_PROTO:
		if (strcmp(val, "tcp") && strcmp(val, "tcp6"))
			return fail(err, errlen,
				    "option 'proto=%s': podfs speaks NFS over TCP only (proto=tcp)",
				    val);
		return 0;
	case OPT_SEC:
		if (strcmp(val, "sys"))
			return fail(err, errlen,
				    "option 'sec=%s': podfs supports AUTH_SYS only (sec=sys)",
				    val);
		return 0;
	case OPT_SLOTS:
		ret = parse_int(def->name, val, 2, PODFS_MAX_SLOTS, 10, &v, err,
				errlen);
		cfg->slots = (int)v;
		return ret;
	case OPT_AC:
		cfg->acregmin = PODFS_DEFAULT_ACREGMIN;
		cfg->acregmax = PODFS_DEFAULT_ACREGMAX;
		cfg->acdirmin = PODFS_DEFAULT_ACDIRMIN;
		cfg->acdirmax = PODFS_DEFAULT_ACDIRMAX;
		return 0;
	case OPT_NOAC:
		cfg->acregmin = cfg->acregmax = cfg->acdirmin = cfg->acdirmax = 0;
		return 0;
	case OPT_ACTIMEO:
	case OPT_ACREGMIN:
	case OPT_ACREGMAX:
	case OPT_ACDIRMIN:
	case OPT_ACDIRMAX:
		ret = parse_int(def->name, val, 0, PODFS_MAX_ACTIMEO, 10, &v,
				err, errlen);
		if (ret)
			return ret;
		if (def->id == OPT_ACTIMEO || def->id == OPT_ACREGMIN)
			cfg->acregmin = (int)v;
		if (def->id == OPT_ACTIMEO || def->id == OPT_ACREGMAX)
			cfg->acregmax = (int)v;
		if (def->id == OPT_ACTIMEO || def->id == OPT_ACDIRMIN)
			cfg->acdirmin = (int)v;
		if (def->id == OPT_ACTIMEO || def->id == OPT_ACDIRMAX)
			cfg->acdirmax = (int)v;
		return 0;
	case OPT_LOOKUPCACHE:
		if (!strcmp(val, "all"))
			cfg->lookupcache = PODFS_LOOKUPCACHE_ALL;
		else if (!strcmp(val, "positive") || !strcmp(val, "pos"))
			cfg->lookupcache = PODFS_LOOKUPCACHE_POSITIVE;
		else if (!strcmp(val, "none"))
			cfg->lookupcache = PODFS_LOOKUPCACHE_NONE;
		else
			return fail(err, errlen,
				    "option 'lookupcache=%s': expected all, positive or none",
				    val);
		return 0;
	case OPT_LOCAL_LOCK:
		if (!strcmp(val, "none"))
			cfg->local_lock = 0;
		else if (!strcmp(val, "flock"))
			cfg->local_lock = PODFS_LOCAL_FLOCK;
		else if (!strcmp(val, "posix"))
			cfg->local_lock = PODFS_LOCAL_POSIX;
		else if (!strcmp(val, "all"))
			cfg->local_lock = PODFS_LOCAL_FLOCK | PODFS_LOCAL_POSIX;
		else
			return fail(err, errlen,
				    "option 'local_lock=%s': expected none, "
				    "flock, posix or all", val);
		return 0;
	case OPT_LOCK:
	case OPT_NOLOCK:
		/* nfs(5): nolock is local_lock=all */
		cfg->local_lock = def->id == OPT_NOLOCK
					  ? PODFS_LOCAL_FLOCK | PODFS_LOCAL_POSIX
					  : 0;
		return 0;
	case OPT_CTO:
	case OPT_NOCTO:
		cfg->cto = def->id == OPT_CTO;
		return 0;
	case OPT_CACHE:
		if (!strcmp(val, "strict"))
			cfg->cache_mode = PODFS_CACHE_STRICT;
		else if (!strcmp(val, "none"))
			cfg->cache_mode = PODFS_CACHE_NONE;
		else if (!strcmp(val, "loose"))
			cfg->cache_mode = PODFS_CACHE_LOOSE;
		else
			return fail(err, errlen,
				    "option 'cache=%s': expected none, strict or loose",
				    val);
		return 0;
	case OPT_CACHE_SIZE:
		return parse_size(def->name, val, &cfg->cache_size, err,
				  errlen);
	case OPT_PORT:
		ret = parse_int(def->name, val, 1, 65535, 10, &v, err, errlen);
		cfg->port = (int)v;
		return ret;
	case OPT_MOUNTPORT:
		ret = parse_int(def->name, val, 1, 65535, 10, &v, err, errlen);
		cfg->mountport = (int)v;
		return ret;
	case OPT_NCONNECT:
		ret = parse_int(def->name, val, 1, PODFS_MAX_NCONNECT, 10, &v,
				err, errlen);
		cfg->nconnect = (int)v;
		return ret;
	case OPT_FS:
		return set_string(&cfg->fs_name, val, strlen(val));
	case OPT_NAME:
		if (!strncmp(val, "client.", 7))
			val += 7;
		if (!*val)
			return fail(err, errlen, "option 'name' is empty");
		return set_string(&cfg->user, val, strlen(val));
	case OPT_SECRETFILE:
		return set_string(&cfg->secretfile, val, strlen(val));
	case OPT_KEYRING:
		return set_string(&cfg->keyring, val, strlen(val));
	case OPT_CONF:
		return set_string(&cfg->conf, val, strlen(val));
	case OPT_MON_ADDR:
		return set_mon_addr(cfg, val);
	case OPT_CLIENT_ID:
		return set_string(&cfg->client_id, val, strlen(val));
	case OPT_SECRET:
		/* A key on a command line is visible to every user in ps. */
		return fail(err, errlen,
			    "option 'secret' is not accepted (it would show in "
			    "the process list): use secretfile= or keyring=");
	}
	return fail(err, errlen, "option '%s' is not handled", def->name);
}

/* Applies a list of KEY[=VALUE] items separated by SEP. */
static int apply_options(struct podfs_config *cfg, const char *list,
			 char sep, char *err, size_t errlen)
{
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, sep);
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t keylen = eq ? (size_t)(eq - p) : len;
		char *val = NULL;
		int ret;

		if (len == 0)
			return fail(err, errlen, "empty option in '%s'", list);
		if (keylen == 0)
			return fail(err, errlen, "option '%.*s' has no name",
				    (int)len, p);
		if (eq) {
			val = strndup(eq + 1, len - keylen - 1);
			if (!val)
				return -ENOMEM;
		}
		ret = apply_option(cfg, p, keylen, val, err, errlen);
		if (val)
			explicit_bzero(val, strlen(val));
		free(val);
		if (ret)
			return ret;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* "host", "[v6addr]" (brackets dropped) from S..S+N; a hostname or
 * address has no '/', '@', '?', spaces or control characters. */
static int set_host(char **dst, const char *s, size_t n, const char *source,
		    char *err, size_t errlen)
{
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0)
		return fail(err, errlen, "'%s': no server name", source);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-_:", s[i]))
			return fail(err, errlen,
				    "'%s': bad character '%c' in server name "
				    "'%.*s'", source, s[i], (int)n, s);
	return set_string(dst, s, n);
}

/* nfs://server[:port]/export[/subdir][?args] */
static int parse_nfs_url(struct podfs_config *cfg, const char *src,
			 char *err, size_t errlen)
{
	const char *host = src + strlen("nfs://");
	const char *slash = strchr(host, '/');
	const char *query = strchr(host, '?');
	const char *hostend, *colon = NULL;
	int ret;

	if (query && (!slash || query < slash))
		return fail(err, errlen, "'%s': no export path", src);
	if (!slash)
		return fail(err, errlen, "'%s': no export path", src);
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(slash - host));

		if (!rb)
			return fail(err, errlen, "'%s': unclosed '[' in server",
				    src);
		hostend = rb + 1;
		if (hostend < slash && *hostend != ':')
			return fail(err, errlen,
				    "'%s': unexpected '%c' after ']'", src,
				    *hostend);
		if (hostend < slash)
			colon = hostend;
	} else {
		colon = memchr(host, ':', (size_t)(slash - host));
		hostend = colon ? colon : slash;
	}
	if (memchr(host, '@', (size_t)(slash - host)))
		return fail(err, errlen,
			    "'%s': a user name is not part of an NFS URL", src);
	ret = set_host(&cfg->server, host, (size_t)(hostend - host), src, err,
		       errlen);
	if (ret)
		return ret;
	if (colon) {
		char port[8];
		long v;
		size_t n = (size_t)(slash - colon - 1);

		if (n == 0 || n >= sizeof(port))
			return fail(err, errlen, "'%s': bad port '%.*s'", src,
				    (int)n, colon + 1);
		memcpy(port, colon + 1, n);
		port[n] = '\0';
		ret = parse_int("port", port, 1, 65535, 10, &v, err, errlen);
		if (ret)
			return fail(err, errlen, "'%s': bad port '%s'", src,
				    port);
		cfg->port = (int)v;
	}
	ret = normalize_path(slash, query ? (size_t)(query - slash)
					  : strlen(slash),
			     &cfg->path, err, errlen, "export path");
	if (ret)
		return ret;
	if (!strcmp(cfg->path, "/") && slash[1] == '\0')
		return fail(err, errlen, "'%s': no export path", src);
	if (query)
		return apply_options(cfg, query + 1, '&', err, errlen);
	return 0;
}

/* server:/export[/subdir], server may be [v6addr] */
static int parse_nfs_short(struct podfs_config *cfg, const char *src,
			   const char *colon, char *err, size_t errlen)
{
	int ret = set_host(&cfg->server, src, (size_t)(colon - src), src, err,
			   errlen);

	if (ret)
		return ret;
	if (strchr(colon, '?'))
		return fail(err, errlen,
			    "'%s': options go after -o in server:/path form",
			    src);
	return normalize_path(colon + 1, strlen(colon + 1), &cfg->path, err,
			      errlen, "export path");
}

/* Each monitor goes to mon_host as written, except a bare host:port,
 * which is pinned to msgr2 (the v2 port, 3300 by default). */
static int set_mon_list(struct podfs_config *cfg, const char *s, size_t n,
			const char *src, char *err, size_t errlen)
{
	char *out = malloc(n * 2 + 16);
	size_t o = 0, i = 0;

	if (!out)
		return -ENOMEM;
	while (i <= n) {
		size_t start = i, len;
		const char *m;
		const char *colon;

		while (i < n && s[i] != ',')
			i++;
		len = i - start;
		m = s + start;
		if (len == 0) {
			free(out);
			return fail(err, errlen, "'%s': empty monitor address",
				    src);
		}
		for (size_t k = 0; k < len; k++)
			if (!isalnum((unsigned char)m[k]) &&
			    !strchr(".-_:[]", m[k])) {
				free(out);
				return fail(err, errlen,
					    "'%s': bad character '%c' in "
					    "monitor '%.*s'",
					    src, m[k], (int)len, m);
			}
		if (o)
			out[o++] = ',';
		colon = memchr(m, ':', len);
		if (colon && m[0] != '[' && strncmp(m, "v1:", 3) &&
		    strncmp(m, "v2:", 3) && !memchr(colon + 1, ':',
						    len - (size_t)(colon - m) - 1)) {
			memcpy(out + o, "v2:", 3);
			o += 3;
		}
		memcpy(out + o, m, len);
		o += len;
		i++;
	}
	out[o] = '\0';
	free(cfg->mon_host);
	cfg->mon_host = out;
	return 0;
}

/* ceph://[user@]mon[:port][,mon[:port]...]/[path][?args] */
static int parse_ceph_url(struct podfs_config *cfg, const char *src,
			  char *err, size_t errlen)
{
	const char *auth = src + strlen("ceph://");
	const char *slash = strchr(auth, '/');
	const char *query = strchr(auth, '?');
	const char *at, *end;
	int ret;

	if (query && (!slash || query < slash))
		slash = NULL;
	end = slash ? slash : (query ? query : auth + strlen(auth));
	at = memchr(auth, '@', (size_t)(end - auth));
	if (at) {
		if (at == auth)
			return fail(err, errlen, "'%s': empty user name", src);
		ret = set_string(&cfg->user, auth, (size_t)(at - auth));
		if (ret)
			return ret;
		auth = at + 1;
	}
	if (auth == end)
		return fail(err, errlen, "'%s': no monitor address", src);
	ret = set_mon_list(cfg, auth, (size_t)(end - auth), src, err, errlen);
	if (ret)
		return ret;
	ret = normalize_path(slash ? slash : "/",
			     slash ? (query ? (size_t)(query - slash)
					    : strlen(slash))
				   : 1,
			     &cfg->root, err, errlen, "path");
	if (ret)
		return ret;
	if (query)
		return apply_options(cfg, query + 1, '&', err, errlen);
	return 0;
}

/* mount.ceph's [user@][fsid].fsname=/path (monitors from mon_addr=) */
static int parse_ceph_short(struct podfs_config *cfg, const char *src,
			    const char *eq, char *err, size_t errlen)
{
	const char *at = memchr(src, '@', (size_t)(eq - src));
	const char *id = at ? at + 1 : src;
	const char *dot = memrchr(id, '.', (size_t)(eq - id));
	int ret;

	if (at) {
		if (at == src)
			return fail(err, errlen, "'%s': empty user name", src);
		ret = set_string(&cfg->user, src, (size_t)(at - src));
		if (ret)
			return ret;
	}
	if (!dot || dot + 1 == eq)
		return fail(err, errlen,
			    "'%s': expected [user@][fsid].fsname=/path", src);
	if (dot > id) {
		ret = set_string(&cfg->fsid, id, (size_t)(dot - id));
		if (ret)
			return ret;
	}
	ret = set_string(&cfg->fs_name, dot + 1, (size_t)(eq - dot - 1));
	if (ret)
		return ret;
	return normalize_path(eq + 1, strlen(eq + 1), &cfg->root, err, errlen,
			      "path");
}

int podfs_config_parse(struct podfs_config *cfg, const char *source,
		       const char *options, char *err, size_t errlen)
{
	const char *colon, *firstslash;
	int ret;

	if (!source || !*source)
		return fail(err, errlen, "no volume source given");
	for (const char *p = source; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return fail(err, errlen,
				    "'%s': spaces and control characters are "
				    "not allowed in a source", source);
	ret = set_string(&cfg->source, source, strlen(source));
	if (ret)
		return ret;

	firstslash = strchr(source, '/');
	if (!strncmp(source, "nfs://", 6)) {
		cfg->kind = PODFS_KIND_NFS;
		ret = parse_nfs_url(cfg, source, err, errlen);
	} else if (!strncmp(source, "ceph://", 7)) {
		cfg->kind = PODFS_KIND_CEPH;
		ret = parse_ceph_url(cfg, source, err, errlen);
	} else if (strstr(source, "://")) {
		return fail(err, errlen,
			    "'%s': unknown scheme (nfs:// or ceph://)", source);
	} else if (firstslash && firstslash > source &&
		   firstslash[-1] == '=') {
		cfg->kind = PODFS_KIND_CEPH;
		ret = parse_ceph_short(cfg, source, firstslash - 1, err,
				       errlen);
	} else if (firstslash && firstslash > source &&
		   firstslash[-1] == ':') {
		colon = firstslash - 1;
		cfg->kind = PODFS_KIND_NFS;
		ret = parse_nfs_short(cfg, source, colon, err, errlen);
	} else {
		return fail(err, errlen,
			    "'%s': not a volume source (nfs://server/export, "
			    "server:/export, ceph://mon/path or "
			    "user@fsid.fs=/path)", source);
	}
	if (ret)
		return ret;
	if (options && *options) {
		ret = apply_options(cfg, options, ',', err, errlen);
		if (ret)
			return ret;
	}
	if (cfg->kind == PODFS_KIND_CEPH && !cfg->mon_host && !cfg->conf)
		return fail(err, errlen,
			    "'%s': no monitor address (give mon_addr= or conf=)",
			    source);
	if (cfg->kind == PODFS_KIND_NFS && cfg->mountport && cfg->vers == 4)
		return fail(err, errlen,
			    "option 'mountport' does not apply to NFSv4");
	return 0;
}
