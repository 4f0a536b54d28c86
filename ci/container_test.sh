#!/usr/bin/env bash
# Build the pystamps-batch image from a clean copy of the git tree and prove, inside containers
# (no network, read-only root, tmpfs /tmp, the caller's uid, the data bind-mounted at /data), that
# it produces the results of the host installation and of StaMPS.
#
#   ci/container_test.sh [MODE...]          (default: all)
#
# modes:
#   build      base image (ci/base_image.sh) + docker build; prints the image size
#   smoke      --version, describe-backends (native extension loaded), pystamps-native, no
#              compilers/pip/CA bundle in the image, an arbitrary uid works
#   synth      pystamps synth a multi-patch dataset in the container, run stages 1..END there and
#              with the host's pystamps, verify --profile strict container run vs host run; the
#              image's pystamps-native runs 1..END too, verified strict against the container run
#   mpi        mpiexec -n 2 mpi4py smoke test (small and 8 MB messages) inside the container
#   mpi-run    mpiexec -n 2 pystamps run of the synth dataset, verified strict against the
#              single-process run (needs the MPI driver; not part of "all" unless
#              PYSTAMPS_CONTAINER_MPI_RUN=1)
#   apptainer  Apptainer.def: header (Bootstrap/From = the built tag), sh -n/bash -n of its
#              sections, its %test body run inside the Docker image as an arbitrary uid
#   golden     a copy of $PYSTAMPS_GOLDEN/multi-2x2/input processed in the container, verified
#              against .../stamps with --profile scientific --through-stage END
#   sif        (not in "all") assemble a SIF without apptainer ($PYSTAMPS_SIF, default
#              <scratch>/pystamps.sif): docker export -> mksquashfs -> siftool (Debian
#              squashfs-tools + siftool, installed if missing); for inspection, not a signed build
#   all        build smoke synth mpi [mpi-run] apptainer golden
#
# Environment (all optional):
#   PYSTAMPS_IMAGE               image tag to build/test (default pystamps-batch:latest)
#   PYSTAMPS_CONTAINER_END_STEP  last stage of the runs (default 8)
#   PYSTAMPS_HOST_PYSTAMPS       host pystamps for the strict comparison (default .venv/bin/pystamps;
#                                the comparison is skipped with a message when it is absent)
#   PYSTAMPS_GOLDEN              golden root (default ../shared/golden); golden mode skipped if absent
#   PYSTAMPS_CONTAINER_CONTEXT   worktree (default: tracked + untracked, not ignored files) | head
#                                (git archive HEAD: exactly the committed tree)
#   PYSTAMPS_CONTAINER_WORK      scratch (default .ci-tmp/container; datasets are recreated)
#   PYSTAMPS_CONTAINER_SYNTH     synth options (default: 600x600, 2x2 patches, 6000 cand., 12 ifgs)
#   PYSTAMPS_CONTAINER_MPI_RUN   1: include mpi-run in "all"
#   PYSTAMPS_CONTAINER_KEEP      1: keep the datasets under the scratch folder (always kept when
#                                a check failed)
# Exit status: 0 all passed; 1 a check failed; 3 a run stopped at a stage this version does not
# implement yet (the message names it and the END that would pass).
set -euo pipefail

CI_NAME=container-test
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=ci/lib.sh
. "$ROOT/ci/lib.sh"

IMAGE=${PYSTAMPS_IMAGE:-pystamps-batch:latest}
BUILD_TAG="${IMAGE%:*}:build-stage"
END=${PYSTAMPS_CONTAINER_END_STEP:-8}
HOST_PYSTAMPS=${PYSTAMPS_HOST_PYSTAMPS-$ROOT/.venv/bin/pystamps}
GOLDEN=${PYSTAMPS_GOLDEN:-$ROOT/../shared/golden}
CONTEXT_MODE=${PYSTAMPS_CONTAINER_CONTEXT:-worktree}
WORK=${PYSTAMPS_CONTAINER_WORK:-$ROOT/.ci-tmp/container}
read -r -a SYNTH_ARGS <<<"${PYSTAMPS_CONTAINER_SYNTH:---width 600 --length 600 --rg-patches 2 --az-patches 2 --n-cand 6000 --n-ifg 12 --seed 7}"
UIDGID="$(id -u):$(id -g)"
SIZE_BYTES=

