#!/usr/bin/env bash
# podfs-bench itself, on every kind of target: short runs of every workload
# on a local directory and, through libpodfs and the raw client library,
# on the real NFS (v3, v4) and Ceph servers, with --verify (and, as root,
# on a podfs mount of NFSv3); the JSON and CSV reports must parse and
# agree, every figure must have its samples, podfs targets (and only they)
# their cache hit rates, the volumes must be left as found, and bad
# arguments must give one line on stderr and a non-zero exit. No figure is
# judged for speed here.
set -euo pipefail

BENCH=${PODFS_BENCH:-$PWD/bench/podfs-bench}
PY=/usr/bin/python3
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$BENCH" ] || fail "podfs-bench not found at $BENCH (run from the build dir, or set PODFS_BENCH)"
for v in PODFS_TEST_NFS3 PODFS_TEST_NFS4 PODFS_TEST_NFS_DIR PODFS_TEST_CEPH \
	PODFS_TEST_CEPH_SECRETFILE PODFS_TEST_CEPH_FS; do
	[ -n "${!v:-}" ] || fail "\$$v is not set: start the servers with tests/servers/servers.sh start SCRATCH and source SCRATCH/nfs.env and SCRATCH/ceph.env (see tests/servers/README.md)"
done

T=$(mktemp -d /tmp/podfs-bench-test.XXXXXX)
# a podfs mount in $T goes before $T: what we made on the server goes,
# nothing else there
cleanup() {
	if mountpoint -q "$T/mnt" 2>/dev/null; then
		rm -rf "$T/mnt/podfs-bench-test.$$"
		umount "$T/mnt" || umount -l "$T/mnt"
	fi
	rm -rf --one-file-system "$T"
}
trap cleanup EXIT
mkdir "$T/local"
CEPH="$PODFS_TEST_CEPH?fs=$PODFS_TEST_CEPH_FS&secretfile=$PODFS_TEST_CEPH_SECRETFILE"
# every workload, two jobs, two rounds, sizes that are not powers of two
SHORT=(-s 3M -b 192K --rand-bs 4K -t 0.2 -n 37 --file-size 3001 -j 2 -r 2 --verify)
FIGURES="seqwrite seqread randread randwrite create stat read readdir-cold readdir-warm unlink"

# check_reports NAME FIGURES LABEL...: NAME.json and NAME.csv hold exactly
# FIGURES for exactly the LABELs, two positive samples each, medians
# between min and max, the first target's ratio 1, and the CSV rows equal
# to the JSON's figures.
check_reports() {
	local name=$1 figures=$2
	shift 2
	"$PY" - "$T/$name.json" "$T/$name.csv" "$figures" "$@" <<'PYEOF' || fail "$name: reports do not add up"
import csv, json, sys
jf, cf, figures, labels = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
j = json.load(open(jf))
assert j["tool"] == "podfs-bench", j["tool"]
assert j["verified"] is True
assert [t["label"] for t in j["targets"]] == labels, j["targets"]
assert [f["name"] for f in j["figures"]] == figures, [f["name"] for f in j["figures"]]
rows = list(csv.DictReader(open(cf)))
assert len(rows) == len(figures) * len(labels), len(rows)
by = {(r["figure"], r["target"]): r for r in rows}
for f in j["figures"]:
    assert [r["target"] for r in f["results"]] == labels
    for i, r in enumerate(f["results"]):
        s = r["samples"]
        assert len(s) == j["parameters"]["rounds"] == 2, (f["name"], r)
        assert all(x > 0 for x in s), (f["name"], r)
        assert r["min"] == min(s) and r["max"] == max(s), (f["name"], r)
        assert r["min"] <= r["median"] <= r["max"], (f["name"], r)
        if i == 0:
            assert abs(r["ratio"] - 1) < 1e-9, (f["name"], r)
        c = by[(f["name"], r["target"])]
        assert c["unit"] == f["unit"]
        assert abs(float(c["median"]) - r["median"]) <= 0.05 + 1e-6 * r["median"], (c, r)
        assert len(c["samples"].split(";")) == 2
PYEOF
}

