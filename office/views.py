"""Street-office routes: parse, one service call, respond."""
from __future__ import annotations

from aiohttp import web

from core import keys
from core.http import PUBLIC, current_user, endpoint, parse_body, parse_query, path_id, respond
from core.roles import ADMIN_ONLY, HOTLINE
from core.accounts import RESET_CODE_HOURS
from booking.subsidy import parse_month
from providers.schemas import SettlementRead
from office import service
from office.export import monthly_csv, monthly_xlsx
from office.schemas import (AccountList, AccountRead, AuditQuery, AuditRead, ChangeRead, FamilyLinkBody, FamilyList, FamilyMemberRead,
                            MonthlyQuery, MonthlyRead, PasswordResetBody, PasswordResetRead, RedeemBody,
                            SensitiveReadRead, SettlementAllQuery, SettlementAllRead, UserQuery)
from core.roles import DISPATCHER, OPERATOR, ADMIN, circle_for
from office.schemas import GeocodeQuery, GeocodeRead, UnconfirmedList, UnconfirmedQuery, UnconfirmedResident

routes = web.RouteTableDef()


def _db(request: web.Request):
    return request.config_dict[keys.DB]


@routes.get("/reports/monthly")
@endpoint(roles=ADMIN_ONLY, summary="The month for the street office: subsidy, visits, withheld, on time, "
          "satisfaction, continuity; by provider and by category", query=MonthlyQuery, response=MonthlyRead)
async def monthly(request: web.Request) -> web.Response:
    q = parse_query(request, MonthlyQuery)
    report = await service.monthly_report(_db(request), actor=current_user(request), month=parse_month(q.month),
                                          circle_id=q.circle_id)
    return respond(MonthlyRead.of(report))