case "$END" in [1-8]) ;; *) die "PYSTAMPS_CONTAINER_END_STEP must be 1..8 (got '$END')" ;; esac
command -v docker >/dev/null 2>&1 || die "docker is not installed"
docker info >/dev/null 2>&1 || die "the Docker engine is not reachable"
if [ -z "${DOCKER_BUILDKIT:-}" ] && ! docker buildx version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0   # engine 20.10 without buildx: the legacy builder
fi

# ---------------------------------------------------------------------------------------------
# helpers

# drun [docker run options...] -- ARGS...: the image's entrypoint in a locked-down container.
drun() {
    local opts=()
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    [ "$#" -gt 0 ] && shift
    docker run --rm --init --network none --read-only --tmpfs /tmp --shm-size 256m \
        --user "$UIDGID" "${opts[@]}" "$IMAGE" "$@"
}

# run_stages LOG CMD...: a `pystamps run` (any launcher); on failure says whether it stopped at
# a stage this version does not implement (noted in $WORK/not-implemented; returns 3).
run_stages() {
    local logf=$1 rc
    shift
    set +e
    "$@" >"$logf" 2>&1
    rc=$?
    set -e
    tail -n 40 "$logf" >&2
    [ "$rc" -eq 0 ] && return 0
    local missing
    missing=$(grep -o 'stage [0-9][ab]* is not implemented in this version' "$logf" | head -n 1 || true)
    if [ -n "$missing" ]; then
        missing=${missing#stage }
        missing=${missing%% *}
        printf '%s\n' "$missing" >>"$WORK/not-implemented"
        log "NOT IMPLEMENTED: stage $missing is not in this version; stages 1..$END cannot pass yet" \
            "(PYSTAMPS_CONTAINER_END_STEP=$(( ${missing%[ab]} - 1 )) runs what exists)"
        return 3
    fi
    log "pystamps run failed (exit $rc), see $logf"
    return "$rc"
}

fresh_dir() { rm -rf "$1"; mkdir -p "$1"; }

# ---------------------------------------------------------------------------------------------
# modes

make_context() {
    local ctx=$1 ca
    fresh_dir "$ctx"
    case "$CONTEXT_MODE" in
        head)
            git -C "$ROOT" archive --format=tar HEAD | tar -C "$ctx" -x ;;
        worktree)
            (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
                | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done \
                | tar --null -T - -c) | tar -C "$ctx" -x ;;
        *) die "PYSTAMPS_CONTAINER_CONTEXT must be worktree or head (got '$CONTEXT_MODE')" ;;
    esac
    [ -f "$ctx/Dockerfile" ] || die "build context has no Dockerfile (is it committed? try PYSTAMPS_CONTAINER_CONTEXT=worktree)"
    ca=$(host_ca_bundle || true)
    if [ -n "$ca" ]; then
        mkdir -p "$ctx/.ci-tmp/build-ca"
        cp "$ca" "$ctx/.ci-tmp/build-ca/host-ca.crt"
        log "build stage trusts the host CA bundle $ca"
    fi
}

# docker_build LOG ARGS...: docker build, its output in LOG (the tail shown on failure); a cached
# step count is printed to show whether the cache was used.
docker_build() {
    local logf=$1 rc
    shift
    set +e
    docker build "$@" >"$logf" 2>&1
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        tail -n 60 "$logf" >&2
        log "docker build failed (exit $rc), full log: $logf"
        return "$rc"
    fi
    log "$(grep -c 'Using cache' "$logf" || true) cached step(s); $(grep -c '^Step ' "$logf" || true) step(s); log: $logf"
}

