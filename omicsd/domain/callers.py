"""Who is calling: the principal a request is attributed to.

Owns: :class:`Caller`. Must not: authenticate (the protocol layer only reads the access key a client sent).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """The principal behind a request."""

    account_id: str
    """The account every resource belongs to."""
    principal_arn: str
    """Reported as a run's ``startedBy``."""
    key: str
    """Scope of idempotency keys: the access key ID the client signed with, or ``anonymous``."""
