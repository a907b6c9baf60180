#!/usr/bin/env bash
# Build the local base image that stands in for python:3.12-slim where public images cannot be
# pulled: Debian (debootstrap, minbase) with Python 3, venv and pip, imported into Docker. The
# host's system CA bundle (the one pip is configured with) is copied in so that pip works inside
# builds. Pass it to builds as --build-arg BASE_IMAGE=<tag>; the project's Dockerfiles default to
# the public image so they work unchanged on GitHub's runners.
#
#   scripts/base-image.sh [TAG]      (default tag: azureml-deploy/python-base:bookworm)
set -euo pipefail

tag=${1:-azureml-deploy/python-base:bookworm}
if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag"
    exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "base-image: debootstrap is missing; install it (apt-get install debootstrap)" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# The Debian mirror apt is configured with on this machine, if any (else debootstrap's default).
mirror=$(
    { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}';
      grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}'; } | grep -v security | head -n 1
) || true

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "base-image: debootstrap bookworm into $root" >&2
debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    bookworm "$root" ${mirror:+"$mirror"} >/dev/null

ca_bundle=$(python3 -m pip config get global.cert 2>/dev/null || true)
cp "${ca_bundle:-/etc/ssl/certs/ca-certificates.crt}" "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
       "$root"/usr/share/man/* "$root"/usr/share/locale/*
# The official python images let pip install into the system; match them.
rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED

tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$tag" >/dev/null
echo "$tag"
