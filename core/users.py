"""Who is calling: argon2id passwords, opaque bearer tokens stored hashed, login rate limits."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import RateLimited, Unauthenticated, Unavailable, invalid_field
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


@dataclass(frozen=True)
class IdleTimeout:
    """How long a token may lie unused before it no longer signs anyone in: staff handle many elders'
    data and get a working day; elders and families, who open the app now and then, get a week."""

    staff: timedelta = timedelta(hours=12)
    elder_side: timedelta = timedelta(days=7)


async def user_for_token(conn: asyncpg.Connection, token: str, *, idle: IdleTimeout = IdleTimeout()) -> User | None:
    """The active user behind a live token — not revoked, not expired, not idle too long — or None.
    The same statement marks the token used (at most once a minute, so most requests write nothing)."""
    row = await conn.fetchrow(
        f"""WITH t AS (
              SELECT t.token_hash, t.user_id FROM auth_tokens t JOIN users u ON u.id = t.user_id
              WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND u.active
                AND t.last_used_at > now() - CASE WHEN u.role IN ('resident', 'family') THEN $3::interval
                                                  ELSE $2::interval END),
            used AS (
              UPDATE auth_tokens SET last_used_at = now()
              WHERE token_hash = (SELECT token_hash FROM t) AND last_used_at < now() - interval '1 minute')
            SELECT {_USER_COLUMNS} FROM t JOIN users u ON u.id = t.user_id""",
        token_hash(token), idle.staff, idle.elder_side)
    return _user(row) if row else None


async def revoke_all_tokens(conn: asyncpg.Connection, user_ids: list[int]) -> None:
    await conn.execute("UPDATE auth_tokens SET revoked_at = now() WHERE user_id = ANY($1) AND revoked_at IS NULL",
                       user_ids)


async def set_logins_active(conn: asyncpg.Connection, *, caregiver_id: int, active: bool) -> None:
    """A caregiver's logins follow the caregiver: deactivated, they cannot sign in and every token
    they hold is revoked at once."""
    rows = await conn.fetch("UPDATE users SET active = $2 WHERE caregiver_id = $1 RETURNING id", caregiver_id, active)
    if not active:
        await revoke_all_tokens(conn, [r["id"] for r in rows])


MIN_PASSWORD_LENGTH = 10
# the most used passwords (leaked-password lists, Chinese ones included): refused whatever their length
COMMON_PASSWORDS = frozenset("""123456789012 1234567890 12345678910 0123456789 1111111111 0000000000 1234512345
    1q2w3e4r5t qwertyuiop 1qaz2wsx3edc qazwsxedcrfv password123 password12 password1234 passw0rd123 iloveyou123
    woaini1314 woaini520 5201314520 1314520520 a123456789 aa123456789 abc1234567 abcd123456 admin12345 admin123456
    administrator 123456789a 123456789q qwerty1234 qwerty12345 zxcvbnm123 asdfghjkl1 1234qwer! 88888888888
    66666666666 9876543210 147258369a 147258369 1472583690 987654321a wang123456 zhang123456 li123456789
    changeme123 welcome123 letmein123 football12 monkey1234 dragon1234 sunshine12 princess12 superman12
    trustno1234 qq123456789 aini1314520 asd123456789 zxc123456789 a1234567890 1a2b3c4d5e""".split())


def check_password(password: str, *, field: str = "password") -> None:
    """One password policy on every path (API, console, CLI): at least 10 characters and not a common one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise invalid_field(field, "***", f"must be at least {MIN_PASSWORD_LENGTH} characters",
                            f"密码至少{MIN_PASSWORD_LENGTH}位")
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        raise invalid_field(field, "***", "is too common or too simple", "密码太常见或太简单，请换一个")


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
        f"SELECT {_USER_COLUMNS}, u.password_hash FROM users u WHERE lower(u.username) = lower($1) AND u.active",
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
