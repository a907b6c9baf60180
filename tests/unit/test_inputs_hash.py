"""The hash in the default image tag: it changes with every build input, never with a secret's
value, and is the same in every run."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType

import pytest

from deployer.context import RunContext
from deployer.image.inputs_hash import build_inputs_hash
from deployer.spec.model import BuildSecret, BuildSpec


@pytest.fixture
def spec(tmp_path: Path) -> BuildSpec:
    (tmp_path / "Dockerfile").write_text("FROM base\nARG MODE\n")
    (tmp_path / "token").write_text("first value")
    return BuildSpec(
        context=tmp_path,
        dockerfile=tmp_path / "Dockerfile",
        args=MappingProxyType({"MODE": "serve"}),
        secrets=MappingProxyType({"t": BuildSecret(file=tmp_path / "token")}),
    )


def test_it_is_eight_hex_characters(spec: BuildSpec) -> None:
    digest = build_inputs_hash(spec, {})
    assert len(digest) == 8 and int(digest, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"args": MappingProxyType({"MODE": "crash"})},
        {"args": MappingProxyType({"MODE": "serve", "EXTRA": ""})},
        {"target": "runtime"},
        {"platform": "linux/arm64"},
        {"secrets": MappingProxyType({"other": BuildSecret(env="X")})},
    ],
)
def test_each_input_changes_it(spec: BuildSpec, change: dict[str, object]) -> None:
    assert build_inputs_hash(dataclasses.replace(spec, **change), {}) != build_inputs_hash(spec, {})  # type: ignore[arg-type]


def test_extra_build_args_change_it_and_override_the_deploy_files(spec: BuildSpec) -> None:
    assert build_inputs_hash(spec, {"MODE": "crash"}) != build_inputs_hash(spec, {})
    same = dataclasses.replace(spec, args=MappingProxyType({"MODE": "crash"}))
    assert build_inputs_hash(spec, {"MODE": "crash"}) == build_inputs_hash(same, {})


def test_the_dockerfile_content_and_path_change_it(spec: BuildSpec, tmp_path: Path) -> None:
    before = build_inputs_hash(spec, {})
    (tmp_path / "Dockerfile.gpu").write_text("FROM base\nARG MODE\n")
    moved = dataclasses.replace(spec, dockerfile=tmp_path / "Dockerfile.gpu")
    assert build_inputs_hash(moved, {}) != before
    (tmp_path / "Dockerfile").write_text("FROM base\nARG MODE\nRUN true\n")
    assert build_inputs_hash(spec, {}) != before


def test_a_secret_value_does_not_change_it(spec: BuildSpec, tmp_path: Path) -> None:
    before = build_inputs_hash(spec, {})
    (tmp_path / "token").write_text("rotated value")
    assert build_inputs_hash(spec, {}) == before
    by_env = dataclasses.replace(spec, secrets=MappingProxyType({"t": BuildSecret(env="T")}))
    assert build_inputs_hash(by_env, {}) == before  # the id counts, not where it comes from


def test_it_is_stable_across_processes(spec: BuildSpec) -> None:
    code = (
        "import sys; from pathlib import Path; from types import MappingProxyType;"
        "from deployer.image.inputs_hash import build_inputs_hash;"
        "from deployer.spec.model import BuildSecret, BuildSpec;"
        "root = Path(sys.argv[1]);"
        "spec = BuildSpec(context=root, dockerfile=root / 'Dockerfile',"
        " args=MappingProxyType({'MODE': 'serve'}),"
        " secrets=MappingProxyType({'t': BuildSecret(file=root / 'token')}));"
        "print(build_inputs_hash(spec, {}))"
    )
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", code, str(spec.context)],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        assert result.stdout.strip() == build_inputs_hash(spec, {})


def test_the_default_tag_is_the_short_sha_and_the_hash() -> None:
    context = RunContext(
        False, None, None, "https://github.com", "0123456789" * 4, None, None, None, None
    )
    assert context.image_tag("89abcdef") == "0123456-89abcdef"
    assert context.image_tag("89abcdef", dirty=True) == "0123456-89abcdef-dirty"
    assert dataclasses.replace(context, sha="").image_tag("89abcdef") is None
