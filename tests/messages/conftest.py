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
