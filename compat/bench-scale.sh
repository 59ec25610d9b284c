#!/usr/bin/env bash
# Scale benchmark, kad and Debian's keepalived in the same run.
#
#   compat/bench-scale.sh [-i INSTANCES] [-v VIPS] [-d VIP_DEVICES] [-c CPU_SECONDS]
#                         [--garp-interval SECONDS] [--only kad|keepalived] [--no-build]
#                         [--rss-only] [--takeover-only] [--ip-monitor]
#
# 1. Idle: one instance with one VIP, MASTER for 5 s: resident memory (keepalived: the sum
#    of its processes).
# 2. Scale: INSTANCES (1000) instances x VIPS (10) VIPs on one router: VRRP on 4 interfaces
#    (250 VRIDs each, advert_int 1), the VIPs (198.18.0.0/15, the benchmark range) spread
#    over VIP_DEVICES (40) further interfaces, as the kernel adds addresses to one
#    interface in quadratic time. No peer: every instance becomes MASTER 3 x advert_int +
#    skew after start, all at once, which is the takeover measured:
#    - `-t` on the same configuration (median of 3);
#    - first VIP -> all VIPs present, timed by compat/addr-watch.py (a netlink listener
#      that the kernel need not wake for each address, unlike `ip monitor`), next to what
#      the kernel itself needs for the same addresses, and first advert on the wire (the
#      takeover) -> all VIPs present, which a daemon cannot shorten by doing other work
#      before its first address;
#    - gratuitous ARPs sent in the 10 s after the takeover (interface counters), and their
#      pacing (capture on the far ends): frames in the first second, the busiest 10 ms;
#    - resident memory and CPU seconds per minute as MASTER (over CPU_SECONDS, 60);
#    - SIGTERM -> exit, and the VIPs left behind.
# --garp-interval sets vrrp_garp_interval for both daemons (keepalived's default: 0).
# --rss-only runs only the scale topology up to the takeover and prints the memory as MASTER,
# split into anonymous and file-backed (KAD=PATH may name a wrapper, e.g. running valgrind;
# RSS_HOOK=COMMAND runs COMMAND PID while the daemon is MASTER, before it is stopped).
# --takeover-only skips the idle run, `-t` and the CPU measurement (-c 0): start, takeover,
# GARPs, SIGTERM.
# --ip-monitor times the takeover as earlier versions did: `ip -ts monitor address`
# listening, the addresses listed every 10 ms until all are there.
# Needs root, tcpdump and /usr/sbin/keepalived.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench-common.sh
. "$here/bench-common.sh"

instances=1000
vips=10
vip_devs=40
cpu_seconds=60
garp_interval=
takeover_only=
impls=(kad keepalived)
rss_only=
ip_monitor=
while [ $# -gt 0 ]; do
    case "$1" in
        -i) instances=$2; shift ;;
        -v) vips=$2; shift ;;
        -d) vip_devs=$2; shift ;;
        -c) cpu_seconds=$2; shift ;;
        --garp-interval) garp_interval=$2; shift ;;
        --only) impls=("$2"); shift ;;
        --no-build) BC_NO_BUILD=1 ;;
        --rss-only) rss_only=1 ;;
        --takeover-only) takeover_only=1; cpu_seconds=0 ;;
        --ip-monitor) ip_monitor=1 ;;
        -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
        *) bc_die "unknown argument $1" ;;
    esac
    shift
done
vrrp_devs=4
[ "$instances" -le $((vrrp_devs * 255)) ] || bc_die "at most $((vrrp_devs * 255)) instances (4 interfaces x 255 VRIDs)"
[ "$vips" -ge 1 ] && [ "$vips" -le 20 ] || bc_die "1 to 20 VIPs per instance"
[ "$vip_devs" -ge 1 ] || bc_die "at least one VIP device"
total_vips=$((instances * vips))
[ "$total_vips" -le 65000 ] || bc_die "at most 65000 VIPs"

bc_init sc
command -v tcpdump >/dev/null || bc_die "needs tcpdump"
[ -x "$BC_KEEPALIVED" ] || bc_die "$BC_KEEPALIVED is missing"
bc_build_kad

# r runs the daemon, p holds the far ends (the capture runs there).
for host in r p; do
    bc_add_host "$host"
    # IPv4 only: no router solicitations or MLD reports in the interface counters.
    bc_exec "$host" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
