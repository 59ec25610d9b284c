#!/usr/bin/env bash
# kad in one minute: two routers and a client in network namespaces, one virtual IP.
# The master crashes and the backup takes over while the client keeps pinging the VIP.
#
#   sudo compat/demo.sh
#
# Needs root, bash 5, iproute2 and ping; builds kad with cargo if cargo is there
# (KAD=PATH runs another binary, BC_NO_BUILD=1 skips the build). Everything it creates
# is removed when it ends, also on ^C.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench-common.sh
. "$here/bench-common.sh"

case "${1:-}" in
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
esac

vip=192.0.2.1
interval=0.1

bc_init demo
command -v ping >/dev/null || bc_die "needs ping (iputils-ping)"
bc_build_kad

t0=$(bc_now_us)
say() {
    printf '[%5.1fs] %s\n' "$(awk -v a="$t0" -v b="$(bc_now_us)" 'BEGIN { print (b - a) / 1e6 }')" "$*"
}

for host_addr in r1:192.0.2.11 r2:192.0.2.12 client:192.0.2.100; do
    host=${host_addr%%:*}
    bc_add_host "$host"
    bc_connect "$host" eth0 lan
    bc_ip "$host" addr add "${host_addr#*:}/24" dev eth0
done

# The same file as on two real routers, apart from state and priority.
config() {
    cat <<EOF
global_defs {
    router_id $1
}
vrrp_instance VI_1 {
    interface eth0
    state $2
    virtual_router_id 51
    priority $3
    advert_int 1
    virtual_ipaddress {
        $vip/24
    }
}
EOF
}
config r1 MASTER 150 >"$BC_WORK/r1.conf"
config r2 BACKUP 100 >"$BC_WORK/r2.conf"

say "LAN 192.0.2.0/24: r1 .11 (priority 150), r2 .12 (priority 100), client .100; VIP $vip"
bc_start kad r1 r1 "$BC_WORK/r1.conf"
bc_start kad r2 r2 "$BC_WORK/r2.conf"
say "kad started on r1 and r2 (advert_int 1 s)"

# A MASTER below priority 255 first listens for 3 adverts' time, as keepalived does.
bc_wait_until 10 bc_has_addr r1 eth0 "$vip" || { bc_log r1; bc_die "r1 did not become master"; }
bc_has_addr r2 eth0 "$vip" && bc_die "both routers hold $vip"
say "r1 is MASTER (holds $vip, mac $(bc_mac r1 eth0)); r2 is BACKUP"

ping_log=$BC_WORK/ping.log
bc_spawn client "$ping_log" ping -n -D -i "$interval" -w 60 "$vip"
ping_pid=$BC_SPAWNED
replies() { grep -c 'bytes from' "$ping_log" || true; }
bc_wait_until 5 eval '[ "$(replies)" -ge 10 ]' || bc_die "the client cannot reach $vip"
say "client pings $vip every $interval s: $(replies) answers so far, via $(bc_ip client neigh show "$vip" | awk '{ print $5 }')"

# A crash, not a shutdown: no priority-0 advert, and the dead box answers nothing.
crash=$(bc_now_us)
bc_ip r1 link set eth0 down
bc_crash r1
say "r1 crashes (its link cut, kad killed with SIGKILL)"

bc_wait_until 10 bc_has_addr r2 eth0 "$vip" || { bc_log r2; bc_die "r2 did not take over"; }
took=$(awk -v a="$crash" -v b="$(bc_now_us)" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
say "r2 is MASTER, $took s after the crash (it waits 3 adverts + skew = 3.61 s from r1's last advert)"
answered=$(replies)
bc_wait_until 5 eval '[ "$(replies)" -ge $((answered + 10)) ]' || bc_die "the client lost $vip"
say "client answered again, via $(bc_ip client neigh show "$vip" | awk '{ print $5 }') (r2 is $(bc_mac r2 eth0))"

kill -INT "$ping_pid"
wait "$ping_pid" || true
say "$(awk -v step="$interval" '
    /bytes from/ { t = substr($1, 2, length($1) - 2); if (last != "" && t - last > gap) gap = t - last; last = t }
    /packets transmitted/ { sent = $1; received = $4 }
    END { printf "ping: %d sent, %d answered, %d lost; longest time without an answer: %.2f s", sent, received, sent - received, gap - step }' "$ping_log")"
echo "kad on r2 said:"
grep -E 'Entering (BACKUP|MASTER) STATE' "$BC_WORK/r2.log" | sed 's/^/    /'
echo "cleaning up"
