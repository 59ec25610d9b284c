# Shared shell helpers for compat/demo.sh and the compat/bench-*.sh scripts: uniquely named
# network namespaces wired to bridges, kad or keepalived started in them, bounded polling,
# and a cleanup that removes everything on exit, ^C or TERM.
#
# Source it, then call bc_init TAG once. Every name is prefixed with TAG and the script's
# pid, so two runs (or a run and the Rust test suite) never collide.
# shellcheck shell=bash

BC_KEEPALIVED=${KEEPALIVED:-/usr/sbin/keepalived}
BC_HOSTS=()
BC_SWITCH=
BC_PORTS=0
BC_WORK=
declare -A BC_PID=()
declare -A BC_IMPL=()

bc_die() {
    echo "${0##*/}: $*" >&2
    exit 1
}

# bc_init TAG: checks the basics, creates the work directory and installs the cleanup trap.
bc_init() {
    [ "$(id -u)" -eq 0 ] || bc_die "needs root (network namespaces)"
    command -v ip >/dev/null || bc_die "needs iproute2 (ip)"
    [ -n "${EPOCHREALTIME:-}" ] || bc_die "needs bash 5 or newer"
    BC_PREFIX="kd$1$$"
    BC_WORK=$(mktemp -d "/tmp/$BC_PREFIX.XXXXXX")
    trap bc_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

bc_cleanup() {
    local ns pid
    trap - EXIT INT TERM
    # No "Killed" notices for the jobs killed below.
    disown -a
    for ns in "${BC_HOSTS[@]}" ${BC_SWITCH:+"$BC_SWITCH"}; do
        # Anything still running inside (daemons, ping, monitors) was started by this
        # script; it would keep the namespace's interfaces alive.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns delete "$ns" 2>/dev/null
    done
    [ -z "$BC_WORK" ] || [ -n "${BC_KEEP_WORK:-}" ] || rm -rf "$BC_WORK"
}

# Microseconds since the epoch, without spawning a process.
bc_now_us() {
    local t=$EPOCHREALTIME
    echo "${t/[.,]/}"
}

# bc_ms FROM_US TO_US: the difference in milliseconds with one decimal.
bc_ms() {
    # Rounded first, so that a tiny negative difference does not print as -0.0.
    awk -v a="$1" -v b="$2" 'BEGIN { v = (b - a) / 1000; v = int(v * 10 + (v < 0 ? -0.5 : 0.5)) / 10; printf "%.1f", v + 0 }'
}

bc_ns() {
    echo "$BC_PREFIX-$1"
}

bc_add_host() {
    local ns
    ns=$(bc_ns "$1")
    ip netns add "$ns" || bc_die "cannot create namespace $ns"
    BC_HOSTS+=("$ns")
    ip -n "$ns" link set lo up
}

# bc_connect HOST IFNAME SEGMENT: a veth from HOST into the bridge SEGMENT of the switch.
bc_connect() {
    local host=$1 ifname=$2 segment=$3 port
    if [ -z "$BC_SWITCH" ]; then
        BC_SWITCH=$(bc_ns sw)
        ip netns add "$BC_SWITCH" || bc_die "cannot create namespace $BC_SWITCH"
    fi
    if ! ip -n "$BC_SWITCH" link show "$segment" >/dev/null 2>&1; then
        # No STP delay and no multicast snooping: frames flow at once.
        ip -n "$BC_SWITCH" link add "$segment" type bridge forward_delay 0 mcast_snooping 0 ||
            bc_die "cannot create bridge (is the bridge module available?)"
        ip -n "$BC_SWITCH" link set "$segment" up
    fi
    BC_PORTS=$((BC_PORTS + 1))
    port=p$BC_PORTS
    ip link add "$ifname" netns "$(bc_ns "$host")" type veth peer name "$port" netns "$BC_SWITCH" ||
        bc_die "cannot create veth for $host"
    ip -n "$BC_SWITCH" link set "$port" master "$segment" up
    ip -n "$(bc_ns "$host")" link set "$ifname" up
}

# bc_veth HOST_A IF_A HOST_B IF_B: a veth pair straight between two hosts.
bc_veth() {
    ip link add "$2" netns "$(bc_ns "$1")" type veth peer name "$4" netns "$(bc_ns "$3")" ||
        bc_die "cannot create veth $1:$2 - $3:$4"
    ip -n "$(bc_ns "$1")" link set "$2" up
    ip -n "$(bc_ns "$3")" link set "$4" up
}

bc_ip() {
    local host=$1
    shift
    ip -n "$(bc_ns "$host")" "$@"
}

bc_exec() {
    local host=$1
    shift
    ip netns exec "$(bc_ns "$host")" "$@"
}

# bc_spawn HOST OUTPUT COMMAND...: runs COMMAND in HOST in the background, output to the
# file OUTPUT; BC_SPAWNED is its pid (ip netns exec execs, and no subshell is in between,
# so signals reach the command itself).
bc_spawn() {
    local ns out=$2
    ns=$(bc_ns "$1")
    shift 2
    # Created here, so that a poll of the file right after this finds it.
    : >"$out"
    ip netns exec "$ns" "$@" >>"$out" 2>&1 </dev/null &
    BC_SPAWNED=$!
}

# bc_has_addr HOST IFNAME ADDRESS
bc_has_addr() {
    bc_ip "$1" -o addr show dev "$2" 2>/dev/null | grep -q " $3/"
}

bc_mac() {
    bc_ip "$1" -o link show dev "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

# bc_wait_until SECONDS COMMAND...: polls COMMAND every 10 ms; fails once SECONDS passed.
bc_wait_until() {
    local limit end
    limit=$(awk -v s="$1" 'BEGIN { printf "%d", s * 1000000 }')
    shift
    end=$(($(bc_now_us) + limit))
    until "$@"; do
        [ "$(bc_now_us)" -lt "$end" ] || return 1
        sleep 0.01
    done
}

# bc_start IMPL HOST NAME CONFIG [ARGS...]: runs kad or keepalived in the foreground of
# HOST (as keepalived is run in production: -n -l -G, per-instance pid files), logging to
# $BC_WORK/NAME.log. IMPL is kad or keepalived.
bc_start() {
    local impl=$1 host=$2 name=$3 conf=$4 bin
    shift 4
    case "$impl" in
        kad) bin=$BC_KAD ;;
        keepalived) bin=$BC_KEEPALIVED ;;
        *) bc_die "unknown implementation $impl" ;;
    esac
    rm -f "$BC_WORK/$name".{pid,vpid,cpid,bpid}
    bc_spawn "$host" "$BC_WORK/$name.log" "$bin" -n -l -G -f "$conf" -p "$BC_WORK/$name.pid" \
        -r "$BC_WORK/$name.vpid" -c "$BC_WORK/$name.cpid" -b "$BC_WORK/$name.bpid" "$@"
    BC_PID[$name]=$BC_SPAWNED
    BC_IMPL[$name]=$impl
}

