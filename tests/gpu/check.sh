#!/bin/sh
# tests/gpu/check.sh — the GPU check of setm's mining (issue 16), one summary line per figure.
#
#   tests/gpu/check.sh           full check on the machine's OpenCL GPU (NVIDIA by default)
#   tests/gpu/check.sh --quick   the same steps at small sizes on whatever OpenCL device there is
#                                (PoCL here; test_mine runs this as part of the tests)
#
# Runs from a copy of the working tree. The binary is $SETM_BIN, else bin/setm; when
# build/gpu-carry/ exists (tests/gpu/pack.sh made it on the build machine) its bin/setm and lib/
# are used, so a machine without HDF5, GSL, libsodium, inih or the ICD loader needs nothing
# installed. Without an ICD file for the NVIDIA driver under /etc/OpenCL/vendors the script
# writes one (pointing at libnvidia-opencl.so.1, found with ldconfig or in the usual folders)
# into a temporary folder and sets OCL_ICD_VENDORS to it.
#
# Steps and their lines (prefix "gpu-check:"):
#   device      the OpenCL device found and its known-answer self-test (setm devices --check)
#   bench       setm bench mine: OpenCL and CPU rates, and auto against both on scenario work
#   search36    block 125552's header with its time one second early: a (time roll, nonce)
#               search over 2^36 pairs must pass the whole first roll (2^32 nonces, no winner
#               at the block's real target: odds of one about 2^-32) and find the real nonce
#               2504433986 in roll 1 with the block's real hash; the rate of that search
#               (quick: a window of 2^21 nonces around the real nonce, no roll)
#   tips        the same scenario (case study, chain.difficulty_bits = 22; quick: 12) run on
#               cpu, opencl and auto: setm verify must pass and give the same tip hash
# Exit 0 when every step passed, 1 otherwise. Full mode is sized for under 5 minutes on one
# NVIDIA H100/H200-class GPU and 16 cores.
set -u
quick=0
[ "${1:-}" = "--quick" ] && quick=1
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here" || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/setm-gpu-check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
say() { echo "gpu-check: $*"; }
bad() { say "$*"; fail=1; }

setm=${SETM_BIN:-}
if [ -z "$setm" ] && [ -x build/gpu-carry/bin/setm ]; then
    setm=$here/build/gpu-carry/bin/setm
    LD_LIBRARY_PATH=$here/build/gpu-carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export LD_LIBRARY_PATH
fi
[ -n "$setm" ] || setm=$here/bin/setm
if [ ! -x "$setm" ]; then
    bad "setup: no setm binary ($setm): run make, or tests/gpu/pack.sh on the build machine"
    exit 1
fi
export SETM_KERNELS="$here/kernels"

