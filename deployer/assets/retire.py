"""A deleted preview's model and environment versions, archived with it.

A preview registers its local assets under its endpoint's name, tagged with its owner
(repository, pull request): when its endpoint is deleted, the versions that carry the same
owner are archived (reversibly, as `az ml model archive` does), and nothing else. Code versions
stay: azure-ai-ml has no archive for them, and Azure ML keeps code snapshots of jobs alike.
"""

from __future__ import annotations

from deployer.azure.assets import AzureAssets
from deployer.errors import DeployerError
from deployer.session import Session
from deployer.state import EndpointState
from deployer.tags import Ownership


def archive_preview_assets(session: Session, endpoint: EndpointState) -> None:
    owner = Ownership.of(endpoint.tags)
    if not owner.is_preview:
        return
    assets = AzureAssets(session.azure)
    archived = []
    try:
        for kind in ("models", "environments"):
            for version, tags in assets.versions(kind, endpoint.name):
                mine = Ownership.of(tags)
                if mine.is_preview and (mine.repository, mine.pr) == (owner.repository, owner.pr):
                    assets.archive(kind, endpoint.name, version)
                    archived.append(f"{kind[:-1]} {endpoint.name}:{version}")
    except DeployerError as exc:
        session.runner.warning(
            f"could not archive the assets of preview {endpoint.name}: {exc.message}"
        )
    if archived:
        session.runner.info(f"archived the preview's {', '.join(archived)}")
