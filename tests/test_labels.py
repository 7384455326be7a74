"""One label table (core/labels.py): every 422 detail carries its Chinese words, written by the server
from the table the consoles can read at GET /api/v1/labels; the consoles parse no English."""
from pathlib import Path

from core import labels
from core.db import CONSTRAINT_ERRORS
from tests.conftest import login

STATIC = Path(__file__).resolve().parent.parent / "app" / "pages" / "static"


def test_fields_are_named_by_their_last_named_part():
    assert labels.field_label("days.0.date") == "日期" and labels.field_label("window_end") == "最晚开始时间"
    assert labels.detail_zh("phone", "string_pattern_mismatch").startswith("电话：格式不对")
    assert labels.detail_zh("nonsense", "missing") == "nonsense：必须填写"


def test_every_constraint_error_has_chinese_words():
    for name, (status, code, message, *zh) in CONSTRAINT_ERRORS.items():
        assert zh or code in labels.CODES, name


async def test_a_bad_body_names_each_field_in_chinese(client, street, tomorrow):
    headers = await login(client, "operator")
    bad = await client.post("/api/v1/residents", headers=headers, json={
        "name": "", "gender": "X", "birth_date": "1945-13-01", "phone": "12", "address": "某路1号",
        "lat": 31.23, "lon": 121.47, "circle_id": street.circle_id})
    assert bad.status == 422
    error = (await bad.json())["error"]
    by_field = {d["field"]: d["message_zh"] for d in error["details"]}
    assert by_field["name"] == "姓名：太短或没有填写"
    assert by_field["gender"] == "性别：请从选项中选择"
    assert by_field["birth_date"].startswith("出生日期：日期格式不对")
    assert by_field["phone"].startswith("电话：格式不对：请填写11位手机号")
    assert error["message_zh"] == error["details"][0]["message_zh"]
    unknown = await client.post("/api/v1/bookings", headers=headers, json={
        "resident_id": street.elder.id, "item_code": "ZZ9", "date": tomorrow.isoformat(),
        "window_start": "09:00", "window_end": "10:00"})
    assert (await unknown.json())["error"]["details"][0]["message_zh"] == "服务项目：服务项目不存在"


async def test_the_consoles_read_the_same_table(client):
    served = await (await client.get("/api/v1/labels")).json()
    assert served == labels.served()
    common = (STATIC / "common.js").read_text()
    assert "message_zh" in common and "MESSAGE_ZH" not in common and "FIELD_ZH" not in common
