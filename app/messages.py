"""Message routes (issue 13): every signed-in person's inbox, the admin's view of the outbox and of
the local stand-in gateway. The messages themselves are queued by each floor (core/outbox.py)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core import keys, outbox
from core.clock import utc_now
from core.fields import Id
from core.http import current_user, endpoint, parse_body, parse_query, respond
from core.roles import OUTBOX_READERS, SIGNED_IN

routes = web.RouteTableDef()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageRead(BaseModel):
    id: int
    text: str
    booking_id: int | None
    created_at: dt.datetime
    read: bool
    kind: str


class MessageList(BaseModel):
    messages: list[MessageRead]
    unread: int


class MessagesQuery(Strict):
    limit: int = Field(default=100, ge=1, le=500)


class MarkRead(Strict):
    ids: list[Id] | None = Field(default=None, max_length=500,
                                 description="the messages to mark read; omitted or null: all of yours")


class MarkedRead(BaseModel):
    marked: int


class OutboxQuery(Strict):
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=20,
                                            pattern=r"^[0-9+\-]+$")] | None = None
    since: dt.datetime | None = Field(default=None, description="ISO 8601 instant with its offset")
    limit: int = Field(default=200, ge=1, le=1000)


class OutboxRead(BaseModel):
    id: int
    phone: str | None = Field(description="masked (138****5678) unless the query named the phone")
    status: str
    sent_at: dt.datetime | None
    created_at: dt.datetime
    kind: str
    channel: str
    attempts: int
    gateway_message_id: str | None
    last_error: str | None
    booking_id: int | None


class OutboxList(BaseModel):
    messages: list[OutboxRead]


class StandinMessage(BaseModel):
    id: str
    phone: str
    text: str
    message_id: str
    at: str


class StandinRead(BaseModel):
    running: bool
    url: str | None
    received: list[StandinMessage]


def _db(request: web.Request):
    return request.config_dict[keys.DB]


@routes.get("/messages")
@endpoint(roles=SIGNED_IN, summary="Your inbox, newest first (the elder's, the family's, the caregiver's messages)",
          query=MessagesQuery, response=MessageList)
async def messages(request: web.Request) -> web.Response:
    q = parse_query(request, MessagesQuery)
    async with _db(request).connection() as conn:
        found = await outbox.inbox(conn, user=current_user(request), limit=q.limit)
    return respond(MessageList(messages=[MessageRead(**vars(m)) for m in found],
                               unread=sum(not m.read for m in found)))


@routes.post("/messages/read")
@endpoint(roles=SIGNED_IN, summary="Mark your messages read (these ids, or all)", body=MarkRead, response=MarkedRead)
async def mark_read(request: web.Request) -> web.Response:
    data = await parse_body(request, MarkRead)
    async with _db(request).transaction() as conn:
        marked = await outbox.mark_read(conn, user=current_user(request), ids=data.ids, now=utc_now())
    return respond(MarkedRead(marked=marked))


@routes.get("/outbox")
@endpoint(roles=OUTBOX_READERS, summary="Sent and pending messages (phones masked unless `phone=` is given)",
          query=OutboxQuery, response=OutboxList)
async def outbox_list(request: web.Request) -> web.Response:
    q = parse_query(request, OutboxQuery)
    async with _db(request).connection() as conn:
        found = await outbox.outbox(conn, phone=q.phone, since=q.since, limit=q.limit)
    return respond(OutboxList(messages=[OutboxRead(**vars(m)) for m in found]))


@routes.get("/outbox/standin")
@endpoint(roles=OUTBOX_READERS, summary="What the local stand-in SMS gateway received (phones masked)",
          response=StandinRead)
async def standin(request: web.Request) -> web.Response:
    gateway = request.config_dict.get(keys.SMS_STANDIN)
    if gateway is None:
        return respond(StandinRead(running=False, url=None, received=[]))
    received = [StandinMessage(**{**vars(r), "phone": outbox.mask_phone(r.phone)}) for r in reversed(gateway.received)]
    return respond(StandinRead(running=True, url=gateway.url, received=received[:500]))
