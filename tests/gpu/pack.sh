#!/bin/sh
# tests/gpu/pack.sh — pack what tests/gpu/check.sh needs on a machine that cannot install
# packages: build/gpu-carry/bin/setm and, in build/gpu-carry/lib, every shared library `ldd`
# lists for it (HDF5, GSL, libsodium, inih, the OpenCL ICD loader and their dependencies)
# except the C library itself (libc, libm, libpthread, libdl, librt, libresolv, the loader),
# which the target machine has and which must match its kernel. Carry build/gpu-carry with the
# working tree; check.sh finds it. Prints the folder's size.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
[ -x bin/setm ] || make -j"$(nproc)" bin/setm
out=build/gpu-carry
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
cp bin/setm "$out/bin/"
ldd bin/setm | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
        libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libresolv.so.*|ld-linux*) ;;
        *) cp -L "$lib" "$out/lib/" ;;
    esac
done
echo "pack: $out: $(ls "$out/lib" | wc -l) libraries, $(du -sh "$out" | cut -f1)"
