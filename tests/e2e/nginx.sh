#!/usr/bin/env bash
# nginx serves what another container writes: a "writer" container puts
# files into the pod volume, Debian's nginx (its own container, root in the
# volume, workers as www-data, sendfile and open_file_cache off) serves them
# on a loopback port, and curl must get exactly the bytes written - also
# after a file was replaced (temp + rename, in-place rewrites) once nginx
# had served the old version, and after another node (a second mount of the
# same export) replaced files: close-to-open. NFSv3, NFSv4 and CephFS.
# shellcheck disable=SC2016 # the containers' scripts are single-quoted on purpose
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
need_env PODFS_TEST_NFS3 PODFS_TEST_NFS4 PODFS_TEST_CEPH PODFS_TEST_CEPH_SECRETFILE
command -v nginx >/dev/null || fail "nginx is not installed (Debian package nginx)"
command -v curl >/dev/null || fail "curl is not installed"

# writer LABEL VOL SCRIPT [ARG...]: SCRIPT runs in the writer container,
# cwd = its view of the volume
writer() {
	local label=$1 vol=$2 script=$3
	shift 3
	in_container "$label-writer" "$vol" "$BASH" -c "set -e; $script" writer "$@" ||
		fail "$label: the writer container failed: $script"
}

# expect_served LABEL URLPATH FILE WHAT: GET /URLPATH answers 200 with
# exactly FILE's bytes
expect_served() {
	local label=$1 path=$2 want=$3 what=$4 got=$T/$1/got code
	code=$(curl -sS --max-time 20 -o "$got" -w '%{http_code}' \
		"http://127.0.0.1:$PORT/$path" 2>&1) ||
		fail "$label: GET /$path $what: curl failed: $code$(nginx_errors "$label")"
	[ "$code" = 200 ] ||
		fail "$label: GET /$path $what: HTTP $code, expected 200$(nginx_errors "$label")"
	if ! cmp -s "$want" "$got"; then
		local f old=
		for f in "$T/$label/src"/*; do
			! cmp -s "$f" "$got" || old=" - an older version: $(basename "$f")"
		done
		fail "$label: GET /$path $what: served $(stat -c %s "$got") bytes that differ from the $(stat -c %s "$want") written$old ($(cmp "$want" "$got" 2>&1 | head -n 1))"
	fi
}

nginx_errors() {
	local log=$T/$1/nginx/error.log
	[ -s "$log" ] || return 0
	printf '\nnginx error.log:\n%s' "$(grep -E '\[(emerg|alert|crit|error)\]' "$log" | tail -n 5)"
}

start_nginx() {
	local label=$1 vol=$2 prefix=$T/$1/nginx n=0
	mkdir -p "$prefix/tmp"
	PORT=$(free_port)
	cat >"$prefix/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 2;
user www-data;
pid $prefix/nginx.pid;
error_log $prefix/error.log info;
events { worker_connections 64; }
http {
	access_log $prefix/access.log;
	client_body_temp_path $prefix/tmp/body;
	proxy_temp_path $prefix/tmp/proxy;
	fastcgi_temp_path $prefix/tmp/fastcgi;
	uwsgi_temp_path $prefix/tmp/uwsgi;
	scgi_temp_path $prefix/tmp/scgi;
	default_type application/octet-stream;
	sendfile off;
	open_file_cache off;
	log_not_found off;
	server {
		listen 127.0.0.1:$PORT;
		root $T/$label-nginx/shared/site;
		location / { }
	}
}
EOF
	start_container "$label-nginx" "$vol" \
		nginx -e "$prefix/error.log" -p "$prefix" -c "$prefix/nginx.conf"
	NGINX=$CONTAINER
	until curl -s -o /dev/null "http://127.0.0.1:$PORT/"; do
		alive "$NGINX" || fail "$label: nginx exited at start$(nginx_errors "$label")"
		n=$((n + 1))
		[ "$n" -le 100 ] || fail "$label: nginx does not answer on port $PORT after 10 s"
		sleep 0.1
	done
}

serve_case() {
	local label=$1 src=$2 vol src_dir daemon node2 daemon2
	shift 2
	vol=$T/$label/vol
	src_dir=$T/$label/src
	mkdir -p "$src_dir"
	podfs_mount "$src" "$vol" "$@"
	daemon=$DAEMON
	rm -rf "$vol/site"

	# what the writer publishes
	head -c 1500 /dev/urandom | base64 >"$src_dir/index.html"
	head -c $((3 * 1048576 + 4321)) /dev/urandom >"$src_dir/big.bin"
	echo "nested $label" >"$src_dir/nested.txt"
	: >"$src_dir/empty.txt"
	writer "$label" "$vol" '
		mkdir -p site/sub/dir
		cp "$1/index.html" "$1/big.bin" "$1/empty.txt" site/
		cp "$1/nested.txt" site/sub/dir/' "$src_dir"

	start_nginx "$label" "$vol"
	expect_served "$label" index.html "$src_dir/index.html" "(first version)"
	expect_served "$label" big.bin "$src_dir/big.bin" "(first version)"
	expect_served "$label" sub/dir/nested.txt "$src_dir/nested.txt" "(first version)"
	expect_served "$label" empty.txt "$src_dir/empty.txt" "(empty file)"
	local code
	code=$(curl -s --max-time 20 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope.html")
	[ "$code" = 404 ] || fail "$label: GET /nope.html: HTTP $code, expected 404"

	# replaced by rename: new content (another size), same name
	head -c 2500 /dev/urandom | base64 >"$src_dir/index.html.2"
	writer "$label" "$vol" 'cat "$1" >site/.index.html.tmp; mv -f site/.index.html.tmp site/index.html' \
		"$src_dir/index.html.2"
	expect_served "$label" index.html "$src_dir/index.html.2" "(replaced by rename)"

	# rewritten in place: same size, other bytes
	head -c "$(stat -c %s "$src_dir/big.bin")" /dev/urandom >"$src_dir/big.bin.2"
	writer "$label" "$vol" 'cat "$1" >site/big.bin' "$src_dir/big.bin.2"
	expect_served "$label" big.bin "$src_dir/big.bin.2" "(rewritten in place, same size)"

	# rewritten in place: shorter, then longer
	head -c 70000 /dev/urandom >"$src_dir/big.bin.3"
	writer "$label" "$vol" 'cat "$1" >site/big.bin' "$src_dir/big.bin.3"
	expect_served "$label" big.bin "$src_dir/big.bin.3" "(rewritten in place, shorter)"
	head -c 1300000 /dev/urandom >"$src_dir/big.bin.4"
	writer "$label" "$vol" 'cat "$1" >site/big.bin' "$src_dir/big.bin.4"
	expect_served "$label" big.bin "$src_dir/big.bin.4" "(rewritten in place, longer)"

	# another node (a second, independent mount of the same export) replaces
	# files nginx just served: once the writer closed them, the next open on
	# this node must see the new bytes (close-to-open), however fresh this
	# node's caches were
	node2=$T/$label/node2
	podfs_mount "$src" "$node2" "$@"
	daemon2=$DAEMON
	head -c 4000 /dev/urandom | base64 >"$src_dir/index.html.5"
	expect_served "$label" index.html "$src_dir/index.html.2" "(just before another node replaces it)"
	cat "$src_dir/index.html.5" >"$node2/site/.index.html.tmp"
	mv -f "$node2/site/.index.html.tmp" "$node2/site/index.html"
	expect_served "$label" index.html "$src_dir/index.html.5" "(replaced by rename on another node)"
	head -c 2000000 /dev/urandom >"$src_dir/big.bin.6"
	expect_served "$label" big.bin "$src_dir/big.bin.4" "(just before another node rewrites it)"
	cat "$src_dir/big.bin.6" >"$node2/site/big.bin"
	expect_served "$label" big.bin "$src_dir/big.bin.6" "(rewritten in place, longer, on another node)"
	echo "nested $label, other node, same size" | head -c "$(stat -c %s "$src_dir/nested.txt")" >"$src_dir/nested.txt.7"
	expect_served "$label" sub/dir/nested.txt "$src_dir/nested.txt" "(just before another node rewrites it)"
	cat "$src_dir/nested.txt.7" >"$node2/site/sub/dir/nested.txt"
	expect_served "$label" sub/dir/nested.txt "$src_dir/nested.txt.7" "(rewritten in place, same size, on another node)"
	podfs_umount "$node2" "$daemon2"

	stop_container "$NGINX"
	if grep -E '\[(emerg|alert|crit|error)\]' "$T/$label/nginx/error.log"; then
		fail "$label: nginx logged errors (above)"
	fi
	rm -rf "$vol/site"
	podfs_umount "$vol" "$daemon"
}

run_case nfs3 serve_case nfs3 "$PODFS_TEST_NFS3"
run_case nfs4 serve_case nfs4 "$PODFS_TEST_NFS4"
run_case ceph serve_case ceph "$PODFS_TEST_CEPH" -o "$(ceph_opts)"
e2e_done
