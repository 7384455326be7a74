"""Booking routes: parse, one service call, respond."""
from __future__ import annotations

from aiohttp import web

from core import keys
from core.clock import local_today
from core.roles import BOOKING_READERS, ELDER_SIDE, HOTLINE, SAFETY_TASK_READERS
from core.http import PUBLIC, current_user, endpoint, header_text, parse_body, parse_query, path_id, respond
from booking import service
from booking.schemas import (BookingCreate, BookingList, BookingQuery, BookingRead, CallCreate, CallList,
                             CallQuery, CallRead, CancelBody, RescheduleBody, CareCallEntry, CareCallList, CareCallQuery, EvaluationCreate,
                             EvaluationRead, MenuRead, QuoteRead, ResidentCreate, ResidentList,
                             ResidentRead, ResidentSearch, SeriesCreate, SeriesRead, WalletQuery, WalletRead)
from booking.subsidy import parse_month, service_month
from booking.schemas import SafetyTaskClose, SafetyTaskList, SafetyTaskQuery, SafetyTaskRead
import dataclasses
from core.errors import invalid_field
from core.roles import ADMIN_ONLY
from booking.channel import channel_for
from booking.schemas import MenuItemAdminRead, MenuItemPatch, ResidentPatch

routes = web.RouteTableDef()

# how registering an elder finds their circle's reach (service.ReachOf): given by the app, from providers
CIRCLE_REACH = web.AppKey("circle_reach", object)

def _db(request: web.Request):
    return request.config_dict[keys.DB]


def _crypto(request: web.Request):
    return request.config_dict[keys.CRYPTO]


@routes.get("/menu")
@endpoint(roles=PUBLIC, summary="The menu: 6 categories, their items and prices", response=MenuRead)
async def get_menu(request: web.Request) -> web.Response:
    categories, items = await service.get_menu(_db(request))
    return respond(MenuRead.of(categories, items))


@routes.post("/residents")
@endpoint(roles=HOTLINE, summary="Register a resident", body=ResidentCreate, response=ResidentRead, status=201)
async def create_resident(request: web.Request) -> web.Response:
    data = await parse_body(request, ResidentCreate)
    resident = await service.create_resident(_db(request), _crypto(request), actor=current_user(request),
                                             resident=data.command(), reach_of=request.config_dict[CIRCLE_REACH],
                                             duplicate_reason=data.duplicate_reason)
    return respond(ResidentRead.of(resident, today=local_today()), status=201)


@routes.get("/residents")
@endpoint(roles=HOTLINE, summary="Find residents by exact phone or name prefix", query=ResidentSearch,
          response=ResidentList)
async def search_residents(request: web.Request) -> web.Response:
    query = parse_query(request, ResidentSearch)
    found = await service.search_residents(_db(request), _crypto(request), actor=current_user(request),
                                           phone=query.phone, q=query.q, limit=query.limit)
    today = local_today()
    return respond(ResidentList(residents=[ResidentRead.of(r, today=today, with_notes=False) for r in found]))


@routes.get("/residents/{id}")
@endpoint(roles=ELDER_SIDE, summary="One resident (ID number masked)", response=ResidentRead)
async def get_resident(request: web.Request) -> web.Response:
    resident = await service.get_resident(_db(request), _crypto(request), actor=current_user(request),
                                          resident_id=path_id(request))
    return respond(ResidentRead.of(resident, today=local_today()))


@routes.get("/residents/{id}/wallet")
@endpoint(roles=ELDER_SIDE, summary="The subsidy wallet of a month, with its ledger", query=WalletQuery,
          response=WalletRead)
async def get_wallet(request: web.Request) -> web.Response:
    query = parse_query(request, WalletQuery)
    month = parse_month(query.month) if query.month else service_month(local_today())
    wallet, entries, eligible = await service.get_wallet(_db(request), _crypto(request), actor=current_user(request),
                                                         resident_id=path_id(request), month=month)
    return respond(WalletRead.of(month, wallet, entries, eligible=eligible))


@routes.post("/bookings/quote")
@endpoint(roles=ELDER_SIDE, summary="Price, subsidy part and self-pay part of a booking; changes nothing",
          body=BookingCreate, response=QuoteRead)
async def quote(request: web.Request) -> web.Response:
    data = await parse_body(request, BookingCreate)
    split, available = await service.quote(_db(request), actor=current_user(request), request=_command(request, data),
                                           servers_of=request.config_dict.get(SERVERS_OF))
    return respond(QuoteRead(price_fen=split.price_fen, subsidy_fen=split.subsidy_fen,
                             self_pay_fen=split.self_pay_fen, available_fen=available))


