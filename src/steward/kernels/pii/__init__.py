"""Personal-data classification, column by column.

Owns the PII kernel (pure computation, no I/O). For each column, the name (hints in
English, German, French, Spanish, Italian, Dutch, Swedish and Polish) and a sample of
values (patterns, python-stdnum check digits for 37 national identifiers of 35 countries,
IBAN and Luhn checks, phonenumbers, the given and family names of 33 locales read from
Faker's name lists) decide whether it holds direct identifiers,
quasi-identifiers, special-category data (GDPR Art. 9 / HIPAA PHI) or free text with
identifiers. Each decision carries a confidence and a one-sentence explanation. Person
names, one-line postal addresses, passport numbers, national identifiers and US SSNs
without dashes are found from the values alone: a column name that says nothing
(``holder``, ``x1``) hides nothing.

- :func:`classify_column` / :func:`classify_columns` — the classifier;
- :class:`ColumnClassification` — its answer for one column;
- :data:`PII_TYPES` — every class, with its category (:class:`PiiType`);
- :data:`NATIONAL_IDS` — the national identifiers checked (:class:`NationalId`).
"""

from steward.kernels.pii.classify import (
    HINT_SHARE,
    ColumnClassification,
    classify_column,
    classify_columns,
)
from steward.kernels.pii.types import NATIONAL_IDS, PII_TYPES, NationalId, PiiType

__all__ = [
    "HINT_SHARE",
    "NATIONAL_IDS",
    "PII_TYPES",
    "ColumnClassification",
    "NationalId",
    "PiiType",
    "classify_column",
    "classify_columns",
]
