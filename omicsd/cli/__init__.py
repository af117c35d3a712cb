"""Command line: argument parsing and dispatch only; the work happens in :mod:`omicsd.app`.

Commands:
  ``omicsd serve``   run the API (omics, CloudWatch Logs, Pricing) and the scheduler;
  ``omicsd env``     print the shell exports that point boto3 / the AWS CLI at the server;
  ``omicsd submit``  package a local workflow, register it and start a run (see ``omicsd submit --help``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from omicsd import __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omicsd`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    handler = args.handler
    return int(handler(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omicsd", description="A self-hosted AWS HealthOmics workflow service.")
    parser.add_argument("--version", action="version", version=f"omicsd {__version__}")
    parser.add_argument("--config", help="TOML settings file (default: $OMICSD_CONFIG)")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the API server and the scheduler")
    serve.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8765)")
    serve.add_argument("--data-dir", help="data directory (default ./.omicsd)")
    serve.add_argument("--db", help="SQLAlchemy database URL (default: SQLite in the data directory)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(handler=_serve)

    env = sub.add_parser("env", help="print exports that point boto3 and the AWS CLI at the server")
    env.add_argument("--host", help="server host (default: the configured host)")
    env.add_argument("--port", type=int, help="server port (default: the configured port)")
    env.set_defaults(handler=_env)

    from omicsd.cli import submit

    submit.add_parser(sub)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from omicsd.cli import serve

    return serve.run(args)


def _env(args: argparse.Namespace) -> int:
    from omicsd import config
    from omicsd.cli.env import exports

    settings = config.load({"server": {"host": args.host, "port": args.port}}, config_file=args.config)
    sys.stdout.write(exports(settings))
    return 0
