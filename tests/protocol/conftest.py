from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from omicsd.protocol import model
from omicsd.protocol._shapes import Compiler
from omicsd.protocol.parse import InputPlan
from omicsd.protocol.serialize import OutputPlan


@pytest.fixture(scope="session")
def omics() -> Any:
    return model.load("omics")


@pytest.fixture(scope="session")
def compiler() -> Compiler:
    return Compiler()


@pytest.fixture(scope="session")
def input_plan(omics: Any, compiler: Compiler) -> Callable[[str], InputPlan]:
    def make(operation: str) -> InputPlan:
        return InputPlan(omics.operation_model(operation), compiler)

    return make


@pytest.fixture(scope="session")
def output_plan(omics: Any, compiler: Compiler) -> Callable[[str], OutputPlan]:
    def make(operation: str) -> OutputPlan:
        return OutputPlan(omics.operation_model(operation), compiler)

    return make
