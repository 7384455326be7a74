"""The demo street's people, places and bookings: word lists and pure generators, no I/O.

Everything is drawn from one `random.Random(seed)` and the day the street is built for, so the
same seed and day give the same street. Names are composed from lists of common surnames and
given names typical of each generation; addresses use real road names of Shanghai's Jing'an
district with invented lane, house and room numbers. No real person's data is used.

`build_street` returns plain frozen dataclasses; app/demo.py writes them through the booking
service. Bookings are only generated where a greedy placement (conservative travel allowance,
lunch break kept free) finds a qualified caregiver with time for them, so the planner can
assign nearly every visit of the two demo days.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from math import ceil, cos, pi, radians, sin, sqrt
from typing import Iterable, Sequence

from booking.geo import haversine_m
from booking.identity import valid_id_card
from booking.models import MenuItem

M_PER_DEG_LAT = 111_320.0
LUNCH = (time(11, 0), time(12, 0))
EARLY_LUNCH = (time(10, 30), time(11, 30))

# ------------------------------------------------------------------ places


@dataclass(frozen=True)
class CircleSeed:
    name: str
    address: str
    lat: float
    lon: float
    radius_m: int
    roads: tuple[str, ...]
    hotline_phone: str


# Two community service centres of Jing'an district, about 1.75 km apart: 南京西路街道 around
# 石门一路 / 威海路, and 江宁路街道 around 武定路 / 西康路.
CIRCLES = (
    CircleSeed("南京西路街道·石门一路服务圈", "石门一路251弄 南京西路街道综合为老服务中心",
               31.2226, 121.4590, 1300,
               ("威海路", "石门一路", "南京西路", "吴江路", "茂名北路", "泰兴路", "大田路", "新闸路",
                "奉贤路", "延安中路", "陕西北路", "凤阳路", "北京西路"), "021-62580101"),
    CircleSeed("江宁路街道·武定路服务圈", "武定路866号 江宁路街道综合为老服务中心",
               31.2352, 121.4478, 1400,
               ("江宁路", "昌平路", "康定路", "西康路", "武定路", "余姚路", "常德路", "胶州路",
                "海防路", "澳门路", "新会路", "昌化路"), "021-62580202"),
)


@dataclass(frozen=True)
class Lane:
    """A 弄 (lane estate) and the kind of housing in it."""

    road: str
    number: int
    kind: str          # 'xincun' walk-up flats, 'shikumen' lane houses, 'tower' with a lift
    lat: float
    lon: float


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """A position `north_m` / `east_m` metres from (lat, lon) (flat-earth, fine below a few km)."""
    return lat + north_m / M_PER_DEG_LAT, lon + east_m / (M_PER_DEG_LAT * cos(radians(lat)))


def point_within(rng: random.Random, lat: float, lon: float, radius_m: float,
                 min_m: float = 0.0) -> tuple[float, float]:
    """A uniformly random position between `min_m` and `radius_m` metres from (lat, lon)."""
    while True:
        r = sqrt(rng.uniform((min_m / radius_m) ** 2, 1.0)) * radius_m
        angle = rng.uniform(0, 2 * pi)
        point = offset(lat, lon, r * cos(angle), r * sin(angle))
        if min_m <= haversine_m(lat, lon, *point) <= radius_m:
            return point


def make_lanes(rng: random.Random, circle: CircleSeed, count: int = 14) -> list[Lane]:
    """Lane estates spread over the circle's reach (kept 150 m inside its edge)."""
    lanes: list[Lane] = []
    numbers: set[tuple[str, int]] = set()
    while len(lanes) < count:
        road, number = rng.choice(circle.roads), rng.randint(20, 1400)
        if (road, number) in numbers:
            continue
        numbers.add((road, number))
        kind = rng.choices(("xincun", "shikumen", "tower"), weights=(5, 3, 2))[0]
        lanes.append(Lane(road, number, kind, *point_within(rng, circle.lat, circle.lon, circle.radius_m - 150)))
    return lanes


@dataclass(frozen=True)
class Home:
    address: str
    lat: float
    lon: float
    floor: int
    lift: bool


def make_home(rng: random.Random, lane: Lane) -> Home:
    """A flat in the lane: building (号), floor and room (室). A building stands at one place,
    within 80 m of the lane's centre (seeded by its address, so flats in it share it)."""
    if lane.kind == "shikumen":
        building, floor, room = rng.randint(1, 60), rng.randint(1, 3), ""
    elif lane.kind == "tower":
        building, floor = rng.randint(1, 12), rng.randint(2, 26)
        room = f"{floor}{rng.randint(1, 6):02d}室"
    else:
        building, floor = rng.randint(1, 40), rng.randint(1, 6)
        room = f"{floor}0{rng.randint(1, 4)}室"
    place = random.Random(f"{lane.road}{lane.number}弄{building}号")
    lat, lon = offset(lane.lat, lane.lon, place.uniform(-56, 56), place.uniform(-56, 56))
    return Home(f"{lane.road}{lane.number}弄{building}号{room}", lat, lon, floor, lane.kind == "tower")

# ------------------------------------------------------------------ names

# Common surnames, the first ones (frequent in Shanghai) weighted higher.
SURNAMES = ("张王陈李徐朱周沈陆顾吴黄杨刘金钱孙胡郁蒋曹姚蔡唐许何马郑潘汪方施俞瞿严龚范倪宋丁奚秦袁邵汤"
            "薛戴卢吕程葛邱任夏谢")
