"""``omicsd submit``: package a local workflow, register it (or reuse it by digest), start a run, show progress.

Owns: the ``submit`` subcommand — its arguments, the boto3 ``omics`` client it builds, workflow reuse by
``digest``, input-file normalisation, StartRun, and the end-of-run report (text, ``rich`` or JSON).
Must not: reach into the server's internals. It talks to the server only through the public ``omics`` API,
like any other client; the only omicsd module it reads is :mod:`omicsd.config`, for the default endpoint,
Region and bucket location.

Exit status: 0 when the run was started (or, with ``--wait``, completed); 1 when registration or the run
failed, was cancelled, or the server answered an error; 2 for usage errors (bad flags, unreadable files);
130 when a wait is interrupted (the run goes on).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from omicsd import config
from omicsd.cli import _progress
from omicsd.cli._package import Package, package
from omicsd.config import Settings
from omicsd.errors import OmicsdError, ValidationError

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT_URI = "s3://omicsd-runs/output/"
"""Where runs write when neither ``--output-uri`` nor ``OMICSD_SUBMIT_OUTPUT_URI`` says otherwise."""
REGISTRATION_TIMEOUT = 600.0
"""Seconds to wait for a new workflow to leave CREATING."""


class SubmitFailed(OmicsdError):
    """The workflow could not be registered or the run did not complete."""


@dataclass(frozen=True)
class SubmitOptions:
    """What ``omicsd submit`` was asked to do (one field per flag)."""

    path: Path
    inputs: Path | None = None
    output_uri: str = DEFAULT_OUTPUT_URI
    wait: bool = False
    name: str | None = None
    engine: str | None = None
    main: str | None = None
    run_group_id: str | None = None
    cache_id: str | None = None
    priority: int | None = None
    storage_type: str | None = None
    role_arn: str | None = None
    json: bool = False


@dataclass(frozen=True)
class Registered:
    """The workflow a run is started from."""

    id: str
    arn: str
    digest: str
    reused: bool
    parameter_template: Mapping[str, Any] = field(default_factory=dict)


def add_parser(sub: Any) -> None:
    """Register the ``submit`` subcommand on the ``omicsd`` sub-parsers."""
    parser = sub.add_parser(
        "submit",
        help="register a local workflow and start a run",
        description="Package a workflow file or folder, register it (reusing an ACTIVE workflow with the same "
        "digest), start a run and optionally wait for it. Input values are passed as they are: refer to data "
        "with s3:// URIs (local buckets live under the server's data directory, <data_dir>/buckets).",
    )
    parser.add_argument("path", type=Path, help="a workflow file (.wdl, .cwl, .nf, .zip) or folder")
    parser.add_argument("--inputs", type=Path, help="JSON file of run parameters (plain or 'workflow.'-prefixed)")
    parser.add_argument(
        "--output-uri",
        default=os.environ.get("OMICSD_SUBMIT_OUTPUT_URI", DEFAULT_OUTPUT_URI),
        help=f"s3:// URI runs write under (default $OMICSD_SUBMIT_OUTPUT_URI or {DEFAULT_OUTPUT_URI})",
    )
    parser.add_argument("--wait", action="store_true", help="follow the run until it ends and print its outputs")
    parser.add_argument("--name", help="workflow and run name (default: the file or folder name)")
    parser.add_argument("--engine", choices=["WDL", "CWL", "NEXTFLOW"], help="workflow language (default: detected)")
    parser.add_argument("--main", help="main definition file inside the folder")
    parser.add_argument("--run-group-id", help="run group to start the run in")
    parser.add_argument("--cache-id", help="run cache to use")
    parser.add_argument("--priority", type=int, help="run priority")
    parser.add_argument("--storage-type", choices=["STATIC", "DYNAMIC"], help="run storage type")
    parser.add_argument("--role-arn", help="service role (default arn:aws:iam::<account>:role/omicsd)")
    parser.add_argument(
        "--endpoint-url", help="server URL (default $AWS_ENDPOINT_URL_OMICS, $AWS_ENDPOINT_URL, config)"
    )
    parser.add_argument("--json", action="store_true", help="print one machine-readable JSON summary")
    parser.set_defaults(handler=_handle)


def resolve_endpoint(explicit: str | None, settings: Settings, environ: Mapping[str, str]) -> str:
    """The server URL: the flag, else ``AWS_ENDPOINT_URL_OMICS``/``AWS_ENDPOINT_URL``, else the configured address."""
    from omicsd.cli.env import endpoint_url

    return (
        explicit or environ.get("AWS_ENDPOINT_URL_OMICS") or environ.get("AWS_ENDPOINT_URL") or endpoint_url(settings)
    )


def make_client(
    endpoint_url: str | None, settings: Settings, environ: Mapping[str, str] | None = None, *, service: str = "omics"
) -> Any:
    """A boto3 ``omics`` client for the server, with host prefix injection off.

    Args:
        endpoint_url: ``--endpoint-url``, or ``None`` for the environment / configured default.
        settings: omicsd settings (default address and Region).
        environ: the environment (default ``os.environ``).
        service: the botocore service (``omics``, or ``logs`` for the same server's CloudWatch Logs API).

    Returns:
        The client. Without ``AWS_ACCESS_KEY_ID`` or ``AWS_PROFILE`` it signs with the placeholder
        credentials ``omicsd``/``omicsd`` (the server does not authenticate by default).
    """
    import boto3
    from botocore.config import Config

    env = os.environ if environ is None else environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or settings.identity.region
    placeholder = not env.get("AWS_ACCESS_KEY_ID") and not env.get("AWS_PROFILE")
    return boto3.client(
        service,  # type: ignore[call-overload,unused-ignore]
        endpoint_url=resolve_endpoint(endpoint_url, settings, env),
        region_name=region,
        config=Config(inject_host_prefix=False),
        aws_access_key_id="omicsd" if placeholder else None,
        aws_secret_access_key="omicsd" if placeholder else None,
    )


def submit(
    client: Any,
    options: SubmitOptions,
    settings: Settings,
    out: IO[str],
    *,
    sleep: Callable[[float], None] = time.sleep,
    logs_client: Any = None,
) -> int:
    """Do the whole ``submit``: package, register or reuse, start, and (with ``--wait``) follow the run.

    Args:
        client: A boto3 ``omics`` client.
        logs_client: A boto3 ``logs`` client for the same server, to read the run manifest's estimated cost.
        options: The parsed flags.
        settings: omicsd settings (where local buckets are, for outputs.json).
        out: Where the report goes (stdout).
        sleep: The sleep function used between polls.

    Returns:
        The exit status.

    Raises:
        ValidationError: a usage error (missing path, bad inputs file, unknown ``--main``).
        SubmitFailed: the workflow ended FAILED.
    """
    pkg = package(options.path)
    if options.main and options.main not in pkg.files:
        raise ValidationError(f"--main {options.main} is not in the package (files: {', '.join(pkg.files)})")
    raw_inputs = load_inputs(options.inputs) if options.inputs else {}
    printer = _progress.Printer(out, quiet=options.json)
    registered = register(
        client, pkg, name=options.name, engine=options.engine, main=options.main, sleep=sleep, printer=printer
    )
    parameters = strip_namespaces(raw_inputs, registered.parameter_template)
    run = start_run(client, registered, options, parameters, default_name=pkg.name)
    summary: dict[str, Any] = {
        "workflowId": registered.id,
        "workflowArn": registered.arn,
        "workflowReused": registered.reused,
        "digest": registered.digest,
        "runId": run["id"],
        "runArn": run["arn"],
        "status": run.get("status"),
        "runOutputUri": run.get("runOutputUri"),
    }
    printer.line(f"run {run['id']} started: {run['arn']}")
    if not options.wait:
        printer.summary(summary)
        return 0
    try:
        final = _progress.wait_for_run(client, run["id"], printer.display(), sleep=sleep)
    except KeyboardInterrupt:
        sys.stderr.write(f"\nstopped waiting; run {run['id']} goes on (aws omics cancel-run --id {run['id']})\n")
        return 130
    cost = _progress.estimated_cost(logs_client, final, sleep=sleep) if logs_client is not None else None
    return _progress.report_run(client, final, summary, settings, printer, cost=cost)


def register(
    client: Any,
    pkg: Package,
    *,
    name: str | None = None,
    engine: str | None = None,
    main: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    printer: _progress.Printer | None = None,
) -> Registered:
    """Reuse an ACTIVE workflow whose digest equals the package's, or create one and wait until it is ACTIVE.

    A candidate is reused only if it also has the requested ``engine`` and ``main`` (when given); one named
    ``name`` is preferred.

    Raises:
        SubmitFailed: the new workflow ended FAILED (its ``statusMessage`` is the message) or stayed CREATING.
    """
    reused = find_reusable(client, pkg.digest, name=name, engine=engine, main=main)
    if reused is not None:
        if printer:
            printer.line(f"workflow {reused['id']} reused ({pkg.digest})")
        return _registered(reused, pkg.digest, reused=True)
    kwargs: dict[str, Any] = {"name": name or pkg.name, "definitionZip": pkg.data}
    if engine:
        kwargs["engine"] = engine
    if main:
        kwargs["main"] = main
    created = client.create_workflow(**kwargs)
    workflow = _wait_workflow(client, created["id"], sleep)
    if workflow.get("status") != "ACTIVE":
        message = workflow.get("statusMessage") or "no status message"
        raise SubmitFailed(f"workflow {created['id']} is {workflow.get('status')}: {message}")
    if printer:
        printer.line(f"workflow {created['id']} registered ({pkg.digest})")
        if workflow.get("statusMessage"):
            printer.line(f"  note: {workflow['statusMessage']}")
    return _registered(workflow, pkg.digest, reused=False)


def find_reusable(
    client: Any, digest: str, *, name: str | None = None, engine: str | None = None, main: str | None = None
) -> dict[str, Any] | None:
    """The GetWorkflow answer of an ACTIVE private workflow with this digest (every ListWorkflows page), or None."""
    candidates = [
        item
        for page in client.get_paginator("list_workflows").paginate(type="PRIVATE")
        for item in page.get("items", [])
        if item.get("digest") == digest and item.get("status") == "ACTIVE"
    ]
    candidates.sort(key=lambda i: (i.get("name") != name if name else False, -_timestamp(i.get("creationTime"))))
    for item in candidates:
        workflow = _strip(client.get_workflow(id=item["id"]))
        if workflow.get("status") != "ACTIVE":
            continue
        if engine and workflow.get("engine") != engine:
            continue
        if main and workflow.get("main") != main:
            continue
        return workflow
    return None


def load_inputs(path: Path) -> dict[str, Any]:
    """Read a JSON object of run parameters.

    Raises:
        ValidationError: the file is missing, not JSON, or not a JSON object.
    """
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ValidationError(f"--inputs {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--inputs {path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValidationError(f"--inputs {path}: expected a JSON object of parameter names to values")
    return data


def strip_namespaces(inputs: Mapping[str, Any], template: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Turn miniwdl-style keys (``wf.name``) into HealthOmics parameter names (``name``).

    A key is kept as it is when it has no dot or is itself a parameter of ``template``; otherwise its first
    dotted segment (the workflow name) is dropped.

    Raises:
        ValidationError: two keys name the same parameter (``name`` and ``wf.name``).
    """
    known = template or {}
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in inputs.items():
        plain = key if "." not in key or key in known else key.split(".", 1)[1]
        if plain in out:
            raise ValidationError(f"--inputs: {origin[plain]!r} and {key!r} both set parameter {plain!r}")
        out[plain] = value
        origin[plain] = key
    return out


def start_run(
    client: Any, registered: Registered, options: SubmitOptions, parameters: Mapping[str, Any], *, default_name: str
) -> dict[str, Any]:
    """StartRun with the submit defaults; returns the response without ``ResponseMetadata``."""
    account = registered.arn.split(":")[4] if registered.arn.count(":") >= 5 else "123456789012"
    kwargs: dict[str, Any] = {
        "workflowId": registered.id,
        "roleArn": options.role_arn or f"arn:aws:iam::{account}:role/omicsd",
        "outputUri": options.output_uri,
        "name": options.name or default_name,
        "parameters": dict(parameters),
    }
    optional = {
        "runGroupId": options.run_group_id,
        "cacheId": options.cache_id,
        "priority": options.priority,
        "storageType": options.storage_type,
    }
    kwargs.update({k: v for k, v in optional.items() if v is not None})
    return _strip(client.start_run(**kwargs))


def _handle(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        settings = config.load(config_file=args.config)
        options = SubmitOptions(
            path=args.path,
            inputs=args.inputs,
            output_uri=args.output_uri,
            wait=args.wait,
            name=args.name,
            engine=args.engine,
            main=args.main,
            run_group_id=args.run_group_id,
            cache_id=args.cache_id,
            priority=args.priority,
            storage_type=args.storage_type,
            role_arn=args.role_arn,
            json=args.json,
        )
        client = make_client(args.endpoint_url, settings)
        logs_client = make_client(args.endpoint_url, settings, service="logs") if options.wait else None
        return submit(client, options, settings, sys.stdout, logs_client=logs_client)
    except ValidationError as exc:
        sys.stderr.write(f"omicsd submit: error: {exc}\n")
        return 2
    except SubmitFailed as exc:
        sys.stderr.write(f"omicsd submit: {exc}\n")
        return 1
    except ClientError as exc:
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "request")
        sys.stderr.write(f"omicsd submit: {operation} failed: {error.get('Code')}: {error.get('Message')}\n")
        return 1
    except BotoCoreError as exc:
        sys.stderr.write(f"omicsd submit: cannot reach the server: {exc}\n")
        return 1


def _wait_workflow(client: Any, workflow_id: str, sleep: Callable[[float], None]) -> dict[str, Any]:
    deadline = time.monotonic() + REGISTRATION_TIMEOUT
    interval = _progress.MIN_INTERVAL
    while True:
        workflow = _strip(client.get_workflow(id=workflow_id))
        if workflow.get("status") not in ("CREATING", "UPDATING"):
            return workflow
        if time.monotonic() > deadline:
            raise SubmitFailed(
                f"workflow {workflow_id} is still {workflow.get('status')} after {REGISTRATION_TIMEOUT:g} s"
            )
        sleep(interval)
        interval = min(_progress.MAX_INTERVAL, interval * 1.5)


def _registered(workflow: Mapping[str, Any], digest: str, *, reused: bool) -> Registered:
    return Registered(
        id=str(workflow["id"]),
        arn=str(workflow.get("arn", "")),
        digest=str(workflow.get("digest") or digest),
        reused=reused,
        parameter_template=dict(workflow.get("parameterTemplate") or {}),
    )


def _timestamp(value: Any) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else 0.0


def _strip(response: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}
