#!/usr/bin/env bash
# The daemon killed with SIGKILL while a container uses the volume: the next
# access fails with ENOTCONN ("Transport endpoint is not connected") at
# once, kubelet's "mount.podfs unmount DIR" removes the dead mount without
# hanging, and a new mount on the same dir works and has the data written
# before, at once: for CephFS the killed client's session is evicted after
# that check, so other clients do not wait for it to time out. NFSv3, NFSv4
# and CephFS.
# shellcheck disable=SC2016 # the containers' scripts are single-quoted on purpose
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_env PODFS_TEST_NFS3 PODFS_TEST_NFS4 PODFS_TEST_CEPH PODFS_TEST_CEPH_SECRETFILE \
	PODFS_TEST_CEPH_CONF PODFS_TEST_CEPH_FS
command -v ceph >/dev/null || fail "the ceph command is not installed (Debian package ceph-common)"

# expect_enotconn LABEL PATH: open, opendir and create in PATH fail with
# ENOTCONN at once
expect_enotconn() {
	local out
	out=$(timeout 10 "$PY" - "$2" <<'EOF' 2>&1
import errno, os, sys
p = sys.argv[1]
def check(what, call):
    try:
        call()
    except OSError as e:
        if e.errno != errno.ENOTCONN:
            sys.exit(f"{what} failed with {errno.errorcode.get(e.errno)} ({e.strerror}), expected ENOTCONN")
    else:
        sys.exit(f"{what} worked on a mount whose daemon is dead")
# open and opendir always ask the daemon
check("open", lambda: os.close(os.open(os.path.join(p, "keep.txt"), os.O_RDONLY)))
check("listdir", lambda: os.listdir(p))
check("create", lambda: os.close(os.open(os.path.join(p, "new.txt"), os.O_WRONLY | os.O_CREAT, 0o644)))
# (not stat: the kernel answers it from its attribute cache, for as long as
# the mount's attribute timeouts allow, without asking anybody)
EOF
	) || fail "$1: access after the daemon died: ${out:-hung for 10 s}"
}

dead() {
	local label=$1 src=$2 dir daemon out user start rc n probe killed
	shift 2
	dir=$T/$label/pod-volume
	podfs_mount "$src" "$dir" "$@"
	daemon=$DAEMON
	echo "written before the crash ($label)" >"$dir/keep.txt"
	# a container of the pod has the volume bind-mounted and in use
	start_container "$label-app" "$dir" "$BASH" -c 'cat keep.txt >"$1" && exec sleep 600' \
		app "$T/$label/app-ready"
	user=$CONTAINER
	n=0
	until [ -s "$T/$label/app-ready" ]; do
		alive "$user" || fail "$label: the app container failed"
		n=$((n + 1))
		[ "$n" -le 100 ] || fail "$label: the app container did not start in 10 s"
		sleep 0.1
	done

	killed=$daemon
	kill -KILL "$daemon"
	wait_gone "$daemon" 10 || fail "$label: daemon $daemon survived SIGKILL"
	expect_enotconn "$label" "$dir"

	start=$EPOCHREALTIME
	set +e
	out=$(cd / && timeout 20 "$MOUNT_PODFS" unmount "$dir" 2>&1)
	rc=$?
	set -e
	[ "$rc" -ne 124 ] || fail "$label: mount.podfs unmount hung on the dead mount (killed after 20 s)"
	[ "$rc" -eq 0 ] || fail "$label: mount.podfs unmount exited $rc: $out"
	[ "$(json_get "$out" status)" = Success ] || fail "$label: mount.podfs unmount answered: $out"
	! is_mounted "$dir" || fail "$label: $dir is still mounted after unmount: $(mountinfo_line "$dir")"
	note "$label: dead mount removed in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s"

	# the same dir takes a new mount, which has the data and works at once
	podfs_mount "$src" "$dir" "$@"
	(cd "$dir" && timeout 120 "$BASH" -c 'set -e; cat keep.txt; echo new >after.txt
		cat after.txt; rm after.txt keep.txt') >"$T/$label/probe" 2>&1 &
	probe=$!
	n=0
	while alive "$probe" && [ "$n" -lt 50 ]; do
		n=$((n + 1))
		sleep 0.1
	done
	if alive "$probe"; then
		flunk "$label: the new mount blocks: reading, creating and removing files in it did not finish in 5 s after the crash$(
			[ "$label" != ceph ] || echo " (the MDS still holds the killed client's session and caps, until its session timeout; other clients of the file system block too)")"
	fi
	# let the server forget the killed client now, so that nobody else
	# (tests running beside this one) waits for its session to time out
	[ "$label" != ceph ] || evict_ceph_client "$killed"
	wait "$probe" || fail "$label: after remounting: $(cat "$T/$label/probe")"
	[ "$(cat "$T/$label/probe")" = "written before the crash ($label)
new" ] || fail "$label: after remounting read: $(cat "$T/$label/probe")"
	stop_container "$user"
	podfs_umount "$dir" "$DAEMON"
}

run_case nfs3 dead nfs3 "$PODFS_TEST_NFS3"
run_case nfs4 dead nfs4 "$PODFS_TEST_NFS4"
run_case ceph dead ceph "$PODFS_TEST_CEPH" -o "$(ceph_opts)"
e2e_done
