"""Environment overlays: deep-merge an overlay over the base, keeping where each value came from.

Mappings merge key by key; lists and scalars replace. `image.build` and `image.ref` are
alternatives, and so are `deployment.environment`'s `build` and `image`: an overlay that gives
one of them drops the other from the base.
"""

from __future__ import annotations

import copy
from typing import Any

from deployer.spec.source import Document, JsonPath

_ALTERNATIVES: dict[JsonPath, tuple[str, ...]] = {
    ("image",): ("build", "ref"),
    ("deployment", "environment"): ("build", "image"),
}


def merge(base: Document, overlay: Document) -> Document:
    """The base with `overlay` applied. Neither input is modified."""
    merged = Document(
        data=copy.deepcopy(base.data),
        locations=dict(base.locations),
        scalar_text=dict(base.scalar_text),
    )
    if isinstance(merged.data, dict) and isinstance(overlay.data, dict):
        _merge_mapping(merged, merged.data, overlay, (), overlay.data)
    return merged


def _merge_mapping(
    merged: Document,
    target: dict[str, Any],
    overlay: Document,
    path: JsonPath,
    changes: dict[str, Any],
) -> None:
    alternatives = _ALTERNATIVES.get(path, ())
    given = [key for key in alternatives if key in changes]
    if len(given) == 1:
        for dropped in alternatives:
            if dropped != given[0] and dropped in target:
                del target[dropped]
                _forget(merged, (*path, dropped))
    for key, value in changes.items():
        child = (*path, key)
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            # The mapping itself stays where the base wrote it; only its entries change.
            _merge_mapping(merged, current, overlay, child, value)
            continue
        target[key] = copy.deepcopy(value)
        _forget(merged, child)
        _adopt(merged, overlay, child)


def _forget(document: Document, path: JsonPath) -> None:
    size = len(path)
    for table in (document.locations, document.scalar_text):
        for stale in [p for p in table if p[:size] == path]:
            del table[stale]


def _adopt(document: Document, source: Document, path: JsonPath) -> None:
    size = len(path)
    document.locations.update({p: loc for p, loc in source.locations.items() if p[:size] == path})
    document.scalar_text.update(
        {p: text for p, text in source.scalar_text.items() if p[:size] == path}
    )
