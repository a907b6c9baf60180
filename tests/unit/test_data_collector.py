"""deployment.data_collector: the deploy file's checks, the plan's words, what azure-ai-ml sends."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from deployer.azure.entities import build_deployment, endpoint_state
from deployer.collector_plan import own_collections_note
from deployer.desired import deployment_settings
from deployer.plan import make_plan
from deployer.spec import validate_deploy_file
from deployer.spec.model import Collection, CollectionData, DataCollectorSpec
from deployer.state import settings_hash
from tests.unit.fakes import NOW
from tests.unit.test_plan import SETTINGS, deployment, desired, endpoint

BASE = """\
version: 1
endpoint: {name: collected}
deployment:
  instance_type: Standard_DS3_v2
  model: azureml:m:1
  environment: azureml:e:1
  code_configuration: {code: src, scoring_script: score.py}
  data_collector:
"""
PAYLOAD = DataCollectorSpec(
    (Collection("request", enabled=True), Collection("response", enabled=True)),
    sampling_rate=0.5,
)


def check(tmp_path: Path, collector: str, base: str = BASE) -> list[str]:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "score.py").write_text("def init():\n    pass\n")
    path = tmp_path / "deploy.yml"
    path.write_text(base + collector)
    report = validate_deploy_file(path, workspace=tmp_path)
    return [problem.human("deploy.yml") for problem in report.problems]


def test_a_data_collector_is_read_with_azures_defaults(tmp_path: Path) -> None:
    collector = (
        "    collections:\n      request: {enabled: true}\n      response: {enabled: 'True'}\n"
    )
    assert check(tmp_path, collector) == []
    report = validate_deploy_file(tmp_path / "deploy.yml", workspace=tmp_path)
    assert report.deploy_file is not None
    spec = report.deploy_file.base.deployment.data_collector
    assert spec == DataCollectorSpec(
        (Collection("request", enabled=True), Collection("response", enabled=True))
    )
    assert spec.summary() == "request, response (100% of requests, by hour)"


def test_what_azure_refuses_is_refused_at_its_line(tmp_path: Path) -> None:
    collector = (
        "    sampling_rate: 1.5\n"
        "    rolling_rate: weekly\n"
        "    collections:\n"
        "      request:\n"
        "        enabled: yes please\n"
        "        data: {path: 'https://acct.blob.core.windows.net/c/p'}\n"
    )
    problems = check(tmp_path, collector)
    assert (
        problems[0]
        == "deploy.yml:9:20: error: deployment.data_collector.sampling_rate must be <= 1 (got 1.5)"
    )
    assert problems[1].startswith(
        "deploy.yml:10:19: error: deployment.data_collector.rolling_rate must be one of"
    )
    assert problems[2].startswith(
        "deploy.yml:13:18: error: deployment.data_collector.collections.request.enabled must be "
        "one of"
    )
    assert problems[3] == (
        "deploy.yml:14:22: error: deployment.data_collector.collections.request.data.path must "
        "be a datastore path: azureml://datastores/<datastore>/paths/<path> "
        '(got "https://acct.blob.core.windows.net/c/p")'
    )


def test_collections_that_would_stay_empty_are_warned_of(tmp_path: Path) -> None:
    no_script = BASE.replace("  code_configuration: {code: src, scoring_script: score.py}\n", "")
    collector = "    collections:\n      model_inputs: {enabled: true}\n      request: {}\n"
    [warning] = check(tmp_path, collector, no_script)
    assert warning.startswith(
        "deploy.yml:9:7: warning: deployment.data_collector.collections.model_inputs is filled "
        "only by code that calls azureml-ai-monitoring's Collector(name='model_inputs')"
    )
    [nothing] = check(tmp_path, "    collections:\n      request: {enabled: false}\n")
    assert nothing.startswith(
        "deploy.yml:9:5: warning: deployment.data_collector.collections enables no collection"
    )


def test_azure_ml_gets_the_collector_as_az_ml_sends_it() -> None:
    collector = replace(
        PAYLOAD,
        collections=(
            *PAYLOAD.collections,
            Collection("model_inputs", data=CollectionData("inputs", "azureml://x", "2")),
        ),
    )
    entity = build_deployment("ep", "blue", replace(SETTINGS, data_collector=collector), {})
    rest = entity.data_collector._to_rest_object().as_dict()
    assert rest["rollingRate"] == "hour"
    assert rest["collections"]["request"] == {"dataCollectionMode": "enabled", "samplingRate": 0.5}
    assert rest["collections"]["model_inputs"]["dataCollectionMode"] == "disabled"
    without = build_deployment("ep", "blue", SETTINGS, {})
    assert without.data_collector is None


def test_what_azure_says_a_deployment_collects_is_read_back() -> None:
    from azure.ai.ml._restclient.arm_ml_service.models import Collection as RestCollection
    from azure.ai.ml._restclient.arm_ml_service.models import DataCollector as RestCollector
    from azure.ai.ml.entities import DataCollector, ManagedOnlineDeployment, ManagedOnlineEndpoint

    rest = RestCollector(
        collections={
            "response": RestCollection(data_collection_mode="Enabled", sampling_rate=0.5),
            "request": RestCollection(data_collection_mode="Enabled", sampling_rate=0.5),
            "model_inputs": RestCollection(data_collection_mode="Disabled", sampling_rate=0.5),
        },
        rolling_rate="Hour",
    )

    seen = ManagedOnlineDeployment(
        name="blue",
        endpoint_name="ep",
        instance_type="Standard_DS3_v2",
        instance_count=1,
        data_collector=DataCollector._from_rest_object(rest),
    )
    [observed] = endpoint_state(ManagedOnlineEndpoint(name="ep"), [seen]).deployments
    assert observed.data_collector == PAYLOAD.summary()


def test_a_settings_hash_without_a_collector_is_the_one_earlier_versions_wrote() -> None:
    # Deployments made before data_collector existed are not seen as changed.
    assert settings_hash(SETTINGS) == settings_hash(replace(SETTINGS, data_collector=None))
    assert settings_hash(replace(SETTINGS, data_collector=PAYLOAD)) != settings_hash(SETTINGS)


def test_the_plan_says_what_the_new_deployment_collects_and_what_changes() -> None:
    observed = endpoint({"blue": 100}, deployment("blue"))
    plan = make_plan(desired(settings=replace(SETTINGS, data_collector=PAYLOAD)), observed, NOW)
    assert (
        "data collector changes: blue collects nothing; green will collect request, response "
        "(50% of requests, by hour)"
    ) in plan.notes
    with_payload = settings_hash(replace(SETTINGS, data_collector=PAYLOAD))
    collecting = replace(
        deployment("blue", settings=with_payload), data_collector=PAYLOAD.summary()
    )
    plan = make_plan(desired(), endpoint({"blue": 100}, collecting), NOW)
    assert (
        "data collector changes: blue collects request, response (50% of requests, by hour); "
        "green will collect nothing"
    ) in plan.notes
    first = make_plan(desired(settings=replace(SETTINGS, data_collector=PAYLOAD)), None, NOW)
    assert "data collector: blue collects request, response (50% of requests, by hour)" in (
        first.notes
    )
    assert not any(
        "data collector" in n
        for n in make_plan(desired(), endpoint({"blue": 100}, deployment("blue")), NOW).notes
    )


def test_a_pull_requests_run_collects_only_to_its_own_previews_data_assets(
    tmp_path: Path,
) -> None:
    collector = (
        "    collections:\n"
        "      request: {enabled: true}\n"
        "      response:\n"
        "        enabled: true\n"
        "        data: {name: prod-answers, path: 'azureml://datastores/workspaceblobstore/paths/prod'}\n"
    )
    assert check(tmp_path, collector) == []
    report = validate_deploy_file(tmp_path / "deploy.yml", workspace=tmp_path)
    assert report.deploy_file is not None
    spec = report.deploy_file.base
    assert deployment_settings(spec, "img").data_collector == spec.deployment.data_collector
    confined = deployment_settings(spec, "img", pull_request=True).data_collector
    assert confined is not None
    assert [(c.name, c.enabled, c.data) for c in confined.collections] == [
        ("request", True, None),
        ("response", True, None),
    ]
    assert own_collections_note(spec.deployment.data_collector) == (
        "data collector: this run acts for a pull request, so response is collected to "
        "Azure's default data assets under the preview's own endpoint, not to the `data` the "
        "deploy file names (it may be another deployment's monitoring data)"
    )
    assert own_collections_note(PAYLOAD) is None
