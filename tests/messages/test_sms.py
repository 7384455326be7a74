"""The gateways behind one interface: Aliyun's RPC signature as its documentation computes it,
the Aliyun client against a local server that checks the signature as Aliyun does, and the
choice of gateway (a configured webhook URL always wins)."""
from __future__ import annotations

import json

import pytest
import pytest_asyncio
from aiohttp import web

from core.settings import Settings
from core.sms import (AliyunSmsGateway, GatewayError, WebhookGateway, aliyun_signature, gateway_configured,
                      gateway_for)

DOC_PARAMS = {"Format": "XML", "AccessKeyId": "testid", "Action": "DescribeRegions",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
              "Version": "2014-05-26", "SignatureVersion": "1.0"}


def test_the_signature_is_the_one_aliyuns_documentation_computes():
    """help.aliyun.com's signature example (DescribeRegions, testid/testsecret, GET): with the
    parameter spelled `TimeStamp` it gives CT9X0VtwR86fNWSnsc6v8YGOjuE=, spelled `Timestamp`
    OLeaidS1JvxuMvnyHOwuJ+uX5qY= (both published)."""
    assert aliyun_signature({**DOC_PARAMS, "TimeStamp": "2016-02-23T12:46:24Z"}, "testsecret", "GET") \
        == "CT9X0VtwR86fNWSnsc6v8YGOjuE="
    assert aliyun_signature({**DOC_PARAMS, "Timestamp": "2016-02-23T12:46:24Z"}, "testsecret", "GET") \
        == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


@pytest_asyncio.fixture
async def aliyun_standin():
    """A local server that answers SendSms the way Aliyun does, refusing a wrong signature."""
    got = []

    async def send_sms(request: web.Request) -> web.Response:
        form = dict(await request.post())
        signature = form.pop("Signature")
        if signature != aliyun_signature(form, "secret-x", "POST"):
            return web.json_response({"Code": "SignatureDoesNotMatch", "Message": "bad"}, status=400)
        got.append(form)
        if form["PhoneNumbers"] == "13000000000":
            return web.json_response({"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "illegal"})
        return web.json_response({"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0",
                                  "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990"})

    app = web.Application()
    app.router.add_post("/", send_sms)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/", got
    await runner.cleanup()


async def test_aliyun_sendsms_is_signed_and_answers_its_bizid(aliyun_standin, http):
    url, got = aliyun_standin
    gateway = AliyunSmsGateway(access_key_id="id-x", access_key_secret="secret-x", sign_name="一刻钟服务圈",
                               template_code="SMS_1", session=http, endpoint=url)
    assert await gateway.send(message_id=7, phone="13900000001", text="护理员可能晚到") == "900619746936498440^0"
    [form] = got
    assert (form["Action"], form["Version"], form["TemplateCode"]) == ("SendSms", "2017-05-25", "SMS_1")
    assert json.loads(form["TemplateParam"]) == {"text": "护理员可能晚到"}
    with pytest.raises(GatewayError) as refused:
        await gateway.send(message_id=8, phone="13000000000", text="x")
    assert not refused.value.retry and "MOBILE_NUMBER_ILLEGAL" in refused.value.reason


async def test_a_webhook_url_always_wins(http, tmp_path):
    both = Settings(CIRCLE_SMS_WEBHOOK_URL="http://127.0.0.1:9/sms", CIRCLE_ALIYUN_ACCESS_KEY_ID="a",
                    CIRCLE_ALIYUN_ACCESS_KEY_SECRET="b", CIRCLE_ALIYUN_SMS_TEMPLATE_CODE="SMS_1",
                    CIRCLE_DATA_DIR=tmp_path)
    assert isinstance(gateway_for(both, http, "http://standin"), WebhookGateway)
    aliyun = both.model_copy(update={"sms_webhook_url": None})
    assert isinstance(gateway_for(aliyun, http, "http://standin"), AliyunSmsGateway)
    none = aliyun.model_copy(update={"aliyun_access_key_id": None})
    assert not gateway_configured(none) and gateway_for(none, http) is None
    assert gateway_for(none, http, "http://standin").url == "http://standin"


async def test_an_unreachable_webhook_is_a_failure_worth_retrying(http):
    with pytest.raises(GatewayError) as failed:
        await WebhookGateway("http://127.0.0.1:9/sms", http).send(message_id=1, phone="1", text="x")
    assert failed.value.retry
