from __future__ import annotations

import json
import math
import re
import time
from typing import Any

import orjson
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import scope_required
from kaleido.api_errors import RETRY_AFTER, error_answers
from kaleido.metrics import RANK_REFUSED, observe_rank
from kaleido.text import is_storable_text, storable_text_error

from . import services

MAX_FEATURES = 100


class NoLiveVariantError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The placement has no live variant."
    default_code = "no_live_variant"


def _validate_flat_map(value: dict, *, name: str) -> dict:
    """An open map of string → string | number | boolean; nothing nested."""
    if len(value) > MAX_FEATURES:
        raise serializers.ValidationError(f"At most {MAX_FEATURES} {name}.")
    errors = []
    for key, item in value.items():
        key_problem = storable_text_error(key) if isinstance(key, str) else None
        if key_problem is not None:  # echoed escaped: the answer itself must be encodable
            errors.append(f"{ascii(key)}: the key {key_problem}.")
        elif not isinstance(key, str) or not key or len(key) > 64:
            errors.append(f"'{key}': keys are strings of 1 to 64 characters.")
        elif isinstance(item, bool | int | float) and not (isinstance(item, float) and not math.isfinite(item)):
            continue
        elif isinstance(item, str) and len(item) <= 200:
            if (problem := storable_text_error(item)) is not None:
                errors.append(f"'{key}': the value {problem}.")
        else:
            errors.append(f"'{key}': must be a string (≤ 200 characters), a number or a boolean.")
    if errors:
        raise serializers.ValidationError(errors)
    return value


_FLAT_VALUE = {"oneOf": [{"type": "string", "maxLength": 200}, {"type": "number"}, {"type": "boolean"}]}


@extend_schema_field({"type": "object", "maxProperties": MAX_FEATURES, "additionalProperties": _FLAT_VALUE,
                      "description": "An open map: keys of 1 to 64 characters, values a string (at most 200 "
                                     "characters), a number or a boolean; nothing nested."})
class _FlatMapField(serializers.DictField):
    """A features or context map; the schema names its value types, _validate_flat_map checks them."""


_COLOR = {"type": "string", "description": "A CSS colour, e.g. #E8322E."}
_BOX = {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}
RENDER_SCHEMA = {
    "type": "object",
    "description": "How to draw the variant natively. Every field is optional: a variant stores what its "
                   "creative has, and more fields may be added.",
    "properties": {
        "layout": {"type": "string", "description": "e.g. single_image_text."},
        "headline": {"type": "string"},
        "subline": {"type": "string"},
        "cta": {"type": "string"},
        "language": {"type": "string"},
        "colors": {"type": "object",
                   "properties": {"button": _COLOR, "button_text": _COLOR, "background": _COLOR, "text": _COLOR},
                   "additionalProperties": {"type": "string"}},
        "font_scale": {"type": "number"},
        "text_position": {"type": "string"},
        "background_style": {"type": "string"},
        "image_url": {"type": "string"},
        "dynamic": {
            "type": "object",
            "description": "The copy lines that state live numbers, by line (headline, subline, cta): their "
                           "template, static fallback and placeholder names. The line's own field is already "
                           "answered as it is to be displayed.",
            "additionalProperties": {
                "type": "object",
                "properties": {"template": {"type": "string"}, "fallback": {"type": "string"},
                               "placeholders": {"type": "array", "items": {"type": "string"}}},
                "required": ["template", "fallback", "placeholders"],
            },
        },
        "filled": {
            "type": "object",
            "description": "With `dynamic`: the lines this answer shows with live values (a line absent here "
                           "shows its static fallback), each with its text and the value shown per placeholder.",
            "additionalProperties": {
                "type": "object",
                "properties": {"text": {"type": "string"},
                               "shown": {"type": "object", "additionalProperties": {"type": "string"}},
                               "values": {"type": "object", "additionalProperties": {"type": "number"}}},
                "required": ["text", "shown", "values"],
            },
        },
        "frame": {
            "type": "object",
            "description": "Where the server's composition put each text and the button, to draw the variant "
                           "natively over its textless `background` (the SDK's renderBanner). Boxes are "
                           "[left, top, right, bottom] and positions fractions of the canvas; sizes fractions of "
                           "its height.",
            "properties": {
                "width": {"type": "integer"}, "height": {"type": "integer"}, "template": {"type": "string"},
                "background": {"type": "string", "description": "URL of the composition without its text."},
                "blocks": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "description": "headline, subline or cta."},
                        "text": {"type": "string"}, "box": _BOX, "weight": {"type": "integer"},
                        "size": {"type": "number"}, "line_height": {"type": "number"}, "color": _COLOR,
                        "lines": {"type": "array", "items": {
                            "type": "object",
                            "properties": {"text": {"type": "string"}, "x": {"type": "number"},
                                           "y": {"type": "number", "description": "At the font's ascender."}},
                            "required": ["text", "x", "y"]}},
                    },
                    "required": ["name", "text", "box", "size", "lines"]}},
                "button": {"type": "object", "properties": {"box": _BOX, "color": _COLOR, "text": _COLOR}},
            },
            "required": ["width", "height", "blocks"],
        },
    },
    "additionalProperties": True,
}


@extend_schema_field(RENDER_SCHEMA)
class _RenderField(serializers.DictField):
    """The variant's stored render spec, answered as it is stored."""


_SLUG = re.compile(r"[-a-zA-Z0-9_]+")


