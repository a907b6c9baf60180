"""deployment.autoscale's cross-field rules: what Azure Monitor refuses, and what its autoscale
best practices (azure-monitor/autoscale/autoscale-best-practices.md) warn against.

Refused by Azure: a minimum above the default ("The minimum capacity value ... is greater than
the default", microsoft/onefuzz#2249) or a default above the maximum; a change count larger
than maximum - minimum (`InvalidActionValue`, Azure/bicep-types-az#1859). Warned: the maximum
above Azure ML's instances per deployment (how-to-manage-quotas.md, a limit a support request
can raise); a maximum equal to the minimum ("Ensure the maximum and minimum values are
different and have an adequate margin between them"); rules that scale only one way ("Always
use a scale-out and scale-in rule combination that performs an increase and decrease").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from deployer.spec.findings import Finding, error, warning
from deployer.spec.skus import LIMITS
from deployer.spec.source import Document, JsonPath

PATH: JsonPath = ("deployment", "autoscale")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def autoscale_findings(document: Document) -> Iterator[Finding]:
    block = document.get(PATH)
    if not isinstance(block, dict):
        return
    count = _int(document.get(("deployment", "instance_count")))
    minimum = _int(block.get("min_instances", 1))
    maximum = _int(block.get("max_instances"))
    default = _int(block.get("default_instances", count if count is not None else 1))
    if minimum is None or maximum is None or default is None:
        return
    default_path: JsonPath = (
        (*PATH, "default_instances") if "default_instances" in block else ("deployment",)
    )
    default_words = (
        "default_instances" if "default_instances" in block else "deployment.instance_count"
    )
    if minimum > maximum:
        yield error(
            (*PATH, "min_instances"),
            f"is {minimum}, above max_instances ({maximum}): Azure refuses the setting",
            document.value_mark((*PATH, "min_instances")),
        )
        return
    if not minimum <= default <= maximum:
        yield error(
            default_path,
            f"{default_words} ({default}) must lie between min_instances ({minimum}) and "
            f"max_instances ({maximum}): it is the instance count autoscale keeps while it has "
            "no metrics, and Azure refuses a setting whose default is outside its bounds",
            document.value_mark(default_path),
        )
    limit = LIMITS["instances_per_deployment"]
    if maximum > limit:
        yield warning(
            (*PATH, "max_instances"),
            f"is {maximum}; Azure ML allows {limit} instances per deployment unless the "
            "subscription's endpoint limits were raised (a support request)",
            document.value_mark((*PATH, "max_instances")),
        )
    if maximum == minimum:
        yield warning(
            (*PATH, "max_instances"),
            f"equals min_instances ({minimum}): autoscale can never scale; Azure's autoscale "
            "best practices: keep an adequate margin between the two",
            document.value_mark((*PATH, "max_instances")),
        )
    yield from _rules(document, block, maximum - minimum)


def _rules(document: Document, block: dict[str, Any], room: int) -> Iterator[Finding]:
    rules = block.get("rules")
    if not isinstance(rules, list):
        return
    directions: set[Any] = set()
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        directions.add(rule.get("direction"))
        change = _int(rule.get("change_count", 1))
        if change is not None and room > 0 and change > room:
            path: JsonPath = (*PATH, "rules", index, "change_count")
            yield error(
                path,
                f"is {change}, more than max_instances - min_instances ({room}): Azure refuses "
                "it (InvalidActionValue)",
                document.value_mark(path),
            )
    missing = {"out", "in"} - directions
    if missing and rules:
        lacking = "scale-in" if "in" in missing else "scale-out"
        yield warning(
            (*PATH, "rules"),
            f"has no {lacking} rule: Azure's autoscale best practices say to always use a "
            "scale-out and scale-in rule combination, or the count only ever goes one way",
            document.key_mark((*PATH, "rules")),
        )
