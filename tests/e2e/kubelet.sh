#!/usr/bin/env bash
# kubelet, imitated exactly: mount.podfs installed as the FlexVolume driver
# podfs~podfs/podfs and called with kubelet's argv and JSON (keys sorted and
# "&<>" escaped as Go's json.Marshal does, secrets base64-encoded once more,
# stdout and stderr read together as CombinedOutput does): init, five pods
# mounted at once (NFSv4, NFSv3, CephFS with a key and a user secret, both
# fsGroup keys kubelet has used, one read-only), the volumes used, secrets
# looked for everywhere, then unmounted: nothing mounted or running after.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_env PODFS_TEST_NFS3 PODFS_TEST_NFS4 PODFS_TEST_NFS_PORT PODFS_TEST_NFS_HOST \
	PODFS_TEST_NFS_EXPORT PODFS_TEST_CEPH PODFS_TEST_CEPH_MON \
	PODFS_TEST_CEPH_SECRETFILE PODFS_TEST_CEPH_USER

# the driver where kubelet looks for "podfs/podfs"
PLUGINS=$T/usr/libexec/kubernetes/kubelet-plugins/volume/exec
mkdir -p "$PLUGINS/podfs~podfs"
ln -s "$MOUNT_PODFS" "$PLUGINS/podfs~podfs/podfs"
DRIVER=$PLUGINS/podfs~podfs/podfs
KUBELET=$T/var/lib/kubelet
ANS=$T/answers
mkdir -p "$ANS"

# kubelet_call OUT ARG...: the driver call as kubelet's DriverCall.Run
# makes it: cwd /, stdout and stderr into one pipe read to EOF. OUT gets
# the output, OUT.rc the exit status, OUT.hung "yes" if the pipe was still
# held open 60 s later (a process the driver left behind holding kubelet's
# pipe would hang CombinedOutput).
kubelet_call() {
	local out=$1 st
	shift
	set +e
	{
		(cd / && exec "$DRIVER" "$@") 2>&1
		echo $? >"$out.rc"
	} | timeout 60 cat >"$out"
	st=("${PIPESTATUS[@]}")
	set -e
	if [ "${st[1]}" -eq 124 ]; then echo yes; else echo no; fi >"$out.hung"
}

# check_answer OUT STATUS WHAT: the output is exactly one JSON object (what
# kubelet's json.Unmarshal needs) with that status, a message on failure,
# and an exit status that agrees
check_answer() {
	local out=$1 want=$2 what=$3 msg
	if [ "$(cat "$out.hung")" = yes ]; then
		flunk "$what: the driver's output pipe was still held open 60 s after it exited (kubelet would hang)"
		return 1
	fi
	if ! msg=$("$PY" - "$out" "$want" "$(cat "$out.rc")" <<'EOF'
import json, sys
out, want, rc = open(sys.argv[1], "rb").read().decode(), sys.argv[2], int(sys.argv[3])
try:
    o = json.loads(out)
except ValueError as e:
    sys.exit(f"not one JSON document ({e}): {out!r}")
if not isinstance(o, dict):
    sys.exit(f"not a JSON object: {out!r}")
if o.get("status") != want:
    sys.exit(f"status {o.get('status')!r}, expected {want!r}: {out.strip()}")
if want != "Success" and not (isinstance(o.get("message"), str) and o["message"].strip()):
    sys.exit(f"no message with status {want!r}: {out.strip()}")
if want == "Failure" and rc == 0:
    sys.exit(f"exit status 0 with a Failure answer: {out.strip()}")
if want == "Success" and rc != 0:
    sys.exit(f"exit status {rc} with a Success answer: {out.strip()}")
print(o.get("message", ""))
EOF
	); then
		flunk "$what: $msg"
		return 1
	fi
}

# kjson KEY=VALUE...: the options JSON as kubelet marshals its
# map[string]string: keys sorted, no spaces, HTML characters escaped
kjson() {
	"$PY" -c 'import json, sys
d = dict(a.split("=", 1) for a in sys.argv[1:])
s = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
for c, e in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
    s = s.replace(c, e)
print(s)' "$@"
}

# ---- init, and the calls podfs does not support ------------------------------
kubelet_call "$ANS/init" init
if [ "$(cat "$ANS/init")" != '{"status":"Success","capabilities":{"attach":false}}' ]; then
	flunk "init answered '$(cat "$ANS/init")', expected exactly {\"status\":\"Success\",\"capabilities\":{\"attach\":false}}"
fi
check_answer "$ANS/init" Success "init" >/dev/null || true

vjson=$(kjson source="$PODFS_TEST_NFS4" kubernetes.io/fsType= kubernetes.io/readwrite=rw \
	kubernetes.io/pvOrVolumeName=vol)
