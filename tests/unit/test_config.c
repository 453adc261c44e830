/*
 * Unit tests of source and option parsing (libpodfs/config.c): every form
 * a user can type, and every bad part named in the error.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podfs-private.h"

static struct podfs_config cfg;
static char err[256];

static void setup(void)
{
	podfs_config_init(&cfg);
	err[0] = '\0';
}

static void teardown(void)
{
	podfs_config_free(&cfg);
}

static int parse(const char *source, const char *options)
{
	podfs_config_free(&cfg);
	err[0] = '\0';
	return podfs_config_parse(&cfg, source, options, err, sizeof(err));
}

/* The parse fails with -EINVAL and the message contains WHAT. */
#define ck_bad(source, options, what)                                          \
	do {                                                                   \
		ck_assert_int_eq(parse(source, options), -EINVAL);             \
		ck_assert_msg(strstr(err, what), "message '%s' lacks '%s'",    \
			      err, what);                                      \
	} while (0)

START_TEST(nfs_url_basic)
{
	ck_assert_int_eq(parse("nfs://server/export", NULL), 0);
	ck_assert_int_eq(cfg.kind, PODFS_KIND_NFS);
	ck_assert_str_eq(cfg.server, "server");
	ck_assert_str_eq(cfg.path, "/export");
	ck_assert_int_eq(cfg.vers, 3);
	ck_assert_int_eq(cfg.port, 0);
	ck_assert_int_eq(cfg.nconnect, PODFS_DEFAULT_NCONNECT);
	ck_assert(!cfg.readonly);
	ck_assert(!cfg.soft);
}
END_TEST

START_TEST(nfs_url_port_subdir_query)
{
	ck_assert_int_eq(
		parse("nfs://10.0.0.1:2050/exp/sub//dir/?vers=4&nconnect=8",
		      NULL),
		0);
	ck_assert_str_eq(cfg.server, "10.0.0.1");
	ck_assert_int_eq(cfg.port, 2050);
	ck_assert_str_eq(cfg.path, "/exp/sub/dir");
	ck_assert_int_eq(cfg.vers, 4);
	ck_assert_int_eq(cfg.nconnect, 8);
}
END_TEST

START_TEST(nfs_url_v3_ports)
{
	ck_assert_int_eq(
		parse("nfs://127.0.0.1/export?version=3&nfsport=2049&mountport=20048",
		      NULL),
		0);
	ck_assert_int_eq(cfg.port, 2049);
	ck_assert_int_eq(cfg.mountport, 20048);
}
END_TEST

START_TEST(nfs_url_ipv6)
{
	ck_assert_int_eq(parse("nfs://[::1]:2049/x", NULL), 0);
	ck_assert_str_eq(cfg.server, "::1");
	ck_assert_int_eq(cfg.port, 2049);
	ck_assert_str_eq(cfg.path, "/x");
}
END_TEST

START_TEST(nfs_short_form)
{
	ck_assert_int_eq(parse("fileserver:/srv/nfs/app", "vers=4,ro"), 0);
	ck_assert_int_eq(cfg.kind, PODFS_KIND_NFS);
	ck_assert_str_eq(cfg.server, "fileserver");
	ck_assert_str_eq(cfg.path, "/srv/nfs/app");
	ck_assert_int_eq(cfg.vers, 4);
	ck_assert(cfg.readonly);
	ck_assert_int_eq(parse("[fd00::5]:/e", NULL), 0);
	ck_assert_str_eq(cfg.server, "fd00::5");
}
END_TEST

/* Query arguments and -o options are one namespace; -o comes last. */
START_TEST(query_and_options_one_namespace)
{
	ck_assert_int_eq(parse("nfs://h/x?vers=4", NULL), 0);
	ck_assert_int_eq(cfg.vers, 4);
	ck_assert_int_eq(parse("nfs://h/x", "vers=4"), 0);
	ck_assert_int_eq(cfg.vers, 4);
	ck_assert_int_eq(parse("nfs://h/x?vers=4", "vers=3"), 0);
	ck_assert_int_eq(cfg.vers, 3);
}
END_TEST

