"""The full-column format scan that classification rests on at registration."""

from __future__ import annotations

import random
from collections import Counter

import pyarrow as pa
import pytest

from steward.datasets import DatasetService
from steward.datasets import scan as scan_mod
from steward.datasets.scan import LONG, ColumnScan, key_of, shape_keys
from steward.kernels.pii import classify_column
from steward.policy import Principal
from steward.runtime import Runtime

ALICE = Principal("alice")

VALUES = [
    "AB 12 34 56 C",
    "jane.doe@example.org",
    "Zoë Ångström",
    "東京都 1-2-3",
    "",
    "  padded 42 ",
    "x" * 49,
    "é" * 30,  # 30 characters, 60 bytes: long by bytes
    "DE89 3704 0044 0532 0130 00",
]


@pytest.mark.parametrize("typ", [pa.string(), pa.large_string()])
def test_shape_keys_match_key_of_on_slices_and_nulls(typ: pa.DataType) -> None:
    arr = pa.array(VALUES * 3 + [None, "Q7"], type=typ)
    for start, length in [(0, len(arr)), (5, 9), (11, 0), (len(arr) - 2, 2)]:
        part = arr.slice(start, length)
        expected = [key_of(v) if v is not None else "" for v in part.to_pylist()]
        assert shape_keys(part).to_pylist() == expected
    assert key_of("AB 12 34 56 C") == "AA 99 99 99 A"
    assert key_of("Zoë 7") == "AAë 9"  # non-ASCII letters are kept, as the kernel does
    assert key_of("x" * 49) == LONG and key_of("é" * 30) == LONG


def test_counts_are_exact_over_batches() -> None:
    rng = random.Random(3)
    values = [rng.choice([*VALUES, None, str(rng.randint(0, 10**6))]) for _ in range(5000)]
    arr = pa.array(values, type=pa.string())
    scan = ColumnScan(arr.type)
    for start in range(0, len(arr), 777):
        scan.update(arr.slice(start, 777))
    assert scan.counts == Counter(key_of(v) for v in values if v is not None)
    firsts = {}
    for v in values:
        if v is not None:
            firsts.setdefault(key_of(v), v)
    assert scan.first == firsts
    assert scan.unseen == 0


def test_integer_columns_are_scanned_as_their_decimal_text() -> None:
    arr = pa.array([123456782, -5, None, 7, 111222333], type=pa.int64())
    scan = ColumnScan(arr.type)
    scan.update(pa.chunked_array([arr.slice(0, 2), arr.slice(2)]))
    assert scan.counts == {"999999999": 2, "-9": 1, "9": 1}
    assert not ColumnScan(pa.float64()).enabled and not ColumnScan(pa.date32()).enabled


def test_weights_add_up_to_every_non_null_cell() -> None:
    rng = random.Random(5)
    values = [rng.choice(["a1", "bb22", "ccc333", None, "dd"]) for _ in range(3000)]
    scan = ColumnScan(pa.string())
    scan.update(pa.array(values, type=pa.string()))
    head = [v for v in values if v is not None][:100]
    out, weights, unseen = scan.weighted(head)
    assert weights is not None and unseen == 0
    assert out[: len(head)] == head
    assert sum(weights) == sum(v is not None for v in values)
    by_key: Counter[str] = Counter()
    for v, w in zip(out, weights, strict=True):
        by_key[key_of(v)] += w
    assert by_key == scan.counts


def test_shapes_beyond_the_cap_count_as_unseen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_mod, "MAX_SHAPES", 3)
    values = ["a", "bb", "ccc", "dddd", "eeeee", "a", "eeeee"]
    scan = ColumnScan(pa.string())
    scan.update(pa.array(values))
    # the most frequent shapes are kept (a, eeeee, then bb); ccc and dddd are unseen
    assert scan.counts == {"A": 2, "AAAAA": 2, "AA": 1} and scan.unseen == 2
    _, weights, unseen = scan.weighted(["dddd"])  # a head value of an uncounted shape
    assert weights is not None
    assert sum(weights) + unseen == len(values)


def test_a_column_is_judged_on_all_its_cells_not_only_its_head() -> None:
    """1,000 placeholder values, then 4,000 email addresses: the head sample alone sees
    no email; the scan counts the 80% of cells in email format and finds them valid."""
    emails = [f"user{i}@example.com" for i in range(4000)]
    values = ["pending"] * 1000 + emails
    head = values[:1000]
    assert classify_column("contact", head).pii_type is None
    scan = ColumnScan(pa.string())
    scan.update(pa.array(values))
    out, weights, unseen = scan.weighted(head)
    c = classify_column("contact", out, weights=weights, unseen=unseen)
    assert c.pii_type == "email" and c.match_share == pytest.approx(0.8)
    assert c.sampled == 5000 and "every cell's format counted" in c.explanation


def test_registration_classifies_from_the_full_scan(sqlite_rt: Runtime) -> None:
    n = 5000
    table = pa.table(
        {
            "contact": ["pending"] * 1000 + [f"user{i}@example.com" for i in range(n - 1000)],
            "amount": [float(i) for i in range(n)],
        }
    )
    info = DatasetService(sqlite_rt).register(ALICE, table, name="late", team="risk")
    shown = DatasetService(sqlite_rt).show(ALICE, info.ref)
    classes = {c.column: c for c in shown.classification}
    assert classes["contact"].pii_type == "email"
    assert classes["contact"].sampled == n
    assert classes["amount"].pii_type is None


def test_unhinted_names_after_a_head_of_placeholders_are_found_from_the_scan() -> None:
    """A column named ``holder``: 500 placeholders, then 4,500 person names. The head
    sample alone holds no name; the scan brings one value of every name shape, weighted
    by its count, and the values alone (no name hint) make it ``person_name``."""
    from faker import Faker

    f = Faker("de_DE")
    f.seed_instance(16)
    values = ["unbekannt"] * 500 + [f.name() for _ in range(4500)]
    head = values[:500]
    assert classify_column("holder", head).pii_type is None
    scan = ColumnScan(pa.string())
    scan.update(pa.array(values))
    out, weights, unseen = scan.weighted(head)
    c = classify_column("holder", out, weights=weights, unseen=unseen)
    assert (c.pii_type, c.category) == ("person_name", "direct")
    assert c.match_share >= 0.8 and "no name hint" in c.explanation