_SURNAME_WEIGHTS = [6 if i < 12 else 3 if i < 24 else 1 for i in range(len(SURNAMES))]

# Given names of people born 1926–1962 (many Shanghai -娣 / -宝 / -根 names among them).
ELDER_NAMES_F = ("秀英 桂英 秀兰 玉兰 桂兰 凤英 秀珍 美华 丽华 金凤 月英 玉珍 淑珍 淑英 素珍 惠芳 彩英 雅琴 "
                 "佩华 琴芳 美娟 杏娣 根娣 金娣 宝珍 凤珍 巧珍 爱珍 静芳 文英 慧琴 菊英 梅英 云珍 月华 兰芳 "
                 "雪琴 翠英 招娣 美英 宝娣 玲娣 小妹 佩琴 月琴 国英 秀芳 桂珍 美玲 亚萍 建英 敏华 惠珍 "
                 "芳 英 萍 珍 兰").split()
ELDER_NAMES_M = ("建国 国华 志明 德明 伟民 国强 根宝 金根 福生 荣生 德兴 关林 永康 振华 建民 文斌 宝林 金龙 "
                 "海生 荣发 正明 和平 庆祥 家栋 兆麟 志刚 国良 德华 树人 长根 明德 仁杰 金宝 福根 伯年 锦华 "
                 "鸿生 耀华 士林 培德 裕昌 雪根 炳生 惠民 永福 强 勇 明 华").split()
# Names a birth year (or month) gives: only used for people born then.
ERA_NAMES_M = {"解放": (1949, 1950), "新中": (1949, 1950), "援朝": (1950, 1953), "建华": (1949, 1956),
               "跃进": (1958, 1959)}
# Their children (born 1955–1990) and the caregivers and staff (born 1965–1998).
YOUNGER_NAMES_F = ("丽 敏 静 燕 红 芳 颖 莉 洁 琳 雯 佳 晓燕 海燕 春梅 秀梅 红霞 丽娟 桂芳 艳红 玉梅 凤霞 "
                   "丽萍 小琴 婷婷 翠兰 雪梅 春燕 金花 晓红 慧敏 佩玲 瑾 蕾").split()
YOUNGER_NAMES_M = ("伟 强 军 斌 杰 勇 涛 磊 俊 海峰 晓东 建军 海涛 志强 永刚 宏伟 红兵 新华 卫东 国平 "
                   "立新 文杰").split()


def surname(rng: random.Random) -> str:
    return rng.choices(SURNAMES, weights=_SURNAME_WEIGHTS)[0]


def elder_given_name(rng: random.Random, gender: str, birth: date) -> str:
    if gender == "F":
        return rng.choice(ELDER_NAMES_F)
    era = [name for name, (first, last) in ERA_NAMES_M.items() if first <= birth.year <= last]
    if birth.month == 10 and rng.random() < 0.3:
        era.append("国庆")
    if era and rng.random() < 0.35:
        return rng.choice(era)
    return rng.choice(ELDER_NAMES_M)


def younger_name(rng: random.Random, gender: str, family_name: str | None = None) -> str:
    given = rng.choice(YOUNGER_NAMES_F if gender == "F" else YOUNGER_NAMES_M)
    return (family_name or surname(rng)) + given

# ------------------------------------------------------------------ identity numbers


class Numbers:
    """Hands out unique phone numbers and ID-card numbers."""

    REGIONS = ("310106", "310108", "310101", "310104", "310105", "310107", "310109", "310110")

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.phones: set[str] = set()
        self.id_cards: set[str] = set()

    def phone(self, prefixes: Sequence[str] = ("139",)) -> str:
        while True:
            number = self.rng.choice(prefixes) + f"{self.rng.randrange(10 ** 8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def id_card(self, birth: date, gender: str) -> str:
        """An 18-character resident ID number (GB 11643): region, birth date, sequence whose last
        digit is odd for men and even for women, and the check character."""
        while True:
            sequence = self.rng.randrange(0, 100) * 10 + self.rng.choice(
                (1, 3, 5, 7, 9) if gender == "M" else (0, 2, 4, 6, 8))
            body = f"{self.rng.choice(self.REGIONS)}{birth:%Y%m%d}{sequence:03d}"
            number = body + id_check_char(body)
            if number not in self.id_cards:
                self.id_cards.add(number)
                assert valid_id_card(number)
                return number


def id_check_char(body: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]

# ------------------------------------------------------------------ residents

# Health conditions: (trait, share of elders, care notes that go with it)
CONDITIONS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("diabetes", 0.18, ("糖尿病，需提醒服药", "糖尿病，午餐请送低糖餐", "糖尿病，每天测两次血糖，胰岛素在冰箱门上")),
    ("hypertension", 0.30, ("高血压，每日早晨服药，请提醒", "高血压，测血压前请让老人先休息五分钟")),
    ("mobility", 0.20, ("左腿行动不便，洗澡需两人", "右侧偏瘫（脑梗后），行走需搀扶", "使用助行器，地面湿滑时注意防跌",
                        "膝关节退变，上下楼困难")),
    ("bedbound", 0.05, ("长期卧床，需定时翻身", "卧床，骶尾部有压疮史，请检查皮肤")),
    ("hearing", 0.15, ("听力差，请大声说话并敲门三次", "戴助听器，说话请放慢、面对老人")),
    ("memory", 0.07, ("轻度认知障碍，重要事项请同时告知子女", "阿尔茨海默病早期，可能忘记预约，请提前电话提醒")),
    ("sight", 0.06, ("白内障术后视力差，药盒请标大字",)),
)
OTHER_NOTES = ("对青霉素过敏", "家中养猫，对猫毛过敏的护理员请注意", "只会讲上海话，普通话听不太懂",
               "有午睡习惯，13:00–14:00请勿打扰", "楼道门禁请电话联系家属开门", "门铃坏了，到了请打电话",
               "假牙，饭菜请做软一些", "喜欢聊天，以前是中学语文老师")
