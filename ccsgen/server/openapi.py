"""The route table's vocabulary, request validation and the OpenAPI 3.1 document — one source of truth.

Each API route is declared once as a :class:`Route` (method, path, parameters, body, response schema,
documented errors). ``app.py`` registers the routes from those declarations, :func:`parse_params` /
:func:`parse_body` validate requests against them, and :func:`spec` turns the same list into
``/openapi.json``. Nothing here knows about Bottle.

Two error shapes, one per API surface (see the seeds):

- ``ccsinfo`` (routes at the root): FastAPI's — ``{"detail": "Session not found"}`` for 400/404 and
  ``{"detail": [{"type", "loc", "msg", "input"}]}`` with 422 for invalid parameters;
- ``api`` (StackUnderflow, under ``/api/``): ``{"error": "…"}``, with 400 for invalid parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------- JSON Schema helpers

STR: dict = {"type": "string"}
INT: dict = {"type": "integer"}
NUM: dict = {"type": "number"}
BOOL: dict = {"type": "boolean"}
ANY: dict = {}
DATETIME: dict = {"type": "string", "format": "date-time"}
DATE: dict = {"type": "string", "format": "date"}
OBJ: dict = {"type": "object", "additionalProperties": True}


def nullable(s: dict) -> dict:
    return {"anyOf": [s, {"type": "null"}]}


def arr(items: dict) -> dict:
    return {"type": "array", "items": items}


def obj(required: tuple[str, ...] | list[str] | None = None, extra: bool = True, **props: dict) -> dict:
    """An object schema; every property is required unless ``required`` names a subset."""
    d: dict[str, Any] = {"type": "object", "properties": props,
                         "required": list(props if required is None else required)}
    if not extra:
        d["additionalProperties"] = False
    return d


def mapping(values: dict) -> dict:
    """An object used as a map (``{name: value}``)."""
    return {"type": "object", "additionalProperties": values}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Param:
    """A query or path parameter. ``kind``: string, integer, boolean."""

    name: str
    kind: str = "string"
    where: str = "query"
    required: bool = False
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    max_length: int | None = None
    description: str = ""

    def schema(self) -> dict:
        s: dict[str, Any] = {"type": self.kind}
        if self.minimum is not None:
            s["minimum"] = self.minimum
        if self.maximum is not None:
            s["maximum"] = self.maximum
        if self.enum:
            s["enum"] = list(self.enum)
        if self.pattern:
            s["pattern"] = self.pattern
        if self.max_length:
            s["maxLength"] = self.max_length
        if self.default is not None:
            s["default"] = self.default
        if not self.required and self.default is None and self.where == "query":
            s = {"anyOf": [s, {"type": "null"}]}
        return s


def Q(name: str, kind: str = "string", **kw: Any) -> Param:  # noqa: N802 - reads like a declaration
    return Param(name, kind, "query", **kw)


def P(name: str, **kw: Any) -> Param:  # noqa: N802
    return Param(name, "string", "path", required=True, **kw)


@dataclass(frozen=True)
class Body:
    """A JSON request body: ``fields`` are the object's properties (JSON Schemas), ``required`` the names
    the handler cannot do without (their absence answers 400 with the seed's message)."""

    fields: dict[str, dict] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    description: str = ""

    def schema(self) -> dict:
        # required fields are declared in the spec too, so generated clients send them; the server still
        # answers 400 (not 422) when they are missing, as the seed says.
        return {"type": "object", "properties": self.fields, "required": list(self.required),
                "additionalProperties": True}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # OpenAPI style: /sessions/{session_id}
    handler: Callable[..., Any]
    surface: str  # "ccsinfo" or "api"
    tag: str
    summary: str
    params: tuple[Param, ...] = ()
    body: Body | None = None
    response: dict = field(default_factory=lambda: dict(OBJ))
    status: int = 200
    errors: tuple[int, ...] = ()
    description: str = ""
    #: the answer is a pure function of the Catalog snapshot, the parameters and ``depends`` (the server may
    #: cache it; see app.py's ``cache_key``)
    cacheable: bool = False
    #: what else the answer depends on: "project" (the server's current project and whether a refresh is
    #: running), "index" (the search index on disk), "userdata" (manual tags and bookmarks on disk)
    depends: tuple[str, ...] = ()

    @property
    def bottle_path(self) -> str:
        # a tag ends its path and may hold a "/" (sent as %2F, which the server decodes before routing)
        return re.sub(r"\{(\w+)\}", r"<\1>", re.sub(r"\{tag\}$", "<tag:path>", self.path))

    @property
    def operation_id(self) -> str:
        return f"{self.method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', self.path).strip('_') or 'root'}"


# ---------------------------------------------------------------- errors handlers raise


class ApiError(Exception):
    """An error with a status, rendered in the route's surface shape (``detail`` or ``error``)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Unavailable(Exception):
    """A service (search, Q&A, tags, bookmarks) is not available: 503."""

    def __init__(self, service: str):
        super().__init__(f"{service.capitalize() if service != 'qa' else 'Q&A'} service unavailable")
        self.service = service


# ---------------------------------------------------------------- validation


class Invalid(Exception):
    """Parameters that fail their declaration: ``errors`` in FastAPI's shape."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in errors))
        self.errors = errors


_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}
_INT_RE = re.compile(r"^[+-]?\d+$")


