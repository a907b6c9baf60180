"""Where we run: the workspace the deploy file's paths must stay in (more with later commands)."""

from __future__ import annotations

import os
from pathlib import Path


def workspace_root(deploy_file: Path) -> Path:
    """The folder the deploy file's paths must stay in.

    GITHUB_WORKSPACE in Actions; else the git repository holding the deploy file; else its folder.
    """
    configured = os.environ.get("GITHUB_WORKSPACE")
    if configured:
        return Path(configured).resolve()
    folder = deploy_file.resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder
