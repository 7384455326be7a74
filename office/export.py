"""The monthly report as an Excel workbook (openpyxl): a summary sheet, then one sheet per provider
row and per category row. Chinese headers first, the API field name beneath, money in yuan."""
from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font

from office.schemas import MonthlyRead
from providers.settlement import REASONS_ZH as _REASONS_ZH

COLUMNS = [  # (field, Chinese header, is money)
    ("subsidy_used_fen", "补贴支出（元）", True), ("self_pay_fen", "自费（元）", True),
    ("visits_done", "完成服务", False), ("visits_missed", "漏服务", False), ("not_home", "老人不在家", False),
    ("refused", "老人拒绝", False), ("cancelled", "已取消", False), ("withheld_fen", "暂扣（元）", True),
    ("on_time_pct", "准时率（%）", False), ("satisfaction_avg", "满意度（1–5）", False),
    ("ratings", "评价数", False), ("continuity_pct", "连续性（%）", False),
]


def _value(row: dict, field: str, money: bool):
    value = row.get(field)
    return round(value / 100, 2) if money and value is not None else value


def _sheet(book: Workbook, title: str, key_headers: list[tuple[str, str]], rows: list[dict]) -> None:
    sheet = book.create_sheet(title)
    sheet.append([zh for _, zh in key_headers] + [zh for _, zh, _ in COLUMNS])
    sheet.append([f for f, _ in key_headers] + [f for f, _, _ in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([row.get(f) for f, _ in key_headers] + [_value(row, f, m) for f, _, m in COLUMNS])
    for column in sheet.columns:
        sheet.column_dimensions[column[0].column_letter].width = 14


def monthly_xlsx(report: MonthlyRead) -> bytes:
    book = Workbook()
    book.remove(book.active)
    data = report.model_dump()
    _sheet(book, "全街道", [("month", "月份"), ("circle_id", "服务圈")], [data])
    _sheet(book, "按服务商", [("provider_id", "服务商编号"), ("name", "服务商")], data["by_provider"])
    _sheet(book, "按服务类别", [("category_code", "类别"), ("name_zh", "类别名称")], data["by_category"])
    reasons = book.create_sheet("暂扣原因")
    reasons.append(["原因", "reason", "笔数"])
    for reason, n in sorted(data["withheld_by_reason"].items()):
        reasons.append([_REASONS_ZH.get(reason, reason), reason, n])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def monthly_csv(report: MonthlyRead) -> bytes:
    """The same figures as CSV (UTF-8 with BOM, so Excel opens the Chinese headers): one row for the
    street, then one per provider and one per category."""
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["范围", "名称"] + [zh for _, zh, _ in COLUMNS])
    writer.writerow(["scope", "name"] + [f for f, _, _ in COLUMNS])
    data = report.model_dump()
    rows = [("全街道", data["month"], data)] + [("服务商", p["name"], p) for p in data["by_provider"]] + \
        [("服务类别", c["name_zh"], c) for c in data["by_category"]]
    for scope, name, row in rows:
        writer.writerow([scope, name] + [_value(row, f, m) for f, _, m in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