def _err(kind: str, loc: list, msg: str, inp: Any, **ctx: Any) -> dict:
    d = {"type": kind, "loc": loc, "msg": msg, "input": inp}
    if ctx:
        d["ctx"] = ctx
    return d


def coerce(p: Param, raw: str | None) -> tuple[Any, dict | None]:
    """One raw value -> (value, error)."""
    loc = [p.where, p.name]
    if raw is None:
        if p.required:
            return None, _err("missing", loc, "Field required", None)
        return p.default, None
    if p.kind == "integer":
        s = raw.strip()
        if not _INT_RE.match(s) or len(s) > 19:
            return None, _err("int_parsing", loc, "Input should be a valid integer, unable to parse string as an "
                              "integer", raw)
        v: Any = int(s)
        if p.minimum is not None and v < p.minimum:
            return None, _err("greater_than_equal", loc, f"Input should be greater than or equal to {p.minimum}",
                              raw, ge=p.minimum)
        if p.maximum is not None and v > p.maximum:
            return None, _err("less_than_equal", loc, f"Input should be less than or equal to {p.maximum}", raw,
                              le=p.maximum)
        return v, None
    if p.kind == "boolean":
        s = raw.strip().lower()
        if s in _TRUE:
            return True, None
        if s in _FALSE:
            return False, None
        return None, _err("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", raw)
    if "\x00" in raw:
        return None, _err("string_type", loc, "Input should not contain NUL characters", raw)
    if p.max_length is not None and len(raw) > p.max_length:
        return None, _err("string_too_long", loc, f"String should have at most {p.max_length} characters", raw,
                          max_length=p.max_length)
    if p.enum and raw not in p.enum:
        opts = ", ".join(repr(e) for e in p.enum)
        return None, _err("enum", loc, f"Input should be {opts}", raw, expected=opts)
    if p.pattern and not re.fullmatch(p.pattern, raw):
        return None, _err("string_pattern_mismatch", loc, f"String should match pattern '{p.pattern}'", raw,
                          pattern=p.pattern)
    return raw, None


def parse_params(route: Route, query: Callable[[str], str | None], path: dict[str, str]) -> dict[str, Any]:
    """Validate every declared parameter; raise :class:`Invalid` with all errors at once."""
    out: dict[str, Any] = {}
    errors = []
    for p in route.params:
        raw = path.get(p.name) if p.where == "path" else query(p.name)
        val, err = coerce(p, raw)
        if err:
            errors.append(err)
        else:
            out[p.name] = val
    if errors:
        raise Invalid(errors)
    return out


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "array": (list,),
    "object": (dict,), "null": (type(None),),
}


