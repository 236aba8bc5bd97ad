"""Bearer tokens with roles (crm, officer, manager, admin): issued once, stored as SHA-256 hashes.

Why SHA-256 and not bcrypt/argon2: a token is 32 random bytes (256 bits of entropy), so there is
no dictionary to try and a fast hash loses nothing, while a slow hash would cost every request
~100 ms. Lookup is by the hash (an index); the stored and computed hashes are then compared with
hmac.compare_digest so the comparison itself leaks no timing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Column, DateTime, Engine, Integer, String, Table, inspect, or_, select, text

from serving.db import metadata


class Role(StrEnum):
    """crm: ingest and score; officer: own queue and own leads only; manager: the team's
    analytics for every officer (no leads, queues, model or users); admin: model and users."""

    CRM = "crm"
    OFFICER = "officer"
    MANAGER = "manager"
    ADMIN = "admin"


TOKEN_PREFIX: Final = "ls_"
TOKEN_BYTES: Final = 32
NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")
OFFICER_PATTERN: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
"""Officer ids follow data_contracts' identifier rule."""

users_table = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("officer_id", String(64)),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("expires_at", DateTime),
)
"""expires_at: when the token stops working (None: never; revoking stops it at once)."""

officers_table = Table(
    "officers",
    metadata,
    Column("officer_id", String(64), primary_key=True),
    Column("capacity_calls_per_day", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
"""Per-officer capacity overrides; an officer without a row gets the configured default."""


class UserError(ValueError):
    """A user cannot be added, found or revoked as asked; the message says what to do."""


class UserExistsError(UserError):
    """An active user already has this name."""


class UserNotFoundError(UserError):
    """No active user has this name."""


@dataclass(frozen=True, slots=True)
class User:
    """An API user (a person or a system such as the CRM). Never holds the token."""

    id: int
    name: str
    role: Role
    officer_id: str | None
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (no token, no hash)."""
        return {
            "name": self.name,
            "role": str(self.role),
            "officer_id": self.officer_id,
            "created_at": self.created_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
        }


def new_token() -> str:
    """A fresh bearer token: 'ls_' + 32 random bytes, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest stored in place of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def _user(row: Any) -> User:
    return User(
        id=int(row.id),
        name=str(row.name),
        role=Role(row.role),
        officer_id=row.officer_id,
        created_at=_aware(row.created_at) or datetime.now(UTC),
        revoked_at=_aware(row.revoked_at),
        expires_at=_aware(row.expires_at),
    )


def add_missing_user_columns(engine: Engine) -> None:
    """Users tables made before tokens could expire get the expires_at column (NULL: never)."""
    columns = {c["name"] for c in inspect(engine).get_columns("users")}
    if "expires_at" not in columns:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE users ADD COLUMN expires_at TIMESTAMP"))


class UserStore:
    """Users and officer capacities in the serving tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        name: str,
        role: Role | str,
        *,
        officer_id: str | None = None,
        expires_at: datetime | None = None,
        now: datetime | None = None,
    ) -> tuple[User, str]:
        """Create a user and return it with its token (shown once, stored only as a hash),
        valid until expires_at (None: until revoked).

        A revoked user's name can be given out again; an active one cannot.
        """
        try:
            chosen = Role(role)
        except ValueError as exc:
            raise UserError(
                f"role '{role}' is unknown; choose one of {[str(r) for r in Role]}"
            ) from exc
        if not NAME_PATTERN.match(name):
            raise UserError(
                "a user name is 1-100 letters, digits or _ . @ -; e.g. 'crm' or 'lo-01-ana'"
            )
        if chosen is Role.OFFICER:
            if not officer_id or not OFFICER_PATTERN.match(officer_id):
                raise UserError(
                    "an officer user needs --officer ID (letters, digits, _ . : -), "
                    "the officer_id the CRM puts on that officer's leads"
                )
        elif officer_id is not None:
            raise UserError(f"only officer users carry an officer id, not role '{chosen}'")
        moment = now or datetime.now(UTC)
        if expires_at is not None and expires_at <= moment:
            raise UserError("a token's expiry must be in the future, e.g. --expires-in 90d")
        token = new_token()
        values = {
            "name": name,
            "role": str(chosen),
            "officer_id": officer_id,
            "token_sha256": token_hash(token),
            "created_at": _naive_utc(moment),
            "revoked_at": None,
            "expires_at": None if expires_at is None else _naive_utc(expires_at),
        }
        with self.engine.begin() as conn:
            existing = conn.execute(select(users_table).where(users_table.c.name == name)).first()
            if existing is not None and existing.revoked_at is None:
                raise UserExistsError(
                    f"user '{name}' already exists; revoke it first "
                    "(`leadscore users revoke NAME`) or pick another name"
                )
            if existing is None:
                conn.execute(users_table.insert().values(**values))
            else:
                conn.execute(
                    users_table.update().where(users_table.c.name == name).values(**values)
                )
            row = conn.execute(select(users_table).where(users_table.c.name == name)).one()
        return _user(row), token

    def rotate(self, name: str) -> str:
        """A new token for an active user; the old one stops working at once."""
        token = new_token()
        with self.engine.begin() as conn:
            done = conn.execute(
                users_table.update()
                .where(users_table.c.name == name, users_table.c.revoked_at.is_(None))
                .values(token_sha256=token_hash(token))
            )
        if done.rowcount == 0:
            raise UserNotFoundError(f"no active user '{name}'; `leadscore users list` shows them")
        return token

    def revoke(self, name: str, *, now: datetime | None = None) -> User:
        """Revoke a user's token; its requests answer 401 from then on."""
        stamp = _naive_utc(now or datetime.now(UTC))
        with self.engine.begin() as conn:
            done = conn.execute(
                users_table.update()
                .where(users_table.c.name == name, users_table.c.revoked_at.is_(None))
                .values(revoked_at=stamp)
            )
            if done.rowcount == 0:
                raise UserNotFoundError(
                    f"no active user '{name}'; `leadscore users list` shows them"
                )
            row = conn.execute(select(users_table).where(users_table.c.name == name)).one()
        return _user(row)

    def get(self, name: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users_table).where(users_table.c.name == name)).first()
        return None if row is None else _user(row)

    def list(self, *, include_revoked: bool = True) -> list[User]:
        query = select(users_table).order_by(users_table.c.id)
        if not include_revoked:
            query = query.where(users_table.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [_user(row) for row in conn.execute(query)]

    def authenticate(self, token: str, *, now: datetime | None = None) -> User | None:
        """The active, unexpired user holding this token, or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = token_hash(token)
        stamp = _naive_utc(now or datetime.now(UTC))
        with self.engine.connect() as conn:
            row = conn.execute(
                select(users_table).where(
                    users_table.c.token_sha256 == digest,
                    users_table.c.revoked_at.is_(None),
                    or_(users_table.c.expires_at.is_(None), users_table.c.expires_at > stamp),
                )
            ).first()
        if row is None or not hmac.compare_digest(str(row.token_sha256), digest):
            return None
        return _user(row)

    def set_capacity(
        self, officer_id: str, calls_per_day: int, *, now: datetime | None = None
    ) -> None:
        """An officer's own daily capacity (calls and texts), replacing the default."""
        if calls_per_day < 0:
            raise UserError(f"capacity must be 0 or more calls a day, got {calls_per_day}")
        stamp = _naive_utc(now or datetime.now(UTC))
        with self.engine.begin() as conn:
            known = conn.execute(
                select(officers_table.c.officer_id).where(officers_table.c.officer_id == officer_id)
            ).first()
            values = {"capacity_calls_per_day": calls_per_day, "updated_at": stamp}
            if known is None:
                conn.execute(officers_table.insert().values(officer_id=officer_id, **values))
            else:
                conn.execute(
                    officers_table.update()
                    .where(officers_table.c.officer_id == officer_id)
                    .values(**values)
                )

    def capacities(self) -> dict[str, int]:
        """Every officer's own capacity (officers without one use the default)."""
        query = select(officers_table.c.officer_id, officers_table.c.capacity_calls_per_day)
        with self.engine.connect() as conn:
            return {str(k): int(v) for k, v in conn.execute(query)}

    def capacity(self, officer_id: str) -> int | None:
        """The officer's own capacity, or None (use the default)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(officers_table.c.capacity_calls_per_day).where(
                    officers_table.c.officer_id == officer_id
                )
            ).scalar_one_or_none()
        return None if value is None else int(value)
