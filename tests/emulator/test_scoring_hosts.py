"""Host-style scoring URIs like Azure's (`https://<endpoint>.<region>.inference.ml.azure.com/
score`), as `<endpoint>.<region>.inference.localhost` where such names resolve to loopback."""

from __future__ import annotations

from emulator import scoring_hosts
from emulator.resources.model import Endpoint, Workspace


def endpoint(suffix: str | None) -> Endpoint:
    workspace = Workspace("sub", "rg", "ws", "westus", "id")
    return Endpoint(
        workspace=workspace,
        name="credit-risk",
        location="westus",
        auth_mode="Key",
        description=None,
        tags={},
        identity={},
        traffic={},
        mirror_traffic={},
        user_properties={},
        scoring_base="https://127.0.0.1:8446",
        scoring_host_suffix=suffix,
        provisioning_state="Succeeded",
    )


def test_scoring_uris_name_the_endpoint_in_the_host_where_such_hosts_resolve() -> None:
    hosted = endpoint(scoring_hosts.suffix("westus"))
    assert hosted.scoring_uri == "https://credit-risk.westus.inference.localhost:8446/score"
    assert hosted.rest()["properties"]["swaggerUri"] == (
        "https://credit-risk.westus.inference.localhost:8446/swagger.json"
    )
    assert endpoint(None).scoring_uri == "https://127.0.0.1:8446/credit-risk/score"


def test_the_gateway_reads_the_endpoint_from_a_host_style_host() -> None:
    read = scoring_hosts.endpoint_in_host
    assert read("credit-risk.westus.inference.localhost:8446", "westus") == "credit-risk"
    assert read("Credit-Risk.WestUS.inference.localhost", "westus") == "credit-risk"
    assert read("credit-risk.eastus.inference.localhost:8446", "westus") is None
    assert read("127.0.0.1:8446", "westus") is None


def test_host_style_only_where_the_name_resolves_to_loopback() -> None:
    assert scoring_hosts.resolves_to_loopback("localhost")
    assert not scoring_hosts.resolves_to_loopback("no-such-host.invalid")
