#!/usr/bin/env bash
# The side-by-side benchmark in one command: starts the project's real test
# servers, mounts them with mount.podfs (and CephFS with ceph-fuse too), and
# runs podfs-bench over every way to reach them plus the local disk.
# Run as root on Debian 12 after tests/install-deps.sh; see --help.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: bench/compare.sh [-B BUILDDIR] [-o RESULTS_DIR] [--nfs|--ceph|--all]
                        [--quick] [-- EXTRA podfs-bench ARGS]

Benchmarks podfs side by side with its peers on the project's real test
servers (tests/servers: nfs-ganesha, and a one-node Ceph with a RAM-backed
OSD, on 127.0.0.1), in a scratch directory removed at the end:

  nfs3, nfs4  libnfs (the raw library), the podfs mount (mount.podfs),
              libpodfs, a local directory (the machine's ceiling)
  ceph        libcephfs (the raw library), the podfs mount, a ceph-fuse
              mount, libpodfs, a local directory

Ratios in each report are to the first target, the raw library.

  -B BUILDDIR     the build dir holding bench/podfs-bench and
                  mount-helper/mount.podfs (default: build/ under the repo,
                  or the repo itself if configured in place; else the repo
                  is built in build-bench/)
  -o RESULTS_DIR  where the results go (default bench/results/YYYYmmdd-HHMMSS)
  --nfs, --ceph   only that server's runs; --all (the default) both
  --quick         small sizes for a smoke run (-s 16M -n 100 -t 1 -r 1)
  -- ARGS         passed to podfs-bench (after --quick's, so they win)
  -h, --help      this text

Written to RESULTS_DIR, for each run NAME (nfs3, nfs4, ceph): NAME.txt (the
table), NAME.json, NAME.csv, NAME.svg (plot), NAME.memory (peak RSS of the
mount daemons), and machine.txt, command.txt, logs/ (the mount daemons').

Environment: CEPH_MEMSTORE_BYTES, the size of the RAM-backed OSD (default
half the memory, at most 8 GiB); TMPDIR, where the scratch directory goes
(its disk is the NFS server's and the local target's).
EOF
}

die() {
	echo "compare.sh: $*" >&2
	exit 1
}

# say TITLE: a step, on the terminal and in command.txt once there
say() {
	printf '\n== %s  (%ss)\n' "$*" "$SECONDS"
	[ -z "$cmdlog" ] || echo "# $*" >>"$cmdlog"
}

# show CMD...: the command as one could paste it, the same way
show() {
	local line
	line=$(printf ' %q' "$@")
	echo "\$$line"
	[ -z "$cmdlog" ] || echo "${line# }" >>"$cmdlog"
}

# ---- arguments ----------------------------------------------------------------
command_line=$(printf '%q ' "$0" "$@")
command_line=${command_line% }
cmdlog='' # command.txt, once there
args_given=("$@")
build='' results='' which=all quick=0 extra=()
while [ $# -gt 0 ]; do
	case $1 in
	-B)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		build=$2
		shift
		;;
	-o)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		results=$2
		shift
		;;
	--nfs) which=nfs ;;
	--ceph) which=ceph ;;
	--all) which=all ;;
	--quick) quick=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	--)
		shift
		extra=("$@")
		break
		;;
	*)
		echo "compare.sh: unknown argument: $1" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done

if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || die "needs root (FUSE mounts, the test servers)"
	exec sudo -- "$0" "${args_given[@]}"
fi

top=$(cd "$(dirname "$0")/.." && pwd)

