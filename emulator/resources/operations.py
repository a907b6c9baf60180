"""Long-running operations: the `Azure-AsyncOperation` / `Location` headers, the status
resource the SDK polls, and the background work that ends each operation."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from emulator.faults import FaultStore
from emulator.resources.model import Deployment, Endpoint, Operation, utc_now
from emulator.resources.provisioning import Outcome
from emulator.resources.store import Store
from emulator.timing import Timing

log = logging.getLogger("emulator.arm")

Work = Callable[[], Awaitable[Outcome]]


class OperationEngine:
    def __init__(
        self, store: Store, timing: Callable[[], Timing], faults: FaultStore, arm_url: str
    ) -> None:
        self.store = store
        self.timing = timing
        self.faults = faults
        self.arm_url = arm_url
        self._tasks: set[asyncio.Task[None]] = set()

    def start(
        self,
        *,
        kind: str,
        method: str,
        resource: Endpoint | Deployment,
        api_version: str,
        on_success: Callable[[], None],
        on_failure: Callable[[str, str], None] = lambda code, message: None,
        work: Work | None = None,
    ) -> Operation:
        """Start an operation on `resource`; it becomes the resource's current operation."""
        workspace = resource.workspace
        prefix = "odidp" if kind.startswith("deployment") else "oeidp"
        target = resource.id
        operation = Operation(
            id=f"{prefix}:{workspace.workspace_id}:{uuid.uuid4()}",
            kind=kind,
            location=resource.location,
            subscription=workspace.subscription,
            api_version=api_version,
            target=target,
            status=self.timing().running_status,
        )
        resource.operation = operation
        self.store.operations[operation.id] = operation
        failure = self.faults.take({"lro_fail"}, "arm", method, target)
        delay = self.faults.take({"provisioning_delay"}, "arm", method, target)
        extra = delay.delay_seconds if delay is not None else 0.0
        unsettled = self.faults.take({"updating_after_succeeded"}, "arm", method, target)
        task = asyncio.get_running_loop().create_task(
            self._run(
                operation,
                on_success=on_success,
                on_failure=on_failure,
                work=work,
                failure=failure,
                extra_delay=extra,
            )
        )
        if unsettled is not None:
            task.add_done_callback(
                lambda _: self._unsettle(operation, resource, unsettled.delay_seconds)
            )
        operation.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return operation

    def provision(
        self,
        *,
        kind: str,
        method: str,
        resource: Endpoint | Deployment,
        api_version: str,
        work: Work | None = None,
        then: Callable[[], None] | None = None,
        undo: Callable[[], None] | None = None,
    ) -> Operation:
        """An operation that creates, updates or scales `resource`: its provisioning state
        becomes Succeeded (and `then` runs) or Failed (and `undo` runs) when it ends."""

        def succeeded() -> None:
            resource.provisioning_state = "Succeeded"
            if then is not None:
                then()

        def failed(code: str, message: str) -> None:
            resource.provisioning_state = "Failed"
            if undo is not None:
                undo()

        return self.start(
            kind=kind,
            method=method,
            resource=resource,
            api_version=api_version,
            on_success=succeeded,
            on_failure=failed,
            work=work,
        )

    def accepted(self, operation: Operation) -> Response:
        """`202 Accepted` for an operation started by a POST, PATCH or DELETE."""
        return Response(status_code=202, headers=self.headers(operation))

    async def _run(
        self,
        operation: Operation,
        *,
        on_success: Callable[[], None],
        on_failure: Callable[[str, str], None],
        work: Work | None,
        failure: Any,
        extra_delay: float,
    ) -> None:
        floor = self.timing().duration(operation.kind) + extra_delay
        try:
            if work is None:
                await asyncio.sleep(floor)
                outcome = Outcome(ok=True)
            else:
                # The service's own provisioning time is a floor; real work may take longer.
                outcome, _ = await asyncio.gather(work(), asyncio.sleep(floor))
            if failure is not None:
                outcome = Outcome(
                    ok=False,
                    code=failure.code or "InternalServerError",
                    message=failure.message or "injected failure of the operation",
                )
        except asyncio.CancelledError:
            outcome = Outcome(ok=False, code="OperationCanceled", message="the emulator stopped")
            self._finish(operation, outcome, on_success, on_failure)
            raise
        except Exception as exc:
            log.exception("operation %s failed", operation.id)
            outcome = Outcome(ok=False, code="InternalServerError", message=str(exc))
        self._finish(operation, outcome, on_success, on_failure)

    def _unsettle(
        self, operation: Operation, resource: Endpoint | Deployment, seconds: float
    ) -> None:
        """Right after its operation reported Succeeded, the resource reports Updating for a
        while, as Azure/azure-sdk-for-net#36961 saw an endpoint do (deployments refused
        meanwhile); how long is not documented."""
        if operation.status != "Succeeded":
            return
        resource.provisioning_state = "Updating"

        async def settle() -> None:
            await asyncio.sleep(seconds)
            if resource.provisioning_state == "Updating" and not (
                resource.operation is not None and not resource.operation.done
            ):
                resource.provisioning_state = "Succeeded"

        task = asyncio.get_running_loop().create_task(settle())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _finish(
        operation: Operation,
        outcome: Outcome,
        on_success: Callable[[], None],
        on_failure: Callable[[str, str], None],
    ) -> None:
        operation.ended = utc_now()
        if outcome.ok:
            on_success()
            operation.status = "Succeeded"
        else:
            on_failure(outcome.code, outcome.message)
            operation.error = {"code": outcome.code, "message": outcome.message, "details": []}
            operation.status = "Failed"

    def status_url(self, operation: Operation) -> str:
        return f"{self.arm_url}{operation.path()}?api-version={operation.api_version}&type=async"

    def result_url(self, operation: Operation) -> str:
        return f"{self.arm_url}{operation.path(results=True)}?api-version={operation.api_version}"

    def headers(self, operation: Operation, *, location: str | None = None) -> dict[str, str]:
        """LRO headers; `location` is the resource URL (PUT) or None for the result URL."""
        headers = {
            "Azure-AsyncOperation": self.status_url(operation),
            "Location": location or self.result_url(operation),
            "x-ms-async-operation-timeout": "PT30M",
        }
        return headers | self.timing().retry_headers()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