mode_build() {
    local ctx="$WORK/context" sde rev version
    timed "base image" "$ROOT/ci/base_image.sh" "$(dockerfile_base "$ROOT/Dockerfile")" || return $?
    timed "build context ($CONTEXT_MODE)" make_context "$ctx" || return $?
    # SOURCE_DATE_EPOCH of the last commit that touched the build inputs: stable wheel timestamps
    # without invalidating the cache on unrelated commits.
    sde=$(git -C "$ROOT" log -1 --format=%ct -- Cargo.toml Cargo.lock pyproject.toml README.md \
        native pystamps_batch 2>/dev/null || true)
    sde=${sde:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)}
    rev=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
    if [ "$CONTEXT_MODE" = worktree ] && [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then
        rev="$rev-dirty"
    fi
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -n 1)
    local args=(--force-rm --build-arg "SOURCE_DATE_EPOCH=$sde" -f "$ctx/Dockerfile")
    # The build stage is tagged so that its layers (the compiled crates) stay cached and are never
    # dangling; then the runtime image reuses them.
    timed "docker build (build stage)" docker_build "$WORK/build-stage.log" "${args[@]}" \
        --target build -t "$BUILD_TAG" "$ctx" || return $?
    timed "docker build (runtime image)" docker_build "$WORK/build-runtime.log" "${args[@]}" \
        --build-arg "VERSION=$version" --build-arg "REVISION=$rev" -t "$IMAGE" "$ctx" || return $?
    # Earlier builds' images left untagged: removed by label only (never a blanket prune).
    docker image prune -f --filter "label=io.pystamps-batch.stage=build" >/dev/null
    docker image prune -f --filter "label=io.pystamps-batch.stage=runtime" >/dev/null
    SIZE_BYTES=$(docker image inspect -f '{{.Size}}' "$IMAGE")
    log "image $IMAGE: $SIZE_BYTES bytes ($(awk -v b="$SIZE_BYTES" 'BEGIN { printf "%.0f", b / 1e6 }') MB)"
}

check_smoke() {
    local out
    drun -- --version
    out=$(drun -- describe-backends)
    printf '%s\n' "$out"
    grep -q 'native extension: loaded' <<<"$out" || die "native extension not loaded in the image"
    drun --entrypoint pystamps-native -- --version
    # No compilers, package managers' caches, pip or the build CA in the runtime image.
    # shellcheck disable=SC2016  # expanded by the container's sh
    drun --entrypoint sh -- -c '
        set -u; bad=0
        for c in cc gcc g++ rustc cargo pip pip3 maturin; do
            if command -v "$c" >/dev/null 2>&1; then echo "unexpected in runtime: $c"; bad=1; fi
        done
        for p in /opt/cargo /root/.cargo /root/.cache /tmp/build-ca /etc/ssl/certs/ca-certificates.crt /src /wheels; do
            if [ -e "$p" ]; then echo "unexpected in runtime: $p"; bad=1; fi
        done
        [ "$(ls /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial | wc -l)" = 0 ] || { echo "apt lists left"; bad=1; }
        exit $bad'
    # An arbitrary uid/gid with no passwd entry and no writable home.
    docker run --rm --init --network none --read-only --tmpfs /tmp --user 54321:54321 \
        --entrypoint python "$IMAGE" -c \
        'import os, pystamps_batch._native, snaphu, mpi4py, h5py, netCDF4, scipy, yaml; print("uid", os.getuid(), "ok; snaphu", snaphu.get_snaphu_version())'
}
mode_smoke() { timed "smoke checks" check_smoke || return $?; }

synth_and_run() {
    local d="$WORK/synth"
    fresh_dir "$d"
    drun -v "$d:/data" -- synth --out /data/input "${SYNTH_ARGS[@]}" >"$d/synth.json"
    cp -a "$d/input" "$d/container"
    cp -a "$d/input" "$d/host"
    cp -a "$d/input" "$d/native"
}