@routes.get("/reports/monthly.xlsx")
@endpoint(roles=ADMIN_ONLY, summary="The monthly report as an Excel workbook", query=MonthlyQuery,
          content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
async def monthly_export(request: web.Request) -> web.Response:
    q = parse_query(request, MonthlyQuery)
    report = await service.monthly_report(_db(request), actor=current_user(request), month=parse_month(q.month),
                                          circle_id=q.circle_id)
    return web.Response(body=monthly_xlsx(MonthlyRead.of(report)),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="monthly-{q.month}.xlsx"'})


@routes.get("/reports/monthly.csv")
@endpoint(roles=ADMIN_ONLY, summary="The monthly report as CSV (UTF-8 with BOM, for Excel)", query=MonthlyQuery,
          content_type="text/csv")
async def monthly_csv_export(request: web.Request) -> web.Response:
    q = parse_query(request, MonthlyQuery)
    report = await service.monthly_report(_db(request), actor=current_user(request), month=parse_month(q.month),
                                          circle_id=q.circle_id)
    return web.Response(body=monthly_csv(MonthlyRead.of(report)), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="monthly-{q.month}.csv"'})


@routes.get("/reports/settlement/all")
@endpoint(roles=ADMIN_ONLY, summary="Every provider's settlement for a month, in one view",
          query=SettlementAllQuery, response=SettlementAllRead)
async def settlement_all(request: web.Request) -> web.Response:
    q = parse_query(request, SettlementAllQuery)
    found = await service.settlements(_db(request), actor=current_user(request), month=parse_month(q.month),
                                      circle_id=q.circle_id)
    return respond(SettlementAllRead(month=q.month, payable_fen=sum(s.payable_fen for _, s in found),
                                     withheld_fen=sum(s.withheld_fen for _, s in found),
                                     providers=[SettlementRead.of(p, s) for p, s in found]))


@routes.get("/audit")
@endpoint(roles=ADMIN_ONLY, summary="Changes (who, when, before, after, reason) and sensitive reads, newest first; "
          "changes include visit corrections (visits:<id>) and dispatchers' plan edits (plans:<id>)",
          query=AuditQuery, response=AuditRead)
async def audit_trail(request: web.Request) -> web.Response:
    q = parse_query(request, AuditQuery)
    changes, reads = await service.audit_trail(_db(request), record=q.record, actor_id=q.actor_id, since=q.since,
                                               limit=q.limit)
    return respond(AuditRead(changes=[ChangeRead.of(c) for c in changes],
                             sensitive_reads=[SensitiveReadRead.of(r) for r in reads]))


@routes.post("/users/{id}/password-reset")
@endpoint(roles=ADMIN_ONLY, summary="Reset a user's password: the old one stops working, every session ends, "
          "and a one-time code (24 h) buys the user one new password", body=PasswordResetBody,
          response=PasswordResetRead, status=201)
async def reset_password(request: web.Request) -> web.Response:
    body = await parse_body(request, PasswordResetBody)
    user_id = path_id(request)
    code = await service.reset_password(_db(request), actor=current_user(request), user_id=user_id, reason=body.reason)
    return respond(PasswordResetRead(user_id=user_id, one_time_code=code, expires_in_hours=RESET_CODE_HOURS),
                   status=201)


@routes.post("/auth/redeem-code")
@endpoint(roles=PUBLIC, summary="Set a new password with the one-time code an admin gave (the code is spent)",
          body=RedeemBody)
async def redeem_code(request: web.Request) -> web.Response:
    body = await parse_body(request, RedeemBody)
    user_id = await service.redeem_code(_db(request), username=body.username, code=body.code,
                                        new_password=body.new_password)
    return respond({"user_id": user_id, "password_set": True})


@routes.get("/residents/{id}/family")
@endpoint(roles=HOTLINE, summary="The family accounts linked to an elder", response=FamilyList)
async def family(request: web.Request) -> web.Response:
    resident_id = path_id(request)
    found = await service.family(_db(request), request.config_dict[keys.CRYPTO], actor=current_user(request),
                                 resident_id=resident_id)
    return respond(FamilyList(resident_id=resident_id,
                              family=[FamilyMemberRead.model_validate(m, from_attributes=True) for m in found]))


@routes.post("/residents/{id}/family")
@endpoint(roles=HOTLINE, summary="Link a family account to an elder (created too when a password is given; audited)",
          body=FamilyLinkBody, response=FamilyMemberRead, status=201)
async def link_family(request: web.Request) -> web.Response:
    body = await parse_body(request, FamilyLinkBody)
    member = await service.link_family(_db(request), request.config_dict[keys.CRYPTO], actor=current_user(request),
                                       resident_id=path_id(request), username=body.username, relation=body.relation,
                                       password=body.password, display_name=body.display_name)
    return respond(FamilyMemberRead.model_validate(member, from_attributes=True), status=201)


@routes.delete("/residents/{id}/family/{user_id}")
@endpoint(roles=HOTLINE, summary="Unlink a family account from an elder (audited)", status=204)
async def unlink_family(request: web.Request) -> web.Response:
    await service.unlink_family(_db(request), request.config_dict[keys.CRYPTO], actor=current_user(request),
                                resident_id=path_id(request), user_id=path_id(request, "user_id"))
    return web.Response(status=204)


ROLE_ZH = {"resident": "老人", "family": "家属", "operator": "热线坐席", "dispatcher": "调度员",
           "provider_admin": "服务商管理员", "caregiver": "护理员", "admin": "街道管理员"}


@routes.get("/users")
@endpoint(roles=ADMIN_ONLY, summary="Find accounts by username or name (for a password reset)", query=UserQuery,
          response=AccountList)
async def find_users(request: web.Request) -> web.Response:
    q = parse_query(request, UserQuery)
    found = await service.find_accounts(_db(request), q=q.q, limit=q.limit)
    return respond(AccountList(users=[AccountRead(id=a.id, username=a.username, display_name=a.display_name, role=a.role,
                                                  role_zh=ROLE_ZH.get(a.role, a.role), active=a.active) for a in found]))


# ------------------------------------------------------------------ positions you can trust


# the configured geocoder (core.geocode), or None: set by the app from settings
GEOCODER = web.AppKey("geocoder", object)
PRECISE_LEVELS = {"门牌号", "兴趣点", "单元号", "楼栋", "building", "poi"}


@routes.get("/geocode")
@endpoint(roles=HOTLINE, summary="Propose a position (WGS84) for an address; the operator confirms it on the map",
          query=GeocodeQuery, response=GeocodeRead)
async def geocode(request: web.Request) -> web.Response:
    q = parse_query(request, GeocodeQuery)
    geocoder = request.config_dict.get(GEOCODER)
    if geocoder is None:  # a setting, not a fault: the form says so and the operator places the pin
        return respond(GeocodeRead(found=False, configured=False))
    place = await geocoder.geocode(q.address)
    if place is None:
        return respond(GeocodeRead(found=False))
    return respond(GeocodeRead(found=True, lat=place.lat, lon=place.lon, level=place.level, formatted=place.formatted,
                               source=place.source, precise=place.level in PRECISE_LEVELS))


@routes.get("/residents-unconfirmed")
@endpoint(roles=(OPERATOR, DISPATCHER, ADMIN), summary="Residents whose home position was never confirmed on a map "
          "(a dispatcher: their circle)", query=UnconfirmedQuery, response=UnconfirmedList)
async def unconfirmed(request: web.Request) -> web.Response:
    q = parse_query(request, UnconfirmedQuery)
    circle_id = circle_for(current_user(request), q.circle_id)
    found = await service.unconfirmed_residents(_db(request), request.config_dict[keys.CRYPTO], circle_id=circle_id)
    return respond(UnconfirmedList(residents=[UnconfirmedResident(id=r.id, name=r.name, address=r.address, lat=r.lat,
                                                                  lon=r.lon, position_source=r.position_source)
                                              for r in found]))