for i in $(seq 0 $((vrrp_devs - 1))); do
    bc_veth r "eth$i" p "eth$i"
    bc_ip r addr add "192.0.2.$((11 + i))/24" dev "eth$i"
done
for i in $(seq 0 $((vip_devs - 1))); do
    bc_veth r "v$i" p "v$i"
done

# vip_list: "ADDRESS DEVICE" for every VIP, instance by instance.
vip_list() {
    awk -v instances="$instances" -v vips="$vips" -v devs="$vip_devs" 'BEGIN {
        for (k = 0; k < instances * vips; k++) {
            x = int(k / 250)
            printf "198.%d.%d.%d v%d\n", 18 + int(x / 256), x % 256, k % 250 + 1, x % devs
        }
    }'
}

scale_config() {
    {
        echo "global_defs {"
        echo "    router_id bench"
        [ -z "$garp_interval" ] || echo "    vrrp_garp_interval $garp_interval"
        echo "}"
        vip_list | awk -v vips="$vips" -v devs="$vrrp_devs" '
            NR % vips == 1 || vips == 1 {
                i = int((NR - 1) / vips)
                printf "vrrp_instance VI_%d {\n    interface eth%d\n    state BACKUP\n", i, i % devs
                printf "    virtual_router_id %d\n    priority 100\n    advert_int 1\n    virtual_ipaddress {\n", int(i / devs) + 1
            }
            { printf "        %s dev %s\n", $1, $2 }
            NR % vips == 0 { print "    }\n}" }'
    } >"$BC_WORK/scale.conf"
}

idle_config() {
    cat >"$BC_WORK/idle.conf" <<EOF
global_defs {
    router_id bench
}
vrrp_instance VI_1 {
    interface eth0
    state MASTER
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        198.18.0.1 dev v0
    }
}
EOF
}

vip_count() {
    # A listing taken while addresses change may be cut short; the next poll repeats it.
    bc_ip r -4 -o addr show 2>/dev/null | grep -c ' inet 198\.1[89]\.' || true
}
all_vips_present() {
    [ "$(vip_count)" -ge "$total_vips" ]
}
no_vips() {
    [ "$(vip_count)" -eq 0 ]
}

# tx_frames DEVICE_PREFIX: frames r's devices whose names start with it were given to
# send, including those the far end's backlog dropped.
tx_frames() {
    bc_exec r sh -c "cat /sys/class/net/$1*/statistics/tx_packets /sys/class/net/$1*/statistics/tx_dropped" |
        awk '{ s += $1 } END { print s + 0 }'
}

results=$BC_WORK/results
: >"$results"
record() {
    echo "$1 $2" >>"$results"
}

# Timestamps of `ip -ts monitor` lines, as microseconds since the epoch (TZ=UTC on both
# sides): "first last count" of added addresses matching PATTERN.
monitor_span() {
    TZ=UTC awk -v pattern="$2" '
        !/^\[/ || /Deleted/ || $0 !~ pattern { next }
        { ts = substr($1, 2, length($1) - 2); split(ts, p, /[-T:]/)
          us = mktime(p[1] " " p[2] " " p[3] " " p[4] " " p[5] " 0") * 1e6 + p[6] * 1e6
          if (n == 0) first = us; last = us; n++ }
        END { printf "%.0f %.0f %d\n", first, last, n }' "$1"
}

# "first last count" of the additions addr-watch.py saw (microseconds since the epoch).
watch_span() {
    awk '$1 ~ /^[0-9]+$/ { if (n == 0) first = $1; last = $1; n++ }
         END { printf "%.0f %.0f %d\n", first, last, n }' "$1"
}

# start_watch FILE: addr-watch.py in r, until all the VIPs were added; sets watch_pid.
start_watch() {
    bc_spawn r "$1" python3 "$here/addr-watch.py" 198.1 "$total_vips"
    watch_pid=$BC_SPAWNED
    bc_wait_until 5 grep -q ready "$1" || bc_die "addr-watch.py does not start"
}
watch_done() {
    ! kill -0 "$watch_pid" 2>/dev/null
}

idle_run() {
    local impl=$1
    bc_start "$impl" r idle "$BC_WORK/idle.conf"
    bc_wait_until 10 bc_has_addr r v0 198.18.0.1 || { bc_log idle; bc_die "$impl: no MASTER with one instance"; }
    # Settled: a few adverts sent, the first GARP burst done.
    sleep 5
    record "$impl/idle_rss" "$(awk -v kb="$(bc_rss_kb idle)" 'BEGIN { printf "%.1f", kb / 1024 }')"
    bc_stop idle
    bc_wait_until 5 no_vips || bc_die "$impl left the idle VIP behind"
}

config_test_ms() {
    local impl=$1 bin times=() t i
    case "$impl" in
        kad) bin=$BC_KAD ;;
        keepalived) bin=$BC_KEEPALIVED ;;
    esac
    for i in 1 2 3; do
        t=$(bc_now_us)
        bc_exec r "$bin" -t -f "$BC_WORK/scale.conf" -p "$BC_WORK/t.pid" -r "$BC_WORK/t.vpid" \
            -c "$BC_WORK/t.cpid" -b "$BC_WORK/t.bpid" >/dev/null 2>&1 || bc_die "$impl -t rejects the configuration"
        times+=("$(bc_ms "$t" "$(bc_now_us)")")
    done
    bc_median "${times[@]}"
}

