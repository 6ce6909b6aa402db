#!/usr/bin/env bash
# The stack on Docker Swarm, for `make up BACKEND=swarm` and `make down BACKEND=swarm`.
#
#   docker/swarm.sh up             engine check, image build (as docker/stack.sh build), then
#                                  deploy and wait (python -m stack.swarm up), print the URLs
#   docker/swarm.sh down [ARGS]    remove the stack (--volumes: its Redis volume too)
#
# docs/swarm.md describes the settings (COMPOSE_PROJECT_NAME names the stack).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
[[ -x $PY ]] || PY=${PYTHON:-python3}

case ${1:-} in
    up)
        docker/engine.sh --check
        # Resolved once (OFFLINE=auto may probe the registry), for the build and the stack file.
        OFFLINE=$(docker/stack.sh mode)
        export OFFLINE
        docker/stack.sh build
        exec "$PY" -m stack.swarm up
        ;;
    down)
        shift
        docker/engine.sh --check
        exec "$PY" -m stack.swarm down "$@"
        ;;
    *) sed -n '2,8p' "$0" >&2; exit 2 ;;
esac
