/*
 * libFuzzer target: mount.podfs's -o list (mount_request_add_options),
 * sorted into generic mount flags, the helper's options and the
 * library's; the library then parses its part, as a mount would.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../mount-helper/mount_podfs.h"
#include "podfs-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mount_request req;
	struct podfs_config cfg;
	char *opts = malloc(size + 1), err[1024];

	if (!opts)
		return 0;
	memcpy(opts, data, size);
	opts[size] = '\0';
	mount_request_init(&req);
	if (!mount_request_add_options(&req, opts, err, sizeof(err))) {
		podfs_config_init(&cfg);
		podfs_config_parse(&cfg, "nfs://server/export", req.lib_opts,
				   err, sizeof(err));
		podfs_config_free(&cfg);
	}
	mount_request_free(&req);
	free(opts);
	return 0;
}
