"""miniwdl's call-cache seam over omicsd run caches: WDL task call caching.

Owns: :class:`OmicsdCallCache` (a ``WDL.runtime.cache.CallCache`` subclass; the driver hands it to
``WDL.runtime.run`` as the run's call cache, and it is also registered as the
``miniwdl.plugin.cache_backend`` entry point ``omicsd``), :func:`tracking_calls` (which call a miniwdl
worker thread is running) and :func:`task_key` (a WDL task's :class:`~omicsd.engines._cache.CacheKey`).

Must not: fail a task or a run (every problem is a logged miss), or use miniwdl's own file cache (its
``[call_cache]`` get/put stay off; outside an omicsd driver the class behaves exactly like miniwdl's).

Why the cache backend: miniwdl asks ``CallCache.get()`` for every call before anything else happens and,
on a hit, returns the outputs it gets without evaluating the task at all (task plugins and the container
backend never see it), so outputs come back exactly as they were, non-file values included.
``get()`` is not told which call asks, so :func:`tracking_calls` wraps miniwdl's ``run_local_task`` for the
length of a run to note the call (task, call id, task directory) in a thread-local, the same way
:func:`omicsd.engines.wdl._config.memoized_plugin_lookups` wraps plugin lookups.

On a miss ``get()`` remembers the key; miniwdl calls ``put()`` once the task completed, and the completed
task (its final attempt's ID and resources, output files relative to the task directory, outputs as JSON) is
recorded for the export phase. On a hit the entry's files are copied into the task directory, and the hit is
journaled as TaskCreated + TaskFinished(COMPLETED, cache_hit=True).
"""

from __future__ import annotations

import logging
import os
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import WDL
import WDL.runtime
import WDL.runtime.workflow
from WDL import Env, StdLib, Tree, Type, Value
from WDL.runtime.cache import CallCache, CallCacheAddPaths

from omicsd.engines._cache import (
    CachedFile,
    CacheKey,
    CompletedTask,
    ContentDigests,
    Hit,
    TaskResources,
    sha256_json,
    task_family,
    value_digest,
)
from omicsd.engines.events import COMPLETED, TaskCreated, TaskFinished
from omicsd.engines.wdl import _context

logger = logging.getLogger(__name__)

_IMAGE_KEYS = ("container", "docker")


@dataclass(frozen=True)
class Call:
    """The task call a miniwdl worker thread is running."""

    run_id: str
    """miniwdl's call id (``call-x-3``; the task's name for a bare task run)."""
    task: Tree.Task
    task_dir: str
    """The call's directory (empty when miniwdl picks a timestamped one, which omicsd never asks for)."""


_local = threading.local()


def current_call() -> Call | None:
    """The call running on this thread, while :func:`tracking_calls` is open."""
    call: Call | None = getattr(_local, "call", None)
    return call


@contextmanager
def tracking_calls() -> Iterator[None]:
    """While open, every ``run_local_task`` notes its call for :func:`current_call` (restored afterwards)."""
    modules = (WDL.runtime.workflow, WDL.runtime)
    originals = [(module, module.run_local_task) for module in modules]
    original: Callable[..., Any] = WDL.runtime.task.run_local_task

    def run_local_task(
        cfg: Any, task: Tree.Task, inputs: Any, run_id: str | None = None, run_dir: str | None = None, **kwargs: Any
    ) -> Any:
        previous = current_call()
        here = bool(run_dir) and str(run_dir).rstrip("/").endswith("/.")
        _local.call = Call(run_id or task.name, task, os.path.abspath(str(run_dir)) if here else "")
        try:
            return original(cfg, task, inputs, run_id=run_id, run_dir=run_dir, **kwargs)
        finally:
            _local.call = previous

    for module, _ in originals:
        setattr(module, "run_local_task", run_local_task)  # noqa: B010
    try:
        yield
    finally:
        for module, function in originals:
            setattr(module, "run_local_task", function)  # noqa: B010


