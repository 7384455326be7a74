"""Provider routes: parse, one service call, respond."""
from __future__ import annotations

from aiohttp import web

from core import keys
from core.roles import (ADMIN_ONLY, ALERT_READERS, CALENDAR_OWNERS, CAREGIVER_LISTERS, CAREGIVER_READERS,
                        PROVIDER_SIDE, ROLES, STAFF, VISIT_ACTORS)
from core.clock import local_today
from core.http import PUBLIC, current_user, endpoint, parse_body, parse_query, path_id, respond
from booking.subsidy import parse_month
from providers import service
from providers.schemas import (AlertList, AlertQuery, AlertRead, AssignmentRead, AvailabilityPut,
                               AvailabilityRead, CalendarQuery, CalendarTokenRead, CaregiverCreate,
                               CaregiverList, CaregiverQuery, CaregiverRead, CaregiverUpdate, CheckInBody,
                               CheckOutBody, CircleCreate, VisitReview, CircleList, CircleRead, DayQuery, DayRuleRead,
                               DaySheetRead, EvaluationClearRead, ProviderCreate, ProviderList, ProviderRead,
                               SettlementQuery, SettlementRead, ShiftRead, VisitPatch, VisitRead,
                               WorkingDayRead, WorkingDays, WorkingDaysQuery)
from providers.settlement import settlement_csv
from providers.schemas import CaregiverLoginCreate, CaregiverLoginRead, CirclePatch, ProviderPatch

routes = web.RouteTableDef()



def _db(request: web.Request):
    return request.config_dict[keys.DB]

# ------------------------------------------------------------------ circles and providers


@routes.get("/circles")
@endpoint(roles=STAFF, summary="The service circles of the street, with centre and reach", response=CircleList)
async def list_circles(request: web.Request) -> web.Response:
    return respond(CircleList(circles=[CircleRead.of(c) for c in await service.list_circles(_db(request))]))


@routes.get("/circles/{id}")
@endpoint(roles=ROLES, summary="One service circle, with the hotline elders call", response=CircleRead)
async def get_circle(request: web.Request) -> web.Response:
    return respond(CircleRead.of(await service.get_circle(_db(request), path_id(request))))


@routes.post("/circles")
@endpoint(roles=ADMIN_ONLY, summary="Add a service circle", body=CircleCreate, response=CircleRead, status=201)
async def create_circle(request: web.Request) -> web.Response:
    data = await parse_body(request, CircleCreate)
    return respond(CircleRead.of(await service.create_circle(_db(request), **data.model_dump())), status=201)


@routes.get("/providers")
@endpoint(roles=ADMIN_ONLY, summary="Provider organisations with their circles and items", response=ProviderList)
async def list_providers(request: web.Request) -> web.Response:
    found = await service.list_providers(_db(request))
    return respond(ProviderList(providers=[ProviderRead.of(p) for p in found]))


@routes.post("/providers")
@endpoint(roles=ADMIN_ONLY, summary="Add a provider: the circles it serves and the menu items it delivers",
          body=ProviderCreate, response=ProviderRead, status=201)
async def create_provider(request: web.Request) -> web.Response:
    data = await parse_body(request, ProviderCreate)
    return respond(ProviderRead.of(await service.create_provider(_db(request), **data.model_dump())), status=201)

# ------------------------------------------------------------------ caregivers


@routes.post("/caregivers")
@endpoint(roles=PROVIDER_SIDE, summary="Add a caregiver (optionally with a login)", body=CaregiverCreate,
          response=CaregiverRead, status=201)
async def create_caregiver(request: web.Request) -> web.Response:
    data = await parse_body(request, CaregiverCreate)
    caregiver = await service.create_caregiver(_db(request), actor=current_user(request), caregiver=data.command(),
                                               username=data.username, password=data.password)
    return respond(CaregiverRead.of(caregiver), status=201)


@routes.get("/caregivers")
@endpoint(roles=CAREGIVER_LISTERS, summary="Caregivers (a provider admin: their own)",
          query=CaregiverQuery, response=CaregiverList)
async def list_caregivers(request: web.Request) -> web.Response:
    q = parse_query(request, CaregiverQuery)
    found = await service.list_caregivers(_db(request), actor=current_user(request), provider_id=q.provider_id,
                                          circle_id=q.circle_id, include_inactive=q.include_inactive)
    return respond(CaregiverList(caregivers=[CaregiverRead.of(c) for c in found]))


@routes.get("/caregivers/{id}")
@endpoint(roles=CAREGIVER_READERS, summary="One caregiver", response=CaregiverRead)
async def get_caregiver(request: web.Request) -> web.Response:
    caregiver = await service.get_caregiver(_db(request), actor=current_user(request), caregiver_id=path_id(request))
    return respond(CaregiverRead.of(caregiver))


@routes.patch("/caregivers/{id}")
@endpoint(roles=PROVIDER_SIDE, summary="Change a caregiver's details, pattern or active flag",
          body=CaregiverUpdate, response=CaregiverRead)
