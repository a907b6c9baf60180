"""What runs, and Azure ML's assets: the rules a JSON Schema cannot express.

A deployment runs exactly one of: a custom container (`image`), Azure ML's environment with a
scoring script (`deployment.environment` and `code_configuration`), or an MLflow model with
neither (Azure ML's no-code deployment, how-to-deploy-mlflow-models.md). `inference_config` is
the custom container's contract; Azure ML's inference images have their own. `model_mount_path`
applies to custom containers only (how-to-deploy-custom-container.md). Paths stay inside the
workspace, the scoring script inside its code folder, and a conda file must be a YAML mapping
whose `dependencies` is a list, as conda reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from deployer.files import UnreadableFile, read_bounded
from deployer.spec.findings import Finding, error
from deployer.spec.model import is_reference
from deployer.spec.references import AssetKind, ReferenceSyntaxError, parse_reference
from deployer.spec.source import Document, JsonPath

MAX_CONDA_BYTES = 1024 * 1024

DEPLOYMENT: JsonPath = ("deployment",)
MODEL: JsonPath = ("deployment", "model")
CODE: JsonPath = ("deployment", "code_configuration")
ENVIRONMENT: JsonPath = ("deployment", "environment")

WHAT_RUNS = (
    "`image` (a custom container), `deployment.environment` with `code_configuration` (a "
    "scoring script in Azure ML's environment), or an MLflow model alone (`model: {path: "
    "model/, type: mlflow_model}`)"
)


def what_runs_findings(document: Document) -> Iterator[Finding]:
    deployment = document.get(DEPLOYMENT)
    if not isinstance(deployment, dict):
        return
    has_image = isinstance(document.get(("image",)), dict)
    environment = deployment.get("environment")
    model = deployment.get("model")
    if has_image and environment is not None:
        yield error(
            ENVIRONMENT,
            "and `image` both say what runs; keep one: `image` for a custom container, "
            "`deployment.environment` for Azure ML's environment with a scoring script",
            document.key_mark(ENVIRONMENT),
        )
    if has_image and "inference_config" not in deployment:
        yield error(
            (*DEPLOYMENT, "inference_config"),
            "is required with `image`: a custom container's liveness, readiness and scoring "
            "routes (Azure ML's inference images need none)",
            document.key_mark(DEPLOYMENT),
        )
    # Learn how-to-deploy-with-triton: a triton_model alone is a no-code deployment (Azure ML
    # serves it with its Triton image), which this action has no shape for yet.
    triton = isinstance(model, dict) and model.get("type") == "triton_model"
    if not has_image and environment is None and triton:
        model_type: JsonPath = (*DEPLOYMENT, "model", "type")
        yield error(
            model_type,
            "is triton_model with no environment: Azure ML serves such a model with Triton and "
            "no code, which azureml-deploy does not deploy yet; deploy it with az ml, or give "
            "an environment and code_configuration that serve it",
            document.value_mark(model_type),
        )
    elif not has_image and environment is None and not _may_run_alone(model):
        yield error(
            DEPLOYMENT,
            f"says nothing about what runs; give {WHAT_RUNS}",
            document.key_mark(DEPLOYMENT),
        )
    egress: JsonPath = (*DEPLOYMENT, "egress_public_network_access")
    no_code = not has_image and environment is None and _may_run_alone(model) and not triton
    if no_code and deployment.get("egress_public_network_access") == "disabled":
        # Learn how-to-deploy-mlflow-models: "Before you can deploy MLflow models to online
        # endpoints without egress connectivity, you have to package the models", since Azure
        # ML otherwise installs the model's Python packages when the deployment starts.
        yield error(
            egress,
            "is disabled, but an MLflow model deployed alone (no environment) needs egress: "
            "Azure ML installs the model's Python packages from the internet when the "
            "deployment starts. Give deployment.environment (an image with a conda file "
            "listing the model's packages, which Azure ML builds into the workspace's "
            "registry) and code_configuration, or set egress_public_network_access: enabled",
            document.value_mark(egress),
        )
    if not has_image and environment is None and "code_configuration" in deployment:
        yield error(
            CODE,
            "needs `deployment.environment`, the Python environment the scoring script runs in "
            "(e.g. {image: mcr.microsoft.com/azureml/minimal-py312-inference:latest, "
            "conda_file: conda.yaml})",
            document.key_mark(CODE),
        )
    if not has_image and "model_mount_path" in deployment:
        path: JsonPath = (*DEPLOYMENT, "model_mount_path")
        yield error(
            path,
            "only applies to a custom container (`image`); Azure ML's inference images find "
            "the model at AZUREML_MODEL_DIR: remove it",
            document.key_mark(path),
        )
    registered = isinstance(environment, str) or (environment is None and not has_image)
    if registered and "inference_config" in deployment:
        path = (*DEPLOYMENT, "inference_config")
        yield error(
            path,
            "does not apply to a registered or generated environment (a reference, or an "
            "MLflow model's): its own routes are used; remove it, or give the environment as "
            "{image, conda_file} or {build: …} with these routes",
            document.key_mark(path),
        )
    if isinstance(environment, dict):
        yield from _environment_parts(document, environment)


def _may_run_alone(model: Any) -> bool:
    """An MLflow model deploys with no environment; a registered model may be one (Azure
    decides when it deploys)."""
    if isinstance(model, str):
        return is_reference(model)
    return isinstance(model, dict) and model.get("type") == "mlflow_model"


def _environment_parts(document: Document, environment: dict[str, Any]) -> Iterator[Finding]:
    if "image" in environment and "build" in environment:
        yield error(
            (*ENVIRONMENT, "build"),
            "and `image` are alternatives: Azure ML builds the environment from a build "
            "context, or from an image (with a conda file); keep one",
            document.key_mark((*ENVIRONMENT, "build")),
        )
    elif "image" not in environment and "build" not in environment:
        yield error(
            ENVIRONMENT,
            "needs `image` (with an optional `conda_file`) or `build: {path: …}`",
            document.key_mark(ENVIRONMENT),
        )
    if environment.get("build_on") == "runner" and "build" not in environment:
        path_on: JsonPath = (*ENVIRONMENT, "build_on")
        yield error(
            path_on,
            "runner builds a build context (`build: {path: …}`) on the runner; an image with "
            "a conda file is built by Azure ML: remove build_on, or write the image's "
            "Dockerfile and give its folder as build.path",
            document.value_mark(path_on),
        )
    if "conda_file" in environment and "image" not in environment:
        path: JsonPath = (*ENVIRONMENT, "conda_file")
        yield error(
            path,
            "is built onto `environment.image`; give the image, e.g. "
            "mcr.microsoft.com/azureml/minimal-py312-inference:latest",
            document.key_mark(path),
        )


def reference_findings(document: Document) -> Iterator[Finding]:
    checked: tuple[tuple[JsonPath, AssetKind], ...] = (
        (MODEL, "models"),
        (ENVIRONMENT, "environments"),
    )
    for path, kind in checked:
        written = document.get(path)
        if isinstance(written, str) and (is_reference(written) or kind == "environments"):
            yield from _reference(document, path, written, kind)


def _reference(
    document: Document, path: JsonPath, written: str, kind: AssetKind
) -> Iterator[Finding]:
    try:
        parse_reference(written, kind)
    except ReferenceSyntaxError as exc:
        yield error(path, str(exc), document.value_mark(path))


def conda_problem(file: Path) -> str | None:
    """Why conda (and Azure ML's image build) would refuse `file`, or None."""
    try:
        text = read_bounded(file, MAX_CONDA_BYTES).decode("utf-8-sig")
    except UnreadableFile as exc:
        return str(exc)
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at its line {mark.line + 1}" if mark is not None else ""
        return f"is not valid YAML{where}"
    if not isinstance(content, dict):
        return "is not a conda environment file (a mapping with `dependencies`)"
    dependencies = content.get("dependencies")
    if not isinstance(dependencies, list):
        return "has no `dependencies` list, so conda would install nothing"
    for item in dependencies:
        if isinstance(item, dict) and not isinstance(item.get("pip", []), list):
            return "has a `pip` entry that is not a list of requirements"
    return None
