"""Scoring without keys: `auth_mode: aad_token` end to end (the smoke test scores with the
run's own Entra token for https://ml.azure.com), and no token ever output as a key."""

from __future__ import annotations

import requests

from tests.e2e.conftest import App
from tests.emulator.arm import Arm

ML_SCOPE = "https://ml.azure.com/.default"


def with_auth_mode(app: App, mode: str) -> None:
    deploy_file = app.root / "server" / "deploy.yml"
    text = deploy_file.read_text()
    deploy_file.write_text(
        text.replace("endpoint: {name: models}", f"endpoint: {{name: models, auth_mode: {mode}}}")
    )
    app.commit(f"auth_mode {mode}")


def score(app: App, uri: str, token: str) -> requests.Response:
    return requests.post(
        uri,
        data=(app.root / "server" / "request.json").read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        verify=app.emulator["ca_bundle"],
        timeout=30,
    )


def test_an_aad_token_endpoint_is_deployed_smoke_tested_and_scored_with_entra_tokens(
    app: App,
) -> None:
    with_auth_mode(app, "aad_token")
    outputs = app.outputs()
    assert outputs["primary-key"] == "" and outputs["secondary-key"] == ""
    arm = Arm(app.emulator)
    endpoint = arm.call("GET", arm.ws("/onlineEndpoints/models")).json()
    assert endpoint["properties"]["authMode"] == "AADToken"

    credential = app.emulator.secret_credential()
    entra = credential.get_token(ML_SCOPE).token
    assert score(app, outputs["scoring-uri"], entra).status_code == 200
    # a token for another audience (here ARM's) is refused, as is any endpoint key
    assert score(app, outputs["scoring-uri"], app.emulator.arm_token()).status_code == 401
    keys = arm.call("POST", arm.ws("/onlineEndpoints/models/listKeys"))
    assert keys.status_code == 400


def test_an_aml_token_is_not_output_as_a_key(app: App) -> None:
    with_auth_mode(app, "aml_token")
    outputs = app.outputs()
    assert outputs["primary-key"] == "" and outputs["secondary-key"] == ""
