"""The column classifier: name hints plus value evidence, most specific class wins."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from steward.kernels.pii.detectors import DETECTORS
from steward.kernels.pii.types import PII_TYPES

__all__ = ["ColumnClassification", "classify_column", "classify_columns", "name_hints"]


@dataclass(frozen=True)
class ColumnClassification:
    column: str
    pii_type: str | None
    category: str
    confidence: float
    detector: str
    match_share: float
    sampled: int
    explanation: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# Name hints, by class: tokens of a column name (lowercased, split on _ - . space and
# camelCase) in English, German, French, Spanish, Italian, Dutch, Swedish and Polish.
_HINTS: dict[str, tuple[str, ...]] = {
    "person_name": (
        "name",
        "firstname",
        "first_name",
        "lastname",
        "last_name",
        "surname",
        "fullname",
        "full_name",
        "given_name",
        "family_name",
        "forename",
        "vorname",
        "nachname",
        "nom",
        "prenom",
        "prénom",
        "nombre",
        "apellido",
        "apellidos",
        "nome",
        "cognome",
        "naam",
        "voornaam",
        "achternaam",
        "namn",
        "fornamn",
        "förnamn",
        "efternamn",
        "imie",
        "imię",
        "nazwisko",
    ),
    "email": (
        "email",
        "e_mail",
        "mail",
        "emailaddress",
        "email_address",
        "courriel",
        "correo",
        "epost",
        "e_post",
    ),
    "phone": (
        "phone",
        "telephone",
        "tel",
        "mobile",
        "cell",
        "cellphone",
        "phone_number",
        "handy",
        "telefon",
        "telefonnummer",
        "téléphone",
        "telephone_number",
        "telefono",
        "teléfono",
        "telefoon",
        "mobiel",
        "mobil",
        "mobilnummer",
        "komorka",
    ),
    "postal_address": (
        "address",
        "addr",
        "street",
        "street_address",
        "adresse",
        "anschrift",
        "strasse",
        "direccion",
        "dirección",
        "indirizzo",
        "adres",
        "straat",
        "adress",
        "gatuadress",
        "ulica",
        "home_address",
    ),
    "iban": ("iban", "bank_account", "account_number", "kontonummer", "rekeningnummer"),
    "payment_card": (
        "card",
        "credit_card",
        "card_number",
        "cc_number",
        "ccnum",
        "pan",
        "kreditkarte",
        "carte",
        "tarjeta",
        "carta",
    ),
    "ip_address": ("ip", "ip_address", "ipv4", "ipv6", "ip_addr", "client_ip"),
    "mac_address": ("mac", "mac_address", "macaddr"),
    "passport": (
        "passport",
        "passport_number",
        "passport_no",
        "reisepass",
        "passnummer",
        "passeport",
        "pasaporte",
        "passaporto",
        "paspoort",
        "pass",
        "paszport",
    ),
    "date_of_birth": (
        "dob",
        "birth",
        "birthday",
        "birthdate",
        "birth_date",
        "date_of_birth",
        "geburtsdatum",
        "geburtstag",
        "naissance",
        "date_naissance",
        "nacimiento",
        "fecha_nacimiento",
        "nascita",
        "data_nascita",
        "geboortedatum",
        "fodelsedatum",
        "födelsedatum",
        "urodzenia",
        "data_urodzenia",
    ),
    "age": (
        "age",
        "alter",
        "âge",
        "edad",
        "eta",
        "età",
        "leeftijd",
        "alder",
        "ålder",
        "wiek",
        "age_years",
    ),
    "postcode": (
        "zip",
        "zipcode",
        "zip_code",
        "postcode",
        "postal_code",
        "postalcode",
        "plz",
        "postleitzahl",
        "code_postal",
        "codigo_postal",
        "cap",
        "postcode",
        "postnummer",
        "kod_pocztowy",
        "postnr",
    ),
    "gender": (
        "gender",
        "sex",
        "geschlecht",
        "sexe",
        "genre",
        "sexo",
        "sesso",
        "geslacht",
        "kon",
        "kön",
        "plec",
        "płeć",
    ),
    "ethnicity": (
        "ethnicity",
        "race",
        "ethnic",
        "ethnic_origin",
        "ethnie",
        "etnia",
        "etniciteit",
        "etnicitet",
        "pochodzenie",
        "afam",
    ),
    "job_title": (
        "job",
        "job_title",
        "jobtitle",
        "occupation",
        "profession",
        "emp_title",
        "position",
        "beruf",
        "emploi",
        "metier",
        "métier",
        "puesto",
        "ocupacion",
        "profesion",
        "professione",
        "mestiere",
        "beroep",
        "functie",
        "yrke",
        "zawod",
        "zawód",
        "stanowisko",
    ),
    "health_condition": (
        "diagnosis",
        "condition",
        "disease",
        "illness",
        "medical_condition",
        "comorbidity",
        "diagnose",
        "krankheit",
        "maladie",
        "enfermedad",
        "malattia",
        "ziekte",
        "sjukdom",
        "choroba",
        "symptoms",
    ),
    "icd10_code": ("icd", "icd10", "icd_10", "icd_code", "diagnosis_code"),
    "religion": (
        "religion",
        "faith",
        "konfession",
        "religione",
        "godsdienst",
        "religia",
        "religión",
    ),
    "sexual_orientation": (
        "sexual_orientation",
        "orientation",
        "orientierung",
        "orientacion",
        "orientamento",
    ),
    "national_id.us_ssn": ("ssn", "social_security", "social_security_number"),
    "national_id.gb_nino": ("nino", "ni_number", "national_insurance", "national_insurance_number"),
    "national_id.de_steuer_id": (
        "steuer_id",
        "steuerid",
        "steueridentifikationsnummer",
        "idnr",
        "tin",
    ),
    "national_id.fr_nir": ("nir", "numero_securite_sociale", "securite_sociale", "insee"),
    "national_id.it_codice_fiscale": ("codice_fiscale", "codicefiscale", "cf"),
    "national_id.es_dni": ("dni",),
    "national_id.es_nie": ("nie",),
    "national_id.nl_bsn": ("bsn", "burgerservicenummer"),
    "national_id.se_personnummer": ("personnummer", "personal_number"),
    "national_id.pl_pesel": ("pesel",),
    "national_id.in_aadhaar": ("aadhaar", "aadhar", "uid"),
    "national_id.dk_cpr": ("cpr", "cpr_nummer"),
    "national_id.fi_hetu": ("hetu", "henkilotunnus"),
    "national_id.no_fodselsnummer": ("fodselsnummer", "fødselsnummer"),
    "national_id.br_cpf": ("cpf",),
    "national_id.ca_sin": ("sin", "social_insurance"),
    "national_id.mx_curp": ("curp",),
}
# Tokens that make a "name" column something other than a person's name.
_NOT_PERSON = {
    "product",
    "company",
    "clinic",
    "file",
    "brand",
    "item",
    "city",
    "street",
    "team",
    "dataset",
    "host",
    "user",
    "username",
    "domain",
    "store",
    "shop",
    "hospital",
    "dept",
    "department",
    "bank",
    "country",
    "state",
    "model",
    "column",
    "table",
    "project",
    "field",
    "event",
    "site",
    "group",
    "org",
}
_GENERIC_NAME_TOKENS = {"name", "nom", "nome", "naam", "namn", "nombre"}

# Classes decided on values alone only when at least this share matches, and the order in
# which equally good evidence is preferred (checksums first, then formats, then words).
_PRIORITY = [k for k in DETECTORS if k.startswith("national_id.")] + [
    "iban",
    "payment_card",
    "email",
    "ip_address",
    "mac_address",
    "icd10_code",
    "phone",
    "postal_address",
    "gender",
    "ethnicity",
    "religion",
    "sexual_orientation",
    "health_condition",
    "person_name",
    "postcode",
    "passport",
    "date_of_birth",
    "free_text_with_identifiers",
]
# Classes that need a name hint as well as matching values.
_NEEDS_HINT = {
    "passport",
    "date_of_birth",
    "national_id.es_dni",
    "national_id.ca_sin",
    "national_id.pt_nif",
    "national_id.br_cpf",
    "national_id.in_aadhaar",
    "national_id.fi_hetu",
}
# Classes a name hint alone may decide (the values carry no pattern).
_HINT_ONLY = {
    "job_title",
    "ethnicity",
    "religion",
    "sexual_orientation",
    "health_condition",
    "person_name",
    "postal_address",
    "passport",
}
_PROBE = 50


def name_hints(name: str) -> list[str]:
    """Classes the column name suggests (most specific first)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
    tokens = [t for t in re.split(r"[^0-9a-zà-ÿ]+", spaced) if t]
    joined = "_".join(tokens)
    found: list[str] = []
    for cls, words in _HINTS.items():
        for w in words:
            if w == joined or w in tokens or ("_" in w and w in joined):
                found.append(cls)
                break
    if "person_name" in found and set(tokens) & _NOT_PERSON:
        found.remove("person_name")
    if "person_name" in found and not set(tokens) - _GENERIC_NAME_TOKENS and len(found) > 1:
        found.remove("person_name")
    # "birth" with "name" etc.: the more specific hint first.
    found.sort(key=lambda c: 0 if c.startswith("national_id.") else 1)
    return found


