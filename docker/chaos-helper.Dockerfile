# The network-fault helper of the chaos engine's docker backend (chaos/backends/docker_helpers.py):
# Python 3 to run the network agent, and tc, ip, ss (iproute2) and iptables, which it drives
# inside a target's network namespace. Built by `make images` on both paths; offline its base
# (failwhale/base:bookworm) has every tool already, online the public Python image gets them
# from Debian. Built without a context: `docker build - < docker/chaos-helper.Dockerfile`.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
RUN set -eu; \
    if ! command -v tc >/dev/null || ! command -v iptables >/dev/null; then \
        apt-get update -qq; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            iproute2 iptables >/dev/null; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    python3 -c 'import json, subprocess' && tc -V >/dev/null && iptables --version >/dev/null
CMD ["python3"]