# Share of elders who keep care notes even with no condition above
OTHER_NOTES_SHARE = 0.2


@dataclass(frozen=True)
class ResidentSeed:
    circle: int                      # index into CIRCLES
    household: int
    name: str
    gender: str
    birth_date: date
    phone: str
    address: str
    lat: float
    lon: float
    floor: int
    lift: bool
    lives_alone: bool
    subsidy_eligible: bool
    eligibility: tuple[str, ...]
    caregiver_gender: str | None
    care_notes: str
    id_card_no: str | None
    traits: frozenset[str] = frozenset()

    def age(self, today: date) -> int:
        return today.year - self.birth_date.year - ((today.month, today.day) < (self.birth_date.month,
                                                                                   self.birth_date.day))


def birth_for_age(rng: random.Random, today: date, age: int) -> date:
    """A birth date that makes someone exactly `age` years old on `today`."""
    latest = _years_before(today, age)
    return latest - timedelta(days=rng.randrange(0, 364))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def elder_age(rng: random.Random, gender: str) -> int:
    """62–98, centred near 78 (women older than men, as in the population)."""
    mode = 79 if gender == "F" else 75
    return max(62, min(98, round(rng.triangular(62, 98, mode))))


def traits_for(rng: random.Random, age: int) -> frozenset[str]:
    old = 1.0 + max(0, age - 80) / 20  # frailty grows with age
    traits = {t for t, share, _ in CONDITIONS if rng.random() < share * old}
    return frozenset(traits - {"mobility"} if "bedbound" in traits else traits)


def notes_for(rng: random.Random, traits: frozenset[str]) -> str:
    notes = [rng.choice(texts) for trait, _, texts in CONDITIONS if trait in traits]
    if rng.random() < OTHER_NOTES_SHARE or (notes and rng.random() < 0.15):
        notes.append(rng.choice(OTHER_NOTES))
    return "；".join(notes)


ELIGIBILITY_TAGS = ("高龄", "独居", "失能", "低保")


def eligibility_for(rng: random.Random, *, age: int, lives_alone: bool, traits: frozenset[str]) -> tuple[str, ...]:
    """The tags that make an elder eligible (高龄 80+, 独居, 失能, 低保); one is always found."""
    tags = []
    if age >= 80:
        tags.append("高龄")
    if lives_alone:
        tags.append("独居")
    if "bedbound" in traits or ("mobility" in traits and rng.random() < 0.4):
        tags.append("失能")
    if rng.random() < 0.12 or not tags:
        tags.append("低保")
    return tuple(tags)


@dataclass(frozen=True)
class _Person:
    gender: str
    age: int
    family_name: str


def make_residents(rng: random.Random, numbers: Numbers, today: date, *, per_circle: int = 75,
                   couples_per_circle: int = 10) -> list[ResidentSeed]:
    """About `per_circle` elders per circle in households: couples first, then elders on their own
    or living with their children. Household 0 of circle 0 is a couple (the demo family)."""
    residents: list[ResidentSeed] = []
    household = 0
    for c, circle in enumerate(CIRCLES):
        lanes, addresses, first = make_lanes(rng, circle), set(), len(residents)
        for n in range(per_circle):
            if len(residents) - first >= per_circle:
                break
            home = _unique_home(rng, lanes, addresses)
            for person in _household(rng, couple=n < couples_per_circle):
                residents.append(_resident(rng, numbers, today, c, household, home, person))
            household += 1
    return _with_living_alone(rng, residents, share=0.2)


def _unique_home(rng: random.Random, lanes: list[Lane], taken: set[str]) -> Home:
    while True:
        home = make_home(rng, rng.choice(lanes))
        if home.address not in taken:
            taken.add(home.address)
            return home


def _household(rng: random.Random, couple: bool) -> list[_Person]:
    if not couple:
        gender = "F" if rng.random() < 0.68 else "M"
        return [_Person(gender, elder_age(rng, gender), surname(rng))]
    husband = elder_age(rng, "M")
    wife = max(62, min(98, husband - rng.randint(-1, 5)))
    return [_Person("F", wife, surname(rng)), _Person("M", husband, surname(rng))]


def _resident(rng: random.Random, numbers: Numbers, today: date, circle: int, household: int, home: Home,
              person: _Person) -> ResidentSeed:
    birth = birth_for_age(rng, today, person.age)
    traits = traits_for(rng, person.age)
    eligible = rng.random() < 0.3 or "bedbound" in traits
    return ResidentSeed(
        circle=circle, household=household,
        name=person.family_name + elder_given_name(rng, person.gender, birth), gender=person.gender,
        birth_date=birth, phone=numbers.phone(), address=home.address, lat=home.lat, lon=home.lon,
        floor=home.floor, lift=home.lift, lives_alone=False, subsidy_eligible=eligible,
        eligibility=eligibility_for(rng, age=person.age, lives_alone=False, traits=traits) if eligible else (),
        caregiver_gender="F" if person.gender == "F" and rng.random() < 0.2 else None,
        care_notes=notes_for(rng, traits),
        id_card_no=numbers.id_card(birth, person.gender) if rng.random() < 0.4 else None,
        traits=traits)