scale_run() {
    local impl=$1 key=$1 cap_pid adv_pid t_start tx0 ticks0 ticks1 t0 first last n t_term first_advert mon_pid=
    [ -n "$takeover_only" ] || record "$key/config_test" "$(config_test_ms "$impl")"
    tx0=$(tx_frames v)
    if [ -n "$ip_monitor" ]; then
        bc_spawn r "$BC_WORK/mon" env TZ=UTC ip -ts monitor address
        mon_pid=$BC_SPAWNED
    else
        start_watch "$BC_WORK/watch"
    fi
    bc_spawn p "$BC_WORK/cap.log" tcpdump -i any -n -B 65536 --immediate-mode -w "$BC_WORK/cap" arp
    cap_pid=$BC_SPAWNED
    bc_wait_until 5 grep -q listening "$BC_WORK/cap.log" || bc_die "tcpdump does not start"
    # No peer and no advert before the takeover: the first one on the wire marks it.
    bc_spawn p "$BC_WORK/adv.log" tcpdump -i any -n -c 1 --immediate-mode -w "$BC_WORK/adv" vrrp
    adv_pid=$BC_SPAWNED
    bc_wait_until 5 grep -q listening "$BC_WORK/adv.log" || bc_die "tcpdump does not start"
    t_start=$(bc_now_us)
    bc_start "$impl" r scale "$BC_WORK/scale.conf"
    # Without `ip monitor`, waiting on the watcher, not listing the addresses: a listing of
    # thousands every 10 ms would compete with the takeover for the CPUs.
    local all_added=watch_done
    [ -z "$ip_monitor" ] || all_added=all_vips_present
    if ! bc_wait_until 600 "$all_added"; then
        bc_log scale | tail -20
        bc_die "$impl: only $(vip_count) of $total_vips VIPs after 600 s"
    fi
    if [ -z "$ip_monitor" ]; then
        wait "$watch_pid" || true
        ! grep -q overrun "$BC_WORK/watch" || bc_die "addr-watch.py lost notifications"
        all_vips_present || bc_die "$impl: only $(vip_count) of $total_vips VIPs once all were added"
    fi
    # keepalived's second burst comes garp_master_delay (5 s) after the takeover.
    sleep 10
    kill -INT "$cap_pid"
    wait "$cap_pid" || true
    record "$key/garps" "$(($(tx_frames v) - tx0))"
    if [ -n "$ip_monitor" ]; then
        read -r first last n < <(monitor_span "$BC_WORK/mon" " inet 198\\.1[89]\\.")
    else
        read -r first last n < <(watch_span "$BC_WORK/watch")
    fi
    record "$key/start_to_first" "$(bc_ms "$t_start" "$first")"
    record "$key/vip_spread" "$(bc_ms "$first" "$last")"
    kill -INT "$adv_pid" 2>/dev/null || true
    wait "$adv_pid" || true
    first_advert=$(tcpdump -r "$BC_WORK/adv" -n -tt 2>/dev/null | awk 'NR == 1 { printf "%.0f", $1 * 1e6 }')
    [ -z "$first_advert" ] || record "$key/advert_to_all" "$(bc_ms "$first_advert" "$last")"
    # Pacing: frames on the wire in the first second after the first one, and in the
    # busiest 10 ms (all interfaces together, and on the busiest interface: a cooked
    # capture does not name it, but the address does, see vip_list).
    tcpdump -r "$BC_WORK/cap" -n -tt -q 2>/dev/null | awk -v devs="$vip_devs" '
        { t = $1; if (NR == 1) t0 = t
          if (t - t0 < 1) first_second++
          w = int((t - t0) * 100); per[w]++; if (per[w] > peak) peak = per[w]
          for (i = 1; i <= NF; i++) if ($i == "who-has") { split($(i + 1), a, "."); break }
          key = (((a[2] - 18) * 256 + a[3]) % devs) " " w
          dev[key]++; if (dev[key] > dpeak) dpeak = dev[key] }
        END { printf "%d %d %d %d\n", NR, first_second, peak, dpeak }' >"$BC_WORK/pacing"
    local captured first_second peak peak_dev
    read -r captured first_second peak peak_dev <"$BC_WORK/pacing"
    record "$key/garps_captured" "$captured"
    record "$key/garps_first_second" "$first_second"
    record "$key/garps_peak_10ms" "$peak"
    record "$key/garps_peak_10ms_dev" "$peak_dev"

    if [ "$cpu_seconds" -gt 0 ]; then
        ticks0=$(bc_cpu_ticks scale)
        t0=$(bc_now_us)
        sleep "$cpu_seconds"
        ticks1=$(bc_cpu_ticks scale)
        record "$key/cpu_per_min" "$(awk -v d="$((ticks1 - ticks0))" -v hz="$(getconf CLK_TCK)" -v us="$(($(bc_now_us) - t0))" \
            'BEGIN { printf "%.2f", d / hz * 60e6 / us }')"
    fi
    record "$key/rss" "$(awk -v kb="$(bc_rss_kb scale)" 'BEGIN { printf "%.1f", kb / 1024 }')"
    record "$key/masters" "$(grep -c 'Entering MASTER STATE' "$BC_WORK/scale.log" || true)"

    t_term=$(bc_now_us)
    kill -TERM "${BC_PID[scale]}"
    if ! bc_wait_until 120 bc_exited scale; then
        bc_crash scale
        record "$key/term_exit" ">120000"
    else
        record "$key/term_exit" "$(bc_ms "$t_term" "$(bc_now_us)")"
    fi
    wait "${BC_PID[scale]}" || true
    record "$key/left_behind" "$(vip_count)"
    if [ -n "$mon_pid" ]; then
        kill -TERM "$mon_pid"
        wait "$mon_pid" || true
    fi
    # Whatever a daemon left behind must not be charged to the next one.
    bc_ip r -4 addr flush to 198.18.0.0/15
}

