#!/usr/bin/env bash
# Measures keepalived's `-t` exit code for every top-level tests/configs/*.conf and records it
# in the FILE.expect beside it (keepalived_exit:, and exit: unless the file is a marked
# intentional difference). Runs inside a fresh namespace that has eth0 eth1 eth2 eth4 eth5.
#
#   compat/measure-corpus.sh                 # measure all, rewrite the .expect files
#   compat/measure-corpus.sh --self-check    # measure all, compare with the recorded values,
#                                            # and check contains:/not_contains: against
#                                            # keepalived's own diagnostics
#   compat/measure-corpus.sh --show F.conf   # also print keepalived's diagnostics
#
# Each run: cwd /, absolute -f path, `-i kadtest`, per-run pid files, plus the `env:` lines
# of the .expect file. Needs root and /usr/sbin/keepalived (Debian's 2.2.7 is the reference).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
corpus=$(cd "$here/../tests/configs" && pwd)
keepalived=${KEEPALIVED:-/usr/sbin/keepalived}
# shellcheck source=netns-ifaces.sh
. "$here/netns-ifaces.sh"

mode=record
show=0
files=()
while [ $# -gt 0 ]; do
    case "$1" in
        --self-check) mode=check ;;
        --show) show=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 1 ;;
        *) files+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")") ;;
    esac
    shift
done
[ ${#files[@]} -gt 0 ] || files=("$corpus"/*.conf)

[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (network namespaces)" >&2; exit 1; }
[ -x "$keepalived" ] || { echo "$0: $keepalived is missing (apt-get install keepalived)" >&2; exit 1; }

ns=kadt-measure-$$
work=$(mktemp -d)
cleanup() { netns_delete "$ns"; rm -rf "$work"; }
trap cleanup EXIT
netns_create "$ns" || { echo "$0: cannot create namespace $ns" >&2; exit 1; }

# The value of the first `KEY: value` line of an expect file (empty if absent).
expect_field() {
    sed -n "s/^$2:[[:space:]]*//p" "$1" | head -n 1
}

run_keepalived() {
    local conf=$1 expect=$2 envs=()
    if [ -f "$expect" ]; then
        mapfile -t envs < <(sed -n 's/^env:[[:space:]]*//p' "$expect")
    fi
    (cd / && ip netns exec "$ns" env "${envs[@]}" timeout 30 "$keepalived" -t -f "$conf" -i kadtest \
        -p "$work/ka.pid" -r "$work/ka_vrrp.pid" -c "$work/ka_check.pid" -b "$work/ka_bfd.pid" \
        >"$work/stdout" 2>"$work/stderr")
}

record() {
    local expect=$1 code=$2 tmp
    tmp=$(mktemp)
    if [ ! -f "$expect" ]; then
        printf 'keepalived_exit: %s\nexit: %s\n' "$code" "$code" >"$expect"
        return
    fi
    local differs=0
    grep -q '^differs:' "$expect" && differs=1
    awk -v code="$code" -v differs="$differs" '
        /^keepalived_exit:/ { print "keepalived_exit: " code; seen_ka = 1; next }
        /^exit:/ && !differs { print "exit: " code; seen_exit = 1; next }
        /^exit:/ { seen_exit = 1 }
        { print }
        END {
            if (!seen_ka) print "keepalived_exit: " code
            if (!seen_exit) print "exit: " code
        }' "$expect" >"$tmp"
    cat "$tmp" >"$expect"
    rm -f "$tmp"
}

# The diagnostics of kad and keepalived share their text, not their location format:
# kad's `FILE:LINE:` is keepalived's `(FILE: Line LINE)`, or `(Line LINE)` from the parent.
keepalived_has() {
    local text=$1 stderr=$2
    if [[ "$text" =~ ^(.*):([0-9]+):$ ]]; then
        grep -qF "${BASH_REMATCH[1]}: Line ${BASH_REMATCH[2]})" "$stderr" ||
            grep -qF "(Line ${BASH_REMATCH[2]})" "$stderr"
    else
        grep -qF -- "$text" "$stderr"
    fi
}

# Expectations about diagnostics are about kad; for files that are not marked as
# differing on purpose, keepalived's own output must satisfy them too.
check_texts() {
    local name=$1 expect=$2 stderr=$3 text bad=0
    grep -q '^differs:' "$expect" && return 0
    while IFS= read -r text; do
        if ! keepalived_has "$text" "$stderr"; then
            echo "MISMATCH $name: keepalived's diagnostics lack '$text'"
            bad=1
        fi
    done < <(sed -n 's/^contains:[[:space:]]*//p' "$expect")
    while IFS= read -r text; do
        if keepalived_has "$text" "$stderr"; then
            echo "MISMATCH $name: keepalived's diagnostics contain '$text'"
            bad=1
        fi
    done < <(sed -n 's/^not_contains:[[:space:]]*//p' "$expect")
    return $bad
}

mismatches=0
for conf in "${files[@]}"; do
    expect=${conf%.conf}.expect
    set +e
    run_keepalived "$conf" "$expect"
    code=$?
    set -e
    name=${conf#"$corpus"/}
    if [ "$code" -eq 124 ]; then
        echo "$name: keepalived timed out" >&2
        mismatches=$((mismatches + 1))
        continue
    fi
    recorded=$( [ -f "$expect" ] && expect_field "$expect" keepalived_exit || true)
    if [ "$mode" = check ]; then
        if [ "$recorded" != "$code" ]; then
            echo "MISMATCH $name: keepalived exits $code, recorded ${recorded:-nothing}"
            mismatches=$((mismatches + 1))
        elif ! check_texts "$name" "$expect" "$work/stderr"; then
            mismatches=$((mismatches + 1))
        fi
    else
        [ "$recorded" = "$code" ] || echo "$name: keepalived_exit ${recorded:-none} -> $code"
        record "$expect" "$code"
    fi
    if [ "$show" -eq 1 ]; then
        echo "== $name: exit $code"
        sed 's/^/    /' "$work/stderr"
    fi
done

if [ "$mode" = check ]; then
    echo "self-check: ${#files[@]} configs, $mismatches mismatching"
    [ "$mismatches" -eq 0 ]
fi