START_TEST(common_options)
{
	ck_assert_int_eq(parse("h:/x", "soft,timeo=50,retrans=5,uid=1000,"
				       "gid=2000,umask=022,ro,rw"),
			 0);
	ck_assert(cfg.soft);
	ck_assert_int_eq(cfg.timeo, 50);
	ck_assert_int_eq(cfg.retrans, 5);
	ck_assert_int_eq(cfg.uid, 1000);
	ck_assert_int_eq(cfg.gid, 2000);
	ck_assert_int_eq(cfg.umask, 022);
	ck_assert(!cfg.readonly);
	ck_assert_int_eq(parse("h:/x", "soft,hard"), 0);
	ck_assert(!cfg.soft);
}
END_TEST

START_TEST(nfs_bad)
{
	ck_bad("nfs://h", NULL, "no export path");
	ck_bad("nfs://h/", NULL, "no export path");
	ck_bad("nfs:///x", NULL, "no server");
	ck_bad("nfs://h:0/x", NULL, "bad port");
	ck_bad("nfs://h:99999/x", NULL, "bad port");
	ck_bad("nfs://h:abc/x", NULL, "bad port");
	ck_bad("nfs://user@h/x", NULL, "user name");
	ck_bad("nfs://h/x/../../etc", NULL, "'..'");
	ck_bad("h:/x/..", NULL, "'..'");
	ck_bad("nfs://[::1/x", NULL, "unclosed");
	ck_bad("nfs://h!/x", NULL, "bad character '!'");
	ck_bad("nfs://h/x?vers=5", NULL, "vers=5");
	ck_bad("nfs://h/x?vers=", NULL, "needs a value");
	ck_bad("nfs://h/x?nconnect=0", NULL, "nconnect=0");
	ck_bad("nfs://h/x?nconnect=17", NULL, "nconnect=17");
	ck_bad("nfs://h/x?bogus=1", NULL, "unknown option 'bogus'");
	ck_bad("nfs://h/x?vers=4&&soft", NULL, "empty option");
	ck_bad("nfs://h/x?ro=1", NULL, "takes no value");
	ck_bad("nfs://h/x", "vers=4,mountport=20048", "mountport");
	ck_bad("h:/x?vers=4", NULL, "after -o");
	ck_bad("smb://h/x", NULL, "unknown scheme");
	ck_bad("just-a-name", NULL, "not a volume source");
	ck_bad("", NULL, "no volume source");
	ck_bad("h:/x y", NULL, "spaces");
}
END_TEST

START_TEST(lock_options)
{
	ck_assert_int_eq(parse("h:/x", NULL), 0);
	ck_assert_int_eq(cfg.local_lock, 0);
	ck_assert_int_eq(parse("h:/x", "local_lock=flock"), 0);
	ck_assert_int_eq(cfg.local_lock, PODFS_LOCAL_FLOCK);
	ck_assert_int_eq(parse("h:/x", "local_lock=posix"), 0);
	ck_assert_int_eq(cfg.local_lock, PODFS_LOCAL_POSIX);
	ck_assert_int_eq(parse("ceph://m/", "local_lock=all"), 0);
	ck_assert_int_eq(cfg.local_lock, PODFS_LOCAL_FLOCK | PODFS_LOCAL_POSIX);
	ck_assert_int_eq(parse("h:/x", "local_lock=all,local_lock=none"), 0);
	ck_assert_int_eq(cfg.local_lock, 0);
	ck_assert_int_eq(parse("h:/x", "nolock"), 0);
	ck_assert_int_eq(cfg.local_lock, PODFS_LOCAL_FLOCK | PODFS_LOCAL_POSIX);
	ck_assert_int_eq(parse("h:/x", "nolock,lock"), 0);
	ck_assert_int_eq(cfg.local_lock, 0);
	ck_bad("h:/x", "local_lock=some", "local_lock=some");
	ck_bad("h:/x", "local_lock", "needs a value");
	ck_bad("h:/x", "nolock=1", "takes no value");
}
END_TEST

