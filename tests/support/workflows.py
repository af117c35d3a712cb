"""Test workflow definitions kept under tests/data/workflows, zipped the way users upload them."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data" / "workflows"


def zip_folder(folder: str | Path) -> bytes:
    """ZIP every file below ``folder`` (paths relative to it), as ``zip -r`` inside the folder would."""
    root = DATA / folder if not Path(folder).is_absolute() else Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, str(path.relative_to(root)))
    return buffer.getvalue()


def zip_text(files: dict[str, str]) -> bytes:
    """ZIP in-memory files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def wait_workflow(client: Any, workflow_id: str, version: str | None = None, timeout: float = 60) -> dict[str, Any]:
    """Poll until a workflow (or version) leaves CREATING; returns the last Get response."""
    deadline = time.monotonic() + timeout
    while True:
        if version is None:
            response: dict[str, Any] = client.get_workflow(id=workflow_id)
        else:
            response = client.get_workflow_version(workflowId=workflow_id, versionName=version)
        if response["status"] != "CREATING" or time.monotonic() > deadline:
            return response
        time.sleep(0.02)
