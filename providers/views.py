"""Provider routes: parse, one service call, respond."""
from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