START_TEST(options_bad)
{
	ck_bad("h:/x", "timeo=0", "timeo=0");
	ck_bad("h:/x", "timeo=abc", "timeo=abc");
	ck_bad("h:/x", "retrans=-1", "retrans=-1");
	ck_bad("h:/x", "umask=9", "umask=9");
	ck_bad("h:/x", "uid=", "needs a value");
	ck_bad("h:/x", "=3", "has no name");
	ck_bad("h:/x", "soft,,ro", "empty option");
	ck_bad("h:/x", "noatime", "unknown option 'noatime'");
	/* options that only make sense for the other backend */
	ck_bad("h:/x", "fs=cephfs", "does not apply to a NFS volume");
	ck_bad("h:/x", "secretfile=/k", "does not apply");
	ck_bad("ceph://m/", "vers=4", "does not apply to a CephFS volume");
	ck_bad("ceph://m/", "nconnect=2", "does not apply");
}
END_TEST

START_TEST(ceph_url)
{
	ck_assert_int_eq(parse("ceph://podfs@127.0.0.1:3300/", NULL), 0);
	ck_assert_int_eq(cfg.kind, PODFS_KIND_CEPH);
	ck_assert_str_eq(cfg.user, "podfs");
	ck_assert_str_eq(cfg.mon_host, "v2:127.0.0.1:3300");
	ck_assert_str_eq(cfg.root, "/");
	ck_assert_ptr_null(cfg.fs_name);

	ck_assert_int_eq(parse("ceph://m1:3300,v1:m2:6789,m3/vol/a?fs=data",
			       "secretfile=/etc/k,conf=/etc/c.conf"),
			 0);
	ck_assert_ptr_null(cfg.user);
	ck_assert_str_eq(cfg.mon_host, "v2:m1:3300,v1:m2:6789,m3");
	ck_assert_str_eq(cfg.root, "/vol/a");
	ck_assert_str_eq(cfg.fs_name, "data");
	ck_assert_str_eq(cfg.secretfile, "/etc/k");
	ck_assert_str_eq(cfg.conf, "/etc/c.conf");

	ck_assert_int_eq(parse("ceph://[::1]:3300/?fs=a", "name=client.bob"), 0);
	ck_assert_str_eq(cfg.mon_host, "[::1]:3300");
	ck_assert_str_eq(cfg.user, "bob");
	ck_assert_int_eq(parse("ceph://m", "client_id=mnt-1"), 0);
	ck_assert_str_eq(cfg.client_id, "mnt-1");
	ck_bad("h:/x", "client_id=a", "does not apply to a NFS volume");
	ck_assert_int_eq(parse("ceph://m", "keyring=/k"), 0);
	ck_assert_str_eq(cfg.root, "/");
	ck_assert_str_eq(cfg.keyring, "/k");
}
END_TEST

START_TEST(ceph_mount_ceph_form)
{
	ck_assert_int_eq(parse("admin@b3acfc0d-575f-41d3-9c91-0e7ed3dbb3fa.cephfs=/volumes/x",
			       "mon_addr=10.0.0.1:3300/10.0.0.2:3300"),
			 0);
	ck_assert_int_eq(cfg.kind, PODFS_KIND_CEPH);
	ck_assert_str_eq(cfg.user, "admin");
	ck_assert_str_eq(cfg.fsid, "b3acfc0d-575f-41d3-9c91-0e7ed3dbb3fa");
	ck_assert_str_eq(cfg.fs_name, "cephfs");
	ck_assert_str_eq(cfg.root, "/volumes/x");
	ck_assert_str_eq(cfg.mon_host, "10.0.0.1:3300,10.0.0.2:3300");

	ck_assert_int_eq(parse(".fs2=/", "mon_addr=m"), 0);
	ck_assert_ptr_null(cfg.user);
	ck_assert_ptr_null(cfg.fsid);
	ck_assert_str_eq(cfg.fs_name, "fs2");
}
END_TEST

START_TEST(ceph_bad)
{
	ck_bad("ceph://", NULL, "no monitor");
	ck_bad("ceph://u@/", NULL, "no monitor");
	ck_bad("ceph://@m/", NULL, "empty user");
	ck_bad("ceph://m,,n/", NULL, "empty monitor");
	ck_bad("ceph://m/../x", NULL, "'..'");
	ck_bad("ceph://m;x/", NULL, "bad character ';'");
	ck_bad("ceph://m/", "name=client.", "empty");
	ck_bad("admin@fsid=/x", "mon_addr=m", "fsid].fsname");
	ck_bad("admin@fsid.=/x", "mon_addr=m", "fsname");
	ck_bad("admin@f.fs=/x", NULL, "no monitor");
	/* keys never come from a command line */
	ck_bad("ceph://m/", "secret=AQBxyz==", "not accepted");
	ck_assert_ptr_null(strstr(err, "AQBxyz"));
	ck_bad("ceph://m/?secret=AQBxyz==", NULL, "not accepted");
	ck_assert_ptr_null(strstr(err, "AQBxyz"));
}
END_TEST

