#!/usr/bin/env bash
# Plain util-linux: "mount -t podfs SOURCE DIR -o ..." finds the helper at
# /sbin/mount.podfs (a link to the built binary, made for this test only),
# an fstab line works with mount(8)'s own options in it, and "umount DIR"
# and "fusermount3 -u DIR" unmount. mountinfo shows type fuse.podfs and the
# source. NFSv3, NFSv4 and CephFS.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_env PODFS_TEST_NFS3 PODFS_TEST_NFS4 PODFS_TEST_NFS_HOST PODFS_TEST_NFS_EXPORT \
	PODFS_TEST_NFS_PORT PODFS_TEST_CEPH PODFS_TEST_CEPH_SECRETFILE
command -v fusermount3 >/dev/null || fail "fusermount3 is not installed (Debian package fuse3)"

HELPER=/sbin/mount.podfs
if [ -e "$HELPER" ] || [ -L "$HELPER" ]; then
	fail "$HELPER exists already ($(ls -ld "$HELPER")); this test links it to the built binary and removes it after, so it will not touch one that is not its own: remove it first"
fi
remove_helper() {
	[ "$(readlink "$HELPER" 2>/dev/null)" != "$MOUNT_PODFS" ] || rm -f "$HELPER"
}
E2E_HOOKS+=(remove_helper)
ln -s "$MOUNT_PODFS" "$HELPER"

# mounted_as DIR SOURCE: mountinfo shows DIR as fuse.podfs from SOURCE;
# prints the per-mount options
mounted_as() {
	local dir=$1 src=$2 line fstype msrc
	line=$(mountinfo_line "$dir")
	[ -n "$line" ] || fail "$dir is not in /proc/self/mountinfo"
	read -r fstype msrc _ <<<"${line#* - }"
	[ "$fstype" = fuse.podfs ] || fail "$dir: mountinfo shows type '$fstype', expected fuse.podfs: $line"
	[ "$msrc" = "$src" ] || fail "$dir: mountinfo shows source '$msrc', expected '$src': $line"
	[ "$(findmnt -n -o FSTYPE --mountpoint "$dir")" = fuse.podfs ] ||
		fail "$dir: findmnt does not show fuse.podfs"
	read -r _ _ _ _ _ opts _ <<<"$line"
	echo "$opts"
}

# new_daemon BEFORE: the one daemon of ours not in BEFORE (a " pid pid " list)
new_daemon() {
	local p found=
	for p in $(our_daemons); do
		case $1 in *" $p "*) continue ;; esac
		[ -z "$found" ] || fail "more than one new mount.podfs daemon"
		found=$p
	done
	[ -n "$found" ] || fail "no mount.podfs daemon after mounting"
	echo "$found"
}

# use DIR LABEL: write and read back through the mount
use() {
	head -c 200000 /dev/urandom >"$T/$2.data"
	cp "$T/$2.data" "$1/mount-umount-$2.bin"
	cmp "$T/$2.data" "$1/mount-umount-$2.bin" || fail "$2: read back other bytes than written"
	rm "$1/mount-umount-$2.bin"
}

# mount8 LABEL SOURCE DIR UNMOUNT-CMD MOUNT-ARGS...: mount(8), use, unmount
mount8() {
	local label=$1 src=$2 dir=$3 unmount=$4 before out opts daemon
	shift 4
	mkdir -p "$dir"
	echo "$dir" >>"$E2E_MOUNTS"
	before=" $(our_daemons | tr '\n' ' ')"
	out=$(timeout 60 mount "$@" 2>&1) || fail "$label: mount $* failed (exit $?): $out"
	opts=$(mounted_as "$dir" "$src")
	daemon=$(new_daemon "$before")
	use "$dir" "$label"
	MOUNT_OPTS=$opts
	case $unmount in
	umount) out=$(timeout 30 umount "$dir" 2>&1) || fail "$label: umount $dir failed (exit $?): $out" ;;
	fusermount3) out=$(timeout 30 fusermount3 -u "$dir" 2>&1) ||
		fail "$label: fusermount3 -u $dir failed (exit $?): $out" ;;
	esac
	! is_mounted "$dir" || fail "$label: $dir still mounted after $unmount"
	wait_gone "$daemon" 20 || fail "$label: daemon $daemon still running 20 s after $unmount"
}

nfs3_ro() {
	local dir=$T/nfs3-ro before out daemon
	mkdir -p "$dir"
	echo "$dir" >>"$E2E_MOUNTS"
	before=" $(our_daemons | tr '\n' ' ')"
	out=$(timeout 60 mount -r -t podfs "$PODFS_TEST_NFS3" "$dir" 2>&1) ||
		fail "mount -r -t podfs failed (exit $?): $out"
	daemon=$(new_daemon "$before")
	[[ ,$(mounted_as "$dir" "$PODFS_TEST_NFS3"), == *,ro,* ]] || fail "mount -r: not read-only in mountinfo"
	if out=$({ echo x >"$dir/mount-umount-ro.txt"; } 2>&1); then
		rm -f "$dir/mount-umount-ro.txt"
		fail "mount -r: writing worked"
	fi
	[[ $out == *"Read-only file system"* ]] || fail "mount -r: a write failed with '$out', expected 'Read-only file system'"
	out=$(timeout 30 umount "$dir" 2>&1) || fail "umount $dir failed (exit $?): $out"
	wait_gone "$daemon" 20 || fail "daemon $daemon still running 20 s after umount"
}

# an fstab line, with mount(8)'s own options (_netdev, noauto, nofail)
fstab() {
	local dir=$T/fstab
	mkdir -p "$dir"
	printf '%s %s podfs nconnect=2,_netdev,noauto,nofail,x-podfs-test 0 0\n' \
		"$PODFS_TEST_NFS3" "$dir" >"$T/fstab.tab"
	mount8 fstab "$PODFS_TEST_NFS3" "$dir" umount --fstab "$T/fstab.tab" "$dir"
}

nfs4() {
	local dir=$T/nfs4 src=$PODFS_TEST_NFS_HOST:$PODFS_TEST_NFS_EXPORT
	mount8 nfs4 "$src" "$dir" fusermount3 -t podfs "$src" "$dir" \
		-o "vers=4,port=$PODFS_TEST_NFS_PORT,nconnect=2"
}

ceph() {
	local dir=$T/ceph
	mount8 ceph "$PODFS_TEST_CEPH" "$dir" umount -t podfs "$PODFS_TEST_CEPH" "$dir" \
		-o "secretfile=$PODFS_TEST_CEPH_SECRETFILE,noatime,nodev"
	[[ ,$MOUNT_OPTS, == *,noatime,* ]] || fail "ceph: -o noatime not in the mount's options: $MOUNT_OPTS"
}

run_case nfs3 mount8 nfs3 "$PODFS_TEST_NFS3" "$T/nfs3" umount -t podfs "$PODFS_TEST_NFS3" "$T/nfs3" -o nconnect=2
run_case nfs3-ro nfs3_ro
run_case fstab fstab
run_case nfs4 nfs4
run_case ceph ceph
e2e_done
