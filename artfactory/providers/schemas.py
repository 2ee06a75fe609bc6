"""Provider input schemas: OpenAPI Input → node Param definitions, cached in the database with a TTL."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from artfactory.engine.nodetypes import Param
from artfactory.models.entities import SchemaCacheEntry, utcnow
from artfactory.providers.http import TRANSIENT_CODES, ProviderError
from artfactory.providers.uploads import LIST_SUFFIX

log = logging.getLogger("artfactory.providers.schemas")

# Errors that mean "cannot reach the provider right now": a stale cached schema is better than none.
OFFLINE_CODES = TRANSIENT_CODES
_DOC_MAX = 240


def _ref_name(ref: str) -> str | None:
    prefix = "#/components/schemas/"
    return ref[len(prefix):] if ref.startswith(prefix) else None


def resolve(schema: dict[str, Any], components: dict[str, Any] | None, _depth: int = 0) -> dict[str, Any]:
    """A property schema with `$ref`, `allOf` merged and nullable `anyOf`/`oneOf` unwrapped.

    Cog models write enums as `allOf: [{"$ref": "#/components/schemas/scheduler"}]` next to the
    property's own title/default/x-order; pydantic writes optional fields as
    `anyOf: [{...}, {"type": "null"}]`. The property's own keys win over what the refs bring.
    """
    if _depth > 8 or not isinstance(schema, dict):
        return schema if isinstance(schema, dict) else {}
    components = components or {}
    merged: dict[str, Any] = {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = _ref_name(ref)
        if name and isinstance(components.get(name), dict):
            merged.update(resolve(components[name], components, _depth + 1))
    for part in schema.get("allOf") or []:
        if isinstance(part, dict):
            merged.update(resolve(part, components, _depth + 1))
    for key in ("anyOf", "oneOf"):
        variants = [resolve(v, components, _depth + 1) for v in schema.get(key) or [] if isinstance(v, dict)]
        variants = [v for v in variants if v.get("type") != "null"]
        if variants:
            # Prefer a variant a form can show: an enum, then a plain scalar, then whatever is first.
            scalar = ("string", "integer", "number", "boolean")
            best = next((v for v in variants if v.get("enum")), None) or next(
                (v for v in variants if v.get("type") in scalar), variants[0]
            )
            merged.update(best)
    own = {k: v for k, v in schema.items() if k not in ("$ref", "allOf", "anyOf", "oneOf")}
    merged.update(own)
    return merged


def _doc(prop: dict[str, Any]) -> str:
    text = str(prop.get("description") or prop.get("title") or "").strip()
    text = " ".join(text.split())
    return text if len(text) <= _DOC_MAX else text[: _DOC_MAX - 1] + "…"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def param_from_property(name: str, prop: dict[str, Any], required: bool) -> Param | None:
    """One Param from a resolved property schema; None for shapes a form cannot edit (arrays)."""
    kind_of = {"integer": "int", "number": "float", "boolean": "bool", "object": "object"}
    json_type = prop.get("type")
    if isinstance(json_type, list):  # ["string", "null"]
        json_type = next((t for t in json_type if t != "null"), None)
    enum = prop.get("enum")
    default = prop.get("default")
    doc = _doc(prop)
    minimum = _number(prop.get("minimum", prop.get("exclusiveMinimum")))
    maximum = _number(prop.get("maximum", prop.get("exclusiveMaximum")))
    if isinstance(enum, list) and enum:
        if all(isinstance(v, str) for v in enum):
            choice_default = default if isinstance(default, str) and default in enum else None
            return Param(name, "choice", choice_default, doc, choices=tuple(enum), required=required)
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in enum):
            # Numeric enums keep their numeric kind (the API wants numbers); `choices` lists them as text.
            kind = "int" if all(isinstance(v, int) for v in enum) else "float"
            return Param(name, kind, default, doc, minimum=float(min(enum)), maximum=float(max(enum)),
                         choices=tuple(str(v) for v in enum), required=required)
    if json_type in kind_of:
        kind = kind_of[json_type]
        if kind == "object" and default is None:
            default = {}
        if kind in ("int", "float"):
            return Param(name, kind, default, doc, minimum=minimum, maximum=maximum, required=required)
        return Param(name, kind, default, doc, required=required)
    if json_type == "string" or (json_type is None and isinstance(default, str)):
        if prop.get("format") == "uri":
            doc = f"{doc} (URL or data: URI of a file)".strip()
            return Param(name, "string", default if isinstance(default, str) else "", doc, required=required)
        long_text = "prompt" in name.lower() or (prop.get("maxLength") or 0) > 200
        kind = "text" if long_text else "string"
        return Param(name, kind, default if isinstance(default, str) else "", doc, required=required)
    return None


# File fields: a URI (Replicate, fal), binary (multipart, OpenAI) or data URL string, or an array of them. fal often
# leaves the format out of its "*_url" fields, so a media word plus a "url" ending says it as well.
_FILE_FORMATS = ("uri", "binary", "data-url")
# The words of a field name that say what kind of file it takes, in the order they are asked (mask_image is a mask).
_KIND_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("mask", frozenset({"mask", "masks", "inpaint_mask"})),
    ("video", frozenset({"video", "videos", "clip", "clips", "footage"})),
    ("media", frozenset({"audio", "audios", "sound", "speech", "voice", "music", "song", "wav", "mp3"})),
    ("image", frozenset({"image", "images", "img", "imgs", "photo", "photos", "picture", "pictures", "frame",
                         "frames", "face", "pose", "depth", "canny", "sketch", "reference", "style", "control"})),
)
# A field named only with a "reference"-like word needs the schema's word that it is a file, not just "_url".
_WEAK_WORDS = frozenset({"frame", "frames", "face", "pose", "depth", "canny", "sketch", "reference", "style",
                         "control"})


def _is_file_string(prop: dict[str, Any]) -> bool:
    json_type = prop.get("type")
    if isinstance(json_type, list):
        json_type = next((t for t in json_type if t != "null"), None)
    return json_type in ("string", None) and prop.get("format") in _FILE_FORMATS


def _file_kind(name: str, named_file: bool) -> str | None:
    words = [w for w in name.lower().replace("-", "_").split("_") if w]
    for kind, vocabulary in _KIND_WORDS:
        hits = [w for w in words if w in vocabulary]
        if hits and (named_file or any(w not in _WEAK_WORDS for w in hits)):
            return kind
    return None


def file_field_kind(name: str, prop: dict[str, Any], components: dict[str, Any] | None = None) -> str | None:
    """The port kind of a schema field that takes a file ("image", "mask", "video", "media"; "image[]" for an
    array of them), or None for a field that does not. Decided by schema facts: a URI/binary format (or a
    "..._url(s)" name) and the words of the field name; audio fields get `media`."""
    prop = resolve(prop, components)
    json_type = prop.get("type")
    is_list = json_type == "array" or (isinstance(json_type, list) and "array" in json_type)
    item = resolve(prop.get("items") or {}, components) if is_list else prop
    words = name.lower().replace("-", "_").split("_")
    url_named = words[-1] in ("url", "urls", "uri", "uris")
    if not (_is_file_string(item) or (url_named and item.get("type") in ("string", None) and not item.get("enum"))):
        return None
    kind = _file_kind(name, _is_file_string(item))
    if kind is None:
        return None
    return kind + LIST_SUFFIX if is_list else kind


def file_fields(input_schema: dict[str, Any], components: dict[str, Any] | None = None) -> dict[str, str]:
    """Every field of an Input schema that takes a file, with its port kind, in the provider's display order."""
    schema = resolve(input_schema, components)
    ranked: list[tuple[float, int, str, str]] = []
    for index, (name, raw) in enumerate((schema.get("properties") or {}).items()):
        if not isinstance(raw, dict) or not isinstance(name, str):
            continue
        kind = file_field_kind(name, raw, components)
        if kind is None:
            continue
        order = resolve(raw, components).get("x-order")
        ranked.append((float(order) if isinstance(order, int | float) else float("inf"), index, name, kind))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return {name: kind for _, _, name, kind in ranked}


