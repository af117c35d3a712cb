"""``omicsd serve``: run the ASGI app under uvicorn until Ctrl-C (or SIGTERM), then stop cleanly.

uvicorn runs on uvloop with the httptools HTTP parser when both are installed (``uvicorn[standard]``, a
dependency) and falls back to asyncio and h11 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import logging

from omicsd import _logging, config

logger = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    """Start the server with the settings the flags, environment and config file give."""
    import uvicorn

    from omicsd.app import build_app

    settings = config.load(
        {
            "server": {"host": args.host, "port": args.port, "data_dir": args.data_dir},
            "store": {"url": args.db},
        },
        config_file=args.config,
    )
    _logging.configure(args.log_level)
    app = build_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.server.host,
            port=settings.server.port,
            log_level=args.log_level,
            access_log=args.log_level == "debug",
            lifespan="on",
            http=pick_implementation("httptools", "h11"),
            loop=pick_implementation("uvloop", "asyncio"),
            timeout_graceful_shutdown=10,
        )
    )
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        pass
    logger.info("omicsd stopped")
    return 0


def pick_implementation(fast: str, fallback: str) -> str:
    """``fast`` when the module of that name imports, else ``fallback`` (uvicorn's names for both)."""
    try:
        importlib.import_module(fast)
    except ImportError:
        return fallback
    return fast
