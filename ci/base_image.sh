#!/usr/bin/env bash
# Make sure the Docker engine has the Dockerfile's base image (default of its `ARG BASE=`,
# e.g. debian:bookworm-slim).
#
#   ci/base_image.sh [IMAGE]
#
# 1. the engine already has IMAGE: nothing to do;
# 2. `docker pull IMAGE` works (a registry is reachable): done;
# 3. otherwise build a minimal Debian bookworm root file system with debootstrap from the
#    host's Debian mirror and `docker import` it under exactly that name, so the Dockerfile
#    builds unchanged here and where images can be pulled.
#
# Environment: PYSTAMPS_BASE_NO_PULL=1 skips step 2; PYSTAMPS_DEBIAN_MIRROR overrides the mirror
# (e.g. a snapshot.debian.org URL for a bit-for-bit reproducible base); SOURCE_DATE_EPOCH
# (default: the last commit's time) stamps every file of the imported tree.
# Needs root (debootstrap) and installs debootstrap with apt-get when it is missing.
set -euo pipefail

CI_NAME=base-image
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=ci/lib.sh
. "$ROOT/ci/lib.sh"

IMAGE=${1:-${PYSTAMPS_BASE_IMAGE:-$(dockerfile_base "$ROOT/Dockerfile")}}
[ -n "$IMAGE" ] || die "no image name given and no 'ARG BASE=' in $ROOT/Dockerfile"
SUITE=bookworm

if have_image "$IMAGE"; then
    log "$IMAGE: present"
    exit 0
fi
if [ "${PYSTAMPS_BASE_NO_PULL:-0}" != 1 ] && timeout 300 docker pull "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE: pulled"
    exit 0
fi
case "$IMAGE" in
    *bookworm*) ;;
    *) die "$IMAGE cannot be pulled and only a Debian bookworm base can be made locally" ;;
esac

[ "$(id -u)" = 0 ] || die "$IMAGE cannot be pulled; making it with debootstrap needs root"
if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null
fi

# shellcheck disable=SC2016  # $(REPO_URI) is apt's format string, not a shell expansion
MIRROR=${PYSTAMPS_DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI)' \
    "Codename: $SUITE" 'Identifier: Packages' 2>/dev/null | grep -v security | sort -u | head -n 1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian/}
SECURITY=${PYSTAMPS_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 1700000000)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pystamps-base.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"

log "debootstrap --variant=minbase $SUITE from $MIRROR"
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }

# What the official -slim images do: no docs, man pages or locales in later installs,
# no apt package cache; the files debootstrap already put there are dropped below.
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
printf 'Acquire::Languages "none";\n' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
cat >"$ROOTFS/etc/apt/sources.list" <<EOF
deb ${MIRROR%/} $SUITE main
deb ${MIRROR%/} $SUITE-updates main
deb ${SECURITY%/} $SUITE-security main
EOF
find "$ROOTFS/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/* \
       "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin \
       "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/ldconfig/aux-cache \
       "$ROOTFS"/var/log/dpkg.log "$ROOTFS"/var/log/bootstrap.log "$ROOTFS"/var/log/alternatives.log \
       "$ROOTFS"/var/log/apt/* "$ROOTFS"/debootstrap
# Same machine-id policy as the official images: empty, filled in at container start if needed.
: >"$ROOTFS/etc/machine-id"
printf 'nameserver 127.0.0.1\n' >"$ROOTFS/etc/resolv.conf"   # replaced by the engine at run time
: >"$ROOTFS/etc/hostname"

log "docker import -> $IMAGE (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
tar -C "$ROOTFS" --sort=name --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -c . \
    | docker import \
        --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change "LABEL io.pystamps-batch.base=debootstrap-$SUITE" \
        - "$IMAGE" >/dev/null
log "$IMAGE: created ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