class OmicsdCallCache(CallCache):
    """Task call caching over the run's run cache (see the module docstring)."""

    def __init__(self, cfg: Any, logger: logging.Logger) -> None:
        super().__init__(cfg, logger)
        self._keys: dict[str, CacheKey] = {}
        self._keys_lock = threading.Lock()

    def get(self, key: str, inputs: Env.Bindings[Value.Base], output_types: Env.Bindings[Type.Base]) -> Any:
        """The outputs of a valid cache entry for this task call, or ``None`` (a miss, or not ours to answer)."""
        ctx, call = _context.current(), current_call()
        if ctx is None or call is None or ctx.run_cache is None or call.run_id.startswith("download-"):
            return super().get(key, inputs, output_types)
        cache = ctx.run_cache
        name = ctx.task_name(call.task_dir or str(ctx.wdl_root), call.run_id)
        try:
            why = _uncacheable(call)
            if why:
                cache.skipped(name, why)
                return None
            ckey = task_key(call.task, name, inputs, cache.digests)
        except Exception as exn:
            logger.warning("cache.key_failed task=%s", name, exc_info=True)
            cache.miss(name, None, f"the task's key cannot be computed ({type(exn).__name__}: {exn})")
            return None
        with self._keys_lock:
            self._keys[call.task_dir] = ckey
        try:
            hit = cache.lookup(ckey, name, Path(call.task_dir))
        except Exception:
            logger.warning("cache.lookup_failed task=%s", name, exc_info=True)
            return None
        if hit is None:
            return None
        try:
            outputs = _hit_outputs(hit, Path(call.task_dir), output_types)
        except Exception as exn:
            logger.warning("cache.hit_unusable task=%s", name, exc_info=True)
            cache.miss(name, ckey, f"entry {hit.entry.uuid} is invalid: {type(exn).__name__}: {exn}")
            return None
        with self._keys_lock:
            self._keys.pop(call.task_dir, None)
        _journal_hit(ctx, name, hit)
        return outputs

    def put(
        self,
        key: str,
        outputs: Env.Bindings[Value.Base],
        run_dir: str | None = None,
        *,
        inputs: Env.Bindings[Value.Base],
        add_paths: CallCacheAddPaths,
    ) -> None:
        """Record a task call that completed after a miss, for the export phase."""
        super().put(key, outputs, run_dir, inputs=inputs, add_paths=add_paths)
        ctx, call = _context.current(), current_call()
        if ctx is None or call is None or ctx.run_cache is None:
            return
        with self._keys_lock:
            ckey = self._keys.pop(call.task_dir, None)
        attempt = ctx.last_attempt(call.task_dir)
        if ckey is None or attempt is None:
            return
        try:
            files, outputs_json, other = _entry_material(outputs, call.task_dir)
            ctx.run_cache.record(
                CompletedTask(
                    key=ckey,
                    task_id=attempt.task_id,
                    name=attempt.name,
                    work_dir=call.task_dir,
                    files=files,
                    outputs=outputs_json,
                    other_outputs=other,
                    resources=TaskResources(
                        attempt.cpus, attempt.memory_gib, attempt.gpus, attempt.instance_type, attempt.image
                    ),
                )
            )
        except Exception:
            logger.warning("cache.record_failed task=%s", attempt.name, exc_info=True)


def task_key(task: Tree.Task, name: str, inputs: Env.Bindings[Value.Base], digests: ContentDigests) -> CacheKey:
    """The cache key of one call of ``task`` named ``name`` with ``inputs`` (local paths).

    Raises:
        Exception: an input file cannot be read.
    """
    command, definition = _definition_digests(task)
    return CacheKey(
        task=f"{task_family(name)}/{task.name}",
        engine=_ENGINE,
        command=command,
        image=_image(task, inputs),
        definition=definition,
        inputs={binding.name: _input_digest(binding.value, digests) for binding in inputs},
    )


_DEFINITIONS: dict[int, tuple[Tree.Task, str, str]] = {}
"""id(task) → (task, command digest, definition digest): a scatter asks for the same task's parts again and
again. The task is kept with its digests so that a recycled id is never mistaken for it."""


def _definition_digests(task: Tree.Task) -> tuple[str, str]:
    """The ``command`` and ``definition`` components of ``task``'s keys (they depend on the task only)."""
    known = _DEFINITIONS.get(id(task))
    if known is not None and known[0] is task:
        return known[1], known[2]
    command = [_source(task, task.command.pos)] + [_source(task, decl.pos) for decl in task.postinputs]
    definition = {
        "version": task.effective_wdl_version,
        "inputs": [_source(task, decl.pos) for decl in task.inputs or []],
        "outputs": [_source(task, decl.pos) for decl in task.outputs],
        "runtime": {k: _source(task, v.pos) for k, v in sorted(task.runtime.items()) if k not in _IMAGE_KEYS},
    }
    digests = sha256_json(command), sha256_json(definition)
    if len(_DEFINITIONS) >= 1024:
        _DEFINITIONS.clear()
    _DEFINITIONS[id(task)] = (task, *digests)
    return digests


# helpers, in the order get() and put() use them


def _engine() -> str:
    try:
        return f"miniwdl {metadata.version('miniwdl')}"
    except metadata.PackageNotFoundError:
        return "miniwdl"


_ENGINE = _engine()


def _uncacheable(call: Call) -> str:
    if not call.task_dir:
        return "its directory is not known"
    volatile = call.task.meta.get("volatile")
    if volatile is True or getattr(volatile, "value", None) is True:
        return "meta volatile is true"
    if not call.task.outputs:
        return "the task declares no outputs"
    return ""


