"""The baseline: what a user writes today from the common tutorials.

Sequential azure-ai-ml calls with the SDK's default settings — create (or update) the endpoint,
build and push the image with the Docker SDK, create the deployment, give it all traffic, fetch
the keys — every step every time, nothing skipped because it is already done. It is correct (it
deploys the same example, and the endpoint answers), just naive.

    python -m bench.baseline deploy --emulator .emulator --endpoint credit-risk-baseline

For Azure ML's assets (scenarios 8 and 9) the tutorial is azureml-examples' model-1: the
deployment names its model, code and conda environment inline as local paths, and azure-ai-ml
registers them as anonymous assets (uploading what storage does not have) every time the
deployment is created or updated (`assets`, `assets-blue-green`). For the first upload of a
large model (scenario 10) the baseline is azure-storage-blob's own parallel upload of the same
files to the same container (`upload`): a pool of threads, one `upload_blob` per file, each with
`max_concurrency` for its blocks.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import requests
from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    CodeConfiguration,
    Environment,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
    OnlineRequestSettings,
    ProbeSettings,
)

from emulator.client import Emulator

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

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


def keys_and_check(
    ml: MLClient,
    name: str,
    image: str,
    ca_bundle: str,
    request: Path = EXAMPLE / "tests" / "sample-request.json",
) -> Deployed:
    endpoint = ml.online_endpoints.get(name)
    key = ml.online_endpoints.get_keys(name).primary_key
    response = requests.post(
        endpoint.scoring_uri,
        data=request.read_bytes(),
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


INFERENCE_IMAGE = "mcr.microsoft.com/azureml/minimal-py312-inference:latest"


def asset_deployment(name: str, endpoint: str, context: Path) -> ManagedOnlineDeployment:
    """azureml-examples' model-1 blue-deployment.yml: model, code and conda environment as
    local paths (with the action's readiness probe, so that both wait for readiness alike)."""
    return ManagedOnlineDeployment(
        name=name,
        endpoint_name=endpoint,
        model=Model(path=str(context / "model")),
        code_configuration=CodeConfiguration(
            code=str(context / "onlinescoring"), scoring_script="score.py"
        ),
        environment=Environment(
            image=INFERENCE_IMAGE, conda_file=str(context / "environment" / "conda.yaml")
        ),
        instance_type="Standard_DS3_v2",
        instance_count=1,
        readiness_probe=ProbeSettings(initial_delay=1, period=1, failure_threshold=5),
    )


def deploy_assets(emulator: Emulator, endpoint: str, context: Path) -> Deployed:
    """The tutorial with inline assets: endpoint, deployment, all traffic, keys."""
    ml = emulator.ml_client()
    create_endpoint(ml, endpoint)
    ml.online_deployments.begin_create_or_update(
        asset_deployment("blue", endpoint, context)
    ).result()
    set_traffic(ml, endpoint, {"blue": 100})
    return keys_and_check(ml, endpoint, "", emulator["ca_bundle"], context / "request.json")


def assets_blue_green(
    emulator: Emulator, endpoint: str, context: Path, old: str, new: str
) -> Deployed:
    """The tutorial's safe rollout of a new scoring script: a second deployment with the same
    inline assets, all traffic to it, the old one deleted."""
    ml = emulator.ml_client()
    create_endpoint(ml, endpoint)
    ml.online_deployments.begin_create_or_update(asset_deployment(new, endpoint, context)).result()
    set_traffic(ml, endpoint, {new: 100, old: 0})
    ml.online_deployments.begin_delete(name=old, endpoint_name=endpoint).result()
    return keys_and_check(ml, endpoint, "", emulator["ca_bundle"], context / "request.json")


def datastore_container(emulator: Emulator, direct: bool = False) -> ContainerClient:
    """The workspace's default datastore container with the datastore's own credential (an
    ARM listSecrets): at the blob URL the SDK uses, through the storage proxy, or `direct`ly at
    Azurite's own address (what the benchmark reads with, adding nothing to the proxy's
    count)."""
    from azure.storage.blob import ContainerClient

    datastore = emulator.ml_client().datastores.get_default(include_secrets=True)
    credentials = datastore.credentials
    secret = getattr(credentials, "sas_token", None) or credentials.account_key
    storage_endpoint = emulator["cloud_metadata"]["storage_endpoint"]
    account_url = (
        f"{emulator['storage_url']}/{datastore.account_name}"
        if direct
        else f"https://{datastore.account_name}.blob.{storage_endpoint}"
    )
    return ContainerClient(
        account_url,
        str(datastore.container_name),
        credential=secret,
        connection_verify=emulator["ca_bundle"],
    )


def upload_folder(emulator: Emulator, folder: Path, threads: int, concurrency: int) -> float:
    """Every file of `folder` to the workspace's datastore container, under
    `bench-upload/<uuid>/<folder name>/` (the SDK's layout, another prefix), with the
    datastore's credential, through the same storage proxy as the SDK: `threads` files at a
    time, each `upload_blob` with `max_concurrency` for its blocks. Seconds from the first
    upload to the last."""
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    container = datastore_container(emulator)
    prefix = f"bench-upload/{uuid.uuid4()}/{folder.name}"
    files = sorted(path for path in folder.rglob("*") if path.is_file())

    def upload(path: Path) -> None:
        with path.open("rb") as data:
            container.upload_blob(
                f"{prefix}/{path.relative_to(folder).as_posix()}",
                data,
                length=path.stat().st_size,
                max_concurrency=concurrency,
            )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for done in pool.map(upload, files):
            del done
    return time.monotonic() - started


def delete_one_by_one(emulator: Emulator, names: Iterable[str]) -> None:
    ml = emulator.ml_client()
    for name in names:
        ml.online_endpoints.begin_delete(name=name).result()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "what", choices=("deploy", "blue-green", "delete", "assets", "assets-blue-green", "upload")
    )
    parser.add_argument("--emulator", type=Path, default=ROOT / ".emulator")
    parser.add_argument("--endpoint", default="credit-risk-baseline")
    parser.add_argument("--context", type=Path, default=EXAMPLE)
    parser.add_argument("--tag", default="baseline")
    parser.add_argument("--base-image", default="python:3.12-slim")
    parser.add_argument("--old", default="blue")
    parser.add_argument("--new", default="green")
    parser.add_argument("--names", nargs="*", default=[], help="endpoints to delete")
    parser.add_argument("--threads", type=int, default=8, help="upload: files at a time")
    parser.add_argument("--concurrency", type=int, default=8, help="upload: blocks at a time")
    options = parser.parse_args(argv)
    emulator = Emulator.at(options.emulator)
    if options.what == "delete":
        delete_one_by_one(emulator, options.names)
        return
    if options.what == "upload":
        seconds = upload_folder(emulator, options.context, options.threads, options.concurrency)
        print(json.dumps({"upload_s": round(seconds, 2)}))
        return
    if options.what in ("assets", "assets-blue-green"):
        deployed = (
            deploy_assets(emulator, options.endpoint, options.context)
            if options.what == "assets"
            else assets_blue_green(
                emulator, options.endpoint, options.context, options.old, options.new
            )
        )
        print(json.dumps({"scoring_uri": deployed.scoring_uri}))
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
