#!/usr/bin/env bash
# The server goes away for good under hard mounts (the default), and the
# mounts are ended the three ways a node ends them: umount -l while a
# process still waits in the mount, SIGTERM to the daemon while a writer
# writes, and kubelet's "mount.podfs unmount". Each time the daemon exits
# within a bound (the mount's timeout, timeo x (retrans + 1) = 4 s here,
# plus a little; twice that and 5 s for CephFS, whose library never gives
# up a call: the daemon leaves without it), the waiting process gets an
# error instead of hanging, and nothing is left mounted. What was fsynced
# before the server went is there when it comes back (NFS; the Ceph test
# cluster keeps its data in memory). Our own servers: NFSv3, NFSv4, CephFS.
# shellcheck disable=SC2016 # the containers' scripts are single-quoted on purpose
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

TIMEO=20 # deciseconds
RETRANS=1
OPTS="timeo=$TIMEO,retrans=$RETRANS"
NFS_BOUND=8   # s: the 4 s timeout, a reconnect, the exit
CEPH_BOUND=16 # s: 2 x 4 s + 5 s, the daemon's last resort, and margin

# gone_within LABEL PID BOUND WHAT START: PID exits within BOUND s of
# START ($EPOCHREALTIME); notes how long it took
gone_within() {
	local left
	left=$(awk -v a="$5" -v b="$EPOCHREALTIME" -v n="$3" 'BEGIN { l = n - (b - a); print (l > 0 ? int(l + 1) : 1) }')
	wait_gone "$2" "$left" || fail "$1: the daemon $2 still runs $3 s after $4"
	note "$1: daemon gone $(awk -v a="$5" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after $4"
}

# not_stuck LABEL PID WHAT: the process PID (waiting in a mount) ended with
# an error, within 5 s of its daemon
not_stuck() {
	local rc
	wait_gone "$2" 5 || fail "$1: $3 still hangs after its daemon exited"
	set +e
	wait "$2"
	rc=$?
	set -e
	[ "$rc" -ne 0 ] || fail "$1: $3 succeeded on a mount whose server is gone"
}

# mount_all LABEL SRC ARG...: three mounts of SRC (lazy, term, kubelet),
# their daemons in LAZY_D, TERM_D, KUBE_D
mount_all() {
	local label=$1 src=$2
	shift 2
	podfs_mount "$src" "$T/$label/lazy" "$@"
	LAZY_D=$DAEMON
	podfs_mount "$src" "$T/$label/term" "$@"
	TERM_D=$DAEMON
	podfs_mount "$src" "$T/$label/kube" "$@"
	KUBE_D=$DAEMON
	# what a pod wrote and fsynced before the server went
	"$PY" -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"fsynced before the server went\n" * 1000)
os.fsync(fd)
os.close(fd)' "$T/$label/term/kept.txt" || fail "$label: writing kept.txt failed"
}

# end_all LABEL BOUND: with the server gone, ends the three mounts
end_all() {
	local label=$1 bound=$2 lazy term kube
	local reader writer out rc start d
	lazy=$T/$label/lazy term=$T/$label/term kube=$T/$label/kube

	# a process waits in the mount (a hard mount retries for ever), then
	# the mount is detached lazily: its daemon must not wait for ever
	(cd / && exec ls -l "$lazy/") >/dev/null 2>&1 &
	reader=$!
	# a writer writes on through the other mount when SIGTERM comes
	(exec dd if=/dev/zero of="$term/stream" bs=64k count=1000000) 2>/dev/null &
	writer=$!
	sleep 1
	alive "$reader" || fail "$label: ls on a hard mount of a server that is gone did not wait"
	alive "$writer" || fail "$label: the writer ended before SIGTERM"

	start=$EPOCHREALTIME
	umount -l "$lazy" || fail "$label: umount -l $lazy failed"
	kill -TERM "$TERM_D"
	set +e
	out=$(cd / && timeout 30 "$MOUNT_PODFS" unmount "$kube" 2>&1)
	rc=$?
	set -e
	[ "$rc" -eq 0 ] || fail "$label: mount.podfs unmount exited $rc: $out"
	[ "$(json_get "$out" status)" = Success ] || fail "$label: mount.podfs unmount answered: $out"
	note "$label: mount.podfs unmount answered in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"

	gone_within "$label" "$LAZY_D" "$bound" "umount -l" "$start"
	gone_within "$label" "$TERM_D" "$bound" "SIGTERM" "$start"
	gone_within "$label" "$KUBE_D" "$bound" "mount.podfs unmount" "$start"
	not_stuck "$label" "$reader" "ls in the lazily unmounted mount"
	not_stuck "$label" "$writer" "the writer in the SIGTERMed mount"
	for d in "$lazy" "$term" "$kube"; do
		! is_mounted "$d" || fail "$label: $d is still mounted: $(mountinfo_line "$d")"
	done
}

