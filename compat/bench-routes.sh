#!/usr/bin/env bash
# Route-switch benchmark for the reference scenario (docs/scenario.md): kad with
# virtual_routes/backup_routes against keepalived 2.2.7 with the operator's notify scripts
# (compat/scenario/master_active, backup_active), in the same run, in network namespaces.
#
#   compat/bench-routes.sh [-n ROUNDS]
#
# For three failovers (fw1 loses power; fw1 comes back and preempts; fw1 gets SIGTERM) it
# prints, per round: the time from the state change (the inside VIP appearing or going,
# as the kernel shows it) to each box's default route switch, how long a box had no
# default route at all (kernel polled every 1 ms, plus RTM_DELROUTE notifications), and
# the LAN client's outage (longest silence of a ping every 10 ms to the internet host).
# The measuring code is tests/scenario_bench.rs; kad is built in release mode.
# Needs root and /usr/sbin/keepalived.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rounds=3
while [ $# -gt 0 ]; do
    case "$1" in
        -n) rounds=$2; shift 2 ;;
        *) echo "usage: $0 [-n ROUNDS]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (network namespaces)" >&2; exit 1; }
[ -x /usr/sbin/keepalived ] || { echo "$0: /usr/sbin/keepalived not found" >&2; exit 1; }

cd "$root"
KAD_BENCH_ROUNDS=$rounds cargo test --release --test scenario_bench -- --ignored --nocapture --test-threads=1 2>&1 \
    | sed -n '/^Scenario failover/,$p' | grep -v '^test \|^$\|^test result'
