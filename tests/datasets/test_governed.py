"""Residency, locked holdouts, classification overrides, masking, validation, lineage."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pcsv
import pytest
from peopledata import people_rows, write_csv

from steward.audit import LedgerFilter
from steward.datasets import DatasetService
from steward.errors import PolicyDenied, ValidationFailed
from steward.policy import Principal
from steward.runtime import Runtime

ALICE, BOB, ADMIN = Principal("alice"), Principal("bob"), Principal("admin")


def last_entry(rt: Runtime) -> tuple[str, str, list[str]]:
    e = rt.ledger.entries(LedgerFilter(limit=10_000))[-1]
    import json

    return e.action, e.decision, [r["policy"] for r in json.loads(e.reasons)]


def test_cross_jurisdiction_read_and_copy_are_denied_and_recorded(
    rt: Runtime, people_csv: Path
) -> None:
    svc = DatasetService(rt)
    svc.register(ALICE, people_csv, name="people", team="risk")
    with pytest.raises(PolicyDenied) as info:
        svc.read(ALICE, "people@1", site="us-east")
    assert [r.policy for r in info.value.reasons] == ["residency"]
    assert last_entry(rt) == ("dataset.read", "deny", ["residency"])
    with pytest.raises(PolicyDenied):
        svc.copy(ADMIN, "people@1", to_site="us-east")
    assert last_entry(rt) == ("dataset.copy", "deny", ["residency"])
    assert svc.show(ALICE, "people@1").copies == []


def test_locked_holdout_reads_are_denied_except_for_gate_evaluation(
    rt: Runtime, people_csv: Path
) -> None:
    svc = DatasetService(rt)
    info = svc.register(ALICE, people_csv, name="holdout", team="risk", locked=True)
    assert info.locked
    for who in (ALICE, ADMIN):
        with pytest.raises(PolicyDenied) as denied:
            svc.read(who, "holdout@1")
        assert [r.policy for r in denied.value.reasons] == ["locked-holdout-read"]
        assert last_entry(rt) == ("dataset.read", "deny", ["locked-holdout-read"])
    with pytest.raises(PolicyDenied):
        svc.mask(ADMIN, "holdout@1")
    # Naming the purpose is not enough: only the gate service identity reads it.
    with pytest.raises(PolicyDenied):
        svc.read(ADMIN, "holdout@1", purpose="gate-evaluation")
    gates = Principal("steward-gates")
    assert svc.read(gates, "holdout@1", purpose="gate-evaluation").num_rows == 300


def test_copy_of_anonymised_version_is_allowed_and_records_bytes(
    rt: Runtime, people_csv: Path
) -> None:
    svc = DatasetService(rt)
    svc.register(ALICE, people_csv, name="people", team="risk")
    from steward.datasets.mask import parse_recipe

    # Identifiers dropped (not hashed): a pseudonym would keep residency binding.
    recipe = parse_recipe(
        {"columns": {"full_name": "drop", "email": "drop", "ssn": "drop"}, "enforce_k": True}
    )
    masked = svc.mask(ALICE, "people@1", recipe=recipe)
    assert masked.anonymised and masked.verdict == "anonymised", masked.reasons
    copy = svc.copy(ALICE, masked.version.ref, to_site="us-east")
    assert copy.bytes == masked.version.bytes > 0
    assert svc.read(ALICE, masked.version.ref, site="us-east").num_rows == 300
    assert last_entry(rt)[0] == "dataset.copy"


def test_masking_leaves_no_raw_identifier_in_the_stored_file(rt: Runtime, people_csv: Path) -> None:
    svc = DatasetService(rt)
    svc.register(ALICE, people_csv, name="people", team="risk")
    result = svc.mask(ALICE, "people@1")
    _, v = svc._lookup(result.version.ref)
    stored = rt.artifacts.get_bytes(v.site, v.object_digest)  # decrypted Parquet bytes
    classes = {c.column: c for c in svc.show(ALICE, "people@1").classification}
    direct = [c for c, k in classes.items() if k.category == "direct"]
    assert {"full_name", "email", "ssn"} <= set(direct)
    rows = people_rows()
    for col in direct:
        for r in rows:
            assert str(r[col]).encode() not in stored, (col, r[col])
    assert result.version.parents == ["people@1"]
    lineage = svc.lineage(ALICE, result.version.ref)
    assert [p.ref for p in lineage.parents] == ["people@1"]
    assert lineage.transform == "mask" and lineage.created_by == "alice"


def test_recipe_tokens_are_reversible_only_by_data_stewards(rt: Runtime, people_csv: Path) -> None:
    svc = DatasetService(rt)
    svc.register(ALICE, people_csv, name="people", team="risk")
    from steward.datasets.mask import parse_recipe

    recipe = parse_recipe(
        {
            "columns": {
                "full_name": "drop",
                "email": "tokenise",
                "ssn": {"op": "partial_mask", "keep_last": 2},
            }
        }
    )
    result = svc.mask(ALICE, "people@1", recipe=recipe)
    assert not result.anonymised  # a reversible token still identifies
    tokens = svc.read(ALICE, result.version.ref).column("email").to_pylist()[:3]
    assert svc.detokenise(ALICE, result.version.ref, "email", tokens) == [
        r["email"] for r in people_rows()[:3]
    ]
    assert last_entry(rt)[:2] == ("dataset.detokenize", "allow")
    with pytest.raises(PolicyDenied):
        svc.detokenise(BOB, result.version.ref, "email", tokens)
    assert last_entry(rt)[:2] == ("dataset.detokenize", "deny")


def test_classification_override_is_audited(rt: Runtime, people_csv: Path) -> None:
    svc = DatasetService(rt)
    svc.register(ALICE, people_csv, name="people", team="risk")
    out = svc.set_classification(ALICE, "people@1", {"customer_id": "none", "zip": "postcode"})
    by = {c.column: c for c in out}
    assert by["zip"].pii_type == "postcode" and by["zip"].overridden_by == "alice"
    assert by["customer_id"].category == "none"
    assert last_entry(rt)[:2] == ("dataset.classify", "allow")
    assert svc.show(ALICE, "people@1").classification == out
    with pytest.raises(ValidationFailed):
        svc.set_classification(ALICE, "people@1", {"zip": "not-a-class"})
    with pytest.raises(PolicyDenied):
        svc.set_classification(BOB, "people@1", {"zip": "none"})


def test_validate_reports_counts_first_rows_and_quarantines(
    sqlite_rt: Runtime, people_csv: Path, tmp_path: Path
) -> None:
    svc = DatasetService(sqlite_rt)
    svc.register(ALICE, people_csv, name="people", team="risk")
    rows = people_rows(50)  # the registered rows: in range
    rows[4]["age"] = "old"
    rows[7]["gender"] = "unknown"
    rows[9]["income"] = -5.0
    for r in rows:
        r.pop("zip")
        r["extra"] = 1
    batch = write_csv(tmp_path / "batch.csv", rows)
    rep = svc.validate(ALICE, "people@1", batch, quarantine=tmp_path / "bad.csv")
    assert not rep.ok and rep.rows == 50 and rep.bad_rows == 3
    found = {(c.column, c.check): c for c in rep.checks}
    assert found[("age", "type")].first_rows == [5]
    assert found[("gender", "category")].first_rows == [8]
    assert found[("income", "range")].first_rows == [10]
    assert ("zip", "missing_column") in found and ("extra", "new_column") in found
    assert pcsv.read_csv(tmp_path / "bad.csv").num_rows == 3
    clean = write_csv(tmp_path / "clean.csv", people_rows(40, seed=11))
    assert svc.validate(ALICE, "people@1", clean).ok
