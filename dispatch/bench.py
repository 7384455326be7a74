"""Benchmarks of the planning core: ``python -m dispatch.bench {vrptw,homecare} ...``.

``vrptw`` runs the solver on Solomon / Gehring & Homberger files (plain VRPTW: one depot,
the file's fleet and capacity, Euclidean travel, distance as objective) and compares with
the best-known distances, and optionally with PyVRP on the same data for the same time.
``homecare`` generates a realistic circle-day and compares the solver with the greedy
insertion baseline, or with ``--vroom`` with VROOM (pyvroom, a benchmark-only dependency) on
the same day stripped of what VROOM cannot model. ``main(argv)`` is the entry point the
``circle bench`` command calls.

Benchmark data is read at run time from ``../shared/bench`` beside the project root, or
from the directory in ``CIRCLE_BENCH_DIR``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from dispatch.solver import (
    Break, BreakTaken, Job, Problem, Route, Site, Solution, SolveParams, Stats, Stop, Unassigned, Worker, check,
    solve,
)
from dispatch.solver.vrptw_io import VrptwInstance, read_vrptw, route_distance, to_problem

SCALE = 1000
SOLOMON_REFERENCE = "reference distance"
PROJECT = Path(__file__).resolve().parents[1]


def bench_dir() -> Path:
    """Where the shared benchmark data lives (``CIRCLE_BENCH_DIR`` overrides)."""
    env = os.environ.get("CIRCLE_BENCH_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "bench"


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (without the program name) and run a benchmark; returns an exit code."""
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="circle bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(required=True)
    v = sub.add_parser("vrptw", help="Solomon / Homberger instances")
    v.add_argument("files", nargs="+", help="instance files, directories or names such as C101")
    v.add_argument("--seconds", type=float, default=10.0, help="time per instance (default 10)")
    v.add_argument("--json", action="store_true", help="one JSON object per line per instance")
    v.add_argument("--pyvrp", action="store_true", help="also run PyVRP for the same time")
    v.add_argument("--cpu-time", action="store_true", help="count CPU seconds, not wall seconds")
    v.add_argument("--seed", type=int, default=0)
    v.set_defaults(run=run_vrptw)
    h = sub.add_parser("homecare", help="a generated circle-day")
    h.add_argument("--visits", type=int, default=300)
    h.add_argument("--caregivers", type=int, default=25)
    h.add_argument("--seconds", type=float, default=10.0)
    h.add_argument("--seed", type=int, default=None, help="one seed (default 1)")
    h.add_argument("--seeds", type=_seed_range, default=None, help="seeds A-B (inclusive), e.g. 1-10")
    h.add_argument("--json", action="store_true", help="one JSON object per seed and planner")
    h.add_argument("--cpu-time", action="store_true", help="count CPU seconds, not wall seconds (our solver)")
    h.add_argument("--vroom", action="store_true",
                   help="VROOM beside ours on the stripped day (one-person jobs, no preferred workers, no cap)")
    h.add_argument("--exploration", type=int, default=VROOM_EXPLORATION,
                   help=f"VROOM exploration level 0-5 (default {VROOM_EXPLORATION}); its timeout is --seconds")
    h.set_defaults(run=run_homecare)
    return parser


# -- VRPTW ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A best-known distance and what kind of value it is."""

    distance: float
    kind: str


def run_vrptw(args) -> int:
    """Solve each instance; print one line (or JSON object) each, then a summary."""
    paths = resolve_instances(args.files)
    refs = load_references()
    rows = []
    for path in paths:
        row = _vrptw_row(path, args, refs)
        rows.append(row)
        print(json.dumps(row) if args.json else _vrptw_text(row), flush=True)
    if not args.json:
        print(_vrptw_summary(rows))
    return 0 if all(r["feasible"] for r in rows) else 1


def resolve_instances(items: list[str]) -> list[Path]:
    """Files, directories (every .txt inside) or bare names looked up in the bench data."""
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            out += sorted(p for p in path.glob("*.txt"))
        elif path.is_file():
            out.append(path)
        else:
            out.append(_by_name(item))
    return out


def _by_name(name: str) -> Path:
    root = bench_dir()
    for candidate in [root / "solomon", *sorted((root / "homberger").glob("*"))]:
        for p in candidate.glob("*.txt"):
            if p.stem.lower() == name.lower():
                return p
    raise FileNotFoundError(f"no instance file or known instance named {name!r} (looked in {root})")


