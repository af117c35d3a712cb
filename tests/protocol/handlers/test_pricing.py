from __future__ import annotations

import json
from typing import Any

import pytest

from omicsd.protocol import asgi, model
from omicsd.protocol.handlers import pricing as pricing_handlers
from omicsd.services.pricing import PricingService, load_price_list
from tests.support.boto_asgi import client_for_app
from tests.support.shapes import assert_matches_output_shape


@pytest.fixture
def pricing() -> Any:
    service = PricingService(load_price_list(), region="us-west-2")
    binding = asgi.ServiceBinding(model.load("pricing"), pricing_handlers.handlers(service))
    app = asgi.new(model=model.load("omics"), handlers={}, strict=True, json_services=[binding])
    return client_for_app(app, "pricing")


def test_describe_services(pricing: Any) -> None:
    response = pricing.describe_services(ServiceCode="AmazonOmics")
    assert_matches_output_shape("DescribeServices", response, service="pricing")
    assert response["Services"][0]["ServiceCode"] == "AmazonOmics"
    assert response["FormatVersion"] == "aws_v1"
    assert "resourceType" in response["Services"][0]["AttributeNames"]


def test_get_products_paginated_as_run_analyzer_reads_it(pricing: Any) -> None:
    filters = [
        {"Type": "TERM_MATCH", "Field": "resourceType", "Value": "omics.c.large"},
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-west-2"},
    ]
    prices = []
    for page in pricing.get_paginator("get_products").paginate(ServiceCode="AmazonOmics", Filters=filters):
        assert_matches_output_shape("GetProducts", page, service="pricing")
        for item in page["PriceList"]:
            entry = json.loads(item)
            dimension = next(iter(next(iter(entry["terms"]["OnDemand"].values()))["priceDimensions"].values()))
            prices.append(float(dimension["pricePerUnit"]["USD"]))
    assert prices == [pytest.approx(0.1148)]
    everything = [
        i
        for p in pricing.get_paginator("get_products").paginate(
            ServiceCode="AmazonOmics", PaginationConfig={"PageSize": 25}
        )
        for i in p["PriceList"]
    ]
    assert len(everything) == 2 * len(load_price_list().items)
    with pytest.raises(pricing.exceptions.InvalidParameterException):
        pricing.get_products(ServiceCode="AmazonOmics", FormatVersion="aws_v9")
    with pytest.raises(pricing.exceptions.InvalidNextTokenException):
        pricing.get_products(ServiceCode="AmazonOmics", NextToken="garbage")


def test_get_attribute_values(pricing: Any) -> None:
    response = pricing.get_attribute_values(ServiceCode="AmazonOmics", AttributeName="regionCode")
    assert_matches_output_shape("GetAttributeValues", response, service="pricing")
    assert [v["Value"] for v in response["AttributeValues"]] == ["us-east-1", "us-west-2"]
