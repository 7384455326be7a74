"""A/B load comparison (`python -m tests.reliability.ab_bench`): prints numbers, asserts nothing.

Two `circle serve` processes — A and B, each from its own source tree (`--a-root`, `--b-root`) and with
its own number of web processes (`--a-workers`, `--b-workers`) — on one embedded PostgreSQL, driven in
turn by wrk bursts (booking create, 200 connections, `--seconds` each, `--rounds` rounds, the order
within a round alternating). The machine is shared, so each round's B/A ratio is taken from adjacent
bursts, which see nearly the same neighbour; the medians and ranges of those ratios are the result.
Needs wrk (`apt-get install wrk`).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.clock import local_today
from core.embedded import EmbeddedServices
from tests.reliability import load_bench
from tests.reliability.support import ServerProcess


@dataclass
class Side:
    name: str
    server: ServerProcess


class RootedServer(ServerProcess):
    """`circle serve` run from another source tree (an older commit's, unpacked with `git archive`)."""

    root: Path = Path(".")

    def start(self) -> None:
        from tests.reliability import support

        saved, support.ROOT = support.ROOT, self.root
        try:
            super().start()
        finally:
            support.ROOT = saved


def _side(name: str, root: Path, workers: int, *, url: str, redis_url: str, tmp: Path, pool: int) -> Side:
    server = RootedServer(database_url=url, redis_url=redis_url, data_dir=tmp / name, secret=load_bench.SECRET,
                          extra_env={"CIRCLE_DB_POOL_SIZE": str(max(1, pool // workers)),
                                     "PYTHONPATH": str(root)}, workers=workers)
    server.root = root
    return Side(name, server)


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="circle-ab-"))
    services = EmbeddedServices()
    sides: list[Side] = []
    try:
        _, redis_url, url = await load_bench.start_bench_database(tmp, services, "circle_ab")
        street = await load_bench.seed(url, residents=args.residents, operators=20)
        sides = [_side("A", args.a_root.resolve(), args.a_workers, url=url, redis_url=redis_url, tmp=tmp,
                       pool=args.pool),
                 _side("B", args.b_root.resolve(), args.b_workers, url=url, redis_url=redis_url, tmp=tmp,
                       pool=args.pool)]
        for side in sides:
            side.server.start()
        for side in sides:
            await side.server.wait_ready()
        today = local_today()
        results: dict[str, list[load_bench.Phase]] = {"A": [], "B": []}
        for n in range(args.rounds + 1):          # round 0 warms both up and is not counted
            order = sides if n % 2 == 0 else sides[::-1]
            for side in order:
                prefix = f"ab{os.getpid()}{side.name}{n}"
                phase = load_bench.run_wrk(f"{side.name} round {n}", side.server.url,
                                           load_bench.wrk_booking_config(street, today, prefix),
                                           connections=args.connections, seconds=args.seconds,
                                           server_pid=side.server.proc.pid, workdir=tmp)
                check = await load_bench.check_wrk_bookings(url, prefix, phase, args.connections)
                if not check.startswith("ok"):
                    print(check, flush=True)
                if n:
                    results[side.name].append(phase)
                print(f"{phase.line()}", flush=True)
        _report(results)
    finally:
        for side in sides:
            side.server.stop()
        services.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _report(results: dict[str, list[load_bench.Phase]]) -> None:
    a, b = results["A"], results["B"]

    def ratios(value) -> str:
        r = [value(y) / value(x) for x, y in zip(a, b)]
        return f"median {statistics.median(r):.2f} (range {min(r):.2f}-{max(r):.2f})"

    print("\n" + "=" * 100)
    for name, phases in results.items():
        print(f"{name}: bookings/s {min(p.rate for p in phases):.0f}-{max(p.rate for p in phases):.0f}, CPU per "
              f"booking server {statistics.median(p.server_cpu_ms for p in phases):.2f} + PostgreSQL "
              f"{statistics.median(p.pg_cpu_ms for p in phases):.2f} ms (medians), p99 "
              f"{min(p.pct(99) for p in phases):.0f}-{max(p.pct(99) for p in phases):.0f} ms")
    print(f"B/A per round: CPU per booking {ratios(lambda p: p.server_cpu_ms + p.pg_cpu_ms)}; server "
          f"{ratios(lambda p: p.server_cpu_ms)}; PostgreSQL {ratios(lambda p: p.pg_cpu_ms)}; rate {ratios(lambda p: p.rate)}")
    print("=" * 100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.ab_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--a-root", type=Path, default=Path("."), help="source tree of server A")
    parser.add_argument("--b-root", type=Path, default=Path("."), help="source tree of server B")
    parser.add_argument("--a-workers", type=int, default=1)
    parser.add_argument("--b-workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=10, help="database connections per server, split over its "
                        "web processes")
    args = parser.parse_args(argv)
    if load_bench.wrk_binary() is None:
        print("wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
