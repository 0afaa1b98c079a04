"""Detectors for personal data that is words, dates or numbers rather than identifiers:
person names, postal addresses, postcodes, passport numbers, dates of birth, ages and job
titles. Some need the column name to agree (a 5-digit number is as likely an amount as a
ZIP code; job titles have no pattern); the rest decide from the values alone: person
names by Faker's given and family names of 33 locales (:mod:`.names`), addresses by a
street word, several lines, or a house number with a postcode on one line, passports by
national layouts with varying letter series, distinctive postcodes (UK, Dutch) by their
format, dates of birth by years spread like births.

Evidence strength (see :class:`~steward.kernels.pii.sample.Evidence`): 2 for distinctive
postcode formats, 1 for the looser patterns, and :data:`NAME_ONLY` for job titles, whose
values carry no pattern: the name decides and the values only fail to contradict it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import numpy as np

from steward.kernels.pii.names import NameLexicon, fold_word, name_lexicon
from steward.kernels.pii.sample import NAME_ONLY, Evidence, Sample, validated_share

__all__ = [
    "NAME_MIN_DISTINCT",
    "PASSPORT_LETTER_SHARE",
    "PASSPORT_MIN_SERIES",
    "QUASI_DETECTORS",
    "is_birth_like",
    "is_one_line_address",
    "is_person_name",
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


# Words that make a value a company, not a person ("Smith, Johnson and Brown", "Müller
# GmbH"): legal forms and the conjunctions of partnership names.
_COMPANY = _words(
    "inc llc llp ltd plc gmbh ag kg ohg ug co corp corporation company group holding "
    "holdings sa sas sarl srl spa bv nv ab oy as asa aps kft sro doo and und et & "
    "sons sohne partners associates bank hotel"
)
# Words of place names built on a given name ("Lake Jennifer", "Roisin Ville", "San José").
_PLACE = _words(
    "ville town city village county stadt dorf mouth port lake fort mount saint sankt san "
    "santa santo sao new north south east west upper lower bad nieder ober unter sur sous"
)
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
#: Fewest distinct values a column needs for names to be found without a name hint: two
#: or three repeated words ("White", "Black") are a category, not people.
NAME_MIN_DISTINCT = 5


def _known(word: str, names: frozenset[str]) -> bool:
    folded = fold_word(word)
    if folded in names:
        return True
    parts = [p for p in re.split(r"['’\-]", folded) if len(p) > 1]
    return len(parts) > 1 and all(p in names for p in parts)


def is_person_name(text: str, lexicon: NameLexicon | None = None) -> bool:
    """One to four name words, "First Last" or "Last, First", titles and initials aside,
    where the given name is a known one (or every word is a known given or family name).

    The lists are Faker's first and last names of 33 locales (:mod:`.names`); a family
    name the lists lack still passes after a known given name ("Anna Wróblewska-Zięba").

    >>> is_person_name("Dr. Jürgen Weiß"), is_person_name("Kowalski, Anna M.")
    (True, True)
    >>> is_person_name("Lake Jennifer"), is_person_name("Smith, Johnson and Brown")
    (False, False)
    """
    if not 2 <= len(text) <= 70:
        return False
    lex = lexicon if lexicon is not None else name_lexicon()
    head, comma, tail = text.partition(",")
    if comma and "," in tail:
        return False
    raw = (tail.split() + head.split()) if comma else text.split()
    words: list[str] = []
    for token in raw:
        bare = token.rstrip(".")
        folded = fold_word(bare)
        if not bare or token.endswith(".") or len(bare) == 1:
            if any(c.isdigit() for c in token):
                return False
            continue  # initials and abbreviated titles: "J.", "Dr.", "Jr."
        if folded in lex.titles or folded in lex.particles:
            continue
        if folded in _COMPANY or not _NAME_WORD.fullmatch(bare):
            return False
        if folded in _PLACE and folded not in lex.last:
            return False
        words.append(bare)
    if not 1 <= len(words) <= 4:
        return False
    if len(words) == 1:
        return _known(words[0], lex.first) or _known(words[0], lex.last)
    if _known(words[0], lex.first):
        rest = words[1:]
        return any(_known(w, lex.last) or _known(w, lex.first) for w in rest) or all(
            w[0].isupper() for w in rest
        )
    return all(_known(w, lex.first) or _known(w, lex.last) for w in words)


def detect_person_name(s: Sample, hint: str | None, threshold: float) -> Evidence | None:
    """Under a name hint: words only (letters, apostrophes, hyphens, initials), one to
    six of them. Without one: values that are names people carry (:func:`is_person_name`),
    in a column of at least :data:`NAME_MIN_DISTINCT` distinct values."""
    if s.kind_share("str") < 0.5:
        return None
    if hint:
        share, checked = _share(
            s, lambda t: len(t) <= 70 and bool(_NAME_VALUE.fullmatch(t)), threshold
        )
        how = "are one to six words of letters, as names are"
        return Evidence("person_name", "regex.name", 1, share, threshold, hint, how, checked)
    if s.distinct < min(NAME_MIN_DISTINCT, s.n):
        return None
    lex = name_lexicon()
    share, checked = _share(s, lambda t: is_person_name(t, lex), threshold)
    if not share:
        return None
    return Evidence(
        "person_name",
        "lexicon.names",
        1,
        share,
        threshold,
        None,
        f"are person names (given and family names of {len(lex.locales)} locales, Faker's lists)",
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


# One-line addresses without a street word ("Dosentinkuja 76, 17066 Rovaniemi",
# "743 Rachel Burgs, North Debratown, FM 50466"): comma-separated parts holding a house
# number and, apart from it, a postcode in a national format.
_HOUSE_NUMBER = re.compile(r"(?<![\w/-])\d{1,5}[A-Za-z]?(?:\s?[-/]\s?\d{1,4}[A-Za-z]?)?(?![\w/-])")
_POSTCODE_IN = re.compile(
    r"(?<![\w-])(?:\d{4,5}|\d{3} \d{2}|\d{2}-\d{3}|\d{4}-\d{3}|[1-9]\d{3} ?[A-Z]{2}"
    r"|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d|[A-Z]\d{2} ?[A-Z\d]{4})(?![\w-])"
)


def is_one_line_address(t: str) -> bool:
    """A single-line postal address: two or more comma-separated parts, a house number,
    a postcode apart from it, and at least two words of three letters or more.

    >>> is_one_line_address("Dosentinkuja 76, 17066 Rovaniemi")
    True
    >>> is_one_line_address("Pack of 12, 500 ml"), is_one_line_address("Rovaniemi")
    (False, False)
    """
    if not 12 <= len(t) <= 120 or "," not in t or "\n" in t:
        return False
    if sum(1 for w in _WORD.findall(t) if len(w) >= 3) < 2:
        return False
    for post in _POSTCODE_IN.finditer(t):
        lo, hi = post.span()
        for house in _HOUSE_NUMBER.finditer(t):
            if house.end() <= lo or house.start() >= hi:
                return True
    return False


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

    def test(t: str) -> bool:
        return _address_shape(t) or is_one_line_address(t) or bool(hint and _loose_address(t))

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
        "look like postal addresses (house number with street, postcode or lines)",
        checked,
    )


_PASSPORT = re.compile(r"[A-Z0-9]{6,9}")
# Passport-number layouts of EU/EEA, UK and US passports that mix letters and digits
# (ICAO 9303 document numbers; national layouts from the issuing authorities):
_PASSPORT_LAYOUT = re.compile(
    r"[A-Z]\d{6,8}"  # US next generation (letter + 8), AT, CH, PT, IE, GB (older)
    r"|[A-Z]{2}\d{6,7}"  # IT, PL, FI, BE, ES (older), HR, SI, LT
    r"|[A-Z]{3}\d{6}"  # ES
    r"|\d{2}[A-Z]{2}\d{5}"  # FR
    r"|[A-Z]{2}[A-Z\d]{6}\d"  # NL
    r"|[CFGHJK][CFGHJKLMNPRTVWXYZ\d]{8}"  # DE
)
_PASSPORT_DIGITS = re.compile(r"\d{8,9}")  # US, GB, DK, SE, CZ: digits only
#: Without a name hint, this share of the values must carry letters, and their letter
#: series must vary (at least :data:`PASSPORT_MIN_SERIES` of them): a code with one fixed
#: prefix ("INV1234567") is an invoice or product number, not a passport.
PASSPORT_LETTER_SHARE = 0.25
PASSPORT_MIN_SERIES = 5
_LETTERS = str.maketrans("", "", "0123456789")


def detect_passport(s: Sample, hint: str | None, threshold: float) -> Evidence | None:
    """6-9 letters and digits under a passport name hint. Without one: passport layouts
    (:data:`_PASSPORT_LAYOUT`, or 8-9 digits beside them), written without separators,
    with letter series that vary and numbers that do not run in sequence. Passport
    numbers carry no public check digit outside the machine-readable zone, so random
    codes in a passport layout are taken for passports (the safe side)."""
    if hint:
        hit = sum(
            s.weights[i]
            for i, t in enumerate(s.texts)
            if _PASSPORT.fullmatch(t.replace(" ", "").upper()) and any(c.isdigit() for c in t)
        )
        how = "are 6-9 letters and digits, as passport numbers are"
        return Evidence("passport", "regex.passport", 1, hit / s.n, threshold, hint, how)
    if s.kind_share("str") < 0.5:
        return None
    lettered = digits_only = 0
    series: set[str] = set()
    numbers: list[int] = []
    for i, t in enumerate(s.texts[:1024]):  # a bounded look, like the validators
        if len(t) > 9:
            continue
        if _PASSPORT_LAYOUT.fullmatch(t):
            lettered += s.weights[i]
            series.add(t.translate(_LETTERS))
            digits = "".join(c for c in t if c.isdigit())
            if len(digits) >= 6:  # a serial number long enough to run in sequence
                numbers.append(int(digits))
        elif _PASSPORT_DIGITS.fullmatch(t):
            digits_only += s.weights[i]
    seen = s.weight(range(min(s.distinct, 1024)))
    if not lettered or lettered / seen < PASSPORT_LETTER_SHARE:
        return None
    if len(series) < min(PASSPORT_MIN_SERIES, s.distinct):
        return None
    distinct = np.unique(np.asarray(numbers, dtype=np.int64))
    if distinct.size >= 20 and float(np.median(np.diff(distinct))) < 10:
        return None  # running numbers behind a few prefixes: references, not passports
    return Evidence(
        "passport",
        "regex.passport_layout",
        1,
        (lettered + digits_only) / seen,
        threshold,
        None,
        "have national passport-number layouts (letters and digits, varying series)",
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
