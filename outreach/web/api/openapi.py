"""The OpenAPI 3.1 document, generated from the endpoint declarations and the pydantic models.

Nothing here is written by hand per endpoint: paths come from :data:`routing.ENDPOINTS`, schemas from
the models (``models_json_schema``), error answers from each endpoint's declared statuses. The tests
load this document and run schemathesis against the live app with it, so a model or a view that
drifts from it fails there.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any, Literal

from flask import Blueprint, Response, current_app, render_template, request
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from outreach.models import Role
from outreach.web.api.errors import PROBLEM_MIMETYPE
from outreach.web.api.routing import ENDPOINTS, JSON, Endpoint, json_response, max_body
from outreach.web.api.schemas import MAX_ID, Problem

TITLE = "Outreach API"
VERSION = "1.0.0"
REF = "#/components/schemas/{model}"

TAGS = [
    ("people", "The registry: residents and travelers."),
    ("alerts", "Broadcasts: compose a draft, approve, send, follow the counts, export CAP 1.2."),
    ("checkins", "“Are you safe?” requests and their answers."),
    ("cases", "People who asked for help, followed by the duty officers."),
    ("reports", "Reports and task-force cases (task-force details: liaison officers and admins)."),
    ("grievances", "Grievances from community representatives (representatives: their organisation's only)."),
    ("zones", "Advisory zones: levels and their history, who is inside by permit state, permits and grace."),
]

ERROR_TEXT = {
    400: "The body is not valid JSON.",
    401: "No token, or the token is unknown or revoked.",
    403: "The token's role may not do this.",
    404: "No such resource (or not visible to this token).",
    409: "The resource is not in a state that allows this.",
    413: "The request body is too large.",
    415: "The body is not JSON.",
    422: "Validation failed; errors names each failing field.",
}

DESCRIPTION = """\
The JSON API of Outreach: the same operations the staff pages use, for programs.

**Authentication.** Every request carries `Authorization: Bearer <token>`. Create a token with
`flask --app outreach create-token --user EMAIL [--name NAME]`; it acts with exactly the rights of its
user's role, its last use is recorded, and it can be revoked on the staff page *API tokens*.
Session cookies are ignored here.

**Conventions.** Ids are integers; times are ISO 8601 with an offset. Lists answer
`{"items": [...], "page": 1, "pages": 7, "total": 312}` and take `?page=`. Errors are
`application/problem+json` (RFC 9457) with a `detail` that says what to change; validation errors (422)
list each failing field in `errors`. Request bodies larger than the limit get 413.
"""


def _strip_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``T | None`` as just ``T`` (a query parameter is absent, never null)."""
    options = schema.get("anyOf")
    if options:
        kept = [o for o in options if o.get("type") != "null"]
        if len(kept) == 1:
            merged = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
            merged.update(kept[0])
            if schema.get("default") is not None:
                merged["default"] = schema["default"]
            return merged
    return {k: v for k, v in schema.items() if not (k == "default" and v is None)}


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with every local ``$ref`` replaced by its definition (parameters stand alone)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(copy.deepcopy(defs[ref.rsplit("/", 1)[-1]]), defs)
        return {k: _inline(v, defs) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _strip_null(_inline(copy.deepcopy(prop), defs))
        prop.pop("title", None)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": ERROR_TEXT.get(status, "Error."),
        "content": {PROBLEM_MIMETYPE: {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def _operation(ep: Endpoint, refs: dict[tuple[type[BaseModel], str], dict[str, Any]]) -> dict[str, Any]:
    roles = ", ".join(sorted(r.value for r in ep.roles))
    op: dict[str, Any] = {
        "operationId": ep.name,
        "tags": [ep.tag],
        "summary": ep.summary,
        "description": (ep.description + "\n\n" if ep.description else "") + f"Roles: {roles}.",
    }
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        }
        for name in ep.path_ids
    ]
    if ep.query is not None:
        params += _query_parameters(ep.query)
    if params:
        op["parameters"] = params
    if ep.body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": refs[(ep.body, "validation")]}}}
    success: dict[str, Any] = {"description": "Success."}
    if ep.status == 204:
        success["description"] = "Done; no content."
    else:
        content: dict[str, Any] = {}
        if ep.response is not None:
            content[JSON] = {"schema": refs[(ep.response, "serialization")]}
        for media, schema in (ep.content or {}).items():
            content[media] = {"schema": schema}
        if content:
            success["content"] = content
    responses: dict[str, Any] = {str(ep.status): success}
    for status in sorted(ep.errors):
        responses[str(status)] = _problem_response(status)
    op["responses"] = responses
    return op


def build_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document for every declared endpoint."""
    wanted: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (Problem, "serialization")
    ]
    for ep in ENDPOINTS:
        if ep.body is not None:
            wanted.append((ep.body, "validation"))
        if ep.response is not None:
            wanted.append((ep.response, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, defs = models_json_schema(unique, ref_template=REF)

    order = [name for name, _text in TAGS]
    paths: dict[str, dict[str, Any]] = {}
    for ep in sorted(ENDPOINTS, key=lambda e: order.index(e.tag) if e.tag in order else len(order)):
        paths.setdefault("/api/v1" + ep.openapi_path, {})[ep.method.lower()] = _operation(ep, refs)  # type: ignore[arg-type]
    used_tags = {ep.tag for ep in ENDPOINTS}
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": [{"name": name, "description": text} for name, text in TAGS if name in used_tags],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearerAuth": []}],
    }


@lru_cache(maxsize=1)
def _cached_document() -> dict[str, Any]:
    return build_document()


def document() -> dict[str, Any]:
    """The document, built once per process (the declarations do not change at run time)."""
    return _cached_document()


def register(bp: Blueprint) -> None:
    @bp.get("/openapi.json")
    def openapi_json() -> Response:
        """The OpenAPI document itself; public (it holds no data), so tools can load it without a token."""
        return json_response(document())

    @bp.get("/docs")
    def docs() -> str:
        """A readable reference rendered from the document, server-side (no external scripts)."""
        return render_template(
            "api/reference.html",
            doc=document(),
            groups=_groups(document()),
            base_url=request.host_url.rstrip("/"),
            max_body=max_body(),
            roles=[r.value for r in Role],
            public_base=current_app.config.get("PUBLIC_BASE_URL", ""),
        )


def _resolve(doc: dict[str, Any], schema: dict[str, Any] | None) -> tuple[str | None, dict[str, Any] | None]:
    if not schema:
        return None, None
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return name, doc["components"]["schemas"].get(name)
    return None, schema


def _groups(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Operations grouped by tag, each with its schemas resolved for the reference page."""
    by_tag: dict[str, list[dict[str, Any]]] = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            body_schema = op.get("requestBody", {}).get("content", {}).get(JSON, {}).get("schema")
            ok_status = next(iter(op["responses"]))
            ok_content = op["responses"][ok_status].get("content", {})
            by_tag.setdefault(op["tags"][0], []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "op": op,
                    "anchor": op["operationId"],
                    "body": _resolve(doc, body_schema),
                    "ok_status": ok_status,
                    "ok_media": list(ok_content),
                    "ok": _resolve(doc, ok_content.get(JSON, {}).get("schema")),
                }
            )
    described = {t["name"]: t["description"] for t in doc.get("tags", [])}
    return [
        {"name": tag, "description": described.get(tag, ""), "operations": ops} for tag, ops in by_tag.items()
    ]