@routes.post("/bookings")
@endpoint(roles=ELDER_SIDE, summary="Book a visit (honours Idempotency-Key)", body=BookingCreate,
          response=BookingRead, status=201,
          headers=(("Idempotency-Key", "1-200 printable ASCII characters: a retry with the same key and body answers "
                    "the first booking; the same key with another body is 422"),))
async def create_booking(request: web.Request) -> web.Response:
    data = await parse_body(request, BookingCreate)
    booking = await service.create_booking(_db(request), actor=current_user(request), request=_command(request, data),
                                           idempotency_key=header_text(request, "Idempotency-Key"),
                                           confirm_duplicate=data.confirm_duplicate,
                                           servers_of=request.config_dict.get(SERVERS_OF))
    return respond(BookingRead.of(booking), status=201)


@routes.get("/bookings")
@endpoint(roles=BOOKING_READERS, summary="Bookings the caller may see", query=BookingQuery, response=BookingList)
async def list_bookings(request: web.Request) -> web.Response:
    q = parse_query(request, BookingQuery)
    found = await service.list_bookings(_db(request), actor=current_user(request), resident_id=q.resident_id,
                                        service_date=q.date, status=q.status, circle_id=q.circle_id, limit=q.limit,
                                        evaluated=q.evaluated)
    return respond(BookingList(bookings=[BookingRead.of(b) for b in found]))


@routes.get("/bookings/{id}")
@endpoint(roles=BOOKING_READERS, summary="One booking", response=BookingRead)
async def get_booking(request: web.Request) -> web.Response:
    booking = await service.get_booking(_db(request), actor=current_user(request), booking_id=path_id(request))
    return respond(BookingRead.of(booking))


@routes.post("/bookings/{id}/cancel")
@endpoint(roles=ELDER_SIDE, summary="Cancel a pending or scheduled booking; the subsidy hold is released",
          body=CancelBody, response=BookingRead)
async def cancel_booking(request: web.Request) -> web.Response:
    body = await parse_body(request, CancelBody)
    booking = await service.cancel_booking(_db(request), actor=current_user(request),
                                           booking_id=path_id(request), reason=body.reason)
    return respond(BookingRead.of(booking))


@routes.post("/bookings/{id}/reschedule")
@endpoint(roles=ELDER_SIDE, summary="Move a pending or scheduled visit to another day or window, atomically "
          "(the old booking is cancelled, a new one returned)", body=RescheduleBody, response=BookingRead, status=201)
async def reschedule_booking(request: web.Request) -> web.Response:
    body = await parse_body(request, RescheduleBody)
    booking = await service.reschedule_booking(_db(request), actor=current_user(request), booking_id=path_id(request),
                                               service_date=body.date, window_start=body.window_start,
                                               window_end=body.window_end, notes=body.notes)
    return respond(BookingRead.of(booking), status=201)


@routes.post("/bookings/{id}/evaluation")
@endpoint(roles=ELDER_SIDE, summary="Rate a completed visit", body=EvaluationCreate, response=EvaluationRead,
          status=201)
async def evaluate(request: web.Request) -> web.Response:
    body = await parse_body(request, EvaluationCreate)
    evaluation = await service.evaluate(_db(request), actor=current_user(request), booking_id=path_id(request),
                                        rating=body.rating, comment=body.comment, source=body.source)
    return respond(EvaluationRead.model_validate(evaluation, from_attributes=True), status=201)


@routes.post("/series")
@endpoint(roles=ELDER_SIDE, summary="A repeating booking; its next days' bookings are created at once",
          body=SeriesCreate, response=SeriesRead, status=201)
async def create_series(request: web.Request) -> web.Response:
    data = await parse_body(request, SeriesCreate)
    series, created = await service.create_series(_db(request), actor=current_user(request),
                                                  request=_series_command(request, data))
    return respond(SeriesRead.of(series, created=created), status=201)


@routes.post("/series/{id}/cancel")
@endpoint(roles=ELDER_SIDE, summary="Stop a series and cancel its future bookings", response=SeriesRead)
async def cancel_series(request: web.Request) -> web.Response:
    series, _cancelled = await service.cancel_series(_db(request), actor=current_user(request),
                                                     series_id=path_id(request))
    return respond(SeriesRead.of(series))


@routes.post("/calls")
@endpoint(roles=HOTLINE, summary="Log a hotline call (inbound, daily care call, return-visit call)",
          body=CallCreate, response=CallRead, status=201)
async def log_call(request: web.Request) -> web.Response:
    data = await parse_body(request, CallCreate)
    call = await service.log_call(_db(request), _crypto(request), actor=current_user(request),
                                  resident_id=data.resident_id, kind=data.kind, outcome=data.outcome,
                                  booking_id=data.booking_id, notes=data.notes)
    return respond(CallRead.of(call), status=201)


