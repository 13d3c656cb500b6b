#!/bin/sh
# MPI sweep check (.ci/run): the MPI build under `mpirun -n 2` must run every point of a small
# sweep, with both ranks computing runs, and give the same /summary as the local build.
# usage: tests/mpi_sweep.sh MPI_SETM LOCAL_SETM
set -eu
mpi_setm=$1
local_setm=$2
dir=$(mktemp -d /tmp/setm-mpi-sweep-XXXXXX)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/s.ini" <<'INI'
[scenario]
name = mpi_check
seed = 11
[sim]
days = 0.25
[population]
count = 8
home_solar = 2
smart_device = 1
solar_system = 0.3
[sweep]
population.count = 4, 8, 12
seeds = 2
INI
mpirun --allow-run-as-root --oversubscribe -n 2 "$mpi_setm" sweep "$dir/s.ini" -o "$dir/mpi"
"$local_setm" sweep "$dir/s.ini" -o "$dir/local" -j 2 --quiet
fail() { echo "mpi_sweep: FAILED: $*"; exit 1; }
h5dump -a /workers "$dir/mpi/sweep.h5" | grep -q '"mpi: 2 ranks"' || fail "sweep.h5 was not written by 2 ranks"
h5dump -a /runs_ok "$dir/mpi/sweep.h5" | grep -q '(0): 6$' || fail "not every run is ok"
data() { h5dump -y -A 0 -d "$2" "$1" | sed -n '/DATA {/,/}/p'; }
ranks=$(data "$dir/mpi/sweep.h5" /runs/rank | tr -d ' ' | tr ',' '\n')
{ echo "$ranks" | grep -qx 0 && echo "$ranks" | grep -qx 1; } || fail "not both ranks ran runs: $ranks"
for col in generation_kwh load_kwh events; do
    a=$(data "$dir/mpi/sweep.h5" "/summary/$col")
    b=$(data "$dir/local/sweep.h5" "/summary/$col")
    [ -n "$a" ] && [ "$a" = "$b" ] || fail "/summary/$col differs between MPI and local runs"
done
echo "mpi_sweep: ok (6 runs on 2 ranks, /summary identical to the local sweep)"
