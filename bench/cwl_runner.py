"""A cwltool-compatible command line that runs one CWL process through a live omicsd (cwltest's ``--tool``).

Usage: ``python bench/cwl_runner.py [--outdir DIR] [--quiet] [--endpoint-url URL] [--data-dir DIR] TOOL [JOB]``.
Flags cwltest or a suite's ``--test-arg`` may add (``--enable-dev``, ``--debug``...) are accepted and ignored.

Owns: the whole round trip of one conformance job through the public ``omics`` API: package the tool with the
files it references (a deterministic ZIP, so an ACTIVE workflow with the same digest is reused); copy the job's
File and Directory inputs into the server's local bucket (``<buckets>/conformance/<run prefix>/inputs/...``)
and rewrite their locations to ``s3://``; StartRun; wait; turn ``logs/outputs.json`` into the CWL output object
cwltest compares (files copied into ``--outdir``, with ``checksum`` and ``size``); print it as JSON on stdout.

Exit status: 0 when the run COMPLETED; 1 when registration, StartRun or the run failed (the reason on stderr);
33 when the reason is a feature omicsd does not support (cwltest counts it as "unsupported"); 2 for usage
errors; 130 when interrupted (the run is cancelled).

Must not: reach into the server's internals. Besides the API it only writes under the local bucket directory
of the data directory (``OMICSD__SERVER__DATA_DIR`` or ``--data-dir``), as any client of a local bucket may.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from omicsd import config
from omicsd.cli._package import Package, package
from omicsd.cli.submit import SubmitFailed, make_client, register

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNSUPPORTED = 33
"""cwltest's code for "this runner does not support a feature the test needs"."""
EXIT_INTERRUPTED = 130
BUCKET = "conformance"
"""The local bucket inputs and outputs go through."""
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "DELETED"})
ROLE_ARN = "arn:aws:iam::123456789012:role/omicsd-conformance"
_UNSUPPORTED = re.compile(
    r"unsupported|not supported|no support for|is required to run this tool|the main CWL process is an? \w+; expected",
    re.IGNORECASE,
)
_DOCUMENT_SUFFIXES = (".cwl", ".yml", ".yaml", ".json")
_MAX_REFERENCE = 512
_MAX_SIBLINGS = 50


class RunnerError(Exception):
    """The job cannot be run; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RunnerOptions:
    """What the runner was asked to do (one field per flag)."""

    tool: str
    job: str | None = None
    outdir: Path = Path(".")
    quiet: bool = False
    endpoint_url: str | None = None
    data_dir: str | None = None
    bucket: str = BUCKET
    timeout: float | None = None


@dataclass(frozen=True)
class Bucket:
    """A local bucket directory and the run-specific prefix this runner writes under."""

    name: str
    root: Path
    """``<buckets>/<name>``."""
    prefix: str

    def uri(self, key: str) -> str:
        """``s3://<name>/<prefix>/<key>``."""
        return f"s3://{self.name}/{self.prefix}/{key}"

    def path(self, key: str) -> Path:
        """The local path of ``uri(key)``."""
        return self.root / self.prefix / key


def main(argv: list[str] | None = None) -> int:
    """Command-line entry (see the module docstring); returns the exit status."""
    parser = argparse.ArgumentParser(prog="cwl_runner", description=__doc__.split("\n\n")[0])
    parser.add_argument("--outdir", type=Path, default=Path("."), help="where output files are copied")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors on stderr")
    parser.add_argument("--endpoint-url", help="server URL (default $AWS_ENDPOINT_URL, then omicsd settings)")
    parser.add_argument("--data-dir", help="the server's data directory (default $OMICSD__SERVER__DATA_DIR)")
    parser.add_argument("--bucket", default=BUCKET, help=f"local bucket for inputs and outputs (default {BUCKET})")
    parser.add_argument("--timeout", type=float, help="give up (and cancel the run) after this many seconds")
    parser.add_argument("tool", help="the CWL process (path or file:// URI, optionally #fragment)")
    parser.add_argument("job", nargs="?", help="the job order (YAML or JSON)")
    args, ignored = parser.parse_known_args(argv)
    options = RunnerOptions(**vars(args))
    if ignored and not args.quiet:
        sys.stderr.write(f"cwl_runner: ignoring {' '.join(ignored)}\n")
    return run(options)


