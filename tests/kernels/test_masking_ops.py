"""Masking operators: exact outputs on small inputs (nulls, empty text, Unicode), keyed
pseudonyms, rare-value suppression, and the by-name operator table recipes use."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from steward.kernels.masking import (
    OPERATORS,
    MaskingError,
    canonical_form,
    generalise_age,
    generalise_date,
    generalise_numeric,
    generalise_postcode,
    partial_mask,
    pseudonymise,
    redact,
    suppress_rare,
)

KEY = b"0123456789abcdef0123456789abcdef"
OTHER_KEY = b"fedcba9876543210fedcba9876543210"


def reference_pseudonym(value: str, key: bytes = KEY, prefix: str = "p_", n: int = 16) -> str:
    return prefix + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:n]


# --- redact ---------------------------------------------------------------------------


def test_redact_replaces_every_present_value_and_keeps_nulls() -> None:
    values = pa.array(["ann@x.org", None, "", "Zoë 😀"])
    assert redact(values).to_pylist() == ["[REDACTED]", None, "[REDACTED]", "[REDACTED]"]
    assert redact(pa.array([1, None, 3]), token="#").to_pylist() == ["#", None, "#"]
    assert redact(pa.array([None, None])).to_pylist() == [None, None]


# --- partial_mask ---------------------------------------------------------------------


def test_partial_mask_keeps_the_ends_and_masks_short_values_fully() -> None:
    cards = pa.array(["4111111111111111", "1234", "12345", None, ""])
    assert partial_mask(cards).to_pylist() == [
        "************1111",
        "****",
        "*2345",
        None,
        "",
    ]
    emails = pa.array(["ann@x.org", "ab"])
    assert partial_mask(emails, keep_first=1, keep_last=4, char="#").to_pylist() == [
        "a####.org",
        "##",
    ]
    assert partial_mask(emails, keep_first=0, keep_last=0).to_pylist() == ["*********", "**"]


def test_partial_mask_counts_unicode_code_points_not_bytes() -> None:
    values = pa.array(["Zoë Müller", "日本語テキスト", "😀😀😀😀😀"])
    assert partial_mask(values, keep_first=1, keep_last=2).to_pylist() == [
        "Z*******er",
        "日****スト",
        "😀**😀😀",
    ]


def test_partial_mask_works_on_the_text_form_of_numbers() -> None:
    assert partial_mask(pa.array([123456789, None]), keep_last=3).to_pylist() == [
        "******789",
        None,
    ]


# --- pseudonymise ---------------------------------------------------------------------


def test_pseudonym_is_hmac_sha256_of_the_canonical_form() -> None:
    out = pseudonymise(pa.array(["  Ann@Example.ORG ", "Straße", None, ""]), key=KEY)
    assert out.to_pylist() == [
        reference_pseudonym("ann@example.org"),
        reference_pseudonym("strasse"),
        None,
        reference_pseudonym(""),
    ]


def test_pseudonyms_are_stable_across_calls_and_datasets_and_differ_across_keys() -> None:
    first = pa.array(["ann@x.org", "bo@y.com", "cy@z.net", None])
    # Another dataset: other order, other chunking, other spelling of the same e-mail.
    second = pa.chunked_array([["cy@z.net"], ["ANN@X.ORG ", "dee@w.io"]])
    a = pseudonymise(first, key=KEY).to_pylist()
    assert a == pseudonymise(first, key=KEY).to_pylist()
    b = pseudonymise(second, key=KEY).to_pylist()
    assert b[0] == a[2] and b[1] == a[0]
    other = pseudonymise(first, key=OTHER_KEY).to_pylist()
    assert all(x != y for x, y in zip(a[:3], other[:3], strict=True))
    assert other[3] is None
    assert len(set(a[:3])) == 3


def test_no_input_value_appears_in_the_pseudonyms() -> None:
    # Names with letters outside 0-9a-f, which hex digits could spell by chance.
    rng = np.random.default_rng(7)
    names = ["ann", "bo", "cyril", "dora", "émile", "fatima", "günther", "hiro"]
    emails = [f"{rng.choice(names)}.{i}@example.org" for i in range(500)]
    out = pseudonymise(pa.array(emails), key=KEY)
    text = "\n".join(out.to_pylist())
    for e in emails:
        assert e not in text
        assert e.split("@")[0] not in text
    for n in names:
        assert n not in text
    assert all(p.startswith("p_") and len(p) == 18 for p in out.to_pylist())


def test_pseudonymise_options_change_the_canonical_form_and_the_shape() -> None:
    values = pa.array(["Ann", "ann"])
    folded = pseudonymise(values, key=KEY).to_pylist()
    exact = pseudonymise(values, key=KEY, casefold=False).to_pylist()
    assert folded[0] == folded[1] and exact[0] != exact[1]
    assert exact[0] == reference_pseudonym("Ann")
    kept = pseudonymise(pa.array([" x "]), key=KEY, strip=False).to_pylist()
    assert kept == [reference_pseudonym(" x ")]
    long = pseudonymise(pa.array(["ann"]), key=KEY, prefix="id-", length=64).to_pylist()
    assert long == [reference_pseudonym("ann", prefix="id-", n=64)]
    # Full-width letters fold to ASCII (NFKC), so they pseudonymise alike.
    assert canonical_form("ＡＮＮ@x.org") == "ann@x.org"


def test_pseudonymise_matches_hmac_for_long_keys_binary_and_numbers() -> None:
    long_key = bytes(range(100))  # longer than the SHA-256 block: hashed first
    assert pseudonymise(pa.array(["v"]), key=long_key).to_pylist() == [
        reference_pseudonym("v", key=long_key)
    ]
    raw = pseudonymise(pa.array([b"\x00\xffAB", None], pa.binary()), key=KEY).to_pylist()
    expected = "p_" + hmac.new(KEY, b"\x00\xffAB", hashlib.sha256).hexdigest()[:16]
    assert raw == [expected, None]
    # The integer 123 and the text "123" are one value, so joins across types work.
    assert (
        pseudonymise(pa.array([123]), key=KEY).to_pylist()
        == pseudonymise(pa.array(["123"]), key=KEY).to_pylist()
    )


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"key": b"short"}, "key"),
        ({"key": "a text key of enough length"}, "key"),
        ({"key": KEY, "length": 4}, "length"),
        ({"key": KEY, "prefix": 3}, "prefix"),
        ({"key": KEY, "casefold": "yes"}, "casefold"),
    ],
)
def test_pseudonymise_rejects_weak_keys_and_bad_options(
    params: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(MaskingError) as info:
        pseudonymise(pa.array(["x"]), **params)
    assert info.value.operator == "pseudonymise" and info.value.parameter == parameter


def test_a_million_pseudonyms(capsys: pytest.CaptureFixture[str]) -> None:
    n = 1_000_000
    values = pa.array([f"user{i}@Example.com" for i in range(n)])
    start = time.perf_counter()
    out = pseudonymise(values, key=KEY)
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\npseudonymise: {n:,} distinct values in {seconds:.2f} s")
    assert len(out) == n and out.null_count == 0
    assert out[12345].as_py() == reference_pseudonym("user12345@example.com")
    assert len(set(out.to_pylist())) == n


# --- generalise -----------------------------------------------------------------------


def test_generalise_age_bands_with_a_top_band() -> None:
    ages = pa.array([0, 9, 34, 39.9, 89, 90, 104, None, float("nan")])
    assert generalise_age(ages).to_pylist() == [
        "0-9",
        "0-9",
        "30-39",
        "30-39",
        "80-89",
        "90+",
        "90+",
        None,
        None,
    ]
    assert generalise_age(pa.array([82, 87, 23]), width=5, top=85).to_pylist() == [
        "80-84",
        "85+",
        "20-24",
    ]
    assert generalise_age(pa.array([82, 87]), width=10, top=85).to_pylist() == ["80-84", "85+"]
    assert generalise_age(pa.array([104]), top=None).to_pylist() == ["100-109"]
    assert generalise_age(pa.array(["34", " 51 ", "", None])).to_pylist() == [
        "30-39",
        "50-59",
        None,
        None,
    ]


def test_generalise_age_rejects_negative_and_non_numeric_ages_naming_the_row() -> None:
    with pytest.raises(MaskingError) as info:
        generalise_age(pa.array([30, -1, 40, -5]))
    assert (info.value.rows, info.value.first_row) == (2, 1)
    with pytest.raises(MaskingError) as info:
        generalise_age(pa.array(["34", "thirty", "n/a"]))
    assert (info.value.rows, info.value.first_row) == (2, 1)
    with pytest.raises(MaskingError) as info:
        generalise_age(pa.array([dt.date(2000, 1, 1)]))
    assert info.value.parameter == "values"


def test_generalise_numeric_bands() -> None:
    incomes = pa.array([43210, 49999, 50000, 0, -5, None])
    assert generalise_numeric(incomes, width=10000).to_pylist() == [
        "40000-49999",
        "40000-49999",
        "50000-59999",
        "0-9999",
        "-10000--1",
        None,
    ]
    assert generalise_numeric(pa.array([49999.5, float("nan")]), width=10000.0).to_pylist() == [
        "40000-49999",
        None,
    ]
    big = 2**62 + 7  # beyond float64's exact integers: banded in integer arithmetic
    assert generalise_numeric(pa.array([big]), width=10).to_pylist() == [
        f"{big // 10 * 10}-{big // 10 * 10 + 9}"
    ]
    assert generalise_numeric(pa.array([1.7, 0.3, 0.0, -0.2]), width=0.1).to_pylist() == [
        "[1.7, 1.8)",
        "[0.3, 0.4)",
        "[0, 0.1)",
        "[-0.2, -0.1)",
    ]
    with pytest.raises(MaskingError) as info:
        generalise_numeric(pa.array([1.0, float("inf")]), width=1)
    assert info.value.first_row == 1
    with pytest.raises(MaskingError) as info:
        generalise_numeric(pa.array([1]), width=0)
    assert info.value.parameter == "width"


def test_generalise_date_from_dates_timestamps_and_iso_text() -> None:
    dates = pa.array([dt.date(2021, 7, 3), dt.date(999, 1, 9), None])
    assert generalise_date(dates, to="month").to_pylist() == ["2021-07", "0999-01", None]
    assert generalise_date(dates, to="year").to_pylist() == ["2021", "0999", None]
    d64 = pa.array([dt.date(2021, 12, 31)], pa.date64())
    assert generalise_date(d64, to="month").to_pylist() == ["2021-12"]
    # 2022-01-01 03:00 UTC is still 2021 in New York.
    stamps = pa.array(
        [dt.datetime(2022, 1, 1, 3, tzinfo=dt.UTC), None], pa.timestamp("us", tz="America/New_York")
    )
    assert generalise_date(stamps, to="year").to_pylist() == ["2021", None]
    assert generalise_date(stamps, to="month").to_pylist() == ["2021-12", None]
    text = pa.array(["2021-07-03", " 2021-07-03T10:00:00Z", "2021-07", "", None])
    assert generalise_date(text, to="month").to_pylist() == [
        "2021-07",
        "2021-07",
        "2021-07",
        "",
        None,
    ]
    assert generalise_date(pa.array(["2021", "2021-07-03"]), to="year").to_pylist() == [
        "2021",
        "2021",
    ]


def test_generalise_date_rejects_text_that_is_not_iso() -> None:
    with pytest.raises(MaskingError) as info:
        generalise_date(pa.array(["2021-07-03", "03/07/2021", "2021-13-01"]), to="year")
    assert (info.value.rows, info.value.first_row) == (2, 1)
    with pytest.raises(MaskingError) as info:
        generalise_date(pa.array(["2021"]), to="month")  # a year has no month
    assert info.value.first_row == 0
    with pytest.raises(MaskingError) as info:
        generalise_date(pa.array(["2021-07-03"]), to="day")  # type: ignore[arg-type]
    assert info.value.parameter == "to"
    with pytest.raises(MaskingError):
        generalise_date(pa.array([1, 2]), to="year")


def test_generalise_postcode_keeps_a_prefix_and_pads() -> None:
    codes = pa.array(["SW1A 1AA", "sw1a1aa", "10001", "AB", "", None, "75008 Paris"])
    assert generalise_postcode(codes).to_pylist() == [
        "SW1****",
        "SW1****",
        "100**",
        "AB",
        "",
        None,
        "750*******",
    ]
    assert generalise_postcode(pa.array(["10001", "ÅÄÖ12"]), keep=0).to_pylist() == [
        "*****",
        "*****",
    ]
    assert generalise_postcode(pa.array([10001]), keep=2).to_pylist() == ["10***"]


# --- suppress_rare --------------------------------------------------------------------


def test_suppress_rare_leaves_only_values_that_occur_min_count_times() -> None:
    rng = np.random.default_rng(11)
    jobs = [f"job{j}" for j in rng.zipf(1.6, size=5000) % 400]
    for min_count in (2, 5, 20):
        out = suppress_rare(pa.array(jobs), min_count=min_count).to_pylist()
        left = Counter(v for v in out if v is not None)
        assert left and min(left.values()) >= min_count
        before = Counter(jobs)
        assert all(v is None or before[v] >= min_count for v in out)
        assert sum(v is None for v in out) == sum(c for c in before.values() if c < min_count)


def test_suppress_rare_keeps_the_type_or_writes_the_replacement() -> None:
    ages = pa.array([30, 30, 41, None, 30, 52])
    out = suppress_rare(ages, min_count=2)
    assert out.type == pa.int64() and out.to_pylist() == [30, 30, None, None, 30, None]
    text = suppress_rare(pa.array(["é", "é", "ß", "", ""]), min_count=2, replacement="other")
    assert text.to_pylist() == ["é", "é", "other", "", ""]
    assert suppress_rare(ages, min_count=2, replacement="~").to_pylist() == [
        "30",
        "30",
        "~",
        None,
        "30",
        "~",
    ]
    assert suppress_rare(ages, min_count=1).to_pylist() == ages.to_pylist()


# --- shape and the operator table -----------------------------------------------------

CALLS: dict[str, dict[str, Any]] = {
    "redact": {},
    "partial_mask": {"keep_last": 2},
    "pseudonymise": {"key": KEY},
    "generalise_age": {"width": 5},
    "generalise_date": {"to": "year"},
    "generalise_postcode": {"keep": 2},
    "generalise_numeric": {"width": 10},
    "suppress_rare": {"min_count": 2, "replacement": "other"},
}
INPUTS: dict[str, pa.ChunkedArray] = {
    "text": pa.chunked_array([["a", None], [], ["ccc", "a"]], pa.string()),
    "number": pa.chunked_array([[31, None], [], [47, 31]], pa.int64()),
    "date": pa.chunked_array([["2021-07-03", None], [], ["1999-01-02", "2021-07-03"]]),
}
KIND = {"generalise_age": "number", "generalise_numeric": "number", "generalise_date": "date"}


def test_operator_table_names_every_operator() -> None:
    assert sorted(OPERATORS) == sorted(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_operator_returns_an_array_of_the_same_length_with_nulls_kept(name: str) -> None:
    values = INPUTS[KIND.get(name, "text")]
    out = OPERATORS[name](values, **CALLS[name])
    assert isinstance(out, pa.Array) and len(out) == len(values) == 4
    assert out[1].as_py() is None and out.null_count == 1
    empty = OPERATORS[name](pa.array([], values.type), **CALLS[name])
    assert isinstance(empty, pa.Array) and len(empty) == 0


@pytest.mark.parametrize(
    ("name", "params", "parameter"),
    [
        ("generalise_age", {"widht": 5}, "widht"),
        ("generalise_date", {}, "to"),
        ("pseudonymise", {"prefix": "x"}, "key"),
        ("suppress_rare", {"min_count": 2, "replace": "x"}, "replace"),
        ("partial_mask", {"keep_last": -1}, "keep_last"),
        ("generalise_numeric", {"width": "10"}, "width"),
        ("redact", {"token": None}, "token"),
    ],
)
def test_operator_table_names_the_operator_and_the_bad_parameter(
    name: str, params: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(ValueError, match=name) as info:
        OPERATORS[name](pa.array(["1"]), **params)
    assert isinstance(info.value, MaskingError)
    assert info.value.operator == name and info.value.parameter == parameter
    assert repr(parameter) in str(info.value)
