"""The scoring gateway: auth, traffic weights, header routing, mirroring, timeouts, errors."""

from __future__ import annotations

import collections
import functools
import time
from typing import Any

import pytest
import requests

from emulator.client import Emulator
from tests.emulator.arm import DEPLOYMENTS_API, Arm


@pytest.fixture
def arm(emulator: Emulator, image: str) -> Arm:
    arm = Arm(emulator, image=image)
    arm.create_endpoint("scoring")
    return arm


@pytest.fixture
def key(arm: Arm) -> str:
    response = arm.call("POST", arm.ws("/onlineEndpoints/scoring/listKeys"))
    return str(response.json()["primaryKey"])


@functools.cache
def _client(ca_bundle: str) -> requests.Session:
    """One kept-alive client per emulator, as a scoring client holds one: the gateway routes
    each request by the traffic weights, not each connection."""
    session = requests.Session()
    session.verify = ca_bundle
    return session


def score(
    emulator: Emulator, key: str, body: Any = None, endpoint: str = "scoring", **headers: str
) -> requests.Response:
    return _client(emulator["ca_bundle"]).post(
        f"{emulator['gateway_url']}/{endpoint}/score",
        json=body if body is not None else {"x": 1},
        headers={"Authorization": f"Bearer {key}", **headers},
        timeout=30,
    )


def test_scoring_with_the_key(emulator: Emulator, arm: Arm, key: str) -> None:
    arm.create_deployment("scoring", "blue")
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    response = score(emulator, key, {"rows": [1, 2]})
    assert response.status_code == 200
    assert response.json()["echo"] == {"rows": [1, 2]}
    assert response.json()["deployment"] == "blue"
    assert response.headers["azureml-model-deployment"] == "blue"
    endpoint = arm.call("GET", arm.ws("/onlineEndpoints/scoring")).json()
    assert endpoint["properties"]["scoringUri"] == f"{emulator['gateway_url']}/scoring/score"


def test_the_endpoint_can_be_named_in_the_host_as_on_azure(
    emulator: Emulator, arm: Arm, key: str
) -> None:
    arm.create_deployment("scoring", "blue")
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    host = f"scoring.{emulator['location']}.inference.localhost"
    response = requests.post(
        f"{emulator['gateway_url']}/score",
        json={"x": 1},
        headers={"Authorization": f"Bearer {key}", "Host": host},
        verify=emulator["ca_bundle"],
        timeout=30,
    )
    assert response.status_code == 200 and response.json()["deployment"] == "blue"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic abc"])
def test_without_a_valid_key_401(emulator: Emulator, arm: Arm, authorization: str | None) -> None:
    arm.create_deployment("scoring", "blue")
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.post(
        f"{emulator['gateway_url']}/scoring/score",
        json={},
        headers=headers,
        verify=emulator["ca_bundle"],
        timeout=30,
    )
    assert response.status_code == 401


def test_the_secondary_key_works_and_a_regenerated_key_stops(
    emulator: Emulator, arm: Arm, key: str
) -> None:
    arm.create_deployment("scoring", "blue")
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    keys = arm.call("POST", arm.ws("/onlineEndpoints/scoring/listKeys")).json()
    assert score(emulator, keys["secondaryKey"]).status_code == 200
    response = arm.call(
        "POST", arm.ws("/onlineEndpoints/scoring/regenerateKeys"), {"keyType": "Primary"}
    )
    arm.wait(response)
    assert score(emulator, key).status_code == 401
    fresh = arm.call("POST", arm.ws("/onlineEndpoints/scoring/listKeys")).json()["primaryKey"]
    assert score(emulator, fresh).status_code == 200


def test_aml_token_endpoints(emulator: Emulator, image: str) -> None:
    arm = Arm(emulator, image=image)
    arm.create_endpoint("tokened", auth_mode="AMLToken")
    arm.create_deployment("tokened", "blue")
    arm.wait(arm.set_traffic("tokened", {"blue": 100}))
    token = arm.call("POST", arm.ws("/onlineEndpoints/tokened/token")).json()["accessToken"]
    assert score(emulator, token, endpoint="tokened").status_code == 200
    assert score(emulator, "not-a-token", endpoint="tokened").status_code == 401


def test_aad_token_endpoints_take_entra_tokens_for_azure_ml_from_callers_allowed_to_score(
    emulator: Emulator, image: str
) -> None:
    arm = Arm(emulator, image=image)
    arm.create_endpoint("keyless", auth_mode="AADToken")
    arm.create_deployment("keyless", "blue")
    arm.wait(arm.set_traffic("keyless", {"blue": 100}))
    entra = emulator.secret_credential().get_token("https://ml.azure.com/.default").token
    assert score(emulator, entra, endpoint="keyless").status_code == 200
    assert score(emulator, emulator.arm_token(), endpoint="keyless").status_code == 401
    score_action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action"
    emulator.admin("POST", "/authorization", {"deny": [score_action]})
    refused = score(emulator, entra, endpoint="keyless")
    assert refused.status_code == 401 and "score/action" in refused.json()["message"]


def test_traffic_split_is_honoured(emulator: Emulator, arm: Arm, key: str) -> None:
    arm.create_deployment("scoring", "blue")
    arm.create_deployment("scoring", "green")
    arm.wait(arm.set_traffic("scoring", {"blue": 70, "green": 30}))
    answered = collections.Counter(
        score(emulator, key).headers["azureml-model-deployment"] for _ in range(400)
    )
    assert set(answered) == {"blue", "green"}
    # 30 % of 400 = 120; binomial standard deviation ~9: allow well over 4 sigma.
    assert 80 <= answered["green"] <= 160, answered