def _with_living_alone(rng: random.Random, residents: list[ResidentSeed], *, share: float) -> list[ResidentSeed]:
    """Mark about `share` of all elders as living alone, chosen among single-person households;
    an eligible one gains the 独居 tag."""
    sizes: dict[int, int] = {}
    for r in residents:
        sizes[r.household] = sizes.get(r.household, 0) + 1
    singles = [i for i, r in enumerate(residents) if sizes[r.household] == 1]
    alone = set(rng.sample(singles, min(len(singles), round(share * len(residents)))))
    return [_alone(r) if i in alone else r for i, r in enumerate(residents)]


def _alone(r: ResidentSeed) -> ResidentSeed:
    tags = r.eligibility
    if r.subsidy_eligible:
        tags = tuple(t for t in ELIGIBILITY_TAGS if t in tags or t == "独居")
    return replace(r, lives_alone=True, eligibility=tags)

# ------------------------------------------------------------------ families


@dataclass(frozen=True)
class FamilySeed:
    """A family member (家属) with a login, acting for one household's elders."""

    name: str
    phone: str
    relation: str
    residents: tuple[int, ...]       # indexes into the residents list


def make_families(rng: random.Random, numbers: Numbers, residents: Sequence[ResidentSeed], *,
                  share: float = 0.25) -> list[FamilySeed]:
    """A son, daughter or in-law for about `share` of households (always for household 0)."""
    households: dict[int, list[int]] = {}
    for i, r in enumerate(residents):
        households.setdefault(r.household, []).append(i)
    families = []
    for household, members in households.items():
        if household == 0 or rng.random() < share:
            families.append(_family_member(rng, numbers, [residents[i] for i in members], tuple(members)))
    return families


def _family_member(rng: random.Random, numbers: Numbers, elders: list[ResidentSeed],
                   members: tuple[int, ...]) -> FamilySeed:
    relation = rng.choices(("女儿", "儿子", "儿媳", "女婿", "孙女", "外孙", "侄女"), weights=(8, 6, 2, 1, 2, 1, 1))[0]
    gender = "F" if relation in ("女儿", "儿媳", "孙女", "侄女") else "M"
    father = next((e for e in elders if e.gender == "M"), None)
    blood = relation in ("女儿", "儿子", "孙女")
    family_name = father.name[0] if father and blood else None
    return FamilySeed(younger_name(rng, gender, family_name), numbers.phone(("138", "135", "186", "158")),
                      relation, members)

# ------------------------------------------------------------------ providers and caregivers


@dataclass(frozen=True)
class ProviderSeed:
    name: str
    phone: str
    circles: tuple[int, ...]
    items: tuple[str, ...]


PROVIDERS = (
    # the district's home-care centre: runs the elders' canteen, bathing, personal care, visiting
    ProviderSeed("静安区乐龄居家养老服务中心", "021-62150318", (0, 1),
                 ("M01", "M02", "M05", "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09",
                  "H01", "H02", "H04", "H09", "E01", "E02", "E03", "K01", "K02", "K04", "K05", "K06")),
    # a nursing station: health checks, nursing procedures, rehabilitation, escorts
    ProviderSeed("静安区康颐护理站", "021-62563072", (0, 1),
                 ("H01", "H02", "H03", "H04", "H05", "H06", "H07", "H08", "H09", "B02", "B07", "B09", "M05")),
    # a housekeeping company: cleaning, meals and cooking, errands
    ProviderSeed("上海佳馨家政服务有限公司", "021-52281946", (0, 1),
                 ("M01", "M02", "M03", "M04", "M06", "M07", "C01", "C02", "C03", "C04", "C05", "C06",
                  "C07", "C08", "C09", "E04", "E05", "E06", "K01")),
)

EIGHT_TO_FIVE, EARLY, LATE = (time(8), time(17)), (time(7), time(15)), (time(12), time(20))

# (provider, circle, qualifications, gender, shift): a bath aide holds B, C and G; a nurse N and
# C; a rehabilitation therapist R and C; a social worker P and G; a barber-trained aide H, C, G.
ROSTER: tuple[tuple[int, int, tuple[str, ...], str, tuple[time, time]], ...] = (
    (0, 0, ("B", "C", "G"), "F", EIGHT_TO_FIVE),   # the demo caregiver
    (0, 0, ("B", "C", "G"), "F", EIGHT_TO_FIVE),
    (0, 0, ("B", "C", "G"), "M", LATE),
    (0, 0, ("C", "G", "H"), "F", EARLY),
    (1, 0, ("N", "C"), "F", EIGHT_TO_FIVE),
    (1, 0, ("R", "C"), "M", EIGHT_TO_FIVE),
    (2, 0, ("G",), "F", EIGHT_TO_FIVE),
    (2, 0, ("G",), "F", EIGHT_TO_FIVE),
    (2, 0, ("G",), "F", LATE),
    (2, 0, ("G",), "M", EIGHT_TO_FIVE),
    (0, 1, ("B", "C", "G"), "F", EIGHT_TO_FIVE),
    (0, 1, ("B", "C", "G"), "F", EIGHT_TO_FIVE),
    (0, 1, ("C", "G"), "F", LATE),
    (0, 1, ("P", "G"), "F", EIGHT_TO_FIVE),
    (1, 1, ("N", "C"), "F", EIGHT_TO_FIVE),
    (1, 1, ("C", "G"), "F", EARLY),
    (2, 1, ("G",), "F", EIGHT_TO_FIVE),
    (2, 1, ("G",), "F", EARLY),
    (2, 1, ("G",), "M", EIGHT_TO_FIVE),
    (2, 1, ("G",), "F", EIGHT_TO_FIVE),
)
DEMO_CAREGIVER = 0


