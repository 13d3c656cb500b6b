#!/bin/sh
# Run each cmocka test executable given as an argument, show its own output (cmocka's
# "[  PASSED  ] N test(s)." lines), then one total line.  Exits non-zero if any suite fails.
# LeakSanitizer suppressions for third-party runtimes (PoCL, HDF5) live in tests/lsan.supp.
dir=$(dirname "$0")
if [ -f "$dir/lsan.supp" ]; then
    LSAN_OPTIONS="suppressions=$(cd "$dir" && pwd)/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    export LSAN_OPTIONS
fi
total=0 passed=0 failed=0 bad_suites=""
for t in "$@"; do
    out=$("$t" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    n=$(printf '%s\n' "$out" | sed -n 's/^\[==========\] \([0-9]*\) test(s) run\./\1/p' | tail -n 1)
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -n 1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -n 1)
    total=$((total + ${n:-0})); passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] || [ -z "$n" ]; then bad_suites="$bad_suites $(basename "$t")"; fi
done
echo "=============================================================="
echo "setm tests: $# suites, $total tests, $passed passed, $failed failed"
if [ -n "$bad_suites" ]; then
    echo "FAILED suites:$bad_suites"
    exit 1
fi
