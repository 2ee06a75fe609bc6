"""Each provider's money hooks without a server: shipped price books, estimates and their price-book keys."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from artfactory.engine.cost import UNITS, Usage
from artfactory.providers import fal, openai, registry, replicate
from artfactory.providers.replicate import prediction_usage


@pytest.mark.parametrize("provider", ["replicate", "fal", "openai"])
def test_each_provider_ships_a_dated_price_book_and_an_estimate(provider: str) -> None:
    spec = registry.get(provider)
    assert spec.prices and spec.estimate is not None
    keys = [(p.model, p.unit) for p in spec.prices]
    assert len(keys) == len(set(keys))
    for price in spec.prices:
        assert price.provider == provider and price.source == "shipped" and price.unit in UNITS
        assert price.usd > 0 and datetime.date.fromisoformat(price.as_of)
        assert "price page" in price.note
        # A per-second price needs a typical run to estimate from; the others have none.
        assert (price.typical_seconds is not None) == (price.unit == "second")


@pytest.mark.parametrize(("model", "body", "key", "units"), [
    ("black-forest-labs/flux-schnell", {"prompt": "x"}, "black-forest-labs/flux-schnell",
     {"output": 1, "request": 1}),
    ("black-forest-labs/flux-dev", {"num_outputs": 4, "aspect_ratio": "16:9"}, "black-forest-labs/flux-dev",
     {"output": 4, "request": 1, "megapixel": 4.0}),
    (f"stability-ai/sdxl:{'a' * 64}", {"width": 1000, "height": 500}, "stability-ai/sdxl",
     {"output": 1, "request": 1, "megapixel": 0.5}),
    ("acme/painter", {"num_outputs": "three"}, "acme/painter", {"output": 1, "request": 1}),
])
def test_replicate_estimate(model: str, body: dict[str, Any], key: str, units: dict[str, float]) -> None:
    usage = replicate.estimate(model, body, {"model": model})
    assert usage == Usage("replicate", key, units)
    assert "second" not in usage.units  # per-second prices use their typical_seconds


def test_replicate_usage_keys_by_model_without_version_and_reports_predict_time() -> None:
    prediction = {"id": "p1", "model": "black-forest-labs/flux-schnell", "version": "v" * 64,
                  "output": ["https://cdn/x.webp", "https://cdn/y.webp"], "metrics": {"predict_time": 1.25}}
    assert prediction_usage(prediction) == Usage("replicate", "black-forest-labs/flux-schnell",
                                                 {"output": 2, "second": 1.25}, True, "p1")
    # Without metrics the outputs are counted, not reported.
    assert not prediction_usage({**prediction, "metrics": {}}).reported
    # The estimate of the same model names the same shipped price.
    key = replicate.estimate("black-forest-labs/flux-schnell", {}, {}).model
    assert [(p.unit, p.usd) for p in replicate.PRICES if p.model == key] == [("output", 0.003)]


@pytest.mark.parametrize(("body", "outputs", "megapixels", "extra"), [
    ({}, 1, 1, {}),                                                   # the endpoint's default size: ~1 MP
    ({"image_size": "square_hd", "num_images": 2}, 2, 2, {}),          # 1024×1024 is one megapixel
    ({"image_size": "landscape_16_9"}, 1, 1, {}),                      # rounded up per image
    ({"image_size": {"width": 2048, "height": 2048}}, 1, 4, {}),
    ({"image_size": {"width": 1100, "height": 1000}, "num_images": 3}, 3, 6, {}),
    ({"duration": "10"}, 1, 1, {"second": 10.0}),                      # a video's seconds when the input says
])
def test_fal_estimate_counts_megapixels_as_fal_bills_them(body: dict[str, Any], outputs: int, megapixels: int,
                                                          extra: dict[str, float]) -> None:
    usage = fal.estimate("fal-ai/flux/dev", body, {"endpoint": "fal-ai/flux/dev"})
    assert usage == Usage("fal", "fal-ai/flux/dev", {"output": outputs, "request": 1, "megapixel": megapixels,
                                                      **extra})


def test_fal_usage_takes_the_billed_units_in_the_priced_unit() -> None:
    result = {"images": [{"url": "https://x/1.png", "width": 1024, "height": 768}] * 2}
    counted = fal.result_usage("fal-ai/flux/dev", result, 2, None, "r1")
    assert counted == Usage("fal", "fal-ai/flux/dev", {"output": 2, "request": 1, "megapixel": 2}, False, "r1")
    billed = fal.result_usage("fal-ai/flux/dev", result, 2, 2.5, "r1")
    assert billed.reported and billed.units["megapixel"] == 2.5
    per_image = fal.result_usage("fal-ai/flux-pro/kontext", result, 2, 2, "r2")
    assert per_image.reported and per_image.units["output"] == 2
    # An endpoint the shipped book does not know: fal's figure has no known unit, so it is counted instead.
    assert not fal.result_usage("someone/app", result, 2, 7, "r3").reported
    assert [fal.billable_units(v) for v in ("2", " 1.5 ", "nan", "-1", "lots", None)] == [2.0, 1.5, None, None,
                                                                                        None, None]


@pytest.mark.parametrize(("fal_unit", "ours"), [
    ("image", "output"), ("images", "output"), ("megapixels", "megapixel"), ("Megapixel", "megapixel"),
    ("second", "second"), ("video_seconds", "second"), ("video", "output"), ("1000 characters", "request"),
    ("request", "request"), (None, "request"),
])
def test_fal_price_units_map_to_ours(fal_unit: Any, ours: str) -> None:
    assert fal.price_unit(fal_unit) == ours


@pytest.mark.parametrize(("model", "body", "key", "outputs"), [
    ("gpt-image-1", {}, "gpt-image-1:high:1024x1024", 1),
    ("gpt-image-1", {"quality": "auto", "size": "auto", "n": 3}, "gpt-image-1:high:1024x1024", 3),
    ("gpt-image-1", {"quality": "medium", "size": "1536x1024"}, "gpt-image-1:medium:1536x1024", 1),
    ("dall-e-3", {"n": 4, "quality": "hd"}, "dall-e-3:hd:1024x1024", 1),  # dall-e-3 makes one image
    ("dall-e-2", {"size": "256x256", "n": 2}, "dall-e-2:standard:256x256", 2),
])
def test_openai_estimate_keys_by_model_quality_size(model: str, body: dict[str, Any], key: str,
                                                    outputs: int) -> None:
    usage = openai.estimate(model, body, {"model": model})
    assert usage == Usage("openai", key, {"output": outputs, "request": 1})
    assert any(p.model == key and p.unit == "output" for p in openai.PRICES)


def test_openai_book_covers_every_size_and_quality_the_price_page_lists() -> None:
    book = {p.model: p.usd for p in openai.PRICES}
    for quality in ("low", "medium", "high"):
        for size in ("1024x1024", "1024x1536", "1536x1024"):
            assert f"gpt-image-1:{quality}:{size}" in book
    assert book["gpt-image-1:high:1024x1024"] > book["gpt-image-1:medium:1024x1024"] > \
        book["gpt-image-1:low:1024x1024"]
    assert {k for k in book if k.startswith("dall-e-3")} == {
        f"dall-e-3:{q}:{s}" for q in ("standard", "hd") for s in ("1024x1024", "1024x1792", "1792x1024")}
    assert {k for k in book if k.startswith("dall-e-2")} == {
        f"dall-e-2:standard:{s}" for s in ("256x256", "512x512", "1024x1024")}
