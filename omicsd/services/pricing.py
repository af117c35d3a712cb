"""HealthOmics prices: the Price List API answers (DescribeServices, GetProducts) and run cost estimates.

Owns: :class:`PriceList` (the price list omicsd ships in ``omicsd/data/pricing/omics.json``, in the AWS Price
List format, for Region ``us-east-1``; see the README next to it for its source and date),
:class:`PricingService` (the ``AWSPriceListService`` reads) and :func:`estimate_run_cost` /
:func:`estimate_run_costs` (what a run would cost on HealthOmics: every task's instance type for its running
time, billed per second with a 60-second minimum, plus run storage for the run's running time — STATIC at its
capacity, DYNAMIC at its largest measured size, an upper bound of the average HealthOmics bills).

omicsd serves its own configured Region with the ``us-east-1`` prices when the list has no entry for it, so
tools that look prices up by the Region in a run's ARN (aws-healthomics-tools ``run_analyzer``) find them.
Must not: fetch prices from the network or know the wire format.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from omicsd.domain.pagination import decode_token, encode_token
from omicsd.domain.runs import RunRecord
from omicsd.domain.tasks import TaskRecord
from omicsd.errors import ValidationError

logger = logging.getLogger(__name__)

SERVICE_CODE = "AmazonOmics"
FORMAT_VERSION = "aws_v1"
BASE_REGION = "us-east-1"
STATIC_STORAGE = "Run Storage"
DYNAMIC_STORAGE = "Dynamic Run Storage"
MIN_BILLED_SECONDS = 60
DEFAULT_STATIC_GIB = 1200
GIB = 1024**3
_FILTER_TYPES = ("TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF")


class InvalidPriceQueryError(ValidationError):
    """One or more parameters had an invalid value."""

    code = "InvalidParameterException"


class InvalidNextTokenError(ValidationError):
    """The pagination token is invalid. Try again without a pagination token."""

    code = "InvalidNextTokenException"


@dataclass(frozen=True)
class PriceList:
    """A service's products in the AWS Price List format (each item: product, terms, serviceCode, ...)."""

    service_code: str
    publication_date: str
    items: tuple[Mapping[str, Any], ...]

    def for_region(self, region: str) -> PriceList:
        """This list plus copies of the ``us-east-1`` items for ``region`` when the list has none for it."""
        if not region or any(_attributes(i).get("regionCode") == region for i in self.items):
            return self
        copies = []
        for item in self.items:
            if _attributes(item).get("regionCode") != BASE_REGION:
                continue
            clone = copy.deepcopy(dict(item))
            clone["product"]["attributes"]["regionCode"] = region
            clone["product"]["attributes"]["location"] = f"{region} (priced as {BASE_REGION})"
            copies.append(clone)
        return PriceList(self.service_code, self.publication_date, self.items + tuple(copies))

    def hourly(self, resource_type: str, region: str = BASE_REGION) -> float | None:
        """The on-demand USD price per unit (instance-hour or GB-hour) of a resource type, if listed."""
        for wanted in (region, BASE_REGION):
            for item in self.items:
                attributes = _attributes(item)
                if attributes.get("resourceType") == resource_type and attributes.get("regionCode") == wanted:
                    return _usd(item)
        return None


@functools.cache
def load_price_list() -> PriceList:
    """The price list shipped with omicsd (``omicsd/data/pricing/omics.json``), loaded once."""
    text = resources.files("omicsd").joinpath("data/pricing/omics.json").read_text(encoding="utf-8")
    document = json.loads(text)
    return PriceList(
        service_code=document.get("offerCode", SERVICE_CODE),
        publication_date=document.get("publicationDate", ""),
        items=tuple(document["products"]),
    )


@dataclass(frozen=True)
class ProductFilter:
    """One ``Filters`` entry of GetProducts."""

    type: str
    field: str
    value: str


@dataclass(frozen=True)
class PricePage:
    """A page of GetProducts (``items`` are JSON strings) or DescribeServices / GetAttributeValues."""

    items: list[Any]
    next_token: str | None


class PricingService:
    """The Price List reads for the services omicsd prices (HealthOmics only)."""

    def __init__(self, prices: PriceList, *, region: str = BASE_REGION) -> None:
        """Serve ``prices``, extended to ``region`` (omicsd's own) with the ``us-east-1`` prices if needed."""
        self.prices = prices.for_region(region)

    def describe_services(
        self, service_code: str | None = None, *, max_results: int | None = None, token: str | None = None
    ) -> PricePage:
        """DescribeServices: ``{"ServiceCode", "AttributeNames"}`` of each service (one, or none if unknown)."""
        services = []
        if service_code in (None, self.prices.service_code):
            names = sorted({name for item in self.prices.items for name in _attributes(item)})
            services.append({"ServiceCode": self.prices.service_code, "AttributeNames": names})
        return _page(services, {"op": "services", "code": service_code}, max_results, token)

    def get_attribute_values(
        self, service_code: str, attribute: str, *, max_results: int | None = None, token: str | None = None
    ) -> PricePage:
        """GetAttributeValues: the distinct values of one product attribute, sorted."""
        values: set[str] = set()
        if service_code == self.prices.service_code:
            values = {str(v) for item in self.prices.items if (v := _attributes(item).get(attribute)) is not None}
        filters = {"op": "values", "code": service_code, "attribute": attribute}
        return _page(sorted(values), filters, max_results, token)

    def get_products(
        self,
        service_code: str | None,
        filters: Sequence[ProductFilter] = (),
        *,
        format_version: str | None = None,
        max_results: int | None = None,
        token: str | None = None,
    ) -> PricePage:
        """GetProducts: the matching price list items, each as a JSON string.

        Raises:
            InvalidPriceQueryError: an unknown format version or filter type, or no service code.
            InvalidNextTokenError: a malformed token or one issued for other arguments.
        """
        if not service_code:
            raise InvalidPriceQueryError("ServiceCode is required.")
        if format_version not in (None, FORMAT_VERSION):
            raise InvalidPriceQueryError(f"FormatVersion {format_version} is not supported; use {FORMAT_VERSION}.")
        for f in filters:
            if f.type not in _FILTER_TYPES:
                raise InvalidPriceQueryError(f"Filter type {f.type} is not one of {', '.join(_FILTER_TYPES)}.")
        matched: list[Any] = []
        if service_code == self.prices.service_code:
            matched = [
                json.dumps(item, separators=(",", ":"))
                for item in self.prices.items
                if all(_matches(item, f) for f in filters)
            ]
        key = {"op": "products", "code": service_code, "filters": [[f.type, f.field, f.value] for f in filters]}
        return _page(matched, key, max_results, token)


