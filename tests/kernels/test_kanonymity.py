"""k-anonymity: cross-checked with a pandas group-by on seeded data, planted groups with a
known k, generalisation raising k, and local suppression reaching a target k."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import requires
from steward.kernels.masking import (
    KAnonymityReport,
    MaskingError,
    enforce_k,
    generalise_age,
    generalise_postcode,
    group_sizes,
    k_anonymity,
)

pd = requires.module("pandas")

QI = ["age", "zip", "sex"]


def seeded_people(n: int = 3000, seed: int = 5, missing: float = 0.02) -> Any:
    """People with exact ages, 5-digit ZIPs in four areas, and some missing values."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, size=n).astype("float64"),
            "zip": [
                f"{a}{b:02d}"
                for a, b in zip(
                    rng.choice(["100", "941", "606", "021"], size=n),
                    rng.integers(0, 20, size=n),
                    strict=True,
                )
            ],
            "sex": rng.choice(["f", "m"], size=n),
            "income": rng.normal(50_000, 15_000, size=n).round(),
        }
    )
    for col in QI:
        frame.loc[rng.random(n) < missing, col] = None
    return frame


def pandas_groups(frame: Any, qi: list[str]) -> list[tuple[dict[str, object], int]]:
    """Every group as (values, rows), smallest first, ties by values with missing last."""
    sizes = frame.groupby(qi, dropna=False).size().rename("n").reset_index()
    sizes = sizes.sort_values(["n", *qi], na_position="last", kind="stable")
    out = []
    for rec in sizes.to_dict("records"):
        values = {c: None if pd.isna(rec[c]) else rec[c] for c in qi}
        out.append((values, int(rec["n"])))
    return out


def test_k_and_the_smallest_groups_match_a_pandas_groupby() -> None:
    frame = seeded_people()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    assert table.column("age").null_count > 0 and table.column("zip").null_count > 0
    expected = pandas_groups(frame, QI)
    report = k_anonymity(table, QI, show=12)
    assert report.rows == len(frame) and report.groups == len(expected)
    assert report.k == expected[0][1] == 1
    assert report.smallest == expected[:12]
    assert report.quasi_identifiers == QI


def test_planted_groups_give_the_known_k_and_smallest_groups() -> None:
    rng = np.random.default_rng(42)
    sizes = [3, 4, 4, 7, 9, 12, 25, 40]  # k is 3 by construction
    rows = [
        (f"{20 + 10 * g}-{29 + 10 * g}", ["F", "M"][g % 2])
        for g, size in enumerate(sizes)
        for _ in range(size)
    ]
    order = rng.permutation(len(rows))
    table = pa.table(
        {
            "age": [rows[i][0] for i in order],
            "sex": [rows[i][1] for i in order],
            "y": rng.random(len(rows)),
        }
    )
    report = k_anonymity(table, ["age", "sex"], show=3)
    assert (report.k, report.rows, report.groups) == (3, sum(sizes), len(sizes))
    assert report.smallest == [
        ({"age": "20-29", "sex": "F"}, 3),
        ({"age": "30-39", "sex": "M"}, 4),
        ({"age": "40-49", "sex": "F"}, 4),
    ]


