"""Registering and versioning datasets, and bad input that leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from peopledata import people_rows, write_csv
from sqlalchemy import func, select

from steward.datasets import DatasetService
from steward.errors import ValidationFailed
from steward.policy import Principal
from steward.runtime import Runtime
from steward.store import DatasetVersion

ALICE = Principal("alice")


def objects_on_disk(rt: Runtime) -> list[Path]:
    return sorted(p for p in rt.home.sites_dir.rglob("objects/*/*") if p.is_file())


def version_count(rt: Runtime) -> int:
    with rt.store.transaction() as s:
        return int(s.execute(select(func.count()).select_from(DatasetVersion)).scalar_one())


def test_register_csv_creates_version_one(rt: Runtime, people_csv: Path) -> None:
    info = DatasetService(rt).register(ALICE, people_csv, name="people", team="risk")
    assert (info.ref, info.rows, info.columns) == ("people@1", 300, 9)
    assert (info.site, info.jurisdiction) == ("eu-fra", "EU")
    table = DatasetService(rt).read(ALICE, "people@1")
    assert table.num_rows == 300
    assert table.column("email").to_pylist()[:3] == [r["email"] for r in people_rows()[:3]]
    assert table.schema.field("age").type == pa.int64()
    assert table.schema.field("defaulted").type == pa.bool_()


def test_identical_content_returns_the_existing_version(rt: Runtime, people_csv: Path) -> None:
    svc = DatasetService(rt)
    first = svc.register(ALICE, people_csv, name="people", team="risk")
    again = svc.register(ALICE, people_csv, name="people", team="risk")
    assert again.ref == first.ref == "people@1"
    assert version_count(rt) == 1
    rows = people_rows()
    rows[0]["income"] = 1.0
    changed = svc.register(ALICE, write_csv(people_csv.parent / "p2.csv", rows), name="people")
    assert changed.ref == "people@2" and changed.fingerprint != first.fingerprint


def test_fingerprint_does_not_depend_on_the_input_format(
    rt: Runtime, people_csv: Path, tmp_path: Path
) -> None:
    svc = DatasetService(rt)
    first = svc.register(ALICE, people_csv, name="people", team="risk")
    table = svc.read(ALICE, "people@1")
    pq.write_table(table, tmp_path / "people.parquet")
    again = svc.register(ALICE, tmp_path / "people.parquet", name="people", team="risk")
    assert again.fingerprint == first.fingerprint and again.ref == "people@1"


def test_register_parquet_jsonl_arrow_and_pandas(sqlite_rt: Runtime, tmp_path: Path) -> None:
    svc = DatasetService(sqlite_rt)
    table = pa.table({"a": [1, 2, 3], "b": ["x", "y", None]})
    pq.write_table(table, tmp_path / "t.parquet")
    (tmp_path / "t.jsonl").write_text('{"a": 1, "b": "x"}\n{"a": 2, "b": null}\n')
    assert svc.register(ALICE, tmp_path / "t.parquet", name="pq").rows == 3
    assert svc.register(ALICE, tmp_path / "t.jsonl", name="js").rows == 2
    assert svc.register(ALICE, table.slice(0, 2), name="arrow").rows == 2
    import pandas as pd

    assert svc.register(ALICE, pd.DataFrame({"z": [1.5, 2.5]}), name="frame").rows == 2


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"a,b\n1,2\n3,4\n5\n", {"line": 4, "expected": 2, "found": 1}),
        (b"a,b\n1,2\n\xff\xfe,3\n", {"byte": 8}),
        (b"", {}),
        (b"a,b\n", {}),
    ],
    ids=["ragged", "bad-encoding", "empty", "header-only"],
)
def test_malformed_csv_names_the_position_and_leaves_nothing(
    sqlite_rt: Runtime, tmp_path: Path, content: bytes, detail: dict[str, int]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    with pytest.raises(ValidationFailed) as info:
        DatasetService(sqlite_rt).register(ALICE, bad, name="bad")
    for key, value in detail.items():
        assert info.value.details[key] == value
    assert version_count(sqlite_rt) == 0
    assert objects_on_disk(sqlite_rt) == []
    assert list((sqlite_rt.home.root / "tmp").glob("*")) == []


def test_type_drift_after_the_first_batch_names_the_row(sqlite_rt: Runtime, tmp_path: Path) -> None:
    n = 800_000  # past the first 8 MiB block, which the types are inferred from
    path = tmp_path / "drift.csv"
    with open(path, "w") as fh:
        fh.write("id,amount\n")
        fh.writelines(f"{i},{i * 2}\n" for i in range(n))
        fh.write(f"{n},not-a-number\n")
    with pytest.raises(ValidationFailed) as info:
        DatasetService(sqlite_rt).register(ALICE, path, name="drift")
    assert info.value.details["column"] == "amount"
    assert info.value.details["row"] == n + 1
    assert version_count(sqlite_rt) == 0 and objects_on_disk(sqlite_rt) == []


def test_truncated_parquet_is_refused(sqlite_rt: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"x": list(range(100_000))}), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValidationFailed) as info:
        DatasetService(sqlite_rt).register(ALICE, path, name="trunc")
    assert info.value.details["byte"] == len(data) // 2
    assert version_count(sqlite_rt) == 0 and objects_on_disk(sqlite_rt) == []


def test_schema_break_is_refused_unless_allowed(rt: Runtime, tmp_path: Path) -> None:
    svc = DatasetService(rt)
    svc.register(ALICE, write_csv(tmp_path / "a.csv", [{"x": 1, "y": "a"}]), name="s")
    missing = write_csv(tmp_path / "b.csv", [{"x": 2}])
    with pytest.raises(ValidationFailed) as info:
        svc.register(ALICE, missing, name="s")
    assert [c["column"] for c in info.value.details["changes"]] == ["y"]
    assert svc.register(ALICE, missing, name="s", allow_schema_change=True).ref == "s@2"
    added = write_csv(tmp_path / "c.csv", [{"x": 3, "z": 1.5}])
    assert svc.register(ALICE, added, name="s").ref == "s@3"


def test_profile_and_schema_are_stored(rt: Runtime, people_csv: Path) -> None:
    svc = DatasetService(rt)
    svc.register(ALICE, people_csv, name="people", team="risk")
    d = svc.show(ALICE, "people@1")
    ages = [r["age"] for r in people_rows()]
    age = next(c for c in d.schema_ if c.name == "age")
    assert (age.type, age.min, age.max, age.nullable) == ("integer", min(ages), max(ages), False)
    gender = next(c for c in d.schema_ if c.name == "gender")
    assert gender.categories == ["female", "male"]
    state = svc.profile_state(ALICE, "people@1")
    assert json.dumps(state.summary())  # JSON-able, and the same profile comes back
    csv_table = pcsv.read_csv(people_csv)
    assert csv_table.num_rows == d.rows
