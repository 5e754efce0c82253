"""Shared pieces of the API's request and response models.

The models are pydantic v2 classes: they validate what comes in (a 422 names each failing field) and
they are also where the JSON Schemas of the OpenAPI document come from, so the document cannot drift
from the code. Area-specific models live beside their endpoints (``people.py``, ``alerts.py``, …).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

#: Largest id a path or a filter accepts (ids are 32-bit integers in the database).
MAX_ID = 2_147_483_647
MAX_PAGE = 1_000_000


def _iso(value: datetime) -> str:
    # Always with an explicit offset ("+00:00"), never a naive time a client could misread.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


#: A moment in time, answered as ISO 8601 with its offset, e.g. ``2026-11-21T05:00:00+00:00``.
Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Date = Annotated[date, WithJsonSchema({"type": "string", "format": "date"})]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class ApiModel(BaseModel):
    """Base of every model the API reads: strict JSON types, unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", str_strip_whitespace=False)


class OutModel(BaseModel):
    """Base of every model the API answers with."""

    model_config = ConfigDict(from_attributes=True)


class QueryModel(BaseModel):
    """Base of query-string models: values arrive as text, unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")

    page: Annotated[int, Field(ge=1, le=MAX_PAGE, description="Page number, from 1.")] = 1


class PageOut(OutModel):
    """The list envelope (DESIGN §4): one page of items and where it sits in the whole."""

    page: int = Field(description="This page's number, from 1.")
    pages: int = Field(description="How many pages there are (at least 1).")
    total: int = Field(description="How many items match, on all pages.")


class FieldError(OutModel):
    field: str = Field(description="The failing field, dotted for nested ones (e.g. 'content.ko.body').")
    message: str


class Problem(OutModel):
    """An error, as RFC 9457 ``application/problem+json``."""

    type: str = Field(default="about:blank", description="A URI naming the problem type.")
    title: str = Field(description="The HTTP status phrase.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong and what to change, for a person.")
    errors: list[FieldError] | None = Field(default=None, description="Every failing field (422 only).")


def page_envelope(page: Any, items: list[Any]) -> dict[str, Any]:
    """Fields of a :class:`PageOut` subclass from ``outreach.web.pagination.Page``."""
    return {"items": items, "page": page.page, "pages": page.pages, "total": page.total}
