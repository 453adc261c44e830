#!/usr/bin/env bash
# The main job in one command (Debian 12, as root): install what is missing,
# build, start a real server on loopback (nfs-ganesha, or Ceph with --ceph),
# mount it with mount.podfs as a pod volume, and run a two-container pod on
# it: an App writes app.log, a LogCollector ships every line. Then clean up.
#   ./demo.sh [--ceph]
# shellcheck disable=SC2016 # the containers' scripts expand in the containers
set -euo pipefail

usage() { echo "usage: $0 [--ceph]" >&2; exit 2; }
backend=nfs
case $# in
0) ;;
1) [ "$1" = --ceph ] || usage; backend=ceph ;;
*) usage ;;
esac
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "demo.sh: run me as root" >&2; exit 1; }
	exec sudo "$0" "$@"
fi

top=$(cd "$(dirname "$0")" && pwd)
build=$top/build-demo
export REQUESTS=6 # the App's requests, one a second

step=0 bold='' plain=''
[ ! -t 1 ] || bold=$'\e[1m' plain=$'\e[0m'
section() {
	step=$((step + 1))
	printf '\n%s== %d/6 %s%s  (%ss)\n' "$bold" "$step" "$*" "$plain" "$SECONDS"
}
die() { echo "demo.sh: $*" >&2; exit 1; }
# running, and not a zombie waiting for PID 1 to reap it
alive() {
	local s
	s=$(ps -o stat= -p "$1") && [[ $s != Z* ]]
}

