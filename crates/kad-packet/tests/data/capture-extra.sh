#!/usr/bin/env bash
# Regenerates the extra golden captures (AH, unicast, old unicast checksum) with the installed
# keepalived, as root: keepalived runs in one network namespace, tcpdump in another at the far
# end of a veth pair. Not part of the test suite; the tests read the committed results.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
tag=kadcap$$
ns_r=$tag-r
ns_c=$tag-c
work=$(mktemp -d)

cleanup() {
    for f in "$work"/*.running; do
        [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    ip netns del "$ns_r" 2>/dev/null || true
    ip netns del "$ns_c" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns_r"
ip netns add "$ns_c"
ip link add veth0 netns "$ns_r" address 02:00:00:00:00:11 type veth peer name veth1 netns "$ns_c"
ip -n "$ns_r" addr add 192.0.2.11/24 dev veth0
ip -n "$ns_c" addr add 192.0.2.12/24 dev veth1
for ns in "$ns_r" "$ns_c"; do
    ip -n "$ns" link set lo up
done
ip -n "$ns_r" link set veth0 up
ip -n "$ns_c" link set veth1 up

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s, fails after SECONDS.
wait_for() {
    local limit=$(($1 * 10))
    shift
    for _ in $(seq "$limit"); do
        "$@" && return 0
        sleep 0.1
    done
    echo "timed out waiting for: $*" >&2
    return 1
}

# capture NAME PACKETS: keepalived with the config on stdin until tcpdump saw PACKETS adverts.
capture() {
    local name=$1 packets=$2
    local conf=$work/$name.conf
    cat > "$conf"
    ip netns exec "$ns_c" tcpdump -i veth1 --immediate-mode -U -c "$packets" -w "$out/$name.pcap" \
        'ip proto 112 or ip proto 51' 2> "$work/$name.tcpdump" &
    echo $! > "$work/tcpdump.running"
    wait_for 10 grep -q listening "$work/$name.tcpdump"
    ip netns exec "$ns_r" keepalived -P -G -n -l -D -f "$conf" \
        -p "$work/$name.pid" -r "$work/$name.vrrp.pid" -c "$work/$name.check.pid" -b "$work/$name.bfd.pid" \
        > "$work/$name.log" 2>&1 &
    echo $! > "$work/keepalived.running"
    wait_for 30 bash -c "! kill -0 $(cat "$work/tcpdump.running") 2>/dev/null"
    rm "$work/tcpdump.running"
    kill "$(cat "$work/keepalived.running")"
    wait_for 10 bash -c "! kill -0 $(cat "$work/keepalived.running") 2>/dev/null"
    rm "$work/keepalived.running"
    {
        echo "# $name  (captured on the far end of a veth pair; $(keepalived -v 2>&1 | head -1))"
        echo "# config:"
        sed 's/^/#   /' "$conf"
        echo
        tcpdump -v -nn -r "$out/$name.pcap" 2>/dev/null
    } > "$out/$name.txt"
}

capture vrrpv2-ah 2 <<'EOF'
global_defs {
    vrrp_version 2
}
vrrp_instance VI_1 {
    state MASTER
    interface veth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type AH
        auth_pass kadpass1
    }
    virtual_ipaddress {
        192.0.2.1/24 dev veth0
    }
}
EOF

capture vrrpv2-ah-unicast 2 <<'EOF'
global_defs {
    vrrp_version 2
}
vrrp_instance VI_1 {
    state MASTER
    interface veth0
    virtual_router_id 51
    priority 150
    advert_int 1
    unicast_src_ip 192.0.2.11
    unicast_peer {
        192.0.2.12
    }
    authentication {
        auth_type AH
        auth_pass kadpass1
    }
    virtual_ipaddress {
        192.0.2.1/24 dev veth0
    }
}
EOF

capture vrrpv2-unicast-ttl 2 <<'EOF'
global_defs {
    vrrp_version 2
}
vrrp_instance VI_1 {
    state MASTER
    interface veth0
    virtual_router_id 51
    priority 150
    advert_int 1
    unicast_src_ip 192.0.2.11
    unicast_ttl 64
    unicast_peer {
        192.0.2.12
    }
    virtual_ipaddress {
        192.0.2.1/24 dev veth0
    }
}
EOF

capture vrrpv3-unicast 2 <<'EOF'
global_defs {
    vrrp_version 3
}
vrrp_instance VI_1 {
    state MASTER
    interface veth0
    virtual_router_id 51
    priority 150
    advert_int 1
    unicast_src_ip 192.0.2.11
    unicast_peer {
        192.0.2.12
    }
    virtual_ipaddress {
        192.0.2.1/24 dev veth0
    }
}
EOF

capture vrrpv3-unicast-old-checksum 2 <<'EOF'
global_defs {
    vrrp_version 3
}
vrrp_instance VI_1 {
    state MASTER
    interface veth0
    virtual_router_id 51
    priority 150
    advert_int 1
    unicast_src_ip 192.0.2.11
    old_unicast_checksum
    unicast_peer {
        192.0.2.12
    }
    virtual_ipaddress {
        192.0.2.1/24 dev veth0
    }
}
EOF