def load_references() -> dict[str, Reference]:
    """Solomon references (``reference_distance``: the distance-only best, or the proven floor
    where that best lies below it) and Homberger SINTEF (hierarchical) bests, by name."""
    root, refs = bench_dir(), {}
    solomon = root / "solomon" / "bks_solomon.csv"
    if solomon.exists():
        for r in csv.DictReader(solomon.open()):
            refs[r["instance"].lower()] = Reference(float(r["reference_distance"]), SOLOMON_REFERENCE)
    homberger = root / "homberger" / "bks_homberger_sintef.csv"
    if homberger.exists():
        for r in csv.DictReader(homberger.open()):
            refs[r["instance"].lower()] = Reference(float(r["distance"]), "hierarchical BKS (SINTEF)")
    return refs


def _vrptw_row(path: Path, args, refs: dict[str, Reference]) -> dict:
    inst = read_vrptw(path)
    problem = to_problem(inst, SCALE)
    params = SolveParams(time_limit_s=args.seconds, seed=args.seed, cpu_time=args.cpu_time)
    t0 = time.monotonic()
    sol = solve(problem, params)
    seconds = time.monotonic() - t0
    routes = [[int(j) for j in r.job_ids] for r in sol.routes]
    distance = sum(route_distance(inst, r) for r in routes)
    ref = refs.get(inst.name.lower()) or refs.get(path.stem.lower())
    row = {
        "instance": inst.name, "distance": round(distance, 2), "vehicles": len(routes),
        "seconds": round(seconds, 2), "feasible": not check(problem, sol) and not sol.unassigned,
        "gap_pct": None if ref is None else round(100 * (distance / ref.distance - 1), 2),
        "reference": None if ref is None else ref.kind, "routes": routes,
    }
    if args.pyvrp:
        row.update(_pyvrp_row(inst, args.seconds, args.seed, distance))
    return row


def _vrptw_text(row: dict) -> str:
    gap = "   n/a" if row["gap_pct"] is None else f"{row['gap_pct']:+6.2f}%"
    text = (f"{row['instance']:<10} distance {row['distance']:>10.2f}  vehicles {row['vehicles']:>3}  "
            f"{row['seconds']:>6.1f} s  feasible {'yes' if row['feasible'] else 'NO '}  gap {gap}")
    if row["gap_pct"] is not None and row["reference"] != SOLOMON_REFERENCE:
        text += " (vs hierarchical BKS)"
    if "pyvrp_distance" in row:
        text += f"  | PyVRP {row['pyvrp_distance']:.2f} ratio {row['ratio_to_pyvrp']:.4f}"
    if "pyvrp_error" in row:
        text += f"  | PyVRP: {row['pyvrp_error']}"
    return text


def _vrptw_summary(rows: list[dict]) -> str:
    gaps = [r["gap_pct"] for r in rows if r["gap_pct"] is not None]
    text = f"{len(rows)} instance(s), {sum(r['feasible'] for r in rows)} feasible"
    if gaps:
        text += f"; gap mean {sum(gaps) / len(gaps):+.2f}%, max {max(gaps):+.2f}%"
    ratios = [r["ratio_to_pyvrp"] for r in rows if "ratio_to_pyvrp" in r]
    if ratios:
        text += f"; ratio to PyVRP mean {sum(ratios) / len(ratios):.4f}, max {max(ratios):.4f}"
    return text


def _pyvrp_row(inst: VrptwInstance, seconds: float, seed: int, ours: float) -> dict:
    """PyVRP on the same integer data (same rounding) for the same wall time."""
    try:
        import numpy as np
        import pyvrp
        from pyvrp.stop import MaxRuntime
    except ImportError:
        return {"pyvrp_error": "PyVRP is not installed (pip install 'service-circle[bench]')"}
    nodes = [inst.depot, *inst.customers]
    xy = np.array([[c.x, c.y] for c in nodes])
    matrix = np.ceil(np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]) * SCALE - 1e-9).astype(np.int64)
    horizon = round(inst.depot.due * SCALE)
    data = pyvrp.ProblemData(
        [pyvrp.Location(c.x, c.y) for c in nodes],
        [pyvrp.Client(i, delivery=[c.demand], service_duration=round(c.service * SCALE),
                      tw_early=round(c.ready * SCALE), tw_late=round(c.due * SCALE))
         for i, c in enumerate(nodes) if i],
        [pyvrp.Depot(0, tw_early=0, tw_late=horizon)],
        [pyvrp.VehicleType(inst.vehicles, capacity=[inst.capacity], tw_early=0, tw_late=horizon)],
        [matrix], [matrix],
    )
    result = pyvrp.solve(data, MaxRuntime(seconds), seed=seed, display=False)
    routes = [[inst.customers[a.idx].number for a in r if _is_client(a)] for r in result.best.routes()]
    distance = sum(route_distance(inst, r) for r in routes)
    return {"pyvrp_distance": round(distance, 2), "pyvrp_feasible": bool(result.is_feasible()),
            "pyvrp_vehicles": len(routes), "ratio_to_pyvrp": round(ours / distance, 4)}


