#!/usr/bin/env bash
# Network faults between nodes. The test makes its own hosts: network
# namespaces joined by veth pairs on a bridge, 10.77.N.0/24 private to
# them: a server host running our nfs-ganesha, and two client hosts,
# each running mount.podfs (its mount is in this test's mount namespace,
# its network is the client host's). Faults are nftables rules on a
# client host: a cut (every packet dropped, both ways, silently, as a
# pulled cable or a partition), random loss, and a slow link (tbf). The
# kernel here has no netem, so there is no fixed delay.
#   - hard mount, link cut for 6 s under a writer of fsynced records: the
#     writer stalls and goes on; every record reads back byte-exact from
#     the other host;
#   - soft mount (timeo=10,retrans=1: 2 s), link cut: a call fails with
#     "timed out" within the bound, and the mount works once healed;
#   - 5 % loss both ways on a 4 Mbit/s link: fsx through one host's
#     mount, read back through the other's, without a mismatch (NFSv3);
#   - a lock holder cut off (lease of 10 s): it stops with EIO (the lease
#     fence, two thirds of the lease after its last RENEW) no later than
#     the other host gets the lock (once the server let the lease go), and
#     none of its writes lands after the other host's.
# NFSv3 and NFSv4 (NFSv3 locks go through NFSv4, as on ganesha). CephFS's
# network faults are not covered here (its test cluster binds 127.0.0.1).
#
# Open, and run only with PODFS_NETFAULT_OPEN=1, as it fails today:
# NFSv4 under 5-10 % loss, fsx once found a name missing from a listing,
# not yet understood. PODFS_NETFAULT_CASES=PATTERN runs only the cases
# whose label matches.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v nft >/dev/null || fail "nft not found (apt-get install nftables)"
FSX=${PODFS_FSX:-$PWD/tests/stress/fsx}
[ -x "$FSX" ] || fail "fsx not found at $FSX (make check builds it; or set PODFS_FSX)"

LEASE=10      # s: the server's NFSv4 lease
CUT=6         # s the link stays cut under the writer
SOFT="soft,timeo=10,retrans=1"
SOFT_BOUND=6  # s: the 2 s timeout and margin for a slow machine
NET=10.77.$((RANDOM % 200 + 20))
NS=podfs-$$
SRV=$NS-srv

# ---- the hosts ----------------------------------------------------------------

in_host() { # in_host NAME CMD...
	local h=$1
	shift
	ip netns exec "$NS-$h" "$@"
}

remove_hosts() {
	local h
	for h in srv c1 c2; do
		ip netns del "$NS-$h" 2>/dev/null || true
	done
}

stop_server() {
	"$E2E_DIR/../servers/nfs-server.sh" stop "$T/nfs" >/dev/null 2>&1 || true
	remove_hosts
}
E2E_SERVER_HOOKS+=(stop_server)

make_hosts() {
	local c
	ip netns add "$SRV"
	in_host srv ip link set lo up
	in_host srv ip link add br0 type bridge
	in_host srv ip addr add "$NET.1/24" dev br0
	in_host srv ip link set br0 up
	for c in 1 2; do
		ip netns add "$NS-c$c"
		in_host "c$c" ip link set lo up
		in_host srv ip link add "v-c$c" type veth peer name eth0 netns "$NS-c$c"
		in_host srv ip link set "v-c$c" master br0 up
		in_host "c$c" ip addr add "$NET.$((c + 1))/24" dev eth0
		in_host "c$c" ip link set eth0 up
	done
}

# cut HOST / heal HOST: every packet in or out of HOST dropped / passed
cut() {
	in_host "$1" nft -f - <<EOF
table inet podfs_cut {
	chain in { type filter hook input priority 0; policy drop; }
	chain out { type filter hook output priority 0; policy drop; }
}
EOF
}

heal() {
	in_host "$1" nft delete table inet podfs_cut
}

# lossy HOST PERCENT / clean HOST: random loss both ways, and a slow link
lossy() {
	in_host "$1" nft -f - <<EOF
table inet podfs_loss {
	chain in { type filter hook input priority 0; numgen random mod 100 < $2 drop; }
	chain out { type filter hook output priority 0; numgen random mod 100 < $2 drop; }
}
EOF
	in_host "$1" tc qdisc add dev eth0 root tbf rate 4mbit burst 64kbit latency 200ms
}

clean() {
	in_host "$1" nft delete table inet podfs_loss
	in_host "$1" tc qdisc del dev eth0 root
}

# host_mount HOST SRC DIR ARG...: podfs_mount from HOST's network
host_mount() {
	local h=$1 wrap=$T/mount-$1
	shift
	# nsenter, not ip netns exec: that makes a mount namespace of its own
	printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s -- %s "$@"\n' "$NS-$h" "$MOUNT_PODFS" >"$wrap"
	chmod 0755 "$wrap"
	MOUNT_PODFS=$wrap podfs_mount "$@"
}

