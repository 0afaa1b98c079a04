"""Identifier detectors: national ids, IBAN, payment cards, email, IP, MAC and phone.

Each detector looks at a prepared :class:`~steward.kernels.pii.sample.Sample` and returns
:class:`~steward.kernels.pii.sample.Evidence`, or ``None`` when nothing in the sample has
the right shape. Identifiers with a check digit are validated by python-stdnum (the
country modules named in :data:`~steward.kernels.pii.types.NATIONAL_IDS`, ``stdnum.iban``,
``stdnum.luhn``); telephone numbers by phonenumbers with a guessed region. The UK National
Insurance number has no check digit; it is validated against HMRC's allocation rules
(prefix letters, suffix A-D), which also reject Faker's ``ZZ … T`` placeholders.

References: ISO 13616 (IBAN, mod 97-10), ISO/IEC 7812 (card numbers, Luhn), HMRC National
Insurance Manual NIM39110 (NINO format), ITU-T E.164 via libphonenumber.
"""

from __future__ import annotations

import importlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import phonenumbers

from steward.kernels.pii.sample import Evidence, Sample, validated_share
from steward.kernels.pii.types import NATIONAL_IDS

__all__ = [
    "BARE_SSN_MIN_GAP",
    "BARE_SSN_SHARE",
    "IDENTIFIER_DETECTORS",
    "Detector",
    "SsnDetector",
    "is_card",
    "is_email",
    "is_ip",
    "is_mac",
    "is_nino",
    "is_phone",
    "stdnum_validator",
]

Validator = Callable[[str], bool]


@dataclass(frozen=True)
class Detector:
    """A shape-filtered, validated identifier detector (see the module docstring)."""

    pii_type: str
    label: str
    strength: int
    lengths: tuple[int, int]  # length with separators removed
    shape: re.Pattern[str]
    validate: Validator
    formatted: re.Pattern[str] | None = None  # required raw shape unless the name hints
    how: str = ""
    allow_numeric: bool = True  # may int-typed values be this identifier?

    def __call__(self, sample: Sample, hint: str | None, threshold: float) -> Evidence | None:
        if not self.allow_numeric and sample.kind_share("int", "float") > 0.5:
            return None
        raw = None if (hint and self.formatted is not None) else self.formatted
        idx = sample.shaped(
            self.lengths,
            self.shape.fullmatch,
            raw=raw.fullmatch if raw is not None else None,
        )
        if not idx:
            return None
        shape_share = sample.weight(idx) / sample.n
        if shape_share < threshold:
            return Evidence(
                self.pii_type, self.label, self.strength, shape_share, threshold, hint, self.how
            )
        floor = threshold / shape_share / 2
        rate, checked = validated_share(sample, idx, self.validate, floor=floor)
        return Evidence(
            self.pii_type,
            self.label,
            self.strength,
            shape_share * rate,
            threshold,
            hint,
            self.how,
            checked,
        )


def stdnum_validator(module: str) -> Validator:
    """``is_valid`` of a python-stdnum module, never raising."""
    is_valid = importlib.import_module(module).is_valid

    def check(value: str) -> bool:
        try:
            return bool(is_valid(value))
        except Exception:  # stdnum is_valid should not raise; a bad input must not stop us
            return False

    return check


_NINO = re.compile(r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]")


def is_nino(value: str) -> bool:
    """A UK National Insurance number by HMRC's allocation rules.

    >>> is_nino("AB 12 34 56 C"), is_nino("ZZ 12 34 56 T")
    (True, False)
    """
    return bool(_NINO.fullmatch(value.replace(" ", "").upper()))


def _luhn(digits: str) -> bool:
    total = 0
    for pos, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if pos % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_card(value: str) -> bool:
    """A payment card number: 13-19 digits, issuer digit 2-6, Luhn check digit.

    >>> is_card("4111 1111 1111 1111"), is_card("4111 1111 1111 1112")
    (True, False)
    """
    digits = value.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and digits.isdigit() and digits[0] in "23456" and _luhn(digits)


_EMAIL = re.compile(r"[\w.%+'!#$&*=?^`{|}~-]+@(?:[\w-]+\.)+[A-Za-z]{2,24}")


