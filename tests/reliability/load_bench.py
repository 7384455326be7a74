"""Load benchmark (`make bench`, or `python -m tests.reliability.load_bench`): prints numbers, asserts nothing.

1. Booking creation over HTTP against `circle serve --no-worker` (one process) on embedded
   PostgreSQL: 200 concurrent clients, each request a distinct booking (many elders, so the
   wallet row locks do not serialise everything), each with its Idempotency-Key.
   - closed loop with wrk (C, when installed: `apt-get install wrk`) and a Lua script that makes
     each request's body and Idempotency-Key; then the rows are counted (each 201 one booking);
   - closed loop with aiohttp (Python, the fallback without wrk; it shares the two cores with the
     server and costs more CPU per request than the server's own work on some paths):
     every client sends its next request as soon as the last one is answered
     (the saturation rate; latency is then mostly queueing: Little's law, L = λ·W);
   - open loop: requests arrive at a fixed rate over the same 200 connections, latency counted
     from the moment each request was due (no coordinated omission).
2. The same database work as raw SQL with pgbench (a custom script: open the wallet, lock it,
   hold, insert the booking, insert the ledger entry), same server, pool-sized client count.
3. The day sheet `GET /api/v1/caregivers/{id}/assignments?date=` after visits are published.

Everything runs in a temporary folder with its own PostgreSQL and Redis and is removed afterwards.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date, time as clock, timedelta
from pathlib import Path

import aiohttp
import asyncpg

from core.users import issue_token
from core.clock import local_instant, local_today
from core.crypto import Crypto
from core.db import apply_schema, connect
from core.embedded import EmbeddedServices, start_postgres, start_redis
from booking.seed import load_menu
from tests import factories
from tests.reliability.support import ServerProcess, database_url_with_name, id_card, percentile

SECRET = "load-bench-secret"
ITEMS = ("C01", "C02", "B01", "M01", "H01", "E01", "K01", "M06")
# the one booking-create transaction of booking.service.create_booking, as raw SQL: claim the key, read the
# elder and the item and open/lock the month's wallet, insert the booking with its hold and ledger entry,
# keep the booking id with the key
PGBENCH_SCRIPT = """\\set rid random(1, :residents)
\\set day random(1, 28)
\\set k random(1, 2000000000)
BEGIN;
INSERT INTO idempotency_keys (user_id, key, request_hash)
    SELECT min(id), 'pgb-' || :client_id || '-' || :k, '\\x00' FROM users ON CONFLICT DO NOTHING;
SELECT r.circle_id, m.price_fen, m.subsidy_max_fen, r.subsidy_eligible FROM residents r, menu_items m
    WHERE r.id = :rid AND m.code = 'C01';
INSERT INTO subsidy_wallets AS sw (resident_id, month, granted_fen) VALUES (:rid, date '2031-03-01', 20000)
    ON CONFLICT (resident_id, month) DO UPDATE SET granted_fen = sw.granted_fen
    RETURNING sw.granted_fen - sw.held_fen - sw.spent_fen AS available;
WITH b AS (INSERT INTO bookings (resident_id, circle_id, item_code, service_date, window_start, window_end, channel,
                                 price_fen, subsidy_fen, self_pay_fen)
           SELECT :rid, circle_id, 'C01', date '2031-03-01' + :day, '09:00', '11:00', 'hotline', 4500, 50, 4450
           FROM residents WHERE id = :rid RETURNING id),
     held AS (UPDATE subsidy_wallets SET held_fen = held_fen + 50 WHERE resident_id = :rid AND month = date '2031-03-01'),
     entry AS (INSERT INTO wallet_entries (resident_id, month, booking_id, kind, amount_fen)
               SELECT :rid, date '2031-03-01', id, 'hold', 50 FROM b)
SELECT id FROM b \\gset
UPDATE idempotency_keys SET booking_id = :id
    WHERE user_id = (SELECT min(id) FROM users) AND key = 'pgb-' || :client_id || '-' || :k;
