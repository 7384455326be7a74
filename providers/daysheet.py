"""The caregiver's day sheet: what to bring, and when care notes are shown. Pure rules.

Care notes (health conditions, door codes, family situation) are the most sensitive thing a
caregiver reads. Decision: they are shown only on the day sheets of today and tomorrow (local
days) — enough to prepare the evening before and to work the day — and never in the calendar
feed, which a phone may sync to a cloud. The same window applies to every role that may read a
day sheet (the caregiver, their provider's admin, dispatchers, street admins); every showing of
non-empty notes is recorded in `sensitive_reads`.
"""
from __future__ import annotations

from datetime import date, timedelta

CARE_NOTES_DAYS = 2  # today and tomorrow

# a short list per menu category, then additions for particular items
BRING_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "meals": ("保温餐箱", "一次性手套", "围裙"),
    "cleaning": ("清洁工具包", "一次性手套", "消毒液", "抹布"),
    "bathing": ("防滑垫", "毛巾", "浴巾", "一次性手套"),
    "health": ("血压计", "血糖仪", "酒精棉片", "服务记录本"),
    "errands": ("助行腰带", "雨具", "购物袋"),
    "companionship": ("服务记录本", "安全检查表"),
}
BRING_BY_ITEM: dict[str, tuple[str, ...]] = {
    "B03": ("充气浴槽", "热水管"),
    "B05": ("理发工具包", "围布"),
    "H06": ("换药包", "医用手套"),
    "H07": ("护理包", "医用手套"),
    "E02": ("轮椅坐垫",),
}


def what_to_bring(category_code: str, item_code: str) -> tuple[str, ...]:
    """The short list of things to bring for an item (category list, then item extras)."""
    return tuple(dict.fromkeys(BRING_BY_CATEGORY.get(category_code, ()) + BRING_BY_ITEM.get(item_code, ())))


def care_notes_visible(day: date, *, today: date) -> bool:
    """True for the day sheets of today and tomorrow only."""
    return today <= day < today + timedelta(days=CARE_NOTES_DAYS)
