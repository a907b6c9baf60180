"""image.ref in a public registry (issue 30): Docker Hub's name, read anonymously by the
registry's own token flow, deployed pinned by digest with no pull role to grant; a missing tag
or a private repository is refused with the fix before anything changes. Under `--cloud local`
docker.io is the emulator's public-registry stand-in (emulator/public_registry.py)."""

from __future__ import annotations

import json

from tests.e2e.conftest import App
from tests.e2e.test_image_choice import PREBUILT
from tools.checks import mutating_arm_calls
from tools.images import model_server_image

# The prebuilt-image deploy file of test_image_choice, its endpoint `prebuilt`.
ACR_REF = 'image: {ref: "contosoml.azurecr.io/model-server:{short_sha}"}\n'


def with_ref(app: App, ref: str, egress: str = "enabled") -> str:
    """A deploy file of `ref`, committed; its path in the repository."""
    assert ACR_REF in PREBUILT
    text = PREBUILT.replace(ACR_REF, f'image: {{ref: "{ref}"}}\n').replace(
        "  instance_count: 1\n",
        f"  instance_count: 1\n  egress_public_network_access: {egress}\n",
    )
    (app.root / "server" / "public.yml").write_text(text)
    app.commit(f"deploy {ref}")
    return "server/public.yml"


def test_a_docker_hub_image_deploys_by_digest_and_a_missing_or_private_one_is_refused(
    app: App,
) -> None:
    stand_in = app.emulator["public_registry"]
    # Docker Hub's official-image name: docker.io/model-server is library/model-server
    pushed = app.emulator.push_public(model_server_image(), "library/model-server", "v1")
    app.emulator.push_public(model_server_image(), "private/model-server", "v1")
    digest = pushed.rpartition("@")[2]

    since = app.emulator.last_request()
    for ref, message in [
        (
            "docker.io/model-server:v404",
            "image.ref docker.io/model-server:v404 was not found in the registry "
            f"{stand_in}: library/model-server has no tag v404",
        ),
        (
            "docker.io/private/model-server:v1",
            "image.ref docker.io/private/model-server:v1 cannot be read anonymously from the "
            f"registry {stand_in} (its manifest answered HTTP 401): private/model-server is "
            "private, or does not exist",
        ),
    ]:
        refused = app.run("deploy", config=with_ref(app, ref))
        assert refused.returncode == 1, refused.stderr
        assert message in refused.stderr
        assert "hint: " in refused.stderr and "Traceback" not in refused.stderr
    # with no way out to the internet the deployment could not pull it: refused up front
    closed = app.run("deploy", config=with_ref(app, "docker.io/model-server:v1", "disabled"))
    assert closed.returncode == 2, closed.stderr
    assert "but the deployment's egress_public_network_access is disabled" in closed.stderr
    assert mutating_arm_calls(app, since) == [] and app.endpoint("prebuilt") is None

    config = with_ref(app, "docker.io/model-server:v1")
    plan = app.run("plan", config=config)
    assert plan.returncode == 0, plan.stderr
    assert f"its public-registry stand-in {stand_in} instead of docker.io" in plan.stderr
    assert "no pull role to grant" in plan.stderr
    deployed = app.outputs(config=config)
    assert deployed["image"] == f"{stand_in}/library/model-server@{digest}"
    assert deployed["digest"] == digest and deployed["image-tag"] == "v1"
    assert app.score(deployed).status_code == 200
    assert json.loads(deployed["traffic"]) == {"blue": 100}
    # no role was granted to anyone for it: the ACR's role assignments are as they started
    acr = app.emulator.admin("GET", "/acr")
    assert all(role == ["AcrPush"] for role in acr["roles"].values()), acr

    # The same image as an az ml deployment file writes a custom container (azureml-examples'
    # tfserving sample: `environment: {image: docker.io/…, inference_config: …}`): the
    # environment is registered with the image by digest, and it serves
    (app.root / "server" / "azml-deployment.yml").write_text(AZML_DEPLOYMENT)
    app.commit("an az ml deployment of a public image")
    azml = app.outputs("--deployment-file", "server/azml-deployment.yml", config="none.yml")
    assert azml["endpoint-name"] == "public-env"
    name, version = azml["environment"].removeprefix("azureml:").split(":")
    environment = app.emulator.ml_client().environments.get(name, version)
    assert environment.image == f"{stand_in}/library/model-server@{digest}"
    assert app.score(azml).status_code == 200


AZML_DEPLOYMENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
name: model-server-deployment
endpoint_name: public-env
environment:
  image: docker.io/model-server:v1
  inference_config:
    liveness_route: {port: 5001, path: /health}
    readiness_route: {port: 5001, path: /ready}
    scoring_route: {port: 5001, path: /score}
instance_type: Standard_DS3_v2
instance_count: 1
"""
