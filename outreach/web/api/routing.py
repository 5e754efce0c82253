"""Declaring an endpoint once: its route, roles, query and body models, answers and errors.

:func:`endpoint` registers a Flask view on the ``api`` blueprint *and* records everything the OpenAPI
document says about it, so the document is generated from the same declarations that run. The wrapper
around each view does the request plumbing in a fixed order, every step answering problem+json:

1. authentication (401) and role (403);
2. path ids out of range (404; a 64-bit id would otherwise be a database error);
3. the query string against the query model (422);
4. the body: size (413), media type (415), JSON syntax (400), then the body model (422);
5. the view, which calls one operation and commits; its result is serialised with its model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_babel import force_locale
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from outreach.i18n import LOCALES
from outreach.models import Role
from outreach.web.api.auth import STAFF, authenticate, require_role
from outreach.web.api.errors import ApiError, validation_error
from outreach.web.api.schemas import MAX_ID

#: Default largest request body (bytes); ``API_MAX_BODY_BYTES`` in the config changes it.
DEFAULT_MAX_BODY = 1024 * 1024

JSON = "application/json"


@dataclass
class Endpoint:
    """What one operation of the API is, for the router and the OpenAPI document alike."""

    method: str
    rule: str
    name: str
    tag: str
    summary: str
    description: str
    roles: frozenset[Role]
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    #: Other media types of the success answer, e.g. {"application/xml": {"type": "string"}}.
    content: dict[str, dict[str, Any]] | None
    errors: frozenset[int]
    path_ids: tuple[str, ...] = field(default_factory=tuple)

    @property
    def openapi_path(self) -> str:
        path = self.rule
        for name in self.path_ids:
            path = path.replace(f"<int:{name}>", "{" + name + "}")
        return path


ENDPOINTS: list[Endpoint] = []


def _path_ids(rule: str) -> tuple[str, ...]:
    names = []
    for part in rule.split("/"):
        if part.startswith("<int:") and part.endswith(">"):
            names.append(part[5:-1])
    return tuple(names)


def endpoint(
    bp: Blueprint,
    method: str,
    rule: str,
    *,
    tag: str,
    summary: str,
    description: str = "",
    roles: Iterable[Role] = STAFF,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    content: dict[str, dict[str, Any]] | None = None,
    errors: Iterable[int] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``view`` at ``rule`` and describe it for the OpenAPI document.

    ``view`` receives the path ids as keyword arguments, plus ``query=`` and ``body=`` (validated
    model instances) when those models are given. It returns a model instance (answered with
    ``status``), a ``(model, status)`` pair, ``None`` (204), or a finished :class:`Response`.
    """
    ids = _path_ids(rule)
    declared = set(errors) | {401, 403}
    if ids:
        declared.add(404)
    if query is not None:
        declared.add(422)
    if body is not None:
        declared |= {400, 413, 415, 422}

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        ep = Endpoint(
            method=method.upper(),
            rule=rule,
            name=view.__name__,
            tag=tag,
            summary=summary,
            description=description or (view.__doc__ or "").strip(),
            roles=frozenset(roles),
            query=query,
            body=body,
            response=response,
            status=status,
            content=content,
            errors=frozenset(declared),
            path_ids=ids,
        )
        ENDPOINTS.append(ep)

        @wraps(view)
        def wrapped(**path_args: Any) -> Response:
            authenticate()
            require_role(ep.roles)
            for name in ep.path_ids:
                if not 1 <= int(path_args[name]) <= MAX_ID:
                    raise ApiError(404, "There is no such resource (or it is not visible to this token).")
            kwargs = dict(path_args)
            if ep.query is not None:
                kwargs["query"] = parse_query(ep.query)
            if ep.body is not None:
                kwargs["body"] = parse_body(ep.body)
            # Programs get English details unless they ask for another language (Accept-Language).
            with force_locale(request.accept_languages.best_match(LOCALES) or "en"):
                result = view(**kwargs)
                return render(result, ep)

        bp.add_url_rule(rule, endpoint=view.__name__, view_func=wrapped, methods=[ep.method])
        return wrapped

    return decorator


# --- input ----------------------------------------------------------------------------------------


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _pydantic_errors(exc: PydanticValidationError) -> list[dict[str, str]]:
    return [
        {"field": _loc(tuple(err["loc"])), "message": err["msg"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def _unstorable(value: Any, path: str = "") -> str | None:
    """The first place in ``value`` holding text no database can store (NUL, lone surrogates)."""
    if isinstance(value, str):
        if "\x00" in value:
            return path or "body"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            bad = _unstorable(key, where) or _unstorable(item, where)
            if bad:
                return bad
    if isinstance(value, list):
        for index, item in enumerate(value):
            bad = _unstorable(item, f"{path}.{index}" if path else str(index))
            if bad:
                return bad
    return None


def parse_query(model: type[BaseModel]) -> BaseModel:
    raw: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        raw[key] = values[0] if len(values) == 1 else values
    bad = _unstorable(raw)
    if bad:
        raise validation_error({bad: "contains a character that cannot be stored (NUL or a lone surrogate)"})
    try:
        return model.model_validate(raw)
    except PydanticValidationError as exc:
        raise validation_error(_pydantic_errors(exc)) from exc


def max_body() -> int:
    return int(current_app.config.get("API_MAX_BODY_BYTES") or DEFAULT_MAX_BODY)


def read_json_body() -> Any:
    """The request body as JSON: 413 over the size limit, 415 not JSON, 400 not parseable."""
    limit = max_body()
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"The request body is larger than {limit} bytes.")
    mimetype = request.mimetype or ""
    if mimetype and mimetype != JSON and not mimetype.endswith("+json"):
        raise ApiError(415, "Send the body as JSON with 'Content-Type: application/json'.")
    # A chunked body has no Content-Length: read one byte past the limit to tell "too large" apart
    # from "exactly at the limit" (werkzeug's limited stream stops at the limit without saying so).
    request.max_content_length = limit + 1
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise ApiError(413, f"The request body is larger than {limit} bytes.") from exc
    if len(raw) > limit:
        raise ApiError(413, f"The request body is larger than {limit} bytes.")
    if not raw.strip():
        raise ApiError(400, "The request needs a JSON body.")
    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ApiError(400, "The request body is not UTF-8 text.") from exc
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}") from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def parse_body(model: type[BaseModel]) -> BaseModel:
    data = read_json_body()
    if not isinstance(data, dict):
        raise validation_error({"body": "must be a JSON object"})
    bad = _unstorable(data)
    if bad:
        raise validation_error({bad: "contains a character that cannot be stored (NUL or a lone surrogate)"})
    try:
        # JSON mode: strict models accept JSON's own types (dates as text) and nothing looser.
        return model.model_validate_json(json.dumps(data))
    except PydanticValidationError as exc:
        raise validation_error(_pydantic_errors(exc)) from exc


# --- output ---------------------------------------------------------------------------------------


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(json.dumps(data, ensure_ascii=False), status=status, mimetype=JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render(result: Any, ep: Endpoint) -> Response:
    if isinstance(result, Response):
        return result
    status = ep.status
    if isinstance(result, tuple):
        result, status = result
    if result is None:
        return Response(status=204)
    if isinstance(result, BaseModel):
        return json_response(result.model_dump(mode="json"), status)
    if ep.response is not None:
        return json_response(ep.response.model_validate(result).model_dump(mode="json"), status)
    return json_response(result, status)