async def update_caregiver(request: web.Request) -> web.Response:
    data = await parse_body(request, CaregiverUpdate)
    caregiver = await service.update_caregiver(_db(request), actor=current_user(request),
                                                       caregiver_id=path_id(request), **data.changes())
    return respond(CaregiverRead.of(caregiver))


@routes.put("/caregivers/{id}/availability")
@endpoint(roles=PROVIDER_SIDE, summary="Set leave and shift overrides for dates ('normal' removes a rule)",
          body=AvailabilityPut, response=AvailabilityRead)
async def set_availability(request: web.Request) -> web.Response:
    body = await parse_body(request, AvailabilityPut)
    caregiver_id = path_id(request)
    rules, replan = await service.set_availability(_db(request), actor=current_user(request),
                                                   caregiver_id=caregiver_id, days=[d.command() for d in body.days])
    return respond(AvailabilityRead(caregiver_id=caregiver_id, days=[DayRuleRead.of(r) for r in rules],
                                    visits_to_replan=replan))


@routes.get("/caregivers/{id}/availability")
@endpoint(roles=CAREGIVER_READERS, summary="The caregiver's shift on each coming day", query=WorkingDaysQuery,
          response=WorkingDays)
async def get_availability(request: web.Request) -> web.Response:
    q = parse_query(request, WorkingDaysQuery)
    caregiver_id = path_id(request)
    found = await service.working_days(_db(request), actor=current_user(request), caregiver_id=caregiver_id,
                                       start=q.start or local_today(), days=q.days)
    return respond(WorkingDays(caregiver_id=caregiver_id, days=[
        WorkingDayRead(date=d, kind=kind, shift=ShiftRead.of(shift)) for d, kind, shift in found]))

# ------------------------------------------------------------------ the day sheet and the calendar feed


@routes.get("/caregivers/{id}/assignments")
@endpoint(roles=CAREGIVER_READERS, summary="The caregiver's published day, in order (care notes for today "
          "and tomorrow only)", query=DayQuery, response=DaySheetRead)
async def day_sheet(request: web.Request) -> web.Response:
    q = parse_query(request, DayQuery)
    day = q.date or local_today()
    caregiver, shift, shown, entries = await service.day_sheet(
        _db(request), request.config_dict[keys.CRYPTO], actor=current_user(request),
        caregiver_id=path_id(request), day=day)
    return respond(DaySheetRead(caregiver_id=caregiver.id, caregiver_name=caregiver.name,
                                circle_id=caregiver.circle_id, date=day,
                                shift=ShiftRead.of(shift), care_notes_shown=shown,
                                visits=[AssignmentRead.of(e) for e in entries]))


@routes.get("/caregivers/{id}/calendar.ics")
@endpoint(roles=PUBLIC, summary="The coming 14 days as an iCalendar feed (secret token in the URL; no "
          "care notes)", query=CalendarQuery, content_type="text/calendar")
async def calendar_feed(request: web.Request) -> web.Response:
    caregiver_id = path_id(request)
    q = parse_query(request, CalendarQuery)
    body = await service.calendar_feed(_db(request), caregiver_id=caregiver_id, token=q.token)
    return web.Response(body=body, content_type="text/calendar", charset="utf-8",
                        headers={"Cache-Control": "private, no-store"})


@routes.post("/caregivers/{id}/calendar-token")
@endpoint(roles=CALENDAR_OWNERS, summary="Issue a new calendar-feed token; the old "
          "one stops working", response=CalendarTokenRead, status=201)
async def issue_calendar_token(request: web.Request) -> web.Response:
    caregiver_id = path_id(request)
    token = await service.issue_calendar_token(_db(request), actor=current_user(request), caregiver_id=caregiver_id)
    url = f"/api/v1/caregivers/{caregiver_id}/calendar.ics?token={token}"
    return respond(CalendarTokenRead(caregiver_id=caregiver_id, token=token, url=url), status=201)

# ------------------------------------------------------------------ visits


@routes.post("/visits/{id}/check-in")
@endpoint(roles=VISIT_ACTORS, summary="Check in at the door with the phone's position (far: flagged, "
          "never refused)", body=CheckInBody, response=VisitRead)
async def check_in(request: web.Request) -> web.Response:
    body = await parse_body(request, CheckInBody)
    visit, status = await service.check_in(_db(request), actor=current_user(request), visit_id=path_id(request),
                                           lat=body.lat, lon=body.lon)
    return respond(VisitRead.of(visit, status))


@routes.post("/visits/{id}/check-out")
@endpoint(roles=VISIT_ACTORS, summary="Check out with position and outcome; the booking follows",
          body=CheckOutBody, response=VisitRead)
async def check_out(request: web.Request) -> web.Response:
    body = await parse_body(request, CheckOutBody)
    visit, status = await service.check_out(_db(request), actor=current_user(request), visit_id=path_id(request),
                                            lat=body.lat, lon=body.lon, outcome=body.outcome, notes=body.notes)
    return respond(VisitRead.of(visit, status))