def _as_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return None
    if isinstance(v, float):
        if v != v:
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    return str(v).strip() or None


def _share(detector: str, values: list[str]) -> float:
    fn = DETECTORS[detector]
    return sum(1 for v in values if fn(v)) / len(values)


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _result(
    column: str,
    cls: str | None,
    confidence: float,
    detector: str,
    share: float,
    n: int,
    explanation: str,
) -> ColumnClassification:
    category = PII_TYPES[cls].category if cls else "none"
    return ColumnClassification(
        column, cls, category, round(confidence, 3), detector, round(share, 3), n, explanation
    )


def classify_column(
    name: str, values: Sequence[Any], *, min_share: float = 0.8
) -> ColumnClassification:
    """Classify one column from its name and a sample of its values.

    Examples
    --------
    >>> classify_column("contact", ["ann@example.org", "bo@example.com"]).pii_type
    'email'
    """
    present = [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    texts = [t for t in (_as_text(v) for v in present) if t is not None]
    hints = name_hints(name)
    n = len(texts)
    if n == 0:
        if hints and hints[0] in _HINT_ONLY:
            return _result(
                name,
                hints[0],
                0.4,
                f"name:{hints[0]}",
                0.0,
                0,
                f"no values to check; the name {name!r} suggests {hints[0]}",
            )
        return _result(name, None, 1.0, "none", 0.0, 0, "no values to check")
    numeric = _numeric(present)
    # Age: a numeric column named like an age with plausible values.
    if numeric and "age" in hints:
        ok = sum(1 for v in present if 0 <= float(v) <= 125) / len(present)
        if ok >= min_share:
            return _result(
                name,
                "age",
                0.9 * ok,
                "name:age+range",
                ok,
                n,
                f"named like an age and {ok:.0%} of {n} values lie in 0-125",
            )
    probe = texts[:_PROBE]
    candidates: list[tuple[float, str]] = []
    for det in _PRIORITY:
        if det not in DETECTORS:
            continue
        hinted = det in hints
        if numeric and not (det.startswith("national_id.") or det in ("payment_card", "postcode")):
            continue
        if _share(det, probe) < (0.2 if hinted else 0.5):
            continue
        share = _share(det, texts) if n > len(probe) else _share(det, probe)
        needed = 0.5 if hinted else min_share
        if share < needed:
            continue
        if det in _NEEDS_HINT and not hinted:
            continue
        if det == "postcode" and not hinted and not any(c.isalpha() for c in texts[0]):
            continue  # bare digit codes are postcodes only when the name says so
        if det == "person_name" and not hinted and not _looks_like_names(texts):
            continue
        if (
            det in ("gender", "ethnicity", "religion", "sexual_orientation", "health_condition")
            and not hinted
            and len(set(texts)) > 25
        ):
            continue
        candidates.append((share + (0.05 if hinted else 0.0), det))
    if candidates:
        # Most matching first; ties broken by _PRIORITY (already the iteration order).
        best_share, best = max(candidates, key=lambda c: (round(c[0], 2), -_PRIORITY.index(c[1])))
        share = min(best_share - (0.05 if best in hints else 0.0), 1.0)
        hinted = best in hints
        conf = min(1.0, share * (1.0 if hinted else 0.95) + (0.05 if hinted else 0.0))
        how = (
            "checksum"
            if best.startswith("national_id.") or best in ("iban", "payment_card")
            else "pattern"
        )
        return _result(
            name,
            best,
            conf,
            f"value:{best}" + ("+name" if hinted else ""),
            share,
            n,
            f"{share:.0%} of {n} sampled values match the {best} {how}"
            + (f"; the name {name!r} agrees" if hinted else ""),
        )
    for hint in hints:
        if hint in _HINT_ONLY and not numeric:
            return _result(
                name,
                hint,
                0.6,
                f"name:{hint}",
                0.0,
                n,
                f"the name {name!r} suggests {hint}; the values carry no checkable pattern",
            )
        if hint == "postcode" and (numeric or all(len(t) <= 10 for t in texts[:_PROBE])):
            return _result(
                name,
                hint,
                0.7,
                "name:postcode",
                0.0,
                n,
                f"the name {name!r} suggests a postcode and the values are short codes",
            )
    return _result(name, None, 0.9, "none", 0.0, n, f"no detector matched {n} sampled values")


def _looks_like_names(texts: list[str]) -> bool:
    """Without a name hint, names must look like 'Given Family' and vary."""
    multi = sum(1 for t in texts if len(t.split()) >= 2) / len(texts)
    distinct = len(set(texts)) / len(texts)
    return multi >= 0.8 and distinct >= 0.5


def classify_columns(columns: Mapping[str, Sequence[Any]]) -> list[ColumnClassification]:
    return [classify_column(name, values) for name, values in columns.items()]