@routes.get("/calls")
@endpoint(roles=HOTLINE, summary="A resident's recent hotline calls, newest first", query=CallQuery,
          response=CallList)
async def list_calls(request: web.Request) -> web.Response:
    q = parse_query(request, CallQuery)
    calls = await service.list_calls(_db(request), _crypto(request), actor=current_user(request),
                                     resident_id=q.resident_id, limit=q.limit)
    return respond(CallList(calls=[CallRead.of(c) for c in calls]))


@routes.get("/care-calls")
@endpoint(roles=HOTLINE, summary="The day's care-call list (日电话): residents living alone and their calls",
          query=CareCallQuery, response=CareCallList)
async def care_calls(request: web.Request) -> web.Response:
    q = parse_query(request, CareCallQuery)
    day = q.date or local_today()
    entries = await service.care_call_list(_db(request), _crypto(request), actor=current_user(request),
                                           day=day, circle_id=q.circle_id)
    return respond(CareCallList(date=day, entries=[
        CareCallEntry(resident=ResidentRead.of(r, today=day, with_notes=False), calls=[CallRead.of(c) for c in calls])
        for r, calls in entries]))

# ------------------------------------------------------------------ issue 15: channel from the caller, editing



# who in a circle could serve an item on a day (service.ServersOf): given by the app, from providers
SERVERS_OF = web.AppKey("servers_of", object)


def _channel(request: web.Request, data) -> str:
    return channel_for(current_user(request).role, data.channel if "channel" in data.model_fields_set else None)


def _command(request: web.Request, data: BookingCreate):
    return dataclasses.replace(data.command(), channel=_channel(request, data))


def _series_command(request: web.Request, data: SeriesCreate):
    return dataclasses.replace(data.command(), channel=_channel(request, data))


@routes.patch("/menu/{code}")
@endpoint(roles=ADMIN_ONLY, summary="Change an item's price, minutes, subsidy cap or active flag (audited); "
          "bookings keep the price they were made with", body=MenuItemPatch, response=MenuItemAdminRead)
async def update_menu_item(request: web.Request) -> web.Response:
    body = await parse_body(request, MenuItemPatch)
    item, active = await service.update_menu_item(_db(request), actor=current_user(request),
                                                  code=_item_code(request), changes=body.command())
    return respond(MenuItemAdminRead.of(item, active))


def _item_code(request: web.Request) -> str:
    code = request.match_info["code"]
    if not (code.isascii() and code.isalnum() and len(code) <= 40):
        raise invalid_field("code", code, "is not a menu item code", "服务项目编号格式错误")
    return code


@routes.patch("/residents/{id}")
@endpoint(roles=HOTLINE, summary="Change a resident's address, position, phone, eligibility, living alone or "
          "care notes (audited); the answer leaves the care notes out (read them with GET)", body=ResidentPatch,
          response=ResidentRead)
async def update_resident(request: web.Request) -> web.Response:
    body = await parse_body(request, ResidentPatch)
    resident = await service.update_resident(_db(request), _crypto(request), actor=current_user(request),
                                             resident_id=path_id(request), changes=body.command(),
                                             reach_of=request.config_dict[CIRCLE_REACH], reason=body.reason)
    return respond(ResidentRead.of(resident, today=local_today(), with_notes=False))

@routes.get("/safety-tasks")
@endpoint(roles=SAFETY_TASK_READERS, summary="The hotline's follow-ups: not-home or refused visits of elders living "
          "alone, bookings no plan could take; open first", query=SafetyTaskQuery, response=SafetyTaskList)
async def safety_tasks(request: web.Request) -> web.Response:
    q = parse_query(request, SafetyTaskQuery)
    tasks = await service.list_safety_tasks(_db(request), actor=current_user(request), open_only=q.open,
                                            circle_id=q.circle_id)
    return respond(SafetyTaskList(tasks=[SafetyTaskRead.of(t) for t in tasks]))


@routes.post("/safety-tasks/{id}/close")
@endpoint(roles=SAFETY_TASK_READERS, summary="Close a follow-up with its outcome (the elder or family reached …)",
          body=SafetyTaskClose, response=SafetyTaskRead, errors=(404, 409))
async def close_safety_task(request: web.Request) -> web.Response:
    data = await parse_body(request, SafetyTaskClose)
    task = await service.close_safety_task(_db(request), actor=current_user(request), task_id=path_id(request),
                                           outcome=data.outcome, notes=data.notes)
    return respond(SafetyTaskRead.of(task))
