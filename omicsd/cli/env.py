"""``omicsd env``: the environment that points unmodified AWS clients at a local server."""

from __future__ import annotations

from omicsd.config import Settings


def endpoint_url(settings: Settings) -> str:
    """The URL clients use to reach the server."""
    host = settings.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.server.port}"


def exports(settings: Settings) -> str:
    """Shell ``export`` lines for boto3, the AWS CLI and tools built on them."""
    lines = [
        f"export AWS_ENDPOINT_URL={endpoint_url(settings)}",
        "export AWS_DISABLE_HOST_PREFIX_INJECTION=true",
        f"export AWS_DEFAULT_REGION={settings.identity.region}",
        f"export AWS_REGION={settings.identity.region}",
        "export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-omicsd}",
        "export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-omicsd}",
    ]
    return "\n".join(lines) + "\n"