@routes.get("/visits/alerts")
@endpoint(roles=ALERT_READERS, summary="The day's flagged visits: far or late check-ins, no-shows, shortened",
          query=AlertQuery, response=AlertList)
async def alerts(request: web.Request) -> web.Response:
    q = parse_query(request, AlertQuery)
    day = q.date or local_today()
    found = await service.alerts(_db(request), actor=current_user(request), circle_id=q.circle_id, day=day)
    return respond(AlertList(date=day, alerts=[AlertRead.of(a) for a in found]))


@routes.patch("/visits/{id}")
@endpoint(roles=PROVIDER_SIDE, summary="Correct a visit's check-in/out times or outcome, with a reason (audited)",
          body=VisitPatch, response=VisitRead)
async def correct_visit(request: web.Request) -> web.Response:
    body = await parse_body(request, VisitPatch)
    visit, status = await service.correct_visit(
        _db(request), actor=current_user(request), visit_id=path_id(request), reason=body.reason,
        check_in_at=body.check_in_at, check_out_at=body.check_out_at, outcome=body.outcome)
    return respond(VisitRead.of(visit, status))

@routes.post("/visits/{id}/review")
@endpoint(roles=ADMIN_ONLY, summary="Approve, or reject with a reason, a provider's correction that made a visit "
          "done (withheld from settlement until approved; audited)", body=VisitReview, response=VisitRead)
async def review_visit(request: web.Request) -> web.Response:
    body = await parse_body(request, VisitReview)
    visit, status = await service.review_visit(_db(request), actor=current_user(request), visit_id=path_id(request),
                                               approve=body.approve, reason=body.reason)
    return respond(VisitRead.of(visit, status))

# ------------------------------------------------------------------ settlement and evaluations


@routes.get("/reports/settlement")
@endpoint(roles=PROVIDER_SIDE, summary="What a provider is owed for a month, and what is withheld and why",
          query=SettlementQuery, response=SettlementRead)
async def settlement(request: web.Request) -> web.Response:
    q = parse_query(request, SettlementQuery)
    provider, result = await service.settlement(_db(request), actor=current_user(request),
                                                provider_id=q.provider_id, month=parse_month(q.month))
    return respond(SettlementRead.of(provider, result))


@routes.get("/reports/settlement.csv")
@endpoint(roles=PROVIDER_SIDE, summary="The settlement as CSV (UTF-8 with BOM, for Excel)", query=SettlementQuery,
          content_type="text/csv")
async def settlement_export(request: web.Request) -> web.Response:
    q = parse_query(request, SettlementQuery)
    provider, result = await service.settlement(_db(request), actor=current_user(request),
                                                provider_id=q.provider_id, month=parse_month(q.month))
    filename = f"settlement-{provider.id}-{q.month}.csv"
    return web.Response(body=settlement_csv(result), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@routes.post("/evaluations/{id}/clear")
@endpoint(roles=ADMIN_ONLY, summary="Clear a low rating after review, so settlement no longer withholds it",
          response=EvaluationClearRead)
async def clear_evaluation(request: web.Request) -> web.Response:
    found = await service.clear_evaluation(_db(request), actor=current_user(request), evaluation_id=path_id(request))
    return respond(EvaluationClearRead.model_validate(found, from_attributes=True))

# ------------------------------------------------------------------ issue 15: editing (audited)



@routes.patch("/circles/{id}")
@endpoint(roles=ADMIN_ONLY, summary="Change a circle's name, address, centre, reach or hotline (audited)",
          body=CirclePatch, response=CircleRead)
async def update_circle(request: web.Request) -> web.Response:
    body = await parse_body(request, CirclePatch)
    circle = await service.update_circle(_db(request), actor=current_user(request), circle_id=path_id(request),
                                         **body.model_dump(exclude_unset=True))
    return respond(CircleRead.of(circle))


@routes.patch("/providers/{id}")
@endpoint(roles=ADMIN_ONLY, summary="Change a provider's name, phone, circles or items (audited)",
          body=ProviderPatch, response=ProviderRead)
async def update_provider(request: web.Request) -> web.Response:
    body = await parse_body(request, ProviderPatch)
    provider = await service.update_provider(_db(request), actor=current_user(request), provider_id=path_id(request),
                                             **body.model_dump(exclude_unset=True))
    return respond(ProviderRead.of(provider))


@routes.put("/caregivers/{id}/login")
@endpoint(roles=PROVIDER_SIDE, summary="Give a caregiver a login, or a new username and password (the old "
          "sessions end; audited)", body=CaregiverLoginCreate, response=CaregiverLoginRead)
async def set_caregiver_login(request: web.Request) -> web.Response:
    body = await parse_body(request, CaregiverLoginCreate)
    caregiver_id = path_id(request)
    user_id, username = await service.set_caregiver_login(_db(request), actor=current_user(request),
                                                          caregiver_id=caregiver_id, username=body.username,
                                                          password=body.password)
    return respond(CaregiverLoginRead(caregiver_id=caregiver_id, user_id=user_id, username=username))
