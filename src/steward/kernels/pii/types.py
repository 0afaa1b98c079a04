"""The classes a column can get, and the national identifiers Steward checks.

Categories follow GDPR and HIPAA: *direct* identifiers name a person on their own;
*quasi*-identifiers single a person out in combination (Sweeney's date of birth, sex and
ZIP); *special* categories are GDPR Article 9 data (health, racial or ethnic origin,
religion, sex life or orientation) and HIPAA PHI; *free_text* is prose that embeds
identifiers somewhere inside it.

Ethnicity is both a quasi-identifier and Article 9 data; it is classed ``special``, the
stricter of the two, so that it is never treated as merely quasi.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATEGORIES", "NATIONAL_IDS", "PII_TYPES", "NationalId", "PiiType"]

#: Column categories, strictest first; ``none`` is not personal data.
CATEGORIES = ("direct", "special", "quasi", "free_text", "none")


@dataclass(frozen=True)
class PiiType:
    """A class of personal data: its name, category and a short description."""

    name: str
    category: str
    description: str


@dataclass(frozen=True)
class NationalId:
    """A national identifier or personal tax number, checked by a python-stdnum module.

    ``shape`` is matched against the value with separators (space, ``-``, ``.``, ``/``)
    removed, digits written ``9`` and ASCII letters ``A``; it is a cheap filter in front
    of the checksum. ``formatted``, when set, is matched against the raw shape (separators
    kept) and is required unless the column name names the identifier: used for numbers
    without a checksum (US SSN) or with a weak one, where nine bare digits would otherwise
    match any account number.
    """

    key: str
    module: str
    description: str
    shape: str
    hints: tuple[str, ...]
    formatted: str | None = None
    strength: int = 3  # 3: check digit; 2: structure only (date, prefix rules)


# Order matters only for ties (two identifiers with the same share, no name hint):
# the stricter validator comes first (a Steuer-ID is also a valid Croatian OIB, an
# Icelandic kennitala is also a valid-looking Danish CPR date).
NATIONAL_IDS: tuple[NationalId, ...] = (
    NationalId(
        "us_ssn",
        "stdnum.us.ssn",
        "US Social Security number",
        r"9{9}",
        ("ssn", "social security", "social security number"),
        formatted=r"999-99-9999|999 99 9999",
        strength=2,
    ),
    NationalId(
        "gb_nino",
        "steward.gb_nino",
        "UK National Insurance number",
        r"AA9{6}A",
        ("nino", "ni number", "ni no", "national insurance", "national insurance number"),
        strength=2,
    ),
    NationalId(
        "de_steuer_id",
        "stdnum.de.idnr",
        "German tax identification number (Steuer-ID)",
        r"9{11}",
        ("steuer id", "steuerid", "idnr", "steueridentifikationsnummer", "steuer idnr"),
    ),
    NationalId(
        "fr_nir",
        "stdnum.fr.nir",
        "French social security number (NIR, numéro de sécurité sociale)",
        r"9{6}[9A]9{8}",
        ("nir", "insee", "secu", "numero securite sociale", "securite sociale"),
    ),
    NationalId(
        "it_codice_fiscale",
        "stdnum.it.codicefiscale",
        "Italian tax code (codice fiscale)",
        r"A{6}[9A]{2}A[9A]{2}A[9A]{3}A",
        ("codice fiscale", "codicefiscale", "cod fiscale", "cf"),
    ),
    NationalId(
        "es_dni",
        "stdnum.es.dni",
        "Spanish national identity number (DNI)",
        r"9{8}A",
        ("dni", "nif", "documento identidad"),
    ),
    NationalId(
        "es_nie",
        "stdnum.es.nie",
        "Spanish foreigner identity number (NIE)",
        r"A9{7}A",
        ("nie", "numero identidad extranjero"),
    ),
    NationalId(
        "nl_bsn",
        "stdnum.nl.bsn",
        "Dutch citizen service number (BSN)",
        r"9{8,9}",
        ("bsn", "burgerservicenummer", "sofinummer", "sofi"),
    ),
    NationalId(
        "se_personnummer",
        "stdnum.se.personnummer",
        "Swedish personal identity number (personnummer)",
        r"9{10}|9{6}\+9{4}|9{12}",
        ("personnummer", "personnr", "pnr"),
    ),
    NationalId(
        "pl_pesel",
        "stdnum.pl.pesel",
        "Polish national identification number (PESEL)",
        r"9{11}",
        ("pesel",),
    ),
    NationalId(
        "in_aadhaar",
        "stdnum.in_.aadhaar",
        "Indian Aadhaar number",
        r"9{12}",
        ("aadhaar", "aadhar", "uidai", "aadhaar number"),
    ),
    NationalId(
        "fi_hetu",
        "stdnum.fi.hetu",
        "Finnish personal identity code (HETU)",
        r"9{6}[+A]?9{3}[9A]",
        ("hetu", "henkilotunnus", "sotu"),
    ),
    NationalId(
        "no_fodselsnummer",
        "stdnum.no.fodselsnummer",
        "Norwegian birth number",
        r"9{11}",
        ("fodselsnummer", "fnr", "personnummer no"),
    ),
    NationalId(
        "be_nn",
        "stdnum.be.nn",
        "Belgian national register number",
        r"9{11}",
        ("rijksregisternummer", "insz", "numero national", "registre national", "niss"),
    ),
    NationalId(
        "ch_ahv",
        "stdnum.ch.ssn",
        "Swiss social security number (AHV/AVS)",
        r"9{13}",
        ("ahv", "avs", "ahv nr", "ahv nummer", "sozialversicherung"),
    ),
    NationalId(
        "at_vnr",
        "stdnum.at.vnr",
        "Austrian social insurance number",
        r"9{10}",
        ("svnr", "versicherungsnummer", "sv nummer", "sozialversicherungsnummer"),
    ),
    NationalId(
        "br_cpf", "stdnum.br.cpf", "Brazilian individual taxpayer number (CPF)", r"9{11}", ("cpf",)
    ),
    NationalId(
        "ca_sin",
        "stdnum.ca.sin",
        "Canadian social insurance number",
        r"9{9}",
        ("sin", "social insurance", "social insurance number", "nas"),
    ),
    NationalId(
        "ee_ik",
        "stdnum.ee.ik",
        "Estonian personal identification code (isikukood)",
        r"9{11}",
        ("isikukood",),
    ),
    NationalId(
        "lt_asmens",
        "stdnum.lt.asmens",
        "Lithuanian personal code (asmens kodas)",
        r"9{11}",
        ("asmens kodas", "asmens"),
    ),
    NationalId(
        "ro_cnp",
        "stdnum.ro.cnp",
        "Romanian personal numerical code (CNP)",
        r"9{13}",
        ("cnp", "cod numeric personal"),
    ),
    NationalId(
        "bg_egn", "stdnum.bg.egn", "Bulgarian unified civil number (EGN)", r"9{10}", ("egn",)
    ),
    NationalId(
        "cz_rc",
        "stdnum.cz.rc",
        "Czech or Slovak birth number (rodné číslo)",
        r"9{9,10}",
        ("rodne cislo", "rc", "rodnecislo"),
        formatted=r"9{6}/9{3,4}",
    ),
    NationalId(
        "hr_oib",
        "stdnum.hr.oib",
        "Croatian personal identification number (OIB)",
        r"9{11}",
        ("oib",),
    ),
    NationalId(
        "gr_amka", "stdnum.gr.amka", "Greek social security number (AMKA)", r"9{11}", ("amka",)
    ),
    NationalId(
        "tr_tckimlik",
        "stdnum.tr.tckimlik",
        "Turkish personal identification number",
        r"9{11}",
        ("tckimlik", "tc kimlik", "kimlik", "tckn"),
    ),
    NationalId(
        "ua_rntrc",
        "stdnum.ua.rntrc",
        "Ukrainian individual taxpayer number (RNTRC)",
        r"9{10}",
        ("rntrc", "rnokpp", "ipn"),
    ),
    NationalId(
        "th_pin",
        "stdnum.th.pin",
        "Thai personal identification number",
        r"9{13}",
        ("thai id", "pin"),
    ),
    NationalId(
        "mx_curp",
        "stdnum.mx.curp",
        "Mexican personal identity code (CURP)",
        r"A{4}9{6}A{6}[9A]9",
        ("curp",),
    ),
    NationalId(
        "cn_ric",
        "stdnum.cn.ric",
        "Chinese resident identity card number",
        r"9{17}[9A]",
        ("ric", "shenfenzheng", "resident identity"),
    ),
    NationalId(
        "za_idnr", "stdnum.za.idnr", "South African identity number", r"9{13}", ("rsa id", "za id")
    ),
    NationalId(
        "ie_pps",
        "stdnum.ie.pps",
        "Irish personal public service number (PPS)",
        r"9{7}A{1,2}",
        ("pps", "ppsn", "pps number"),
    ),
    NationalId(
        "kr_rrn",
        "stdnum.kr.rrn",
        "South Korean resident registration number",
        r"9{13}",
        ("rrn", "resident registration"),
    ),
    NationalId(
        "is_kennitala",
        "stdnum.is_.kennitala",
        "Icelandic identity code (kennitala)",
        r"9{10}",
        ("kennitala",),
    ),
    NationalId(
        "dk_cpr",
        "stdnum.dk.cpr",
        "Danish personal identification number (CPR)",
        r"9{10}",
        ("cpr", "cpr nummer", "personnummer dk"),
        strength=2,
    ),
    NationalId(
        "gb_nhs",
        "stdnum.gb.nhs",
        "NHS number (England, Wales, Isle of Man)",
        r"9{10}",
        ("nhs", "nhs number", "nhs no"),
    ),
    NationalId(
        "pt_nif",
        "stdnum.pt.nif",
        "Portuguese tax identification number (NIF)",
        r"9{9}",
        ("nif pt", "numero contribuinte", "contribuinte"),
    ),
)

_TYPES = [
    PiiType("person_name", "direct", "a person's name"),
    PiiType("email", "direct", "an email address"),
    PiiType("phone", "direct", "a telephone number"),
    PiiType("postal_address", "direct", "a postal address"),
    PiiType("iban", "direct", "an International Bank Account Number (ISO 13616)"),
    PiiType("payment_card", "direct", "a payment card number (Luhn-valid)"),
    PiiType("ip_address", "direct", "an IPv4 or IPv6 address"),
    PiiType("mac_address", "direct", "a network MAC address"),
    PiiType("passport", "direct", "a passport number"),
    *(PiiType(f"national_id.{n.key}", "direct", n.description) for n in NATIONAL_IDS),
    PiiType("date_of_birth", "quasi", "a date of birth"),
    PiiType("age", "quasi", "a person's age or age band"),
    PiiType("postcode", "quasi", "a postcode or ZIP code"),
    PiiType("gender", "quasi", "gender or sex"),
    PiiType("job_title", "quasi", "a job title or occupation"),
    PiiType("ethnicity", "special", "racial or ethnic origin (GDPR Art. 9; also quasi)"),
    PiiType("health_condition", "special", "a health condition or diagnosis (GDPR Art. 9)"),
    PiiType("icd10_code", "special", "an ICD-10 diagnosis code (GDPR Art. 9, HIPAA PHI)"),
    PiiType("religion", "special", "religious or philosophical belief (GDPR Art. 9)"),
    PiiType("sexual_orientation", "special", "sexual orientation (GDPR Art. 9)"),
    PiiType("free_text_with_identifiers", "free_text", "free text that embeds identifiers"),
]

#: Every class a column can get, by name.
PII_TYPES: dict[str, PiiType] = {t.name: t for t in _TYPES}