def _is_client(activity) -> bool:
    flag = activity.is_client
    return flag() if callable(flag) else bool(flag)


# -- home care -----------------------------------------------------------------------

CENTRE = (31.2304, 121.4737)
# Relative frequency of menu items in a day's visits (unlisted items: 0.15). Short, daily
# visits dominate a real circle: lunch deliveries, safety checks, blood pressure, pill boxes.
ITEM_WEIGHTS = {
    "M01": 20, "M02": 8, "K02": 8, "H01": 8, "H02": 5, "B07": 5, "B08": 6, "B04": 3, "B06": 3,
    "B09": 3, "E04": 4, "M06": 3, "C01": 5, "C06": 2, "C07": 2, "K01": 4, "B01": 3, "B02": 2,
    "B03": 1.5, "H06": 2, "H07": 1, "H08": 1, "H09": 2, "E01": 2, "M05": 2, "M07": 2, "E03": 1,
}


def run_homecare(args) -> int:
    """Plan generated days, one per seed: ours beside greedy, or with ``--vroom`` ours beside
    VROOM on the stripped day and ours on the full day; print each plan, then the means."""
    rows = []
    for seed in _seeds(args):
        for row in (_vroom_rows if args.vroom else _greedy_rows)(args, seed):
            rows.append(row)
            print(json.dumps(row) if args.json else _homecare_text(row), flush=True)
    if not args.json:
        print(_homecare_means(rows))
    return 0 if all(r["feasible"] for r in rows) else 1


def _seed_range(text: str) -> list[int]:
    a, _, b = text.partition("-")
    first, last = int(a), int(b or a)
    if last < first:
        raise argparse.ArgumentTypeError(f"seeds {text!r}: the range ends before it starts")
    return list(range(first, last + 1))


def _seeds(args) -> list[int]:
    if args.seeds is not None:
        return args.seeds
    return [1 if args.seed is None else args.seed]


def _greedy_rows(args, seed: int) -> list[dict]:
    problem = generate_day(args.visits, args.caregivers, seed)
    ours = SolveParams(time_limit_s=args.seconds, seed=seed, cpu_time=args.cpu_time)
    return [
        _row(seed, "solver", "full", problem, solve(problem, ours)),
        _row(seed, "greedy", "full", problem, solve(problem, SolveParams(strategy="greedy", seed=seed))),
    ]


def _vroom_rows(args, seed: int) -> list[dict]:
    """Ours and VROOM on the stripped day (alternating who goes first), then ours on the full day."""
    full = generate_day(args.visits, args.caregivers, seed)
    day = strip_day(full)
    ours = SolveParams(time_limit_s=args.seconds, seed=seed, cpu_time=args.cpu_time)
    runs = [
        lambda: _row(seed, "solver", "stripped", day, solve(day, ours)),
        lambda: _row(seed, "vroom", "stripped", day, solve_vroom(day, args.seconds, args.exploration)),
    ]
    rows = [run() for run in (runs if seed % 2 else runs[::-1])]
    rows.sort(key=lambda r: r["planner"] != "solver")
    return rows + [_row(seed, "solver", "full", full, solve(full, ours))]


def _row(seed: int, planner: str, day: str, problem: Problem, sol: Solution) -> dict:
    return {"seed": seed, "planner": planner, "day": day, **day_metrics(problem, sol)}


