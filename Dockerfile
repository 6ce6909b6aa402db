# One image for every Chirp service; the container's command picks the service.
#
#   online:  docker build .                                   (python:3.11-slim-bookworm + PyPI)
#   offline: docker build --build-arg BASE_IMAGE=failwhale/base:bookworm --build-arg OFFLINE=1 .
#            (installs only from build/wheelhouse; see docs/offline-images.md)
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- the virtualenv: rebuilt only when requirements/ or the wheelhouse change ---
FROM ${BASE_IMAGE} AS venv
ARG OFFLINE=0
# The glob lets the build work with or without a wheelhouse (online builds have none).
COPY requirements/ build/wheelhous[e] /tmp/install/
RUN set -eu; \
    python3 -m venv /opt/venv; \
    if [ "$OFFLINE" = 1 ]; then set -- --no-index --find-links /tmp/install; else set --; fi; \
    /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check "$@" -r /tmp/install/app.txt; \
    /opt/venv/bin/pip uninstall --yes --quiet pip setuptools

# --- the sources: .dockerignore lets only the Python packages through ---
FROM ${BASE_IMAGE} AS sources
COPY . /app
# Compiled here because the services run as a user who cannot write /app: a restarted container
# then starts without compiling anything.
RUN rm -rf /app/requirements /app/build /app/Dockerfile /app/.dockerignore \
    && python3 -m compileall -q --invalidation-mode unchecked-hash /app

FROM ${BASE_IMAGE}
# The public Python image ships its standard library without bytecode; the services cannot write
# it as their own user, so it is compiled once here (a no-op on the Debian base, which has it).
RUN python3 -m compileall -q -j 0 "$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')" \
    && groupadd --system --gid 10001 chirp \
    && useradd --system --uid 10001 --gid chirp --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin chirp
COPY --from=venv /opt/venv /opt/venv
COPY --from=sources /app /app
# The chaos agent's journal (chaos/journal.py's default folder): compose mounts a volume here, and
# a new volume takes this folder's mode, so that the agent can write it as any user (it runs as
# the user who started the stack).
RUN install -d -m 1777 /app/.local/chaos
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /app
USER chirp
EXPOSE 8000
CMD ["uvicorn", "services.gateway.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--no-access-log", "--http", "services.common.http_guard:GuardedHttpTools"]
