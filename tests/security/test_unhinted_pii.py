"""Threat: personal data passes as anonymous because its column name gives nothing away.

A careless user (or an insider who wants the data to leave the EU) exports patients'
names under ``titulaire``, ``kunde``, ``holder`` or ``x1``, addresses under ``c7``, SSNs
as nine bare digits. Classification used to find person names only under a name hint, so
these columns were "not personal", the automatic mask left them raw and the version was
called anonymised (issue 16, item 2). Here the columns come from the labelled fixture of
:mod:`unhinted_pii_data`: the labels are the generator's, the names match no hint, and the
classifier must find names in 14 locales, one-line addresses, passports, national IDs and
dashless SSNs from the values alone, without flagging the decoys beside them.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from faker import Faker

sys.path.insert(0, str(Path(__file__).parent))
from unhinted_pii_data import NAME_LOCALES, LabelledColumn, labelled_columns

from steward.datasets import DatasetService
from steward.kernels.pii import classify_column
from steward.kernels.pii.hints import name_hints
from steward.policy import Principal
from steward.runtime import Runtime

ALICE = Principal("alice")
# Floors per type, (precision, recall), on the labelled fixture.
FLOORS = {
    "person_name": (0.95, 0.95),
    "postal_address": (0.95, 0.9),
    "passport": (0.95, 0.9),
    "national_id.us_ssn": (0.95, 0.95),
}
NATIONAL_ID_FLOOR = (0.95, 0.95)  # every other national identifier


@pytest.fixture(scope="module")
def columns() -> list[LabelledColumn]:
    cols = labelled_columns()
    hinted = [c.name for c in cols if name_hints(c.name).types or name_hints(c.name).national_id]
    assert hinted == [], f"fixture column names must give nothing away: {hinted}"
    return cols


@pytest.fixture(scope="module")
def predicted(columns: list[LabelledColumn]) -> list[tuple[str | None, str]]:
    out = []
    for c in columns:
        r = classify_column(c.name, c.values)
        out.append((r.pii_type, r.category))
    return out


def _scores(
    truth: list[str | None], guess: list[str | None]
) -> dict[str, tuple[float, float, int]]:
    out = {}
    for t in sorted({x for x in truth if x}):
        tp = sum(1 for a, b in zip(truth, guess, strict=True) if a == t and b == t)
        fp = sum(1 for a, b in zip(truth, guess, strict=True) if a != t and b == t)
        fn = sum(1 for a, b in zip(truth, guess, strict=True) if a == t and b != t)
        out[t] = (tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0, tp + fn)
    return out


def test_precision_and_recall_per_type_without_any_name_hint(
    columns: list[LabelledColumn], predicted: list[tuple[str | None, str]]
) -> None:
    truth = [c.pii_type for c in columns]
    guess = [p for p, _ in predicted]
    scores = _scores(truth, guess)
    misses = [
        (c.name, c.note, c.pii_type, p)
        for c, (p, _) in zip(columns, predicted, strict=True)
        if p != c.pii_type
    ]
    print(f"\n{'type':36} precision recall columns   (misses: {misses})")
    for t, (p, r, n) in scores.items():
        print(f"{t:36} {p:9.2f} {r:6.2f} {n:7}")
    low = {
        t: (p, r)
        for t, (p, r, _) in scores.items()
        if p < FLOORS.get(t, NATIONAL_ID_FLOOR)[0] or r < FLOORS.get(t, NATIONAL_ID_FLOOR)[1]
    }
    assert low == {}, misses
    assert scores["person_name"][2] >= 20 and scores["postal_address"][2] >= 10


def test_every_direct_identifier_is_classed_direct_and_no_decoy_is(
    columns: list[LabelledColumn], predicted: list[tuple[str | None, str]]
) -> None:
    """What the automatic mask acts on: the category. Every direct column of the fixture
    must be classed direct (names, addresses, passports, IDs, SSNs), no decoy may be."""
    missed = [
        (c.name, c.note, cat)
        for c, (_, cat) in zip(columns, predicted, strict=True)
        if c.category == "direct" and cat != "direct"
    ]
    flagged = [
        (c.name, c.note, p)
        for c, (p, _) in zip(columns, predicted, strict=True)
        if c.category == "none" and p is not None
    ]
    assert Counter(c.category for c in columns)["direct"] >= 50
    assert missed == [] and flagged == []


@pytest.mark.parametrize("locale", NAME_LOCALES)
def test_person_names_are_found_in_each_locale_without_a_hint(locale: str) -> None:
    f = Faker(locale)
    f.seed_instance(2026)
    full = [f.name() for _ in range(200)]
    last_first = [f"{f.last_name()}, {f.first_name()}" for _ in range(200)]
    for name, values in (("titulaire", full), ("kunde", last_first)):
        c = classify_column(name, values)
        assert (c.pii_type, c.category) == ("person_name", "direct"), (locale, values[:3])


def test_registration_classes_unhinted_columns_direct(rt: Runtime) -> None:
    """The attack end to end: a registered table whose names say nothing; the stored
    classification (what masking, residency and profiles read) marks the columns direct."""
    by_note = {c.note: c for c in labelled_columns()}
    pick = {
        "titulaire": by_note["fr_FR name()"],
        "kunde": by_note["de_DE 'Last, First'"],
        "holder": by_note["de passport layout C********"],
        "x1": by_note["nl_NL one-line address"],
        "c7": by_note["en_US ssn() without dashes"],
        "x2": by_note["pl_PL pesel()"],
        "ref": by_note["random 9-digit order numbers"],
        "place": by_note["fr_FR city()"],
        "firm": by_note["de_DE company()"],
    }
    table = pa.table({name: pa.array(c.values) for name, c in pick.items()})
    svc = DatasetService(rt)
    info = svc.register(ALICE, table, name="export", team="risk")
    stored = {c.column: c.category for c in svc.show(ALICE, info.ref).classification}
    assert stored == {name: c.category for name, c in pick.items()}