host_run() {
    local d="$WORK/synth"
    run_stages "$d/host.log" "$HOST_PYSTAMPS" run --dataset "$d/host" --start-step 1 --end-step "$END"
}

mode_synth() {
    local d="$WORK/synth" rc=0
    timed "synth in container" synth_and_run || return $?
    timed "run 1..$END in container" run_stages "$d/container.log" \
        drun -v "$d:/data" -- run --dataset /data/container --start-step 1 --end-step "$END" || rc=$?
    [ "$rc" -eq 0 ] || return "$rc"
    # the standalone runner in the image (finds the image's snaphu by itself), strict vs pystamps
    timed "pystamps-native run 1..$END in container" run_stages "$d/native.log" \
        drun -v "$d:/data" --entrypoint pystamps-native -- run --native-only --dataset /data/native \
            --start-step 1 --end-step "$END" || return $?
    timed "verify strict native runner vs pystamps in container" \
        drun -v "$d:/data:ro" -- verify --run /data/native --golden /data/container \
            --profile strict --through-stage "$END" || return $?
    if [ -z "$HOST_PYSTAMPS" ] || [ ! -x "$HOST_PYSTAMPS" ]; then
        log "SKIP strict comparison with the host: no host pystamps at '${HOST_PYSTAMPS}' (set PYSTAMPS_HOST_PYSTAMPS)"
        return 0
    fi
    timed "run 1..$END on the host" host_run || return $?
    timed "verify strict container vs host" \
        drun -v "$d:/data:ro" -- verify --run /data/container --golden /data/host \
            --profile strict --through-stage "$END" || return $?
}

mpi_smoke() {
    drun --entrypoint mpiexec -- -n 2 python -c '
import numpy as np
from mpi4py import MPI
c = MPI.COMM_WORLD
assert c.Get_size() == 2, c.Get_size()
assert c.allreduce(c.Get_rank() + 1) == 3
big = np.full(1 << 20, c.Get_rank() + 1.0)          # 8 MB: the path that needs CMA off
out = np.empty_like(big)
c.Sendrecv(big, dest=1 - c.Get_rank(), recvbuf=out, source=1 - c.Get_rank())
assert out[0] == 2 - c.Get_rank() and out[-1] == out[0]
if c.Get_rank() == 0:
    print("mpi4py", __import__("mpi4py").__version__, "ranks", c.Get_size(), "ok:",
          MPI.Get_library_version().splitlines()[0])'
}
mode_mpi() { timed "mpiexec -n 2 mpi4py smoke" mpi_smoke || return $?; }

mode_mpi_run() {
    local d="$WORK/synth" rc=0
    [ -d "$d/container" ] || die "mpi-run needs the synth mode's single-process run first"
    rm -rf "$d/mpi"
    cp -a "$d/input" "$d/mpi"
    timed "mpiexec -n 2 run 1..$END in container" run_stages "$d/mpi.log" \
        drun -v "$d:/data" --entrypoint mpiexec -- -n 2 pystamps run --dataset /data/mpi \
            --start-step 1 --end-step "$END" || rc=$?
    [ "$rc" -eq 0 ] || return "$rc"
    timed "verify strict mpi vs single-process" \
        drun -v "$d:/data:ro" -- verify --run /data/mpi --golden /data/container \
            --profile strict --through-stage "$END" || return $?
}

# def_section NAME: the body of %NAME of Apptainer.def.
def_section() {
    awk -v s="%$1" '/^%[a-z]+/ { on = ($1 == s); next } on' "$ROOT/Apptainer.def"
}