kubelet_call "$ANS/getvolumename" getvolumename "$vjson"
check_answer "$ANS/getvolumename" "Not supported" "getvolumename" >/dev/null || true
kubelet_call "$ANS/attach" attach "$vjson" node1
check_answer "$ANS/attach" "Not supported" "attach" >/dev/null || true
kubelet_call "$ANS/isattached" isattached "$vjson" node1
check_answer "$ANS/isattached" "Not supported" "isattached" >/dev/null || true
kubelet_call "$ANS/waitforattach" waitforattach /dev/null "$vjson"
check_answer "$ANS/waitforattach" "Not supported" "waitforattach" >/dev/null || true

# ---- what is on the servers before the pods come ------------------------------
# "admin" mounts without fsGroup: the servers' own view of owners
SUB=kubelet-e2e.${T##*.}	# the pods' volumes: a directory of its own on each server
podfs_mount "$PODFS_TEST_NFS4" "$T/admin/nfs"
podfs_mount "$PODFS_TEST_CEPH" "$T/admin/ceph" -o "$(ceph_opts)"
for a in nfs ceph; do
	rm -rf "$T/admin/$a/$SUB"
	mkdir "$T/admin/$a/$SUB"
	echo "there before the pod" >"$T/admin/$a/$SUB/before.txt"
done
admin_daemons=" $(our_daemons | tr '\n' ' ')"

# ---- five pods mounted at once --------------------------------------------------
KEY=$(tr -d '\n' <"$PODFS_TEST_CEPH_SECRETFILE")
KEY64=$(printf %s "$KEY" | base64 -w0)	# kubelet encodes the secret's value again
USER64=$(printf %s "$PODFS_TEST_CEPH_USER" | base64 -w0)
# the key as it must never show up: plain, and as kubelet handed it over
printf '%s\n%s\n' "$KEY" "$KEY64" >"$T/secret-patterns"
chmod 600 "$T/secret-patterns"

PODS=(p1 p2 p3 p4 p5)
declare -A BACKEND DIR GROUP SOURCE
pod_json() {
	local pod=$1 uid=$2
	shift 2
	kjson kubernetes.io/fsType= "kubernetes.io/pod.name=$pod" kubernetes.io/pod.namespace=default \
		"kubernetes.io/pod.uid=$uid" kubernetes.io/pvOrVolumeName=shared \
		kubernetes.io/serviceAccount.name=default "$@"
}
for pod in "${PODS[@]}"; do
	uid=$(cat /proc/sys/kernel/random/uuid)
	DIR[$pod]=$KUBELET/pods/$uid/volumes/podfs~podfs/shared
	mkdir -p "${DIR[$pod]}"
	chmod 750 "${DIR[$pod]}"	# kubelet's prepareForMount: MkdirAll(dir, 0750)
	echo "${DIR[$pod]}" >>"$E2E_MOUNTS"
	case $pod in
	p1) # NFSv4, mount(8)-style source with options as keys; fsGroup as
		# kubelet >= 1.15 passes it
		BACKEND[$pod]=nfs GROUP[$pod]=2000
		SOURCE[$pod]="$PODFS_TEST_NFS_HOST:$PODFS_TEST_NFS_EXPORT/$SUB"
		json=$(pod_json "$pod" "$uid" "source=${SOURCE[$pod]}" vers=4 \
			"port=$PODFS_TEST_NFS_PORT" kubernetes.io/readwrite=rw \
			kubernetes.io/mounterArgs.FsGroup=2000) ;;
	p2) # CephFS, key and user from the pod's secret; kubelet >= 1.15 fsGroup
		BACKEND[$pod]=ceph GROUP[$pod]=2000
		SOURCE[$pod]="ceph://$PODFS_TEST_CEPH_MON/$SUB"
		json=$(pod_json "$pod" "$uid" "source=${SOURCE[$pod]}" kubernetes.io/readwrite=rw \
			kubernetes.io/mounterArgs.FsGroup=2000 "kubernetes.io/secret/key=$KEY64" \
			"kubernetes.io/secret/user=$USER64" "log=$E2E_LOGS/$pod.log") ;;
	p3) # NFSv3 URL (its "&" escaped by kubelet's marshalling); fsGroup as
		# kubelet < 1.15 passed it
		BACKEND[$pod]=nfs GROUP[$pod]=2001
		SOURCE[$pod]=${PODFS_TEST_NFS3/"$PODFS_TEST_NFS_EXPORT"/"$PODFS_TEST_NFS_EXPORT/$SUB"}
		json=$(pod_json "$pod" "$uid" "source=${SOURCE[$pod]}" kubernetes.io/readwrite=rw \
			kubernetes.io/fsGroup=2001 "log=$E2E_LOGS/$pod.log") ;;
	p4) # CephFS, user in the source, key from the secret; old fsGroup key
		BACKEND[$pod]=ceph GROUP[$pod]=2001
		SOURCE[$pod]="ceph://$PODFS_TEST_CEPH_USER@$PODFS_TEST_CEPH_MON/$SUB"
		json=$(pod_json "$pod" "$uid" "source=${SOURCE[$pod]}" kubernetes.io/readwrite=rw \
			kubernetes.io/fsGroup=2001 "kubernetes.io/secret/key=$KEY64" \
			"log=$E2E_LOGS/$pod.log") ;;
	p5) # NFSv4 read-only (readOnly: true in the pod)
		BACKEND[$pod]=nfs GROUP[$pod]=
		SOURCE[$pod]=${PODFS_TEST_NFS4/"$PODFS_TEST_NFS_EXPORT"/"$PODFS_TEST_NFS_EXPORT/$SUB"}
		json=$(pod_json "$pod" "$uid" "source=${SOURCE[$pod]}" kubernetes.io/readwrite=ro) ;;
	esac
	echo "$json" >"$ANS/$pod.json"