# ---- the build ------------------------------------------------------------------
# build_bench: builds the repo out of tree in build-bench/ (tests/run.sh
# distcleans an in-tree configure, and configure refuses to build out of
# tree from sources configured in place)
build_bench() {
	local log=$top/build-bench/build.log
	[ ! -f "$top/config.status" ] ||
		die "$top is configured in place but has no bench/podfs-bench: run 'make' there, or 'make distclean' there and run me again"
	say "Building podfs in $top/build-bench (log: $log)"
	mkdir -p "$top/build-bench"
	if ! {
		# once configured, make reruns whatever configure.ac or Makefile.am changed
		if [ ! -f "$top/build-bench/config.status" ]; then
			(cd "$top" && autoreconf -fi) &&
				(cd "$top/build-bench" && ../configure)
		fi &&
			make -C "$top/build-bench" -j"$(nproc)"
	} >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		die "the build failed; the whole log is in $log"
	fi
	build=$top/build-bench
}

if [ -n "$build" ]; then
	[ -d "$build" ] || die "no build dir $build"
	build=$(cd "$build" && pwd)
elif [ -x "$top/build/bench/podfs-bench" ]; then
	build=$top/build
elif [ -x "$top/bench/podfs-bench" ]; then
	build=$top
else
	build_bench
fi
bench=$build/bench/podfs-bench
mount_podfs=$build/mount-helper/mount.podfs
[ -x "$bench" ] ||
	die "no podfs-bench at $bench: build it first (make -C $build), or give the build dir with -B"
[ -x "$mount_podfs" ] ||
	die "no mount.podfs at $mount_podfs: build it first (make -C $build), or give the build dir with -B"
if [ "$which" != nfs ]; then
	command -v ceph-fuse >/dev/null ||
		die "ceph-fuse is not installed (apt-get install ceph-fuse, or run tests/install-deps.sh)"
fi

[ -n "$results" ] || results=$top/bench/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$results/logs"
results=$(cd "$results" && pwd)

# ---- cleanup: on success, failure or a signal ---------------------------------------
scratch='' servers_started=0 bench_pids=''
mounts=()                # our mount points, in mount order
declare -A daemon_of=()  # mount point -> pid of the daemon serving it

# alive PID: the process exists and is no zombie (PID 1 may reap late)
alive() {
	local state
	state=$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null) &&
		[ -n "$state" ] && [ "$state" != Z ]
}

