#!/usr/bin/env bash
# Start/stop a private nfs-ganesha (FSAL VFS) test server.
#
#   nfs-server.sh start SCRATCH   export SCRATCH/export over NFSv3+NFSv4 (TCP)
#   nfs-server.sh stop  SCRATCH   stop it (idempotent)
#   nfs-server.sh down  SCRATCH   stop it but keep its ports and nfs.env,
#                                 like a crashed server (for recovery tests)
#   nfs-server.sh up    SCRATCH   start it again after `down`, on the same
#                                 ports with the same export (file handles
#                                 stay valid: FSAL VFS handles are persistent)
#   nfs-server.sh restart SCRATCH down, wait NFS_RESTART_DOWN s (default 0), up
#
# All state lives under SCRATCH; nothing in /etc/ganesha, /run/ganesha,
# /var/lib/nfs or the host's rpcbind is used.  See README.md for why each
# odd config line is there.  Environment:
#   NFS_PORT, MNT_PORT    fixed ports instead of random free ones
#   NFS_START_TIMEOUT     seconds to wait for the server (default 30)
#   NFS_RESTART_DOWN      seconds `restart` keeps the server down (default 0)
#   NFS_LEASE_LIFETIME    NFSv4 lease in seconds (default: ganesha's, 60)
#   NFS_GRACE_PERIOD      NFSv4 grace period in seconds after a start, when
#                         only reclaims of earlier state are allowed
#                         (default: none, Graceless)
#   NFS_NETNS, NFS_HOST   run ganesha in the network namespace NFS_NETNS
#                         (a path, as /run/netns/NAME) and serve on its
#                         address NFS_HOST (default: the host's namespace,
#                         127.0.0.1): a server host of its own, for tests
#                         of network faults (tests/e2e/netfault.sh)
#
# Layout of SCRATCH:
#   export/               the exported directory (PODFS_TEST_NFS_DIR)
#   nfs.env               env file for the tests (written when up)
#   ganesha.pid           pid of ganesha.nfsd
#   nfs.ports             "NFS_PORT MNT_PORT" of the last start (for `up`)
#   rpcbind.pid           pid of the private rpcbind
#   nfs/                  ganesha.conf, ganesha.log, recovery/, ccache/, *.out
#
# How NFSv3 registration works without touching the host:
# ganesha insists on registering MOUNT and NFS v3 with rpcbind at start-up
# (and unregisters at shutdown); it reaches rpcbind through the unix socket
# /run/rpcbind.sock (falling back to [::1]:111).  We therefore
#   1. create a private mount namespace (unshare -m) with a fresh tmpfs on
#      /run (/var/run is a symlink to it), which also hides the host's dbus
#      socket and any /run/ganesha;
#   2. start rpcbind inside that mount namespace AND in its own network
#      namespace holding only loopback (unshare -n): Debian's rpcbind always
#      binds the wildcard address (its -h option crashes), but there the
#      wildcard is private.  Its unix socket lands in the private /run;
#   3. exec ganesha.nfsd in the same private mount namespace but in the HOST
#      network namespace, so it registers through the private unix socket
#      and clients on the host's 127.0.0.1 reach it.
# rpcbind is kept running until `stop` stops ganesha (then rpcbind): after
# rpcbind is gone, ganesha's shutdown-time unregistration falls back to the
# host's [::1]:111 and would remove a host rpcbind's NFS registrations if
# one were running.  The private rpcbind listens in its own netns only, so
# keeping it costs nothing.  Both namespaces vanish with their last process.
set -euo pipefail

export SERVERS_TAG=nfs-server
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

usage() {
    echo "usage: $0 start|stop|down|up|restart|status SCRATCH" >&2
    exit 2
}

# Directory of ganesha's FSAL plugins (libfsalvfs.so); Debian's build
# defaults to it, but the documented default is /usr/lib64/ganesha, so say
# it explicitly.
plugins_dir() {
    local d
    for d in /usr/lib/x86_64-linux-gnu/ganesha /usr/lib/"$(uname -m)"-linux-gnu/ganesha \
        /usr/lib64/ganesha /usr/lib/ganesha; do
        [[ -e $d/libfsalvfs.so ]] && { printf '%s' "$d"; return 0; }
    done
    d=$(dirname -- "$(find /usr/lib /usr/lib64 -name libfsalvfs.so -print -quit 2>/dev/null)")
    [[ -e $d/libfsalvfs.so ]] || die "libfsalvfs.so not found: is nfs-ganesha-vfs installed?"
    printf '%s' "$d"
}