bc_log() {
    cat "$BC_WORK/$1.log" 2>/dev/null
}

# The pids of a daemon: kad's one process, keepalived's parent and its children.
bc_pids() {
    local parent=${BC_PID[$1]} stat rest
    [ -n "$parent" ] && [ -e "/proc/$parent" ] || return 0
    echo "$parent"
    for stat in /proc/[0-9]*/stat; do
        { read -r rest <"$stat"; } 2>/dev/null || continue
        # Fields after "pid (comm) ": state ppid ...
        rest=${rest##*) }
        rest=${rest#* }
        [ "${rest%% *}" = "$parent" ] && { stat=${stat#/proc/}; echo "${stat%/stat}"; }
    done
    return 0
}

# bc_alive NAME: the daemon's main process has not exited (a zombie counts as exited).
bc_alive() {
    local pid=${BC_PID[$1]} state
    { read -r state <"/proc/$pid/stat"; } 2>/dev/null || return 1
    state=${state##*) }
    [ "${state%% *}" != Z ]
}

bc_exited() {
    ! bc_alive "$1"
}

# bc_crash NAME: SIGKILL every process of the daemon. keepalived's parent is stopped first
# so that it cannot respawn the VRRP child, and killed last: its death would send the
# child a SIGTERM (PR_SET_PDEATHSIG), and with it a priority-0 advert.
bc_crash() {
    local parent=${BC_PID[$1]} pid
    [ -n "$parent" ] || return 0
    kill -STOP "$parent" 2>/dev/null || return 0
    for pid in $(bc_pids "$1"); do
        [ "$pid" = "$parent" ] || kill -KILL "$pid" 2>/dev/null
    done
    kill -KILL "$parent" 2>/dev/null
    wait "$parent" 2>/dev/null || true
    return 0
}

# bc_stop NAME [SECONDS]: SIGTERM and wait for the exit (SIGKILL after SECONDS, default 10).
bc_stop() {
    local name=$1 limit=${2:-10}
    kill -TERM "${BC_PID[$name]}" 2>/dev/null || return 0
    bc_wait_until "$limit" bc_exited "$name" || bc_crash "$name"
    wait "${BC_PID[$name]}" 2>/dev/null || true
    return 0
}

# bc_build_kad: sets BC_KAD to the shipped binary (target/kad, from scripts/build.sh),
# building it first when cargo is there (KAD=PATH uses another binary, BC_NO_BUILD=1 skips
# the build).
bc_build_kad() {
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    BC_KAD=${KAD:-$root/target/kad}
    if [ -z "${KAD:-}" ] && [ -z "${BC_NO_BUILD:-}" ]; then
        if command -v cargo >/dev/null; then
            echo "building kad (scripts/build.sh)..."
            "$root/scripts/build.sh" --quiet || bc_die "scripts/build.sh failed"
        elif [ ! -x "$BC_KAD" ]; then
            bc_die "no cargo and no $BC_KAD: install Rust (https://rustup.rs) or set KAD=PATH"
        fi
    fi
    [ -x "$BC_KAD" ] || bc_die "$BC_KAD is missing"
}

# bc_rss_kb NAME: resident memory of all the daemon's processes, in KiB.
bc_rss_kb() {
    local pid total=0 kb
    for pid in $(bc_pids "$1"); do
        kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

# bc_cpu_ticks NAME: user + system CPU time of all the daemon's processes, in clock ticks.
bc_cpu_ticks() {
    local pid total=0 stat fields
    for pid in $(bc_pids "$1"); do
        { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || continue
        # After "pid (comm) ": utime and stime are the 12th and 13th fields.
        read -r -a fields <<<"${stat##*) }"
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

# bc_median VALUES...: the median (the lower middle one for an even count); "-" if none.
bc_median() {
    [ $# -gt 0 ] || { echo -; return; }
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
