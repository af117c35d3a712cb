"""The compiled lenient encoders give byte-for-byte the body the lenient walker gives, for every output shape."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import pytest

from omicsd.protocol import model
from omicsd.protocol._encoders import compile_encoder
from omicsd.protocol._shapes import Compiler, Member, Node
from omicsd.protocol.serialize import OutputPlan, _formatter, _Walker, serialize

_JSON = json.JSONEncoder(separators=(",", ":"))
SERVICES = (("omics", "rest-json"), ("logs", "json"), ("pricing", "json"))


def _sample(node: Node, rng: random.Random, depth: int = 0) -> Any:
    """A value of ``node``'s shape, with Nones, unknown keys and values of the wrong type mixed in."""
    if rng.random() < 0.04:
        return rng.choice(["wrong", 7, 2.5, True, None, ["x"], {"k": 1}])
    kind = node.type
    if kind == "structure":
        if node.document:
            return {"free": [1, "form", {"doc": None}]}
        out: dict[str, Any] = {}
        for name, member in node.members.items():
            roll = rng.random()
            if roll < 0.15 or depth > 4:
                out[name] = None
            elif roll < 0.25:
                continue
            else:
                out[name] = _sample(member.node, rng, depth + 1)
        if rng.random() < 0.3:
            out["notAMember"] = "dropped"
        return out
    if kind == "list":
        assert node.member is not None
        items = [_sample(node.member, rng, depth + 1) for _ in range(rng.randrange(3))]
        return tuple(items) if rng.random() < 0.3 else items
    if kind == "map":
        assert node.value is not None
        return {f"k{i}": _sample(node.value, rng, depth + 1) for i in range(rng.randrange(3))}
    if kind == "timestamp":
        moment = dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)
        return rng.choice([moment, moment.replace(tzinfo=None), 1704164645, 1704164645.5])
    if kind == "blob":
        return b"PK\x03\x04"
    if kind in ("integer", "long"):
        return 42
    if kind in ("float", "double"):
        return 0.25
    if kind == "boolean":
        return False
    return next(iter(node.enum)) if node.enum else "text"


def _walked(node: Node, values: Any) -> str:
    return str(_JSON.encode(_Walker(False, []).structure(node, values, "", top=True)))


@pytest.mark.parametrize(("service", "protocol"), SERVICES)
def test_every_output_shape_encodes_like_the_lenient_walk(service: str, protocol: str) -> None:
    service_model = model.load(service)
    compiler = Compiler()
    rng = random.Random(20240102)
    checked = 0
    for name in service_model.operation_names:
        plan = OutputPlan(service_model.operation_model(name), compiler, protocol=protocol)
        if plan.node is None:
            continue
        for _ in range(5):
            values = _sample(plan.node, rng)
            assert _JSON.encode(plan.encode_body(values)) == _walked(plan.node, values), name
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("operation", ["GetRun", "ListRuns", "GetWorkflow", "ListRunTasks", "GetRunGroup"])
def test_lenient_serialize_body_matches_the_walk(operation: str) -> None:
    plan = OutputPlan(model.load("omics").operation_model(operation), Compiler())
    assert plan.node is not None and plan.body_only
    rng = random.Random(operation)
    for _ in range(20):
        values = _sample(plan.node, rng)
        response = serialize(plan, values)
        assert response.body.decode() == _walked(plan.node, values)
        assert response.headers == (("content-type", "application/json"),)


def test_pass_through_shapes_need_no_encoder() -> None:
    strings = Node("Strings", "list")
    strings.member = Node("String", "string")
    document = Node("Doc", "structure")
    document.document = True
    assert compile_encoder(Node("String", "string"), _formatter) is None
    assert compile_encoder(document, _formatter) is None
    encode = compile_encoder(strings, _formatter)
    assert encode is not None and encode(("a", "b")) == ["a", "b"]


def test_recursive_structures_compile_once() -> None:
    tree = Node("Tree", "structure")
    children = Node("Trees", "list")
    children.member = tree
    tree.members = {
        "label": Member("label", "Label", None, Node("String", "string")),
        "children": Member("children", "children", None, children),
        "at": Member("at", "at", None, Node("Time", "timestamp"), timestamp_format="iso8601"),
    }
    encode = compile_encoder(tree, _formatter)
    assert encode is not None
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    value = {"label": "root", "children": [{"label": "leaf", "children": [], "at": moment, "extra": 1}]}
    assert encode(value) == {
        "Label": "root",
        "children": [{"Label": "leaf", "children": [], "at": "2024-01-02T03:04:05.000Z"}],
    }
