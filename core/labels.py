"""The Chinese names of fields, error codes and reasons, defined once: the server writes every
`message_zh` from them, and the consoles read them at GET /api/v1/labels (they never parse English).

A field is named by its last meaningful part (`days.0.date` → `date`); a reason by pydantic's error
type, or by (field, type) where a field needs its own words."""
from __future__ import annotations

from typing import Any

FIELDS: dict[str, str] = {
    # elders
    "resident_id": "老人", "name": "姓名", "gender": "性别", "birth_date": "出生日期", "phone": "电话",
    "address": "地址", "lat": "位置（纬度）", "lon": "位置（经度）", "circle_id": "服务圈",
    "subsidy_eligible": "补贴资格", "eligibility": "补贴类别", "lives_alone": "独居",
    "caregiver_gender": "护理员性别", "care_notes": "照护注意事项", "id_card_no": "身份证号",
    # bookings and series
    "item_code": "服务项目", "date": "日期", "window_start": "最早开始时间", "window_end": "最晚开始时间",
    "notes": "备注", "channel": "预约渠道", "weekdays": "星期", "start_date": "开始日期", "end_date": "结束日期",
    "reason": "原因", "Idempotency-Key": "请求编号", "month": "月份",
    # evaluations and calls
    "rating": "评分", "comment": "评价内容", "source": "评价来源", "kind": "类型", "booking_id": "预约",
    # staff
    "username": "用户名", "password": "密码", "provider_id": "服务商", "caregiver_id": "护理员",
    "qualifications": "资质", "home_lat": "住处（纬度）", "home_lon": "住处（经度）", "transport": "出行方式",
    "work_days": "工作日", "shift_start": "上班时间", "shift_end": "下班时间", "break_minutes": "午休分钟",
    "break_earliest": "午休最早开始", "break_latest_end": "午休最晚结束", "max_work_minutes": "每日最长工作分钟",
    "active": "在岗", "circle_ids": "服务圈", "item_codes": "服务项目", "radius_m": "服务半径",
    "hotline_phone": "热线电话", "days": "日期安排",
    # visits
    "outcome": "服务结果", "check_in_at": "签到时间", "check_out_at": "签退时间", "position_error": "定位情况",
    "accuracy_m": "定位精度",
    # plans
    "time_limit_s": "计算时间", "action": "调整方式", "pinned_start": "固定开始时间", "freeze_minutes": "冻结分钟",
    "sick_caregiver_ids": "请假护理员", "keep_best": "保留最优方案", "id": "编号", "body": "请求内容",
}

# pydantic's error types → the reason, in words an operator understands
REASONS: dict[str, str] = {
    "missing": "必须填写", "string_too_short": "太短或没有填写", "string_too_long": "太长了",
    "string_pattern_mismatch": "格式不对", "string_type": "请填写文字",
    "date_parsing": "日期格式不对（例：1945-03-08）", "date_from_datetime_parsing": "日期格式不对（例：1945-03-08）",
    "date_type": "日期格式不对（例：1945-03-08）", "time_parsing": "时间格式不对（例：09:00）",
    "time_type": "时间格式不对（例：09:00）", "datetime_parsing": "时间格式不对", "timezone_aware": "时间须带时区",
    "greater_than_equal": "数值太小", "less_than_equal": "数值太大", "greater_than": "数值太小",
    "less_than": "数值太大", "int_parsing": "请填写整数", "int_type": "请填写整数", "int_from_float": "请填写整数",
    "float_parsing": "请填写数字", "float_type": "请填写数字", "bool_parsing": "请选择是或否",
    "bool_type": "请选择是或否", "literal_error": "请从选项中选择", "enum": "请从选项中选择",
    "too_short": "至少选一项", "too_long": "选得太多了", "list_type": "格式不对",
    "extra_forbidden": "不认识这一项", "json_invalid": "请求内容格式错误", "value_error": "填写有误",
    "invalid": "填写有误", "whole_number": "须为整数编号", "iso_day": "日期格式应为“年-月-日”（例：2026-03-08）",
    "street_day": "日期须在2000年至2099年之间", "street_month": "月份格式应为“年-月”（例：2026-03），且在2000至2099年之间",
}

# where one field needs its own words for a reason
FIELD_REASONS: dict[tuple[str, str], str] = {
    ("phone", "string_pattern_mismatch"): "格式不对：请填写11位手机号，或带区号的座机号（如 021-12345678）",
    ("birth_date", "value_error"): "须为1900年以后、今天以前的日期",
    ("id_card_no", "value_error"): "不是有效的18位身份证号",
    ("window_start", "value_error"): "请用“时:分”（例：09:00）",
    ("window_end", "value_error"): "请用“时:分”（例：09:00）",
    ("month", "value_error"): "请用“年-月”（例：2026-03）",
    ("lon", "value_error"): "纬度和经度须一起填写",
}

# error codes (the `code` of the one error shape) → what went wrong
CODES: dict[str, str] = {
    "invalid": "填写有误，请检查", "unauthenticated": "请先登录", "forbidden": "您没有权限进行此操作",
    "not_found": "找不到这条记录", "conflict": "与当前状态冲突，请刷新后重试", "rate_limited": "操作太频繁，请稍后再试",
    "unavailable": "系统繁忙，请稍后重试", "internal": "系统内部错误", "bad_request": "请求有误",
    "method_not_allowed": "不支持这个操作", "too_large": "提交的内容太大", "unsupported_media_type": "请求内容格式错误",
    "subsidy_exhausted": "本月补贴余额不足", "caregiver_double_booked": "该护理员在这个时间已有其他服务",
    "visit_exists": "该预约已安排了服务人员", "plan_already_published": "该服务圈当天已有发布的排班",
    "plan_version_taken": "排班版本冲突，请重试", "resident_exists": "该身份证号已登记", "username_taken": "用户名已被占用",
    "provider_exists": "服务商名称已存在", "already_evaluated": "该服务已评价过", "series_day_exists": "该周期预约当天已存在",
    "idempotency_in_flight": "相同的请求正在处理中", "not_completed": "服务完成后才能评价",
}


def field_name(field: str) -> str:
    """The part of a dotted field path that has a name (`days.0.date` → `date`, `body` for none)."""
    parts = [p for p in str(field).split(".") if p and not p.isdigit()]
    return parts[-1] if parts else "body"


def field_label(field: str) -> str:
    return FIELDS.get(field_name(field), field_name(field))


def reason_zh(field: str, error_type: str) -> str:
    return FIELD_REASONS.get((field_name(field), error_type)) or REASONS.get(error_type, "填写有误")


def detail_zh(field: str, error_type: str) -> str:
    """One field's problem, as the consoles show it: `电话：格式不对…`."""
    return f"{field_label(field)}：{reason_zh(field, error_type)}"


def served() -> dict[str, Any]:
    """What GET /api/v1/labels answers."""
    return {"fields": FIELDS, "reasons": REASONS, "codes": CODES}
