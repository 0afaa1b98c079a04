"""Masking operators and k-anonymity (cross-checked with a pandas group-by)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from steward.kernels.masking import (
    OPERATORS,
    enforce_k,
    generalise_age,
    generalise_date,
    generalise_postcode,
    k_anonymity,
    partial_mask,
    pseudonymise,
    redact,
    suppress_rare,
)


def test_operators_on_small_inputs() -> None:
    emails = pa.array(["Ann@x.org", "bo@y.com", None, "ab"])
    assert redact(emails).to_pylist() == ["[REDACTED]", "[REDACTED]", None, "[REDACTED]"]
    assert partial_mask(emails, keep_last=4).to_pylist() == ["*****.org", "****.com", None, "**"]
    assert generalise_age(pa.array([34, 95, None, 9])).to_pylist() == ["30-39", "90+", None, "0-9"]
    assert generalise_date(pa.array([dt.date(2021, 7, 3), None]), to="month").to_pylist() == [
        "2021-07",
        None,
    ]
    assert generalise_postcode(pa.array(["SW1A 1AA", "10001", None]), keep=3).to_pylist() == [
        "SW1****",
        "100**",
        None,
    ]
    assert suppress_rare(pa.array(["a", "a", "b", None]), min_count=2).to_pylist() == [
        "a",
        "a",
        None,
        None,
    ]


def test_pseudonyms_are_stable_keyed_and_hide_the_input() -> None:
    values = pa.array(["ann@x.org", " ANN@x.org", "bo@y.com", None])
    a = pseudonymise(values, key=b"k1").to_pylist()
    assert a[0] == a[1] != a[2] and a[3] is None
    assert a == pseudonymise(values, key=b"k1").to_pylist()
    assert a[0] != pseudonymise(values, key=b"k2").to_pylist()[0]
    assert not any("ann" in p for p in a if p)


def test_operator_table_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="generalise_age"):
        OPERATORS["generalise_age"](pa.array([1]), widht=5)


def test_k_anonymity_matches_pandas_and_enforcement_reaches_k() -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, size=2000),
            "zip": rng.choice(["10001", "10002", "94105", "60601"], size=2000),
            "sex": rng.choice(["f", "m"], size=2000),
        }
    )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    report = k_anonymity(table, ["age", "zip", "sex"])
    sizes = frame.groupby(["age", "zip", "sex"]).size()
    assert report.k == sizes.min() and report.groups == len(sizes)
    assert report.smallest[0][1] == sizes.min()
    banded = table.set_column(0, "age", generalise_age(table.column("age"), width=20))
    assert k_anonymity(banded, ["age", "zip", "sex"]).k > report.k
    fixed, suppressed, removed = enforce_k(table, ["age", "zip", "sex"], 5)
    assert k_anonymity(fixed, ["age", "zip", "sex"]).k >= 5
    assert fixed.num_rows + removed == table.num_rows and suppressed + removed > 0
