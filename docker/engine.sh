#!/usr/bin/env bash
# Is there a working Docker engine? Says which piece is missing before anything else runs.
#
#   docker/engine.sh           check; as root on Debian or Ubuntu also install the engine and
#                              compose (docker/prerequisites.sh engine) and start the daemon
#   docker/engine.sh --check   check only: never install or start anything
#
# The cases: the docker client is not installed, no daemon answers (not running), the daemon
# runs but this user may not use its socket, compose is missing. Each is named in one line with
# the exact commands that fix it; the exit code is then 2. A daemon this script starts runs in
# the background (systemd's docker unit where systemd runs, else `dockerd` with its log in
# FAILWHALE_DOCKERD_LOG, default /var/log/failwhale-dockerd.log); the script waits until
# `docker info` answers (FAILWHALE_ENGINE_TIMEOUT seconds, default 60).
# A DOCKER_HOST other than the local socket is never started, only reported.
# FAILWHALE_INSTALL=0 never installs or starts anything (as --check).
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKERD_LOG=${FAILWHALE_DOCKERD_LOG:-/var/log/failwhale-dockerd.log}
TIMEOUT=${FAILWHALE_ENGINE_TIMEOUT:-60}
DEFAULT_SOCKET=unix:///var/run/docker.sock

log() { printf '[engine] %s\n' "$*" >&2; }

may_act() {
    [[ ${1:-} != --check && ${FAILWHALE_INSTALL:-1} != 0 && $(id -u) -eq 0 ]]
}

with_systemd() { [[ -d /run/systemd/system ]]; }

sudo_prefix() { [[ $(id -u) -eq 0 ]] || printf 'sudo '; }

local_socket() {
    [[ -z ${DOCKER_HOST:-} || $DOCKER_HOST == "$DEFAULT_SOCKET" || $DOCKER_HOST == unix:///run/docker.sock ]]
}

start_command() {
    if with_systemd; then
        echo "$(sudo_prefix)systemctl start docker"
    else
        echo "$(sudo_prefix)sh -c 'nohup dockerd >$DOCKERD_LOG 2>&1 &'"
    fi
}

dockerd_running() {
    [[ -r /var/run/docker.pid ]] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null
}

start_daemon() {
    if dockerd_running; then
        log "dockerd is running (pid $(cat /var/run/docker.pid)) but does not answer yet; waiting"
    elif with_systemd; then
        log "the Docker daemon is not running: starting it (systemctl start docker)"
        systemctl start docker
    else
        log "the Docker daemon is not running: starting dockerd in the background (log: $DOCKERD_LOG)"
        mkdir -p "$(dirname "$DOCKERD_LOG")"
        # DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: swarm services use a local image, no registry.
        DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    fi
    local deadline=$((SECONDS + TIMEOUT))
    until docker info >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "the Docker daemon does not answer after ${TIMEOUT} s; last lines of $DOCKERD_LOG:"
            tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 1
    done
    log "the Docker daemon answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
}

# 1. the client (and compose beside it)
if ! command -v docker >/dev/null 2>&1; then
    log "Docker is not installed: no docker command on PATH"
    if may_act "${1:-}"; then
        docker/prerequisites.sh engine
    else
        FAILWHALE_INSTALL=0 docker/prerequisites.sh engine || true
        log "then start the daemon: $(start_command)"
        exit 2
    fi
fi

# 2. the daemon
if ! problem=$(docker info 2>&1 >/dev/null); then
    case $problem in
        *"permission denied"*)
            user=$(id -un)
            log "the Docker daemon runs, but $user may not use its socket (permission denied)"
            log "fix: $(sudo_prefix)usermod -aG docker $user, then log in again (or run: newgrp docker)"
            exit 2
            ;;
        *"Cannot connect to the Docker daemon"* | *"Is the docker daemon running"* | *"no such file"*)
            if ! local_socket; then
                log "no Docker daemon answers at DOCKER_HOST=$DOCKER_HOST"
                log "start the daemon there, or unset DOCKER_HOST to use the local one"
                exit 2
            fi
            if may_act "${1:-}"; then
                start_daemon
            else
                log "the Docker daemon is not running"
                log "start it with: $(start_command)"
                exit 2
            fi
            ;;
        *)
            log "docker info fails: $(head -n 3 <<<"$problem" | xargs)"
            exit 1
            ;;
    esac
fi

# 3. compose (the engine may have come without it)
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
    log "Docker Compose is not installed (neither \`docker compose\` nor docker-compose)"
    if may_act "${1:-}"; then
        docker/prerequisites.sh engine
    else
        FAILWHALE_INSTALL=0 docker/prerequisites.sh engine || true
        exit 2
    fi
fi