def _source(task: Tree.Task, pos: Any) -> str:
    """The source text at ``pos``: dedented, trailing blanks and empty lines dropped."""
    lines = str(getattr(task.parent, "source_text", "") or "").splitlines()
    if not lines or pos.line < 1:
        return ""
    if pos.line == pos.end_line:
        excerpt = [lines[pos.line - 1][pos.column - 1 : pos.end_column]]
    else:
        excerpt = [lines[pos.line - 1][pos.column - 1 :], *lines[pos.line : pos.end_line - 1]]
        excerpt.append(lines[pos.end_line - 1][: pos.end_column])
    text = textwrap.dedent("\n".join(excerpt[1:])) if len(excerpt) > 1 else ""
    return "\n".join(line.rstrip() for line in [excerpt[0].strip(), *text.splitlines()] if line.strip())


def _image(task: Tree.Task, inputs: Env.Bindings[Value.Base]) -> str:
    """The image the task's runtime names, evaluated against the inputs where it can be; else its source."""
    expr = next((task.runtime[k] for k in _IMAGE_KEYS if k in task.runtime), None)
    if expr is None:
        return ""
    try:
        stdlib = StdLib.Base(task.effective_wdl_version)
        env = inputs
        for decl in task.inputs or []:
            if not env.has_binding(decl.name) and decl.expr is not None:
                env = env.bind(decl.name, decl.expr.eval(env, stdlib=stdlib).coerce(decl.type))
        value = expr.eval(env, stdlib=stdlib)
        while isinstance(value, Value.Array) and value.value:
            value = value.value[0]
        return str(value.coerce(Type.String()).value)
    except Exception:
        return "expr: " + _source(task, expr.pos)


def _input_digest(value: Value.Base, digests: ContentDigests) -> str:
    if isinstance(value, Value.File):
        return digests.file(value.value)
    if isinstance(value, Value.Directory):
        return digests.directory(value.value)

    def digest(path: Value.File | Value.Directory) -> str:
        return digests.directory(path.value) if isinstance(path, Value.Directory) else digests.file(path.value)

    return value_digest(Value.rewrite_paths(value, digest).json)


def _hit_outputs(hit: Hit, task_dir: Path, output_types: Env.Bindings[Type.Base]) -> Env.Bindings[Value.Base]:
    """The task's outputs from an entry: file names become the copies in ``task_dir``."""
    env = WDL.values_from_json(hit.entry.task.outputs, output_types)
    for decl in output_types:
        if not env.has_binding(decl.name):
            raise ValueError(f"the entry has no output {decl.name!r}")

    def local(path: Value.File | Value.Directory) -> str:
        placed = hit.files.get(path.value)
        if placed is not None:  # lookup() just put it there
            return str(placed)
        target = task_dir / path.value
        if not target.exists():
            if not isinstance(path, Value.Directory):
                raise ValueError(f"the entry has no file {path.value!r}")
            target.mkdir(parents=True)
        return str(target)

    rewritten: Env.Bindings[Value.Base] = Value.rewrite_env_paths(env, local)
    return rewritten


def _journal_hit(ctx: _context.DriverContext, name: str, hit: Hit) -> None:
    resources = hit.entry.task.resources
    task_id = ctx.new_task_id()
    now = time.time()
    ctx.emit(
        TaskCreated(
            task_id=task_id,
            name=name,
            cpus=resources.cpus,
            memory_gib=resources.memory_gib,
            gpus=resources.gpus,
            instance_type=resources.instance_type,
            image=resources.image,
            time=now,
        )
    )
    ctx.emit(TaskFinished(task_id=task_id, status=COMPLETED, time=now, cache_hit=True, cache_s3_uri=hit.entry.s3uri))


def _entry_material(
    outputs: Env.Bindings[Value.Base], task_dir: str
) -> tuple[tuple[CachedFile, ...], dict[str, Any], dict[str, Any]]:
    """Output files (named relative to ``task_dir``), every output as JSON, and the outputs without files."""
    base = os.path.realpath(task_dir)
    files: dict[str, CachedFile] = {}
    names: dict[str, str] = {}

    def name_of(path: Value.File | Value.Directory) -> str:
        real = os.path.realpath(path.value)
        if real in names:
            return names[real]
        relative = os.path.relpath(real, base)
        if relative == ".." or relative.startswith("../"):
            relative = f"external/{sum(n.startswith('external/') for n in names.values())}/{os.path.basename(real)}"
        name = relative
        names[real] = name
        if isinstance(path, Value.Directory):
            for root, _, found in os.walk(real):
                for item in sorted(found):
                    local = os.path.join(root, item)
                    member = f"{name}/{os.path.relpath(local, real)}"
                    files[member] = CachedFile(member, local)
        else:
            files[name] = CachedFile(name, real)
        return name

    named = Value.rewrite_env_paths(outputs, name_of)
    outputs_json: dict[str, Any] = WDL.values_to_json(named)
    other = {b.name: outputs_json[b.name] for b in outputs if not _holds_paths(b.value)}
    return tuple(files.values()), outputs_json, other


def _holds_paths(value: Value.Base) -> bool:
    found = False

    def see(path: Value.File | Value.Directory) -> str:
        nonlocal found
        found = True
        return str(path.value)

    Value.rewrite_paths(value, see)
    return found
