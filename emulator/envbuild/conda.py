"""A conda file's dependencies as pip requirements.

Azure ML builds an environment with a conda file by creating that conda environment in the
image (`conda env create -p /azureml-envs/azureml_<hash> -f ...`, the Dockerfile Azure ML
generates, azure.github.io/azureml-cheatsheets "Azure ML Containers"). Conda's channels cannot be
reached from our machines, so the emulator installs the same packages from PyPI with pip: the
conda packages become pip requirements, the `pip:` list is kept as it is, and the Python version
pin is reported (the local images have one Python). emulator/README.md lists the differences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

# Conda package names whose PyPI name differs.
_PYPI_NAMES = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "tensorflow-cpu": "tensorflow",
    "pillow-simd": "pillow",
}
# Conda packages that are not Python packages (libraries, compilers, the interpreter's own
# runtime): nothing to install with pip.
_NOT_ON_PYPI = {
    "pip",
    "setuptools",
    "wheel",
    "_libgcc_mutex",
    "_openmp_mutex",
    "libgcc-ng",
    "libstdcxx-ng",
    "libgomp",
    "openssl",
    "ca-certificates",
    "cudatoolkit",
    "cudnn",
    "mkl",
    "mkl-service",
    "nomkl",
    "blas",
    "libblas",
    "openmpi",
}
_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<version>.*)$")


class CondaFileInvalid(ValueError):
    """The conda file is not a conda environment specification."""


@dataclass(frozen=True)
class PipInstall:
    python: str | None  # the Python version the conda file pins, e.g. "3.12"
    requirements: tuple[str, ...]  # one pip requirement a line, in the file's order
    notes: tuple[str, ...]  # what was mapped or left out, for the build log


def pip_install(conda_file: str) -> PipInstall:
    try:
        spec = yaml.safe_load(conda_file)
    except yaml.YAMLError as exc:
        raise CondaFileInvalid(f"the conda file is not valid YAML: {exc}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("dependencies", []), list):
        raise CondaFileInvalid("the conda file needs a `dependencies:` list")
    python: str | None = None
    requirements: list[str] = []
    notes: list[str] = []
    for dependency in spec.get("dependencies") or []:
        if isinstance(dependency, dict):
            requirements.extend(_pip_section(dependency))
            continue
        name, version = _split(str(dependency))
        if name == "python":
            python = version.lstrip("=") or None
        elif name in _NOT_ON_PYPI:
            notes.append(f"conda package {dependency!r} left out: not installed from PyPI")
        else:
            pypi = _PYPI_NAMES.get(name, name)
            if pypi != name:
                notes.append(f"conda package {name!r} installed as {pypi!r} from PyPI")
            requirements.append(pypi + _pip_version(version))
    return PipInstall(python, tuple(requirements), tuple(notes))


def _pip_section(section: dict[Any, Any]) -> list[str]:
    unknown = set(section) - {"pip"}
    if unknown or not isinstance(section.get("pip"), list):
        raise CondaFileInvalid(f"unexpected entry in dependencies: {section!r}")
    return [str(line).strip() for line in section["pip"] if str(line).strip()]


def _split(dependency: str) -> tuple[str, str]:
    """Name and version of a conda match spec (`conda-forge::numpy=1.26=py_0` → `numpy`,
    `=1.26`), the build string dropped."""
    text = dependency.split("::", 1)[-1].strip()
    match = _SPEC.match(text)
    if match is None:
        raise CondaFileInvalid(f"not a conda package specification: {dependency!r}")
    version = match["version"].replace(" ", "")
    if version.startswith("=") and not version.startswith("=="):
        version = "=" + version[1:].split("=", 1)[0]  # `=1.26=py_0`: the build string goes
    elif version and version[0].isdigit():
        version = "=" + version.split("=", 1)[0]  # `numpy 1.26`: conda's fuzzy version
    return match["name"].lower(), version


def _pip_version(version: str) -> str:
    """Conda's `=1.26` means any 1.26.x (a prefix match); pip writes that `==1.26.*`."""
    if not version:
        return ""
    if version.startswith("=") and not version.startswith("=="):
        prefix = version[1:].rstrip("*").rstrip(".")
        return f"=={prefix}.*"
    return version