def check_value(schema: dict, value: Any, loc: list) -> list[dict]:
    """A small JSON Schema check for request bodies (type, anyOf, items, enum, bounds, maxLength)."""
    if "anyOf" in schema:
        for alt in schema["anyOf"]:
            if not check_value(alt, value, loc):
                return []
        return [_err("union", loc, "Input does not match any allowed type", value)]
    t = schema.get("type")
    if t:
        types = _JSON_TYPES.get(t, (object,))
        ok = isinstance(value, types) and not (t in ("integer", "number") and isinstance(value, bool))
        if not ok:
            return [_err(f"{t}_type", loc, f"Input should be a valid {t}", value)]
    errs: list[dict] = []
    if "enum" in schema and value not in schema["enum"]:
        errs.append(_err("enum", loc, f"Input should be one of {schema['enum']}", value))
    if isinstance(value, str) and "maxLength" in schema and len(value) > schema["maxLength"]:
        errs.append(_err("string_too_long", loc, f"String should have at most {schema['maxLength']} characters",
                         value[:100]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(_err("greater_than_equal", loc, f"Input should be >= {schema['minimum']}", value))
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(_err("less_than_equal", loc, f"Input should be <= {schema['maximum']}", value))
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(_err("too_long", loc, f"List should have at most {schema['maxItems']} items", len(value)))
        if "items" in schema:
            for i, v in enumerate(value):
                errs.extend(check_value(schema["items"], v, [*loc, i]))
    return errs


def parse_body(route: Route, data: Any) -> dict:
    """Validate a decoded JSON body against the route's :class:`Body` (missing required fields are left to the
    handler, which answers them with the seed's 400 message)."""
    assert route.body is not None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise Invalid([_err("model_attributes_type", ["body"], "Input should be a JSON object", data)])
    errors = []
    for name, schema in route.body.fields.items():
        if name in data:
            errors.extend(check_value(schema, data[name], ["body", name]))
    if errors:
        raise Invalid(errors)
    return data


# ---------------------------------------------------------------- the OpenAPI document

CCSINFO_ERROR = obj(detail=STR)
VALIDATION_ERROR = obj(
    detail=arr(obj(required=["type", "loc", "msg"], type=STR, loc=arr({"anyOf": [STR, INT]}), msg=STR, input=ANY,
                   ctx=OBJ)),
)
API_ERROR = obj(error=STR)

_REASONS = {
    200: "Successful Response", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 415: "Unsupported Media Type", 422: "Validation Error", 500: "Internal Server Error",
    503: "Service Unavailable",
}


def _error_response(surface: str, code: int) -> dict:
    if surface == "ccsinfo":
        schema = ref("HTTPValidationError") if code == 422 else ref("HTTPError")
    else:
        schema = ref("APIError")
    return {"description": _REASONS.get(code, "Error"), "content": {"application/json": {"schema": schema}}}


def operation(route: Route, secured: bool) -> dict:
    op: dict[str, Any] = {
        "tags": [route.tag],
        "summary": route.summary,
        "operationId": route.operation_id,
        "responses": {
            str(route.status): {"description": _REASONS.get(route.status, "OK"),
                                "content": {"application/json": {"schema": route.response}}},
        },
    }
    if route.description:
        op["description"] = route.description
    if route.params:
        op["parameters"] = [
            {"name": p.name, "in": p.where, "required": p.required, "schema": p.schema(),
             **({"description": p.description} if p.description else {})}
            for p in route.params
        ]
    codes = set(route.errors)
    if route.params or route.body:
        codes.add(422 if route.surface == "ccsinfo" else 400)
    if route.body is not None:
        op["requestBody"] = {"required": False, "description": route.body.description or "A JSON object.",
                             "content": {"application/json": {"schema": route.body.schema()}}}
        codes.add(415)
    if secured:
        codes.add(401)
    for code in sorted(codes):
        op["responses"][str(code)] = _error_response(route.surface, code)
    return op


def spec(routes: list[Route], *, title: str, version: str, description: str, components: dict[str, dict],
         secured: bool = False, extra_paths: dict | None = None) -> dict:
    """The OpenAPI 3.1 document of ``routes``."""
    paths: dict[str, dict] = {}
    for r in routes:
        paths.setdefault(r.path, {})[r.method.lower()] = operation(r, secured)
    for p, ops in (extra_paths or {}).items():
        paths.setdefault(p, {}).update(ops)
    schemas = {"HTTPError": CCSINFO_ERROR, "HTTPValidationError": VALIDATION_ERROR, "APIError": API_ERROR,
               **components}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {"schemas": schemas},
        "tags": [{"name": t} for t in dict.fromkeys(r.tag for r in routes)],
    }
    if secured:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
    return doc