# wait_gone PID SECONDS: 0 once PID is dead
wait_gone() {
	local n=$(($2 * 10))
	while alive "$1"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# mount_type DIR: the filesystem type mounted at DIR, empty if none; read
# from mountinfo, so that a dead FUSE mount cannot hang us
mount_type() {
	awk -v d="$1" '$5 == d { for (i = 7; i <= NF; i++) if ($i == "-") { t = $(i + 1); break } }
		END { print t }' /proc/self/mountinfo
}

# unmount DIR: umount(8) DIR, then wait for its daemon to exit (it sends
# what is unwritten to the server first, so before the servers stop);
# 1 if that did not go cleanly, once everything has been tried
unmount() {
	local dir=$1 pid=${daemon_of[$1]:-} rc=0 umount_pid
	[ -n "$pid" ] || pid=$(find_daemon "$dir" mount.podfs lt-mount.podfs ceph-fuse)
	if [ -n "$(mount_type "$dir")" ]; then
		# --no-canonicalize: no stat of DIR, which would wait on the
		# daemon; a daemon stuck on a dead server makes even umount(2)
		# wait, unkillably: killing the daemon ends that
		umount --no-canonicalize "$dir" &
		umount_pid=$!
		if ! wait_gone "$umount_pid" 30 && [ -n "$pid" ]; then
			echo "compare.sh: umount $dir hangs 30 s: killing its daemon $pid" >&2
			kill -KILL "$pid" 2>/dev/null || true
			rc=1
		fi
		wait "$umount_pid" || rc=1
		if [ -n "$(mount_type "$dir")" ]; then
			echo "compare.sh: $dir still mounted: detaching it" >&2
			umount --no-canonicalize -l "$dir" || true
			rc=1
		fi
	fi
	if [ -n "$pid" ] && ! wait_gone "$pid" 30; then
		echo "compare.sh: the daemon $pid of $dir did not exit 30 s after umount: killed" >&2
		kill -KILL "$pid" 2>/dev/null || true
		rc=1
	fi
	return "$rc"
}

# stop_leftovers: ends what still runs from our scratch dir after the
# servers stopped. servers.sh kills a pid only while it has the expected
# name, and an MDS that `ceph fs fail` made respawn is briefly called "exe".
stop_leftovers() {
	local p pids='' pid
	for p in /proc/[0-9]*; do
		grep -qzF -- "$scratch/" "$p/cmdline" 2>/dev/null && pids+=" ${p#/proc/}"
	done
	for pid in $pids; do
		alive "$pid" || continue
		echo "compare.sh: still running after the servers stopped, ending it: $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
		kill -TERM "$pid" 2>/dev/null
		wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

cleanup() {
	local rc=$? i
	trap - EXIT
	trap '' INT TERM HUP
	set +e
	if [ -n "$bench_pids" ]; then
		# shellcheck disable=SC2086 # a list of pids and process groups
		kill -TERM -- $bench_pids 2>/dev/null
		wait
	fi
	# last mounted first
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		unmount "${mounts[i]}" || { [ "$rc" -ne 0 ] || rc=1; }
	done
	if [ "$servers_started" = 1 ]; then
		echo "stopping the servers"
		setsid -w "$top/tests/servers/servers.sh" stop "$scratch" "$which" || { [ "$rc" -ne 0 ] || rc=1; }
		stop_leftovers
	fi
	# never into a mount that could not be removed
	[ -z "$scratch" ] || rm -rf --one-file-system "$scratch"
	if [ "$rc" -eq 0 ]; then
		echo "results in $results"
	else
		echo "compare.sh: FAILED (exit $rc); what was written is in $results" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- mounting -------------------------------------------------------------------
# find_daemon DIR COMM...: the live processes named COMM... with DIR as
# one of their arguments (the daemon serving the mount at DIR)
find_daemon() {
	local dir=$1 p comm args a
	shift
	for p in /proc/[0-9]*; do
		read -r comm 2>/dev/null <"$p/comm" || continue
		case " $* " in *" $comm "*) ;; *) continue ;; esac
		mapfile -d '' args 2>/dev/null <"$p/cmdline" || continue
		for a in "${args[@]}"; do
			if [ "$a" = "$dir" ] && alive "${p#/proc/}"; then
				echo "${p#/proc/}"
				break
			fi
		done
	done
	return 0
}

# mounted DIR FSTYPE COMM...: checks the mount at DIR came up, and
# remembers its daemon
mounted() {
	local dir=$1 type=$2 pid
	shift 2
	[ "$(mount_type "$dir")" = "$type" ] ||
		die "$dir is not mounted as $type after mounting (see $results/logs/)"
	pid=$(find_daemon "$dir" "$@")
	case $pid in
	'') die "no $* process serves $dir" ;;
	*[!0-9]*) die "more than one $* process serves $dir: $(echo "$pid" | tr '\n' ' ')" ;;
	esac
	daemon_of[$dir]=$pid
	echo "mounted $dir ($type), daemon pid $pid"
}

