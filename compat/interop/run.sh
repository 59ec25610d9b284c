#!/usr/bin/env bash
# Runs the keepalived interop suite and the sample-config parity test (root, keepalived
# installed). Extra arguments go to the test harness, e.g. a test name filter:
#   compat/interop/run.sh vrrpv3_ipv6
# KAD_KEEP_LAB=1 keeps each lab's configs, logs and captures under /tmp/kl*-lab.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
    echo "$0: needs root (network namespaces, raw sockets)" >&2
    exit 1
fi
export KAD_TEST_REQUIRE_ROOT=1
cargo test --test interop_keepalived --test samples_parity -- --test-threads="${KAD_TEST_THREADS:-4}" "$@"
