#!/usr/bin/env bash
# The cache's own figures through a podfs mount (docs/BENCHMARKS.md), as
# ratios within one run:
#   appends   16 MiB as 4 KiB appends then fsync: cache=strict against
#             cache=none (throughput, and the WRITE requests sent)
#   reread    a 256 MiB file read again on the same mount, unchanged,
#             against the same file read from tmpfs
#   ls        "ls -l" of a 10,000-entry directory: warm against cold (a
#             fresh mount)
# Usage: bench/cache-figures.sh [-B BUILDDIR] SOURCE [MOUNT OPTIONS]
# (as root; SOURCE as for mount.podfs, e.g. "$PODFS_TEST_NFS3").
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
if [ "${1:-}" = -B ]; then
	build=$2
	shift 2
fi
[ $# -ge 1 ] || { echo "usage: $0 [-B BUILDDIR] SOURCE [MOUNT OPTIONS]" >&2; exit 2; }
src=$1
shift
opts=${1:-}
mount_podfs=$build/mount-helper/mount.podfs
[ -x "$mount_podfs" ] || { echo "$0: no $mount_podfs (build first)" >&2; exit 2; }

scratch=$(mktemp -d /tmp/podfs-cache-figures.XXXXXX)
mnt=$scratch/mnt
mkdir "$mnt" "$scratch/tmpfs"
mount -t tmpfs -o size=300m tmpfs "$scratch/tmpfs"
cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	umount "$scratch/tmpfs" 2>/dev/null || true
	rm -rf "$scratch"
}
trap cleanup EXIT

# mount_it [EXTRA OPTIONS]
mount_it() {
	local o=$opts
	[ -z "${1:-}" ] || o=${o:+$o,}$1
	"$mount_podfs" "$src" "$mnt" ${o:+-o "$o"}
}

stat_of() {
	"$mount_podfs" stats "$mnt" | python3 -c "
import json, sys
o = json.load(sys.stdin)
for k in sys.argv[1].split('.'):
    o = o.get(k, 0) if isinstance(o, dict) else 0
print(o)" "$1"
}

dir=podfs-cache-figures.$$

# appends LABEL [OPTIONS]: "MiB/s WRITEs"
appends() {
	local w0 out
	mount_it "${1:-}"
	mkdir -p "$mnt/$dir"
	w0=$(stat_of rpc.writes)
	out=$(python3 - "$mnt/$dir/appended" <<'EOF'
import os, sys, time
chunk = b"a" * 4096
t = time.monotonic()
with open(sys.argv[1], "ab", buffering=0) as f:
    for _ in range(4096):
        f.write(chunk)
    os.fsync(f.fileno())
print("%.1f" % (16 / (time.monotonic() - t)))
EOF
	)
	echo "$out $(($(stat_of rpc.writes) - w0))"
	rm -r "${mnt:?}/$dir"
	umount "$mnt"
}

# read_mibs FILE: MiB/s of reading FILE to the end
read_mibs() {
	python3 - "$1" <<'EOF'
import os, sys, time
t = time.monotonic()
n = 0
with open(sys.argv[1], "rb", buffering=0) as f:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        n += len(b)
print("%.0f" % (n / (1 << 20) / (time.monotonic() - t)))
EOF
}

echo "# $(date -u '+%F %T') podfs $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?'), $src${opts:+ -o $opts}"

strict=$(appends)
none=$(appends cache=none)
echo "appends: 4096 x 4 KiB + fsync: cache=strict ${strict% *} MiB/s in ${strict#* } WRITEs;" \
	"cache=none ${none% *} MiB/s in ${none#* } WRITEs;" \
	"ratio $(python3 -c "print('%.2f' % (${strict% *} / ${none% *}))")x"

mount_it
mkdir -p "$mnt/$dir"
head -c 256M /dev/urandom >"$scratch/tmpfs/big"
cp "$scratch/tmpfs/big" "$mnt/$dir/big"
sync
echo 3 >/proc/sys/vm/drop_caches
first=$(read_mibs "$mnt/$dir/big")
again=$(read_mibs "$mnt/$dir/big")
tmpfs=$(read_mibs "$scratch/tmpfs/big")
echo "reread: 256 MiB on the mount: first ${first} MiB/s, again ${again} MiB/s; tmpfs ${tmpfs} MiB/s;" \
	"again/tmpfs $(python3 -c "print('%.2f' % ($again / $tmpfs))")x"
rm "$mnt/$dir/big" "$scratch/tmpfs/big"

python3 - "$mnt/$dir/many" <<'EOF'
import os, sys
os.mkdir(sys.argv[1])
for i in range(10000):
    os.close(os.open(os.path.join(sys.argv[1], "f%05d" % i), os.O_CREAT | os.O_WRONLY, 0o644))
EOF
umount "$mnt"
mount_it
ls_secs() {
	python3 - "$1" <<'EOF'
import subprocess, sys, time
t = time.monotonic()
subprocess.run(["ls", "-l", sys.argv[1]], check=True, stdout=subprocess.DEVNULL)
print("%.3f" % (time.monotonic() - t))
EOF
}
cold=$(ls_secs "$mnt/$dir/many")
warm=$(ls_secs "$mnt/$dir/many")
echo "ls: ls -l of 10,000 entries: cold ${cold} s, warm ${warm} s;" \
	"warm/cold speed $(python3 -c "print('%.1f' % ($cold / $warm))")x"
rm -r "${mnt:?}/$dir"