def params_from_schema(input_schema: dict[str, Any], components: dict[str, Any] | None = None) -> list[Param]:
    """Param definitions for an OpenAPI Input object schema, in the provider's display order.

    Order: each property's `x-order` (providers whose schemas order fields otherwise write it in when they
    fetch), then declaration order. A property is required only when the schema says so and gives no
    default. Arrays are left out: they stay editable through the node's free-form `input` object.
    """
    schema = resolve(input_schema, components)
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    ranked: list[tuple[float, int, Param]] = []
    for index, (name, raw) in enumerate(properties.items()):
        if not isinstance(raw, dict):
            continue
        prop = resolve(raw, components)
        if prop.get("format") == "binary":  # a multipart file: it comes through its port, never as text
            continue
        param = param_from_property(name, prop, name in required and "default" not in prop)
        if param is None:
            continue
        order = prop.get("x-order")
        if not isinstance(order, int | float):
            order = float("inf")
        ranked.append((float(order), index, param))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [param for _, _, param in ranked]


# --- cache -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedSchema:
    payload: dict[str, Any]
    fetched_at: datetime
    fresh: bool


class SchemaCache:
    """Schemas in the `schema_cache` table, trusted for `ttl_s`; a stale one stands in when offline."""

    def __init__(self, sessions: Callable[[], AbstractContextManager[Session]], ttl_s: float,
                 now: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.ttl = timedelta(seconds=float(ttl_s))
        self.now = now

    def get(self, key: str) -> CachedSchema | None:
        with self.sessions() as session:
            entry = session.get(SchemaCacheEntry, key)
            if entry is None:
                return None
            fresh = self.now() - entry.fetched_at < self.ttl
            return CachedSchema(dict(entry.payload), entry.fetched_at, fresh)

    def put(self, key: str, provider: str, payload: dict[str, Any]) -> None:
        with self.sessions() as session:
            entry = session.get(SchemaCacheEntry, key)
            if entry is None:
                session.add(SchemaCacheEntry(key=key, provider=provider, payload=payload,
                                             fetched_at=self.now()))
            else:
                entry.provider = provider
                entry.payload = payload
                entry.fetched_at = self.now()
            session.commit()

    def fetch(self, key: str, provider: str, fetcher: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A fresh cached schema, else a newly fetched (and stored) one, else a stale one when offline."""
        cached = self.get(key)
        if cached is not None and cached.fresh:
            return cached.payload
        try:
            payload = fetcher()
        except ProviderError as exc:
            if cached is not None and exc.code in OFFLINE_CODES:
                log.info("using a stale schema for %s (%s)", key, exc)
                return cached.payload
            raise
        self.put(key, provider, payload)
        return payload


def cache_key(provider: str, model: str) -> str:
    return f"{provider}:{model.strip()}"


def fetch_schema(provider: str, model: str, *, settings: Any, api_key: str | None,
                 cache: SchemaCache | None = None) -> dict[str, Any]:
    """The input schema payload ({"input", "components", ...}) of a provider's model, as the provider reads it."""
    from artfactory.providers import registry

    def fetcher() -> dict[str, Any]:
        spec = registry.find(provider)
        if spec is None or spec.fetch_schema is None:
            raise ProviderError(f"provider {provider!r} has no schemas", "validation")
        return spec.fetch_schema(settings, api_key, model)

    if cache is None:
        return fetcher()
    return cache.fetch(cache_key(provider, model), provider, fetcher)


def schema_params(provider: str, model: str, *, settings: Any, api_key: str | None,
                  cache: SchemaCache | None = None) -> list[Param]:
    """Param definitions for a model's inputs, for the canvas to render as a form."""
    return schema_inputs(provider, model, settings=settings, api_key=api_key, cache=cache).params


@dataclass(frozen=True)
class SchemaInputs:
    """What a model's schema gives a node: the form's params and the file fields that become typed ports."""

    params: list[Param]
    files: dict[str, str]


def schema_inputs(provider: str, model: str, *, settings: Any, api_key: str | None,
                  cache: SchemaCache | None = None) -> SchemaInputs:
    """The form params and the file fields (name -> port kind) of a model's inputs."""
    payload = fetch_schema(provider, model, settings=settings, api_key=api_key, cache=cache)
    schema, components = payload.get("input") or {}, payload.get("components") or {}
    return SchemaInputs(params_from_schema(schema, components), file_fields(schema, components))


def node_file_ports(files: dict[str, str], image_field: str, default_image_field: str) -> tuple[dict[str, str], str]:
    """The `media_inputs` and `image_field` a provider node takes from its model's file fields.

    The node's `image` port fills one field (its image_field, else the provider's default); that field gets no
    port of its own. When the model has no such field, the image port moves to the model's first single image
    field (flux-kontext's input_image), so connecting an image always reaches the model."""
    field = image_field.strip() or default_image_field
    if files and field not in files:
        first = next((name for name, kind in files.items() if kind == "image"), None)
        if first is not None:
            field = first
    ports = {name: kind for name, kind in files.items() if name != field}
    return ports, "" if field == default_image_field else field
