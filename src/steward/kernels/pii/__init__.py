"""Personal-data classification, column by column.

Column names (hints in several languages) and sampled values (patterns, checksums from
python-stdnum, phone numbers from phonenumbers) decide whether a column holds direct
identifiers, quasi-identifiers, special-category data (GDPR Art. 9 / HIPAA PHI) or free
text with identifiers. Each decision carries a confidence and an explanation.
"""

from steward.kernels.pii.classify import ColumnClassification, classify_column, classify_columns
from steward.kernels.pii.types import PII_TYPES, PiiType

__all__ = ["PII_TYPES", "ColumnClassification", "PiiType", "classify_column", "classify_columns"]
