"""Workflows and workflow versions: create, read, list, update, delete, and the CREATING -> ACTIVE | FAILED step.

Owns: the workflow use cases and ``transition()``, the only code that changes a workflow's status.
Must not: parse definitions itself (``omicsd.engines.definition`` does) or know the wire format.

Creation is asynchronous as on HealthOmics: the request stores the definition and answers CREATING; a
background worker fetches the archive (``definitionUri`` / repository), inspects it with the engine's parser,
infers the parameter template and moves the record to ACTIVE, or to FAILED with the parser's message in
``statusMessage``. Records still CREATING after a restart are picked up again by :meth:`resume`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omicsd.blobs.base import ObjectStore
from omicsd.domain import workflows as rules
from omicsd.domain.callers import Caller
from omicsd.domain.ids import Arns, new_id, new_uuid
from omicsd.domain.pagination import Page, decode_token, encode_token, page_size
from omicsd.domain.states import WORKFLOW_TRANSITIONS, WorkflowStatus
from omicsd.domain.tags import check_new
from omicsd.domain.transitions import decide
from omicsd.domain.workflows import DEFAULT_VERSION, WorkflowRecord
from omicsd.engines.definition import inspect_definition
from omicsd.errors import ConflictError, DefinitionError, NotFoundError, OmicsdError, QuotaExceededError
from omicsd.services import _sources
from omicsd.services._idempotency import create_once
from omicsd.store import Store
from omicsd.store import tags as tag_store
from omicsd.store import workflows as repo

logger = logging.getLogger(__name__)

READY2RUN = "READY2RUN"
_UPDATABLE = ("name", "description", "storageType", "storageCapacity", "readmeMarkdown")


@dataclass(frozen=True)
class WorkflowView:
    """A workflow or version with its ARN and tags, as the read operations return it."""

    record: WorkflowRecord
    arn: str
    tags: dict[str, str]


class WorkflowService:
    """Use cases of workflows and their versions."""

    def __init__(
        self,
        store: Store,
        *,
        arns: Arns,
        blobs: ObjectStore,
        definitions_dir: Path,
        repositories_root: str = "",
        workers: int = 2,
    ) -> None:
        self.store = store
        self.arns = arns
        self.blobs = blobs
        self.definitions_dir = definitions_dir
        self.repositories_root = repositories_root
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="omicsd-workflows")
        self._pending: set[Future[None]] = set()

    # -- create -------------------------------------------------------------------------------------------

    def create(self, caller: Caller, params: Mapping[str, Any], *, workflow_id: str | None = None) -> WorkflowView:
        """CreateWorkflow (``workflow_id`` None) or CreateWorkflowVersion; answers with the CREATING record.

        Raises:
            ValidationError: conflicting or missing definition sources, bad tags.
            NotFoundError: the workflow of a new version does not exist.
            ConflictError: a version of that name exists, or a reused requestId with other parameters.
        """
        source_kind = rules.check_sources(params)
        tags = check_new(params.get("tags") or {})
        version_name = str(params["versionName"]) if workflow_id is not None else DEFAULT_VERSION
        operation = "CreateWorkflowVersion" if workflow_id is not None else "CreateWorkflow"
        uuid = new_uuid()
        archive: bytes | None = params.get("definitionZip")

        def insert(conn: Any) -> str:
            wid = workflow_id
            if wid is None:
                wid = new_id()
                while repo.exists(conn, wid):
                    wid = new_id()
            else:
                parent = repo.get(conn, wid)
                if parent is None:
                    raise NotFoundError(f"Workflow {wid} not found")
                if repo.get(conn, wid, version_name) is not None:
                    raise ConflictError(f"Workflow {wid} already has a version named {version_name}")
                if repo.count_versions(conn, wid) >= rules.MAX_VERSIONS:
                    raise QuotaExceededError(f"Workflow {wid} already has {rules.MAX_VERSIONS} versions")
            record = self._new_record(wid, version_name, uuid, params, source_kind)
            repo.insert(conn, record)
            tag_store.replace(conn, self._arn(record), tags)
            return wid

        if archive is not None:
            self._save_archive(uuid, archive)
        wid, created = create_once(self.store, operation, caller.key, params.get("requestId"), params, insert)
        view = self.get(wid, version_name)
        if created:
            self._submit(wid, version_name)
        return view

    def resume(self) -> int:
        """Finish every record left CREATING (after a restart); returns how many were picked up."""
        with self.store.read() as conn:
            keys = repo.ids_in_status(conn, WorkflowStatus.CREATING)
        for wid, version in keys:
            self._submit(wid, version)
        return len(keys)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Block until every queued CREATING record has been finished (tests and shutdown)."""
        for future in list(self._pending):
            future.result(timeout=timeout)

    def close(self) -> None:
        """Stop the background worker after the queued work."""
        self._pool.shutdown(wait=True, cancel_futures=False)

    # -- read ---------------------------------------------------------------------------------------------

    def get(
        self,
        workflow_id: str,
        version_name: str = DEFAULT_VERSION,
        *,
        type: str | None = None,
        owner: str | None = None,
    ) -> WorkflowView:
        """GetWorkflow / GetWorkflowVersion.

        Raises:
            NotFoundError: no such workflow or version in this account (Ready2Run has no catalogue here).
        """
        if type == READY2RUN or (owner and owner != self.arns.account_id):
            raise NotFoundError(self._missing(workflow_id, version_name))
        with self.store.read() as conn:
            record = repo.get(conn, workflow_id, version_name)
            if record is None:
                raise NotFoundError(self._missing(workflow_id, version_name))
            arn = self._arn(record)
            return WorkflowView(record, arn, tag_store.get(conn, arn))

    def list(
        self,
        *,
        workflow_id: str | None = None,
        name: str | None = None,
        type: str | None = None,
        owner: str | None = None,
        token: str | None = None,
        max_results: int | None = None,
    ) -> Page[WorkflowView]:
        """ListWorkflows (``workflow_id`` None) or ListWorkflowVersions, newest first.

        Raises:
            NotFoundError: ListWorkflowVersions of a workflow that does not exist.
            ValidationError: a bad pagination token.
        """
        filters = {"workflow": workflow_id, "name": name, "type": type, "owner": owner}
        after = decode_token(token, filters)
        limit = page_size(max_results)
        with self.store.read() as conn:
            if workflow_id is not None and (type == READY2RUN or repo.get(conn, workflow_id) is None):
                raise NotFoundError(f"Workflow {workflow_id} not found")
            if type == READY2RUN or (owner and owner != self.arns.account_id):
                return Page([], None)
            if after is not None:
                after = [datetime.fromisoformat(after[0]), after[1], after[2]]
            records = repo.list_page(conn, workflow_id=workflow_id, name=name, after=after, limit=limit + 1)
        more = len(records) > limit
        records = records[:limit]
        views = [WorkflowView(r, self._arn(r), {}) for r in records]
        next_token = None
        if more:
            last = records[-1]
            next_token = encode_token([last.creation_time.isoformat(), last.id, last.version_name], filters)
        return Page(views, next_token)

    def archive(self, workflow_id: str, version_name: str = DEFAULT_VERSION) -> bytes:
        """The stored definition archive (for ``export=DEFINITION`` and for runs).

        Raises:
            NotFoundError: no such record, or its definition was never fetched (FAILED before fetching).
        """
        view = self.get(workflow_id, version_name)
        path = self._archive_path(view.record.uuid)
        if not path.exists():
            raise NotFoundError(f"{view.record.label} has no stored definition")
        return path.read_bytes()

    # -- update / delete ----------------------------------------------------------------------------------

    def update(self, workflow_id: str, version_name: str, changes: Mapping[str, Any]) -> None:
        """UpdateWorkflow / UpdateWorkflowVersion: only name (workflows), description, storage and README."""
        columns = {
            "name": "name",
            "description": "description",
            "storageType": "storage_type",
            "storageCapacity": "storage_capacity",
            "readmeMarkdown": "readme_markdown",
        }
        values = {columns[k]: v for k, v in changes.items() if k in _UPDATABLE and v is not None}
        with self.store.write() as conn:
            if repo.get(conn, workflow_id, version_name) is None:
                raise NotFoundError(self._missing(workflow_id, version_name))
            if values:
                repo.update(conn, workflow_id, version_name, values)

    def delete(self, workflow_id: str, version_name: str = DEFAULT_VERSION) -> None:
        """DeleteWorkflow / DeleteWorkflowVersion; runs already started are unaffected.

        Raises:
            NotFoundError: no such record.
            ConflictError: still CREATING, or a workflow that still has versions.
        """
        with self.store.write() as conn:
            record = repo.get(conn, workflow_id, version_name)
            if record is None:
                raise NotFoundError(self._missing(workflow_id, version_name))
            rules.check_deletable(record, 0 if record.is_version else repo.count_versions(conn, workflow_id))
            self._transition(conn, record, WorkflowStatus.DELETED)
            tag_store.delete_all(conn, self._arn(record))

    # -- transition choke point ---------------------------------------------------------------------------

    def transition(
        self, record: WorkflowRecord, target: WorkflowStatus, values: Mapping[str, Any] | None = None
    ) -> bool:
        """Move a record to ``target`` (compare-and-set); ``False`` when it had already moved on."""
        with self.store.write() as conn:
            return self._transition(conn, record, target, values)

    def _transition(
        self, conn: Any, record: WorkflowRecord, target: WorkflowStatus, values: Mapping[str, Any] | None = None
    ) -> bool:
        decision = decide(WORKFLOW_TRANSITIONS, record.label, record.status, target)
        if decision.noop:
            return False
        if not decision.accepted:
            raise ConflictError(decision.reason)
        return repo.compare_and_set_status(
            conn, record.id, record.version_name, current=record.status, target=target, values=values
        )

    # -- helpers in life-cycle order ----------------------------------------------------------------------

    def _new_record(
        self, wid: str, version: str, uuid: str, params: Mapping[str, Any], source_kind: str
    ) -> WorkflowRecord:
        source: dict[str, Any] = {"kind": source_kind}
        if source_kind == "uri":
            source["uri"] = params["definitionUri"]
        elif source_kind == "repository":
            source["repository"] = dict(params["definitionRepository"])
            for member in ("parameterTemplatePath", "readmePath"):
                if params.get(member):
                    source[member] = params[member]
        for member in ("readmeUri", "containerRegistryMapUri"):
            if params.get(member):
                source[member] = params[member]
        template = params.get("parameterTemplate")
        return WorkflowRecord(
            id=wid,
            version_name=version,
            uuid=uuid,
            name=params.get("name") if not version else None,
            status=WorkflowStatus.CREATING,
            creation_time=datetime.now(UTC),
            description=params.get("description"),
            requested_engine=params.get("engine"),
            engine=params.get("engine"),
            requested_main=params.get("main"),
            main=params.get("main"),
            parameter_template=dict(template) if template else None,
            supplied_template=bool(template),
            storage_type=params.get("storageType"),
            storage_capacity=params.get("storageCapacity"),
            accelerators=params.get("accelerators"),
            container_registry_map=params.get("containerRegistryMap"),
            readme_markdown=params.get("readmeMarkdown"),
            readme_path=params.get("readmePath"),
            source=source,
            workflow_bucket_owner_id=params.get("workflowBucketOwnerId"),
        )

    def _submit(self, workflow_id: str, version_name: str) -> None:
        future = self._pool.submit(self._finish_creation, workflow_id, version_name)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def _finish_creation(self, workflow_id: str, version_name: str) -> None:
        with self.store.read() as conn:
            record = repo.get(conn, workflow_id, version_name)
        if record is None or record.status != WorkflowStatus.CREATING:
            return
        try:
            values = self._inspect(record)
        except DefinitionError as exc:
            logger.info("workflow.failed id=%s version=%s: %s", workflow_id, version_name, exc.message)
            self.transition(record, WorkflowStatus.FAILED, {"status_message": exc.message})
            return
        except Exception as exc:  # a parser crash must not leave the record CREATING forever
            logger.exception("workflow.inspect_crashed id=%s", workflow_id)
            message = f"The definition could not be processed: {type(exc).__name__}: {exc}"
            self.transition(record, WorkflowStatus.FAILED, {"status_message": message[:1000]})
            return
        self.transition(record, WorkflowStatus.ACTIVE, values)
        logger.info("workflow.active id=%s version=%s engine=%s", workflow_id, version_name, values.get("engine"))

    def _inspect(self, record: WorkflowRecord) -> dict[str, Any]:
        path = self._archive_path(record.uuid)
        fetched = _sources.fetch(
            record.source,
            blobs=self.blobs,
            repositories_root=self.repositories_root,
            stored_zip=path.read_bytes() if path.exists() else None,
        )
        if not path.exists():
            self._save_archive(record.uuid, fetched.archive)
        inspection = inspect_definition(fetched.archive, engine=record.requested_engine, main=record.requested_main)
        template = record.parameter_template if record.supplied_template else None
        template = template or fetched.parameter_template or inspection.parameter_template
        readme = record.readme_markdown or fetched.readme
        if record.source.get("readmeUri"):
            readme = _sources.read_readme_uri(record.source["readmeUri"], self.blobs)
        registry_map = record.container_registry_map
        if record.source.get("containerRegistryMapUri"):
            registry_map = _read_json_uri(record.source["containerRegistryMapUri"], self.blobs)
        warnings = "; ".join(inspection.warnings) or None
        return {
            "engine": record.requested_engine or inspection.engine,
            "main": inspection.main,
            "digest": rules.digest_of(fetched.archive),
            "parameter_template": template,
            "readme_markdown": readme,
            "container_registry_map": registry_map,
            "definition_repository_details": fetched.repository_details,
            "profiles": list(inspection.profiles),
            "profile_parameter_templates": dict(inspection.profile_parameter_templates),
            "language_version": inspection.language_version,
            "status_message": warnings,
        }

    def _save_archive(self, uuid: str, archive: bytes) -> None:
        path = self._archive_path(uuid)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(archive)
        tmp.replace(path)

    def _archive_path(self, uuid: str) -> Path:
        return self.definitions_dir / f"{uuid}.zip"

    def _arn(self, record: WorkflowRecord) -> str:
        if record.is_version:
            return self.arns.workflow_version(record.id, record.version_name)
        return self.arns.of("workflow", record.id)

    @staticmethod
    def _missing(workflow_id: str, version_name: str) -> str:
        if version_name:
            return f"Workflow {workflow_id} version {version_name} not found"
        return f"Workflow {workflow_id} not found"


def _read_json_uri(uri: str, blobs: ObjectStore) -> dict[str, Any]:
    try:
        data = json.loads(blobs.get_bytes(uri))
    except OmicsdError as exc:
        raise DefinitionError(f"Cannot read {uri}: {exc.message}") from exc
    except ValueError as exc:
        raise DefinitionError(f"{uri} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise DefinitionError(f"{uri} must hold a JSON object")
    return data
