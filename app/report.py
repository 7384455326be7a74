"""The simulation's report for a street office: one HTML page in Chinese, the outcomes against their
targets and charts of the days (matplotlib, written as SVG with its text left as text, so the
reader's browser draws the Chinese in its own fonts). No script, no network: it opens anywhere."""
from __future__ import annotations

import html
import io
import logging
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

from app.outcomes import Outcomes  # noqa: E402
from app.simulate import SimConfig  # noqa: E402

# the SVG names these fonts for the browser; matplotlib only measures text with whatever it has
plt.rcParams.update({"svg.fonttype": "none", "font.size": 13, "font.family": "sans-serif",
                     "font.sans-serif": ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
                                         "DejaVu Sans"]})
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

# (label, key, target text, whether the value meets it)
ROWS = (
    ("可排班预约的排班率", "planned_pct", "≥ 99%", lambda v: v >= 99),
    ("当天排满而未排上的预约", "left_out_capacity", "", None),
    ("因无合适护理员等原因无法排班的预约", "left_out_structural", "", None),
    ("准时上门率（计划时间±15分钟）", "on_time_pct", "≥ 95%", lambda v: v >= 95),
    ("同一护理员服务率（回头客）", "continuity_pct", "≥ 80%", lambda v: v >= 80),
    ("其中原护理员当天在岗的比例（上限）", "continuity_reachable_pct", "", None),
    ("原护理员在岗时由其服务的比例", "continuity_on_duty_pct", "", None),
    ("未通知的漏服务/改约", "unannounced_misses", "0", lambda v: v == 0),
    ("已发送短信", "messages_sent", "", None),
    ("发送失败短信", "messages_failed", "", None),
    ("无人签到时提醒调度（95%分位，分钟）", "noshow_detect_p95_min", "≤ 17", lambda v: v is not None and v <= 17),
    ("护理员病假时每单受影响的预约数", "replan_changes_per_sick_visit", "", None),
    ("病假重排最多多改几单（超出k）", "replan_worst_excess", "≤ 3", lambda v: v is None or v <= 3),
    ("病假重排仅微调时间（≤15分钟）的预约", "replan_retimed", "", None),
    ("护理员工时利用率", "utilisation_pct", "", None),
    ("加班分钟", "overtime_min", "", None),
    ("已使用补贴（元）", "subsidy_used_fen", "", None),
    ("结算扣减比例", "withheld_pct", "", None),
    ("丢失的预约", "lost_bookings", "0", lambda v: v == 0),
    ("未说明原因未排班的预约", "unexplained_unplanned", "0", lambda v: v == 0),
    ("补贴账不平的账户", "wallet_mismatches", "0", lambda v: v == 0),
)


def write_report(path: Path, outcomes: Outcomes, series: dict, config: SimConfig) -> None:
    path.write_text(render(outcomes, series, config), encoding="utf-8")


def render(outcomes: Outcomes, series: dict, config: SimConfig) -> str:
    values = outcomes.as_dict()
    rows = "".join(_row(label, values[key], target, check, key) for label, key, target, check in ROWS)
    days = series["days"]
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>一刻钟服务圈 · 模拟运行报告</title>
<style>
body {{ font: 18px/1.6 "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; margin: 2rem auto;
       max-width: 60rem; color: #1b1b1b; padding: 0 1rem; }}
h1 {{ font-size: 1.8rem; }} h2 {{ font-size: 1.35rem; margin-top: 2.5rem; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #ccc; padding: .5rem; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.ok {{ color: #0a6b2d; font-weight: 600; }} .bad {{ color: #b00020; font-weight: 600; }}
figure {{ margin: 1.5rem 0; }} figcaption {{ color: #444; }}
</style></head><body>
<h1>一刻钟服务圈 · 模拟运行报告</h1>
<p>模拟 {config.days} 天（{config.start:%Y年%m月%d日} 起，随机种子 {config.seed}），共 {outcomes.bookings} 个预约、
{outcomes.visits} 次上门服务。每天18:00排次日的班并发布；护理员按计划上门，有时迟到、请病假，老人有时不在家或当天取消。
以下数字由系统真实运行得出。</p>
<h2>服务结果与目标</h2>
<table><thead><tr><th>指标</th><th>结果</th><th>目标</th><th>是否达标</th></tr></thead><tbody>{rows}</tbody></table>
<h2>每天的服务</h2>
<figure>{_visits_chart(days)}<figcaption>每天完成、未上门（漏服务）、老人不在家或拒绝、取消的预约数</figcaption></figure>
<figure>{_on_time_chart(days)}<figcaption>每天准时上门的比例（签到在计划时间前后15分钟内）</figcaption></figure>
<p>说明：“回头客”指老人在模拟期内此前已经用过同一项目；“未通知”指因服务方原因漏服务、改期或取消，
但老人或家属没有收到短信。</p>
</body></html>"""


def _row(label: str, value, target: str, check, key: str) -> str:
    shown = _shown(key, value)
    verdict = "" if check is None else ('<span class="ok">达标</span>' if check(value) else '<span class="bad">未达标</span>')
    return (f"<tr><td>{html.escape(label)}</td><td class=\"num\">{html.escape(shown)}</td>"
            f"<td>{html.escape(target)}</td><td>{verdict}</td></tr>")


def _shown(key: str, value) -> str:
    if value is None:
        return "—"
    if key == "subsidy_used_fen":
        return f"{value / 100:,.2f}"
    if key.endswith("_pct"):
        return f"{value}%"
    return str(value)


def _svg(figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = out.getvalue()
    return text[text.index("<svg"):]


def _labels(days: list[dict]) -> list[str]:
    return [f"{d['day']:%m-%d}" if isinstance(d["day"], date) else str(d["day"]) for d in days]


def _visits_chart(days: list[dict]) -> str:
    figure, axes = plt.subplots(figsize=(10, 4))
    labels, bottom = _labels(days), [0] * len(days)
    for key, name, colour in (("done", "完成", "#2e7d32"), ("not_home", "不在家/拒绝", "#f9a825"),
                              ("missed", "漏服务", "#c62828"), ("cancelled", "取消", "#9e9e9e")):
        heights = [d[key] for d in days]
        axes.bar(labels, heights, bottom=bottom, label=name, color=colour)
        bottom = [b + h for b, h in zip(bottom, heights)]
    axes.set_ylabel("预约数")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=4, frameon=False)
    axes.tick_params(axis="x", labelrotation=60)
    return _svg(figure)


def _on_time_chart(days: list[dict]) -> str:
    figure, axes = plt.subplots(figsize=(10, 3.2))
    shares = [100.0 * d["on_time"] / d["checked_in"] if d["checked_in"] else None for d in days]
    axes.plot(_labels(days), [s if s is not None else float("nan") for s in shares], marker="o", color="#1565c0")
    axes.axhline(95, color="#c62828", linestyle="--", linewidth=1, label="目标 95%")
    axes.set_ylim(80, 100.5)
    axes.set_ylabel("准时率 %")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), frameon=False)
    axes.tick_params(axis="x", labelrotation=60)
    return _svg(figure)
