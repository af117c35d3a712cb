"""Run caches: the stored record and its rules.

Owns: :class:`RunCacheRecord`, the quota and the cache-entry layout under the cache's S3 location
(``<cacheS3Uri>/<cacheUuid>/...``, as HealthOmics lays entries out). Must not: touch storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MAX_RUN_CACHES = 1000
DEFAULT_BEHAVIOR = "CACHE_ON_FAILURE"


@dataclass(frozen=True)
class RunCacheRecord:
    """A run cache as stored."""

    id: str
    uuid: str
    cache_s3_uri: str
    cache_behavior: str
    status: str
    creation_time: datetime
    name: str | None = None
    description: str | None = None
    cache_bucket_owner_id: str | None = None

    @property
    def entries_uri(self) -> str:
        """Where this cache's entries live: ``<cacheS3Uri>/<cacheUuid>``."""
        return f"{self.cache_s3_uri.rstrip('/')}/{self.uuid}"
