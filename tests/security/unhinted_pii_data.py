"""A labelled table of personal and non-personal columns whose names give nothing away.

Every column is named like a real export from a system that does not care about privacy
(``titulaire``, ``kunde``, ``holder``, ``x1``, ``c7``): no name matches a classifier hint
(``test_unhinted_pii.py`` checks that). The label of each column (its category: direct
identifier, quasi-identifier, special category or none; and its type) is set here, by the
code that generates the values, never by the classifier under test.

Values are generated with fixed seeds: person names with Faker in 14 Latin-script
locales, as "First Last" and "Last, First"; one-line postal addresses (Faker's address
with its line breaks turned into commas) in 13 locales; passport numbers in Faker's
layouts and in the published layouts of six EU passports; national identifiers by
Faker's per-country ``ssn``/``nif``/``pesel`` providers; US Social Security numbers
without dashes, as text and as integers. The decoys are what a real table also holds:
cities alone, company and product names, street names, slogans, colours, codes with a
fixed prefix, hexadecimal tokens, running numbers and random nine-digit order numbers.

Other security tests may import :func:`labelled_columns` for the set of direct columns.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from faker import Faker

__all__ = ["OPAQUE_NAMES", "LabelledColumn", "N", "labelled_columns"]

N = 300
OPAQUE_NAMES = (
    "titulaire",
    "kunde",
    "holder",
    "x1",
    "c7",
    "beneficiaire",
    "inhaber",
    "intestatario",
    "titular",
    "houder",
    "wlasciciel",
    "innehavare",
    "party",
    "payee",
    "contact_ref",
    "f1",
    "f2",
    "col_a",
    "col_b",
    "v3",
)
NAME_LOCALES = (
    "en_US",
    "en_GB",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "nl_NL",
    "pt_PT",
    "pl_PL",
    "sv_SE",
    "da_DK",
    "fi_FI",
    "cs_CZ",
    "no_NO",
)
ADDRESS_LOCALES = (
    "en_US",
    "en_GB",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "nl_NL",
    "pt_PT",
    "pl_PL",
    "sv_SE",
    "da_DK",
    "fi_FI",
    "cs_CZ",
)
# (locale, provider method, type) of national identifiers Faker generates validly.
NATIONAL_IDS = (
    ("fr_FR", "ssn", "national_id.fr_nir"),
    ("it_IT", "ssn", "national_id.it_codice_fiscale"),
    ("nl_NL", "ssn", "national_id.nl_bsn"),
    ("sv_SE", "ssn", "national_id.se_personnummer"),
    ("fi_FI", "ssn", "national_id.fi_hetu"),
    ("pl_PL", "pesel", "national_id.pl_pesel"),
    ("es_ES", "nif", "national_id.es_dni"),
    ("nl_BE", "ssn", "national_id.be_nn"),
    ("de_AT", "ssn", "national_id.at_vnr"),
    ("no_NO", "ssn", "national_id.no_fodselsnummer"),
)
# Published passport-number layouts (``?`` a letter, ``#`` a digit, ``*`` either):
# France, Spain, the Netherlands, Germany (its own letter set), Poland, Belgium.
PASSPORT_LAYOUTS = {
    "fr": "##??#####",
    "es": "???######",
    "nl": "??******#",
    "de": "C********",
    "pl": "??#######",
    "be": "??######",
}
_DE_ALPHABET = "CFGHJKLMNPRTVWXYZ0123456789"
HEALTH = [
    "Type 2 diabetes",
    "Asthma",
    "Hypertension",
    "Breast cancer",
    "COPD",
    "Depression",
    "Epilepsy",
    "Migraine",
    "Chronic kidney disease",
    "Crohn's disease",
    "Glaucoma",
    "Rheumatoid arthritis",
]


@dataclass(frozen=True)
class LabelledColumn:
    name: str
    category: str  # direct | quasi | special | none
    pii_type: str | None
    values: list[object]
    note: str  # how the values were made, for failure messages


def _faker(locale: str, seed: int) -> Faker:
    f = Faker(locale)
    f.seed_instance(seed)
    return f


def _layout(rng: random.Random, layout: str, alphabet: str | None = None) -> str:
    letters = "ABCDEFGHIJKLMNPRSTUVWXYZ"
    out = []
    for ch in layout:
        if ch == "?":
            out.append(rng.choice(letters))
        elif ch == "#":
            out.append(rng.choice("0123456789"))
        elif ch == "*":
            out.append(rng.choice(alphabet or letters + "0123456789"))
        else:
            out.append(ch)
    return "".join(out)


def labelled_columns(seed: int = 16) -> list[LabelledColumn]:
    """The labelled columns (about 100), deterministic in ``seed``."""
    rng = random.Random(seed)
    cols: list[LabelledColumn] = []
    names = iter(OPAQUE_NAMES * 20)

    def add(category: str, pii_type: str | None, note: str, make: Callable[[], object]) -> None:
        cols.append(
            LabelledColumn(next(names), category, pii_type, [make() for _ in range(N)], note)
        )

    # -- direct identifiers ------------------------------------------------------------
    for i, loc in enumerate(NAME_LOCALES):
        f = _faker(loc, seed * 100 + i)
        add("direct", "person_name", f"{loc} name()", f.name)
    for i, loc in enumerate(NAME_LOCALES[::2]):
        f = _faker(loc, seed * 200 + i)
        upper = i % 3 == 0  # "MÜLLER, Anna", as registries and airlines write them

        def last_first(f: Faker = f, upper: bool = upper) -> str:
            last = f.last_name()
            return f"{last.upper() if upper else last}, {f.first_name()}"

        add("direct", "person_name", f"{loc} 'Last, First'", last_first)
    for i, loc in enumerate(ADDRESS_LOCALES):
        f = _faker(loc, seed * 300 + i)
        add(
            "direct",
            "postal_address",
            f"{loc} one-line address",
            lambda f=f: re.sub(r"\s*\n\s*", ", ", f.address()),
        )
    for i, loc in enumerate(("en_US", "it_IT", "de_AT")):
        f = _faker(loc, seed * 400 + i)
        add("direct", "passport", f"{loc} passport_number()", f.passport_number)
    for country, layout in PASSPORT_LAYOUTS.items():
        alphabet = _DE_ALPHABET if country == "de" else None
        add(
            "direct",
            "passport",
            f"{country} passport layout {layout}",
            lambda layout=layout, alphabet=alphabet: _layout(rng, layout, alphabet),
        )
    for i, (loc, method, pii_type) in enumerate(NATIONAL_IDS):
        f = _faker(loc, seed * 500 + i)
        add("direct", pii_type, f"{loc} {method}()", getattr(f, method))
    for i in range(3):
        f = _faker("en_US", seed * 600 + i)
        add(
            "direct",
            "national_id.us_ssn",
            "en_US ssn() without dashes",
            lambda f=f: f.ssn().replace("-", ""),
        )
    f = _faker("en_US", seed * 600 + 9)
    add(
        "direct",
        "national_id.us_ssn",
        "en_US ssn() as an integer",
        lambda: int(f.ssn().replace("-", "")),
    )

    # -- quasi-identifiers and special categories ---------------------------------------
    f = _faker("de_DE", seed * 700)
    add(
        "quasi",
        "date_of_birth",
        "birth dates 1940-2005",
        lambda: f.date_of_birth(minimum_age=20, maximum_age=85).isoformat(),
    )
    add("quasi", "gender", "gender words", lambda: rng.choice(["female", "male", "diverse"]))
    add("special", "health_condition", "diagnoses", lambda: rng.choice(HEALTH))
    add(
        "special",
        "icd10_code",
        "ICD-10 codes",
        lambda: rng.choice("ABCDEFGIJKLMNQ") + f"{rng.randint(0, 99):02d}.{rng.randint(0, 9)}",
    )

    # -- not personal data ---------------------------------------------------------------
    for i, loc in enumerate(
        ("en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "en_IE")
    ):
        f = _faker(loc, seed * 800 + i)
        add("none", None, f"{loc} city()", f.city)
    for i, loc in enumerate(("en_US", "de_DE", "fr_FR", "it_IT")):
        f = _faker(loc, seed * 900 + i)
        add("none", None, f"{loc} company()", f.company)
    for i, loc in enumerate(("en_US", "de_DE", "sv_SE")):
        f = _faker(loc, seed * 1000 + i)
        add("none", None, f"{loc} street_name()", f.street_name)
    f = _faker("en_US", seed * 1100)
    add("none", None, "product names", lambda: f"{f.color_name()} {f.word().title()}")
    add("none", None, "slogans", f.catch_phrase)
    add("none", None, "colours", f.color_name)
    add("none", None, "SKU codes", lambda: f"SKU{rng.randint(0, 999_999):06d}")
    add("none", None, "invoice numbers", lambda: f"INV{rng.randint(0, 9_999_999):07d}")
    add("none", None, "hex tokens", lambda: f.hexify("^^^^^^^^^^^^").upper())
    add("none", None, "dashed free codes", lambda: f.bothify("??-####-?").upper())
    start = rng.randint(10**8, 2 * 10**8)
    running = iter(range(start, start + N))
    add("none", None, "running 9-digit ids", lambda: str(next(running)))
    counter = iter(range(start, start + 10 * N, 3))
    add("none", None, "running 9-digit integer ids", lambda: next(counter))
    add("none", None, "random 9-digit order numbers", lambda: str(rng.randint(10**8, 10**9 - 1)))
    add("none", None, "random 9-digit integers", lambda: rng.randint(10**8, 10**9 - 1))
    add("none", None, "random 10-digit numbers", lambda: str(rng.randint(10**9, 10**10 - 1)))
    add("none", None, "amounts", lambda: round(rng.lognormvariate(5, 1), 2))
    return cols
