#!/bin/bash
# Re-captures the files in this directory from Debian's keepalived 2.2.7.
# Two network namespaces joined by a veth pair (vA 192.0.2.11, vB 192.0.2.12);
# master.conf runs in A and backup.conf in B, then mixed.conf alone in A.
# keepalived honours TMPDIR for its dump files; the one file on the host is the track
# file /tmp/kadump-obs-tf, removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
A=kdA$$; B=kdB$$
stop() { # name: TERM the parent and wait (bounded) for it to go
    local pid; pid=$(cat "$work/$1/p" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}
cleanup() {
    for d in "$work"/*/; do stop "$(basename "$d")"; done
    ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true
    rm -rf "$work" /tmp/kadump-obs-tf
}
trap cleanup EXIT
ip netns add $A; ip netns add $B
ip link add vA type veth peer name vB
ip link set vA netns $A; ip link set vB netns $B
ip -n $A addr add 192.0.2.11/24 dev vA; ip -n $B addr add 192.0.2.12/24 dev vB
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set vA up; ip -n $B link set vB up
ip -n $A addr add 2001:db8::11/64 dev vA nodad; ip -n $B addr add 2001:db8::12/64 dev vB nodad
ip -n $A link add dmy0 type veth peer name dmy1
echo 0 > /tmp/kadump-obs-tf
start() { # name netns
    mkdir -p "$work/$1"
    sed "s#/tmp/kadump-obs/c/fifo#$work/$1/fifo#" \
        "$here/$1.conf" > "$work/$1/k.conf"
    TMPDIR="$work/$1" ip netns exec "$2" keepalived -f "$work/$1/k.conf" -P -n -G -l \
        -p "$work/$1/p" -r "$work/$1/r" -c "$work/$1/c" -b "$work/$1/b" > "$work/$1/log" 2>&1 &
}
dump() { # name
    local pid; pid=$(cat "$work/$1/p")
    kill -USR1 "$pid"; kill -USR2 "$pid"; kill -36 "$pid"; sleep 1
    for ext in data stats json; do cp "$work/$1/keepalived.$ext" "$here/$1.$ext"; done
}
start master $A; start backup $B; sleep 8
dump master; dump backup
stop master; stop backup
start mixed $A; sleep 8
dump mixed
