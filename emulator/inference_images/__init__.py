"""Azure ML's inference images, built locally once per machine under their real names.

`ensure_inference_images()` runs scripts/inference-images.sh (idempotent: it builds only what is
missing or stale) and returns the tags; `CURATED_ENVIRONMENTS` names the image behind each
curated environment of the `azureml` registry that has a local stand-in.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "inference-images.sh"

MINIMAL_PY312 = "mcr.microsoft.com/azureml/minimal-py312-inference:latest"
MINIMAL_PY311 = "mcr.microsoft.com/azureml/minimal-py311-inference:latest"
OPENMPI_UBUNTU2204 = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
SKLEARN_1_5 = "mcr.microsoft.com/azureml/curated/sklearn-1.5:latest"
# No-code MLflow deployments' image; also tagged mcr.microsoft.com/azureml/mlflow-py312-inference.
MLFLOW_PY312 = "mcr.microsoft.com/azureml/curated/mlflow-py312-inference:latest"

# Curated environment name → its image (the `image.name` of the environment's
# environment.yaml in Azure/azureml-assets, published to mcr.microsoft.com).
CURATED_ENVIRONMENTS = {
    "sklearn-1.5": SKLEARN_1_5,
    "minimal-py312-inference": "mcr.microsoft.com/azureml/curated/minimal-py312-inference:latest",
    "minimal-py311-inference": "mcr.microsoft.com/azureml/curated/minimal-py311-inference:latest",
    "mlflow-py312-inference": MLFLOW_PY312,
}


class InferenceImagesFailed(RuntimeError):
    """scripts/inference-images.sh could not build the images."""


@functools.cache
def ensure_inference_images() -> tuple[str, ...]:
    """Every local inference image's tag, building those missing (minutes the first time on a
    machine, a fraction of a second after)."""
    result = subprocess.run(
        [str(SCRIPT)], capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        raise InferenceImagesFailed(f"scripts/inference-images.sh failed:\n{result.stderr}")
    return tuple(line for line in result.stdout.splitlines() if line.strip())


PUBLIC_PREFIX = "mcr.microsoft.com/azureml/"


def local_stand_in(image: str) -> str | None:
    """The local image that stands in for `image` when it names one of Azure ML's public
    images (`mcr.microsoft.com/azureml/...`, `latest` when no tag is given), building the
    stand-ins first if this machine has none; None for any other image, or one of Azure ML's
    that has no stand-in here."""
    if not image.startswith(PUBLIC_PREFIX) or "@" in image:
        return None
    name = image if ":" in image.rsplit("/", 1)[-1] else f"{image}:latest"
    return name if name in ensure_inference_images() else None