# ---- cleanup: whatever got started, on success, failure or Ctrl-C ----------
scratch='' daemon='' containers=()
cleanup() {
	local rc=$? pid i
	trap - EXIT INT TERM
	set +e
	[ -n "$scratch" ] || exit "$rc"
	printf '\n%s== cleaning up%s\n' "$bold" "$plain"
	# each container is a process group of its own (setsid)
	for pid in "${containers[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null
	done
	wait 2>/dev/null
	# from mountinfo: a stat of a dead FUSE mount would fail
	if grep -qF " $scratch/pod-volume " /proc/self/mountinfo; then
		umount "$scratch/pod-volume" || umount -l "$scratch/pod-volume"
		echo "unmounted $scratch/pod-volume"
	fi
	# the daemon flushes and detaches once unmounted: let it finish while
	# the server is still there
	if [ -n "$daemon" ]; then
		for ((i = 0; i < 100; i++)); do
			alive "$daemon" || break
			sleep 0.1
		done
		if alive "$daemon"; then
			kill -KILL "$daemon"
			echo "the mount.podfs daemon ($daemon) did not exit: killed"
		else
			echo "the mount.podfs daemon is gone"
		fi
	fi
	"$top/tests/servers/$backend-server.sh" stop "$scratch" >/dev/null 2>&1 &&
		echo "stopped the $backend server"
	# never into a mount that could not be removed
	rm -rf --one-file-system "$scratch" && echo "removed $scratch"
	[ "$rc" -eq 0 ] || echo "demo.sh: failed (exit $rc)" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. packages -----------------------------------------------------------
section "Debian packages"
packages=(build-essential autoconf automake libtool pkg-config
	libnfs-dev libcephfs-dev uuid-dev libssl-dev libfuse3-dev libjson-c-dev
	fuse3 util-linux iproute2 procps nfs-ganesha nfs-ganesha-vfs rpcbind)
[ "$backend" = nfs ] ||
	packages+=(ceph-mon ceph-osd ceph-mds ceph-mgr ceph-common python3-cephfs)
missing=()
for p in "${packages[@]}"; do
	[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "all ${#packages[@]} packages installed"
else
	echo "missing: ${missing[*]}; running tests/install-deps.sh"
	"$top/tests/install-deps.sh"
fi

# ---- 2. build --------------------------------------------------------------
section "Building mount.podfs in build-demo/"
# configure refuses to build out of tree from sources configured in place:
# then build from a copy of them, and leave the in-tree build alone
src=$top
if [ -f "$top/config.status" ]; then
	command -v git >/dev/null ||
		die "$top is configured in place; run 'make distclean' there first"
	src=$build/src
	mkdir -p "$src"
	git -C "$top" ls-files -z -c -o --exclude-standard -- ':!build-demo' |
		(cd "$top" && tar --null --ignore-failed-read -T - -cf -) |
		tar -C "$src" -xf -
else
	rm -rf "$build/src"
fi
obj=$build/obj
[ "$(cat "$build/srcdir" 2>/dev/null)" = "$src" ] || rm -rf "$obj"
mkdir -p "$obj"
echo "$src" >"$build/srcdir"
log=$build/build.log
if ! {
	# once configured, make redoes whatever configure.ac or Makefile.am changed
	if [ ! -f "$obj/config.status" ]; then
		(cd "$src" && autoreconf -fi) &&
			(cd "$obj" && "$src/configure")
	fi &&
		make -C "$obj" -j"$(nproc)"
} >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	die "the build failed; the whole log is in $log"
fi
mount_podfs=$obj/mount-helper/mount.podfs
echo "built $mount_podfs (log: $log)"

# ---- 3. server -------------------------------------------------------------
scratch=$(mktemp -d /tmp/podfs-demo.XXXXXX)
vol=$scratch/pod-volume
if [ "$backend" = nfs ]; then
	section "Starting nfs-ganesha on 127.0.0.1 (state in $scratch)"
else
	section "Starting a one-node Ceph cluster on 127.0.0.1 (state in $scratch)"
fi
"$top/tests/servers/$backend-server.sh" start "$scratch"
set -a
# shellcheck source=/dev/null
. "$scratch/$backend.env"
set +a

# ---- 4. mount --------------------------------------------------------------
section "Mounting the pod volume with mount.podfs"
mkdir "$vol"
if [ "$backend" = nfs ]; then
	volume_source=$PODFS_TEST_NFS_HOST:$PODFS_TEST_NFS_EXPORT
	options=vers=3,nfsport=$PODFS_TEST_NFS_PORT,mountport=$PODFS_TEST_NFS_MNTPORT
else
	volume_source=ceph://$PODFS_TEST_CEPH_USER@$PODFS_TEST_CEPH_MON/
	options=fs=$PODFS_TEST_CEPH_FS,secretfile=$PODFS_TEST_CEPH_SECRETFILE
fi
echo "\$ mount.podfs $volume_source $vol -o $options"
"$mount_podfs" "$volume_source" "$vol" -o "$options"
# the daemon's pid, found by the mount point in its command line: waited
# for at cleanup, so it can flush before the server stops
daemon=$(pgrep -n -f -- " $vol -o ") || die "no mount.podfs daemon for $vol"
echo "mounted; daemon pid $daemon"
findmnt -o TARGET,SOURCE,FSTYPE,OPTIONS "$vol"

# ---- 5. the pod ------------------------------------------------------------
section "The pod: an App and a LogCollector container share the volume"
# container NAME SCRIPT: a process in a mount namespace of its own that
# bind-mounts the pod volume at ROOT/shared, as a container runtime does,
# and runs SCRIPT in ROOT (so "shared/app.log" is its /shared/app.log)
container() {
	local root=$scratch/$1 script=$2
	mkdir -p "$root/shared"
	setsid unshare -m --propagation private bash -c \
		'mount --bind "$1" "$2/shared" && cd "$2" || exit 1
		echo "[$0] up: mount namespace $(readlink /proc/self/ns/mnt)," \
			"/shared is $(findmnt -no SOURCE,FSTYPE "$2/shared")"'"$script" \
		"$1" "$vol" "$root" &
	containers+=("$!")
}

# LogCollector: follows shared/app.log and ships each line to its log
# backend (a file outside the volume) until the App says it is done, then
# tells the App in the volume how many lines it shipped
container log-collector '
	n=0
	while IFS= read -r line; do
		echo "$line" >>shipped.log
		n=$((n + 1))
		echo "[log-collector] shipped: $line"
		case $line in *"done after"*) break ;; esac
	done < <(tail -F -n +1 -s 0.2 shared/app.log 2>/dev/null)
	kill $! 2>/dev/null
	echo "[log-collector] shipped $n lines; my /shared:"
	ls -l shared | sed "s/^/[log-collector]   /"
	echo "$n lines shipped" >shared/collector.status'

# App: a timestamped line a second in shared/app.log; waits for the
# collector to report in the volume before it stops
container app '
	set -e
	for ((i = 1; i <= REQUESTS; i++)); do
		line="$(date "+%F %T") app[$$]: request $i served"
		[ "$i" -lt "$REQUESTS" ] || line="$(date "+%F %T") app[$$]: done after $i requests, stopping"
		echo "$line" >>shared/app.log
		echo "[app] wrote: $line"
		sleep 1
	done
	for ((w = 0; w < 50; w++)); do
		[ ! -s shared/collector.status ] || break
		sleep 0.2
	done
	echo "[app] the collector says: $(cat shared/collector.status)"
	echo "[app] my /shared:"
	ls -l shared | sed "s/^/[app]   /"'
app=${containers[1]}

wait "$app" || die "the App container failed"
for ((i = 0; i < 50; i++)); do
	alive "${containers[0]}" || break
	sleep 0.2
done
! alive "${containers[0]}" || die "the LogCollector container did not finish"
wait "${containers[0]}" || die "the LogCollector container failed"
containers=()

# ---- 6. check --------------------------------------------------------------
section "Checking"
if cmp -s "$vol/app.log" "$scratch/log-collector/shipped.log"; then
	echo "OK: all $(wc -l <"$vol/app.log") lines of app.log were shipped, in order, none lost, none twice"
else
	diff "$vol/app.log" "$scratch/log-collector/shipped.log" >&2 || true
	die "the shipped log differs from app.log"
fi
