#!/usr/bin/env bash
# Build the local stand-ins for Azure ML's inference images once per machine and tag them with
# their real names, so that `FROM mcr.microsoft.com/azureml/minimal-py312-inference:latest` or
# an environment naming one of them works here unchanged (emulator/inference_images/Dockerfile;
# their sources and differences are in emulator/README.md). Idempotent: an image whose label
# carries the hash of this script, the Dockerfile, the runit service and the base image is
# kept; a change to any of them rebuilds. Prints every tag, one a line.
#
#   scripts/inference-images.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# Test workers may ask at once: one builds, the others then find the images built.
if command -v flock >/dev/null 2>&1; then
    exec 9>"${TMPDIR:-/tmp}/azureml-deploy-inference-images.lock"
    flock 9
fi
context=$root/emulator/inference_images
base=$("$root/scripts/base-image.sh" | tail -n 1)
key=$(
    { cat "$0" "$context/Dockerfile" "$context/gunicorn-run" "$context/mlflow_score_script.py";
      docker image inspect --format '{{.Id}}' "$base"; } | sha256sum | cut -c1-16
)
label=azureml-deploy.inference-images

# target: the tags it carries (the first is the one checked).
declare -A tags=(
    [inference-base]="mcr.microsoft.com/azureml/inference-base-2204:latest mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
    [minimal]="mcr.microsoft.com/azureml/minimal-py312-inference:latest mcr.microsoft.com/azureml/minimal-py311-inference:latest mcr.microsoft.com/azureml/curated/minimal-py311-inference:latest mcr.microsoft.com/azureml/curated/minimal-py312-inference:latest"
    [sklearn-1.5]="mcr.microsoft.com/azureml/curated/sklearn-1.5:latest"
    [mlflow]="mcr.microsoft.com/azureml/curated/mlflow-py312-inference:latest mcr.microsoft.com/azureml/mlflow-py312-inference:latest"
)
# openmpi4.1.0-ubuntu22.04 is the base stage, which runs as root as the real image does.

for target in inference-base minimal sklearn-1.5 mlflow; do
    read -r -a names <<<"${tags[$target]}"
    have=$(docker image inspect --format "{{index .Config.Labels \"$label\"}}" "${names[0]}" 2>/dev/null || true)
    if [[ $have != "$key" ]]; then
        echo "inference-images: building ${names[*]}" >&2
        args=()
        for tag in "${names[@]}"; do args+=(--tag "$tag"); done
        # The classic builder: the engine may have no buildx; pip and apt need the host network.
        if ! out=$(DOCKER_BUILDKIT=0 docker build --quiet --network host \
            --build-arg "BASE_IMAGE=$base" --target "$target" \
            --label "$label=$key" "${args[@]}" "$context" 2>&1); then
            echo "$out" >&2
            exit 1
        fi
    fi
    printf '%s\n' "${names[@]}"
done
