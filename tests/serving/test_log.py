"""The prediction log (buffered, masked, one row per scored row and role), ground-truth
feedback by request id, and shadow answers recorded for comparison."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parent))
from gatesdata import hmda, register_split, with_suite
from test_v2 import PERF, approved, body_for

from steward.api import create_app
from steward.audit import LedgerFilter
from steward.config import Home
from steward.datasets.mask import derive_key
from steward.deploy import DeployService
from steward.errors import NotFound, ValidationFailed
from steward.identity import IdentityService
from steward.kernels.masking import pseudonymise
from steward.policy import Principal
from steward.registry import ModelService
from steward.registry.runner import OnnxRunner
from steward.runtime import Runtime
from steward.serving import Label, ServingService
from steward.store import Prediction, PredictionFeedback

ADMIN = Principal("admin")
ALICE = Principal("alice")


def records(start: int, n: int) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "deny"} for r in hmda().slice(start, n).to_pylist()]


def logged(rt: Runtime, endpoint: str, role: str = "primary") -> list[Prediction]:
    with rt.store.transaction() as s:
        rows = list(
            s.scalars(
                select(Prediction)
                .where(Prediction.endpoint == endpoint, Prediction.role == role)
                .order_by(Prediction.id)
            )
        )
        s.expunge_all()
    return rows


@pytest.fixture
def credit(home: Home, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime, list[str]]]:
    monkeypatch.setenv("STEWARD_SERVING_REFRESH", "0")
    with_suite(home, PERF)
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    refs = [approved(rt, train, hold), approved(rt, train, hold, seed=3, exclude=["afam"])]
    DeployService(rt).deploy(ADMIN, refs[0], endpoint="credit", site="eu-fra")
    yield rt, refs
    rt.close()


def test_every_row_is_logged_with_special_category_inputs_pseudonymised(
    credit: tuple[Runtime, list[str]],
) -> None:
    rt, refs = credit
    serving = ServingService(rt, refresh=0)
    rows = records(1900, 5)
    out = serving.predict_records(ALICE, "credit", rows, request_id="batch-1")
    assert out["request_id"] == "batch-1"
    single = serving.predict_records(ALICE, "credit", rows[:1])
    assert len(single["request_id"]) == 32  # made when the caller gives none
    assert logged(rt, "credit") == []  # buffered, not yet written
    assert serving.log.pending == 6
    serving.log.flush()
    log = logged(rt, "credit")
    assert [(p.request_id, p.row) for p in log] == [("batch-1", i) for i in range(5)] + [
        (single["request_id"], 0)
    ]
    assert {p.revision for p in log} == {1} and {p.model for p in log} == {refs[0]}
    assert all(p.source == "http" and p.latency_ms > 0 for p in log)
    # outputs are what the caller got
    for p, pred in zip(log, out["predictions"], strict=False):
        outputs = json.loads(p.outputs)
        assert outputs["label"] == pred["prediction"]
        assert outputs["probabilities"] == pytest.approx(list(pred["probabilities"].values()))
    # afam is special-category data (ethnicity): the log holds the home's pseudonym for it,
    # the same one masked datasets use; the other inputs are kept as they were
    key = derive_key(rt.home.master_key(), "pseudonym")
    for p, r in zip(log, rows, strict=False):
        inputs = json.loads(p.inputs)
        assert inputs["afam"] == pseudonymise(pa.array([str(r["afam"])]), key=key)[0].as_py()
        assert inputs["afam"].startswith("p_") and inputs["afam"] != r["afam"]
        assert inputs["pirat"] == pytest.approx(r["pirat"])
    # nothing personal slipped into the log as text
    assert not any('"afam":"no"' in p.inputs or '"afam":"yes"' in p.inputs for p in log)


def test_v2_infer_is_logged_under_the_request_id(credit: tuple[Runtime, list[str]]) -> None:
    rt, refs = credit
    token = IdentityService(rt).create_token(ADMIN, user="alice").token
    app = create_app(rt)
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    inputs = ModelService(rt).show(ADMIN, refs[0]).inputs
    body = body_for(records(1900, 3), inputs)
    r = client.post("/v2/models/credit/infer", json=body)
    assert r.status_code == 200 and r.json()["id"] == "req-1"
    anon = client.post("/v2/models/credit/infer", json={**body, "id": None}).json()
    assert anon["id"] and anon["id"] != "req-1"
    # a repeated request id is answered but logged once
    assert client.post("/v2/models/credit/infer", json=body).status_code == 200
    app.state.serving.log.flush()
    log = logged(rt, "credit")
    assert sorted((p.request_id, p.row) for p in log) == sorted(
        [("req-1", i) for i in range(3)] + [(anon["id"], i) for i in range(3)]
    )
    labels = [json.loads(p.outputs)["label"] for p in log if p.request_id == "req-1"]
    assert labels == r.json()["outputs"][0]["data"]


def test_the_background_thread_flushes_within_the_interval(
    credit: tuple[Runtime, list[str]],
) -> None:
    rt, _ = credit
    serving = ServingService(rt, refresh=0)
    serving.log.flush_seconds = 0.05
    serving.predict_records(ALICE, "credit", records(1900, 2), request_id="bg")
    deadline = time.monotonic() + 10
    while not logged(rt, "credit") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [p.request_id for p in logged(rt, "credit")] == ["bg", "bg"]
    serving.close()


def test_a_failed_flush_keeps_the_rows_and_a_full_buffer_drops_the_oldest(
    credit: tuple[Runtime, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, _ = credit
    serving = ServingService(rt, refresh=0)
    log = serving.log
    real_write = log.write

    def down(entries: Any) -> int:
        raise ConnectionError("database away")

    monkeypatch.setattr(log, "write", down)
    serving.predict_records(ALICE, "credit", records(1900, 3), request_id="kept")
    assert log.flush() == 0 and log.pending == 3
    assert serving.metrics.get_sample_value("steward_prediction_log_flush_failures_total") == 1
    monkeypatch.setattr(log, "write", real_write)
    assert log.flush() == 3 and log.pending == 0
    assert [p.row for p in logged(rt, "credit")] == [0, 1, 2]
    # capacity: the oldest entries go first, counted
    log.capacity = 4
    for i in range(3):
        serving.predict_records(ALICE, "credit", records(1900, 2), request_id=f"cap-{i}")
    assert log.pending == 4
    assert serving.metrics.get_sample_value("steward_prediction_log_dropped_rows_total") == 2
    log.flush()
    assert {p.request_id for p in logged(rt, "credit")} == {"kept", "cap-1", "cap-2"}


def test_a_crash_loses_nothing_the_background_thread_wrote(home: Home, tmp_path: Path) -> None:
    """A server process killed with SIGKILL once its background thread has written (it
    does so every flush interval, with no flush() or close() from anyone) has lost no
    answer: what is written is committed."""
    with_suite(home, PERF)
    rt = Runtime.open(home)
    train, hold = register_split(rt)
    ref = approved(rt, train, hold)
    DeployService(rt).deploy(ADMIN, ref, endpoint="credit", site="eu-fra")
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["serving"] = {"log_flush_seconds": 0.2}
    home.config_path.write_text(yaml.safe_dump(cfg))
    rt.close()
    script = textwrap.dedent(
        f"""
        import json, os, signal, sys, time
        from steward.config import Home
        from steward.policy import Principal
        from steward.runtime import Runtime
        from steward.serving import ServingService
        from pathlib import Path
        rt = Runtime.open(Home(Path({str(home.root)!r})))
        serving = ServingService(rt)
        rows = json.loads(sys.stdin.read())
        for i in range(40):
            serving.predict_records(Principal("alice"), "credit", rows, request_id=f"c-{{i}}")
        # the background thread writes on its own (no flush(), no close()); wait for it
        # (a busy machine may need more than one interval), then crash
        written = lambda: serving.metrics.get_sample_value(
            "steward_prediction_log_rows_total") or 0
        deadline = time.monotonic() + 30
        while (serving.log.pending or written() < 80) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGKILL)  # no close(), no atexit: a crash
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(records(1900, 2)),
        capture_output=True,
        text=True,
        env={**os.environ, "STEWARD_HOME": str(home.root)},
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr
    rt = Runtime.open(home)
    try:
        assert len(logged(rt, "credit")) == 80
        assert {p.request_id for p in logged(rt, "credit")} == {f"c-{i}" for i in range(40)}
    finally:
        rt.close()


