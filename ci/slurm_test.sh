#!/usr/bin/env bash
# Tests the Slurm templates on a real one-node Slurm: slurm/run.sh (one MPI job, 2 tasks)
# and slurm/array.sh (job array + afterok merge) on a generated 4-patch dataset; both
# results must pass `pystamps verify --profile strict` against a single-process run.
# Needs root (installs slurm-wlm + munge, starts the daemons; stops them at exit).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
PYSTAMPS="${PYSTAMPS_BIN:-$REPO/.venv/bin/pystamps}"
WORK="$(mktemp -d /tmp/pystamps-slurm-test.XXXXXX)"
t0=$SECONDS

cleanup() { bash "$REPO/ci/slurm_cluster.sh" stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

if [[ "$(id -u)" != 0 ]]; then echo "slurm_test: needs root, skipped"; exit 0; fi
bash ci/slurm_cluster.sh start

"$PYSTAMPS" synth --out "$WORK/src" --width 600 --length 600 --rg-patches 2 --az-patches 2 \
    --n-cand 3200 --n-ifg 10 --seed 5 >/dev/null
for d in ref mpi array; do cp -r "$WORK/src" "$WORK/$d"; done
"$PYSTAMPS" run --dataset "$WORK/ref" --no-mpi >/dev/null 2>"$WORK/ref.log"

echo "slurm_test: sbatch --wait slurm/run.sh (2 MPI tasks)"
(cd "$WORK" && DATASET="$WORK/mpi" PYSTAMPS_BIN="$PYSTAMPS" sbatch --wait --ntasks=2 \
    --output="$WORK/run-%j.out" "$REPO/slurm/run.sh")
grep -q "completed" "$WORK"/run-*.out
"$PYSTAMPS" verify --run "$WORK/mpi" --golden "$WORK/ref" --profile strict > "$WORK/verify-mpi.txt"
head -1 "$WORK/verify-mpi.txt"

echo "slurm_test: slurm/array.sh (array of 4 patch tasks + afterok merged job)"
WAIT=1 PYSTAMPS_BIN="$PYSTAMPS" bash slurm/array.sh "$WORK/array" 1 8
"$PYSTAMPS" verify --run "$WORK/array" --golden "$WORK/ref" --profile strict > "$WORK/verify-array.txt"
head -1 "$WORK/verify-array.txt"
n_logs=$(ls "$WORK/array/slurm-logs" | grep -c '^patch-')
[[ "$n_logs" == 4 ]] || { echo "slurm_test: expected 4 array task logs, got $n_logs" >&2; exit 1; }
echo "slurm_test: OK in $(( SECONDS - t0 )) s"
