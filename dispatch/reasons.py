"""Why a booking is not in the plan, in the dispatcher's words (Chinese). Pure.

Two sources of reasons: the problem builder (checks that need the domain: qualifications,
provider items, gender, the dispatcher's edits, the freeze) and the solver's diagnosis (shifts,
travel, working time, a missing partner, a full day). Each has a code; `reason_zh` gives the
sentence shown on the dispatcher console.
"""
from __future__ import annotations

QUALIFICATION_ZH = {
    "G": "助老员", "C": "养老护理员", "B": "助浴员", "N": "护士", "R": "康复治疗师",
    "P": "心理咨询师或社工", "H": "理发师", "A": "适老化评估师",
}

REASONS_ZH = {
    # from the problem builder
    "no_caregivers": "当天没有护理员上班",
    "not_qualified": "当天上班的护理员中没有具备“{qualification}”资质的",
    "item_not_delivered": "当天上班的具备资质的护理员，其服务商都不提供该服务项目",
    "gender_unavailable": "老人要求{gender}护理员，当天没有符合条件的{gender}护理员上班",
    "all_forbidden": "符合条件的护理员都已被调度员排除",
    "unassigned_by_dispatcher": "调度员已将该预约移出方案",
    "window_passed": "预约的时间窗已过，无法再安排",
    "pinned_caregiver_unavailable": "调度员指定的护理员当天不能上班",
    "pinned_caregiver_not_eligible": "调度员指定的护理员不符合该服务的资质或性别要求",
    # from the solver's diagnosis
    "no_qualified_worker": "没有符合资质、性别或指定要求的护理员当天上班",
    "outside_shifts": "在预约时间窗内，没有符合条件的护理员能在班内赶到并返回",
    "exceeds_max_work": "路程加服务时长超过了护理员当天的最长工作时间",
    "no_partner": "该服务需要两名护理员同时上门，找不到第二名同时有空的护理员",
    "capacity": "当天符合条件的护理员都已排满",
    "pin_conflict": "调度员固定的护理员或时间无法实现",
}

GENDER_ZH = {"F": "女", "M": "男"}


def reason_zh(code: str, **facts: str) -> str:
    """The Chinese sentence for a reason code; an unknown code gets a generic sentence."""
    template = REASONS_ZH.get(code)
    if template is None:
        return f"未能安排（{code}）"
    return template.format(**{k: v for k, v in facts.items()}) if facts else template.replace(
        "“{qualification}”", "相应").replace("{gender}", "指定性别的")


def qualification_zh(code: str) -> str:
    return QUALIFICATION_ZH.get(code, code)