def test_instances_share_a_deployments_traffic(emulator: Emulator, arm: Arm, key: str) -> None:
    arm.create_deployment("scoring", "blue", capacity=2)
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    served_by = {score(emulator, key).json()["instance"] for _ in range(10)}
    assert len(served_by) == 2


def test_header_routes_to_a_zero_percent_deployment(emulator: Emulator, arm: Arm, key: str) -> None:
    arm.create_deployment("scoring", "blue")
    arm.create_deployment("scoring", "green")
    arm.wait(arm.set_traffic("scoring", {"blue": 100, "green": 0}))
    routed = score(emulator, key, **{"azureml-model-deployment": "green"})
    assert routed.status_code == 200
    assert routed.json()["deployment"] == "green"
    assert score(emulator, key, **{"azureml-model-deployment": "nope"}).status_code == 404


def mirrored_to_green(emulator: Emulator, arm: Arm, key: str, **headers: str) -> int:
    """Blue serves, green gets a 50 % mirror; after 40 requests sent with `headers`, how many
    green saw."""
    arm.create_deployment("scoring", "blue")
    arm.create_deployment("scoring", "green")
    arm.wait(arm.set_traffic("scoring", {"blue": 100, "green": 0}, {"green": 50}))
    answered = {score(emulator, key, **headers).json()["deployment"] for _ in range(40)}
    assert answered == {"blue"}
    time.sleep(0.5)  # mirrored copies are sent in the background
    seen_by_green = score(emulator, key, **{"azureml-model-deployment": "green"}).json()["served"]
    return int(seen_by_green) - 1  # not counting this request


def test_mirror_traffic_is_copied_and_its_answers_discarded(
    emulator: Emulator, arm: Arm, key: str
) -> None:
    assert 5 <= mirrored_to_green(emulator, arm, key) <= 35  # ~20 of 40


def test_a_request_that_names_its_deployment_is_never_mirrored(
    emulator: Emulator, arm: Arm, key: str
) -> None:
    assert mirrored_to_green(emulator, arm, key, **{"azureml-model-deployment": "blue"}) == 0


def test_a_model_that_drops_the_connection_is_a_documented_424_not_a_502(
    emulator: Emulator, arm: Arm, key: str
) -> None:
    arm.create_deployment("scoring", "blue", variables={"SCORE_DROP": "1"})
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    response = score(emulator, key)
    assert response.status_code == 424
    assert "ms-azureml-model-error-statuscode" not in response.headers


def test_request_timeout_is_408(emulator: Emulator, arm: Arm, key: str) -> None:
    arm.create_deployment("scoring", "blue", variables={"SCORE_DELAY": "3"}, request_timeout="PT1S")
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    started = time.monotonic()
    response = score(emulator, key)
    assert response.status_code == 408
    assert time.monotonic() - started < 2.5
    assert "request timeout (1000 ms" in response.json()["message"]


def test_model_errors_are_424_with_azures_headers(emulator: Emulator, arm: Arm, key: str) -> None:
    arm.create_deployment("scoring", "blue", variables={"SCORE_STATUS": "500"})
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    response = score(emulator, key)
    assert response.status_code == 424
    assert response.headers["ms-azureml-model-error-statuscode"] == "500"
    assert response.headers["ms-azureml-model-error-reason"] == "Internal Server Error"


def test_no_deployment_with_traffic_is_404(emulator: Emulator, arm: Arm, key: str) -> None:
    arm.create_deployment("scoring", "blue")
    response = score(emulator, key)
    assert response.status_code == 404
    assert "No valid deployments to route to" in response.json()["message"]


def test_unknown_endpoint_is_404(emulator: Emulator, key: str) -> None:
    assert score(emulator, key, endpoint="nowhere").status_code == 404


def test_swagger_is_served_when_the_container_serves_one(
    emulator: Emulator, arm: Arm, key: str
) -> None:
    arm.create_deployment("scoring", "blue", variables={"SWAGGER": "1"})
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    response = requests.get(
        f"{emulator['gateway_url']}/scoring/swagger.json",
        headers={"Authorization": f"Bearer {key}"},
        verify=emulator["ca_bundle"],
        timeout=30,
    )
    assert response.status_code == 200 and response.json()["openapi"] == "3.0.0"


def test_unready_after_n_requests(emulator: Emulator, arm: Arm, key: str) -> None:
    arm.create_deployment("scoring", "blue")
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    emulator.fault(part="dataplane", kind="unready_after", path="/deployments/blue", count=3)
    statuses = [score(emulator, key).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 500, 500]  # Azure documents no 503


def test_restarted_instances_come_back(emulator: Emulator, arm: Arm, key: str) -> None:
    arm.create_deployment("scoring", "blue")
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    restarted = emulator.admin(
        "POST", "/dataplane/restart", {"endpoint": "scoring", "deployment": "blue"}
    )
    assert restarted == {"restarted": 1}
    deadline = time.monotonic() + 15
    while score(emulator, key).status_code != 200:
        assert time.monotonic() < deadline, "the instance did not come back"
        time.sleep(0.2)


def test_deployment_logs_show_scoring_requests(emulator: Emulator, arm: Arm, key: str) -> None:
    arm.create_deployment("scoring", "blue")
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    score(emulator, key)
    content = arm.call(
        "POST",
        arm.ws("/onlineEndpoints/scoring/deployments/blue/getLogs"),
        {"tail": 50},
        DEPLOYMENTS_API,
    ).json()["content"]
    assert "POST /score" in content
