/*
 * What the integration tests share: helpers over the library's path API
 * that assert nothing, so a clean-up of leftovers can use them too.
 */
#ifndef PODFS_TESTS_COMMON_H
#define PODFS_TESTS_COMMON_H

#include <podfs/podfs.h>

/* Removes everything under PATH (not PATH itself) on V. Returns the first
 * error (-errno), or 0. */
int test_rm_tree(podfs_volume *v, const char *path);

#endif /* PODFS_TESTS_COMMON_H */
