#!/usr/bin/env bash
# Start/stop the podfs test servers together.
#
#   servers.sh start  SCRATCH [nfs|ceph|all]   (default all)
#   servers.sh stop   SCRATCH [nfs|ceph|all]
#   servers.sh status SCRATCH [nfs|ceph|all]
#   servers.sh env    SCRATCH [nfs|ceph|all]   print the env file(s)
#   servers.sh down|up|restart SCRATCH [nfs]   NFS only: stop ganesha keeping
#                                              its ports, start it again there
#                                              (see nfs-server.sh)
#
# `start all` is all-or-nothing: if the second server fails, the first is
# stopped again.  Tests load the variables with:
#   set -a; . <(tests/servers/servers.sh env "$SCRATCH"); set +a
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

usage() {
    echo "usage: $0 start|stop|status|env SCRATCH [nfs|ceph|all]" >&2
    echo "       $0 down|up|restart SCRATCH [nfs]" >&2
    exit 2
}

(($# == 2 || $# == 3)) || usage
cmd=$1 scratch=$2 which=${3:-all}
[[ -n $scratch ]] || usage
case $cmd in
down | up | restart)
    # Only the NFS server can be taken down and brought back in place.
    [[ $which == nfs || -z ${3:-} ]] || usage
    exec "$here/nfs-server.sh" "$cmd" "$scratch"
    ;;
esac
case $which in
nfs) servers=(nfs) ;;
ceph) servers=(ceph) ;;
all) servers=(nfs ceph) ;;
*) usage ;;
esac

case $cmd in
start)
    started=()
    for s in "${servers[@]}"; do
        if ! "$here/$s-server.sh" start "$scratch"; then
            echo "servers: ERROR: $s server failed to start" >&2
            for t in "${started[@]}"; do
                "$here/$t-server.sh" stop "$scratch" || true
            done
            exit 1
        fi
        started+=("$s")
    done
    ;;
stop)
    rc=0
    for ((i = ${#servers[@]} - 1; i >= 0; i--)); do
        "$here/${servers[i]}-server.sh" stop "$scratch" || rc=1
    done
    exit "$rc"
    ;;
status)
    rc=0
    for s in "${servers[@]}"; do
        echo "== $s"
        "$here/$s-server.sh" status "$scratch" || rc=1
    done
    exit "$rc"
    ;;
env)
    found=0
    for s in "${servers[@]}"; do
        if [[ -f $scratch/$s.env ]]; then
            cat -- "$scratch/$s.env"
            found=1
        elif [[ $which != all ]]; then
            echo "servers: no $scratch/$s.env (is the $s server running?)" >&2
            exit 1
        fi
    done
    ((found)) || { echo "servers: no env files in $scratch (no server running?)" >&2; exit 1; }
    ;;
*) usage ;;
esac
