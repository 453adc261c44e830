#!/usr/bin/env bash
# Bad input gets a clear error and leaves nothing behind: a missing or
# already used mount point, unreachable servers (refused and silent), a
# missing export or path, a wrong Ceph key, unknown options and options of
# the other backend, and kubelet calls with malformed JSON, no source, or a
# secret that is not base64. Each error is one line starting with
# "mount.podfs:" (or a FlexVolume Failure answer), with mount(8)'s exit
# codes, and no mount or daemon is left.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_env PODFS_TEST_NFS3 PODFS_TEST_NFS4 PODFS_TEST_NFS_HOST PODFS_TEST_NFS_EXPORT \
	PODFS_TEST_CEPH PODFS_TEST_CEPH_MON PODFS_TEST_CEPH_SECRETFILE PODFS_TEST_CEPH_USER

BOUND=30	# seconds an unreachable server may take to fail

# expect_error LABEL RCS PATTERN SOURCE DIR [ARG...]: mount.podfs fails
# with an exit status in RCS ("32" or "1 32"), exactly one line on stderr
# that starts with "mount.podfs:" and matches PATTERN (grep -E -i),
# nothing on stdout, within BOUND seconds, and leaves no mount at DIR and
# no daemon.
expect_error() {
	local label=$1 rcs=$2 pattern=$3 src=$4 dir=$5 before rc start elapsed err mounts
	shift 5
	before=" $(our_daemons | tr '\n' ' ')"
	mounts=$(mount_count "$dir")
	start=$EPOCHREALTIME
	set +e
	timeout $((BOUND * 2)) "$MOUNT_PODFS" "$src" "$dir" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	err=$(cat "$T/err")
	[ "$rc" -ne 124 ] || fail "$label: mount.podfs still running after $((BOUND * 2)) s (hang)"
	[[ " $rcs " == *" $rc "* ]] || fail "$label: exit status $rc, expected ${rcs// / or } (stderr: $err)"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "$label: expected one line on stderr, got: $err"
	[[ $err == "mount.podfs: "* ]] || fail "$label: the error does not start with 'mount.podfs:': $err"
	grep -E -i -q -- "$pattern" "$T/err" || fail "$label: the error does not match /$pattern/: $err"
	[ ! -s "$T/out" ] || fail "$label: printed on stdout: $(cat "$T/out")"
	if awk -v e="$elapsed" -v b="$BOUND" 'BEGIN { exit !(e > b) }'; then
		fail "$label: took ${elapsed}s to fail, more than $BOUND s"
	fi
	no_leftovers "$label" "$dir" "$before" "$mounts"
	note "$label: $err (${elapsed} s)"
}

# no_leftovers LABEL DIR BEFORE [MOUNTS]: no more mounts at DIR than
# MOUNTS (0), no daemon beyond BEFORE (a failed one may take a moment)
no_leftovers() {
	local label=$1 dir=$2 before=$3 mounts=${4:-0} n=0 p left
	[ "$(mount_count "$dir")" -eq "$mounts" ] ||
		fail "$label: $dir has a new mount after the failure: $(mountinfo_line "$dir")"
	while :; do
		left=
		for p in $(our_daemons); do
			case $before in *" $p "*) ;; *) left="$left $p" ;; esac
		done
		[ -n "$left" ] || return 0
		n=$((n + 1))
		[ "$n" -le 50 ] || fail "$label: mount.podfs process(es) left after the failure:$left"
		sleep 0.1
	done
}

# a listener that accepts connections and never answers
start_black_hole() {
	setsid "$PY" -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
print(s.getsockname()[1], flush=True)
time.sleep(600)' >"$T/black-hole.port" &
	echo $! >>"$E2E_PGIDS"
	local n=0
	until [ -s "$T/black-hole.port" ]; do
		n=$((n + 1))
		[ "$n" -le 50 ] || fail "the silent listener did not start"
		sleep 0.1
	done
	SILENT=$(cat "$T/black-hole.port")
}

D=$T/mnt
mkdir -p "$D"
CEPH_OPTS=$(ceph_opts)
CLOSED=$(free_port)
start_black_hole
# a well-formed cephx key with one bit of the secret flipped
"$PY" - "$PODFS_TEST_CEPH_SECRETFILE" >"$T/wrong.secret" <<'EOF'
import base64, sys
k = bytearray(base64.b64decode(open(sys.argv[1]).read().strip()))
k[-1] ^= 1
print(base64.b64encode(bytes(k)).decode())
EOF
chmod 600 "$T/wrong.secret"

