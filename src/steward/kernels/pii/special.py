"""Detectors for special-category data and free text: the vocabulary classes (gender,
ethnicity, religion, sexual orientation, health conditions), ICD-10 diagnosis codes, and
prose that embeds identifiers.

A vocabulary class decides alone when most values are its words and at least one value
has a distinctive word (:data:`~steward.kernels.pii.hints.VOCABULARIES`); under a name
hint, categorical codes ("1"/"2", "yes"/"no") agree with the name and decide with
:data:`~steward.kernels.pii.sample.NAME_ONLY` strength. Free text is prose (25+
characters, 5+ words); it is classed when 10% of values (5% under a notes/comments name)
contain an identifier that passes its own detector's check, since most notes mention none.
Identifiers in prose are searched for those with a distinctive written form (email, IBAN,
card, US SSN, UK NINO, IP, phone); bare national numbers inside prose are not, because an
11-digit order number passes some mod-11 check one time in ten.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum import iban as _iban
from stdnum.us import ssn as _ssn

from steward.kernels.pii.detectors import is_card, is_email, is_ip, is_nino, is_phone
from steward.kernels.pii.hints import VOCABULARIES, name_tokens
from steward.kernels.pii.sample import CAP, NAME_ONLY, PROBE, Evidence, Sample

__all__ = ["SPECIAL_DETECTORS", "embedded_identifiers"]

SpecialDetector = Callable[[Sample, str | None, float], Evidence | None]


def _categorical(s: Sample, max_distinct: int = 50) -> bool:
    """Few distinct values, and not measurements (floats) or long text."""
    if s.kind_share("float") > 0.1 or s.distinct > max_distinct:
        return False
    if s.kind_share("int") > 0.5 and s.distinct > 12:
        return False
    return all(len(t) <= 60 for t in s.texts)


# -- vocabularies and ICD-10 ------------------------------------------------------------
def _vocab_detector(pii_type: str) -> SpecialDetector:
    vocab = VOCABULARIES[pii_type]

    def detect(s: Sample, hint: str | None, threshold: float) -> Evidence | None:
        many = s.distinct > 20 and s.distinct > s.n // 2  # not a categorical column
        if not hint and (many or s.kind_share("str") < 0.5):
            return None
        hit = strong = seen = 0
        for k, (t, w) in enumerate(zip(s.texts, s.weights, strict=True)):
            if k == CAP or (k == PROBE and hit < threshold / 2 * seen):
                break
            m = vocab.match(_folded(s, k)) if len(t) <= 60 else 0
            seen += w
            hit += w if m else 0
            strong += w if m == 2 else 0
        share = hit / seen
        codes = pii_type == "gender" and {t.lower() for t in s.texts[:CAP]} >= {"m", "f"}
        # Alone, the values must vary: a constant column ("covid" in every row of a test
        # log) singles nobody out and is more likely a label of the whole table.
        if hit and (hint or ((strong or codes) and s.distinct >= 2)):
            return Evidence(
                pii_type,
                f"vocab.{pii_type}",
                1,
                share,
                threshold,
                hint,
                f"are {pii_type.replace('_', ' ')} terms",
            )
        if hint and _categorical(s, 12 if pii_type == "gender" else 50):
            if pii_type == "gender" and s.kind_share("str") > 0.5:
                return None  # gender values are words we know; others are not gender
            return Evidence(
                pii_type, "name", NAME_ONLY, 1.0, threshold, hint, "are categorical codes"
            )
        return None

    return detect


def _folded(s: Sample, k: int) -> tuple[str, ...]:
    """Folded word tokens of distinct value ``k``, computed once per sample."""
    tokens = s.tokens.get(k)
    if tokens is None:
        tokens = s.tokens[k] = name_tokens(s.texts[k])
    return tokens


_ICD10 = re.compile(r"[A-TV-Z]\d[0-9AB](?:\.?[0-9A-TV-Z]{1,4})?")


def detect_icd10(s: Sample, hint: str | None, threshold: float) -> Evidence | None:
    """ICD-10 codes (letter, two digits, optional subcode); alone they must span at least
    four chapters, so a column of product codes like "B12" does not pass."""
    if s.kind_share("str") < 0.5:
        return None
    hit = 0
    chapters: set[str] = set()
    for i, t in enumerate(s.texts):
        if len(t) <= 8 and _ICD10.fullmatch(t.upper()):
            hit += s.weights[i]
            chapters.add(t[0].upper())
    if not hit or (not hint and len(chapters) < 4):
        return None
    return Evidence("icd10_code", "regex.icd10", 2, hit / s.n, threshold, hint, "are ICD-10 codes")


# -- free text --------------------------------------------------------------------------
_IN_EMAIL = re.compile(r"[\w.%+-]+@(?:[\w-]+\.)+[A-Za-z]{2,24}")
_IN_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_IN_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_IN_PHONE = re.compile(r"(?:\+|\b00|\(|\b0)\d?[\d ()./-]{5,18}\d|\b\d{3}[-.]\d{3}[-.]\d{4}\b")
_IN_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_IN_NINO = re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_IN_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


def embedded_identifiers(text: str) -> list[str]:
    """Classes of the identifiers found inside a text (email, phone, IBAN, card, US SSN,
    UK NINO, IP address), each validated as its own detector would.

    >>> embedded_identifiers("Call Anna on +44 20 7946 0958 or anna@example.org")
    ['email', 'phone']
    """
    found = []
    rest = text  # what is left for the phone search once other identifiers are cut out
    for kind, pattern, check in _EMBEDDED:
        hits = [m for m in pattern.findall(rest) if check(m)]
        if hits:
            found.append(kind)
            for m in hits:
                rest = rest.replace(m, " ")
    if any(is_phone(m.strip()) for m in _IN_PHONE.findall(rest) if not _IN_IP.fullmatch(m)):
        found.append("phone")
    return sorted(found)


_EMBEDDED: list[tuple[str, re.Pattern[str], Callable[[str], bool]]] = [
    ("email", _IN_EMAIL, is_email),
    ("iban", _IN_IBAN, _iban.is_valid),
    ("payment_card", _IN_CARD, is_card),
    ("national_id.us_ssn", _IN_SSN, _ssn.is_valid),
    ("national_id.gb_nino", _IN_NINO, is_nino),
    ("ip_address", _IN_IP, is_ip),
]


def detect_free_text(s: Sample, hint: str | None, threshold: float) -> Evidence | None:
    """Prose (25+ characters, 5+ words) with embedded identifiers; the share needed is
    10% of values (5% under a notes/comments name), since most notes mention none."""
    texts = [i for i, t in enumerate(s.texts) if len(t) >= 25 and t.count(" ") >= 4]
    if s.weight(texts) < 0.5 * s.n:
        return None
    hit = checked = 0
    kinds: set[str] = set()
    for i in texts[:CAP]:  # pattern search is per text; capped like the validators
        found = embedded_identifiers(s.texts[i])
        checked += 1
        if found:
            hit += s.weights[i]
            kinds.update(found)
    scale = s.weight(texts) / s.weight(texts[:CAP])
    need = 0.05 if hint else 0.1
    what = ", ".join(k.replace("national_id.", "") for k in sorted(kinds)) or "none"
    return Evidence(
        "free_text_with_identifiers",
        "text.embedded",
        0,
        hit * scale / s.n,
        need,
        hint,
        f"are free text containing identifiers ({what})",
        checked,
    )


#: Detectors of the vocabulary classes, ICD-10 codes and free text with identifiers.
SPECIAL_DETECTORS: dict[str, SpecialDetector] = {
    "icd10_code": detect_icd10,
    "gender": _vocab_detector("gender"),
    "ethnicity": _vocab_detector("ethnicity"),
    "religion": _vocab_detector("religion"),
    "sexual_orientation": _vocab_detector("sexual_orientation"),
    "health_condition": _vocab_detector("health_condition"),
    "free_text_with_identifiers": detect_free_text,
}
