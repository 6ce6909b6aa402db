#!/usr/bin/env bash
# Builds the offline base image (default failwhale/base:bookworm) from Debian packages alone:
# debootstrap of bookworm into build/, trimmed, then `docker import`ed. No container registry is
# needed. Skips all work when the image already exists; FORCE=1 rebuilds it.
#
# Environment: FAILWHALE_BASE_IMAGE (image name), DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR,
#              BUILD_DIR (default build), FORCE=1.
set -euo pipefail

IMAGE=${FAILWHALE_BASE_IMAGE:-failwhale/base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
BUILD_DIR=${BUILD_DIR:-build}
ROOTFS=$BUILD_DIR/base-rootfs
# python3-venv brings ensurepip, so every venv gets pip without python3-pip. passwd gives useradd.
PACKAGES=python3,python3-venv,redis-server,redis-tools,iproute2,iptables,ca-certificates,passwd,procps

log() { printf '[build-base] %s\n' "$*" >&2; }

if [[ -z ${FORCE:-} ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE exists; nothing to do (FORCE=1 rebuilds it)"
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    log "debootstrap needs root"
    exit 2
fi
command -v debootstrap >/dev/null || { log "debootstrap is not installed"; exit 2; }

start=$SECONDS
rm -rf "$ROOTFS"
mkdir -p "$BUILD_DIR"
log "debootstrap bookworm ($MIRROR) into $ROOTFS"
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOTFS" "$MIRROR" >"$BUILD_DIR/debootstrap.log" 2>&1 \
    || { tail -n 30 "$BUILD_DIR/debootstrap.log" >&2; exit 1; }

cat >"$ROOTFS/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
SOURCES

log "applying bookworm-updates and security updates"
chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get -qq update && apt-get -qq -y upgrade && apt-get -qq clean' >>"$BUILD_DIR/debootstrap.log" 2>&1 \
    || { tail -n 30 "$BUILD_DIR/debootstrap.log" >&2; exit 1; }

# Trim what a container never reads: apt lists and caches, docs, man pages, locales. The
# standard library's bytecode stays: services run as a user who cannot write it, so without it
# every process (healthchecks included) would compile the stdlib again.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/debconf/*-old \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
    "$ROOTFS"/usr/share/locale/* "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* "$ROOTFS"/tmp/*
log "debootstrap done in $((SECONDS - start)) s"

log "docker import as $IMAGE"
tar -C "$ROOTFS" --numeric-owner -c . | docker import \
    --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --message "Debian bookworm minbase with python3, redis-server, iproute2, iptables" \
    - "$IMAGE" >/dev/null
rm -rf "$ROOTFS"
log "$IMAGE built in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
