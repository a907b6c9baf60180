"""What a local model or code folder uploads, and the version its content names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deployer.assets.deployed import DeployedAssets, asset_outputs, parse_deployed, what_runs
from deployer.assets.snapshot import snapshot
from deployer.errors import DeployerError
from deployer.spec.references import AssetReference, ReferenceSyntaxError, parse_reference


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_version_follows_the_content_not_the_place_or_the_time(tmp_path: Path) -> None:
    one = _tree(tmp_path / "a" / "code", {"score.py": "x = 1\n", "lib/util.py": "y = 2\n"})
    two = _tree(tmp_path / "b" / "code", {"score.py": "x = 1\n", "lib/util.py": "y = 2\n"})
    first, second = snapshot(one, tmp_path), snapshot(two, tmp_path)
    assert first.version == second.version and len(first.version) == 16
    assert [relative for _, relative in first.files] == ["lib/util.py", "score.py"]
    assert first.size == 12
    (two / "score.py").write_text("x = 2\n")
    assert snapshot(two, tmp_path).version != first.version
    # a file renamed is a change, even with the same bytes
    (one / "lib" / "util.py").rename(one / "lib" / "helpers.py")
    assert snapshot(one, tmp_path).version != first.version


def test_ignore_files_are_honoured_and_git_is_never_uploaded(tmp_path: Path) -> None:
    root = _tree(
        tmp_path / "code",
        {
            "score.py": "",
            ".git/config": "[credential]\n",
            "data/big.bin": "x",
            "notes.tmp": "",
            ".gitignore": "*.tmp\n",
        },
    )
    assert [r for _, r in snapshot(root, tmp_path).files] == [
        ".gitignore",
        "data/big.bin",
        "score.py",
    ]
    # .amlignore wins over .gitignore, as azure-ai-ml reads them
    (root / ".amlignore").write_text("data/\n")
    assert [r for _, r in snapshot(root, tmp_path).files] == [
        ".amlignore",
        ".gitignore",
        "notes.tmp",
        "score.py",
    ]


def test_a_link_out_of_the_workspace_is_refused_and_a_cycle_is_walked_once(
    tmp_path: Path,
) -> None:
    workspace = tmp_path / "repo"
    root = _tree(workspace / "model", {"weights.json": "{}"})
    os.symlink(root, root / "again")  # a cycle
    assert [r for _, r in snapshot(root, workspace).files] == ["weights.json"]
    (tmp_path / "secret").write_text("token")
    os.symlink(tmp_path / "secret", root / "secret")
    with pytest.raises(DeployerError, match="outside the workspace"):
        snapshot(root, workspace)


def test_staging_holds_exactly_the_files_hashed(tmp_path: Path) -> None:
    clean = _tree(tmp_path / "clean", {"a.json": "1", ".amlignore": "*.tmp\n", "x.tmp": ""})
    # nothing the SDK's own ignore file would not skip: the folder is uploaded as it is
    assert snapshot(clean, tmp_path).stage(tmp_path / "unused") == clean
    assert not (tmp_path / "unused").exists()
    root = _tree(tmp_path / "model", {"a.json": "1", ".git/HEAD": "ref", "sub/b.json": "2"})
    staged = snapshot(root, tmp_path).stage(tmp_path / "staging")
    assert staged.name == "model"
    found = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file())
    assert found == ["a.json", "sub/b.json"]
    single = _tree(tmp_path / "file", {"model.pkl": "bytes"}) / "model.pkl"
    assert snapshot(single, tmp_path).stage(tmp_path / "one").read_text() == "bytes"


def test_deployed_assets_round_trip_and_read_as_rows() -> None:
    assets = DeployedAssets(
        model="azureml://registries/shared/models/m/versions/7",
        code="azureml:seed:0123456789abcdef",
        scoring_script="score.py",
        environment="azureml:seed:fedcba9876543210",
    )
    assert parse_deployed(assets.text()) == assets
    assert parse_deployed("contosoml.azurecr.io/credit-risk@sha256:" + "0" * 64) is None
    assert what_runs(assets.text()) == [
        ("Model", "azureml://registries/shared/models/m/versions/7"),
        ("Code", "azureml:seed:0123456789abcdef (score.py)"),
        ("Environment", "azureml:seed:fedcba9876543210"),
    ]
    mlflow = DeployedAssets(model="azureml:m:1").text()
    assert asset_outputs(mlflow) == {"model": "azureml:m:1", "code": "", "environment": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("azureml:credit-risk:7", AssetReference("models", "credit-risk", "7")),
        ("azureml:credit-risk@latest", AssetReference("models", "credit-risk", label="latest")),
        (
            "azureml://registries/shared/models/credit-risk/labels/prod",
            AssetReference("models", "credit-risk", label="prod", registry="shared"),
        ),
    ],
)
def test_references_parse_and_print_as_written(text: str, expected: AssetReference) -> None:
    assert parse_reference(text, "models") == expected
    assert str(expected) == text


@pytest.mark.parametrize("text", ["credit-risk:7", "azureml:credit-risk", "azureml:a/b:1"])
def test_a_reference_the_action_cannot_read_says_the_forms(text: str) -> None:
    with pytest.raises(ReferenceSyntaxError, match="azureml:<name>:<version>"):
        parse_reference(text, "models")


def test_ids_longer_than_a_tag_holds_are_kept_by_hash_and_still_compare() -> None:
    from types import MappingProxyType

    from deployer.state import DeploymentState, ProvisioningState
    from deployer.tags import MAX_TAG_VALUE, Tag, tag_value

    long_name = "a-very-long-endpoint-name-for-a-team" * 2
    assets = DeployedAssets(
        model=f"azureml://registries/shared-models/models/{long_name}/versions/1",
        code=f"azureml:{long_name}:0123456789abcdef",
        scoring_script="src/score.py",
        environment=f"azureml:{long_name}:fedcba9876543210",
    ).text()
    assert len(assets) > MAX_TAG_VALUE
    held = tag_value(assets)
    assert held.startswith("sha256:") and len(held) <= MAX_TAG_VALUE
    assert tag_value("registry.io/app@sha256:" + "0" * 64) == "registry.io/app@sha256:" + "0" * 64
    deployed = DeploymentState(
        "blue",
        ProvisioningState.SUCCEEDED,
        "Standard_DS3_v2",
        1,
        MappingProxyType({Tag.IMAGE: held}),
    )
    assert deployed.image == held
