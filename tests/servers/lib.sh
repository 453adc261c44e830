# shellcheck shell=bash
# Helpers shared by nfs-server.sh and ceph-server.sh.  Sourced, not run.
#
# Everything here works on plain pids recorded in files under the scratch
# directory; nothing ever matches processes by name (no pkill/killall).

# Name used in messages; the sourcing script sets it first.
: "${SERVERS_TAG:=servers}"

# The real stderr, kept so that error paths running as a signal trap
# inside a redirected command (e.g. `probe >/dev/null 2>&1`) still talk
# to the user.
exec {SERVERS_ERRFD}>&2

# to_real_stderr: undo any redirection of stderr in effect right now.
to_real_stderr() { exec 2>&"$SERVERS_ERRFD"; }

log() { printf '%s: %s\n' "$SERVERS_TAG" "$*" >&2; }

# die MESSAGE... : loud failure, exit 1.
die() {
    to_real_stderr
    printf '\n%s: ERROR: %s\n' "$SERVERS_TAG" "$*" >&2
    exit 1
}

# now_ms: milliseconds since the epoch.
now_ms() { date +%s%3N; }

# abs_path PATH: absolute path without requiring it to exist.
abs_path() { realpath -m -- "$1"; }

# tail_file FILE [LINES]: print the tail of FILE to stderr, framed.
tail_file() {
    local f=$1 n=${2:-40}
    if [[ -s $f ]]; then
        printf '%s: ---- last %s lines of %s ----\n' "$SERVERS_TAG" "$n" "$f" >&2
        tail -n "$n" -- "$f" >&2 || true
        printf '%s: ---- end of %s ----\n' "$SERVERS_TAG" "$f" >&2
    else
        printf '%s: (%s is missing or empty)\n' "$SERVERS_TAG" "$f" >&2
    fi
}

# pid_state PID: the one-letter state from /proc/PID/stat, empty if gone.
pid_state() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    # The comm field may contain spaces and ')' so cut after the LAST ')'.
    stat=${stat##*) }
    printf '%s' "${stat%% *}"
}

# pid_alive PID: true if PID exists and is not a zombie.  (PID 1 on these
# machines reaps orphans only lazily, so a dead daemon can linger as a
# zombie for a second or two; that counts as dead.)
pid_alive() {
    local s
    s=$(pid_state "$1")
    [[ -n $s && $s != Z && $s != X ]]
}

# pid_comm PID: the kernel's comm (process name) of PID.
pid_comm() { cat "/proc/$1/comm" 2>/dev/null || true; }

# pid_is PID COMM: PID is the program COMM, by its comm or, while it
# re-executes itself (ceph-mds after `ceph fs fail` is "exe" for a moment),
# by the file it runs.
pid_is() {
    local exe
    [[ $(pid_comm "$1") == "$2" ]] && return 0
    exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
    [[ ${exe##*/} == "$2" ]]
}

# pidfile_pid FILE: the pid recorded in FILE (digits only) or nothing.
pidfile_pid() {
    local p=""
    if [[ -f $1 ]]; then read -r p <"$1" 2>/dev/null || true; fi
    [[ $p =~ ^[0-9]+$ ]] && printf '%s' "$p"
    return 0
}

# pidfile_alive FILE COMM: true if FILE names a live process called COMM.
pidfile_alive() {
    local pid
    pid=$(pidfile_pid "$1")
    [[ -n $pid ]] && pid_alive "$pid" && pid_is "$pid" "$2"
}

# wait_dead PID SECONDS: wait until PID is gone (or a zombie).
wait_dead() {
    local pid=$1 deadline=$(($(now_ms) + $2 * 1000))
    while pid_alive "$pid"; do
        (($(now_ms) >= deadline)) && return 1
        sleep 0.1
    done
    return 0
}

# stop_pidfiles TERM_TIMEOUT FILE:COMM... : stop exactly the processes
# recorded in the FILEs, but only those still alive and still named COMM
# (so a recycled pid is never hit).  All get SIGTERM at once; whoever is
# still alive TERM_TIMEOUT s later gets SIGKILL.  Removes the FILEs.
# Idempotent.
stop_pidfiles() {
    local timeout=$1 spec file comm pid actual deadline i
    local -a pids=() comms=()
    shift
    for spec in "$@"; do
        file=${spec%:*} comm=${spec##*:}
        pid=$(pidfile_pid "$file")
        if [[ -n $pid ]] && pid_alive "$pid"; then
            actual=$(pid_comm "$pid")
            if pid_is "$pid" "$comm"; then
                kill -TERM "$pid" 2>/dev/null || true
                pids+=("$pid") comms+=("$comm")
            else
                log "pid $pid from $file is now '$actual', not '$comm': not touching it"
            fi
        fi
        rm -f -- "$file"
    done
    ((${#pids[@]})) || return 0
    deadline=$(($(now_ms) + timeout * 1000))
    for i in "${!pids[@]}"; do
        while pid_alive "${pids[i]}" && (($(now_ms) < deadline)); do sleep 0.1; done
        if pid_alive "${pids[i]}"; then
            log "${comms[i]} (pid ${pids[i]}) ignored SIGTERM for ${timeout}s; sending SIGKILL"
            kill -KILL "${pids[i]}" 2>/dev/null || true
            wait_dead "${pids[i]}" 10 || log "WARNING: ${comms[i]} (pid ${pids[i]}) survived SIGKILL"
        fi
    done
}

# stop_pidfile FILE COMM [TERM_TIMEOUT]: stop_pidfiles for one process.
stop_pidfile() { stop_pidfiles "${3:-20}" "$1:$2"; }

# port_in_use PORT: true if anything on this host (netns) uses TCP PORT,
# listening or connected, on any address.
port_in_use() {
    [[ -n $(ss -Hant "( sport = :$1 )" 2>/dev/null) ]]
}

# listens_on PID PORT: true if process PID has a TCP listening socket on
# PORT (whatever the address).  Proves that the answer on PORT comes from
# our daemon, not from something else that already held the port.
listens_on() {
    ss -Hltnp "( sport = :$2 )" 2>/dev/null | grep -q "pid=$1,"
}

# pick_free_port [COUNT]: print a port P such that P..P+COUNT-1 are all
# unused.  Chosen at random below the kernel's ephemeral range, so that
# outgoing connections never take it, and away from well-known ports.
pick_free_port() {
    local count=${1:-1} lo=20000 hi eph_lo _eph_hi p i ok tries
    read -r eph_lo _eph_hi </proc/sys/net/ipv4/ip_local_port_range
    hi=$((eph_lo - count - 1))
    ((hi > lo + 1000)) || { lo=10000; hi=19999; }
    for ((tries = 0; tries < 200; tries++)); do
        p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
        ok=1
        for ((i = 0; i < count; i++)); do
            if port_in_use $((p + i)); then ok=0; break; fi
        done
        if ((ok)); then
            printf '%s' "$p"
            return 0
        fi
    done
    die "could not find $count free consecutive TCP port(s)"
}

# tcp_answers HOST PORT: true if a TCP connection to HOST:PORT succeeds.
tcp_answers() {
    # shellcheck disable=SC2016  # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# env_line NAME VALUE: a shell-sourceable assignment; single-quoted only
# when the value needs it.
env_line() {
    local name=$1 value=$2
    if [[ $value =~ ^[A-Za-z0-9_./:@%+,=-]*$ ]]; then
        printf '%s=%s\n' "$name" "$value"
    else
        printf "%s='%s'\n" "$name" "${value//\'/\'\\\'\'}"
    fi
}