def is_email(value: str) -> bool:
    """An email address: local part, ``@``, a dotted domain with a letter TLD.

    >>> is_email("anna.kowalska@example.pl"), is_email("anna@localhost")
    (True, False)
    """
    return bool(_EMAIL.fullmatch(value)) and ".." not in value


_IPV4_SHAPE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?")
_IPV6_SHAPE = re.compile(r"[0-9A-Fa-f:.]{2,45}(?:/\d{1,3})?")


def is_ip(value: str) -> bool:
    """An IPv4 or IPv6 address, optionally with a prefix length.

    >>> is_ip("192.168.0.17"), is_ip("2001:db8::1"), is_ip("1.2.3")
    (True, True, False)
    """
    if not (
        _IPV4_SHAPE.fullmatch(value) or (value.count(":") >= 2 and _IPV6_SHAPE.fullmatch(value))
    ):
        return False
    try:
        ipaddress.ip_interface(value)
    except ValueError:
        return False
    return True


_MAC = re.compile(
    r"(?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}"
    r"|(?:[0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}"
)


def is_mac(value: str) -> bool:
    """A MAC address: six hex pairs split by ``:`` or ``-``, or three dotted quads.

    >>> is_mac("38:bd:35:07:8a:d1"), is_mac("38:bd:35:07:8a")
    (True, False)
    """
    return bool(_MAC.fullmatch(value))


# Telephone numbers: digits with the usual punctuation and an optional extension.
_PHONE_EXT = re.compile(r"\s*(?:x|ext\.?|#)\s*\d{1,6}$", re.I)
_PHONE_PUNCT = str.maketrans("", "", "0123456789 ()+-./")
_NO_DIGITS = str.maketrans("", "", "0123456789")
_NOT_PHONE = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # dates
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{1,3}(?:\.\d{1,3}){3}"  # IPv4
    r"|\d{3}-\d{2}-\d{4}"  # US SSN
    r"|97[89][- ]\d{1,5}[- ]\d{1,7}[- ]\d{1,7}[- ]\d"  # ISBN-13
    r"|\d{1,5}-\d{1,7}-\d{1,7}-[\dX]"  # ISBN-10
)
_FORMATTED = re.compile(r"^(\+|00|0|\()|\d[\s.\-/]\d")
# Regions to try for numbers written without a country code, most likely first.
REGIONS = (
    "US",
    "GB",
    "DE",
    "FR",
    "IT",
    "ES",
    "NL",
    "SE",
    "PL",
    "IN",
    "CA",
    "AU",
    "CH",
    "AT",
    "BE",
    "DK",
    "NO",
    "FI",
    "IE",
    "PT",
    "BR",
    "MX",
)


def phone_shape(value: str) -> int:
    """0: not a phone number; 1: bare digits that could be one; 2: written like one.

    >>> phone_shape("+44 20 7946 0958"), phone_shape("2079460958"), phone_shape("2024-01-05")
    (2, 1, 0)
    """
    core = _PHONE_EXT.sub("", value) if value[-1:].isdigit() and not value.isdigit() else value
    if len(core) > 26 or core.translate(_PHONE_PUNCT) or "+" in core[1:]:
        return 0
    digits = len(core) - len(core.translate(_NO_DIGITS))
    if not 7 <= digits <= 15 or _NOT_PHONE.fullmatch(core):
        return 0
    return 2 if _FORMATTED.search(core) else 1


def is_phone(value: str, regions: list[str] | None = None) -> bool:
    """A possible telephone number for its country code, or for one of ``regions``
    (``REGIONS`` by default). ``regions`` is reordered in place, the last region that
    matched first, so a column of one country's numbers is parsed with one guess.

    >>> is_phone("+49 30 1234567"), is_phone("(0)30 123"), is_phone("2024-01-05")
    (True, False, False)
    """
    if not phone_shape(value):
        return False
    core = _PHONE_EXT.sub("", value).strip()
    if core.startswith("00"):
        core = "+" + core[2:]
    if core.startswith("+"):
        return bool(phonenumbers.is_possible_number_string(core, "ZZ"))
    order = regions if regions is not None else list(REGIONS)
    for k, region in enumerate(order):
        if phonenumbers.is_possible_number_string(core, region):
            if k:
                order.insert(0, order.pop(k))
            return True
    return False


