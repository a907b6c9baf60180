"""Every rule of the deploy file, each reported at its exact line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.diagnostics import Severity
from deployer.errors import UsageError
from deployer.spec import validate_deploy_file
from deployer.spec.model import AuthMode, OnInconclusive, Strategy
from tests.unit.deployfiles import VALID, Workspace, only, replace_line


def test_the_valid_file_builds_a_spec_for_the_base_and_each_environment(
    workspace: Workspace,
) -> None:
    report = workspace.validate(VALID)
    assert report.problems == ()
    assert report.deploy_file is not None
    base = report.deploy_file.base
    assert base.endpoint.name_template == "credit-risk"
    assert base.endpoint.auth_mode is AuthMode.KEY
    assert base.image.build is not None
    assert base.image.build.context == workspace.root
    assert base.image.build.dockerfile == workspace.root / "Dockerfile"
    assert base.deployment.inference_config.scoring_route.port == 5001
    assert base.rollout.strategy is Strategy.BLUE_GREEN
    assert base.smoke_test is not None and base.smoke_test.attempts == 3
    preview = report.deploy_file.environments["preview"]
    assert preview.endpoint.render_name({"pr": "7"}) == "credit-risk-pr7"
    assert preview.rollout.strategy is Strategy.REPLACE
    assert preview.ttl_hours == 72
    production = report.deploy_file.environments["production"]
    assert production.deployment.instance_count == 3
    assert production.endpoint.name_template == "credit-risk"


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*/deploy.yml"))


def test_the_examples_are_the_three_shapes() -> None:
    names = {example.parent.name for example in EXAMPLES}
    assert names >= {"credit-risk", "scoring-script", "mlflow-no-code"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.parent.name)
def test_every_example_in_the_repository_is_valid(example: Path) -> None:
    """As `azureml-deploy validate --config examples/<x>/deploy.yml [--environment E]`."""
    workspace = example.parents[2]
    report = validate_deploy_file(example, workspace=workspace)
    assert report.problems == ()
    assert report.environment_names == ("preview", "production")
    for environment in report.environment_names:
        alone = validate_deploy_file(example, environment=environment, workspace=workspace)
        assert alone.problems == (), environment


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("version: 1", "version: 2", (1, 10, "version must be 1 (got 2)")),
        ("version: 1", "version: true", (1, 10, "version must be 1 (got the boolean true)")),
        (
            "  instance_count: 1",
            "  instance_count: 0",
            (13, 19, "deployment.instance_count must be >= 1 (got 0)"),
        ),
        (
            "  instance_count: 1",
            '  instance_count: "3"',
            (13, 19, 'deployment.instance_count must be an integer (got "3")'),
        ),
        (
            "liveness_route: {port: 5001, path: /health}",
            "liveness_route: {port: 65536, path: /health}",
            (
                15,
                28,
                "deployment.inference_config.liveness_route.port must be <= 65535 (got 65536)",
            ),
        ),
        (
            "liveness_route: {port: 5001, path: /health}",
            "liveness_route: {port: 0, path: /health}",
            (15, 28, "deployment.inference_config.liveness_route.port must be >= 1 (got 0)"),
        ),
        (
            "scoring_route: {port: 5001, path: /score}",
            "scoring_route: {port: 5001, path: score}",
            (
                17,
                39,
                "deployment.inference_config.scoring_route.path must start with '/' "
                '(got "score")',
            ),
        ),
        (
            "  auth_mode: key",
            "  auth_mode: keys",
            (
                4,
                14,
                'endpoint.auth_mode must be one of key, aml_token, aad_token (got "keys"); '
                "did you mean 'key'?",
            ),
        ),
        (
            "  strategy: blue-green",
            "  strategy: bluegreen",
            (
                19,
                13,
                'rollout.strategy must be one of blue-green, canary, replace (got "bluegreen"); '
                "did you mean 'blue-green'?",
            ),
        ),
        (
            "  registry: contosoml.azurecr.io",
            "  registry: https://contosoml.azurecr.io/",
            (
                6,
                13,
                "image.registry must be a registry login server such as contosoml.azurecr.io "
                '(no scheme, no path) (got "https://contosoml.azurecr.io/")',
            ),
        ),
        (
            "  repository: credit-risk",
            "  repository: Credit-Risk",
            (7, 15, "image.repository must be a repository name"),
        ),
        (
            "  instance_type: Standard_DS3_v2",
            "  instance_type: Standard DS3",
            (12, 18, "deployment.instance_type must be an Azure VM size such as Standard_DS3_v2"),
        ),
    ],
)
def test_types_enums_and_ranges(
    workspace: Workspace, old: str, new: str, expected: tuple[int, int, str]
) -> None:
    problem = only(workspace.validate(replace_line(VALID, old, new)).problems)
    line, column, message = expected
    assert (problem.line, problem.column) == (line, column)
    assert problem.message.startswith(message), problem.message


def test_request_timeout_is_capped_at_azures_maximum(workspace: Workspace) -> None:
    text = replace_line(
        VALID,
        "  instance_count: 1\n",
        "  instance_count: 1\n  request_settings: {request_timeout_ms: 180001}\n",
    )
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (14, 42)
    assert problem.message == (
        "deployment.request_settings.request_timeout_ms must be <= 180000 (got 180001)"
    )
    assert workspace.validate(text.replace("180001", "180000")).valid


@pytest.mark.parametrize(
    "field", ["initial_delay", "period", "timeout", "success_threshold", "failure_threshold"]
)
def test_probe_numbers_must_be_positive(workspace: Workspace, field: str) -> None:
    text = replace_line(
        VALID, "  instance_count: 1\n", f"  instance_count: 1\n  readiness_probe: {{{field}: 0}}\n"
    )
    problem = only(workspace.validate(text).problems)
    assert problem.line == 14
    assert problem.message == f"deployment.readiness_probe.{field} must be >= 1 (got 0)"


def test_unknown_key_gets_a_did_you_mean_at_the_key(workspace: Workspace) -> None:
    text = replace_line(
        VALID, "  instance_type: Standard_DS3_v2", "  instnace_type: Standard_DS3_v2"
    )
    errors = workspace.errors(text)
    assert (
        12,
        3,
        "deployment.instnace_type is not a known key; did you mean 'instance_type'?",
    ) in errors
    assert (11, 1, "deployment.instance_type is required") in errors


def test_unknown_key_without_a_close_match_lists_the_known_keys(workspace: Workspace) -> None:
    text = replace_line(VALID, "  auth_mode: key", "  auth_mode: key\n  colour: blue")
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (5, 3)
    assert problem.message == (
        "endpoint.colour is not a known key (known keys: auth_mode, description, file, identity, "
        "name, public_network_access, tags)"
    )


def test_missing_sections_are_reported_at_the_top(workspace: Workspace) -> None:
    errors = workspace.errors("version: 1\nendpoint: {name: credit-risk}\n")
    assert errors == [(1, 1, "deployment is required")]


def test_all_three_routes_are_required(workspace: Workspace) -> None:
    text = replace_line(VALID, "    scoring_route: {port: 5001, path: /score}\n", "")
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (14, 3)
    assert problem.message == "deployment.inference_config.scoring_route is required"


def test_a_type_error_suggests_quoting_yaml_booleans(workspace: Workspace) -> None:
    text = replace_line(VALID, "  auth_mode: key", "  auth_mode: key\n  tags: {enabled: yes}")
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (5, 19)
    assert problem.message == (
        "endpoint.tags.enabled must be a string or a number (got the boolean yes); "
        'YAML reads yes as a boolean, quote it: "yes"'
    )


def test_string_maps_keep_numbers_as_written(workspace: Workspace) -> None:
    text = replace_line(
        VALID,
        "    dockerfile: Dockerfile",
        "    dockerfile: Dockerfile\n    args: {PYTHON: 3.10, MODEL_VERSION: 3}",
    )
    report = workspace.validate(text)
    assert report.deploy_file is not None
    build = report.deploy_file.base.image.build
    assert build is not None
    assert dict(build.args) == {"PYTHON": "3.10", "MODEL_VERSION": "3"}


def test_environment_variable_names_are_checked(workspace: Workspace) -> None:
    text = replace_line(
        VALID, "  instance_count: 1", '  instance_count: 1\n  environment_variables: {"1BAD": x}'
    )
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (14, 27)
    assert problem.message == (
        'deployment.environment_variables["1BAD"] is not a valid name: '
        "names are letters, digits and '_', not starting with a digit"
    )


# --- image -----------------------------------------------------------------------------------

DIGEST = "sha256:" + "ab" * 32


def image_section(body: str) -> str:
    start = VALID.index("image:\n")
    end = VALID.index("deployment:\n")
    return VALID[:start] + "image:\n" + body + VALID[end:]


def test_image_needs_build_or_ref(workspace: Workspace) -> None:
    problem = only(workspace.validate(image_section("  repository: credit-risk\n")).problems)
    assert (problem.line, problem.column) == (5, 1)
    assert problem.message == (
        "image needs either `build` (build the image from source) or `ref` "
        "(deploy a prebuilt image)"
    )


def test_image_refuses_both_build_and_ref(workspace: Workspace) -> None:
    body = (
        "  registry: r.azurecr.io\n  repository: app\n  build: {}\n"
        f"  ref: r.azurecr.io/app@{DIGEST}\n"
    )
    problem = only(workspace.validate(image_section(body)).problems)
    assert (problem.line, problem.column) == (5, 1)
    assert problem.message == "image has both `build` and `ref`; keep only one"


def test_build_needs_registry_and_repository(workspace: Workspace) -> None:
    errors = workspace.errors(image_section("  build: {context: .}\n"))
    assert errors == [
        (5, 1, "image.registry is required with `build` (it names where the image is pushed)"),
        (5, 1, "image.repository is required with `build` (it names where the image is pushed)"),
    ]


@pytest.mark.parametrize(
    "ref",
    [
        f"contosoml.azurecr.io/credit-risk@{DIGEST}",
        "contosoml.azurecr.io/credit-risk:v1.2.0",
        f"contosoml.azurecr.io/models/credit-risk:v1@{DIGEST}",
        f"127.0.0.1:5000/credit-risk@{DIGEST}",
        "docker.io/tensorflow/serving:latest",  # any registry: public ones read anonymously
        "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference:latest",
        "tensorflow/serving:latest",  # Docker's rule: no registry host is Docker Hub
        "ubuntu:22.04",
    ],
)
def test_good_refs(workspace: Workspace, ref: str) -> None:
    report = workspace.validate(image_section(f"  ref: {ref}\n"))
    assert report.valid, report.problems
    assert report.deploy_file is not None
    assert report.deploy_file.base.image.ref == ref
    assert report.deploy_file.base.image.build is None


@pytest.mark.parametrize(
    "ref",
    [
        "credit-risk",  # no registry, no tag
        "contosoml.azurecr.io/credit-risk",  # neither tag nor digest
        "contosoml.azurecr.io/credit-risk@sha256:abc",  # short digest
        "https://contosoml.azurecr.io/credit-risk:v1",
    ],
)
def test_bad_refs(workspace: Workspace, ref: str) -> None:
    problem = only(workspace.validate(image_section(f"  ref: {ref}\n")).problems)
    assert (problem.line, problem.column) == (6, 8)
    assert problem.message.startswith(
        "image.ref must be an image reference with a digest (registry/repository@sha256:<64 hex>) "
        "or a tag (registry/repository:tag)"
    )


def test_a_hub_ref_is_in_docker_io_by_dockers_rule(workspace: Workspace) -> None:
    body = "  registry: tensorflow\n  ref: tensorflow/serving:latest\n"
    problem = only(workspace.validate(image_section(body)).problems)
    assert "image.ref is in registry 'docker.io'" in problem.message
    agreeing = "  registry: docker.io\n  ref: ubuntu:22.04\n  repository: library/ubuntu\n"
    report = workspace.validate(image_section(agreeing))
    assert report.valid, report.problems


def test_ref_and_registry_must_agree(workspace: Workspace) -> None:
    body = f"  registry: other.azurecr.io\n  ref: contosoml.azurecr.io/credit-risk@{DIGEST}\n"
    problem = only(workspace.validate(image_section(body)).problems)
    assert (problem.line, problem.column) == (6, 13)
    assert "image.ref is in registry 'contosoml.azurecr.io'" in problem.message


def test_platform_is_linux_amd64_only(workspace: Workspace) -> None:
    text = replace_line(
        VALID, "    dockerfile: Dockerfile", "    dockerfile: Dockerfile\n    platform: linux/arm64"
    )
    problem = only(workspace.validate(text).problems)
    assert problem.message.startswith(
        'image.build.platform must be one of linux/amd64 (got "linux/arm64")'
    )


# --- rollout -----------------------------------------------------------------------------------


def rollout(body: str) -> str:
    start = VALID.index("rollout:\n")
    end = VALID.index("smoke_test:\n")
    return VALID[:start] + "rollout:\n" + body + VALID[end:]


def test_canary_steps_must_increase_and_end_at_100(workspace: Workspace) -> None:
    text = rollout("  strategy: canary\n  canary_steps: [10, 50, 50, 90]\n")
    errors = workspace.errors(text, environment="production")
    assert errors == [
        (
            20,
            26,
            "rollout.canary_steps[2] must be greater than the step before it (50); "
            "canary steps increase strictly (got 50)",
        ),
        (
            20,
            30,
            "rollout.canary_steps[3] must be 100: the last canary step sends all traffic to the "
            "new deployment (got 90)",
        ),
    ]


def test_canary_steps_are_percentages(workspace: Workspace) -> None:
    text = rollout("  strategy: canary\n  canary_steps: [0, 101]\n")
    errors = workspace.errors(text, environment="production")
    assert (20, 18, "rollout.canary_steps[0] must be >= 1 (got 0)") in errors
    assert (20, 21, "rollout.canary_steps[1] must be <= 100 (got 101)") in errors


def test_canary_steps_only_with_canary(workspace: Workspace) -> None:
    text = rollout("  strategy: replace\n  canary_steps: [50, 100]\n")
    problem = only(workspace.validate(text, environment="production").problems)
    assert (problem.line, problem.column) == (20, 3)
    assert problem.message.startswith(
        "rollout.canary_steps only applies to strategy canary "
        "(the strategy is 'replace', set at line 19)"
    )


def test_keep_previous_only_with_blue_green(workspace: Workspace) -> None:
    text = rollout("  strategy: canary\n  keep_previous: true\n")
    problem = only(workspace.validate(text, environment="production").problems)
    assert (problem.line, problem.column) == (20, 3)
    assert problem.message == (
        "rollout.keep_previous only applies to strategy blue-green "
        "(the strategy is 'canary', set at line 19)"
    )
    assert workspace.validate(rollout("  keep_previous: true\n"), environment="production").valid


def test_canary_spec(workspace: Workspace) -> None:
    text = rollout("  strategy: canary\n  canary_steps: [5, 100]\n  step_wait_seconds: 0\n")
    report = workspace.validate(text, environment="production")
    assert report.deploy_file is not None
    spec = report.deploy_file.base.rollout
    assert spec.strategy is Strategy.CANARY
    assert spec.canary_steps == (5, 100)
    assert spec.step_wait_seconds == 0


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("cr", "endpoint.name must be 3-32 characters long (got 2)"),
        (
            "credit-risk-scoring-service-for-europe",
            "endpoint.name must be 3-32 characters long (got 38)",
        ),
        ("1credit", "endpoint.name must start with a letter"),
        ("credit-", "endpoint.name must not end with '-'"),
        (
            '"credit-{prr}"',
            "endpoint.name uses the unknown placeholder {prr}; did you mean '{pr}'?",
        ),
        ('"{pr}-credit"', "endpoint.name must start with a letter; put fixed text first"),
        ('"a{pr}"', "endpoint.name renders to 'a1', shorter than 3 characters; add fixed text"),
        ("credit_risk", "endpoint.name may contain only letters, digits, '-' and placeholders"),
    ],
)
def test_endpoint_names(workspace: Workspace, name: str, message: str) -> None:
    problem = only(
        workspace.validate(replace_line(VALID, "  name: credit-risk", f"  name: {name}")).problems
    )
    assert (problem.line, problem.column) == (3, 9)
    assert problem.message.startswith(message), problem.message


def test_non_ascii_names_are_refused(workspace: Workspace) -> None:
    errors = workspace.errors(replace_line(VALID, "  name: credit-risk", "  name: Àpp"))
    assert [message for _, _, message in errors] == [
        "endpoint.name may contain only letters, digits, '-' and placeholders such as {pr} "
        '(got "Àpp")',
        "endpoint.name must start with a letter (a-z)",
    ]


def test_long_templates_are_fine_because_rendering_shortens_them(workspace: Workspace) -> None:
    text = replace_line(
        VALID, "  name: credit-risk", '  name: "credit-risk-scoring-{branch}-{sha}"'
    )
    assert workspace.validate(text).valid


def test_upper_case_literal_name_is_a_warning_showing_the_real_name(workspace: Workspace) -> None:
    report = workspace.validate(replace_line(VALID, "  name: credit-risk", "  name: Credit-Risk"))
    assert report.valid
    [warning] = report.problems
    assert warning.severity is Severity.WARNING
    assert warning.message.startswith("endpoint.name will be used as 'credit-risk'")


def test_unknown_instance_type_is_only_a_warning(workspace: Workspace) -> None:
    text = replace_line(
        VALID, "  instance_type: Standard_DS3_v2", "  instance_type: Standard_DS3v2"
    )
    report = workspace.validate(text)
    assert report.valid
    [warning] = report.problems
    assert (warning.line, warning.column, warning.severity) == (12, 18, Severity.WARNING)
    assert "did you mean 'Standard_DS3_v2'?" in warning.message


def test_liveness_success_threshold_is_fixed_at_one(workspace: Workspace) -> None:
    text = replace_line(
        VALID,
        "  instance_count: 1",
        "  instance_count: 1\n  liveness_probe: {success_threshold: 3}\n"
        "  readiness_probe: {success_threshold: 3}",
    )
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column, problem.severity) == (14, 39, Severity.ERROR)
    assert "deployment.liveness_probe.success_threshold must be 1 (got 3)" in problem.message
    assert "The value for liveness probe is fixed as 1" in problem.message


def test_sizes_of_microsofts_current_list_are_known(workspace: Workspace) -> None:
    for size in (
        "Standard_FX12mds",
        "Standard_L8as_v3",
        "Standard_NC6s_v2",
        "Standard_NV36ads_A10_v5",
        "Standard_ND96is_H100_v5",
    ):
        text = replace_line(VALID, "  instance_type: Standard_DS3_v2", f"  instance_type: {size}")
        assert workspace.validate(text).problems == (), size
    retired = replace_line(
        VALID, "  instance_type: Standard_DS3_v2", "  instance_type: Standard_E4a_v4"
    )
    [warning] = workspace.validate(retired).problems
    assert warning.severity is Severity.WARNING


def test_more_than_50_instances_is_a_warning(workspace: Workspace) -> None:
    text = replace_line(VALID, "  instance_count: 1", "  instance_count: 60")
    [warning] = workspace.validate(text).problems
    assert (warning.line, warning.severity) == (13, Severity.WARNING)
    assert "Azure ML allows 50 instances per deployment" in warning.message


def test_the_20_percent_reserve_applies_except_where_the_sku_list_skips_it() -> None:
    from deployer.spec.skus import find

    ds3, a100 = find("standard_ds3_v2"), find("Standard_NC24ads_A100_v4")
    assert ds3 is not None and a100 is not None
    assert (ds3.family, ds3.quota_cores(10), ds3.quota_cores(1)) == ("standardDSv2Family", 48, 8)
    assert (a100.skip_reserve, a100.quota_cores(2)) == (True, 48)


# --- files -----------------------------------------------------------------------------------


def test_smoke_request_must_exist(workspace: Workspace) -> None:
    text = replace_line(VALID, "  request: sample-request.json", "  request: tests/missing.json")
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (21, 12)
    assert problem.message == (
        "smoke_test.request names tests/missing.json, but tests/missing.json does not exist"
    )


def test_smoke_request_must_be_json(workspace: Workspace) -> None:
    workspace.write("sample-request.json", "{not json")
    problem = only(workspace.validate(VALID).problems)
    assert problem.line == 21
    assert problem.message.startswith(
        "smoke_test.request names sample-request.json, which is not valid JSON: "
        "Expecting property name enclosed in double quotes at its line 1, column 2"
    )


def test_body_schema_must_be_a_json_schema(workspace: Workspace) -> None:
    workspace.write("response.schema.json", '{"type": "nonsense"}')
    text = replace_line(
        VALID,
        "  request: sample-request.json",
        "  request: sample-request.json\n  expect_body_schema: response.schema.json",
    )
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (22, 23)
    assert "which is not a valid JSON Schema" in problem.message


def test_files_must_stay_in_the_workspace(workspace: Workspace) -> None:
    text = replace_line(VALID, "  request: sample-request.json", "  request: ../outside.json")
    problem = only(workspace.validate(text).problems)
    assert problem.message == "smoke_test.request points outside the workspace (../outside.json)"
    absolute = replace_line(VALID, "  request: sample-request.json", "  request: /etc/hostname")
    assert (
        "must be a path relative to the deploy file"
        in only(workspace.validate(absolute).problems).message
    )


def test_paths_are_relative_to_the_deploy_file(workspace: Workspace) -> None:
    workspace.write("service/Dockerfile", "FROM scratch\n")
    workspace.write("service/sample-request.json", "{}")
    report = workspace.validate(VALID, name="service/deploy.yml")
    assert report.valid, report.problems


def test_default_dockerfile_is_checked_at_the_build_key(workspace: Workspace) -> None:
    workspace.write("app/.keep", "")
    text = replace_line(VALID, "    context: .\n    dockerfile: Dockerfile\n", "    context: app\n")
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (8, 3)
    assert problem.message == (
        "image.build.dockerfile names Dockerfile (the default), but app/Dockerfile does not exist"
    )


def test_build_context_must_be_a_directory(workspace: Workspace) -> None:
    text = replace_line(VALID, "    context: .", "    context: Dockerfile")
    problem = only(workspace.validate(text).problems)
    assert (
        problem.message == "image.build.context names Dockerfile, but Dockerfile is not a directory"
    )


# --- overlays --------------------------------------------------------------------------------


def test_error_inside_an_overlay_points_at_the_overlay(workspace: Workspace) -> None:
    text = replace_line(VALID, "deployment: {instance_count: 3}", "deployment: {instance_count: 0}")
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (28, 34)
    assert (
        problem.message == "environments.production.deployment.instance_count must be >= 1 (got 0)"
    )


def test_error_in_an_inherited_value_points_at_the_base(workspace: Workspace) -> None:
    # keep_previous is fine for the blue-green base, wrong once preview switches to replace.
    text = replace_line(
        VALID, "  strategy: blue-green\n", "  strategy: blue-green\n  keep_previous: true\n"
    )
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (20, 3)
    assert problem.message == (
        "environment 'preview': rollout.keep_previous only applies to strategy blue-green "
        "(the strategy is 'replace', set at line 26)"
    )


def test_a_base_error_is_reported_once_not_once_per_environment(workspace: Workspace) -> None:
    text = replace_line(VALID, "  instance_count: 1", "  instance_count: -1")
    problem = only(workspace.validate(text).problems)
    assert problem.message == "deployment.instance_count must be >= 1 (got -1)"


def test_unknown_key_in_an_overlay(workspace: Workspace) -> None:
    text = replace_line(VALID, "    ttl_hours: 72", "    ttl_hours: 72\n    ttl_hour: 3")
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (27, 5)
    assert problem.message == (
        "environments.preview.ttl_hour is not a known key; did you mean 'ttl_hours'?"
    )


def test_ttl_hours_only_in_overlays_and_positive(workspace: Workspace) -> None:
    errors = workspace.errors(replace_line(VALID, "version: 1\n", "version: 1\nttl_hours: 5\n"))
    assert errors == [
        (
            2,
            1,
            "ttl_hours is not a known key; it belongs in an environment overlay, "
            "e.g. environments.preview.ttl_hours",
        )
    ]
    problem = only(
        workspace.validate(replace_line(VALID, "ttl_hours: 72", "ttl_hours: 0")).problems
    )
    assert problem.message == "environments.preview.ttl_hours must be > 0 (got 0)"


def test_an_overlay_can_switch_from_build_to_a_prebuilt_ref(workspace: Workspace) -> None:
    text = replace_line(
        VALID,
        "    deployment: {instance_count: 3}",
        "    deployment: {instance_count: 3}\n"
        f"    image: {{ref: contosoml.azurecr.io/credit-risk@{DIGEST}}}",
    )
    report = workspace.validate(text)
    assert report.deploy_file is not None, report.problems
    production = report.deploy_file.environments["production"]
    assert production.image.build is None
    assert production.image.ref == f"contosoml.azurecr.io/credit-risk@{DIGEST}"
    assert report.deploy_file.base.image.build is not None


def test_overlays_merge_mappings_and_replace_lists(workspace: Workspace) -> None:
    text = rollout("  strategy: canary\n  canary_steps: [10, 100]\n  step_wait_seconds: 5\n")
    text = replace_line(
        text,
        "    rollout: {strategy: replace}",
        "    rollout: {strategy: canary, canary_steps: [50, 100]}",
    )
    report = workspace.validate(text)
    assert report.deploy_file is not None, report.problems
    preview = report.deploy_file.environments["preview"].rollout
    assert preview.canary_steps == (50, 100)
    assert preview.step_wait_seconds == 5  # inherited from the base


def test_overlay_that_is_not_a_mapping(workspace: Workspace) -> None:
    text = replace_line(
        VALID, "  production:\n    deployment: {instance_count: 3}\n", "  production: 3\n"
    )
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (27, 15)
    assert problem.message == "environments.production must be a mapping (got 3)"


def test_validating_one_environment_skips_the_others(workspace: Workspace) -> None:
    text = replace_line(VALID, "deployment: {instance_count: 3}", "deployment: {instance_count: 0}")
    assert not workspace.validate(text).valid
    report = workspace.validate(text, environment="preview")
    assert report.valid
    assert report.deploy_file is not None
    assert list(report.deploy_file.environments) == ["preview"]


def test_unknown_environment_is_a_usage_error(workspace: Workspace) -> None:
    with pytest.raises(
        UsageError,
        match=r"environment 'staging' is not defined .* \(defined: preview, production\)",
    ):
        workspace.validate(VALID, environment="staging")


def test_missing_deploy_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        validate_deploy_file(tmp_path / "nope.yml", workspace=tmp_path)
    with pytest.raises(UsageError, match="is a directory"):
        validate_deploy_file(tmp_path, workspace=tmp_path)


def test_many_mistakes_are_all_reported_in_file_order(workspace: Workspace) -> None:
    text = VALID
    for old, new in [
        ("version: 1", "version: 3"),
        ("  auth_mode: key", "  auth_mode: token"),
        ("  instance_type: Standard_DS3_v2", "  instnace_type: Standard_DS3_v2"),
        ("  instance_count: 1", "  instance_count: 0"),
        ("  strategy: blue-green", "  strategy: canary\n  canary_steps: [50, 20]"),
        ("  request: sample-request.json", "  request: nope.json"),
    ]:
        text = replace_line(text, old, new)
    errors = workspace.errors(text)
    assert [(line, column) for line, column, _ in errors] == sorted(
        (line, column) for line, column, _ in errors
    )
    lines = {line for line, _, _ in errors}
    assert {1, 4, 11, 12, 13, 20, 22} <= lines


def test_a_preview_environment_needs_pr_in_its_endpoint_name(workspace: Workspace) -> None:
    """Otherwise two pull requests, or a pull request and production, could name the same
    endpoint (a preview is the pull request's to read: its keys go to its workflow)."""
    text = replace_line(VALID, 'endpoint: {name: "credit-risk-pr{pr}"}', "endpoint: {}")
    problem = only(workspace.validate(text).problems)
    line, message = problem.line, problem.message
    assert line == 3  # the inherited name, at the base's line
    assert message.startswith("environment 'preview': endpoint.name must contain {pr}")
    assert "'credit-risk-pr{pr}'" in message  # a suggestion that is valid
    branch = replace_line(VALID, '"credit-risk-pr{pr}"', '"credit-risk-{branch}"')
    assert "must contain {pr}" in only(workspace.validate(branch).problems).message
    # Environments without ttl_hours are not previews: any name.
    assert workspace.validate(VALID.replace("    ttl_hours: 72\n", "")).problems == ()


@pytest.mark.parametrize(
    "tag",
    ["managed-by", "repository", "pr", "azureml-deploy.image", "PR", "Managed-By", "Repository"],
)
def test_the_actions_own_tags_cannot_be_set_by_the_deploy_file(
    workspace: Workspace, tag: str
) -> None:
    text = replace_line(VALID, "  auth_mode: key", f"  auth_mode: key\n  tags: {{{tag}: x}}")
    problem = only(workspace.validate(text).problems)
    assert (problem.line, problem.column) == (5, 10)
    assert "is a tag azureml-deploy sets itself (it says who owns the endpoint" in (problem.message)
    assert problem.message.startswith(("endpoint.tags.", "endpoint.tags["))


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("    ttl_hours: 72", "    ttl_hours: .inf", 26),
        ("    ttl_hours: 72", "    ttl_hours: .nan", 26),
        ("  instance_count: 1", "  instance_count: 1.0e+999", 13),
    ],
)
def test_every_number_is_finite(workspace: Workspace, old: str, new: str, line: int) -> None:
    """YAML reads .inf, .nan and 1.0e+999 as floats that pass every bound: a preview with
    ttl_hours: .inf would never be swept."""
    problems = workspace.validate(replace_line(VALID, old, new)).problems
    assert any(p.line == line and "must be a finite number" in p.message for p in problems), (
        problems
    )