/* rsize=/wsize= as nfs(5): 4096 to 1 MiB (the most libnfs takes in one
 * record), rounded down to a multiple of 1024; unset, the server decides. */
START_TEST(nfs_io_sizes)
{
	ck_assert_int_eq(parse("h:/x", NULL), 0);
	ck_assert_int_eq(cfg.rsize, 0);
	ck_assert_int_eq(cfg.wsize, 0);
	ck_assert_int_eq(parse("h:/x", "rsize=4096,wsize=1048576"), 0);
	ck_assert_int_eq(cfg.rsize, 4096);
	ck_assert_int_eq(cfg.wsize, 1048576);
	ck_assert_int_eq(parse("h:/x", "rsize=1048576,wsize=4096"), 0);
	ck_assert_int_eq(cfg.rsize, 1048576);
	ck_assert_int_eq(cfg.wsize, 4096);
	/* rounded down to a multiple of 1024 */
	ck_assert_int_eq(parse("nfs://h/x?rsize=65537&wsize=5000", NULL), 0);
	ck_assert_int_eq(cfg.rsize, 65536);
	ck_assert_int_eq(cfg.wsize, 4096);
	ck_assert_int_eq(parse("h:/x", "rsize=1048575,wsize=1048575"), 0);
	ck_assert_int_eq(cfg.rsize, 1047552);
	ck_assert_int_eq(cfg.wsize, 1047552);
	ck_assert_int_eq(parse("h:/x", "wsize=4097"), 0);
	ck_assert_int_eq(cfg.wsize, 4096);

	ck_bad("h:/x", "rsize=1000", "rsize=1000");
	ck_bad("h:/x", "wsize=1000", "wsize=1000");
	ck_bad("h:/x", "rsize=4095", "rsize=4095");
	ck_bad("h:/x", "rsize=2097152", "rsize=2097152");
	ck_bad("h:/x", "wsize=2097152", "wsize=2097152");
	ck_bad("h:/x", "wsize=1048577", "wsize=1048577");
	ck_bad("h:/x", "rsize=abc", "rsize=abc");
	ck_bad("h:/x", "wsize=abc", "wsize=abc");
	ck_bad("nfs://h/x?rsize=-4096", NULL, "rsize=-4096");
	ck_bad("h:/x", "wsize=", "'wsize' needs a value");
	ck_bad("h:/x", "rsize", "'rsize' needs a value");
}
END_TEST

/* proto= and sec= name what nfs(5) users type; only TCP and AUTH_SYS. */
START_TEST(nfs_proto_sec)
{
	ck_assert_int_eq(parse("h:/x", "proto=tcp"), 0);
	ck_assert_int_eq(parse("h:/x", "proto=tcp6"), 0);
	ck_assert_int_eq(parse("nfs://h/x?proto=tcp&sec=sys", NULL), 0);
	ck_assert_int_eq(parse("h:/x", "sec=sys"), 0);
	ck_bad("h:/x", "proto=udp", "TCP");
	ck_assert_ptr_nonnull(strstr(err, "proto=udp"));
	ck_bad("h:/x", "proto=rdma", "TCP");
	ck_bad("h:/x", "proto=", "needs a value");
	ck_bad("h:/x", "sec=krb5", "sys");
	ck_assert_ptr_nonnull(strstr(err, "sec=krb5"));
	ck_bad("h:/x", "sec=krb5p", "sys");
	ck_bad("h:/x", "sec=none", "sys");
}
END_TEST

