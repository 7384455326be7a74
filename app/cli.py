"""The `circle` command line: serve, init-db, demo, users, series, worker, bench."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from core.settings import Settings

DEMO_LOGINS = ("resident", "family", "operator", "dispatcher", "provider_admin", "caregiver", "admin")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    logging.basicConfig(level=Settings().log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.run(args) or 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="circle", description="Service Circle (一刻钟服务圈)")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the web service (and a planning worker)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--demo", action="store_true", help="load the demo street into an empty database")
    serve.add_argument("--no-worker", action="store_true", help="do not start a planning worker in-process")
    serve.add_argument("--workers", type=_positive, default=1, metavar="N",
                       help="web processes sharing the port (SO_REUSEPORT, Linux); the planning worker, "
                            "if any, runs in the first only")
    serve.set_defaults(run=_serve)
    sub.add_parser("init-db", help="create or upgrade the database (migrations/) and load the menu").set_defaults(
        run=_init_db)
    sub.add_parser("demo", help="load the demo street into an empty database").set_defaults(run=_demo)
    users = sub.add_parser("users", help="manage users").add_subparsers(dest="users_command", required=True)
    create = users.add_parser("create", help="create a user")
    for flag in ("--username", "--role"):
        create.add_argument(flag, required=True)
    create.add_argument("--password", help="omit to be asked (keeps it out of the process list)")
    for flag in ("--resident-id", "--provider-id", "--caregiver-id", "--circle-id"):
        create.add_argument(flag, type=int)
    create.add_argument("--display-name", default="")
    create.set_defaults(run=_create_user)
    series = sub.add_parser("series", help="repeating bookings").add_subparsers(dest="series_command", required=True)
    series.add_parser("materialize", help="create the coming days' bookings of every series").set_defaults(
        run=_materialize)
    sub.add_parser("worker", help="run a planning worker (Redis Stream consumer)").set_defaults(run=_worker)
    sim = sub.add_parser("simulate", help="run the demo street through N days on a simulated clock; print the outcomes")
    sim.add_argument("--days", type=int, default=30)
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--elders", type=int, default=150, help="elders in the street (split over its two circles)")
    sim.add_argument("--caregivers", type=int, default=None, help="caregivers (default: the demo roster, 20)")
    sim.add_argument("--plan-seconds", type=int, default=30, help="the solver's time cap per circle-day (the "
                     "solution limit stops it first, which keeps a seed's plans the same)")
    sim.add_argument("--json", action="store_true", help="print the outcomes as one JSON object")
    sim.add_argument("--report", type=Path, help="also write an HTML report (Chinese, with charts) here")
    sim.set_defaults(run=_simulate)
    bench = sub.add_parser("bench", help="benchmarks: vrptw, homecare (see docs/benchmarks.md)", add_help=False)
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    bench.set_defaults(run=_bench)
    return parser

# ------------------------------------------------------------------ commands


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _settings(args: argparse.Namespace | None = None) -> Settings:
    settings = Settings()
    if args is not None and getattr(args, "port", None):
        settings.port = args.port
    if args is not None and getattr(args, "host", None):
        settings.host = args.host
    return settings


def _serve(args: argparse.Namespace) -> int:
    from core.embedded import ensure_services

    settings = _settings(args)
    services = ensure_services(settings)
    settings.database_url, settings.redis_url = services.database_url, services.redis_url
    settings.start_worker = settings.start_worker and not args.no_worker
    if args.demo:
        _demo_standins(settings)
    try:
        demo_loaded = asyncio.run(_prepare_database(settings, demo=args.demo))
        if demo_loaded is not None:
            _print_demo_logins(settings)
        if args.workers == 1:
            _run_web(settings, announce=True)
            return 0
        return _serve_processes(settings, args.workers)
    finally:
        services.stop()


def _demo_standins(settings: Settings) -> None:
    """The demo's maps: with no tile server or geocoder configured, the local stand-ins (app/standins.py),
    mounted on this server at /standin: street tiles, and AMap's geocoding protocol."""
    from app.standins import STANDIN_KEY

    if settings.tile_url or settings.geocoder:
        return
    updates = {"CIRCLE_STANDINS": "1", "CIRCLE_TILE_URL": "/standin/tiles/{z}/{x}/{y}.svg",
               "CIRCLE_TILE_ATTRIBUTION": "本地示意底图（演示）", "CIRCLE_GEOCODER": "amap",
               "CIRCLE_GEOCODER_KEY": STANDIN_KEY,
               "CIRCLE_GEOCODER_URL": f"http://127.0.0.1:{settings.port}/standin/amap"}
    os.environ.update(updates)  # the web processes of --workers read them too
    settings.standins, settings.tile_url, settings.tile_attribution = True, updates["CIRCLE_TILE_URL"], \
        updates["CIRCLE_TILE_ATTRIBUTION"]
    settings.geocoder, settings.geocoder_key = "amap", STANDIN_KEY
    settings.geocoder_url = updates["CIRCLE_GEOCODER_URL"]