def test_feedback_attaches_labels_by_request_id_all_or_nothing(
    credit: tuple[Runtime, list[str]],
) -> None:
    rt, _ = credit
    serving = ServingService(rt, refresh=0)
    rows = hmda().slice(1900, 3).to_pylist()
    out = serving.predict_records(
        ALICE, "credit", [{k: v for k, v in r.items() if k != "deny"} for r in rows]
    )
    rid = out["request_id"]
    truth = [Label(request_id=rid, row=i, label=r["deny"]) for i, r in enumerate(rows)]
    seq = rt.ledger.head()[0]
    # an unknown request id (or row) refuses the whole batch; nothing is stored
    with pytest.raises(ValidationFailed, match="no logged prediction") as err:
        serving.feedback(ALICE, "credit", [*truth, Label(request_id="nope", label="yes")])
    assert err.value.details["unknown"] == [{"request_id": "nope", "row": 0}]
    with pytest.raises(ValidationFailed, match="row 3"):
        serving.feedback(ALICE, "credit", [Label(request_id=rid, row=3, label="no")])
    with pytest.raises(ValidationFailed, match="twice"):
        serving.feedback(ALICE, "credit", [truth[0], truth[0]])
    with pytest.raises(NotFound):
        serving.feedback(ALICE, "nowhere", truth)
    with rt.store.transaction() as s:
        assert s.scalar(select(func.count()).select_from(PredictionFeedback)) == 0
    res = serving.feedback(ALICE, "credit", truth)  # flushes the log itself first
    assert (res.accepted, res.replaced) == (3, 0)
    res = serving.feedback(ALICE, "credit", [Label(request_id=rid, row=1, label="yes")])
    assert res.replaced == 1
    with rt.store.transaction() as s:
        stored = {(f.row, json.loads(f.label), f.by) for f in s.scalars(select(PredictionFeedback))}
    expected = {(i, r["deny"], "alice") for i, r in enumerate(rows)}
    assert stored == (expected - {(1, rows[1]["deny"], "alice")}) | {(1, "yes", "alice")}
    entries = [(e.action, e.decision) for e in rt.ledger.entries(LedgerFilter(after_seq=seq))]
    assert entries == [("endpoint.feedback", "allow")] * 2


