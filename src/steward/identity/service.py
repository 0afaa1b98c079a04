"""Users, teams and API tokens."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.audit import sha256_hex
from steward.door import Action
from steward.errors import NotFound, Unauthenticated, ValidationFailed
from steward.policy import Principal, Resource
from steward.runtime import Runtime
from steward.store import ApiToken

__all__ = ["CreatedToken", "IdentityService", "TeamInfo", "TokenInfo", "UserInfo"]

MAX_DAYS = 366


class UserInfo(BaseModel):
    name: str
    roles: list[str]
    teams: list[str]
    email: str | None = None
    display_name: str | None = None


class TeamInfo(BaseModel):
    name: str
    members: list[str]
    quotas: dict[str, float] = Field(default_factory=dict)


class TokenInfo(BaseModel):
    id: str
    user: str
    name: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    scope: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > datetime.now(UTC)


class CreatedToken(TokenInfo):
    token: str = Field(description="the secret token; shown once, never stored")


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user=row.user_name,
        name=row.name,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at if row.revoked_at else None,
        scope=row.scope,
    )


class IdentityService:
    #: how long a token's row is trusted without reading it again; a revocation through
    #: another process (or server) takes effect within this time (in this one, at once)
    CACHE_SECONDS = 1.0

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._tokens: dict[str, tuple[float, _TokenRow]] = {}

    # -- users and teams -------------------------------------------------------------
    def user(self, name: str) -> UserInfo:
        u = self.rt.config.users.get(name)
        if u is None:
            raise NotFound(f"unknown user {name!r}", user=name)
        return UserInfo(
            name=name,
            roles=list(u.roles),
            teams=self.rt.config.teams_of(name),
            email=u.email,
            display_name=u.display_name,
        )

    def users(self, principal: Principal) -> list[UserInfo]:
        self.rt.door.check(principal, Action("system.read", Resource("System", "users")))
        return [self.user(n) for n in sorted(self.rt.config.users)]

    def teams(self, principal: Principal) -> list[TeamInfo]:
        self.rt.door.check(principal, Action("system.read", Resource("System", "teams")))
        return [
            TeamInfo(name=n, members=list(t.members), quotas=t.quotas.model_dump(exclude_none=True))
            for n, t in sorted(self.rt.config.teams.items())
        ]

    # -- tokens ----------------------------------------------------------------------
    def create_token(
        self,
        principal: Principal,
        *,
        user: str | None = None,
        name: str = "default",
        expires_in_days: int = 90,
        endpoint: str | None = None,
    ) -> CreatedToken:
        """A token for ``user`` (default: the caller). With ``endpoint``, the token may only
        call that endpoint's prediction routes (for the applications that call a model)."""
        owner = user or principal.name
        self.user(owner)
        scope = None
        if endpoint is not None:
            from steward.store import Endpoint

            with self.rt.store.transaction() as s:
                found = s.execute(
                    select(Endpoint.id).where(Endpoint.name == endpoint)
                ).scalar_one_or_none()
            if found is None:
                raise NotFound(f"endpoint {endpoint!r} not found", endpoint=endpoint)
            scope = f"endpoint:{endpoint}"
        if not 1 <= expires_in_days <= MAX_DAYS:
            raise ValidationFailed(
                f"expires_in_days: expected 1 to {MAX_DAYS}; found {expires_in_days}",
                parameter="expires_in_days",
            )
        if not name or len(name) > 128:
            raise ValidationFailed(
                f"name: expected 1 to 128 characters; found {len(name)}", parameter="name"
            )
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        row = ApiToken(
            id=token_id,
            user_name=owner,
            name=name,
            secret_hash=sha256_hex(secret),
            created_by=principal.name,
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days),
            scope=scope,
        )
        action = Action(
            "token.create",
            Resource("Token", token_id, {"owner": owner}),
            payload={
                "user": owner,
                "name": name,
                "expires_in_days": expires_in_days,
                "scope": scope,
            },
        )

        def do(session: Session) -> None:
            session.add(row)

        self.rt.door.run(principal, action, do)
        return CreatedToken(**_info(row).model_dump(), token=f"stw_{token_id}_{secret}")

    def tokens(self, principal: Principal, *, user: str | None = None) -> list[TokenInfo]:
        owner = user or principal.name
        self.user(owner)
        self.rt.door.check(
            principal, Action("token.read", Resource("Token", "*", {"owner": owner}))
        )
        with self.rt.store.transaction() as s:
            rows = s.execute(
                select(ApiToken).where(ApiToken.user_name == owner).order_by(ApiToken.created_at)
            ).scalars()
            return [_info(r) for r in rows]

    def revoke_token(self, principal: Principal, token_id: str) -> TokenInfo:
        with self.rt.store.transaction() as s:
            row = s.get(ApiToken, token_id)
        if row is None:
            raise NotFound(f"token {token_id!r} not found", token=token_id)
        action = Action(
            "token.revoke",
            Resource("Token", token_id, {"owner": row.user_name}),
            payload={"token": token_id},
        )

        def do(session: Session) -> TokenInfo:
            live = session.get(ApiToken, token_id)
            assert live is not None
            if live.revoked_at is None:
                live.revoked_at = datetime.now(UTC)
            return _info(live)

        try:
            return self.rt.door.run(principal, action, do)
        finally:
            self._tokens.pop(token_id, None)

    def authenticate(self, token: str | None) -> Principal:
        """The principal a bearer token stands for; raises Unauthenticated otherwise."""
        return self.authenticate_scoped(token)[0]

    def authenticate_scoped(self, token: str | None) -> tuple[Principal, str | None]:
        """:meth:`authenticate`, with the token's scope (None: the user's full rights)."""
        if not token:
            raise Unauthenticated(
                "no token: send 'Authorization: Bearer stw_...' (create one with "
                "'steward token create')"
            )
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "stw":
            raise Unauthenticated("malformed token: expected stw_<id>_<secret>")
        row = self._token_row(parts[1])
        if row is None or not hmac.compare_digest(row.secret_hash, sha256_hex(parts[2])):
            raise Unauthenticated("unknown token")
        if row.revoked_at is not None:
            raise Unauthenticated(f"token {row.id} was revoked")
        if row.expires_at <= datetime.now(UTC):
            raise Unauthenticated(f"token {row.id} expired at {row.expires_at.isoformat()}")
        if row.user_name not in self.rt.config.users:
            raise Unauthenticated(f"token {row.id} belongs to a user no longer configured")
        return Principal(row.user_name), row.scope

    def _token_row(self, token_id: str) -> _TokenRow | None:
        """The token's row, read at most every :attr:`CACHE_SECONDS` (the secret is still
        checked on every call)."""
        now = time.monotonic()
        hit = self._tokens.get(token_id)
        if hit is not None and now - hit[0] < self.CACHE_SECONDS:
            return hit[1]
        with self.rt.store.transaction() as s:
            live = s.get(ApiToken, token_id)
            row = (
                None
                if live is None
                else _TokenRow(
                    live.id,
                    live.secret_hash,
                    live.user_name,
                    live.scope,
                    live.expires_at,
                    live.revoked_at,
                )
            )
        if row is not None:
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            self._tokens[token_id] = (now, row)
        return row


@dataclass(frozen=True)
class _TokenRow:
    id: str
    secret_hash: str
    user_name: str
    scope: str | None
    expires_at: datetime
    revoked_at: datetime | None
