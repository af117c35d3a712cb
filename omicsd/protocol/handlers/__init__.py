"""The operation registry: every implemented ``omics`` operation mapped to its handler.

Operations of the model that are not registered here answer ``NotSupportedOperationException`` naming the
operation (the ASGI layer does that), never a 500.
"""

from __future__ import annotations

from omicsd.protocol._types import Handler
from omicsd.protocol.handlers import batches, configurations, run_caches, run_groups, runs, tags, workflows
from omicsd.services import Services


def build(services: Services) -> dict[str, Handler]:
    """Every handler, keyed by operation name."""
    registry: dict[str, Handler] = {}
    for module in (workflows, runs, run_groups, run_caches, batches, configurations, tags):
        registry.update(module.handlers(services))
    return registry
