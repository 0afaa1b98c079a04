"""The SDK against a real server: ``Steward(url=..., token=...)`` behaves like embedded.

A real uvicorn server runs the app in this process, on 127.0.0.1 and a free port, in a
background thread; both clients work on the same home, so their answers can be compared
field by field, errors included.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward import Steward
from steward.api import background_server, create_app
from steward.config import Home
from steward.errors import NotFound, PolicyDenied, Unauthenticated, ValidationFailed
from steward.identity import CreatedToken
from steward.runtime import Runtime

START_TIMEOUT = 10.0


@pytest.fixture
def server_url(rt: Runtime) -> Iterator[str]:
    """The base URL of a uvicorn server running ``create_app(rt)``; stopped afterwards."""
    with background_server(
        create_app(rt), http="h11", ws="none", lifespan="off", timeout=START_TIMEOUT
    ) as url:
        yield url


@pytest.fixture
def pair(
    home: Home, server_url: str, tokens: dict[str, CreatedToken]
) -> Iterator[tuple[Steward, Steward]]:
    """(embedded, remote) clients acting as alice on the same home."""
    with (
        Steward(home.root, user="alice") as embedded,
        Steward(url=server_url, token=tokens["alice"].token, timeout=10) as remote,
    ):
        yield embedded, remote


def test_remote_client_is_remote(pair: tuple[Steward, Steward]) -> None:
    embedded, remote = pair
    assert embedded.embedded and not remote.embedded
    assert remote.me() == embedded.me()
    assert remote.me().name == "alice"


def test_put_and_get_object_agree(pair: tuple[Steward, Steward]) -> None:
    embedded, remote = pair
    data = bytes(range(256)) * 5
    put_remote = remote.put_object(data, site="eu-fra", jurisdiction="EU", team="risk", label="r")
    assert put_remote.created_by == "alice" and put_remote.size == len(data)
    # The same object seen from both sides.
    assert embedded.object_info("eu-fra", put_remote.digest) == put_remote
    assert remote.object_info("eu-fra", put_remote.digest) == put_remote
    assert remote.get_object("eu-fra", put_remote.digest) == data
    assert embedded.get_object("eu-fra", put_remote.digest) == data
    # Storing the same bytes embedded names the same object.
    assert embedded.put_object(data, site="eu-fra", jurisdiction="EU", team="risk") == put_remote

    other = embedded.put_object(b"embedded bytes", site="eu-fra", jurisdiction="EU")
    assert remote.get_object("eu-fra", other.digest) == b"embedded bytes"
    assert remote.objects() == embedded.objects()
    assert remote.objects(site="us-east") == embedded.objects(site="us-east") == []


def test_put_object_from_a_file_remotely(pair: tuple[Steward, Steward], tmp_path: Path) -> None:
    embedded, remote = pair
    path = tmp_path / "loans.csv"
    path.write_bytes(b"id,income\n1,52000\n")
    info = remote.put_object(path, site="eu-fra", jurisdiction="EU")
    assert embedded.get_object("eu-fra", info.digest) == path.read_bytes()


def test_audit_reads_agree(pair: tuple[Steward, Steward]) -> None:
    embedded, remote = pair
    remote.put_object(b"x", site="eu-fra", jurisdiction="EU")
    v_remote, v_embedded = remote.verify_audit(), embedded.verify_audit()
    assert v_remote.ok and v_remote == v_embedded
    assert remote.audit_log(actor="alice") == embedded.audit_log(actor="alice")
    assert [e.action for e in remote.audit_log(actor="alice")] == ["object.put"]
    assert remote.audit_log(decision="deny") == embedded.audit_log(decision="deny") == []
    assert remote.audit_public_key() == embedded.audit_public_key()
    assert remote.sites() == embedded.sites()
    assert remote.site("us-east") == embedded.site("us-east")
    out_remote, out_embedded = io.StringIO(), io.StringIO()
    remote.export_audit(out_remote)
    embedded.export_audit(out_embedded)
    # Each export carries its own timestamp in the header line; the records must agree.
    assert out_remote.getvalue().splitlines()[1:] == out_embedded.getvalue().splitlines()[1:]
    assert remote.explain("object.read", "object:x", site="eu-fra") == embedded.explain(
        "object.read", "object:x", site="eu-fra"
    )


def test_create_and_revoke_token_remotely(
    home: Home, server_url: str, tokens: dict[str, CreatedToken]
) -> None:
    with (
        Steward(url=server_url, token=tokens["admin"].token) as admin,
        Steward(home.root, user="admin") as embedded,
    ):
        created = admin.create_token(user="bob", name="remote", expires_in_days=7)
        assert (created.user, created.name, created.created_by) == ("bob", "remote", "admin")
        assert created.token.startswith(f"stw_{created.id}_")
        assert created.id in {t.id for t in embedded.tokens(user="bob")}
        with Steward(url=server_url, token=created.token) as bob:
            assert bob.me().name == "bob"
            assert [t.id for t in bob.tokens() if t.id == created.id] == [created.id]
            revoked = admin.revoke_token(created.id)
            assert revoked.id == created.id and revoked.revoked_at is not None
            assert revoked == next(t for t in embedded.tokens(user="bob") if t.id == created.id)
            with pytest.raises(Unauthenticated) as info:
                bob.me()
            assert info.value.code == "unauthenticated"


def test_remote_policy_denied_carries_the_reasons(pair: tuple[Steward, Steward]) -> None:
    embedded, remote = pair
    errors = []
    for sw in (embedded, remote):
        with pytest.raises(PolicyDenied) as info:
            sw.put_object(b"eu rows", site="us-east", jurisdiction="EU")
        errors.append(info.value)
    local, far = errors
    assert type(far) is type(local) is PolicyDenied
    assert far.code == local.code == "policy_denied"
    assert (far.principal, far.action, far.resource) == (
        local.principal,
        local.action,
        local.resource,
    )
    assert far.reasons == local.reasons
    assert [r.policy for r in far.reasons] == ["residency"]
    assert far.details == local.details


def test_remote_default_deny_and_admin_only_actions(
    server_url: str, tokens: dict[str, CreatedToken]
) -> None:
    with Steward(url=server_url, token=tokens["bob"].token) as bob:
        with pytest.raises(PolicyDenied) as info:
            bob.put_object(b"x", site="eu-fra", jurisdiction="EU")
        assert (info.value.action, info.value.reasons) == ("object.put", [])
        with pytest.raises(PolicyDenied) as info:
            bob.checkpoint_audit()
        assert info.value.action == "audit.checkpoint"
        with pytest.raises(PolicyDenied) as info:
            bob.create_token(user="alice")
        assert info.value.action == "token.create"


def test_remote_not_found_matches_embedded(pair: tuple[Steward, Steward]) -> None:
    embedded, remote = pair
    digest = "0" * 64
    for call in (
        lambda sw: sw.get_object("eu-fra", digest),
        lambda sw: sw.object_info("eu-fra", digest),
        lambda sw: sw.site("atlantis"),
        lambda sw: sw.put_object(b"x", site="atlantis", jurisdiction="EU"),
        lambda sw: sw.revoke_token("feedface"),
    ):
        caught = []
        for sw in (embedded, remote):
            with pytest.raises(NotFound) as info:
                call(sw)
            caught.append(info.value)
        local, far = caught
        assert type(far) is type(local) is NotFound
        assert far.details == local.details
        assert far.message == local.message


def test_remote_validation_errors_match_embedded(pair: tuple[Steward, Steward]) -> None:
    embedded, remote = pair
    caught = []
    for sw in (embedded, remote):
        with pytest.raises(ValidationFailed) as info:
            sw.put_object(b"x", site="eu-fra", jurisdiction="Atlantis")
        caught.append(info.value)
    assert caught[0].details == caught[1].details == {"parameter": "jurisdiction"}


def test_remote_needs_a_valid_token(server_url: str) -> None:
    with pytest.raises(Unauthenticated):
        Steward(url=server_url, token="")
    with (
        Steward(url=server_url, token="stw_0000000000000000_nope") as sw,
        pytest.raises(Unauthenticated) as info,
    ):
        sw.me()
    assert info.value.code == "unauthenticated"


def test_training_and_models_agree_remotely(pair: tuple[Steward, Steward], tmp_path: Path) -> None:
    """A job queued over HTTP, run by a worker, seen alike from both clients."""
    from steward.errors import QuotaExceeded
    from steward.training import Worker

    embedded, remote = pair
    path = tmp_path / "credit.csv"
    rows = ["balance,income,student,default"] + [
        f"{(i * 37) % 2500},{20000 + (i * 7919) % 50000},{'Yes' if i % 3 == 0 else 'No'},"
        f"{'Yes' if (i * 37) % 2500 > 1800 else 'No'}"
        for i in range(400)
    ]
    path.write_text("\n".join(rows) + "\n")
    ref = remote.register_dataset(path, name="credit", site="eu-fra", team="risk").ref
    spec = {"data": [ref], "target": "default", "objective": "binary", "family": "linear"}
    job = remote.train(spec, wait=False)
    assert job.state == "queued" and job.site == "eu-fra"
    assert remote.jobs() == embedded.jobs()
    Worker(embedded.runtime, "inline").run_once(job.id)
    done = remote.wait_job(job.id, timeout=30)
    assert done.state == "succeeded", done.error_message
    assert done == embedded.job(job.id)
    assert remote.job_logs(job.id) == embedded.job_logs(job.id)
    ref_m = done.result_ref or ""
    assert remote.model(ref_m) == embedded.model(ref_m)
    assert remote.models() == embedded.models()
    assert remote.model_onnx(ref_m) == embedded.model_onnx(ref_m)
    assert remote.model_card(ref_m, format="markdown").startswith(f"# Model card: {ref_m}")
    with pytest.raises(PolicyDenied):
        remote.train({**spec, "site": "us-east"}, wait=False)
    with pytest.raises(QuotaExceeded) as info:
        remote.train({**spec, "resources": {"gpus": 1}}, wait=False)
    assert info.value.details["quota"] == "gpu_hours_per_month"
    with pytest.raises(ValidationFailed, match="Did you mean 'default'"):
        remote.train({**spec, "target": "defualt"}, wait=False)
    queued = remote.train(spec, wait=False)
    assert remote.cancel_job(queued.id).state == "cancelled"
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(remote.model_onnx(ref_m))
    imported = remote.import_model(onnx, name="external", objective="binary", team="risk")
    assert imported.external and imported.ref == "external@1"
    assert imported in embedded.models()
