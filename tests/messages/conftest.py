"""Fixtures for the message tests: the real local stand-in gateway on 127.0.0.1 and a client session."""
from __future__ import annotations

import aiohttp
import pytest_asyncio

from core.sms import StandinGateway, WebhookGateway


@pytest_asyncio.fixture
async def standin():
    gateway = await StandinGateway().start()
    yield gateway
    await gateway.close()


@pytest_asyncio.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest_asyncio.fixture
async def gateway(standin, http):
    """The generic webhook gateway pointed at the stand-in."""
    return WebhookGateway(standin.url, http)


@pytest_asyncio.fixture
async def street_committed(committed_db, crypto):
    """A committed elder (for tests whose work runs on other connections); emptied by committed_db."""
    from tests import factories

    async with committed_db.transaction() as conn:
        circle_id = await factories.make_circle(conn)
        elder = await factories.make_resident(conn, crypto, circle_id=circle_id, phone="13900000009")
    return elder.id
