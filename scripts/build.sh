#!/usr/bin/env bash
# Builds the kad that ships: release profile, statically linked on glibc, copied to
# target/kad (the path the demo, the benchmarks, `make install` and the README use).
#
#   scripts/build.sh [CARGO BUILD OPTIONS...]
#
# Why static: a dynamically linked kad maps all of libc.so and ld.so, and the pages it
# touches of them stay resident: ~1 MB of a daemon whose whole footprint is 5-10 MB.
# Linked statically, only the parts of libc kad calls are in the binary. Name lookups
# still go through nsswitch (glibc loads the NSS modules of the same glibc release at
# run time), so build on the release you install on, as for any Debian package.
# Relative relocations are packed (DT_RELR) where the glibc linked in can apply them
# (2.36+): a static PIE otherwise holds ~190 KB of them, all read at start and resident
# from then on.
# `cargo build --release` still works and gives a dynamically linked target/release/kad.
set -euo pipefail
cd "$(dirname "$0")/.."

host=$("${RUSTC:-rustc}" -vV | sed -n 's/^host: //p')
[ -n "$host" ] || { echo "scripts/build.sh: cannot tell the host triple from rustc -vV" >&2; exit 1; }
relr=
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null || true)
case $glibc in
    "glibc 2."*)
        minor=${glibc#glibc 2.}
        minor=${minor%%.*}
        [ "$minor" -lt 36 ] 2>/dev/null || relr=" -C link-arg=-Wl,-z,pack-relative-relocs"
        ;;
esac
case $host in
    # With an explicit --target, the flag applies to kad only, not to build scripts or
    # proc-macros (which cannot be static).
    *-linux-gnu*) export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static$relr" ;;
esac
"${CARGO:-cargo}" build --release --target "$host" --bin kad "$@"
install -m 755 "target/$host/release/kad" target/kad.new
mv -f target/kad.new target/kad
