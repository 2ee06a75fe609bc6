"""The embedded provider: a deterministic procedural painter whose palette and motifs follow the prompt."""

# One module on purpose: palette, motifs and styles form a single renderer that nothing else reuses,
# and keeping them together keeps the whole picture-making recipe readable top to bottom.

from __future__ import annotations

import colorsys
import hashlib
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from artfactory.lazy import lazy_module

if TYPE_CHECKING:
    from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps
else:  # Pillow only when an image is drawn: a fully cached run and `artfactory nodes` never draw one
    Image, ImageChops, ImageDraw = (lazy_module(f"PIL.{name}") for name in ("Image", "ImageChops", "ImageDraw"))
    ImageFilter, ImageFont, ImageOps = (lazy_module(f"PIL.{name}") for name in ("ImageFilter", "ImageFont", "ImageOps"))

RGB = tuple[int, int, int]
Point = tuple[float, float]


def _vocab(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _hex(code: str) -> RGB:
    return (int(code[0:2], 16), int(code[2:4], 16), int(code[4:6], 16))


STYLES: tuple[str, ...] = ("auto", "illustration", "poster", "watercolor", "neon", "geometric", "pastel")

COLOURS: dict[str, RGB] = {
    "red": (214, 40, 46), "crimson": (178, 24, 52), "scarlet": (230, 42, 28), "ruby": (160, 18, 48),
    "orange": (246, 128, 34), "amber": (255, 170, 20), "gold": (232, 180, 52), "golden": (232, 180, 52),
    "yellow": (246, 212, 60), "lime": (168, 218, 52), "green": (46, 158, 70), "emerald": (16, 150, 104),
    "olive": (122, 124, 46), "mint": (140, 226, 186), "teal": (0, 128, 128), "turquoise": (46, 208, 196),
    "cyan": (0, 196, 228), "azure": (32, 140, 255), "blue": (38, 88, 210), "cobalt": (0, 72, 170),
    "navy": (22, 34, 96), "indigo": (76, 40, 152), "violet": (142, 82, 222), "purple": (118, 48, 162),
    "lavender": (178, 158, 232), "magenta": (222, 38, 160), "pink": (244, 128, 178), "rose": (228, 88, 122),
    "coral": (255, 118, 92), "peach": (255, 188, 148), "brown": (122, 74, 42), "copper": (184, 112, 52),
    "bronze": (176, 128, 60), "beige": (226, 206, 170), "ivory": (250, 244, 226), "white": (244, 244, 240),
    "silver": (190, 196, 206), "grey": (128, 132, 142), "gray": (128, 132, 142), "black": (22, 22, 28),
    "charcoal": (48, 50, 58),
}

# Moods set the whole light of a picture: sky top, sky middle, horizon, deep shadow, accent.
_MOOD_TABLE = (
    ("sunset evening", "2e1c56 d65662 ffba70 361a3e ffd682"),
    ("sunrise dawn morning", "5c76bc f6a0aa ffdeb4 463a62 ffecaa"),
    ("dusk twilight", "181a48 624692 e88896 16122e ffc8a0"),
    ("night midnight moonlight moonlit", "080c22 182a5c 405896 060a18 ececd6"),
    ("ocean sea marine underwater", "1a58a0 56a8da c4e8f4 0a285c ffeec4"),
    ("forest woods jungle woodland", "68a096 aad0aa e2ecc8 0e2e20 fae296"),
    ("desert dune dunes sahara", "5a96d2 f0c48c fce4b6 783e24 fff4d2"),
    ("autumn fall", "7896b4 eca860 fcdeaa 542216 fac850"),
    ("winter snow snowy ice frozen arctic", "7896c4 c4d6ec f0f6fc 304060 fffaec"),
    ("spring blossom", "78b4e2 c8e2f0 faeaec 34683c ffaac4"),
    ("summer tropical", "1e78dc 5abef0 e6f8fa 14605a ffdc50"),
    ("neon cyberpunk synthwave vaporwave", "0c0420 480c74 ff36a0 060016 00ecff"),
    ("fire lava volcano inferno", "26080a aa1e12 ff9628 180606 ffdc5a"),
    ("storm stormy fog foggy mist misty rain rainy", "464e5c 828c98 c4cace 22262e e8e6d6"),
    ("candy dream dreamy fairy", "b296e8 f6b2d6 ffe6ec 60468c fff6be"),
    ("vintage retro sepia", "607880 d4aa78 f0deb8 463024 e26040"),
    ("noir monochrome", "121214 58585c c8c8c4 0a0a0c f0f0ec"),
)
MOODS: dict[str, tuple[RGB, ...]] = {
    word: tuple(_hex(c) for c in colours.split()) for words, colours in _MOOD_TABLE for word in words.split()
}

LIGHT_MOODS = _vocab(
    "sunset evening sunrise dawn morning dusk twilight night midnight moonlight moonlit "
    "neon cyberpunk synthwave vaporwave fire lava inferno storm stormy fog foggy mist misty")

MOTIF_WORDS: dict[str, frozenset[str]] = {
    "space": _vocab("space star stars galaxy galaxies planet planets cosmos cosmic nebula universe "
                       "astronaut orbit saturn jupiter mars comet"),
    "city": _vocab("city cities building buildings skyline town street urban tower towers skyscraper "
                      "skyscrapers metropolis downtown cyberpunk"),
    "ocean": _vocab("ocean sea seas wave waves beach surf lake harbor harbour coast shore island "
                       "sail sailing boat"),
    "flower": _vocab("flower flowers garden blossom blossoms bloom petal petals tulip tulips lotus daisy "
                        "daisies sunflower mandala bouquet"),
    "forest": _vocab("forest forests tree trees woods pine pines woodland jungle grove"),
    "landscape": _vocab("mountain mountains landscape hill hills valley peak peaks alps canyon desert dune "
                           "dunes volcano cliff cliffs"),
}

STYLE_WORDS: dict[str, frozenset[str]] = {
    "poster": _vocab("poster posters print typography flyer"),
    "watercolor": _vocab("watercolor watercolour watercolors aquarelle painting painted ink"),
    "neon": _vocab("neon cyberpunk synthwave vaporwave glow glowing"),
    "geometric": _vocab("geometric lowpoly low-poly polygon polygonal faceted cubist origami"),
    "pastel": _vocab("pastel soft cute kawaii dreamy"),
}


@dataclass(frozen=True)
class Animal:
    """How to draw a creature emblem: its body family, default colour and head features."""

    family: str  # head, bird, owl, fish, whale, butterfly
    colour: RGB
    ears: str = "pointy"  # pointy, round, long, small
    snout: float = 0.8
    jaw: float = 0.4
    extras: frozenset[str] = frozenset()


def _animal(family: str, colour: RGB, ears: str = "pointy", snout: float = 0.8, jaw: float = 0.4,
            extras: str = "") -> Animal:
    return Animal(family, colour, ears, snout, jaw, frozenset(extras.split()))


ANIMALS: dict[str, Animal] = {}
for _names, _spec in (
    ("fox foxes", _animal("head", (228, 112, 38), "pointy", 0.95, 0.3, "cheeks")),
    ("wolf wolves husky", _animal("head", (122, 128, 144), "pointy", 0.85, 0.38, "cheeks")),
    ("dog dogs puppy", _animal("head", (176, 122, 70), "round", 0.75, 0.42, "")),
    ("cat cats kitten kitty", _animal("head", (102, 100, 116), "pointy", 0.5, 0.55, "")),
    ("tiger tigers", _animal("head", (236, 128, 30), "round", 0.6, 0.55, "stripes cheeks")),
    ("lion lions", _animal("head", (214, 158, 70), "round", 0.65, 0.5, "mane")),
    ("leopard panther jaguar", _animal("head", (60, 56, 66), "round", 0.55, 0.55, "")),
    ("bear bears grizzly", _animal("head", (120, 80, 52), "round", 0.62, 0.6, "")),
    ("panda pandas", _animal("head", (238, 238, 232), "round", 0.55, 0.62, "patches")),
    ("rabbit rabbits bunny hare", _animal("head", (196, 180, 164), "long", 0.5, 0.5, "")),
    ("deer stag elk moose reindeer", _animal("head", (164, 104, 60), "small", 0.9, 0.3, "antlers")),
    ("horse horses pony", _animal("head", (132, 82, 50), "small", 1.0, 0.34, "")),
    ("unicorn", _animal("head", (244, 236, 246), "small", 1.0, 0.34, "horn")),
    ("dragon dragons", _animal("head", (28, 150, 100), "pointy", 0.95, 0.34, "horns")),
    ("owl owls", _animal("owl", (150, 104, 66))),
    ("bird birds sparrow robin finch eagle hawk crow raven parrot dove swan phoenix hummingbird",
     _animal("bird", (72, 126, 200))),
    ("fish koi goldfish salmon", _animal("fish", (246, 120, 50))),
    ("whale whales dolphin dolphins shark sharks orca", _animal("whale", (70, 110, 150))),
    ("butterfly butterflies moth", _animal("butterfly", (240, 140, 40))),
):
    for _word in _names.split():
        ANIMALS[_word] = _spec

NIGHT_WORDS = _vocab("night midnight moon moonlight moonlit stars starry dark")


# -- colour helpers -----------------------------------------------------------------------------------

def _clamp(v: float) -> int:
    return max(0, min(255, round(v)))


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (_clamp(a[0] + (b[0] - a[0]) * t), _clamp(a[1] + (b[1] - a[1]) * t),
            _clamp(a[2] + (b[2] - a[2]) * t))


def _hls(h: float, lightness: float, s: float) -> RGB:
    r, g, b = colorsys.hls_to_rgb(h % 1.0, max(0.0, min(1.0, lightness)), max(0.0, min(1.0, s)))
    return (_clamp(r * 255), _clamp(g * 255), _clamp(b * 255))


def _to_hls(c: RGB) -> tuple[float, float, float]:
    return colorsys.rgb_to_hls(c[0] / 255, c[1] / 255, c[2] / 255)


def _shade(c: RGB, f: float) -> RGB:
    """Lighter (f > 1, toward white) or darker (f < 1, toward black)."""
    return _mix(c, (255, 255, 255), f - 1) if f >= 1 else _mix((0, 0, 0), c, f)


def _vivid(c: RGB) -> RGB:
    """The same hue at full saturation and mid lightness: the colour of a lit tube."""
    h, _, _ = _to_hls(c)
    return _hls(h, 0.56, 1.0)


def _px(v: float) -> int:
    """A line width in pixels: never zero, so thin details survive small renders."""
    return max(1, int(v))


def _box(x: float, y: float, r: float, ry: float | None = None) -> tuple[float, float, float, float]:
    """The bounding box of a circle (or an ellipse with `ry`) centred on x, y."""
    return (x - r, y - (r if ry is None else ry), x + r, y + (r if ry is None else ry))


def _rgba(c: RGB, alpha: float = 1.0) -> tuple[int, int, int, int]:
    return (c[0], c[1], c[2], _clamp(alpha * 255))


@dataclass(frozen=True)
class Palette:
    sky: tuple[RGB, RGB, RGB]  # top, middle, horizon
    far: RGB  # the most distant land/sea/building layer
    near: RGB  # the closest one
    accent: RGB  # sun, petals' second colour, highlights
    light: RGB  # small lights: stars, windows, sparkles
    subject: RGB  # the creature or flower
    deep: RGB  # darkest shadows

    def layer(self, t: float) -> RGB:
        return _mix(self.far, self.near, t)

    def mapped(self, f: Callable[[RGB], RGB]) -> Palette:
        return Palette((f(self.sky[0]), f(self.sky[1]), f(self.sky[2])), f(self.far), f(self.near),
                       f(self.accent), f(self.light), f(self.subject), f(self.deep))


def _palette(words: Sequence[str], seed: int, animal: Animal | None) -> Palette:
    """Colours from the prompt: colour words tint land and subject, mood words set the light."""
    tone = random.Random(f"palette|{seed}")
    colours = [COLOURS[w] for w in words if w in COLOURS]
    # The time of day decides the light, so it wins over a place mood ("ocean at sunset" glows orange).
    mood = next((MOODS[w] for w in words if w in LIGHT_MOODS), None) or next(
        (MOODS[w] for w in words if w in MOODS), None)
    if not colours and animal is not None:
        colours = [animal.colour]
    chromatic = [c for c in colours if _to_hls(c)[2] > 0.18 and 0.08 < _to_hls(c)[1] < 0.95]
    word_hue = int(hashlib.sha256(" ".join(words).encode()).hexdigest()[:8], 16) / 2**32
    if chromatic:
        h, _, s = _to_hls(chromatic[0])
        h += tone.uniform(-0.015, 0.015)
    else:
        # No hue in the words: a stable hue per prompt (the seed nudges it), muted for grey/black/white.
        h = word_hue + tone.uniform(-0.04, 0.04)
        s = 0.22 if colours else tone.uniform(0.5, 0.7)
    drift = tone.choice((0.05, 0.08, -0.05))
    if mood is not None:
        top, mid, horizon, deep, accent = mood
    else:
        top = _hls(h - drift * 0.3, 0.2, s * 0.75)
        mid = _hls(h + drift * 0.5, 0.52, s * 0.85)
        horizon = _hls(h + drift, 0.82, s * 0.7)
        deep = _hls(h, 0.1, s * 0.6)
        # A named colour keeps the picture in its family (a lighter neighbour hue); else any harmony goes.
        shifts = (0.08, 0.12, -0.08, -0.12) if chromatic else (0.14, 0.5, 0.42, 0.58, -0.33)
        accent = chromatic[1] if len(chromatic) > 1 else _hls(h + tone.choice(shifts), 0.7, 0.85)
    if chromatic:
        far = _mix(_hls(h, 0.55, s * 0.55), horizon, 0.35)
        near = _hls(h, 0.15, s * 0.7)
    else:
        far = _mix(horizon, deep, 0.4)
        near = deep
    subject = colours[0] if colours else accent
    light = _mix(accent, (255, 248, 220), 0.6)
    return Palette((top, mid, horizon), far, near, accent, light, subject, deep)


# -- raster helpers -----------------------------------------------------------------------------------

def _column(height: int, stops: Sequence[tuple[float, RGB]]) -> Image.Image:
    """A 1-pixel-wide vertical gradient through colour stops at relative positions."""
    # Computed at no more than 256 rows and stretched: 8-bit colour has no finer steps anyway.
    rows = max(2, min(height, 256))
    data = bytearray()
    last = len(stops) - 1
    j = 0
    for y in range(rows):
        t = y / (rows - 1)
        while j < last - 1 and t > stops[j + 1][0]:
            j += 1
        (p0, c0), (p1, c1) = stops[j], stops[min(j + 1, last)]
        u = 0.0 if p1 <= p0 else max(0.0, min(1.0, (t - p0) / (p1 - p0)))
        data.extend(_mix(c0, c1, u))
    col = Image.frombytes("RGB", (1, rows), bytes(data))
    return col if rows == height else col.resize((1, height), Image.Resampling.BILINEAR)


def _vgrad(size: tuple[int, int], stops: Sequence[tuple[float, RGB]], bands: int = 0) -> Image.Image:
    col = _column(size[1], stops)
    if bands:
        # Posterised sky: a few flat bands, the classic screen-print look.
        step = max(1, size[1] // bands)
        col = col.resize((1, bands), Image.Resampling.BOX).resize((1, step * bands), Image.Resampling.NEAREST)
        col = col.resize((1, size[1]), Image.Resampling.NEAREST)
    return col.resize(size, Image.Resampling.NEAREST)


def _vmask(size: tuple[int, int], y0: float, y1: float, a0: float, a1: float) -> Image.Image:
    """An L mask fading from a0 at y0 to a1 at y1 (clamped outside)."""
    h = size[1]
    rows = max(2, min(h, 256))
    span = max(1.0, (y1 - y0) * rows / h)
    start = y0 * rows / h
    data = bytes(_clamp(255 * (a0 + (a1 - a0) * max(0.0, min(1.0, (y - start) / span)))) for y in range(rows))
    return Image.frombytes("L", (1, rows), data).resize(size, Image.Resampling.BILINEAR)


@lru_cache(maxsize=1)
def _radial_base() -> Image.Image:
    # Pillow's radial gradient is 0 at the centre and 181 at radius 128; stretch so the rim is 255.
    return Image.radial_gradient("L").point(lambda v: min(255, v * 255 // 181))


def _glow(img: Image.Image, cx: float, cy: float, r: float, colour: RGB, strength: float,
          power: float = 2.0, core: float = 0.0) -> None:
    """A soft light: colour pasted through a radial falloff, cheap compared to blurring.

    `core` adds a brighter, tighter falloff (a third of the reach) in the same pass, since every paste
    over a large area costs as much as the next.
    """
    # Only the part of the glow that lands on the canvas is computed (`box` picks it from the source).
    x0, y0 = max(0, int(cx - r)), max(0, int(cy - r))
    x1, y1 = min(img.width, int(cx + r) + 1), min(img.height, int(cy + r) + 1)
    if x1 <= x0 or y1 <= y0 or r < 1:
        return
    k = 256 / (2 * r)
    bx0, by0 = max(0.0, (x0 - (cx - r)) * k), max(0.0, (y0 - (cy - r)) * k)
    box = (bx0, by0, min(256.0, max(bx0, (x1 - (cx - r)) * k)), min(256.0, max(by0, (y1 - (cy - r)) * k)))
    lut = [_clamp(255 * (strength * (1 - v / 255) ** power + core * max(0.0, 1 - 3 * v / 255) ** 1.5))
           for v in range(256)]
    mask = _radial_base().resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR, box=box).point(lut)
    img.paste(colour, (x0, y0, x1, y1), mask)


def _soften(img: Image.Image, radius: float) -> Image.Image:
    """A Gaussian blur done at reduced size: large radii cost almost nothing and look the same."""
    if radius <= 0:
        return img
    factor = max(1, min(int(radius / 1.5), min(img.size) // 8))
    w, h = img.size
    small = img.resize((max(1, w // factor), max(1, h // factor)), Image.Resampling.BOX)
    small = small.filter(ImageFilter.GaussianBlur(radius / factor))
    return small.resize((w, h), Image.Resampling.BICUBIC)


def _clouds(rng: random.Random, size: tuple[int, int], octaves: Sequence[tuple[int, float]]) -> Image.Image:
    """Smooth value noise (L): random cells upscaled bicubically, several octaves blended."""
    w, h = size
    work = (max(1, w // 2), max(1, h // 2))
    acc: Image.Image | None = None
    for cells, weight in octaves:
        cw, ch = cells, max(2, round(cells * h / max(1, w)))
        layer = Image.frombytes("L", (cw, ch), rng.randbytes(cw * ch)).resize(work, Image.Resampling.BICUBIC)
        acc = layer if acc is None else Image.blend(acc, layer, weight)
    assert acc is not None
    return ImageOps.autocontrast(acc.resize(size, Image.Resampling.BILINEAR))


def _noise_tile(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """Fine grain for the whole picture from a tile of seeded noise (tiling is invisible at this scale)."""
    tw, th = min(size[0], 256), min(size[1], 256)
    tile = Image.frombytes("L", (tw, th), rng.randbytes(tw * th))
    out = Image.new("L", size)
    for x in range(0, size[0], tw):
        for y in range(0, size[1], th):
            out.paste(tile, (x, y))
    return out


def _ridge(rng: random.Random, points: int, roughness: float) -> list[float]:
    """A 1-D midpoint-displacement profile scaled to [-1, 1]: mountain and hill outlines."""
    n = 1
    while n < points - 1:
        n *= 2
    h = [0.0] * (n + 1)
    h[0], h[n] = rng.uniform(-1, 1), rng.uniform(-1, 1)
    step, scale = n, 1.0
    while step > 1:
        half = step // 2
        for i in range(half, n, step):
            h[i] = (h[i - half] + h[i + half]) / 2 + rng.uniform(-1, 1) * scale
        step, scale = half, scale * roughness
    lo, hi = min(h), max(h)
    return [2 * (v - lo) / max(1e-9, hi - lo) - 1 for v in h]


def _ellipse_pts(cx: float, cy: float, rx: float, ry: float, rot: float = 0.0, n: int = 24,
                 start: float = 0.0, end: float = 2 * math.pi) -> list[Point]:
    c, s = math.cos(rot), math.sin(rot)
    pts = []
    for i in range(n):
        t = start + (end - start) * i / (n if end - start >= 2 * math.pi else n - 1)
        x, y = rx * math.cos(t), ry * math.sin(t)
        pts.append((cx + x * c - y * s, cy + x * s + y * c))
    return pts


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(6, size))


# -- the scene canvas ------------------------------------------------------------------------------------

class Pen:
    """Draws on an RGB canvas, blending only translucent colours: opaque ones take Pillow's fast path."""

    # Pillow's blending draw ("RGBA" mode) costs about ten times more per pixel, even for opaque colours.

    def __init__(self, img: Image.Image) -> None:
        self._solid = ImageDraw.Draw(img)
        self._blend = ImageDraw.Draw(img, "RGBA")

    def _pick(self, kw: dict[str, Any]) -> ImageDraw.ImageDraw:
        pen = self._solid
        for key in ("fill", "outline"):
            c = kw.get(key)
            if isinstance(c, tuple) and len(c) == 4:
                if c[3] < 255:
                    pen = self._blend
                else:
                    kw[key] = c[:3]
        return pen

    def polygon(self, xy: Sequence[Point], **kw: Any) -> None:
        self._pick(kw).polygon(xy, **kw)

    def rectangle(self, xy: Sequence[float], **kw: Any) -> None:
        self._pick(kw).rectangle(xy, **kw)

    def ellipse(self, xy: Sequence[float], **kw: Any) -> None:
        self._pick(kw).ellipse(xy, **kw)

    def line(self, xy: Sequence[Any], **kw: Any) -> None:
        self._pick(kw).line(xy, **kw)

    def arc(self, xy: Sequence[float], start: float, end: float, **kw: Any) -> None:
        self._pick(kw).arc(xy, start, end, **kw)

    def pieslice(self, xy: Sequence[float], start: float, end: float, **kw: Any) -> None:
        self._pick(kw).pieslice(xy, start, end, **kw)


class Scene:
    """A canvas being painted, with the tools every motif shares."""

    def __init__(self, size: tuple[int, int], rng: random.Random, pal: Palette, words: frozenset[str],
                 style: str) -> None:
        self.img = Image.new("RGB", size, pal.sky[0])
        self.draw = Pen(self.img)
        self.w, self.h = size
        self.u = min(size)  # the unit for sizes, so shapes keep their proportions on any aspect ratio
        self.rng, self.pal, self.words, self.style = rng, pal, words, style
        self.flat = style in ("poster", "neon")
        self.night = bool(words & NIGHT_WORDS)

    def sky(self, horizon: float) -> None:
        p = self.pal
        hz = max(0.05, min(1.0, horizon / self.h))
        stops = [(0.0, p.sky[0]), (hz * 0.6, p.sky[1]), (hz, p.sky[2]), (1.0, _mix(p.sky[2], p.far, 0.3))]
        self.img.paste(_vgrad(self.img.size, stops, bands=7 if self.style == "poster" else 0))

    def fill(self, pts: Sequence[Point], colour: RGB, top: float | None = None, bottom: float | None = None,
             lift: float = 0.12, alpha: float = 1.0) -> None:
        """A polygon, shaded from lighter at its top to darker at its bottom unless the style is flat."""
        if self.flat or top is None or bottom is None:
            self.draw.polygon(pts, fill=_rgba(colour, alpha))
            return
        # Work inside the polygon's bounding box only: a full-canvas mask per layer is what costs time.
        bx0, by0 = max(0, int(min(p[0] for p in pts))), max(0, int(min(p[1] for p in pts)))
        bx1, by1 = min(self.w, int(max(p[0] for p in pts)) + 1), min(self.h, int(max(p[1] for p in pts)) + 1)
        if bx1 <= bx0 or by1 <= by0:
            return
        size = (bx1 - bx0, by1 - by0)
        mask = Image.new("L", size)
        ImageDraw.Draw(mask).polygon([(x - bx0, y - by0) for x, y in pts], fill=_clamp(255 * alpha))
        span = max(1.0, by1 - by0)
        grad = _vgrad(size, [((top - by0) / span, _shade(colour, 1 + lift)),
                             ((bottom - by0) / span, _shade(colour, 0.8))])
        self.img.paste(grad, (bx0, by0), mask)

    def haze(self, y0: float, y1: float, strength: float) -> None:
        """Atmospheric mist: horizon colour fading in toward y1, so far layers read as distant."""
        if self.flat:
            return
        # Only a band: below it the nearer layers cover this one, and blending the whole canvas costs.
        top, bottom = max(0, int(y0)), min(self.h, int(y1 + (y1 - y0)))
        if bottom <= top:
            return
        band = _vmask((self.w, bottom - top), y0 - top, y1 - top, 0.0, strength)
        self.img.paste(self.pal.sky[2], (0, top, self.w, bottom), band)

    def celestial(self, x: float, y: float, r: float) -> None:
        p, d = self.pal, self.draw
        if self.night:
            _glow(self.img, x, y, r * 5, p.light, 0.35)
            d.ellipse(_box(x, y, r), fill=_rgba(_mix(p.light, (255, 255, 255), 0.5)))
            for _ in range(3):  # a few soft craters
                a, dist = self.rng.uniform(0, 6.28), self.rng.uniform(0, r * 0.55)
                cr = r * self.rng.uniform(0.1, 0.22)
                cx, cy = x + math.cos(a) * dist, y + math.sin(a) * dist
                d.ellipse(_box(cx, cy, cr), fill=_rgba(_shade(p.light, 0.85), 0.5))
            return
        _glow(self.img, x, y, min(r * 7, self.u * 1.1), _mix(p.accent, (255, 255, 255), 0.15), 0.5, core=0.55)
        d.ellipse(_box(x, y, r), fill=_rgba(_mix(p.accent, (255, 250, 230), 0.45)))
        if self.style == "poster" and self.rng.random() < 0.6:
            # Retro sun: horizontal cuts through its lower half in the sky's colour.
            for i in range(5):
                yy = y + r * (0.15 + i * 0.18)
                gap = r * (0.03 + i * 0.022)
                col = self.img.getpixel((int(min(self.w - 1, x + r + 2)), int(min(self.h - 1, yy))))
                d.rectangle((x - r - 1, yy, x + r + 1, yy + gap), fill=col)

    def stars(self, count: int, y_max: float, glints: int = 0) -> None:
        d, rng = self.draw, self.rng
        for _ in range(count):
            x, y = rng.uniform(0, self.w), rng.uniform(0, y_max) * rng.uniform(0.3, 1) ** 0.5
            r = self.u * rng.choice((0.0012, 0.0016, 0.002, 0.003))
            d.ellipse(_box(x, y, r), fill=_rgba(self.pal.light, rng.uniform(0.35, 1)))
        for _ in range(glints):
            x, y, r = rng.uniform(0, self.w), rng.uniform(0, y_max * 0.8), self.u * rng.uniform(0.01, 0.025)
            _glow(self.img, x, y, r * 2.5, self.pal.light, 0.45)
            lw = max(1, int(self.u * 0.002))
            d.line((x - r, y, x + r, y), fill=_rgba(self.pal.light, 0.8), width=lw)
            d.line((x, y - r, x, y + r), fill=_rgba(self.pal.light, 0.8), width=lw)

    def ridge_pts(self, base: float, amp: float, roughness: float) -> list[Point]:
        prof = _ridge(self.rng, 129, roughness)
        n = len(prof) - 1
        pts = [(self.w * i / n, base - amp * v) for i, v in enumerate(prof)]
        return [(0, self.h), *pts, (self.w, self.h)]


# -- motifs -------------------------------------------------------------------------------------------

def _landscape(sc: Scene, trees: bool = False) -> tuple[float, float]:
    rng, h, w = sc.rng, sc.h, sc.w
    horizon = h * rng.uniform(0.55, 0.68)
    sc.sky(horizon)
    if sc.night:
        sc.stars(rng.randint(80, 160), horizon, glints=rng.randint(1, 3))
    sun_x, sun_y = w * rng.uniform(0.2, 0.8), horizon - h * rng.uniform(0.14, 0.34)
    sc.celestial(sun_x, sun_y, sc.u * rng.uniform(0.06, 0.1))
    layers = rng.randint(3, 5)
    snow = bool(sc.words & {"snow", "snowy", "winter", "alps", "ice", "frozen", "arctic"})
    for i in range(layers):
        t = i / (layers - 1)
        base = horizon - h * 0.06 + (h - horizon) * 0.85 * t ** 1.25
        amp = h * ((0.17 if not trees else 0.08) * (1 - t) + 0.04)
        pts = sc.ridge_pts(base, amp, (0.58 if not trees else 0.42) - 0.12 * t)
        colour = sc.pal.layer(t)
        top = min(p[1] for p in pts)
        sc.fill(pts, colour, top, h)
        if snow and i < 2:
            # Snow caps hug the peaks: thicker the higher a point rises above a ragged snow line.
            line = top + amp * 0.45
            ridge = pts[1:-1]
            lower = [(x, y + max(0.0, line - y) * rng.uniform(0.45, 0.8)) for x, y in ridge]
            snow_col = _mix((250, 252, 255), sc.pal.sky[1], 0.2 + 0.2 * i)
            sc.draw.polygon([*ridge, *reversed(lower)], fill=_rgba(snow_col, 0.95))
        if trees:
            _trees(sc, pts[1:-1], colour, sc.u * (0.05 + 0.11 * t), rng.randint(8, 16) + int(14 * t))
        if i < layers - 1:
            sc.haze(top - h * 0.02, base + amp * 0.8, 0.28)
    return w * 0.5, h * 0.62


def _forest(sc: Scene) -> tuple[float, float]:
    return _landscape(sc, trees=True)


def _trees(sc: Scene, ridge: Sequence[Point], colour: RGB, size: float, count: int) -> None:
    dark = _shade(colour, 0.8)
    n = len(ridge)
    for _ in range(count):
        x, y = ridge[sc.rng.randrange(n)]
        s = size * sc.rng.uniform(0.6, 1.2)
        y += s * 0.25  # plant them into the slope, not on top of it
        for k in range(3):  # three stacked tiers make a pine
            tw, ty = s * (0.42 - k * 0.1), y - s * (0.25 + k * 0.28)
            sc.draw.polygon([(x - tw, ty + s * 0.32), (x + tw, ty + s * 0.32), (x, ty - s * 0.2)], fill=dark)


def _ocean(sc: Scene) -> tuple[float, float]:
    rng, h, w, p, d = sc.rng, sc.h, sc.w, sc.pal, sc.draw
    horizon = h * rng.uniform(0.45, 0.58)
    sc.sky(horizon)
    if sc.night:
        sc.stars(rng.randint(60, 140), horizon)
    sx, r = w * rng.uniform(0.25, 0.75), sc.u * rng.uniform(0.06, 0.1)
    sc.celestial(sx, horizon - h * rng.uniform(0.06, 0.22), r)
    if rng.random() < 0.5:  # a distant island breaks the horizon
        iw = w * rng.uniform(0.2, 0.4)
        ix = rng.uniform(0, w - iw)
        prof = _ridge(rng, 33, 0.5)
        pts = [(ix + iw * i / 32, horizon - h * 0.035 * (1 - abs(i / 16 - 1)) * (1.2 + v))
               for i, v in enumerate(prof)]
        d.polygon([(ix, horizon), *pts, (ix + iw, horizon)], fill=_mix(p.far, p.sky[2], 0.3))
    sea = [(0.0, _mix(p.sky[2], p.far, 0.5)), (1.0, p.near)]
    sea_img = _vgrad((w, h - int(horizon)), sea)
    sc.img.paste(sea_img, (0, int(horizon)))
    # The sun's path on the water: short strokes thinning toward the viewer.
    for _ in range(70):
        y = horizon + (h - horizon) * rng.random() ** 1.6
        spread = r * (0.6 + 2.2 * (y - horizon) / (h - horizon))
        x = sx + rng.gauss(0, spread * 0.5)
        ln = spread * rng.uniform(0.2, 0.8)
        d.line((x - ln, y, x + ln, y), fill=_rgba(p.light, rng.uniform(0.25, 0.7)), width=_px(sc.u * 0.004))
    bands = rng.randint(6, 9)
    water = _mix(p.sky[2], p.far, 0.6)
    for i in range(bands):
        t = (i + 1) / bands
        y = horizon + (h - horizon) * (t ** 1.4) * 0.95
        spacing = (h - horizon) * 1.4 * t ** 0.4 / bands
        amp = sc.u * (0.004 + 0.028 * t)
        wl = w * rng.uniform(0.12, 0.3) * (0.5 + t)
        ph = rng.uniform(0, 6.28)
        crest = [(x, y - amp * (math.sin(x / wl * 6.28 + ph) + 0.35 * math.sin(x / wl * 13.1 + ph * 2)))
                 for x in range(0, w + 9, 8)]
        # Each band is lit at its crest and darkens into its trough: that contrast is what reads as waves.
        sc.fill([(0, h), *crest, (w, h)], _mix(water, p.near, t), y - amp, y + spacing * 1.6, lift=0.2)
        if sc.flat:
            sc.draw.line(crest, fill=_rgba(_mix(water, (255, 255, 255), 0.3)), width=_px(sc.u * 0.006))
        else:
            d.line(crest, fill=_rgba(_mix(p.light, (255, 255, 255), 0.5), 0.15 + 0.25 * t),
                   width=_px(sc.u * 0.0025 * (1 + t)))
    return w * 0.5, horizon + (h - horizon) * 0.35


def _city(sc: Scene) -> tuple[float, float]:
    rng, h, w, p, d = sc.rng, sc.h, sc.w, sc.pal, sc.draw
    ground = h * rng.uniform(0.7, 0.8)
    sc.sky(ground)
    sc.stars(rng.randint(30, 80) if sc.night else 0, ground * 0.6)
    sc.celestial(w * rng.uniform(0.15, 0.85), h * rng.uniform(0.14, 0.3), sc.u * rng.uniform(0.05, 0.09))
    rows = 3
    for row in range(rows):
        t = row / (rows - 1)
        colour = sc.pal.layer(0.15 + 0.85 * t)
        x = -rng.uniform(0, w * 0.05)
        while x < w:
            bw = w * rng.uniform(0.05, 0.12) * (1 + 0.3 * t)
            bh = h * rng.uniform(0.18, 0.48) * (1.15 - 0.3 * t)
            top = ground - bh
            d.rectangle((x, top, x + bw, h), fill=colour)
            roof = rng.random()
            if roof < 0.25:
                d.polygon([(x, top), (x + bw / 2, top - bw * 0.5), (x + bw, top)], fill=colour)
            elif roof < 0.5:
                d.rectangle((x + bw * 0.25, top - bh * 0.08, x + bw * 0.75, top), fill=colour)
                mast = (x + bw / 2, top - bh * 0.08, x + bw / 2, top - bh * 0.2)
                d.line(mast, fill=colour, width=_px(bw * 0.04))
            if row > 0:
                _windows(sc, x, top, bw, ground - top, colour, 0.25 + 0.25 * t)
            x += bw + w * rng.uniform(0.0, 0.02)
        if row < rows - 1:
            sc.haze(ground - h * 0.5, ground, 0.22)
    d.rectangle((0, ground, w, h), fill=_shade(p.near, 0.8))
    if rng.random() < 0.6:
        # A river in front mirrors the lit skyline: flip, darken and soften the band above the waterline.
        span = int(min(ground, h - ground))
        band = sc.img.crop((0, int(ground) - span, w, int(ground))).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        band = _soften(Image.blend(band, Image.new("RGB", band.size, p.deep), 0.45), sc.u * 0.006)
        sc.img.paste(band, (0, int(ground)))
        for _ in range(40):
            y = rng.uniform(ground, h)
            x = rng.uniform(0, w)
            ripple = (x, y, x + w * rng.uniform(0.03, 0.12), y)
            d.line(ripple, fill=_rgba(p.sky[2], 0.25), width=_px(sc.u * 0.002))
    return w * 0.5, ground - h * 0.15


def _windows(sc: Scene, x: float, top: float, bw: float, bh: float, colour: RGB, lit: float) -> None:
    ww, wh = sc.u * 0.012, sc.u * 0.016
    cols = max(1, int(bw / (ww * 2.2)))
    gap = (bw - cols * ww) / (cols + 1)
    unlit = _shade(colour, 1.12)
    y = top + wh
    while y < top + bh - wh:
        for c in range(cols):
            wx = x + gap + c * (ww + gap)
            on = sc.rng.random() < lit
            sc.draw.rectangle((wx, y, wx + ww, y + wh),
                              fill=_rgba(sc.pal.light, sc.rng.uniform(0.6, 1)) if on else unlit)
        y += wh * 1.9


def _flowers(sc: Scene) -> tuple[float, float]:
    rng, h, w, p = sc.rng, sc.h, sc.w, sc.pal
    sc.sky(h * 0.9)
    _glow(sc.img, w * rng.uniform(0.3, 0.7), h * rng.uniform(0.25, 0.5), sc.u * 0.9, p.sky[2], 0.5, 1.4)
    garden = bool(sc.words & {"garden", "bouquet", "tulip", "tulips", "field"}) or rng.random() < 0.4
    hero = (w * rng.uniform(0.35, 0.65), h * rng.uniform(0.38, 0.55), sc.u * rng.uniform(0.22, 0.3))
    small = [(rng.uniform(0, w), rng.uniform(0.1, 0.95) * h, sc.u * rng.uniform(0.05, 0.12))
             for _ in range(rng.randint(4, 9))]
    if garden:
        for fx, fy, fr in [hero, *small]:  # stems first, so blossoms sit on top
            sway = rng.uniform(-0.3, 0.3) * fr
            stem = [(fx, fy), (fx + sway, (fy + h) / 2), (fx - sway * 0.5, h)]
            sc.draw.line(stem, fill=_rgba(_mix(p.near, (40, 120, 60), 0.5)), width=max(2, int(fr * 0.08)))
            ly = (fy + h) / 2 + fr * 0.3
            side = rng.choice((-1, 1))
            sc.draw.polygon(_ellipse_pts(fx + side * fr * 0.35, ly, fr * 0.4, fr * 0.12, side * 0.5, 12),
                            fill=_rgba(_mix(p.near, (60, 150, 70), 0.5)))
    for fx, fy, fr in sorted(small, key=lambda f: f[2]):
        _flower(sc, fx, fy, fr, rng.randint(5, 9))
    _flower(sc, hero[0], hero[1], hero[2], rng.randint(7, 14))
    return hero[0], hero[1]


def _flower(sc: Scene, x: float, y: float, r: float, petals: int) -> None:
    rng, p, d = sc.rng, sc.pal, sc.draw
    turn = rng.uniform(0, 6.28)
    outer, inner = p.subject, _mix(p.subject, p.accent, 0.5)
    if sc.style != "poster" and r > sc.u * 0.1:
        _glow(sc.img, x, y + r * 0.1, r * 2.4, p.deep, 0.25, 1.5)  # a soft shadow lifts it off the ground
    for ring, (length, colour, alpha) in enumerate(((1.0, outer, 0.92), (0.68, inner, 0.95))):
        for k in range(petals):
            a = turn + (k + 0.5 * ring) * 2 * math.pi / petals
            cx, cy = x + math.cos(a) * r * length * 0.5, y + math.sin(a) * r * length * 0.5
            pts = _ellipse_pts(cx, cy, r * length * 0.5, r * length * min(0.3, 2.2 / petals), a, 20)
            d.polygon(pts, fill=_rgba(_shade(colour, 1.0 + 0.08 * math.sin(a - 0.8)), alpha))
            d.line((x, y, x + math.cos(a) * r * length * 0.85, y + math.sin(a) * r * length * 0.85),
                   fill=_rgba(_shade(colour, 1.25), 0.35), width=_px(r * 0.015))
    core = r * 0.24
    d.ellipse(_box(x, y, core), fill=_rgba(_shade(p.accent, 0.55)))
    # Seeds in a sunflower spiral (the golden angle), the one detail that makes it read as a flower.
    n = int(40 + core / 2)
    for i in range(n):
        a, rr = i * 2.39996, core * 0.92 * math.sqrt(i / n)
        dot = core * 0.08
        sx, sy = x + math.cos(a) * rr, y + math.sin(a) * rr
        d.ellipse(_box(sx, sy, dot), fill=_rgba(_shade(p.accent, 1.2)))


def _space(sc: Scene) -> tuple[float, float]:
    rng, h, w, p, d = sc.rng, sc.h, sc.w, sc.pal, sc.draw
    top, bottom = _shade(p.sky[0], 0.35), _shade(_mix(p.deep, p.sky[1], 0.3), 0.6)
    # The backdrop is all soft light, so it is built at half size and enlarged: a quarter of the work.
    half = (max(1, w // 2), max(1, h // 2))
    backdrop = _vgrad(half, [(0, top), (1, bottom)])
    if sc.style != "poster":
        # Nebula: seeded value noise as the mask of two colours of light.
        for colour, strength in ((_mix(p.sky[1], p.accent, 0.3), 0.45), (p.subject, 0.35)):
            mask = _clouds(rng, half, ((3, 1.0), (7, 0.45), (16, 0.25)))
            mask = mask.point([_clamp(strength * 255 * max(0.0, (v - 110) / 145) ** 1.6) for v in range(256)])
            backdrop.paste(colour, (0, 0), mask)
    sc.img.paste(backdrop.resize(sc.img.size, Image.Resampling.BILINEAR))
    sc.stars(rng.randint(220, 420), h, glints=rng.randint(4, 9))
    px, py, pr = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.35, 0.65), sc.u * rng.uniform(0.14, 0.26)
    tilt = rng.uniform(-0.5, 0.5)
    ringed = rng.random() < 0.6
    ring = _ellipse_pts(px, py, pr * 1.9, pr * 0.42, tilt, 96)
    ring_col, lw = _rgba(_mix(p.light, p.accent, 0.4), 0.85), max(2, int(pr * 0.07))
    if ringed:  # back half of the ring, behind the planet
        d.line([pt for i, pt in enumerate(ring) if i >= 48] + [ring[0]], fill=ring_col, width=lw)
    _glow(sc.img, px, py, pr * 2.8, p.accent, 0.3)
    planet = Image.new("L", sc.img.size)
    ImageDraw.Draw(planet).ellipse(_box(px, py, pr), fill=255)
    body = _vgrad(sc.img.size, [((py - pr) / h, _shade(p.subject, 1.25)),
                                ((py + pr) / h, _shade(p.subject, 0.75))])
    bd = ImageDraw.Draw(body)
    for _ in range(rng.randint(3, 6)):  # gas-giant bands
        by, bh = rng.uniform(py - pr, py + pr), pr * rng.uniform(0.04, 0.16)
        bd.rectangle((0, by, w, by + bh), fill=_shade(p.subject, rng.uniform(0.8, 1.2)))
    # Sphere shading: brightest toward the upper-left light, falling into shadow at the far limb.
    hx, hy, hr = px - pr * 0.45, py - pr * 0.45, pr * 2.1
    lit = Image.new("L", sc.img.size, 255)
    falloff = _radial_base().resize((int(2 * hr),) * 2, Image.Resampling.BILINEAR)
    lit.paste(falloff, (int(hx - hr), int(hy - hr)))
    body = ImageChops.multiply(body, Image.merge("RGB", [lit.point(lambda v: 255 - v * 190 // 255)] * 3))
    sc.img.paste(body, (0, 0), planet)
    if ringed:  # front half
        d.line(ring[:49], fill=ring_col, width=lw)
    if rng.random() < 0.7:
        mr = pr * rng.uniform(0.12, 0.22)
        mx, my = px + rng.choice((-1, 1)) * pr * rng.uniform(1.7, 2.4), py - pr * rng.uniform(0.6, 1.3)
        d.ellipse(_box(mx, my, mr), fill=_rgba(_mix(p.light, p.far, 0.4)))
        d.pieslice(_box(mx, my, mr), 300, 120, fill=_rgba(p.deep, 0.5))
    return px, py


def _abstract(sc: Scene) -> tuple[float, float]:
    rng, h, w, p, d, u = sc.rng, sc.h, sc.w, sc.pal, sc.draw, sc.u
    sc.sky(h * rng.uniform(0.7, 1.0))
    colours = [p.subject, p.accent, p.far, p.near, p.sky[1], p.light]
    for _ in range(rng.randint(2, 4)):  # broad diagonal bands
        y, th, slope = rng.uniform(0, h), rng.uniform(0.04, 0.14) * h, rng.uniform(-0.4, 0.4) * h
        d.polygon([(0, y), (w, y + slope), (w, y + slope + th), (0, y + th)],
                  fill=_rgba(rng.choice(colours), rng.uniform(0.35, 0.7)))
    cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65)
    for i in range(rng.randint(3, 6)):
        r = u * rng.uniform(0.08, 0.32) / (1 + i * 0.2)
        x, y = cx + rng.uniform(-0.3, 0.3) * w, cy + rng.uniform(-0.3, 0.3) * h
        colour = rng.choice(colours)
        if not sc.flat:
            _glow(sc.img, x, y, r * 2.2, colour, 0.35)
        d.ellipse(_box(x, y, r), fill=_rgba(colour, rng.uniform(0.75, 0.95)))
    for _ in range(rng.randint(2, 4)):  # thick arcs tie the circles together
        r = u * rng.uniform(0.15, 0.45)
        a0 = rng.uniform(0, 360)
        d.arc(_box(cx, cy, r), a0, a0 + rng.uniform(60, 200),
              fill=_rgba(rng.choice(colours), 0.9), width=max(2, int(u * rng.uniform(0.01, 0.035))))
    step = u * 0.035
    gx, gy = rng.uniform(0.05, 0.6) * w, rng.uniform(0.05, 0.6) * h
    for i in range(6):  # a small dot grid adds a printed texture detail
        for j in range(6):
            x, y, r = gx + i * step, gy + j * step, u * 0.004
            d.ellipse(_box(x, y, r), fill=_rgba(p.light, 0.7))
    return cx, cy


def _emblem_stage(sc: Scene) -> tuple[float, float]:
    """A poster stage for a creature: sky, a sun or moon, rays, rings or confetti, and a ground."""
    rng, h, w, p, d, u = sc.rng, sc.h, sc.w, sc.pal, sc.draw, sc.u
    horizon = h * rng.uniform(0.74, 0.84)
    sc.sky(horizon)
    cx, cy = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.4, 0.5)
    if sc.night:
        sc.stars(rng.randint(60, 140), horizon, glints=2)
    backdrop = rng.choice(("rays", "rings", "confetti"))
    if backdrop == "rays":
        rays = rng.choice((12, 16, 20, 24))
        turn = rng.uniform(0, 6.28)
        for k in range(0, rays, 2):
            a0, a1 = turn + k * 2 * math.pi / rays, turn + (k + 1) * 2 * math.pi / rays
            far = 2 * max(w, h)
            d.polygon([(cx, cy), (cx + math.cos(a0) * far, cy + math.sin(a0) * far),
                       (cx + math.cos(a1) * far, cy + math.sin(a1) * far)], fill=_rgba(p.sky[2], 0.16))
    elif backdrop == "rings":
        for i in range(rng.randint(3, 6), 0, -1):
            r = u * 0.15 * i
            d.ellipse(_box(cx, cy, r), outline=_rgba(p.sky[2], 0.25), width=_px(u * 0.004))
    else:
        for _ in range(rng.randint(25, 60)):
            x, y, r = rng.uniform(0, w), rng.uniform(0, horizon), u * rng.uniform(0.004, 0.014)
            colour = rng.choice((p.accent, p.light, p.sky[2]))
            d.ellipse(_box(x, y, r), fill=_rgba(colour, rng.uniform(0.4, 0.9)))
    if rng.random() < 0.65:  # the sun as a halo right behind the creature
        sc.celestial(cx, cy - u * 0.02, u * rng.uniform(0.2, 0.27))
    else:  # or a smaller one off to a side, leaving the creature against the sky
        side = rng.choice((-1, 1))
        sun_x, sun_y = cx + side * w * rng.uniform(0.22, 0.32), h * rng.uniform(0.15, 0.25)
        sc.celestial(sun_x, sun_y, u * rng.uniform(0.07, 0.1))
    layers = rng.randint(1, 3)
    for i in range(layers):
        t = (i + 1) / layers
        base = horizon + (h - horizon) * 0.6 * i / layers
        amp = h * rng.uniform(0.02, 0.05)
        pts = sc.ridge_pts(base, amp, rng.uniform(0.3, 0.5))
        sc.fill(pts, p.layer(0.35 + 0.65 * t), base - amp, h)
    return cx, cy


# -- creatures ----------------------------------------------------------------------------------------

def _facets(sc: Scene, pts: Sequence[Point], centre: Point, colour: RGB, contrast: float = 0.22) -> None:
    """Fill a shape as a fan of triangles lit from the upper left: the low-poly emblem look."""
    n = len(pts)
    for i in range(n):
        a, b = pts[i], pts[(i + 1) % n]
        mx, my = (a[0] + b[0]) / 2 - centre[0], (a[1] + b[1]) / 2 - centre[1]
        k = (-0.6 * mx - 0.8 * my) / (math.hypot(mx, my) or 1)
        sc.draw.polygon([centre, a, b], fill=_shade(colour, 1 + contrast * k))


def _creature(sc: Scene, animal: Animal, x: float, y: float, s: float) -> None:
    def at(px: float, py: float) -> Point:
        return (x + px * s, y + py * s)

    def pts(seq: Sequence[Point]) -> list[Point]:
        return [at(px, py) for px, py in seq]

    p, d = sc.pal, sc.draw
    body = p.subject
    dark, ink, light = _shade(body, 0.6), (24, 22, 30), _mix(body, (250, 246, 236), 0.75)
    if not sc.flat:
        _glow(sc.img, x, y + s * 0.2, s * 2.4, p.deep, 0.3, 1.6)
    fam = animal.family
    if fam == "head":
        ex = animal.extras
        if "mane" in ex:
            for k in range(22):
                a = k * 2 * math.pi / 22
                spike = at(math.cos(a) * 1.45, math.sin(a) * 1.45 + 0.1)
                left = at(math.cos(a - 0.2) * 0.8, math.sin(a - 0.2) * 0.8 + 0.1)
                right = at(math.cos(a + 0.2) * 0.8, math.sin(a + 0.2) * 0.8 + 0.1)
                d.polygon([left, spike, right], fill=_shade(body, 0.7) if k % 2 else _shade(dark, 0.8))
        for side in (-1, 1):
            if animal.ears == "round":
                ex_, ey_ = at(side * 0.58, -0.62)
                d.ellipse(_box(ex_, ey_, s * 0.26), fill=dark)
                d.ellipse(_box(ex_, ey_, s * 0.13), fill=_shade(body, 1.2))
            elif animal.ears == "long":
                cx_, cy_ = at(side * 0.35, -1.15)
                d.polygon(_ellipse_pts(cx_, cy_, s * 0.2, s * 0.62, side * 0.18, 20), fill=body)
                inner_ear = _ellipse_pts(cx_, cy_ + s * 0.05, s * 0.09, s * 0.45, side * 0.18, 16)
                d.polygon(inner_ear, fill=_mix(body, (240, 160, 170), 0.6))
            else:
                big = 1.0 if animal.ears == "pointy" else 0.55
                outer = [(side * 0.25, -0.6), (side * 0.75, -0.35),
                         (side * (0.62 + 0.1 * big), -0.6 - 0.6 * big)]
                d.polygon(pts(outer), fill=dark)
                cxe, cye = sum(q[0] for q in outer) / 3, sum(q[1] for q in outer) / 3
                inner = [(cxe + (qx - cxe) * 0.55, cye + (qy - cye) * 0.55 + 0.05) for qx, qy in outer]
                d.polygon(pts(inner), fill=light if "cheeks" in ex else _shade(body, 1.25))
        if "antlers" in ex:
            lw, antler = max(2, int(s * 0.07)), _mix(body, (240, 226, 200), 0.6)
            for side in (-1, 1):
                path = pts([(side * 0.3, -0.6), (side * 0.6, -1.2), (side * 0.95, -1.6)])
                d.line(path, fill=antler, width=lw, joint="curve")
                for t0, dx, dy in ((0.3, 0.05, -0.5), (0.6, 0.35, -0.35), (0.8, -0.05, -0.45)):
                    bx, by = side * (0.3 + 0.65 * t0), -0.6 - 1.0 * t0
                    d.line(pts([(bx, by), (bx + side * dx, by + dy)]), fill=antler, width=lw)
        if "horns" in ex:
            for side in (-1, 1):
                horn = [(side * 0.2, -0.55), (side * 0.45, -0.5), (side * 0.7, -1.35)]
                d.polygon(pts(horn), fill=_shade(p.accent, 0.9))
        if "horn" in ex:
            horn = [(-0.1, -0.55), (0.1, -0.55), (0.0, -1.55)]
            d.polygon(pts(horn), fill=_mix(p.accent, (255, 230, 150), 0.5))
        tip = 0.42 + animal.snout * 0.48
        jaw = animal.jaw
        face = [(0, -0.64), (0.45, -0.58), (0.85, -0.2), (0.8, 0.12), (jaw, 0.5), (0.12, tip), (-0.12, tip),
                (-jaw, 0.5), (-0.8, 0.12), (-0.85, -0.2), (-0.45, -0.58)]
        _facets(sc, pts(face), at(0, 0.02), body)
        if "cheeks" in ex:
            for side in (-1, 1):
                d.polygon(pts([(side * 0.84, -0.05), (side * 0.18, 0.18), (0.0, tip), (side * 0.12, tip),
                               (side * jaw, 0.5), (side * 0.8, 0.12)]), fill=light)
        if "stripes" in ex:
            for side in (-1, 1):
                for k in range(3):
                    yy = -0.35 + k * 0.22
                    stripe = [(side * 0.85, yy), (side * 0.85, yy + 0.09), (side * 0.5, yy + 0.06)]
                    d.polygon(pts(stripe), fill=ink)
            d.polygon(pts([(-0.06, -0.62), (0.06, -0.62), (0, -0.3)]), fill=ink)
        for side in (-1, 1):
            if "patches" in ex:
                d.polygon(_ellipse_pts(*at(side * 0.32, 0.02), s * 0.2, s * 0.15, side * -0.5, 16), fill=ink)
            eye = _ellipse_pts(*at(side * 0.32, 0.0), s * 0.12, s * 0.06, side * 0.35, 14)
            d.polygon(eye, fill=ink if "patches" not in ex else (240, 240, 236))
            gx, gy = at(side * 0.32 - 0.03, -0.015)
            d.ellipse(_box(gx, gy, s * 0.025), fill=(250, 250, 246))
        d.polygon(pts([(-0.1, tip - 0.12), (0.1, tip - 0.12), (0, tip - 0.01)]), fill=ink)
    elif fam == "bird" or fam == "owl":
        d.line(pts([(-1.3, 0.98), (1.3, 0.9)]), fill=_shade(p.near, 0.9), width=max(2, int(s * 0.07)))
        if fam == "owl":
            _facets(sc, _ellipse_pts(*at(0, 0.12), s * 0.68, s * 0.86, 0, 18), at(0, 0.05), body)
            for side in (-1, 1):
                d.polygon(pts([(side * 0.2, -0.6), (side * 0.62, -0.62), (side * 0.6, -1.0)]), fill=dark)
                d.polygon(_ellipse_pts(*at(side * 0.55, 0.3), s * 0.2, s * 0.55, side * -0.25, 16), fill=dark)
                ex_, ey_ = at(side * 0.27, -0.25)
                for rad, col in ((0.27, light), (0.17, p.accent), (0.09, ink)):
                    d.ellipse(_box(ex_, ey_, s * rad), fill=col)
                d.ellipse(_box(ex_ - s * 0.03, ey_ - s * 0.04, s * 0.02), fill=(255, 255, 255))
            d.polygon(pts([(-0.08, -0.12), (0.08, -0.12), (0, 0.06)]), fill=p.accent)
            for row in range(3):
                for k in range(3 - row % 2):
                    cx_, cy_ = at((k - (2 - row % 2) / 2) * 0.2, 0.25 + row * 0.16)
                    d.arc((cx_ - s * 0.07, cy_ - s * 0.05, cx_ + s * 0.07, cy_ + s * 0.05), 20, 160,
                          fill=dark, width=_px(s * 0.025))
        else:
            d.polygon(pts([(-0.45, 0.2), (-1.15, 0.45), (-1.05, 0.15)]), fill=dark)
            d.polygon(pts([(-0.45, 0.15), (-1.1, 0.1), (-1.15, -0.1)]), fill=_shade(body, 0.75))
            _facets(sc, _ellipse_pts(*at(-0.02, 0.15), s * 0.62, s * 0.44, -0.15, 16), at(0.0, 0.1), body)
            d.polygon(_ellipse_pts(*at(0.2, 0.28), s * 0.36, s * 0.22, -0.3, 14), fill=light)
            _facets(sc, _ellipse_pts(*at(0.48, -0.32), s * 0.3, s * 0.28, 0, 12), at(0.48, -0.32), body)
            d.polygon(pts([(0.72, -0.42), (1.05, -0.3), (0.74, -0.24)]), fill=p.accent)
            d.polygon(pts([(-0.5, 0.0), (0.25, -0.05), (0.1, 0.3), (-0.3, 0.4), (-0.75, 0.3)]), fill=dark)
            ex_, ey_ = at(0.56, -0.38)
            d.ellipse(_box(ex_, ey_, s * 0.05), fill=ink)
            for fx in (-0.1, 0.12):
                d.line(pts([(fx, 0.55), (fx + 0.04, 0.95)]), fill=ink, width=_px(s * 0.03))
    elif fam == "fish":
        d.polygon(pts([(-0.62, -0.08), (-1.15, -0.5), (-0.95, 0.0), (-1.15, 0.5), (-0.62, 0.08)]), fill=dark)
        d.polygon(pts([(-0.05, -0.38), (0.25, -0.78), (0.38, -0.4)]), fill=dark)
        outline = [(0.95, 0.05), (0.6, -0.42), (0.0, -0.4), (-0.6, -0.18), (-0.7, 0.02), (-0.3, 0.32),
                   (0.3, 0.38), (0.8, 0.22)]
        _facets(sc, pts(outline), at(0.1, 0.0), body)
        belly = [(0.85, 0.12), (0.3, 0.26), (-0.3, 0.2), (-0.2, 0.3), (0.3, 0.38), (0.8, 0.22)]
        d.polygon(pts(belly), fill=light)
        d.arc(_box(x + s * 0.47, y, s * 0.15, s * 0.3), 110, 250, fill=dark, width=_px(s * 0.035))
        ex_, ey_ = at(0.66, -0.06)
        d.ellipse(_box(ex_, ey_, s * 0.06), fill=ink)
    elif fam == "whale":
        # Blunt head, long mouth line, a flipper, a raised fluke: the shapes that say "whale", not "fish".
        fluke = [(-0.9, -0.12), (-1.3, -0.55), (-1.12, -0.2), (-1.35, 0.05), (-0.92, -0.02)]
        d.polygon(pts(fluke), fill=dark)
        outline = [(1.05, 0.02), (1.0, -0.22), (0.75, -0.38), (0.2, -0.44), (-0.3, -0.34), (-0.7, -0.18),
                   (-0.95, -0.1), (-0.95, 0.0), (-0.6, 0.14), (-0.1, 0.34), (0.5, 0.4), (0.9, 0.28)]
        d.polygon(pts([(-0.2, -0.38), (-0.05, -0.52), (0.05, -0.4)]), fill=dark)
        _facets(sc, pts(outline), at(0.15, -0.02), body)
        belly = [(1.0, 0.12), (0.5, 0.2), (-0.1, 0.22), (-0.5, 0.13), (-0.1, 0.34), (0.5, 0.4), (0.9, 0.28)]
        d.polygon(pts(belly), fill=light)
        for k in range(4):  # throat grooves
            d.line(pts([(0.85, 0.2 + k * 0.045), (0.0, 0.25 + k * 0.03)]), fill=_shade(light, 0.85),
                   width=_px(s * 0.015))
        d.line(pts([(1.03, 0.08), (0.7, 0.1), (0.5, 0.06)]), fill=ink, width=_px(s * 0.03))
        d.polygon(pts([(0.35, 0.22), (0.05, 0.62), (0.18, 0.24)]), fill=dark)
        for k in range(7):  # spout
            a = -math.pi / 2 + (k - 3) * 0.25
            bx, by = at(0.55, -0.45)
            d.line((bx, by, bx + math.cos(a) * s * 0.45, by + math.sin(a) * s * 0.45),
                   fill=_rgba(p.light, 0.7), width=_px(s * 0.03))
        ex_, ey_ = at(0.52, -0.02)
        d.ellipse(_box(ex_, ey_, s * 0.05), fill=ink)
    elif fam == "butterfly":
        for side in (-1, 1):
            upper = _ellipse_pts(*at(side * 0.55, -0.35), s * 0.62, s * 0.42, side * -0.55, 18)
            lower = _ellipse_pts(*at(side * 0.42, 0.42), s * 0.42, s * 0.3, side * 0.6, 16)
            _facets(sc, lower, at(side * 0.1, 0.1), _mix(body, p.accent, 0.5))
            _facets(sc, upper, at(side * 0.1, -0.05), body)
            for sx, sy, sr in ((0.75, -0.45, 0.12), (0.5, -0.2, 0.07), (0.5, 0.5, 0.09)):
                cx_, cy_ = at(side * sx, sy)
                d.ellipse(_box(cx_, cy_, s * sr), fill=light)
            d.line(pts([(0, -0.5), (side * 0.3, -1.05)]), fill=ink, width=_px(s * 0.025))
        d.polygon(_ellipse_pts(*at(0, 0.05), s * 0.07, s * 0.6, 0, 12), fill=ink)


# -- styles applied to the finished painting -------------------------------------------------------------

def _neon(img: Image.Image, pal: Palette) -> Image.Image:
    """Contours of the flat painting as glowing tubes over a nearly black version of it."""
    w, h = img.size
    u = min(w, h)
    # A hard threshold keeps only real shape edges; soft sky gradients must not light up.
    edges = img.convert("L").filter(ImageFilter.FIND_EDGES).point(lambda v: 255 if v > 22 else 0)
    ImageDraw.Draw(edges).rectangle((0, 0, w - 1, h - 1), outline=0, width=2)  # the border is no contour
    line = _soften(edges, max(0.8, u / 600)).point(lambda v: min(255, v * 2))
    hot = _vivid(_mix(pal.accent, (255, 40, 170), 0.4))
    cool = _vivid(_mix(pal.subject, (20, 220, 255), 0.4))
    ramp = _vgrad(img.size, [(0, hot), (0.5, _mix(hot, cool, 0.5)), (1, cool)])
    tubes = Image.composite(ramp, Image.new("RGB", img.size), line)
    glow = _soften(tubes, u / 90).point(lambda v: min(255, v * 3 // 2))
    halo = _soften(tubes, u / 28).point(lambda v: v * 3 // 5)
    base = Image.blend(Image.new("RGB", img.size, (6, 2, 18)), img, 0.14)
    out = ImageChops.add(ImageChops.add(ImageChops.add(base, halo), glow), tubes)
    # The hottest middle of each tube runs toward white, as real neon does.
    return Image.composite(Image.new("RGB", img.size, (255, 255, 255)), out, line.point(lambda v: v // 4))


def _lowpoly(img: Image.Image, rng: random.Random) -> Image.Image:
    """Re-draw the painting as jittered triangles, each the average colour beneath it."""
    w, h = img.size
    cols = rng.randint(22, 30)
    rows = max(2, round(cols * h / w))
    cw, ch = w / cols, h / rows
    sample = img.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.BOX)
    sw, sh = sample.size
    grid = [[(min(w, max(0.0, (i + (rng.uniform(-0.3, 0.3) if 0 < i < cols else 0)) * cw)),
              min(h, max(0.0, (j + (rng.uniform(-0.3, 0.3) if 0 < j < rows else 0)) * ch)))
             for i in range(cols + 1)] for j in range(rows + 1)]
    out = Image.new("RGB", img.size)
    d = ImageDraw.Draw(out)
    for j in range(rows):
        for i in range(cols):
            a, b, c, e = grid[j][i], grid[j][i + 1], grid[j + 1][i + 1], grid[j + 1][i]
            tris = [(a, b, c), (a, c, e)] if rng.random() < 0.5 else [(a, b, e), (b, c, e)]
            for tri in tris:
                tx, ty = sum(q[0] for q in tri) / 3, sum(q[1] for q in tri) / 3
                px = sample.getpixel((min(sw - 1, int(tx / w * sw)), min(sh - 1, int(ty / h * sh))))
                assert isinstance(px, tuple)
                colour = _shade((px[0], px[1], px[2]), rng.uniform(0.94, 1.06))
                d.polygon(list(tri), fill=colour, outline=colour)
    return out


def _watercolor(img: Image.Image, rng: random.Random) -> Image.Image:
    """Wobbled, bled washes on grainy paper with darker pigment at the edges and ragged margins."""
    w, h = img.size
    u = min(w, h)
    paper = (247, 242, 230)
    # Wobble: a coarse mesh of slightly displaced quads bends every straight edge a little.
    n, jit = 8, u * 0.012
    mesh = []
    for j in range(n):
        for i in range(n):
            x0, y0, x1, y1 = i * w // n, j * h // n, (i + 1) * w // n, (j + 1) * h // n
            mesh.append(((x0, y0, x1, y1), (x0 + rng.uniform(-jit, jit), y0 + rng.uniform(-jit, jit),
                                             x0 + rng.uniform(-jit, jit), y1 + rng.uniform(-jit, jit),
                                             x1 + rng.uniform(-jit, jit), y1 + rng.uniform(-jit, jit),
                                             x1 + rng.uniform(-jit, jit), y0 + rng.uniform(-jit, jit))))
    wob = img.transform(img.size, Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)
    soft = Image.blend(wob, _soften(wob, u / 120), 0.6)
    wash = Image.blend(Image.new("RGB", img.size, paper), soft, 0.82)
    edges = _soften(soft.convert("L").filter(ImageFilter.FIND_EDGES), u / 300)
    wash = ImageChops.multiply(wash, Image.merge("RGB", [edges.point(lambda v: 255 - min(90, v * 3))] * 3))
    blotch = _clouds(rng, img.size, ((5, 1.0), (13, 0.4), (40, 0.25))).point(lambda v: 205 + v * 50 // 255)
    grain = _soften(_noise_tile(rng, img.size), 0.8).point(lambda v: 228 + v * 27 // 255)
    texture = ImageChops.multiply(blotch, grain)
    wash = ImageChops.multiply(wash, Image.merge("RGB", [texture] * 3))
    # Ragged margin: an inset rectangle, blurred and broken up by the cloud noise, decides where paint is.
    frame = Image.new("L", img.size, 0)
    m = u * 0.05
    ImageDraw.Draw(frame).rectangle((m, m, w - m, h - m), fill=255)
    ragged = _clouds(rng, img.size, ((9, 1.0), (30, 0.5))).point(lambda v: v * 3 // 5)
    frame = ImageChops.add(_soften(frame, u / 40), ragged, 1.0, -77)
    frame = frame.point(lambda v: max(0, min(255, (v - 128) * 6 + 128)))
    return Image.composite(wash, Image.new("RGB", img.size, paper), frame)


def _finish(img: Image.Image, rng: random.Random, vignette: float, grain: float) -> Image.Image:
    """Vignette and film grain: the two touches that make flat digital colour feel like a print."""
    w, h = img.size
    if vignette > 0:
        lut = [_clamp(255 * (1 - vignette * max(0.0, (v / 255 - 0.45) / 0.55) ** 1.8)) for v in range(256)]
        mask = _radial_base().resize((w, h), Image.Resampling.BILINEAR).point(lut)
        img = ImageChops.multiply(img, Image.merge("RGB", [mask] * 3))
    if grain > 0:
        noise = _noise_tile(rng, img.size).point(lambda v: _clamp(128 + (v - 128) * grain))
        img = ImageChops.add(img, Image.merge("RGB", [noise] * 3), 1.0, -128)
    return img


def _title(paper: Image.Image, box: tuple[int, int, int, int], prompt: str, seed: int, ink: RGB,
           accent: RGB) -> None:
    """The poster's title band: the prompt in capitals, fitted to the width, and a small caption."""
    d = ImageDraw.Draw(paper)
    x0, y0, x1, y1 = box
    width, band = x1 - x0, y1 - y0
    words = " ".join(prompt.split()).upper().split() or ["UNTITLED"]
    # Largest size that fits on one line; below a readable size, wrap onto two lines; then truncate.
    lines, size = [" ".join(words)], int(band * 0.42)
    while size > band * 0.24 and d.textlength(lines[0], font=_font(size)) > width:
        size = int(size * 0.92)
    if d.textlength(lines[0], font=_font(size)) > width and len(words) > 1:
        size = int(band * 0.26)
        first: list[str] = []
        while words and d.textlength(" ".join([*first, words[0]]), font=_font(size)) <= width:
            first.append(words.pop(0))
        lines = [" ".join(first or [words.pop(0)]), " ".join(words)]
    font = _font(size)
    for i, text in enumerate(lines):
        while d.textlength(text, font=font) > width and len(text) > 2:
            text = text[:-2].rstrip() + "…"
        d.text((x0, y0 + band * 0.1 + i * size * 1.05), text, font=font, fill=ink)
    cap = _font(max(6, int(band * 0.12)))
    cy = y0 + band * 0.8
    d.rectangle((x0, cy - band * 0.07, x0 + width * 0.12, cy - band * 0.05), fill=accent)
    caption = f"ART FACTORY  ·  N° {seed % 10000:04d}"
    d.text((x0, cy), caption, font=cap, fill=_mix(ink, (255, 255, 255), 0.35))


# -- the entry point ----------------------------------------------------------------------------------

def _words(prompt: str) -> list[str]:
    return re.findall(r"[a-z][a-z\-]*", prompt.lower())


def resolve_style(style: str, prompt: str) -> str:
    """The concrete style for "auto": the first style word in the prompt, else illustration."""
    if style != "auto":
        return style
    for word in _words(prompt):
        for name, vocab in STYLE_WORDS.items():
            if word in vocab:
                return name
    return "illustration"


def render(prompt: str, seed: int, style: str = "auto", width: int = 512, height: int = 512,
           init: Image.Image | None = None) -> Image.Image:
    """Paint (prompt, seed, style) at width×height; the same arguments always give the same pixels.

    With `init`, the painting is blended with that image (image-to-image): its shapes and light show
    through, recoloured in the prompt's palette.
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {width}×{height}")
    if min(width, height) < 64:
        # Too small for the motifs' details: paint a 64-pixel version and shrink it.
        k = 64 / min(width, height)
        big = render(prompt, seed, style, max(64, round(width * k)), max(64, round(height * k)), init)
        return big.resize((width, height), Image.Resampling.LANCZOS)
    style = resolve_style(style, prompt)
    words = _words(prompt)
    wordset = frozenset(words)
    # Composition depends on prompt, seed and style, not on size: a larger render is the same picture.
    digest = hashlib.sha256(f"{prompt}\x00{seed}\x00{style}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    texture_rng = random.Random(int.from_bytes(digest[8:16], "big"))
    animal = next((ANIMALS[w] for w in words if w in ANIMALS), None)
    pal = _palette(words, seed, animal)
    if style == "pastel":
        pal = pal.mapped(lambda c: _mix(_mix(c, (128, 128, 128), 0.15), (255, 250, 246), 0.42))
    motif = next((m for w in words for m, vocab in MOTIF_WORDS.items() if w in vocab), None)
    if motif is None:
        motif = "emblem" if animal is not None else "abstract"

    poster = style == "poster"
    margin = int(min(width, height) * 0.05) if poster else 0
    band = int(height * 0.17) if poster else 0
    art_w, art_h = max(8, width - 2 * margin), max(8, height - 2 * margin - band)
    # Draw at twice the size and shrink: Pillow's shapes are not anti-aliased, supersampling smooths them.
    # Watercolor and geometric redraw every edge themselves, so for them it would be wasted work.
    ss = 2 if art_w * art_h <= 1400 * 1400 and style not in ("watercolor", "geometric") else 1
    sc = Scene((art_w * ss, art_h * ss), rng, pal, wordset, style)
    painters = {"landscape": _landscape, "forest": _forest, "ocean": _ocean, "city": _city,
                "flower": _flowers, "space": _space, "abstract": _abstract, "emblem": _emblem_stage}
    focus = painters[motif](sc)
    if animal is not None:
        size = sc.u * (rng.uniform(0.17, 0.23) if motif == "emblem" else rng.uniform(0.13, 0.17))
        fx = focus[0] if motif == "emblem" else sc.w * rng.uniform(0.35, 0.65)
        fy = focus[1] + size * 0.15 if motif == "emblem" else sc.h * rng.uniform(0.55, 0.66)
        _creature(sc, animal, fx, fy, size)
    art = sc.img.reduce(ss) if ss > 1 else sc.img
    if art.size != (art_w, art_h):
        art = art.resize((art_w, art_h), Image.Resampling.BICUBIC)

    if style == "neon":
        art = _finish(_neon(art, pal), texture_rng, 0.5, 0.05)
    elif style == "geometric":
        art = _finish(_lowpoly(art, rng), texture_rng, 0.25, 0.03)
    elif style == "watercolor":
        art = _watercolor(art, texture_rng)
    elif style == "pastel":
        art = _finish(Image.blend(art, _soften(art, min(art.size) / 90), 0.35), texture_rng, 0.12, 0.04)
    else:
        art = _finish(art, texture_rng, 0.45 if not poster else 0.2, 0.07 if not poster else 0.05)

    if poster:
        paper_colour = _mix((246, 240, 226), pal.sky[2], 0.08)
        out = Image.new("RGB", (width, height), paper_colour)
        out.paste(art, (margin, margin))
        ink = _shade(pal.near, 0.55) if _to_hls(pal.near)[1] < 0.5 else (30, 28, 34)
        band_box = (margin, margin + art_h + margin // 2, width - margin, height - margin // 2)
        _title(out, band_box, prompt, seed, ink, pal.accent)
        art = out
    if init is not None:
        art = _img2img(art, init, pal)
    return art


def _img2img(art: Image.Image, init: Image.Image, pal: Palette) -> Image.Image:
    """Blend the painting with an init image: its light in the prompt's colours, the painting on top."""
    src = ImageOps.fit(ImageOps.exif_transpose(init).convert("RGB"), art.size, Image.Resampling.LANCZOS)
    light = ImageOps.autocontrast(src.convert("L"), cutoff=1)
    toned = ImageOps.colorize(light, pal.deep, pal.light, mid=pal.subject)
    mixed = Image.blend(art, toned, 0.55)
    return Image.blend(mixed, src, 0.2)


# Inpainting paints at most this many pixels on the long side and scales up: a 6000-pixel photo stays quick.
INPAINT_MAX_SIDE = 1536


def inpaint(prompt: str, seed: int, style: str, image: Image.Image, mask: Image.Image) -> Image.Image:
    """Repaint `image` only where `mask` is white (grey = partly), with a soft edge; the rest keeps its pixels.
    Inside, the prompt's painting replaces what was there, a little of the image's own light kept so it sits in."""
    source = ImageOps.exif_transpose(image)
    width, height = source.size
    k = min(1.0, INPAINT_MAX_SIDE / max(width, height))
    painted = render(prompt, seed, style, max(1, round(width * k)), max(1, round(height * k)))
    if painted.size != source.size:
        painted = painted.resize(source.size, Image.Resampling.BICUBIC)
    painted = Image.blend(painted.convert("RGB"), source.convert("RGB"), 0.12)
    weights = mask.convert("L")
    if weights.size != source.size:
        weights = weights.resize(source.size, Image.Resampling.BILINEAR)
    # A light feather (1% of the short side) so even a hard-edged mask does not look cut out.
    weights = weights.filter(ImageFilter.GaussianBlur(max(1.0, min(width, height) / 100)))
    base = source.convert("RGBA") if "A" in source.mode or "transparency" in source.info else source.convert("RGB")
    result = Image.composite(painted.convert(base.mode), base, weights)
    if base.mode == "RGBA":
        result.putalpha(base.getchannel("A"))  # the picture keeps its own transparency
    return result
