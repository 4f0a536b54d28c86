#!/usr/bin/env bash
# MPI throughput on this machine: stages 1..END of a generated 16-patch dataset with 1 rank and
# with N ranks (1 thread per rank), the ratio of the two, bit-for-bit equality of the results,
# and the MPI scaling simulation from the measured per-patch times.
#   [BACKEND=python|native|auto] ci/mpi_throughput.sh [RANKS=2] [END=4]
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS="${1:-2}"
END="${2:-4}"
BIN="${PYSTAMPS_BIN:-$PWD/.venv/bin}"
W="$(mktemp -d /tmp/pystamps-mpi-tp.XXXXXX)"
trap 'rm -rf "$W"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
printf 'runtime:\n  backend: %s\n  stage2_kernel_backend: %s\n  cpu_workers: 1\n  stage2_native_threads: 1\n' "${BACKEND:-auto}" "${BACKEND:-auto}" > "$W/one-thread.yaml"
"$BIN/pystamps" synth --out "$W/src" --width 1600 --length 1600 --rg-patches 4 --az-patches 4 \
    --rg-overlap 50 --az-overlap 50 --n-cand 24000 --n-ifg 16 --seed 21 >/dev/null
cp -r "$W/src" "$W/one"; cp -r "$W/src" "$W/many"
now() { date +%s.%N; }
load0="$(cut -d' ' -f1-3 /proc/loadavg)"
t=$(now)
"$BIN/mpiexec" -n 1 "$BIN/pystamps" --config "$W/one-thread.yaml" run --mpi --dataset "$W/one" \
    --start-step 1 --end-step "$END" --json > "$W/one.json" 2>/dev/null
t1=$("$BIN/python" -c "print(round($(now) - $t, 1))")
t=$(now)
"$BIN/mpiexec" -n "$RANKS" "$BIN/pystamps" --config "$W/one-thread.yaml" run --dataset "$W/many" \
    --start-step 1 --end-step "$END" --json > "$W/many.json" 2>/dev/null
tn=$("$BIN/python" -c "print(round($(now) - $t, 1))")
echo "load average at start: $load0, backend ${BACKEND:-auto}, $(getconf _NPROCESSORS_ONLN) cores"
echo "stages 1-$END, 16 patches: 1 rank ${t1} s, $RANKS ranks ${tn} s, throughput ratio $("$BIN/python" -c "print(round($t1 / $tn, 2))")"
"$BIN/pystamps" verify --run "$W/many" --golden "$W/one" --profile strict --through-stage "$END" > "$W/verify.txt"
head -1 "$W/verify.txt"
"$BIN/python" ci/mpi_scaling.py "$W/one.json"
