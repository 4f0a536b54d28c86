#!/usr/bin/env bash
# pystamps-batch WITHOUT MPI: a Slurm job array with one task per patch for stages 1-5a,
# plus a dependent (afterok) job for the merged stages 5b-8.
#
#   bash slurm/array.sh /scratch/me/stack [START_STEP] [END_STEP]     # submits both jobs
#
# Variables: MAX_PARALLEL (array throttle, default 16), SBATCH_ARGS (extra sbatch options,
# e.g. "--partition=short --time=02:00:00"), PYSTAMPS_SIF (run in this Apptainer image),
# PYSTAMPS_BIN (the CLI otherwise; default `pystamps`), PYSTAMPS_CONFIG (optional YAML),
# LOG_DIR (default DATASET/slurm-logs), WAIT=1 (block until the last job ends; exit with its status).
# The same file is the job script of both jobs (internal modes --task and --merge).
set -euo pipefail

self="$(readlink -f "${BASH_SOURCE[0]}")"

pystamps_cmd() {
    local cfg=()
    [[ -n "${PYSTAMPS_CONFIG:-}" ]] && cfg=(--config "$PYSTAMPS_CONFIG")
    if [[ -n "${PYSTAMPS_SIF:-}" ]]; then
        local binds=(--bind "$DATASET")
        [[ -n "${PYSTAMPS_CONFIG:-}" ]] && binds+=(--bind "$(dirname "$PYSTAMPS_CONFIG")")
        apptainer exec "${binds[@]}" "$PYSTAMPS_SIF" pystamps "${cfg[@]}" "$@"
    else
        "${PYSTAMPS_BIN:-pystamps}" "${cfg[@]}" "$@"
    fi
}

mode="${1:-}"
case "$mode" in
--task)
    # array task: one patch, stages START..min(END, 5) (5 = 5a, ps_correct_phase)
    DATASET="$2"; START_STEP="$3"; END_STEP="$4"
    idx="${SLURM_ARRAY_TASK_ID:?not an array task}"
    patch="$(sed -n "${idx}p" "$DATASET/patch.list" | tr -d '[:space:]')"
    [[ -n "$patch" ]] || { echo "pystamps: no line $idx in $DATASET/patch.list" >&2; exit 2; }
    last=$(( END_STEP < 5 ? END_STEP : 5 ))
    echo "pystamps: array task $idx -> $patch, stages $START_STEP..$last" >&2
    pystamps_cmd run --no-mpi --dataset "$DATASET" --start-step "$START_STEP" --end-step "$last" --patch "$patch"
    ;;
--merge)
    # after every patch task succeeded: merged stages (patch units are skipped_existing)
    DATASET="$2"; START_STEP="$3"; END_STEP="$4"
    first=$(( START_STEP > 5 ? START_STEP : 5 ))
    pystamps_cmd run --no-mpi --dataset "$DATASET" --start-step "$first" --end-step "$END_STEP"
    ;;
*)
    DATASET="$(readlink -f "${1:?usage: array.sh DATASET [START_STEP] [END_STEP]}")"
    START_STEP="${2:-1}"
    END_STEP="${3:-8}"
    [[ -f "$DATASET/patch.list" ]] || { echo "pystamps: $DATASET/patch.list not found" >&2; exit 2; }
    n="$(grep -c . "$DATASET/patch.list")"
    LOG_DIR="${LOG_DIR:-$DATASET/slurm-logs}"
    mkdir -p "$LOG_DIR"
    read -r -a extra <<< "${SBATCH_ARGS:-}"
    export DATASET PYSTAMPS_SIF="${PYSTAMPS_SIF:-}" PYSTAMPS_BIN="${PYSTAMPS_BIN:-pystamps}" \
           PYSTAMPS_CONFIG="${PYSTAMPS_CONFIG:-}"
    jobs=()
    if (( START_STEP <= 5 )); then
        arr=$(sbatch --parsable "${extra[@]}" --job-name=pystamps-patch --array="1-${n}%${MAX_PARALLEL:-16}" \
              --ntasks=1 --cpus-per-task="${CPUS_PER_TASK:-1}" --output="$LOG_DIR/patch-%A_%a.out" \
              --export=ALL "$self" --task "$DATASET" "$START_STEP" "$END_STEP")
        echo "submitted patch array $arr ($n tasks)"
        jobs=(--dependency="afterok:${arr%%;*}")
    fi
    waitopt=()
    [[ "${WAIT:-0}" == 1 ]] && waitopt=(--wait)
    if (( END_STEP >= 5 )); then
        mrg=$(sbatch --parsable "${waitopt[@]}" "${extra[@]}" "${jobs[@]}" --kill-on-invalid-dep=yes \
              --job-name=pystamps-merged --ntasks=1 \
              --cpus-per-task="${MERGE_CPUS:-1}" --output="$LOG_DIR/merged-%j.out" \
              --export=ALL "$self" --merge "$DATASET" "$START_STEP" "$END_STEP")
        echo "submitted merged job $mrg"
    fi
    ;;
esac