# Whether to set Bind_Addr = 127.0.0.1.  ganesha 4.3 resolves Bind_Addr
# with getaddrinfo(AI_ADDRCONFIG) as IPv6 (v4-mapped), and measured:
#   - host with a non-loopback IPv6 address: binds [::ffff:127.0.0.1] (good);
#   - host with non-loopback IPv4 but no non-loopback IPv6: SILENTLY binds
#     the wildcard *:PORT (ganesha bug) -- we warn after start;
#   - only loopback (e.g. a netns with just lo): refuses to start with
#     "No IP address found for 127.0.0.1"; there we leave Bind_Addr out
#     (the wildcard then only covers loopback anyway).
want_bind_addr() {
    [[ -n $(in_ns ip -o addr show scope global 2>/dev/null) ]]
}

write_conf() {
    local conf=$1 nfs_port=$2 mnt_port=$3 bind=$4 bind_line="" lease_line=""
    local grace_line="Graceless = true;"
    [[ $bind == 1 ]] && bind_line="Bind_Addr = $HOST;"
    if [[ -n ${NFS_GRACE_PERIOD:-} ]]; then
        [[ $NFS_GRACE_PERIOD =~ ^[0-9]+$ ]] || die "NFS_GRACE_PERIOD=$NFS_GRACE_PERIOD is not a number of seconds"
        grace_line="Graceless = false; Grace_Period = $NFS_GRACE_PERIOD;"
    fi
    if [[ -n ${NFS_LEASE_LIFETIME:-} ]]; then
        [[ $NFS_LEASE_LIFETIME =~ ^[0-9]+$ ]] || die "NFS_LEASE_LIFETIME=$NFS_LEASE_LIFETIME is not a number of seconds"
        lease_line="Lease_Lifetime = $NFS_LEASE_LIFETIME;"
    fi
    cat >"$conf" <<EOF
# Generated by tests/servers/nfs-server.sh -- do not edit.
NFS_CORE_PARAM {
    # No NLM/RQUOTA/UDP: fewer ports, and nothing to register but MOUNT+NFS.
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Enable_UDP = false;
    # NFSv3 clients mount the pseudo path (/export) like NFSv4 ones.
    mount_path_pseudo = true;
    Protocols = 3, 4;
    # An NFSv3 mount's locks go through NFSv4 with the NFSv3 file handles
    # (ganesha pads those; knfsd's are the same for both versions).
    Enable_V3fh_Validation_For_V4 = true;
    NFS_Port = $nfs_port;
    MNT_Port = $mnt_port;
    $bind_line
    Plugins_Dir = "$PLUGINS_DIR";
    # No dbus heartbeat (there is no dbus in our private /run anyway).
    heartbeat_freq = 0;
}
NFSv4 {
    # Without Graceless every start has a 90 s grace period during which
    # OPEN fails with NFS4ERR_GRACE (NFS_GRACE_PERIOD sets one, for the
    # tests of reclaims).
    $grace_line
    $lease_line
    # Otherwise owners are mapped through idmapd and show up as 65534.
    Only_Numeric_Owners = true;
    # Default is /var/lib/nfs/ganesha.
    RecoveryRoot = "$NFSDIR/recovery";
}
NFS_KRB5 {
    Active_krb5 = false;
    # Default is /var/run/ganesha.
    CCacheDir = "$NFSDIR/ccache";
}
LOG {
    Default_Log_Level = EVENT;
    # TIRPC is chatty (every closed connection) at the default level.
    Components { TIRPC = CRIT; }
}
EXPORT {
    Export_Id = 1;
    Path = "$EXPORT_DIR";
    Pseudo = /export;
    Access_Type = RW;
    Squash = No_Root_Squash;
    Protocols = 3, 4;
    Transports = TCP;
    SecType = sys;
    FSAL { Name = VFS; }
}
EOF
}

# The program run inside the private mount namespace (see top comment).
# Arguments: SCRATCH NFSDIR CONF
# shellcheck disable=SC2016  # single quotes intended: expanded by the inner bash
INNER='
set -euo pipefail
scratch=$1 nfsdir=$2 conf=$3 netns=$4
echo $$ >"$scratch/ganesha.pid"
# the network namespace of the server host, held open: /run is covered next
[[ -z $netns ]] || exec 9<"$netns"
mount -t tmpfs -o mode=0755,size=8m podfs-nfs-run /run
# FUSE mounts copied into this namespace (a client mounted before a
# restart) would keep their daemons alive for as long as the server runs
awk "{ for (i = 7; i <= NF; i++) if (\$i == \"-\") { if (\$(i + 1) ~ /^fuse/) print \$5; break } }" \
    /proc/self/mountinfo | while read -r d; do umount -l "$(printf %b "$d")" 2>/dev/null || true; done
