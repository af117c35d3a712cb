"""The error hierarchy every layer raises and the protocol layer renders.

Owns: one root, :class:`OmicsdError`, and one subclass per error shape of the botocore ``omics`` model that
omicsd can return. A class's ``code`` is the model's shape name; the HTTP status is *not* kept here: the
protocol layer reads it from the model's ``httpStatusCode`` so the two can never disagree.

Must not: import anything from omicsd (this is the bottom of the dependency graph).

The default message of each class is its docstring, so an error class is a name plus one sentence.
"""

from __future__ import annotations

from typing import Any, ClassVar


class OmicsdError(Exception):
    """An internal error occurred."""

    code: ClassVar[str] = "InternalServerException"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (type(self).__doc__ or type(self).__name__).strip()
        self.details = details
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ValidationError(OmicsdError):
    """The request is not valid."""

    code = "ValidationException"


class NotFoundError(OmicsdError):
    """The resource was not found in the current Region."""

    code = "ResourceNotFoundException"


class ConflictError(OmicsdError):
    """The request conflicts with the current state of the resource."""

    code = "ConflictException"


class QuotaExceededError(OmicsdError):
    """The request exceeds a service quota."""

    code = "ServiceQuotaExceededException"


class AccessDeniedError(OmicsdError):
    """You do not have sufficient access to perform this action."""

    code = "AccessDeniedException"


class ThrottlingError(OmicsdError):
    """The request was denied due to request throttling."""

    code = "ThrottlingException"


class InternalError(OmicsdError):
    """An unexpected error occurred. Try the request again."""

    code = "InternalServerException"


class NotSupportedError(OmicsdError):
    """The operation is not supported by omicsd."""

    code = "NotSupportedOperationException"


class WouldBlockError(OmicsdError):
    """The call would have to wait (for a lock or a connection) where waiting is not allowed; run it elsewhere.

    Raised only inside :meth:`omicsd.store.Store.inline_reads`; never reaches a client.
    """


class DefinitionError(OmicsdError):
    """The workflow definition could not be read or parsed.

    Raised while a workflow is CREATING; the service turns it into status FAILED with the message in
    ``statusMessage`` rather than an API error.
    """

    code = "ValidationException"
