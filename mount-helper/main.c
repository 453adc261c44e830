/*
 * mount.podfs: mount(8) helper ("mount.podfs SOURCE DIR [-sfnv] [-o OPTS]",
 * so "mount -t podfs" works), unmount ("mount.podfs unmount DIR"), a
 * mount's statistics ("mount.podfs stats DIR"), and a kubelet FlexVolume
 * driver when the first argument is a FlexVolume call.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mount_podfs.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " SOURCE DIR [-sfnvh] [-o OPTIONS]\n"
		"       " PROG " unmount DIR\n"
		"       " PROG " stats [--prometheus] DIR\n"
		"       " PROG " init | mount DIR JSON | unmount DIR   (kubelet FlexVolume)\n"
		"SOURCE: nfs://server[:port]/export[/subdir], server:/export,\n"
		"        ceph://[user@]mon[:port][,mon...]/[path], user@fsid.fs=/path\n"
		"  -o OPTIONS  mount options (see mount.podfs(8))\n"
		"  -f          stay in the foreground\n"
		"  -v          verbose\n"
		"  -s          sloppy: drop options the library does not know\n"
		"  -n          do not write /etc/mtab (accepted; podfs never does)\n");
}

int main(int argc, char **argv)
{
	struct mount_request req;
	char err[1024];
	const char *pos[2];
	int npos = 0, opt, ret;

	/* "unmount DIR" is kubelet's call too: it answers in JSON */
	if (argc >= 2 && is_flexvolume_call(argv[1]))
		return flexvolume_main(argc - 1, argv + 1);

	if (argc >= 2 && !strcmp(argv[1], "stats"))
		return stats_main(argc - 1, argv + 1);

	mount_request_init(&req);
	/* mount(8) puts the options after the positional arguments */
	while (optind < argc) {
		opt = getopt(argc, argv, "+sfnvho:");
		if (opt == -1) {
			if (npos == 2) {
				fprintf(stderr, PROG ": unexpected argument '%s'\n",
					argv[optind]);
				mount_request_free(&req);
				return EX_USAGE_MOUNT;
			}
			pos[npos++] = argv[optind++];
			continue;
		}
		switch (opt) {
		case 's':
			req.sloppy = true;
			break;
		case 'f':
			req.foreground = true;
			break;
		case 'n':
			break;
		case 'v':
			req.verbose = true;
			break;
		case 'h':
			usage(stdout);
			mount_request_free(&req);
			return 0;
		case 'o':
			if (mount_request_add_options(&req, optarg, err,
						      sizeof(err))) {
				fprintf(stderr, PROG ": %s\n", err);
				mount_request_free(&req);
				return EX_USAGE_MOUNT;
			}
			break;
		default:
			usage(stderr);
			mount_request_free(&req);
			return EX_USAGE_MOUNT;
		}
	}
	if (npos != 2) {
		usage(stderr);
		mount_request_free(&req);
		return EX_USAGE_MOUNT;
	}
	req.source = strdup(pos[0]);
	req.dir = absolute_path(pos[1]);
	if (!req.source || !req.dir) {
		fprintf(stderr, PROG ": out of memory\n");
		mount_request_free(&req);
		return EX_SYSERR;
	}
	ret = mount_volume(&req, err, sizeof(err));
	if (ret)
		fprintf(stderr, PROG ": %s\n", err);
	mount_request_free(&req);
	return ret ? EX_FAIL : 0;
}
