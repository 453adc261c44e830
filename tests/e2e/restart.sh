#!/usr/bin/env bash
# The server restarts while a pod writes and reads through its volume.
# Hard mounts (the default): the writer stalls while the server is away
# and then goes on; every record it wrote (fsynced in batches) reads back
# byte-exact, in order, none lost or doubled; a reader of the same file on
# another mount sees all of it. Soft mounts: while the server is down a call
# fails with "Connection timed out" within timeo x (retrans + 1) (2 s here,
# plus margin), and the same mount works again once the server is back.
# nfs-ganesha restarts (NFSv3, NFSv4); the Ceph MDS crashes and restarts
# (the test cluster's OSD is memstore: it keeps nothing across a restart,
# so the OSD is left alone). Our own servers.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

DOWN=3       # s the NFS server stays down
SOFT="soft,timeo=10,retrans=1"
SOFT_BOUND=6 # s: the 2 s timeout and margin for a slow machine

# writer FILE SECONDS OUT: appends numbered 64-byte records to FILE for
# SECONDS, fsync after every 10; writes to OUT the records written and the
# longest wait for one record (s). Fails on any error.
writer() {
	"$PY" - "$@" <<'EOF'
import os, sys, time
path, secs, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
n, worst, end = 0, 0.0, time.monotonic() + secs
while time.monotonic() < end or n % 10:
    t = time.monotonic()
    rec = b"record %010d %s\n" % (n, b"x" * 45)
    assert len(rec) == 64
    os.write(fd, rec)
    n += 1
    if n % 10 == 0:
        os.fsync(fd)
    worst = max(worst, time.monotonic() - t)
    time.sleep(0.005)
os.close(fd)
open(out, "w").write("%d %.2f\n" % (n, worst))
EOF
}

# check_records LABEL FILE N: FILE holds records 0..N-1, in order, exactly
check_records() {
	"$PY" - "$@" <<'EOF' || fail "$1: the records do not read back as written"
import sys
label, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(path, "rb").read()
want = b"".join(b"record %010d %s\n" % (i, b"x" * 45) for i in range(n))
if data != want:
    i = next((k for k in range(min(len(data), len(want))) if data[k] != want[k]), min(len(data), len(want)))
    sys.exit("%s: %d bytes, expected %d; first difference at byte %d (record %d)" % (label, len(data), len(want), i, i // 64))
EOF
}

# under_restart LABEL SRC RESTART...: a writer on one mount of SRC, RESTART
# (a command) after 2 s; then the records read back through another mount
under_restart() {
	local label=$1 src=$2 a b w n worst pid
	shift 2
	a=$T/$label/a
	b=$T/$label/b
	podfs_mount "$src" "$a" "${MOUNT_ARGS[@]}"
	w=$DAEMON
	writer "$a/records-$label" 12 "$T/$label.out" &
	pid=$!
	sleep 2
	"$@" >/dev/null || fail "$label: restarting the server failed"
	note "$label: server restarted"
	wait "$pid" || fail "$label: the writer failed across the restart"
	read -r n worst <"$T/$label.out"
	note "$label: $n records, the longest wait for one $worst s (the stall across the restart)"
	check_records "$label (writer's mount)" "$a/records-$label" "$n"
	podfs_mount "$src" "$b" "${MOUNT_ARGS[@]}"
	check_records "$label (another mount)" "$b/records-$label" "$n"
	rm -f "$b/records-$label"
	podfs_umount "$b" "$DAEMON"
	podfs_umount "$a" "$w"
}

# soft_down LABEL SRC: a soft mount of our NFS server while it is down
soft_down() {
	local label=$1 src=$2 v start took out
	v=$T/$label/soft
	podfs_mount "$src" "$v" -o "$SOFT"
	echo before >"$v/soft-$label"
	"$E2E_DIR/../servers/nfs-server.sh" down "$T/nfs" >/dev/null
	start=$EPOCHREALTIME
	set +e
	out=$(cat "$v/never-there-$label" 2>&1)
	set -e
	took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	[[ $out == *"timed out"* ]] || fail "$label: a lookup while the server is down said: $out"
	awk -v t="$took" -v b="$SOFT_BOUND" 'BEGIN { exit !(t <= b) }' ||
		fail "$label: a lookup while the server is down failed after $took s, more than $SOFT_BOUND s"
	note "$label: soft, server down: failed in $took s: $out"
	"$E2E_DIR/../servers/nfs-server.sh" up "$T/nfs" >/dev/null
	echo after >>"$v/soft-$label" || fail "$label: the soft mount does not write once the server is back"
	[ "$(cat "$v/soft-$label")" = "before
after" ] || fail "$label: the soft mount reads $(cat "$v/soft-$label")"
	rm -f "$v/soft-$label"
	podfs_umount "$v" "$DAEMON"
}

nfs_case() {
	local label=$1 var=$2 src
	[ -e "$T/nfs/nfs.env" ] || "$E2E_DIR/../servers/nfs-server.sh" start "$T/nfs" >/dev/null ||
		fail "cannot start our NFS server"
	# shellcheck source=/dev/null
	src=$(. "$T/nfs/nfs.env" && echo "${!var}")
	MOUNT_ARGS=()
	NFS_RESTART_DOWN=$DOWN under_restart "$label" "$src" \
		"$E2E_DIR/../servers/nfs-server.sh" restart "$T/nfs"
	soft_down "$label" "$src"
}

ceph_case() {
	local src
	"$E2E_DIR/../servers/ceph-server.sh" start "$T/ceph" >/dev/null || fail "cannot start our Ceph cluster"
	# shellcheck source=/dev/null
	src=$(. "$T/ceph/ceph.env" && echo "$PODFS_TEST_CEPH")
	MOUNT_ARGS=(-o "secretfile=$T/ceph/ceph/podfs.secret,conf=$T/ceph/ceph/ceph.conf")
	under_restart ceph-mds "$src" "$E2E_DIR/../servers/ceph-server.sh" mds-restart "$T/ceph"
}

stop_servers() {
	[ ! -e "$T/nfs/nfs.ports" ] || "$E2E_DIR/../servers/nfs-server.sh" stop "$T/nfs" >/dev/null 2>&1
	[ ! -e "$T/ceph/ceph.env" ] || "$E2E_DIR/../servers/ceph-server.sh" stop "$T/ceph" >/dev/null 2>&1
}
E2E_SERVER_HOOKS+=(stop_servers)

run_case nfs3 nfs_case nfs3 PODFS_TEST_NFS3
run_case nfs4 nfs_case nfs4 PODFS_TEST_NFS4
run_case ceph ceph_case
e2e_done
