#!/usr/bin/env bash
# pystamps-batch as ONE MPI job over N tasks: patches spread over the ranks by a dynamic
# queue (largest first), the merged stages (5b-8) on rank 0, stage 6's snaphu solves over
# all ranks.
#
#   DATASET=/scratch/me/stack START_STEP=1 END_STEP=8 sbatch slurm/run.sh
#   PYSTAMPS_SIF=/path/pystamps.sif DATASET=... sbatch --ntasks=32 slurm/run.sh   # in the container
#
# Variables: DATASET (required), START_STEP (1), END_STEP (8), PYSTAMPS_CONFIG (optional YAML),
# PYSTAMPS_SIF (run `apptainer exec` on this image), PYSTAMPS_BIN (the CLI when not in a
# container; default `pystamps` on PATH), MPI_LAUNCH (srun | mpiexec; default srun).
#SBATCH --job-name=pystamps
#SBATCH --nodes=1
#SBATCH --ntasks=4
#SBATCH --cpus-per-task=1
#SBATCH --time=04:00:00
#SBATCH --output=pystamps-%j.out
set -euo pipefail

DATASET="${DATASET:?set DATASET to the dataset root (export DATASET=... before sbatch)}"
START_STEP="${START_STEP:-1}"
END_STEP="${END_STEP:-8}"
MPI_LAUNCH="${MPI_LAUNCH:-srun}"
NTASKS="${SLURM_NTASKS:-1}"
THREADS="${SLURM_CPUS_PER_TASK:-1}"

# one BLAS/OpenMP thread per core the task was given; pystamps sizes its own kernels the same way
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"

args=(run --dataset "$DATASET" --start-step "$START_STEP" --end-step "$END_STEP")
if [[ -n "${PYSTAMPS_CONFIG:-}" ]]; then
    args=(--config "$PYSTAMPS_CONFIG" "${args[@]}")
fi

if [[ -n "${PYSTAMPS_SIF:-}" ]]; then
    # the image's MPICH speaks Slurm's PMI-2; bind the dataset (and the config's folder)
    binds=(--bind "$DATASET")
    [[ -n "${PYSTAMPS_CONFIG:-}" ]] && binds+=(--bind "$(dirname "$PYSTAMPS_CONFIG")")
    cmd=(apptainer exec "${binds[@]}" "$PYSTAMPS_SIF" pystamps "${args[@]}")
else
    cmd=("${PYSTAMPS_BIN:-pystamps}" "${args[@]}")
fi

echo "pystamps: job ${SLURM_JOB_ID:-?} on ${NTASKS} task(s) x ${THREADS} cpu(s): ${cmd[*]}" >&2
case "$MPI_LAUNCH" in
    srun)    exec srun --mpi=pmi2 --kill-on-bad-exit=1 -n "$NTASKS" "${cmd[@]}" ;;
    mpiexec) exec mpiexec -n "$NTASKS" "${cmd[@]}" ;;
    *)       echo "pystamps: MPI_LAUNCH must be srun or mpiexec, got '$MPI_LAUNCH'" >&2; exit 2 ;;
esac