check_apptainer_def() {
    local def="$ROOT/Apptainer.def" boot from s
    boot=$(sed -n 's/^Bootstrap:[[:space:]]*//p' "$def" | head -n 1)
    from=$(sed -n 's/^From:[[:space:]]*//p' "$def" | head -n 1)
    [ "$boot" = docker-daemon ] || die "Apptainer.def: Bootstrap is '$boot', expected docker-daemon"
    [ "$from" = "$IMAGE" ] || die "Apptainer.def: From is '$from', but the image built is '$IMAGE'"
    for s in post runscript test; do
        [ -n "$(def_section "$s")" ] || die "Apptainer.def: %$s is empty or missing"
        def_section "$s" | bash -n || die "Apptainer.def: %$s does not parse (bash -n)"
        def_section "$s" | sh -n || die "Apptainer.def: %$s does not parse (sh -n)"
    done
    for s in labels help environment; do
        [ -n "$(def_section "$s")" ] || die "Apptainer.def: %$s is empty or missing"
    done
    log "Apptainer.def: Bootstrap: $boot, From: $from; %post/%runscript/%test parse"
}

apptainer_test_body() {
    # Apptainer runs %test with /bin/sh as the calling user; here: an arbitrary uid, no bind mount.
    def_section test | docker run --rm -i --init --network none --read-only --tmpfs /tmp \
        --user 54321:54321 --entrypoint sh "$IMAGE" -s
    def_section post | docker run --rm -i --init --network none --read-only --tmpfs /tmp \
        --user 54321:54321 --entrypoint sh "$IMAGE" -es
}

mode_apptainer() {
    timed "Apptainer.def static checks" check_apptainer_def || return $?
    timed "Apptainer %test body in the image" apptainer_test_body || return $?
}

golden_run() {
    local d="$WORK/golden" src="$GOLDEN/multi-2x2/input"
    fresh_dir "$d"
    cp -a "$src" "$d/run"
    run_stages "$d/run.log" drun -v "$d:/data" -- run --dataset /data/run --start-step 1 --end-step "$END"
}

mode_golden() {
    local rc=0
    if [ ! -d "$GOLDEN/multi-2x2/input" ] || [ ! -d "$GOLDEN/multi-2x2/stamps" ]; then
        log "SKIP golden: $GOLDEN/multi-2x2/{input,stamps} not found (set PYSTAMPS_GOLDEN)"
        return 0
    fi
    timed "golden multi-2x2 run 1..$END in container" golden_run || rc=$?
    [ "$rc" -eq 0 ] || return "$rc"
    timed "verify scientific vs StaMPS (multi-2x2)" \
        drun -v "$WORK/golden:/data:ro" -v "$(cd "$GOLDEN/multi-2x2/stamps" && pwd):/golden:ro" \
            -- verify --run /data/run --golden /golden --profile scientific --through-stage "$END" \
        || return $?
}

