"""Thumbnail benchmark: make_thumbnails (one reduced decode) against the naive way, on photo-sized files."""

from __future__ import annotations

import argparse
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from artfactory.services.thumbnails import (
    THUMBNAIL_FORMAT,
    THUMBNAIL_SAVE_OPTIONS,
    THUMBNAIL_SIZES,
    make_thumbnails,
)

DATA = Path(__file__).resolve().parent / ".data"
# (format, count, width, height); the file names carry the parameters so a change regenerates.
SETS = [("JPEG", 20, 6000, 4000), ("PNG", 20, 3000, 2000)]
TARGETS = {"JPEG": 3.0, "PNG": 1.5}


def photo_like(seed: int, width: int, height: int, noise: float) -> Image.Image:
    """Gradients, soft shapes and sensor-like noise: content that costs what a real photo costs."""
    rng = random.Random(seed)
    # Shapes are drawn at a quarter of the size and scaled up, which gives them soft, photographic edges.
    small = (width // 4, height // 4)
    channels = []
    for _ in range(3):
        gradient = Image.linear_gradient("L").rotate(rng.uniform(0, 360), expand=True).resize(small)
        channels.append(gradient)
    canvas = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(canvas)
    for _ in range(60):
        x, y = rng.randrange(small[0]), rng.randrange(small[1])
        r = rng.randrange(10, small[1] // 3)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        else:
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=colour)
    for _ in range(40):
        points = [(rng.randrange(small[0]), rng.randrange(small[1])) for _ in range(2)]
        draw.line(points, fill=tuple(rng.randrange(256) for _ in range(3)), width=rng.randrange(1, 6))
    image = canvas.resize((width, height), Image.Resampling.BICUBIC)
    grain = Image.merge("RGB", [_grain(width, height, noise, rng) for _ in range(3)])
    return ImageChops.add(image, grain, scale=1.0, offset=-128)


def _grain(width: int, height: int, sigma: float, rng: random.Random) -> Image.Image:
    """Gaussian noise around 128, tiled from one 1024² patch: effect_noise at 24 MP costs seconds,
    and a repeat every 1024 px makes no difference to the codecs, which work in small blocks."""
    patch = Image.effect_noise((1024, 1024), sigma)
    patch = ImageChops.offset(patch, rng.randrange(1024), rng.randrange(1024))
    grain = Image.new("L", (width, height))
    for y in range(0, height, 1024):
        for x in range(0, width, 1024):
            grain.paste(patch, (x, y))
    return grain


def make_file(args: tuple[str, int, int, int]) -> Path:
    fmt, index, width, height = args
    path = DATA / f"{fmt.lower()}_{width}x{height}_{index:02d}.{'jpg' if fmt == 'JPEG' else 'png'}"
    if not path.exists():
        image = photo_like(index, width, height, noise=10 if fmt == "JPEG" else 4)
        tmp = path.with_suffix(".tmp")
        if fmt == "JPEG":
            image.save(tmp, "JPEG", quality=90)
        else:
            image.save(tmp, "PNG")
        tmp.replace(path)
    return path


def naive(source: Path, out: Path) -> dict[str, tuple[int, int]]:
    """What most code does: decode the full image for each size and thumbnail() it."""
    sizes = {}
    for name, edge in THUMBNAIL_SIZES.items():
        with Image.open(source) as img:
            thumb = img.copy()  # full decode; thumbnail() on a loaded image cannot use draft
        thumb.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        thumb.save(out / f"{source.stem}_{name}.webp", format=THUMBNAIL_FORMAT, **THUMBNAIL_SAVE_OPTIONS)
        sizes[name] = thumb.size
    return sizes


def ours(source: Path, out: Path) -> dict[str, tuple[int, int]]:
    return make_thumbnails(source, {name: out / f"{source.stem}_{name}.webp" for name in THUMBNAIL_SIZES})


@dataclass
class Result:
    fmt: str
    count: int = 0
    naive_s: float = 0.0
    ours_s: float = 0.0
    mismatches: list[str] = field(default_factory=list)


def run(files: dict[str, list[Path]]) -> list[Result]:
    out_naive, out_ours = DATA / "out" / "naive", DATA / "out" / "ours"
    out_naive.mkdir(parents=True, exist_ok=True)
    out_ours.mkdir(parents=True, exist_ok=True)
    results = []
    for fmt, paths in files.items():
        for path in paths:
            path.read_bytes()  # warm the page cache so neither side pays for the disk
        result = Result(fmt, len(paths))
        # Interleaved per file, so drift in machine load hits both methods alike.
        for path in paths:
            start = time.perf_counter()
            expected = naive(path, out_naive)
            result.naive_s += time.perf_counter() - start
            start = time.perf_counter()
            got = ours(path, out_ours)
            result.ours_s += time.perf_counter() - start
            if got != expected:
                result.mismatches.append(f"{path.name}: ours {got} vs naive {expected}")
        results.append(result)
    return results


def report(results: list[Result]) -> bool:
    rows = []
    ok = True
    for r in results:
        speedup = r.naive_s / r.ours_s
        met = speedup >= TARGETS[r.fmt]
        ok = ok and not r.mismatches
        rows.append([r.fmt, str(r.count), f"{r.count / r.naive_s:.2f}", f"{r.count / r.ours_s:.2f}",
                     f"{speedup:.2f}×", f"≥ {TARGETS[r.fmt]}× {'met' if met else 'MISSED'}",
                     "yes" if not r.mismatches else f"NO ({len(r.mismatches)})"])
    headers = ["format", "images", "naive img/s", "ours img/s", "speed-up", "target", "same sizes"]
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="Thumbnails: 3 sizes (800/400/150) per image, single thread")
        for h in headers:
            table.add_column(h, justify="left" if h == "format" else "right")
        for row in rows:
            table.add_row(*row)
        console = Console()
        if not console.is_terminal:
            console.width = 120  # piped into a log: don't wrap the headers at 80 columns
        console.print(table)
    except ImportError:
        print(" | ".join(headers))
        for row in rows:
            print(" | ".join(row))
    for r in results:
        for line in r.mismatches:
            print("size mismatch:", line)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4 images per format instead of 20")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    jobs = [(fmt, i, w, h) for fmt, count, w, h in SETS for i in range(4 if args.quick else count)]
    missing = sum(1 for fmt, i, w, h in jobs if not (DATA / f"{fmt.lower()}_{w}x{h}_{i:02d}."
                                                     f"{'jpg' if fmt == 'JPEG' else 'png'}").exists())
    if missing:
        print(f"generating {missing} test images in {DATA} (cached for later runs) …", flush=True)
    with ProcessPoolExecutor() as pool:
        paths = list(pool.map(make_file, jobs))
    files: dict[str, list[Path]] = {}
    for (fmt, *_), path in zip(jobs, paths, strict=True):
        files.setdefault(fmt, []).append(path)
    ok = report(run(files))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
