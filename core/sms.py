"""SMS gateways behind one interface, and the local stand-in gateway.

A gateway takes one message (our outbox id, a phone, a text) and either accepts it, answering the
gateway's own message id, or raises `GatewayError` saying whether trying again may help.

- `WebhookGateway`: the generic gateway. `CIRCLE_SMS_WEBHOOK_URL` receives `POST` JSON
  `{"id", "phone", "text"}` (`id`: our message id, as a string, so a receiver can drop a repeat);
  any 2xx means accepted. The gateway's message id is the answer's `message_id` (or `id`) when it
  sends JSON with one, else `webhook-<our id>`.
- `AliyunSmsGateway`: Aliyun SMS `SendSms` (API version 2017-05-25) over its RPC protocol, signed
  HMAC-SHA1 as Aliyun's "signature mechanism" specifies (sorted, percent-encoded query; string to
  sign `POST&%2F&<encoded query>`; key = AccessKey secret + "&"). Mainland SMS must use an approved
  template: ours has one variable, `${text}`. `Code == "OK"` → accepted, `BizId` is the id.
- `gateway_for(settings, session, standin_url)`: a configured webhook URL always wins, then Aliyun
  keys, then the stand-in (if running), else None (messages wait in the outbox).
- `StandinGateway`: a small aiohttp server on 127.0.0.1 speaking the webhook protocol; it records
  what it received (`received`), can be told to answer an error status (`fail_with`), and serves
  `GET /sms` (what it received) for the admin console. `make run` / `circle serve` start it when no
  gateway is configured; the tests use it as the real server it is.

Nothing here logs a phone number or a text.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
from aiohttp import web

from core.clock import utc_now

TIMEOUT = aiohttp.ClientTimeout(total=10)


class GatewayError(Exception):
    """The gateway did not accept the message. `retry`: trying again later may help (network
    failure, 5xx, 429, throttling); otherwise the message is failed at once (bad number, 4xx).
    The text of the error never holds the phone or the message text."""

    def __init__(self, reason: str, *, retry: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class Gateway(Protocol):
    name: str

    async def send(self, *, message_id: int, phone: str, text: str) -> str:
        """Hand one message over; returns the gateway's message id or raises GatewayError."""

# ------------------------------------------------------------------ the generic webhook


class WebhookGateway:
    name = "webhook"

    def __init__(self, url: str, session: aiohttp.ClientSession):
        self.url = url
        self.session = session

    async def send(self, *, message_id: int, phone: str, text: str) -> str:
        body = {"id": str(message_id), "phone": phone, "text": text}
        try:
            async with self.session.post(self.url, json=body, timeout=TIMEOUT) as response:
                payload = await _json_or_none(response)
                if 200 <= response.status < 300:
                    found = payload.get("message_id") or payload.get("id") if isinstance(payload, dict) else None
                    return str(found) if found else f"webhook-{message_id}"
                retry = response.status >= 500 or response.status in (408, 429)
                raise GatewayError(f"HTTP {response.status}", retry=retry)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GatewayError(f"network: {type(exc).__name__}") from exc


async def _json_or_none(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return None

# ------------------------------------------------------------------ Aliyun SMS (SendSms, RPC signature)


def percent_encode(value: str) -> str:
    """Aliyun's encoding: RFC 3986 unreserved characters kept, everything else %XY (space → %20)."""
    return quote(value, safe="-_.~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    """Base64(HMAC-SHA1(secret + "&", method + "&%2F&" + encode(canonical query)))."""
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# Aliyun answers that trying later may fix (throttling, its own trouble)
ALIYUN_RETRY_CODES = {"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "Throttling.User",
                      "isp.SYSTEM_ERROR", "isp.RAM_PERMISSION_DENY", "ServiceUnavailable"}


class AliyunSmsGateway:
    name = "aliyun"

    def __init__(self, *, access_key_id: str, access_key_secret: str, sign_name: str, template_code: str,
                 session: aiohttp.ClientSession, endpoint: str = "https://dysmsapi.aliyuncs.com/"):
        self.access_key_id, self.secret = access_key_id, access_key_secret
        self.sign_name, self.template_code = sign_name, template_code
        self.session, self.endpoint = session, endpoint

    def signed_params(self, *, phone: str, text: str, now: datetime | None = None,
                      nonce: str | None = None) -> dict[str, str]:
        """The whole form of one SendSms call, Signature included."""
        now = now or utc_now()  # the request's timestamp (Aliyun refuses one far from its own clock)
        params = {
            "AccessKeyId": self.access_key_id, "Action": "SendSms", "Format": "JSON", "RegionId": "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0", "Timestamp": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25", "PhoneNumbers": phone, "SignName": self.sign_name,
            "TemplateCode": self.template_code,
            "TemplateParam": json.dumps({"text": text}, ensure_ascii=False)}
        params["Signature"] = aliyun_signature(params, self.secret, "POST")
        return params

    async def send(self, *, message_id: int, phone: str, text: str) -> str:
        form = self.signed_params(phone=phone, text=text)
        try:
            async with self.session.post(self.endpoint, data=form, timeout=TIMEOUT) as response:
                payload = await _json_or_none(response) or {}
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GatewayError(f"network: {type(exc).__name__}") from exc
        code = str(payload.get("Code", f"HTTP {response.status}"))
        if code == "OK" and payload.get("BizId"):
            return str(payload["BizId"])
        retry = code in ALIYUN_RETRY_CODES or response.status >= 500
        raise GatewayError(f"aliyun {code}", retry=retry)

# ------------------------------------------------------------------ the local stand-in


@dataclass
class Received:
    id: str
    phone: str
    text: str
    message_id: str
    at: str


@dataclass
class StandinGateway:
    """The local stand-in: an aiohttp server speaking the webhook protocol, recording what it got."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    fail_with: int | None = None   # answer this status instead of accepting (tests: a broken gateway)
    calls: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/sms"

    async def start(self) -> "StandinGateway":
        app = web.Application()
        app.router.add_post("/sms", self._receive)
        app.router.add_get("/sms", self._list)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.fail_with is not None:
            return web.json_response({"error": "stand-in told to fail"}, status=self.fail_with)
        try:
            body = await request.json()
            entry = Received(str(body["id"]), str(body["phone"]), str(body["text"]),
                             f"standin-{len(self.received) + 1}", utc_now().isoformat())
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "expected JSON {id, phone, text}"}, status=400)
        self.received.append(entry)
        return web.json_response({"message_id": entry.message_id})

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"received": [vars(r) for r in self.received]})


def gateway_for(settings, session: aiohttp.ClientSession, standin_url: str | None = None) -> Gateway | None:
    """The gateway the settings choose: the webhook URL always wins, then Aliyun's keys (all of id,
    secret and template), then the stand-in's URL if one runs; None: nothing is sent."""
    if settings.sms_webhook_url:
        return WebhookGateway(settings.sms_webhook_url, session)
    if settings.aliyun_access_key_id and settings.aliyun_access_key_secret and settings.aliyun_sms_template_code:
        return AliyunSmsGateway(access_key_id=settings.aliyun_access_key_id,
                                access_key_secret=settings.aliyun_access_key_secret,
                                sign_name=settings.aliyun_sms_sign_name,
                                template_code=settings.aliyun_sms_template_code, session=session,
                                endpoint=settings.aliyun_sms_endpoint)
    if standin_url:
        return WebhookGateway(standin_url, session)
    return None


def gateway_configured(settings) -> bool:
    return bool(settings.sms_webhook_url or (settings.aliyun_access_key_id and settings.aliyun_access_key_secret
                                             and settings.aliyun_sms_template_code))
