"""The classes a column can get."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NATIONAL_IDS", "PII_TYPES", "PiiType"]


@dataclass(frozen=True)
class PiiType:
    name: str
    category: str  # direct | quasi | special | free_text
    description: str


#: national identifier and tax numbers: type suffix → (stdnum module, description)
NATIONAL_IDS: dict[str, tuple[str, str]] = {
    "us_ssn": ("stdnum.us.ssn", "US Social Security number"),
    "gb_nino": ("", "UK National Insurance number"),
    "de_steuer_id": ("stdnum.de.idnr", "German tax identification number (Steuer-ID)"),
    "fr_nir": ("stdnum.fr.nir", "French social security number (NIR)"),
    "it_codice_fiscale": ("stdnum.it.codicefiscale", "Italian codice fiscale"),
    "es_dni": ("stdnum.es.dni", "Spanish DNI"),
    "es_nie": ("stdnum.es.nie", "Spanish NIE"),
    "nl_bsn": ("stdnum.nl.bsn", "Dutch citizen service number (BSN)"),
    "se_personnummer": ("stdnum.se.personnummer", "Swedish personal identity number"),
    "pl_pesel": ("stdnum.pl.pesel", "Polish PESEL"),
    "in_aadhaar": ("stdnum.in_.aadhaar", "Indian Aadhaar number"),
    "dk_cpr": ("stdnum.dk.cpr", "Danish CPR number"),
    "fi_hetu": ("stdnum.fi.hetu", "Finnish personal identity code (HETU)"),
    "no_fodselsnummer": ("stdnum.no.fodselsnummer", "Norwegian birth number"),
    "be_nn": ("stdnum.be.nn", "Belgian national number"),
    "ch_ssn": ("stdnum.ch.ssn", "Swiss social security number (AHV)"),
    "br_cpf": ("stdnum.br.cpf", "Brazilian CPF"),
    "ca_sin": ("stdnum.ca.sin", "Canadian social insurance number"),
    "cn_ric": ("stdnum.cn.ric", "Chinese resident identity card number"),
    "ee_ik": ("stdnum.ee.ik", "Estonian personal ID code"),
    "ie_pps": ("stdnum.ie.pps", "Irish PPS number"),
    "ro_cnp": ("stdnum.ro.cnp", "Romanian personal numerical code (CNP)"),
    "bg_egn": ("stdnum.bg.egn", "Bulgarian EGN"),
    "cz_rc": ("stdnum.cz.rc", "Czech birth number"),
    "mx_curp": ("stdnum.mx.curp", "Mexican CURP"),
    "za_idnr": ("stdnum.za.idnr", "South African ID number"),
    "pt_nif": ("stdnum.pt.nif", "Portuguese tax number (NIF)"),
}

_TYPES = [
    PiiType("person_name", "direct", "a person's name"),
    PiiType("email", "direct", "an email address"),
    PiiType("phone", "direct", "a telephone number"),
    PiiType("postal_address", "direct", "a postal address"),
    PiiType("iban", "direct", "an International Bank Account Number"),
    PiiType("payment_card", "direct", "a payment card number (Luhn-valid)"),
    PiiType("ip_address", "direct", "an IPv4 or IPv6 address"),
    PiiType("mac_address", "direct", "a network MAC address"),
    PiiType("passport", "direct", "a passport number"),
    *(PiiType(f"national_id.{k}", "direct", d) for k, (_, d) in NATIONAL_IDS.items()),
    PiiType("date_of_birth", "quasi", "a date of birth"),
    PiiType("age", "quasi", "a person's age"),
    PiiType("postcode", "quasi", "a postcode or ZIP code"),
    PiiType("gender", "quasi", "gender or sex"),
    PiiType("job_title", "quasi", "a job title or occupation"),
    PiiType("ethnicity", "special", "racial or ethnic origin (GDPR Art. 9)"),
    PiiType("health_condition", "special", "a health condition or diagnosis"),
    PiiType("icd10_code", "special", "an ICD-10 diagnosis code"),
    PiiType("religion", "special", "religious belief (GDPR Art. 9)"),
    PiiType("sexual_orientation", "special", "sexual orientation (GDPR Art. 9)"),
    PiiType("free_text_with_identifiers", "free_text", "free text that embeds identifiers"),
]

PII_TYPES: dict[str, PiiType] = {t.name: t for t in _TYPES}
