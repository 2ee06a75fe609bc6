"""OpenAPI input schemas → node params, and the schema cache's time-to-live."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from artfactory.engine.nodetypes import Param
from artfactory.models.entities import Base, SchemaCacheEntry
from artfactory.providers.fal import input_schema_from_openapi
from artfactory.providers.http import ProviderError
from artfactory.providers.schemas import SchemaCache, params_from_schema
from tests.fixtures.fake_fal import flux_openapi
from tests.fixtures.fake_replicate import painter_schema


def by_name(params: list[Param]) -> dict[str, Param]:
    return {p.name: p for p in params}


def test_replicate_schema_to_params() -> None:
    schemas = painter_schema()["components"]["schemas"]
    params = params_from_schema(schemas["Input"], schemas)
    # x-order decides the order, not the order the properties are written in.
    assert [p.name for p in params] == ["prompt", "image", "width", "num_outputs", "scheduler",
                                        "guidance_scale", "seed", "apply_watermark", "output_format"]
    named = by_name(params)
    assert named["prompt"] == Param("prompt", "text", "", "Input prompt", required=True)
    assert named["image"].kind == "string" and "URL" in named["image"].doc
    assert (named["width"].kind, named["width"].default, named["width"].minimum, named["width"].maximum) == \
        ("int", 1024, 256, 1440)
    assert named["guidance_scale"].kind == "float" and named["guidance_scale"].maximum == 50
    # Enums arrive through allOf $refs; the property keeps its own default.
    assert named["scheduler"].kind == "choice"
    assert named["scheduler"].choices == ("DDIM", "DPMSolverMultistep", "HeunDiscrete", "K_EULER", "PNDM")
    assert named["scheduler"].default == "K_EULER"
    assert named["output_format"].choices == ("webp", "jpg", "png")
    assert named["apply_watermark"] == Param("apply_watermark", "bool", True, "Applies a watermark")
    assert named["seed"].required is False and named["seed"].default is None
    assert "lora_scales" not in named  # arrays stay in the free-form input object
    # The params validate values the way the node library does.
    assert named["width"].coerce(512) == 512
    with pytest.raises(ValueError, match="at most 1440"):
        named["width"].coerce(4096)
    with pytest.raises(ValueError, match="must be one of"):
        named["scheduler"].coerce("EULER_A")


def test_fal_openapi_to_params() -> None:
    payload = input_schema_from_openapi(flux_openapi("fal-ai/flux/dev"), "fal-ai/flux/dev")
    params = params_from_schema(payload["input"], payload["components"])
    assert [p.name for p in params] == ["prompt", "image_size", "num_inference_steps", "seed",
                                        "guidance_scale", "sync_mode", "num_images", "enable_safety_checker"]
    named = by_name(params)
    assert named["image_size"].kind == "choice" and named["image_size"].default == "landscape_4_3"
    assert named["seed"].kind == "int"  # anyOf [integer, null]
    assert named["num_images"].maximum == 4 and named["prompt"].required


def test_numeric_enum_keeps_its_kind() -> None:
    schema = {"type": "object", "properties": {
        "steps": {"type": "integer", "enum": [4, 8, 16], "default": 8},
        "mystery": {"type": "array", "items": {}},
    }}
    (steps,) = params_from_schema(schema)
    assert (steps.kind, steps.default, steps.choices, steps.minimum, steps.maximum) == \
        ("int", 8, ("4", "8", "16"), 4, 16)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sessions() -> sessionmaker[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    return sessionmaker(engine)


def test_cache_ttl_refetch_and_offline_fallback(sessions: sessionmaker[Session]) -> None:
    clock = Clock()
    cache = SchemaCache(sessions, ttl_s=600, now=clock)
    calls: list[int] = []

    def fetch(version: int) -> dict[str, int]:
        calls.append(version)
        return {"version": version}

    assert cache.fetch("replicate:acme/painter", "replicate", lambda: fetch(1)) == {"version": 1}
    clock.now += timedelta(seconds=599)
    assert cache.fetch("replicate:acme/painter", "replicate", lambda: fetch(2)) == {"version": 1}
    assert calls == [1]  # fresh: no request
    clock.now += timedelta(seconds=2)
    assert cache.fetch("replicate:acme/painter", "replicate", lambda: fetch(3)) == {"version": 3}
    with sessions() as session:
        entry = session.get(SchemaCacheEntry, "replicate:acme/painter")
        assert entry is not None and entry.payload == {"version": 3} and entry.fetched_at == clock.now

    clock.now += timedelta(hours=5)

    def offline() -> dict[str, int]:
        raise ProviderError("cannot reach Replicate", "network")

    assert cache.fetch("replicate:acme/painter", "replicate", offline) == {"version": 3}  # stale, but usable
    cached = cache.get("replicate:acme/painter")
    assert cached is not None and not cached.fresh

    def forbidden() -> dict[str, int]:
        raise ProviderError("authentication failed for Replicate", "auth")

    with pytest.raises(ProviderError, match="authentication failed"):
        cache.fetch("replicate:acme/painter", "replicate", forbidden)
    with pytest.raises(ProviderError, match="cannot reach"):
        cache.fetch("replicate:acme/other", "replicate", offline)  # nothing cached to fall back on
