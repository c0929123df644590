"""A route decorator that validates bodies with marshmallow and records OpenAPI data.

Every JSON endpoint is declared with :func:`api_route`: the request body and query
string are loaded through their schemas (422 with field errors on failure), the view
returns plain data that is dumped through the response schema, and the same metadata
feeds ``GET /api/openapi.json``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import orjson
from flask import Blueprint, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from marshmallow import Schema, ValidationError

from engine.errors import BadRequest, NotFound, ValidationFailed
from engine.jsondata import MAX_DEPTH, check_depth, encode


@dataclass
class Operation:
    rule: str
    method: str
    summary: str
    tag: str
    body: type[Schema] | None
    query: type[Schema] | None
    response: type[Schema] | None
    status: int
    auth: bool
    content: str | tuple[str, ...] = "application/json"
    errors: tuple[int, ...] = field(default_factory=tuple)
    alt_status: tuple[int, ...] = field(default_factory=tuple)
    download: type[Schema] | None = None


def _finite(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:20]!r} is not finite")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


# datetimes and dataclasses go to Flask's own conversion (HTTP dates), as with the json module
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class StrictJSONProvider(DefaultJSONProvider):
    """Request JSON is standard JSON: ``NaN``/``Infinity`` (and numbers like ``1e400`` that only
    a float infinity can hold) are refused, so they can never be stored and served back as
    invalid JSON (SQLite keeps them; PostgreSQL's json type refuses them); so is JSON nested
    deeper than ``engine.jsondata.MAX_DEPTH``."""

    def dumps(self, obj, **kwargs):
        if kwargs:
            return super().dumps(obj, **kwargs)
        return encode(obj, self.default, _PASSTHROUGH).decode("utf-8")

    def response(self, *args, **kwargs):
        """The JSON response, encoded by orjson (several times faster than the json module;
        the same output: UTF-8, keys in order, dates as Flask writes them)."""
        return self._app.response_class(encode(self._prepare_response_obj(args, kwargs), self.default, _PASSTHROUGH),
                                        mimetype=self.mimetype)

    def loads(self, s, **kwargs):
        check_depth(s)  # a TooDeep ValueError: refused as bad JSON before the parser recurses
        kwargs.setdefault("parse_constant", _no_constant)
        kwargs.setdefault("parse_float", _finite)
        return super().loads(s, **kwargs)


OPERATIONS: list[Operation] = []
_schemas: dict[type, Schema] = {}


def schema(cls: type[Schema]) -> Schema:
    inst = _schemas.get(cls)
    if inst is None:
        inst = _schemas[cls] = cls()
    return inst


def _load(cls: type[Schema], payload, where: str):
    try:
        return schema(cls).load(payload)
    except ValidationError as exc:
        raise ValidationFailed(f"invalid {where}", exc.messages) from exc


def _json_body():
    """The request's JSON body (400 when it is not standard JSON or nested too deeply)."""
    try:
        payload = request.get_json(silent=True)
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    if payload is None:
        raise BadRequest("request body must be a JSON object (Content-Type: application/json; "
                         f"standard JSON: no NaN or Infinity, nested at most {MAX_DEPTH} deep)")
    return payload


def _query_args() -> dict:
    nul = sorted({k for k, v in request.args.items(multi=True) if "\x00" in k or "\x00" in v})
    if nul:
        raise ValidationFailed("invalid query parameters", {k: ["must not contain NUL characters"] for k in nul})
    return request.args.to_dict()


def api_route(
    bp: Blueprint,
    rule: str,
    method: str = "GET",
    *,
    summary: str,
    body: type[Schema] | None = None,
    query: type[Schema] | None = None,
    response: type[Schema] | None = None,
    status: int = 200,
    auth: bool = True,
    content: str | tuple[str, ...] = "application/json",
    errors: tuple[int, ...] = (),
    alt_status: tuple[int, ...] = (),
    download: type[Schema] | None = None,
):
    """Register a JSON endpoint; the view gets ``body=`` / ``args=`` keyword arguments.

    ``content`` names the accepted non-JSON body type(s) (a multipart body carries field
    ``file``); ``alt_status`` lists other success codes the view may return (e.g. 200 for
    an idempotent no-op), documented with the same response schema. ``download`` names the
    item schema of a ``?format=json|csv`` download the view may return instead of the page
    (a JSON array of items, or CSV text).
    """

    def decorator(view):
        OPERATIONS.append(
            Operation(
                bp.url_prefix + rule, method, summary, bp.name, body, query, response, status, auth, content, errors,
                alt_status, download,
            )
        )

        @functools.wraps(view)
        def wrapper(**kwargs):
            if auth:
                from web.auth import require_actor

                require_actor()
            if any(isinstance(v, str) and "\x00" in v for v in kwargs.values()):
                # nothing is named with a NUL character (and PostgreSQL text cannot even hold one)
                raise NotFound("not found: the path contains a NUL character")
            if body is not None:
                kwargs["body"] = _load(body, _json_body(), "request body")
            if query is not None:
                kwargs["args"] = _load(query, _query_args(), "query parameters")
            result = view(**kwargs)
            if response is None or not isinstance(result, (dict, list)):
                return result
            return jsonify(schema(response).dump(result)), status

        bp.add_url_rule(rule, endpoint=view.__name__, view_func=wrapper, methods=[method])
        return wrapper

    return decorator


def actor():
    return g.actor


_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def _request_body(op: Operation) -> dict | None:
    if op.body is not None:
        return {"required": True, "content": {"application/json": {"schema": op.body}}}
    if op.content == "application/json":
        return None
    kinds = (op.content,) if isinstance(op.content, str) else op.content
    return {"required": True, "content": {
        kind: {"schema": "FileUpload" if kind == "multipart/form-data" else {"type": "string", "format": "binary"}}
        for kind in kinds
    }}


def _responses(op: Operation) -> dict:
    out: dict[str, dict] = {}
    for code in (op.status, *op.alt_status):
        ok = {"description": "success"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": op.response}}
        if op.download is not None:
            ok["content"] = {
                "application/json": {"schema": {"oneOf": [op.response, {"type": "array", "items": op.download}]}},
                "text/csv": {"schema": {"type": "string"}},
            }
        out[str(code)] = ok
    codes = set(op.errors) | ({401} if op.auth else set()) | ({422} if (op.body or op.query) else set())
    if op.body is not None or op.content != "application/json":
        codes.add(400)  # a body that is not JSON (or not the documented kind) at all
    for code in sorted(codes):
        out[str(code)] = {"description": "error", "content": {"application/json": {"schema": "Error"}}}
    return out


def _operation(op: Operation) -> dict:
    """The OpenAPI operation of one registered endpoint."""
    params = [
        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}} for name in _PARAM.findall(op.rule)
    ]
    if op.query is not None:
        params.append({"in": "query", "schema": op.query})
    operation: dict = {"summary": op.summary, "tags": [op.tag], "parameters": params, "responses": _responses(op)}
    body = _request_body(op)
    if body is not None:
        operation["requestBody"] = body
    if op.auth:
        operation["security"] = [{"bearer": []}]
    return operation


def openapi_document() -> dict:
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin
    from flask import current_app

    from web.schemas.common import ErrorSchema

    spec = APISpec(
        title="BPM engine API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Process definitions, forms, documents, instances and tasks."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.schema(
        "FileUpload",
        {
            "type": "object",
            "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary", "description": "the file"}},
        },
    )
    paths: dict[str, dict] = {}
    mounted = set(current_app.blueprints)
    for op in OPERATIONS:
        if op.tag not in mounted:  # e.g. the controlled-clock endpoints, only mounted on request
            continue
        paths.setdefault(_PARAM.sub(r"{\1}", op.rule), {})[op.method.lower()] = _operation(op)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