kernel_floor() {
    vip_list | awk '{ printf "addr add %s/32 dev %s\n", $1, $2 }' >"$BC_WORK/add.batch"
    vip_list | awk '{ printf "addr del %s/32 dev %s\n", $1, $2 }' >"$BC_WORK/del.batch"
    local t
    t=$(bc_now_us)
    bc_ip r -batch "$BC_WORK/add.batch"
    record kernel/add "$(bc_ms "$t" "$(bc_now_us)")"
    t=$(bc_now_us)
    bc_ip r -batch "$BC_WORK/del.batch"
    record kernel/del "$(bc_ms "$t" "$(bc_now_us)")"
    # Batched as kad sends them (1024 per datagram), watched as a takeover is.
    start_watch "$BC_WORK/floor-watch"
    record kernel/add_batched "$(vip_list | bc_exec r python3 "$here/netlink-batch.py" add 1024)"
    bc_wait_until 5 watch_done || bc_die "addr-watch.py missed some of the kernel's adds"
    record kernel/del_batched "$(vip_list | bc_exec r python3 "$here/netlink-batch.py" del 1024)"
    # With `ip monitor` listening, which the kernel wakes for every address.
    local mon_pid
    bc_spawn r "$BC_WORK/floor-mon" ip monitor address
    mon_pid=$BC_SPAWNED
    sleep 0.2
    record kernel/add_woken "$(vip_list | bc_exec r python3 "$here/netlink-batch.py" add 1024)"
    record kernel/del_woken "$(vip_list | bc_exec r python3 "$here/netlink-batch.py" del 1024)"
    kill -TERM "$mon_pid"
    wait "$mon_pid" || true
    # And with no listener at all.
    record kernel/add_quiet "$(vip_list | bc_exec r python3 "$here/netlink-batch.py" add 1024)"
    record kernel/del_quiet "$(vip_list | bc_exec r python3 "$here/netlink-batch.py" del 1024)"
}

