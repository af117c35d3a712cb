from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from omicsd.domain.instance_types import CPU_FAMILIES, CPU_SIZES, GPU_FAMILIES
from omicsd.domain.runs import RunRecord
from omicsd.domain.states import RunStatus, TaskStatus
from omicsd.domain.tasks import TaskRecord
from omicsd.services.pricing import (
    InvalidNextTokenError,
    InvalidPriceQueryError,
    PricingService,
    ProductFilter,
    estimate_run_cost,
    estimate_run_costs,
    load_price_list,
)

T0 = datetime(2024, 1, 2, 3, 0, 0, tzinfo=UTC)


def _usd(item: str) -> float:
    """The price the way aws-healthomics-tools reads it."""
    entry = json.loads(item)
    on_demand = next(iter(entry["terms"]["OnDemand"].values()))
    dimension = next(iter(on_demand["priceDimensions"].values()))
    return float(dimension["pricePerUnit"]["USD"])


def _term(field: str, value: str) -> ProductFilter:
    return ProductFilter("TERM_MATCH", field, value)


def test_every_omics_instance_type_and_storage_is_priced() -> None:
    prices = load_price_list()
    names = [f"omics.{f}.{s}" for f, _ in CPU_FAMILIES for s, _ in CPU_SIZES]
    names += [f"omics.{f}.{size}" for f, sizes in GPU_FAMILIES.items() for size, *_ in sizes]
    for name in [*names, "Run Storage", "Dynamic Run Storage"]:
        price = prices.hourly(name)
        assert price is not None and price > 0, name
    assert prices.hourly("omics.c.large") == pytest.approx(0.1148)
    assert prices.hourly("omics.m.xlarge") == pytest.approx(0.2592)
    assert prices.hourly("omics.r.large") == pytest.approx(0.1701)
    assert prices.hourly("Run Storage") == pytest.approx(0.0001918)
    assert prices.hourly("Dynamic Run Storage") == pytest.approx(0.000411)
    assert prices.hourly("omics.c.xlarge") == pytest.approx(2 * prices.hourly("omics.c.large"), rel=1e-3)  # type: ignore[operator]
    assert prices.hourly("omics.x.large") is None


def test_get_products_term_match_as_run_analyzer_asks() -> None:
    service = PricingService(load_price_list())
    page = service.get_products(
        "AmazonOmics", [_term("resourceType", "omics.c.large"), _term("regionCode", "us-east-1")]
    )
    assert len(page.items) == 1 and page.next_token is None
    assert isinstance(page.items[0], str) and _usd(page.items[0]) == pytest.approx(0.1148)
    storage = service.get_products(
        "AmazonOmics", [_term("resourceType", "Run Storage"), _term("regionCode", "us-east-1")]
    )
    assert _usd(storage.items[0]) == pytest.approx(0.0001918)
    assert service.get_products("AmazonOmics", [_term("regionCode", "eu-west-1")]).items == []
    assert service.get_products("AmazonEC2", []).items == []


def test_get_products_filter_types_and_pages() -> None:
    service = PricingService(load_price_list())
    gpu = service.get_products("AmazonOmics", [ProductFilter("CONTAINS", "resourceType", ".g5.")]).items
    assert {json.loads(i)["product"]["attributes"]["resourceType"] for i in gpu} == {
        f"omics.g5.{size}" for size, *_ in GPU_FAMILIES["g5"]
    }
    pair = service.get_products("AmazonOmics", [ProductFilter("ANY_OF", "resourceType", "omics.c.large, Run Storage")])
    assert len(pair.items) == 2
    rest = service.get_products("AmazonOmics", [ProductFilter("NONE_OF", "productFamily", "Compute")])
    assert rest.items == []
    everything, token = [], None
    while True:
        page = service.get_products("AmazonOmics", [], max_results=7, token=token)
        everything += page.items
        token = page.next_token
        if token is None:
            break
    assert len(everything) == len(load_price_list().items) == len(set(everything))
    with pytest.raises(InvalidNextTokenError):
        service.get_products(
            "AmazonOmics", [_term("sku", "x")], token=service.get_products("AmazonOmics", [], max_results=1).next_token
        )
    with pytest.raises(InvalidPriceQueryError):
        service.get_products("AmazonOmics", [ProductFilter("REGEX", "sku", "x")])
    with pytest.raises(InvalidPriceQueryError):
        service.get_products("AmazonOmics", [], format_version="aws_v2")


