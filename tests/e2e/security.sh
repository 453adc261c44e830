#!/usr/bin/env bash
# What a pod can and cannot do through its volume (docs/SECURITY.md):
# - a subdirectory source cannot leave the export or path through a
#   symbolic link on the server (absolute, "..", relative): the mount is
#   refused, nothing is mounted;
# - a container user reaches no more than the permissions shown allow
#   (allow_other with default_permissions): another user's 0600 file, a
#   0700 directory, a directory or file it may not write, the sticky bit,
#   chmod of a file it does not own; what it creates is its own on the
#   server; with gid= (a pod's fsGroup) a member of that group gets group
#   access and a non-member still none;
# - the daemon's verbose log, full of failed calls, holds no Ceph key.
# NFSv3, NFSv4 and CephFS.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_env PODFS_TEST_NFS3 PODFS_TEST_NFS4 PODFS_TEST_NFS_DIR PODFS_TEST_NFS_EXPORT PODFS_TEST_CEPH \
	PODFS_TEST_CEPH_SECRETFILE
command -v setpriv >/dev/null || fail "setpriv is not installed (Debian package util-linux)"

USER_ID=4711  # a container's user, nobody on this host
OTHER_ID=4712 # another one
GROUP_ID=4800 # the pod's fsGroup

# as UID GIDS CMD...: runs CMD as user UID with groups GIDS (comma list,
# the first the primary), no capabilities
as() {
	local uid=$1 gids=$2 primary=${2%%,*}
	shift 2
	setpriv --reuid "$uid" --regid "$primary" --groups "$gids" --inh-caps=-all -- "$@"
}

# denied LABEL WHAT CMD...: CMD fails with "Permission denied" or
# "Operation not permitted"
denied() {
	local label=$1 what=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		flunk "$label: $what was allowed"
	elif [[ $out != *"Permission denied"* && $out != *"Operation not permitted"* ]]; then
		flunk "$label: $what failed, but not for permissions: $out"
	fi
}

# allowed LABEL WHAT CMD...: CMD succeeds
allowed() {
	local label=$1 what=$2 out
	shift 2
	out=$("$@" 2>&1) || flunk "$label: $what failed: $out"
}

# ---- subdirectories through symbolic links -----------------------------------------
# symlink_subdir LABEL SRC [ARG...]: mounting a path of SRC that is a
# symlink set up in the volume (or goes through one) is refused
symlink_subdir() {
	local label=$1 src=$2 p r sub out rc dir
	shift 2
	dir=$T/$label/link
	podfs_mount "$src" "$T/$label/root" "$@"
	r=esc-$$
	mkdir "$T/$label/root/$r"
	ln -s /etc "$T/$label/root/$r/abs"
	ln -s .. "$T/$label/root/$r/up"
	ln -s "$r" "$T/$label/root/$r-rel"
	mkdir -p "$dir"
	for p in "$r/abs" "$r/up" "$r/up/$r" "$r-rel"; do
		if [ "$label" = ceph ]; then
			sub=${src%/}/$p
		else
			sub=${src/"$PODFS_TEST_NFS_EXPORT"/"$PODFS_TEST_NFS_EXPORT/$p"}
		fi
		set +e
		out=$(timeout 60 "$MOUNT_PODFS" "$sub" "$dir" "$@" 2>&1)
		rc=$?
		set -e
		[ "$rc" -ne 0 ] || flunk "$label: mounting $sub (a symlink) worked"
		[[ $out == *"not a directory"* || $out == *"denied access"* || $out == *"symbolic link"* ]] ||
			flunk "$label: mounting $sub (a symlink) failed with an unclear message: $out"
		if is_mounted "$dir"; then
			umount "$dir" || umount -l "$dir"
		fi
	done
	rm -rf "${T:?}/$label/root/$r" "$T/$label/root/$r-rel"
	podfs_umount "$T/$label/root" "$DAEMON"
}