# rpcbind: own netns with only lo up; orphaned at once so that PID 1, not
# ganesha (which never reaps children), becomes its parent.
( unshare --net -- /bin/bash -c '\''echo $$ >"$1"; ip link set lo up; exec rpcbind -f'\'' \
    rpcbind "$scratch/rpcbind.pid" </dev/null >"$nfsdir/rpcbind.out" 2>&1 & )
for _ in $(seq 100); do
    [[ -S /run/rpcbind.sock ]] && break
    sleep 0.05
done
[[ -S /run/rpcbind.sock ]] || { echo "private rpcbind did not create /run/rpcbind.sock" >&2; exit 1; }
[[ -z $netns ]] ||
    exec nsenter --net=/proc/self/fd/9 -- ganesha.nfsd -F -f "$conf" -L "$nfsdir/ganesha.log" -p "$nfsdir/ganesha.nfsd.pid"
exec ganesha.nfsd -F -f "$conf" -L "$nfsdir/ganesha.log" -p "$nfsdir/ganesha.nfsd.pid"
'

# in_ns CMD...: CMD in the server's network namespace
in_ns() {
    if [[ -n $NETNS ]]; then nsenter --net="$NETNS" -- "$@"; else "$@"; fi
}

stop_all() {
    stop_pidfile "$SCRATCH/ganesha.pid" ganesha.nfsd 20
    stop_pidfile "$SCRATCH/rpcbind.pid" rpcbind 10
}

# Try once with the given ports.  Returns 0 when serving, 1 otherwise
# (daemons stopped again, log left in place).
try_start() {
    local nfs_port=$1 mnt_port=$2 deadline pid
    write_conf "$CONF" "$nfs_port" "$mnt_port" "$BIND"
    : >"$NFSDIR/ganesha.log"
    rm -f -- "$SCRATCH/ganesha.pid" "$SCRATCH/rpcbind.pid"
    setsid unshare --mount --propagation private -- /bin/bash -c "$INNER" nfs-ns \
        "$SCRATCH" "$NFSDIR" "$CONF" "$NETNS" </dev/null >"$NFSDIR/ganesha.out" 2>&1 {SERVERS_ERRFD}>&- &
    pid=$!
    # Record it at once so that `stop` works even if we die right here;
    # unshare and setsid exec (no fork), so this is ganesha's pid too.
    echo "$pid" >"$SCRATCH/ganesha.pid"
    deadline=$(($(now_ms) + START_TIMEOUT * 1000))
    while (($(now_ms) < deadline)); do
        if ! pid_alive "$pid"; then
            wait "$pid" 2>/dev/null || true
            log "ganesha.nfsd exited during start-up"
            break
        fi
        if grep -q 'NFS SERVER INITIALIZED' "$NFSDIR/ganesha.log" 2>/dev/null &&
            in_ns ss -Hltnp "( sport = :$nfs_port )" 2>/dev/null | grep -q "pid=$pid," &&
            in_ns ss -Hltnp "( sport = :$mnt_port )" 2>/dev/null | grep -q "pid=$pid," &&
            in_ns bash -c "$TCP_ANSWERS" _ "$HOST" "$nfs_port" &&
            in_ns bash -c "$TCP_ANSWERS" _ "$HOST" "$mnt_port"; then
            return 0
        fi
        sleep 0.1
    done
    pid_alive "$pid" && log "ganesha did not answer on $HOST:$nfs_port/$mnt_port within ${START_TIMEOUT}s"
    stop_all
    return 1
}