def _regex_detector(
    pii_type: str, label: str, strength: int, test: Validator, how: str, max_len: int
) -> Callable[[Sample, str | None, float], Evidence | None]:
    def detect(sample: Sample, hint: str | None, threshold: float) -> Evidence | None:
        if sample.kind_share("str") < 0.5:
            return None
        share, checked = validated_share(
            sample,
            range(sample.distinct),
            lambda t: len(t) <= max_len and test(t),
            floor=threshold / 2,
        )
        if not share:
            return None
        return Evidence(pii_type, label, strength, share, threshold, hint, how, checked)

    return detect


def detect_phone(sample: Sample, hint: str | None, threshold: float) -> Evidence | None:
    """Phone numbers: written like one (``+``, a trunk ``0``, brackets or grouped
    digits), then possible per phonenumbers for a guessed region. Bare digit strings
    count only if the name says phone or most of the column is written like phones:
    otherwise every 10-digit account number or epoch timestamp would be a phone."""
    if sample.kind_share("str") < 0.5 and not hint:
        return None
    kinds = [(i, phone_shape(t)) for i, t in enumerate(sample.texts) if len(t) <= 32]
    formatted = [i for i, k in kinds if k == 2]
    bare = [i for i, k in kinds if k == 1]
    written = sample.weight(formatted) / sample.n
    idx = formatted + bare if (hint or written >= 0.3) else formatted
    if not idx:
        return None
    shape_share = sample.weight(idx) / sample.n
    if shape_share < threshold:
        return Evidence(
            "phone", "phonenumbers", 1, shape_share, threshold, hint, "are possible phone numbers"
        )
    regions = list(REGIONS)
    rate, checked = validated_share(
        sample, idx, lambda v: is_phone(v, regions), floor=threshold / shape_share / 2
    )
    return Evidence(
        "phone",
        "phonenumbers",
        1,
        shape_share * rate,
        threshold,
        hint,
        f"are possible phone numbers (region guess {regions[0]})",
        checked,
    )


_IBAN_SHAPE = re.compile(r"AA99[A9]{11,30}")
_ID_SHAPES: list[Detector] = []
for _nid in NATIONAL_IDS:
    _ID_SHAPES.append(
        Detector(
            pii_type=f"national_id.{_nid.key}",
            label="rule.gb_nino" if _nid.key == "gb_nino" else _nid.module,
            strength=_nid.strength,
            lengths=(6, 18),
            shape=re.compile(_nid.shape),
            validate=is_nino if _nid.key == "gb_nino" else stdnum_validator(_nid.module),
            formatted=re.compile(_nid.formatted) if _nid.formatted else None,
            how=(
                "follow HMRC's NINO allocation rules"
                if _nid.key == "gb_nino"
                else f"pass the {_nid.module} check"
            ),
            allow_numeric=_nid.key != "gb_nino",
        )
    )


def _tighten(d: Detector) -> Detector:
    """Narrow a detector's length range to what its shape can match (fewer lookups)."""
    lengths = [len(s) for s in _expand_lengths(d.shape.pattern)]
    return Detector(**{**d.__dict__, "lengths": (min(lengths), max(lengths))})


def _expand_lengths(pattern: str) -> list[str]:
    # the shapes above use only literals, classes and {n} / {n,m} repeats, with | between
    out = []
    for alt in pattern.split("|"):
        lo = hi = 0
        for _atom, rep in re.findall(r"(\[[^\]]*\]|\\?.)(\{\d+(?:,\d+)?\}|\?)?", alt):
            if rep == "?":
                hi += 1
            elif rep:
                a, _, b = rep[1:-1].partition(",")
                lo += int(a)
                hi += int(b or a)
            else:
                lo += 1
                hi += 1
        out += ["x" * lo, "x" * hi]
    return out


DetectFn = Callable[[Sample, str | None, float], Evidence | None]