# ---- what a container user may do ---------------------------------------------------
perms() {
	local label=$1 src=$2 v
	shift 2
	v=$T/$label/vol
	podfs_mount "$src" "$v" "$@"
	mkdir "$v/perm-$label"
	v=$v/perm-$label
	chmod 0755 "$v"
	echo "top secret" >"$v/secret.txt" && chmod 0600 "$v/secret.txt"
	echo "for all" >"$v/shared.txt" && chmod 0644 "$v/shared.txt"
	mkdir -m 0700 "$v/private" && echo x >"$v/private/inside"
	mkdir -m 0755 "$v/public"
	mkdir -m 1777 "$v/tmp" && echo root >"$v/tmp/roots"

	denied "$label" "reading root's 0600 file" as $USER_ID $USER_ID cat "$v/secret.txt"
	allowed "$label" "reading a 0644 file" as $USER_ID $USER_ID cat "$v/shared.txt"
	denied "$label" "writing root's 0644 file" as $USER_ID $USER_ID sh -c "echo x >>'$v/shared.txt'"
	denied "$label" "listing root's 0700 directory" as $USER_ID $USER_ID ls "$v/private"
	denied "$label" "opening a file in root's 0700 directory" as $USER_ID $USER_ID cat "$v/private/inside"
	denied "$label" "creating in root's 0755 directory" as $USER_ID $USER_ID touch "$v/public/mine"
	denied "$label" "chmod of root's file" as $USER_ID $USER_ID chmod 0666 "$v/shared.txt"
	denied "$label" "removing root's file from a sticky directory" as $USER_ID $USER_ID rm -f "$v/tmp/roots"
	allowed "$label" "creating in a 1777 directory" as $USER_ID $USER_ID sh -c "echo mine >'$v/tmp/mine'"
	[ "$(stat -c %u:%g "$v/tmp/mine")" = "$USER_ID:$USER_ID" ] ||
		flunk "$label: a file the user created shows owner $(stat -c %u:%g "$v/tmp/mine")"
	allowed "$label" "chmod of the user's own file" as $USER_ID $USER_ID chmod 0600 "$v/tmp/mine"
	denied "$label" "another user reading the first's 0600 file" as $OTHER_ID $OTHER_ID cat "$v/tmp/mine"
	if [ "$label" != ceph ]; then
		# the server has it as the user's own, not as root's
		[ "$(stat -c %u:%g "$PODFS_TEST_NFS_DIR/perm-$label/tmp/mine")" = "$USER_ID:$USER_ID" ] ||
			flunk "$label: the server has the user's new file as $(stat -c %u:%g "$PODFS_TEST_NFS_DIR/perm-$label/tmp/mine")"
	fi
	rm -rf "$v"
	podfs_umount "$T/$label/vol" "$DAEMON"
}

# gid= (FlexVolume: the pod's fsGroup) shows every file with that group:
# its members get group access, others still none
fsgroup() {
	local label=$1 src=$2 v
	shift 2
	v=$T/$label/fsg
	podfs_mount "$src" "$v" -o "gid=$GROUP_ID" "$@"
	echo "group data" >"$v/group-$label.txt"
	chmod 0640 "$v/group-$label.txt"
	allowed "$label" "a member of the fsGroup reading a 0640 file" \
		as $USER_ID "$USER_ID,$GROUP_ID" cat "$v/group-$label.txt"
	denied "$label" "a non-member reading a 0640 file" \
		as $OTHER_ID $OTHER_ID cat "$v/group-$label.txt"
	denied "$label" "a member writing a 0640 file" \
		as $USER_ID "$USER_ID,$GROUP_ID" sh -c "echo x >>'$v/group-$label.txt'"
	rm -f "$v/group-$label.txt"
	podfs_umount "$v" "$DAEMON"
}

# ---- no key in a verbose log --------------------------------------------------------
verbose_log() {
	local v=$T/ceph/verbose log key
	podfs_mount "$PODFS_TEST_CEPH" "$v" -v -o "$(ceph_opts)"
	# failed calls, each worth a verbose log line
	mkdir -m 0700 "$v/closed-$$"
	as $USER_ID $USER_ID ls "$v/closed-$$" >/dev/null 2>&1 || true
	as $USER_ID $USER_ID touch "$v/closed-$$/x" >/dev/null 2>&1 || true
	cat "$v/no-such-file" >/dev/null 2>&1 || true
	rmdir "$v/closed-$$"
	podfs_umount "$v" "$DAEMON"
	key=$(tr -d '\n' <"$PODFS_TEST_CEPH_SECRETFILE")
	for log in "$E2E_LOGS"/*.log; do
		[ "$(stat -c %a "$log")" = 600 ] || flunk "verbose: daemon log $log has mode $(stat -c %a "$log")"
		if grep -q -a -F -e "$key" "$log"; then
			flunk "verbose: the Ceph key is in the daemon's log $log"
		fi
	done
}

run_case "nfs3 symlinked subdir" symlink_subdir nfs3 "$PODFS_TEST_NFS3"
run_case "nfs4 symlinked subdir" symlink_subdir nfs4 "$PODFS_TEST_NFS4"
run_case "ceph symlinked subdir" symlink_subdir ceph "$PODFS_TEST_CEPH" -o "$(ceph_opts)"
run_case "nfs3 permissions" perms nfs3 "$PODFS_TEST_NFS3"
run_case "nfs4 permissions" perms nfs4 "$PODFS_TEST_NFS4"
run_case "ceph permissions" perms ceph "$PODFS_TEST_CEPH" -o "$(ceph_opts)"
run_case "nfs3 fsGroup" fsgroup nfs3 "$PODFS_TEST_NFS3"
run_case "ceph fsGroup" fsgroup ceph "$PODFS_TEST_CEPH" -o "$(ceph_opts)"
run_case "verbose log" verbose_log
e2e_done