def run(options: RunnerOptions, *, client: Any = None, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run one CWL job through omicsd and print its output object; returns the exit status."""
    from botocore.exceptions import BotoCoreError, ClientError

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        settings = config.load({"server": {"data_dir": options.data_dir}} if options.data_dir else None)
        client = client or make_client(options.endpoint_url, settings)
        outputs = _run(options, client, settings.buckets_path, err)
    except RunnerError as exn:
        err.write(f"cwl_runner: {exn}\n")
        return exn.code
    except ClientError as exn:
        error = exn.response.get("Error", {})
        err.write(f"cwl_runner: {exn.operation_name} failed: {error.get('Code')}: {error.get('Message')}\n")
        return EXIT_FAILED
    except BotoCoreError as exn:
        err.write(f"cwl_runner: cannot reach the server: {exn}\n")
        return EXIT_FAILED
    except OSError as exn:
        err.write(f"cwl_runner: {exn}\n")
        return EXIT_FAILED
    out.write(json.dumps(outputs, indent=2, sort_keys=True) + "\n")
    return EXIT_OK


def is_unsupported(message: str) -> bool:
    """Whether a failure message names a feature omicsd does not support."""
    return bool(_UNSUPPORTED.search(message))


# -- packaging ---------------------------------------------------------------------------------------------


def package_tool(tool: Path) -> tuple[Package, str]:
    """The definition ZIP of ``tool`` and the files it references, and the tool's path inside it (``main``).

    The archive's root is the deepest folder holding every referenced file, so sibling references keep working.
    """
    files = reference_closure(tool)
    root = Path(os.path.commonpath([str(path.parent) for path in files]))
    with tempfile.TemporaryDirectory(prefix="cwl-runner-") as scratch:
        folder = Path(scratch) / (re.sub(r"[^\w.-]", "_", tool.stem) or "workflow")
        for path in files:
            target = folder / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        return package(folder), _normalized(tool).relative_to(root).as_posix()


def reference_closure(tool: Path) -> set[Path]:
    """``tool`` and every file its documents reference by a relative path, transitively.

    Any string value naming an existing file next to the document counts (``run:``, ``$import``, ``$include``,
    ``location``, type references with a ``#fragment``), and so does every file under a Directory object's
    location. Absolute paths and URIs are not followed.
    """
    found: set[Path] = set()
    todo = [_normalized(tool)]
    while todo:
        document = todo.pop()
        if document in found:
            continue
        found.add(document)
        if document.suffix.lower() not in _DOCUMENT_SUFFIXES:
            continue
        try:
            data = _load_yaml(document.read_text())
        except Exception:
            logger.debug("runner.unparsed_reference path=%s", document, exc_info=True)
            continue
        for reference, is_directory in _references(data):
            target = _normalized(document.parent / reference)
            if target.is_file():
                todo.append(target)
            elif is_directory and target.is_dir():
                found.update(path for path in target.rglob("*") if path.is_file())
    return found


def _references(data: Any, directory: bool = False) -> Iterator[tuple[str, bool]]:
    if isinstance(data, Mapping):
        is_directory = data.get("class") == "Directory"
        for key, value in data.items():
            yield from _references(value, is_directory and key in ("location", "path"))
    elif isinstance(data, list):
        for item in data:
            yield from _references(item)
    elif isinstance(data, str) and 0 < len(data) < _MAX_REFERENCE and "\n" not in data:
        reference = unquote(data.split("#", 1)[0])
        if reference and reference not in (".", "..") and "://" not in data and not os.path.isabs(reference):
            yield reference, directory


# -- inputs ------------------------------------------------------------------------------------------------


def rewrite_inputs(job: Mapping[str, Any], base: Path, bucket: Bucket) -> dict[str, Any]:
    """The job with every local File/Directory copied into ``bucket`` and its location made ``s3://``.

    Relative locations resolve against ``base`` (the job file's folder). ``secondaryFiles``, nested records and
    arrays are rewritten too; a File given by ``contents`` stays inline; a Directory literal with a ``listing``
    becomes a real folder in the bucket. Files next to an input File that share its name up to the first dot
    are copied along, so secondary files a tool expects beside it are found.

    Raises:
        RunnerError: an input file or folder does not exist.
    """
    copier = _Copier(bucket)
    return {str(key): copier.value(value, base) for key, value in job.items()}


class _Copier:
    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self.literals = 0

    def value(self, value: Any, base: Path) -> Any:
        if isinstance(value, Mapping):
            if value.get("class") == "File":
                return self.file(value, base)
            if value.get("class") == "Directory":
                return self.directory(value, base)
            return {str(k): self.value(v, base) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(item, base) for item in value]
        return value

    def file(self, obj: Mapping[str, Any], base: Path) -> dict[str, Any]:
        out = {str(k): v for k, v in obj.items() if k != "path"}
        source = _source(obj, base)
        if source is not None:
            out["location"] = self.copy(source, with_siblings=True)
        elif "path" in obj:
            out.setdefault("location", obj["path"])
        if isinstance(obj.get("secondaryFiles"), list):
            out["secondaryFiles"] = [self.value(item, base) for item in obj["secondaryFiles"]]
        return out

    def directory(self, obj: Mapping[str, Any], base: Path) -> dict[str, Any]:
        out = {str(k): v for k, v in obj.items() if k != "path"}
        source = _source(obj, base)
        if source is not None:
            out["location"] = self.copy(source)
            out.pop("listing", None)
        elif obj.get("listing"):
            self.literals += 1
            key = f"literals/{self.literals}/{obj.get('basename') or 'directory'}"
            self.populate(self.bucket.path(key), obj["listing"], base)
            out["location"] = self.bucket.uri(key) + "/"
            out.pop("listing")
        return out

    def copy(self, source: Path, *, with_siblings: bool = False) -> str:
        key = "inputs/" + str(source).lstrip("/")
        target = self.bucket.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
            return self.bucket.uri(key) + "/"
        if not source.is_file():
            raise RunnerError(f"input not found: {source}")
        shutil.copyfile(source, target)
        if with_siblings:
            for sibling in _siblings(source):
                shutil.copyfile(sibling, target.parent / sibling.name)
        return self.bucket.uri(key)

    def populate(self, folder: Path, listing: Iterable[Any], base: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for item in listing:
            if not isinstance(item, Mapping):
                continue
            source = _source(item, base)
            name = str(item.get("basename") or (source.name if source else "literal"))
            if item.get("class") == "Directory":
                if source is not None:
                    shutil.copytree(source, folder / name, dirs_exist_ok=True)
                else:
                    self.populate(folder / name, item.get("listing") or [], base)
            elif source is not None:
                if not source.is_file():
                    raise RunnerError(f"input not found: {source}")
                shutil.copyfile(source, folder / name)
            else:
                (folder / name).write_text(str(item.get("contents") or ""))


def _source(obj: Mapping[str, Any], base: Path) -> Path | None:
    """The local path a File/Directory object names, or None (a literal, or a non-file URI)."""
    location = obj.get("location", obj.get("path"))
    if not isinstance(location, str) or not location or location.startswith("_:"):
        return None
    if location.startswith("file://"):
        return _normalized(Path(url2pathname(urlsplit(location).path)))
    if "://" in location:
        return None
    return _normalized(base / unquote(location))


def _siblings(path: Path) -> list[Path]:
    stem = path.name.split(".", 1)[0]
    found = [p for p in sorted(path.parent.iterdir()) if p.name.startswith(f"{stem}.") and p != path and p.is_file()]
    return found[:_MAX_SIBLINGS] if stem else []


# -- outputs -----------------------------------------------------------------------------------------------


def build_outputs(
    summary: Mapping[str, Any],
    *,
    run_output_uri: str,
    buckets_root: Path,
    outdir: Path,
    namespaces: Iterable[str] = (),
    secondary_patterns: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The CWL output object of a COMPLETED run, from its ``outputs.json`` body.

    URIs under ``<run_output_uri>/out/`` are copied to the same relative place under ``outdir`` and become
    File objects (``location``, ``path``, ``basename``, ``size``, ``checksum``; files exported beside a file
    are its ``secondaryFiles``, ordered by the output's patterns) or, when they end in ``/``, Directory objects
    with a deep ``listing``. Other values are kept. Keys lose their ``<namespace>.`` prefix.
    """
    base = run_output_uri.rstrip("/") + "/out/"
    spaces = [n for n in namespaces if n]
    patterns = secondary_patterns or {}
    result: dict[str, Any] = {}
    for key, value in summary.items():
        name = _short_key(str(key), spaces)
        result[name] = _output(value, base, buckets_root, outdir, patterns.get(name, []))
    return result


def _output(value: Any, base: str, buckets_root: Path, outdir: Path, patterns: list[str]) -> Any:
    if isinstance(value, str) and value.startswith(base):
        source = _bucket_path(buckets_root, value)
        target = outdir / value[len(base) :].rstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if value.endswith("/"):
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
            return directory_object(target)
        shutil.copyfile(source, target)
        order = [_substitute(source.name, p) for p in patterns if "$(" not in p and "${" not in p]
        others = [p for p in source.parent.iterdir() if p.name != source.name]
        others.sort(key=lambda p: (order.index(p.name) if p.name in order else len(order), p.name))
        secondary: list[dict[str, Any]] = []
        for other in others:
            copy = target.parent / other.name
            if other.is_dir():
                shutil.copytree(other, copy, dirs_exist_ok=True)
                secondary.append(directory_object(copy))
            else:
                shutil.copyfile(other, copy)
                secondary.append(file_object(copy))
        obj = file_object(target)
        if secondary:
            obj["secondaryFiles"] = secondary
        return obj
    if isinstance(value, list):
        return [_output(item, base, buckets_root, outdir, patterns) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _output(v, base, buckets_root, outdir, []) for k, v in value.items()}
    return value


def file_object(path: Path) -> dict[str, Any]:
    """A CWL File object for a local file, with its SHA-1 ``checksum`` and ``size``."""
    sha1 = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha1.update(block)
    return {
        "class": "File",
        "location": path.resolve().as_uri(),
        "path": str(path.resolve()),
        "basename": path.name,
        "size": path.stat().st_size,
        "checksum": f"sha1${sha1.hexdigest()}",
    }


def directory_object(path: Path) -> dict[str, Any]:
    """A CWL Directory object for a local folder, with a deep ``listing`` sorted by name."""
    listing = [directory_object(p) if p.is_dir() else file_object(p) for p in sorted(path.iterdir())]
    return {
        "class": "Directory",
        "location": path.resolve().as_uri(),
        "path": str(path.resolve()),
        "basename": path.name,
        "listing": listing,
    }


def output_secondary_patterns(document: Any, folder: Path) -> dict[str, list[str]]:
    """Output name → its ``secondaryFiles`` patterns, from the process (or, for a workflow output without any,
    from the step output its ``outputSource`` names)."""
    if not isinstance(document, Mapping):
        return {}
    steps = _entries(document.get("steps"))
    found: dict[str, list[str]] = {}
    for name, entry in _entries(document.get("outputs")).items():
        patterns = _patterns(entry.get("secondaryFiles"))
        source = entry.get("outputSource")
        if not patterns and isinstance(source, str) and "/" in source:
            step_name, _, step_output = source.lstrip("#").rpartition("/")
            process = steps.get(step_name, {}).get("run")
            if isinstance(process, str):
                try:
                    process = _load_yaml((folder / process.split("#", 1)[0]).read_text())
                except Exception:
                    process = None
            if isinstance(process, Mapping):
                patterns = _patterns(_entries(process.get("outputs")).get(step_output, {}).get("secondaryFiles"))
        found[name] = patterns
    return found


def _entries(section: Any) -> dict[str, Mapping[str, Any]]:
    """A ``inputs``/``outputs``/``steps`` section (map or list form) as name → entry."""
    if isinstance(section, Mapping):
        return {str(k): v if isinstance(v, Mapping) else {"type": v} for k, v in section.items()}
    if isinstance(section, list):
        return {str(e["id"]).lstrip("#").rsplit("/", 1)[-1]: e for e in section if isinstance(e, Mapping) and "id" in e}
    return {}


def _patterns(secondary: Any) -> list[str]:
    items = secondary if isinstance(secondary, list) else [secondary] if secondary else []
    patterns = [item.get("pattern") if isinstance(item, Mapping) else item for item in items]
    return [p for p in patterns if isinstance(p, str) and p]


def _substitute(basename: str, pattern: str) -> str:
    """A secondary file's name: each leading ``^`` drops one extension, the rest is appended."""
    while pattern.startswith("^"):
        basename = basename.rsplit(".", 1)[0] if "." in basename else basename
        pattern = pattern[1:]
    return basename + pattern


def namespaces_of(tool: Path, document: Any) -> list[str]:
    """Candidate ``outputs.json`` key prefixes for ``tool``: its ``id``, ``main`` (packed), its file stem."""
    names: list[str] = []
    if isinstance(document, Mapping):
        ident = document.get("id")
        if isinstance(ident, str):
            names.append(re.split(r"[/#]", ident.rstrip("/"))[-1].removesuffix(".cwl"))
        if "$graph" in document:
            names.append("main")
    names += [tool.name.removesuffix(".cwl"), tool.stem]
    return list(dict.fromkeys(names))


def _short_key(key: str, namespaces: list[str]) -> str:
    for namespace in namespaces:
        if key.startswith(namespace + "."):
            return key[len(namespace) + 1 :]
    return key.split(".", 1)[1] if "." in key else key


# -- the run -----------------------------------------------------------------------------------------------


def _run(options: RunnerOptions, client: Any, buckets_root: Path, err: IO[str]) -> dict[str, Any]:
    def say(line: str) -> None:
        if not options.quiet:
            err.write(f"cwl_runner: {line}\n")

    reference, _, fragment = options.tool.partition("#")
    tool = _local_path(reference)
    if not tool.is_file():
        raise RunnerError(f"{options.tool}: no such file", EXIT_USAGE)
    if fragment not in ("", "main"):
        message = f"{options.tool}: running one process (#{fragment}) of a document is not supported"
        raise RunnerError(message, EXIT_UNSUPPORTED)
    job_path = _local_path(options.job) if options.job else None
    job = _load_job(job_path) if job_path else {}
    try:
        document = _load_yaml(tool.read_text())
    except Exception:
        document = None  # the server reports what is wrong with it
    pkg, main = package_tool(tool)
    try:
        registered = register(client, pkg, name=pkg.name, engine="CWL", main=main)
    except SubmitFailed as exn:
        raise RunnerError(str(exn), EXIT_UNSUPPORTED if is_unsupported(str(exn)) else EXIT_FAILED) from exn
    say(f"workflow {registered.id} {'reused' if registered.reused else 'registered'} ({main})")
    bucket = Bucket(options.bucket, buckets_root / options.bucket, f"{pkg.name}-{uuid.uuid4().hex[:12]}")
    parameters = rewrite_inputs(job, job_path.parent if job_path else Path.cwd(), bucket)
    unknown = sorted(set(parameters) - set(registered.parameter_template))
    if unknown:
        say(f"not an input of {main}, dropped: {', '.join(unknown)}")
    response = client.start_run(
        workflowId=registered.id,
        roleArn=ROLE_ARN,
        name=pkg.name,
        outputUri=bucket.uri("out/"),
        parameters={k: v for k, v in parameters.items() if k not in unknown},
    )
    say(f"run {response['id']} started")
    final = _wait(client, str(response["id"]), options.timeout)
    if final["status"] != "COMPLETED":
        message = final.get("statusMessage") or final.get("failureReason") or "no status message"
        code = EXIT_UNSUPPORTED if is_unsupported(str(message)) else EXIT_FAILED
        raise RunnerError(f"run {final['id']} {final['status']}: {message}", code)
    run_output_uri = str(final["runOutputUri"])
    summary_path = _bucket_path(buckets_root, run_output_uri.rstrip("/") + "/logs/outputs.json")
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    options.outdir.mkdir(parents=True, exist_ok=True)
    return build_outputs(
        summary,
        run_output_uri=run_output_uri,
        buckets_root=buckets_root,
        outdir=options.outdir.resolve(),
        namespaces=namespaces_of(tool, document),
        secondary_patterns=output_secondary_patterns(document, tool.parent),
    )


def _wait(client: Any, run_id: str, timeout: float | None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout if timeout else None
    interval = 0.05
    try:
        while True:
            run: dict[str, Any] = client.get_run(id=run_id)
            if run.get("status") in TERMINAL:
                return run
            if deadline is not None and time.monotonic() > deadline:
                client.cancel_run(id=run_id)
                raise RunnerError(f"run {run_id} did not finish within {timeout:g} s; cancelled")
            time.sleep(interval)
            interval = min(0.5, interval * 1.5)
    except KeyboardInterrupt:
        client.cancel_run(id=run_id)
        raise RunnerError(f"interrupted; run {run_id} cancelled", EXIT_INTERRUPTED) from None


def _load_job(path: Path) -> dict[str, Any]:
    try:
        data = _load_yaml(path.read_text())
    except OSError as exn:
        raise RunnerError(f"{path}: {exn.strerror or exn}", EXIT_USAGE) from exn
    except Exception as exn:
        raise RunnerError(f"{path}: not a YAML or JSON job order ({exn})") from exn
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise RunnerError(f"{path}: the job order is not a mapping of input names to values")
    return dict(data)


def _load_yaml(text: str) -> Any:
    from ruamel.yaml import YAML  # delay heavy import

    return YAML(typ="safe", pure=True).load(text)


def _local_path(reference: str) -> Path:
    if reference.startswith("file://"):
        return _normalized(Path(url2pathname(urlsplit(reference).path)))
    return _normalized(Path(reference))


def _bucket_path(buckets_root: Path, uri: str) -> Path:
    split = urlsplit(uri)
    return buckets_root / split.netloc / unquote(split.path).lstrip("/")


def _normalized(path: Path) -> Path:
    return Path(os.path.normpath(os.path.abspath(path)))


if __name__ == "__main__":
    raise SystemExit(main())