build_sif() {
    local d="$WORK/sif" cid sif=${PYSTAMPS_SIF:-$WORK/pystamps.sif}
    for t in mksquashfs:squashfs-tools siftool:siftool; do
        if ! command -v "${t%%:*}" >/dev/null 2>&1; then
            [ "$(id -u)" = 0 ] || die "${t%%:*} missing (apt-get install ${t#*:})"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${t#*:}" >/dev/null
        fi
    done
    fresh_dir "$d/rootfs"
    cid=$(docker create "$IMAGE")
    docker export "$cid" | tar -C "$d/rootfs" -x
    docker rm "$cid" >/dev/null
    # What `apptainer build` adds from the Docker config: the environment and the run/test scripts.
    mkdir -p "$d/rootfs/.singularity.d/env"
    docker image inspect -f '{{range .Config.Env}}{{printf "export %q\n" .}}{{end}}' "$IMAGE" \
        >"$d/rootfs/.singularity.d/env/10-docker2singularity.sh"
    docker image inspect -f '{{json .Config.Labels}}' "$IMAGE" >"$d/rootfs/.singularity.d/labels.json"
    { echo '#!/bin/sh'; def_section environment; } >"$d/rootfs/.singularity.d/env/90-environment.sh"
    { echo '#!/bin/sh'; def_section runscript; } >"$d/rootfs/.singularity.d/runscript"
    { echo '#!/bin/sh'; def_section test; } >"$d/rootfs/.singularity.d/test"
    chmod 0755 "$d/rootfs/.singularity.d/runscript" "$d/rootfs/.singularity.d/test" \
        "$d/rootfs/.singularity.d/env/"*.sh
    ln -sfn .singularity.d/runscript "$d/rootfs/singularity"
    cp "$ROOT/Apptainer.def" "$d/rootfs/.singularity.d/Singularity"
    rm -f "$d/rootfs.squashfs" "$sif"
    mksquashfs "$d/rootfs" "$d/rootfs.squashfs" -noappend -all-root -comp gzip -quiet >/dev/null
    siftool new "$sif"
    siftool add --datatype 1 "$sif" "$ROOT/Apptainer.def"
    siftool add --datatype 4 --parttype 2 --partfs 1 --partarch 2 "$sif" "$d/rootfs.squashfs"
    siftool list "$sif"
    rm -rf "$d"
    log "SIF: $sif ($(stat -c %s "$sif") bytes; not built by apptainer: for inspection)"
}
mode_sif() { timed "assemble SIF (no apptainer)" build_sif || return $?; }

# ---------------------------------------------------------------------------------------------

# `timed` runs the functions above in a fresh process: `container_test.sh --step FUNC ARGS...`.
if [ "${1:-}" = --step ]; then
    shift
    "$@"
    exit 0
fi
CI_STEP_SCRIPT="$ROOT/ci/container_test.sh"

T0=$(now)
STATUS=0
finish() {
    local rc=$?
    [ "$STATUS" -ne 0 ] || STATUS=$rc
    if [ -s "$WORK/not-implemented" ]; then
        log "NOT IMPLEMENTED in this version: stage(s) $(sort -u "$WORK/not-implemented" | tr '\n' ' ')- the runs stopped there"
    fi
    rm -f "$WORK/not-implemented"
    if [ "${PYSTAMPS_CONTAINER_KEEP:-0}" != 1 ] && [ "$STATUS" -eq 0 ]; then
        rm -rf "$WORK/synth" "$WORK/golden" "$WORK/context" 2>/dev/null || true
    elif [ "$STATUS" -ne 0 ]; then
        log "datasets and logs kept for inspection under $WORK"
    fi
    print_timings
    SIZE_BYTES=$(docker image inspect -f '{{.Size}}' "$IMAGE" 2>/dev/null || true)
    [ -z "$SIZE_BYTES" ] || log "image $IMAGE size: $SIZE_BYTES bytes"
    log "whole script: $(elapsed "$T0") s, exit $STATUS"
    exit "$STATUS"
}
trap finish EXIT

MODES=("$@")
[ "${#MODES[@]}" -gt 0 ] || MODES=(all)
if [ "${MODES[0]}" = all ]; then
    MODES=(build smoke synth mpi)
    [ "${PYSTAMPS_CONTAINER_MPI_RUN:-0}" != 1 ] || MODES+=(mpi-run)
    MODES+=(apptainer golden)
fi
mkdir -p "$WORK"
rm -f "$WORK/not-implemented"
if ! have_image "$IMAGE" && [ "${MODES[0]}" != build ]; then
    log "$IMAGE not found: building it first"
    MODES=(build "${MODES[@]}")
fi
for m in "${MODES[@]}"; do
    case "$m" in
        build|smoke|synth|mpi|mpi-run|apptainer|golden|sif) ;;
        *) die "unknown mode '$m' (build smoke synth mpi mpi-run apptainer golden sif all)" ;;
    esac
    rc=0
    "mode_${m//-/_}" || rc=$?
    if [ "$rc" -ne 0 ]; then
        log "FAILED: mode $m (exit $rc)"
        # A stage this version lacks (3) does not hide the other checks; any other failure stops.
        if [ "$rc" -eq 3 ]; then
            STATUS=3
            continue
        fi
        STATUS=1
        exit 1
    fi
done
