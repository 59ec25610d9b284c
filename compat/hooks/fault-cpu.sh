#!/usr/bin/env bash
# RSS_HOOK for bench-scale.sh --rss-only: takes eth0 and eth1 of the scale router down while
# every instance is MASTER (half of them go to FAULT and remove their VIPs) and prints the
# CPU the daemon spent on it, including the echoes of its own address deletions.
#   RSS_HOOK=compat/hooks/fault-cpu.sh compat/bench-scale.sh --rss-only --only kad
set -euo pipefail
pid=$1
ns=$(ip netns identify "$pid")
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
vips() { ip -n "$ns" -4 -o addr show | grep -c ' 198\.1[89]\.' || true; }
before=$(vips)
c0=$(cpu_ticks)
ip -n "$ns" link set eth0 down
ip -n "$ns" link set eth1 down
for _ in $(seq 100); do
    sleep 0.1
    [ "$(vips)" -le $((before / 2)) ] && break
done
# The daemon works through the echoes after the kernel has removed the addresses.
sleep 3
c1=$(cpu_ticks)
hz=$(getconf CLK_TCK)
echo "FAULT of the instances on eth0+eth1: VIPs $before -> $(vips), daemon CPU $(( (c1 - c0) * 1000 / hz )) ms" >&2