# podfs_mount NAME SOURCE DIR [OPTION...]: mount.podfs SOURCE DIR
podfs_mount() {
	local name=$1 src=$2 dir=$3 opts="log=$results/logs/$1-podfs-mount.log"
	shift 3
	[ $# -eq 0 ] || opts=$(IFS=,; echo "$*,$opts")
	mkdir -p "$dir"
	mounts+=("$dir")
	show mount.podfs "$src" "$dir" -o "$opts"
	setsid -w timeout 120 "$mount_podfs" "$src" "$dir" -o "$opts" ||
		die "mount.podfs $src $dir failed (exit $?)"
	mounted "$dir" fuse.podfs mount.podfs lt-mount.podfs
}

# ceph_fuse_mount DIR: ceph-fuse at DIR, as client.$PODFS_TEST_CEPH_USER with
# its keyring (a key never goes on a command line), the root of the fs;
# reads only the test cluster's ceph.conf, logs under the results, no admin socket
ceph_fuse_mount() {
	local dir=$1 cmd
	mkdir -p "$dir"
	mounts+=("$dir")
	cmd=(ceph-fuse -c "$PODFS_TEST_CEPH_CONF" --id "$PODFS_TEST_CEPH_USER"
		-k "$PODFS_TEST_CEPH_KEYRING" --client_fs "$PODFS_TEST_CEPH_FS" -r /
		--log_file="$results/logs/ceph-fuse.log" --admin_socket= "$dir")
	show "${cmd[@]}"
	setsid -w timeout 120 "${cmd[@]}" 2>>"$results/logs/ceph-fuse.log" ||
		die "ceph-fuse at $dir failed (exit $?); its log is $results/logs/ceph-fuse.log"
	mounted "$dir" fuse.ceph-fuse ceph-fuse
}

# probe WRITE_DIR READ_DIR: a file written through one mount reads back
# through the other (or the same) before the benchmark trusts them
probe() {
	local f=.compare-probe.$$ want got
	want="probe $$ $(date +%s.%N)"
	printf '%s\n' "$want" >"$1/$f" || die "cannot write $1/$f"
	got=$(cat "$2/$f") || die "cannot read $2/$f"
	rm -f "$1/$f"
	[ "$got" = "$want" ] || die "$2/$f holds '$got', not what $1/$f was written with"
}

# ---- one run ----------------------------------------------------------------------
# run_bench NAME TARGET...: podfs-bench over the targets, with the table on
# the terminal and in NAME.txt, and JSON, CSV and a plot beside it
run_bench() {
	local name=$1 args=() rc=0 bench_group
	shift
	[ "$quick" = 0 ] || args+=(-s 16M -n 100 -t 1 -r 1)
	args+=("${extra[@]}" --json "$results/$name.json" --csv "$results/$name.csv"
		--plot "$results/$name.svg" "$@")
	show "$bench" "${args[@]}"
	# in the background, so that a signal to us ends it (bash runs traps
	# only once a foreground command is done), as a process group, so that
	# the cleanup ends whatever it started too
	setsid "$bench" "${args[@]}" | tee "$results/$name.txt" &
	bench_group=$(jobs -p %%)
	bench_pids="-$bench_group $bench_group $!"
	wait "$!" || rc=$?
	bench_pids=''
	[ "$rc" -eq 0 ] || die "podfs-bench failed (exit $rc) in the $name run"
}

# record_memory NAME DIR...: the peak resident memory of the daemons
# serving the mounts at DIR..., now, into NAME.memory and on the terminal
record_memory() {
	local name=$1 dir label pid comm hwm rss
	shift
	{
		echo "# peak resident memory (VmHWM) of the mount daemons over the $name run, read before unmounting"
		echo "# target pid command VmHWM_kB VmRSS_kB"
		for dir in "$@"; do
			label=$(basename "$dir")
			pid=${daemon_of[$dir]}
			alive "$pid" || die "the daemon $pid of $dir died during the $name run"
			comm=$(cat "/proc/$pid/comm")
			hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status")
			rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status")
			echo "$label $pid $comm $hwm $rss"
		done
	} | tee "$results/$name.memory"
}

# run_nfs VERS: the NFSv3 or NFSv4 run
run_nfs() {
	local name=nfs$1 src mnt
	src=PODFS_TEST_NFS$1
	src=${!src}
	mnt=$scratch/$name/podfs-mount
	say "NFSv$1: mounting $src"
	podfs_mount "$name" "$src" "$mnt"
	probe "$mnt" "$mnt"
	probe "$mnt" "$PODFS_TEST_NFS_DIR"
	say "NFSv$1: podfs-bench"
	run_bench "$name" "libnfs=libnfs:$src" "podfs-mount=$mnt" \
		"libpodfs=podfs:$src" "local=$localdir"
	record_memory "$name" "$mnt"
	unmount "$mnt" || die "could not unmount $mnt cleanly"
}

# run_ceph: the CephFS run, podfs and ceph-fuse mounting the same root
run_ceph() {
	local src lib_src pm cf
	src="ceph://$PODFS_TEST_CEPH_USER@$PODFS_TEST_CEPH_MON/?fs=$PODFS_TEST_CEPH_FS"
	lib_src="$src&secretfile=$PODFS_TEST_CEPH_SECRETFILE"
	pm=$scratch/ceph/podfs-mount
	cf=$scratch/ceph/ceph-fuse
	say "CephFS: mounting $src with mount.podfs and with ceph-fuse"
	podfs_mount ceph "$src" "$pm" "secretfile=$PODFS_TEST_CEPH_SECRETFILE"
	ceph_fuse_mount "$cf"
	probe "$pm" "$cf"
	probe "$cf" "$pm"
	say "CephFS: podfs-bench"
	run_bench ceph "libcephfs=libcephfs:$lib_src" "podfs-mount=$pm" \
		"ceph-fuse=$cf" "libpodfs=podfs:$lib_src" "local=$localdir"
	record_memory ceph "$pm" "$cf"
	unmount "$cf" || die "could not unmount $cf cleanly"
	unmount "$pm" || die "could not unmount $pm cleanly"
}

# machine_txt: what the figures were measured on
machine_txt() {
	local p
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "kernel: $(uname -a)"
	echo "cpus: $(nproc)"
	echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "memory: $(awk '$1 == "MemTotal:" { printf "%.1f GiB\n", $2 / 1048576 }' /proc/meminfo)"
	echo "scratch (NFS export and local target): $scratch on $(findmnt -n -o FSTYPE,SOURCE -T "$scratch" | tr -s " ")"
	[ "$which" = nfs ] || echo "ceph: one-node cluster, memstore OSD of $CEPH_MEMSTORE_BYTES bytes (RAM)"
	if git -C "$top" rev-parse HEAD >/dev/null 2>&1; then
		echo "podfs: $(git -C "$top" describe --always --dirty --tags) ($(git -C "$top" rev-parse HEAD))"
	else
		echo "podfs: $top is not a git checkout"
	fi
	echo "build: $build"
	echo "packages:"
	for p in nfs-ganesha nfs-ganesha-vfs ceph-common ceph-fuse libcephfs2 libnfs13 fuse3 libfuse3-3 gnuplot-nox; do
		echo "  $p $(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo 'not installed')"
	done
}

# ---- the servers, and the runs ---------------------------------------------------------
# the RAM-backed OSD holds every target's files: half the memory, at most 8 GiB
if [ -z "${CEPH_MEMSTORE_BYTES:-}" ]; then
	CEPH_MEMSTORE_BYTES=$(awk '$1 == "MemTotal:" { b = $2 * 512; m = 8 * 2^30
		printf "%.0f\n", b < m ? b : m }' /proc/meminfo)
fi
export CEPH_MEMSTORE_BYTES

scratch=$(mktemp -d "${TMPDIR:-/tmp}/podfs-bench.XXXXXX")
scratch=$(cd "$scratch" && pwd -P) # as mountinfo shows it
chmod 755 "$scratch"
localdir=$scratch/local
mkdir "$localdir"
cmdlog=$results/command.txt
echo "$command_line" >"$cmdlog"
machine_txt >"$results/machine.txt"

say "Starting the test servers ($which) in $scratch"
servers_started=1
# servers and mount daemons start in sessions of their own: a Ctrl-C at the
# terminal must reach only us (Ceph's daemons stop on SIGINT, and a mount
# whose server died cannot be unmounted cleanly), and we stop them in order
setsid -w "$top/tests/servers/servers.sh" start "$scratch" "$which" || die "the test servers did not start"
set -a
# shellcheck source=/dev/null
[ "$which" = ceph ] || . "$scratch/nfs.env"
# shellcheck source=/dev/null
[ "$which" = nfs ] || . "$scratch/ceph.env"
set +a

if [ "$which" != ceph ]; then
	run_nfs 3
	run_nfs 4
fi
[ "$which" = nfs ] || run_ceph
say "Done"