# check_cache NAME COUNTED DATA: in NAME.json exactly the targets labelled
# in COUNTED (space-separated) have cache counters for every figure; those
# in DATA (volumes whose core caches: NFS) count lookups, and have data
# cache hits in seqread (what the same client has just written), the
# others (CephFS, cached by libcephfs) count none. NAME.out's hit-rate
# table has a column for exactly the COUNTED targets and a row per
# figure, its cells the JSON's counters as percentages.
check_cache() {
	"$PY" - "$T/$1.json" "$T/$1.out" "$2" "$3" <<'PYEOF' || fail "$1: cache hit rates wrong"
import json, re, sys
j = json.load(open(sys.argv[1]))
out = open(sys.argv[2]).read().splitlines()
counted, data = sys.argv[3].split(), sys.argv[4].split()
labels = [t["label"] for t in j["targets"]]
assert set(counted) <= set(labels) and set(data) <= set(counted), (labels, counted, data)
kinds = ("attr", "entry", "data")

def rate(c):
    h, m = c["hits"], c["misses"]
    if h + m == 0:
        return "-"
    pct = 100.0 * h / (h + m)
    if m and pct >= 99.5:
        return ">99%"
    if h and pct < 0.5:
        return "<1%"
    return "%.0f%%" % pct

cells = {}
for f in j["figures"]:
    for r in f["results"]:
        if r["target"] not in counted:
            assert "cache" not in r, ("counters where none belong", f["name"], r)
            continue
        c = r["cache"]
        assert sorted(c) == sorted(kinds), c
        for k in kinds:
            assert sorted(c[k]) == ["hits", "misses"], c
            assert all(isinstance(v, int) and v >= 0 for v in c[k].values()), c
        cells[(f["name"], r["target"])] = " / ".join(rate(c[k]) for k in kinds)
for t in counted:
    lookups = sum(r["cache"][k][n] for f in j["figures"] for r in f["results"]
                  if r["target"] == t for k in kinds for n in ("hits", "misses"))
    # a volume that caches (NFS) counts its lookups; one over a backend
    # with a cache of its own (CephFS) keeps none to count
    if t in data:
        assert lookups > 0, (t, "its counters never moved")
    else:
        assert lookups == 0, (t, "counts lookups of a cache it does not keep")
for t in data:
    r = next(r for f in j["figures"] if f["name"] == "seqread"
             for r in f["results"] if r["target"] == t)
    assert r["cache"]["data"]["hits"] > 0, (t, "seqread: no data cache hit", r["cache"])

title = "cache hit rates (attr / entry / data), summed over rounds"
if not counted:
    assert title not in out, "a hit-rate table without podfs targets"
    sys.exit(0)
i = out.index(title)
head = re.split(r"\s{2,}", out[i + 1].strip())
assert head == ["figure"] + counted, head
for n, f in enumerate(j["figures"]):
    row = re.split(r"\s{2,}", out[i + 2 + n].strip())
    want = [f["name"]] + [cells[(f["name"], t)] for t in counted]
    assert row == want, (row, want)
PYEOF
}

# no_leftovers DIR: the benchmark's working directories are gone
no_leftovers() {
	if compgen -G "$1/podfs-bench.*" >/dev/null; then
		fail "working directories left in $1: $(ls "$1")"
	fi
}

run_bench() {
	local name=$1
	shift
	"$BENCH" "$@" --json "$T/$name.json" --csv "$T/$name.csv" >"$T/$name.out" 2>"$T/$name.err" ||
		fail "$name: podfs-bench failed: $(cat "$T/$name.err")"
	[ ! -s "$T/$name.err" ] || fail "$name: podfs-bench wrote to stderr: $(cat "$T/$name.err")"
	grep -q '^verified: every byte written was read back and matched$' "$T/$name.out" ||
		fail "$name: no verification line in the table"
}

