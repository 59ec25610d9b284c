#!/usr/bin/env bash
# Network namespaces with the interfaces the config corpus names (eth0 eth1 eth2 eth4 eth5).
#
#   compat/netns-ifaces.sh create NAME   # NAME gets the eth* ends, NAME-peer the other ends
#   compat/netns-ifaces.sh delete NAME
#
# Scripts may also source this file and call netns_create / netns_delete.
# The same topology is built by tests/common/netns.rs for the Rust tests.

KAD_TEST_IFACES=(eth0 eth1 eth2 eth4 eth5)

netns_create() {
    local ns=$1 peer=$1-peer ifname
    ip netns add "$ns" || return 1
    if ! ip netns add "$peer"; then
        ip netns delete "$ns"
        return 1
    fi
    ip -n "$ns" link set lo up || { netns_delete "$ns"; return 1; }
    for ifname in "${KAD_TEST_IFACES[@]}"; do
        if ! ip link add name "$ifname" netns "$ns" type veth peer name "$ifname" netns "$peer" ||
            ! ip -n "$ns" link set "$ifname" up ||
            ! ip -n "$peer" link set "$ifname" up; then
            netns_delete "$ns"
            return 1
        fi
    done
}

# Deleting the namespaces destroys the veth pairs with them.
netns_delete() {
    local ns=$1
    ip netns delete "$ns" 2>/dev/null
    ip netns delete "$ns-peer" 2>/dev/null
    return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    case "${1:-}" in
        create) netns_create "${2:?namespace name}" ;;
        delete) netns_delete "${2:?namespace name}" ;;
        *) echo "usage: $0 create|delete NAME" >&2; exit 1 ;;
    esac
fi
