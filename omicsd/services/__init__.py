"""Use cases and transaction boundaries: the only code that writes state.

Owns: :class:`Services`, the bundle of per-resource services the protocol handlers and the scheduler call.
Must not: know the wire format (protocol does) or run engines (the scheduler does).
"""

from __future__ import annotations

from dataclasses import dataclass

from omicsd.domain.callers import Caller
from omicsd.domain.ids import Arns
from omicsd.services.batches import BatchService
from omicsd.services.configurations import ConfigurationService
from omicsd.services.logs import LogsService
from omicsd.services.pricing import PricingService
from omicsd.services.run_caches import RunCacheService
from omicsd.services.run_events import RunEventApplier
from omicsd.services.run_groups import RunGroupService
from omicsd.services.runs import RunService
from omicsd.services.tags import TagService
from omicsd.services.tasks import TaskService
from omicsd.services.workflows import WorkflowService


@dataclass
class Services:
    """Every service, built once by the composition root (:func:`omicsd.app.build_services`)."""

    arns: Arns
    principal_arn: str
    workflows: WorkflowService
    tags: TagService
    runs: RunService
    tasks: TaskService
    run_events: RunEventApplier
    run_groups: RunGroupService
    run_caches: RunCacheService
    logs: LogsService
    pricing: PricingService
    configurations: ConfigurationService
    batches: BatchService

    def caller(self, access_key_id: str | None) -> Caller:
        """The caller behind a request signed with ``access_key_id`` (unsigned requests share one caller)."""
        return Caller(account_id=self.arns.account_id, principal_arn=self.principal_arn, key=access_key_id or "-")

    def close(self) -> None:
        """Finish background work and release resources."""
        self.workflows.close()
