"""An environment's build inputs: the conda file as pip requirements, and the content hash
that names its image (the builds themselves: tests/emulator/test_environment_builds.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.envbuild import RegistryTarget, build_environment
from emulator.envbuild.conda import CondaFileInvalid, pip_install
from emulator.envbuild.definition import DefinitionInvalid, EnvironmentDefinition

MODEL_1_SHAPE = """
name: model-env
channels:
  - conda-forge
dependencies:
  - python=3.12
  - numpy=2.3.1
  - pip=25.1.1
  - conda-forge::scikit-learn=1.7.0=py312_0
  - pytorch
  - scipy >=1.16,<2
  - pandas 2.2
  - pip:
    - azureml-inference-server-http==1.4.1
    - inference-schema[numpy-support]
"""


def test_conda_dependencies_become_pip_requirements() -> None:
    install = pip_install(MODEL_1_SHAPE)
    assert install.python == "3.12"
    assert install.requirements == (
        "numpy==2.3.1.*",  # conda's `=` is a prefix match
        "scikit-learn==1.7.0.*",  # channel and build string dropped
        "torch",  # conda's pytorch is PyPI's torch
        "scipy>=1.16,<2",
        "pandas==2.2.*",  # conda's fuzzy `name version`
        "azureml-inference-server-http==1.4.1",
        "inference-schema[numpy-support]",
    )
    assert any("pip=25.1.1" in note for note in install.notes)
    assert any("'torch'" in note for note in install.notes)


@pytest.mark.parametrize("text", ["[unclosed", "- just a list", "dependencies: 3"])
def test_a_file_that_is_no_conda_specification_is_refused(text: str) -> None:
    with pytest.raises(CondaFileInvalid):
        pip_install(text)


def test_the_image_name_follows_the_content(tmp_path: Path) -> None:
    image = "mcr.microsoft.com/azureml/minimal-py312-inference:latest"
    one = EnvironmentDefinition(image=image, conda_file=MODEL_1_SHAPE)
    assert (
        one.image_name()
        == EnvironmentDefinition(image=image, conda_file=MODEL_1_SHAPE).image_name()
    )
    assert one.image_name().startswith("azureml/azureml_") and len(one.content_hash()) == 32
    other = EnvironmentDefinition(image=image, conda_file=MODEL_1_SHAPE + "    - joblib\n")
    assert other.image_name() != one.image_name()
    (tmp_path / "Dockerfile").write_text(f"FROM {image}\n")
    context = EnvironmentDefinition(context=tmp_path)
    before = context.image_name()
    (tmp_path / "score.py").write_text("def init(): pass\n")
    assert context.image_name() != before
    assert not EnvironmentDefinition(image=image).needs_build
    assert one.needs_build and context.needs_build


def test_an_environment_has_an_image_or_a_context(tmp_path: Path) -> None:
    with pytest.raises(DefinitionInvalid):
        EnvironmentDefinition()
    with pytest.raises(DefinitionInvalid):
        EnvironmentDefinition(image="x", context=tmp_path)
    with pytest.raises(DefinitionInvalid):
        EnvironmentDefinition(context=tmp_path, conda_file="dependencies: []")


def test_an_image_alone_is_not_built() -> None:
    with pytest.raises(DefinitionInvalid, match="used as it is"):
        build_environment(EnvironmentDefinition(image="x"), RegistryTarget("127.0.0.1:5000", {}))
