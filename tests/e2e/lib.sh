# shellcheck shell=bash
# What every e2e test shares: finding the built mount.podfs, the servers'
# variables, a private mount namespace per test, "containers", daemons
# found by mount namespace, and one cleanup trap that leaves nothing behind.
# Sourced by tests/e2e/*.sh; they run as root with cwd = the build dir.

E2E_NAME=$(basename "$0" .sh)
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3 # a pyenv python3 may come first in PATH

fail() {
	echo "$E2E_NAME: FAIL: $*" >&2
	exit 1
}

note() {
	echo "$E2E_NAME: $*"
}

[ "$(id -u)" -eq 0 ] || fail "needs root (FUSE mounts, mount namespaces)"

# Each test runs in a mount namespace of its own, so that no other
# process's new namespace (a restarted test server, another test's
# "container") copies our FUSE mounts: such a copy would keep a mount's
# daemon alive after we unmounted it. Daemons we start live in this
# namespace too, which is how we tell them from everybody else's.
if [ "${PODFS_E2E_NS_PID:-}" != "$$" ]; then
	export PODFS_E2E_NS_PID=$$
	exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
fi
E2E_MNTNS=$(readlink /proc/self/ns/mnt)
# PODFS_E2E_TRACE=1: a timestamped shell trace on stderr
if [ "${PODFS_E2E_TRACE:-0}" = 1 ]; then
	PS4='+ $EPOCHREALTIME '
	set -x
fi

# The binary under test: the build dir's mount.podfs (automake runs tests
# with cwd = the build dir), or PODFS_MOUNT_HELPER.
MOUNT_PODFS=${PODFS_MOUNT_HELPER:-$PWD/mount-helper/mount.podfs}
[ -x "$MOUNT_PODFS" ] ||
	fail "mount.podfs not found at $MOUNT_PODFS (run from the build dir, or set PODFS_MOUNT_HELPER)"
MOUNT_PODFS=$(cd "$(dirname "$MOUNT_PODFS")" && pwd)/$(basename "$MOUNT_PODFS")

# need_env VAR...: the shared test servers' variables (tests/servers)
need_env() {
	local v
	for v in "$@"; do
		[ -n "${!v:-}" ] ||
			fail "\$$v is not set: start the servers with tests/servers/servers.sh start SCRATCH and source SCRATCH/nfs.env and SCRATCH/ceph.env (see tests/servers/README.md)"
	done
}

# Our scratch dir: world-searchable, so nginx's workers (www-data) get in.
T=$(mktemp -d "/tmp/podfs-e2e-$E2E_NAME.XXXXXX")
chmod 755 "$T"
umask 022

# ---- cleanup ----------------------------------------------------------------
# What we started, in files so that a case run in a subshell (run_case)
# registers it for the final cleanup too.
E2E_PGIDS=$T/.pgids	# process groups we started (containers, nginx, ...)
E2E_MOUNTS=$T/.mounts	# mount points we made
E2E_FAILED=$T/.failed	# what failed so far, one line each
E2E_HOOKS=()		# functions the cleanup calls first (main shell only)
E2E_SERVER_HOOKS=()	# ... and last, once the mounts are gone: stopping a
			# test's own servers (before, an unmount would wait
			# for a server that is gone)
E2E_LOGS=$T/.daemon-logs	# the daemons' logs (-o log=), checked at the end
mkdir "$E2E_LOGS"
: >"$E2E_PGIDS"
: >"$E2E_MOUNTS"
: >"$E2E_FAILED"