def test_own_region_is_priced_like_us_east_1() -> None:
    service = PricingService(load_price_list(), region="eu-west-1")
    page = service.get_products(
        "AmazonOmics", [_term("resourceType", "omics.c.large"), _term("regionCode", "eu-west-1")]
    )
    assert _usd(page.items[0]) == pytest.approx(0.1148)
    assert len(service.get_products("AmazonOmics", [_term("regionCode", "us-east-1")]).items) == len(
        load_price_list().items
    )


def test_describe_services_and_attribute_values() -> None:
    service = PricingService(load_price_list())
    services = service.describe_services("AmazonOmics").items
    assert services[0]["ServiceCode"] == "AmazonOmics"
    assert {"resourceType", "regionCode"} <= set(services[0]["AttributeNames"])
    assert service.describe_services().items == services
    assert service.describe_services("AmazonEC2").items == []
    values = service.get_attribute_values("AmazonOmics", "regionCode").items
    assert values == ["us-east-1"]


def _run(**values: object) -> RunRecord:
    base: dict[str, object] = {
        "id": "1234567",
        "uuid": "0f7d1f0e-8c9b-4f47-9b0f-7d3c1f0e8c9b",
        "status": RunStatus.COMPLETED,
        "creation_time": T0,
        "start_time": T0,
        "stop_time": T0 + timedelta(hours=2),
        "workflow_id": "7654321",
        "workflow_type": "PRIVATE",
        "role_arn": "arn:aws:iam::123456789012:role/r",
        "output_uri": "s3://b/out",
        "retention_mode": "RETAIN",
        "networking_mode": "RESTRICTED",
        "storage_type": "STATIC",
        "storage_capacity": 1200,
    }
    base.update(values)
    return RunRecord(**base)  # type: ignore[arg-type]


def _task(task_id: str, instance: str, seconds: float, **values: object) -> TaskRecord:
    base: dict[str, object] = {
        "run_id": "1234567",
        "task_id": task_id,
        "uuid": f"uuid-{task_id}",
        "seq": int(task_id),
        "name": f"t{task_id}",
        "status": TaskStatus.COMPLETED,
        "cpus": 2,
        "memory": 4,
        "gpus": 0,
        "creation_time": T0,
        "instance_type": instance,
        "start_time": T0,
        "stop_time": T0 + timedelta(seconds=seconds),
        "metrics": {"running_seconds": seconds},
    }
    base.update(values)
    return TaskRecord(**base)  # type: ignore[arg-type]


def test_estimate_run_cost_tasks_and_storage() -> None:
    tasks = [
        _task("1", "omics.c.large", 3600),
        _task("2", "omics.m.xlarge", 10),  # billed for the 60-second minimum
        _task("3", "omics.c.large", 0, start_time=None, stop_time=None, metrics=None, status=TaskStatus.CANCELLED),
        _task("4", "omics.r.large", 500, cache_hit=True),
    ]
    cost = estimate_run_costs(_run(), tasks)
    assert cost.tasks["1"] == pytest.approx(0.1148)
    assert cost.tasks["2"] == pytest.approx(0.2592 / 60)
    assert cost.tasks["3"] == 0 and cost.tasks["4"] == 0
    assert cost.storage == pytest.approx(1200 * 2 * 0.0001918)
    assert cost.total == pytest.approx(cost.storage + 0.1148 + 0.2592 / 60)
    assert estimate_run_cost(_run(), tasks) == pytest.approx(cost.total)
    dynamic = _run(storage_type="DYNAMIC", storage_capacity=None, storage_max_bytes=10 * 1024**3)
    assert estimate_run_costs(dynamic, []).storage == pytest.approx(10 * 2 * 0.000411)
    assert estimate_run_cost(_run(start_time=None), []) == 0
