#!/usr/bin/env bash
# Config-test benchmark: kad -t against keepalived -t on a large generated configuration
# (1000 vrrp_instances x 10 VIPs by default), inside a namespace that has the interfaces.
# Prints the median wall time of N runs of each, side by side.
#
#   compat/bench-config.sh [-n RUNS] [-i INSTANCES] [-v VIPS] [--no-build] [--keep FILE]
#
# kad is the release binary, built here first (--no-build uses the existing one; KAD=PATH
# runs another binary instead).
# Needs root (network namespace) and /usr/sbin/keepalived.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"
root=$(cd "$here/.." && pwd)
keepalived=${KEEPALIVED:-/usr/sbin/keepalived}

# Inside the namespace: time RUNS runs of one command, print "median_ms exit_code".
if [ "${1:-}" = "__time_runs" ]; then
    runs=$2
    shift 2
    times=()
    code=0
    for _ in $(seq "$runs"); do
        start=$(date +%s%N)
        set +e
        "$@" >/dev/null 2>&1
        code=$?
        set -e
        end=$(date +%s%N)
        times+=($(((end - start) / 1000)))
    done
    median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    awk -v us="$median" -v code="$code" 'BEGIN {printf "%.1f %d\n", us / 1000, code}'
    exit 0
fi

runs=5
instances=1000
vips=10
build=1
keep=
while [ $# -gt 0 ]; do
    case "$1" in
        -n) runs=$2; shift ;;
        -i) instances=$2; shift ;;
        -v) vips=$2; shift ;;
        --no-build) build=0 ;;
        --keep) keep=$2; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 1 ;;
    esac
    shift
done

[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (network namespaces)" >&2; exit 1; }
[ -x "$keepalived" ] || { echo "$0: $keepalived is missing" >&2; exit 1; }
# One VRID space per interface and family: 5 interfaces x 255 VRIDs.
[ "$instances" -le 1275 ] || { echo "$0: at most 1275 instances (5 interfaces x 255 VRIDs)" >&2; exit 1; }
[ "$vips" -le 80 ] || { echo "$0: at most 80 VIPs per instance (advert size)" >&2; exit 1; }

kad=${KAD:-$root/target/kad}
if [ "$build" -eq 1 ] && [ -z "${KAD:-}" ]; then
    "$root/scripts/build.sh" --quiet
fi
[ -x "$kad" ] || { echo "$0: $kad is missing (drop --no-build)" >&2; exit 1; }

# shellcheck source=netns-ifaces.sh
. "$here/netns-ifaces.sh"
ns=kadt-bench-$$
work=$(mktemp -d)
cleanup() { netns_delete "$ns"; rm -rf "$work"; }
trap cleanup EXIT
netns_create "$ns" || { echo "$0: cannot create namespace $ns" >&2; exit 1; }

# The documentation IPv4 ranges hold 768 addresses: the first instances take IPv4 VIPs
# from them while unique addresses last, the rest IPv6 VIPs from 2001:db8::/32.
conf="$work/bench.conf"
awk -v instances="$instances" -v vips="$vips" 'BEGIN {
    split("eth0 eth1 eth2 eth4 eth5", ifaces, " ")
    split("192.0.2 198.51.100 203.0.113", nets, " ")
    v4_instances = int(768 / vips)
    print "global_defs {\n    router_id bench\n}\n"
    for (i = 0; i < instances; i++) {
        printf "vrrp_instance VI_%d {\n    interface %s\n    virtual_router_id %d\n", i, ifaces[i % 5 + 1], int(i / 5) + 1
        printf "    priority %d\n    advert_int 1\n    virtual_ipaddress {\n", 100 + i % 100
        for (j = 0; j < vips; j++) {
            if (i < v4_instances) {
                n = i * vips + j
                printf "        %s.%d/24 dev %s\n", nets[int(n / 256) + 1], n % 256, ifaces[i % 5 + 1]
            } else {
                printf "        2001:db8:%x::%x/64\n", i, j + 1
            }
        }
        print "    }\n}\n"
    }
}' >"$conf"
[ -z "$keep" ] || cp "$conf" "$keep"

echo "config: $instances instances x $vips VIPs, $(wc -l <"$conf") lines, $(du -k "$conf" | cut -f1) KiB; median of $runs runs"
kad_result=$(ip netns exec "$ns" "$self" __time_runs "$runs" "$kad" -t -f "$conf" -i kadtest)
ka_result=$(ip netns exec "$ns" "$self" __time_runs "$runs" "$keepalived" -t -f "$conf" -i kadtest \
    -p "$work/ka.pid" -r "$work/vrrp.pid" -c "$work/check.pid" -b "$work/bfd.pid")
printf '%-12s %12s %6s\n' "" "median ms" "exit"
printf '%-12s %12s %6s\n' kad ${kad_result}
printf '%-12s %12s %6s\n' keepalived ${ka_result}
[ "${ka_result#* }" = 0 ] || echo "warning: keepalived does not accept the generated config (exit ${ka_result#* })" >&2
[ "${kad_result#* }" = 0 ] || echo "warning: kad does not accept the generated config (exit ${kad_result#* })" >&2
