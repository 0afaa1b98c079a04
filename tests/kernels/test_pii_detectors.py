"""Unit tests of the PII detectors: each national identifier with a valid and an invalid
check digit (published examples from python-stdnum's documentation), the format rules,
name hints in eight languages, and how ties between detectors resolve."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest
from faker import Faker

from steward.kernels.pii import NATIONAL_IDS, PII_TYPES, classify_column
from steward.kernels.pii.detectors import (
    is_card,
    is_email,
    is_ip,
    is_mac,
    is_nino,
    is_phone,
    phone_shape,
    stdnum_validator,
)
from steward.kernels.pii.hints import VOCABULARIES, name_hints, name_tokens
from steward.kernels.pii.sample import CAP, PROBE, prepare, validated_share
from steward.kernels.pii.semantic import is_birth_like, parse_date
from steward.kernels.pii.special import embedded_identifiers

# key: (valid, same number with a wrong check digit or impossible component)
EXAMPLES: dict[str, tuple[str, str]] = {
    "us_ssn": ("536-90-4399", "666-90-4399"),
    "gb_nino": ("AB 12 34 56 C", "AB 12 34 56 E"),
    "de_steuer_id": ("36 574 261 809", "36574261890"),
    "fr_nir": ("2 95 10 99 126 111 93", "295109912611199"),
    "it_codice_fiscale": ("RCCMNL83S18D969H", "RCCMNL83S18D969K"),
    "es_dni": ("54362315-K", "54362315Z"),
    "es_nie": ("X-2482300W", "X-2482300A"),
    "nl_bsn": ("1112.22.333", "1112.52.333"),
    "se_personnummer": ("880320-0016", "880320-0018"),
    "pl_pesel": ("44051401359", "44051401358"),
    "in_aadhaar": ("234123412346", "234123412347"),
    "fi_hetu": ("131052-308T", "131052-308U"),
    "no_fodselsnummer": ("15108695088", "15108695077"),
    "be_nn": ("85 07 30 033 28", "12345678901"),
    "ch_ahv": ("756.9217.0769.85", "756.9217.0769.84"),
    "at_vnr": ("1237 010180", "2237 010180"),
    "br_cpf": ("390.533.447-05", "231.002.999-00"),
    "ca_sin": ("123-456-782", "999-999-999"),
    "ee_ik": ("36805280109", "36805280108"),
    "lt_asmens": ("33309240064", "33309240164"),
    "ro_cnp": ("1630615123457", "1630615123458"),
    "bg_egn": ("8032056031", "8032056032"),
    "cz_rc": ("710319/2745", "710319/2746"),
    "hr_oib": ("33392005961", "33392005962"),
    "gr_amka": ("01013099997", "01013099999"),
    "tr_tckimlik": ("17291716060", "17291716050"),
    "ua_rntrc": ("1759013776", "1759013770"),
    "th_pin": ("1-2345-45678-78-1", "1-2345-45678-78-9"),
    "mx_curp": ("BOXW310820HNERXN09", "BOXW310820HNERXN08"),
    "cn_ric": ("360426199101010071", "360426199101010072"),
    "za_idnr": ("7503305044089", "8503305044089"),
    "ie_pps": ("6433435F", "6433435E"),
    "kr_rrn": ("971013-9019902", "971013-9019903"),
    "is_kennitala": ("120174-3399", "120174-3389"),
    "dk_cpr": ("211062-5629", "511062-5629"),
    "gb_nhs": ("943 476 5870", "943 476 5871"),
    "pt_nif": ("501964843", "501964842"),
}


def test_every_national_id_has_examples_and_at_least_20_countries() -> None:
    assert set(EXAMPLES) == {n.key for n in NATIONAL_IDS}
    assert len({n.key.split("_")[0] for n in NATIONAL_IDS}) >= 20
    assert all(PII_TYPES[f"national_id.{n.key}"].category == "direct" for n in NATIONAL_IDS)


@pytest.mark.parametrize("nid", NATIONAL_IDS, ids=lambda n: n.key)
def test_national_id_valid_and_invalid_check_digit(nid: object) -> None:
    from steward.kernels.pii.types import NationalId

    assert isinstance(nid, NationalId)
    valid, invalid = EXAMPLES[nid.key]
    check = is_nino if nid.key == "gb_nino" else stdnum_validator(nid.module)
    assert check(valid) and not check(invalid)
    hint = nid.hints[0].replace(" ", "_")
    # one value under the identifier's own name: the checksum decides
    assert classify_column(hint, [valid]).pii_type == f"national_id.{nid.key}"
    assert classify_column(hint, [invalid]).pii_type != f"national_id.{nid.key}"


def test_stdnum_validator_never_raises() -> None:
    check = stdnum_validator("stdnum.cn.ric")
    assert check("110000199001011234") in (True, False)  # stdnum raises KeyError here
    assert not check("")


def test_nino_follows_hmrc_allocation_rules() -> None:
    assert is_nino("AB123456C") and is_nino("ab 12 34 56 d")
    assert not is_nino("DA123456C")  # D is never a first letter
    assert not is_nino("AO123456C")  # O is never a second letter
    assert not is_nino("GB123456C")  # an unallocated prefix
    assert not is_nino("AB123456E")  # suffix is A-D
    faker_placeholders = [Faker("en_GB").ssn() for _ in range(20)]  # "ZZ 12 34 56 T"
    assert not any(is_nino(v) for v in faker_placeholders)


def test_card_numbers_need_luhn_and_an_issuer_digit() -> None:
    assert is_card("4111 1111 1111 1111") and is_card("378282246310005")  # Visa, Amex
    assert is_card("5555-5555-5555-4444")
    assert not is_card("4111 1111 1111 1112")  # Luhn
    assert not is_card("8111111111111113")  # issuer digit 8 is not a payment card
    assert not is_card("411111111111")  # too short


def test_iban_checksum() -> None:
    check = stdnum_validator("stdnum.iban")
    assert check("GR16 0110 1050 0000 1054 7023 795") and check("DE89370400440532013000")
    assert not check("DE89370400440532013001")
    c = classify_column("col_1", ["DE89370400440532013000", "GB82WEST12345698765432"])
    assert (c.pii_type, c.detector) == ("iban", "value:stdnum.iban")


def test_email_ip_and_mac_formats() -> None:
    assert is_email("józef.nowak@example.pl") and is_email("a+b@mail.example.co.uk")
    assert not is_email("not an email") and not is_email("a@b") and not is_email("a..b@x.org")
    assert is_ip("10.0.0.1") and is_ip("2001:db8::8a2e:370:7334") and is_ip("10.0.0.0/8")
    assert not is_ip("256.1.1.1") and not is_ip("1.2.3") and not is_ip("1.2.3.4.5")
    assert is_mac("00:1A:2b:3c:4D:5e") and is_mac("00-1A-2B-3C-4D-5E")
    assert is_mac("001a.2b3c.4d5e")
    assert not is_mac("00:1A:2B:3C:4D") and not is_mac("00:1A-2B:3C:4D:5E")


@pytest.mark.parametrize(
    "number",
    [
        "+49 30 12345678",
        "030 12345678",
        "(0)20 7946 0958",
        "+44 20 7946 0958",
        "01 42 68 53 00",
        "+33 1 42 68 53 00",
        "+1-202-555-0143x123",
        "(202) 555-0143",
        "06 12345678",
        "070-123 45 67",
        "+48 22 607 36 48",
        "+91 98765 43210",
    ],
)
def test_phone_numbers_in_several_countries(number: str) -> None:
    assert phone_shape(number) == 2 and is_phone(number)


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-05",
        "05.01.2024",
        "192.168.0.1",
        "123-45-6789",
        "978-0-224-49472-4",
        "12345",
        "+1 23",
        "phone me",
        "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6",
    ],
)
def test_not_phone_numbers(text: str) -> None:
    assert not is_phone(text)


def test_bare_digits_are_phones_only_with_a_name_or_formatted_neighbours() -> None:
    bare = ["2025550143", "2025550178", "3125550199", "4155550123"]
    assert classify_column("col_1", bare).pii_type is None
    assert classify_column("telefono", bare).pii_type == "phone"
    assert classify_column("col_1", [*bare, "(202) 555-0111", "+1 415 555 0100"]).pii_type == (
        "phone"
    )
    assert classify_column("phone", [2025550143, 2025550178]).pii_type == "phone"
    assert classify_column("ts", [1_700_000_000, 1_700_000_100]).pii_type is None


def test_dates_of_birth_and_event_dates() -> None:
    assert parse_date("1985-03-12") == dt.date(1985, 3, 12) == parse_date("12/03/1985")
    assert parse_date("03/25/1985") == dt.date(1985, 3, 25)  # month first when day > 12
    assert parse_date("1985-02-30") is None and parse_date("12 March 1985") is None
    assert is_birth_like(np.array([1950, 1962, 1975, 1981, 1990, 2001, 1944, 1968]))
    assert not is_birth_like(np.array([2023, 2024, 2024, 2025, 2025]))
    rng = random.Random(1)
    births = [dt.date(rng.randint(1935, 2005), rng.randint(1, 12), 1) for _ in range(300)]
    orders = [dt.date(2025, 1, 1) - dt.timedelta(days=rng.randint(0, 600)) for _ in range(300)]
    assert classify_column("col_9", births).pii_type == "date_of_birth"
    assert classify_column("col_9", orders).pii_type is None
    assert classify_column("Geburtsdatum", orders).pii_type == "date_of_birth"  # name decides
    assert classify_column("birth_year", [1970, 1985, 1990]).pii_type == "date_of_birth"


def test_ages_need_a_name_and_a_plausible_range() -> None:
    assert classify_column("Alter", [34, 56, 71, 23]).pii_type == "age"
    assert classify_column("age_band", ["30-39", "40-49", "65+"]).pii_type == "age"
    assert classify_column("col_2", [34, 56, 71, 23]).pii_type is None
    assert classify_column("age", [0.01, 0.3, 0.05]).pii_type is None  # rates, not ages
    assert classify_column("account_age_days", list(range(200, 3000, 7))).pii_type is None


def test_postcodes_distinctive_formats_alone_bare_digits_by_name() -> None:
    assert classify_column("col", ["SW1A 1AA", "M8A 1RF", "EC1A 1BB"]).pii_type == "postcode"
    assert classify_column("col", ["1012 AB", "8221 WT", "3235 OK"]).pii_type == "postcode"
    assert classify_column("col", ["00-950", "62-618", "16-696"]).pii_type == "postcode"
    assert classify_column("col", ["10115", "80331", "50667"]).pii_type is None
    assert classify_column("PLZ", ["10115", "80331", "50667"]).pii_type == "postcode"
    assert classify_column("zip", [2134, 90210, 10001]).pii_type == "postcode"


def test_icd10_codes_alone_must_span_chapters() -> None:
    codes = ["E11.9", "I10", "J45.909", "C50.911", "F32.A", "M54.5"]
    assert classify_column("col", codes).pii_type == "icd10_code"
    assert classify_column("col", ["B12", "B14", "B13", "B12"]).pii_type is None
    assert classify_column("icd10", ["B12", "B14", "B13"]).pii_type == "icd10_code"


def test_vocabularies_need_a_distinctive_word_or_a_name() -> None:
    eth = VOCABULARIES["ethnicity"]
    assert eth.match(name_tokens("Black or African American")) == 2
    assert eth.match(name_tokens("White")) == 1 and eth.match(name_tokens("Red")) == 0
    assert VOCABULARIES["health_condition"].match(name_tokens("Type 2 diabetes")) == 2
    assert VOCABULARIES["health_condition"].match(name_tokens("Sarcoidosis")) == 2
    assert classify_column("col", ["White", "Black", "White"]).pii_type is None  # colours?
    assert classify_column("col", ["White", "Black", "Asian"]).pii_type == "ethnicity"
    assert classify_column("race", ["White", "Black", "White"]).pii_type == "ethnicity"
    assert classify_column("col", ["M", "F", "F", "M"]).pii_type == "gender"
    assert classify_column("size", ["S", "M", "L", "XL"]).pii_type is None
    assert classify_column("test", ["covid"] * 10).pii_type is None  # constant: no one singled out
    assert classify_column("genre", ["rock", "jazz", "pop"]).pii_type is None
    assert classify_column("sex", [1, 2, 2, 1]).detector == "name:gender"


def test_names_and_addresses_need_words() -> None:
    names = ["Anna Kowalska", "Jan de Vries", "O'Neil", "Dr. Hans-Jürgen Müller B.Sc."]
    assert classify_column("nazwisko", names).pii_type == "person_name"
    assert classify_column("col", names).pii_type is None  # capitalised words: too vague
    assert classify_column("product_name", names).pii_type is None
    addrs = [
        "Henckweg 10\n56404 Sankt Goar",
        "76, rue Picard\n97659 Paris",
        "ulica Towarowa 859",
        "4231 Crane Roads",
    ]
    assert classify_column("col", addrs).pii_type == "postal_address"
    assert classify_column("col", ["Model 3", "Windows 10", "Room 101"]).pii_type is None


def test_passports_are_found_by_their_layout_and_codes_with_one_prefix_are_not() -> None:
    values = ["C01X00T47", "J38147513", "T62254096", "YA1234567", "12AB34567", "AAB123456"]
    assert classify_column("Reisepassnummer", values).pii_type == "passport"
    assert classify_column("col", values).pii_type == "passport"
    invoices = [f"INV{n:07d}" for n in range(4000, 4200, 3)]  # one prefix, a running number
    assert classify_column("col", invoices).pii_type is None
    assert classify_column("col", [f"SKU-{n:05d}" for n in range(100)]).pii_type is None


def test_free_text_with_embedded_identifiers() -> None:
    assert embedded_identifiers("Call Anna on +44 20 7946 0958 or anna@example.org") == [
        "email",
        "phone",
    ]
    assert embedded_identifiers("Refund to DE89 3704 0044 0532 0130 00 today") == ["iban"]
    assert embedded_identifiers("SSN 536-90-4399 on file, NI AB 12 34 56 C") == [
        "national_id.gb_nino",
        "national_id.us_ssn",
    ]
    assert embedded_identifiers("Meeting moved to 2024-05-01, room 12, 14 attendees") == []
    notes = ["The customer asked for a refund and was told to wait a week."] * 8 + [
        "Please call the customer back at +49 30 12345678 tomorrow morning."
    ] * 2
    assert classify_column("notes", notes).pii_type == "free_text_with_identifiers"
    assert classify_column("notes", notes[:8]).pii_type is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Geburtsdatum", "date_of_birth"),
        ("date_naissance", "date_of_birth"),
        ("fechaDeNacimiento", "date_of_birth"),
        ("födelsedatum", "date_of_birth"),
        ("data_urodzenia", "date_of_birth"),
        ("telefono", "phone"),
        ("Kundentelefonnummer", "phone"),
        ("achternaam", "person_name"),
        ("woonadres", "postal_address"),
        ("płeć", "gender"),
        ("Geschlecht", "gender"),
        ("email_address", "email"),
        ("ip_address", "ip_address"),
        ("emp_title", "job_title"),
        ("codice_fiscale", "national_id.it_codice_fiscale"),
        ("personnummer", "national_id.se_personnummer"),
        ("bsn", "national_id.nl_bsn"),
    ],
)
def test_name_hints_in_several_languages(name: str, expected: str) -> None:
    hints = name_hints(name)
    assert hints.hint_for(expected) is not None
    if not expected.startswith("national_id."):
        assert set(hints.types) == {expected}


def test_name_hints_are_whole_words_and_respect_context() -> None:
    assert name_hints("mortgage").types == {} and name_hints("page_views").types == {}
    assert name_hints("company_name").types == {} and name_hints("clinic_name").types == {}
    assert name_hints("job_status").types == {}  # "job" alone counts only as the whole name
    assert name_hints("job").types == {"job_title": "job"}
    assert name_hints("tax_id").national_id == "tax id"
    assert name_hints("zip_file_size").types == {} and name_hints("birth_rate").types == {}


def test_checksums_beat_plain_patterns_and_ties_go_to_the_stricter_validator() -> None:
    bsns = [Faker("nl_NL").ssn() for _ in range(50)]
    for name in ("bsn", "phone", "ssn", "col_7"):
        c = classify_column(name, bsns)
        assert c.pii_type == "national_id.nl_bsn", (name, c)
    assert classify_column("bsn", bsns).detector == "value:stdnum.nl.bsn+name"
    # a valid Steuer-ID is also a valid Croatian OIB (both ISO 7064 mod 11,10)
    steuer = ["36574261809", "86942145703"]
    assert all(stdnum_validator("stdnum.hr.oib")(v) for v in steuer)
    assert classify_column("col", steuer).pii_type == "national_id.de_steuer_id"
    assert classify_column("oib", ["33392005961"]).pii_type == "national_id.hr_oib"
    # same algorithm: Estonian by default, Lithuanian when the name says so
    assert classify_column("col", ["33309240064"]).pii_type == "national_id.ee_ik"
    assert classify_column("asmens_kodas", ["33309240064"]).pii_type == "national_id.lt_asmens"


def test_invalid_checksums_are_not_identifiers() -> None:
    rng = random.Random(3)
    numbers = [str(rng.randint(10**8, 10**9 - 1)) for _ in range(300)]
    c = classify_column("bsn", numbers)
    assert c.pii_type is None and "nl_bsn" in c.explanation
    assert (
        classify_column("col", [str(rng.randint(10**10, 10**11 - 1)) for _ in range(300)]).pii_type
        is None
    )


def test_sample_preparation_skips_nulls_and_counts_kinds() -> None:
    s = prepare(
        [
            None,
            float("nan"),
            "",
            "  a ",
            "a",
            3,
            3.0,
            2.5,
            True,
            dt.date(2000, 1, 2),
            dt.datetime(2000, 1, 2, 0, 0),
            dt.datetime(2000, 1, 2, 13, 5),
            np.int64(7),
        ]
    )
    assert s.n == 10
    assert s.texts[:3] == ["a", "3", "2.5"] and s.weights[:2] == [2, 2]
    assert s.kinds == {"str": 2, "int": 2, "float": 2, "bool": 1, "date": 1, "datetime": 2}
    assert s.dates == [dt.date(2000, 1, 2), dt.date(2000, 1, 2)]  # the 13:05 stamp is not


def test_validation_is_probed_then_capped() -> None:
    calls: list[str] = []

    def count(ok: bool):  # type: ignore[no-untyped-def]
        def check(v: str) -> bool:
            calls.append(v)
            return ok

        return check

    s = prepare([f"v{i}" for i in range(1000)])
    assert validated_share(s, range(s.distinct), count(False)) == (0.0, PROBE)
    assert len(calls) == PROBE
    calls.clear()
    assert validated_share(s, range(s.distinct), count(True)) == (1.0, CAP)
    assert len(calls) == CAP


def test_result_fields_and_errors() -> None:
    c = classify_column("e-mail", ["a@example.org", None, "b@example.com"])
    assert c.to_dict() == {
        "column": "e-mail",
        "pii_type": "email",
        "category": "direct",
        "confidence": c.confidence,
        "detector": "value:regex.email+name",
        "match_share": 1.0,
        "sampled": 2,
        "explanation": c.explanation,
    }
    assert 0.9 <= c.confidence <= 0.99
    assert "100% of 2 sampled values" in c.explanation and "'e mail'" in c.explanation
    empty = classify_column("email", [None, None])
    assert (empty.pii_type, empty.sampled, empty.category) == (None, 0, "none")
    with pytest.raises(ValueError, match="min_share"):
        classify_column("x", ["a"], min_share=0)


def test_prepare_with_weights_counts_cells_not_values() -> None:
    s = prepare(["a@b.org", "  ", "42", "a@b.org"], [5, 3, 2, 1], unseen=4)
    assert s.n == 5 + 2 + 1 + 4  # the blank value is null: its cells do not count
    assert dict(zip(s.texts, s.weights, strict=True)) == {"a@b.org": 6, "42": 2}
    assert s.kinds == {"str": 12}  # unseen cells count with the column's main kind
    assert s.scanned and not prepare(["a"]).scanned
    with pytest.raises(ValueError, match="expected 2 weights; found 1"):
        prepare(["a", "b"], [1])
