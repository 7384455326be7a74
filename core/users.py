"""Who is calling: argon2id passwords, opaque bearer tokens stored hashed, login rate limits."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import RateLimited, Unauthenticated, Unavailable
from core.redis import REDIS_ERRORS


_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
_DUMMY_HASH = _hasher.hash("not-a-password")


@dataclass(frozen=True)
class User:
    """The caller, with the links that scope what they may see."""

    id: int
    username: str
    role: str
    display_name: str = ""
    resident_id: int | None = None
    provider_id: int | None = None
    caregiver_id: int | None = None
    circle_id: int | None = None
    family_resident_ids: tuple[int, ...] = ()

    def acts_for(self, resident_id: int) -> bool:
        """True for the resident themself and for family members linked to them."""
        return resident_id == self.resident_id or resident_id in self.family_resident_ids


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


_USER_COLUMNS = """u.id, u.username, u.role, u.display_name, u.resident_id, u.provider_id,
    u.caregiver_id, u.circle_id,
    coalesce((SELECT array_agg(f.resident_id ORDER BY f.resident_id) FROM family_links f
              WHERE f.user_id = u.id), '{}') AS family_resident_ids"""


def _user(row: asyncpg.Record) -> User:
    data = dict(row)
    data["family_resident_ids"] = tuple(data["family_resident_ids"])
    data.pop("password_hash", None)
    return User(**data)


async def create_user(conn: asyncpg.Connection, *, username: str, password: str, role: str,
                      display_name: str = "", resident_id: int | None = None,
                      provider_id: int | None = None, caregiver_id: int | None = None,
                      circle_id: int | None = None, family_of: tuple[int, ...] = (),
                      password_hash: str | None = None) -> User:
    """Create a user (and their family links); the password is stored as argon2id
    (`password_hash`, an argon2id hash of `password` made earlier, saves hashing again)."""
    user_id = await conn.fetchval(
        """INSERT INTO users (username, password_hash, role, display_name, resident_id,
               provider_id, caregiver_id, circle_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
        username, password_hash or hash_password(password), role, display_name, resident_id, provider_id,
        caregiver_id, circle_id)
    for rid in family_of:
        await conn.execute("INSERT INTO family_links (user_id, resident_id) VALUES ($1, $2)",
                           user_id, rid)
    return await user_by_id(conn, user_id)


async def user_by_id(conn: asyncpg.Connection, user_id: int) -> User:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users u WHERE u.id = $1", user_id)
    return _user(row)


async def user_for_token(conn: asyncpg.Connection, token: str) -> User | None:
    """The active user behind a live token, or None."""
    row = await conn.fetchrow(
        f"""SELECT {_USER_COLUMNS} FROM auth_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND u.active""",
        token_hash(token))
    return _user(row) if row else None


async def issue_token(conn: asyncpg.Connection, user_id: int, *, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO auth_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, now() + $3)",
        token_hash(token), user_id, ttl)
    return token


async def revoke_token(conn: asyncpg.Connection, token: str) -> None:
    await conn.execute("UPDATE auth_tokens SET revoked_at = now() WHERE token_hash = $1",
                       token_hash(token))


async def check_credentials(conn: asyncpg.Connection, username: str, password: str) -> User:
    row = await conn.fetchrow(
        f"SELECT {_USER_COLUMNS}, u.password_hash FROM users u WHERE u.username = $1 AND u.active",
        username)
    if not verify_password(row["password_hash"] if row else None, password):
        raise Unauthenticated("wrong username or password", message_zh="用户名或密码错误")
    return _user(row)


async def check_login_rate(redis, *, username: str, address: str, limit: int) -> None:
    """Count a login attempt per account and per address; refuse past `limit` a minute.

    Fails closed: with Redis unreachable, logins are refused rather than left unlimited.
    """
    keys = (f"login:user:{username.lower()}", f"login:addr:{address}")
    try:
        async with redis.pipeline(transaction=True) as pipe:
            for key in keys:  # SET NX EX starts the minute's window; INCR counts inside it
                pipe.set(key, 0, ex=60, nx=True).incr(key)
            counts = (await pipe.execute())[1::2]
    except REDIS_ERRORS as exc:
        raise Unavailable("login is unavailable for a moment, please retry",
                          message_zh="登录服务暂时不可用，请稍后再试") from exc
    if max(counts) > limit:
        raise RateLimited("too many login attempts, wait a minute",
                          message_zh="登录尝试过多，请一分钟后再试")
