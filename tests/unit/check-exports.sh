#!/bin/sh
# libpodfs.so must export the public podfs_* API and nothing else.
set -eu
lib=libpodfs/.libs/libpodfs.so
[ -f "$lib" ] || { echo "check-exports: $lib not built" >&2; exit 1; }
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ && $3 !~ /^podfs_/ {print $3}' | grep -v '^PODFS_' || true)
if [ -n "$bad" ]; then
	echo "check-exports: symbols outside the podfs_ namespace are exported:" >&2
	echo "$bad" >&2
	exit 1
fi
# and the public API is there
for sym in podfs_new podfs_attach podfs_ll_lookup podfs_pread podfs_open; do
	nm -D --defined-only "$lib" | grep -Eq " $sym(@@PODFS_[0-9.]+)?$" ||
		{ echo "check-exports: $sym is not exported" >&2; exit 1; }
done
internal=$(nm -D --defined-only "$lib" | grep -E ' (podfs_set_error|podfs_config_parse|podfs_nfs_backend|podfs_ceph_backend)(@@.*)?$' || true)
[ -z "$internal" ] || { echo "check-exports: internal symbols exported: $internal" >&2; exit 1; }
echo "check-exports: only the public API is exported"