@dataclass(frozen=True)
class CaregiverSeed:
    provider: int
    circle: int
    name: str
    gender: str
    phone: str
    qualifications: tuple[str, ...]
    home_lat: float
    home_lon: float
    transport: str
    work_days: tuple[int, ...]
    shift_start: time
    shift_end: time
    break_minutes: int = 45
    break_earliest: time = time(11, 30)
    break_latest_end: time = time(13, 30)
    max_work_minutes: int = 480

    def works_on(self, day: date) -> bool:
        return day.isoweekday() in self.work_days


def make_caregivers(rng: random.Random, numbers: Numbers, demo_days: Sequence[date],
                    count: int | None = None) -> list[CaregiverSeed]:
    """The roster's caregivers (`count` of them: the roster repeated as far as needed): homes within
    3 km (walking only when within 1.2 km), five or six working days a week; the demo caregiver
    works on every demo day."""
    caregivers = []
    roster = [ROSTER[i % len(ROSTER)] for i in range(count or len(ROSTER))]
    for index, (provider, c, quals, gender, (start, end)) in enumerate(roster):
        circle = CIRCLES[c]
        walk = rng.random() < 0.3
        home = point_within(rng, circle.lat, circle.lon, 1150 if walk else 3000, 0 if walk else 1250)
        protect = demo_days if index == DEMO_CAREGIVER else ()
        caregivers.append(CaregiverSeed(
            provider=provider, circle=c, name=younger_name(rng, gender), gender=gender,
            phone=numbers.phone(("137", "150", "151", "187", "188")), qualifications=quals,
            home_lat=home[0], home_lon=home[1], transport="walk" if walk else "ebike",
            work_days=work_days(rng, days_on=rng.choice((5, 6, 6)), protect=protect),
            shift_start=start, shift_end=end))
    return caregivers


def work_days(rng: random.Random, *, days_on: int, protect: Iterable[date] = ()) -> tuple[int, ...]:
    """ISO weekdays worked: `days_on` of seven, consecutive days off (rotas rarely split them),
    never on a day in `protect`."""
    protected = {d.isoweekday() for d in protect}
    while True:
        first_off = rng.randint(1, 7)
        off = {(first_off - 1 + k) % 7 + 1 for k in range(7 - days_on)}
        if not off & protected:
            return tuple(d for d in range(1, 8) if d not in off)

# ------------------------------------------------------------------ bookings

# How often each item is booked (per visit booked that is not a regular lunch)
ITEM_WEIGHTS = {
    "C01": 10, "C02": 5, "C03": 1, "C04": 1, "C05": 2, "C06": 2, "C07": 3, "C09": 1,
    "M03": 2, "M04": 1, "M05": 1, "M06": 3, "M07": 1,
    "B01": 8, "B02": 2, "B03": 2, "B04": 2, "B05": 1, "B06": 3, "B07": 1, "B08": 2, "B09": 1,
    "H01": 8, "H02": 4, "H03": 1, "H04": 2, "H05": 2, "H06": 2, "H07": 1, "H08": 1, "H09": 2,
    "E01": 3, "E02": 2, "E03": 1, "E04": 3, "E05": 1, "E06": 1,
    "K01": 4, "K02": 6, "K04": 1, "K05": 1, "K06": 1,
}

_T = time
_MORNING, _MID_MORNING, _AFTERNOON, _LATE_AFTERNOON = ((_T(8), _T(10)), (_T(9), _T(11)), (_T(14), _T(16)),
                                                        (_T(13), _T(15)))
