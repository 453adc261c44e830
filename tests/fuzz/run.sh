#!/usr/bin/env bash
# Builds every libFuzzer target (clang, ASan + UBSan, the whole library
# instrumented) and runs each for SECONDS from its seed corpus, printing
# per target the executions and any crash.
#   tests/fuzz/run.sh SECONDS      (CI: a short run; a long run: 600 or more)
#   FUZZ_BUILD=DIR                 build there (default: build-fuzz/)
#   FUZZ_KEEP=DIR                  keep the grown corpora and crashes there
# A crash leaves its input (crash-*) and the target's report; the input
# becomes a regression file in tests/fuzz/corpus/TARGET/ once fixed.
set -euo pipefail

secs=${1:?usage: tests/fuzz/run.sh SECONDS}
[[ $secs =~ ^[0-9]+$ ]] || { echo "run.sh: SECONDS must be a number: $secs" >&2; exit 2; }
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-$top/build-fuzz}
targets="fuzz_source fuzz_mount_options fuzz_flexvolume"

command -v clang >/dev/null || { echo "run.sh: clang is needed (apt-get install clang)" >&2; exit 1; }
mkdir -p "$build"
if [ ! -f "$build/Makefile" ]; then
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
	(cd "$build" && CC=clang "$top/configure" --enable-fuzzing >/dev/null)
fi
# shellcheck disable=SC2086
make -C "$build" -j"$(nproc)" $(for t in $targets; do echo "tests/fuzz/$t"; done) >/dev/null

work=$(mktemp -d /tmp/podfs-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
for t in $targets; do
	mkdir -p "$work/$t/corpus" "$work/$t/crash"
	cp "$top/tests/fuzz/corpus/$t/"* "$work/$t/corpus/"
	set +e
	"$build/tests/fuzz/$t" -max_total_time="$secs" -print_final_stats=1 \
		-timeout=10 -rss_limit_mb=1024 -artifact_prefix="$work/$t/crash/" \
		"$work/$t/corpus" >"$work/$t/log" 2>&1
	rc=$?
	set -e
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")
	crashes=$(find "$work/$t/crash" -type f | wc -l)
	printf 'fuzz: %-20s %s s, %s executions, corpus %s inputs, %s crash(es)\n' \
		"$t" "$secs" "${execs:-?}" "$(find "$work/$t/corpus" -type f | wc -l)" "$crashes"
	if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
		failed=1
		echo "fuzz: $t FAILED (exit $rc):" >&2
		grep -A 30 -m 1 -E 'ERROR: |runtime error|deadly signal' "$work/$t/log" >&2 || tail -n 30 "$work/$t/log" >&2
		for c in "$work/$t/crash"/*; do
			[ -f "$c" ] || continue
			echo "fuzz: input $(basename "$c"): $(od -An -c "$c" | head -c 400)" >&2
		done
	fi
	if [ -n "${FUZZ_KEEP:-}" ]; then
		mkdir -p "$FUZZ_KEEP/$t"
		cp -r "$work/$t/." "$FUZZ_KEEP/$t/"
	fi
done
exit "$failed"