def test_feedback_over_http_with_an_endpoint_scoped_token(
    credit: tuple[Runtime, list[str]],
) -> None:
    rt, _ = credit
    scoped = IdentityService(rt).create_token(ADMIN, user="alice", endpoint="credit").token
    app = create_app(rt)
    client = TestClient(app, headers={"Authorization": f"Bearer {scoped}"})
    r = client.post("/v1/endpoints/credit/predict", json={"records": records(1900, 1)})
    assert r.status_code == 200
    rid = r.json()["request_id"]
    ok = client.post(
        "/v1/endpoints/credit/feedback",
        json={"labels": [{"request_id": rid, "label": "no"}]},
    )
    assert ok.status_code == 200 and ok.json()["accepted"] == 1
    bad = client.post(
        "/v1/endpoints/credit/feedback", json={"labels": [{"request_id": "x", "label": 1}]}
    )
    assert bad.status_code == 422 and bad.json()["error"] == "validation_failed"
    assert client.post("/v1/endpoints/other/feedback", json={"labels": []}).status_code == 403


def test_shadow_answers_are_logged_and_compared(credit: tuple[Runtime, list[str]]) -> None:
    rt, refs = credit
    DeployService(rt).deploy(ADMIN, refs[1], endpoint="credit", strategy="shadow")
    serving = ServingService(rt, refresh=0)
    rows = records(1900, 60)
    for i in range(0, 60, 3):
        out = serving.predict_records(ALICE, "credit", rows[i : i + 3], request_id=f"s-{i}")
        assert out["model"] == refs[0]  # the shadow never answers
    serving.log.flush()
    primary, shadow = logged(rt, "credit"), logged(rt, "credit", "shadow")
    assert len(primary) == len(shadow) == 60
    assert {p.model for p in shadow} == {refs[1]} and {p.revision for p in shadow} == {2}
    # the agreement, recomputed from the two ONNX models directly
    labels = []
    for ref in refs:
        detail, onnx = ModelService(rt).serving_artifact(ref)
        runner = OnnxRunner(onnx, detail.inputs, detail.classes)
        labels.append(runner.predict(pa.Table.from_pylist(rows)).labels)
    expected = float(np.mean(labels[0] == labels[1]))
    status = serving.status(ADMIN, "credit")
    assert status.shadow is not None
    assert status.shadow.compared == 60 and status.shadow.shadow == refs[1]
    assert status.shadow.agreement == pytest.approx(expected)
    assert status.shadow.primary_p50_ms and status.shadow.shadow_p50_ms
    assert status.logged == 60 and status.pending_log_rows == 0


