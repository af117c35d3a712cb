"""Log group and stream names, and their ARNs, exactly as HealthOmics reports them.

Owns: the one log group (``/aws/omics/WorkflowLog``), the stream name of every log omicsd writes (run,
engine, task, run manifest, run cache) and the CloudWatch Logs ARN formats GetRun ``logLocation`` and
GetRunTask ``logStream`` return.
Must not: read or write logs (:mod:`omicsd.logs.files` does).
"""

from __future__ import annotations

from omicsd.errors import ValidationError

LOG_GROUP = "/aws/omics/WorkflowLog"
"""The log group every workflow log goes to."""


def run_stream(run_id: str) -> str:
    """Run-level status, task start/stop and import/export steps: ``run/<runId>``."""
    return f"run/{run_id}"


def engine_stream(run_id: str) -> str:
    """The workflow engine's own log: ``run/<runId>/engine``."""
    return f"run/{run_id}/engine"


def task_stream(run_id: str, task_id: str) -> str:
    """A task's stdout and stderr: ``run/<runId>/task/<taskId>``."""
    return f"run/{run_id}/task/{task_id}"


def manifest_stream(run_id: str, run_uuid: str) -> str:
    """The run manifest, written when the run finishes: ``manifest/run/<runId>/<runUuid>``."""
    return f"manifest/run/{run_id}/{run_uuid}"


def run_cache_stream(cache_id: str, cache_uuid: str) -> str:
    """A run cache's log: ``runCache/<runCacheId>/<runCacheUuid>``."""
    return f"runCache/{cache_id}/{cache_uuid}"


def group_arn(region: str, account: str, group: str = LOG_GROUP) -> str:
    """``arn:aws:logs:<region>:<account>:log-group:<group>``."""
    return f"arn:aws:logs:{region}:{account}:log-group:{group}"


def stream_arn(region: str, account: str, group: str, stream: str) -> str:
    """``arn:aws:logs:<region>:<account>:log-group:<group>:log-stream:<stream>``."""
    return f"{group_arn(region, account, group)}:log-stream:{stream}"


def parse_stream_arn(arn: str) -> tuple[str, str, str, str]:
    """Split a log-stream ARN into ``(region, account, group, stream)``.

    Raises:
        ValidationError: not a CloudWatch Logs log-stream ARN.
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "logs"] or not parts[5].startswith("log-group:"):
        raise ValidationError(f"{arn!r} is not a log stream ARN.")
    group, sep, stream = parts[5][len("log-group:") :].partition(":log-stream:")
    if not sep or not group or not stream:
        raise ValidationError(f"{arn!r} is not a log stream ARN.")
    return parts[3], parts[4], group, stream