# The NVIDIA driver's OpenCL ICD, when the system has no ICD file for it.
if [ $quick = 0 ] && [ -z "${OCL_ICD_VENDORS:-}" ] && ! ls /etc/OpenCL/vendors/*nvidia* >/dev/null 2>&1; then
    lib=$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl\.so\.1/ {print $NF; exit}')
    for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/lib; do
        [ -z "$lib" ] && [ -e "$d/libnvidia-opencl.so.1" ] && lib=$d/libnvidia-opencl.so.1
    done
    if [ -n "$lib" ]; then
        mkdir -p "$tmp/vendors" && echo "$lib" > "$tmp/vendors/nvidia.icd"
        OCL_ICD_VENDORS=$tmp/vendors
        export OCL_ICD_VENDORS
        say "setup: wrote an ICD file for $lib (OCL_ICD_VENDORS=$OCL_ICD_VENDORS)"
    else
        say "setup: no libnvidia-opencl.so.1 found; using the system's OpenCL ICDs"
    fi
fi

t_all=$(date +%s)

# 1. Device and self-test.
if "$setm" devices --check > "$tmp/devices.txt" 2>&1 && grep -q "self-test passed" "$tmp/devices.txt"; then
    dev=$(awk '/device [0-9]+:/ {sub(/^ *device [0-9]+: /, ""); print; exit}' "$tmp/devices.txt")
    say "device: $dev; kernel built, self-test passed"
else
    bad "device: no OpenCL device passed the self-test: $(tr '\n' ' ' < "$tmp/devices.txt" | cut -c1-400)"
fi

# 2. Throughput.
if [ $quick = 1 ]; then
    bench_args="--nonces 262144 --threads 2"
else
    bench_args="--opencl-nonces 4294967296"
fi
# shellcheck disable=SC2086
if timeout 150 "$setm" bench mine $bench_args > "$tmp/bench.txt" 2>&1; then
    ocl=$(awk '/^bench mine path=opencl / {for (i = 1; i <= NF; i++) if ($i ~ /^mnonce_s=/) {sub(/mnonce_s=/, "", $i); print $i}}' "$tmp/bench.txt")
    cpu=$(awk '/^bench mine path=cpu-sha-ni threads=/ && !/threads=1 / {for (i = 1; i <= NF; i++) if ($i ~ /^mnonce_s=/) {sub(/mnonce_s=/, "", $i); print $i}}' "$tmp/bench.txt")
    autol=$(grep '^bench mine auto ' "$tmp/bench.txt" | sed 's/^bench mine auto //' | tr '\n' ';')
    geom=$(grep -m1 '^# opencl: ' "$tmp/bench.txt" | sed 's/.*(//; s/)$//')
    say "bench: opencl ${ocl:-?} Mnonce/s (${geom:-?}), cpu sha-ni all threads ${cpu:-?} Mnonce/s; auto: $autol"
    [ -n "$ocl" ] || fail=1
else
    bad "bench: setm bench mine failed or timed out: $(tail -3 "$tmp/bench.txt" | tr '\n' ' ')"
fi

# 3. A search on a real Bitcoin header (block 125552).
hdr=$(awk '$1 == 125552 {print $4}' tests/vectors/bitcoin_headers.txt)
want_hash=00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d
want_nonce=2504433986
if [ -z "$hdr" ]; then
    bad "search36: block 125552 missing from tests/vectors/bitcoin_headers.txt"
else
    if [ $quick = 1 ]; then
        args="--header $hdr --start $((want_nonce - 1048576)) --count 2097152"
        want_attempts=1048577
    else
        # time field = bytes 68..71 little-endian: one second earlier
        t=$(echo "$hdr" | cut -c137-144)
        le=$(echo "$t" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')
        t1=$(printf '%08x' $((0x$le - 1)))
        t1le=$(echo "$t1" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')
        hdr=$(echo "$hdr" | cut -c1-136)$t1le$(echo "$hdr" | cut -c145-160)
        args="--header $hdr --start 0 --count 68719476736 --backend opencl"
        want_attempts=$((4294967296 + want_nonce + 1))
    fi
    s0=$(date +%s.%N)
    # shellcheck disable=SC2086
    timeout 120 "$setm" mine $args > "$tmp/search.txt" 2>&1
    rc=$?
    s1=$(date +%s.%N)
    got_nonce=$(awk '$1 == "nonce" {print $2}' "$tmp/search.txt")
    got_hash=$(awk '$1 == "hash" {print $2}' "$tmp/search.txt")
    got_att=$(awk '$1 == "attempts" {print $2}' "$tmp/search.txt")
    secs=$(echo "$s0 $s1" | awk '{printf "%.2f", $2 - $1}')
    rate=$(echo "$got_att $s0 $s1" | awk '{ if ($3 > $2) printf "%.1f", $1 / ($3 - $2) / 1e6; else print "?" }')
    if [ $rc = 0 ] && [ "$got_nonce" = "$want_nonce" ] && [ "$got_hash" = "$want_hash" ] && [ "$got_att" = "$want_attempts" ]; then
        say "search36: block 125552 nonce $got_nonce, hash $got_hash, $got_att pairs in $secs s ($rate Mnonce/s incl. start-up)"
    else
        bad "search36: rc $rc nonce ${got_nonce:-none} hash ${got_hash:-none} attempts ${got_att:-?} (want $want_nonce $want_hash $want_attempts): $(tr '\n' ' ' < "$tmp/search.txt" | cut -c1-300)"
    fi
fi

# 4. Cross-backend tip hash.
bits=22
[ $quick = 1 ] && bits=12
tips=""
for b in cpu opencl auto; do
    if timeout 150 "$setm" run scenarios/case_study.ini -q -o "$tmp/tip-$b.h5" --backend $b \
        --set chain.difficulty_bits=$bits > "$tmp/run-$b.txt" 2>&1 &&
       "$setm" verify "$tmp/tip-$b.h5" > "$tmp/verify-$b.txt" 2>&1; then
        tip=$(sed -n 's/.*tip \([0-9a-f]\{64\}\).*/\1/p' "$tmp/verify-$b.txt")
        tips="$tips $b=$tip"
    else
        tips="$tips $b=FAILED"
        fail=1
    fi
done
n=$(echo "$tips" | tr ' ' '\n' | sed -n 's/^[a-z]*=//p' | sort -u | wc -l)
if [ "$n" = 1 ] && ! echo "$tips" | grep -q FAILED; then
    say "tips: case study at $bits bits, verify passed, same tip on cpu, opencl, auto:$(echo "$tips" | sed 's/.*auto=/ /')"
else
    bad "tips: case study at $bits bits differ or failed:$tips"
fi

say "total $(( $(date +%s) - t_all )) s, $([ $fail = 0 ] && echo PASS || echo FAIL)"
exit $fail
