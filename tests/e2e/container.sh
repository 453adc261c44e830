#!/usr/bin/env bash
# One "container" of the pod, as a container runtime sets it up: called in
# a fresh mount namespace (unshare -m), it bind-mounts the pod volume VOL at
# TARGET, hides every other podfs mount, and runs CMD in TARGET.
#   container.sh VOL TARGET CMD [ARG...]
set -euo pipefail
vol=$1
target=$2
shift 2
mount --bind "$vol" "$target"
# Like a runtime's pivot_root, the container keeps only its own mounts: a
# copy of another FUSE mount here would keep that mount's daemon alive
# after its owner unmounted it.
awk -v t="$target" '{
	for (i = 7; i <= NF; i++)
		if ($i == "-") {
			if ($(i + 1) == "fuse.podfs" && $5 != t)
				print $5
			break
		}
}' /proc/self/mountinfo | while read -r d; do
	umount -l "$d" 2>/dev/null || true
done
cd "$target"
exec "$@"
