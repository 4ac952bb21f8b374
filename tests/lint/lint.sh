#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Lint checks run by meson test (suite "lint"). Usage: lint.sh CHECK ARGS...
# Exit 0: passed, 77: skipped (a tool is missing; a failure under
# BPFHUB_TEST_STRICT=1), anything else: failed.
set -euo pipefail

need() {
    command -v "$1" >/dev/null && return 0
    if [[ ${BPFHUB_TEST_STRICT:-0} == 1 ]]; then
        echo "FAIL: $1 is not installed (BPFHUB_TEST_STRICT=1)" >&2
        exit 1
    fi
    echo "SKIP: $1 is not installed" >&2
    exit 77
}

check=$1; shift
case $check in
xml)
    # Well-formed, and valid against a local DTD where one is given.
    need xmllint
    dtd=$1; shift
    for f in "$@"; do
        if [[ -n $dtd ]]; then
            xmllint --noout --nonet --dtdvalid "$dtd" "$f"
        else
            xmllint --noout --nonet "$f"
        fi
        echo "ok $f"
    done
    ;;
unit)
    # systemd-analyze exits 0 on unknown keys: any diagnostic is a failure.
    need systemd-analyze
    unit=$1 daemon=$2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # The unit names the installed path; verify against the built binary.
    sed "s|^ExecStart=.*|ExecStart=$daemon|" "$unit" > "$tmp/$(basename "$unit")"
    out=$(cd "$tmp" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$tmp/$(basename "$unit")" 2>&1) || {
        echo "$out"; exit 1; }
    if [[ -n $out ]]; then
        echo "$out"; exit 1
    fi
    grep -q '^Type=dbus$' "$unit"
    grep -q '^BusName=org.bpfhub.Manager1$' "$unit"
    echo "ok $unit"
    ;;
activation)
    # The activation file and the unit agree on names and paths.
    service=$1 unit=$2 libexecdir=$3
    grep -qx 'Name=org.bpfhub.Manager1' "$service"
    grep -qx "Exec=$libexecdir/bpfhubd" "$service"
    grep -qx 'SystemdService=dbus-org.bpfhub.Manager1.service' "$service"
    grep -qx "ExecStart=$libexecdir/bpfhubd" "$unit"
    echo "ok $service"
    ;;
polkit-actions)
    # The action file has exactly the five actions of the design.
    policy=$1
    expected="org.bpfhub.inspect org.bpfhub.load-programs org.bpfhub.manage-images org.bpfhub.pull-images org.bpfhub.unload-programs"
    got=$(grep -o '<action id="[^"]*"' "$policy" | sed 's/<action id="//; s/"//' | sort | tr '\n' ' ' | sed 's/ $//')
    if [[ $got != "$expected" ]]; then
        echo "actions: '$got', expected '$expected'"; exit 1
    fi
    # The ids the daemon asks for are the ids the file declares.
    header_ids=$(grep -o '"org\.bpfhub\.[a-z-]*"' "$3" | tr -d '"' | sort | tr '\n' ' ' | sed 's/ $//')
    if [[ $header_ids != "$expected" ]]; then
        echo "service/bus-polkit.h: '$header_ids', policy: '$expected'"; exit 1
    fi
    # Every message is translated into every language in LINGUAS.
    for lang in $(grep -v '^#' "$2"); do
        n=$(grep -c "xml:lang=\"$lang\"" "$policy" || true)
        if [[ $n -ne 10 ]]; then
            echo "$policy: $n strings in $lang, expected 10 (5 descriptions, 5 messages)"; exit 1
        fi
    done
    echo "ok $policy"
    ;;
po)
    need msgfmt
    for f in "$@"; do
        msgfmt --check --check-format -o /dev/null "$f"
        stats=$(LC_ALL=C msgfmt --statistics -o /dev/null "$f" 2>&1)
        if [[ $stats == *fuzzy* || $stats == *untranslated* ]]; then
            echo "$f: $stats"; exit 1
        fi
        echo "ok $f: $stats"
    done
    ;;
man)
    need groff
    for f in "$@"; do
        out=$(LC_ALL=C.UTF-8 groff -man -ww -z -K utf8 "$f" 2>&1)
        if [[ -n $out ]]; then
            echo "$f: $out"; exit 1
        fi
        echo "ok $f"
    done
    ;;
completions)
    bash -n "$1"
    # Loads and completes the verbs in a real bash with bash-completion.
    if [[ -r /usr/share/bash-completion/bash_completion ]]; then
        words=$(bash -c "source /usr/share/bash-completion/bash_completion; source '$1';
            COMP_WORDS=(bpfhubctl st); COMP_CWORD=1; COMP_LINE='bpfhubctl st'; COMP_POINT=\${#COMP_LINE};
            _bpfhubctl; echo \${COMPREPLY[*]}")
        [[ $words == status ]] || { echo "bash completion of 'st' gave '$words'"; exit 1; }
    fi
    need zsh
    zsh -n "$2"
    echo "ok $1 $2"
    ;;
install)
    # Installs into a scratch DESTDIR and checks the layout a package gets.
    builddir=$1 prefix=$2 libexecdir=$3 unitdir=$4
    dest=$(mktemp -d)
    trap 'rm -rf "$dest"' EXIT
    meson install -C "$builddir" --no-rebuild --destdir "$dest" --quiet >/dev/null
    for f in "$libexecdir/bpfhubd" "$prefix/bin/bpfhubctl" "$unitdir/bpfhubd.service" \
             "$prefix/share/dbus-1/system.d/org.bpfhub.Manager1.conf" \
             "$prefix/share/dbus-1/system-services/org.bpfhub.Manager1.service" \
             "$prefix/share/dbus-1/interfaces/org.bpfhub.Manager1.xml" \
             "$prefix/share/dbus-1/interfaces/org.bpfhub.Program1.xml" \
             "$prefix/share/dbus-1/interfaces/org.bpfhub.Link1.xml" \
             "$prefix/share/dbus-1/interfaces/org.bpfhub.Transfer1.xml" \
             "$prefix/share/dbus-1/interfaces/org.bpfhub.Image1.xml" \
             "$prefix/lib/bpfhub/xdp-counter.bpf.o" \
             "$prefix/share/polkit-1/actions/org.bpfhub.policy" \
             "$prefix/share/locale/zh_CN/LC_MESSAGES/bpfhub.mo" \
             "$prefix/share/man/man8/bpfhubd.8" "$prefix/share/man/man1/bpfhubctl.1" \
             "$prefix/share/doc/bpfhub/examples/50-bpfhub-netops.rules.example"; do
        [[ -e $dest$f ]] || { echo "missing after install: $f"; find "$dest" -type f -o -type l; exit 1; }
    done
    link=$(readlink "$dest$unitdir/dbus-org.bpfhub.Manager1.service")
    [[ $link == bpfhubd.service ]] || { echo "alias points to '$link'"; exit 1; }
    [[ -x $dest$libexecdir/bpfhubd && -x $dest$prefix/bin/bpfhubctl ]]
    echo "ok install layout under $prefix"
    ;;
*)
    echo "unknown check $check" >&2; exit 2 ;;
esac