#: Share of values that must be valid SSNs for nine bare digits to be taken for SSNs
#: without a name hint: about 12% of uniformly random nine-digit numbers fail the SSA's
#: rules (area 000, 666 or 900-999, group 00, serial 0000), so a column of random account
#: or order numbers stays below it while a column of real SSNs (100%) does not.
BARE_SSN_SHARE = 0.97
#: A column of bare SSNs is not a sequence: the median gap between its sorted distinct
#: values must be at least this (random SSNs in a 1,000-value sample are ~10^6 apart;
#: surrogate keys and running order numbers are 1 apart).
BARE_SSN_MIN_GAP = 1000
_NINE = re.compile(r"9{9}")
_SEVEN_TO_NINE = re.compile(r"9{7,9}")


@dataclass(frozen=True)
class SsnDetector:
    """US SSNs written ``999-99-9999`` (the base detector) or as nine bare digits.

    Bare digits count without a name hint only when nearly every value
    (:data:`BARE_SSN_SHARE`) passes python-stdnum's SSA rules and the values are not a
    sequence (:data:`BARE_SSN_MIN_GAP`); integer-typed columns are zero-padded to nine
    digits first, since an SSN stored as a number loses its leading zeros.
    """

    base: Detector

    @property
    def strength(self) -> int:
        return self.base.strength

    def __call__(self, sample: Sample, hint: str | None, threshold: float) -> Evidence | None:
        ev = self.base(sample, hint, threshold)
        if hint or (ev is not None and ev.qualifies):
            return ev
        bare = self._bare(sample, max(threshold, BARE_SSN_SHARE))
        if bare is None or (ev is not None and ev.share >= bare.share):
            return ev
        return bare

    def _bare(self, sample: Sample, need: float) -> Evidence | None:
        numeric = sample.kind_share("int") > 0.5
        if numeric:
            idx = sample.shaped((7, 9), _SEVEN_TO_NINE.fullmatch, raw=_SEVEN_TO_NINE.fullmatch)
        else:
            idx = sample.shaped((9, 9), _NINE.fullmatch, raw=_NINE.fullmatch)
        if not idx or sample.weight(idx) / sample.n < need:
            return None
        texts = sample.texts
        distinct = np.unique(np.fromiter((int(texts[i]) for i in idx), np.int64, len(idx)))
        if distinct.size >= 20 and float(np.median(np.diff(distinct))) < BARE_SSN_MIN_GAP:
            return None  # a running number, not SSNs
        shape_share = sample.weight(idx) / sample.n
        rate, checked = validated_share(
            sample,
            idx,
            lambda v: self.base.validate(v.zfill(9)),
            floor=need / shape_share / 2,
        )
        return Evidence(
            self.base.pii_type,
            self.base.label,
            self.base.strength,
            shape_share * rate,
            need,
            None,
            f"are nine-digit numbers that follow the SSA's SSN rules (no dashes; "
            f"{need:.0%} of values needed without a name hint)",
            checked,
        )


def _id_detector(d: Detector) -> DetectFn:
    tight = _tighten(d)
    return SsnDetector(tight) if d.pii_type == "national_id.us_ssn" else tight


#: Identifier detectors by class: shape filter, then validator; strictest first.
IDENTIFIER_DETECTORS: dict[str, DetectFn] = {
    **{d.pii_type: _id_detector(d) for d in _ID_SHAPES},
    "iban": Detector(
        "iban",
        "stdnum.iban",
        3,
        (15, 34),
        _IBAN_SHAPE,
        stdnum_validator("stdnum.iban"),
        how="are IBANs with a valid mod-97 check",
        allow_numeric=False,
    ),
    "payment_card": Detector(
        "payment_card",
        "luhn",
        3,
        (13, 19),
        re.compile(r"9{13,19}"),
        is_card,
        how="are card numbers with a valid Luhn digit",
    ),
    "email": _regex_detector("email", "regex.email", 2, is_email, "are email addresses", 254),
    "ip_address": _regex_detector("ip_address", "ipaddress", 2, is_ip, "are IP addresses", 49),
    "mac_address": _regex_detector("mac_address", "regex.mac", 2, is_mac, "are MAC addresses", 17),
    "phone": detect_phone,
}
