"""Street-office use cases: the monthly report, the settlement of every provider, the audit trail,
password resets and family links. Each owns one transaction (or one read)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from core import accounts, audit
from core.db import Database
from core.users import User
from booking import service as booking_service
from booking.subsidy import service_month
from providers import service as provider_service
from providers.models import Provider, Settlement
from office import queries
from office.models import MonthlyReport
from office.report import add_reasons, figures, group


def month_bounds(month: date) -> tuple[date, date]:
    first = service_month(month)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


async def settlements(db: Database, *, actor: User, month: date,
                      circle_id: int | None = None) -> list[tuple[Provider, Settlement]]:
    """Every provider's settlement for the month, in one view (street admin)."""
    async with db.connection() as conn:
        ids = await queries.provider_ids(conn, circle_id)
    return [await provider_service.settlement(db, actor=actor, provider_id=pid, month=month) for pid in ids]


async def monthly_report(db: Database, *, actor: User, month: date, circle_id: int | None = None) -> MonthlyReport:
    first, last = month_bounds(month)
    async with db.connection() as conn:
        rows = await queries.month_rows(conn, first=first, last=last, circle_id=circle_id)
    settled = {p.id: (p, s) for p, s in await settlements(db, actor=actor, month=first, circle_id=circle_id)}
    by_provider = []
    for pid, (provider, settlement) in settled.items():
        mine = [r for r in rows if r.provider_id == pid]
        by_provider.append((pid, provider.name, figures(mine, withheld_fen=settlement.withheld_fen,
                                                        withheld_by_reason=settlement.withheld_by_reason)))
    total = figures(rows, withheld_fen=sum(s.withheld_fen for _, s in settled.values()),
                    withheld_by_reason=add_reasons(*(s.withheld_by_reason for _, s in settled.values())))
    by_category = [(code, group_rows[0].category_zh, figures(group_rows))
                   for code, group_rows in sorted(group(rows, lambda r: r.category_code).items())]
    return MonthlyReport(month=first, circle_id=circle_id, total=total, by_provider=by_provider,
                         by_category=by_category)


async def audit_trail(db: Database, *, record: str | None, actor_id: int | None, since: datetime | None,
                      limit: int = 200):
    """(changes, sensitive reads) newest first. A record `residents:12` also brings that elder's reads."""
    resident_id = int(record.split(":")[1]) if record and record.startswith("residents:") else None
    async with db.connection() as conn:
        changes = await audit.changes(conn, record=record, actor_id=actor_id, since=since, limit=limit)
        changes += await queries.older_audit(conn, record=record, actor_id=actor_id, since=since, limit=limit)
    changes = sorted(changes, key=lambda c: c.created_at, reverse=True)[:limit]
    reads = []
    if record is None or resident_id is not None or record == "sensitive_reads":
        reads = await booking_service.sensitive_reads(db, resident_id=resident_id, user_id=actor_id, since=since,
                                                      limit=limit)
    return changes, reads


async def reset_password(db: Database, *, actor: User, user_id: int, reason: str = "") -> str:
    async with db.transaction() as conn:
        return await accounts.reset_password(conn, actor_id=actor.id, user_id=user_id, reason=reason)


async def redeem_code(db: Database, *, username: str, code: str, new_password: str) -> int:
    async with db.transaction() as conn:
        return await accounts.redeem_code(conn, username=username, code=code, new_password=new_password)


async def family(db: Database, crypto, *, actor: User, resident_id: int) -> list[accounts.FamilyMember]:
    await booking_service.check_resident(db, crypto, actor=actor, resident_id=resident_id)
    async with db.connection() as conn:
        return await accounts.family_of(conn, resident_id)


async def link_family(db: Database, crypto, *, actor: User, resident_id: int, username: str, relation: str,
                      password: str | None, display_name: str) -> accounts.FamilyMember:
    await booking_service.check_resident(db, crypto, actor=actor, resident_id=resident_id)
    async with db.transaction() as conn:
        return await accounts.link_family(conn, actor_id=actor.id, resident_id=resident_id, username=username,
                                          relation=relation, password=password, display_name=display_name)


async def unlink_family(db: Database, crypto, *, actor: User, resident_id: int, user_id: int) -> None:
    await booking_service.check_resident(db, crypto, actor=actor, resident_id=resident_id)
    async with db.transaction() as conn:
        await accounts.unlink_family(conn, actor_id=actor.id, resident_id=resident_id, user_id=user_id)


async def find_accounts(db: Database, *, q: str | None, limit: int = 50) -> list[accounts.Account]:
    async with db.connection() as conn:
        return await accounts.find_accounts(conn, q, limit)


async def unconfirmed_residents(db: Database, crypto, *, circle_id: int | None):
    return await booking_service.unconfirmed_residents(db, crypto, circle_id=circle_id)