def test_score_many_scores_each_request_once_and_reports_bad_ones(
    credit: tuple[Runtime, list[str]],
) -> None:
    rt, refs = credit
    serving = ServingService(rt, refresh=0)
    rows = records(1900, 4)
    inputs = ModelService(rt).show(ADMIN, refs[0]).inputs
    batch: list[tuple[str, Any]] = [
        ("m-1", {"records": rows[:2]}),
        ("m-2", {**body_for(rows[2:3], inputs), "id": "ignored"}),
        ("m-3", {"records": [{"pirat": 0.2}]}),  # missing fields
        ("m-4", ["not", "an", "object"]),
        ("m-1", {"records": rows[:2]}),  # twice in one batch
    ]
    answers = serving.score_many(ALICE, "credit", batch)
    assert [a["request_id"] for a in answers] == [
        "m-1",
        "m-2",
        "m-3",
        "m-4",
        "m-1",
    ]
    assert len(answers[0]["predictions"]) == 2 and answers[1]["outputs"][0]["shape"] == [1]
    assert answers[2]["error"]["error"] == "validation_failed"
    assert "missing field" in answers[2]["error"]["message"]
    assert answers[3]["error"]["error"] == "validation_failed"
    assert answers[4]["duplicate"] is True
    # written before returning, no flush needed
    log = logged(rt, "credit")
    assert sorted((p.request_id, p.row) for p in log) == [("m-1", 0), ("m-1", 1), ("m-2", 0)]
    assert {p.source for p in log} == {"stream"}
    # redelivered later: answered from the log, not scored again
    again = serving.score_many(ALICE, "credit", [("m-1", {"records": rows[:2]})])
    assert again[0]["duplicate"] is True
    # in the shape a fresh answer has, with the same predictions and probabilities
    assert {k: v for k, v in again[0].items() if k != "duplicate"} == answers[0]
    v2_again = serving.score_many(ALICE, "credit", [("m-2", body_for(rows[2:3], inputs))])
    assert {k: v for k, v in v2_again[0].items() if k != "duplicate"} == answers[1]
    assert len(logged(rt, "credit")) == 3


def test_endpoint_status_cli_shows_the_log_and_the_shadow_comparison(
    credit: tuple[Runtime, list[str]],
) -> None:
    import socket
    import threading

    import uvicorn
    from typer.testing import CliRunner

    from steward.cli.main import app as cli

    rt, refs = credit
    DeployService(rt).deploy(ADMIN, refs[1], endpoint="credit", strategy="shadow")
    token = IdentityService(rt).create_token(ADMIN).token
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    api = create_app(rt)
    server = uvicorn.Server(uvicorn.Config(api, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        serving: ServingService = api.state.serving
        for i in range(4):
            serving.predict_records(ALICE, "credit", records(1900 + i, 1))
        serving.log.flush()
        result = CliRunner().invoke(
            cli, ["--url", url, "--token", token, "endpoint", "status", "credit"]
        )
        assert result.exit_code == 0, result.stdout
        assert "prediction log: 4 row(s) written, 0 buffered" in result.stdout
        assert f"shadow {refs[1]} vs {refs[0]} (revision 2): 4 rows compared" in result.stdout
        js = CliRunner().invoke(
            cli, ["--url", url, "--token", token, "endpoint", "status", "credit", "--json"]
        )
        assert json.loads(js.stdout)["shadow"]["compared"] == 4
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_request_counts_per_minute_add_up_across_servers(
    credit: tuple[Runtime, list[str]],
) -> None:
    from steward.store import EndpointCount

    rt, _ = credit
    servers = [ServingService(rt, refresh=0), ServingService(rt, refresh=0)]
    for sv in servers:
        for _ in range(3):
            sv.measured("credit", sv.predict_records, ALICE, "credit", records(1900, 1))
        with pytest.raises(ValidationFailed):
            sv.measured("credit", sv.predict_records, ALICE, "credit", [{"pirat": 1}])
        sv.log.flush()
    with rt.store.transaction() as s:
        totals: dict[str, int] = {}
        for c in s.scalars(select(EndpointCount).where(EndpointCount.endpoint == "credit")):
            assert c.minute.second == 0 and c.minute.microsecond == 0
            totals[c.outcome] = totals.get(c.outcome, 0) + c.count
    assert totals == {"ok": 6, "rejected": 2}
