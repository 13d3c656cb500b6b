#!/bin/sh
# check_layers.sh — fails when a source file under sim/ includes a header of a module on its own
# floor or a higher one (imports must point down).  Floors, highest first:
#
#   cli > run > {chain, market} > {mine, grid, security} > {io, crypto} > core > kernels
#
# (crypto: a place for SHA-256 below both chain and mine, should it move out of sim/chain there.)
# A file may include its own module's headers and any module on a lower floor.  `#include "x.h"`
# without a directory is the file's own directory; "../../kernels/f.cl" or "kernels/f.cl" (or a
# bare name found only in kernels/) is the OpenCL source floor, below everything.  A directory
# under sim/ missing from the table below is an error, so a new module has to be placed.
#
# Usage: tests/tools/check_layers.sh [ROOT]     check ROOT/sim (default: the repository)
#        tests/tools/check_layers.sh --self-test  prove the check fails on an upward include
# Prints one line per offending include (file:line: A -> B) and exits 1 if there is any.
set -u

floor_of() {
    case "$1" in
    cli) echo 6 ;; run) echo 5 ;; chain | market) echo 4 ;;
    mine | grid | security) echo 3 ;; io | crypto) echo 2 ;; core) echo 1 ;; kernels) echo 0 ;;
    *) echo "" ;;
    esac
}

check_tree() { # ROOT -> exit status
    root=$1
    bad=0
    n_files=0
    for f in $(cd "$root" && find sim -name '*.[ch]' | sort); do
        n_files=$((n_files + 1))
        from=$(echo "$f" | cut -d/ -f2)
        ffloor=$(floor_of "$from")
        if [ -z "$ffloor" ]; then
            echo "$f: module '$from' has no floor in tests/tools/check_layers.sh: place it"
            bad=1
            continue
        fi
        # "file:line:target" for every quoted include
        out=$(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$root/$f" |
                  sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1 \2/')
        [ -z "$out" ] && continue
        # a here-document, not a pipe: the loop must run in this shell to set `bad`
        while read -r line inc; do
            case "$inc" in
            */*)
                case "$inc" in
                ../*) # relative: resolve against the file's directory
                    dir=$(dirname "$f")
                    to_path=$(cd "$root/$dir" 2>/dev/null && cd "$(dirname "$inc")" 2>/dev/null &&
                              pwd -P)
                    rootp=$(cd "$root" && pwd -P)
                    to_path=${to_path#"$rootp"/}
                    case "$to_path" in
                    sim/*) to=$(echo "$to_path" | cut -d/ -f2) ;;
                    kernels*) to=kernels ;;
                    *) to="?$inc" ;;
                    esac
                    ;;
                kernels/*) to=kernels ;;
                *) to=${inc%%/*} ;;
                esac
                ;;
            *)
                if [ -f "$root/$(dirname "$f")/$inc" ]; then
                    to=$from
                elif [ -f "$root/kernels/$inc" ]; then
                    to=kernels
                else
                    to="?$inc"
                fi
                ;;
            esac
            [ "$to" = "$from" ] && continue
            tfloor=$(floor_of "$to")
            if [ -z "$tfloor" ]; then
                echo "$f:$line: includes \"$inc\": not a module of the floor table"
                bad=1
            elif [ "$tfloor" -ge "$ffloor" ]; then
                if [ "$tfloor" -eq "$ffloor" ]; then
                    why="sideways, same floor"
                else
                    why="up"
                fi
                echo "$f:$line: $from -> $to ($why): \"$inc\""
                bad=1
            fi
        done <<EOF
$out
EOF
    done
    if [ "$n_files" -eq 0 ]; then
        echo "check_layers: no sources under $root/sim"
        return 1
    fi
    return $bad
}

self_test() {
    tmp=$(mktemp -d) || exit 1
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/sim/core" "$tmp/sim/market" "$tmp/sim/grid" "$tmp/kernels"
    printf '#include "err.h"\n#include "../../kernels/k.cl"\n' > "$tmp/sim/core/engine.c"
    : > "$tmp/sim/core/err.h"
    : > "$tmp/kernels/k.cl"
    printf '#include "core/err.h"\n' > "$tmp/sim/grid/agents.c"
    check_tree "$tmp" > "$tmp/log" || { echo "self-test: a clean tree was refused"; cat "$tmp/log"; exit 1; }
    printf '#include "core/err.h"\n#include "market/market.h"\n' > "$tmp/sim/grid/agents.c"
    if check_tree "$tmp" > "$tmp/log"; then
        echo "self-test: grid -> market (up) was accepted"; exit 1
    fi
    grep -q 'sim/grid/agents.c:2: grid -> market (up)' "$tmp/log" ||
        { echo "self-test: wrong report:"; cat "$tmp/log"; exit 1; }
    printf '#include "security/registry.h"\n' > "$tmp/sim/grid/agents.c"
    if check_tree "$tmp" > "$tmp/log"; then
        echo "self-test: grid -> security (sideways) was accepted"; exit 1
    fi
    printf '#include "run/sim.h"\n' > "$tmp/sim/core/engine.c"
    printf '#include "core/err.h"\n' > "$tmp/sim/grid/agents.c"
    if check_tree "$tmp" > "$tmp/log"; then
        echo "self-test: core -> run (up) was accepted"; exit 1
    fi
    mkdir -p "$tmp/sim/newmod"
    printf '#include "core/err.h"\n' > "$tmp/sim/newmod/x.c"
    printf '#include "err.h"\n' > "$tmp/sim/core/engine.c"
    if check_tree "$tmp" > "$tmp/log"; then
        echo "self-test: a module without a floor was accepted"; exit 1
    fi
    echo "check_layers self-test: ok"
}

if [ "${1:-}" = --self-test ]; then
    self_test
    exit 0
fi
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
if check_tree "$root"; then
    echo "check_layers: imports point down (cli > run > chain, market > mine, grid, security > io, crypto > core > kernels)"
else
    echo "check_layers: imports must point down (see tests/tools/check_layers.sh)"
    exit 1
fi
