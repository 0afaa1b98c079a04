"""Value detectors: one predicate per class, cheap pattern first, checksum second.

Checksums are per value by nature, so these are Python predicates; the classifier runs
them on a sample (about a thousand values per column) and stops early on hopeless ones.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import re
from collections.abc import Callable

import phonenumbers

from steward.kernels.pii.types import NATIONAL_IDS

__all__ = ["DETECTORS", "VOCABULARIES", "Detector"]

Detector = Callable[[str], bool]

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_EMAIL_IN = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$")
_CARD = re.compile(r"^(?:\d[ -]?){12,18}\d$")
_NINO = re.compile(
    r"^(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]$"
)
_ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9AB](?:\.[0-9A-TV-Z]{1,4})?$")
_PASSPORT = re.compile(r"^[A-Z0-9]{6,9}$")
_UK_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
_NL_POSTCODE = re.compile(r"^[1-9][0-9]{3} ?[A-Z]{2}$")
_POSTCODE = re.compile(r"^(\d{5}(-\d{4})?|\d{4}|\d{6}|\d{2}-\d{3}|\d{3} ?\d{2})$")
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{2}[./]\d{2}[./]\d{4})")
_NAME_TOKEN = re.compile(r"^[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’-]+\.?$")
_PARTICLES = {
    "van",
    "der",
    "de",
    "den",
    "von",
    "da",
    "di",
    "del",
    "la",
    "le",
    "du",
    "dos",
    "y",
    "bin",
    "al",
}
_TITLES = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sir",
    "herr",
    "frau",
    "mme",
    "m",
    "sig",
    "sra",
    "sr",
    "dhr",
    "mevr",
    "pan",
    "pani",
}
_STREET = re.compile(
    r"\b(street|st\.?|avenue|ave\.?|road|rd\.?|lane|ln\.?|drive|dr\.?|boulevard|blvd|way|"
    r"court|ct\.?|place|pl\.?|square|suite|apt\.?|unit|straße|strasse|str\.|weg|gasse|platz|"
    r"allee|rue|avenue|chemin|boulevard|impasse|calle|avenida|plaza|paseo|via|viale|piazza|"
    r"corso|straat|laan|plein|gracht|gatan|vägen|torget|ulica|ul\.|aleja|al\.)\b",
    re.IGNORECASE,
)


def _stdnum(module: str) -> Detector:
    mod = importlib.import_module(module)
    validate = mod.is_valid

    def check(v: str) -> bool:
        if len(v) > 40 or not any(ch.isdigit() for ch in v) or _DATE.match(v):
            return False
        try:
            return bool(validate(v))
        except Exception:  # stdnum raises on odd input types; treat as no match
            return False

    return check


def _nino(v: str) -> bool:
    return bool(_NINO.match(v.upper()))


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(v: str) -> bool:
    if not _CARD.match(v):
        return False
    digits = v.replace(" ", "").replace("-", "")
    return digits[0] in "23456" and _luhn_ok(digits)


def _iban(v: str) -> bool:
    s = v.replace(" ", "").upper()
    if not (15 <= len(s) <= 34 and s[:2].isalpha() and s[2:4].isdigit()):
        return False
    from stdnum import iban

    return bool(iban.is_valid(s))


_REGIONS = ("US", "GB", "DE", "FR", "IT", "ES", "NL", "SE", "PL", "IN", "CA", "AU", "CH")


def _phone(v: str) -> bool:
    digits = sum(ch.isdigit() for ch in v)
    if not 7 <= digits <= 15 or len(v) > 30 or _DATE.match(v):
        return False
    if any(ch.isalpha() for ch in v.replace("x", "").replace("ext", "")):
        return False
    core = v.split("x")[0].strip()
    if core.isdigit() and not (core.startswith("0") or len(core) >= 10):
        return False
    for region in (None, *_REGIONS) if core.startswith("+") else _REGIONS:
        try:
            num = phonenumbers.parse(core, region)
        except phonenumbers.NumberParseException:
            continue
        # Possible, not necessarily assigned: test data and new ranges are numbers too.
        if phonenumbers.is_possible_number(num):
            return True
    return False


def _ip(v: str) -> bool:
    if not (":" in v or v.count(".") == 3) or len(v) > 45:
        return False
    try:
        ipaddress.ip_address(v)
        return True
    except ValueError:
        return False


def _person_name(v: str) -> bool:
    tokens = v.replace(",", " ").split()
    if not 1 <= len(tokens) <= 5:
        return False
    named = 0
    for t in tokens:
        low = t.lower().rstrip(".")
        if low in _PARTICLES or low in _TITLES:
            continue
        if not _NAME_TOKEN.match(t):
            return False
        named += 1
    return named >= 1


def _address(v: str) -> bool:
    return len(v) >= 10 and any(ch.isdigit() for ch in v) and (bool(_STREET.search(v)) or "\n" in v)


def _postcode(v: str) -> bool:
    u = v.upper().strip()
    return bool(_UK_POSTCODE.match(u) or _NL_POSTCODE.match(u) or _POSTCODE.match(u))


def _free_text(v: str) -> bool:
    if len(v) < 25 or v.count(" ") < 3:
        return False
    if _EMAIL_IN.search(v):
        return True
    for token in re.findall(r"[+(]?\d[\d ()./-]{6,}\d", v):
        if _phone(token.strip()) or _card(token.strip()):
            return True
    return any(_stdnum_any(tok) for tok in re.findall(r"\b[\w-]{9,15}\b", v))


def _stdnum_any(token: str) -> bool:
    return any(
        DETECTORS[f"national_id.{k}"](token)
        for k in ("us_ssn", "fr_nir", "nl_bsn")
        if f"national_id.{k}" in DETECTORS
    ) or _nino(token)


VOCABULARIES: dict[str, frozenset[str]] = {
    "gender": frozenset(
        [
            "m",
            "f",
            "male",
            "female",
            "man",
            "woman",
            "men",
            "women",
            "boy",
            "girl",
            "non-binary",
            "nonbinary",
            "other",
            "diverse",
            "divers",
            "männlich",
            "weiblich",
            "mann",
            "frau",
            "homme",
            "femme",
            "masculin",
            "féminin",
            "hombre",
            "mujer",
            "masculino",
            "femenino",
            "maschio",
            "femmina",
            "uomo",
            "donna",
            "man",
            "vrouw",
            "kvinna",
            "mężczyzna",
            "kobieta",
            "u",
            "unknown",
            "x",
        ]
    ),
    "ethnicity": frozenset(
        [
            "white",
            "black",
            "asian",
            "hispanic",
            "latino",
            "latina",
            "caucasian",
            "african",
            "american",
            "african-american",
            "native",
            "hawaiian",
            "pacific",
            "islander",
            "indigenous",
            "mixed",
            "multiracial",
            "arab",
            "middle",
            "eastern",
            "other",
        ]
    ),
    "religion": frozenset(
        [
            "christian",
            "christianity",
            "catholic",
            "protestant",
            "orthodox",
            "muslim",
            "islam",
            "jewish",
            "judaism",
            "hindu",
            "hinduism",
            "buddhist",
            "buddhism",
            "sikh",
            "atheist",
            "agnostic",
            "none",
            "other",
        ]
    ),
    "sexual_orientation": frozenset(
        [
            "heterosexual",
            "straight",
            "homosexual",
            "gay",
            "lesbian",
            "bisexual",
            "pansexual",
            "asexual",
            "queer",
            "other",
        ]
    ),
    "health_condition": frozenset(
        [
            "diabetes",
            "asthma",
            "hypertension",
            "cancer",
            "copd",
            "depression",
            "anxiety",
            "covid",
            "covid-19",
            "influenza",
            "hiv",
            "aids",
            "hepatitis",
            "arthritis",
            "obesity",
            "stroke",
            "epilepsy",
            "dementia",
            "alzheimer",
            "migraine",
            "pneumonia",
            "tuberculosis",
            "schizophrenia",
            "bipolar",
            "autism",
            "adhd",
            "healthy",
            "none",
            "positive",
            "negative",
        ]
    ),
}


def _vocab(name: str, *, multiword: bool = False) -> Detector:
    words = VOCABULARIES[name]

    def check(v: str) -> bool:
        low = v.strip().lower()
        if low in words:
            return True
        return multiword and all(w in words for w in re.split(r"[\s/,-]+", low) if w)

    return check


_SSN_FORMAT = re.compile(r"^\d{3}[- ]\d{2}[- ]\d{4}$")


DETECTORS: dict[str, Detector] = {
    "email": lambda v: bool(_EMAIL.match(v)),
    "iban": _iban,
    "payment_card": _card,
    "ip_address": _ip,
    "mac_address": lambda v: bool(_MAC.match(v)),
    "national_id.gb_nino": _nino,
    "icd10_code": lambda v: bool(_ICD10.match(v.strip().upper())),
    "phone": _phone,
    "postcode": _postcode,
    "postal_address": _address,
    "person_name": _person_name,
    "passport": lambda v: bool(_PASSPORT.match(v.upper())) and any(c.isdigit() for c in v),
    "gender": _vocab("gender"),
    "ethnicity": _vocab("ethnicity", multiword=True),
    "religion": _vocab("religion"),
    "sexual_orientation": _vocab("sexual_orientation"),
    "health_condition": _vocab("health_condition", multiword=True),
    "free_text_with_identifiers": _free_text,
    "date_of_birth": lambda v: bool(_DATE.match(v)),
}
for _key, (_module, _) in NATIONAL_IDS.items():
    if _module:
        with contextlib.suppress(ImportError):  # an older python-stdnum lacks a country
            DETECTORS[f"national_id.{_key}"] = _stdnum(_module)
_us_ssn = DETECTORS["national_id.us_ssn"]
# Any 9-digit number passes the SSN area rules; unlabelled, only the dashed form counts.
DETECTORS["national_id.us_ssn"] = lambda v: bool(_SSN_FORMAT.match(v)) and _us_ssn(v)
