#!/usr/bin/env bash
# Failover benchmark, kad and Debian's keepalived in the same run: two routers (r1 MASTER
# priority 150, r2 BACKUP priority 100) and a client pinging the VIP every 10 ms.
#
#   compat/bench-failover.sh [-n RUNS] [--only kad|keepalived] [--no-build]
#
# For VRRPv2 advert_int 1 s and VRRPv3 advert_int 0.1 s, N runs of each case, median in ms:
#   SIGKILL  r1 crashes (link cut and daemon SIGKILLed, ~10 ms after an advert):
#            last advert -> VIP on r2 (RFC bound: 3 x advert_int + skew), VIP -> first
#            gratuitous ARP, VIP -> the client is answered again, and the client's outage
#            (last answer to first answer)
#   SIGTERM  r1 is stopped: signal -> VIP on r2 (about skew time), VIP -> client, outage
# Timestamps: adverts from a capture on r2 (tcpdump), the VIP from `ip monitor` in r2,
# answers from `ping -D` in the client. Needs root, tcpdump, ping, /usr/sbin/keepalived.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench-common.sh
. "$here/bench-common.sh"

runs=5
impls=(kad keepalived)
while [ $# -gt 0 ]; do
    case "$1" in
        -n) runs=$2; shift ;;
        --only) impls=("$2"); shift ;;
        --no-build) BC_NO_BUILD=1 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) bc_die "unknown argument $1" ;;
    esac
    shift
done

bc_init fo
for tool in tcpdump ping; do
    command -v "$tool" >/dev/null || bc_die "needs $tool"
done
[ -x "$BC_KEEPALIVED" ] || bc_die "$BC_KEEPALIVED is missing"
bc_build_kad

vip=192.0.2.1
probe=198.51.100.99
ping_step=0.01
for host_addr in r1:192.0.2.11 r2:192.0.2.12 client:192.0.2.100; do
    host=${host_addr%%:*}
    bc_add_host "$host"
    bc_connect "$host" eth0 lan
    bc_ip "$host" addr add "${host_addr#*:}/24" dev eth0
done

config() {
    local version=$1 interval=$2 state=$3 priority=$4
    cat <<EOF
global_defs {
    router_id $state
}
vrrp_instance VI_1 {
    interface eth0
    version $version
    state $state
    virtual_router_id 51
    priority $priority
    advert_int $interval
    virtual_ipaddress {
        $vip/24
    }
}
EOF
}

results=$BC_WORK/results
: >"$results"
record() {
    echo "$1 $2" >>"$results"
}

adverts_from_r1() {
    grep -c "192.0.2.11 > 224.0.0.18: VRRP.*prio [1-9]" "$BC_WORK/cap" || true
}
replies() {
    grep -c 'bytes from' "$BC_WORK/ping" || true
}
probe_seen() {
    grep -q " $probe/32" "$BC_WORK/mon"
}

