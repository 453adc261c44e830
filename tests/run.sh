#!/usr/bin/env bash
# The whole test run, as CI does it on a fresh Debian 12 machine: install
# the packages, build with warnings as errors, start the real NFS and Ceph
# servers in a scratch directory, run every test, stop the servers.
#   tests/run.sh            everything
#   PODFS_SKIP_INSTALL=1    do not run apt-get (packages already there)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc)

step() { printf '\n==== %s (%ss)\n' "$*" "$SECONDS"; }

if [ "${PODFS_SKIP_INSTALL:-0}" != 1 ]; then
	step "installing packages"
	./tests/install-deps.sh
fi

step "building"
# an in-tree configure would stop the out-of-tree builds below
[ ! -f Makefile ] || make distclean >/dev/null
autoreconf -fi
# out of tree, so a second build with sanitizers can sit beside it
rm -rf build build-san build-fuzz
mkdir build build-san
(cd build && ../configure --enable-werror && make -j"$jobs")
(cd build-san && ../configure --enable-werror --enable-sanitizers && make -j"$jobs")

scratch=$(mktemp -d /tmp/podfs-test.XXXXXX)
stop_servers() {
	step "stopping servers"
	./tests/servers/servers.sh stop "$scratch" || true
	rm -rf "$scratch"
}
trap stop_servers EXIT

step "starting real servers in $scratch"
./tests/servers/servers.sh start "$scratch"
set -a
# shellcheck source=/dev/null
. "$scratch/nfs.env"
# shellcheck source=/dev/null
. "$scratch/ceph.env"
set +a

# make check in build dir $1; on failure the failed tests' logs, whole
# and last, so the end of a cut CI record still shows what failed
check_in() {
	if ! make -C "$1" -j"$jobs" check; then
		local trs
		for trs in "$1"/tests/*/*.trs; do
			grep -q '^:test-result: \(FAIL\|ERROR\)' "$trs" || continue
			printf '\n==== failed: %s\n' "${trs%.trs}"
			cat "${trs%.trs}.log"
		done
		exit 1
	fi
}

step "make check"
check_in build

step "make check under AddressSanitizer and UndefinedBehaviorSanitizer"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
LSAN_OPTIONS=suppressions="$top/tests/lsan.supp":print_suppressions=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	check_in build-san

step "valgrind memcheck of the unit and integration suites"
# PODFS_TEST_SMALL: test_cache scales its big transfers down under valgrind
for t in tests/unit/test_config tests/integration/test_volume tests/integration/test_nfs \
	tests/integration/test_cache; do
	(cd build && PODFS_TEST_SMALL=1 ./libtool --mode=execute valgrind -q --error-exitcode=9 \
		--leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
		--suppressions="$top/tests/valgrind.supp" "$t")
done
# podfs-bench on all four kinds of target, every workload, verified
mkdir "$scratch/vg-local"
valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
	--suppressions="$top/tests/valgrind.supp" build/bench/podfs-bench \
	-s 2M -n 20 -t 0.2 -r 1 -j 2 --verify -q "$scratch/vg-local" \
	"podfs:$PODFS_TEST_NFS3" "libnfs:$PODFS_TEST_NFS4" \
	"podfs:$PODFS_TEST_CEPH?fs=$PODFS_TEST_CEPH_FS&secretfile=$PODFS_TEST_CEPH_SECRETFILE" \
	"libcephfs:$PODFS_TEST_CEPH?fs=$PODFS_TEST_CEPH_FS&secretfile=$PODFS_TEST_CEPH_SECRETFILE"

step "README quick start, built against an installed tree"
dest="$scratch/install"
make -C build install DESTDIR="$dest" >/dev/null
awk '/<!-- quickstart begin -->/{on=1; next} /<!-- quickstart end -->/{on=0}
     on && !/^```/' README.md >"$scratch/hello.c"
prefix=$(sed -n 's/^prefix=//p' build/libpodfs/libpodfs.pc)
export PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_PATH="$dest$prefix/lib/pkgconfig"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror "$scratch/hello.c" -o "$scratch/hello" \
	$(pkg-config --cflags --libs libpodfs)
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
out=$(LD_LIBRARY_PATH="$dest$prefix/lib" "$scratch/hello" "$PODFS_TEST_NFS3")
echo "$out"
[ "$out" = "read back: hello from a pod" ]

step "bench/compare.sh --quick: the benchmark end to end, on its own servers"
./bench/compare.sh --quick -B build -o "$scratch/bench-results"

step "fuzzing: every parser of outside input, a short run (long: tests/fuzz/run.sh 600)"
FUZZ_BUILD="$top/build-fuzz" ./tests/fuzz/run.sh "${PODFS_FUZZ_SECONDS:-20}"

step "make distcheck"
make -C build -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror

step "all tests passed"