def _homecare_means(rows: list[dict]) -> str:
    lines = []
    for key in sorted({(r["planner"], r["day"]) for r in rows}, key=lambda k: (k[1] != "stripped", k[0])):
        group = [r for r in rows if (r["planner"], r["day"]) == key]
        mean = {k: sum(r[k] for r in group) / len(group) for k in ("assigned", "jobs", "travel_min", "solve_s")}
        lines.append(
            f"mean {key[0]:<6} {key[1]:<8} ({len(group)} seeds) assigned {mean['assigned']:7.1f}/{mean['jobs']:.0f}  "
            f"travel {mean['travel_min']:8.1f} min  {mean['solve_s']:5.1f} s  "
            f"feasible {sum(r['feasible'] for r in group)}/{len(group)}")
    return "\n".join(lines)


def _homecare_text(row: dict) -> str:
    return (f"seed {row['seed']:>3} {row['planner']:<6} {row['day']:<8} assigned {row['assigned_pct']:5.1f}% ({row['assigned']}/{row['jobs']})  "
            f"travel {row['travel_min']:7.1f} min  idle {row['idle_min']:7.1f} min  "
            f"overtime {row['overtime_min']:.1f} min  {row['solve_s']:5.1f} s  "
            f"feasible {'yes' if row['feasible'] else 'NO'}  preferred kept {row['preferred_kept']}/{row['preferred_total']}")


def day_metrics(problem: Problem, sol: Solution) -> dict:
    """Assigned share, travel, idle (waiting inside routes) and overtime, in minutes."""
    unit = problem.units_per_minute or 1
    workers = problem.workers_by_id
    service = {r.worker_id: sum(s.end - s.start for s in r.stops) for r in sol.routes}
    idle = sum(r.back - r.depart - r.travel - service[r.worker_id] - sum(b.end - b.start for b in r.breaks if r.depart <= b.start and b.end <= r.back) for r in sol.routes)
    overtime = sum(max(0, r.work - (workers[r.worker_id].max_work or r.work)) + max(0, r.back - workers[r.worker_id].shift_end) for r in sol.routes)
    served = {s.job_id: r.worker_id for r in sol.routes for s in r.stops}
    preferred = [j for j in problem.jobs if j.preferred_worker and j.id in served]
    return {
        "jobs": len(problem.jobs), "assigned": sol.stats.assigned,
        "two_person_jobs": sum(1 for j in problem.jobs if j.crew == 2),
        "assigned_pct": round(100 * sol.stats.assigned / max(1, len(problem.jobs)), 1),
        "travel_min": round(sol.stats.travel / unit, 1), "idle_min": round(idle / unit, 1),
        "overtime_min": round(overtime / unit, 1), "solve_s": sol.stats.solve_s, "strategy": sol.stats.strategy,
        "feasible": not check(problem, sol),
        "preferred_kept": sum(1 for j in preferred if served[j.id] == j.preferred_worker),
        "preferred_total": sum(1 for j in problem.jobs if j.preferred_worker),
        "unassigned_reasons": _count(u.reason for u in sol.unassigned),
    }


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def generate_day(visits: int, caregivers: int, seed: int) -> Problem:
    """A circle-day around the centre of Shanghai, in seconds since midnight.

    Elders live within 1,500 m of the centre and caregivers within 3 km (walkers within
    1.5 km); visits are drawn from ``booking/menu.csv`` (items needing a visit) with
    their minutes, qualification and crew; meal deliveries start 11:00–12:00, other
    visits mostly have wide morning or afternoon windows. Shifts 08:00–17:00, some
    07:00–15:00 and 12:00–20:00; 45-minute lunch between 11:30 and 13:30; 480 working
    minutes at most; a third of the visits name the caregiver the elder had before.
    """
    rng = random.Random(seed)
    workers = [_caregiver(rng, k) for k in range(caregivers)]
    elders = [_point(rng, "elder", k, 1500) for k in range(max(1, int(visits * 0.7)))]
    menu = _menu()
    jobs = [_visit(rng, k, rng.choice(elders), menu, workers) for k in range(visits)]
    return Problem(tuple(workers), tuple(jobs), units_per_minute=60)


def _menu() -> list[dict]:
    rows = list(csv.DictReader((PROJECT / "booking" / "menu.csv").open(encoding="utf-8")))
    return [r for r in rows if r["needs_visit"] == "yes"]


def _point(rng: random.Random, kind: str, k: int, radius_m: float) -> Site:
    r, a = radius_m * math.sqrt(rng.random()), rng.random() * 2 * math.pi
    lat = CENTRE[0] + r * math.cos(a) / 111_320
    lon = CENTRE[1] + r * math.sin(a) / (111_320 * math.cos(math.radians(CENTRE[0])))
    return Site(f"{kind}-{k}", lat, lon)


