"""The outbox: every floor queues its messages here, inside its own transaction, and the worker's
sender delivers them. Over the `notifications` table (migration 0005).

A message is `pending` until the sender hands it to the SMS gateway (`sent`, with the gateway's
message id) or gives up (`failed`, with the last error). A message with no phone (a family member
without one, a caregiver without one) goes to the app only: it is `sent` once the sender has seen
it, and the recipient reads it in their inbox (`GET /messages`).

The sender (`deliver_due`), one round:
- claims the due messages (`next_attempt_at <= now`), leasing each for LEASE so that a round that
  dies mid-way is retried, never lost (the webhook receives our id and can drop a repeat);
- keeps quiet hours (`CIRCLE_QUIET_HOURS`, default 21-7, local time): an SMS that is not about a
  same-day change waits until the quiet hours end; same-day changes go at once;
- keeps the per-phone hourly limit (`CIRCLE_SMS_PER_PHONE_HOUR`): over it, a message waits until
  the oldest message of the last hour to that phone is an hour old;
- retries a gateway failure that may pass with back-off (1, 2, 4, 8 … minutes, at most 60), and
  marks it `failed` after `max_attempts` attempts, or at once for a failure that cannot pass;
- fails an SMS still pending a day after it was queued (`expired`): a text about a visit that is over
  helps nobody (and an upgraded database's old backlog is not sent);
- logs counts and message ids only: never a phone number or a text.

Every time comes from the caller (`now`, from core.clock), so a simulation drives the sender with
its own clock.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import asyncpg

from core.clock import LOCAL_TZ
from core.sms import Gateway, GatewayError

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_AGE = timedelta(hours=24)
MAX_BACKOFF = timedelta(minutes=60)
BATCH = 200


@dataclass(frozen=True)
class OutMessage:
    """One message to queue: to a resident (elder), a user (family, staff) or a caregiver.
    `phone` None: the database takes the resident's or caregiver's phone; with none, app only."""

    text: str
    kind: str = "plan_change"
    booking_id: int | None = None
    resident_id: int | None = None
    user_id: int | None = None
    caregiver_id: int | None = None
    phone: str | None = None
    channel: str = "sms"
    same_day: bool = False
    dedup_key: str | None = None


async def queue(conn: asyncpg.Connection, messages: Iterable[OutMessage], *, now: datetime) -> int:
    """Queue messages inside the caller's transaction; returns how many were queued (a message whose
    `dedup_key` was queued before is skipped: chores may run twice)."""
    rows = list(messages)
    if not rows:
        return 0
    ids = await conn.fetch(
        """INSERT INTO notifications (resident_id, user_id, caregiver_id, booking_id, channel, phone, message,
                                      created_at, next_attempt_at, kind, same_day, dedup_key)
           SELECT r, u, c, b, ch, p, t, $8, $8, k, s, d
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[],
                       $9::text[], $10::boolean[], $11::text[]) AS x(r, u, c, b, ch, p, t, k, s, d)
           ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
           RETURNING id""",
        [m.resident_id for m in rows], [m.user_id for m in rows], [m.caregiver_id for m in rows],
        [m.booking_id for m in rows], [m.channel for m in rows],
        [m.phone or None for m in rows], [m.text for m in rows], now,
        [m.kind for m in rows], [m.same_day for m in rows], [m.dedup_key for m in rows])
    return len(ids)

# ------------------------------------------------------------------ quiet hours, back-off (pure)


@dataclass(frozen=True)
class QuietHours:
    """Local hours with no SMS: start ≤ hour or hour < end when the span wraps midnight (21-7)."""

    start: int
    end: int

    def holds(self, instant: datetime) -> bool:
        hour = instant.astimezone(LOCAL_TZ).hour
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end

    def ends_after(self, instant: datetime) -> datetime:
        """The first instant after `instant` outside the quiet hours."""
        local = instant.astimezone(LOCAL_TZ)
        end = datetime.combine(local.date(), time(self.end), tzinfo=LOCAL_TZ)
        return end if end > local else end + timedelta(days=1)


def parse_quiet_hours(text: str | None) -> QuietHours | None:
    """"21-7" → QuietHours(21, 7); empty or None → None (no quiet hours). Raises ValueError."""
    if not text or not text.strip():
        return None
    start, _, end = text.strip().partition("-")
    hours = QuietHours(int(start), int(end))
    if not (0 <= hours.start <= 23 and 0 <= hours.end <= 23):
        raise ValueError(f"quiet hours are two hours 0-23 joined by '-', not {text!r}")
    return hours


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 1, 2, 4, 8 … minutes, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)

# ------------------------------------------------------------------ the sender


@dataclass
class DeliveryRound:
    sent: int = 0
    app: int = 0          # app-only messages, delivered to the inbox
    retried: int = 0
    failed: int = 0
    held_quiet: int = 0
    held_limit: int = 0
    expired: int = 0
    sent_ids: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.sent + self.app + self.failed


async def deliver_due(db, gateway: Gateway | None, *, now: datetime, quiet: QuietHours | None = None,
                      per_phone_hour: int = 6, max_attempts: int = 5, batch: int = BATCH) -> DeliveryRound:
    """One round of the sender: deliver what is due at `now` (see the module's notes). With no
    gateway, SMS messages stay pending (app-only messages are still delivered)."""
    result = DeliveryRound()
    async with db.transaction() as conn:
        expired = await conn.execute(
            """UPDATE notifications SET status = 'failed', last_error = 'expired', next_attempt_at = NULL
               WHERE status = 'pending' AND channel = 'sms' AND created_at < $1""", now - MAX_AGE)
        result.expired = int(expired.split()[-1])
        due = await conn.fetch(
            """SELECT id, channel, phone, message, attempts, same_day FROM notifications
               WHERE status = 'pending' AND coalesce(next_attempt_at, created_at) <= $1
               ORDER BY coalesce(next_attempt_at, created_at), id LIMIT $2 FOR UPDATE SKIP LOCKED""", now, batch)
        sendable = []
        recent = await _sent_last_hour(conn, {r["phone"] for r in due if r["phone"]}, now)
        for row in due:
            if row["channel"] == "app" or not row["phone"]:
                await conn.execute("UPDATE notifications SET status = 'sent', sent_at = $2 WHERE id = $1",
                                   row["id"], now)
                result.app += 1
            elif gateway is None:
                continue
            elif quiet is not None and not row["same_day"] and quiet.holds(now):
                await _hold(conn, row["id"], quiet.ends_after(now))
                result.held_quiet += 1
            elif len(recent.setdefault(row["phone"], [])) >= per_phone_hour:
                await _hold(conn, row["id"], min(recent[row["phone"]]) + timedelta(hours=1))
                result.held_limit += 1
            else:
                recent[row["phone"]].append(now)
                sendable.append(row)
                await _hold(conn, row["id"], now + LEASE)
    for row in sendable:
        await _send_one(db, gateway, row, now=now, max_attempts=max_attempts, result=result)
    if result.total or result.retried or result.expired:
        log.info("outbox: %d sent, %d to the app, %d to retry, %d failed, %d expired, %d held (quiet hours), "
                 "%d held (limit)", result.sent, result.app, result.retried, result.failed, result.expired,
                 result.held_quiet, result.held_limit)
    return result


async def _sent_last_hour(conn: asyncpg.Connection, phones: set[str], now: datetime) -> dict[str, list[datetime]]:
    if not phones:
        return {}
    rows = await conn.fetch(
        """SELECT phone, sent_at FROM notifications WHERE status = 'sent' AND phone = ANY($1::text[])
           AND sent_at > $2 AND sent_at <= $3""", sorted(phones), now - timedelta(hours=1), now)
    found: dict[str, list[datetime]] = {}
    for row in rows:
        found.setdefault(row["phone"], []).append(row["sent_at"])
    return found


async def _hold(conn: asyncpg.Connection, message_id: int, until: datetime) -> None:
    await conn.execute("UPDATE notifications SET next_attempt_at = $2 WHERE id = $1", message_id, until)


async def _send_one(db, gateway: Gateway, row, *, now: datetime, max_attempts: int, result: DeliveryRound) -> None:
    attempts = row["attempts"] + 1
    try:
        gateway_id = await gateway.send(message_id=row["id"], phone=row["phone"], text=row["message"])
    except GatewayError as exc:
        final = not exc.retry or attempts >= max_attempts
        async with db.transaction() as conn:
            await conn.execute(
                """UPDATE notifications SET attempts = $2, last_error = $3, status = $4, next_attempt_at = $5
                   WHERE id = $1 AND status = 'pending'""",
                row["id"], attempts, exc.reason[:200], "failed" if final else "pending",
                None if final else now + backoff(attempts))
        log.warning("outbox: message %d not accepted by %s (%s), attempt %d%s", row["id"], gateway.name,
                    exc.reason, attempts, ", given up" if final else "")
        if final:
            result.failed += 1
        else:
            result.retried += 1
        return
    async with db.transaction() as conn:
        await conn.execute(
            """UPDATE notifications SET status = 'sent', sent_at = $2, attempts = $3, gateway_message_id = $4,
                      last_error = NULL, next_attempt_at = NULL WHERE id = $1""",
            row["id"], now, attempts, gateway_id[:200])
    result.sent += 1
    result.sent_ids.append(row["id"])

# ------------------------------------------------------------------ the inbox and the admin's view


@dataclass(frozen=True)
class InboxMessage:
    id: int
    text: str
    booking_id: int | None
    created_at: datetime
    read: bool
    kind: str


def _mine(first_param: int) -> str:
    """The SQL condition for "addressed to this user" ($n: user id, role, resident id, caregiver id)."""
    u, role, resident, caregiver = (f"${first_param + i}" for i in range(4))
    return (f"(user_id = {u} OR ({role} = 'resident' AND resident_id = {resident} AND user_id IS NULL "
            f"AND caregiver_id IS NULL) OR ({role} = 'caregiver' AND caregiver_id = {caregiver}))")


def _who(user) -> list:
    return [user.id, user.role, user.resident_id, user.caregiver_id]


async def inbox(conn: asyncpg.Connection, *, user, limit: int = 100) -> list[InboxMessage]:
    """The messages addressed to this user, newest first: their own (family, staff), the elder's
    (a resident's login), the caregiver's (a caregiver's login)."""
    rows = await conn.fetch(
        f"""SELECT id, message, booking_id, created_at, read_at IS NOT NULL AS read, kind FROM notifications
            WHERE {_mine(1)} ORDER BY created_at DESC, id DESC LIMIT $5""", *_who(user), limit)
    return [InboxMessage(r["id"], r["message"], r["booking_id"], r["created_at"], r["read"], r["kind"]) for r in rows]


async def mark_read(conn: asyncpg.Connection, *, user, ids: list[int] | None, now: datetime) -> int:
    """Mark the user's messages read (these ids, or all with None); returns how many changed.
    Ids that are not the user's are ignored (never an error: ids cannot be probed)."""
    result = await conn.execute(
        f"""UPDATE notifications SET read_at = $5 WHERE read_at IS NULL AND {_mine(1)}
            AND ($6::bigint[] IS NULL OR id = ANY($6::bigint[]))""", *_who(user), now, ids)
    return int(result.split()[-1])


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    phone: str | None
    status: str
    sent_at: datetime | None
    created_at: datetime
    kind: str
    channel: str
    attempts: int
    gateway_message_id: str | None
    last_error: str | None
    booking_id: int | None


def mask_phone(phone: str | None) -> str | None:
    """13812345678 → 138****5678; short numbers keep only their last 2 digits."""
    if not phone:
        return phone
    if len(phone) >= 11:
        return phone[:3] + "****" + phone[-4:]
    return "*" * max(len(phone) - 2, 0) + phone[-2:]


async def outbox(conn: asyncpg.Connection, *, phone: str | None, since: datetime | None,
                 limit: int = 200) -> list[OutboxEntry]:
    """Messages newest first (one phone's with `phone`, unmasked; else every phone masked)."""
    rows = await conn.fetch(
        """SELECT id, phone, status, sent_at, created_at, kind, channel, attempts, gateway_message_id, last_error,
                  booking_id
           FROM notifications WHERE ($1::text IS NULL OR phone = $1) AND ($2::timestamptz IS NULL OR created_at >= $2)
           ORDER BY created_at DESC, id DESC LIMIT $3""", phone, since, limit)
    return [OutboxEntry(**{**dict(r), "phone": r["phone"] if phone else mask_phone(r["phone"])}) for r in rows]


def same_day(service_date: date, now: datetime) -> bool:
    """True when a change concerns the local day of `now` (it may not wait for quiet hours to end)."""
    return service_date <= now.astimezone(LOCAL_TZ).date()


async def elder_side(conn: asyncpg.Connection, *, resident_id: int, booking_id: int | None, elder_text: str,
                     family_text: str, kind: str, same_day: bool, dedup: str | None = None) -> list[OutMessage]:
    """The messages for an elder (SMS to their phone, and their inbox) and each active family member
    linked to them (their inbox). `dedup`: a key made unique per recipient, for chores."""
    family = await conn.fetch(
        """SELECT u.id FROM family_links f JOIN users u ON u.id = f.user_id AND u.active
           WHERE f.resident_id = $1 ORDER BY u.id""", resident_id)
    found = [OutMessage(elder_text, kind, booking_id, resident_id=resident_id, same_day=same_day,
                        dedup_key=f"{dedup}:r{resident_id}" if dedup else None)]
    found += [OutMessage(family_text, kind, booking_id, user_id=row["id"], channel="app", same_day=same_day,
                         dedup_key=f"{dedup}:u{row['id']}" if dedup else None) for row in family]
    return found
