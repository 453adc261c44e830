#!/usr/bin/env bash
# Dirty data is not lost: files written without fsync come back byte-exact
# after a remount when the volume was unmounted right after the writes,
# unmounted (lazily) while the writer still held the file open, or when the
# daemon got SIGTERM while the writer held it open (it flushes, unmounts
# and exits). NFSv3, NFSv4 and CephFS.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_env PODFS_TEST_NFS3 PODFS_TEST_NFS4 PODFS_TEST_CEPH PODFS_TEST_CEPH_SECRETFILE

# start_writer FILE DATA: a process writes DATA to FILE (no fsync) and
# keeps it open; returns once written. Sets WRITER.
start_writer() {
	local n=0
	rm -f "$T/writer.out"
	setsid "$PY" -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
data = memoryview(open(sys.argv[2], "rb").read())
while data:
    data = data[os.write(fd, data[:100000]):]
print("written", flush=True)
time.sleep(600)' "$1" "$2" >"$T/writer.out" 2>&1 &
	WRITER=$!
	echo "$WRITER" >>"$E2E_PGIDS"
	until grep -q written "$T/writer.out" 2>/dev/null; do
		alive "$WRITER" || fail "the writer failed: $(cat "$T/writer.out")"
		n=$((n + 1))
		[ "$n" -le 300 ] || fail "the writer did not finish writing in 30 s"
		sleep 0.1
	done
}

stop_writer() {
	kill -KILL "$WRITER" 2>/dev/null || true
	wait "$WRITER" 2>/dev/null || true
}

# check_back LABEL WHAT SRC DIR FILE DATA [MOUNT ARGS]: remount and compare
check_back() {
	local label=$1 what=$2 src=$3 dir=$4 file=$5 data=$6
	shift 6
	podfs_mount "$src" "$dir" "$@"
	cmp "$data" "$dir/$file" ||
		fail "$label: $file differs after $what and a remount ($(stat -c %s "$dir/$file") bytes, $(stat -c %s "$data") written)"
	rm "$dir/$file"
	podfs_umount "$dir" "$DAEMON"
}

flush() {
	local label=$1 src=$2 dir daemon
	shift 2
	dir=$T/$label/vol
	# sizes that are not multiples of any block or wsize
	head -c $((5 * 1048576 + 12345)) /dev/urandom >"$T/$label.big"
	head -c 777 /dev/urandom >"$T/$label.small"

	# 1. write and close, then unmount at once
	podfs_mount "$src" "$dir" "$@"
	daemon=$DAEMON
	cp "$T/$label.big" "$dir/flush-umount.bin"
	cp "$T/$label.small" "$dir/flush-umount-small.bin"
	podfs_umount "$dir" "$daemon"
	check_back "$label" "umount" "$src" "$dir" flush-umount.bin "$T/$label.big" "$@"
	check_back "$label" "umount" "$src" "$dir" flush-umount-small.bin "$T/$label.small" "$@"

	# 2. unmounted while the writer still holds the file: the mount goes
	# once the writer lets go
	podfs_mount "$src" "$dir" "$@"
	daemon=$DAEMON
	start_writer "$dir/flush-lazy.bin" "$T/$label.big"
	umount -l "$dir" || fail "$label: umount -l failed"
	stop_writer
	wait_gone "$daemon" 20 || fail "$label: daemon $daemon still running 20 s after the lazy unmount and the writer's exit"
	check_back "$label" "a lazy unmount under an open writer" "$src" "$dir" flush-lazy.bin "$T/$label.big" "$@"

	# 3. SIGTERM to the daemon while the writer holds the file
	podfs_mount "$src" "$dir" "$@"
	daemon=$DAEMON
	start_writer "$dir/flush-term.bin" "$T/$label.big"
	kill -TERM "$daemon"
	wait_gone "$daemon" 20 || fail "$label: daemon $daemon still running 20 s after SIGTERM"
	! is_mounted "$dir" || fail "$label: $dir still mounted after the daemon exited on SIGTERM"
	stop_writer
	check_back "$label" "SIGTERM to the daemon" "$src" "$dir" flush-term.bin "$T/$label.big" "$@"
}

run_case nfs3 flush nfs3 "$PODFS_TEST_NFS3"
run_case nfs4 flush nfs4 "$PODFS_TEST_NFS4"
run_case ceph flush ceph "$PODFS_TEST_CEPH" -o "$(ceph_opts)"
e2e_done
