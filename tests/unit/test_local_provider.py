"""The procedural painter behind provider.local: deterministic, prompt-driven, every style, fast."""

from __future__ import annotations

import time

import pytest
from PIL import Image, ImageChops, ImageStat

from artfactory.providers.local import STYLES, render, resolve_style


def _mean(image: Image.Image) -> list[float]:
    return ImageStat.Stat(image).mean


def _difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255."""
    return sum(_mean(ImageChops.difference(a, b))) / 3


def test_same_arguments_give_identical_pixels() -> None:
    first = render("a red fox at sunset", 42, "auto", 256, 192)
    second = render("a red fox at sunset", 42, "auto", 256, 192)
    assert first.tobytes() == second.tobytes()


def test_a_different_seed_gives_a_different_picture() -> None:
    a = render("mountains at dawn", 1, "auto", 256, 256)
    b = render("mountains at dawn", 2, "auto", 256, 256)
    assert _difference(a, b) > 3  # a new composition, not just different grain


def test_colour_words_shift_the_palette() -> None:
    red = _mean(render("a red fox", 5, "auto", 256, 256))
    blue = _mean(render("a blue whale", 5, "auto", 256, 256))
    assert red[0] > blue[0] + 20
    assert blue[2] > red[2] + 20


def test_mood_words_set_the_light() -> None:
    night = _mean(render("a city at night", 3, "illustration", 256, 256).convert("L"))[0]
    noon = _mean(render("a city in summer", 3, "illustration", 256, 256).convert("L"))[0]
    assert night < noon - 15


def test_different_motifs_make_different_pictures() -> None:
    motifs = ("mountains", "ocean", "city", "flower", "galaxy")
    pictures = [render(p, 9, "illustration", 128, 128) for p in motifs]
    for i, a in enumerate(pictures):
        for b in pictures[i + 1:]:
            assert _difference(a, b) > 5


@pytest.mark.parametrize("style", STYLES)
def test_every_style_renders_at_the_requested_size(style: str) -> None:
    image = render("a golden owl in the forest", 11, style, 200, 120)
    assert image.size == (200, 120)
    assert image.mode == "RGB"
    assert ImageStat.Stat(image.convert("L")).stddev[0] > 8  # a picture, not a flat fill


def test_styles_differ_from_each_other() -> None:
    renders = {s: render("ocean waves", 4, s, 128, 128) for s in STYLES if s != "auto"}
    names = sorted(renders)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert renders[a].tobytes() != renders[b].tobytes(), (a, b)


def test_tiny_and_odd_sizes_work() -> None:
    assert render("tiny", 1, "poster", 1, 1).size == (1, 1)
    assert render("wide", 1, "auto", 300, 64).size == (300, 64)


def test_auto_style_follows_style_words() -> None:
    assert resolve_style("auto", "a neon city") == "neon"
    assert resolve_style("auto", "Watercolor fox") == "watercolor"
    assert resolve_style("auto", "a fox") == "illustration"
    assert resolve_style("poster", "a neon city") == "poster"


def test_init_image_steers_the_result() -> None:
    black = Image.new("RGB", (64, 64), "black")
    white = Image.new("RGB", (64, 64), "white")
    plain = render("a fox", 3, "auto", 128, 128)
    on_black = render("a fox", 3, "auto", 128, 128, init=black)
    on_white = render("a fox", 3, "auto", 128, 128, init=white)
    assert _difference(plain, on_black) > 5
    assert _mean(on_white.convert("L"))[0] > _mean(on_black.convert("L"))[0] + 20


def test_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown style"):
        render("x", 1, "cubism", 64, 64)


def test_512_render_is_fast() -> None:
    render("warm up", 0, "auto", 64, 64)
    prompt = "a red fox in a snowy forest at sunset"
    best = min(_timed(lambda: render(prompt, 7, "auto", 512, 512)) for _ in range(3))
    assert best < 0.3, f"512×512 took {best * 1000:.0f} ms"


def _timed(fn: object) -> float:
    assert callable(fn)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
