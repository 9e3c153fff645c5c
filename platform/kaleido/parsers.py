"""JSON request bodies, bounded before they are parsed.

DRF's own JSONParser reads the whole stream (so DATA_UPLOAD_MAX_MEMORY_SIZE never applies to a JSON
body) and parses it with the standard library's recursive decoder, which a body nested 20,000 levels
deep turns into a RecursionError and a 500. This parser:

- refuses a body over `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes with 413, from its Content-Length when it
  has one and by reading at most one byte past the limit when it has not;
- parses with orjson, whose C decoder stops at 1024 levels by itself; a body orjson refuses but the
  standard library reads (a lone surrogate escape, which must reach per-field validation so one bad
  event is rejected alone) is parsed again with the standard library;
- refuses a document nested deeper than `MAX_JSON_DEPTH` levels with 400, before any view sees it.

Strings the database cannot store (NUL, lone surrogates) are a matter of field validation, not of
parsing: see `kaleido.text.storable_text_error`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser

MAX_JSON_DEPTH = 20  # the deepest public body (events → list → event) is 3 levels


class RequestBodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "body_too_large"


class BoundedJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        declared = _content_length(request)
        if limit is not None and declared is not None and declared > limit:
            raise RequestBodyTooLarge(f"The request body is {declared} bytes; at most {limit} are accepted.")
        body = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(body) > limit:
            raise RequestBodyTooLarge(f"The request body is over {limit} bytes.")
        data = parse_json_body(body)
        check_depth(data)
        return data


def parse_json_body(body: bytes) -> Any:
    """The decoded document, or a ParseError (400) that says why."""
    if not body:
        raise exceptions.ParseError("The request body is empty; a JSON document was expected.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc):
            raise _too_deep() from exc
        first_error = exc
    # The standard library accepts what orjson refuses on purpose (lone surrogate escapes); NaN and
    # Infinity stay refused, as JSON has no such numbers.
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise _too_deep() from exc
    except ValueError as exc:
        raise exceptions.ParseError(f"JSON parse error - {first_error}") from exc


def check_depth(data: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse a document with containers nested more than `limit` levels (iteratively: no recursion)."""
    if not isinstance(data, dict | list):
        return
    level: list[Any] = [data]
    depth = 1
    while level:
        if depth > limit:
            raise _too_deep(limit)
        children: list[Any] = []
        for node in level:
            values = node.values() if isinstance(node, dict) else node
            children.extend(v for v in values if isinstance(v, dict | list))
        level = children
        depth += 1


def _too_deep(limit: int = MAX_JSON_DEPTH) -> exceptions.ParseError:
    return exceptions.ParseError(f"JSON nested too deeply: at most {limit} levels are accepted.")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _content_length(request) -> int | None:
    if request is None:
        return None
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