# Start windows that fit each item (meals at lunch, fasting glucose early, baths in the warm hours)
ITEM_WINDOWS: dict[str, tuple[tuple[time, time], ...]] = {
    "M01": (LUNCH,), "M02": (LUNCH,),
    "M03": ((_T(9, 30), _T(10, 30)), (_T(16), _T(17))), "M04": ((_T(10), _T(10, 30)),),
    "M05": ((_T(11, 30), _T(12, 30)),), "M06": (_MORNING, _MID_MORNING), "M07": (_LATE_AFTERNOON,),
    "C": (_MORNING, _MID_MORNING, _LATE_AFTERNOON, _AFTERNOON),
    "B01": (_MID_MORNING, (_T(10), _T(12)), _AFTERNOON), "B02": ((_T(9, 30), _T(11)), (_T(14), _T(15, 30))),
    "B03": ((_T(9, 30), _T(11)), (_T(14), _T(15, 30))), "B04": (_MID_MORNING, _AFTERNOON),
    "B05": (_MID_MORNING, _AFTERNOON), "B06": (_MID_MORNING, _AFTERNOON),
    "B07": ((_T(8), _T(9)), (_T(16), _T(17))), "B08": ((_T(7), _T(8)), (_T(18), _T(19))),
    "B09": ((_T(9), _T(10)), (_T(15), _T(16))),
    "H01": ((_T(8), _T(9)), _MORNING, _AFTERNOON), "H02": (_MID_MORNING, _AFTERNOON),
    "H03": ((_T(7, 30), _T(8, 30)),), "H04": ((_T(8), _T(9)), (_T(13), _T(14))),
    "H05": (_MID_MORNING, _LATE_AFTERNOON), "H06": ((_T(8, 30), _T(10, 30)), _AFTERNOON),
    "H07": ((_T(8, 30), _T(10, 30)), _AFTERNOON), "H08": (_MID_MORNING, _AFTERNOON),
    "H09": (_MID_MORNING, _AFTERNOON),
    "E01": ((_T(9), _T(10, 30)), (_T(15), _T(16))), "E02": ((_T(9, 30), _T(10, 30)), (_T(14, 30), _T(15, 30))),
    "E03": ((_T(8), _T(9)), (_T(13), _T(14))), "E04": (_MID_MORNING, _AFTERNOON), "E05": (_MID_MORNING,),
    "E06": ((_T(8), _T(9)), (_T(13), _T(14))),
    "K01": (_MID_MORNING, _AFTERNOON), "K02": (_MORNING, (_T(15), _T(17))), "K04": (_AFTERNOON,),
    "K05": ((_T(9), _T(9, 30)), (_T(14), _T(14, 30))), "K06": ((_T(13), _T(14)), (_T(8), _T(9))),
}

BOOKING_NOTES = ("到了请先打电话，老人耳背", "楼下门禁请按房号呼叫", "请带血压计", "上次服务很满意，希望还是同一位阿姨",
                 "女儿下午在家，可联系女儿", "老人行动慢，敲门后请多等一会儿", "请从后门进弄堂", "家里有狗，已拴好")


def windows_for(code: str) -> tuple[tuple[time, time], ...]:
    return ITEM_WINDOWS.get(code) or ITEM_WINDOWS.get(code[0], (_MID_MORNING, _AFTERNOON))


def suits(r: ResidentSeed, code: str) -> bool:
    """Whether an item makes sense for this elder (a bed bath for the bed-bound, stair help for
    a walk-up flat, a safety visit for someone living alone…)."""
    t = r.traits
    bed = "bedbound" in t
    if code in ("B02", "B03", "B09", "H07"):
        return bed
    if code == "M05":
        return bed or "memory" in t
    if code == "H06":
        return bed or "diabetes" in t
    if code == "E03":
        return "mobility" in t and not r.lift and r.floor >= 3
    if code in ("E02", "H08"):
        return "mobility" in t
    if code == "K02":
        return r.lives_alone
    if code in ("B01", "E01", "E06", "H03", "H04", "K05", "M06"):
        return not bed
    return True


@dataclass(frozen=True)
class BookingSeed:
    resident: int
    item_code: str
    day: date
    window_start: time
    window_end: time
    channel: str
    notes: str = ""


@dataclass(frozen=True)
class SeriesSeed:
    resident: int
    item_code: str
    weekdays: tuple[int, ...]
    window_start: time
    window_end: time
    start_date: date
    end_date: date
    channel: str
    notes: str = ""


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


# The planner's default travel model (dispatch/solver/travel.py): straight line × detour ÷ speed
DETOUR_FACTOR = 1.3
SPEED_M_PER_MIN = {"walk": 70.0, "ebike": 250.0}


def travel_minutes(transport: str, a: tuple[float, float], b: tuple[float, float]) -> int:
    return ceil(haversine_m(*a, *b) * DETOUR_FACTOR / SPEED_M_PER_MIN[transport])


@dataclass(frozen=True)
class _Stop:
    start: int                           # minutes after midnight
    end: int
    where: tuple[float, float] | None    # None: the lunch break


