#!/usr/bin/env bash
# Build the two services' Python base images from Debian's packages, for
# machines that reach no image registry (air-gapped users, this project's CI).
#
#   eval "$(sudo scripts/build-base-image.sh)"   # sets MODEL_/WEB_BASE_IMAGE
#   export MODEL_BASE_IMAGE WEB_BASE_IMAGE
#   docker compose build
#
# It prints, as its only standard output, two lines:
#   MODEL_BASE_IMAGE=local/python:3.11-slim-bookworm-model
#   WEB_BASE_IMAGE=local/python:3.11-slim-bookworm-web
#
# What it does, and why:
#  1. debootstrap a minimal Debian 12 (bookworm: its python3 is 3.11, the
#     same minor version as the default python:3.11-slim) from Debian's own
#     package mirror, which is reachable where Docker Hub is not. Once, for
#     both images.
#  2. copy the host's CA bundle into it, so pip inside the chroot trusts the
#     same TLS roots as the host (some networks reach PyPI only through a
#     proxy whose root is in that bundle).
#  3. per service, pip-install that service's lock file alone
#     (requirements/model.txt or web.txt, hashes checked) into the
#     interpreter's own site directory (/usr/local/lib/python3.11/dist-packages),
#     not into a venv: the service Dockerfiles create their venv with
#     --system-site-packages, so on this base they find every requirement
#     already satisfied (no download: `docker build --network none` works),
#     while on python:3.11-slim they install them as usual. One image per
#     service, so the web app's base has no scikit-learn, the model's no Flask.
#  4. `docker import` each tree, labelled with a hash of its inputs (its lock
#     file, this script, the suite), so a second run with unchanged inputs
#     returns at once; an image whose inputs changed is rebuilt alone.
#
# Needs root, debootstrap and a running Docker daemon. Takes about five
# minutes (debootstrap most of it).
set -euo pipefail

PREFIX="${BASE_IMAGE_TAG:-local/python:3.11-slim-bookworm}"
SUITE="${DEBIAN_SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
HASH_LABEL="org.sklearn-endpoint.base-inputs"
SITE=/usr/local/lib/python3.11/dist-packages

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

# service -> its lock file, its image, and the imports that prove the install.
services=(model web)
declare -A lock=([model]="$repo/requirements/model.txt" [web]="$repo/requirements/web.txt")
declare -A tag=([model]="$PREFIX-model" [web]="$PREFIX-web")
declare -A var=([model]=MODEL_BASE_IMAGE [web]=WEB_BASE_IMAGE)
declare -A proof=(
    [model]="import sklearn, scipy, numpy, fastapi, uvicorn, skops, prometheus_client, pydantic_settings"
    [web]="import flask, flask_wtf, gunicorn, requests, tenacity, pydantic_settings, orjson"
)

log() { printf '[build-base-image] %s\n' "$*" >&2; }

print_images() {
    local s
    for s in "${services[@]}"; do echo "${var[$s]}=${tag[$s]}"; done
}

# Each image's identity: its lock file, this script, the suite. Any change to
# one of them means a rebuild of that image; nothing else does.
declare -A inputs_hash
todo=()
for s in "${services[@]}"; do
    inputs_hash[$s]="$(cat "${lock[$s]}" "${BASH_SOURCE[0]}" <(echo "$SUITE") | sha256sum | cut -c1-16)"
    current="$(docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "${tag[$s]}" 2>/dev/null || true)"
    if [[ "${FORCE:-0}" != 1 && "$current" == "${inputs_hash[$s]}" ]]; then
        log "${tag[$s]} is up to date (inputs ${inputs_hash[$s]}); FORCE=1 rebuilds it"
    else
        todo+=("$s")
    fi
done
if [[ ${#todo[@]} -eq 0 ]]; then
    print_images
    exit 0
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

unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
    mounted=()
}
cleanup() {
    # Unmount before deleting: an rm through a live bind mount of /dev would
    # delete the host's device nodes. --one-file-system is the second guard.
    unmount_all
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

# TLS roots of the host, kept in the images (pip in a derived image trusts
# the same roots); name resolution only while pip runs.
cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"

# Slim it: what a runtime image never reads.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/root/.cache

for s in "${todo[@]}"; do
    # The site directory holds this service's packages and nothing else.
    rm -rf "$root$SITE" && mkdir -p "$root$SITE"
    cp "${lock[$s]}" "$root/tmp/requirements.txt"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    mount -t proc proc "$root/proc" && mounted+=("$root/proc")
    mount --bind /dev "$root/dev" && mounted+=("$root/dev")

    # A throwaway venv provides pip (Debian's system python has no ensurepip);
    # --target puts the packages where Debian's python3 looks for local ones.
    # --require-hashes --no-deps: exactly the lock's files, as the Dockerfiles
    # install them. Only the CA bundle is passed in: the host's pip
    # configuration (local indexes, find-links) points at paths that do not
    # exist in the chroot.
    log "$s: pip install of requirements/$(basename "${lock[$s]}")"
    pip_started=$SECONDS
    chroot "$root" /usr/bin/env -i \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_DEFAULT_TIMEOUT=120 \
        PIP_CONFIG_FILE=/dev/null PROOF="${proof[$s]}" SITE="$SITE" \
        /bin/sh -euc '
            python3 -m venv /tmp/pip-venv
            /tmp/pip-venv/bin/pip install --quiet --require-hashes --no-deps --only-binary=:all: \
                --target "$SITE" -r /tmp/requirements.txt
            rm -rf /tmp/pip-venv /tmp/requirements.txt "$SITE/bin"
            python3 -c "$PROOF"
        '
    log "$s: pip done in $((SECONDS - pip_started)) s"
    unmount_all
    # Docker supplies resolv.conf and hosts at run time.
    : >"$root/etc/resolv.conf"
    rm -rf "${root:?}"/tmp/* "$root"/root/.cache

    log "$s: docker import as ${tag[$s]}"
    tar --numeric-owner -C "$root" -c . | docker import \
        --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --change "ENV LANG=C.UTF-8" \
        --change "ENV PYTHONUNBUFFERED=1" \
        --change "LABEL $HASH_LABEL=${inputs_hash[$s]}" \
        --change "LABEL org.opencontainers.image.description=\"Debian $SUITE python3 with requirements/$s.txt\"" \
        --change 'CMD ["python3"]' \
        - "${tag[$s]}" >/dev/null
done
log "built ${todo[*]} in $((SECONDS - started)) s"
print_images
