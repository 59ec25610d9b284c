#!/bin/sh
# Install kad in place (or into a staging directory), and uninstall it again.
#
#   packaging/install.sh [--destdir DIR] [--prefix /usr] [--binary PATH] [--as-keepalived]
#   packaging/install.sh --uninstall [--destdir DIR]
#
# Installs the binary, the man pages (gzipped), kad.service and, if there is none yet,
# /etc/default/keepalived. With --as-keepalived it also makes the names "keepalived"
# (command, man page, systemd service) lead to kad, so tools and habits that call
# keepalived keep working. Every file that an install would overwrite is first moved
# aside as FILE.kad-orig; the uninstall puts it back. What was done is recorded in
# DESTDIR/var/lib/kad/install-manifest, which drives the uninstall.
#
# DESTDIR (option or environment) stages everything under DIR and never touches the
# running system: no systemctl call either.

set -eu

usage() {
    sed -n '3,5p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

die() {
    echo "install.sh: $*" >&2
    exit 1
}

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

destdir=${DESTDIR:-}
prefix=/usr
unitdir=/lib/systemd/system
binary=$top/target/kad
as_keepalived=no
action=install

while [ $# -gt 0 ]; do
    case $1 in
        --destdir) [ $# -ge 2 ] || usage; destdir=$2; shift ;;
        --destdir=*) destdir=${1#*=} ;;
        --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift ;;
        --prefix=*) prefix=${1#*=} ;;
        --unitdir) [ $# -ge 2 ] || usage; unitdir=$2; shift ;;
        --unitdir=*) unitdir=${1#*=} ;;
        --binary) [ $# -ge 2 ] || usage; binary=$2; shift ;;
        --binary=*) binary=${1#*=} ;;
        --as-keepalived) as_keepalived=yes ;;
        --uninstall) action=uninstall ;;
        -h|--help) usage ;;
        *) echo "install.sh: unknown argument '$1'" >&2; usage ;;
    esac
    shift
done