@dataclass
class DayBoard:
    """One circle-day of caregivers' routes, filled by greedy insertion to prove that each
    booking can be served: a qualified caregiver arrives within the window, with the planner's
    own travel times from the previous stop (home at the start of the shift) and on to the next
    (home by the end of it). The lunch break is kept free at its latest, and a caregiver is
    filled to at most 80% of their working-minute cap (the rest is travel).
    """

    caregivers: dict[int, CaregiverSeed]
    stops: dict[int, list[_Stop]] = field(default_factory=dict)
    worked: dict[int, int] = field(default_factory=dict)

    def covering(self, item: MenuItem, provider_items: Sequence[frozenset[str]], gender: str | None) -> list[int]:
        """Caregivers whose provider delivers the item and who hold its qualification."""
        return [i for i, c in self.caregivers.items() if item.code in provider_items[c.provider]
                and item.qualification in c.qualifications and (gender is None or c.gender == gender)]

    def place(self, who: Sequence[int], item: MenuItem, window: tuple[time, time],
              where: tuple[float, float]) -> bool:
        """Book the earliest common start in the window for the least busy crew drawn from `who`."""
        for crew in _crews(sorted(who, key=lambda i: self.worked.get(i, 0)), item.crew):
            start = self._common_start(crew, item.minutes, window, where)
            if start is not None:
                for i in crew:
                    self._take(i, _Stop(start, start + item.minutes, where))
                return True
        return False

    def _stops(self, i: int) -> list[_Stop]:
        if i not in self.stops:
            c = self.caregivers[i]
            end = _minutes(c.break_latest_end)
            fits = _minutes(c.shift_start) <= end - c.break_minutes and end <= _minutes(c.shift_end)
            self.stops[i] = [_Stop(end - c.break_minutes, end, None)] if fits else []
        return self.stops[i]

    def _home(self, i: int) -> tuple[float, float]:
        return self.caregivers[i].home_lat, self.caregivers[i].home_lon

    def _common_start(self, crew: Sequence[int], minutes: int, window: tuple[time, time],
                      where: tuple[float, float]) -> int | None:
        lo, hi = _minutes(window[0]), _minutes(window[1])
        candidates = {lo} | {_minutes(self.caregivers[i].shift_start)
                             + travel_minutes(self.caregivers[i].transport, self._home(i), where) for i in crew}
        candidates |= {s.end + (travel_minutes(self.caregivers[i].transport, s.where, where) if s.where else 0)
                       for i in crew for s in self._stops(i)}
        return next((t for t in sorted(candidates) if lo <= t <= hi
                     and all(self._fits(i, _Stop(t, t + minutes, where)) for i in crew)), None)

    def _fits(self, i: int, new: _Stop) -> bool:
        c, stops = self.caregivers[i], self._stops(i)
        if self.worked.get(i, 0) + new.end - new.start > c.max_work_minutes * 0.8:
            return False
        if any(s.start < new.end and new.start < s.end for s in stops):
            return False
        before = [_Stop(0, _minutes(c.shift_start), self._home(i))] + [s for s in stops if s.end <= new.start]
        after = [s for s in stops if s.start >= new.end] + [_Stop(_minutes(c.shift_end), 24 * 60, self._home(i))]
        return (self._gap(c, reversed(before), new, leaving=False) and self._gap(c, iter(after), new, leaving=True))

    @staticmethod
    def _gap(c: CaregiverSeed, neighbours: Iterable[_Stop], new: _Stop, *, leaving: bool) -> bool:
        """Whether the trip between `new` and its nearest positioned neighbour fits, breaks aside."""
        paused = 0
        for s in neighbours:
            if s.where is None:
                paused += s.end - s.start
                continue
            free = (s.start - new.end) if leaving else (new.start - s.end)
            return free - paused >= travel_minutes(c.transport, new.where, s.where)
        return True

    def _take(self, i: int, stop: _Stop) -> None:
        self._stops(i).append(stop)
        self._stops(i).sort(key=lambda s: s.start)
        self.worked[i] = self.worked.get(i, 0) + stop.end - stop.start


def _crews(ordered: Sequence[int], size: int) -> Iterable[tuple[int, ...]]:
    if size == 1:
        return ((i,) for i in ordered)
    return ((a, b) for n, a in enumerate(ordered) for b in ordered[n + 1:])


@dataclass(frozen=True)
class Street:
    """Everything the demo loader writes."""

    residents: tuple[ResidentSeed, ...]
    families: tuple[FamilySeed, ...]
    caregivers: tuple[CaregiverSeed, ...]
    series: tuple[SeriesSeed, ...]
    bookings: tuple[BookingSeed, ...]
    staff: dict[str, str]            # role -> display name of the demo account
    demo_resident: int               # index of the elder behind the `resident` login
    demo_family: int                 # index of the family member behind the `family` login
    demo_caregiver: int = DEMO_CAREGIVER


def build_street(menu: Sequence[MenuItem], *, today: date, seed: int = 20_241_121,
                 visits_per_circle_day: int = 40, lunches_per_circle: int = 24, elders_per_circle: int = 75,
                 caregivers: int | None = None) -> Street:
    """The whole demo street for bookings on the two days after `today`.

    `visits_per_circle_day` is the target of visits other than the regular lunches;
    `lunches_per_circle` the number of elders on a regular lunch delivery; `elders_per_circle` and
    `caregivers` size the street (the simulation's `--elders` and `--caregivers`).
    """
    rng = random.Random(seed)
    numbers = Numbers(rng)
    days = (today + timedelta(days=1), today + timedelta(days=2))
    residents = make_residents(rng, numbers, today, per_circle=elders_per_circle)
    demo_resident = _pick_demo_resident(residents)
    residents[demo_resident] = _as_demo_resident(residents[demo_resident], today)
    families = make_families(rng, numbers, residents)
    caregivers = make_caregivers(rng, numbers, days, caregivers)
    planner = _BookingPlanner(rng, residents, caregivers, {i.code: i for i in menu}, days, today)
    series, regulars = planner.lunch_regulars(lunches_per_circle, demo_resident)
    bookings = planner.bookings(regulars, visits_per_circle_day, demo_resident)
    staff = {role: younger_name(rng, rng.choice("FFM")) for role in ("operator", "dispatcher", "provider_admin",
                                                                       "admin")}
    return Street(tuple(residents), tuple(families), tuple(caregivers), tuple(series), tuple(bookings), staff,
                  demo_resident, demo_family=0)


def _pick_demo_resident(residents: Sequence[ResidentSeed]) -> int:
    """The wife of household 0 (a couple in circle 0): the elder behind the `resident` login."""
    return next(i for i, r in enumerate(residents) if r.household == 0 and r.gender == "F")


