"""Threat: patient names read from metadata by anyone who may read metadata.

Bob is an approver with no business reading patient data (and residency would stop him
at a US site). Profiles used to keep the top values of every column, so
``GET /v1/datasets/X``, ``steward data show`` and the dashboard showed patient names,
e-mails, SSNs and diagnoses to him. No raw value of a direct or special-category column
(as the labelled fixture says, not the classifier) may appear anywhere in those answers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from patients import DIRECT_HINTED, DIRECT_UNHINTED, SPECIAL, patients, raw_values

from steward.api import create_app
from steward.cli import app
from steward.config import Home
from steward.datasets import DatasetService
from steward.identity import IdentityService
from steward.policy import Principal
from steward.runtime import Runtime

ALICE, ADMIN, BOB = Principal("alice"), Principal("admin"), Principal("bob")
#: hinted names only: what the classifier of today already finds by column name
LEAKY = DIRECT_HINTED + SPECIAL


def _leaks(text: str, values: set[str]) -> list[str]:
    return sorted(v for v in values if v in text)


@pytest.fixture
def registered(rt: Runtime) -> Iterator[tuple[Runtime, TestClient, dict[str, str]]]:
    DatasetService(rt).register(
        ALICE, pa.Table.from_pylist(patients()), name="patients", team="risk"
    )
    token = IdentityService(rt).create_token(ADMIN, user="bob", name="t").token
    with TestClient(create_app(rt)) as c:
        yield rt, c, {"Authorization": f"Bearer {token}"}


def test_dataset_metadata_route_returns_no_raw_personal_value(
    registered: tuple[Runtime, TestClient, dict[str, str]],
) -> None:
    _, client, bob = registered
    r = client.get("/v1/datasets/patients@1", headers=bob)
    assert r.status_code == 200, r.text
    assert _leaks(r.text, raw_values(patients(), LEAKY)) == []
    # The statistics that carry no value stay: counts of the redacted columns.
    cols = r.json()["profile"]["columns"]
    assert cols["full_name"]["count"] == 300 and cols["full_name"]["top"] == []
    assert cols["charges"]["max"] is not None  # a column of no personal class keeps its stats


def test_unhinted_name_columns_leak_nothing_either(
    registered: tuple[Runtime, TestClient, dict[str, str]],
) -> None:
    # Depends on value-based name detection (kernels/pii): titulaire, kunde, x1.
    _, client, bob = registered
    r = client.get("/v1/datasets/patients@1", headers=bob)
    assert _leaks(r.text, raw_values(patients(), DIRECT_UNHINTED)) == []


def test_stored_profile_and_its_state_keep_no_raw_value(
    registered: tuple[Runtime, TestClient, dict[str, str]],
) -> None:
    rt, _, _ = registered
    svc = DatasetService(rt)
    _, v = svc._lookup("patients@1")
    stored = v.profile_json  # what a database reader or a backup holds
    assert _leaks(stored, raw_values(patients(), LEAKY)) == []
    state = json.dumps(svc.profile_state(BOB, "patients@1").to_dict())
    assert _leaks(state, raw_values(patients(), LEAKY)) == []


def test_raising_a_class_hides_values_already_profiled(
    registered: tuple[Runtime, TestClient, dict[str, str]],
) -> None:
    rt, client, bob = registered
    # charges held no personal class at registration; a steward marks it special.
    DatasetService(rt).set_classification(ALICE, "patients@1", {"charges": "health_condition"})
    cols = client.get("/v1/datasets/patients@1", headers=bob).json()["profile"]["columns"]
    assert cols["charges"]["max"] is None and cols["charges"]["quantiles"] is None


def test_cli_show_and_dashboard_show_no_raw_personal_value(
    registered: tuple[Runtime, TestClient, dict[str, str]], home: Home
) -> None:
    _, client, bob = registered
    from typer.testing import CliRunner

    out = CliRunner().invoke(
        app,
        ["data", "show", "patients@1", "--json"],
        env={"STEWARD_HOME": str(home.root), "STEWARD_USER": "bob"},
    )
    assert out.exit_code == 0, out.stdout + out.stderr
    assert _leaks(out.stdout, raw_values(patients(), LEAKY)) == []
    token = bob["Authorization"].removeprefix("Bearer ")
    login = client.post("/ui/login", data={"token": token, "next": "/ui"}, follow_redirects=False)
    assert login.status_code == 303, login.text
    page = client.get("/ui/datasets/patients@1")
    assert page.status_code == 200
    assert _leaks(page.text, raw_values(patients(), LEAKY)) == []


def test_model_metadata_shows_no_raw_value_of_a_special_feature(rt: Runtime) -> None:
    """A model trained with a diagnosis as a feature: its reference profile keeps the
    values for drift (the monitor reads it internally), but ``GET /v1/models/X`` shows
    the feature's counts only, to anyone who may read model metadata."""
    from steward.training import TrainingService, Worker

    rows = patients()
    for i, row in enumerate(rows):
        row["readmitted"] = i % 3 == 0
    DatasetService(rt).register(ALICE, pa.Table.from_pylist(rows), name="stays", team="risk")
    spec = {
        "data": ["stays@1"],
        "target": "readmitted",
        "objective": "binary",
        "family": "linear",
        "name": "readmission",
        "features": ["diagnosis", "age", "charges"],
        "seed": 1,
    }
    svc = TrainingService(rt)
    job = svc.submit(ALICE, spec)
    Worker(rt, "inline").run_once(job.id)
    ref = svc.job(ALICE, job.id).result_ref
    assert ref, svc.job(ALICE, job.id).error_message
    token = IdentityService(rt).create_token(ADMIN, user="bob", name="t").token
    with TestClient(create_app(rt)) as client:
        r = client.get(f"/v1/models/{ref}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert _leaks(r.text, raw_values(rows, SPECIAL)) == []
    features = r.json()["profile"]["features"]["columns"]
    assert features["diagnosis"]["count"] > 0 and features["diagnosis"]["top"] == []
    assert features["age"]["max"] is not None  # a quasi-identifier keeps its statistics