def test_generalising_raises_k_as_computed_independently() -> None:
    frame = seeded_people(missing=0.0)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    before = k_anonymity(table, QI)
    coarse = table.set_column(0, "age", generalise_age(table.column("age"), width=20, top=80))
    coarse = coarse.set_column(1, "zip", generalise_postcode(coarse.column("zip"), keep=3))
    after = k_anonymity(coarse, QI)
    # The same bands computed without the operators: 20-year bands (ages 18-89 fall in
    # five: 0-19, 20-39, 40-59, 60-79, 80+), 3-digit areas, two sexes.
    bands = (frame["age"] // 20 * 20).where(frame["age"] < 80, 80)
    expected = pd.DataFrame({"a": bands, "z": frame["zip"].str[:3], "s": frame["sex"]})
    sizes = expected.groupby(["a", "z", "s"]).size()
    assert before.k == 1
    assert after.k == sizes.min() and after.groups == len(sizes) == 5 * 4 * 2
    assert after.k > before.k
    assert after.smallest[0][1] == after.k


def test_missing_values_form_their_own_group() -> None:
    table = pa.table({"zip": ["100", None, "100", None, None], "sex": ["f", "m", "f", "m", "m"]})
    report = k_anonymity(table, ["zip", "sex"])
    assert (report.k, report.groups) == (2, 2)
    assert report.smallest == [({"zip": "100", "sex": "f"}, 2), ({"zip": None, "sex": "m"}, 3)]


def test_no_quasi_identifiers_means_one_group_of_all_rows() -> None:
    table = pa.table({"x": [1, 2, 3]})
    report = k_anonymity(table, [])
    assert (report.k, report.rows, report.groups) == (3, 3, 1)
    assert report.smallest == [({}, 3)]
    empty = k_anonymity(table.slice(0, 0), ["x"])
    assert (empty.k, empty.rows, empty.groups, empty.smallest) == (0, 0, 0, [])
    assert k_anonymity(table.slice(0, 0), []).k == 0


def test_k_anonymity_handles_odd_columns() -> None:
    table = pa.table(
        {
            "count_all": pa.array(["a", "a", "b"]).dictionary_encode(),
            "born": [dt.date(1980, 1, 1), dt.date(1980, 1, 1), dt.date(1990, 5, 5)],
        }
    )
    report = k_anonymity(table, ["count_all", "born", "born"], show=1)
    assert report.quasi_identifiers == ["count_all", "born"]
    assert report.smallest == [({"count_all": "b", "born": dt.date(1990, 5, 5)}, 1)]
    assert k_anonymity(table, ["born"], show=0).smallest == []


def test_report_to_dict_is_json_ready() -> None:
    report = KAnonymityReport(
        k=1,
        rows=4,
        groups=2,
        smallest=[({"born": dt.date(1990, 5, 5), "w": float("nan")}, 1)],
        quasi_identifiers=["born", "w"],
    )
    d = report.to_dict()
    assert json.loads(json.dumps(d)) == {
        "k": 1,
        "rows": 4,
        "groups": 2,
        "quasi_identifiers": ["born", "w"],
        "smallest": [{"values": {"born": "1990-05-05", "w": "nan"}, "count": 1}],
    }


def test_bad_quasi_identifiers_are_named() -> None:
    table = pa.table({"age": [1]})
    with pytest.raises(MaskingError) as info:
        k_anonymity(table, ["age", "postcode"])
    assert info.value.parameter == "quasi_identifiers" and "postcode" in str(info.value)
    with pytest.raises(MaskingError):
        k_anonymity(table, "age")
    with pytest.raises(MaskingError) as info:
        k_anonymity(table, ["age"], show=-1)
    assert info.value.parameter == "show"


def test_group_sizes_match_a_pandas_transform() -> None:
    frame = seeded_people(n=2000, seed=9, missing=0.05)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    keys = frame[QI].astype(object).where(frame[QI].notna(), "<missing>")
    expected = keys.groupby(QI)["age"].transform("size").to_numpy()
    assert np.array_equal(group_sizes(table, QI), expected)
    assert np.array_equal(group_sizes(table, []), np.full(2000, 2000))


def test_enforce_k_suppresses_small_groups_until_k_is_met() -> None:
    frame = seeded_people()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for target in (2, 5, 10):
        fixed, suppressed, removed = enforce_k(table, QI, target)
        assert k_anonymity(fixed, QI).k >= target
        assert suppressed > 0 and removed == 0 and fixed.num_rows == table.num_rows
        # Rows left alone keep their values; other columns are never touched.
        assert fixed.column("income").equals(table.column("income"))
        kept = group_sizes(table, QI) >= target
        for c in QI:
            assert (
                fixed.column(c)
                .filter(pa.array(kept))
                .equals(table.column(c).filter(pa.array(kept)))
            )
        assert fixed.filter(pa.array(~kept)).column("age").null_count == suppressed


def test_enforce_k_removes_too_few_rows_to_form_a_group() -> None:
    table = pa.table({"zip": ["100", "100", "100", "941"], "y": [1, 2, 3, 4]})
    fixed, suppressed, removed = enforce_k(table, ["zip"], 2)
    assert (suppressed, removed) == (0, 1)
    assert fixed.to_pydict() == {"zip": ["100"] * 3, "y": [1, 2, 3]}
    same, s, r = enforce_k(table, ["zip"], 1)
    assert same.equals(table) and (s, r) == (0, 0)
    with pytest.raises(MaskingError) as info:
        enforce_k(table, ["zip"], 0)
    assert info.value.parameter == "k"
