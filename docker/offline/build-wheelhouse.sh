#!/usr/bin/env bash
# Fills build/wheelhouse with every wheel that requirements/app.txt needs, resolved by the base
# image's own interpreter (Debian's python3 differs from the host's, and environment markers follow
# the interpreter). pip runs inside a container of the base image on the host network, trusting the
# host's CA bundle. Skips all work while the stamp (hash of app.txt and of the base image) matches;
# FORCE=1 downloads again.
#
# Environment: FAILWHALE_BASE_IMAGE, WHEELHOUSE (default build/wheelhouse), HOST_CA_BUNDLE, FORCE=1.
set -euo pipefail

IMAGE=${FAILWHALE_BASE_IMAGE:-failwhale/base:bookworm}
REQUIREMENTS=requirements/app.txt
WHEELHOUSE=${WHEELHOUSE:-build/wheelhouse}
CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

log() { printf '[wheelhouse] %s\n' "$*" >&2; }

base_id=$(docker image inspect -f '{{.Id}}' "$IMAGE") || { log "no image $IMAGE: build it first"; exit 2; }
stamp="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $base_id"
if [[ -z ${FORCE:-} && -f $WHEELHOUSE/.stamp && $(<"$WHEELHOUSE/.stamp") == "$stamp" ]]; then
    log "$WHEELHOUSE is up to date"
    exit 0
fi

start=$SECONDS
rm -rf "$WHEELHOUSE"
mkdir -p "$WHEELHOUSE"
ca_args=()
if [[ -r $CA_BUNDLE ]]; then
    ca_args=(-v "$(realpath "$CA_BUNDLE"):/etc/ssl/host-ca.crt:ro" -e PIP_CERT=/etc/ssl/host-ca.crt)
fi
log "pip download -r $REQUIREMENTS inside $IMAGE"
docker run --rm --network host "${ca_args[@]}" \
    -e PIP_DISABLE_PIP_VERSION_CHECK=1 -e PIP_DEFAULT_TIMEOUT=60 \
    -v "$PWD/requirements:/requirements:ro" \
    -v "$PWD/$WHEELHOUSE:/wheelhouse" \
    "$IMAGE" sh -euc '
        python3 -m venv /tmp/venv
        /tmp/venv/bin/pip download --quiet --only-binary=:all: --dest /wheelhouse -r /requirements/app.txt
        chown -R '"$(id -u):$(id -g)"' /wheelhouse'
printf '%s\n' "$stamp" >"$WHEELHOUSE/.stamp"
log "$(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels in $WHEELHOUSE in $((SECONDS - start)) s"
