/*
 * libFuzzer target: kubelet's JSON options of a FlexVolume mount
 * (flexvolume_parse: json-c, base64 secrets, fsGroup), then the library's
 * parse of the source and options they make, as a mount would.
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
	char *json = malloc(size + 1), err[1024];

	if (!json)
		return 0;
	memcpy(json, data, size);
	json[size] = '\0';
	mount_request_init(&req);
	if (!flexvolume_parse(&req, json, err, sizeof(err))) {
		podfs_config_init(&cfg);
		podfs_config_parse(&cfg, req.source, req.lib_opts, err,
				   sizeof(err));
		podfs_config_free(&cfg);
	}
	mount_request_free(&req);
	free(json);
	return 0;
}