# gone_nfs LABEL VAR: our NFS server goes away under the mounts of VAR
gone_nfs() {
	local label=$1 src log
	"$E2E_DIR/../servers/nfs-server.sh" start "$T/nfs" >/dev/null || fail "cannot start our NFS server"
	# shellcheck source=/dev/null
	src=$(. "$T/nfs/nfs.env" && echo "${!2}")
	mount_all "$label" "$src" -o "$OPTS"
	"$E2E_DIR/../servers/nfs-server.sh" down "$T/nfs" >/dev/null || fail "cannot stop our NFS server"
	end_all "$label" "$NFS_BOUND"
	# NFS calls end within the timeout: the daemon's last resort (leave
	# without waiting) is for CephFS only
	for log in "$E2E_LOGS"/*.log; do
		! grep -q "leaving without waiting" "$log" ||
			fail "$label: a daemon had to leave without waiting: $(cat "$log")"
	done
	"$E2E_DIR/../servers/nfs-server.sh" up "$T/nfs" >/dev/null || fail "cannot start our NFS server again"
	podfs_mount "$src" "$T/$label/after"
	cmp -s "$T/$label/after/kept.txt" <("$PY" -c 'import sys; sys.stdout.write("fsynced before the server went\n" * 1000)') ||
		fail "$label: what was fsynced before the server went is not there afterwards"
	rm -f "$T/$label/after/kept.txt" "$T/$label/after/stream"
	podfs_umount "$T/$label/after" "$DAEMON"
	"$E2E_DIR/../servers/nfs-server.sh" stop "$T/nfs" >/dev/null
}

gone_ceph() {
	local src
	"$E2E_DIR/../servers/ceph-server.sh" start "$T/ceph" >/dev/null || fail "cannot start our Ceph cluster"
	# shellcheck source=/dev/null
	src=$(. "$T/ceph/ceph.env" && echo "$PODFS_TEST_CEPH")
	mount_all ceph "$src" -o "$OPTS,secretfile=$T/ceph/ceph/podfs.secret,conf=$T/ceph/ceph/ceph.conf"
	"$E2E_DIR/../servers/ceph-server.sh" stop "$T/ceph" >/dev/null || fail "cannot stop our Ceph cluster"
	end_all ceph "$CEPH_BOUND"
}

stop_servers() {
	[ ! -e "$T/nfs/nfs.env" ] || "$E2E_DIR/../servers/nfs-server.sh" stop "$T/nfs" >/dev/null 2>&1
	[ ! -e "$T/ceph/ceph.env" ] || "$E2E_DIR/../servers/ceph-server.sh" stop "$T/ceph" >/dev/null 2>&1
}
E2E_SERVER_HOOKS+=(stop_servers)

run_case nfs3 gone_nfs nfs3 PODFS_TEST_NFS3
run_case nfs4 gone_nfs nfs4 PODFS_TEST_NFS4
run_case ceph gone_ceph
e2e_done