elapsed() { # elapsed START: seconds since START ($EPOCHREALTIME)
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

# ---- the cases ------------------------------------------------------------------

# writer FILE SECONDS OUT: as restart.sh's, records of 64 bytes, fsync
# every 10; OUT: the count and the longest wait for one record
writer() {
	"$PY" - "$@" <<'EOF'
import os, sys, time
path, secs, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
n, worst, end = 0, 0.0, time.monotonic() + secs
while time.monotonic() < end or n % 10:
    t = time.monotonic()
    os.write(fd, b"record %010d %s\n" % (n, b"x" * 45))
    n += 1
    if n % 10 == 0:
        os.fsync(fd)
    worst = max(worst, time.monotonic() - t)
    time.sleep(0.005)
os.close(fd)
open(out, "w").write("%d %.2f\n" % (n, worst))
EOF
}

check_records() { # LABEL FILE N
	"$PY" - "$@" <<'EOF' || fail "$1: the records do not read back as written"
import sys
label, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(path, "rb").read()
want = b"".join(b"record %010d %s\n" % (i, b"x" * 45) for i in range(n))
if data != want:
    i = next((k for k in range(min(len(data), len(want))) if data[k] != want[k]), min(len(data), len(want)))
    sys.exit("%s: %d bytes, expected %d; first difference at byte %d" % (label, len(data), len(want), i))
EOF
}

hard_cut() {
	local label=$1 src=$2 a b da db n worst pid
	a=$T/$label/hard-c1
	b=$T/$label/hard-c2
	host_mount c1 "$src" "$a"
	da=$DAEMON
	writer "$a/records-$label" 14 "$T/$label.out" &
	pid=$!
	sleep 2
	cut c1
	sleep "$CUT"
	heal c1
	wait "$pid" || fail "$label: the writer failed across a cut of $CUT s"
	read -r n worst <"$T/$label.out"
	note "$label: hard, link cut for $CUT s: $n records, the longest wait for one $worst s"
	awk -v w="$worst" -v c="$CUT" 'BEGIN { exit !(w >= c - 1) }' ||
		fail "$label: no record waited for the cut ($worst s): was the link cut?"
	host_mount c2 "$src" "$b"
	db=$DAEMON
	check_records "$label (the other host)" "$b/records-$label" "$n"
	rm -f "$b/records-$label"
	podfs_umount "$b" "$db"
	podfs_umount "$a" "$da"
}

soft_cut() {
	local label=$1 src=$2 v d start took out
	v=$T/$label/soft
	host_mount c1 "$src" "$v" -o "$SOFT"
	d=$DAEMON
	echo before >"$v/soft"
	cut c1
	start=$EPOCHREALTIME
	set +e
	out=$(cat "$v/never-there" 2>&1)
	set -e
	took=$(elapsed "$start")
	heal c1
	[[ $out == *"timed out"* ]] || fail "$label: a lookup with the link cut said: $out"
	awk -v t="$took" -v b="$SOFT_BOUND" 'BEGIN { exit !(t <= b) }' ||
		fail "$label: a lookup with the link cut failed after $took s, more than $SOFT_BOUND s"
	note "$label: soft, link cut: failed in $took s: $out"
	echo after >>"$v/soft" || fail "$label: the soft mount does not write once healed"
	[ "$(cat "$v/soft")" = "before
after" ] || fail "$label: the soft mount reads $(cat "$v/soft")"
	rm -f "$v/soft"
	podfs_umount "$v" "$d"
}

lossy_fsx() {
	local label=$1 src=$2 a b da db out
	out=$T/$label-fsx.out
	a=$T/$label/loss-c1
	b=$T/$label/loss-c2
	host_mount c1 "$src" "$a"
	da=$DAEMON
	host_mount c2 "$src" "$b" -o lookupcache=none
	db=$DAEMON
	mkdir "$a/fsx"
	lossy c1 5
	if ! timeout 300 "$FSX" -s "$(date -u +%Y%m%d)" -n 400 -2 "$b/fsx" "$a/fsx" >"$out" 2>&1; then
		clean c1
		cat "$out" >&2
		fail "$label: fsx with 5 % loss failed"
	fi
	clean c1
	note "$label: 5 % loss, 4 Mbit/s: $(grep -E 'ops in' "$out" | sed 's/^fsx: //')"
	rm -rf --one-file-system "${a:?}/fsx"
	podfs_umount "$b" "$db"
	podfs_umount "$a" "$da"
}

# holder FILE OUT: takes a write lock on FILE, then appends a line every
# 0.2 s with fsync for 60 s; OUT: "locked", then "error ERRNO AT" (AT: the
# epoch time of its first error)
holder() {
	"$PY" - "$@" <<'EOF'
import fcntl, os, sys, time
path, out = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(out, "w").write("locked\n")
t0, i = time.monotonic(), 0
while time.monotonic() - t0 < 60:
    try:
        os.write(fd, b"holder %d\n" % i)
        os.fsync(fd)
    except OSError as e:
        open(out, "a").write("error %d %.2f\n" % (e.errno, time.time()))
        sys.exit(0)
    i += 1
    time.sleep(0.2)
open(out, "a").write("no error\n")
EOF
}

# A lock holder cut off: it must stop (EIO) no later than the other host
# gets the lock, and nothing it wrote may land after the other's write.
lock_cut() {
	local label=$1 src=$2 a b da db pid cut_at got_at err_at
	a=$T/$label/lock-c1
	b=$T/$label/lock-c2
	host_mount c1 "$src" "$a"
	da=$DAEMON
	host_mount c2 "$src" "$b"
	db=$DAEMON
	holder "$a/locked-$label" "$T/$label-holder.out" &
	pid=$!
	for _ in $(seq 100); do
		grep -q locked "$T/$label-holder.out" 2>/dev/null && break
		sleep 0.1
	done
	grep -q locked "$T/$label-holder.out" || fail "$label: the holder did not get its lock"
	sleep 1
	cut c1
	cut_at=$EPOCHREALTIME
	"$PY" - "$b/locked-$label" "$T/$label-taker.out" <<'EOF' || fail "$label: the other host could not take the lock"
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_APPEND)
fcntl.lockf(fd, fcntl.LOCK_EX)
got = time.time()
os.write(fd, b"taker\n")
os.fsync(fd)
open(sys.argv[2], "w").write("%.2f\n" % got)
EOF
	got_at=$(cat "$T/$label-taker.out")
	sleep 2
	heal c1
	wait "$pid" || fail "$label: the holder failed"
	read -r _ _ err_at < <(grep "^error " "$T/$label-holder.out") ||
		fail "$label: the holder, cut off, got no error: $(tr '\n' ' ' <"$T/$label-holder.out")"
	grep -q "^error 5 " "$T/$label-holder.out" ||
		fail "$label: the holder's error was not EIO: $(tr '\n' ' ' <"$T/$label-holder.out")"
	note "$label: the holder cut off (lease $LEASE s): it stopped with EIO $(awk -v a="$cut_at" -v b="$err_at" 'BEGIN { printf "%.1f", b - a }') s after the cut, the other host got the lock $(awk -v a="$cut_at" -v b="$got_at" 'BEGIN { printf "%.1f", b - a }') s after it"
	awk -v e="$err_at" -v g="$got_at" 'BEGIN { exit !(e <= g) }' ||
		fail "$label: the other host got the lock before the holder stopped"
	# nothing of the holder's after the taker's line
	"$PY" - "$b/locked-$label" <<'EOF' || fail "$label: the holder wrote on after losing its lock"
import sys
lines = open(sys.argv[1]).read().splitlines()
if "taker" not in lines:
    sys.exit("no taker line: %r" % lines[-5:])
after = lines[lines.index("taker") + 1:]
if after:
    sys.exit("after the taker: %r (the file: %r)" % (after[:5], lines[:40]))
EOF
	rm -f "$b/locked-$label"
	podfs_umount "$b" "$db"
	podfs_umount "$a" "$da"
}

make_hosts
NFS_NETNS=/run/netns/$SRV NFS_HOST=$NET.1 NFS_LEASE_LIFETIME=$LEASE \
	"$E2E_DIR/../servers/nfs-server.sh" start "$T/nfs" >/dev/null ||
	fail "cannot start our NFS server on its host"
# shellcheck source=/dev/null
NFS3=$(. "$T/nfs/nfs.env" && echo "$PODFS_TEST_NFS3")
# shellcheck source=/dev/null
NFS4=$(. "$T/nfs/nfs.env" && echo "$PODFS_TEST_NFS4")
note "hosts: server $NET.1, clients $NET.2 and $NET.3"

# case LABEL FUNCTION ARG...: run unless PODFS_NETFAULT_CASES (a grep
# pattern) leaves it out
case_() {
	if [ -n "${PODFS_NETFAULT_CASES:-}" ] &&
		! grep -q -E -e "$PODFS_NETFAULT_CASES" <<<"$1"; then
		return 0
	fi
	# a failed case may have left the link cut
	heal c1 2>/dev/null || true
	clean c1 2>/dev/null || true
	run_case "$@"
}

for v in 3 4; do
	src=$NFS3
	[ "$v" = 4 ] && src=$NFS4
	case_ "nfs$v hard cut" hard_cut "nfs$v" "$src"
	case_ "nfs$v soft cut" soft_cut "nfs$v" "$src"
	if [ "$v" = 3 ] || [ "${PODFS_NETFAULT_OPEN:-0}" = 1 ]; then
		case_ "nfs$v loss" lossy_fsx "nfs$v" "$src"
	fi
	case_ "nfs$v lock cut" lock_cut "nfs$v" "$src"
done
e2e_done