# one_run IMPL VERSION INTERVAL MODE: one failover; records its figures under
# "IMPL/VERSION/MODE/metric".
one_run() {
    local impl=$1 version=$2 interval=$3 mode=$4 key="$1/$2/$4" act cap_pid mon_pid ping_pid count t_act
    local limit
    limit=$(awk -v i="$interval" 'BEGIN { print 10 * i + 5 }')
    config "$version" "$interval" MASTER 150 >"$BC_WORK/r1.conf"
    config "$version" "$interval" BACKUP 100 >"$BC_WORK/r2.conf"
    bc_spawn r2 "$BC_WORK/cap" tcpdump -i eth0 -n -tt -l --immediate-mode 'vrrp or arp'
    cap_pid=$BC_SPAWNED
    bc_spawn r2 "$BC_WORK/mon" env TZ=UTC ip -ts monitor address
    mon_pid=$BC_SPAWNED
    bc_wait_until 5 probe_seen_added || bc_die "ip monitor does not start"
    bc_start "$impl" r1 r1 "$BC_WORK/r1.conf"
    bc_start "$impl" r2 r2 "$BC_WORK/r2.conf"
    bc_wait_until "$limit" bc_has_addr r1 eth0 "$vip" || { bc_log r1; bc_die "$impl r1 did not become master"; }
    # r2 has seen r1's adverts for a while: a settled backup.
    count=$(adverts_from_r1)
    bc_wait_until "$limit" eval '[ "$(adverts_from_r1)" -ge $((count + 3)) ]' || bc_die "no adverts from r1"
    bc_has_addr r2 eth0 "$vip" && bc_die "$impl: both routers hold the VIP"
    bc_spawn client "$BC_WORK/ping" ping -n -D -i "$ping_step" -w 60 "$vip"
    ping_pid=$BC_SPAWNED
    bc_wait_until 5 eval '[ "$(replies)" -ge 5 ]' || bc_die "the client cannot reach $vip"
    # Act right after an advert, so that a SIGKILL costs the full master-down interval.
    count=$(adverts_from_r1)
    bc_wait_until "$limit" eval '[ "$(adverts_from_r1)" -gt $count ]' || bc_die "no adverts from r1"
    t_act=$(bc_now_us)
    if [ "$mode" = kill ]; then
        # Power off: the link first, so that nothing of r1 reaches the LAN any more.
        bc_ip r1 link set eth0 down
        bc_crash r1
    else
        kill -TERM "${BC_PID[r1]}"
    fi
    bc_wait_until "$limit" bc_has_addr r2 eth0 "$vip" || { bc_log r2; bc_die "$impl r2 did not take over"; }
    count=$(replies)
    bc_wait_until 5 eval '[ "$(replies)" -ge $((count + 5)) ]' || bc_die "the client lost the VIP"
    kill -INT "$ping_pid" "$cap_pid"
    kill -TERM "$mon_pid"
    wait "$ping_pid" "$cap_pid" "$mon_pid" || true

    local t_adv t_vip t_garp t_back outage
    # The last advert r1 sent before the action (the priority-0 one is not counted).
    t_adv=$(awk -v before="$t_act" '/192.0.2.11 > 224.0.0.18: VRRP.*prio [1-9]/ { t = $1 * 1e6; if (t < before) last = t } END { printf "%.0f", last }' "$BC_WORK/cap")
    t_vip=$(TZ=UTC awk -v vip="$vip" '
        !/^\[/ || /Deleted/ || index($0, " inet " vip "/") == 0 { next }
        { ts = substr($1, 2, length($1) - 2); split(ts, p, /[-T:]/); sec = p[6] + 0
          us = mktime(p[1] " " p[2] " " p[3] " " p[4] " " p[5] " 0") * 1e6 + sec * 1e6
          printf "%.0f", us; exit }' "$BC_WORK/mon")
    # The longest silence in the client's answers, and the answer that ended it.
    read -r outage t_back < <(awk -v step="$ping_step" '
        /bytes from/ { t = substr($1, 2, length($1) - 2) * 1e6; if (last != "" && t - last > gap) { gap = t - last; back = t } last = t }
        END { printf "%.1f %.0f\n", (gap - step * 1e6) / 1000, back }' "$BC_WORK/ping")
    t_garp=$(awk -v after="$t_act" -v vip="$vip" 'index($0, "who-has " vip " (ff:ff:ff:ff:ff:ff) tell " vip) && $1 * 1e6 > after { printf "%.0f", $1 * 1e6; exit }' "$BC_WORK/cap")
    if [ -z "$t_vip" ] || [ -z "$t_garp" ] || [ "$t_adv" = 0 ]; then
        bc_die "$impl $mode: cannot read the timestamps (see $BC_WORK)"
    fi
    if [ "$mode" = kill ]; then
        record "$key/failover" "$(bc_ms "$t_adv" "$t_vip")"
        record "$key/act" "$(bc_ms "$t_act" "$t_vip")"
    else
        record "$key/failover" "$(bc_ms "$t_act" "$t_vip")"
    fi
    record "$key/garp" "$(bc_ms "$t_vip" "$t_garp")"
    record "$key/client" "$(bc_ms "$t_vip" "$t_back")"
    record "$key/outage" "$outage"

    bc_crash r1
    bc_crash r2
    for host in r1 r2; do
        bc_ip "$host" addr del "$vip/24" dev eth0 2>/dev/null || true
    done
    bc_ip r1 link set eth0 up
}

# Adds and removes a probe address on r2's lo until the monitor has reported it.
probe_seen_added() {
    probe_seen && return 0
    bc_ip r2 addr add "$probe/32" dev lo
    bc_ip r2 addr del "$probe/32" dev lo
    return 1
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cases=("2 1" "3 0.1")
for c in "${cases[@]}"; do
    read -r version interval <<<"$c"
    for run in $(seq "$runs"); do
        for impl in "${impls[@]}"; do
            for mode in kill term; do
                printf '\rv%s advert_int %s: run %d/%d %-10s %-4s' "$version" "$interval" "$run" "$runs" "$impl" "$mode" >&2
                one_run "$impl" "$version" "$interval" "$mode"
            done
        done
    done
done
printf '\r%60s\r' '' >&2

median_of() {
    # shellcheck disable=SC2046
    bc_median $(awk -v k="$1" '$1 == k { print $2 }' "$results")
}

echo "Failover, median of $runs runs in ms (r1 priority 150 MASTER, r2 priority 100 BACKUP)"
echo "Load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
for c in "${cases[@]}"; do
    read -r version interval <<<"$c"
    read -r bound skew < <(awk -v v="$version" -v i="$interval" 'BEGIN {
        skew = (v == 2) ? 156 / 256 * 1000 : 156 * i * 1000 / 256
        printf "%.1f %.1f\n", 3 * i * 1000 + skew, skew }')
    echo
    echo "VRRPv$version, advert_int $interval s: RFC master-down bound $bound ms, skew $skew ms"
    printf '  %-40s' ""
    printf '%12s' "${impls[@]}"
    echo
    for row in "kill/failover:SIGKILL: last advert -> VIP on backup" \
        "kill/act:         SIGKILL -> VIP on backup" \
        "kill/garp:         VIP -> gratuitous ARP" \
        "kill/client:         VIP -> client answered" \
        "kill/outage:         client outage" \
        "term/failover:SIGTERM: signal -> VIP on backup" \
        "term/garp:         VIP -> gratuitous ARP" \
        "term/client:         VIP -> client answered" \
        "term/outage:         client outage"; do
        printf '  %-40s' "${row#*:}"
        for impl in "${impls[@]}"; do
            printf '%12s' "$(median_of "$impl/$version/${row%%:*}")"
        done
        echo
    done
done
if [ -n "${BC_KEEP_WORK:-}" ]; then
    echo "raw figures: $results"
fi
