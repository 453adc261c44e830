#!/usr/bin/env bash
# Containers share the volume: an "App" container appends timestamped,
# numbered lines to shared/app.log (one small O_APPEND write per line), a
# "LogCollector" container follows the file with tail -F and forwards every
# line to a file standing in for the log backend. Every line must arrive,
# in order, none lost, none twice. NFSv3, NFSv4 and CephFS.
# shellcheck disable=SC2016 # the containers' scripts are single-quoted on purpose
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_env PODFS_TEST_NFS3 PODFS_TEST_NFS4 PODFS_TEST_CEPH PODFS_TEST_CEPH_SECRETFILE

LINES=${PODFS_E2E_LOG_LINES:-2000}

# run_pod LABEL SOURCE [MOUNT ARGS...]
run_pod() {
	local label=$1 src=$2 vol backend n=0 waited=0 daemon
	shift 2
	vol=$T/$label/pod-volume
	backend=$T/$label/log-backend
	podfs_mount "$src" "$vol" "$@"
	daemon=$DAEMON
	rm -f "$vol/app.log"

	# LogCollector first: it waits for app.log to appear, as tail -F does
	start_container "$label-collector" "$vol" \
		tail -F -n +1 -s 0.1 app.log >"$backend" 2>"$backend.err"
	local collector=$CONTAINER

	# App: a fresh open(O_APPEND) and a small write per line, like a
	# logger that reopens its file
	in_container "$label-app" "$vol" "$BASH" -c '
		set -e
		for ((i = 1; i <= $1; i++)); do
			printf "%s %06d app: request handled\n" "$EPOCHREALTIME" "$i" >>app.log ||
				{ echo "App: appending line $i failed" >&2; exit 1; }
		done' app "$LINES" ||
		fail "$label: the App container failed writing app.log (its error is above)"

	# every line reaches the backend within 60 s
	while n=$(wc -l <"$backend") && [ "$n" -lt "$LINES" ]; do
		waited=$((waited + 1))
		[ "$waited" -le 600 ] ||
			fail "$label: the LogCollector forwarded $n of $LINES lines in 60 s ($(cat "$backend.err"))"
		sleep 0.1
	done
	# a moment more, so a line sent twice would show
	sleep 0.5
	stop_container "$collector"

	"$PY" - "$backend" "$vol/app.log" "$LINES" "$label" <<'EOF'
import re, sys
backend, applog, want, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
got = open(backend, "rb").read().decode().splitlines()
pat = re.compile(r"^\d+\.\d+ (\d{6}) app: request handled$")
nums = []
for i, line in enumerate(got):
    m = pat.match(line)
    if not m:
        sys.exit(f"{label}: backend line {i + 1} is mangled: {line!r}")
    nums.append(int(m.group(1)))
if nums != list(range(1, want + 1)):
    seen = set()
    dups = sorted({n for n in nums if n in seen or seen.add(n)})
    lost = sorted(set(range(1, want + 1)) - set(nums))
    first = next(i for i, n in enumerate(nums) if n != i + 1) if len(nums) >= want else len(nums)
    sys.exit(f"{label}: backend has {len(nums)} lines; lost {lost[:10]}, twice {dups[:10]}, "
             f"first out of order at line {first + 1}")
if open(applog, "rb").read().decode().splitlines() != got:
    sys.exit(f"{label}: app.log as read through the volume differs from what was forwarded")
EOF
	# tail -F's notes that app.log appeared are expected; anything else not
	if grep -v -e "cannot open 'app.log' for reading: No such file" \
		-e "'app.log' has appeared" "$backend.err"; then
		fail "$label: the LogCollector's tail complained (above)"
	fi
	rm -f "$vol/app.log"
	podfs_umount "$vol" "$daemon"
	note "$label: $LINES lines, in order, none lost, none twice"
}

run_case nfs3 run_pod nfs3 "$PODFS_TEST_NFS3"
run_case nfs4 run_pod nfs4 "$PODFS_TEST_NFS4"
run_case ceph run_pod ceph "$PODFS_TEST_CEPH" -o "$(ceph_opts)"
e2e_done