cmd_start() {
    local t0 attempts nfs_port mnt_port n ok=0 listen p
    t0=$(now_ms)
    command -v ganesha.nfsd >/dev/null || die "ganesha.nfsd not found (apt-get install nfs-ganesha nfs-ganesha-vfs)"
    command -v rpcbind >/dev/null || die "rpcbind not found (apt-get install rpcbind)"
    ((EUID == 0)) || die "must run as root (mount/network namespaces, NFS ports)"
    if pidfile_alive "$SCRATCH/ganesha.pid" ganesha.nfsd; then
        die "already running (pid $(pidfile_pid "$SCRATCH/ganesha.pid")); run '$0 stop $SCRATCH' first"
    fi
    stop_all # leftovers of a crashed run, if any
    rm -f -- "$SCRATCH/nfs.env"
    trap 'trap - INT TERM; to_real_stderr; stop_all; die "interrupted"' INT TERM
    mkdir -p -- "$EXPORT_DIR" "$NFSDIR/recovery" "$NFSDIR/ccache"
    # World-writable so tests running as another uid (AUTH_SYS) can write.
    chmod 0777 -- "$EXPORT_DIR"
    PLUGINS_DIR=$(plugins_dir)
    if want_bind_addr; then BIND=1; else BIND=0; fi

    attempts=1
    [[ -z ${NFS_PORT:-} || -z ${MNT_PORT:-} ]] && attempts=3
    for ((n = 1; n <= attempts; n++)); do
        nfs_port=${NFS_PORT:-$(pick_free_port 1)}
        mnt_port=${MNT_PORT:-$(pick_free_port 1)}
        while [[ $mnt_port == "$nfs_port" ]]; do mnt_port=$(pick_free_port 1); done
        for p in "$nfs_port" "$mnt_port"; do
            port_in_use "$p" && die "TCP port $p is already in use ($(ss -Hantp "( sport = :$p )" | head -n 1))"
        done
        if try_start "$nfs_port" "$mnt_port"; then ok=1; break; fi
        if ((BIND == 1)) && grep -q "No IP address found for $HOST" "$NFSDIR/ganesha.log"; then
            log "ganesha cannot resolve Bind_Addr $HOST here; retrying without Bind_Addr"
            BIND=0
            ((n--)) || true
            continue
        fi
        ((n < attempts)) && log "start attempt $n failed (ports $nfs_port/$mnt_port); retrying with other ports"
    done
    if ((!ok)); then
        tail_file "$NFSDIR/ganesha.out" 20
        tail_file "$NFSDIR/rpcbind.out" 20
        tail_file "$NFSDIR/ganesha.log" 40
        die "nfs-ganesha did not start (scratch $SCRATCH)"
    fi

    # What did it really bind?  (Bind_Addr may have been ignored, see above.)
    listen=$(in_ns ss -Hltn "( sport = :$nfs_port or sport = :$mnt_port )" | awk '{print $4}' | sort -u | tr '\n' ' ')
    if [[ $listen == *'*:'* || $listen == *'0.0.0.0:'* || $listen == *'[::]:'* ]]; then
        log "NOTE: ganesha listens on the wildcard address ($listen), not only on $HOST"
        if ((BIND)); then
            log "      (ganesha 4.3 ignores Bind_Addr=127.0.0.1 on hosts without a non-loopback IPv6 address)"
        else
            log "      (Bind_Addr left out: this network namespace has only loopback addresses)"
        fi
    fi

    echo "$nfs_port $mnt_port" >"$SCRATCH/nfs.ports"
    {
        echo "# Written by tests/servers/nfs-server.sh; source with: set -a; . THIS_FILE; set +a"
        env_line PODFS_TEST_NFS_HOST "$HOST"
        env_line PODFS_TEST_NFS_PORT "$nfs_port"
        env_line PODFS_TEST_NFS_MNTPORT "$mnt_port"
        env_line PODFS_TEST_NFS_EXPORT /export
        env_line PODFS_TEST_NFS_DIR "$EXPORT_DIR"
        env_line PODFS_TEST_NFS3 "nfs://$HOST/export?vers=3&nfsport=$nfs_port&mountport=$mnt_port"
        env_line PODFS_TEST_NFS4 "nfs://$HOST/export?vers=4&port=$nfs_port"
    } >"$SCRATCH/nfs.env.tmp"
    mv -f -- "$SCRATCH/nfs.env.tmp" "$SCRATCH/nfs.env"
    log "ganesha pid $(pidfile_pid "$SCRATCH/ganesha.pid") (rpcbind pid $(pidfile_pid "$SCRATCH/rpcbind.pid")) serving $EXPORT_DIR as $HOST:/export, NFS port $nfs_port, MOUNT port $mnt_port, listening on: $listen"
    log "started in $(($(now_ms) - t0)) ms; env in $SCRATCH/nfs.env"
}

