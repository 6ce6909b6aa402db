#!/usr/bin/env bash
# The compose stack's life cycle, shared by the Makefile and the end-to-end tests.
#
#   docker/stack.sh mode           print 1 when the offline path is used, 0 otherwise
#   docker/stack.sh build          build what `up` needs: the service image and the chaos engine's
#                                  network-fault helper (offline: base image and wheelhouse first)
#   docker/stack.sh up             build, start, return once every container is healthy, print URLs
#   docker/stack.sh wait           wait until every container of the project is healthy
#   docker/stack.sh down [ARGS]    compose down (ARGS e.g. -v to drop the Redis volume)
#
# Every command first checks the engine (docker/engine.sh --check) and the stack's secrets
# (`python3 -m stack.env_secrets` writes them into .env where missing): compose refuses to
# run without them. OFFLINE=1 builds without any registry (docs/offline-images.md); OFFLINE=0
# pulls public images; OFFLINE=auto (the default) goes online only when the public base images
# are already present or the registry answers a pull within FAILWHALE_REGISTRY_ANSWER_TIMEOUT
# seconds (default 20; the whole pull is bounded by FAILWHALE_PULL_TIMEOUT, default 300).
# FAILWHALE_UP_TIMEOUT (seconds, default 240) bounds the wait; COMPOSE_PROJECT_NAME picks the
# project (default failwhale). The chaos agent runs as the invoking user (FAILWHALE_UID,
# FAILWHALE_GID) with the Docker socket's group (FAILWHALE_DOCKER_GID), each exported here unless
# set, so that the reports it writes into reports/ are that user's. docs/configuration.md lists
# every variable.
set -euo pipefail
cd "$(dirname "$0")/.."

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-failwhale}
OFFLINE=${OFFLINE:-auto}
UP_TIMEOUT=${FAILWHALE_UP_TIMEOUT:-240}
ANSWER_TIMEOUT=${FAILWHALE_REGISTRY_ANSWER_TIMEOUT:-20}
PULL_TIMEOUT=${FAILWHALE_PULL_TIMEOUT:-300}
ONLINE_IMAGES=("${FAILWHALE_BASE_IMAGE:-python:3.11-slim-bookworm}" "${FAILWHALE_REDIS_IMAGE:-redis:7-bookworm}")
HELPER_IMAGE=${FAILWHALE_CHAOS_HELPER_IMAGE:-failwhale/chaos-helper:latest}
SEED_DIR=${FAILWHALE_SEED_DIR:-.local}

log() { printf '[stack] %s\n' "$*" >&2; }

if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
else
    COMPOSE=(docker-compose)
fi

# A pull whose registry says nothing within ANSWER_TIMEOUT seconds is given up: no registry
# answers (a failed name lookup or refused connection fails at once; a dropped one would hang).
pull_bounded() {
    local image=$1 out pid waited=0
    out=$(mktemp)
    docker pull "$image" >"$out" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= PULL_TIMEOUT * 10)) \
            || { ((waited >= ANSWER_TIMEOUT * 10)) && ! grep -q 'Pulling from\|Digest:' "$out"; }; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            if grep -q 'Pulling from' "$out"; then
                log "docker pull $image did not finish within $PULL_TIMEOUT s"
            else
                log "no answer from the registry within $ANSWER_TIMEOUT s"
            fi
            rm -f "$out"
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    if ! wait "$pid"; then
        log "docker pull $image: $(tail -n 1 "$out")"
        rm -f "$out"
        return 1
    fi
    rm -f "$out"
}

registry_reachable() {
    local image
    for image in "${ONLINE_IMAGES[@]}"; do
        docker image inspect "$image" >/dev/null 2>&1 && continue
        log "probing the registry: docker pull $image"
        pull_bounded "$image" || return 1
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
        if ! docker image inspect "$FAILWHALE_BASE_IMAGE" >/dev/null 2>&1; then
            docker/prerequisites.sh offline
        fi
        docker/offline/build-base.sh
        docker/offline/build-wheelhouse.sh
    fi
    log "building ${FAILWHALE_APP_IMAGE:-failwhale/app:latest}"
    "${COMPOSE[@]}" build --quiet gateway
    log "building the network-fault helper $HELPER_IMAGE"
    local out
    if ! out=$(docker build --quiet --tag "$HELPER_IMAGE" \
        --build-arg BASE_IMAGE="${FAILWHALE_BASE_IMAGE:-python:3.11-slim-bookworm}" \
        - <docker/chaos-helper.Dockerfile 2>&1); then
        printf '%s\n' "$out" >&2
        exit 1
    fi
}

# The group that owns the Docker socket the chaos agent mounts (GNU or BSD stat); 0 when it
# cannot be read.
socket_gid() {
    local socket=${FAILWHALE_DOCKER_SOCKET:-/var/run/docker.sock}
    stat -L -c %g "$socket" 2>/dev/null || stat -L -f %g "$socket" 2>/dev/null || echo 0
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
    log "up in $((SECONDS - start)) s"
    print_urls
}

# The published address: 127.0.0.1 unless FAILWHALE_PUBLISH_ADDRESS widens it on purpose.
print_urls() {
    local address=${FAILWHALE_PUBLISH_ADDRESS:-127.0.0.1}
    local host=$address
    [[ $address == 0.0.0.0 || $address == "::" ]] && host=$(hostname)
    echo "gateway:        http://$host:${FAILWHALE_GATEWAY_PORT:-8080}"
    echo "Locust web UI:  http://$host:${FAILWHALE_LOCUST_PORT:-8089}"
    if [[ $address != 127.0.0.1 ]]; then
        log "published on $address (FAILWHALE_PUBLISH_ADDRESS): reachable from other machines"
    fi
}

[[ ${1:-} =~ ^(mode|build|up|wait|down)$ ]] || { sed -n '2,21p' "$0" >&2; exit 2; }
docker/engine.sh --check
"${PYTHON:-python3}" -m stack.env_secrets
# The compose Locust reads seed files of `failwhale seed` from here (read-only, as /seed).
mkdir -p "$SEED_DIR"
# The chaos agent writes its reports here (made now, so that the bind mount does not create it
# as root).
mkdir -p reports
export FAILWHALE_UID=${FAILWHALE_UID:-$(id -u)}
export FAILWHALE_GID=${FAILWHALE_GID:-$(id -g)}
export FAILWHALE_DOCKER_GID=${FAILWHALE_DOCKER_GID:-$(socket_gid)}

case $1 in
    mode) resolve_mode; echo "$OFFLINE" ;;
    build) build ;;
    up) up ;;
    wait) wait_healthy ;;
    down) shift; "${COMPOSE[@]}" down --remove-orphans "$@" ;;
esac
