"""The baseline: what a user writes today from the common tutorials.

Sequential azure-ai-ml calls with the SDK's default settings — create (or update) the endpoint,
build and push the image with the Docker SDK, create the deployment, give it all traffic, fetch
the keys — every step every time, nothing skipped because it is already done. It is correct (it
deploys the same example, and the endpoint answers), just naive.

    python -m bench.baseline deploy --emulator .emulator --endpoint credit-risk-baseline
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import requests
from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    Environment,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    OnlineRequestSettings,
    ProbeSettings,
)

from emulator.client import Emulator

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "credit-risk"
ROUTES = {
    "liveness_route": {"port": 5001, "path": "/health"},
    "readiness_route": {"port": 5001, "path": "/ready"},
    "scoring_route": {"port": 5001, "path": "/score"},
}


@dataclass(frozen=True)
class Deployed:
    scoring_uri: str
    primary_key: str
    image: str


@dataclass(frozen=True)
class Recipe:
    """What the tutorial builds: the example's Dockerfile and target by default."""

    repository: str = "credit-risk"
    dockerfile: str = "Dockerfile"
    target: str | None = "serve"
    build_args: tuple[tuple[str, str], ...] = (("MODEL_VERSION", "1"),)


def build_and_push(
    emulator: Emulator,
    context: Path,
    tag: str,
    base_image: str,
    *,
    recipe: Recipe = Recipe(),
    client: docker.DockerClient | None = None,
) -> str:
    """`docker build` and `docker push` with the Docker SDK, signed in with an ACR token."""
    client = client or docker.from_env()
    image = f"{emulator['registry']}/{recipe.repository}:{tag}"
    client.images.build(
        path=str(context),
        dockerfile=recipe.dockerfile,
        tag=image,
        buildargs={"BASE_IMAGE": base_image, **dict(recipe.build_args)},
        target=recipe.target,
        network_mode="host",
        rm=True,
    )
    auth = {"username": "00000000-0000-0000-0000-000000000000"}
    auth["password"] = emulator.acr_refresh_token()
    for line in client.images.push(image, auth_config=auth, stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"push failed: {line['error']}")
    return image


def deployment(name: str, endpoint: str, image: str) -> ManagedOnlineDeployment:
    return ManagedOnlineDeployment(
        name=name,
        endpoint_name=endpoint,
        environment=Environment(image=image, inference_config=ROUTES),
        instance_type="Standard_DS3_v2",
        instance_count=1,
        environment_variables={"LOG_LEVEL": "info"},
        request_settings=OnlineRequestSettings(
            request_timeout_ms=5000, max_concurrent_requests_per_instance=1
        ),
        liveness_probe=ProbeSettings(initial_delay=10, period=10, timeout=2, failure_threshold=30),
        readiness_probe=ProbeSettings(initial_delay=5, period=5, timeout=2, failure_threshold=3),
    )


def create_endpoint(ml: MLClient, name: str) -> None:
    endpoint = ManagedOnlineEndpoint(
        name=name, auth_mode="key", description="Credit-risk scoring API", tags={"team": "risk"}
    )
    ml.online_endpoints.begin_create_or_update(endpoint).result()


def set_traffic(ml: MLClient, name: str, traffic: dict[str, int]) -> None:
    endpoint = ml.online_endpoints.get(name)
    endpoint.traffic = traffic
    ml.online_endpoints.begin_create_or_update(endpoint).result()


def keys_and_check(ml: MLClient, name: str, image: str, ca_bundle: str) -> Deployed:
    endpoint = ml.online_endpoints.get(name)
    key = ml.online_endpoints.get_keys(name).primary_key
    response = requests.post(
        endpoint.scoring_uri,
        data=(EXAMPLE / "tests" / "sample-request.json").read_bytes(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        verify=ca_bundle,
        timeout=30,
    )
    response.raise_for_status()
    return Deployed(endpoint.scoring_uri, key, image)


def deploy(
    emulator: Emulator,
    endpoint: str,
    *,
    tag: str,
    base_image: str,
    context: Path = EXAMPLE,
    name: str = "blue",
) -> Deployed:
    """The tutorial: endpoint, image, deployment, all traffic, keys; in place on a re-run."""
    ml = emulator.ml_client()
    create_endpoint(ml, endpoint)
    image = build_and_push(emulator, context, tag, base_image)
    ml.online_deployments.begin_create_or_update(deployment(name, endpoint, image)).result()
    set_traffic(ml, endpoint, {name: 100})
    return keys_and_check(ml, endpoint, image, emulator["ca_bundle"])


def blue_green(
    emulator: Emulator,
    endpoint: str,
    *,
    tag: str,
    base_image: str,
    old: str,
    new: str,
    context: Path = EXAMPLE,
) -> Deployed:
    """The tutorial's safe rollout: a second deployment, all traffic to it, the old one deleted."""
    ml = emulator.ml_client()
    create_endpoint(ml, endpoint)
    image = build_and_push(emulator, context, tag, base_image)
    ml.online_deployments.begin_create_or_update(deployment(new, endpoint, image)).result()
    set_traffic(ml, endpoint, {new: 100, old: 0})
    ml.online_deployments.begin_delete(name=old, endpoint_name=endpoint).result()
    return keys_and_check(ml, endpoint, image, emulator["ca_bundle"])


def delete_one_by_one(emulator: Emulator, names: Iterable[str]) -> None:
    ml = emulator.ml_client()
    for name in names:
        ml.online_endpoints.begin_delete(name=name).result()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("deploy", "blue-green", "delete"))
    parser.add_argument("--emulator", type=Path, default=ROOT / ".emulator")
    parser.add_argument("--endpoint", default="credit-risk-baseline")
    parser.add_argument("--context", type=Path, default=EXAMPLE)
    parser.add_argument("--tag", default="baseline")
    parser.add_argument("--base-image", default="python:3.12-slim")
    parser.add_argument("--old", default="blue")
    parser.add_argument("--new", default="green")
    parser.add_argument("--names", nargs="*", default=[], help="endpoints to delete")
    options = parser.parse_args(argv)
    emulator = Emulator.at(options.emulator)
    if options.what == "delete":
        delete_one_by_one(emulator, options.names)
        return
    common: dict[str, Any] = {
        "tag": options.tag,
        "base_image": options.base_image,
        "context": options.context,
    }
    if options.what == "deploy":
        deployed = deploy(emulator, options.endpoint, **common)
    else:
        deployed = blue_green(
            emulator, options.endpoint, old=options.old, new=options.new, **common
        )
    print(json.dumps({"scoring_uri": deployed.scoring_uri, "image": deployed.image}))


if __name__ == "__main__":
    main()
