"""Given names and family names of 33 Latin-script locales, read from Faker's data.

Person names have no pattern: "Anna Kowalska" and "Green Table" are both two capitalised
words. What tells them apart is whether the words are names people carry. The lists come
from Faker (a maintained package, pinned in ``pyproject.toml``), which ships the first and
last names of each locale as plain tuples in ``faker.providers.person.<locale>``. They
are read as data: the provider modules are imported and their ``first_names*`` /
``last_names*`` attributes copied, no random value is ever generated and no file or
network is touched. Faker and its provider modules import the standard library only.
Polish feminine family names (-ska, -cka, -dzka) are derived from the masculine ones,
which are all Faker's pl_PL lists hold.

Words are folded (case-folded, accents removed: "Jürgen" → ``jurgen``, "Łukasz" →
``lukasz``) so that "MÜLLER" and "Muller" meet "Müller". Particles ("van", "de la") and
titles ("Dr.", "Frau", "Mgr.") are kept apart: they are neither given nor family names.

The lexicon is built on first use (about 0.1 s) and cached.
"""

from __future__ import annotations

import importlib
import unicodedata
from dataclasses import dataclass
from functools import cache

from faker.providers import person as _person  # a stdlib-only package: data, no I/O

__all__ = ["NAME_LOCALES", "NameLexicon", "fold_word", "name_lexicon"]

#: Faker person-provider locales whose name lists are loaded (Latin script only: the
#: detector reads words of letters, and these cover the EU/EEA, the UK, Switzerland and
#: the Americas' Latin-script populations).
NAME_LOCALES: tuple[str, ...] = (
    "en_US",
    "en_GB",
    "en_IE",
    "en_IN",
    "de_DE",
    "de_AT",
    "de_CH",
    "fr_FR",
    "fr_CH",
    "fr_QC",
    "es_ES",
    "es_MX",
    "it_IT",
    "nl_NL",
    "nl_BE",
    "pt_PT",
    "pt_BR",
    "pl_PL",
    "sv_SE",
    "da_DK",
    "no_NO",
    "fi_FI",
    "cs_CZ",
    "sk_SK",
    "sl_SI",
    "hr_HR",
    "hu_HU",
    "ro_RO",
    "is_IS",
    "tr_TR",
    "et_EE",
    "lv_LV",
    "lt_LT",
)

# Words inside multi-word name entries that are not names themselves.
_PARTICLES = frozenset(
    str.split(
        "van von der den de del della delle dei degli di da das dos du des la le lo el al "
        "ten ter te het zu zum zur af av y e i bin ben ibn"
    )
)
_FOLD = str.maketrans(
    {"ß": "ss", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "đ": "d", "ı": "i"}
)


def fold_word(word: str) -> str:
    """Lowercase ASCII form of one word (accents and case removed).

    >>> fold_word("Łukasz"), fold_word("MÜLLER"), fold_word("Ødegård")
    ('lukasz', 'muller', 'odegard')
    """
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@dataclass(frozen=True)
class NameLexicon:
    """Folded given names, family names and honorifics (titles, degrees, suffixes)."""

    first: frozenset[str]
    last: frozenset[str]
    titles: frozenset[str]
    particles: frozenset[str]
    locales: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.first | self.last)


def _words(entries: object) -> set[str]:
    out: set[str] = set()
    if not isinstance(entries, tuple | list | dict):  # Faker keeps weighted lists as dicts
        return out
    for entry in entries:
        if isinstance(entry, str):
            out.update(fold_word(w) for w in entry.replace("-", " ").split())
    return out


def _titles(entries: object) -> set[str]:
    out: set[str] = set()
    if isinstance(entries, tuple | list | dict):
        for entry in entries:
            if isinstance(entry, str):
                for w in entry.replace("-", " ").split():
                    out.add(fold_word(w).rstrip("."))
    return out


@cache
def name_lexicon(locales: tuple[str, ...] = NAME_LOCALES) -> NameLexicon:
    """The folded name lists of ``locales`` (Faker person providers), built once.

    >>> lex = name_lexicon()
    >>> "jurgen" in lex.first and "kowalska" in lex.last and "dr" in lex.titles
    True
    """
    first: set[str] = set()
    last: set[str] = set()
    titles: set[str] = set()
    loaded = []
    for loc in locales:
        try:
            provider = importlib.import_module(f"{_person.__name__}.{loc}").Provider
        except ImportError:  # a locale a later Faker dropped: the others still load
            continue
        loaded.append(loc)
        for attr in dir(provider):  # dir, not vars: a locale may inherit its lists
            value = getattr(provider, attr)
            if attr.startswith("_") or callable(value):
                continue
            if "first_name" in attr:
                first |= _words(value)
            elif "last_name" in attr:
                last |= _words(value)
            elif attr.startswith(("prefixes", "suffixes")):
                titles |= _titles(value)
    # Polish family names in -ski/-cki/-dzki take -ska/-cka/-dzka for women; Faker's pl_PL
    # lists hold only the masculine form (its Czech and Slovak lists have both).
    last |= {w[:-1] + "a" for w in last if w.endswith(("ski", "cki", "dzki"))}
    particles = set(_PARTICLES)
    first -= particles
    last -= particles
    titles -= first | last  # "Dr." is a title; "Frau" too, but never a name in the lists
    return NameLexicon(
        first=frozenset(w for w in first if len(w) > 1),
        last=frozenset(w for w in last if len(w) > 1),
        titles=frozenset(titles),
        particles=frozenset(particles),
        locales=tuple(loaded),
    )