echo "# local directory + NFSv3 through libpodfs and libnfs"
run_bench nfs3 "${SHORT[@]}" "local=$T/local" "podfs=podfs:$PODFS_TEST_NFS3" \
	"libnfs=libnfs:$PODFS_TEST_NFS3"
check_reports nfs3 "$FIGURES" local podfs libnfs
no_leftovers "$T/local"
no_leftovers "$PODFS_TEST_NFS_DIR"
for f in $FIGURES; do
	grep -q "^$f " "$T/nfs3.out" || fail "nfs3: no $f line in the table"
done
check_cache nfs3 podfs podfs

# root, FUSE and a built mount.podfs: a subdirectory of a podfs mount is a
# directory target with the mount's counters, found at the mount's root
MOUNT_PODFS=${PODFS_MOUNT_HELPER:-$PWD/mount-helper/mount.podfs}
if [ "$(id -u)" -eq 0 ] && [ -c /dev/fuse ] && [ -x "$MOUNT_PODFS" ]; then
	echo "# a podfs mount of NFSv3 (a subdirectory of it) + local directory"
	mkdir "$T/mnt"
	"$MOUNT_PODFS" "$PODFS_TEST_NFS3" "$T/mnt" || fail "mount.podfs $PODFS_TEST_NFS3 failed"
	mkdir -p "$T/mnt/podfs-bench-test.$$/sub"
	run_bench mount "${SHORT[@]}" "mount=dir:$T/mnt/podfs-bench-test.$$/sub" "local=$T/local"
	check_reports mount "$FIGURES" mount local
	check_cache mount mount mount
	no_leftovers "$T/mnt/podfs-bench-test.$$/sub"
	rm -r "$T/mnt/podfs-bench-test.$$"
	umount "$T/mnt" || fail "cannot unmount $T/mnt"
else
	echo "# (no podfs mount: needs root, /dev/fuse and $MOUNT_PODFS)"
fi

echo "# NFSv4 through libpodfs and libnfs"
run_bench nfs4 "${SHORT[@]}" "podfs=podfs:$PODFS_TEST_NFS4" "libnfs=libnfs:$PODFS_TEST_NFS4"
check_reports nfs4 "$FIGURES" podfs libnfs
check_cache nfs4 podfs podfs
no_leftovers "$PODFS_TEST_NFS_DIR"

echo "# CephFS through libpodfs and libcephfs"
run_bench ceph "${SHORT[@]}" "podfs=podfs:$CEPH" "libcephfs=libcephfs:$CEPH"
check_reports ceph "$FIGURES" podfs libcephfs
check_cache ceph podfs ""
"$BENCH" -w readdir -n 3 -r 1 -q "libcephfs:$CEPH" --json "$T/ceph-ls.json"
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert [f["name"] for f in j["figures"]] == ["readdir-cold","readdir-warm"]' "$T/ceph-ls.json" ||
	fail "ceph: -w readdir did not give exactly the two readdir figures"

echo "# one workload alone: what it needs is done, untimed"
for w in stat seqread randwrite unlink; do
	"$BENCH" -w "$w" -s 1M -n 5 -t 0.1 -r 2 --verify "$T/local" --json "$T/one.json" -q ||
		fail "-w $w alone failed"
	"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); n=[f["name"] for f in j["figures"]]; assert n == [sys.argv[2]], n' \
		"$T/one.json" "$w" || fail "-w $w: the report holds other figures"
	no_leftovers "$T/local"
done

"$BENCH" -w stat -w create -n 5 -r 1 -q "$T/local" --json "$T/two.json"
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); n=[f["name"] for f in j["figures"]]; assert n == ["create","stat"], n' \
	"$T/two.json" || fail "-w stat -w create: not both figures"