UAI_ID = (
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/"
    "userAssignedIdentities/puller"
)


def test_a_user_assigned_identity_is_read_with_its_arm_id(workspace: Workspace) -> None:
    text = replace_line(
        VALID,
        "  auth_mode: key",
        f"  auth_mode: key\n  identity: {{type: user_assigned, resource_id: {UAI_ID}}}",
    )
    report = workspace.validate(text)
    assert report.problems == () and report.deploy_file is not None
    identity = report.deploy_file.base.endpoint.identity
    assert (identity.type.value, identity.resource_id) == ("user_assigned", UAI_ID)


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ("{type: user_assigned}", "with type: user_assigned, resource_id (the identity's ARM id)"),
        (f"{{type: system_assigned, resource_id: {UAI_ID}}}", "resource_id is only for type"),
        ("{type: user_assigned, resource_id: puller}", "must be the ARM id of a user-assigned"),
    ],
)
def test_an_identity_is_refused_at_its_line(
    workspace: Workspace, identity: str, message: str
) -> None:
    text = replace_line(VALID, "  auth_mode: key", f"  auth_mode: key\n  identity: {identity}")
    problem = only(workspace.validate(text).problems)
    assert problem.line == 5
    assert message in problem.message


@pytest.mark.parametrize(
    "ref",
    [
        "contosoml.azurecr.io/credit-risk:{short_sha}",
        "contosoml.azurecr.io/credit-risk:pr{pr}-{short_sha}",
        "contosoml.azurecr.io/models/credit-risk:{tag}",
    ],
)
def test_refs_take_the_name_placeholders(workspace: Workspace, ref: str) -> None:
    report = workspace.validate(image_section(f'  ref: "{ref}"\n'))
    assert report.valid, report.problems


