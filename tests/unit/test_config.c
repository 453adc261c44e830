/*
 * Unit tests of source and option parsing (libpodfs/config.c): every form
 * a user can type, and every bad part named in the error.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
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