def _caregiver(rng: random.Random, k: int) -> Worker:
    ebike = rng.random() < 0.5
    home = _point(rng, "home", k, 3000 if ebike else 1500)
    quals = {"G"}
    roll = rng.random()
    if roll < 0.35:
        quals |= {"B", "C"}
    elif roll < 0.75:
        quals |= {"C"}
    for code, share in (("N", 0.12), ("R", 0.06), ("H", 0.06), ("P", 0.05), ("A", 0.04)):
        if rng.random() < share:
            quals.add(code)
    shift = rng.choices([(8, 17), (7, 15), (12, 20)], weights=[70, 15, 15])[0]
    return Worker(
        f"cg{k:02d}", home, home, shift[0] * 3600, shift[1] * 3600,
        profile="ebike" if ebike else "walk", qualifications=frozenset(quals),
        gender="F" if rng.random() < 0.8 else "M",
        breaks=(Break(11 * 3600 + 1800, 13 * 3600 + 1800, 45 * 60),), max_work=480 * 60,
    )


def _visit(rng: random.Random, k: int, elder: Site, menu: list[dict], workers: list[Worker]) -> Job:
    item = rng.choices(menu, weights=[ITEM_WEIGHTS.get(m["code"], 0.15) for m in menu])[0]
    category = item["category"]
    lo, hi = _window(rng, item)
    qual = item["qualification"]
    job = Job(
        f"v{k:03d}-{item['code']}", elder, int(item["minutes"]) * 60, lo, hi,
        qualification=qual, crew=int(item["crew"]),
        gender="F" if category == "bathing" and rng.random() < 0.15 else None,
        priority=2 if qual == "N" else 1 if category == "meals" else 0,
    )
    if rng.random() < 0.33:
        job = replace(job, preferred_worker=_familiar_caregiver(rng, elder, qual, workers))
    return job


def _familiar_caregiver(rng: random.Random, elder: Site, qual: str, workers: list[Worker]) -> str | None:
    """The caregiver the elder had before: one of the 5 nearest qualified ones."""
    able = [w for w in workers if qual in w.qualifications]
    able.sort(key=lambda w: (w.start_site.lat - elder.lat) ** 2 + (w.start_site.lon - elder.lon) ** 2)
    return rng.choice(able[:5]).id if able else None


def _window(rng: random.Random, item: dict) -> tuple[int, int]:
    """Start window in seconds: lunch for meal deliveries, else mostly wide half days."""
    if item["code"] in ("M01", "M02"):
        return 11 * 3600, 12 * 3600
    roll = rng.random()
    if roll < 0.4:
        return 8 * 3600 + 1800, 11 * 3600 + 1800
    if roll < 0.75:
        return 13 * 3600, 16 * 3600 + 1800
    if roll < 0.9:
        return 8 * 3600 + 1800, 16 * 3600
    start = rng.randrange(9 * 3600, 16 * 3600, 1800)
    return start, start + 3600


# -- VROOM beside ours ----------------------------------------------------------------

VROOM_EXPLORATION = 2  # 8-11 s on 300 visits unbounded: about our 10 s (issue 14)
# VROOM skills are integers: qualification codes get 1, 2, ...; a gender is a skill too.
GENDER_SKILL = {"F": 1001, "M": 1002}


def strip_day(problem: Problem) -> Problem:
    """The day without what VROOM cannot model: two-person jobs made one-person, no
    preferred workers, no working-minute cap (qualifications, gender, windows, shifts,
    breaks, homes and transport profiles stay)."""
    workers = tuple(replace(w, max_work=None) for w in problem.workers)
    jobs = tuple(replace(j, crew=1, preferred_worker=None, pinned_workers=frozenset()) for j in problem.jobs)
    return replace(problem, workers=workers, jobs=jobs)


def solve_vroom(problem: Problem, seconds: float, exploration: int = VROOM_EXPLORATION) -> Solution:
    """VROOM (one thread, ``seconds`` timeout) on a one-person ``problem``, as our ``Solution``."""
    import vroom  # a benchmark-only dependency (the bench extra)

    started = time.monotonic()
    sites, inp = _vroom_input(vroom, problem)
    found = inp.solve(exploration_level=exploration, nb_threads=1, timeout=timedelta(seconds=seconds))
    return vroom_solution(problem, sites, found.to_dict(), time.monotonic() - started)