# is_mounted DIR: DIR is a mount point in our namespace (mountinfo only:
# a dead FUSE mount must not make us hang)
is_mounted() {
	awk -v d="$1" '$5 == d { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# mount_count DIR: how many mounts sit at DIR
mount_count() {
	awk -v d="$1" '$5 == d { n++ } END { print n + 0 }' /proc/self/mountinfo
}

# mountinfo_line DIR: the (last) mountinfo line of DIR
mountinfo_line() {
	awk -v d="$1" '$5 == d { line = $0 } END { print line }' /proc/self/mountinfo
}

# alive PID: the process exists and is no zombie (PID 1 reaps late)
alive() {
	local state
	[ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# wait_gone PID SECONDS: 0 once PID is dead
wait_gone() {
	local pid=$1 n=$(($2 * 10))
	while alive "$pid"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# our_daemons: live mount.podfs processes of our mount namespace
our_daemons() {
	local p comm
	for p in /proc/[0-9]*; do
		read -r comm 2>/dev/null <"$p/comm" || continue
		case $comm in
		mount.podfs | podfs | lt-mount.podfs) ;;
		*) continue ;;
		esac
		[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$E2E_MNTNS" ] || continue
		alive "${p#/proc/}" && echo "${p#/proc/}"
	done
	return 0
}

# wait_no_daemons SECONDS: every daemon of ours exited (after unmounts)
wait_no_daemons() {
	local n=$(($1 * 10)) left
	while left=$(our_daemons) && [ -n "$left" ]; do
		n=$((n - 1))
		if [ "$n" -le 0 ]; then
			echo "$left"
			return 1
		fi
		sleep 0.1
	done
}

e2e_cleanup() {
	local rc=$? pg d pid h
	set +e
	# finish cleaning up even if signalled again
	trap '' INT TERM HUP
	for h in "${E2E_HOOKS[@]}"; do
		"$h"
	done
	while read -r pg; do
		kill -TERM -- "-$pg" 2>/dev/null
	done <"$E2E_PGIDS"
	while read -r pg; do
		wait_gone "$pg" 5 || kill -KILL -- "-$pg" 2>/dev/null
	done <"$E2E_PGIDS"
	# last mounted first: a mount may sit inside an earlier one
	while read -r d; do
		is_mounted "$d" || continue
		timeout 20 umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null
	done < <(tac "$E2E_MOUNTS")
	# a daemon still there after its mount went is a failure, not litter
	if ! wait_no_daemons 20 >/dev/null; then
		for pid in $(our_daemons); do
			echo "$E2E_NAME: cleanup: killing leftover daemon $pid" >&2
			kill -KILL "$pid" 2>/dev/null
		done
		[ "$rc" -ne 0 ] || rc=1
	fi
	for h in "${E2E_SERVER_HOOKS[@]}"; do
		"$h"
	done
	# the daemons' own complaints (sanitizer builds report here)
	for d in "$E2E_LOGS"/*.log; do
		[ -s "$d" ] || continue
		if grep -q -E 'Sanitizer|runtime error:' "$d"; then
			echo "$E2E_NAME: FAIL: sanitizer report in the daemon log $(basename "$d"):" >&2
			head -n 40 "$d" >&2
			[ "$rc" -ne 0 ] || rc=1
		elif [ "$rc" -ne 0 ]; then
			echo "$E2E_NAME: daemon log $(basename "$d"):" >&2
			tail -n 5 "$d" >&2
		fi
	done
	# never recurse into a mount: that would delete volume data
	rm -rf --one-file-system "$T" 2>/dev/null
	if [ "$rc" -eq 0 ]; then
		note "PASS"
	else
		echo "$E2E_NAME: FAILED (exit $rc)" >&2
	fi
	exit "$rc"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM HUP

# Detach FUSE mounts copied into our namespace from the host: they are
# somebody else's, and our copy would keep their daemons alive.
while read -r d; do
	umount -l "$d" 2>/dev/null || true
done < <(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "fuse.podfs") print $5; break } }' /proc/self/mountinfo)

# run_case LABEL CMD...: one case (one backend, say) in a subshell, so a
# failing case is reported and the others still run; e2e_done at the end.
run_case() {
	local label=$1 rc flunked
	shift
	flunked=$(wc -l <"$E2E_FAILED")
	set +e
	(
		set -e
		"$@"
	)
	rc=$?
	set -e
	if [ "$rc" -ne 0 ]; then
		echo "$E2E_NAME: $label: FAILED" >&2
		echo "$label" >>"$E2E_FAILED"
	elif [ "$(wc -l <"$E2E_FAILED")" -ne "$flunked" ]; then
		echo "$E2E_NAME: $label: FAILED" >&2
	else
		note "$label: ok"
	fi
}

# flunk MESSAGE: a failed check that does not stop the test
flunk() {
	echo "$E2E_NAME: FAIL: $*" >&2
	echo "$*" >>"$E2E_FAILED"
}

# e2e_done: the end of a test; fails if any case or check failed
e2e_done() {
	[ ! -s "$E2E_FAILED" ] ||
		fail "$(wc -l <"$E2E_FAILED") failure(s): $(tr '\n' ';' <"$E2E_FAILED")"
}

# ---- mounting -----------------------------------------------------------------
# podfs_mount SOURCE DIR [ARG...]: mount.podfs SOURCE DIR ARGS, which must
# succeed, the daemon logging into E2E_LOGS; sets DAEMON to its pid.
podfs_mount() {
	local src=$1 dir=$2 before after out p log
	shift 2
	mkdir -p "$dir"
	log=$(mktemp "$E2E_LOGS/XXXXXX.log")
	before=" $(our_daemons | tr '\n' ' ')"
	echo "$dir" >>"$E2E_MOUNTS"
	out=$(timeout 60 "$MOUNT_PODFS" "$src" "$dir" "$@" -o "log=$log" 2>&1) ||
		fail "mount.podfs $src $dir $* failed (exit $?): $out"
	[ -z "$out" ] || fail "mount.podfs $src $dir printed on success: $out"
	is_mounted "$dir" || fail "mount.podfs exited 0 but $dir is not mounted"
	after=$(our_daemons)
	DAEMON=
	for p in $after; do
		case $before in *" $p "*) continue ;; esac
		[ -z "$DAEMON" ] || fail "more than one new mount.podfs process after mounting $dir"
		DAEMON=$p
	done
	[ -n "$DAEMON" ] || fail "no mount.podfs daemon serves $dir after mounting"
}

# podfs_umount DIR PID: umount(8) DIR, then wait for its daemon PID to
# exit (unmount flushes, so a remount may read only after that)
podfs_umount() {
	local dir=$1 pid=$2 out
	out=$(timeout 30 umount "$dir" 2>&1) || fail "umount $dir failed (exit $?): $out"
	! is_mounted "$dir" || fail "$dir still mounted after umount"
	wait_gone "$pid" 20 || fail "daemon $pid of $dir still running 20 s after umount"
}

# ceph_opts: what a plain Ceph mount needs besides the source
ceph_opts() {
	echo "secretfile=$PODFS_TEST_CEPH_SECRETFILE"
}

# evict_ceph_client PID: the MDS drops the session of the libcephfs client
# that ran in process PID (on this host), a killed daemon's, so that no
# other client waits for it to time out (needs the ceph command and
# PODFS_TEST_CEPH_CONF, PODFS_TEST_CEPH_FS)
evict_ceph_client() {
	local id
	id=$(timeout 30 ceph -c "$PODFS_TEST_CEPH_CONF" tell "mds.$PODFS_TEST_CEPH_FS:0" client ls 2>/dev/null |
		"$PY" -c 'import json, socket, sys
for s in json.load(sys.stdin):
    m = s.get("client_metadata", {})
    if m.get("pid") == sys.argv[1] and m.get("hostname") == socket.gethostname():
        print(s["id"])' "$1") || fail "ceph tell mds client ls failed"
	[ -n "$id" ] || return 0
	timeout 30 ceph -c "$PODFS_TEST_CEPH_CONF" tell "mds.$PODFS_TEST_CEPH_FS:0" client evict "id=$id" \
		>/dev/null 2>&1 || fail "evicting the killed Ceph client $id failed"
}

# ---- containers -----------------------------------------------------------------
# in_container NAME VOL CMD...: runs CMD (and waits) like a container of the
# pod: own mount namespace, VOL bind-mounted at $T/NAME/shared, cwd there.
in_container() {
	local name=$1 vol=$2
	shift 2
	mkdir -p "$T/$name/shared"
	unshare --mount --propagation private -- \
		"$BASH" "$E2E_DIR/container.sh" "$vol" "$T/$name/shared" "$@"
}

# start_container NAME VOL CMD...: the same in the background, in a
# process group of its own; sets CONTAINER to its pid (= group id).
start_container() {
	local name=$1 vol=$2
	shift 2
	mkdir -p "$T/$name/shared"
	setsid unshare --mount --propagation private -- \
		"$BASH" "$E2E_DIR/container.sh" "$vol" "$T/$name/shared" "$@" &
	CONTAINER=$!
	echo "$CONTAINER" >>"$E2E_PGIDS"
}

# stop_container PID: TERM its process group and wait for it to go
stop_container() {
	kill -TERM -- "-$1" 2>/dev/null || true
	wait_gone "$1" 10 || kill -KILL -- "-$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# free_port: a TCP port on 127.0.0.1 nobody listens on (now)
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# json_get JSON KEY: the value of top-level KEY (empty if absent); fails
# unless JSON is exactly one JSON object
json_get() {
	"$PY" -c 'import json, sys
o = json.loads(sys.argv[1])
if not isinstance(o, dict): sys.exit("not a JSON object")
v = o.get(sys.argv[2], "")
print(json.dumps(v) if isinstance(v, (dict, list, bool)) else v)' "$1" "$2"
}