def _run_web(settings: Settings, *, announce: bool, reuse_port: bool = False) -> None:
    from aiohttp import web

    from core.http import RedactingAccessLogger
    from app.main import create_app

    web.run_app(create_app(settings), host=settings.host, port=settings.port, access_log_class=RedactingAccessLogger,
                reuse_port=reuse_port or None,
                print=(lambda _: print(f"Service Circle on http://{settings.host}:{settings.port}/")) if announce
                else None)


def _serve_processes(settings: Settings, workers: int) -> int:
    """`circle serve --workers N`: N web processes (spawned, each with its own event loop and pool)
    listening on the same port with SO_REUSEPORT, the kernel spreading connections over them. This
    process only starts and watches them: SIGTERM or SIGINT stops them all; when one exits by
    itself, the others are stopped and the exit status is 1 (a supervisor restarts the lot). The
    planning worker (and its chores), if any, starts in the first process only."""
    import multiprocessing
    import signal
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    processes = []
    stopping: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: stopping.append(signum))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    exited: list[str] = []
    try:
        for n in range(workers):
            own = settings.model_copy(update={"start_worker": settings.start_worker and n == 0})
            process = context.Process(target=_web_process, args=(own, n, os.getpid()), name=f"circle-web-{n}")
            process.start()
            processes.append(process)
        print(f"Service Circle on http://{settings.host}:{settings.port}/ ({workers} web processes)", flush=True)
        while not stopping and not exited:
            wait([p.sentinel for p in processes], timeout=0.5)
            exited = [f"{p.name} ({p.exitcode})" for p in processes if not p.is_alive()]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if stopping == [signal.SIGINT]:   # Ctrl-C reached the whole process group: give them a moment
            wait([p.sentinel for p in processes], timeout=2)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
    if exited and not stopping:
        logging.getLogger(__name__).error("web process %s exited; all stopped", ", ".join(exited))
        return 1
    return 0


def _web_process(settings: Settings, number: int, parent_pid: int) -> None:
    """One of `--workers N`: ends with its parent (SIGTERM when the parent dies, even by SIGKILL).

    Once its app has shut down, it leaves with `os._exit`: multiprocessing would otherwise wait for
    every child it still has, and a solver Manager that finished starting while the app was being
    stopped during its warm-up (dispatch/jobs/pool.py) is never shut down — the process hung ~60 s.
    Such children leave by themselves when their parent is gone (`exit_with_parent`)."""
    logging.basicConfig(level=settings.log_level.upper(),
                        format=f"%(asctime)s %(levelname)s [web {number}] %(name)s: %(message)s")
    _die_with_parent(parent_pid)
    try:
        _run_web(settings, announce=False, reuse_port=True)
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _die_with_parent(parent_pid: int) -> None:
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:      # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


async def _prepare_database(settings: Settings, *, demo: bool) -> bool | None:
    """Apply the schema, load the menu if empty; with `demo`, the demo street if no residents."""
    from core.db import apply_schema, connect
    from booking.seed import load_menu

    conn = await connect(settings.database_url)
    try:
        await apply_schema(conn)
        if not await conn.fetchval("SELECT count(*) FROM menu_items"):
            await load_menu(conn)
        if not demo:
            return None
        return await _load_demo_if_empty(conn, settings)
    finally:
        await conn.close()


