#!/usr/bin/env bash
# Make a Docker engine and the CNCF distribution registry binary available for the emulator and
# the tests. Installs Debian's docker.io and docker-registry when missing (root on Debian/Ubuntu)
# and starts dockerd with the project's safe flags: no default bridge, no iptables, no NAT, no IP
# forwarding, so containers can reach nothing but each other on the project's internal network.
set -euo pipefail

log=/var/log/azureml-deploy-dockerd.log
pidfile=/run/azureml-deploy-dockerd.pid

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)

if ((${#missing[@]})); then
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "ensure-docker: missing ${missing[*]}; install them (Debian/Ubuntu: apt-get install ${missing[*]}) and start dockerd" >&2
        exit 1
    fi
    echo "ensure-docker: installing ${missing[*]}" >&2
    # Keep the packages' init scripts from starting a daemon with default (NAT) networking.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if docker info >/dev/null 2>&1; then
    exit 0
fi
if [[ $(id -u) != 0 ]]; then
    echo "ensure-docker: the Docker engine is not running and starting it needs root; start dockerd yourself" >&2
    exit 1
fi

echo "ensure-docker: starting dockerd (no default bridge, no iptables, no NAT)" >&2
nohup dockerd \
    --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
    --host=unix:///var/run/docker.sock >>"$log" 2>&1 &
echo $! >"$pidfile"

for _ in $(seq 1 120); do
    if docker info >/dev/null 2>&1; then
        exit 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "ensure-docker: dockerd exited; the end of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    sleep 0.5
done
echo "ensure-docker: dockerd did not answer within 60 s; see $log" >&2
exit 1
