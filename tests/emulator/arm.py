"""Raw ARM requests (for what the SDK refuses to send or hides) and SDK entity helpers."""

from __future__ import annotations

import time
from typing import Any

import requests

from emulator.client import Emulator

ENDPOINTS_API = "2022-02-01-preview"
DEPLOYMENTS_API = "2023-04-01-preview"
DIGEST = "sha256:" + "ab" * 32
ROUTES = {
    "liveness_route": {"port": 5001, "path": "/health"},
    "readiness_route": {"port": 5001, "path": "/ready"},
    "scoring_route": {"port": 5001, "path": "/score"},
}


FAST_PROBE = {
    "initialDelay": "PT0.2S",
    "period": "PT0.2S",
    "timeout": "PT1S",
    "successThreshold": 1,
    "failureThreshold": 5,
}


class Arm:
    """requests against the emulator's ARM with a real Entra token."""

    def __init__(
        self, emulator: Emulator, token: str | None = None, image: str | None = None
    ) -> None:
        self.emulator = emulator
        self.image = image or f"contosoml.azurecr.io/credit-risk@{DIGEST}"
        self.base = emulator["arm_url"]
        self.token = token or emulator.arm_token()
        self.session = requests.Session()
        self.session.verify = emulator["ca_bundle"]

    def url(self, path: str, api_version: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"{self.base}{path}{separator}api-version={api_version}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        api_version: str = ENDPOINTS_API,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        all_headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.session.request(
            method, self.url(path, api_version), json=body, headers=all_headers, timeout=30
        )

    def ws(self, suffix: str = "") -> str:
        return self.emulator.workspace_path() + suffix

    def wait(self, response: requests.Response, timeout: float = 30) -> dict[str, Any]:
        """Poll an LRO's Azure-AsyncOperation to its end; the final status body."""
        url = response.headers["Azure-AsyncOperation"]
        deadline = time.monotonic() + timeout
        while True:
            status = self.session.get(
                url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
            ).json()
            if status["status"] in ("Succeeded", "Failed", "Canceled"):
                return dict(status)
            assert time.monotonic() < deadline, status
            time.sleep(0.05)

    def create_endpoint(self, name: str, auth_mode: str = "Key") -> dict[str, Any]:
        response = self.call(
            "PUT",
            self.ws(f"/onlineEndpoints/{name}"),
            {
                "location": self.emulator["location"],
                "properties": {"authMode": auth_mode, "traffic": {}},
                "identity": {"type": "SystemAssigned"},
            },
        )
        assert response.status_code == 201, response.text
        return self.wait(response)

    def create_preview(
        self,
        name: str,
        pr: str | None,
        age_hours: float,
        repository: str | None = "local",
        environment: str = "preview",
    ) -> None:
        """An endpoint as azureml-deploy tags it (a preview when `pr` is given), created
        `age_hours` ago; `repository` None: tagged as an older azureml-deploy did."""
        import datetime

        created = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=age_hours)
        tags = {
            "managed-by": "azureml-deploy",
            "environment": environment,
            "created-at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if pr is not None:
            tags["pr"] = pr
        if repository is not None:
            tags["repository"] = repository
        response = self.call(
            "PUT",
            self.ws(f"/onlineEndpoints/{name}"),
            {
                "location": self.emulator["location"],
                "properties": {"authMode": "Key"},
                "tags": tags,
            },
        )
        assert response.status_code == 201, response.text
        self.wait(response)

    def create_environment(self, version: str = "v1", image: str | None = None) -> str:
        path = self.ws(f"/environments/CliV2AnonymousEnvironment/versions/{version}")
        body = {
            "properties": {
                "image": image or self.image,
                "isAnonymous": True,
                "inferenceConfig": {
                    "livenessRoute": {"port": 5001, "path": "/health"},
                    "readinessRoute": {"port": 5001, "path": "/ready"},
                    "scoringRoute": {"port": 5001, "path": "/score"},
                },
            }
        }
        response = self.call("PUT", path, body, DEPLOYMENTS_API)
        assert response.status_code in (200, 201), response.text
        return path

    def put_deployment(
        self,
        endpoint: str,
        name: str,
        instance_type: str = "Standard_DS3_v2",
        capacity: int = 1,
        environment: str | None = None,
        variables: dict[str, str] | None = None,
        request_timeout: str = "PT5S",
        probe: dict[str, Any] | None = None,
    ) -> requests.Response:
        environment = environment or self.create_environment()
        return self.call(
            "PUT",
            self.ws(f"/onlineEndpoints/{endpoint}/deployments/{name}"),
            {
                "location": self.emulator["location"],
                "properties": {
                    "environmentId": environment,
                    "instanceType": instance_type,
                    "endpointComputeType": "Managed",
                    "environmentVariables": variables or {},
                    "requestSettings": {
                        "requestTimeout": request_timeout,
                        "maxConcurrentRequestsPerInstance": 4,
                    },
                    "livenessProbe": probe or FAST_PROBE,
                    "readinessProbe": probe or FAST_PROBE,
                },
                "sku": {"name": "Default", "capacity": capacity},
            },
            DEPLOYMENTS_API,
        )

    def create_deployment(self, endpoint: str, name: str, **kwargs: Any) -> dict[str, Any]:
        response = self.put_deployment(endpoint, name, **kwargs)
        assert response.status_code == 201, response.text
        return self.wait(response)

    def set_traffic(
        self, endpoint: str, traffic: dict[str, int], mirror: dict[str, int] | None = None
    ) -> requests.Response:
        current = self.call("GET", self.ws(f"/onlineEndpoints/{endpoint}")).json()
        body = {
            "location": current["location"],
            "identity": {"type": "SystemAssigned"},
            "tags": current["tags"],
            "properties": {
                "authMode": current["properties"]["authMode"],
                "traffic": traffic,
                "mirrorTraffic": mirror or {},
            },
        }
        return self.call("PUT", self.ws(f"/onlineEndpoints/{endpoint}"), body)


def error_of(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]
