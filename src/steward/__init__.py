"""Steward: govern what you train.

The public SDK surface. ``Steward`` is the client (embedded or remote); the errors are
what it raises.
"""

from steward.errors import (
    ConfigError,
    Conflict,
    GateFailed,
    IntegrityError,
    NotFound,
    PolicyDenied,
    QuotaExceeded,
    StewardError,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
)
from steward.sdk import Steward

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Conflict",
    "GateFailed",
    "IntegrityError",
    "NotFound",
    "PolicyDenied",
    "QuotaExceeded",
    "Steward",
    "StewardError",
    "Unauthenticated",
    "Unavailable",
    "ValidationFailed",
    "__version__",
]