echo "# JSON and CSV on standard output, no table"
"$BENCH" -w stat -n 5 -r 1 --json - "$T/local" >"$T/stdout.json" 2>"$T/stdout.err"
"$PY" -m json.tool "$T/stdout.json" >/dev/null || fail "--json - is not JSON alone: $(head -3 "$T/stdout.json")"
"$BENCH" -w stat -n 5 -r 1 --csv - "$T/local" >"$T/stdout.csv"
[ "$(head -1 "$T/stdout.csv")" = "figure,unit,target,kind,median,min,max,ratio,samples" ] &&
	[ "$(wc -l <"$T/stdout.csv")" -eq 2 ] || fail "--csv - is not CSV alone: $(cat "$T/stdout.csv")"

echo "# plot"
if command -v gnuplot >/dev/null; then
	"$BENCH" -w stat,create -n 5 -r 1 -q a="$T/local" b="$T/local" --plot "$T/p.svg"
	grep -q '<svg' "$T/p.svg" || fail "--plot did not draw an SVG"
fi
set +e
PATH=/nonexistent "$BENCH" -w stat -n 5 -r 1 -q "$T/local" --plot "$T/q.svg" 2>"$T/err"
rc=$?
set -e
[ "$rc" -ne 0 ] && grep -q 'gnuplot' "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ] ||
	fail "--plot without gnuplot: exit $rc, $(cat "$T/err")"
[ ! -e "$T/q.svg" ] || fail "--plot without gnuplot drew something"

echo "# bad arguments: one line on stderr, non-zero exit, nothing run"
# expect_bad PATTERN ARG...: podfs-bench ARG... fails with exactly one
# line on stderr that starts with "podfs-bench:" and matches PATTERN
expect_bad() {
	local pattern=$1 rc
	shift
	set +e
	timeout 60 "$BENCH" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] ||
		fail "podfs-bench $*: exit $rc, wanted an error"
	[ "$(wc -l <"$T/err")" -eq 1 ] ||
		fail "podfs-bench $*: wanted one line on stderr, got: $(cat "$T/err")"
	grep -Eq "^podfs-bench: .*($pattern)" "$T/err" ||
		fail "podfs-bench $*: '$(cat "$T/err")' does not match '$pattern'"
	[ ! -s "$T/out" ] || fail "podfs-bench $*: printed on stdout: $(cat "$T/out")"
}
expect_bad 'no target' -r 1
expect_bad "unknown workload 'sequential'" -w sequential "$T/local"
expect_bad 'more than 0' -s 0 "$T/local"
expect_bad "'-5' is not a size" -s -5 "$T/local"
expect_bad "'1Q' is not a size" -b 1Q "$T/local"
expect_bad 'number from 1' -j 0 "$T/local"
expect_bad "'-1' is not a positive number" -n -1 "$T/local"
expect_bad 'not a time' -t 0 "$T/local"
expect_bad 'smaller than one random block' -s 1K "$T/local"
expect_bad 'cannot write' --json "$T/none/x.json" "$T/local"
expect_bad '\.svg or \.png' --plot "$T/x.txt" "$T/local"
expect_bad 'unknown option' --frobnicate "$T/local"
expect_bad 'kind of target' "$PODFS_TEST_NFS3"
expect_bad 'No such file or directory' "$T/missing"
expect_bad 'Not a directory' "$T/nfs3.json"
expect_bad 'refused|unreachable|cannot|timed out' -r 1 "podfs:nfs://127.0.0.1/export?vers=3&nfsport=1&mountport=1&timeo=20&retrans=0&soft"
expect_bad 'refused|unreachable|cannot|timed out' -r 1 "libnfs:nfs://127.0.0.1/export?vers=3&nfsport=1&mountport=1&timeo=20&retrans=0&soft"
expect_bad 'not an NFS source' -r 1 "libnfs:$CEPH"
expect_bad 'no answer|unreachable|timed out|cannot' -r 1 "libcephfs:ceph://podfs@127.0.0.1:1/?secretfile=$PODFS_TEST_CEPH_SECRETFILE&timeo=30"
expect_bad 'not a Ceph|not a CephFS|ceph://' -r 1 "libcephfs:$PODFS_TEST_NFS4"
no_leftovers "$PODFS_TEST_NFS_DIR"
echo "PASS"