done

# kubelet's operation executor mounts the pods' volumes in parallel
calls=()
for pod in "${PODS[@]}"; do
	kubelet_call "$ANS/$pod.mount" mount "${DIR[$pod]}" "$(cat "$ANS/$pod.json")" &
	calls+=($!)
done
for c in "${calls[@]}"; do wait "$c"; done
MOUNTED=()
for pod in "${PODS[@]}"; do
	if check_answer "$ANS/$pod.mount" Success "$pod (${BACKEND[$pod]}) mount" >/dev/null; then
		MOUNTED+=("$pod")
	fi
done
note "mounted at once: ${MOUNTED[*]:-none}"

# ---- the mounts as the system shows them -----------------------------------------
for pod in "${MOUNTED[@]}"; do
	line=$(mountinfo_line "${DIR[$pod]}")
	# ... - fuse.podfs SOURCE SUPEROPTS (the source escaped as mountinfo does)
	read -r fstype msrc _ <<<"${line#* - }"
	[ "$fstype" = fuse.podfs ] || flunk "$pod: mountinfo shows type '$fstype', expected fuse.podfs: $line"
	[ "$msrc" = "${SOURCE[$pod]}" ] || flunk "$pod: mountinfo shows source '$msrc', expected '${SOURCE[$pod]}'"
	read -r _ _ _ _ _ mopts _ <<<"$line"
	if [ "$pod" = p5 ]; then
		[[ ,$mopts, == *,ro,* ]] || flunk "$pod: read-only pod volume not mounted ro: $line"
	else
		[[ ,$mopts, == *,rw,* ]] || flunk "$pod: read-write pod volume not mounted rw: $line"
	fi
done

# ---- the secret is nowhere to be seen ------------------------------------------------
# (while the mount call ran, its argv held the JSON: kubelet's doing; after
# it, no process may show the key)
check_no_secret() {
	local when=$1 f pid hits
	hits=$(grep -l -a -F -f "$T/secret-patterns" /proc/[0-9]*/cmdline 2>/dev/null || true)
	for f in $hits; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		flunk "$when: the Ceph key is in the command line of pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)): ps shows it to every user"
	done
	# shellcheck disable=SC2009 # ps output is what users see
	if ps -ww -eo args | grep -a -F -f "$T/secret-patterns" >/dev/null; then
		[ -n "$hits" ] || flunk "$when: the Ceph key shows in ps output"
	fi
	hits=$(grep -l -a -F -f "$T/secret-patterns" /proc/[0-9]*/environ 2>/dev/null || true)
	[ -z "$hits" ] || flunk "$when: the Ceph key is in the environment of $hits"
	if grep -q -a -F -f "$T/secret-patterns" /proc/self/mountinfo; then
		flunk "$when: the Ceph key is in /proc/self/mountinfo"
	fi
}
check_no_secret "after mounting"
for pod in p2 p3 p4; do
	log=$E2E_LOGS/$pod.log
	if [ ! -e "$log" ]; then
		flunk "$pod: no daemon log $log although the options asked for one"
		continue
	fi
	[ "$(stat -c %a "$log")" = 600 ] || flunk "$pod: daemon log $log has mode $(stat -c %a "$log"), expected 600"
	if grep -q -a -F -f "$T/secret-patterns" "$log"; then
		flunk "$pod: the Ceph key is in the daemon's log $log"
	fi