@dataclass(frozen=True)
class RunCost:
    """What a run would cost on HealthOmics, in USD."""

    total: float
    storage: float
    tasks: dict[str, float] = field(default_factory=dict)
    """Task ID → cost of that attempt."""


def estimate_run_costs(
    run: RunRecord, tasks: Sequence[TaskRecord], *, prices: PriceList | None = None, region: str = BASE_REGION
) -> RunCost:
    """The estimated HealthOmics cost of a run, per task and for its run storage.

    Args:
        run: The run (its start/stop times, storage type, capacity and largest measured size).
        tasks: Its task attempts; cache hits and attempts that never started cost nothing.
        prices: The price list (default: the one omicsd ships).
        region: Whose prices to use (falls back to ``us-east-1``).
    """
    prices = prices or load_price_list()
    task_costs: dict[str, float] = {}
    for task in tasks:
        seconds = task_running_seconds(task)
        rate = prices.hourly(task.instance_type, region) if task.instance_type else None
        if task.cache_hit or not seconds or rate is None:
            task_costs[task.task_id] = 0.0
            continue
        task_costs[task.task_id] = rate * max(MIN_BILLED_SECONDS, seconds) / 3600
    storage = 0.0
    if run.start_time is not None and run.stop_time is not None:
        hours = max(0.0, (run.stop_time - run.start_time).total_seconds()) / 3600
        if run.storage_type == "STATIC":
            gib, rate = float(run.storage_capacity or DEFAULT_STATIC_GIB), prices.hourly(STATIC_STORAGE, region)
        else:
            gib, rate = (run.storage_max_bytes or 0) / GIB, prices.hourly(DYNAMIC_STORAGE, region)
        storage = (rate or 0.0) * gib * hours
    return RunCost(total=storage + sum(task_costs.values()), storage=storage, tasks=task_costs)


def estimate_run_cost(
    run: RunRecord, tasks: Sequence[TaskRecord], *, prices: PriceList | None = None, region: str = BASE_REGION
) -> float:
    """The estimated HealthOmics cost of a run in USD (see :func:`estimate_run_costs`)."""
    return estimate_run_costs(run, tasks, prices=prices, region=region).total


def task_running_seconds(task: TaskRecord) -> float:
    """How long an attempt ran: the driver's measurement, else stop minus start, else 0."""
    measured = (task.metrics or {}).get("running_seconds")
    if isinstance(measured, int | float) and measured > 0:
        return float(measured)
    if task.start_time is not None and task.stop_time is not None:
        return max(0.0, (task.stop_time - task.start_time).total_seconds())
    return 0.0


# -- helpers ----------------------------------------------------------------------------------------------------


def _attributes(item: Mapping[str, Any]) -> Mapping[str, Any]:
    product = item.get("product") or {}
    attributes: Mapping[str, Any] = product.get("attributes") or {}
    return attributes


def _usd(item: Mapping[str, Any]) -> float | None:
    for term in (item.get("terms") or {}).get("OnDemand", {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            usd = (dimension.get("pricePerUnit") or {}).get("USD")
            if usd is not None:
                return float(usd)
    return None


def _field(item: Mapping[str, Any], name: str) -> str | None:
    product = item.get("product") or {}
    if name == "productFamily":
        return product.get("productFamily")
    if name == "sku":
        return product.get("sku")
    if name == "serviceCode":
        return item.get("serviceCode")
    value = _attributes(item).get(name)
    return None if value is None else str(value)


def _matches(item: Mapping[str, Any], f: ProductFilter) -> bool:
    actual = _field(item, f.field)
    if f.type in ("TERM_MATCH", "EQUALS"):
        return actual is not None and actual.lower() == f.value.lower()
    if f.type == "CONTAINS":
        return actual is not None and f.value.lower() in actual.lower()
    choices = {v.strip().lower() for v in f.value.split(",")}
    inside = actual is not None and actual.lower() in choices
    return inside if f.type == "ANY_OF" else not inside


def _page(items: list[Any], filters: Mapping[str, Any], max_results: int | None, token: str | None) -> PricePage:
    start = 0
    if token:
        try:
            after = decode_token(token, filters)
        except ValidationError as exc:
            raise InvalidNextTokenError(exc.message) from None
        if not after or not isinstance(after[0], int):
            raise InvalidNextTokenError()
        start = after[0]
    size = max_results or 100
    chunk = items[start : start + size]
    end = start + len(chunk)
    return PricePage(chunk, encode_token([end], filters) if end < len(items) else None)