# ---- the mount point ----------------------------------------------------------------
mount_point() {
	expect_error "nfs3 missing mount point" 32 "$T/missing" "$PODFS_TEST_NFS3" "$T/missing"
	expect_error "ceph missing mount point" 32 "$T/missing" "$PODFS_TEST_CEPH" "$T/missing" -o "$CEPH_OPTS"
	: >"$T/a-file"
	expect_error "mount point is a file" 32 "$T/a-file" "$PODFS_TEST_NFS3" "$T/a-file"

	local busy=$T/busy daemon
	podfs_mount "$PODFS_TEST_NFS3" "$busy"
	daemon=$DAEMON
	echo "still here" >"$busy/errors-already.txt"
	expect_error "nfs4 on a mounted dir" 32 "already mounted" "$PODFS_TEST_NFS4" "$busy"
	expect_error "ceph on a mounted dir" 32 "already mounted" "$PODFS_TEST_CEPH" "$busy" -o "$CEPH_OPTS"
	# ... and the mount that was there is untouched
	[ "$(cat "$busy/errors-already.txt")" = "still here" ] || fail "the first mount broke"
	rm "$busy/errors-already.txt"
	podfs_umount "$busy" "$daemon"
}

# ---- servers that are not there --------------------------------------------------------
unreachable() {
	local h=127.0.0.1
	expect_error "nfs3 refused" 32 "127\.0\.0\.1" \
		"nfs://$h/export?vers=3&nfsport=$CLOSED&mountport=$CLOSED" "$D" -o timeo=20,retrans=0
	expect_error "nfs4 refused" 32 "127\.0\.0\.1" \
		"nfs://$h/export?vers=4&port=$CLOSED" "$D" -o timeo=20,retrans=0
	expect_error "ceph refused" 32 "127\.0\.0\.1" \
		"ceph://$PODFS_TEST_CEPH_USER@$h:$CLOSED/" "$D" -o "$CEPH_OPTS,timeo=20"
	expect_error "nfs3 silent" 32 "127\.0\.0\.1" \
		"nfs://$h/export?vers=3&nfsport=$SILENT&mountport=$SILENT" "$D" -o timeo=20,retrans=0
	expect_error "nfs4 silent" 32 "127\.0\.0\.1" \
		"nfs://$h/export?vers=4&port=$SILENT" "$D" -o timeo=20,retrans=0
	expect_error "ceph silent" 32 "127\.0\.0\.1" \
		"ceph://$PODFS_TEST_CEPH_USER@$h:$SILENT/" "$D" -o "$CEPH_OPTS,timeo=20"
	# a refused NFS connection fails at once, whatever the timeouts (a
	# Ceph client retries the monitors until timeo, 60 s by default: not
	# waited for here)
	expect_error "nfs4 refused, default options" 32 "127\.0\.0\.1" \
		"nfs://$h/export?vers=4&port=$CLOSED" "$D"
}

# ---- what is not on the server ------------------------------------------------------------
missing_path() {
	expect_error "nfs3 missing export" 32 "no-such-export" \
		"${PODFS_TEST_NFS3/"$PODFS_TEST_NFS_EXPORT"/"/no-such-export"}" "$D"
	expect_error "nfs4 missing subdir" 32 "no-such-dir" \
		"${PODFS_TEST_NFS4/"$PODFS_TEST_NFS_EXPORT"/"$PODFS_TEST_NFS_EXPORT/no-such-dir"}" "$D"
	expect_error "ceph missing path" 32 "no-such-dir" \
		"ceph://$PODFS_TEST_CEPH_USER@$PODFS_TEST_CEPH_MON/no-such-dir" "$D" -o "$CEPH_OPTS"
}

# ---- credentials ----------------------------------------------------------------------------
wrong_key() {
	expect_error "ceph wrong key" 32 "authenticat" "$PODFS_TEST_CEPH" "$D" \
		-o "secretfile=$T/wrong.secret"
	expect_error "ceph unknown user" 32 "authenticat|no-such-user" \
		"ceph://no-such-user@$PODFS_TEST_CEPH_MON/" "$D" -o "$CEPH_OPTS"
	if grep -q -F -f "$T/wrong.secret" "$T/err"; then
		fail "the error shows the key"
	fi
}

