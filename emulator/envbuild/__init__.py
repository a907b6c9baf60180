"""Azure ML's environment image builds: see build.py."""

from emulator.envbuild.build import BuiltImage, RegistryTarget, build_environment
from emulator.envbuild.definition import DefinitionInvalid, EnvironmentDefinition
from emulator.envbuild.errors import BuildLogLocation, EnvironmentBuildFailed

__all__ = [
    "BuildLogLocation",
    "BuiltImage",
    "DefinitionInvalid",
    "EnvironmentBuildFailed",
    "EnvironmentDefinition",
    "RegistryTarget",
    "build_environment",
]
