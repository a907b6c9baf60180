"""A client for a running emulator: its connection, its admin API, and the real Azure SDK
objects pointed at it. Used by the tests, the benchmark and `make demo`."""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from emulator import uploads
from emulator.lifecycle import admin_headers, read_connection, storage_environment

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential


class AdminError(RuntimeError):
    pass


@dataclass
class Emulator:
    """A running emulator, known from its connection.json."""

    state_dir: Path
    connection: dict[str, Any]

    @classmethod
    def at(cls, state_dir: Path) -> Emulator:
        connection = read_connection(state_dir)
        if connection is None:
            raise FileNotFoundError(f"no emulator connection in {state_dir}")
        return cls(state_dir, connection)

    def __getitem__(self, key: str) -> Any:
        return self.connection[key]

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.connection["ca_cert"])

    # --- admin API -----------------------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - our own https URL
            self.connection["admin_url"] + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **admin_headers(self.connection)},
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, context=self.ssl_context, timeout=30
            ) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AdminError(f"{method} {path}: {exc.code} {exc.read().decode()}") from None

    def reset(self) -> None:
        self.admin("POST", "/reset")

    def fault(self, **spec: Any) -> int:
        return int(self.admin("POST", "/faults", spec)["id"])

    def github_job(self, claims: dict[str, Any] | None = None, lifetime: int | None = None) -> Any:
        body: dict[str, Any] = {"claims": claims or {}}
        if lifetime is not None:
            body["lifetime_seconds"] = lifetime
        return self.admin("POST", "/github", body)

    def github_token(self, permissions: dict[str, str], repository: str | None = None) -> str:
        """A job token as GitHub gives a workflow job (`permissions:` levels read / write)."""
        body: dict[str, Any] = {"permissions": permissions}
        if repository is not None:
            body["repository"] = repository
        return str(self.admin("POST", "/github/tokens", body)["token"])

    def github_state(self) -> dict[str, Any]:
        """The emulator's GitHub: deployments with their statuses, comments by issue number."""
        state: dict[str, Any] = self.admin("GET", "/github/rest")
        return state

    def github_configure(self, **changes: Any) -> Any:
        """rate_limit_remaining=N, secondary_limit={"status", "retry_after", "count"},
        pull_requests=[{"number", "state", "merged", ...}] (see github_pull_request)."""
        return self.admin("POST", "/github/rest", changes)

    def github_pull_request(
        self,
        number: int,
        state: Literal["open", "closed"] = "open",
        merged: bool = False,
        **details: str,
    ) -> dict[str, Any]:
        """Set up pull request `number` of the repository (replacing one of that number) for
        "Get a pull request"; `details`: head_ref, head_sha, head_repository (a fork's full
        name), base_ref, title. A merged pull request is closed. Returns it as GitHub's API
        answers it."""
        spec: dict[str, Any] = {"number": number, "state": state, "merged": merged, **details}
        state_now = self.admin("POST", "/github/rest", {"pull_requests": [spec]})
        pull: dict[str, Any] = state_now["pull_requests"][str(number)]
        return pull

    def clients_inside_network(self, inside: bool) -> None:
        """Put the scoring gateway's clients inside the workspace's virtual network, or
        outside it (the default)."""
        self.admin("POST", "/network", {"clients_inside": inside})

    def timing(self, **changes: Any) -> Any:
        return self.admin("POST", "/timing", changes)

    def count_mirrored_requests(self, counted: bool) -> None:
        """Whether Azure Monitor counts mirrored copies on the deployment they reached."""
        self.admin("POST", "/monitor", {"mirrored_requests_counted": counted})

    def requests_since(self, seq: int, part: str | None = None) -> list[dict[str, Any]]:
        query = f"?since={seq}" + (f"&part={part}" if part else "")
        entries: list[dict[str, Any]] = self.admin("GET", "/requests" + query)["requests"]
        return entries

    def secrets_since(self, seq: int = 0) -> list[str]:
        """Every token and key the emulator handed out since `seq` (for leak scanning)."""
        entries = self.admin("GET", f"/secrets?since={seq}")["secrets"]
        return [str(entry["value"]) for entry in entries]

    def last_secret(self) -> int:
        return int(self.admin("GET", "/secrets?since=999999999")["last"])

    def last_request(self) -> int:
        return int(self.admin("GET", "/requests?since=999999999")["last"])

    def wait_idle(self, timeout: float = 60) -> None:
        """Until no long-running operation is in progress."""
        deadline = time.monotonic() + timeout
        while self.admin("GET", "/state")["operations"]:
            if time.monotonic() > deadline:
                raise TimeoutError("operations still running")
            time.sleep(0.05)

    # --- the GitHub OIDC issuer ----------------------------------------------------------

    def github_id_token(self, audience: str = "api://AzureADTokenExchange") -> str:
        oidc = self.connection["oidc"]
        url = oidc["request_url"] + "&audience=" + urllib.parse.quote(audience, safe="")
        request = urllib.request.Request(  # noqa: S310
            url, headers={"Authorization": f"Bearer {oidc['request_token']}"}
        )
        with urllib.request.urlopen(  # noqa: S310
            request, context=self.ssl_context, timeout=30
        ) as response:
            return str(json.loads(response.read())["value"])

    # --- the real Azure SDK, pointed here ---------------------------------------------

    def assertion_credential(self) -> TokenCredential:
        """ClientAssertionCredential fetching a fresh GitHub ID token whenever it needs one,
        as azureml-deploy does in GitHub Actions."""
        from azure.identity import ClientAssertionCredential

        return ClientAssertionCredential(
            self.connection["tenant_id"],
            self.connection["client_id"],
            self.github_id_token,
            authority=self.connection["authority_url"],
        )

    def secret_credential(self) -> TokenCredential:
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(
            self.connection["tenant_id"],
            self.connection["client_id"],
            self.connection["client_secret"],
            authority=self.connection["authority_url"],
            disable_instance_discovery=True,
        )

    @property
    def cloud_name(self) -> str:
        # The SDK registers a cloud name once per process; a name per emulator keeps two
        # emulators (different ports) apart in one test session.
        port = str(self.connection["arm_url"]).rsplit(":", 1)[1]
        return f"AzureMLEmulator{port}"

    def ml_client(self, credential: TokenCredential | None = None, **kwargs: Any) -> MLClient:
        """An MLClient for the workspace, or with `registry_name=` for an Azure ML registry.
        Sets this process's proxy for the storage's blob names (`storage_environment`)."""
        from azure.ai.ml import MLClient

        os.environ.update(storage_environment(self.connection))
        return MLClient(
            credential or self.assertion_credential(),
            self.connection["subscription_id"],
            self.connection["resource_group"],
            None if kwargs.get("registry_name") else self.connection["workspace"],
            cloud=self.cloud_name,
            cloud_metadata=self.connection["cloud_metadata"],
            enable_telemetry=False,
            **kwargs,
        )

    def asset_files(self, asset_id: str) -> Path:
        """The directory holding an asset version's files, as a deployment mounts them."""
        return Path(self.admin("POST", "/assets/files", {"id": asset_id})["path"])

    def asset_versions(self) -> list[str]:
        """The id of every model, code and environment version, of every workspace and
        registry (the admin API's state)."""
        return [str(version) for version in self.admin("GET", "/state")["assets"]]

    def storage_relayed(self) -> dict[str, int]:
        """What the storage proxy relayed since the start: `tunnels`, `client_to_storage` and
        `storage_to_client` bytes (TLS included: what crossed the wire)."""
        relayed: dict[str, int] = self.admin("GET", "/storage/proxy")
        return relayed

    def storage_blob(self, account: str, container: str, path: str) -> str:
        """A blob of one of the emulator's storage accounts, as its owner reads it."""
        spec = {"account": account, "container": container, "path": path}
        return str(self.admin("POST", "/storage/blob", spec)["text"])

    # --- the emulated Azure Container Registry ------------------------------------------

    def acr_refresh_token(self, resource: str | None = None) -> str:
        """ACR's token exchange: an Entra token for `resource` (default: ARM) → an ACR refresh
        token."""
        audience = resource or self.connection["arm_url"]
        entra = self.secret_credential().get_token(audience + "/.default").token
        form = urllib.parse.urlencode(
            {
                "grant_type": "access_token",
                "service": self.connection["registry"],
                "tenant": self.connection["tenant_id"],
                "access_token": entra,
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310
            self.connection["acr_url"] + "/oauth2/exchange", data=form, method="POST"
        )
        with urllib.request.urlopen(  # noqa: S310
            request, context=self.ssl_context, timeout=30
        ) as response:
            return str(json.loads(response.read())["refresh_token"])

    def push(self, local_image: str, repository: str, tag: str = "latest") -> str:
        """Push a local image to the registry; its reference by digest."""
        auth = {
            "username": "00000000-0000-0000-0000-000000000000",
            "password": self.acr_refresh_token(),
        }
        return _push(local_image, f"{self.connection['registry']}/{repository}", tag, auth)

    def push_public(self, local_image: str, repository: str, tag: str = "latest") -> str:
        """Push a local image to the public registries' stand-in (as its publisher); its
        reference by digest. `private/…` repositories refuse anonymous pulls."""
        target = f"{self.connection['public_registry']}/{repository}"
        return _push(local_image, target, tag, dict(self.connection["public_registry_push"]))

    def registry_mark(self) -> int:
        """A position in the registry's log; registry_uploads(mark) lists what came after."""
        return uploads.log_mark(self.state_dir)

    def registry_uploads(self, mark: int) -> list[uploads.Upload]:
        """Every blob upload the registry completed since `mark` (emulator/uploads.py)."""
        return uploads.uploads_since(self.state_dir, mark)

    def image_layers(self, reference: str) -> dict[str, int]:
        """The layers of a pushed image (`registry/repository@sha256:…` or `…:tag`), read from
        the registry's store."""
        name, _, digest = reference.partition("@")
        if not digest:
            repository, _, tag = name.partition("/")[2].rpartition(":")
            digest = uploads.tag_digest(self.state_dir, repository, tag)
        return uploads.manifest_layers(self.state_dir, digest)

    def arm_token(self) -> str:
        scope = self.connection["arm_url"] + "/.default"
        return str(self.secret_credential().get_token(scope).token)

    def workspace_path(self) -> str:
        c = self.connection
        return (
            f"/subscriptions/{c['subscription_id']}/resourceGroups/{c['resource_group']}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{c['workspace']}"
        )


def _push(local_image: str, target: str, tag: str, auth: dict[str, str]) -> str:
    import docker

    client = docker.from_env()
    client.images.get(local_image).tag(target, tag)
    output = list(client.images.push(target, tag=tag, auth_config=auth, stream=True, decode=True))
    return f"{target}@{_digest_of(output)}"


def _digest_of(push_output: list[dict[str, Any]]) -> str:
    for line in push_output:
        if "error" in line:
            raise RuntimeError(f"push failed: {line['error']}")
    for line in reversed(push_output):
        digest = (line.get("aux") or {}).get("Digest")
        if digest:
            return str(digest)
    raise RuntimeError(f"push reported no digest: {push_output[-3:]}")