def _as_demo_resident(r: ResidentSeed, today: date) -> ResidentSeed:
    """Subsidy-eligible, with the tags her age and health give."""
    tags = r.eligibility or eligibility_for(random.Random(r.phone), age=r.age(today), lives_alone=r.lives_alone,
                                            traits=r.traits)
    return replace(r, subsidy_eligible=True, eligibility=tags)


class _BookingPlanner:
    """Chooses who books what, when, so that every visit has a caregiver with time for it."""

    def __init__(self, rng: random.Random, residents: Sequence[ResidentSeed], caregivers: Sequence[CaregiverSeed],
                 menu: dict[str, MenuItem], days: Sequence[date], today: date):
        self.rng, self.residents, self.menu, self.days, self.today = rng, residents, menu, days, today
        self.provider_items = [frozenset(p.items) for p in PROVIDERS]
        self.boards = {(c, d): DayBoard({i: g for i, g in enumerate(caregivers) if g.circle == c and g.works_on(d)
                                         and c in PROVIDERS[g.provider].circles})
                       for c in range(len(CIRCLES)) for d in days}
        self.taken: set[tuple[int, str, date]] = set()
        self.per_day: dict[tuple[int, date], int] = {}

    def lunch_regulars(self, per_circle: int, demo_resident: int) -> tuple[list[SeriesSeed], list[int]]:
        """Elders on a regular lunch delivery: a few by a daily series (the demo elder first),
        the rest booked day by day by phone or app."""
        series, regulars = [], []
        for c in range(len(CIRCLES)):
            pool = [i for i, r in enumerate(self.residents) if r.circle == c and i != demo_resident]
            chosen = ([demo_resident] if self.residents[demo_resident].circle == c else []) + \
                self.rng.sample(pool, per_circle)
            for n, i in enumerate(chosen[:per_circle]):
                if n < 4:
                    series.append(self._lunch_series(i, weekdays=(1, 2, 3, 4, 5) if n == 3 else tuple(range(1, 8))))
                else:
                    regulars.append(i)
        return series, regulars

    def _lunch_series(self, i: int, *, weekdays: tuple[int, ...]) -> SeriesSeed:
        code = self._meal(i)
        for day in self.days:  # series bookings take their place on the boards too
            if day.isoweekday() in weekdays:
                self._try(i, code, day, windows=(LUNCH,), force=True)
        start = self.days[0]
        return SeriesSeed(i, code, weekdays, *LUNCH, start, start + timedelta(days=90), self._channel(i),
                          "每日午餐，放门口保温箱" if len(weekdays) == 7 else "工作日午餐，周末子女在家")

    def _meal(self, i: int) -> str:
        return "M02" if "diabetes" in self.residents[i].traits or "memory" in self.residents[i].traits else "M01"

    def bookings(self, regulars: Sequence[int], per_circle_day: int, demo_resident: int) -> list[BookingSeed]:
        out: list[BookingSeed] = []
        for day in self.days:
            for i in regulars:
                if self.rng.random() < 0.9:
                    window = LUNCH if self.rng.random() < 0.8 else EARLY_LUNCH
                    out += self._try(i, self._meal(i), day, windows=(window, LUNCH))
            out += self._try(demo_resident, "H01" if day == self.days[0] else "B01", day)
            for c in range(len(CIRCLES)):
                out += self._visits(c, day, per_circle_day)
        self.rng.shuffle(out)  # the order they were booked in: mixed, as calls and app orders come
        return out

    def _visits(self, circle: int, day: date, target: int) -> list[BookingSeed]:
        codes = [c for c in ITEM_WEIGHTS if c in self.menu]
        weights = [ITEM_WEIGHTS[c] for c in codes]
        people = [i for i, r in enumerate(self.residents) if r.circle == circle]
        out: list[BookingSeed] = []
        for _ in range(target * 6):
            if len(out) >= target:
                break
            code = self.rng.choices(codes, weights=weights)[0]
            candidates = [i for i in people if suits(self.residents[i], code)]
            if candidates:
                out += self._try(self.rng.choice(candidates), code, day)
        return out

    def _try(self, i: int, code: str, day: date, *, windows: Sequence[tuple[time, time]] | None = None,
             force: bool = False) -> list[BookingSeed]:
        """Book `code` for elder `i` on `day` if a caregiver has time (`force`: place it if
        possible but keep it anyway, as a series does); at most three visits a day each."""
        r, item = self.residents[i], self.menu.get(code)
        if item is None or (i, code, day) in self.taken or self.per_day.get((i, day), 0) >= 3:
            return []
        board = self.boards[(r.circle, day)]
        who = board.covering(item, self.provider_items, r.caregiver_gender)
        options = list(windows or windows_for(code))
        if windows is None:
            self.rng.shuffle(options)
        window = next((w for w in options if board.place(who, item, w, (r.lat, r.lon))), None)
        if window is None and not force:
            return []
        self.taken.add((i, code, day))
        self.per_day[(i, day)] = self.per_day.get((i, day), 0) + 1
        window = window or options[0]
        notes = self.rng.choice(BOOKING_NOTES) if self.rng.random() < 0.15 else ""
        return [BookingSeed(i, code, day, window[0], window[1], self._channel(i), notes)]

    def _channel(self, i: int) -> str:
        """Phone bookings dominate among the oldest; app bookings are mostly made by family."""
        return "hotline" if self.rng.random() < (0.7 if self.residents[i].age(self.today) >= 80 else 0.4) else "app"