def test_an_unknown_placeholder_in_a_ref_is_refused(workspace: Workspace) -> None:
    ref = "contosoml.azurecr.io/credit-risk:{short_shaa}"
    problem = only(workspace.validate(image_section(f'  ref: "{ref}"\n')).problems)
    assert (problem.line, problem.column) == (6, 8)
    assert problem.message.startswith(
        "image.ref uses the unknown placeholder {short_shaa}; did you mean '{short_sha}'?"
    )


def test_a_placeholder_in_a_refs_registry_is_refused(workspace: Workspace) -> None:
    problem = only(
        workspace.validate(image_section('  ref: "{branch}.azurecr.io/app:v1"\n')).problems
    )
    assert problem.message.startswith("image.ref must be an image reference")


def test_analysis_load_needs_a_smoke_test_and_a_bounded_rate(workspace: Workspace) -> None:
    body = "  analysis:\n    load: {requests_per_second: 5}\n"
    no_smoke = rollout(body).replace("smoke_test:\n  request: sample-request.json\n", "")
    problem = only(workspace.validate(no_smoke, environment="production").problems)
    assert (problem.line, problem.column) == (20, 5)
    assert problem.message.startswith(
        "rollout.analysis.load sends the smoke test's request to the new deployment, and there "
        "is no smoke_test"
    )
    too_fast = rollout("  analysis:\n    load: {requests_per_second: 25}\n")
    assert workspace.errors(too_fast, environment="production") == [
        (20, 33, "rollout.analysis.load.requests_per_second must be <= 20 (got 25)")
    ]


def test_what_an_inconclusive_stage_means_is_read_per_stage(workspace: Workspace) -> None:
    text = rollout(
        "  analysis: {on_inconclusive: pass, load: {}}\n"
        "  shadow: {percent: 20, on_inconclusive: fail}\n"
    )
    report = workspace.validate(text, environment="production")
    assert report.valid and report.deploy_file is not None
    spec = report.deploy_file.base.rollout
    assert spec.analysis is not None and spec.shadow is not None
    assert spec.analysis.on_inconclusive is OnInconclusive.PASS
    assert spec.shadow.on_inconclusive is OnInconclusive.FAIL
    assert spec.analysis.load is not None and spec.analysis.load.requests_per_second == 2
    assert spec.analysis.load_per_window == 40  # twice min_requests
    default = workspace.validate(rollout("  analysis: {}\n"), environment="production")
    assert default.deploy_file is not None and default.deploy_file.base.rollout.analysis
    assert default.deploy_file.base.rollout.analysis.on_inconclusive is OnInconclusive.FAIL
