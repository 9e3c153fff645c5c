"""OpenAPI schema details: the API-key security scheme and unique names for views' nested serializers."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as _AutoSchema


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "access.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Api-Key <key>`; scopes: rank, events, analytics:read."}


class AutoSchema(_AutoSchema):
    """Views nest serializers named InputSerializer/OutputSerializer; left alone, every view's 'Input'
    would collapse into one component and the schema would describe the wrong body. Prefix the view."""

    def get_serializer_name(self, serializer, direction) -> str:
        qualname = type(serializer).__qualname__
        if "." not in qualname or "<locals>" in qualname:
            return super().get_serializer_name(serializer, direction)
        return "".join(part.removesuffix("Serializer") for part in qualname.split("."))
