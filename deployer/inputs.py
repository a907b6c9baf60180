"""Checks of the inputs that name Azure things, before anything is sent anywhere: a typo is
refused with the rule, not by Azure after a sign-in."""

from __future__ import annotations

import re

from deployer.diagnostics import one_line
from deployer.errors import UsageError

GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
DOMAIN = re.compile(r"(?=.{3,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
RESOURCE_GROUP = re.compile(r"[-\w.()]{0,89}[-\w()]", re.ASCII)
WORKSPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,32}")
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

_RULES = {
    "subscription-id": (GUID, "a GUID such as 00000000-0000-0000-0000-000000000000"),
    "client-id": (GUID, "the app registration's Application (client) ID, a GUID"),
    "resource-group": (RESOURCE_GROUP, "1-90 letters, digits, '_', '-', '.', '(' or ')'"),
    "workspace": (WORKSPACE, "3-33 letters, digits, '_' or '-', starting with a letter or digit"),
    "image-tag": (IMAGE_TAG, "a Docker tag: letters, digits, '_', '.', '-', at most 128"),
}


def check_inputs(values: dict[str, str | None]) -> None:
    """Raise UsageError for the first input that cannot be what it names."""
    for name, value in values.items():
        if value is None:
            continue
        if name == "tenant-id":
            if not (GUID.fullmatch(value) or DOMAIN.fullmatch(value)):
                _refuse(name, value, "a tenant ID (GUID) or domain, e.g. contoso.onmicrosoft.com")
            continue
        pattern, rule = _RULES[name]
        if not pattern.fullmatch(value):
            _refuse(name, value, rule)


def _refuse(name: str, value: str, rule: str) -> None:
    shown = one_line(value if len(value) <= 80 else value[:77] + "...")
    raise UsageError(f"the {name} input is not valid: {shown!r}", hint=f"it must be {rule}")
