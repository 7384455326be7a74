"""Shared tools of the reliability suites: a `circle serve` subprocess that can be SIGKILLed and
restarted, a retrying load generator with Idempotency-Keys, the integrity checks run after
every fault, and a scan for secrets in text (responses, logs)."""
from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[2]
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def database_url_with_name(url: str, name: str) -> str:
    """The same server, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def id_card(first17: str) -> str:
    """A valid 18-character ID-card number (GB 11643 check character) from 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS))
    return first17 + "10X98765432"[total % 11]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def secrets_in(text: str, secrets: Iterable[str]) -> list[str]:
    """The secrets that occur in `text` (also JSON-escaped, as \\uXXXX)."""
    found = []
    for secret in secrets:
        escaped = secret.encode("ascii", "backslashreplace").decode().replace("\\x", "\\u00")
        if secret in text or escaped in text:
            found.append(secret)
    return found

# ------------------------------------------------------------------ the server subprocess


@dataclass
class ServerProcess:
    """`circle serve --no-worker` in a subprocess; stdout and stderr go to `log_path`."""

    database_url: str
    redis_url: str
    data_dir: Path
    secret: str
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    uvloop: bool = False      # an experiment: the same server on uvloop's event loop (pip install uvloop)
    workers: int = 1          # `circle serve --workers N`: web processes sharing the port
    planning_worker: bool = False   # start the in-process planning worker (otherwise --no-worker)
    proc: subprocess.Popen | None = None
    starts: int = 0
    kills: int = 0
    orphans: int = 0          # processes of a killed server still alive after it (its solver pool's children)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CIRCLE_"))}
        env.update(DATABASE_URL=self.database_url, REDIS_URL=self.redis_url, CIRCLE_DATA_DIR=str(self.data_dir),
                   CIRCLE_SECRET_KEY=self.secret, CIRCLE_START_WORKER="0", CIRCLE_LOGIN_RATE="100000",
                   PYTHONUNBUFFERED="1", **self.extra_env)
        if self.planning_worker:
            env["CIRCLE_START_WORKER"] = "1"
        return env

    def start(self) -> None:
        self.log_path = self.log_path or self.data_dir / "server.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            entry = (["-c", "import sys, uvloop; uvloop.install(); from app.cli import main; sys.exit(main())"]
                     if self.uvloop else ["-m", "app.cli"])
            self.proc = subprocess.Popen(
                [sys.executable, *entry, "serve", *([] if self.planning_worker else ["--no-worker"]),
                 *(["--workers", str(self.workers)] if self.workers != 1 else []),
                 "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)  # its own process group, for the clean-up
        self.starts += 1

    async def wait_ready(self, timeout_s: float = 60) -> float:
        """Poll /healthz until it answers 200; returns the seconds waited."""
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:
            while time.monotonic() - started < timeout_s:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log_path}")
                try:
                    async with session.get(self.url + "/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200:
                            return time.monotonic() - started
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError(f"the server did not become ready in {timeout_s} s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the server process (not its children: as when the OOM killer picks it); no
        shutdown handler runs, in-flight transactions are cut off. Whatever of its process group
        outlives it is counted in `orphans`, then killed too."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.kills += 1
            time.sleep(0.2)
            self.orphans += self._end_group()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None:
            self._end_group()

    def group_pids(self) -> list[int]:
        """The live processes of the server's process group (itself, its web processes, solver pools)."""
        if self.proc is None:
            return []
        return [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and _pgid(int(d.name)) == self.proc.pid]

    def _end_group(self) -> int:
        """SIGKILL what is left of the server's process group; returns how many processes that was."""
        group = self.proc.pid
        left = [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and _pgid(int(d.name)) == group]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(left)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

def _pgid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, ValueError, IndexError):
        return None


def tracebacks(log: str) -> list[str]:
    """The tracebacks in a log, each as text; a child process's broken pipe to a parent that was
    SIGKILLed (multiprocessing) is the kill's doing, not the service's, and is left out."""
    blocks = re.split(r"(?m)^(?=Traceback \(most recent call last\):)", log)[1:]
    found = []
    for block in blocks:
        lines = block.splitlines()
        end = next((i for i, line in enumerate(lines[1:], 1) if not line.startswith((" ", "\t"))), len(lines) - 1)
        text = "\n".join(lines[:end + 1])
        if "multiprocessing" in text and re.search(r"^(BrokenPipeError|EOFError|ConnectionResetError)", lines[end]):
            continue
        found.append(text)
    return found

# ------------------------------------------------------------------ the retrying load generator


@dataclass
class LoadResult:
    acked: dict[str, dict] = field(default_factory=dict)        # key -> 201 body
    statuses: dict[int, int] = field(default_factory=dict)      # every answer seen, by status
    connection_errors: int = 0
    refused: list[tuple[str, int, str]] = field(default_factory=list)  # key, status, body (not 201/503)
    latencies_s: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0


async def post_bookings(url_of: Any, requests: list[tuple[str, dict, dict]], *, concurrency: int,
                        deadline_s: float, on_ack=None, timeout_s: float = 10) -> LoadResult:
    """POST each (key, body, headers) to /api/v1/bookings with its Idempotency-Key until it is
    answered 201 (or refused with another 4xx), retrying the same key on connection errors and 503.
    `url_of()` gives the server's base URL at that moment. Stops at `deadline_s` whatever happens."""
    result = LoadResult()
    queue = list(reversed(requests))
    started = time.monotonic()
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def one(session: aiohttp.ClientSession, key: str, body: dict, headers: dict) -> None:
        while time.monotonic() - started < deadline_s:
            sent = time.monotonic()
            try:
                async with session.post(url_of() + "/api/v1/bookings", json=body,
                                        headers={**headers, "Idempotency-Key": key}) as response:
                    text = await response.text()
                    status = response.status
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                result.connection_errors += 1
                await asyncio.sleep(0.02 + random.random() * 0.05)
                continue
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status == 201:
                result.latencies_s.append(time.monotonic() - sent)
                result.acked[key] = json.loads(text)
                if on_ack:
                    on_ack(len(result.acked))
                return
            if status == 503:
                await asyncio.sleep(0.02 + random.random() * 0.05)
                continue
            result.refused.append((key, status, text[:300]))
            return

    async def worker(session: aiohttp.ClientSession) -> None:
        while queue and time.monotonic() - started < deadline_s:
            await one(session, *queue.pop())

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    result.elapsed_s = time.monotonic() - started
    return result

# ------------------------------------------------------------------ integrity after faults


async def integrity_problems(conn: asyncpg.Connection, acked: dict[str, dict] | None = None) -> list[str]:
    """Everything wrong with the bookings, the ledger and the idempotency records (empty = sound).

    - every acknowledged booking exists, exactly once, as it was acknowledged;
    - every idempotency key that was claimed holds its response (nothing half-written), and every
      booking made with a key is the response of exactly one key;
    - a subsidised booking has exactly one hold of its subsidy; an unsubsidised one has none;
      a ledger entry other than a grant belongs to a booking of the same wallet;
    - every wallet has one grant, stays within it and reconciles with its ledger.
    """
    from booking import queries

    problems: list[str] = []
    rows = await conn.fetch("SELECT id, resident_id, subsidy_fen, price_fen, self_pay_fen, status FROM bookings")
    bookings = {r["id"]: r for r in rows}
    keys = await conn.fetch("SELECT user_id, key, booking_id FROM idempotency_keys")
    half = [f"{k['user_id']}/{k['key']}" for k in keys if k["booking_id"] is None]
    if half:
        problems.append(f"{len(half)} idempotency keys claimed without a booking: {half[:5]}")
    by_booking: dict[int, int] = {}
    for k in keys:
        if k["booking_id"] is not None:
            booking_id = k["booking_id"]
            by_booking[booking_id] = by_booking.get(booking_id, 0) + 1
            if booking_id not in bookings:
                problems.append(f"key {k['key']} answers booking {booking_id}, which does not exist")
    doubles = {b: n for b, n in by_booking.items() if n > 1}
    if doubles:
        problems.append(f"bookings answered for more than one key: {list(doubles.items())[:5]}")
    for key, body in (acked or {}).items():
        row = bookings.get(body["id"])
        if row is None:
            problems.append(f"acknowledged booking {body['id']} (key {key}) is missing")
        elif (row["subsidy_fen"], row["price_fen"]) != (body["subsidy_fen"], body["price_fen"]):
            problems.append(f"booking {body['id']} differs from its acknowledgement")
    problems += await _ledger_problems(conn, bookings)
    bad = await queries.wallets_not_reconciling(conn)
    if bad:
        problems.append(f"{len(bad)} wallets do not reconcile with their ledger: {[tuple(r) for r in bad[:5]]}")
    over = await conn.fetchval("SELECT count(*) FROM subsidy_wallets WHERE held_fen + spent_fen > granted_fen")
    if over:
        problems.append(f"{over} wallets overspent")
    return problems


async def _ledger_problems(conn: asyncpg.Connection, bookings: dict[int, asyncpg.Record]) -> list[str]:
    problems = []
    holds = await conn.fetch(
        """SELECT booking_id, count(*) AS n, sum(amount_fen) AS fen FROM wallet_entries
           WHERE kind = 'hold' GROUP BY booking_id""")
    hold_of = {r["booking_id"]: r for r in holds}
    for booking_id, row in bookings.items():
        hold = hold_of.get(booking_id)
        if row["subsidy_fen"] and (hold is None or hold["n"] != 1 or hold["fen"] != row["subsidy_fen"]):
            problems.append(f"booking {booking_id} holds {row['subsidy_fen']} fen without exactly one hold entry")
        if not row["subsidy_fen"] and hold is not None:
            problems.append(f"booking {booking_id} is not subsidised but has a hold entry")
    orphans = await conn.fetchval(
        """SELECT count(*) FROM wallet_entries e LEFT JOIN bookings b ON b.id = e.booking_id
           WHERE e.kind <> 'grant' AND (b.id IS NULL OR b.resident_id <> e.resident_id
                 OR date_trunc('month', b.service_date)::date <> e.month)""")
    if orphans:
        problems.append(f"{orphans} ledger entries belong to no booking of their wallet")
    grants = await conn.fetchval(
        """SELECT count(*) FROM subsidy_wallets w WHERE (SELECT count(*) FROM wallet_entries e
           WHERE e.resident_id = w.resident_id AND e.month = w.month AND e.kind = 'grant') <> 1""")
    if grants:
        problems.append(f"{grants} wallets without exactly one grant")
    return problems