END;
"""


@dataclass
class Phase:
    name: str
    requests: int
    seconds: float
    statuses: dict[int, int]
    latencies_ms: list[float] = field(repr=False)
    cpu_busy_pct: float = 0.0          # of the whole machine (all cores)
    server_cpu_pct: float = 0.0        # of one core
    client_cpu_pct: float = 0.0        # of one core
    server_cpu_ms: float = 0.0         # CPU per request: the web process
    pg_cpu_ms: float = 0.0             # CPU per request: PostgreSQL
    loadgen_cpu_ms: float = 0.0        # CPU per request: the load generator (this process, or wrk)
    reported_ms: dict[str, float] | None = None   # wrk's own p50 / p99 / max (it keeps no list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if self.reported_ms is not None:
            return self.reported_ms[f"p{q:g}"]
        return percentile(self.latencies_ms or [0.0], q)

    def max_ms(self) -> float:
        return self.reported_ms["max"] if self.reported_ms is not None else max(self.latencies_ms or [0.0])

    def line(self) -> str:
        return (f"{self.name:<44} {self.requests:>6} req {self.rate:>8.0f}/s  p50 {self.pct(50):>7.1f} ms  "
                f"p99 {self.pct(99):>7.1f} ms  max {self.max_ms():>7.1f} ms  machine {self.cpu_busy_pct:>3.0f}% busy; "
                f"CPU/req server {self.server_cpu_ms:.2f} + PostgreSQL {self.pg_cpu_ms:.2f} ms, load generator "
                f"{self.loadgen_cpu_ms:.2f} ms  {self.statuses}")

# ------------------------------------------------------------------ CPU accounting


def _machine_ticks() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields), idle


def _proc_stats():
    """(pid, fields after the command name) of every live process, from /proc/<pid>/stat."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            yield int(entry.name), (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue


def _process_ticks(pid: int) -> int:
    """CPU ticks of the server: every live process of its process group (`circle serve` starts its own
    session: with --workers N, its N web processes and their solver pools are counted too)."""
    return sum(int(parts[11]) + int(parts[12]) for _, parts in _proc_stats() if int(parts[2]) == pid)


def _postgres_ticks() -> int:
    """CPU ticks of the bench's PostgreSQL: the postmaster, its live backends, and (through the
    postmaster's children counters) the backends that have exited."""
    if POSTMASTER_PID is None:
        return 0
    total = 0
    for pid, parts in _proc_stats():
        ppid = int(parts[1])
        if pid == POSTMASTER_PID:
            total += sum(int(v) for v in parts[11:15])   # utime, stime, cutime, cstime
        elif ppid == POSTMASTER_PID:
            total += int(parts[11]) + int(parts[12])
    return total


POSTMASTER_PID: int | None = None


async def start_bench_database(tmp: Path, services, name: str) -> tuple[str, str, str]:
    """Embedded PostgreSQL and Redis in ``tmp``, a database ``name`` with the schema and the menu.

    Returns the admin URL, the Redis URL and the database's URL; sets POSTMASTER_PID.
    """
    global POSTMASTER_PID
    admin_url = start_postgres(tmp, services)
    redis_url = start_redis(tmp, services)
    POSTMASTER_PID = int((tmp / "pg" / "postmaster.pid").read_text().split()[0])
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    url = database_url_with_name(admin_url, name)
    conn = await connect(url)
    await apply_schema(conn)
    await load_menu(conn)
    await conn.close()
    return admin_url, redis_url, url


