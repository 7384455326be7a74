"""The OpenAPI document, generated from the routes' `endpoint` declarations and pydantic models,
so it cannot drift from the code."""
from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic.json_schema import models_json_schema

from core.http import EndpointDoc

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "message_zh": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object"}}}}},
    "required": ["error"],
}


def documented_routes(app: web.Application) -> list[tuple[str, str, Any, EndpointDoc]]:
    """(method, path, handler, doc) for every route declared with `endpoint`, sub-apps included."""
    found = []
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        sub = info.get("app")
        if sub is not None:
            found += documented_routes(sub)  # a sub-app's paths already carry its prefix
            continue
        for route in resource:
            doc = getattr(route.handler, "__api__", None)
            if doc is not None and route.method != "HEAD":
                found.append((route.method, path, route.handler, doc))
    return found


def build_openapi(app: web.Application) -> dict[str, Any]:
    routes = documented_routes(app)
    models = {m for *_, d in routes for m in (d.body, d.query, d.response) if m is not None}
    refs, schema = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: (m.__name__, m.__module__))],
        ref_template="#/components/schemas/{model}")
    components = dict(schema.get("$defs", {}))
    components["Error"] = ERROR_SCHEMA
    ref_of = {model: ref for (model, _mode), ref in refs.items()}   # two models may share a name: pydantic
    paths: dict[str, dict] = {}                                      # then gives each its own, so ask it
    for method, path, _handler, doc in routes:
        paths.setdefault(path, {})[method.lower()] = _operation(path, doc, ref_of)
    return {"openapi": "3.1.0",
            "info": {"title": "Service Circle API (一刻钟服务圈)", "version": "1"},
            "components": {"schemas": components,
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "paths": paths}


def _operation(path: str, doc: EndpointDoc, ref_of: dict) -> dict[str, Any]:
    _ref = ref_of.__getitem__
    op: dict[str, Any] = {"summary": doc.summary, "parameters": _parameters(path, doc)}
    if doc.roles is not None:
        op["security"] = [{"bearer": []}]
        op["x-roles"] = list(doc.roles)
    if doc.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(doc.body)}}}
    ok = {"description": "success"}
    if doc.response is not None:
        ok["content"] = {doc.content_type: {"schema": _ref(doc.response)}}
    error = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    codes = ("401", "403", "404", "409", "422", *map(str, doc.errors))
    op["responses"] = {str(doc.status): ok, **{code: error for code in codes}}
    return op


def _parameters(path: str, doc: EndpointDoc) -> list[dict]:
    params = [{"name": part[1:-1], "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 0, "maximum": 2 ** 63 - 1}}
              for part in path.split("/") if part.startswith("{")]
    params += [{"name": name, "in": "header", "required": False, "description": text, "schema": {"type": "string"}}
               for name, text in doc.headers]
    if doc.query is not None:
        schema = doc.query.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in schema.get("required", []),
                           "schema": prop})
    return params