done
if grep -l -a -F -f "$T/secret-patterns" "$ANS"/*.mount; then
	flunk "the Ceph key is in a driver answer (above)"
fi

# ---- the pods use their volumes --------------------------------------------------------
use_volume() {
	local pod=$1 dir=${DIR[$1]} g=${GROUP[$1]} admin=$T/admin/${BACKEND[$1]}/$SUB got
	got=$(cat "$dir/before.txt" 2>&1) || { flunk "$pod: reading before.txt: $got"; return 0; }
	[ "$got" = "there before the pod" ] || flunk "$pod: before.txt reads '$got'"
	if [ -z "$g" ]; then
		# read-only pod: reads work, writes are refused
		if got=$({ echo x >"$dir/ro-$pod.txt"; } 2>&1); then
			flunk "$pod: writing into a read-only pod volume worked"
		else
			[[ $got == *"Read-only file system"* ]] ||
				flunk "$pod: writing into a read-only pod volume: '$got', expected 'Read-only file system'"
		fi
		return 0
	fi
	# a container writes and another reads back, at once
	head -c 300000 /dev/urandom >"$T/$pod.data"
	in_container "$pod-writer" "$dir" cp "$T/$pod.data" "data-$pod.bin" ||
		{ flunk "$pod: the writer container failed"; return 0; }
	in_container "$pod-reader" "$dir" cmp "$T/$pod.data" "data-$pod.bin" ||
		flunk "$pod: the reader container read other bytes than the writer wrote"
	cmp -s "$T/$pod.data" "$admin/data-$pod.bin" ||
		flunk "$pod: the server has other bytes than the pod wrote"
	# fsGroup: everything appears group-owned by it
	[ "$(stat -c %g "$dir")" = "$g" ] ||
		flunk "$pod: the volume's root shows group $(stat -c %g "$dir"), expected fsGroup $g"
	[ "$(stat -c %g "$dir/before.txt")" = "$g" ] ||
		flunk "$pod: a file made before the pod shows group $(stat -c %g "$dir/before.txt"), expected fsGroup $g"
	# ... and new files get it, on the server too
	(umask 027 && echo "group-only secret of $pod" >"$dir/group-$pod.txt")
	[ "$(stat -c %g "$dir/group-$pod.txt")" = "$g" ] ||
		flunk "$pod: a new file shows group $(stat -c %g "$dir/group-$pod.txt"), expected fsGroup $g"
	[ "$(stat -c %g "$admin/group-$pod.txt")" = "$g" ] ||
		flunk "$pod: a new file has group $(stat -c %g "$admin/group-$pod.txt") on the server, expected fsGroup $g"
	# a container user in the fsGroup (runAsUser 1000, as kubelet sets
	# supplementary groups) reads the group-only file; one outside may not
	in_container "$pod-user" "$dir" setpriv --reuid 1000 --regid 1000 --groups "$g" \
		cat "group-$pod.txt" >/dev/null ||
		flunk "$pod: a container user in fsGroup $g cannot read a group-readable file"
	if in_container "$pod-other" "$dir" setpriv --reuid 1001 --regid 1001 --clear-groups \
		cat "group-$pod.txt" >/dev/null 2>&1; then
		flunk "$pod: a container user outside fsGroup $g read a mode 0640 file"
	fi
}
for pod in "${MOUNTED[@]}"; do
	use_volume "$pod"
done
check_no_secret "after using the volumes"

# ---- unmounted at once, twice, and the pod dirs removed as kubelet does ----------
calls=()
for pod in "${PODS[@]}"; do
	kubelet_call "$ANS/$pod.unmount" unmount "${DIR[$pod]}" &
	calls+=($!)
done
for c in "${calls[@]}"; do wait "$c"; done
for pod in "${PODS[@]}"; do
	check_answer "$ANS/$pod.unmount" Success "$pod unmount" >/dev/null || continue
	! is_mounted "${DIR[$pod]}" || flunk "$pod: still mounted after unmount answered Success"
	# kubelet may ask again (retries after a restart): still Success
	kubelet_call "$ANS/$pod.unmount2" unmount "${DIR[$pod]}"
	check_answer "$ANS/$pod.unmount2" Success "$pod second unmount" >/dev/null || true
	# then kubelet removes the volume dir: only possible once nothing is there
	rmdir "${DIR[$pod]}" 2>/dev/null || flunk "$pod: kubelet's rmdir of ${DIR[$pod]} failed after unmount"
done
n=0
while :; do
	left=
	for p in $(our_daemons); do
		case $admin_daemons in *" $p "*) ;; *) left="$left $p" ;; esac
	done
	[ -n "$left" ] || break
	n=$((n + 1))
	if [ "$n" -gt 200 ]; then
		flunk "pod daemons still running 20 s after unmount:$left"
		break
	fi
	sleep 0.1
done
if grep -F "$KUBELET/" /proc/self/mountinfo; then
	flunk "something is still mounted under the kubelet dir (above)"
fi
check_no_secret "after unmounting"

rm -rf "$T/admin/nfs/$SUB" "$T/admin/ceph/$SUB"
e2e_done