async def _load_demo_if_empty(conn, settings: Settings) -> bool:
    from core.crypto import Crypto
    from app.demo import load_demo

    if await conn.fetchval("SELECT count(*) FROM residents"):
        return False
    async with conn.transaction():
        summary = await load_demo(conn, Crypto(settings.resolved_secret()))
    print("Demo street loaded:", *summary.lines(), sep="\n  ")
    return True


def _print_demo_logins(settings: Settings) -> None:
    print("\nDemo logins (username / password):")
    for role in DEMO_LOGINS:
        print(f"  {role:<15} demo-{role}")
    print(f"Open http://{settings.host}:{settings.port}/ in a browser.\n")


def _simulate(args: argparse.Namespace) -> int:
    from app.simulate_cli import run_simulation

    return run_simulation(args)


def _with_services(coro_factory):
    """Run `coro_factory(settings)` with embedded services when no URLs are set."""
    from core.embedded import ensure_services

    settings = _settings()
    services = ensure_services(settings)
    settings.database_url, settings.redis_url = services.database_url, services.redis_url
    try:
        return asyncio.run(coro_factory(settings))
    finally:
        services.stop()


def _init_db(args: argparse.Namespace) -> int:
    """Create or upgrade the database; refuse (exit status 1) one the migrations cannot bring up to
    this code's version, e.g. a database newer than the code."""
    from core.migrations import MigrationError, current_version

    async def run(settings: Settings) -> int:
        from core.db import connect

        await _prepare_database(settings, demo=False)
        conn = await connect(settings.database_url)
        try:
            return await current_version(conn)
        finally:
            await conn.close()
    try:
        version = _with_services(run)
    except MigrationError as exc:
        print(f"circle init-db: {exc}", file=sys.stderr)
        return 1
    print(f"schema at version {version}; menu loaded")
    return 0


def _demo(args: argparse.Namespace) -> int:
    async def run(settings: Settings) -> bool | None:
        return await _prepare_database(settings, demo=True)
    loaded = _with_services(run)
    print("demo street loaded" if loaded else "the database already has residents: demo not loaded")
    return 0 if loaded else 1


def _create_user(args: argparse.Namespace) -> int:
    from core.errors import ApiError
    from core.roles import ROLES
    from core.users import check_password

    if args.role not in ROLES:
        print(f"--role must be one of: {', '.join(ROLES)}", file=sys.stderr)
        return 2
    args.password = args.password or _ask_password()
    if not args.password:
        print("a password is needed", file=sys.stderr)
        return 2
    try:
        check_password(args.password)
    except ApiError as refused:
        print(f"--password: {refused.details[0]['message']} ({refused.message_zh})", file=sys.stderr)
        return 2

    async def run(settings: Settings):
        from core.users import create_user
        from core.db import connect

        conn = await connect(settings.database_url)
        try:
            return await create_user(conn, username=args.username, password=args.password, role=args.role,
                                     display_name=args.display_name, resident_id=args.resident_id,
                                     provider_id=args.provider_id, caregiver_id=args.caregiver_id,
                                     circle_id=args.circle_id)
        finally:
            await conn.close()
    user = _with_services(run)
    print(f"user {user.username} ({user.role}) created with id {user.id}")
    return 0


def _ask_password() -> str:
    import getpass

    first = getpass.getpass("password: ")
    return first if first and getpass.getpass("again: ") == first else ""


def _materialize(args: argparse.Namespace) -> int:
    async def run(settings: Settings) -> int:
        from core.db import Database, create_pool
        from booking.service import materialize_series

        pool = await create_pool(settings.database_url, size=2)
        try:
            return await materialize_series(Database(pool))
        finally:
            await pool.close()
    print(f"{_with_services(run)} bookings created from series")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from dispatch.jobs.lifecycle import run_worker

    return _with_services(run_worker) or 0


def _bench(args: argparse.Namespace) -> int:
    from dispatch.bench import main as bench_main

    return bench_main(args.rest)


if __name__ == "__main__":
    sys.exit(main())
