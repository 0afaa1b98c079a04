"""Detectors for personal data that is words, dates or numbers rather than identifiers:
person names, postal addresses, postcodes, passport numbers, dates of birth, ages and job
titles. Most of these need the column name to agree (a capitalised word is as likely a
city as a surname, a 5-digit number an amount as a ZIP code); distinctive formats (a UK
or Dutch postcode, addresses over several lines, dates spread like births) decide alone.

Evidence strength (see :class:`~steward.kernels.pii.sample.Evidence`): 2 for distinctive
postcode formats, 1 for the looser patterns, and :data:`NAME_ONLY` for job titles, whose
values carry no pattern: the name decides and the values only fail to contradict it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import numpy as np

from steward.kernels.pii.sample import NAME_ONLY, Evidence, Sample, validated_share

__all__ = [
    "QUASI_DETECTORS",
    "is_birth_like",
    "parse_date",
]

SemanticDetector = Callable[[Sample, str | None, float], Evidence | None]
_NO_DIGITS = str.maketrans("", "", "0123456789")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# -- postcodes --------------------------------------------------------------------------
_POSTCODE_DISTINCT = re.compile(
    r"(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})"  # UK
    r"|[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}"  # NL
    r"|[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d"  # CA
    r"|\d{2}-\d{3}"  # PL
    r"|\d{5}-\d{4}"  # US ZIP+4
    r"|\d{3} \d{2}"  # SE, CZ, SK, GR
)
_POSTCODE_GENERIC = re.compile(
    r"\d{4,6}|[A-Z]{1,2}-\d{4,5}|\d{4}-\d{3}|\d{5}-\d{3}|\d{3}-\d{4}|\d{3}"
)


def detect_postcode(s: Sample, hint: str | None, threshold: float) -> Evidence | None:
    """Distinctive national formats decide alone; bare digit codes need a name hint
    (otherwise every 5-digit amount or product code would be a ZIP)."""
    if s.kind_share("float") > 0.1:
        return None
    distinct = generic = 0
    for i, t in enumerate(s.texts):
        if len(t) > 9:
            continue
        u = t.upper()
        if s.kind_share("str") >= 0.5 and _POSTCODE_DISTINCT.fullmatch(u):
            distinct += s.weights[i]
        elif _POSTCODE_GENERIC.fullmatch(u):
            generic += s.weights[i]
    if distinct / s.n >= threshold or (distinct and not hint):
        return Evidence(
            "postcode",
            "regex.postcode",
            2,
            distinct / s.n,
            threshold,
            hint,
            "have a national postcode format (UK, NL, CA, PL, US ZIP+4, SE)",
        )
    if hint and distinct + generic:
        return Evidence(
            "postcode",
            "regex.postcode",
            1,
            (distinct + generic) / s.n,
            threshold,
            hint,
            "are postcode-like codes",
        )
    return None


# -- names, addresses, passports ---------------------------------------------------------
_NAME_TOKEN = r"[^\W\d_]+(?:['’\-.][^\W\d_]+)*\.?"
_NAME_VALUE = re.compile(rf"{_NAME_TOKEN}(?:,?\s+{_NAME_TOKEN}){{0,5}},?")


def _share(s: Sample, test: Callable[[str], bool], threshold: float) -> tuple[float, int]:
    """Weighted share of values passing ``test``: a probe, then at most CAP distinct."""
    return validated_share(s, range(s.distinct), test, floor=threshold / 2)


def detect_person_name(s: Sample, hint: str | None, threshold: float) -> Evidence | None:
    """Words only (letters, apostrophes, hyphens, initials), one to six of them; without
    a name hint, capitalised words are as likely cities, brands or companies."""
    if not hint or s.kind_share("str") < 0.5:
        return None
    share, checked = _share(s, lambda t: len(t) <= 70 and bool(_NAME_VALUE.fullmatch(t)), threshold)
    return Evidence(
        "person_name",
        "regex.name",
        1,
        share,
        threshold,
        hint,
        "are one to six words of letters, as names are",
        checked,
    )


_STREET_WORDS = _words(
    "street st avenue ave road rd lane ln drive dr boulevard blvd way court ct place square "
    "terrace crescent close parkway highway suite apt apartment unit flat strasse straße str "
    "weg gasse platz allee ring damm rue chemin impasse allée quai route calle avenida avda "
    "plaza paseo camino carretera ronda via viale piazza corso vicolo largo strada contrada "
    "borgo straat laan plein gracht kade singel dijk gatan vägen gränd torget stigen ulica "
    "ul aleja al plac osiedle os"
)
_STREET_SUFFIXES = (
    "straße",
    "strasse",
    "weg",
    "gasse",
    "platz",
    "allee",
    "ring",
    "damm",
    "straat",
    "laan",
    "plein",
    "gracht",
    "kade",
    "singel",
    "dijk",
    "gatan",
    "vägen",
    "gränd",
    "torget",
    "stigen",
    "vej",
    "gade",
)
_WORD = re.compile(r"[^\W\d_]+")
_NUMBER_FIRST = re.compile(r"\d{1,5}[A-Za-z]?,?\s+(?:[^\W\d_][\w'’.\-]*\s*){2,6}")


def _address_shape(t: str) -> bool:
    if len(t) > 200 or t.translate(_NO_DIGITS) == t:
        return False
    if "\n" in t or "\r" in t:
        return sum(1 for line in t.splitlines() if line.strip()) >= 2
    if len(t) > 120:
        return False
    words = _WORD.findall(t.lower())
    return (
        any(w in _STREET_WORDS for w in words)
        or any(len(w) > 5 and w.endswith(_STREET_SUFFIXES) for w in words)
        or bool(_NUMBER_FIRST.fullmatch(t))
    )


def _loose_address(t: str) -> bool:
    return (
        len(t) <= 200
        and " " in t
        and t.translate(_NO_DIGITS) != t
        and sum(c.isalpha() for c in t) >= 3
    )


def detect_address(s: Sample, hint: str | None, threshold: float) -> Evidence | None:
    """Several lines with a number, a street word or compound with a number ("Kirchweg
    4", "ulica Towarowa 8"), or a leading house number; under a name hint, words with a
    number."""
    if s.kind_share("str") < 0.5:
        return None
    test = (lambda t: _address_shape(t) or _loose_address(t)) if hint else _address_shape
    share, checked = _share(s, test, threshold)
    if not share:
        return None
    return Evidence(
        "postal_address",
        "regex.address",
        1,
        share,
        threshold,
        hint,
        "look like postal addresses (house number with street or lines)",
        checked,
    )


_PASSPORT = re.compile(r"[A-Z0-9]{6,9}")


def detect_passport(s: Sample, hint: str | None, threshold: float) -> Evidence | None:
    """6-9 letters and digits under a passport name hint; passport numbers carry no
    public check digit outside the machine-readable zone, so the name must say so."""
    if not hint:
        return None
    hit = sum(
        s.weights[i]
        for i, t in enumerate(s.texts)
        if _PASSPORT.fullmatch(t.replace(" ", "").upper()) and any(c.isdigit() for c in t)
    )
    return Evidence(
        "passport",
        "regex.passport",
        1,
        hit / s.n,
        threshold,
        hint,
        "are 6-9 letters and digits, as passport numbers are",
    )


# -- dates of birth and ages -----------------------------------------------------------
_ISO = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ]00:00(?::00(?:\.0+)?)?"
    r"(?:Z|[+-]00:?00)?)?"
)
_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")


def parse_date(text: str) -> dt.date | None:
    """A calendar date written ISO-style, or day-month-year / month-day-year.

    >>> parse_date("12.03.1985"), parse_date("1985-03-12T00:00:00")
    (datetime.date(1985, 3, 12), datetime.date(1985, 3, 12))
    """
    m = _ISO.fullmatch(text)
    try:
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        m = _DMY.fullmatch(text)
        if m:
            a, b, y = int(m[1]), int(m[2]), int(m[3])
            return dt.date(y, b, a) if b <= 12 else dt.date(y, a, b)
    except ValueError:
        return None
    return None


def is_birth_like(years: np.ndarray) -> bool:
    """Years that look like a population's births: none before 1880, and the middle 80%
    spread over at least 15 years (order, event and snapshot dates cluster)."""
    if years.size == 0 or years.min() < 1880:
        return False
    lo, hi = np.percentile(years, [10, 90])
    return bool(hi - lo >= 15)


def detect_dob(s: Sample, hint: str | None, threshold: float) -> Evidence | None:
    """Dates (typed, or written as dates) whose years spread like birth years; with a
    name hint, any plausible dates, or integer birth years."""
    dates = list(s.dates)
    if s.kind_share("str") >= 0.5:
        for i, t in enumerate(s.texts):
            if len(t) <= 25 and (d := parse_date(t)) is not None:
                dates.extend([d] * s.weights[i])
    years = np.fromiter((d.year for d in dates), dtype=np.int64, count=len(dates))
    if hint and not dates and s.kind_share("int") > 0.9:
        years = s.numbers.astype(np.int64)
        years = years[(years >= 1880) & (years <= 2100)]
    if years.size == 0:
        return None
    share = years.size / s.n
    if not hint and not is_birth_like(years):
        return Evidence(
            "date_of_birth",
            "date.birth",
            1,
            0.0,
            threshold,
            hint,
            "are dates, but spread like event dates, not births",
        )
    return Evidence(
        "date_of_birth",
        "date.birth",
        1,
        share,
        threshold,
        hint,
        "are dates spread like birth dates" if not hint else "are dates",
    )


_AGE_BAND = re.compile(r"\d{1,3}\s*(?:[-–]|to)\s*\d{1,3}|\d{1,3}\s*\+|[<>]=?\s*\d{1,3}")


def detect_age(s: Sample, hint: str | None, threshold: float) -> Evidence | None:
    """Under an age name hint: numbers within 0-125 (not all below 10, so not ratios or
    learning rates), or age bands like "30-39" and "65+"."""
    if not hint:
        return None
    nums = s.numbers
    if s.kind_share("int", "float") < 0.5:
        parsed = []
        for i, t in enumerate(s.texts):
            try:
                parsed.extend([float(t)] * s.weights[i])
            except ValueError:
                if _AGE_BAND.fullmatch(t):
                    parsed.extend([30.0] * s.weights[i])  # a band stands in as one age
        nums = np.asarray(parsed, dtype=np.float64)
    if nums.size == 0:
        return None
    ok = (nums >= 0) & (nums <= 125)
    if nums.max() < 10:
        return Evidence("age", "range.age", 1, 0.0, threshold, hint, "are ages")
    return Evidence(
        "age",
        "range.age",
        1,
        float(ok.sum()) / s.n,
        threshold,
        hint,
        "are ages between 0 and 125 or age bands",
    )


# -- job titles ----------------------------------------------------------------------
def detect_job_title(s: Sample, hint: str | None, threshold: float) -> Evidence | None:
    """Job titles have no pattern: under a job name hint, short text values agree."""
    if not hint or s.kind_share("str") < 0.5:
        return None
    hit = sum(
        s.weights[i]
        for i, t in enumerate(s.texts)
        if len(t) <= 80 and sum(c.isalpha() for c in t) >= 2 and len(t.split()) <= 10
    )
    return Evidence(
        "job_title",
        "name",
        NAME_ONLY,
        hit / s.n,
        threshold,
        hint,
        "are short text, as job titles are",
    )


#: Detectors of names, addresses, postcodes, passports, dates of birth, ages, job titles.
QUASI_DETECTORS: dict[str, SemanticDetector] = {
    "postcode": detect_postcode,
    "postal_address": detect_address,
    "person_name": detect_person_name,
    "passport": detect_passport,
    "date_of_birth": detect_dob,
    "age": detect_age,
    "job_title": detect_job_title,
}
