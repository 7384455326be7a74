"""Accounts the street office manages without a developer: an admin's password reset (a one-time
code, exchanged once for the user's own new password) and family members linked to their elders.
Every change is recorded in the audit log."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import asyncpg

from core import audit
from core.errors import Conflict, Unauthenticated, invalid_field, not_found
from core.roles import FAMILY
from core.users import check_password, create_user, hash_password, revoke_all_tokens, verify_password

RESET_CODE_HOURS = 24
_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone


@dataclass(frozen=True)
class FamilyMember:
    user_id: int
    username: str
    display_name: str
    relation: str


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


async def reset_password(conn: asyncpg.Connection, *, actor_id: int, user_id: int, reason: str = "") -> str:
    """Issue a one-time code for `user_id` (valid a day): the old password stops working and every
    token is revoked; the code opens nothing itself — it buys one new password (`redeem_code`)."""
    username = await conn.fetchval("SELECT username FROM users WHERE id = $1 FOR UPDATE", user_id)
    if username is None:
        raise not_found("user", user_id, "用户")
    code = new_code()
    await conn.execute(
        """UPDATE users SET password_hash = $2, reset_code_hash = $3,
               reset_code_expires_at = now() + make_interval(hours => $4) WHERE id = $1""",
        user_id, hash_password(secrets.token_urlsafe(24)), hash_password(code), RESET_CODE_HOURS)
    await revoke_all_tokens(conn, [user_id])
    await audit.record_change(conn, actor_id=actor_id, record=audit.record_name("users", user_id),
                              action="password_reset", before={}, after={"username": username}, reason=reason)
    return code


async def redeem_code(conn: asyncpg.Connection, *, username: str, code: str, new_password: str) -> int:
    """Set a new password with a one-time code; the code is spent. Returns the user id."""
    row = await conn.fetchrow(
        """SELECT id, reset_code_hash FROM users
           WHERE lower(username) = lower($1) AND active AND reset_code_expires_at > now() FOR UPDATE""", username)
    if not verify_password(row["reset_code_hash"] if row else None, code.strip().upper()):
        raise Unauthenticated("wrong or expired one-time code", message_zh="一次性验证码错误或已过期")
    if verify_password(row["reset_code_hash"], new_password.strip().upper()):
        raise invalid_field("new_password", "***", "must differ from the one-time code", "新密码不能与验证码相同")
    check_password(new_password, field="new_password")
    await conn.execute(
        """UPDATE users SET password_hash = $2, reset_code_hash = NULL, reset_code_expires_at = NULL
           WHERE id = $1""", row["id"], hash_password(new_password))
    await audit.record_change(conn, actor_id=row["id"], record=audit.record_name("users", row["id"]),
                              action="password_set", before={}, after={"username": username})
    return row["id"]


async def family_of(conn: asyncpg.Connection, resident_id: int) -> list[FamilyMember]:
    rows = await conn.fetch(
        """SELECT u.id AS user_id, u.username, u.display_name, f.relation FROM family_links f
           JOIN users u ON u.id = f.user_id WHERE f.resident_id = $1 ORDER BY u.id""", resident_id)
    return [FamilyMember(**r) for r in rows]


async def link_family(conn: asyncpg.Connection, *, actor_id: int, resident_id: int, username: str,
                      relation: str, password: str | None = None, display_name: str = "") -> FamilyMember:
    """Link a family account to an elder; with `password`, the account is created first."""
    row = await conn.fetchrow("SELECT id, role FROM users WHERE lower(username) = lower($1)", username)
    if row is None and password is None:
        raise invalid_field("username", username, "no such account; give a password to create it",
                            "没有这个账号；如要新建，请同时填写密码")
    if row is not None and password is not None:
        raise Conflict(f"the account {username} exists already", message_zh="该用户名已被使用", code="username_taken")
    if row is None:
        check_password(password)
        user_id = (await create_user(conn, username=username, password=password, role=FAMILY,
                                     display_name=display_name)).id
    elif row["role"] != FAMILY:
        raise invalid_field("username", username, f"is a {row['role']} account, not a family member's",
                            "该账号不是家属账号")
    else:
        user_id = row["id"]
    await conn.execute(
        """INSERT INTO family_links (user_id, resident_id, relation) VALUES ($1, $2, $3)
           ON CONFLICT (user_id, resident_id) DO UPDATE SET relation = $3""", user_id, resident_id, relation)
    await audit.record_change(conn, actor_id=actor_id, record=audit.record_name("residents", resident_id),
                              action="family_link", before={}, after={"user_id": user_id, "username": username,
                                                                      "relation": relation})
    return next(m for m in await family_of(conn, resident_id) if m.user_id == user_id)


async def unlink_family(conn: asyncpg.Connection, *, actor_id: int, resident_id: int, user_id: int) -> None:
    deleted = await conn.fetchval(
        "DELETE FROM family_links WHERE user_id = $1 AND resident_id = $2 RETURNING user_id", user_id, resident_id)
    if deleted is None:
        raise not_found("family link", user_id, "家属关联")
    await audit.record_change(conn, actor_id=actor_id, record=audit.record_name("residents", resident_id),
                              action="family_unlink", before={"user_id": user_id}, after={})


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str
    role: str
    active: bool


async def find_accounts(conn: asyncpg.Connection, q: str | None, limit: int = 50) -> list[Account]:
    """Accounts whose username or display name contains `q` (all when empty), by username."""
    rows = await conn.fetch(
        """SELECT id, username, display_name, role, active FROM users
           WHERE $1::text IS NULL OR strpos(lower(username), lower($1)) > 0 OR strpos(display_name, $1) > 0
           ORDER BY username LIMIT $2""", q or None, limit)
    return [Account(**r) for r in rows]
