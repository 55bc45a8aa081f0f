#!/usr/bin/env bash
# Build a slim Python base image from Debian's packages, for machines that
# reach no image registry (air-gapped users, this project's CI).
#
#   scripts/build-base-image.sh            # builds local/python:3.11-slim-bookworm
#   BASE_IMAGE=local/python:3.11-slim-bookworm docker compose build
#
# What it does, and why:
#  1. debootstrap a minimal Debian 12 (bookworm: its python3 is 3.11, the
#     same minor version as the default python:3.11-slim) from Debian's own
#     package mirror, which is reachable where Docker Hub is not.
#  2. copy the host's CA bundle into it, so pip inside the chroot trusts the
#     same TLS roots as the host (some networks reach PyPI only through a
#     proxy whose root is in that bundle).
#  3. pip-install the union of both services' pinned requirements into the
#     interpreter's own site directory (/usr/local/lib/python3.11/dist-packages),
#     not into a venv: the service Dockerfiles create their venv with
#     --system-site-packages, so on this base they find every requirement
#     already satisfied (no download: `docker build --network none` works),
#     while on python:3.11-slim they install them as usual.
#  4. `docker import` the tree, labelled with a hash of its inputs, so a second
#     run with unchanged requirements returns at once.
#
# Needs root, debootstrap and a running Docker daemon. Takes about a minute.
set -euo pipefail

TAG="${BASE_IMAGE_TAG:-local/python:3.11-slim-bookworm}"
SUITE="${DEBIAN_SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
HASH_LABEL="org.sklearn-endpoint.base-inputs"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
req_files=("$repo/model_service/requirements.txt" "$repo/web_app/requirements.txt")

log() { printf '[build-base-image] %s\n' "$*" >&2; }

# The image's identity: the requirements, this script, the suite. Any change
# to one of them means a rebuild; nothing else does.
inputs_hash="$(cat "${req_files[@]}" "${BASH_SOURCE[0]}" <(echo "$SUITE") | sha256sum | cut -c1-16)"

if [[ "${FORCE:-0}" != 1 ]]; then
    current="$(docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$TAG" 2>/dev/null || true)"
    if [[ "$current" == "$inputs_hash" ]]; then
        log "$TAG is up to date (inputs $inputs_hash); FORCE=1 rebuilds it"
        echo "$TAG"
        exit 0
    fi
fi

if [[ $EUID -ne 0 ]]; then
    log "debootstrap and chroot need root; run this script as root (or with sudo)"
    exit 1
fi
for tool in debootstrap docker; do
    command -v "$tool" >/dev/null || { log "missing $tool (apt-get install debootstrap docker.io)"; exit 1; }
done

workdir="$(mktemp -d "${TMPDIR:-/var/tmp}/base-image.XXXXXX")"
root="$workdir/root"
mounted=()

cleanup() {
    # Unmount before deleting: an rm through a live bind mount of /dev would
    # delete the host's device nodes. --one-file-system is the second guard.
    local m
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        m="${mounted[$i]}"
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$workdir"
}
trap cleanup EXIT

started=$SECONDS
log "debootstrap $SUITE into $root (minbase, python3)"
debootstrap --variant=minbase \
    --include=python3,python3-venv,python-is-python3,ca-certificates,passwd \
    "$SUITE" "$root" "$MIRROR" >"$workdir/debootstrap.log" 2>&1 || {
    tail -n 30 "$workdir/debootstrap.log" >&2
    log "debootstrap failed (log above)"
    exit 1
}
log "debootstrap done in $((SECONDS - started)) s"

# TLS roots and name resolution of the host, for pip inside the chroot only.
cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cat "${req_files[@]}" | grep -Ev '^\s*(#|$)' | sort -u >"$root/tmp/requirements.txt"

for fs in proc dev; do
    if [[ $fs == proc ]]; then
        mount -t proc proc "$root/proc"
    else
        mount --bind /dev "$root/dev"
    fi
    mounted+=("$root/$fs")
done

# A throwaway venv provides pip (Debian's system python has no ensurepip);
# --target puts the packages where Debian's python3 looks for local ones.
# Only the CA bundle is passed in: the host's pip configuration (local
# indexes, find-links) points at paths that do not exist in the chroot.
log "pip install of $(wc -l <"$root/tmp/requirements.txt") pinned requirements"
pip_started=$SECONDS
chroot "$root" /usr/bin/env -i \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_DEFAULT_TIMEOUT=120 \
    PIP_CONFIG_FILE=/dev/null \
    /bin/sh -euc '
        python3 -m venv /tmp/pip-venv
        /tmp/pip-venv/bin/pip install --quiet --only-binary=:all: \
            --target /usr/local/lib/python3.11/dist-packages -r /tmp/requirements.txt
        rm -rf /tmp/pip-venv /tmp/requirements.txt /usr/local/lib/python3.11/dist-packages/bin
        python3 -c "import sklearn, scipy, numpy, fastapi, uvicorn, skops, flask, gunicorn, requests"
    '
log "pip done in $((SECONDS - pip_started)) s"

for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}"; done
mounted=()

# Slim it: what a runtime image never reads. The image's resolv.conf and
# hosts are supplied by Docker at run time.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/tmp/* "$root"/root/.cache
: >"$root/etc/resolv.conf"

log "docker import as $TAG"
tar --numeric-owner -C "$root" -c . | docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV LANG=C.UTF-8" \
    --change "ENV PYTHONUNBUFFERED=1" \
    --change "LABEL $HASH_LABEL=$inputs_hash" \
    --change "LABEL org.opencontainers.image.description=\"Debian $SUITE python3 with the services pinned requirements\"" \
    --change 'CMD ["python3"]' \
    - "$TAG" >/dev/null
log "built $TAG in $((SECONDS - started)) s"
echo "$TAG"