/* NFSv4 is 4.0 as podfs speaks it; 4.1 and 4.2 are refused by name. */
START_TEST(nfs_minor_versions)
{
	ck_assert_int_eq(parse("h:/x", "vers=4.0"), 0);
	ck_assert_int_eq(cfg.vers, 4);
	ck_assert_int_eq(parse("nfs://h/x?nfsvers=4.0", NULL), 0);
	ck_assert_int_eq(cfg.vers, 4);
	ck_assert_int_eq(parse("h:/x", "vers=3"), 0);
	ck_assert_int_eq(cfg.vers, 3);
	ck_bad("h:/x", "vers=4.1", "4.0");
	ck_assert_ptr_nonnull(strstr(err, "vers=4.1"));
	ck_bad("h:/x", "nfsvers=4.2", "4.0");
	ck_assert_ptr_nonnull(strstr(err, "nfsvers=4.2"));
	ck_bad("nfs://h/x?version=4.1", NULL, "4.0");
	ck_bad("h:/x", "vers=2", "4.0");
	ck_bad("h:/x", "vers=4.", "4.0");
}
END_TEST

/* slots= is the requests in flight per connection: 2 to 1024, as
 * libpodfs(3) and mount.podfs(8) document; unset, the backend's 64. */
START_TEST(nfs_slots)
{
	ck_assert_int_eq(parse("h:/x", NULL), 0);
	ck_assert_int_eq(cfg.slots, 0);
	ck_assert_int_eq(parse("h:/x", "slots=64"), 0);
	ck_assert_int_eq(cfg.slots, 64);
	ck_assert_int_eq(parse("nfs://h/x?slots=2", NULL), 0);
	ck_assert_int_eq(cfg.slots, 2);
	ck_assert_int_eq(parse("h:/x", "slots=1024"), 0);
	ck_assert_int_eq(cfg.slots, 1024);
	ck_bad("h:/x", "slots=0", "slots=0");
	ck_bad("h:/x", "slots=1", "slots=1");
	ck_bad("h:/x", "slots=1025", "slots=1025");
	ck_bad("h:/x", "slots=5000", "slots=5000");
	ck_bad("h:/x", "slots=many", "slots=many");
	ck_bad("h:/x", "slots=", "'slots' needs a value");
}
END_TEST

/* The new NFS options mean nothing to CephFS: refused by name. */
START_TEST(nfs_options_not_ceph)
{
	static const char *const opts[] = {
		"rsize=65536", "wsize=65536", "proto=tcp", "sec=sys",
		"slots=64",    "vers=4.0",    "nfsvers=4.0",
	};

	static const char *const sources[] = { "ceph://m/", "admin@f.fs=/x" };

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char name[32];

		/* the message names the option and the kind of volume */
		snprintf(name, sizeof(name), "option '%.*s' does not apply",
			 (int)strcspn(opts[i], "="), opts[i]);
		for (size_t k = 0; k < 2; k++) {
			ck_assert_msg(parse(sources[k], opts[i]) == -EINVAL,
				      "%s with -o %s was not refused",
				      sources[k], opts[i]);
			ck_assert_msg(strstr(err, name) &&
					      strstr(err, "CephFS"),
				      "%s -o %s: message '%s' lacks \"%s\" "
				      "or \"CephFS\"", sources[k], opts[i],
				      err, name);
		}
	}
	ck_bad("ceph://m/?slots=64", NULL, "does not apply");
	ck_bad("ceph://m/?rsize=65536", NULL, "does not apply");
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, nfs_url_basic);
	tcase_add_test(tc, nfs_url_port_subdir_query);
	tcase_add_test(tc, nfs_url_v3_ports);
	tcase_add_test(tc, nfs_url_ipv6);
	tcase_add_test(tc, nfs_short_form);
	tcase_add_test(tc, query_and_options_one_namespace);
	tcase_add_test(tc, common_options);
	tcase_add_test(tc, nfs_bad);
	tcase_add_test(tc, options_bad);
	tcase_add_test(tc, ceph_url);
	tcase_add_test(tc, ceph_mount_ceph_form);
	tcase_add_test(tc, ceph_bad);
	tcase_add_test(tc, nfs_io_sizes);
	tcase_add_test(tc, nfs_proto_sec);
	tcase_add_test(tc, nfs_minor_versions);
	tcase_add_test(tc, nfs_slots);
	tcase_add_test(tc, nfs_options_not_ceph);
	tcase_add_test(tc, lock_options);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
