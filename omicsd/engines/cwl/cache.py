"""CWL task call caching: command-line jobs served from, and recorded for, the run's run cache.

Owns: :class:`JobCache` (what a :class:`~omicsd.engines.cwl._tool.HostCommandLineJob` asks on its worker
thread before it stages anything, and tells once it succeeded), :func:`uncacheable` (the opt-outs) and
:func:`job_key` (a CWL job's :class:`~omicsd.engines._cache.CacheKey`). How outputs are kept in an entry
(``out/...`` files, constant outputs in ``cwl.output.json``) is :mod:`omicsd.engines.cwl._cache_outputs`.

Must not: fail a task or a run (every problem is a logged miss), run commands, or journal anything but the end
of a task a cache entry served.

Key of a job: ``command`` digests the tool's ``baseCommand`` / ``arguments`` and what cwltool evaluated from
them (command line, stdin / stdout / stderr, ``EnvVarRequirement`` variables, ``InitialWorkDirRequirement``
listing) with the run's own paths replaced by placeholders (``$(runtime.outdir)``, ``$(inputs)`` for the
directory of an input, ``$(definition)``; random staging and blank-node names made constant): content is in
``inputs``, names stay in the command. ``definition`` digests the rest of the tool, the requirements and hints
it runs with (without ``DockerRequirement``: that is ``image``, the task's image) and its evaluated resources.
``inputs`` maps each input to the ETag of its file or directory (the ETags of a primary's secondary files under
``<input>/secondaryFiles``), else to the digest of its value with files replaced by their ETags. ``task``
(explanations only) is the job name without its ``_<n>`` suffix plus the tool's path in the definition
(``inline`` for a tool written inside its step).

Opt-outs (logged as ``Task <name>: not cached: <why>``): ``WorkReuse`` with ``enableReuse: false`` (an
expression is evaluated), jobs that update their inputs in place (``InplaceUpdateRequirement``) and tools
without outputs.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omicsd.engines._cache import (
    CacheKey,
    CompletedTask,
    ContentDigests,
    RunCache,
    TaskResources,
    sha256_json,
    value_digest,
)
from omicsd.engines.cwl._cache_outputs import (
    DIRECTORY,
    declared_outputs,
    entry_material,
    file_objects,
    hit_outputs,
    is_object,
    local_path,
)

if TYPE_CHECKING:
    from omicsd.engines.cwl._tasks import Task

logger = logging.getLogger(__name__)

_BLANK_NODE = re.compile(r"_:[0-9A-Fa-f-]{36}")
_STAGING_DIR = re.compile(r"stg[0-9A-Fa-f-]{36}")
_SCATTER_SUFFIX = re.compile(r"_\d+$")


class JobCache:
    """The run's run cache as command-line jobs use it; thread-safe (jobs run on worker threads)."""

    def __init__(self, cache: RunCache, definition_dir: Path) -> None:
        """Serve and record jobs through ``cache``; ``definition_dir`` holds the run's unpacked definition."""
        self.cache = cache
        self.definition_dir = Path(definition_dir).resolve()
        self._keys: dict[str, CacheKey] = {}
        self._lock = threading.Lock()

    def serve(self, job: Any, task: Task) -> dict[str, Any] | None:
        """The outputs of a valid entry for ``job`` (``task`` has then finished as a cache hit), else ``None``.

        ``None`` means: run the job (a miss, logged with its reason, or a job that is not cached).
        """
        name = task.name
        try:
            why = uncacheable(job)
            if why:
                self.cache.skipped(name, why)
                return None
            key = job_key(job, self.definition_dir, self.cache.digests, image=task.requested.image)
        except Exception as exn:
            logger.warning("cache.key_failed task=%s", name, exc_info=True)
            self.cache.miss(name, None, f"the task's key cannot be computed ({type(exn).__name__}: {exn})")
            return None
        with self._lock:
            self._keys[task.task_id] = key
        try:
            hit = self.cache.lookup(key, name, task.directory)
        except Exception:
            logger.warning("cache.lookup_failed task=%s", name, exc_info=True)
            return None
        if hit is None:
            return None
        try:
            outputs = hit_outputs(hit, task.directory, declared_outputs(job.tool_doc))
        except Exception as exn:
            logger.warning("cache.hit_unusable task=%s", name, exc_info=True)
            self.cache.miss(name, key, f"entry {hit.entry.uuid} is invalid: {type(exn).__name__}: {exn}")
            return None
        with self._lock:
            self._keys.pop(task.task_id, None)
        task.served_from_cache(hit.entry.s3uri)
        return outputs

    def record(self, job: Any, task: Task, outputs: Mapping[str, Any]) -> None:
        """Keep a job that ran after a miss and succeeded with ``outputs`` for the export phase."""
        with self._lock:
            key = self._keys.pop(task.task_id, None)
        if key is None:
            return
        try:
            files, file_outputs = entry_material(outputs, job.outdir, task.directory)
            self.cache.record(
                CompletedTask(
                    key=key,
                    task_id=task.task_id,
                    name=task.name,
                    work_dir=str(job.outdir),
                    files=files,
                    outputs=file_outputs,
                    resources=TaskResources(
                        task.cpus, task.memory_gib, task.gpus, task.instance_type, task.requested.image
                    ),
                )
            )
        except Exception:
            logger.warning("cache.record_failed task=%s", task.name, exc_info=True)