case $destdir in
    ''|/*) ;;
    *) destdir=$(pwd)/$destdir ;;
esac
destdir=${destdir%/}

manifest_rel=/var/lib/kad/install-manifest
manifest=$destdir$manifest_rel
tab=$(printf '\t')

# Manifest lines: KIND<TAB>PATH[<TAB>EXTRA], PATH without DESTDIR.
#   file PATH            installed by us
#   link PATH            symlink made by us
#   conffile PATH SUM    installed by us because none existed; SUM = cksum of our copy
#   backup PATH SAVED    what was at PATH before us, now at SAVED
# Appended as we go, so that an install that fails half-way can still be undone.
record() {
    printf '%s\n' "$*" >>"$manifest"
}

checksum() {
    cksum <"$1" | cut -d' ' -f1,2
}

# Move whatever is at PATH (file or symlink) aside before we put ours there.
set_aside() {
    path=$1
    target=$destdir$path
    if [ -e "$target" ] || [ -L "$target" ]; then
        saved=$path.kad-orig
        if [ -e "$destdir$saved" ] || [ -L "$destdir$saved" ]; then
            die "$destdir$saved already exists; move it away first"
        fi
        mv "$target" "$destdir$saved"
        record "backup$tab$path$tab$saved"
        echo "  kept   $target as $destdir$saved"
    fi
}

put_file() { # SOURCE MODE PATH
    set_aside "$3"
    mkdir -p "$(dirname "$destdir$3")"
    cp "$1" "$destdir$3.kad-tmp"
    chmod "$2" "$destdir$3.kad-tmp"
    mv "$destdir$3.kad-tmp" "$destdir$3"
    record "file$tab$3"
    echo "  file   $destdir$3"
}

put_manpage() { # SOURCE PATH (.gz)
    tmp=$(mktemp)
    gzip -9n <"$1" >"$tmp"
    put_file "$tmp" 0644 "$2"
    rm -f "$tmp"
}

put_link() { # TARGET PATH
    set_aside "$2"
    mkdir -p "$(dirname "$destdir$2")"
    ln -s "$1" "$destdir$2"
    record "link$tab$2"
    echo "  link   $destdir$2 -> $1"
}

systemd_reload() {
    if [ -z "$destdir" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        systemctl daemon-reload
    fi
}

uninstall() {
    [ -f "$manifest" ] || die "no $manifest: nothing was installed there by install.sh"
    # Undo in reverse order, so a backup is restored after our file at its place is gone.
    tac "$manifest" | while IFS=$tab read -r kind path extra; do
        target=$destdir$path
        case $kind in
            file)
                rm -f "$target"
                echo "  removed  $target"
                ;;
            link)
                if [ -L "$target" ]; then
                    rm -f "$target"
                    echo "  removed  $target"
                fi
                ;;
            conffile)
                if [ -f "$target" ] && [ "$(checksum "$target")" = "$extra" ]; then
                    rm -f "$target"
                    echo "  removed  $target"
                elif [ -e "$target" ]; then
                    echo "  kept     $target (changed since it was installed)"
                fi
                ;;
            backup)
                if [ -e "$target" ] || [ -L "$target" ]; then
                    echo "  kept     $destdir$extra ($target is in the way)"
                else
                    mv "$destdir$extra" "$target"
                    echo "  restored $target"
                fi
                ;;
            *)
                die "unknown manifest line: $kind $path"
                ;;
        esac
    done
    rm -f "$manifest"
    rmdir "$(dirname "$manifest")" 2>/dev/null || true
}

install_all() {
    [ -x "$binary" ] || die "$binary not found: build it first (scripts/build.sh, or make)"
    for page in "$top/man/kad.8" "$top/man/keepalived.conf.5"; do
        [ -f "$page" ] || die "$page not found"
    done

    if [ -f "$manifest" ]; then
        echo "Removing the previous install first:"
        uninstall
    fi
    mkdir -p "$(dirname "$manifest")"
    : >"$manifest"
    chmod 0644 "$manifest"

    echo "Installing kad into ${destdir:-/}:"
    put_file "$binary" 0755 "$prefix/sbin/kad"
    put_manpage "$top/man/kad.8" "$prefix/share/man/man8/kad.8.gz"
    put_manpage "$top/man/keepalived.conf.5" "$prefix/share/man/man5/keepalived.conf.5.gz"
    put_file "$here/kad.service" 0644 "$unitdir/kad.service"

    # keepalived's options file is shared: an existing one is the operator's, keep it.
    if [ -e "$destdir/etc/default/keepalived" ]; then
        echo "  kept   $destdir/etc/default/keepalived (already there; kad reads it too)"
    else
        mkdir -p "$destdir/etc/default"
        cp "$here/default-keepalived" "$destdir/etc/default/keepalived"
        chmod 0644 "$destdir/etc/default/keepalived"
        record "conffile$tab/etc/default/keepalived$tab$(checksum "$destdir/etc/default/keepalived")"
        echo "  file   $destdir/etc/default/keepalived"
    fi

    if [ "$as_keepalived" = yes ]; then
        echo "Making the keepalived names lead to kad:"
        put_link kad "$prefix/sbin/keepalived"
        put_link kad.8.gz "$prefix/share/man/man8/keepalived.8.gz"
        # A unit in /etc/systemd/system wins over the packaged keepalived.service, and
        # systemd resolves enablement links by name, so they reach kad too.
        put_link "$unitdir/kad.service" /etc/systemd/system/keepalived.service
    fi
}

case $action in
    install)
        install_all
        systemd_reload
        echo "Done. Enable with: systemctl enable --now kad"
        ;;
    uninstall)
        echo "Uninstalling kad from ${destdir:-/}:"
        uninstall
        systemd_reload
        ;;
esac
