"""Checking real requests and answers against the schema /api/schema/ serves.

The schema is read from /api/schema/, as the TypeScript type generators read it, and turned into JSON
Schema: OpenAPI 3.0's `nullable` becomes a null alternative and every object with named properties is
closed (unless it says `additionalProperties`), so a field the code returns but the schema leaves out
fails as surely as a declared field the code omits or a value of the wrong type.
"""

from __future__ import annotations

from typing import Any

from django.test import Client
from jsonschema import Draft202012Validator, FormatChecker


def served_schema() -> dict[str, Any]:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema 2020-12, with every object that names its properties closed."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: ({name: json_schema(s) for name, s in value.items()} if key == "properties"
                 else json_schema(value)) for key, value in node.items()}
    if "properties" in out:
        out.setdefault("additionalProperties", False)
    if out.pop("nullable", False):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _errors(openapi: dict, declared: dict, body: Any) -> list[str]:
    validator = Draft202012Validator({**json_schema(declared), "components": json_schema(openapi["components"])},
                                     format_checker=FormatChecker())
    return [f"{error.json_path}: {error.message[:300]}" for error in validator.iter_errors(body)]


def violations(openapi: dict, path: str, body: Any, *, method: str = "get", status: int = 200) -> list[str]:
    """Where the answer `body` breaks the schema of (method, path, status); empty when it fits."""
    operation = openapi["paths"][path][method]
    return _errors(openapi, operation["responses"][str(status)]["content"]["application/json"]["schema"], body)


def request_violations(openapi: dict, path: str, body: Any, *, method: str = "post") -> list[str]:
    """Where the JSON request `body` breaks the schema of (method, path); empty when it fits."""
    operation = openapi["paths"][path][method]
    return _errors(openapi, operation["requestBody"]["content"]["application/json"]["schema"], body)


def resolve(openapi: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema
