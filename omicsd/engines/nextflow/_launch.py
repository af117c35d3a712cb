"""How the driver starts Nextflow: the run directory layout, the generated config, argv and environment.

Owns: :data:`NOT_INSTALLED_MESSAGE` and :func:`find_executable`, :class:`Layout` (every path the driver
and Nextflow share), :func:`rewrite_mounts` (HealthOmics' ``/mnt/workflow/pubdir`` and
``/mnt/workflow/output`` mapped into the run directory), :func:`config_text`, :func:`command` and
:func:`environment`.

Must not: start processes or talk to the object store.

Published files: HealthOmics pipelines publish under ``/mnt/workflow/pubdir`` (``publishDir`` or an
``outdir`` parameter defaulting to it) and, from Nextflow 25.10, write workflow outputs under
``/mnt/workflow/output``. Those paths cannot be created per run without root, and a config override of
``process.publishDir`` would replace every process's own publish rules. The driver therefore rewrites the
literal prefixes, in the run's own copy of the definition (``.nf``, ``.config`` and ``.groovy`` files) and in
string parameters, to ``<run_dir>/pubdir`` and ``<run_dir>/output``. A path assembled at run time from
pieces (``"/mnt/" + "workflow/pubdir"``) is not seen: its files go where it points (or fail for lack of
permission) and are not exported.

The generated ``omicsd.config`` (passed with ``-c``, so it overrides the pipeline's own config) fixes the
work directory, runs every process with the local executor on the host (container engines off, as omicsd
runs task commands on the host), bounds the executor to the run's CPUs and memory when the spec gives
them, and asks for a raw, tab-separated trace with the columns :data:`TRACE_FIELDS`.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from omicsd.domain.ids import Arns
from omicsd.engines.nextflow._trace import TRACE_FIELDS
from omicsd.engines.nextflow.settings import EngineSettings
from omicsd.engines.spec import RunSpec

logger = logging.getLogger(__name__)

#: Why a NEXTFLOW run cannot start on a host without the launcher.
NOT_INSTALLED_MESSAGE: Final = (
    "The Nextflow engine is not installed on this omicsd host: put the `nextflow` launcher (and "
    "Java 17+) on the server's PATH, with its jar in $NXF_HOME, then start the run again"
)
PUBDIR_MOUNT: Final = "/mnt/workflow/pubdir"
OUTPUT_MOUNT: Final = "/mnt/workflow/output"
REWRITTEN_SUFFIXES: Final = (".nf", ".config", ".groovy")
_MAX_REWRITE_BYTES = 4 << 20
_UNSAFE_IN_GROOVY = set("$\"'\\\n")


@dataclass(frozen=True)
class Layout:
    """Where everything of one Nextflow run lives (all absolute)."""

    run_dir: Path
    definition_dir: Path
    main: Path
    params_file: Path
    config_file: Path
    trace_file: Path
    work_dir: Path
    pubdir: Path
    output_dir: Path
    inputs_dir: Path
    log_file: Path
    console_file: Path
    home_dir: Path
    """``NXF_HOME`` when the environment does not set one and no default installation exists."""

    @classmethod
    def of(cls, run_dir: Path, definition_dir: Path, main: str) -> Layout:
        """The layout of the run in ``run_dir`` whose definition is unpacked in ``definition_dir``."""
        return cls(
            run_dir=run_dir,
            definition_dir=definition_dir,
            main=definition_dir / main,
            params_file=run_dir / "params.json",
            config_file=run_dir / "omicsd.config",
            trace_file=run_dir / "trace.tsv",
            work_dir=run_dir / "work",
            pubdir=run_dir / "pubdir",
            output_dir=run_dir / "output",
            inputs_dir=run_dir / "inputs",
            log_file=run_dir / "nextflow.log",
            console_file=run_dir / "nextflow.out",
            home_dir=run_dir / "nxf-home",
        )

    def mounts(self) -> dict[str, str]:
        """HealthOmics mount point → its directory in this run."""
        return {PUBDIR_MOUNT: str(self.pubdir), OUTPUT_MOUNT: str(self.output_dir)}


def find_executable(path: str | None = None) -> str | None:
    """The ``nextflow`` launcher on ``path`` (default: ``PATH``), or ``None`` when there is none."""
    return shutil.which("nextflow", path=path)


def rewrite_mounts(root: Path, mounts: Mapping[str, str]) -> list[Path]:
    """Replace the mount prefixes in the Nextflow sources under ``root``; returns the files changed."""
    if any(set(target) & _UNSAFE_IN_GROOVY for target in mounts.values()):
        logger.warning("definition.mounts_not_rewritten: the run directory path cannot be quoted in Groovy")
        return []
    changed: list[Path] = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in REWRITTEN_SUFFIXES or path.is_symlink() or not path.is_file():
            continue
        if path.stat().st_size > _MAX_REWRITE_BYTES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        rewritten = rewrite_value(text, mounts)
        if rewritten == text:
            continue
        try:
            path.write_text(rewritten, encoding="utf-8")
        except OSError as exn:
            logger.warning("definition.not_rewritten file=%s: %s", path, exn)
            continue
        changed.append(path)
    return changed


def rewrite_value(value: Any, mounts: Mapping[str, str]) -> Any:
    """``value`` with the mount prefixes replaced in every string it holds (lists and objects too)."""
    if isinstance(value, str):
        for mount, target in mounts.items():
            value = value.replace(mount, target)
        return value
    if isinstance(value, list):
        return [rewrite_value(item, mounts) for item in value]
    if isinstance(value, dict):
        return {key: rewrite_value(item, mounts) for key, item in value.items()}
    return value


def config_text(layout: Layout, *, run_id: str, cpus: int = 0, memory_gib: int = 0) -> str:
    """The generated ``omicsd.config``."""
    lines = [
        f"// omicsd run {run_id}: loaded after the pipeline's own configuration",
        f"workDir = {_quote(layout.work_dir)}",
        f"outputDir = {_quote(layout.output_dir)}",
        "process.executor = 'local'",
        *(f"{engine}.enabled = false" for engine in ("docker", "podman", "singularity", "apptainer", "charliecloud")),
        "trace {",
        "    enabled = true",
        f"    file = {_quote(layout.trace_file)}",
        "    overwrite = true",
        "    raw = true",
        f"    fields = {_quote(','.join(TRACE_FIELDS))}",
        "}",
    ]
    if cpus > 0 or memory_gib > 0:
        lines.append("executor {")
        if cpus > 0:
            lines.append(f"    cpus = {cpus}")
        if memory_gib > 0:
            lines.append(f"    memory = '{memory_gib} GB'")
        lines.append("}")
    return "\n".join(lines) + "\n"


def command(
    executable: str,
    layout: Layout,
    *,
    profiles: Sequence[str] = (),
    weblog_url: str = "",
    prefix: Sequence[str] = (),
) -> list[str]:
    """The argv that runs the pipeline (``prefix`` isolates the network of a RESTRICTED run)."""
    argv = [*prefix, executable, "-log", str(layout.log_file), "-c", str(layout.config_file), "run", str(layout.main)]
    argv += ["-params-file", str(layout.params_file), "-work-dir", str(layout.work_dir)]
    argv += ["-with-trace", str(layout.trace_file)]
    if weblog_url:
        argv += ["-with-weblog", weblog_url]
    if profiles:
        argv += ["-profile", ",".join(profiles)]
    return argv


def environment(
    base: Mapping[str, str],
    spec: RunSpec,
    layout: Layout,
    settings: EngineSettings,
    *,
    home: Path | None = None,
) -> dict[str, str]:
    """Nextflow's environment: ``base`` plus offline mode, a plain log and HealthOmics' run variables.

    ``NXF_HOME`` is kept when ``base`` sets it; otherwise the launcher's default home (``~/.nextflow``) is
    used when it holds an installed framework, else a home inside the run directory.
    """
    env = dict(base)
    env["NXF_OFFLINE"] = "true"
    env["NXF_ANSI_LOG"] = "false"
    env["NXF_DISABLE_CHECK_LATEST"] = "true"
    if not env.get("NXF_HOME"):
        default = (home if home is not None else Path(env.get("HOME") or "~").expanduser()) / ".nextflow"
        if not (default / "framework").is_dir():
            env["NXF_HOME"] = str(layout.home_dir)
    if settings.syntax_version:
        env["NXF_SYNTAX_PARSER"] = settings.syntax_version
    env["AWS_WORKFLOW_RUN"] = Arns(spec.region, spec.account).of("run", spec.run_id)
    env["AWS_WORKFLOW_RUN_ID"] = spec.run_id
    env["AWS_WORKFLOW_RUN_UUID"] = spec.run_uuid
    env.setdefault("AWS_REGION", spec.region)
    return env


def ensure_directories(layout: Layout, env: Mapping[str, str]) -> None:
    """Create the directories Nextflow writes into (and its home when it is the run's own)."""
    for path in (layout.work_dir, layout.pubdir, layout.output_dir):
        path.mkdir(parents=True, exist_ok=True)
    if env.get("NXF_HOME") == str(layout.home_dir):
        layout.home_dir.mkdir(parents=True, exist_ok=True)


def _quote(value: object) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
