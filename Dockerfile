# pystamps-batch container image: the `pystamps` CLI with the native (Rust) kernels, MPICH
# (MPICH ABI) + mpi4py and snaphu, in a slim Debian bookworm runtime.
#
#   docker build -t pystamps-batch:latest .
#   docker run --rm --init --network none --read-only --tmpfs /tmp \
#       --user "$(id -u):$(id -g)" -v "$PWD/dataset:/data" pystamps-batch:latest \
#       run --dataset /data --start-step 1 --end-step 8
#
# BASE is pulled where a registry is reachable; ci/base_image.sh makes a local image with exactly
# this name (debootstrap + docker import) where none is. Works with the legacy builder and BuildKit.
ARG BASE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------------
# Build stage: Rust (Debian's rustc-web/cargo-web) + maturin build the release abi3 wheel, and the
# complete runtime virtual environment is assembled in /opt/venv (without pip).
FROM ${BASE} AS build
LABEL io.pystamps-batch.stage=build
ARG MATURIN_VERSION=1.16.0
ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    CARGO_HOME=/opt/cargo \
    CARGO_TERM_COLOR=never \
    CARGO_NET_RETRY=5 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=120 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    CARGO_HTTP_CAINFO=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        rustc-web cargo-web python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A CA bundle the build host trusts (e.g. a TLS-inspecting proxy): ci/container_test.sh puts it in
# .ci-tmp/build-ca/ of the build context. Optional (the glob may match nothing); build stage only.
COPY pyproject.toml .ci-tmp/build-ca/*.crt /tmp/build-ca/
RUN set -eu; for f in /tmp/build-ca/*.crt; do [ -f "$f" ] || continue; \
        cat "$f" >>/etc/ssl/certs/ca-certificates.crt; done; rm -rf /tmp/build-ca

RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip install "maturin==${MATURIN_VERSION}"

# The runtime environment: pinned runtime dependencies (the whole closure, --no-deps), before the
# sources are copied so that a source change does not reinstall them. Byte code is compiled with
# hash-based invalidation: deterministic, and valid on a read-only file system.
RUN python3 -m venv --without-pip /opt/venv \
 && /opt/build/bin/pip --python /opt/venv/bin/python install --no-deps --no-compile \
        numpy==2.4.6 \
        scipy==1.17.1 \
        h5py==3.16.0 \
        PyYAML==6.0.4 \
        netCDF4==1.7.5.1.post1 \
        cftime==1.6.6.1 \
        certifi==2026.10.19.post1 \
        packaging==26.4 \
        snaphu==0.4.1 \
        mpich==5.0.2 \
        mpi4py==4.1.2 \
 && /opt/venv/bin/python -m compileall -q -j 0 --invalidation-mode checked-hash /opt/venv/lib

WORKDIR /src
# Three cached layers, each built with the exact commands of the last one (same flags, same
# environment, so cargo reuses what the previous layer compiled):
# 1) the crates.io dependencies only: the workspace manifests with empty targets (a new workspace
#    member needs its Cargo.toml listed here), downloaded and compiled once per Cargo.lock;
COPY Cargo.toml Cargo.lock pyproject.toml ./
COPY native/core/Cargo.toml native/core/
COPY native/python/Cargo.toml native/python/
COPY native/cli/Cargo.toml native/cli/
COPY native/io/Cargo.toml native/io/
RUN mkdir -p native/core/src native/python/src native/cli/src native/io/src pystamps_batch \
 && : >native/core/src/lib.rs && : >native/python/src/lib.rs && : >native/io/src/lib.rs \
 && echo 'fn main() {}' >native/cli/src/main.rs \
 && : >pystamps_batch/__init__.py && : >README.md \
 && /opt/build/bin/maturin build --release --locked --strip --out /tmp/warm \
 && cargo build --release --locked -p pystamps-native \
 && rm -rf /tmp/warm native pystamps_batch README.md
# 2) the Rust workspace (sources touched: newer than the stubs), with a stub Python package, so
#    that a Python-only change reuses the compiled crates;
COPY native ./native
RUN find native -type f -exec touch {} + \
 && mkdir -p pystamps_batch && : >pystamps_batch/__init__.py && : >README.md \
 && /opt/build/bin/maturin build --release --locked --strip --out /tmp/warm \
 && cargo build --release --locked -p pystamps-native \
 && rm -rf /tmp/warm pystamps_batch README.md
# 3) the real wheel (file times from SOURCE_DATE_EPOCH), installed into /opt/venv.
ARG SOURCE_DATE_EPOCH=315532800
COPY README.md ./
COPY pystamps_batch ./pystamps_batch
RUN /opt/build/bin/maturin build --release --locked --strip --out /wheels \
 && /opt/build/bin/pip --python /opt/venv/bin/python install --no-deps --no-compile /wheels/pystamps_batch-*.whl \
 && /opt/venv/bin/python -m compileall -q --invalidation-mode checked-hash \
        /opt/venv/lib/python3*/site-packages/pystamps_batch \
 && /opt/build/bin/pip --python /opt/venv/bin/python check \
 && install -m 0755 target/release/pystamps-native /opt/venv/bin/pystamps-native

# ---------------------------------------------------------------------------------------------
# Runtime stage: python3 + /opt/venv; no compilers, no pip, no caches, no build CA bundle.
FROM ${BASE} AS runtime
LABEL io.pystamps-batch.stage=runtime
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
           /var/log/alternatives.log /var/cache/ldconfig/aux-cache \
           /var/cache/debconf/*-old /var/lib/dpkg/*-old \
 && echo 'pystamps:x:1000:1000:pystamps:/tmp:/usr/sbin/nologin' >>/etc/passwd \
 && echo 'pystamps:x:1000:' >>/etc/group \
 && mkdir -m 1777 /data
COPY --from=build /opt/venv /opt/venv
# Any uid may run it (`--user "$(id -u):$(id -g)"`): nothing needs a writable home or image path;
# MPICH's cross-memory attach is off because the default seccomp profile blocks process_vm_readv.
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    VIRTUAL_ENV=/opt/venv \
    HOME=/tmp \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPIR_CVAR_CH4_CMA_ENABLE=0
USER 1000:1000
WORKDIR /data
ENTRYPOINT ["pystamps"]
CMD ["--help"]
# Metadata last, so that a new revision only changes this layer.
ARG BASE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://example.invalid/pystamps-batch
ARG LICENSES=Apache-2.0
LABEL org.opencontainers.image.title="pystamps-batch" \
      org.opencontainers.image.description="StaMPS persistent-scatterer InSAR processing (stages 1-8) with Rust kernels, MPI (MPICH ABI) and snaphu" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="${LICENSES}" \
      org.opencontainers.image.base.name="${BASE}" \
      io.pystamps-batch.third-party="snaphu 0.4.1 bundles SNAPHU 2.0.7: redistribution only free of charge, CS2 solver non-commercial use only; MPICH 5.0.2 (MPICH licence)"