def canonical_rank_request(data: Any) -> dict[str, Any] | None:
    """The validated rank request when the body is already in canonical form, else None.

    The hot path: building DRF's nested serializer costs more than the rest of validation (its fields
    are deep-copied per instance). A body that is not canonical (a number as the user id, k as a
    string, whitespace to trim, anything invalid) goes through InputSerializer, which coerces it or
    answers with its field messages, so both paths accept and reject exactly the same requests.
    """
    if type(data) is not dict:
        return None
    placement, user = data.get("placement"), data.get("user")
    if type(placement) is not str or len(placement) > 80 or not _SLUG.fullmatch(placement) or type(user) is not dict:
        return None
    user_id = user.get("id")
    if (type(user_id) is not str or not 0 < len(user_id) <= 128 or user_id != user_id.strip()
            or not is_storable_text(user_id)):
        return None
    k = data.get("k", 1)
    features, context = user.get("features", {}), data.get("context", {})
    if type(k) is not int or not 1 <= k <= 50 or type(features) is not dict or type(context) is not dict:
        return None
    try:
        _validate_flat_map(features, name="features")
        _validate_flat_map(context, name="context keys")
    except serializers.ValidationError:
        return None
    return {"placement": placement, "user": {"id": user_id, "features": features}, "k": k, "context": context}


class FastJSONRenderer(BaseRenderer):
    """JSON via orjson (UTF-8, compact): the rank answer is rendered on every call."""

    media_type = "application/json"
    format = "json"  # noqa: A003
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        try:
            return orjson.dumps(data)
        except TypeError:  # what orjson cannot encode (an integer past 64 bits in a render spec) json can;
            # escaped to ASCII so that no string, whatever it holds, can make the answer unencodable
            return json.dumps(data, separators=(",", ":")).encode()


class RankApi(APIView):
    """Rank a placement's live variants for one user; logs a decision and returns its id."""

    permission_classes = [scope_required("rank")]
    renderer_classes = [FastJSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # An API for services that answers JSON only: no negotiation on the hot path.
        renderer = FastJSONRenderer()
        return renderer, renderer.media_type

    class InputSerializer(serializers.Serializer):
        class UserSerializer(serializers.Serializer):
            id = serializers.CharField(max_length=128)  # noqa: A003
            features = _FlatMapField(required=False, default=dict)

            def validate_features(self, value):
                return _validate_flat_map(value, name="features")

        placement = serializers.SlugField(max_length=80)
        user = UserSerializer()
        k = serializers.IntegerField(min_value=1, max_value=50, default=1)
        context = _FlatMapField(required=False, default=dict)

        def validate_context(self, value):
            return _validate_flat_map(value, name="context keys")

    class OutputSerializer(serializers.Serializer):
        class ItemSerializer(serializers.Serializer):
            variant_id = serializers.IntegerField()
            variant_key = serializers.CharField()
            rank = serializers.IntegerField()
            score = serializers.FloatField(allow_null=True)
            propensity = serializers.FloatField()
            tags = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                         help_text="Tag group → values, e.g. {\"button_color\": [\"red\"]}.")
            image_url = serializers.CharField(help_text="The rendered image's absolute URL; empty when none.")
            render = _RenderField()
            pinned = serializers.BooleanField(
                help_text="An operator pinned this variant: it leads every bucket; a client re-rank must keep it.")

        decision_id = serializers.CharField()
        placement = serializers.CharField()
        bucket = serializers.ChoiceField(choices=["control", "random", "model"])
        experiment = serializers.CharField(allow_null=True)
        model_version = serializers.CharField(allow_blank=True)
        items = ItemSerializer(many=True)

    @extend_schema(request=InputSerializer, parameters=[RETRY_AFTER],
                   responses={200: OutputSerializer, **error_answers(400, 401, 403, 404, 409, 413, 429, 503)})
    def post(self, request):
        started = time.perf_counter()
        try:
            result = self._rank(request)
        except exceptions.APIException as exc:
            RANK_REFUSED.labels(str(exc.status_code)).inc()
            raise
        observe_rank(result, time.perf_counter() - started)
        # Built directly (the OutputSerializer documents the shape): this is the hot path.
        body = {
            "decision_id": result.decision_id, "placement": result.placement, "bucket": result.bucket,
            "experiment": result.experiment, "model_version": result.model_version,
            "items": [{"variant_id": it.variant_id, "variant_key": it.variant_key, "rank": it.rank,
                       "score": it.score, "propensity": it.propensity, "tags": it.tags,
                       "image_url": request.build_absolute_uri(it.image_url) if it.image_url else "",
                       "render": it.render, "pinned": it.pinned} for it in result.items],
        }
        return Response(body, status=status.HTTP_200_OK)

    def _rank(self, request) -> services.RankResult:
        data = canonical_rank_request(request.data)
        if data is None:
            payload = self.InputSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            data = payload.validated_data
        api_key = getattr(request.user, "api_key", None)
        if api_key is not None and not api_key.allows_placement(data["placement"]):
            raise exceptions.PermissionDenied(f"This API key may not rank placement '{data['placement']}'.")
        try:
            return services.rank_variants(placement=data["placement"], user_id=data["user"]["id"],
                                          features=data["user"]["features"], k=data["k"],
                                          context=data["context"])
        except services.UnknownPlacement as exc:
            raise exceptions.NotFound(f"Unknown placement '{data['placement']}'.") from exc
        except services.NoLiveVariant as exc:
            raise NoLiveVariantError(f"Placement '{data['placement']}' has no live variant.") from exc
