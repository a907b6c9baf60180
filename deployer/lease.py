"""Who holds an endpoint, and for how long (DESIGN, principle 3): the lease a changing run
writes with its first change, into the rollout record on the endpoint.

- identity: a workflow run and its attempt (a new attempt of the same run may take over its
  own earlier attempt's lease at once), or one local process (whose lease ends with it);
- duration: LEASE, renewed with every write and at half-time while a run waits or watches; while
  a deployment is still to be provisioned, the rollout's time left (Azure lets nobody change an
  endpoint while a deployment provisions);
- acquire: refused while another holder's lease is unexpired; renew; release on the last write.
"""

from __future__ import annotations

import datetime
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import replace

from deployer.clock import Clock
from deployer.context import RunContext
from deployer.errors import LeaseHeld
from deployer.tags import Holder, Record

LEASE = datetime.timedelta(minutes=5)


def holder_of(context: RunContext, environ: Mapping[str, str]) -> Holder:
    """Who this run is, for the lease: the workflow run and its attempt, or this process."""
    if context.in_github and context.run_id:
        return Holder(
            f"{context.repository or 'github'}/runs/{context.run_id}",
            environ.get("GITHUB_RUN_ATTEMPT", "1"),
        )
    return Holder(f"local/{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}")


def gone(holder: Holder) -> bool:
    """A local run (`local/<host>/<pid>/…`) of this machine whose process has ended: its lease
    is over, whatever it says."""
    parts = holder.run.split("/")
    if len(parts) != 4 or parts[0] != "local" or parts[1] != socket.gethostname():
        return False
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError):
        return False
    return False


def held_by_other(record: Record, me: Holder, now: datetime.datetime) -> bool:
    """Whether another run holds an unexpired lease (another attempt of the same workflow run
    does not count: its earlier attempt is over)."""
    holder = record.holder
    if holder is None or record.lease_until is None or record.lease_until <= now:
        return False
    return holder != me and not holder.same_run(me) and not gone(holder)


class Lease:
    """This run's lease on one endpoint."""

    def __init__(self, endpoint: str, holder: Holder, clock: Clock) -> None:
        self.endpoint, self.holder, self.clock = endpoint, holder, clock
        self.expires: datetime.datetime | None = None

    def check_free(self, found: Record) -> None:
        """Raise LeaseHeld while another run holds the endpoint."""
        if held_by_other(found, self.holder, self.clock.now()):
            raise LeaseHeld(
                f"another run is changing endpoint {self.endpoint}: "
                f"{found.holder.describe() if found.holder else 'unknown'}",
                found.holder,
                found.lease_until,
            )

    def taken(self, record: Record, provisioning_left: datetime.timedelta | None) -> Record:
        """`record` with this run's lease, for LEASE or, with a deployment still to provision,
        the rollout's time left (never less than LEASE)."""
        span = max(provisioning_left or LEASE, LEASE)
        self.expires = self.clock.now() + span
        return replace(record, holder=self.holder, lease_until=self.expires)

    @staticmethod
    def released(record: Record) -> Record:
        return replace(record, holder=None, lease_until=None)

    def renewal_due(self) -> bool:
        return self.expires is not None and self.expires - self.clock.now() < LEASE / 2
