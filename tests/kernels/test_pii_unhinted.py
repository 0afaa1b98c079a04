"""Value-only detectors: person names (Faker's name lists), one-line addresses, passport
layouts and US SSNs without dashes, each against the look-alikes that must not pass."""

from __future__ import annotations

import importlib
import random
import re

import pytest
from faker import Faker

from steward.kernels.pii import classify_column
from steward.kernels.pii.names import NAME_LOCALES, fold_word, name_lexicon
from steward.kernels.pii.semantic import is_one_line_address, is_person_name


def _faker(locale: str, seed: int) -> Faker:
    f = Faker(locale)
    f.seed_instance(seed)
    return f


def test_the_lexicon_holds_every_name_of_fakers_provider_lists() -> None:
    lex = name_lexicon()
    assert len(lex.locales) >= 30 and set(lex.locales) <= set(NAME_LOCALES)
    for loc in ("de_DE", "pl_PL", "fi_FI", "cs_CZ"):
        provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        firsts = {fold_word(w) for n in provider.first_names for w in n.replace("-", " ").split()}
        assert {w for w in firsts if len(w) > 1} - lex.particles <= lex.first, loc
    assert {"muller", "kowalska", "virtanen", "novakova"} <= lex.last
    assert {"dr", "frau", "mgr"} <= lex.titles


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Anna Kowalska", True),
        ("KOWALSKA, Anna", True),
        ("van der Berg, Jan", True),
        ("Prof. Dr. Jürgen Weiß", True),
        ("Anna Wróblewska-Zięba", True),  # an unknown family name after a known given name
        ("Mary-Jane O'Neill", True),
        ("Smith, Johnson and Brown", False),  # a law firm
        ("Müller GmbH", False),
        ("Lake Jennifer", False),  # a Faker city built on a given name
        ("Roisin Ville", False),
        ("Ergonomic Steel Chair", False),
        ("Anna 2", False),
        ("Weiß, Jürgen, Dr.", False),
    ],
)
def test_is_person_name(value: str, expected: bool) -> None:
    assert is_person_name(value) is expected


@pytest.mark.parametrize("locale", ["en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "fi_FI"])
def test_cities_companies_and_streets_are_not_names(locale: str) -> None:
    f = _faker(locale, 7)
    for make in (f.city, f.company, f.street_name, f.job):
        values = [make() for _ in range(300)]
        assert classify_column("c1", values).pii_type is None, (make.__name__, values[:5])


def test_a_handful_of_repeated_name_like_words_is_a_category_not_people() -> None:
    values = ["White", "Black", "Brown", "Green"] * 50  # also family names in the lists
    assert classify_column("c1", values).pii_type is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("743 Rachel Burgs, North Debratown, FM 50466", True),
        ("Dosentinkuja 76, 17066 Rovaniemi", True),
        ("Grammova 8, 777 63 Městec Králové", True),
        ("Strada Taliercio, 47, 56011, Gabella (PI)", True),
        ("17 Jones Light, North Holly, S6 7LJ", True),
        ("Pack of 12, 500 ml", False),
        ("Model 2024, 16 GB", False),
        ("Rovaniemi", False),
    ],
)
def test_is_one_line_address(value: str, expected: bool) -> None:
    assert is_one_line_address(value) is expected


@pytest.mark.parametrize(
    "locale", ["en_US", "en_GB", "nl_NL", "da_DK", "fi_FI", "cs_CZ", "pt_PT", "es_ES"]
)
def test_one_line_addresses_are_found_without_a_hint(locale: str) -> None:
    f = _faker(locale, 11)
    values = [re.sub(r"\s*\n\s*", ", ", f.address()) for _ in range(300)]
    assert classify_column("x1", values).pii_type == "postal_address"


def test_ssns_without_dashes_are_found_and_nine_digit_numbers_are_not() -> None:
    f = _faker("en_US", 3)
    ssns = [f.ssn().replace("-", "") for _ in range(400)]
    assert classify_column("c7", ssns).pii_type == "national_id.us_ssn"
    as_ints = [int(s) for s in ssns]  # leading zeros lost: 7 or 8 digits
    assert any(len(str(v)) < 9 for v in as_ints)
    assert classify_column("c7", as_ints).pii_type == "national_id.us_ssn"
    rng = random.Random(3)
    random_orders = [str(rng.randint(10**8, 10**9 - 1)) for _ in range(400)]
    assert classify_column("c7", random_orders).pii_type is None
    running = [str(123_000_000 + i) for i in range(400)]  # all valid SSNs, but a sequence
    assert classify_column("c7", running).pii_type is None
    assert classify_column("c7", [int(v) for v in running]).pii_type is None


def test_passport_layouts_need_varying_series() -> None:
    rng = random.Random(9)
    it = [rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") * 2 + f"{rng.randint(0, 10**7 - 1):07d}"]
    it += [
        "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
        + f"{rng.randint(0, 10**7 - 1):07d}"
        for _ in range(299)
    ]
    assert classify_column("holder", it).pii_type == "passport"
    branch_refs = [f"{p}{n:07d}" for n in range(100) for p in ("AB", "CD", "EF")]  # running
    assert classify_column("holder", branch_refs).pii_type is None
    digits_only = [str(rng.randint(10**8, 10**9 - 1)) for _ in range(300)]
    assert classify_column("holder", digits_only).pii_type is None
