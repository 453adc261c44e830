#!/usr/bin/env bash
# Installs what podfs needs to build, to run its tests against real
# servers and to run its benchmarks (bench/compare.sh), from Debian 12's
# packages. Run as root (or through sudo).
set -euo pipefail

packages=(
	# build
	build-essential autoconf automake libtool pkg-config
	libnfs-dev libcephfs-dev uuid-dev libssl-dev libfuse3-dev libjson-c-dev check
	# the real test servers: nfs-ganesha and a one-node Ceph cluster
	nfs-ganesha nfs-ganesha-vfs rpcbind
	ceph-mon ceph-osd ceph-mds ceph-mgr ceph-common python3-cephfs
	# test tools
	fuse3 iproute2 util-linux procps valgrind nginx curl
	# network faults between test hosts (tests/e2e/netfault.sh)
	nftables
	# fuzzing: clang with libFuzzer (tests/fuzz)
	clang
	# benchmarks
	ceph-fuse gnuplot-nox fio
)

if [ "$(id -u)" -ne 0 ]; then
	exec sudo "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y "${packages[@]}"
