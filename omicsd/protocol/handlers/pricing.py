"""Wire mapping of the Price List operations omicsd serves (json-1.1, ``AWSPriceListService.*``).

Owns: turning parsed ``pricing`` members into :class:`~omicsd.services.pricing.PricingService` calls and its
pages into output members.
Must not: hold price-list semantics (the service does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omicsd.protocol._types import Handler, RequestContext
from omicsd.protocol.handlers._common import compact
from omicsd.services.pricing import FORMAT_VERSION, PricingService, ProductFilter


def handlers(pricing: PricingService) -> dict[str, Handler]:
    """Handlers keyed by ``pricing`` operation name."""

    def describe_services(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        page = pricing.describe_services(
            p.get("ServiceCode"), max_results=p.get("MaxResults"), token=p.get("NextToken")
        )
        return compact({"Services": page.items, "FormatVersion": FORMAT_VERSION, "NextToken": page.next_token})

    def get_attribute_values(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        page = pricing.get_attribute_values(
            p["ServiceCode"], p["AttributeName"], max_results=p.get("MaxResults"), token=p.get("NextToken")
        )
        return compact({"AttributeValues": [{"Value": v} for v in page.items], "NextToken": page.next_token})

    def get_products(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        filters = [ProductFilter(f["Type"], f["Field"], f["Value"]) for f in p.get("Filters") or []]
        page = pricing.get_products(
            p.get("ServiceCode"),
            filters,
            format_version=p.get("FormatVersion"),
            max_results=p.get("MaxResults"),
            token=p.get("NextToken"),
        )
        return compact({"FormatVersion": FORMAT_VERSION, "PriceList": page.items, "NextToken": page.next_token})

    return {
        "DescribeServices": describe_services,
        "GetAttributeValues": get_attribute_values,
        "GetProducts": get_products,
    }
