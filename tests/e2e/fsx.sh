#!/usr/bin/env bash
# Randomized file operations checked against a model (tests/stress/fsx):
# writes past EOF, truncates, appends, renames over names, hard links,
# unlinks of open files, fsync, close and reopen, each file also read
# through a second mount (another client) after close; then eight threads
# creating, renaming and deleting names of their own in shared directories
# through two mounts (tests/stress/tree-stress), and both mounts must show
# exactly the tree they left. One pass with a fixed seed, one with a seed
# of the day (printed: "fsx -s SEED -n OPS" replays it), and fsx on
# cache=none. NFSv3, NFSv4 and CephFS.
# PODFS_SOAK_SECONDS=N: a long pass besides, fsx for N seconds per backend.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_env PODFS_TEST_NFS3 PODFS_TEST_NFS4 PODFS_TEST_CEPH PODFS_TEST_CEPH_SECRETFILE

# the stress programs, built by make check beside mount.podfs
FSX=${PODFS_FSX:-$PWD/tests/stress/fsx}
TREE_STRESS=${PODFS_TREE_STRESS:-$PWD/tests/stress/tree-stress}
[ -x "$FSX" ] || fail "fsx not found at $FSX (make check builds it; or set PODFS_FSX)"
[ -x "$TREE_STRESS" ] ||
	fail "tree-stress not found at $TREE_STRESS (make check builds it; or set PODFS_TREE_STRESS)"

FIXED_SEED=1
DAY_SEED=$(date -u +%Y%m%d)
SOAK=${PODFS_SOAK_SECONDS:-0}

# Every file of ours lives in this directory of the volume: the servers
# are shared with other tests running at the same time.
U=$(basename "$T")

# run_fsx LABEL DIR DIR2 ARG...: fsx on DIR/$U (DIR2: the same through a
# second mount), its report kept; flunks on a mismatch
run_fsx() {
	local label=$1 dir=$2 dir2=$3 out rc=0
	shift 3
	out=$T/fsx.out
	timeout 600 "$FSX" "$@" -2 "$dir2/$U" "$dir/$U" >"$out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		note "$label: $(grep -E 'ops in' "$out" | sed 's/^fsx: //')"
	else
		cat "$out" >&2
		flunk "$label: fsx $* failed (exit $rc)"
	fi
}

stress() {
	local label=$1 src=$2 a b c da db dc out
	shift 2
	a=$T/$label/a
	b=$T/$label/b
	podfs_mount "$src" "$a" "$@"
	da=$DAEMON
	# The second mount trusts no cached name: as over NFS, a name
	# another client changed shows once its lookup cache times out
	# (the dentries of NFS's lookupcache), and fsx renames and reads
	# at once. Data is what is checked there: close-to-open.
	podfs_mount "$src" "$b" -o lookupcache=none "$@"
	db=$DAEMON
	mkdir "$a/$U"

	run_fsx "$label: fsx seed $FIXED_SEED" "$a" "$b" -s "$FIXED_SEED" -t 8
	run_fsx "$label: fsx seed $DAY_SEED" "$a" "$b" -s "$DAY_SEED" -t 6
	if [ "$SOAK" -gt 0 ]; then
		run_fsx "$label: fsx soak" "$a" "$b" -s "$(date +%s)" -t "$SOAK"
	fi
	podfs_umount "$b" "$db"

	# the tree through two mounts that trust no cached attributes, so
	# that the final listing is the server's
	b=$T/$label/noac-b
	c=$T/$label/noac-c
	podfs_mount "$src" "$b" -o noac "$@"
	db=$DAEMON
	podfs_mount "$src" "$c" -o noac "$@"
	dc=$DAEMON
	out=$T/tree-stress.out
	if timeout 300 "$TREE_STRESS" -s "$DAY_SEED" -t 5 -k 8 "$b/$U" "$c/$U" >"$out" 2>&1; then
		note "$label: $(grep -E 'ops in' "$out" | sed 's/^tree-stress: //')"
	else
		cat "$out" >&2
		flunk "$label: tree-stress -s $DAY_SEED failed"
	fi
	podfs_umount "$c" "$dc"
	podfs_umount "$b" "$db"

	rm -rf --one-file-system "${a:?}/$U"
	podfs_umount "$a" "$da"
}

# every read and write straight to the server (no data cache)
stress_nocache() {
	local a=$T/nocache/a b=$T/nocache/b da db
	podfs_mount "$PODFS_TEST_NFS3" "$a" -o cache=none
	da=$DAEMON
	podfs_mount "$PODFS_TEST_NFS3" "$b" -o cache=none,lookupcache=none
	db=$DAEMON
	mkdir "$a/$U"
	run_fsx "nfs3 cache=none: fsx seed $DAY_SEED" "$a" "$b" -s "$DAY_SEED" -t 5
	podfs_umount "$b" "$db"
	rm -rf --one-file-system "${a:?}/$U"
	podfs_umount "$a" "$da"
}

note "seeds: fixed $FIXED_SEED, of the day $DAY_SEED"
run_case nfs3 stress nfs3 "$PODFS_TEST_NFS3"
run_case nfs4 stress nfs4 "$PODFS_TEST_NFS4"
run_case ceph stress ceph "$PODFS_TEST_CEPH" -o "$(ceph_opts)"
run_case nfs3-cache-none stress_nocache
e2e_done
