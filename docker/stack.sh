#!/usr/bin/env bash
# The compose stack's life cycle, shared by the Makefile and the end-to-end tests.
#
#   docker/stack.sh mode           print 1 when the offline path is used, 0 otherwise
#   docker/stack.sh build          build what `up` needs (offline: base image and wheelhouse first)
#   docker/stack.sh up             build, start, and return once every container is healthy
#   docker/stack.sh wait           wait until every container of the project is healthy
#   docker/stack.sh down [ARGS]    compose down (ARGS e.g. -v to drop the Redis volume)
#
# OFFLINE=1 builds without any registry (docs/offline-images.md); OFFLINE=0 pulls public images;
# OFFLINE=auto (the default) goes online only when the public base images are already present or
# can be pulled, and offline otherwise.
# FAILWHALE_PULL_TIMEOUT (seconds, default 120) bounds each pull of that check.
# FAILWHALE_UP_TIMEOUT (seconds, default 240) bounds the wait; COMPOSE_PROJECT_NAME picks the
# project (default failwhale).
set -euo pipefail
cd "$(dirname "$0")/.."

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-failwhale}
OFFLINE=${OFFLINE:-auto}
UP_TIMEOUT=${FAILWHALE_UP_TIMEOUT:-240}
ONLINE_IMAGES=("${FAILWHALE_BASE_IMAGE:-python:3.11-slim-bookworm}" "${FAILWHALE_REDIS_IMAGE:-redis:7-bookworm}")

log() { printf '[stack] %s\n' "$*" >&2; }

if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
else
    COMPOSE=(docker-compose)
fi

registry_reachable() {
    local image
    for image in "${ONLINE_IMAGES[@]}"; do
        docker image inspect "$image" >/dev/null 2>&1 && continue
        log "probing the registry: docker pull $image"
        timeout "${FAILWHALE_PULL_TIMEOUT:-120}" docker pull --quiet "$image" >/dev/null 2>&1 || return 1
    done
}

resolve_mode() {
    case $OFFLINE in
        0 | 1) ;;
        auto)
            if registry_reachable; then OFFLINE=0; else OFFLINE=1; fi
            log "OFFLINE=auto: using the $([[ $OFFLINE == 1 ]] && echo offline || echo online) path"
            ;;
        *) log "OFFLINE must be 0, 1 or auto, not '$OFFLINE'"; exit 2 ;;
    esac
    if [[ $OFFLINE == 1 ]]; then
        export COMPOSE_FILE=docker-compose.yml:docker-compose.offline.yml
        export FAILWHALE_BASE_IMAGE=${FAILWHALE_BASE_IMAGE:-failwhale/base:bookworm}
    fi
}

build() {
    resolve_mode
    if [[ $OFFLINE == 1 ]]; then
        docker/offline/build-base.sh
        docker/offline/build-wheelhouse.sh
    fi
    log "building failwhale/app"
    "${COMPOSE[@]}" build --quiet gateway
}

# One line per container: "<service> <state> <health or ->".
container_states() {
    local ids
    ids=$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")
    [[ -n $ids ]] || return 0
    # shellcheck disable=SC2086
    docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}' $ids
}

show_logs() {
    local service
    for service in "$@"; do
        log "last log lines of $service:"
        "${COMPOSE[@]}" logs --no-color --tail=40 "$service" >&2 || true
    done
}

wait_healthy() {
    local services expected deadline states ready pending failed missing
    services=$("${COMPOSE[@]}" config --services)
    expected=$(wc -l <<<"$services")
    deadline=$((SECONDS + UP_TIMEOUT))
    while true; do
        states=$(container_states)
        ready=$(awk '$2 == "running" && ($3 == "healthy" || $3 == "-")' <<<"$states" | wc -l)
        failed=$(awk '$2 == "exited" || $2 == "dead" {print $1}' <<<"$states")
        missing=$(comm -23 <(sort <<<"$services") <(awk '{print $1}' <<<"$states" | sort) | sed 's/$/(absent)/')
        pending=$(awk '!($2 == "running" && ($3 == "healthy" || $3 == "-")) {print $1 "(" $2 "," $3 ")"}' <<<"$states" | xargs)
        pending=$(xargs <<<"$pending $missing")
        if [[ $ready -ge $expected ]]; then
            log "all $expected containers healthy"
            return 0
        fi
        if [[ -n $failed ]]; then
            log "containers exited: $(xargs <<<"$failed")"
            show_logs $failed
            return 1
        fi
        if ((SECONDS >= deadline)); then
            log "not healthy after ${UP_TIMEOUT}s: $pending"
            show_logs $(awk '!($2 == "running" && $3 == "healthy") {print $1}' <<<"$states")
            return 1
        fi
        log "$ready/$expected healthy; waiting for: $pending"
        sleep 3
    done
}

up() {
    local start=$SECONDS
    build
    log "starting project $COMPOSE_PROJECT_NAME"
    # Compose v1 has no --wait; it waits for `service_healthy` dependencies itself, then
    # wait_healthy covers the rest (and prints the logs of whatever does not come up).
    if ! "${COMPOSE[@]}" up --detach --no-build --remove-orphans; then
        container_states >&2
        show_logs $(container_states | awk '!($2 == "running" && $3 == "healthy") {print $1}')
        exit 1
    fi
    wait_healthy
    log "up in $((SECONDS - start)) s: http://localhost:${FAILWHALE_GATEWAY_PORT:-8080}"
}

case ${1:-} in
    mode) resolve_mode; echo "$OFFLINE" ;;
    build) build ;;
    up) up ;;
    wait) wait_healthy ;;
    down) shift; "${COMPOSE[@]}" down --remove-orphans "$@" ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
