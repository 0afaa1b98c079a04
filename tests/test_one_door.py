"""Nothing changes state except through the one door.

Walks every mutating API route and every public SDK method, calls each with an
example, and compares the whole state (every table but the ledger's, and every file
under the sites' roots) before and after: a call that changed state must have added
exactly one *allowed* ledger entry for the action it claims. A new route or SDK method
without an example here fails the walk, so nothing new can slip past it.
"""

from __future__ import annotations

import hashlib
import inspect
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from steward import Steward
from steward.api import MUTATING_ROUTES, READ_ONLY_ROUTES, create_app
from steward.audit import LedgerFilter
from steward.config import Home
from steward.identity import IdentityService
from steward.policy import Principal
from steward.runtime import Runtime
from steward.store import Base
from steward.ui import UI_POST_ROUTES

LEDGER_TABLES = {"audit_entries", "audit_head"}
# When a read of personal data was last put on the record (for sampled read records): a
# record of the ledger's, written as a read is recorded, not state.
LEDGER_TABLES |= {"audit_read_marks"}
# Allowed reads of personal data and model downloads are on the record (audit.reads):
# reads, not the changes this walk checks, so they are left out of "exactly one entry".
RECORDED_READS = {"dataset.read", "object.read"}
# The prediction log records answers to authorised reads (each prediction is checked by
# the door); like the ledger it is a record, not state a prediction changes.
LOG_TABLES = {"predictions"}
# Derived from the log (request counts, monitoring's windows and cursors): recomputable
# records of it, written as it is read.
LOG_TABLES |= {"endpoint_counts", "monitor_windows", "monitor_cursors"}
# Metering: the cost of work done (a prediction's compute) is recorded with it, like the log.
LOG_TABLES |= {"cost_records"}
# Governed actions whose only effect is their audit entry (reversing tokens discloses
# data: it changes no table, but it must be on the record).
RECORD_ONLY = {("POST", "/v1/datasets/{ref}/detokenise")}
SDK_RECORD_ONLY = {"detokenise"}
# Importing cost records changes only the metering records, which this walk leaves out like
# the log (tests/cost/test_reports.py checks what an import adds).
RECORD_ONLY |= {("POST", "/v1/cost/records")}
SDK_RECORD_ONLY |= {"cost_import"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def state_of(rt: Runtime) -> str:
    """A digest of every non-ledger table and every object file."""
    h = hashlib.sha256()
    with rt.store.transaction() as s:
        for table in Base.metadata.sorted_tables:
            if table.name in LEDGER_TABLES | LOG_TABLES:
                continue
            rows = s.execute(select(table)).all()
            h.update(table.name.encode())
            for row in sorted(repr(tuple(r)) for r in rows):
                h.update(row.encode())
    for path in sorted(rt.home.sites_dir.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(rt.home.root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def ledger_after(rt: Runtime, seq: int) -> list[tuple[str, str]]:
    return [
        (e.action, e.decision)
        for e in rt.ledger.entries(LedgerFilter(after_seq=seq))
        if not (e.action in RECORDED_READS and e.decision == "allow")
    ]


def test_every_mutating_route_is_declared(rt: Runtime) -> None:
    app = create_app(rt)
    routes = list(app.routes)
    for route in app.routes:  # FastAPI keeps an included router's routes in the router
        routes += getattr(getattr(route, "original_router", None), "routes", [])
    found = {
        (method, route.path)  # type: ignore[attr-defined]
        for route in routes
        for method in getattr(route, "methods", set()) or set()
        if method in WRITE_METHODS
    }
    # The dashboard's buttons (/ui) are declared apart, in steward.ui.UI_POST_ROUTES: each
    # calls the same governed service method as the API route of its action (so the same
    # policy and ledger entry); tests/ui/test_dashboard.py checks their ledger entries.
    ui = {key for key in found if key[1].startswith("/ui/")}
    assert ui == set(UI_POST_ROUTES)
    assert found - ui == set(MUTATING_ROUTES) | READ_ONLY_ROUTES
    assert {a for a in UI_POST_ROUTES.values() if a} <= set(MUTATING_ROUTES.values())


def _route_examples(client: TestClient, rt: Runtime) -> dict[tuple[str, str], Callable[[], Any]]:
    def revoke() -> Any:
        tok = client.post("/v1/tokens", json={"name": "to-revoke"}).json()
        return lambda: client.delete(f"/v1/tokens/{tok['id']}")

    return {
        ("POST", "/v1/tokens"): lambda: lambda: client.post("/v1/tokens", json={"name": "x"}),
        ("DELETE", "/v1/tokens/{token_id}"): revoke,
        ("POST", "/v1/audit/checkpoints"): lambda: lambda: client.post("/v1/audit/checkpoints"),
        ("POST", "/v1/objects"): lambda: (
            lambda: client.post(
                "/v1/objects",
                params={"site": "eu-fra", "jurisdiction": "EU"},
                content=b"a,b\n1,2\n",
                headers={"content-type": "application/octet-stream"},
            )
        ),
        ("POST", "/v1/policy/explain"): lambda: (
            lambda: client.post(
                "/v1/policy/explain",
                json={"as_user": "bob", "action": "model.approve", "resource": "model:m"},
            )
        ),
        ("POST", "/v1/datasets"): lambda: (
            lambda: client.post(
                "/v1/datasets",
                params={"name": "walk", "format": "csv", "site": "eu-fra"},
                content=_CSV,
                headers={"content-type": "application/octet-stream"},
            )
        ),
        ("POST", "/v1/datasets/{ref}/copies"): lambda: _with_dataset(
            client,
            "copy",
            anonymised=True,
            call=lambda ref: client.post(f"/v1/datasets/{ref}/copies", json={"to_site": "us-east"}),
        ),
        ("POST", "/v1/datasets/{ref}/classification"): lambda: _with_dataset(
            client,
            "cls",
            # raising a class (lowering one is a four-eyes request, below)
            call=lambda ref: client.post(
                f"/v1/datasets/{ref}/classification", json={"set": {"amount": "health_condition"}}
            ),
        ),
        ("POST", "/v1/datasets/{ref}/masks"): lambda: _with_dataset(
            client, "mask", call=lambda ref: client.post(f"/v1/datasets/{ref}/masks", json={})
        ),
        ("POST", "/v1/datasets/{ref}/detokenise"): lambda: _with_tokens(client),
        ("POST", "/v1/datasets/{ref}/requests"): lambda: _with_dataset(
            client,
            "req",
            call=lambda ref: client.post(
                f"/v1/datasets/{ref}/requests",
                json={"kind": "declassify", "set": {"email": "none"}},
            ),
        ),
        ("POST", "/v1/dataset-requests/{request_id}/approve"): lambda: _dataset_request(
            client, rt, "dra", verb="approve"
        ),
        ("POST", "/v1/dataset-requests/{request_id}/reject"): lambda: _dataset_request(
            client, rt, "drr", verb="reject"
        ),
        ("POST", "/v1/jobs"): lambda: _with_dataset(
            client,
            "jobs",
            call=lambda ref: client.post("/v1/jobs", json={"spec": _train_spec(ref)}),
        ),
        ("POST", "/v1/jobs/{job_id}/cancel"): lambda: _with_job(client),
        ("POST", "/v1/models/import"): lambda: _with_onnx(client, rt),
        ("POST", "/v1/declarations/{decl_id}/approval"): lambda: _declaration(
            client, rt, "decl-a", verb="approval"
        ),
        ("POST", "/v1/declarations/{decl_id}/rejection"): lambda: _declaration(
            client, rt, "decl-r", verb="rejection"
        ),
        ("POST", "/v1/models/{ref}/validations"): lambda: _gated(
            client,
            rt,
            "val",
            lambda m, h: client.post(f"/v1/models/{m}/validations", json={"holdout": h}),
            upto="trained",
        ),
        ("POST", "/v1/models/{ref}/approvals"): lambda: _gated(
            client,
            rt,
            "appr",
            lambda m, h: client.post(f"/v1/models/{m}/approvals", json={}),
            upto="validated",
        ),
        ("POST", "/v1/models/{ref}/rejections"): lambda: _gated(
            client,
            rt,
            "rej",
            lambda m, h: client.post(f"/v1/models/{m}/rejections", json={}),
            upto="validated",
        ),
        ("POST", "/v1/models/{ref}/promotions"): lambda: _gated(
            client,
            rt,
            "prom",
            lambda m, h: client.post(f"/v1/models/{m}/promotions", json={}),
            upto="approved",
        ),
        ("POST", "/v1/endpoints/{name}/revisions"): lambda: _gated(
            client,
            rt,
            "dep",
            lambda m, h: client.post(
                "/v1/endpoints/ep-new/revisions", json={"model": m, "site": "eu-fra"}
            ),
            upto="approved",
        ),
        ("POST", "/v1/endpoints/{name}/promote"): lambda: _endpoint(
            client, rt, "dprom", call=lambda e: client.post(f"/v1/endpoints/{e}/promote")
        ),
        ("POST", "/v2/models/{name}/infer"): lambda: _infer(client, rt, "inf", versioned=False),
        ("POST", "/v1/endpoints/{name}/predict"): lambda: _predict(client, rt, "pred"),
        ("POST", "/v1/endpoints/{name}/feedback"): lambda: _feedback(client, rt, "fb"),
        ("POST", "/v1/endpoints/{name}/monitoring/run"): lambda: _monitored(client, rt, "mon"),
        ("POST", "/v1/cost/records"): lambda: (
            lambda: client.post("/v1/cost/records", json={"records": [_COST_ROW]})
        ),
        ("POST", "/v1/jobs/estimate"): lambda: (
            lambda ref: lambda: client.post("/v1/jobs/estimate", json={"spec": _train_spec(ref)})
        )(_register(client, "est")),
        ("POST", "/v1/endpoints/{name}/monitoring/revalidate"): lambda: _endpoint(
            client,
            rt,
            "reval",
            call=lambda e: client.post(f"/v1/endpoints/{e}/monitoring/revalidate"),
        ),
        ("POST", "/v1/alerts/{alert_id}/acknowledge"): lambda: (
            lambda a: lambda: client.post(f"/v1/alerts/{a}/acknowledge", json={"note": "x"})
        )(_alert(client, rt, "ack")),
        ("POST", "/v1/alerts/{alert_id}/resolve"): lambda: (
            lambda a: lambda: client.post(f"/v1/alerts/{a}/resolve", json={})
        )(_alert(client, rt, "res")),
        ("POST", "/v2/models/{name}/versions/{version}/infer"): lambda: _infer(
            client, rt, "infv", versioned=True
        ),
        ("POST", "/v1/endpoints/{name}/rollback"): lambda: _endpoint(
            client, rt, "drb", call=lambda e: client.post(f"/v1/endpoints/{e}/rollback", json={})
        ),
        ("POST", "/v1/datasets/{ref}/validate"): lambda: _with_dataset(
            client,
            "val",
            call=lambda ref: client.post(
                f"/v1/datasets/{ref}/validate",
                params={"format": "csv"},
                content=_CSV,
                headers={"content-type": "application/octet-stream"},
            ),
        ),
    }


_CSV = b"id,email,amount\n" + b"".join(
    f"{i},user{i}@example.com,{i * 3}\n".encode() for i in range(1, 41)
)


def _register(client: TestClient, name: str) -> str:
    resp = client.post(
        "/v1/datasets",
        params={"name": name, "format": "csv", "site": "eu-fra"},
        content=_CSV,
        headers={"content-type": "application/octet-stream"},
    )
    assert resp.status_code == 201, resp.json()
    return str(resp.json()["ref"])


def _with_dataset(
    client: TestClient, name: str, *, call: Callable[[str], Any], anonymised: bool = False
) -> Callable[[], Any]:
    """Set-up outside the measured call: register (and, if asked, mask) a dataset."""
    ref = _register(client, name)
    if anonymised:
        masked = client.post(
            f"/v1/datasets/{ref}/masks",
            json={"recipe": {"columns": {"email": "drop"}, "k_min": 2}},
        )
        assert masked.status_code == 201, masked.json()
        ref = masked.json()["version"]["ref"]
    return lambda: call(ref)


def _dataset_request(client: TestClient, rt: Runtime, name: str, *, verb: str) -> Callable[[], Any]:
    """Set-up: admin asks to declassify a column; the call is alice's decision on it (a
    data steward who is not the requester)."""
    from steward.datasets import DatasetService

    ref = _register(client, name)
    req = DatasetService(rt).request_declassification(Principal("admin"), ref, {"email": "none"})
    token = IdentityService(rt).create_token(Principal("alice")).token
    alice = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    return lambda: alice.post(f"/v1/dataset-requests/{req.id}/{verb}", json={})


def _with_tokens(client: TestClient) -> Callable[[], Any]:
    import io

    import pyarrow.parquet as pq

    ref = _register(client, "tok")
    masked = client.post(
        f"/v1/datasets/{ref}/masks", json={"recipe": {"columns": {"email": "tokenise"}}}
    ).json()
    ref2 = masked["version"]["ref"]
    data = client.get(f"/v1/datasets/{ref2}/data")
    tokens = pq.read_table(io.BytesIO(data.content)).column("email").to_pylist()[:2]
    return lambda: client.post(
        f"/v1/datasets/{ref2}/detokenise", json={"column": "email", "tokens": tokens}
    )


def _train_spec(ref: str) -> dict[str, Any]:
    return {
        "data": [ref],
        "target": "amount" if not ref.startswith("seed") else "total",
        "objective": "regression",
        "family": "linear",
        "exclude": ["email"],
        "team": "risk",
    }


def _with_job(client: TestClient) -> Callable[[], Any]:
    ref = _register(client, "cancel")
    job = client.post("/v1/jobs", json={"spec": _train_spec(ref)}).json()
    return lambda: client.post(f"/v1/jobs/{job['id']}/cancel")


def _gated(
    client: TestClient, rt: Runtime, name: str, call: Callable[[str, str], Any], *, upto: str
) -> Callable[[], Any]:
    """A model trained by alice (so that admin may approve it), a locked holdout, and the
    model taken up to ``upto`` (trained, validated, approved) outside the measured call."""
    from steward.gates import GateService

    train, holdout = _split(rt, name)
    model = _trained(rt, train, as_user="alice")
    admin = Principal("admin")
    if upto in ("validated", "approved"):
        assert GateService(rt).validate(admin, model, holdout).passed
    if upto == "approved":
        GateService(rt).decide(admin, model, approve=True)
    return lambda: call(model, holdout)


def _endpoint(
    client: TestClient, rt: Runtime, name: str, *, call: Callable[[str], Any]
) -> Callable[[], Any]:
    """An endpoint serving an approved model, with a canary of a second one."""
    from steward.deploy import DeployService

    first = _gated(client, rt, name, lambda m, h: m, upto="approved")()
    DeployService(rt).deploy(Principal("admin"), first, endpoint=f"{name}-ep", site="eu-fra")
    second = _gated(client, rt, name + "2", lambda m, h: m, upto="approved")()
    DeployService(rt).deploy(
        Principal("admin"), second, endpoint=f"{name}-ep", strategy="canary", percent=20
    )
    return lambda: call(f"{name}-ep")


def _infer(client: TestClient, rt: Runtime, name: str, *, versioned: bool) -> Callable[[], Any]:
    """An endpoint serving an approved model; the call is one v2 inference on it."""
    from steward.deploy import DeployService

    model = _gated(client, rt, name, lambda m, h: m, upto="approved")()
    DeployService(rt).deploy(Principal("admin"), model, endpoint=f"{name}-ep", site="eu-fra")
    version = model.rpartition("@")[2]
    path = f"/v2/models/{name}-ep" + (f"/versions/{version}" if versioned else "") + "/infer"
    body = {"inputs": [{"name": "id", "shape": [2, 1], "datatype": "FP32", "data": [5, 6]}]}
    return lambda: client.post(path, json=body)


def _predict(client: TestClient, rt: Runtime, name: str) -> Callable[[], Any]:
    from steward.deploy import DeployService

    model = _gated(client, rt, name, lambda m, h: m, upto="approved")()
    DeployService(rt).deploy(Principal("admin"), model, endpoint=f"{name}-ep", site="eu-fra")
    body = {"records": [{"id": 5}, {"id": 6}]}
    return lambda: client.post(f"/v1/endpoints/{name}-ep/predict", json=body)


_COST_ROW = {
    "at": "2026-10-01T12:00:00Z",
    "team": "risk",
    "site": "eu-fra",
    "kind": "training",
    "resource": "cpu",
    "units": 10.0,
    "unit": "cpu-hour",
    "unit_price": 0.05,
    "amount": 0.5,
    "action": "import",
    "ref": "bill-2026-10",
}


def _feedback(client: TestClient, rt: Runtime, name: str) -> Callable[[], Any]:
    """A logged prediction (set-up); the call labels its second row."""
    assert _predict(client, rt, name)().status_code == 200
    rid = client.post(f"/v1/endpoints/{name}-ep/predict", json={"records": [{"id": 7}]}).json()
    body = {"labels": [{"request_id": rid["request_id"], "row": 0, "label": 21.5}]}
    return lambda: client.post(f"/v1/endpoints/{name}-ep/feedback", json=body)


def _monitored(client: TestClient, rt: Runtime, name: str) -> Callable[[], Any]:
    """A logged prediction (set-up); the call reads it into the endpoint's windows."""
    assert _predict(client, rt, name)().status_code == 200
    return lambda: client.post(f"/v1/endpoints/{name}-ep/monitoring/run")


def _alert(client: TestClient, rt: Runtime, name: str) -> int:
    """An open alert (set-up): the default latency rule on a slow window of an endpoint."""
    assert _predict(client, rt, name)().status_code == 200
    return _slow_alert(rt, f"{name}-ep")


def _slow_alert(rt: Runtime, endpoint: str) -> int:
    from datetime import UTC, datetime

    from steward.monitoring import AlertService, WindowReport

    slow = WindowReport(
        endpoint=endpoint,
        model="m@1",
        minutes=60,
        start=datetime(2026, 1, 1, tzinfo=UTC),
        end=datetime(2026, 1, 1, 1, tzinfo=UTC),
        rows=500,
        evaluated_at=None,
        dataset_drift=None,
        reference_rows=1000,
        tested=0,
        drifted=0,
        drifted_share=None,
        drift_share=0.5,
        features=[],
        prediction=None,
        latency_p50_ms=1.0,
        latency_p99_ms=999.0,
        budget_ms=50.0,
        too_few_rows=True,
    )
    [alert] = AlertService(rt).evaluate(endpoint, slow)
    return alert.id


def _refused(call: Callable[[], Any]) -> None:
    from steward.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        call()


def _split(rt: Runtime, name: str) -> tuple[str, str]:
    import pyarrow as pa

    from steward.datasets import DatasetService

    rows = [{"id": i, "total": i * 3.0 + (i % 3)} for i in range(1, 81)]
    ds = DatasetService(rt)
    alice = Principal("alice")
    train = ds.register(alice, pa.Table.from_pylist(rows[:60]), name=f"{name}-train").ref
    hold = ds.register(alice, pa.Table.from_pylist(rows[60:]), name=f"{name}-hold", locked=True)
    return train, hold.ref


def _trained(rt: Runtime, ref: str, *, as_user: str = "admin") -> str:
    from steward.training import TrainingService, Worker

    spec = _train_spec(ref)
    if ref.endswith("-train@1"):
        spec = {**spec, "target": "total", "exclude": [], "team": None}
    job = TrainingService(rt).submit(Principal(as_user), spec)
    Worker(rt, "inline").run_once(job.id)
    done = TrainingService(rt).job(Principal(as_user), job.id)
    assert done.result_ref, done.error_message
    return done.result_ref


def _tiny_onnx() -> bytes:
    """A linear model over one input ``id``, converted by skl2onnx."""
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    x = np.arange(1, 21, dtype=np.float32).reshape(-1, 1)
    return bytes(to_onnx(LinearRegression().fit(x, x[:, 0] * 3), x[:1]).SerializeToString())


def _pending_declaration(rt: Runtime, name: str) -> str:
    """An external model imported by admin with a declaration (anonymised) that waits
    for a data steward (set-up)."""
    from steward.registry import ModelService

    info = ModelService(rt).import_onnx(
        Principal("admin"),
        _tiny_onnx(),
        name=name,
        team=None,
        objective="regression",
        anonymised=True,
    )
    assert info.pending_declaration is not None
    return info.pending_declaration


def _declaration(client: TestClient, rt: Runtime, name: str, *, verb: str) -> Callable[[], Any]:
    """The call is alice's decision on it: a data steward who is not the importer."""
    decl = _pending_declaration(rt, name)
    token = IdentityService(rt).create_token(Principal("alice")).token
    alice = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
    return lambda: alice.post(f"/v1/declarations/{decl}/{verb}", json={"note": "checked"})


def _as_alice(sw: Steward, call: Callable[[Steward], Any]) -> Any:
    with Steward(sw.runtime.home.root, user="alice") as alice:
        return call(alice)


def _with_onnx(client: TestClient, rt: Runtime) -> Callable[[], Any]:
    from steward.registry import ModelService

    model = _trained(rt, _register(client, "onnx"))
    onnx = ModelService(rt).onnx(Principal("admin"), model)
    meta = '{"name": "imported", "objective": "regression", "team": "risk"}'
    return lambda: client.post(
        "/v1/models/import",
        params={"meta": meta},
        content=onnx,
        headers={"content-type": "application/octet-stream"},
    )


def test_every_mutating_route_goes_through_the_door(rt: Runtime) -> None:
    token = IdentityService(rt).create_token(Principal("admin")).token
    client = TestClient(create_app(rt), headers={"Authorization": f"Bearer {token}"})
    examples = _route_examples(client, rt)
    missing = (set(MUTATING_ROUTES) | READ_ONLY_ROUTES) - set(examples)
    assert not missing, f"add an example call for {missing}"
    for key, prepare in examples.items():
        call = prepare()  # set-up (e.g. a token to revoke) is not part of the check
        before_state, (before_seq, _) = state_of(rt), rt.ledger.head()
        resp = call()
        assert resp.status_code < 400, (key, resp.json())
        changed = state_of(rt) != before_state
        new = ledger_after(rt, before_seq)
        if key in READ_ONLY_ROUTES:
            assert not changed and new == [], key
        else:
            if key not in RECORD_ONLY:
                assert changed, f"{key} claims to mutate but changed nothing"
            assert new == [(MUTATING_ROUTES[key], "allow")], (key, new)


# Example arguments for every public SDK method; `None` marks a pure read.
def _sdk_examples(sw: Steward, tmp: Path) -> dict[str, tuple[str | None, Callable[[], Any]]]:
    obj = sw.put_object(b"seed", site="eu-fra", jurisdiction="EU")
    victim = sw.create_token(name="victim")
    csv_path = tmp / "walk.csv"
    csv_path.write_bytes(_CSV)
    seed_csv = tmp / "seed.csv"
    seed_csv.write_bytes(_CSV.replace(b"amount", b"total"))
    sw.register_dataset(seed_csv, name="seed", site="eu-fra")
    sw.register_dataset(csv_path, name="reqs", site="eu-fra")
    asked = sw.request_declassification("reqs@1", {"email": "none"})  # alice decides it
    anon = sw.mask_dataset("seed@1", recipe={"columns": {"email": "drop"}, "k_min": 2})
    tok = sw.mask_dataset("seed@1", recipe={"columns": {"email": "tokenise"}})
    tokens = sw.read_dataset(tok.version.ref).column("email").to_pylist()[:2]
    done = sw.train(_train_spec("seed@1"), executor="inline")
    sw.train(_train_spec("seed@1"), executor="inline", seed=3)
    queued = sw.train(_train_spec("seed@1"), wait=False)
    assert done.result_ref is not None
    onnx_path = tmp / "model.onnx"
    onnx_path.write_bytes(sw.model_onnx(done.result_ref))
    rt = sw.runtime
    train, holdout = _split(rt, "sdk")
    gated = [_trained(rt, train, as_user="alice") for _ in range(4)]
    from steward.gates import GateService

    gates = GateService(rt)
    for m in gated[1:]:
        assert gates.validate(Principal("admin"), m, holdout).passed
    gates.decide(Principal("admin"), gated[3], approve=True)
    train2, holdout2 = _split(rt, "sdk2")
    served = [_trained(rt, train2, as_user="alice") for _ in range(3)]
    for m in served:
        assert gates.validate(Principal("admin"), m, holdout2).passed
        gates.decide(Principal("admin"), m, approve=True)
    from steward.deploy import DeployService

    dep = DeployService(rt)
    dep.deploy(Principal("admin"), served[0], endpoint="sdk-live", site="eu-fra")
    dep.deploy(Principal("admin"), served[1], endpoint="sdk-live", strategy="canary", percent=5)
    dep.deploy(Principal("admin"), served[0], endpoint="sdk-rb", site="eu-fra")
    dep.deploy(Principal("admin"), served[1], endpoint="sdk-rb")
    dep.deploy(Principal("admin"), served[0], endpoint="sdk-alerting", site="eu-fra")
    # alerts on endpoints monitor_run does not watch (its automatic actions are governed,
    # but in this walk it must only read)
    alert_ids = [_slow_alert(rt, "sdk-alerting"), _slow_alert(rt, "sdk-rb")]
    decls = [_pending_declaration(rt, "sdk-decl-a"), _pending_declaration(rt, "sdk-decl-r")]
    return {
        "declarations": (None, lambda: sw.declarations(state="pending")),
        "approve_declaration": (
            "model.declaration.approve",
            lambda: _as_alice(sw, lambda a: a.approve_declaration(decls[0], note="checked")),
        ),
        "reject_declaration": (
            "model.declaration.reject",
            lambda: _as_alice(sw, lambda a: a.reject_declaration(decls[1], note="no")),
        ),
        "me": (None, sw.me),
        "users": (None, sw.users),
        "teams": (None, sw.teams),
        "sites": (None, sw.sites),
        "site": (None, lambda: sw.site("eu-fra")),
        "create_token": ("token.create", lambda: sw.create_token(name="walk")),
        "tokens": (None, sw.tokens),
        "revoke_token": ("token.revoke", lambda: sw.revoke_token(victim.id)),
        "audit_log": (None, sw.audit_log),
        "verify_audit": (None, sw.verify_audit),
        "checkpoint_audit": ("audit.checkpoint", sw.checkpoint_audit),
        "checkpoints": (None, sw.checkpoints),
        "audit_public_key": (None, sw.audit_public_key),
        "export_audit": (None, lambda: sw.export_audit(io.StringIO())),
        "explain": (None, lambda: sw.explain("object.put", "object:x", site="eu-fra")),
        "put_object": (
            "object.put",
            lambda: sw.put_object(b"walk", site="eu-fra", jurisdiction="EU"),
        ),
        "get_object": (None, lambda: sw.get_object("eu-fra", obj.digest)),
        "object_info": (None, lambda: sw.object_info("eu-fra", obj.digest)),
        "objects": (None, sw.objects),
        "close": (None, lambda: None),  # lifecycle, checked by every other test
        "register_dataset": (
            "dataset.register",
            lambda: sw.register_dataset(csv_path, name="walk", site="eu-fra"),
        ),
        "datasets": (None, sw.datasets),
        "dataset": (None, lambda: sw.dataset("seed@1")),
        "dataset_lineage": (None, lambda: sw.dataset_lineage("seed@1")),
        "read_dataset": (None, lambda: sw.read_dataset("seed@1")),
        "copy_dataset": (
            "dataset.copy",
            lambda: sw.copy_dataset(anon.version.ref, to_site="us-east"),
        ),
        "classify_dataset": (
            "dataset.classify",
            lambda: sw.classify_dataset("reqs@1", {"amount": "health_condition"}),
        ),
        "mask_dataset": ("dataset.mask", lambda: sw.mask_dataset("seed@1")),
        "request_declassification": (
            "dataset.request",
            lambda: sw.request_declassification("reqs@1", {"email": "none"}),
        ),
        "request_dataset_copy": (
            "dataset.request",
            lambda: sw.request_dataset_copy("reqs@1", to_site="us-east"),
        ),
        "dataset_requests": (None, sw.dataset_requests),
        "decide_dataset_request": (
            "dataset.approve",
            lambda: _as_alice(sw, lambda a: a.decide_dataset_request(asked.id, approve=True)),
        ),
        "detokenise": (
            "dataset.detokenize",
            lambda: sw.detokenise(tok.version.ref, "email", tokens),
        ),
        "validate_dataset": (None, lambda: sw.validate_dataset("seed@1", csv_path)),
        "train": ("model.train", lambda: sw.train(_train_spec("seed@1"), wait=False)),
        "wait_job": (None, lambda: sw.wait_job(done.id)),
        "jobs": (None, sw.jobs),
        "job": (None, lambda: sw.job(done.id)),
        "job_logs": (None, lambda: sw.job_logs(done.id)),
        "cancel_job": ("job.cancel", lambda: sw.cancel_job(queued.id)),
        "models": (None, sw.models),
        "model": (None, lambda: sw.model(done.result_ref or "")),
        "compare_models": (None, lambda: sw.compare_models("seed-total@1", "seed-total@2")),
        "model_card": (None, lambda: sw.model_card("seed-total@1", format="markdown")),
        "model_onnx": (None, lambda: sw.model_onnx("seed-total@1")),
        "import_model": (
            "model.import",
            lambda: sw.import_model(onnx_path, name="imported", objective="regression"),
        ),
        "validate_model": ("model.validate", lambda: sw.validate_model(gated[0], holdout=holdout)),
        "validations": (None, lambda: sw.validations(gated[1])),
        "validation_report": (None, lambda: sw.validation_report(gated[1])),
        "model_stage": (None, lambda: sw.model_stage(gated[1])),
        "approve_model": ("model.approve", lambda: sw.approve_model(gated[1], note="ok")),
        "reject_model": ("model.reject", lambda: sw.reject_model(gated[2], note="no")),
        "promote_model": ("model.promote", lambda: sw.promote_model(gated[3])),
        "deploy": (
            "deployment.create",
            lambda: sw.deploy(served[2], endpoint="sdk-new", site="eu-fra"),
        ),
        "promote_endpoint": ("deployment.promote", lambda: sw.promote_endpoint("sdk-live")),
        "rollback": ("deployment.rollback", lambda: sw.rollback("sdk-rb")),
        "endpoints": (None, sw.endpoints),
        # embedded, it refuses: the figures live in the serving process (tested remotely)
        "endpoint_status": (None, lambda: _refused(lambda: sw.endpoint_status("sdk-live"))),
        "endpoint": (None, lambda: sw.endpoint("sdk-live")),
        "predict": (None, lambda: sw.predict("sdk-live", [{"id": 3}], request_id="sdk-r1")),
        "feedback": (
            "endpoint.feedback",
            lambda: sw.feedback("sdk-live", [{"request_id": "sdk-r1", "label": 9.0}]),
        ),
        "monitor_run": (None, lambda: sw.monitor_run("sdk-live")),
        "monitor_windows": (None, lambda: sw.monitor_windows("sdk-live")),
        "monitor_revalidate": ("model.validate", lambda: sw.monitor_revalidate("sdk-live")),
        "monitor_report": (None, lambda: sw.monitor_report("sdk-live", window="1d")),
        "alerts": (None, lambda: sw.alerts(endpoint="sdk-live")),
        "alert": (None, lambda: sw.alert(alert_ids[0])),
        "cost_report": (None, lambda: sw.cost_report(by=["team", "kind"])),
        "cost_records": (None, lambda: sw.cost_records(team="risk")),
        "cost_egress": (None, sw.cost_egress),
        "cost_import": ("cost.import", lambda: sw.cost_import([_COST_ROW])),
        "cost_exit": (None, lambda: sw.cost_exit("aws", "azure")),
        "cost_forecast": (None, lambda: sw.cost_forecast(team="risk")),
        "cost_anomalies": (None, lambda: sw.cost_anomalies(endpoint="sdk-live")),
        "estimate_training": (None, lambda: sw.estimate_training(_train_spec("seed@1"))),
        "estimate_serving": (
            None,
            lambda: sw.estimate_serving(served[0], requests_per_second=50),
        ),
        "acknowledge_alert": ("alert.acknowledge", lambda: sw.acknowledge_alert(alert_ids[0])),
        "resolve_alert": ("alert.resolve", lambda: sw.resolve_alert(alert_ids[1])),
    }


def test_every_sdk_method_goes_through_the_door(home: Home, tmp_path: Path) -> None:
    import yaml

    cfg = yaml.safe_load(home.config_path.read_text())  # a transfer rule for request_dataset_copy
    cfg.setdefault("privacy", {})["transfers"] = [
        {"origin": "EU", "destination": "US", "basis": "standard contractual clauses"}
    ]
    home.config_path.write_text(yaml.safe_dump(cfg))
    with Steward(home, user="admin") as sw:
        rt = sw.runtime
        examples = _sdk_examples(sw, tmp_path)
        public = {
            name
            for name, member in inspect.getmembers(Steward)
            if not name.startswith("_") and inspect.isfunction(member)
        }
        assert public == set(examples), f"methods without an example: {public ^ set(examples)}"
        for name, (action, call) in examples.items():
            if name == "close":
                continue
            before_state, (before_seq, _) = state_of(rt), rt.ledger.head()
            call()
            changed = state_of(rt) != before_state
            new = ledger_after(rt, before_seq)
            if action is None:
                assert not changed and new == [], f"{name} changed state: {new}"
            else:
                if name not in SDK_RECORD_ONLY:
                    assert changed, f"{name} claims to mutate but changed nothing"
                assert new == [(action, "allow")], (name, new)


@pytest.mark.parametrize("user", ["bob"])
def test_denied_mutations_change_nothing_but_the_ledger(home: Home, user: str) -> None:
    with Steward(home, user=user) as sw:
        rt = sw.runtime
        before_state, (before_seq, _) = state_of(rt), rt.ledger.head()
        with pytest.raises(Exception) as info:
            sw.put_object(b"x", site="eu-fra", jurisdiction="EU")
        assert getattr(info.value, "code", None) == "policy_denied"
        assert state_of(rt) == before_state
        assert ledger_after(rt, before_seq) == [("object.put", "deny")]
