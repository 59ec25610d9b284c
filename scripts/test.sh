#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine, as root:
#   installs what the tests need, builds kad, runs unit, corpus, parity, network-namespace
#   and interop tests. CI (.ci/run) calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: the namespace, parity and interop tests need root" >&2
    exit 1
fi

# keepalived is installed as a reference peer only: never let the package start it.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
fi
need=(iproute2 keepalived tcpdump iputils-ping python3-aiosmtpd nftables procps psmisc man-db groff-base)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# a keepalived started by the package would fight the tests for VRIDs
pkill -x keepalived 2>/dev/null || true

export KAD_TEST_REQUIRE_ROOT=1
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast -- --test-threads="${KAD_TEST_THREADS:-4}"

# The tests above run debug builds; what ships is scripts/build.sh's static release build.
# It must run the README's demo: two routers, a crash, the backup taking over.
scripts/build.sh --quiet
KAD="$PWD/target/kad" compat/demo.sh