def day_sites(problem: Problem) -> list[Site]:
    """Every distinct site of the day (homes first), the row order of the travel matrices."""
    sites: dict[str, Site] = {}
    for w in problem.workers:
        sites.setdefault(w.start_site.id, w.start_site)
        sites.setdefault(w.end_site.id, w.end_site)
    for j in problem.jobs:
        sites.setdefault(j.site.id, j.site)
    return list(sites.values())


def _vroom_input(vroom, problem: Problem):
    if any(j.crew != 1 for j in problem.jobs):
        raise ValueError("VROOM is given one-person jobs only (strip_day)")
    sites = day_sites(problem)
    index = {s.id: i for i, s in enumerate(sites)}
    inp = vroom.Input()
    for profile in sorted({w.profile for w in problem.workers}):
        inp.set_durations_matrix(profile, problem.travel.matrix(sites, profile).astype("uint32"))
    codes = _skill_codes(problem)
    for v, w in enumerate(problem.workers):
        inp.add_vehicle(vroom.Vehicle(
            v, start=index[w.start_site.id], end=index[w.end_site.id], profile=w.profile,
            skills={codes[q] for q in w.qualifications} | ({GENDER_SKILL[w.gender]} if w.gender in GENDER_SKILL else set()),
            time_window=vroom.TimeWindow(w.shift_start, w.shift_end),
            breaks=[vroom.Break(b, time_windows=[vroom.TimeWindow(br.window_start, br.window_end - br.duration)],
                                service=br.duration) for b, br in enumerate(w.effective_breaks())],
        ))
    for k, j in enumerate(problem.jobs):
        lo, hi = j.start_range()
        skills = ({codes[j.qualification]} if j.qualification else set()) | (
            {GENDER_SKILL.get(j.gender, 1000)} if j.gender else set())
        inp.add_job(vroom.Job(k, location=index[j.site.id], default_service=j.duration, skills=skills,
                              priority=min(100, j.priority), time_windows=[vroom.TimeWindow(lo, hi)]))
    return sites, inp


def _skill_codes(problem: Problem) -> dict[str, int]:
    codes = {q for w in problem.workers for q in w.qualifications} | {j.qualification for j in problem.jobs if j.qualification}
    return {q: i + 1 for i, q in enumerate(sorted(codes))}


def vroom_solution(problem: Problem, sites: list[Site], found: dict, seconds: float) -> Solution:
    """VROOM's JSON solution (``Solution.to_dict()``) as our ``Solution``, so that ``check``
    judges it by the same rules; travel is recomputed from our travel model."""
    routes = tuple(_vroom_route(problem, sites, r) for r in found.get("routes", []))
    served = {s.job_id for r in routes for s in r.stops}
    unassigned = tuple(Unassigned(j.id, "left_out", "VROOM left it out") for j in problem.jobs if j.id not in served)
    travel = sum(r.travel for r in routes)
    stats = Stats(objective=travel, travel=travel, assigned=len(served), unassigned=len(unassigned),
                  solve_s=round(seconds, 3), status="optimised", strategy="vroom")
    return Solution(tuple(r for r in routes if r.stops), unassigned, stats)


def _vroom_route(problem: Problem, sites: list[Site], route: dict) -> Route:
    worker = problem.workers[route["vehicle"]]
    matrix = problem.travel.matrix(sites, worker.profile)
    index = {s.id: i for i, s in enumerate(sites)}
    stops, breaks, where = [], [], index[worker.start_site.id]
    depart = back = worker.shift_start
    for step in route["steps"]:
        begin = step["arrival"] + step.get("waiting_time", 0)
        if step["type"] == "start":
            depart = step["arrival"]
        elif step["type"] == "end":
            back = step["arrival"]
        elif step["type"] == "break":
            breaks.append(BreakTaken(begin, begin + step["service"]))
        else:
            job = problem.jobs[step["id"]]
            here = index[job.site.id]
            stops.append(Stop(job.id, 0, begin, begin + job.duration, int(matrix[where, here])))
            where = here
    travel = sum(s.travel_before for s in stops) + int(matrix[where, index[worker.end_site.id]])
    return Route(worker.id, depart, back, tuple(stops), tuple(breaks), travel if stops else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