def uncacheable(job: Any) -> str:
    """Why ``job`` must not be served from or recorded in a cache (empty when it may)."""
    tool = job.tool_doc
    if tool is None:
        return "its tool is not known"
    reuse, _ = job.get_requirement("WorkReuse")
    if reuse:
        enabled = reuse.get("enableReuse", True)
        if isinstance(enabled, str):
            enabled = job.builder.do_eval(enabled)
        if enabled is False:
            return "WorkReuse enableReuse is false"
    inplace, _ = job.get_requirement("InplaceUpdateRequirement")
    if inplace and inplace.get("inplaceUpdate") is True:
        return "InplaceUpdateRequirement inplaceUpdate is true"
    if not tool.get("outputs"):
        return "the tool declares no outputs"
    return ""


def job_key(job: Any, definition_dir: Path, digests: ContentDigests, *, image: str) -> CacheKey:
    """The cache key of a cwltool command-line job (see the module docstring); ``image`` is the task's.

    Raises:
        Exception: an input file cannot be read.
    """
    tool: Mapping[str, Any] = job.tool_doc
    stable = _Placeholders(job, definition_dir)
    environment, _ = job.get_requirement("EnvVarRequirement")
    variables = sorted(str(item.get("envName")) for item in (environment or {}).get("envDef") or [])
    command = {
        "baseCommand": tool.get("baseCommand"),
        "arguments": tool.get("arguments"),
        "commandLine": list(job.command_line),
        "stdin": job.stdin,
        "stdout": job.stdout,
        "stderr": job.stderr,
        "environment": {name: job.environment.get(name) for name in variables},
        "initialWorkDir": (job.generatefiles or {}).get("listing") or [],
    }
    definition = {
        "tool": {k: v for k, v in tool.items() if k not in ("baseCommand", "arguments", "requirements", "hints")},
        "requirements": _without_image(job.requirements),
        "hints": _without_image(job.hints),
        "resources": {k: v for k, v in job.builder.resources.items() if k != "exitCode"},
    }
    inputs: dict[str, str] = {}
    for name, value in job.builder.job.items():
        if is_object(value) and local_path(value) is not None:
            inputs[name] = _object_digest(value, digests)
            if value.get("secondaryFiles"):
                inputs[f"{name}/secondaryFiles"] = value_digest(_digested(value["secondaryFiles"], digests))
        else:
            inputs[name] = value_digest(_digested(value, digests))
    tool_id = str(stable(tool.get("id") or "")).removeprefix("$(definition)/")
    return CacheKey(
        task=f"{_SCATTER_SUFFIX.sub('', job.name)}/{'inline' if tool_id.startswith('_:') else tool_id}",
        engine=ENGINE,
        command=sha256_json(stable(command)),
        image=image,
        definition=sha256_json(stable(definition)),
        inputs=inputs,
    )


# helpers, in the order the public functions use them


def _engine() -> str:
    try:
        return f"cwltool {metadata.version('cwltool')}"
    except metadata.PackageNotFoundError:
        return "cwltool"


ENGINE = _engine()


class _Placeholders:
    """Replaces a job's run-specific paths (in every string of a JSON value) by stable placeholders."""

    def __init__(self, job: Any, definition_dir: Path) -> None:
        pairs = {
            definition_dir.as_uri(): "$(definition)",
            str(definition_dir): "$(definition)",
            str(job.outdir or ""): "$(runtime.outdir)",
            str(job.tmpdir or ""): "$(runtime.tmpdir)",
            str(job.stagedir or ""): "$(runtime.stagedir)",
        }
        for obj in file_objects(job.builder.job):
            for field in ("path", "location"):
                value = obj.get(field)
                if isinstance(value, str) and not value.startswith("_:"):
                    pairs.setdefault(value.rsplit("/", 1)[0], "$(inputs)")
        unsafe = {"", "/", "file:", "file://"}
        self.pairs = sorted(((k, v) for k, v in pairs.items() if k not in unsafe), key=lambda p: -len(p[0]))

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            for old, new in self.pairs:
                if old in value:
                    value = value.replace(old, new)
            return _STAGING_DIR.sub("stg", _BLANK_NODE.sub("_:", value))
        if isinstance(value, Mapping):
            return {str(k): self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value


def _without_image(requirements: Iterable[Any]) -> list[Any]:
    return [r for r in requirements or [] if not (isinstance(r, Mapping) and r.get("class") == "DockerRequirement")]


def _object_digest(obj: Mapping[str, Any], digests: ContentDigests) -> str:
    local = local_path(obj)
    if local is None:
        keep = ("class", "basename", "contents", "listing")
        return value_digest(_digested({k: obj[k] for k in keep if k in obj}, digests))
    return digests.directory(local) if obj.get("class") == DIRECTORY else digests.file(local)


def _digested(value: Any, digests: ContentDigests) -> Any:
    """``value`` with every File / Directory replaced by its content digest (with its secondary files')."""
    if is_object(value):
        digest = _object_digest(value, digests)
        secondary = value.get("secondaryFiles")
        return {"digest": digest, "secondaryFiles": _digested(secondary, digests)} if secondary else digest
    if isinstance(value, Mapping):
        return {str(k): _digested(v, digests) for k, v in value.items()}
    if isinstance(value, list):
        return [_digested(v, digests) for v in value]
    return value