class CpuMeter:
    """Machine busy %, and the CPU seconds the server, PostgreSQL and this client spent."""

    def __init__(self, server_pid: int | None):
        self.server_pid = server_pid

    def __enter__(self) -> CpuMeter:
        self.t0 = time.monotonic()
        self.machine0 = _machine_ticks()
        self.server0 = _process_ticks(self.server_pid) if self.server_pid else 0
        self.pg0 = _postgres_ticks()
        self.client0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        self.children0 = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
        return self

    def __exit__(self, *exc) -> None:
        self.wall = wall = time.monotonic() - self.t0
        total, idle = (a - b for a, b in zip(_machine_ticks(), self.machine0))
        hz = os.sysconf("SC_CLK_TCK")
        self.busy_pct = 100 * (total - idle) / total if total else 0.0
        self.server_s = (_process_ticks(self.server_pid) - self.server0) / hz if self.server_pid else 0.0
        self.pg_s = (_postgres_ticks() - self.pg0) / hz
        self.client_s = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - self.client0
        # reaped children: wrk or pgbench when one ran inside the meter (the server is never reaped here)
        self.children_s = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]) - self.children0
        self.server_pct, self.client_pct = 100 * self.server_s / wall, 100 * self.client_s / wall

    def into(self, phase: Phase) -> Phase:
        phase.cpu_busy_pct, phase.server_cpu_pct, phase.client_cpu_pct = self.busy_pct, self.server_pct, self.client_pct
        phase.server_cpu_ms = 1000 * self.server_s / phase.requests
        phase.pg_cpu_ms = 1000 * self.pg_s / phase.requests
        phase.loadgen_cpu_ms = 1000 * (self.client_s + self.children_s) / phase.requests
        return phase

# ------------------------------------------------------------------ the street


@dataclass
class Street:
    circle_id: int
    resident_ids: list[int]
    operator_tokens: list[str]
    caregivers: list[tuple[int, str]] = field(default_factory=list)   # (caregiver id, token)


async def seed(url: str, *, residents: int, operators: int) -> Street:
    crypto = Crypto(SECRET)
    conn = await connect(url)
    try:
        async with conn.transaction():
            circle_id = await factories.make_circle(conn, name="压测服务圈", radius_m=3000)
            await factories.make_serving_team(conn, circle_id)
            ids = []
            for n in range(residents):
                elder = await factories.make_resident(
                    conn, crypto, circle_id=circle_id, name=f"压测老人{n}", phone=f"1350000{n:04d}",
                    subsidy_eligible=n % 4 != 0, care_notes=f"压测备注{n}", id_card_no=id_card(f"1101011940{n:07d}"))
                ids.append(elder.id)
            tokens = []
            for k in range(operators):
                user = await factories.make_user(conn, "operator", username=f"bench_operator{k}")
                tokens.append(await issue_token(conn, user.id, ttl=timedelta(hours=4)))
    finally:
        await conn.close()
    return Street(circle_id, ids, tokens)


