/*
 * Statistics of a mount: the daemon answers them as JSON in the virtual
 * attribute "user.podfs.stats" of the mount's root (so `getfattr` reads
 * them too), and "mount.podfs stats [--prometheus] DIR" prints them, as
 * JSON or in Prometheus' text format for a node exporter's textfile
 * collector.
 */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "mount_podfs.h"

/* The most the attribute holds (every counter fits many times over). */
#define STATS_MAX (256 * 1024)

/* Puts VALUE at the dotted NAME ("cache.data.hits") inside ROOT. */
static void put_dotted(json_object *root, const char *name, uint64_t value)
{
	char key[128];
	json_object *o = root, *next;
	const char *p = name, *dot;

	while ((dot = strchr(p, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - p), p);
		if (!json_object_object_get_ex(o, key, &next)) {
			next = json_object_new_object();
			json_object_object_add(o, key, next);
		}
		o = next;
		p = dot + 1;
	}
	json_object_object_add(o, p, json_object_new_uint64(value));
}

static void add_stat(void *arg, const char *name, uint64_t value)
{
	put_dotted(arg, name, value);
}

char *stats_json(podfs_volume *vol)
{
	json_object *root = json_object_new_object();
	const char *backend = podfs_backend_name(vol);
	char *s = NULL;

	if (!root)
		return NULL;
	json_object_object_add(root, "backend",
			       json_object_new_string(backend ? backend : ""));
	if (!podfs_stats_foreach(vol, add_stat, root))
		s = strdup(json_object_to_json_string_ext(
			root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return s;
}

/* Counters that go up and down (Prometheus gauges); the rest only grow. */
static bool is_gauge(const char *name)
{
	static const char *const gauges[] = {
		"cache_data_bytes", "cache_data_limit",
		"writeback_queued_bytes", "rpc_max_read", "rpc_max_write",
		"rpc_max_in_flight", NULL,
	};

	for (const char *const *g = gauges; *g; g++)
		if (!strcmp(*g, name))
			return true;
	return false;
}

/* A label value, escaped as the text format wants. */
static void print_label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			putchar('\\');
		if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void print_sample(const char *name, const char *op, const char *dir,
			 uint64_t value)
{
	printf("podfs_%s{mountpoint=\"", name);
	print_label(dir);
	if (op) {
		fputs("\",op=\"", stdout);
		print_label(op);
	}
	printf("\"} %llu\n", (unsigned long long)value);
}

/* The exposed name of statistic NAME, into OUT: a counter's ends in
 * "_total", as Prometheus' naming rules want. Its TYPE line goes first. */
static const char *print_type(const char *name, char *out, size_t len)
{
	bool gauge = is_gauge(name);

	snprintf(out, len, "%s%s", name, gauge ? "" : "_total");
	printf("# TYPE podfs_%s %s\n", out, gauge ? "gauge" : "counter");
	return out;
}

/* "ops": {"read": {"count": N, ...}, ...} as one metric per field
 * (podfs_ops_count ...) with the op as a label. */
static void print_ops(json_object *ops, const char *dir)
{
	struct json_object_iterator it = json_object_iter_begin(ops);
	struct json_object_iterator end = json_object_iter_end(ops);
	json_object *first;

	if (json_object_iter_equal(&it, &end))
		return;
	first = json_object_iter_peek_value(&it);
	json_object_object_foreach(first, field, unused)
	{
		char m[64], full[80];

		(void)unused;
		snprintf(m, sizeof(m), "ops_%s", field);
		print_type(m, full, sizeof(full));
		json_object_object_foreach(ops, op, fields)
		{
			json_object *v;

			if (json_object_object_get_ex(fields, field, &v))
				print_sample(full, op, dir,
					     json_object_get_uint64(v));
		}
	}
}

/* Every number under O, named PREFIX_KEY... */
static void print_prometheus(json_object *o, const char *prefix,
			     const char *dir)
{
	json_object_object_foreach(o, key, val)
	{
		char name[256], full[270];

		snprintf(name, sizeof(name), "%s%s%s", prefix,
			 *prefix ? "_" : "", key);
		if (!strcmp(name, "ops") &&
		    json_object_is_type(val, json_type_object)) {
			print_ops(val, dir);
		} else if (json_object_is_type(val, json_type_object)) {
			print_prometheus(val, name, dir);
		} else if (json_object_is_type(val, json_type_int)) {
			print_sample(print_type(name, full, sizeof(full)),
				     NULL, dir,
				     json_object_get_uint64(val));
		}
	}
}

int stats_main(int argc, char **argv)
{
	bool prometheus = false;
	const char *dir = NULL;
	json_object *root;
	char *buf, *abs;
	ssize_t n;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--prometheus"))
			prometheus = true;
		else if (!dir && argv[i][0] != '-')
			dir = argv[i];
		else
			dir = NULL, i = argc;
	}
	if (!dir) {
		fprintf(stderr, "usage: " PROG " stats [--prometheus] DIR\n");
		return EX_USAGE_MOUNT;
	}
	buf = malloc(STATS_MAX + 1);
	abs = absolute_path(dir);
	if (!buf || !abs) {
		fprintf(stderr, PROG ": out of memory\n");
		free(buf);
		free(abs);
		return EX_SYSERR;
	}
	n = getxattr(dir, PODFS_STATS_XATTR, buf, STATS_MAX);
	if (n < 0) {
		fprintf(stderr, PROG ": %s: %s\n", dir,
			errno == ENODATA || errno == ENOTSUP
				? "not a podfs mount (no statistics there)"
				: strerror(errno));
		free(buf);
		free(abs);
		return EX_FAIL;
	}
	buf[n] = '\0';
	root = json_tokener_parse(buf);
	if (!root || !json_object_is_type(root, json_type_object)) {
		fprintf(stderr, PROG ": %s: the daemon's statistics are not "
			"JSON\n", dir);
		json_object_put(root);
		free(buf);
		free(abs);
		return EX_FAIL;
	}
	if (prometheus)
		print_prometheus(root, "", abs);
	else
		printf("%s\n", json_object_to_json_string_ext(
				       root, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_SPACED));
	json_object_put(root);
	free(buf);
	free(abs);
	return 0;
}
