#!/usr/bin/env bash
# 64 writers at once through one mount, each rewriting its own 4 MiB file
# with an fsync every 4 MiB: the daemon's memory stays within its cache
# (cache_size=64M here) and a constant, its threads within the
# FUSE loop's 16 and the backend's own, and its file descriptors come back
# to where they were once the writers are done (no leak); every writer's
# file reads back byte-exact. PODFS_LOAD_SECONDS sets how long the writers
# write (default 15; a few minutes for a soak run). NFSv3, NFSv4, CephFS.
# In a sanitizer build (PODFS_SAN_FLAGS set, as make check does) the
# memory bound is not checked: AddressSanitizer's shadow and quarantine
# are most of the daemon's memory there. The rest is.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_env PODFS_TEST_NFS3 PODFS_TEST_NFS4 PODFS_TEST_CEPH PODFS_TEST_CEPH_SECRETFILE

WRITERS=64
SECONDS_=${PODFS_LOAD_SECONDS:-15}
CACHE_MB=64
SLACK_MB=160 # the daemon without its cache: code, libraries, libcephfs, 2 arenas
MAX_THREADS=64

# sample PID: "rss_kb threads fds"
sample() {
	local rss threads
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")
	threads=$(awk '/^Threads:/ { print $2 }' "/proc/$1/status")
	echo "$rss $threads $(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l)"
}

load() {
	local label=$1 src=$2 v d pids=() i peak_rss=0 peak_threads=0 rss threads fds fds0 end
	shift 2
	v=$T/$label/vol
	podfs_mount "$src" "$v" -o "cache_size=${CACHE_MB}M" "$@"
	d=$DAEMON
	v=$v/load-$label-$$
	mkdir "$v"
	# warm: the backend's connections (an OSD's on CephFS) are open
	dd if=/dev/zero of="$v/warm" bs=64k count=16 conv=fsync status=none
	sleep 1
	read -r rss threads fds0 < <(sample "$d")
	note "$label: idle daemon: $((rss / 1024)) MiB, $threads threads, $fds0 fds"
	for ((i = 0; i < WRITERS; i++)); do
		"$PY" - "$v/w$i" "$i" "$SECONDS_" <<'EOF' &
import os, sys, time
# the same 4 MiB over and over: the server's space stays bounded (the
# test Ceph cluster has 1 GiB), the traffic through the daemon does not
path, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
size = 4 << 20
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
end, k = time.monotonic() + secs, 0
while time.monotonic() < end or k < size // 65536:
    off = (k * 65536) % size
    os.pwrite(fd, bytes(((n * 31 + off // 65536) % 256,)) * 65536, off)
    k += 1
    if k % 64 == 0:
        os.fsync(fd)
os.close(fd)
EOF
		pids+=($!)
	done
	end=$((SECONDS + SECONDS_ + 60))
	while [ "$SECONDS" -lt "$end" ]; do
		alive "$d" || fail "$label: the daemon died under load"
		read -r rss threads fds < <(sample "$d")
		[ "$rss" -le "$peak_rss" ] || peak_rss=$rss
		[ "$threads" -le "$peak_threads" ] || peak_threads=$threads
		local running=0
		for i in "${pids[@]}"; do ! alive "$i" || running=1; done
		[ "$running" -eq 1 ] || break
		sleep 1
	done
	for i in "${pids[@]}"; do
		wait "$i" || fail "$label: a writer failed"
	done
	note "$label: $WRITERS writers for $SECONDS_ s: peak $((peak_rss / 1024)) MiB, $peak_threads threads"
	if [ -n "${PODFS_SAN_FLAGS:-}" ]; then
		note "$label: a sanitizer build: its memory bound is not checked"
	else
		[ $((peak_rss / 1024)) -le $((CACHE_MB + SLACK_MB)) ] ||
			fail "$label: the daemon grew to $((peak_rss / 1024)) MiB with cache_size=${CACHE_MB}M (bound $((CACHE_MB + SLACK_MB)) MiB)"
	fi
	[ "$peak_threads" -le "$MAX_THREADS" ] ||
		fail "$label: the daemon ran $peak_threads threads (bound $MAX_THREADS)"
	"$PY" - "$v" "$WRITERS" <<'EOF' || fail "$label: a writer's file does not read back as written"
import os, sys
d, writers = sys.argv[1], int(sys.argv[2])
for n in range(writers):
    with open(os.path.join(d, "w%d" % n), "rb") as f:
        for b in range(64):
            if f.read(65536) != bytes(((n * 31 + b) % 256,)) * 65536:
                sys.exit("w%d: block %d differs" % (n, b))
        if f.read(1):
            sys.exit("w%d: longer than written" % n)
EOF
	rm -rf "$v"
	v=$T/$label/vol
	sleep 2
	read -r rss threads fds < <(sample "$d")
	note "$label: after: $((rss / 1024)) MiB, $threads threads, $fds fds"
	[ "$fds" -le "$fds0" ] || fail "$label: the daemon holds $fds file descriptors after the load, $fds0 before"
	podfs_umount "$v" "$d"
}

[ -n "${PODFS_LOAD_ONLY:-}" ] || run_case nfs3 load nfs3 "$PODFS_TEST_NFS3"
[ -n "${PODFS_LOAD_ONLY:-}" ] || run_case nfs4 load nfs4 "$PODFS_TEST_NFS4"
run_case ceph load ceph "$PODFS_TEST_CEPH" -o "$(ceph_opts)"
e2e_done
