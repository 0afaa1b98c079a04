"""Identity: users (from steward.yaml) with roles and teams, and API tokens.

Tokens look like ``stw_<id>_<secret>``; they are shown once and only the sha256 of the
secret is stored (a 256-bit random secret needs no slow hash, and every API request
checks one). Tokens expire and can be revoked.
"""

from steward.identity.service import (
    CreatedToken,
    IdentityService,
    TeamInfo,
    TokenInfo,
    UserInfo,
)

__all__ = ["CreatedToken", "IdentityService", "TeamInfo", "TokenInfo", "UserInfo"]
