"""``omicsd submit``: package a local workflow, register it (or reuse it by digest) and start a run."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    """Register the ``submit`` subcommand."""
    parser = sub.add_parser("submit", help="register a local workflow and start a run")
    parser.add_argument("path", help="a workflow file or folder")
    parser.set_defaults(handler=_not_ready)


def _not_ready(args: argparse.Namespace) -> int:
    raise SystemExit("omicsd submit needs run support, which this build does not have yet")