cmd_stop() {
    stop_all
    rm -f -- "$SCRATCH/nfs.env" "$SCRATCH/nfs.ports"
    log "stopped (scratch $SCRATCH)"
}

# A server restart as clients see it: ganesha (and its rpcbind) go away,
# the kernel closes their sockets, so connections drop at once and new ones
# are refused; the ports and nfs.env stay for `up`.  (A machine that
# reboots would rather stop answering for a while: not modelled here.)
cmd_down() {
    [[ -f $SCRATCH/nfs.ports ]] || die "no $SCRATCH/nfs.ports: was the server started with '$0 start $SCRATCH'?"
    stop_all
    log "down (scratch $SCRATCH; '$0 up $SCRATCH' starts it again)"
}

# Starts the server again on the ports of the last start.  No port_in_use
# check: the old server's connections linger in TIME-WAIT on those ports,
# and ganesha binds them anyway (SO_REUSEADDR).
cmd_up() {
    local t0 nfs_port mnt_port
    t0=$(now_ms)
    [[ -f $SCRATCH/nfs.ports && -f $SCRATCH/nfs.env ]] ||
        die "no $SCRATCH/nfs.ports or nfs.env: run '$0 start $SCRATCH' first"
    read -r nfs_port mnt_port <"$SCRATCH/nfs.ports"
    [[ $nfs_port =~ ^[0-9]+$ && $mnt_port =~ ^[0-9]+$ ]] || die "bad $SCRATCH/nfs.ports"
    if pidfile_alive "$SCRATCH/ganesha.pid" ganesha.nfsd; then
        log "already up (pid $(pidfile_pid "$SCRATCH/ganesha.pid"))"
        return 0
    fi
    stop_all
    trap 'trap - INT TERM; to_real_stderr; stop_all; die "interrupted"' INT TERM
    PLUGINS_DIR=$(plugins_dir)
    # The same Bind_Addr choice as the last start, read back from its config.
    if grep -q '^ *Bind_Addr' "$CONF" 2>/dev/null; then BIND=1; else BIND=0; fi
    if ! try_start "$nfs_port" "$mnt_port"; then
        tail_file "$NFSDIR/ganesha.out" 20
        tail_file "$NFSDIR/ganesha.log" 40
        die "nfs-ganesha did not start again on ports $nfs_port/$mnt_port (scratch $SCRATCH)"
    fi
    log "up again: ganesha pid $(pidfile_pid "$SCRATCH/ganesha.pid"), NFS port $nfs_port, MOUNT port $mnt_port, in $(($(now_ms) - t0)) ms"
}

cmd_restart() {
    local down=${NFS_RESTART_DOWN:-0}
    [[ $down =~ ^[0-9]+([.][0-9]+)?$ ]] || die "NFS_RESTART_DOWN=$down is not a number of seconds"
    cmd_down
    sleep "$down"
    cmd_up
}

cmd_status() {
    if pidfile_alive "$SCRATCH/ganesha.pid" ganesha.nfsd; then
        echo "running: ganesha pid $(pidfile_pid "$SCRATCH/ganesha.pid")"
        [[ -f $SCRATCH/nfs.env ]] && cat -- "$SCRATCH/nfs.env"
        return 0
    fi
    echo "not running"
    return 1
}

(($# == 2)) || usage
[[ -n $2 ]] || usage
SCRATCH=$(abs_path "$2")
EXPORT_DIR=$SCRATCH/export
NFSDIR=$SCRATCH/nfs
CONF=$NFSDIR/ganesha.conf
START_TIMEOUT=${NFS_START_TIMEOUT:-30}
NETNS=${NFS_NETNS:-}
HOST=${NFS_HOST:-127.0.0.1}
[[ -z $NETNS || -e $NETNS ]] || die "NFS_NETNS=$NETNS: no such network namespace"
# TCP_ANSWERS HOST PORT (bash -c): does HOST:PORT accept a connection?
# shellcheck disable=SC2016  # expanded by that bash
TCP_ANSWERS='timeout 2 bash -c '\''exec 3<>"/dev/tcp/$1/$2"'\'' _ "$1" "$2" 2>/dev/null'
BIND=1
PLUGINS_DIR=

case $1 in
start) mkdir -p -- "$SCRATCH"; cmd_start ;;
stop) cmd_stop ;;
down) cmd_down ;;
up) cmd_up ;;
restart) cmd_restart ;;
status) cmd_status ;;
*) usage ;;
esac
