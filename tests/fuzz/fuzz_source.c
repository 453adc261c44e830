/*
 * libFuzzer target: a volume's source and options (podfs_config_parse),
 * what a user types after mount.podfs or puts in a FlexVolume's JSON.
 * The input is SOURCE, then optionally a NUL and OPTIONS.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "podfs-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct podfs_config cfg;
	char *buf = malloc(size + 1), *options = NULL, err[512];
	size_t n;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	n = strlen(buf);
	if (n < size)
		options = buf + n + 1;
	podfs_config_init(&cfg);
	podfs_config_parse(&cfg, buf, options, err, sizeof(err));
	podfs_config_free(&cfg);
	free(buf);
	return 0;
}
