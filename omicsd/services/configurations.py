"""Configurations: Create, Get, List and DeleteConfiguration, and their use by runs.

Owns: the configuration use cases, :meth:`ConfigurationService.transition` (the only code that changes a
configuration's status), the lookup StartRun and StartRunBatch use for ``configurationName``, and what GetRun
reports about a run's configuration (``configuration`` and ``vpcConfig``).
Must not: know the wire format or give runs network access (the scheduler does, from ``networkingMode``).

Activation: CreateConfiguration answers ``CREATING``; there is nothing to provision locally, so the
configuration becomes ``ACTIVE`` the first time anything looks at it — GetConfiguration, ListConfigurations,
:meth:`step` (called from the scheduler loop) — and a run may use it from that moment. A CREATING
configuration named by a run is accepted as ACTIVE.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from omicsd.domain import configurations as rules
from omicsd.domain.batches import SUBMITTING
from omicsd.domain.callers import Caller
from omicsd.domain.configurations import (
    CONFIGURATION_TRANSITIONS,
    DELETABLE,
    ConfigurationRecord,
    ConfigurationStatus,
)
from omicsd.domain.ids import ArnRef, Arns, new_uuid
from omicsd.domain.pagination import Page, decode_token, encode_token, page_size
from omicsd.domain.tags import check_new
from omicsd.domain.transitions import decide
from omicsd.errors import ConflictError, NotFoundError, ValidationError
from omicsd.services._idempotency import create_once
from omicsd.store import Store
from omicsd.store import configurations as repo
from omicsd.store import tags as tag_store

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 10
_S = ConfigurationStatus


@dataclass(frozen=True)
class ConfigurationView:
    """A configuration with its ARN and tags."""

    record: ConfigurationRecord
    arn: str
    tags: dict[str, str]


class ConfigurationService:
    """Use cases of configurations."""

    def __init__(self, store: Store, *, arns: Arns, max_configurations: int = rules.MAX_CONFIGURATIONS) -> None:
        self.store = store
        self.arns = arns
        self.max_configurations = max_configurations
        self._idle_until = 0.0
        """:meth:`step` answers at once until then: nothing was CREATING and no configuration was created since."""
        self._created = 0
        """CreateConfiguration calls so far (a step that raced one does not rest)."""

    # -- CreateConfiguration ------------------------------------------------------------------------------

    def create(self, caller: Caller, params: Mapping[str, Any]) -> ConfigurationView:
        """CreateConfiguration: validate, store CREATING, answer with the new record.

        Raises:
            ValidationError: bad ``runConfigurations`` or tags.
            ConflictError: a live configuration has that name; a reused requestId with other parameters.
            QuotaExceededError: the account already has the maximum number of configurations.
        """
        name = str(params["name"])
        run_configurations = rules.check_run_configurations(params["runConfigurations"], self.arns.account_id)
        tags = check_new(params.get("tags") or {})
        record = ConfigurationRecord(
            name=name,
            uuid=new_uuid(),
            status=_S.CREATING,
            creation_time=datetime.now(UTC),
            run_configurations=run_configurations,
            description=params.get("description"),
        )

        def insert(conn: Connection) -> str:
            existing = repo.get(conn, name, include_deleted=True)
            if existing is not None and existing.status != _S.DELETED:
                raise ConflictError(f"Configuration {name} already exists")
            if existing is not None:
                repo.purge(conn, name)
            rules.check_quota(repo.count_live(conn), self.max_configurations)
            repo.insert(conn, record)
            tag_store.replace(conn, self.arn(name), tags)
            return name

        create_once(self.store, "CreateConfiguration", caller.key, params.get("requestId"), params, insert)
        self._created += 1
        self._idle_until = 0.0
        return self._read(name)

    # -- read ---------------------------------------------------------------------------------------------

    def get(self, name: str) -> ConfigurationView:
        """GetConfiguration (a CREATING configuration becomes ACTIVE here).

        Raises:
            NotFoundError: no live configuration of that name.
        """
        view = self._read(name)
        if view.record.status == _S.CREATING:
            self._activate(name)
            view = self._read(name)
        return view

    def list(self, *, token: str | None = None, max_results: int | None = None) -> Page[ConfigurationView]:
        """ListConfigurations, newest first (up to 10 per page by default).

        Raises:
            ValidationError: a bad pagination token.
        """
        after = decode_token(token, {})
        limit = page_size(max_results, DEFAULT_PAGE_SIZE)
        self.step()
        if after is not None:
            after = [datetime.fromisoformat(after[0]), after[1]]
        with self.store.read() as conn:
            records = repo.list_page(conn, after=after, limit=limit + 1)
        more = len(records) > limit
        records = records[:limit]
        next_token = None
        if more:
            next_token = encode_token([records[-1].creation_time.isoformat(), records[-1].name], {})
        return Page([ConfigurationView(r, self.arn(r.name), {}) for r in records], next_token)

    # -- DeleteConfiguration ------------------------------------------------------------------------------

    def delete(self, name: str) -> None:
        """DeleteConfiguration: ACTIVE -> DELETING -> DELETED, refused while anything will still use it.

        Raises:
            NotFoundError: no live configuration of that name.
            ConflictError: a run that has not finished, or a batch still submitting runs, uses it; or it is
                already being deleted.
        """
        with self.store.write() as conn:
            record = repo.get(conn, name, lock="update")
            if record is None:
                raise NotFoundError(f"Configuration {name} not found")
            runs = repo.active_runs_using(conn, name)
            if runs:
                raise ConflictError(f"Configuration {name} is used by {runs} run(s) that have not finished")
            batches = repo.batches_using(conn, name, [s.value for s in SUBMITTING])
            if batches:
                raise ConflictError(
                    f"Configuration {name} is used by batch(es) still submitting runs: {', '.join(batches)}"
                )
            if record.status == _S.CREATING:
                record = self._moved(conn, record, _S.ACTIVE)
            if record.status not in DELETABLE:
                raise ConflictError(f"Configuration {name} is {record.status.value} and cannot be deleted")
            record = self._moved(conn, record, _S.DELETING)
            self._moved(conn, record, _S.DELETED)
            tag_store.delete_all(conn, self.arn(name))
        logger.info("configuration.deleted name=%s", name)

    # -- background step ----------------------------------------------------------------------------------

    def step(self) -> bool:
        """Activate every CREATING configuration; returns whether there was any.

        The scheduler calls this every tick; after a look that found none it rests for
        :data:`IDLE_RECHECK_SECONDS`, unless a configuration is created meanwhile (a configuration stored by
        another server process is activated within that time, or at once by GetConfiguration).
        """
        if time.monotonic() < self._idle_until:
            return False
        created = self._created
        with self.store.read() as conn:
            names = repo.names_in_status(conn, _S.CREATING)
        if not names and created == self._created:
            self._idle_until = time.monotonic() + IDLE_RECHECK_SECONDS
        for name in names:
            self._activate(name)
        return bool(names)

    # -- use by runs --------------------------------------------------------------------------------------

    def lookup(self, conn: Connection, name: str) -> ConfigurationRecord:
        """The configuration a run (or batch) names, share-locked for the caller's transaction.

        This is ``RunService.references["configurationName"]``.

        Raises:
            NotFoundError: no live configuration of that name.
            ValidationError: it is not ACTIVE (or CREATING, which counts as ACTIVE).
        """
        record = repo.get(conn, name, lock="share")
        if record is None:
            raise NotFoundError(f"Configuration {name} not found")
        if record.status not in (_S.ACTIVE, _S.CREATING):
            raise ValidationError(f"Configuration {name} is {record.status.value}; runs need an ACTIVE configuration")
        return record

    def exists(self, conn: Connection, ref: ArnRef) -> bool:
        """Whether a tag ARN names a live configuration (for :meth:`TagService.register`)."""
        return repo.get(conn, ref.resource_id) is not None

    def describe_for_run(self, name: str | None) -> dict[str, str] | None:
        """GetRun / StartRun ``configuration``: ``{name, arn, uuid}`` (a deleted one is still described)."""
        record = self._any(name)
        if record is None:
            return None
        return {"name": record.name, "arn": self.arn(record.name), "uuid": record.uuid}

    def vpc_config(self, name: str | None) -> dict[str, Any] | None:
        """GetRun ``vpcConfig``: security groups, subnets, vpcId and VPC owner of the run's configuration."""
        record = self._any(name)
        return record.vpc_config if record is not None else None

    def arn(self, name: str) -> str:
        """ARN of a configuration."""
        return self.arns.of("configuration", name)

    # -- the transition choke point -----------------------------------------------------------------------

    def transition(self, record: ConfigurationRecord, target: ConfigurationStatus) -> bool:
        """Move a configuration to ``target`` with compare-and-set; ``False`` when it had already moved on.

        Raises:
            ConflictError: the transition table forbids the change.
        """
        with self.store.write() as conn:
            return self.transition_in(conn, record, target)

    def transition_in(self, conn: Connection, record: ConfigurationRecord, target: ConfigurationStatus) -> bool:
        """:meth:`transition` inside a caller's transaction."""
        decision = decide(CONFIGURATION_TRANSITIONS, record.label, record.status, target)
        if decision.noop:
            return False
        if not decision.accepted:
            raise ConflictError(decision.reason)
        done = repo.compare_and_set(conn, record.name, current=record.status, values={"status": target.value})
        if done:
            logger.info("configuration.status name=%s status=%s", record.name, target.value)
        return done

    # -- helpers ------------------------------------------------------------------------------------------

    def _read(self, name: str) -> ConfigurationView:
        with self.store.read() as conn:
            record = repo.get(conn, name)
            if record is None:
                raise NotFoundError(f"Configuration {name} not found")
            arn = self.arn(name)
            return ConfigurationView(record, arn, tag_store.get(conn, arn))

    def _any(self, name: str | None) -> ConfigurationRecord | None:
        if not name:
            return None
        with self.store.read() as conn:
            return repo.get(conn, name, include_deleted=True)

    def _activate(self, name: str) -> None:
        with self.store.write() as conn:
            record = repo.get(conn, name)
            if record is not None and record.status == _S.CREATING:
                self.transition_in(conn, record, _S.ACTIVE)

    def _moved(self, conn: Connection, record: ConfigurationRecord, target: ConfigurationStatus) -> ConfigurationRecord:
        if not self.transition_in(conn, record, target):
            raise ConflictError(f"{record.label} changed while it was being deleted; retry")
        return replace(record, status=target)


IDLE_RECHECK_SECONDS = 1.0
"""How long :meth:`ConfigurationService.step` rests after finding nothing to activate."""