def booking_bodies(street: Street, count: int, today: date, *, offset: int = 0) -> list[tuple[dict, dict]]:
    rng = random.Random(count + offset)
    out = []
    for i in range(offset, offset + count):
        start = 7 + rng.randrange(10)
        body = {"resident_id": street.resident_ids[i % len(street.resident_ids)], "item_code": rng.choice(ITEMS),
                "date": (today + timedelta(days=1 + (i // len(street.resident_ids)) % 28)).isoformat(),
                "window_start": f"{start:02d}:00", "window_end": f"{start + 2:02d}:00", "channel": "hotline",
                "confirm_duplicate": True}
        headers = {"Authorization": f"Bearer {street.operator_tokens[i % len(street.operator_tokens)]}",
                   "Idempotency-Key": f"bench-{i}"}
        out.append((body, headers))
    return out

# ------------------------------------------------------------------ HTTP load


async def _send(session: aiohttp.ClientSession, method: str, url: str, body, headers, statuses, latencies,
                due: float | None = None) -> None:
    started = due if due is not None else time.perf_counter()
    try:
        async with session.request(method, url, json=body, headers=headers) as response:
            await response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
    except (aiohttp.ClientError, asyncio.TimeoutError):
        statuses[0] = statuses.get(0, 0) + 1
    latencies.append((time.perf_counter() - started) * 1000)


async def closed_loop(name: str, url: str, requests: list[tuple[str, dict | None, dict]], concurrency: int,
                      server_pid: int | None) -> Phase:
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    queue = list(reversed(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def client() -> None:
            while queue:
                path, body, headers = queue.pop()
                await _send(session, "POST" if body is not None else "GET", url + path, body, headers, statuses,
                            latencies)
        with CpuMeter(server_pid) as cpu:
            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(concurrency)))
            seconds = time.perf_counter() - started
    return cpu.into(Phase(name, len(requests), seconds, statuses, latencies))


async def open_loop(name: str, url: str, requests: list[tuple[str, dict | None, dict]], rate: float,
                    concurrency: int, server_pid: int | None) -> Phase:
    """Requests due every 1/rate s; latency from when each was due (queueing in the client counts)."""
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        with CpuMeter(server_pid) as cpu:
            started = time.perf_counter()
            tasks = []
            for i, (path, body, headers) in enumerate(requests):
                due = started + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(_send(session, "POST" if body is not None else "GET", url + path,
                                                       body, headers, statuses, latencies, due=due)))
            await asyncio.gather(*tasks)
            seconds = time.perf_counter() - started
    return cpu.into(Phase(name, len(requests), seconds, statuses, latencies))

# ------------------------------------------------------------------ wrk (a C load generator)

# One config file per run, "kind value" per line (token, resident, date, item; or sheet "path token"),
# read by every wrk thread; request n of thread t is the run's request n * threads + t, so the
# Idempotency-Keys are unique across threads and every body is valid and distinct.
WRK_SCRIPT = r"""
local cfg = {token = {}, resident = {}, date = {}, item = {}, sheet = {}}
local prefix, threads, counter = "wrk", 1, 0
local created = 0

function setup(thread)
  created = created + 1
  thread:set("tid", created - 1)
end

function init(args)
  for line in io.lines(args[1]) do
    local kind, value = line:match("^(%S+) (.*)$")
    if kind == "prefix" then prefix = value elseif kind == "threads" then threads = tonumber(value)
    else table.insert(cfg[kind], value) end
  end
end

function request()
  local i = counter * threads + tid
  counter = counter + 1
  if #cfg.sheet > 0 then
    local path, token = cfg.sheet[i % #cfg.sheet + 1]:match("^(%S+) (%S+)$")
    return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
  end
  local start = 7 + i % 10
  local body = string.format(
    '{"resident_id":%s,"item_code":"%s","date":"%s","window_start":"%02d:00","window_end":"%02d:00","channel":"hotline","confirm_duplicate":true}',
    cfg.resident[i % #cfg.resident + 1], cfg.item[i % #cfg.item + 1],
    cfg.date[math.floor(i / #cfg.resident) % #cfg.date + 1], start, start + 2)
  return wrk.format("POST", "/api/v1/bookings", {
    ["Authorization"] = "Bearer " .. cfg.token[i % #cfg.token + 1],
    ["Idempotency-Key"] = prefix .. "-" .. i, ["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n', summary.requests,
    summary.duration, e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50),
    latency:percentile(99), latency.max))
end
"""


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def run_wrk(name: str, url: str, config: list[str], *, connections: int, seconds: int, server_pid: int,
            workdir: Path, threads: int = 2) -> Phase:
    """A closed loop driven by wrk; its latencies are its own (from sending to the last byte)."""
    script, conf = workdir / "bench.lua", workdir / f"wrk-{time.monotonic_ns()}.conf"
    script.write_text(WRK_SCRIPT)
    threads = min(threads, connections)
    conf.write_text("\n".join([f"threads {threads}", *config]) + "\n")
    command = [wrk_binary(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
               "-s", str(script), url, "--", str(conf)]
    with CpuMeter(server_pid) as cpu:
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    match = re.search(r"^WRK (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")
    r = json.loads(match.group(1))
    errors = {k: r[k] for k in ("connect", "read", "write", "timeout") if r[k]}
    statuses: dict = {"2xx/3xx": r["requests"] - r["status"], **({"4xx/5xx": r["status"]} if r["status"] else {}),
                      **errors}
    phase = Phase(name, r["requests"], r["duration_us"] / 1e6, statuses, [],
                  reported_ms={"p50": r["p50_us"] / 1000, "p99": r["p99_us"] / 1000, "max": r["max_us"] / 1000})
    return cpu.into(phase)


def wrk_booking_config(street: Street, today: date, prefix: str) -> list[str]:
    return ([f"prefix {prefix}"] + [f"token {t}" for t in street.operator_tokens]
            + [f"resident {r}" for r in street.resident_ids] + [f"item {i}" for i in ITEMS]
            + [f"date {today + timedelta(days=d)}" for d in range(1, 29)])


async def check_wrk_bookings(url: str, prefix: str, phase: Phase, connections: int) -> str:
    """Each 201 wrk counted is one booking and one key that keeps it; requests still in flight when wrk
    stopped may have been booked after it stopped counting (at most one per connection)."""
    await asyncio.sleep(2)   # the requests wrk left in flight finish
    conn = await connect(url)
    try:
        keys, bookings, booked = await conn.fetchrow(
            """WITH k AS (SELECT booking_id AS id FROM idempotency_keys
                          WHERE key LIKE $1 AND booking_id IS NOT NULL)
               SELECT (SELECT count(*) FROM k), (SELECT count(DISTINCT id) FROM k),
                      (SELECT count(*) FROM bookings WHERE id IN (SELECT id FROM k))""", prefix + "-%")
    finally:
        await conn.close()
    answered = phase.statuses.get("2xx/3xx", 0)
    ok = keys == bookings == booked and answered <= keys <= answered + connections and len(phase.statuses) == 1
    return (f"{'ok' if ok else 'MISMATCH'}: wrk counted {answered} answers 2xx ({phase.statuses}); "
            f"{keys} keys kept with a booking, {bookings} distinct booking ids, {booked} bookings exist")

# ------------------------------------------------------------------ pgbench


def pgbench_binary() -> str | None:
    import pgserver
    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"
    return str(bundled) if bundled.exists() else shutil.which("pgbench")


def run_pgbench(url: str, *, clients: int, seconds: int, residents: int, workdir: Path) -> dict:
    binary = pgbench_binary()
    if binary is None:
        return {"skipped": "pgbench not found"}
    script = workdir / "booking.sql"
    script.write_text(PGBENCH_SCRIPT)
    socket_dir = re.search(r"host=([^&]+)", url).group(1)
    database = url.split("?")[0].rsplit("/", 1)[1]
    command = [binary, "-n", "-f", str(script), "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
               "-D", f"residents={residents}", "-r", "-h", socket_dir, "-U", "postgres", database]
    with CpuMeter(None) as cpu:
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        return {"skipped": f"pgbench failed: {out.stderr.strip()[-300:]}"}
    tps = float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out.stdout).group(1))
    done = int(re.search(r"number of transactions actually processed: (\d+)", out.stdout).group(1))
    return {"clients": clients, "tps": tps, "latency_avg_ms": latency, "cpu_busy_pct": cpu.busy_pct,
            "pg_cpu_ms": 1000 * cpu.pg_s / done, "pgbench_cpu_ms": 1000 * cpu.children_s / done}

# ------------------------------------------------------------------ the day sheet


async def publish_day(url: str, street: Street, day: date, *, caregivers: int, per_caregiver: int) -> None:
    """Give `caregivers` caregivers `per_caregiver` visits each on `day`, the way publishing writes them."""
    from core.users import create_user, hash_password
    from booking import service as booking_service
    from providers import service as provider_service
    from providers.models import PlannedVisit

    conn = await connect(url)
    try:
        async with conn.transaction():
            provider = await factories.make_provider(conn, name="压测服务商", circle_ids=(street.circle_id,))
            bookings = [r["id"] for r in await conn.fetch(
                "SELECT id FROM bookings WHERE service_date = $1 AND status = 'pending' ORDER BY id LIMIT $2",
                day, caregivers * per_caregiver)]
            password_hash = hash_password("bench-caregiver")
            for c in range(caregivers):
                cid = await factories.make_caregiver(conn, provider_id=provider, circle_id=street.circle_id,
                                                     name=f"压测护理员{c}", shift_start=clock(6), shift_end=clock(21),
                                                     qualifications=["G", "C", "B", "N"])
                user = await create_user(conn, username=f"bench_caregiver{c}", password="bench-caregiver",
                                         password_hash=password_hash, role="caregiver", caregiver_id=cid)
                mine = bookings[c * per_caregiver:(c + 1) * per_caregiver]
                visits = [PlannedVisit(booking_id=b, caregiver_id=cid, crew_member=1, position=n,
                                       planned_start=local_instant(day, clock(7 + n)),
                                       planned_end=local_instant(day, clock(7 + n, 50)), travel_minutes=10)
                          for n, b in enumerate(mine)]
                await provider_service.write_visits(conn, plan_id=None, visits=visits)
                for v in visits:
                    await booking_service.schedule_booking(conn, v.booking_id, caregiver_id=cid,
                                                           planned_start=v.planned_start)
                street.caregivers.append((cid, await issue_token(conn, user.id, ttl=timedelta(hours=4))))
    finally:
        await conn.close()


def day_sheet_route_exists() -> bool:
    from app.main import create_app
    from app.openapi import documented_routes
    from core.settings import Settings

    app = create_app(Settings(DATABASE_URL="postgresql://unused", REDIS_URL="redis://unused",
                              CIRCLE_SECRET_KEY="routes-only"), with_background=False)
    return any(m == "GET" and p == "/api/v1/caregivers/{id}/assignments" for m, p, _h, _d in documented_routes(app))

# ------------------------------------------------------------------ profiling (optional)


def _start_profiler(pid: int, path: Path | None) -> subprocess.Popen | None:
    """py-spy (pip install py-spy) sampling the server during the closed loop; collapsed stacks to `path`."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if path is None or not Path(binary).exists():
        return None
    return subprocess.Popen([binary, "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
                             "--output", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop_profiler(profiler: subprocess.Popen | None) -> None:
    if profiler is not None:
        profiler.send_signal(2)
        profiler.wait(timeout=30)

# ------------------------------------------------------------------ main


async def run(args: argparse.Namespace) -> dict:
    results: dict = {"machine": {"cores": os.cpu_count(), "load_avg_before": os.getloadavg()}}
    tmp = Path(tempfile.mkdtemp(prefix="circle-bench-"))
    services = EmbeddedServices()
    server = None
    try:
        admin_url, redis_url, url = await start_bench_database(tmp, services, "circle_bench")
        print(f"seeding {args.residents} elders ...", flush=True)
        street = await seed(url, residents=args.residents, operators=20)
        server = ServerProcess(database_url=url, redis_url=redis_url, data_dir=tmp / "server", secret=SECRET,
                               extra_env={"CIRCLE_DB_POOL_SIZE": str(max(1, args.pool // args.workers))},
                               uvloop=args.uvloop, workers=args.workers)
        server.start()
        await server.wait_ready()
        pid = server.proc.pid
        today = local_today()
        total = args.warmup + args.requests + args.open_requests
        bodies = booking_bodies(street, total, today)
        as_requests = [("/api/v1/bookings", b, h) for b, h in bodies]
        warm = as_requests[:args.warmup]
        closed = as_requests[args.warmup:args.warmup + args.requests]
        opened = as_requests[args.warmup + args.requests:]
        print(f"booking create: warm-up {len(warm)}, closed loop {len(closed)} x {args.concurrency} clients ...",
              flush=True)
        await closed_loop("warm-up", server.url, warm, 50, pid)
        phases: list[Phase] = []
        use_wrk = wrk_binary() is not None and not args.no_wrk
        if use_wrk:
            print(f"booking create: wrk closed loop, {args.concurrency} connections, {args.wrk_seconds} s ...",
                  flush=True)
            prefix = f"wrk{os.getpid()}"
            profiler = _start_profiler(pid, args.py_spy)
            phases.append(run_wrk(f"POST /bookings wrk closed loop, {args.concurrency} conns", server.url,
                                  wrk_booking_config(street, today, prefix), connections=args.concurrency,
                                  seconds=args.wrk_seconds, server_pid=pid, workdir=tmp))
            _stop_profiler(profiler)
            results["wrk_check"] = await check_wrk_bookings(url, prefix, phases[-1], args.concurrency)
            print(f"wrk bookings check: {results['wrk_check']}", flush=True)
        else:
            results["wrk"] = "skipped: wrk not found (apt-get install wrk)" if not args.no_wrk else "skipped"
        print(f"booking create: aiohttp closed loop {len(closed)} x {args.concurrency} clients ...", flush=True)
        profiler = None if use_wrk else _start_profiler(pid, args.py_spy)
        phases.append(await closed_loop(f"POST /bookings aiohttp closed loop, {args.concurrency} clients",
                                        server.url, closed, args.concurrency, pid))
        _stop_profiler(profiler)
        python_closed = phases[-1]
        rate = args.open_rate or round(python_closed.rate * 0.5)
        print(f"open loop at {rate}/s ...", flush=True)
        profiler = _start_profiler(pid, args.py_spy.with_suffix(".open.txt") if args.py_spy else None)
        phases.append(await open_loop(f"POST /bookings open loop {rate}/s, {args.concurrency} conns", server.url,
                                      opened, rate, args.concurrency, pid))
        _stop_profiler(profiler)
        open_phase = phases[-1]
        print("pgbench ...", flush=True)
        raw = run_pgbench(url, clients=args.pool, seconds=args.pgbench_seconds, residents=args.residents, workdir=tmp)
        results["pgbench"] = raw
        if day_sheet_route_exists():
            day = today + timedelta(days=1)
            await publish_day(url, street, day, caregivers=args.caregivers, per_caregiver=8)
            reads = [(f"/api/v1/caregivers/{cid}/assignments?date={day}", None, {"Authorization": f"Bearer {tok}"})
                     for n in range(args.sheet_requests) for cid, tok in [street.caregivers[n % len(street.caregivers)]]]
            if use_wrk:
                sheet_config = [f"sheet /api/v1/caregivers/{cid}/assignments?date={day} {tok}"
                                for cid, tok in street.caregivers]
                for clients in (1, 10):
                    phases.append(run_wrk(f"GET day sheet, wrk {clients} conns", server.url, sheet_config,
                                          connections=clients, seconds=args.sheet_wrk_seconds, server_pid=pid,
                                          workdir=tmp))
            for clients in (1, 10, args.concurrency):
                phases.append(await closed_loop(f"GET day sheet, {clients} clients", server.url, reads, clients, pid))
            phases.append(await open_loop(f"GET day sheet open loop {args.sheet_rate}/s", server.url, reads,
                                          args.sheet_rate, args.concurrency, pid))
        else:
            results["day_sheet"] = "skipped: endpoint missing"
        results["phases"] = [{**asdict(p), "latencies_ms": None, "rate": p.rate, "p50_ms": p.pct(50),
                              "p99_ms": p.pct(99)} for p in phases]
        _print(phases, raw, results, args, python_closed=python_closed, open_phase=open_phase)
        return results
    finally:
        if server is not None:
            server.stop()
        services.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _print(phases: list[Phase], raw: dict, results: dict, args, *, python_closed: Phase, open_phase: Phase) -> None:
    print("\n" + "=" * 100)
    print(f"server: circle serve --workers {args.workers}, {max(1, args.pool // args.workers)} database connections "
          f"per web process")
    for phase in phases:
        print(phase.line())
    if "wrk_check" in results:
        print(f"wrk bookings check: {results['wrk_check']}")
    if "tps" in raw:
        print(f"{'pgbench raw SQL (wallet hold + booking + ledger)':<44} {raw['clients']:>3} clients "
              f"{raw['tps']:>8.0f} tx/s  avg {raw['latency_avg_ms']:.1f} ms  machine {raw['cpu_busy_pct']:.0f}% busy; "
              f"CPU/tx PostgreSQL {raw['pg_cpu_ms']:.2f} ms, pgbench {raw['pgbench_cpu_ms']:.2f} ms")
        for closed in [phases[0]] + ([python_closed] if python_closed is not phases[0] else []):  # wrk, aiohttp
            ratio = closed.rate / raw["tps"]
            http_cpu = closed.server_cpu_ms + closed.pg_cpu_ms
            key = "wrk" if closed is not python_closed else "aiohttp"
            results[f"http_to_raw_ratio_{key}"] = ratio
            results[f"cpu_ratio_{key}"] = raw["pg_cpu_ms"] / http_cpu
            print(f"HTTP booking create ({key}) / raw SQL = {ratio:.0%} by measured rate (targets: >= 25%, and "
                  f">= 500 bookings/s: {closed.rate:.0f}/s); by CPU per "
                  f"booking (server + PostgreSQL {http_cpu:.2f} ms vs {raw['pg_cpu_ms']:.2f} ms raw) = "
                  f"{results[f'cpu_ratio_{key}']:.0%}; with the load generators' CPU "
                  f"({http_cpu + closed.loadgen_cpu_ms:.2f} vs {raw['pg_cpu_ms'] + raw['pgbench_cpu_ms']:.2f} ms) = "
                  f"{(raw['pg_cpu_ms'] + raw['pgbench_cpu_ms']) / (http_cpu + closed.loadgen_cpu_ms):.0%}")
        http_cpu = phases[0].server_cpu_ms + phases[0].pg_cpu_ms
        print(f"2 cores spent on nothing else: ~{2000 / http_cpu:.0f} bookings/s over HTTP, "
              f"~{2000 / raw['pg_cpu_ms']:.0f} tx/s raw (the load generators' own CPU left out)")
    else:
        print(f"pgbench: {raw.get('skipped')}")
    print(f"open-loop p99 = {open_phase.pct(99):.1f} ms at {open_phase.rate:.0f}/s "
          f"(target < 50 ms at {args.concurrency} clients)")
    if "day_sheet" in results:
        print(f"day sheet: {results['day_sheet']}")
    print("=" * 100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.load_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="closed-loop booking requests")
    parser.add_argument("--open-requests", type=int, default=3000, help="open-loop booking requests")
    parser.add_argument("--open-rate", type=float, default=0, help="open-loop arrivals per second (0: half the "
                        "closed-loop rate)")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=10, help="the server's database connections, split over its "
                        "web processes (and pgbench's clients)")
    parser.add_argument("--workers", type=int, default=1, help="web processes (`circle serve --workers N`)")
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument("--wrk-seconds", type=int, default=15, help="wrk's booking closed loop")
    parser.add_argument("--sheet-wrk-seconds", type=int, default=8, help="each of wrk's day sheet runs")
    parser.add_argument("--no-wrk", action="store_true", help="only the aiohttp client, even with wrk installed")
    parser.add_argument("--caregivers", type=int, default=40)
    parser.add_argument("--sheet-requests", type=int, default=3000)
    parser.add_argument("--sheet-rate", type=float, default=200)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--uvloop", action="store_true", help="run the server on uvloop (an experiment; "
                        "pip install uvloop)")
    parser.add_argument("--py-spy", type=Path, help="profile the server during the closed loop (collapsed stacks)")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
