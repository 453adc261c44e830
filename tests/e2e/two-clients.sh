#!/usr/bin/env bash
# Two mounts of one volume are two clients (two nodes of a cluster): what
# one writes and closes, the other reads at its next open, though it read
# (and its kernel cached) the old data before: same size, grown, shrunk;
# a name it knew, replaced, is the new file at its next open.
# On CephFS the kernel keeps file data across opens and the server's recall
# of the reader's cache drops it, so the reader sees the change even
# through a file it holds open. NFSv3, NFSv4 and CephFS.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_env PODFS_TEST_NFS3 PODFS_TEST_NFS4 PODFS_TEST_CEPH PODFS_TEST_CEPH_SECRETFILE

# expect_content LABEL FILE WANT: FILE reads as WANT (within 10 s: a
# recall travels through the server)
expect_content() {
	local label=$1 file=$2 want=$3 got n=0
	while :; do
		got=$(cat "$file")
		[ "$got" != "$want" ] || return 0
		n=$((n + 1))
		[ "$n" -le 100 ] || break
		sleep 0.1
	done
	flunk "$label: $file reads '${got:0:40}', not '${want:0:40}'"
}

two_clients() {
	local label=$1 src=$2 a b da db
	shift 2
	a=$T/$label/a
	b=$T/$label/b
	podfs_mount "$src" "$a" "$@"
	da=$DAEMON
	podfs_mount "$src" "$b" "$@"
	db=$DAEMON

	# the reader has the old data cached when the writer rewrites it
	printf 'first version of the page\n' >"$a/page.html"
	expect_content "$label: new file" "$b/page.html" 'first version of the page'
	cat "$b/page.html" >/dev/null
	printf 'SECOND version of the page\n' >"$a/page.html"
	expect_content "$label: same-size rewrite" "$b/page.html" 'SECOND version of the page'
	printf 'third, a longer version of the page\n' >"$a/page.html"
	expect_content "$label: grown" "$b/page.html" 'third, a longer version of the page'
	printf 'fourth\n' >"$a/page.html"
	expect_content "$label: shrunk" "$b/page.html" 'fourth'
	# a rewrite in place, no truncation, a whole page of data
	head -c 8192 /dev/zero | tr '\0' x >"$a/blob"
	cmp -s "$a/blob" "$b/blob" || flunk "$label: blob differs on the reader"
	printf 'yyyy' | dd of="$a/blob" bs=1 seek=4096 conv=notrunc status=none
	expect_content "$label: in-place rewrite" "$b/blob" "$(cat "$a/blob")"

	# a file the reader knew under two links, both removed by the
	# writer, one name made again: the reader's next open of it finds
	# the new file at once, not "Stale file handle"
	printf 'old\n' >"$a/x"
	ln "$a/x" "$a/x2"
	stat "$b/x" "$b/x2" >/dev/null
	rm "$a/x" "$a/x2"
	printf 'new\n' >"$a/x"
	got=$(cat "$b/x" 2>&1) || true
	[ "$got" = new ] || flunk "$label: a name replaced elsewhere reads '$got', not 'new'"

	podfs_umount "$b" "$db"
	podfs_umount "$a" "$da"
}

# CephFS: the reader holds the file open and keeps reading through that
# same open file while the other client writes and fsyncs.
ceph_open_reader() {
	local a=$T/ceph-open/a b=$T/ceph-open/b da db
	podfs_mount "$PODFS_TEST_CEPH" "$a" -o "$(ceph_opts)"
	da=$DAEMON
	podfs_mount "$PODFS_TEST_CEPH" "$b" -o "$(ceph_opts)"
	db=$DAEMON
	printf 'AAAA-old\n' >"$a/f"
	"$PY" - "$a/f" "$b/f" <<'PYEOF' || flunk "ceph: the reader's open file kept stale data"
import os, sys, time
rd = os.open(sys.argv[2], os.O_RDONLY)
assert os.pread(rd, 9, 0) == b"AAAA-old\n", os.pread(rd, 9, 0)
wr = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(wr, b"BBBB", 0)
os.fsync(wr)
deadline = time.time() + 10
while os.pread(rd, 9, 0) != b"BBBB-old\n":
    if time.time() > deadline:
        sys.exit("still %r" % os.pread(rd, 9, 0))
    time.sleep(0.05)
os.close(wr)
os.close(rd)
PYEOF
	podfs_umount "$b" "$db"
	podfs_umount "$a" "$da"
}

run_case nfs3 two_clients nfs3 "$PODFS_TEST_NFS3"
run_case nfs4 two_clients nfs4 "$PODFS_TEST_NFS4"
run_case ceph two_clients ceph "$PODFS_TEST_CEPH" -o "$(ceph_opts)"
run_case ceph-open ceph_open_reader
e2e_done
