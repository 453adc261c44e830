/* What the integration tests share (common.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

int test_rm_tree(podfs_volume *v, const char *path)
{
	struct podfs_dirent ent;
	struct item {
		char name[256];
		bool dir;
	} *items = NULL;
	size_t n = 0, cap = 0;
	podfs_dir *d;
	int ret, first = 0;

	ret = podfs_opendir(v, path, &d);
	if (ret)
		return ret;
	while ((ret = podfs_readdir(v, d, &ent)) == 1) {
		if (n == cap) {
			struct item *ni;

			cap = cap ? cap * 2 : 64;
			ni = realloc(items, cap * sizeof(*items));
			if (!ni) {
				ret = -ENOMEM;
				break;
			}
			items = ni;
		}
		memcpy(items[n].name, ent.name, sizeof(ent.name));
		items[n].dir = S_ISDIR(ent.attr.st_mode);
		n++;
	}
	podfs_closedir(v, d);
	if (ret < 0)
		first = ret;
	for (size_t i = 0; i < n; i++) {
		char child[4096];

		snprintf(child, sizeof(child), "%s/%s", path, items[i].name);
		if (items[i].dir) {
			ret = test_rm_tree(v, child);
			if (ret && !first)
				first = ret;
			ret = podfs_rmdir(v, child);
		} else {
			ret = podfs_unlink(v, child);
		}
		if (ret && !first)
			first = ret;
	}
	free(items);
	return first;
}