# ---- options ---------------------------------------------------------------------------------
options() {
	expect_error "unknown option" "1 32" "bogus" "$PODFS_TEST_NFS3" "$D" -o bogus=1
	expect_error "unknown flag" "1 32" "nosuchflag" "$PODFS_TEST_CEPH" "$D" -o "$CEPH_OPTS,nosuchflag"
	expect_error "fs= on NFS" "1 32" "'?fs'?.*(NFS|nfs)|(NFS|nfs).*'?fs'?" "$PODFS_TEST_NFS3" "$D" -o fs=x
	expect_error "secretfile= on NFS" "1 32" "secretfile" "$PODFS_TEST_NFS4" "$D" -o "$CEPH_OPTS"
	expect_error "nconnect= on Ceph" "1 32" "nconnect" "$PODFS_TEST_CEPH" "$D" -o "$CEPH_OPTS,nconnect=2"
	expect_error "vers= on Ceph" "1 32" "vers" "$PODFS_TEST_CEPH" "$D" -o "$CEPH_OPTS,vers=4"
	expect_error "bad value" "1 32" "nconnect" "$PODFS_TEST_NFS3" "$D" -o nconnect=lots
	expect_error "empty option" "1 32" "option" "$PODFS_TEST_NFS3" "$D" -o "nconnect=2,,ro"
	expect_error "unknown scheme" "1 32" "smb" "smb://$PODFS_TEST_NFS_HOST/share" "$D"
}

# ---- kubelet calls that cannot work ------------------------------------------------------------
# flex LABEL PATTERN ARG...: the driver answers one JSON object with status
# Failure and a message matching PATTERN, exits non-zero, leaves nothing
flex() {
	local label=$1 pattern=$2 before rc msg
	shift 2
	before=" $(our_daemons | tr '\n' ' ')"
	set +e
	(cd / && timeout $((BOUND * 2)) "$MOUNT_PODFS" "$@") >"$T/flex.out" 2>&1
	rc=$?
	set -e
	msg=$("$PY" - "$T/flex.out" "$rc" "$pattern" <<'EOF'
import json, re, sys
out, rc, pattern = open(sys.argv[1]).read(), int(sys.argv[2]), sys.argv[3]
try:
    o = json.loads(out)
except ValueError:
    sys.exit(f"not one JSON object (kubelet could not parse it): {out!r}")
if not isinstance(o, dict) or o.get("status") != "Failure":
    sys.exit(f"status is not Failure: {out.strip()}")
m = o.get("message")
if not isinstance(m, str) or not m.strip():
    sys.exit(f"no message: {out.strip()}")
if not re.search(pattern, m, re.I):
    sys.exit(f"message does not match /{pattern}/: {m}")
if rc == 0:
    sys.exit(f"exit status 0 with Failure: {out.strip()}")
print(m)
EOF
	) || fail "flexvolume $label: $msg"
	no_leftovers "flexvolume $label" "$D" "$before"
	note "flexvolume $label: $msg"
}

flexvolume() {
	local k64 bad
	flex "malformed JSON" "json" mount "$D" '{"source": "'"$PODFS_TEST_NFS4"'", '
	flex "JSON not an object" "object|json" mount "$D" '["source"]'
	flex "no source" "source" mount "$D" \
		'{"kubernetes.io/fsType":"","kubernetes.io/readwrite":"rw","vers":"4"}'
	flex "empty source" "source" mount "$D" '{"source":""}'
	bad='not*base64!'
	flex "secret not base64" "base64" mount "$D" \
		"{\"source\":\"ceph://$PODFS_TEST_CEPH_MON/\",\"kubernetes.io/secret/key\":\"$bad\",\"kubernetes.io/secret/user\":\"cG9kZnM=\"}"
	if grep -q -F "$bad" "$T/flex.out"; then
		fail "flexvolume: the answer shows the undecodable secret: $(cat "$T/flex.out")"
	fi
	k64=$(base64 -w0 <"$T/wrong.secret")
	flex "wrong key in the secret" "authenticat" mount "$D" \
		"{\"source\":\"ceph://$PODFS_TEST_CEPH_MON/\",\"kubernetes.io/secret/key\":\"$k64\",\"kubernetes.io/secret/user\":\"cG9kZnM=\"}"
	if grep -q -F -e "$k64" -e "$(cat "$T/wrong.secret")" "$T/flex.out"; then
		fail "flexvolume: the answer shows the key"
	fi
	flex "unknown option" "bogus" mount "$D" "{\"source\":\"$PODFS_TEST_NFS4\",\"bogus\":\"1\"}"
	flex "missing mount dir" "$T/missing" mount "$T/missing" "{\"source\":\"$PODFS_TEST_NFS4\"}"
	flex "unreachable server" "127\\.0\\.0\\.1" mount "$D" \
		"{\"source\":\"nfs://127.0.0.1/export?vers=4&port=$CLOSED\",\"timeo\":\"20\",\"retrans\":\"0\"}"
	flex "mount without JSON" "argument|usage" mount "$D"
}

run_case "mount point" mount_point
run_case unreachable unreachable
run_case "missing path" missing_path
run_case "wrong key" wrong_key
run_case options options
run_case flexvolume flexvolume
e2e_done
