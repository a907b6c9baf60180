"""The shipped JSON Schema is one editors can use, and it agrees with the dataclasses."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from deployer.spec import model
from deployer.spec.schemacheck import deploy_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schema" / "deploy.schema.json"


def field_schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object outside the requiredness layer, with a readable location."""

    def walk(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if isinstance(node, dict):
            yield where, node
            for key, value in node.items():
                yield from walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, f"{where}/{index}")

    schema = json.loads(SCHEMA_FILE.read_text("utf-8"))
    for where, node in walk(schema, "#"):
        if not where.startswith("#/$defs/complete") and not where.startswith("#/allOf"):
            yield where, node


def test_the_package_reads_the_top_level_schema_file() -> None:
    assert deploy_schema() == json.loads(SCHEMA_FILE.read_text("utf-8"))


def test_schema_is_valid_draft_2020_12_with_an_id() -> None:
    schema = deploy_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/schema/deploy.schema.json")


def test_every_property_has_a_description() -> None:
    missing = []
    for where, node in field_schemas():
        for name, prop in node.get("properties", {}).items():
            if "description" not in prop:
                missing.append(f"{where}/properties/{name}")
    assert not missing, missing


def test_every_object_refuses_unknown_keys() -> None:
    open_objects = [
        where
        for where, node in field_schemas()
        if node.get("type") == "object" and "additionalProperties" not in node
    ]
    assert not open_objects


def schema_default(definition: str, name: str) -> Any:
    return deploy_schema()["$defs"][definition]["properties"].get(name, {}).get("default")


def test_dataclass_defaults_are_the_schema_defaults() -> None:
    pairs = {
        model.EndpointSpec: "endpoint",
        model.BuildSpec: "build",
        model.DeploymentSpec: "deployment",
        model.RequestSettings: "requestSettings",
        model.Probe: "probe",
        model.RolloutSpec: "rollout",
        model.AnalysisSpec: "analysis",
        model.BaselineSpec: "baseline",
        model.ShadowSpec: "shadow",
        model.LoadSpec: "load",
        model.AutoscaleSpec: "autoscale",
        model.AutoscaleRule: "autoscaleRule",
        model.SmokeTestSpec: "smokeTest",
    }
    checked = 0
    for cls, definition in pairs.items():
        for field in dataclasses.fields(cls):
            expected = schema_default(definition, field.name)
            if expected is None or field.default is dataclasses.MISSING:
                continue
            actual = field.default
            if isinstance(actual, tuple):
                actual = list(actual)
            assert actual == expected, f"{cls.__name__}.{field.name}"
            checked += 1
    assert checked >= 15


def test_the_field_reference_is_generated_from_the_schema() -> None:

    from tools import docs as reference

    committed = (ROOT / "docs" / "deploy-file.md").read_text("utf-8")
    assert committed == reference.render(), "docs/deploy-file.md is stale: run `make docs`"
    for name in ("instance_count", "canary_steps", "ttl_hours", "expect_body_schema"):
        assert f"| `{name}`" in committed