# rss_run IMPL: MASTER for all instances, settled, then the memory (kB) of every process.
rss_run() {
    local impl=$1 pid
    bc_start "$impl" r scale "$BC_WORK/scale.conf"
    if ! bc_wait_until 600 all_vips_present; then
        bc_log scale | tail -20
        bc_die "$impl: only $(vip_count) of $total_vips VIPs after 600 s"
    fi
    # After keepalived's second GARP burst (garp_master_delay, 5 s).
    sleep 10
    for pid in $(bc_pids scale); do
        awk -v impl="$impl" -v pid="$pid" '/^(VmRSS|RssAnon|RssFile|VmData|Threads):/ { printf "%s %s %s %s\n", impl, pid, $1, $2 }' "/proc/$pid/status"
    done
    [ -z "${RSS_HOOK:-}" ] || $RSS_HOOK "${BC_PID[scale]}"
    bc_stop scale 120
    bc_ip r -4 addr flush to 198.18.0.0/15
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
idle_config
scale_config
if [ -n "$rss_only" ]; then
    for impl in "${impls[@]}"; do
        rss_run "$impl"
    done
    exit 0
fi
if [ -z "$takeover_only" ]; then
    for impl in "${impls[@]}"; do
        echo "$impl: idle" >&2
        idle_run "$impl"
    done
fi
kernel_floor
for impl in "${impls[@]}"; do
    echo "$impl: $instances instances x $vips VIPs" >&2
    scale_run "$impl"
done

value() {
    awk -v k="$1" '$1 == k { v = $2 } END { print (v == "" ? "-" : v) }' "$results"
}
row() {
    local label=$1 metric=$2 impl
    printf '  %-44s' "$label"
    for impl in "${impls[@]}"; do
        printf '%12s' "$(value "$impl/$metric")"
    done
    echo
}

echo
echo "Load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
echo "Scale: $instances instances x $vips VIPs ($total_vips), VRRP on $vrrp_devs interfaces, VIPs on $vip_devs;" \
    "vrrp_garp_interval ${garp_interval:-0 (default)}"
printf '  %-44s' ""
printf '%12s' "${impls[@]}"
echo
row "idle RSS, one instance (MB)" idle_rss
row "-t on the scale config (ms, median of 3)" config_test
row "start -> first VIP (ms)" start_to_first
row "first VIP -> all $total_vips present (ms)" vip_spread
row "first advert -> all $total_vips present (ms)" advert_to_all
row "gratuitous ARPs sent (10 s from takeover)" garps
row "  captured on the far ends" garps_captured
row "  in the first second" garps_first_second
row "  in the busiest 10 ms, all interfaces" garps_peak_10ms
row "  in the busiest 10 ms, one interface" garps_peak_10ms_dev
row "instances that entered MASTER" masters
row "RSS as MASTER (MB)" rss
row "CPU seconds per minute as MASTER" cpu_per_min
row "SIGTERM -> exit (ms)" term_exit
row "VIPs left behind" left_behind
echo "  kernel alone (ip -batch, one request at a time): add $(value kernel/add) ms, delete $(value kernel/del) ms"
echo "  kernel alone (1024 requests per datagram, watched as the takeover): add $(value kernel/add_batched) ms," \
    "delete $(value kernel/del_batched) ms"
echo "  kernel alone (1024 requests per datagram, ip monitor listening): add $(value kernel/add_woken) ms," \
    "delete $(value kernel/del_woken) ms"
echo "  kernel alone (1024 requests per datagram, no listener): add $(value kernel/add_quiet) ms," \
    "delete $(value kernel/del_quiet) ms"
if [ -n "${BC_KEEP_WORK:-}" ]; then
    echo "raw figures: $results"
fi
